import CrocCore
import CrocData
import CrocEngine
import CrocModels
import CrocStrategies
import CrocSupport
import Foundation

/// Portfolio environment settings: window, episodes, costs, reward shaping.
public struct PortfolioEnvironmentConfig: Sendable {
    /// Feature vectors per symbol in an observation.
    public var window: Int = 32
    /// Slices per episode (truncated after).
    public var episodeLength: Int = 256
    /// Starting cash.
    public var cash: Double = 100_000
    /// Costs: commission and slippage, as in backtests.
    public var fees = FeeModel(commissionRate: FixedPoint("0.001")!)
    /// The smallest tradable quantity of every symbol (fractional by default, as vectorbt sizes).
    public var quantityStep: Double = 0.000_000_01
    /// Penalty per unit of turnover: reward −= penalty × Σ|w_target − w_before|.
    public var turnoverPenalty: Double = 0
    /// Penalty per unit of drawdown increase: reward −= penalty × Δdrawdown.
    public var drawdownPenalty: Double = 0

    /// Defaults.
    public init() {}
}

/// A portfolio-allocation environment with the Gymnasium contract on
/// CrocBot's own engine, simulated exchange and portfolio (FinRL's
/// `StockPortfolioEnv`, with the real fill and cost model).
///
/// - **Observation**: for each symbol the last `window` feature vectors of its
///   own bars (flattened, oldest first; a value the pipeline has not defined —
///   warm-up, a missing bar — is 0), then the current weights of the symbols
///   and of cash (positions at their last closes over equity): `n × window × F + n + 1`.
/// - **Action**: `.vector` of `n + 1` raw outputs; their softmax is the target
///   weights, cash last (long only, fully allocated between assets and cash).
///   The rebalance is placed after observing slice t and fills by the engine's
///   rules (`Rebalance`: sells first, each order sized when it executes, buys
///   cut to the cash), at slice t + 1's opens — a decision made after seeing a close
///   cannot trade at that close.
/// - **Reward**: log(equity_{t+1} / equity_t), net of commission and slippage,
///   minus the optional turnover and drawdown penalties.
///
/// Episodes start at a random slice (seeded) and last `episodeLength` slices;
/// `actionLog` holds each decision's weights by the engine's slice index, so
/// `WeightScheduleStrategy` replays an episode through a backtest.
public struct PortfolioEnvironment: Environment {
    /// The universe.
    public let universe: Universe
    /// Settings.
    public let config: PortfolioEnvironmentConfig
    /// Feature columns per symbol.
    public let featureCount: Int
    /// The instruments, one per symbol (the config's quantity step).
    public let instruments: [Instrument]
    /// Every symbol's features at each union row, one array (`[(s * T + t) * F + f]`, T the
    /// rows; an observation copies a symbol's window in one run), NaN as 0.
    let rows: [Double]
    let firstValid: Int
    var engine: TradingEngine
    var rng = SplitMix64(seed: 0)
    /// The slice the agent last observed (a union-calendar row).
    public private(set) var row = 0
    /// The episode's first row.
    public private(set) var episodeStart = 0
    var lastEquity = 0.0
    var peakEquity = 0.0
    /// The weights of each decision, by the engine's slice index of the decision (a replay schedule).
    public private(set) var actionLog: [[Double]?] = []
    private var weightsNow: [Double]
    private var target: [Double]

    /// Creates an environment.
    /// - Throws: `PanelError` when the data is too short for one episode, or features the
    ///   universe lacks (volume on a close-only file).
    public init(universe: Universe, features definition: FeaturePipelineDefinition, config: PortfolioEnvironmentConfig = .init()) throws {
        try LabelledPanel.checkFields(definition, universe: universe)
        let pipeline = FeaturePipeline(definition)
        let panel = FeaturePanel(universe: universe, pipeline: pipeline)
        let t = universe.timestamps.count
        let n = universe.count
        let f = pipeline.width
        var rows = [Double](repeating: 0, count: n * t * f)
        panel.values.withUnsafeBufferPointer { v in
            for s in 0..<n {
                for r in 0..<t {
                    for c in 0..<f {
                        let x = v[(c * t + r) * n + s]
                        rows[(s * t + r) * f + c] = x.isFinite ? x : 0
                    }
                }
            }
        }
        self.universe = universe
        self.config = config
        self.featureCount = f
        self.rows = rows
        guard let step = FixedPoint(rounding: config.quantityStep), step.raw > 0 else {
            throw PanelError("quantityStep", "must be a positive number representable in fixed point, found \(config.quantityStep)")
        }
        self.instruments = universe.members.map { Instrument(symbol: $0.symbol, pricePrecision: $0.pricePrecision, quantityStep: step) }
        self.firstValid = pipeline.warmup + config.window - 1
        guard t >= firstValid + config.episodeLength + 1 else {
            throw PanelError(
                "episodeLength",
                "\(t) dates are too few for warm-up \(pipeline.warmup), window \(config.window) and episodes of \(config.episodeLength)"
            )
        }
        self.weightsNow = [Double](repeating: 0, count: n + 1)
        self.weightsNow[n] = 1
        self.target = weightsNow
        self.engine = Self.makeEngine(instruments, config)
    }

    static func makeEngine(_ instruments: [Instrument], _ config: PortfolioEnvironmentConfig) -> TradingEngine {
        var engine = TradingEngine(
            instruments: instruments,
            strategy: IdleStrategy(),
            fees: config.fees,
            fillTiming: .nextOpen,
            cash: FixedPoint(unchecked: config.cash),
            expectedBars: config.episodeLength + 1
        )
        engine.recordsFills = false  // the agent sees the account, not the trades
        return engine
    }

    /// Symbols.
    public var symbolCount: Int { universe.count }

    /// n × window × F + n + 1.
    public var observationSize: Int { symbolCount * config.window * featureCount + symbolCount + 1 }

    /// A vector of n + 1 raw weights (softmax inside).
    public var actionSpace: ActionSpace { .vector(symbolCount + 1) }

    /// Starts an episode at a random row (seeded) and returns its first observation.
    public mutating func reset(seed: UInt64? = nil) -> [Double] {
        if let seed { rng = SplitMix64(seed: seed) }
        let span = universe.timestamps.count - config.episodeLength - 1 - firstValid
        reset(at: firstValid + Int(rng.next() % UInt64(max(1, span))))
        return observation()
    }

    /// Starts an episode at row `start` (deterministic, for evaluation and replays).
    public mutating func reset(at start: Int) {
        engine = Self.makeEngine(instruments, config)
        engine.process(universe, range: start..<(start + 1))
        episodeStart = start
        row = start
        lastEquity = config.cash
        peakEquity = config.cash
        actionLog = []
        for k in weightsNow.indices { weightsNow[k] = 0 }
        weightsNow[symbolCount] = 1
    }

    /// The softmax of `raw` (n + 1 values, cash last) into `out` (`RLPortfolioStrategy.softmax`).
    public static func weights(_ raw: [Double], into out: inout [Double]) { RLPortfolioStrategy.softmax(raw, into: &out) }

    /// Rebalances to the action's weights after observing this row; advances one row.
    public mutating func step(_ action: Action) -> StepResult {
        let n = symbolCount
        guard row + 1 < universe.timestamps.count else {
            return StepResult(observation: observation(), reward: 0, terminated: true, truncated: false)
        }
        let raw: [Double]
        switch action {
        case .vector(let v) where v.count == n + 1: raw = v
        case .vector, .discrete, .continuous: raw = [Double](repeating: 0, count: n) + [1]  // malformed: all cash
        }
        Self.weights(raw, into: &target)
        var turnover = 0.0
        for k in 0..<(n + 1) { turnover += abs(target[k] - weightsNow[k]) }
        let assets = Array(target[0..<n])
        engine.act { context in _ = try? context.rebalance(weights: assets) }
        actionLog.append(assets)  // index = the engine's slice index of the decision
        row += 1
        engine.process(universe, range: row..<(row + 1))
        let equity = engine.equityCurve.last ?? lastEquity
        var reward = equity > 0 && lastEquity > 0 ? log(equity / lastEquity) : -1
        let ddBefore = 1 - lastEquity / peakEquity
        peakEquity = max(peakEquity, equity)
        if config.drawdownPenalty > 0 { reward -= config.drawdownPenalty * max(0, (1 - equity / peakEquity) - ddBefore) }
        if config.turnoverPenalty > 0 { reward -= config.turnoverPenalty * turnover }
        lastEquity = equity
        updateWeights()
        let ruined = equity <= config.cash * 0.01
        let truncated = !ruined && (row - episodeStart >= config.episodeLength || row + 1 >= universe.timestamps.count)
        let info: [String: Double] =
            ruined || truncated ? ["equity": equity, "return": equity / config.cash - 1, "bars": Double(row - episodeStart)] : [:]
        return StepResult(observation: observation(), reward: reward, terminated: ruined, truncated: truncated, info: info)
    }

    /// Each symbol's position at its last close over equity, then cash's share.
    private mutating func updateWeights() {
        let n = symbolCount
        let equity = max(1e-9, lastEquity)
        var invested = 0.0
        for k in 0..<n {
            if let v = engine.positionValue(lane: k) {
                weightsNow[k] = v.doubleValue / equity
                invested += weightsNow[k]
            } else {
                weightsNow[k] = 0
            }
        }
        weightsNow[n] = 1 - invested
    }

    /// The current weights (symbols, then cash).
    public var currentWeights: [Double] { weightsNow }

    /// The current observation.
    public func observation() -> [Double] {
        let f = featureCount
        let w = config.window
        let block = w * f
        let n = symbolCount
        let start = (row - w + 1) * f
        let perSymbol = universe.timestamps.count * f
        return [Double](unsafeUninitializedCapacity: n * block + n + 1) { buf, count in
            rows.withUnsafeBufferPointer { r in
                for s in 0..<n { (buf.baseAddress! + s * block).update(from: r.baseAddress! + s * perSymbol + start, count: block) }
            }
            for k in 0...n { buf[n * block + k] = weightsNow[k] }
            count = n * block + n + 1
        }
    }

    /// The equity curve of the current episode.
    public var equityCurve: [Double] { engine.equityCurve }
}
