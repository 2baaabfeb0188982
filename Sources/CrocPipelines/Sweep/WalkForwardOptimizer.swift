import CrocCore
import CrocData
import CrocStrategies
import CrocSupport
import Foundation

/// One step of a walk-forward optimisation.
public struct WalkForwardStep: Sendable {
    /// Bars of the in-sample window (selection sees only these).
    public var inSample: Range<Int>
    /// Bars of the out-of-sample window (the chosen parameters are tested here).
    public var outOfSample: Range<Int>
    /// The best in-sample trial (nil when none was feasible: the window stays flat).
    public var chosen: TrialResult?
    /// Out-of-sample statistics of the chosen parameters (`return`, `sharpe`, `trades`).
    public var outOfSampleMetrics: [String: Double]
}

/// A walk-forward optimisation's result.
public struct WalkForwardOutcome: Sendable {
    /// The steps, in time order.
    public var steps: [WalkForwardStep]
    /// Timestamps of the stitched out-of-sample curve.
    public var timestamps: [Int64]
    /// The stitched out-of-sample equity: each window's returns compounded from the starting cash.
    public var equity: [Double]
    /// Statistics of the stitched curve (backtesting.py's definitions).
    public var statistics: BacktestStatistics
    /// Closed trades over all out-of-sample windows.
    public var trades: Int
}

/// Walk-forward optimisation: for each window, the sweep runs on the
/// in-sample bars only, and its best parameters trade the next
/// out-of-sample bars; the reported result is the stitched out-of-sample
/// equity. In-sample windows roll (fixed length) or are anchored at the
/// first bar.
public enum WalkForwardOptimizer {
    /// The window layout for `bars` bars: out-of-sample windows of equal
    /// length O after a first in-sample window of I bars, I/(I+O) = the
    /// in-sample fraction; the last out-of-sample window takes the remainder.
    public static func layout(bars: Int, spec: WalkForwardSpec) -> [(inSample: Range<Int>, outOfSample: Range<Int>)] {
        let f = spec.inSampleFraction
        let o = Int((Double(bars) / (Double(spec.windows) + f / (1 - f))).rounded(.down))
        let i = bars - spec.windows * o
        guard o >= 1, i >= 2 else { return [] }
        return (0..<spec.windows).map { k in
            let oosStart = i + k * o
            let oosEnd = k == spec.windows - 1 ? bars : oosStart + o
            let isStart = spec.mode == .anchored ? 0 : k * o
            return (isStart..<oosStart, oosStart..<oosEnd)
        }
    }

    /// Runs the walk-forward optimisation of `runner`'s sweep on its one data file, or on its
    /// universe: there the windows are rows of the union calendar, each in-sample sweep runs
    /// portfolio backtests of the window's rows only, the chosen parameters trade the next
    /// rows on one account, and the stitched statistics' benchmark is the equal-weight index.
    /// Each window's trials go to `store` as sweep `<name>.wf<k>`, so a rerun resumes.
    /// - Throws: `SweepStoreError`, `ConfigError` when the data is too short for the windows.
    public static func run(
        runner: SweepRunner,
        store: any SweepStore,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> WalkForwardOutcome {
        let spec = runner.spec
        guard spec.walkForward != nil else {
            throw ConfigError(.invalidValue, keyPath: "walkForward", rule: "the sweep has no walkForward section")
        }
        var windowSpec = spec
        windowSpec.walkForward = nil
        let factory = runner.factory
        func build(_ parameters: [String: ConfigValue], symbols: [String]?) throws -> any Strategy {
            var p = StrategyParameters(parameters, symbols: symbols)
            return try factory.entry(spec.strategy)!.build(&p)
        }
        let rows: Rows
        if let universe = runner.universe {
            rows = Rows(
                times: universe.timestamps,
                benchmark: Backtester.equalWeightIndex(universe),
                inSample: { try SweepRunner(spec: windowSpec, universe: try universe.rows($0), factory: factory) },
                warmup: { try build($0, symbols: universe.symbols).warmupBars },
                test: { parameters, range in
                    let test = try universe.rows(range)
                    return try Backtester.run(
                        universe: test,
                        instruments: try Backtester.instruments(for: test, config: spec.instrument),
                        strategy: try build(parameters, symbols: test.symbols),
                        options: runner.options,
                        details: false
                    )
                }
            )
        } else {
            guard let series = runner.series.first else {
                throw ConfigError(.invalidValue, keyPath: "data", rule: "a walk-forward needs one data file or a universe")
            }
            rows = Rows(
                times: series.timestamps,
                benchmark: series.close,
                inSample: { try SweepRunner(spec: windowSpec, series: [series.slice($0)], factory: factory) },
                warmup: { try build($0, symbols: nil).warmupBars },
                test: { parameters, range in
                    try Backtester.run(
                        series: series.slice(range),
                        instrument: runner.instruments[0],
                        strategy: try build(parameters, symbols: nil),
                        options: runner.options
                    )
                }
            )
        }
        return try await walk(rows, runner: runner, store: store, workers: workers, progress: progress)
    }

    /// What a walk-forward needs of its data (one series, or a universe's union calendar).
    private struct Rows {
        /// The rows' times.
        var times: [Int64]
        /// The buy & hold benchmark at each row (the close, or the equal-weight index).
        var benchmark: [Double]
        /// A sweep runner over these rows only.
        var inSample: (Range<Int>) throws -> SweepRunner
        /// The warm-up of the strategy with these parameters.
        var warmup: ([String: ConfigValue]) throws -> Int
        /// The backtest of the parameters over these rows.
        var test: ([String: ConfigValue], Range<Int>) throws -> BacktestResult
    }

    /// The windows: select in-sample, trade out-of-sample, stitch.
    private static func walk(
        _ rows: Rows,
        runner: SweepRunner,
        store: any SweepStore,
        workers: Int,
        progress: (@Sendable (Int, Int) -> Void)?
    ) async throws -> WalkForwardOutcome {
        let spec = runner.spec
        let wf = spec.walkForward!
        let windows = layout(bars: rows.times.count, spec: wf)
        guard !windows.isEmpty else {
            throw ConfigError(.invalidValue, keyPath: "walkForward.windows", rule: "\(rows.times.count) bars are too few for \(wf.windows) windows")
        }
        var steps: [WalkForwardStep] = []
        var stitched: [Double] = []
        var times: [Int64] = []
        var closes: [Double] = []
        var equity = runner.options.cash.doubleValue
        var trades = 0
        for (k, w) in windows.enumerated() {
            // Selection sees the in-sample rows and nothing else.
            let windowRunner = try rows.inSample(w.inSample)
            let summary = try await windowRunner.run(store: store, workers: workers, sweepName: "\(spec.name).wf\(k)")
            let chosen = summary.best
            var metrics: [String: Double] = ["return": 0, "sharpe": .nan, "trades": 0]
            var windowEquity = [Double](repeating: 1, count: w.outOfSample.count)
            if let chosen {
                // Warm-up rows before the window are past data; trading is measured from the window's first row.
                let from = max(0, w.outOfSample.lowerBound - (try rows.warmup(chosen.parameters)) - 1)
                let result = try rows.test(chosen.parameters, from..<w.outOfSample.upperBound)
                let offset = w.outOfSample.lowerBound - from
                let base = offset > 0 ? result.equity[offset - 1] : runner.options.cash.doubleValue
                windowEquity = (offset..<result.equity.count).map { result.equity[$0] / base }
                let oosTrades = result.trades.filter { $0.exitTime.nanoseconds >= rows.times[w.outOfSample.lowerBound] }.count
                metrics = ["return": (windowEquity.last! - 1) * 100, "sharpe": result.statistics.sharpeRatio, "trades": Double(oosTrades)]
                trades += oosTrades
            }
            for (j, row) in w.outOfSample.enumerated() {
                stitched.append(equity * windowEquity[j])
                times.append(rows.times[row])
                closes.append(rows.benchmark[row])
            }
            equity = stitched.last ?? equity
            steps.append(WalkForwardStep(inSample: w.inSample, outOfSample: w.outOfSample, chosen: chosen, outOfSampleMetrics: metrics))
            progress?(k + 1, windows.count)
        }
        let stats = BacktestStatistics.compute(timestamps: times, close: closes, equity: stitched, trades: [], warmupBars: 0, commissions: 0)
        return WalkForwardOutcome(steps: steps, timestamps: times, equity: stitched, statistics: stats, trades: trades)
    }
}
