import Foundation

/// Reads typed values out of a `ConfigValue` mapping while tracking the key
/// path, so every error names exactly where it happened, and rejects keys
/// nobody asked for (the usual cause: a typo).
public struct ConfigReader: Sendable {
    /// The mapping being read.
    public let values: [String: ConfigValue]
    /// Dotted path of this mapping (empty at the root).
    public let path: String
    /// The file or variable the values came from, for messages.
    public let source: String?
    private let lookup: [String: String]

    /// Wraps a value that must be a mapping (`null` reads as an empty one).
    /// - Throws: `ConfigError` with `.typeMismatch` when `value` is not a mapping.
    public init(_ value: ConfigValue, path: String = "", source: String? = nil) throws(ConfigError) {
        switch value {
        case .object(let o): self.values = o
        case .null: self.values = [:]
        default:
            throw ConfigError(.typeMismatch, keyPath: path, rule: "expected a mapping, found \(value)", source: source)
        }
        self.path = path
        self.source = source
        var lookup: [String: String] = [:]
        for key in values.keys { lookup[Self.normalise(key)] = key }
        self.lookup = lookup
    }

    /// Keys match case-insensitively and ignore `_`/`-`, so `slippage_bps`,
    /// `slippageBps` and `SLIPPAGEBPS` name the same setting.
    public static func normalise(_ key: String) -> String {
        String(key.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// The dotted path of a child key.
    public func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The raw value of `key`, or nil when absent or null.
    public func raw(_ key: String) -> ConfigValue? {
        guard let actual = lookup[Self.normalise(key)], let v = values[actual] else { return nil }
        if case .null = v { return nil }
        return v
    }

    /// A number, or `fallback` when absent.
    public func double(_ key: String, default fallback: Double) throws(ConfigError) -> Double {
        guard let v = raw(key) else { return fallback }
        guard let d = v.doubleValue, d.isFinite else {
            throw ConfigError(.typeMismatch, keyPath: childPath(key), rule: "expected a finite number, found '\(v)'", source: source)
        }
        return d
    }

    /// An integer, or `fallback` when absent.
    public func int(_ key: String, default fallback: Int) throws(ConfigError) -> Int {
        guard let v = raw(key) else { return fallback }
        guard let i = v.intValue else {
            throw ConfigError(.typeMismatch, keyPath: childPath(key), rule: "expected an integer, found '\(v)'", source: source)
        }
        return i
    }

    /// A string, or `fallback` when absent.
    public func string(_ key: String, default fallback: String) throws(ConfigError) -> String {
        try optionalString(key) ?? fallback
    }

    /// A string, or nil when absent.
    public func optionalString(_ key: String) throws(ConfigError) -> String? {
        guard let v = raw(key) else { return nil }
        guard let s = v.stringValue else {
            throw ConfigError(.typeMismatch, keyPath: childPath(key), rule: "expected a string, found '\(v)'", source: source)
        }
        return s
    }

    /// A list of strings, or `[]` when absent: a YAML/JSON list (`[BTCUSDT, ETHUSDT]`)
    /// or one comma-separated string (how an environment override spells a list).
    public func stringList(_ key: String) throws(ConfigError) -> [String] {
        guard let v = raw(key) else { return [] }
        if case .array(let items) = v {
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = item.stringValue else {
                    throw ConfigError(.typeMismatch, keyPath: "\(childPath(key))[\(i)]", rule: "expected a string, found '\(item)'", source: source)
                }
                out.append(s.trimmingCharacters(in: .whitespaces))
            }
            return out
        }
        guard let s = v.stringValue else {
            throw ConfigError(.typeMismatch, keyPath: childPath(key), rule: "expected a list of strings, found '\(v)'", source: source)
        }
        return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A boolean, or `fallback` when absent.
    public func bool(_ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        guard let v = raw(key) else { return fallback }
        guard let b = v.boolValue else {
            throw ConfigError(.typeMismatch, keyPath: childPath(key), rule: "expected true or false, found '\(v)'", source: source)
        }
        return b
    }

    /// A value from a fixed set of spellings (e.g. an enum's raw values).
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T) throws(ConfigError) -> T
    where T.RawValue == String {
        guard let s = try optionalString(key) else { return fallback }
        let wanted = Self.normalise(s)
        if let match = T.allCases.first(where: { Self.normalise($0.rawValue) == wanted }) { return match }
        let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
        throw ConfigError(.invalidValue, keyPath: childPath(key), rule: "must be one of \(allowed), found '\(s)'", source: source)
    }

    /// A nested mapping (empty when absent).
    public func nested(_ key: String) throws(ConfigError) -> ConfigReader {
        try ConfigReader(raw(key) ?? .null, path: childPath(key), source: source)
    }

    /// A free-form mapping, returned as is (for strategy parameters and the like).
    public func freeform(_ key: String) throws(ConfigError) -> [String: ConfigValue] {
        guard let v = raw(key) else { return [:] }
        guard case .object(let o) = v else {
            throw ConfigError(.typeMismatch, keyPath: childPath(key), rule: "expected a mapping, found '\(v)'", source: source)
        }
        return o
    }

    /// Fails on the first key that is not in `known`.
    /// - Throws: `ConfigError` with `.unknownKey`, naming the key and the allowed ones.
    public func rejectUnknownKeys(_ known: [String]) throws(ConfigError) {
        let allowed = Set(known.map(Self.normalise))
        for key in values.keys.sorted() where !allowed.contains(Self.normalise(key)) {
            throw ConfigError(
                .unknownKey,
                keyPath: childPath(key),
                rule: "unknown key; expected one of: \(known.joined(separator: ", "))",
                source: source
            )
        }
    }
}
