import Logging

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

extension SecretRedaction {
    /// `metadata` with every secret-looking key masked, at any depth.
    public static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var out = metadata
        for (k, v) in metadata { out[k] = isSecret(key: k) ? .string(mask) : redact(v) }
        return out
    }

    /// A metadata value with secret-looking keys masked inside dictionaries.
    public static func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .dictionary(let d): return .dictionary(redact(d))
        case .array(let a): return .array(a.map(redact))
        case .string, .stringConvertible: return value
        }
    }
}

extension Logger.Metadata {
    /// Handler metadata, then the provider's, then the event's (later wins): the merge every
    /// CrocBot log handler applies before formatting.
    static func merged(handler: Logger.Metadata, provider: Logger.MetadataProvider?, event: Logger.Metadata?) -> Logger.Metadata {
        var merged = handler
        if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
        if let m = event { merged.merge(m) { _, new in new } }
        return merged
    }
}
