import CrocCore
import CrocModels
import CrocSupport
import Foundation

/// A strategy parameter problem, naming the parameter (`strategy.params.fast`).
public struct StrategyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// No strategy is registered under the name.
        case unknownStrategy
        /// A parameter the strategy does not take.
        case unknownParameter
        /// A parameter has the wrong type or an invalid value.
        case invalidParameter
    }

    /// What went wrong.
    public var code: Code
    /// The key path (`strategy.name`, `strategy.params.fast`).
    public var keyPath: String
    /// The rule broken, in words.
    public var rule: String

    /// Creates an error.
    public init(_ code: Code, keyPath: String, rule: String) {
        self.code = code
        self.keyPath = keyPath
        self.rule = rule
    }

    /// `strategy.params.fast: must be >= 1, found 0`.
    public var description: String { "\(keyPath): \(rule)" }
}

/// Typed access to a strategy's parameter dictionary, with defaults and
/// validation; rejects parameters the strategy did not read.
public struct StrategyParameters: Sendable {
    /// The raw values.
    public let values: [String: ConfigValue]
    /// The symbols of the run, when the strategy is built for a universe
    /// (portfolio strategies check `top` or a pair's symbols against them).
    public let symbols: [String]?
    private var consumed: Set<String> = []

    /// Wraps a dictionary.
    public init(_ values: [String: ConfigValue], symbols: [String]? = nil) {
        self.values = values
        self.symbols = symbols
    }

    private static func path(_ key: String) -> String { "strategy.params.\(key)" }

    /// An integer in `range`, or `fallback` when absent.
    public mutating func int(_ key: String, default fallback: Int, in range: ClosedRange<Int>) throws(StrategyError) -> Int {
        consumed.insert(key)
        guard let v = values[key] else { return fallback }
        guard let i = v.intValue else {
            throw StrategyError(.invalidParameter, keyPath: Self.path(key), rule: "expected an integer, found '\(v)'")
        }
        guard range.contains(i) else {
            throw StrategyError(.invalidParameter, keyPath: Self.path(key), rule: "must be in \(range.lowerBound)...\(range.upperBound), found \(i)")
        }
        return i
    }

    /// A number in `range`, or `fallback` when absent.
    public mutating func double(_ key: String, default fallback: Double, in range: ClosedRange<Double>) throws(StrategyError) -> Double {
        consumed.insert(key)
        guard let v = values[key] else { return fallback }
        guard let d = v.doubleValue, d.isFinite else {
            throw StrategyError(.invalidParameter, keyPath: Self.path(key), rule: "expected a number, found '\(v)'")
        }
        guard range.contains(d) else {
            throw StrategyError(.invalidParameter, keyPath: Self.path(key), rule: "must be in \(range.lowerBound)...\(range.upperBound), found \(d)")
        }
        return d
    }

    /// A boolean, or `fallback` when absent.
    public mutating func bool(_ key: String, default fallback: Bool) throws(StrategyError) -> Bool {
        consumed.insert(key)
        guard let v = values[key] else { return fallback }
        guard let b = v.boolValue else {
            throw StrategyError(.invalidParameter, keyPath: Self.path(key), rule: "expected true or false, found '\(v)'")
        }
        return b
    }

    /// A string, or `fallback` when absent.
    public mutating func string(_ key: String, default fallback: String) throws(StrategyError) -> String {
        consumed.insert(key)
        guard let v = values[key] else { return fallback }
        guard let s = v.stringValue else {
            throw StrategyError(.invalidParameter, keyPath: Self.path(key), rule: "expected a string, found '\(v)'")
        }
        return s
    }

    /// Fails when a parameter was given that nothing read (a typo, usually).
    public func rejectUnread() throws(StrategyError) {
        for key in values.keys.sorted() where !consumed.contains(key) {
            let known = consumed.sorted().joined(separator: ", ")
            throw StrategyError(.unknownParameter, keyPath: Self.path(key), rule: "unknown parameter; this strategy takes: \(known)")
        }
    }
}

/// Builds strategies by name from configuration, at run time.
///
/// Each entry validates its own parameters. The built-ins are registered by
/// `StrategyFactory.standard`; applications add their own with `register`.
public struct StrategyFactory: Sendable {
    /// Builds a strategy from parameters.
    public typealias Builder = @Sendable (inout StrategyParameters) throws(StrategyError) -> any Strategy

    /// A registered strategy kind.
    public struct Entry: Sendable {
        /// One-line description for `--help` and docs.
        public var summary: String
        /// Parameter names with their defaults, for docs.
        public var parameters: [(name: String, defaultValue: String)]
        /// The builder.
        public var build: Builder
    }

    private var entries: [String: Entry] = [:]

    /// An empty factory.
    public init() {}

    /// A factory with the built-in strategies (`sma_cross`, `model`, `rl`).
    public static var standard: StrategyFactory { standard(bundles: nil) }

    /// The built-in strategies, with `model` and `rl` reading their bundles
    /// through `bundles` when given (once for all the strategies built, as a
    /// sweep's trials want) instead of from disk for each strategy.
    public static func standard(bundles: BundleCache?) -> StrategyFactory {
        var f = StrategyFactory()
        f.register("sma_cross", summary: SMACrossStrategy.summary, parameters: [("fast", "10"), ("slow", "20")]) {
            (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
            try SMACrossStrategy(parameters: &p)
        }
        f.register(
            "model",
            summary: "a trained model bundle's score through a decision rule",
            parameters: [
                ("model", "(bundle directory)"), ("longAbove", "0.55"), ("exitBelow", "0.5"), ("shortBelow", "(none)"),
                ("coverAbove", "0.5"), ("sizeByConfidence", "false"), ("minimumFraction", "0.25"), ("cooldown", "0"),
            ]
        ) { (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
            try makeModelStrategy(&p, bundles: bundles)
        }
        f.register(
            "rl",
            summary: "a trained RL policy bundle (crocbot train with an agent: section)",
            parameters: [("model", "(RL bundle directory)")]
        ) {
            (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
            let path = try p.string("model", default: "")
            do {
                let bundle = try loadPolicy(path, bundles)
                guard bundle.environment.symbols == nil else {
                    throw StrategyError(
                        .invalidParameter,
                        keyPath: "strategy.params.model",
                        rule: "\(path) is a portfolio policy: use the rl_portfolio strategy on a universe"
                    )
                }
                return RLPolicyStrategy(bundle: bundle)
            } catch let error as StrategyError {
                throw error
            } catch {
                throw StrategyError(
                    .invalidParameter,
                    keyPath: "strategy.params.model",
                    rule: path.isEmpty ? "required: the directory of a trained RL bundle" : "\(error)"
                )
            }
        }
        for (name, parameters) in PortfolioAllocators.catalogue {
            let defaults = parameters.split(separator: ",").map { kv in
                let parts = kv.split(separator: "=").map { $0.filter { $0 != " " } }
                return (name: String(parts[0]), defaultValue: String(parts[1]))
            }
            f.register(name, summary: PortfolioAllocators.summary(name), parameters: defaults) {
                (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
                AllocatorStrategy(allocator: try PortfolioAllocators.make(name, parameters: &p))
            }
        }
        f.register(
            "model_topk",
            summary: "portfolio: a model bundle ranks every symbol with a bar; hold the `top` best, replace ≤ `dropout` per rebalance",
            parameters: [
                ("model", "(bundle directory)"), ("top", "3"), ("dropout", "0"), ("rebalance", "5"), ("bottom", "0"), ("weighting", "equal"),
                ("minScore", "(none)"),
            ]
        ) { (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
            try makeModelTopK(&p, bundles: bundles)
        }
        f.register(
            "rl_portfolio",
            summary: "portfolio: a trained portfolio RL policy (crocbot train with an agent: section and a universe) sets the weights",
            parameters: [("model", "(RL bundle directory)")]
        ) { (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
            let path = try p.string("model", default: "")
            let bundle: RLModelBundle
            do {
                bundle = try loadPolicy(path, bundles)
            } catch {
                throw StrategyError(
                    .invalidParameter,
                    keyPath: "strategy.params.model",
                    rule: path.isEmpty ? "required: the directory of a trained portfolio RL bundle" : "\(error)"
                )
            }
            guard let trained = bundle.environment.symbols else {
                throw StrategyError(
                    .invalidParameter,
                    keyPath: "strategy.params.model",
                    rule: "\(path) is a single-instrument policy: use the rl strategy"
                )
            }
            if let symbols = p.symbols, symbols != trained {
                throw StrategyError(
                    .invalidParameter,
                    keyPath: "strategy.params.model",
                    rule:
                        "the policy allocates between \(trained.joined(separator: ",")) in that order; this run trades \(symbols.joined(separator: ","))"
                )
            }
            return RLPortfolioStrategy(bundle: bundle)
        }
        f.register(
            "pairs",
            summary: "portfolio: z-score of the log-price spread of two symbols (rolling hedge ratio); needs shorting",
            parameters: [("a", "(symbol)"), ("b", "(symbol)"), ("lookback", "60"), ("entry", "2"), ("exit", "0.5"), ("weight", "0.5")]
        ) { (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
            try PairsStrategy(parameters: &p)
        }
        return f
    }

    /// Builds `ModelDrivenStrategy` from `model=<bundle dir>` and the rule's parameters.
    static func makeModelStrategy(_ p: inout StrategyParameters, bundles: BundleCache?) throws(StrategyError) -> any Strategy {
        let path = try p.string("model", default: "")
        guard !path.isEmpty else {
            throw StrategyError(
                .invalidParameter,
                keyPath: "strategy.params.model",
                rule: "required: the directory of a trained model bundle (crocbot train)"
            )
        }
        let adapter: InferenceAdapter
        do {
            adapter = InferenceAdapter(bundle: try loadModel(path, bundles))
        } catch {
            throw StrategyError(.invalidParameter, keyPath: "strategy.params.model", rule: error.description)
        }
        let regression = adapter.bundle.metadata.task == .regression
        let short = p.values["shortBelow"] == nil ? nil : try p.double("shortBelow", default: 0, in: -1e9...1e9)
        let rule = DecisionRule(
            longAbove: try p.double("longAbove", default: regression ? 0 : 0.55, in: -1e9...1e9),
            exitBelow: try p.double("exitBelow", default: regression ? 0 : 0.5, in: -1e9...1e9),
            shortBelow: short,
            coverAbove: try p.double("coverAbove", default: regression ? 0 : 0.5, in: -1e9...1e9),
            sizeByConfidence: try p.bool("sizeByConfidence", default: false),
            minimumFraction: try p.double("minimumFraction", default: 0.25, in: 0.001...1),
            cooldownBars: try p.int("cooldown", default: 0, in: 0...1_000_000)
        )
        return ModelDrivenStrategy(adapter: adapter, rule: rule)
    }

    /// Builds `ModelTopKStrategy` from `model=<bundle dir>`, `top`, `dropout`, `rebalance`,
    /// `bottom` and `weighting`, checking `top + bottom` against the run's symbols.
    static func makeModelTopK(_ p: inout StrategyParameters, bundles: BundleCache?) throws(StrategyError) -> any Strategy {
        let path = try p.string("model", default: "")
        guard !path.isEmpty else {
            throw StrategyError(
                .invalidParameter,
                keyPath: "strategy.params.model",
                rule: "required: the directory of a trained model bundle (crocbot train)"
            )
        }
        let top = try p.int("top", default: 3, in: 1...100_000)
        let dropout = try p.int("dropout", default: 0, in: 0...100_000)
        let every = try p.int("rebalance", default: 5, in: 1...1_000_000)
        let bottom = try p.int("bottom", default: 0, in: 0...100_000)
        let w = try p.string("weighting", default: "equal")
        guard let weighting = ModelTopKStrategy.Weighting(rawValue: w) else {
            throw StrategyError(.invalidParameter, keyPath: "strategy.params.weighting", rule: "must be equal or score, found '\(w)'")
        }
        let minScore = p.values["minScore"] == nil ? -Double.infinity : try p.double("minScore", default: 0, in: -1e9...1e9)
        if let symbols = p.symbols, top + bottom > symbols.count {
            throw StrategyError(
                .invalidParameter,
                keyPath: "strategy.params.top",
                rule: "top \(top)\(bottom > 0 ? " + bottom \(bottom)" : "") is more than the universe's \(symbols.count) symbols"
            )
        }
        let bundle: ModelBundle
        do {
            bundle = try loadModel(path, bundles)
        } catch {
            throw StrategyError(.invalidParameter, keyPath: "strategy.params.model", rule: error.description)
        }
        return ModelTopKStrategy(
            adapter: InferenceAdapter(bundle: bundle, recordLatency: false),
            top: top,
            dropout: dropout,
            rebalance: every,
            bottom: bottom,
            weighting: weighting,
            minScore: minScore,
            // Scores are shared only for a model the cache holds (one decoded copy for every trial).
            sharedScores: BundleCache.shares(bundle.model) ? bundles?.scores.map { ($0, path) } : nil
        )
    }

    // Bundles come through the cache when the factory has one, else straight from disk.
    private static func loadModel(_ path: String, _ bundles: BundleCache?) throws(BundleError) -> ModelBundle {
        if let bundles { return try bundles.model(at: path) }
        return try ModelBundle.load(from: path)
    }

    private static func loadPolicy(_ path: String, _ bundles: BundleCache?) throws(BundleError) -> RLModelBundle {
        if let bundles { return try bundles.policy(at: path) }
        return try RLModelBundle.load(from: path)
    }

    /// Registered names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The entry for a name.
    public func entry(_ name: String) -> Entry? { entries[name] }

    /// Registers (or replaces) a strategy kind.
    public mutating func register(_ name: String, summary: String, parameters: [(name: String, defaultValue: String)] = [], build: @escaping Builder)
    {
        entries[name] = Entry(summary: summary, parameters: parameters, build: build)
    }

    /// Builds the strategy `name` with `parameters`.
    /// - Throws: `StrategyError` for an unknown name, an unknown parameter or an invalid value.
    public func make(_ name: String, parameters: [String: ConfigValue] = [:], symbols: [String]? = nil) throws(StrategyError) -> any Strategy {
        guard let entry = entries[name] else {
            throw StrategyError(
                .unknownStrategy,
                keyPath: "strategy.name",
                rule: "unknown strategy '\(name)'; registered: \(names.joined(separator: ", "))"
            )
        }
        var p = StrategyParameters(parameters, symbols: symbols)
        let s = try entry.build(&p)
        try p.rejectUnread()
        return s
    }

    /// Builds the strategy a configuration names.
    /// - Parameter symbols: The run's symbols, for a universe.
    public func make(_ config: StrategyConfig, symbols: [String]? = nil) throws(StrategyError) -> any Strategy {
        try make(config.name, parameters: config.params, symbols: symbols)
    }

    /// Whether `name` is a portfolio strategy (it needs a universe: `--universe`).
    public static func isPortfolio(_ name: String) -> Bool {
        PortfolioAllocators.isPortfolio(name) || ["pairs", "model_topk", "rl_portfolio"].contains(name)
    }
}
