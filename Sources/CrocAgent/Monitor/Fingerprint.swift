import CrocSupport

/// A stable identity for "the same problem": kind + error type + the message
/// with numbers, ids and timestamps normalised + the top source location.
public struct Fingerprint: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The normalised parts, joined with `|`.
    public var key: String

    /// Builds a fingerprint.
    /// - Parameters:
    ///   - kind: The anomaly kind (`repeated_error`, `latency_spike`, ...).
    ///   - errorType: The error's type or code, if known.
    ///   - message: The message (normalised here).
    ///   - location: `file:function` of the top frame, if known.
    public init(kind: String, errorType: String?, message: String, location: String?) {
        key = [kind, errorType ?? "-", Self.normalise(message), location ?? "-"].joined(separator: "|")
    }

    /// 16 hex digits of FNV-1a over the key: short enough for logs and file names.
    public var hash: String { Self.fnv(key) }

    /// 16 hex digits of 64-bit FNV-1a over `text` (prompt and reply hashes too).
    public static func fnv(_ text: String) -> String {
        FNV1a.hex(text)
    }

    /// The hash.
    public var description: String { hash }

    /// Replaces what varies between occurrences of one problem: timestamps
    /// → `<ts>`, UUIDs and long hex or base-36 ids → `<id>`, numbers → `<n>`.
    public static func normalise(_ message: String) -> String {
        var out = ""
        var token = ""
        func flush() {
            guard !token.isEmpty else { return }
            let digits = token.filter(\.isNumber).count
            let isTimestamp = digits >= 6 && token.contains(where: { $0 == "-" || $0 == ":" }) && token.first!.isNumber
            let isUUID = token.count == 36 && token.filter({ $0 == "-" }).count == 4
            let isNumber = token.allSatisfy { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" } && digits > 0
            let isID = token.count >= 8 && digits >= 2 && token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
            if isUUID {
                out += "<id>"
            } else if isTimestamp {
                out += "<ts>"
            } else if isNumber {
                out += "<n>"
            } else if isID {
                out += "<id>"
            } else {
                out += token
            }
            token = ""
        }
        for c in message {
            if c.isLetter || c.isNumber || c == "-" || c == "_" || c == "." || c == ":" || c == "+" {
                token.append(c)
            } else {
                flush()
                out.append(c)
            }
        }
        flush()
        return out
    }
}
