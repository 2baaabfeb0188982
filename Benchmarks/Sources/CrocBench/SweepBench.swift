import CrocData
import CrocPipelines
import CrocStrategies
import CrocSupport
import Foundation

/// `crocbench sweep`: the 100 × 100 `sma_cross` grid of `Examples/sweep-grid-100x100.yaml`
/// (10,000 backtests on the shipped GOOGL data) on one worker and on all cores, in memory
/// and with the SQLite store. Fails when a run loses a trial or when the results differ
/// between worker counts (the parallel runner must be deterministic).
/// Compare with `python3 scripts/bench_vectorbt_grid.py` (the same grid in vectorbt).
func benchSweep() async throws {
    let spec = try SweepSpec.load(path: "Examples/sweep-grid-100x100.yaml")
    let runner = try SweepRunner(spec: spec)
    let cores = ProcessInfo.processInfo.activeProcessorCount
    // Where one trial's time goes: the engine alone, the full backtest with statistics, the trial.
    do {
        let s = runner.series[0]
        var sink = 0.0
        let n = 1_000
        // Best of five rounds each: shared machines are noisy.
        var engine = Duration.seconds(1e9)
        var full = engine
        var trial = engine
        for _ in 0..<5 {
            var t0 = ContinuousClock.now
            for i in 0..<n {
                sink += Backtester.runEngine(
                    series: s,
                    instrument: runner.instruments[0],
                    strategy: SMACrossStrategy(fast: 1 + i % 100, slow: 101 + i % 100),
                    options: runner.options
                ).equityCurve.last!
            }
            engine = min(engine, ContinuousClock.now - t0)
            t0 = ContinuousClock.now
            for i in 0..<n {
                sink += try Backtester.run(
                    series: s,
                    instrument: runner.instruments[0],
                    strategy: SMACrossStrategy(fast: 1 + i % 100, slow: 101 + i % 100),
                    options: runner.options
                ).statistics.sharpeRatio
            }
            full = min(full, ContinuousClock.now - t0)
            t0 = ContinuousClock.now
            for i in 0..<n { sink += runner.evaluate(runner.parameters(of: i * 10), index: i).objective ?? 0 }
            trial = min(trial, ContinuousClock.now - t0)
        }
        func us(_ d: Duration) -> Double { (Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18) / Double(n) * 1e6 }
        print(
            String(
                format: "per trial on one core: engine %.1f us, backtest with statistics %.1f us, sweep trial %.1f us",
                us(engine),
                us(full),
                us(trial)
            )
        )
        if sink == 42 { print("") }
    }
    _ = try await runner.run(store: InMemorySweepStore(), workers: cores)  // warm-up
    var reference: [TrialResult]?
    var times: [Int: Double] = [:]
    for workers in Set([1, cores]).sorted() {
        var best = Double.infinity
        for _ in 0..<3 {
            let summary = try await runner.run(store: InMemorySweepStore(), workers: workers)
            best = min(best, summary.seconds)
            guard summary.trials.count == 10_000, summary.evaluated == 10_000 else {
                print("sweep bench: \(summary.trials.count) trials recorded, expected 10000")
                exit(1)
            }
            let results = summary.trials.map {
                var t = $0
                t.seconds = 0
                return t
            }
            if let r = reference, r != results {
                print("sweep bench: results differ between runs or worker counts")
                exit(1)
            }
            reference = results
        }
        times[workers] = best
    }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("crocbench-sweep-\(UUID().uuidString).sqlite").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let lite = try await runner.run(store: try SQLiteSweepStore(path: path), workers: cores)
    guard lite.trials.count == 10_000 else {
        print("sweep bench: the SQLite store holds \(lite.trials.count) trials")
        exit(1)
    }
    // Where the store's time goes: writing the 10,000 results in the runner's batches, reading them back.
    var write = Double.infinity
    var read = Double.infinity
    for round in 0..<3 {
        let storePath = FileManager.default.temporaryDirectory.appendingPathComponent("crocbench-store-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: storePath) }
        let store = try SQLiteSweepStore(path: storePath)
        try store.open(SweepRecord(name: "bench\(round)", specHash: spec.specHash, spec: spec.canonical, planned: 10_000))
        var t0 = ContinuousClock.now
        var k = 0
        while k < reference!.count {
            try store.record(Array(reference![k..<min(reference!.count, k + 1024)]), sweep: "bench\(round)")
            k += 1024
        }
        write = min(write, seconds(ContinuousClock.now - t0))
        t0 = ContinuousClock.now
        let back = try store.trials(sweep: "bench\(round)")
        read = min(read, seconds(ContinuousClock.now - t0))
        guard back == reference! else {
            print("sweep bench: the SQLite store gave back other results than it was given")
            exit(1)
        }
    }
    print(
        String(
            format: "SQLite store, 10,000 trials: write %.3f s (%.1f us/trial), read back %.3f s (%.1f us/trial)",
            write,
            write * 100,
            read,
            read * 100
        )
    )
    let one = times[1]!
    let all = times[cores]!
    let best = lite.best!
    print(
        String(
            format:
                "sweep 100x100 sma_cross on GOOGL (%d bars): 1 worker %.3f s (%.0f backtests/s); %d workers %.3f s (%.0f backtests/s), %.2fx; with the SQLite store %.3f s",
            runner.series[0].count,
            one,
            10_000 / one,
            cores,
            all,
            10_000 / all,
            one / all,
            lite.seconds
        )
    )
    print("  targets: < 0.5 s on 2 cores, >= 1.8x one core; best trial \(best.index) \(best.parameters) Sharpe \(best.objective!)")
}

/// `crocbench portfolio-sweep`: 10,000 trials of `momentum_topk` (lookback 5...504 × top
/// 1...10 × rebalance 5 or 21; fills at the close, 0.1 % commission) over a generated
/// universe of 20 symbols × 8,000 daily bars on every core, in memory. Prints the time and
/// trials per second (the portfolios issue asks for the figure; there is no peer target).
func benchPortfolioSweep() async throws {
    let universe = try syntheticUniverse(symbols: 20, bars: 8_000, seed: 5, partial: false)
    let spec = try SweepSpec(
        try AppConfig.parse(
            text: """
                name: portfolio-sweep-bench
                strategy: momentum_topk
                universe: generated
                sampler: grid
                parameters:
                  lookback: {min: 5, max: 504, step: 1}
                  top: {min: 1, max: 10, step: 1}
                  rebalance: [5, 21]
                objective: sharpe
                instrument: {quantityStep: 0.00000001}
                backtest: {cash: 100000, commission: 0.001, fillAt: close, finalize: none}
                """,
            source: "crocbench"
        ),
        source: "crocbench"
    )
    let runner = try SweepRunner(spec: spec, universe: universe)
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let start = ContinuousClock.now
    let summary = try await runner.run(store: InMemorySweepStore(), workers: cores)
    let elapsed = ContinuousClock.now - start
    let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    print(
        String(
            format:
                "portfolio-sweep: %d trials of momentum_topk over 20 symbols x 8000 bars on %d workers: %.1f s, %.1f trials/s, %.1f M asset-bars/s",
            summary.evaluated,
            cores,
            s,
            Double(summary.evaluated) / s,
            Double(summary.evaluated) * 160_000 / s / 1e6
        )
    )
    guard summary.evaluated == 10_000 else { throw CocoaError(.featureUnsupported) }
}
