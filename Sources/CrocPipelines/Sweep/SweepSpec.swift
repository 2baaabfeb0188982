import CrocCore
import CrocData
import CrocStrategies
import CrocSupport
import Foundation

/// What a sweep maximises: one statistic or a weighted mix.
public struct SweepObjective: Sendable, Hashable, CustomStringConvertible {
    /// Statistics an objective may use (names as in the `metrics` of a trial).
    public static let metrics = ["sharpe", "sortino", "calmar", "return"]

    /// Weight per metric.
    public var weights: [String: Double]

    /// Creates an objective.
    public init(_ weights: [String: Double]) { self.weights = weights }

    /// The weighted sum of the trial's metrics; nil when one is not a finite number.
    public func value(_ metrics: [String: Double]) -> Double? {
        var total = 0.0
        for (name, w) in weights {
            guard let v = metrics[name], v.isFinite else { return nil }
            total += w * v
        }
        return total
    }

    /// `sharpe` or `0.7·sharpe + 0.3·calmar`.
    public var description: String {
        if weights.count == 1, let (k, w) = weights.first, w == 1 { return k }
        return weights.keys.sorted().map { "\(weights[$0]!)·\($0)" }.joined(separator: " + ")
    }
}

/// Limits a trial must meet to count.
public struct SweepConstraints: Sendable, Hashable {
    /// Fewest closed trades (over all data files).
    public var minTrades: Int
    /// Deepest drawdown allowed, in percent (positive: 30 means −30 %).
    public var maxDrawdownPct: Double?

    /// Creates constraints.
    public init(minTrades: Int = 0, maxDrawdownPct: Double? = nil) {
        self.minTrades = minTrades
        self.maxDrawdownPct = maxDrawdownPct
    }

    /// The constraints a trial breaks, in words (empty when it meets all).
    public func violations(_ metrics: [String: Double]) -> [String] {
        var out: [String] = []
        let trades = Int(metrics["trades"] ?? 0)
        if trades < minTrades { out.append("trades \(trades) < \(minTrades)") }
        if let limit = maxDrawdownPct, let dd = metrics["maxDrawdownPct"], abs(dd) > limit {
            out.append(String(format: "max drawdown %.2f %% > %.2f %%", abs(dd), limit))
        }
        return out
    }
}

/// Walk-forward optimisation: the sweep runs on each in-sample window, its
/// best parameters are tested on the next out-of-sample window.
public struct WalkForwardSpec: Sendable, Hashable {
    /// Rolling (fixed-length in-sample) or anchored (in-sample grows from the first bar).
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// In-sample windows of fixed length slide forward.
        case rolling
        /// In-sample windows all start at the first bar.
        case anchored
    }

    /// Number of out-of-sample windows.
    public var windows: Int
    /// In-sample share of each (in-sample + out-of-sample) step, rolling mode.
    public var inSampleFraction: Double
    /// Rolling or anchored.
    public var mode: Mode

    /// Creates a spec.
    public init(windows: Int = 5, inSampleFraction: Double = 0.75, mode: Mode = .rolling) {
        self.windows = windows
        self.inSampleFraction = inSampleFraction
        self.mode = mode
    }
}

/// A sweep, as read from `sweep.yaml`.
///
/// ```yaml
/// name: sma-grid
/// strategy: sma_cross
/// data: [Examples/data/GOOGL.csv]          # one or many files (or {path, start, end} entries)
/// sampler: grid                            # grid, random or tpe
/// trials: 200                              # random and tpe
/// seed: 42
/// parameters:
///   fast: {min: 5, max: 50, step: 5}
///   slow: {min: 20, max: 200, step: 10}
/// objective: sharpe                        # sharpe, sortino, calmar, return, or {sharpe: 0.7, calmar: 0.3}
/// constraints: {minTrades: 10, maxDrawdownPct: 40}
/// backtest: {cash: 10000, commission: 0.002}
/// walkForward: {windows: 5, inSample: 0.75, mode: rolling}
/// overfitting: {blocks: 10}
/// shards: 3                                # for Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX)
/// ```
public struct SweepSpec: Sendable {
    /// The sweep's name: its identity in the store.
    public var name: String
    /// The registered strategy swept.
    public var strategy: String
    /// Data files (all trials run on all of them).
    public var data: [DataConfig]
    /// A universe traded on one account (portfolio strategies); when set, `data` is not used.
    public var universe: DataConfig?
    /// The parameter space.
    public var space: ParameterSpace
    /// How trials are chosen.
    public var sampler: SamplerKind
    /// Trials for random and TPE (a grid runs all its points).
    public var trials: Int
    /// Seed for random and TPE.
    public var seed: UInt64
    /// TPE proposals per round (fixed, so results do not depend on the core count).
    public var batch: Int
    /// What is maximised.
    public var objective: SweepObjective
    /// Limits a trial must meet.
    public var constraints: SweepConstraints
    /// Costs and cash.
    public var backtest: BacktestSettings
    /// The traded instrument.
    public var instrument: InstrumentConfig
    /// Walk-forward optimisation, when configured.
    public var walkForward: WalkForwardSpec?
    /// Time blocks for the overfitting diagnostics (even, ≥ 4).
    public var blocks: Int
    /// Shard count for schedulers that give only an index (Kubernetes Indexed Jobs).
    public var shards: Int?
    /// The canonical form of the settings that define the results (hash → `specHash`).
    public var canonical: String

    /// 16 hex digits identifying the settings that define the results: a
    /// store refuses to mix trials of two different sweeps under one name.
    public var specHash: String { FNV1a.hex(canonical) }

    /// Trials planned: the grid size, or `trials`.
    public var plannedTrials: Int {
        sampler == .grid ? (space.gridSize ?? 0) : trials
    }

    /// Reads a sweep file.
    /// - Throws: `ConfigError` naming the key path.
    public static func load(path: String) throws(ConfigError) -> SweepSpec {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, keyPath: "", rule: "cannot read file: \(error.localizedDescription)", source: path)
        }
        return try SweepSpec(try AppConfig.parse(text: text, source: path), source: path)
    }

    /// Validates a sweep tree.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ tree: ConfigValue, source: String? = nil, factory: StrategyFactory = .standard) throws(ConfigError) {
        let r = try ConfigReader(tree, source: source)
        try r.rejectUnknownKeys([
            "name", "strategy", "data", "parameters", "sampler", "trials", "seed", "batch", "objective", "constraints", "backtest",
            "instrument", "walkForward", "overfitting", "shards", "universe",
        ])
        func fail(_ key: String, _ rule: String) -> ConfigError { ConfigError(.invalidValue, keyPath: key, rule: rule, source: source) }
        name = try r.string("name", default: "sweep")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw fail("name", "use letters, digits, '-', '_' or '.', found '\(name)'")
        }
        strategy = try r.string("strategy", default: "sma_cross")
        guard factory.entry(strategy) != nil else {
            throw fail("strategy", "unknown strategy '\(strategy)'; registered: \(factory.names.joined(separator: ", "))")
        }
        switch r.raw("data") {
        case nil: data = [DataConfig()]
        case .string(let p)?: data = [DataConfig(path: p)]
        case .array(let items)?:
            guard !items.isEmpty else { throw fail("data", "needs at least one file") }
            var out: [DataConfig] = []
            for (i, item) in items.enumerated() {
                switch item {
                case .string(let p): out.append(DataConfig(path: p))
                case .object: out.append(try DataConfig(try ConfigReader(item, path: "data[\(i)]", source: source)))
                default: throw ConfigError(.typeMismatch, keyPath: "data[\(i)]", rule: "expected a path or {path, start, end}", source: source)
                }
            }
            data = out
        case .object?: data = [try DataConfig(try r.nested("data"))]
        default: throw ConfigError(.typeMismatch, keyPath: "data", rule: "expected a path, a list, or {path, ...}", source: source)
        }
        switch r.raw("universe") {
        case nil: universe = nil
        case .string(let p)?: universe = DataConfig(universe: p)
        case .object?:
            let u = try r.nested("universe")
            let d = try DataConfig(u)
            guard let path = d.universe ?? (u.raw("path") != nil ? d.path : nil) else { throw fail("universe", "needs a path") }
            universe = DataConfig(
                timestampFormat: d.timestampFormat,
                delimiter: d.delimiter,
                start: d.start,
                end: d.end,
                universe: path,
                symbols: d.symbols,
                cache: d.cache
            )
        default: throw ConfigError(.typeMismatch, keyPath: "universe", rule: "expected a path or {path, symbols, start, end}", source: source)
        }
        if universe != nil && r.raw("data") != nil { throw fail("data", "give data (one instrument per file) or universe (one account), not both") }
        if universe == nil && StrategyFactory.isPortfolio(strategy) {
            throw fail("universe", "strategy \(strategy) trades a universe: set universe: to a folder, wide or long CSV")
        }
        space = try ParameterSpace(try r.nested("parameters"))
        sampler = try r.choice("sampler", default: SamplerKind.grid)
        trials = try r.int("trials", default: 100)
        guard (1...10_000_000).contains(trials) else { throw fail("trials", "must be in 1...10000000, found \(trials)") }
        let seedValue = try r.int("seed", default: 42)
        seed = UInt64(bitPattern: Int64(seedValue))
        batch = try r.int("batch", default: 8)
        guard (1...1024).contains(batch) else { throw fail("batch", "must be in 1...1024, found \(batch)") }
        if sampler == .grid {
            guard let size = space.gridSize else {
                throw fail(
                    "parameters",
                    "a grid needs a step (or a list of values) for every parameter; continuous ranges need sampler random or tpe"
                )
            }
            guard size <= 10_000_000 else { throw fail("parameters", "the grid has \(size) points; at most 10,000,000") }
        }
        switch r.raw("objective") {
        case nil: objective = SweepObjective(["sharpe": 1])
        case .string(let s)?:
            guard SweepObjective.metrics.contains(s) else {
                throw fail("objective", "must be one of \(SweepObjective.metrics.joined(separator: ", ")) or a weighted mix, found '\(s)'")
            }
            objective = SweepObjective([s: 1])
        case .object(let o)?:
            var w: [String: Double] = [:]
            for (k, v) in o {
                guard SweepObjective.metrics.contains(k) else {
                    throw fail("objective.\(k)", "unknown metric; use \(SweepObjective.metrics.joined(separator: ", "))")
                }
                guard let d = v.doubleValue, d.isFinite else { throw fail("objective.\(k)", "the weight must be a number") }
                w[k] = d
            }
            guard !w.isEmpty else { throw fail("objective", "needs at least one weighted metric") }
            objective = SweepObjective(w)
        default: throw ConfigError(.typeMismatch, keyPath: "objective", rule: "expected a metric name or {metric: weight}", source: source)
        }
        let c = try r.nested("constraints")
        try c.rejectUnknownKeys(["minTrades", "maxDrawdownPct"])
        constraints = SweepConstraints(
            minTrades: try c.int("minTrades", default: 0),
            maxDrawdownPct: c.raw("maxDrawdownPct") == nil ? nil : try c.double("maxDrawdownPct", default: 100)
        )
        guard constraints.minTrades >= 0 else { throw fail("constraints.minTrades", "must be ≥ 0") }
        if let m = constraints.maxDrawdownPct, !(m > 0 && m <= 100) { throw fail("constraints.maxDrawdownPct", "must be in (0, 100]") }
        backtest = try BacktestSettings(try r.nested("backtest"))
        instrument = try InstrumentConfig(try r.nested("instrument"))
        if r.raw("walkForward") != nil {
            let w = try r.nested("walkForward")
            try w.rejectUnknownKeys(["windows", "inSample", "mode"])
            let spec = WalkForwardSpec(
                windows: try w.int("windows", default: 5),
                inSampleFraction: try w.double("inSample", default: 0.75),
                mode: try w.choice("mode", default: WalkForwardSpec.Mode.rolling)
            )
            guard (1...200).contains(spec.windows) else { throw fail("walkForward.windows", "must be in 1...200") }
            guard spec.inSampleFraction > 0 && spec.inSampleFraction < 1 else { throw fail("walkForward.inSample", "must be in (0, 1)") }
            guard data.count == 1 else { throw fail("walkForward", "runs on one data file; this sweep has \(data.count)") }
            walkForward = spec
        }
        let o = try r.nested("overfitting")
        try o.rejectUnknownKeys(["blocks"])
        blocks = try o.int("blocks", default: 10)
        guard blocks >= 4, blocks <= 20, blocks % 2 == 0 else { throw fail("overfitting.blocks", "must be even, in 4...20, found \(blocks)") }
        shards = r.raw("shards") == nil ? nil : try r.int("shards", default: 1)
        if let s = shards, !(1...10_000).contains(s) { throw fail("shards", "must be in 1...10000") }
        // Everything but the operational `shards` and the data's `cache` (where parsed universes
        // are kept: never what they hold) defines the results.
        var defining = r.values
        defining["shards"] = nil
        func withoutCache(_ v: ConfigValue) -> ConfigValue {
            switch v {
            case .object(var o):
                for key in o.keys where ConfigReader.normalise(key) == ConfigReader.normalise("cache") { o[key] = nil }
                return .object(o)
            case .array(let items): return .array(items.map(withoutCache))
            default: return v
            }
        }
        for key in defining.keys where ["data", "universe"].contains(ConfigReader.normalise(key)) { defining[key] = defining[key].map(withoutCache) }
        canonical = SweepJSON.encode(ConfigValue.object(defining))
    }
}
