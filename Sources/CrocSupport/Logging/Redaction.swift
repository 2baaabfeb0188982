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
    /// (Compared as bytes: a byte match inside a longer character still counts, so no
    /// secret is missed; and Foundation's string search, whose first use scans the binary's
    /// protocol conformances, stays out of every log line.)
    public static func isSecret(key: String) -> Bool {
        var k: [UInt8] = []
        for b in key.lowercased().utf8 where b != UInt8(ascii: "_") && b != UInt8(ascii: "-") { k.append(b) }
        return fragmentBytes.contains { f in
            k.count >= f.count && (0...(k.count - f.count)).contains { i in k[i..<(i + f.count)].elementsEqual(f) }
        }
    }

    private static let fragmentBytes = secretFragments.map { Array($0.utf8) }
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
