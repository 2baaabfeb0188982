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

    /// Runs the walk-forward optimisation of `runner`'s sweep on its one data file.
    /// Each window's trials go to `store` as sweep `<name>.wf<k>`, so a rerun resumes.
    /// - Throws: `SweepStoreError`, `ConfigError` when the data is too short for the windows.
    public static func run(
        runner: SweepRunner,
        store: any SweepStore,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> WalkForwardOutcome {
        let spec = runner.spec
        if let universe = runner.universe {
            return try await runUniverse(runner: runner, universe: universe, store: store, workers: workers, progress: progress)
        }
        guard let wf = spec.walkForward, let series = runner.series.first else {
            throw ConfigError(.invalidValue, keyPath: "walkForward", rule: "the sweep has no walkForward section")
        }
        let windows = layout(bars: series.count, spec: wf)
        guard !windows.isEmpty else {
            throw ConfigError(.invalidValue, keyPath: "walkForward.windows", rule: "\(series.count) bars are too few for \(wf.windows) windows")
        }
        var steps: [WalkForwardStep] = []
        var stitched: [Double] = []
        var times: [Int64] = []
        var closes: [Double] = []
        var equity = runner.options.cash.doubleValue
        var trades = 0
        for (k, w) in windows.enumerated() {
            // Selection sees the in-sample slice and nothing else.
            let inSample = series.slice(w.inSample)
            var windowSpec = spec
            windowSpec.walkForward = nil
            let windowRunner = try SweepRunner(spec: windowSpec, series: [inSample], factory: runner.factory)
            let summary = try await windowRunner.run(store: store, workers: workers, sweepName: "\(spec.name).wf\(k)")
            let chosen = summary.best
            var metrics: [String: Double] = ["return": 0, "sharpe": .nan, "trades": 0]
            var windowEquity = [Double](repeating: 1, count: w.outOfSample.count)
            if let chosen {
                var p = StrategyParameters(chosen.parameters)
                let strategy = try runner.factory.entry(spec.strategy)!.build(&p)
                // Warm-up bars before the window are past data; trading is measured from the window's first bar.
                let from = max(0, w.outOfSample.lowerBound - strategy.warmupBars - 1)
                let test = series.slice(from..<w.outOfSample.upperBound)
                let result = try Backtester.run(series: test, instrument: runner.instruments[0], strategy: strategy, options: runner.options)
                let offset = w.outOfSample.lowerBound - from
                let base = offset > 0 ? result.equity[offset - 1] : runner.options.cash.doubleValue
                windowEquity = (offset..<result.equity.count).map { result.equity[$0] / base }
                let oosTrades = result.trades.filter { $0.exitTime.nanoseconds >= series.timestamps[w.outOfSample.lowerBound] }.count
                metrics = ["return": (windowEquity.last! - 1) * 100, "sharpe": result.statistics.sharpeRatio, "trades": Double(oosTrades)]
                trades += oosTrades
            }
            for (j, bar) in w.outOfSample.enumerated() {
                stitched.append(equity * windowEquity[j])
                times.append(series.timestamps[bar])
                closes.append(series.close[bar])
            }
            equity = stitched.last ?? equity
            steps.append(WalkForwardStep(inSample: w.inSample, outOfSample: w.outOfSample, chosen: chosen, outOfSampleMetrics: metrics))
            progress?(k + 1, windows.count)
        }
        let stats = BacktestStatistics.compute(timestamps: times, close: closes, equity: stitched, trades: [], warmupBars: 0, commissions: 0)
        return WalkForwardOutcome(steps: steps, timestamps: times, equity: stitched, statistics: stats, trades: trades)
    }

    /// Walk-forward over a universe: the windows are rows of its union calendar; each
    /// in-sample sweep runs portfolio backtests of the window's rows only, and the chosen
    /// parameters trade the next rows on one account (warm-up rows before the window are
    /// past data, as for one instrument). The benchmark column of the stitched statistics is
    /// the universe's equal-weight index.
    static func runUniverse(
        runner: SweepRunner,
        universe: Universe,
        store: any SweepStore,
        workers: Int,
        progress: (@Sendable (Int, Int) -> Void)?
    ) async throws -> WalkForwardOutcome {
        let spec = runner.spec
        guard let wf = spec.walkForward else {
            throw ConfigError(.invalidValue, keyPath: "walkForward", rule: "the sweep has no walkForward section")
        }
        let rows = universe.timestamps.count
        let windows = layout(bars: rows, spec: wf)
        guard !windows.isEmpty else {
            throw ConfigError(.invalidValue, keyPath: "walkForward.windows", rule: "\(rows) rows are too few for \(wf.windows) windows")
        }
        let index = Backtester.equalWeightIndex(universe)
        var steps: [WalkForwardStep] = []
        var stitched: [Double] = []
        var times: [Int64] = []
        var closes: [Double] = []
        var equity = runner.options.cash.doubleValue
        var trades = 0
        for (k, w) in windows.enumerated() {
            // Selection sees the in-sample rows and nothing else.
            var windowSpec = spec
            windowSpec.walkForward = nil
            let windowRunner = try SweepRunner(spec: windowSpec, universe: try universe.rows(w.inSample), factory: runner.factory)
            let summary = try await windowRunner.run(store: store, workers: workers, sweepName: "\(spec.name).wf\(k)")
            let chosen = summary.best
            var metrics: [String: Double] = ["return": 0, "sharpe": .nan, "trades": 0]
            var windowEquity = [Double](repeating: 1, count: w.outOfSample.count)
            if let chosen {
                var probe = StrategyParameters(chosen.parameters, symbols: universe.symbols)
                let warmup = try runner.factory.entry(spec.strategy)!.build(&probe).warmupBars
                let from = max(0, w.outOfSample.lowerBound - warmup - 1)
                let test = try universe.rows(from..<w.outOfSample.upperBound)
                var p = StrategyParameters(chosen.parameters, symbols: test.symbols)
                let strategy = try runner.factory.entry(spec.strategy)!.build(&p)
                let instruments = try Backtester.instruments(for: test, config: spec.instrument)
                let result = try Backtester.run(universe: test, instruments: instruments, strategy: strategy, options: runner.options, details: false)
                // The test universe's rows are the universe's rows from..<end (its calendar is their union).
                let offset = w.outOfSample.lowerBound - from
                let base = offset > 0 ? result.equity[offset - 1] : runner.options.cash.doubleValue
                windowEquity = (offset..<result.equity.count).map { result.equity[$0] / base }
                let oosTrades = result.trades.filter { $0.exitTime.nanoseconds >= universe.timestamps[w.outOfSample.lowerBound] }.count
                metrics = ["return": (windowEquity.last! - 1) * 100, "sharpe": result.statistics.sharpeRatio, "trades": Double(oosTrades)]
                trades += oosTrades
            }
            for (j, row) in w.outOfSample.enumerated() {
                stitched.append(equity * windowEquity[j])
                times.append(universe.timestamps[row])
                closes.append(index[row])
            }
            equity = stitched.last ?? equity
            steps.append(WalkForwardStep(inSample: w.inSample, outOfSample: w.outOfSample, chosen: chosen, outOfSampleMetrics: metrics))
            progress?(k + 1, windows.count)
        }
        let stats = BacktestStatistics.compute(timestamps: times, close: closes, equity: stitched, trades: [], warmupBars: 0, commissions: 0)
        return WalkForwardOutcome(steps: steps, timestamps: times, equity: stitched, statistics: stats, trades: trades)
    }
}
