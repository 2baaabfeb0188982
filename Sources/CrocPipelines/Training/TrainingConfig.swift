import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import Foundation

/// Everything `crocbot train` needs, read from YAML or JSON.
///
/// ```yaml
/// name: googl-gbdt
/// data: {path: Examples/data/GOOGL.csv}
/// features: standard            # or a file path, or an inline list
/// label: {kind: sign, horizon: 5}
/// split: {train: 0.6, validation: 0.2, test: 0.2}
/// scaler: standard
/// model: {kind: gbdt, params: {rounds: 200, learningRate: 0.05}}
/// rule: {longAbove: 0.55, exitBelow: 0.5}
/// backtest: {cash: 10000, commission: 0.002}
/// output: models/googl-gbdt
/// ```
public struct TrainingConfig: Sendable {
    /// Bundle name.
    public var name: String
    /// Bundle version string.
    public var version: String
    /// The market data.
    public var data: DataConfig
    /// The feature definition.
    public var features: FeaturePipelineDefinition
    /// The training target.
    public var label: LabelDefinition
    /// Fractions of the labelled rows, in time order.
    public var trainFraction: Double
    /// Validation fraction.
    public var validationFraction: Double
    /// Bars dropped at each boundary so labels never see the next range (default: the label horizon).
    public var purge: Int
    /// `standard`, `minmax` or `none`.
    public var scaler: String
    /// The learner.
    public var modelKind: ModelKind
    /// Its hyperparameters.
    public var modelParameters: [String: ConfigValue]
    /// The decision rule for the test-range backtest (and the bundle's users).
    public var rule: DecisionRule
    /// Costs and cash for the test-range backtest.
    public var backtest: BacktestSettings
    /// Bundle directory.
    public var output: String
    /// Walk-forward evaluation windows `(trainSize, testSize, expanding)`, if configured.
    public var walkForward: (trainSize: Int, testSize: Int, expanding: Bool)?
    /// On a universe (`data.universe`): the transform of every feature column across the
    /// symbols at each date (`crossSection:`), recorded in the bundle for inference.
    public var crossSection: CrossSectionTransform = .none
    /// On a universe: how the test range is evaluated and traded (`portfolio:`).
    public var portfolio = PanelPortfolioSettings()

    /// Whether the data is a universe (panel training) rather than one series.
    public var isPanel: Bool { data.universe != nil }

    /// Reads a config file.
    /// - Throws: `ConfigError` naming the key path.
    public static func load(path: String) throws(ConfigError) -> TrainingConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, keyPath: "", rule: "cannot read file: \(error.localizedDescription)", source: path)
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try TrainingConfig(try AppConfig.parse(text: text, source: path), source: path, baseDirectory: base)
    }

    /// Validates a configuration tree.
    /// - Parameter baseDirectory: Where a relative `features:` file path is resolved first.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ tree: ConfigValue, source: String? = nil, baseDirectory: String = ".") throws(ConfigError) {
        let r = try ConfigReader(tree, source: source)
        try r.rejectUnknownKeys([
            "name", "version", "data", "features", "label", "split", "scaler", "model", "rule", "backtest", "output", "walkForward",
            "crossSection", "portfolio",
        ])
        name = try r.string("name", default: "model")
        version = try r.string("version", default: "1")
        data = try DataConfig(try r.nested("data"))
        switch r.raw("features") {
        case nil, .string("standard")?: features = .standard
        case .string(let path)?:
            let candidate = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: baseDirectory + "/")).path
            features = try FeaturePipelineDefinition.load(path: FileManager.default.fileExists(atPath: path) ? path : candidate)
        case let other?: features = try FeaturePipelineDefinition(from: .object(["features": other]), source: source)
        }
        let l = try r.nested("label")
        try l.rejectUnknownKeys(["kind", "horizon", "threshold", "crossSection"])
        let labelCross = try l.string("crossSection", default: "raw")
        guard ["raw", "none", "rank", "demean"].contains(labelCross) else {
            throw ConfigError(
                .invalidValue,
                keyPath: l.childPath("crossSection"),
                rule: "must be raw, rank or demean, found '\(labelCross)'",
                source: source
            )
        }
        label = LabelDefinition(
            kind: try l.choice("kind", default: .sign),
            horizon: try l.int("horizon", default: 5),
            threshold: try l.double("threshold", default: 0),
            crossSection: labelCross == "raw" || labelCross == "none" ? nil : CrossSectionTransform(rawValue: labelCross)
        )
        guard (1...10_000).contains(label.horizon) else {
            throw ConfigError(.invalidValue, keyPath: l.childPath("horizon"), rule: "must be in 1...10000, found \(label.horizon)", source: source)
        }
        let s = try r.nested("split")
        try s.rejectUnknownKeys(["train", "validation", "test", "purge"])
        trainFraction = try s.double("train", default: 0.6)
        validationFraction = try s.double("validation", default: 0.2)
        let test = try s.double("test", default: 1 - trainFraction - validationFraction)
        guard trainFraction > 0, validationFraction >= 0, test > 0, abs(trainFraction + validationFraction + test - 1) < 1e-9 else {
            throw ConfigError(
                .invalidValue,
                keyPath: s.childPath("train"),
                rule: "train, validation and test must be ≥ 0 (train, test > 0) and sum to 1",
                source: source
            )
        }
        purge = try s.int("purge", default: label.horizon)
        guard purge >= label.horizon else {
            throw ConfigError(
                .invalidValue,
                keyPath: s.childPath("purge"),
                rule: "must be ≥ the label horizon (\(label.horizon)) or labels would see the next range",
                source: source
            )
        }
        scaler = try r.string("scaler", default: "standard").lowercased()
        guard ["standard", "minmax", "none"].contains(scaler) else {
            throw ConfigError(.invalidValue, keyPath: "scaler", rule: "must be standard, minmax or none, found '\(scaler)'", source: source)
        }
        let m = try r.nested("model")
        try m.rejectUnknownKeys(["kind", "params"])
        modelKind = try m.choice("kind", default: .gbdt)
        modelParameters = try m.freeform("params")
        let u = try r.nested("rule")
        try u.rejectUnknownKeys(["longAbove", "exitBelow", "shortBelow", "coverAbove", "sizeByConfidence", "minimumFraction", "cooldown"])
        let defaults = label.task == .regression ? DecisionRule(longAbove: 0, exitBelow: 0, coverAbove: 0) : DecisionRule()
        rule = DecisionRule(
            longAbove: try u.double("longAbove", default: defaults.longAbove),
            exitBelow: try u.double("exitBelow", default: defaults.exitBelow),
            shortBelow: u.raw("shortBelow") == nil ? nil : try u.double("shortBelow", default: 0),
            coverAbove: try u.double("coverAbove", default: defaults.coverAbove),
            sizeByConfidence: try u.bool("sizeByConfidence", default: false),
            minimumFraction: try u.double("minimumFraction", default: 0.25),
            cooldownBars: try u.int("cooldown", default: 0)
        )
        backtest = try BacktestSettings(try r.nested("backtest"))
        output = try r.string("output", default: "models/\(name)")
        let cross = try r.string("crossSection", default: "none")
        guard let transform = CrossSectionTransform(rawValue: cross) else {
            throw ConfigError(.invalidValue, keyPath: "crossSection", rule: "must be none, rank, zscore or demean, found '\(cross)'", source: source)
        }
        crossSection = transform
        if r.raw("portfolio") != nil { portfolio = try PanelPortfolioSettings(try r.nested("portfolio"), horizon: label.horizon, source: source) }
        if data.universe == nil, cross != "none" || label.crossSection != nil || r.raw("portfolio") != nil {
            throw ConfigError(
                .invalidValue,
                keyPath: cross != "none" ? "crossSection" : (label.crossSection != nil ? l.childPath("crossSection") : "portfolio"),
                rule: "needs a universe (data.universe): one series has no cross-section",
                source: source
            )
        }
        if r.raw("walkForward") != nil {
            let w = try r.nested("walkForward")
            try w.rejectUnknownKeys(["trainSize", "testSize", "expanding"])
            let train = try w.int("trainSize", default: 500)
            let test = try w.int("testSize", default: 100)
            guard train >= 20, test >= 1 else {
                throw ConfigError(.invalidValue, keyPath: w.childPath("trainSize"), rule: "trainSize must be ≥ 20 and testSize ≥ 1", source: source)
            }
            walkForward = (train, test, try w.bool("expanding", default: false))
        }
    }
}

/// How a model trained on a universe is evaluated and traded over the test
/// range (`portfolio:` of a training config): the `model_topk` strategy's
/// parameters and the factor evaluation's quantiles.
public struct PanelPortfolioSettings: Sendable, Hashable {
    /// Symbols held (the best scores).
    public var top = 3
    /// Holdings replaced at most per rebalance (0: any number, a plain top-k).
    public var dropout = 0
    /// Bars between rebalances (default: the label horizon).
    public var rebalance = 5
    /// Symbols shorted (the worst scores; 0: long only).
    public var bottom = 0
    /// `equal` or `score` weights.
    public var weighting = "equal"
    /// Score quantiles in the evaluation.
    public var quantiles = 5

    /// The defaults.
    public init() {}

    /// Reads `portfolio:`.
    /// - Throws: `ConfigError` naming the key.
    init(_ r: ConfigReader, horizon: Int, source: String?) throws(ConfigError) {
        try r.rejectUnknownKeys(["top", "dropout", "rebalance", "bottom", "weighting", "quantiles"])
        top = try r.int("top", default: 3)
        dropout = try r.int("dropout", default: 0)
        rebalance = try r.int("rebalance", default: horizon)
        bottom = try r.int("bottom", default: 0)
        weighting = try r.string("weighting", default: "equal")
        quantiles = try r.int("quantiles", default: 5)
        guard top >= 1 else { throw ConfigError(.invalidValue, keyPath: r.childPath("top"), rule: "must be ≥ 1, found \(top)", source: source) }
        guard dropout >= 0, bottom >= 0 else {
            throw ConfigError(.invalidValue, keyPath: r.childPath("dropout"), rule: "dropout and bottom must be ≥ 0", source: source)
        }
        guard rebalance >= 1 else {
            throw ConfigError(.invalidValue, keyPath: r.childPath("rebalance"), rule: "must be ≥ 1 bar, found \(rebalance)", source: source)
        }
        guard ["equal", "score"].contains(weighting) else {
            throw ConfigError(.invalidValue, keyPath: r.childPath("weighting"), rule: "must be equal or score, found '\(weighting)'", source: source)
        }
        guard quantiles >= 2 else {
            throw ConfigError(.invalidValue, keyPath: r.childPath("quantiles"), rule: "must be ≥ 2, found \(quantiles)", source: source)
        }
    }

    /// The `model_topk` strategy parameters these settings stand for.
    public func strategyParameters(model: String) -> [String: ConfigValue] {
        [
            "model": .string(model), "top": .int(top), "dropout": .int(dropout), "rebalance": .int(rebalance), "bottom": .int(bottom),
            "weighting": .string(weighting),
        ]
    }
}
