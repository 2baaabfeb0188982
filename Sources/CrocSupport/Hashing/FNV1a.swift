/// 64-bit FNV-1a: a fast, stable, non-cryptographic hash for identities and
/// integrity checks (model weights, sweep specs, anomaly fingerprints).
public enum FNV1a {
    /// The hash of `bytes`.
    public static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    /// The hash of `bytes` as 16 lowercase hex digits.
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let s = String(hash(bytes), radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// The hash of a string's UTF-8 bytes as 16 lowercase hex digits.
    public static func hex(_ text: String) -> String { hex(text.utf8) }
}
