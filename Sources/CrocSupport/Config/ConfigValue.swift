import Foundation

/// A dynamically typed configuration value: the tree that YAML, JSON and
/// environment overrides are merged into before `AppConfig` is decoded.
///
/// Strategy and model parameters stay as `ConfigValue` dictionaries so each
/// component validates its own keys.
public enum ConfigValue: Sendable, Hashable, Codable, CustomStringConvertible {
    /// An explicit null.
    case null
    /// A boolean.
    case bool(Bool)
    /// An integer that fits in `Int`.
    case int(Int)
    /// A floating-point number.
    case double(Double)
    /// A string.
    case string(String)
    /// An ordered list.
    case array([ConfigValue])
    /// A mapping; keys keep their spelling from the source.
    case object([String: ConfigValue])

    /// Decodes any JSON-like value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([ConfigValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: ConfigValue].self))
        }
    }

    /// Encodes the value as its natural JSON form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }

    /// Parses a scalar written on a command line or in an environment
    /// variable: `true`/`false`, an integer, a number, `null`, else a string.
    public init(parsingScalar text: String) {
        let t = Self.trimmingBlanks(text)
        switch t.lowercased() {
        case "true", "yes", "on": self = .bool(true)
        case "false", "no", "off": self = .bool(false)
        case "null", "~": self = .null
        default:
            if let i = Int(t) {
                self = .int(i)
            } else if let d = Double(t), t.lowercased() != "nan", !t.lowercased().contains("inf") {
                self = .double(d)
            } else {
                self = .string(t)
            }
        }
    }

    /// `text` without leading and trailing tabs and space separators (Unicode category Zs) —
    /// `trimmingCharacters(in: .whitespaces)`'s set, in the standard library (Foundation's
    /// character sets cost a scan of the binary's protocol conformances at their first use).
    static func trimmingBlanks(_ text: String) -> String {
        func blank(_ s: Unicode.Scalar) -> Bool { s == "\t" || s.properties.generalCategory == .spaceSeparator }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !blank($0) }), let last = scalars.lastIndex(where: { !blank($0) }) else { return "" }
        return String(scalars[first...last])
    }

    /// The value as a `Double` when it is a number (or a numeric string).
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s): return Double(s)
        default: return nil
        }
    }

    /// The value as an `Int` when it is an integral number (or such a string).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d): return d.rounded() == d && abs(d) < 9e15 ? Int(d) : nil
        case .string(let s): return Int(s)
        default: return nil
        }
    }

    /// The value as a `String` when it is a scalar.
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        default: return nil
        }
    }

    /// The value as a `Bool` when it is a boolean (or such a string).
    public var boolValue: Bool? {
        switch self {
        case .bool(let b): return b
        case .string(let s):
            switch s.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: return nil
            }
        case .int(let i) where i == 0 || i == 1: return i == 1
        default: return nil
        }
    }

    /// A short rendering for error messages and tables.
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { "\($0): \(o[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }
}
