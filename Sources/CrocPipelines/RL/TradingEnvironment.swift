import CrocCore
import CrocData
import CrocEngine
import CrocModels
import CrocStrategies
import CrocSupport
import Foundation

/// Environment settings: data, features, window, actions, costs and reward shaping.
public struct TradingEnvironmentConfig: Sendable {
    /// Feature vectors per observation.
    public var window: Int = 32
    /// The actions.
    public var actions: TradingActions = .flatLong
    /// Bars per episode (truncated after).
    public var episodeLength: Int = 256
    /// Starting cash.
    public var cash: Double = 10_000
    /// Costs.
    public var fees = FeeModel(commissionRate: FixedPoint("0.001")!)
    /// Penalty per unit of drawdown increase (reward −= penalty × Δdrawdown × cash).
    public var drawdownPenalty: Double = 0
    /// Penalty per unit of exposure change.
    public var turnoverPenalty: Double = 0

    /// Defaults.
    public init() {}
}

/// A trading environment with the Gymnasium contract on CrocBot's own
/// engine, simulated exchange and portfolio (DESIGN rule 1).
///
/// Observation: the last `window` feature vectors (flattened, oldest first),
/// then the current exposure and the unrealised PnL as a fraction of equity.
/// An action sets the target exposure; orders fill at the next bar's open
/// with the configured costs; the reward is the change in equity (net of
/// commission and slippage) scaled by the starting cash, minus the optional
/// drawdown and turnover penalties. Episodes start at a random bar (seeded)
/// and last `episodeLength` bars.
public struct TradingEnvironment: Environment {
    /// The bars.
    public let series: BarSeries
    /// Features of every bar (batch form of the pipeline).
    public let features: FeatureMatrix
    /// The same features row-major, so an observation window is one contiguous copy.
    let rows: [Double]
    /// Settings.
    public let config: TradingEnvironmentConfig
    let instrument: Instrument
    let firstValid: Int
    var engine: TradingEngine
    var rng = SplitMix64(seed: 0)
    /// The bar the agent last observed.
    public private(set) var bar = 0
    /// The episode's first bar.
    public private(set) var episodeStart = 0
    var peakEquity = 0.0
    var lastEquity = 0.0
    // Position facts cached once per step (reading the engine through the Optional copies it).
    var quantity: Quantity = .zero
    var heldQuantity = 0.0
    var averagePrice = 0.0
    /// Target exposures decided this episode, by the engine's bar index of each decision (a replay schedule).
    public private(set) var actionLog: [Double] = []

    /// Creates an environment.
    /// - Throws: `ModelError` when the data is too short for one episode.
    public init(series: BarSeries, features definition: FeaturePipelineDefinition, config: TradingEnvironmentConfig = .init()) throws {
        let pipeline = FeaturePipeline(definition)
        self.series = series
        let matrix = pipeline.transform(series)
        self.features = matrix
        var rows = [Double](repeating: 0, count: matrix.values.count)
        for i in 0..<matrix.rows {
            for j in 0..<matrix.columns { rows[i * matrix.columns + j] = matrix[i, j] }
        }
        self.rows = rows
        self.config = config
        self.instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision)
        self.firstValid = pipeline.warmup + config.window - 1
        guard series.count > firstValid + config.episodeLength + 1 else {
            throw ModelError(
                .invalidData,
                "\(series.count) bars are too few for warm-up \(pipeline.warmup), window \(config.window) and episodes of \(config.episodeLength)"
            )
        }
        engine = Self.makeEngine(instrument: instrument, config: config)
    }

    /// window × features + 2.
    public var observationSize: Int { config.window * features.columns + 2 }

    /// Discrete or continuous, per the config.
    public var actionSpace: ActionSpace { config.actions.space }

    /// Starts an episode at a random bar (seeded) and returns its first observation.
    public mutating func reset(seed: UInt64? = nil) -> [Double] {
        if let seed { rng = SplitMix64(seed: seed) }
        let span = series.count - config.episodeLength - 1 - firstValid
        reset(at: firstValid + Int(rng.next() % UInt64(max(1, span))))
        return observation()
    }

    /// Starts an episode at bar `start` (deterministic, for evaluation and replays).
    public mutating func reset(at start: Int) {
        engine = Self.makeEngine(instrument: instrument, config: config)
        engine.process(series[start])
        episodeStart = start
        bar = start
        lastEquity = config.cash
        peakEquity = config.cash
        quantity = .zero
        heldQuantity = 0
        averagePrice = 0
        actionLog = []
    }

    static func makeEngine(instrument: Instrument, config: TradingEnvironmentConfig) -> TradingEngine {
        let exchange = SimulatedExchange(instrument: instrument, fees: config.fees, fillTiming: .nextOpen, allowShort: config.actions != .flatLong)
        return TradingEngine(
            instrument: instrument,
            strategy: IdleStrategy(),
            exchange: exchange,
            cash: FixedPoint(unchecked: config.cash),
            expectedBars: config.episodeLength + 1
        )
    }

    /// Applies an action: trade toward its exposure at the next bar's open, advance one bar.
    public mutating func step(_ action: Action) -> StepResult {
        guard bar + 1 < series.count else {
            return StepResult(observation: observation(), reward: 0, terminated: true, truncated: false)
        }
        let target = targetExposure(action, config.actions)
        let previousExposure = exposure()
        // Decided after observing `bar`: the orders go in at that bar and fill at the next open,
        // exactly as a strategy's would.
        let close = series.close[bar]
        engine.act { TargetExposureTrader.trade(toward: target, close: close, context: &$0) }
        actionLog.append(target)  // index = the engine's bar index of the decision, as a replay sees it
        bar += 1
        engine.process(series[bar])  // in place: a copy would duplicate the equity curve every step
        let equity = engine.equityCurve.last ?? lastEquity
        let q = engine.position
        if q != quantity {
            quantity = q
            heldQuantity = q.doubleValue
            averagePrice = q.raw == 0 ? 0 : engine.portfolio.position(instrument.symbol).averagePrice.doubleValue
        }
        var reward = (equity - lastEquity) / config.cash
        if config.drawdownPenalty > 0 {
            let ddBefore = 1 - lastEquity / peakEquity
            peakEquity = max(peakEquity, equity)
            let ddAfter = 1 - equity / peakEquity
            reward -= config.drawdownPenalty * max(0, ddAfter - ddBefore)
        } else {
            peakEquity = max(peakEquity, equity)
        }
        if config.turnoverPenalty > 0 { reward -= config.turnoverPenalty * abs(target - previousExposure) }
        lastEquity = equity
        let ruined = equity <= config.cash * 0.01
        let truncated = !ruined && (bar - episodeStart >= config.episodeLength || bar + 1 >= series.count)
        // As Gymnasium's episode summary: info only on the final step (a dictionary per step would cost more than the step).
        let info: [String: Double] =
            ruined || truncated ? ["equity": equity, "return": equity / config.cash - 1, "bars": Double(bar - episodeStart)] : [:]
        return StepResult(observation: observation(), reward: reward, terminated: ruined, truncated: truncated, info: info)
    }

    /// The signed position value as a fraction of equity.
    public func exposure() -> Double {
        heldQuantity == 0 ? 0 : heldQuantity * series.close[bar] / max(1e-9, lastEquity)
    }

    /// The current observation.
    public func observation() -> [Double] {
        let cols = features.columns
        let n = config.window * cols
        let start = (bar - config.window + 1) * cols
        let pnl = heldQuantity == 0 ? 0 : heldQuantity * (series.close[bar] - averagePrice) / max(1e-9, lastEquity)
        let exposure = exposure()
        return [Double](unsafeUninitializedCapacity: n + 2) { buf, count in
            rows.withUnsafeBufferPointer { r in buf.baseAddress!.update(from: r.baseAddress! + start, count: n) }
            buf[n] = exposure
            buf[n + 1] = pnl
            count = n + 2
        }
    }

    /// The equity curve of the current episode.
    public var equityCurve: [Double] { engine.equityCurve }
}
