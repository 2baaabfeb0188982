/// Masks secrets in log metadata: any key that looks like it holds a
/// credential (`api_key`, `secret`, `token`, `password`, `signature`,
/// `authorization`) has its value replaced, at any nesting depth.
public enum SecretRedaction {
    /// The replacement text.
    public static let mask = "***"

    /// Fragments that mark a metadata key as secret (compared lowercased, without `_`/`-`).
    public static let secretFragments = ["apikey", "secret", "token", "password", "passphrase", "signature", "authorization", "privatekey"]

    /// Whether a metadata key names a secret.
    public static func isSecret(key: String) -> Bool {
        let k = String(key.lowercased().filter { $0 != "_" && $0 != "-" })
        return secretFragments.contains { k.contains($0) }
    }
}
