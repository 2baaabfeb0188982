/// CrocBot's release version: the one place it is written (`crocbot --version`, the
/// `crocbot_build_info` metric of a live run).
public enum CrocBotVersion {
    /// The version, semantic-versioning style.
    public static let current = "0.1.0"
}
