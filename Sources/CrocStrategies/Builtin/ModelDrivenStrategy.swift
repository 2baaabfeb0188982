import CrocCore
import CrocData
import CrocModels

/// How a model's score becomes positions.
///
/// For classifiers the score is P(up); for regressors it is the predicted
/// return. Enter long when score > `longAbove`, leave when score <
/// `exitBelow`; optionally enter short when score < `shortBelow` (the
/// exchange must allow shorts) and cover when score > `coverAbove`. After
/// a position closes, wait `cooldownBars` before entering again.
public struct DecisionRule: Sendable, Hashable, Codable {
    /// Enter long above this score.
    public var longAbove: Double
    /// Close a long below this score.
    public var exitBelow: Double
    /// Enter short below this score (nil: long only).
    public var shortBelow: Double?
    /// Cover a short above this score.
    public var coverAbove: Double
    /// Scale the position by confidence: the cash fraction grows linearly
    /// from `minimumFraction` at the threshold to 1 at the extreme score.
    public var sizeByConfidence: Bool
    /// The smallest cash fraction when sizing by confidence.
    public var minimumFraction: Double
    /// Bars to wait after closing before entering again.
    public var cooldownBars: Int

    /// Creates a rule (defaults suit a classifier's probability).
    public init(
        longAbove: Double = 0.55,
        exitBelow: Double = 0.5,
        shortBelow: Double? = nil,
        coverAbove: Double = 0.5,
        sizeByConfidence: Bool = false,
        minimumFraction: Double = 0.25,
        cooldownBars: Int = 0
    ) {
        self.longAbove = longAbove
        self.exitBelow = exitBelow
        self.shortBelow = shortBelow
        self.coverAbove = coverAbove
        self.sizeByConfidence = sizeByConfidence
        self.minimumFraction = minimumFraction
        self.cooldownBars = cooldownBars
    }
}

/// A strategy driven by a trained model: each bar goes through the bundle's
/// feature pipeline (streaming form, identical to training's batch form),
/// the bundle's scaler and model, and the decision rule.
public struct ModelDrivenStrategy: Strategy {
    /// The inference function.
    public let adapter: InferenceAdapter
    /// The decision rule.
    public let rule: DecisionRule
    private var features: FeatureStream
    private var cooldown = 0
    private var wasFlat = true
    /// The latest score (NaN before warm-up).
    public private(set) var lastScore = Double.nan

    /// Creates the strategy.
    public init(adapter: InferenceAdapter, rule: DecisionRule = .init()) {
        self.adapter = adapter
        self.rule = rule
        self.features = FeaturePipeline(adapter.bundle.features).makeStream()
    }

    /// `model(<bundle name>)`.
    public var name: String { "model(\(adapter.bundle.metadata.name))" }

    /// The feature pipeline's warm-up.
    public var warmupBars: Int { features.warmup }

    /// Scores the bar and acts on the rule.
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
        let vector = features.update(bar)
        if !context.isFlat {
            wasFlat = false
        } else if !wasFlat {
            wasFlat = true
            cooldown = rule.cooldownBars
        }
        guard features.isWarm else { return }
        let score = adapter.predict(vector)
        lastScore = score
        // A bar spent cooling down counts even when it brings no decision.
        let cooling = cooldown > 0
        if cooling { cooldown -= 1 }
        guard score.isFinite, context.workingOrders.isEmpty else { return }
        if context.position.raw > 0 {
            if score < rule.exitBelow { context.closePosition(tag: "model_exit") }
        } else if context.position.raw < 0 {
            if score > rule.coverAbove { context.closePosition(tag: "model_cover") }
        } else if !cooling {
            if score > rule.longAbove {
                context.buy(.cashFraction(fraction(score - rule.longAbove, span: 1 - rule.longAbove)), tag: "model_long")
            } else if let s = rule.shortBelow, score < s {
                context.sell(.cashFraction(fraction(s - score, span: s)), tag: "model_short")
            }
        }
    }

    private func fraction(_ excess: Double, span: Double) -> FixedPoint {
        guard rule.sizeByConfidence, span > 0 else { return .one }
        let f = min(1, max(rule.minimumFraction, rule.minimumFraction + (1 - rule.minimumFraction) * excess / span))
        return FixedPoint(rounding: f) ?? .one
    }
}
