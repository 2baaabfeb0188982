/// A configuration problem, naming the key path and the rule it broke.
///
/// `keyPath` is dotted (`backtest.cash`, `strategy.params.fast`); `source`
/// names the file or environment variable the value came from when known.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem this is.
    public enum Code: Sendable, Equatable {
        /// The file could not be read.
        case unreadable
        /// The file is not valid YAML/JSON.
        case syntax
        /// A value has the wrong type.
        case typeMismatch
        /// A key that no component knows (likely a typo).
        case unknownKey
        /// A required key is absent.
        case missingKey
        /// A value is present but violates a rule (range, allowed set, ...).
        case invalidValue
    }

    /// The kind of problem.
    public var code: Code
    /// Dotted path of the offending key; empty for the document root.
    public var keyPath: String
    /// The rule that was broken, in words.
    public var rule: String
    /// Where the value came from (file path or environment variable), if known.
    public var source: String?

    /// Creates a configuration error.
    public init(_ code: Code, keyPath: String, rule: String, source: String? = nil) {
        self.code = code
        self.keyPath = keyPath
        self.rule = rule
        self.source = source
    }

    /// A one-line message for people: `config error at backtest.cash: must be > 0 (in crocbot.yaml)`.
    public var description: String {
        let at = keyPath.isEmpty ? "<root>" : keyPath
        let from = source.map { " (in \($0))" } ?? ""
        return "config error at \(at): \(rule)\(from)"
    }
}
