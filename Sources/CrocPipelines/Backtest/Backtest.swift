import CrocCore
import CrocData
import CrocEngine
import CrocStrategies
import CrocSupport

/// Settings of one backtest, in ledger units.
public struct BacktestOptions: Sendable {
    /// Starting cash.
    public var cash: Money
    /// Commission and slippage.
    public var fees: FeeModel
    /// When market orders fill.
    public var fillTiming: FillTiming
    /// How open positions are settled at the end.
    public var finalize: FinalizeMode
    /// Whether sells may open shorts.
    public var allowShort: Bool
    /// Pre-trade limits (`risk:`), checked by the engine exactly as on paper and live.
    public var risk: RiskLimits = .none

    /// Creates options.
    public init(cash: Money, fees: FeeModel, fillTiming: FillTiming = .nextOpen, finalize: FinalizeMode = .lastOpen, allowShort: Bool = false) {
        self.cash = cash
        self.fees = fees
        self.fillTiming = fillTiming
        self.finalize = finalize
        self.allowShort = allowShort
    }

    /// Converts validated configuration.
    /// - Throws: `ConfigError` when a value cannot be represented exactly enough.
    public init(_ s: BacktestSettings) throws(ConfigError) {
        guard let cash = FixedPoint(rounding: s.cash), let rate = FixedPoint(rounding: s.commission),
            let fixed = FixedPoint(rounding: s.commissionFixed),
            let slip = FixedPoint(rounding: s.slippageBps)
        else {
            throw ConfigError(.invalidValue, keyPath: "backtest", rule: "cash, commission and slippage must be finite and below 9.2e10")
        }
        self.init(
            cash: cash,
            fees: FeeModel(commissionRate: rate, commissionFixed: fixed, slippageBps: slip),
            fillTiming: s.fillAt,
            finalize: s.finalize,
            allowShort: s.allowShort
        )
    }
}

/// What a backtest produced.
public struct BacktestResult: Sendable {
    /// The instrument traded.
    public var instrument: Instrument
    /// The strategy's name.
    public var strategyName: String
    /// Bar times (ns), one per equity point.
    public var timestamps: [Int64]
    /// Equity at each bar's close.
    public var equity: [Double]
    /// Closing prices, one per bar.
    public var closes: [Double]
    /// The strategy's warm-up (buy & hold starts there).
    public var warmupBars: Int
    /// Closed round trips.
    public var trades: [ClosedTrade]
    /// Every fill.
    public var fills: [Fill]
    /// Rejected orders and why.
    public var rejections: [(order: Order, reason: RejectionReason)]
    /// The final ledger.
    public var portfolio: Portfolio
    /// The statistics.
    public var statistics: BacktestStatistics
    /// The returns of each calendar period behind the Sharpe and Sortino ratios (one per
    /// bar after the first for daily bars): `equity[e₍ₖ₊₁₎] / equity[eₖ] − 1` over the
    /// last bar `eₖ` of each day, week, month or year (`BacktestStatistics.Calendar`).
    public var periodReturns: [Double]
    /// Whether each period return is one bar's return: every bar ends its own period.
    public var periodsAreBars: Bool
    /// The symbols traded, by lane (one for a single-instrument backtest).
    public var symbols: [String] = []
    /// The realised weights after each rebalance (portfolio backtests).
    public var weights: [TradingEngine.WeightRow] = []
    /// Per-symbol figures (portfolio backtests).
    public var symbolStatistics: [SymbolStatistics] = []
    /// The universe traded (portfolio backtests; for the report's per-symbol charts).
    public var universe: Universe?
}

/// Why a backtest could not run.
public struct BacktestError: Error, Sendable, CustomStringConvertible {
    /// A message for people.
    public var description: String
}

/// The backtest flow: drives `TradingEngine` over a historical series with
/// the simulated exchange and computes the statistics.
public enum Backtester {
    /// Runs `strategy` over `series`.
    /// - Throws: `BacktestError` when the series is empty.
    /// - Parameters:
    ///   - progress: Called with (bars done, bars in all) every 2^18 bars, for long runs.
    ///   - calendar: The series' calendar, when many runs share the series (sweeps).
    ///   - marketStatistics: Whether to compute beta and alpha.
    ///   - markPrices: The series' closes rounded for `instrument`, when many runs share the series (sweeps).
    public static func run(
        series: BarSeries,
        instrument: Instrument,
        strategy: any Strategy,
        options: BacktestOptions,
        progress: ((Int, Int) -> Void)? = nil,
        calendar: BacktestStatistics.Calendar? = nil,
        marketStatistics: Bool = true,
        markPrices: TradingEngine.MarkPrices? = nil
    ) throws(BacktestError) -> BacktestResult {
        guard !series.isEmpty else { throw BacktestError(description: "no bars to backtest (\(series.symbol))") }
        let warmup = strategy.warmupBars
        let name = strategy.name
        var engine = runEngine(
            series: series,
            instrument: instrument,
            strategy: strategy,
            options: options,
            progress: progress,
            markPrices: markPrices
        )
        if let failure = engine.strategyFailures.first {
            throw BacktestError(
                description:
                    "strategy \(name) failed at bar \(failure.barIndex) (\(failure.time)): \(failure.message)"
                    + (engine.strategyFailureCount > 1 ? " (and \(engine.strategyFailureCount - 1) more bars)" : "")
            )
        }
        engine.finish(options.finalize)
        let trades = engine.trades.closed
        let calendar = calendar ?? BacktestStatistics.Calendar(timestamps: series.timestamps)
        var periodReturns: [Double] = []
        let stats = BacktestStatistics.compute(
            timestamps: series.timestamps,
            close: series.close,
            equity: engine.equityCurve,
            trades: trades,
            warmupBars: warmup,
            commissions: engine.portfolio.totalCommission.doubleValue,
            calendar: calendar,
            market: marketStatistics,
            periodReturns: &periodReturns
        )
        return BacktestResult(
            instrument: instrument,
            strategyName: name,
            timestamps: series.timestamps,
            equity: engine.equityCurve,
            closes: series.close,
            warmupBars: warmup,
            trades: trades,
            fills: engine.fills,
            rejections: engine.rejections,
            portfolio: engine.portfolio,
            statistics: stats,
            periodReturns: periodReturns,
            periodsAreBars: calendar.bucketEnds.count == series.count
        )
    }

    /// Feeds every bar of `series` to a fresh engine (the hot loop; no statistics).
    /// `markPrices`, when given, are the series' closes rounded for `instrument`.
    public static func runEngine(
        series: BarSeries,
        instrument: Instrument,
        strategy: any Strategy,
        options: BacktestOptions,
        progress: ((Int, Int) -> Void)? = nil,
        markPrices: TradingEngine.MarkPrices? = nil
    ) -> TradingEngine {
        let exchange = SimulatedExchange(instrument: instrument, fees: options.fees, fillTiming: options.fillTiming, allowShort: options.allowShort)
        var engine = TradingEngine(
            instrument: instrument,
            strategy: strategy,
            exchange: exchange,
            cash: options.cash,
            expectedBars: series.count,
            risk: options.risk
        )
        let chunk = 1 << 18
        var start = 0
        while start < series.count {
            let end = min(series.count, start + chunk)
            engine.process(series, range: start..<end, markPrices: markPrices)
            progress?(end, series.count)
            start = end
        }
        return engine
    }
}
