import CrocCore
import CrocSupport
import Foundation

/// Which bar field a single-input indicator reads.
public enum PriceField: String, Sendable, Hashable, Codable, CaseIterable {
    /// Open.
    case open
    /// High.
    case high
    /// Low.
    case low
    /// Close (the default).
    case close
    /// Volume.
    case volume
    /// (high + low) / 2.
    case hl2
    /// (high + low + close) / 3.
    case hlc3
    /// (open + high + low + close) / 4.
    case ohlc4

    /// The field's value in `bar`.
    @inlinable
    public func value(_ bar: Bar) -> Double {
        switch self {
        case .open: return bar.open
        case .high: return bar.high
        case .low: return bar.low
        case .close: return bar.close
        case .volume: return bar.volume
        case .hl2: return (bar.high + bar.low) / 2
        case .hlc3: return (bar.high + bar.low + bar.close) / 3
        case .ohlc4: return (bar.open + bar.high + bar.low + bar.close) / 4
        }
    }

    /// The field over a whole series (a copy only for derived fields).
    public func column(_ s: BarSeries) -> [Double] {
        switch self {
        case .open: return s.open
        case .high: return s.high
        case .low: return s.low
        case .close: return s.close
        case .volume: return s.volume
        case .hl2, .hlc3, .ohlc4: return s.indices.map { value(s[$0]) }
        }
    }
}

/// The indicators a feature can use, by their config names.
public enum IndicatorKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The source field itself.
    case price
    /// Simple returns over `period` bars.
    case returns
    /// Log returns over `period` bars.
    case logReturns = "log_returns"
    /// Simple moving average.
    case sma
    /// Exponential moving average.
    case ema
    /// Weighted moving average.
    case wma
    /// Relative Strength Index.
    case rsi
    /// MACD: outputs macd, signal, hist.
    case macd
    /// Bollinger Bands: outputs upper, middle, lower.
    case bbands
    /// Average true range (high/low/close).
    case atr
    /// True range (high/low/close).
    case trange
    /// Rolling standard deviation.
    case stddev
    /// Rolling standard deviation (population, as `stddev`) of 1-bar log returns: a
    /// scale-free volatility that compares across symbols.
    case volatility
    /// Rolling z-score.
    case zscore
    /// Rolling minimum.
    case min
    /// Rolling maximum.
    case max
    /// Momentum.
    case mom
    /// Rate of change, %.
    case roc
    /// Stochastic oscillator: outputs k, d (high/low/close).
    case stoch
    /// On-balance volume (close/volume).
    case obv
    /// Rolling VWAP (high/low/close/volume).
    case vwap
    /// Average directional index (high/low/close).
    case adx

    /// Parameter names with defaults and allowed ranges.
    public var parameters: [(name: String, defaultValue: Double, range: ClosedRange<Double>)] {
        let period: (Double, ClosedRange<Double>) -> [(String, Double, ClosedRange<Double>)] = { [("period", $0, $1)] }
        switch self {
        case .price, .trange, .obv: return []
        case .returns, .logReturns: return period(1, 1...100_000)
        case .sma, .ema, .wma, .min, .max, .vwap: return period(20, 1...100_000)
        case .rsi, .atr, .adx: return period(14, 2...100_000)
        case .zscore, .volatility: return period(20, 2...100_000)
        case .mom, .roc: return period(10, 1...100_000)
        case .stddev: return [("period", 20, 1...100_000), ("deviations", 1, 0...100)]
        case .bbands: return [("period", 20, 1...100_000), ("deviations", 2, 0...100)]
        case .macd: return [("fast", 12, 2...100_000), ("slow", 26, 2...100_000), ("signal", 9, 1...100_000)]
        case .stoch: return [("fastK", 5, 1...100_000), ("slowK", 3, 1...100_000), ("slowD", 3, 1...100_000)]
        }
    }

    /// Output names; one column each (a single output takes the feature's name).
    public var outputs: [String] {
        switch self {
        case .macd: return ["macd", "signal", "hist"]
        case .bbands: return ["upper", "middle", "lower"]
        case .stoch: return ["k", "d"]
        default: return [""]
        }
    }

    /// Whether the indicator reads one field (and so takes `source`).
    public var takesSource: Bool {
        switch self {
        case .atr, .trange, .stoch, .obv, .vwap, .adx: return false
        default: return true
        }
    }
}

/// One declared feature: an indicator over a source field, with lags.
public struct FeatureSpec: Sendable, Hashable, Codable {
    /// Column name (multi-output indicators append `_<output>`).
    public var name: String
    /// The indicator.
    public var indicator: IndicatorKind
    /// Numeric parameters (missing ones take their defaults).
    public var params: [String: Double]
    /// The field read by single-input indicators.
    public var source: PriceField
    /// Extra columns holding the value `k` bars earlier, for each `k`.
    public var lags: [Int]
    /// The subset of outputs to keep (all when nil).
    public var outputs: [String]?

    /// Creates a feature.
    public init(
        name: String,
        indicator: IndicatorKind,
        params: [String: Double] = [:],
        source: PriceField = .close,
        lags: [Int] = [],
        outputs: [String]? = nil
    ) {
        self.name = name
        self.indicator = indicator
        self.params = params
        self.source = source
        self.lags = lags
        self.outputs = outputs
    }

    /// A parameter's value or default.
    public func parameter(_ key: String) -> Double {
        params[key] ?? indicator.parameters.first { $0.name == key }?.defaultValue ?? 0
    }

    /// An integer parameter's value or default.
    public func intParameter(_ key: String) -> Int { Int(parameter(key)) }

    /// The outputs kept, in indicator order.
    public var keptOutputs: [String] {
        guard let chosen = outputs else { return indicator.outputs }
        return indicator.outputs.filter { chosen.contains($0) }
    }

    /// Column names: the outputs, then each output's lags.
    public var columnNames: [String] {
        let base = keptOutputs.map { $0.isEmpty ? name : "\(name)_\($0)" }
        return base + base.flatMap { b in lags.map { "\(b)_lag\($0)" } }
    }

    /// The first row at which every column of this feature is defined.
    public var warmup: Int { lookback + (lags.max() ?? 0) }

    /// The indicator's own first valid index.
    public var lookback: Int {
        switch indicator {
        case .price, .obv: return 0
        case .returns, .logReturns, .mom, .roc, .volatility: return intParameter("period")
        case .sma, .ema, .wma, .stddev, .min, .max, .vwap, .bbands, .zscore: return intParameter("period") - 1
        case .rsi, .atr: return intParameter("period")
        case .trange: return 1
        case .adx: return 2 * intParameter("period") - 1
        case .macd: return MACD(fast: intParameter("fast"), slow: intParameter("slow"), signal: intParameter("signal")).lookback
        case .stoch: return Stochastic(fastK: intParameter("fastK"), slowK: intParameter("slowK"), slowD: intParameter("slowD")).lookback
        }
    }
}

/// A declarative list of features, read from YAML or JSON:
///
/// ```yaml
/// features:
///   - {name: ret, indicator: returns, lags: [1, 2]}
///   - {name: rsi14, indicator: rsi, params: {period: 14}}
///   - {name: macd, indicator: macd, params: {fast: 12, slow: 26, signal: 9}}
/// ```
///
/// The same definition drives the batch matrix (training, backtests) and
/// the per-bar streaming vector (live), so a model sees the same features
/// offline and online. It is `Codable` so it travels with a model bundle.
public struct FeaturePipelineDefinition: Sendable, Hashable, Codable {
    /// The features, in column order.
    public var features: [FeatureSpec]

    /// Creates a definition.
    /// - Throws: `ConfigError` for duplicate column names.
    public init(features: [FeatureSpec]) throws(ConfigError) {
        self.features = features
        try Self.checkColumns(features)
    }

    static func checkColumns(_ features: [FeatureSpec]) throws(ConfigError) {
        var seen: [String: Int] = [:]
        for (i, f) in features.enumerated() {
            for c in f.columnNames {
                if let j = seen[c] {
                    throw ConfigError(.invalidValue, keyPath: "features[\(i)].name", rule: "column '\(c)' already produced by features[\(j)]")
                }
                seen[c] = i
            }
        }
    }

    /// Reads and validates a definition file.
    /// - Throws: `ConfigError` naming the key path (`features[2].params.period`).
    public static func load(path: String) throws(ConfigError) -> FeaturePipelineDefinition {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, keyPath: "", rule: "cannot read file: \(error.localizedDescription)", source: path)
        }
        return try parse(text: text, source: path)
    }

    /// Parses and validates YAML or JSON text.
    /// - Throws: `ConfigError` naming the key path.
    public static func parse(text: String, source: String? = nil) throws(ConfigError) -> FeaturePipelineDefinition {
        try FeaturePipelineDefinition(from: try AppConfig.parse(text: text, source: source), source: source)
    }

    /// Validates a configuration tree (`{features: [...]}` or a bare list).
    /// - Throws: `ConfigError` naming the key path.
    public init(from tree: ConfigValue, source: String? = nil) throws(ConfigError) {
        let list: [ConfigValue]
        switch tree {
        case .array(let a): list = a
        case .object:
            let root = try ConfigReader(tree, source: source)
            try root.rejectUnknownKeys(["features"])
            guard case .array(let a)? = root.raw("features") else {
                throw ConfigError(.missingKey, keyPath: "features", rule: "expected a list of features", source: source)
            }
            list = a
        default:
            throw ConfigError(.typeMismatch, keyPath: "features", rule: "expected a list of features", source: source)
        }
        guard !list.isEmpty else { throw ConfigError(.invalidValue, keyPath: "features", rule: "must contain at least one feature", source: source) }
        var specs: [FeatureSpec] = []
        for (i, item) in list.enumerated() {
            specs.append(try Self.spec(item, path: "features[\(i)]", source: source))
        }
        try self.init(features: specs)
    }

    static func spec(_ value: ConfigValue, path: String, source: String?) throws(ConfigError) -> FeatureSpec {
        let r = try ConfigReader(value, path: path, source: source)
        try r.rejectUnknownKeys(["name", "indicator", "params", "source", "lags", "outputs"])
        guard let kindName = try r.optionalString("indicator") else {
            throw ConfigError(
                .missingKey,
                keyPath: r.childPath("indicator"),
                rule: "required; one of: \(IndicatorKind.allCases.map(\.rawValue).joined(separator: ", "))",
                source: source
            )
        }
        guard let kind = IndicatorKind(rawValue: kindName.lowercased()) else {
            throw ConfigError(
                .invalidValue,
                keyPath: r.childPath("indicator"),
                rule: "unknown indicator '\(kindName)'; known: \(IndicatorKind.allCases.map(\.rawValue).joined(separator: ", "))",
                source: source
            )
        }
        let name = try r.string("name", default: kindName)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw ConfigError(
                .invalidValue,
                keyPath: r.childPath("name"),
                rule: "must be non-empty letters, digits or '_', found '\(name)'",
                source: source
            )
        }
        var params: [String: Double] = [:]
        let p = try r.nested("params")
        try p.rejectUnknownKeys(kind.parameters.map(\.name))
        for def in kind.parameters {
            let v = try p.double(def.name, default: def.defaultValue)
            guard def.range.contains(v) else {
                throw ConfigError(
                    .invalidValue,
                    keyPath: p.childPath(def.name),
                    rule: "must be in \(def.range.lowerBound)...\(def.range.upperBound), found \(v)",
                    source: source
                )
            }
            if def.name != "deviations" && v.rounded() != v {
                throw ConfigError(.invalidValue, keyPath: p.childPath(def.name), rule: "must be an integer, found \(v)", source: source)
            }
            if p.raw(def.name) != nil { params[def.name] = v }
        }
        if kind == .macd, (params["fast"] ?? 12) >= (params["slow"] ?? 26) {
            throw ConfigError(.invalidValue, keyPath: p.childPath("fast"), rule: "must be less than slow", source: source)
        }
        var field = PriceField.close
        if let s = try r.optionalString("source") {
            guard kind.takesSource else {
                throw ConfigError(
                    .invalidValue,
                    keyPath: r.childPath("source"),
                    rule: "\(kind.rawValue) reads high/low/close(/volume) itself and takes no source",
                    source: source
                )
            }
            guard let f = PriceField(rawValue: s.lowercased()) else {
                throw ConfigError(
                    .invalidValue,
                    keyPath: r.childPath("source"),
                    rule: "must be one of \(PriceField.allCases.map(\.rawValue).joined(separator: ", ")), found '\(s)'",
                    source: source
                )
            }
            field = f
        }
        var lags: [Int] = []
        if let raw = r.raw("lags") {
            guard case .array(let items) = raw else {
                throw ConfigError(.typeMismatch, keyPath: r.childPath("lags"), rule: "expected a list of integers", source: source)
            }
            for (j, item) in items.enumerated() {
                guard let k = item.intValue, (1...10_000).contains(k) else {
                    throw ConfigError(
                        .invalidValue,
                        keyPath: "\(r.childPath("lags"))[\(j)]",
                        rule: "must be an integer in 1...10000, found '\(item)'",
                        source: source
                    )
                }
                lags.append(k)
            }
        }
        var outputs: [String]?
        if let raw = r.raw("outputs") {
            guard case .array(let items) = raw, !items.isEmpty else {
                throw ConfigError(.typeMismatch, keyPath: r.childPath("outputs"), rule: "expected a non-empty list of output names", source: source)
            }
            outputs = []
            for (j, item) in items.enumerated() {
                guard let o = item.stringValue, kind.outputs.contains(o), !o.isEmpty else {
                    throw ConfigError(
                        .invalidValue,
                        keyPath: "\(r.childPath("outputs"))[\(j)]",
                        rule: "\(kind.rawValue) outputs are: \(kind.outputs.filter { !$0.isEmpty }.joined(separator: ", "))",
                        source: source
                    )
                }
                outputs!.append(o)
            }
        }
        return FeatureSpec(name: name, indicator: kind, params: params, source: field, lags: lags, outputs: outputs)
    }

    /// The default set: 22 columns of returns, trend, momentum, volatility and volume features.
    public static let standard: FeaturePipelineDefinition = try! FeaturePipelineDefinition(features: [
        FeatureSpec(name: "ret_1", indicator: .returns, lags: [1, 2]),
        FeatureSpec(name: "log_ret_5", indicator: .logReturns, params: ["period": 5]),
        FeatureSpec(name: "ema_20", indicator: .ema, params: ["period": 20]),
        FeatureSpec(name: "sma_50", indicator: .sma, params: ["period": 50]),
        FeatureSpec(name: "rsi_14", indicator: .rsi, params: ["period": 14]),
        FeatureSpec(name: "macd", indicator: .macd),
        FeatureSpec(name: "bb", indicator: .bbands, params: ["period": 20, "deviations": 2]),
        FeatureSpec(name: "atr_14", indicator: .atr, params: ["period": 14]),
        FeatureSpec(name: "stddev_20", indicator: .stddev, params: ["period": 20]),
        FeatureSpec(name: "zscore_20", indicator: .zscore, params: ["period": 20]),
        FeatureSpec(name: "roc_10", indicator: .roc, params: ["period": 10]),
        FeatureSpec(name: "stoch", indicator: .stoch, params: ["fastK": 14, "slowK": 3, "slowD": 3]),
        FeatureSpec(name: "obv", indicator: .obv),
        FeatureSpec(name: "adx_14", indicator: .adx, params: ["period": 14]),
        FeatureSpec(name: "vwap_20", indicator: .vwap, params: ["period": 20]),
    ])
}
