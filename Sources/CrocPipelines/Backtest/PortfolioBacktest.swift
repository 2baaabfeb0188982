import CrocCore
import CrocData
import CrocEngine
import CrocStrategies
import CrocSupport

/// One symbol's share of a portfolio backtest.
public struct SymbolStatistics: Sendable, Equatable {
    /// The symbol.
    public var symbol: String
    /// Its profit and loss (sales − purchases − commissions + the position at its last close)
    /// over the starting cash, %. The contributions add up to the portfolio's return.
    public var contributionPct: Double
    /// Notional traded over the mean equity (1 = the account's value traded once).
    public var turnover: Double
    /// Share of the run's time steps with a position in it, %.
    public var exposurePct: Double
    /// Closed round trips.
    public var trades: Int
    /// Fills.
    public var fills: Int
    /// Commissions paid on it.
    public var commissions: Double
    /// The position at the end.
    public var finalQuantity: Double
}

extension Backtester {
    /// The strategy that trades `symbols` on one account, the same for a backtest, a sweep
    /// trial, paper and live: a portfolio strategy from the factory, or — with `perSymbol` —
    /// one instance of a single-instrument strategy per symbol under the stake rule.
    /// - Throws: `ConfigError` naming `strategy.name` when the strategy and the mode disagree
    ///   (a single-instrument strategy on many symbols without `perSymbol`, a portfolio strategy
    ///   with it), or the factory's error for its parameters.
    public static func universeStrategy(
        _ config: StrategyConfig,
        symbols: [String],
        perSymbol: StakeRule?,
        factory: StrategyFactory = .standard
    ) throws -> any Strategy {
        if let stake = perSymbol {
            guard !StrategyFactory.isPortfolio(config.name) else {
                throw ConfigError(
                    .invalidValue,
                    keyPath: "strategy.name",
                    rule: "--per-symbol runs a single-instrument strategy per symbol; \(config.name) already trades the whole universe"
                )
            }
            let instances = try symbols.map { _ in try factory.make(config) }
            return PerSymbolStrategy(symbols: symbols.count, stake: stake) { instances[$0] }
        }
        guard StrategyFactory.isPortfolio(config.name) || symbols.count == 1 else {
            throw ConfigError(
                .invalidValue,
                keyPath: "strategy.name",
                rule: "\(config.name) trades one instrument: add --per-symbol to run one per symbol of the universe on the shared account"
            )
        }
        return try factory.make(config, symbols: symbols)
    }

    /// The instrument of a single series: `instrument:`'s defaults (and any per-symbol entry for
    /// the series' symbol), the price precision measured in the file where none is configured.
    /// The one builder `backtest`, `live` and the pipelines use.
    /// - Throws: `ConfigError` when the quantity step is not a positive representable amount.
    public static func instrument(for series: BarSeries, config: InstrumentConfig) throws(ConfigError) -> Instrument {
        try instrument(series.symbol, measuredPrecision: series.pricePrecision, config: config) { step in
            ConfigError(.invalidValue, keyPath: "instrument.quantityStep", rule: "not a positive representable amount: \(step)")
        }
    }

    /// The instruments of a universe from the `instrument:` section: the defaults, with each
    /// symbol's overrides (`instrument.symbols.<SYM>`), the price precision inferred from the
    /// data when none is set.
    /// - Throws: `ConfigError` for a quantity step that cannot be represented.
    public static func instruments(for universe: Universe, config: InstrumentConfig) throws(ConfigError) -> [Instrument] {
        var out: [Instrument] = []
        for m in universe.members {
            out.append(
                try instrument(m.symbol, measuredPrecision: m.pricePrecision, config: config) { _ in
                    ConfigError(.invalidValue, keyPath: "instrument.symbols.\(m.symbol).quantityStep", rule: "not representable")
                }
            )
        }
        return out
    }

    /// `symbol`'s instrument: its `instrument:` spec, the measured precision where none is set;
    /// `invalid` makes the error for a step that is not a positive representable amount.
    private static func instrument(
        _ symbol: String,
        measuredPrecision: Int,
        config: InstrumentConfig,
        invalid: (Double) -> ConfigError
    ) throws(ConfigError) -> Instrument {
        let spec = config.spec(for: symbol)
        guard let step = FixedPoint(rounding: spec.quantityStep), step.raw > 0 else { throw invalid(spec.quantityStep) }
        return Instrument(symbol: symbol, pricePrecision: spec.pricePrecision ?? measuredPrecision, quantityStep: step)
    }

    /// Runs `strategy` over every time slice of `universe` on one account (one lane per
    /// symbol, shared cash) and computes the portfolio's statistics, with an equal-weight
    /// buy & hold of the universe as the benchmark, and each symbol's share.
    /// - Parameter details: Whether to compute beta and alpha, the per-symbol figures and keep
    ///   the universe in the result (a report wants them; a sweep's trials do not).
    /// - Throws: `BacktestError` for an empty universe or a strategy that failed.
    public static func run(
        universe: Universe,
        instruments: [Instrument],
        strategy: any Strategy,
        options: BacktestOptions,
        progress: ((Int, Int) -> Void)? = nil,
        details: Bool = true
    ) throws(BacktestError) -> BacktestResult {
        let rows = universe.timestamps.count
        guard rows > 0 else { throw BacktestError(description: "no bars to backtest (universe of \(universe.count) symbols)") }
        let warmup = strategy.warmupBars
        let name = strategy.name
        // The benchmark depends on the universe alone: a report's run computes it on another core
        // while the engine (one thread) runs; a sweep's trials (no details) already fill the cores.
        let pendingBenchmark = details ? Background { equalWeightIndex(universe) } : nil
        var engine = runEngine(universe: universe, instruments: instruments, strategy: strategy, options: options, progress: progress)
        if let failure = engine.strategyFailures.first {
            throw BacktestError(
                description:
                    "strategy \(name) failed at slice \(failure.barIndex) (\(failure.time)): \(failure.message)"
                    + (engine.strategyFailureCount > 1 ? " (and \(engine.strategyFailureCount - 1) more slices)" : "")
            )
        }
        engine.finish(options.finalize)
        let trades = engine.trades.closed
        let benchmark = pendingBenchmark?.value ?? equalWeightIndex(universe)
        var periodReturns: [Double] = []
        let calendar = BacktestStatistics.Calendar(timestamps: universe.timestamps)
        let stats = BacktestStatistics.compute(
            timestamps: universe.timestamps,
            close: benchmark,
            equity: engine.equityCurve,
            trades: trades,
            warmupBars: min(warmup, rows - 1),
            commissions: engine.portfolio.totalCommission.doubleValue,
            calendar: calendar,
            market: details,
            periodReturns: &periodReturns
        )
        var result = BacktestResult(
            instrument: instruments[0],
            strategyName: name,
            timestamps: universe.timestamps,
            equity: engine.equityCurve,
            closes: benchmark,
            warmupBars: min(warmup, rows - 1),
            trades: trades,
            fills: engine.fills,
            rejections: engine.rejections,
            portfolio: engine.portfolio,
            statistics: stats,
            periodReturns: periodReturns,
            periodsAreBars: calendar.bucketEnds.count == rows
        )
        result.symbols = universe.symbols
        result.weights = engine.weightHistory
        if details {
            result.universe = universe
            result.symbolStatistics = symbolStatistics(universe: universe, engine: engine)
        }
        return result
    }

    /// Feeds every slice of `universe` to a fresh multi-instrument engine (no statistics).
    public static func runEngine(
        universe: Universe,
        instruments: [Instrument],
        strategy: any Strategy,
        options: BacktestOptions,
        progress: ((Int, Int) -> Void)? = nil
    ) -> TradingEngine {
        var engine = TradingEngine(
            instruments: instruments,
            strategy: strategy,
            fees: options.fees,
            fillTiming: options.fillTiming,
            allowShort: options.allowShort,
            cash: options.cash,
            expectedBars: universe.timestamps.count,
            risk: options.risk
        )
        let rows = universe.timestamps.count
        let chunk = max(1, (1 << 20) / max(1, universe.count))
        var start = 0
        while start < rows {
            let end = min(rows, start + chunk)
            engine.process(universe, range: start..<end)
            progress?(end, rows)
            start = end
        }
        return engine
    }

    /// An equal-weight buy & hold of the universe, as a price index starting at 1: each
    /// symbol's close over its first close (1 before its first bar: that share waits in
    /// cash; after its last bar, its last close), averaged over the symbols.
    public static func equalWeightIndex(_ universe: Universe) -> [Double] {
        let rows = universe.timestamps.count
        var index = [Double](repeating: 0, count: rows)
        for m in universe.members {
            guard let first = m.close.first, first > 0 else {
                for t in 0..<rows { index[t] += 1 }
                continue
            }
            // One forward walk over the member's bars beside the union's rows (a member's
            // times are union times, in order).
            var last = 1.0
            var i = 0
            let count = m.count
            universe.timestamps.withUnsafeBufferPointer { times in
                m.timestamps.withUnsafeBufferPointer { own in
                    m.close.withUnsafeBufferPointer { close in
                        index.withUnsafeMutableBufferPointer { index in
                            for t in 0..<rows {
                                if i < count && own[i] == times[t] {
                                    last = close[i] / first
                                    i += 1
                                }
                                index[t] += last
                            }
                        }
                    }
                }
            }
        }
        let n = Double(universe.count)
        return index.map { $0 / n }
    }

    /// Each symbol's contribution, turnover, exposure and trades, from the engine's fills.
    static func symbolStatistics(universe: Universe, engine: TradingEngine) -> [SymbolStatistics] {
        let rows = universe.timestamps.count
        let initial = engine.portfolio.initialCash.doubleValue
        let meanEquity = engine.equityCurve.isEmpty ? initial : engine.equityCurve.reduce(0, +) / Double(engine.equityCurve.count)
        var bySymbol: [String: [Fill]] = [:]
        for f in engine.fills { bySymbol[f.symbol, default: []].append(f) }
        var tradeCount: [String: Int] = [:]
        for t in engine.trades.closed { tradeCount[t.symbol, default: 0] += 1 }
        return universe.members.enumerated().map { (s, m) in
            let fills = bySymbol[m.symbol] ?? []
            var cashFlow = 0.0
            var notional = 0.0
            var commissions = 0.0
            var position = Quantity.zero
            var exposed = 0
            var since: Int?
            for f in fills {
                let n = f.notional.doubleValue
                notional += n
                commissions += f.commission.doubleValue
                cashFlow += (f.side == .sell ? n : -n) - f.commission.doubleValue
                let before = position
                position += f.side == .buy ? f.quantity : -f.quantity
                if before.isZero && !position.isZero { since = f.barIndex }
                if !before.isZero && position.isZero, let start = since {
                    exposed += f.barIndex - start
                    since = nil
                }
            }
            if let start = since { exposed += rows - start }
            let lastClose = universe.lastCloseIndex(symbol: s, time: rows - 1).map { m.close[$0] } ?? 0
            let pnl = cashFlow + position.doubleValue * lastClose
            return SymbolStatistics(
                symbol: m.symbol,
                contributionPct: initial == 0 ? .nan : pnl / initial * 100,
                turnover: meanEquity == 0 ? .nan : notional / meanEquity,
                exposurePct: rows == 0 ? 0 : Double(exposed) / Double(rows) * 100,
                trades: tradeCount[m.symbol] ?? 0,
                fills: fills.count,
                commissions: commissions,
                finalQuantity: position.doubleValue
            )
        }
    }
}
