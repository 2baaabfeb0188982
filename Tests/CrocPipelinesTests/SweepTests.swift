import CrocCore
import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Synchronization
import Testing

@testable import CrocPipelines

/// A sweep spec from YAML text.
func sweepSpec(_ yaml: String) throws -> SweepSpec {
    try SweepSpec(try AppConfig.parse(text: yaml, source: "t.yaml"), source: "t.yaml")
}

let googl = repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path

/// A small grid: 6 × 5 = 30 trials, some infeasible (fast ≥ slow).
func smallGrid(name: String = "g", constraints: String = "{minTrades: 2}", extra: String = "") throws -> SweepSpec {
    try sweepSpec(
        """
        name: \(name)
        strategy: sma_cross
        data: [\(googl)]
        parameters:
          fast: {min: 5, max: 30, step: 5}
          slow: {min: 10, max: 50, step: 10}
        constraints: \(constraints)
        \(extra)
        """
    )
}

@Suite("Parameter spaces and sweep files")
struct ParameterSpaceTests {
    @Test("a grid enumerates every point once, last name fastest; random trials depend only on the seed and the index")
    func grid() throws {
        let spec = try smallGrid()
        #expect(spec.space.gridSize == 30 && spec.plannedTrials == 30)
        #expect(spec.space.gridPoint(0) == ["fast": .int(5), "slow": .int(10)])
        #expect(spec.space.gridPoint(1) == ["fast": .int(5), "slow": .int(20)])
        #expect(spec.space.gridPoint(29) == ["fast": .int(30), "slow": .int(50)])
        let all = Set((0..<30).map { spec.space.gridPoint($0) })
        #expect(all.count == 30)
        let space = ParameterSpace(["a": .double(lower: 0.001, upper: 1, step: nil, log: true), "k": .choice([.string("x"), .string("y")])])
        #expect(space.gridSize == nil)
        let a = (0..<50).map { randomTrial(space, seed: 9, index: $0) }
        #expect(a == (0..<50).map { randomTrial(space, seed: 9, index: $0) })
        #expect(a != (0..<50).map { randomTrial(space, seed: 10, index: $0) })
        let values = a.compactMap { $0["a"]?.doubleValue }
        #expect(values.allSatisfy { (0.001...1).contains($0) } && values.contains { $0 < 0.01 })  // log-uniform reaches low decades
    }

    @Test("grid steps of real numbers give the decimals written (0.4, 0.42, …), in grids, random draws and TPE snaps")
    func decimalSteps() throws {
        let d = ParameterDomain.double(lower: 0.4, upper: 0.5, step: 0.02, log: false)
        #expect(d.gridValues == [0.4, 0.42, 0.44, 0.46, 0.48, 0.5].map { ConfigValue.double($0) })
        let cents = try #require(ParameterDomain.double(lower: 0.5, upper: 0.6, step: 0.01, log: false).gridValues)
        #expect(cents == (50...60).map { .double(Double($0) / 100) })  // n / 100 is the double nearest 0.nn
        #expect(ParameterDomain.point(0.1, 0.1, 2) == 0.3)  // 0.1 + 2 × 0.1 = 0.30000000000000004 unrounded
        #expect(ParameterDomain.point(1e-5, 1e-5, 2) == 3e-5)
        #expect(ParameterDomain.point(250, 12.5, 3) == 287.5)
        // Beyond 15 decimals or 2^52 the sum is left as computed.
        #expect(ParameterDomain.point(1e300, 1e300, 1) == 2e300)
        #expect(ParameterDomain.point(0.1, 1e-17, 1) == 0.1 + 1e-17)
        #expect(ParameterDomain.decimals(0.02) == 2 && ParameterDomain.decimals(1.5e-7) == 8 && ParameterDomain.decimals(250) == 0)
        #expect(ParameterDomain.decimals(1e-20) == nil)
        // Random draws and TPE's snap land on the same points.
        let space = ParameterSpace(["x": d])
        var rng = SplitMix64(seed: 3)
        for _ in 0..<200 { #expect(d.gridValues!.contains(space.randomPoint(&rng)["x"]!)) }
        for x in stride(from: 0.39, through: 0.51, by: 0.003) { #expect(d.gridValues!.contains(TPESampler.snap(d, x))) }
    }

    @Test(
        "bad sweep files name the key path",
        arguments: [
            ("parameters: {fast: {min: 5}}", "parameters.fast"),
            ("parameters: {fast: {min: 9, max: 2}}", "parameters.fast"),
            ("parameters: {fast: {min: 1, max: 9, step: 0}}", "parameters.fast.step"),
            ("parameters: {x: {min: 0.5, max: 1.5}}", "parameters"),  // continuous on a grid
            ("parameters: {fast: {min: 1, max: 9, stride: 2}}", "parameters.fast.stride"),
            ("parameters: {fast: []}", "parameters.fast"),
            ("parameters: {}", "parameters"),
            ("parameters: {fast: [1]}\nstrategy: nope", "strategy"),
            ("parameters: {fast: [1]}\nobjective: alpha", "objective"),
            ("parameters: {fast: [1]}\nobjective: {sharpe: x}", "objective.sharpe"),
            ("parameters: {fast: [1]}\nsampler: annealing", "sampler"),
            ("parameters: {fast: [1]}\nconstraints: {maxDrawdownPct: 0}", "constraints.maxDrawdownPct"),
            ("parameters: {fast: [1]}\noverfitting: {blocks: 5}", "overfitting.blocks"),
            ("parameters: {fast: [1]}\nwalkForward: {inSample: 1.5}", "walkForward.inSample"),
            ("parameters: {fast: [1]}\nname: 'a b'", "name"),
            ("parameters: {fast: [1]}\ntrails: 5", "trails"),
        ]
    )
    func errors(yaml: String, path: String) throws {
        let e = #expect(throws: ConfigError.self) { try sweepSpec(yaml) }
        #expect(e?.keyPath == path, "\(e.map { "\($0)" } ?? "no error")")
    }

    @Test("the spec hash ignores key order and the shard count, not the settings")
    func specHash() throws {
        let a = try sweepSpec("name: s\nparameters: {fast: [1, 2], slow: [30]}\nshards: 3")
        let b = try sweepSpec("parameters: {slow: [30], fast: [1, 2]}\nname: s")
        let c = try sweepSpec("name: s\nparameters: {fast: [1, 3], slow: [30]}")
        #expect(a.specHash == b.specHash && a.specHash != c.specHash)
        // Where parsed universes are cached is not a setting of the results; the universe is.
        let u = "name: p\nstrategy: momentum_topk\nparameters: {top: [1, 2]}\nuniverse: {path: Examples/data/SP500_10_CLOSE.csv"
        let plain = try sweepSpec(u + "}")
        let cached = try sweepSpec(u + ", cache: /tmp/elsewhere}")
        let off = try sweepSpec(u + ", cache: 'off'}")
        let fewer = try sweepSpec(u + ", symbols: 'AAPL,KO'}")
        #expect(plain.specHash == cached.specHash && plain.specHash == off.specHash && plain.specHash != fewer.specHash)
        #expect(cached.universe?.cache == "/tmp/elsewhere" && off.universe?.cache == "off" && plain.universe?.cache == "auto")
    }

    @Test("shards: I/N, Slurm arrays and Kubernetes Indexed Jobs; bad input is typed")
    func shards() throws {
        #expect(try Shard.parse("1/3") == Shard(index: 1, count: 3))
        for bad in ["3/3", "-1/2", "1", "a/b", "0/0"] { #expect(throws: ConfigError.self) { try Shard.parse(bad) } }
        #expect(
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "3"], configuredCount: nil)
                == Shard(index: 2, count: 4)
        )
        #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "2"], configuredCount: 3) == Shard(index: 2, count: 3))
        #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "1", "CROCBOT_SHARDS": "2"], configuredCount: nil) == Shard(index: 1, count: 2))
        #expect(try Shard.fromEnvironment([:], configuredCount: 3) == nil)
        let e = #expect(throws: ConfigError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "0"], configuredCount: nil) }
        #expect(e?.rule.contains("shards:") == true)
        #expect(throws: ConfigError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "4"], configuredCount: 3) }
        #expect(throws: ConfigError.self) { try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "1"], configuredCount: nil) }
    }

    @Test("TPE beats random search on a smooth objective with the same budget, and is deterministic")
    func tpe() throws {
        let space = ParameterSpace(["x": .int(lower: 0, upper: 200, step: 1), "y": .double(lower: -5, upper: 5, step: nil, log: false)])
        func f(_ p: [String: ConfigValue]) -> Double {
            let x = p["x"]!.doubleValue!
            let y = p["y"]!.doubleValue!
            return -((x - 140) / 20) * ((x - 140) / 20) - (y - 1.5) * (y - 1.5)
        }
        func run(seed: UInt64) -> (best: Double, points: [[String: ConfigValue]]) {
            var rng = SplitMix64(seed: seed)
            var history: [(parameters: [String: ConfigValue], objective: Double?)] = []
            for _ in 0..<80 {
                let p = TPESampler().propose(space, history: history, rng: &rng)
                history.append((p, f(p)))
            }
            return (history.map { $0.objective! }.max()!, history.map(\.parameters))
        }
        var tpeWins = 0
        for seed in UInt64(1)...5 {
            let tpe = run(seed: seed)
            let random = (0..<80).map { f(randomTrial(space, seed: seed, index: $0)) }.max()!
            if tpe.best > random { tpeWins += 1 }
            #expect(tpe.best > -0.2, "seed \(seed): TPE best \(tpe.best)")
        }
        #expect(tpeWins >= 4)
        #expect(run(seed: 3).points == run(seed: 3).points)
    }
}

@Suite("Sweep runner and stores")
struct SweepRunnerTests {
    @Test("a sweep builds its instruments as backtests do: instrument defaults, per-symbol entries, a bad step named")
    func instrumentsAsBacktests() throws {
        let plain = try SweepRunner(spec: try smallGrid())
        #expect(plain.instruments.map(\.quantityStep) == [FixedPoint(1)])
        let series = try CSVBarLoader.load(path: googl)
        let entry = try SweepRunner(
            spec: try smallGrid(extra: "instrument: {quantityStep: 1, symbols: {GOOGL: {quantityStep: 0.5, pricePrecision: 2}}}")
        )
        #expect(
            entry.instruments == [
                try Backtester.instrument(
                    for: series,
                    config: try smallGrid(extra: "instrument: {quantityStep: 1, symbols: {GOOGL: {quantityStep: 0.5, pricePrecision: 2}}}").instrument
                )
            ]
        )
        #expect(entry.instruments[0].quantityStep == FixedPoint(rounding: 0.5)! && entry.instruments[0].pricePrecision == 2)
        #expect(throws: ConfigError.self) { try SweepRunner(spec: try smallGrid(extra: "instrument: {quantityStep: 0.0000000000001}")) }
    }

    @Test("a trial equals a direct backtest; infeasible ones say why; constraints apply")
    func trialMatchesBacktest() async throws {
        let spec = try smallGrid()
        let runner = try SweepRunner(spec: spec)
        let summary = try await runner.run(store: InMemorySweepStore(), workers: 2)
        #expect(summary.trials.count == 30 && summary.evaluated == 30 && summary.skipped == 0)
        let t = try #require(summary.trials.first { $0.parameters == ["fast": .int(10), "slow": .int(30)] })
        let direct = try Backtester.run(
            series: runner.series[0],
            instrument: runner.instruments[0],
            strategy: SMACrossStrategy(fast: 10, slow: 30),
            options: runner.options
        )
        #expect(t.objective == direct.statistics.sharpeRatio)
        #expect(t.metrics["trades"] == Double(direct.statistics.tradeCount) && t.metrics["return"] == direct.statistics.returnPct)
        let bad = try #require(summary.trials.first { $0.parameters == ["fast": .int(30), "slow": .int(20)] })
        #expect(bad.objective == nil && bad.violations.first?.contains("must be less than slow") == true)
        let strict = try await SweepRunner(spec: try smallGrid(constraints: "{minTrades: 1000}")).run(store: InMemorySweepStore(), workers: 2)
        #expect(strict.trials.allSatisfy { !$0.feasible } && strict.best == nil)
        #expect(strict.trials.contains { $0.violations.contains { $0.hasPrefix("trades ") } })
        #expect(summary.best?.objective == summary.trials.compactMap(\.objective).max())
    }

    @Test("a trained model's decision thresholds are swept like any strategy's parameters; each trial equals a direct backtest")
    func modelStrategySweep() async throws {
        let dir = testTemporaryURL().appendingPathComponent("croc-sweep-model-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let training = """
            name: thresholds
            data: {path: \(googl)}
            features: [{name: r, indicator: returns, lags: [1, 2]}, {name: rsi, indicator: rsi}]
            label: {kind: sign, horizon: 5}
            model: {kind: gbdt, params: {rounds: 10, maxLeaves: 7, minSamplesLeaf: 40}}
            output: \(dir)
            """
        _ = try TrainingPipeline.run(try TrainingConfig(try AppConfig.parse(text: training)))
        let spec = try sweepSpec(
            """
            name: model-thresholds
            strategy: model
            data: [\(googl)]
            parameters:
              model: \(dir)
              longAbove: [0.5, 0.52, 0.55]
              exitBelow: {min: 0.46, max: 0.5, step: 0.02}
            constraints: {minTrades: 1}
            """
        )
        #expect(spec.plannedTrials == 9)
        // The bundle is read once for all nine trials, and the results are those of reading it per trial.
        let cache = BundleCache()
        let runner = try SweepRunner(spec: spec, factory: .standard(bundles: cache))
        let summary = try await runner.run(store: InMemorySweepStore(), workers: 2)
        #expect(cache.count == 1)
        // A bundle read ahead (while a command's data loads) is the bundle read on demand; a failed
        // read ahead leaves the typed error to the read on demand.
        let early = BundleCache()
        early.prefetchModel(at: dir)
        early.prefetchModel(at: dir)
        #expect(try early.model(at: dir).model.encodeWeights() == (try ModelBundle.load(from: dir)).model.encodeWeights())
        #expect(early.count == 1)
        let none = BundleCache()
        none.prefetchModel(at: "/nonexistent")
        #expect(throws: BundleError.self) { try none.model(at: "/nonexistent") }
        #expect(none.count == 0)
        let uncached = try await SweepRunner(spec: spec, factory: .standard).run(store: InMemorySweepStore(), workers: 2)
        #expect(uncached.trials.map(\.metrics) == summary.trials.map(\.metrics))
        #expect(summary.trials.count == 9 && summary.trials.allSatisfy { $0.violations.isEmpty || $0.violations[0].hasPrefix("trades") })
        // Different thresholds trade differently.
        #expect(Set(summary.trials.compactMap { $0.metrics["trades"] }).count > 1)
        for t in summary.trials {
            let direct = try Backtester.run(
                series: runner.series[0],
                instrument: runner.instruments[0],
                strategy: try StrategyFactory.standard.make("model", parameters: t.parameters),
                options: runner.options
            )
            #expect(t.metrics["trades"] == Double(direct.statistics.tradeCount))
            #expect(t.metrics["return"] == direct.statistics.returnPct)
        }
        // A bundle that is not there is a trial's typed violation, not a crash.
        let missing = try SweepRunner(
            spec: try sweepSpec("name: m\nstrategy: model\ndata: [\(googl)]\nparameters: {model: /nonexistent, longAbove: [0.5]}")
        )
        let bad = try await missing.run(store: InMemorySweepStore(), workers: 1)
        #expect(bad.trials.count == 1 && bad.trials[0].violations.first?.contains("strategy.params.model") == true)
        // Class-instance models (ONNX sessions) are not shared between threads; value-type models are.
        final class SessionModel: Model, @unchecked Sendable {
            var kind: ModelKind { .onnx }
            var task: ModelTask { .binaryClassification }
            var inputWidth: Int { 1 }
            func predict(_ x: UnsafeBufferPointer<Double>) -> Double { 0 }
            func encodeWeights() -> [UInt8] { [] }
        }
        #expect(!BundleCache.shares(SessionModel()))
        #expect(BundleCache.shares(try ModelBundle.load(from: dir).model))
    }

    @Test("statistics from a shared calendar without the market regression equal the full ones (beta and alpha aside)")
    func sharedCalendar() throws {
        for path in [googl, repoRoot.appendingPathComponent("Examples/data/EURUSD_1H_ASK.csv").path] {
            let series = try CSVBarLoader.load(path: path)
            let instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision, quantityStep: FixedPoint(1))
            let options = try BacktestOptions(BacktestSettings())
            let calendar = BacktestStatistics.Calendar(timestamps: series.timestamps)
            for (f, sl) in [(10, 20), (5, 60)] {
                let full = try Backtester.run(series: series, instrument: instrument, strategy: SMACrossStrategy(fast: f, slow: sl), options: options)
                var lean = try Backtester.run(
                    series: series,
                    instrument: instrument,
                    strategy: SMACrossStrategy(fast: f, slow: sl),
                    options: options,
                    calendar: calendar,
                    marketStatistics: false
                ).statistics
                #expect(lean.beta.isNaN && lean.alphaPct.isNaN)
                lean.beta = full.statistics.beta
                lean.alphaPct = full.statistics.alphaPct
                #expect(lean == full.statistics, "\(series.symbol) \(f)/\(sl)")
            }
        }
    }

    @Test("returns go to time blocks as ⌊(t − 1)·b / (n − 1)⌋ says, every return once")
    func blocks() {
        for n in [2, 3, 7, 10, 101, 2335] {
            let equity = (0..<n).map { 100 + Double(($0 * 37) % 11) }
            for b in [4, 10, 20] {
                var fast = [ReturnMoments](repeating: ReturnMoments(), count: b)
                SweepRunner.addBlocks(equity, into: &fast)
                var slow = [ReturnMoments](repeating: ReturnMoments(), count: b)
                for t in 1..<n { slow[min(b - 1, (t - 1) * b / (n - 1))].add(equity[t] / equity[t - 1] - 1) }
                #expect(fast == slow, "n \(n), b \(b)")
                #expect(fast.map(\.n).reduce(0, +) == Double(n - 1))
            }
        }
    }

    @Test("blocks from a backtest's daily period returns equal blocks from its equity, bankrupt bars included")
    func blocksFromPeriodReturns() throws {
        // Daily GOOGL: every bar ends its own period, so the period returns are the bar returns.
        let spec = try smallGrid()
        let runner = try SweepRunner(spec: spec)
        let result = try Backtester.run(
            series: runner.series[0],
            instrument: runner.instruments[0],
            strategy: SMACrossStrategy(fast: 10, slow: 30),
            options: runner.options
        )
        #expect(result.periodsAreBars && result.periodReturns.count == result.equity.count - 1)
        var fromEquity = [ReturnMoments](repeating: ReturnMoments(), count: 16)
        var fromReturns = fromEquity
        SweepRunner.addBlocks(result.equity, into: &fromEquity)
        SweepRunner.addBlocks(result.equity, returns: result.periodReturns, into: &fromReturns)
        #expect(fromEquity == fromReturns)
        #expect(fromEquity.map(\.n).reduce(0, +) == Double(result.equity.count - 1))
        // A curve that reaches zero and below: those bars' returns count as 0 either way.
        let equity: [Double] = [100, 50, 0, -10, 20, 40, 80]
        let returns = (1..<equity.count).map { equity[$0] / equity[$0 - 1] - 1 }
        var a = [ReturnMoments](repeating: ReturnMoments(), count: 3)
        var b = a
        SweepRunner.addBlocks(equity, into: &a)
        SweepRunner.addBlocks(equity, returns: returns, into: &b)
        #expect(a == b)
        // −0.5 (100 → 50), −1 (50 → 0), 0 and 0 (from 0 and −10), +1, +1.
        let sum: Double = a.map(\.s1).reduce(0, +)
        #expect(sum == 0.5)
        // Returns of another length are not used.
        var c = [ReturnMoments](repeating: ReturnMoments(), count: 3)
        SweepRunner.addBlocks(equity, returns: [1, 2], into: &c)
        #expect(c == a)
    }

    @Test("an interrupted sweep resumes: finished trials are skipped, nothing is recorded twice, results match an uninterrupted run")
    func resume() async throws {
        let spec = try smallGrid(name: "resume")
        let runner = try SweepRunner(spec: spec)
        let path = testTemporaryURL().appendingPathComponent("crocbot-sweep-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteSweepStore(path: path)
        let failing = FailingStore(inner: store, failAfter: 2)
        await #expect(throws: SweepStoreError.self) { try await runner.run(store: failing, workers: 2, chunk: 7) }
        let partial = try store.finished(sweep: "resume")
        #expect(partial.count == 14)
        // Progress comes after each recorded chunk (7, 7, 2 pending trials), counting the skipped ones.
        let reports = Mutex<[[Int]]>([])
        let again = try await runner.run(store: try SQLiteSweepStore(path: path), workers: 2, chunk: 7) { done, total in
            reports.withLock { $0.append([done, total]) }
        }
        #expect(reports.withLock { $0 } == [[21, 30], [28, 30], [30, 30]])
        #expect(again.skipped == 14 && again.evaluated == 16 && again.trials.count == 30)
        #expect(Set(again.trials.map(\.index)) == Set(0..<30))
        let reference = try await runner.run(store: InMemorySweepStore(), workers: 1)
        #expect(again.trials.map(\.objective) == reference.trials.map(\.objective))
        #expect(again.trials.map(\.metrics) == reference.trials.map(\.metrics))
        #expect(again.trials.map(\.blocks) == reference.trials.map(\.blocks))
    }

    @Test("three shards on one store record every trial exactly once, each by its owner; a changed spec under the same name is refused")
    func shards() async throws {
        let spec = try smallGrid(name: "sharded")
        let runner = try SweepRunner(spec: spec)
        let path = testTemporaryURL().appendingPathComponent("crocbot-sweep-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withThrowingTaskGroup(of: SweepRunSummary.self) { group in
            for i in 0..<3 {
                group.addTask {
                    try await runner.run(store: try SQLiteSweepStore(path: path), shard: Shard(index: i, count: 3), workers: 1, chunk: 4)
                }
            }
            for try await s in group { #expect(s.evaluated == 10) }
        }
        let trials = try SQLiteSweepStore(path: path).trials(sweep: "sharded")
        #expect(trials.map(\.index) == Array(0..<30))
        #expect(trials.allSatisfy { $0.shard == $0.index % 3 })
        let single = try await runner.run(store: InMemorySweepStore(), workers: 2)
        #expect(
            trials
                == single.trials.map {
                    var t = $0
                    t.shard = $0.index % 3
                    t.seconds = trials[$0.index].seconds
                    return t
                }
        )
        // The run's own summary reuses the rows it recorded; it equals a full read of the store.
        let summaryPath = testTemporaryURL().appendingPathComponent("crocbot-sweep-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: summaryPath) }
        let run = try await runner.run(store: try SQLiteSweepStore(path: summaryPath), workers: 2)
        let stored = try SQLiteSweepStore(path: summaryPath)
        #expect(run.trials == (try stored.trials(sweep: "sharded")))
        var known = Dictionary(uniqueKeysWithValues: run.trials.map { ($0.index, $0) })
        known[3]?.objective = 42  // marks which rows were taken from `known`
        known[4]?.objective = 42
        known[4]?.shard = 7  // …and this one no longer matches the stored row
        let mixed = try await (stored as any SweepStore).trials(sweep: "sharded", reusing: known)  // as the runner calls it
        #expect(mixed[3].objective == 42 && mixed[4] == run.trials[4] && Array(mixed[5...]) == Array(run.trials[5...]))
        let changed = try SweepRunner(spec: try smallGrid(name: "sharded", extra: "seed: 5"))
        let e = await #expect(throws: SweepStoreError.self) { try await changed.run(store: try SQLiteSweepStore(path: path)) }
        #expect(e?.description.contains("already exists with different settings") == true)
    }

    @Test("TPE sweeps are reproducible and resume to the same trials")
    func tpeResume() async throws {
        let yaml = """
            name: tpe
            strategy: sma_cross
            data: [\(googl)]
            sampler: tpe
            trials: 24
            batch: 4
            seed: 11
            parameters: {fast: {min: 2, max: 40}, slow: {min: 41, max: 200}}
            """
        let runner = try SweepRunner(spec: try sweepSpec(yaml))
        let a = try await runner.run(store: InMemorySweepStore(), workers: 2)
        let b = try await runner.run(store: InMemorySweepStore(), workers: 1)
        #expect(a.trials.map(\.parameters) == b.trials.map(\.parameters) && a.trials.count == 24)
        #expect(Set(a.trials.map(\.parameters)).count == 24)  // no point tried twice
        let store = InMemorySweepStore()
        await #expect(throws: SweepStoreError.self) { try await runner.run(store: FailingStore(inner: store, failAfter: 3), workers: 2) }
        let resumed = try await runner.run(store: store, workers: 2)
        #expect(resumed.skipped == 12 && resumed.trials.map(\.parameters) == a.trials.map(\.parameters))
    }
}

/// Passes `failAfter` record calls through, then fails (a crash mid-sweep).
final class FailingStore: SweepStore {
    let inner: any SweepStore
    let failAfter: Int
    let calls = Mutex(0)

    init(inner: any SweepStore, failAfter: Int) {
        self.inner = inner
        self.failAfter = failAfter
    }

    func open(_ sweep: SweepRecord) async throws { try await inner.open(sweep) }
    func record(_ trials: [TrialResult], sweep: String) async throws {
        let n = calls.withLock { c in
            c += 1
            return c
        }
        if n > failAfter { throw SweepStoreError("simulated crash") }
        try await inner.record(trials, sweep: sweep)
    }
    func finished(sweep: String) async throws -> Set<Int> { try await inner.finished(sweep: sweep) }
    func trials(sweep: String) async throws -> [TrialResult] { try await inner.trials(sweep: sweep) }
    func sweeps() async throws -> [SweepRecord] { try await inner.sweeps() }
}

@Suite("Overfitting diagnostics")
struct OverfittingTests {
    @Test("normal quantiles, the expected maximum and the deflated Sharpe ratio match SciPy")
    func deflated() throws {
        #expect(abs(Overfitting.normalQuantile(0.975) - 1.959963984540054) < 1e-12)
        #expect(abs(Overfitting.normalQuantile(1e-5) - -4.264890793922825) < 1e-10)
        #expect(abs(Overfitting.normalQuantile(0.3) - -0.5244005127080409) < 1e-12)
        #expect(abs(Overfitting.expectedMaximum(trials: 10) - 1.57459830134575) < 1e-12)
        #expect(abs(Overfitting.expectedMaximum(trials: 1000) - 3.255121513652723) < 1e-12)
        // Reference: scipy.stats.norm with SR = 0.1, T = 1000, skew -0.5, kurtosis 5, 100 trials with Var[SR] = 0.0025.
        let a = (0.0025 * 99.0 / 100.0).squareRoot()
        let trials = (0..<100).map { $0 % 2 == 0 ? a : -a }
        let d = try #require(Overfitting.deflatedSharpe(sharpe: 0.1, observations: 1000, skewness: -0.5, kurtosis: 5, trialSharpes: trials))
        #expect(abs(d.benchmark - 0.12653014466008425) < 1e-12)
        #expect(abs(d.probability - 0.20769091655036542) < 1e-10)
        // Moments against scipy.stats (population skew, non-excess kurtosis).
        var m = ReturnMoments()
        for r in [0.01, -0.02, 0.03, 0.005, -0.01, 0.002] { m.add(r) }
        #expect(abs(m.sharpe - 0.18035168544976088) < 1e-12)
        #expect(abs(m.skewness - 0.27550960244084743) < 1e-10)
        #expect(abs(m.kurtosis - 2.3155631784741497) < 1e-10)
    }

    /// Block moments of `count` noise trials (plus optional skilled ones), 10 blocks of 100 returns.
    func blocks(noise: Int, skilled: Int, seed: UInt64) -> [[ReturnMoments]] {
        var rng = SplitMix64(seed: seed)
        func gauss() -> Double {
            let u = Double.random(in: Double.ulpOfOne..<1, using: &rng)
            let v = Double.random(in: 0..<1, using: &rng)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        return (0..<(noise + skilled)).map { j in
            (0..<10).map { _ in
                var m = ReturnMoments()
                for _ in 0..<100 { m.add(0.01 * gauss() + (j >= noise ? 0.004 : 0)) }
                return m
            }
        }
    }

    @Test("PBO: about one half when every trial is noise, near zero when one trial has real skill")
    func pbo() throws {
        let noise = try #require(Overfitting.pbo(blocks(noise: 50, skilled: 0, seed: 1)))
        #expect(noise.splits == 252 && noise.logits.count == 252)
        #expect(noise.probability > 0.25 && noise.probability < 0.75, "\(noise.probability)")
        let skill = try #require(Overfitting.pbo(blocks(noise: 49, skilled: 1, seed: 1)))
        #expect(skill.probability < 0.05, "\(skill.probability)")
        #expect(Overfitting.pbo([]) == nil && Overfitting.pbo(blocks(noise: 1, skilled: 0, seed: 2)) == nil)
    }
}

@Suite("Walk-forward optimisation")
struct WalkForwardOptimizationTests {
    @Test("rolling and anchored layouts tile the data: out-of-sample windows follow their in-sample windows without overlap")
    func layout() {
        let rolling = WalkForwardOptimizer.layout(bars: 1000, spec: WalkForwardSpec(windows: 4, inSampleFraction: 0.75, mode: .rolling))
        #expect(rolling.count == 4)
        // O = ⌊1000 / (4 + 0.75/0.25)⌋ = 142 out-of-sample bars per window, I = 1000 − 4·142 = 432.
        #expect(rolling[0].inSample == 0..<432 && rolling[0].outOfSample == 432..<574)
        #expect(rolling[1].inSample == 142..<574 && rolling[3].outOfSample == 858..<1000)
        for k in 1..<4 { #expect(rolling[k].outOfSample.lowerBound == rolling[k - 1].outOfSample.upperBound) }
        let anchored = WalkForwardOptimizer.layout(bars: 1000, spec: WalkForwardSpec(windows: 4, inSampleFraction: 0.75, mode: .anchored))
        #expect(anchored.allSatisfy { $0.inSample.lowerBound == 0 && $0.inSample.upperBound == $0.outOfSample.lowerBound })
        #expect(WalkForwardOptimizer.layout(bars: 5, spec: WalkForwardSpec(windows: 10)).isEmpty)
    }

    /// Records the first and last bar time each backtest saw, per strategy instance.
    final class Spy: Sendable {
        let runs = Mutex<[Int: (first: Int64, last: Int64)]>([:])
        let ids = Atomic<Int>(0)
        func nextID() -> Int { ids.add(1, ordering: .relaxed).oldValue }
    }

    struct SpyStrategy: Strategy {
        let spy: Spy
        let k: Int
        let id: Int
        var name: String { "spy(\(k))" }
        var warmupBars: Int { 0 }
        mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
            let t = bar.timestamp.nanoseconds
            let id = self.id
            spy.runs.withLock { runs in runs[id] = (runs[id]?.first ?? t, t) }
            // Parameter k holds from the close of weekday k to the close of the next day.
            let weekday = Int(t / Timestamp.nanosecondsPerDay) % 7
            if context.isFlat && weekday == k { context.buy(.cashFraction(.one)) }
            if !context.isFlat && weekday != k { context.closePosition() }
        }
    }

    @Test("selection never sees out-of-sample bars, and a parameter planted to win only out of sample is not chosen")
    func noLookAhead() async throws {
        // Planted: before bar 600 the price rises 2 % on weekday 6 (parameter k = 5 wins); after it,
        // 20 % on weekday 4 (k = 3 wins by far). Window 0 selects on bars 0..<430 and trades 430..<715:
        // a selection that peeked at its out-of-sample bars would choose k = 3.
        let bars = 1000
        var closes: [Double] = []
        var price = 100.0
        for i in 0..<bars {
            let day = i % 7
            let winner = i >= 600 ? 3 : 5
            price *= day == (winner + 1) % 7 ? (i >= 600 ? 1.20 : 1.02) : (day == 0 ? 0.999 : 1.0)
            closes.append(price)
        }
        let day = Timestamp.nanosecondsPerDay
        let series = try BarSeries(
            symbol: "PLANT",
            bars: closes.enumerated().map { i, c in
                Bar(timestamp: Timestamp(nanoseconds: Int64(i) * day), open: c, high: c * 1.001, low: c * 0.999, close: c, volume: 1)
            },
            pricePrecision: 4
        )
        let spy = Spy()
        var factory = StrategyFactory()
        factory.register("spy", summary: "records what it sees") { (p: inout StrategyParameters) throws(StrategyError) -> any Strategy in
            SpyStrategy(spy: spy, k: try p.int("k", default: 0, in: 0...6), id: spy.nextID())
        }
        let spec = try SweepSpec(
            try AppConfig.parse(
                text: """
                    name: plant
                    strategy: spy
                    parameters: {k: {min: 0, max: 6}}
                    objective: return
                    backtest: {commission: 0, fillAt: close}
                    walkForward: {windows: 2, inSample: 0.6, mode: rolling}
                    """
            ),
            factory: factory
        )
        let runner = try SweepRunner(spec: spec, series: [series], factory: factory)
        let outcome = try await WalkForwardOptimizer.run(runner: runner, store: InMemorySweepStore(), workers: 2)
        #expect(outcome.steps.count == 2)
        let first = outcome.steps[0]
        #expect(first.inSample == 0..<430 && first.outOfSample == 430..<715)
        #expect(first.chosen?.parameters["k"] == .int(5), "chose \(String(describing: first.chosen?.parameters))")
        // Every in-sample backtest stayed inside its window.
        let runs = Array(spy.runs.withLock { $0 }.values)
        for step in outcome.steps {
            let isStart = series.timestamps[step.inSample.lowerBound]
            let oosStart = series.timestamps[step.outOfSample.lowerBound]
            let selection = runs.filter { $0.first == isStart }
            #expect(selection.count == 7)
            #expect(selection.allSatisfy { $0.last < oosStart }, "selection saw bars at or after \(oosStart)")
        }
        // The stitched curve covers exactly the out-of-sample bars.
        #expect(outcome.equity.count == outcome.steps.map(\.outOfSample.count).reduce(0, +))
        #expect(outcome.timestamps.first == series.timestamps[outcome.steps[0].outOfSample.lowerBound])
    }

    @Test("the walk-forward of the shipped example runs and its report has the out-of-sample equity")
    func report() async throws {
        let spec = try sweepSpec(
            """
            name: wf
            strategy: sma_cross
            data: [\(googl)]
            parameters: {fast: [5, 10, 20], slow: [30, 60]}
            walkForward: {windows: 3}
            """
        )
        let runner = try SweepRunner(spec: spec)
        let store = InMemorySweepStore()
        let outcome = try await WalkForwardOptimizer.run(runner: runner, store: store, workers: 2)
        #expect(outcome.steps.count == 3 && outcome.equity.first! > 0)
        let html = SweepHTMLReport.render(spec: spec, trials: await store.trials(sweep: "wf.wf0"), walkForward: outcome)
        #expect(html.contains("data-chart=\"oos-equity\"") && html.contains("data-table=\"walk-forward\""))
        let grid = try await SweepRunner(spec: try smallGrid()).run(store: InMemorySweepStore(), workers: 2)
        let page = SweepHTMLReport.render(spec: try smallGrid(), trials: grid.trials)
        for id in ["objective-heatmap", "objective-histogram", "pbo-logits"] { #expect(page.contains("data-chart=\"\(id)\""), "\(id)") }
        #expect(page.contains("data-table=\"best-trials\"") && page.contains("Probability of backtest overfitting"))
    }
}

@Suite("Stored trial columns")
struct TrialColumnTests {
    /// Bit-for-bit equality, NaN included.
    func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    /// Equal, with integers and doubles compared as numbers.
    func sameNumbers(_ a: ConfigValue, _ b: ConfigValue) -> Bool {
        switch (a, b) {
        case (.int, .double), (.double, .int): return a.doubleValue == b.doubleValue
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { sameNumbers($0, $1) }
        case (.object(let x), .object(let y)): return x.keys == y.keys && x.allSatisfy { sameNumbers($0.value, y[$0.key]!) }
        default: return a == b
        }
    }

    func randomDouble(_ rng: inout SplitMix64) -> Double {
        switch rng.next() % 8 {
        case 0: return [0, -0.0, 3.0, 1e-5, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .nan, .infinity, -.infinity][Int(rng.next() % 9)]
        case 1: return Double(Int64(bitPattern: rng.next()) % 1000)
        default:
            // Any finite double: random bit patterns, non-finite ones folded back.
            let d = Double(bitPattern: rng.next())
            return d.isFinite ? d : Double(rng.next() % 1_000_000) / 7
        }
    }

    func randomString(_ rng: inout SplitMix64) -> String {
        let pieces = ["a", "fast", "\"", "\\", "/", "\n", "\t", "\r", "\u{01}", "\u{1f}", "é", "€", "🐊", " ", "{", "]", ":", ","]
        return (0..<Int(rng.next() % 6)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
    }

    func randomValue(_ rng: inout SplitMix64, depth: Int = 0) -> ConfigValue {
        switch rng.next() % (depth < 2 ? 8 : 6) {
        case 0: return .null
        case 1: return .bool(rng.next() % 2 == 0)
        case 2: return .int(Int(truncatingIfNeeded: rng.next()) >> Int(rng.next() % 64))
        case 3:
            let d = randomDouble(&rng)
            return d.isFinite ? .double(d) : .double(0.25)
        case 4, 5: return .string(randomString(&rng))
        case 6: return .array((0..<Int(rng.next() % 4)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            return .object(Dictionary((0..<Int(rng.next() % 4)).map { _ in (randomString(&rng), randomValue(&rng, depth: depth + 1)) }) { a, _ in a })
        }
    }

    func randomTrial(_ rng: inout SplitMix64, index: Int) -> TrialResult {
        var parameters: [String: ConfigValue] = [:]
        for _ in 0..<Int(rng.next() % 5) { parameters[randomString(&rng)] = randomValue(&rng) }
        var metrics: [String: Double] = [:]
        for name in ["sharpe", "sortino", "calmar", "return", "trades", randomString(&rng)] { metrics[name] = randomDouble(&rng) }
        let blocks = (0..<Int(rng.next() % 12)).map { _ in
            var m = ReturnMoments()
            m.n = randomDouble(&rng)
            m.s1 = randomDouble(&rng)
            m.s2 = randomDouble(&rng)
            m.s3 = randomDouble(&rng)
            m.s4 = randomDouble(&rng)
            return m
        }
        return TrialResult(
            index: index,
            shard: 0,
            parameters: parameters,
            objective: nil,
            violations: (0..<Int(rng.next() % 3)).map { _ in randomString(&rng) },
            metrics: metrics,
            blocks: blocks,
            seconds: 0
        )
    }

    @Test("every column reads back exactly what was written: integers, doubles (NaN, ±inf, −0, subnormals), escapes, nesting")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 11)
        for k in 0..<3000 {
            let t = randomTrial(&rng, index: k)
            let c = TrialColumns.encode(t)
            #expect(try TrialColumns.parameters(c.parameters) == t.parameters)
            #expect(try TrialColumns.violations(c.violations) == t.violations)
            let metrics = try TrialColumns.metrics(c.metrics)
            #expect(metrics.keys.sorted() == t.metrics.keys.sorted())
            #expect(t.metrics.allSatisfy { same($0.value, metrics[$0.key]!) })
            let blocks = try TrialColumns.blocks(c.blocks)
            #expect(blocks.count == t.blocks.count)
            for (a, b) in zip(blocks, t.blocks) {
                #expect(same(a.n, b.n) && same(a.s1, b.s1) && same(a.s2, b.s2) && same(a.s3, b.s3) && same(a.s4, b.s4))
            }
        }
        // Doubles stay doubles, integers integers.
        let c = TrialColumns.encode(
            TrialResult(
                index: 0,
                shard: 0,
                parameters: ["a": .double(3), "b": .int(3)],
                objective: 1,
                violations: [],
                metrics: [:],
                blocks: [],
                seconds: 0
            )
        )
        #expect(c.parameters == #"{"a":3.0,"b":3}"#)
        #expect(try TrialColumns.parameters(c.parameters) == ["a": .double(3), "b": .int(3)])
    }

    @Test("the columns are JSON that Foundation reads to the same values, and rows written by JSONEncoder read as before")
    func compatibleWithJSONCoders() throws {
        var rng = SplitMix64(seed: 12)
        for k in 0..<1000 {
            let t = randomTrial(&rng, index: k)
            let c = TrialColumns.encode(t)
            // Foundation reads this codec's text (so SQL's JSON functions do too)…
            #expect(try SweepJSON.decode([String].self, c.violations) == t.violations)
            let metrics = try SweepJSON.decode([String: Double].self, c.metrics)
            #expect(t.metrics.allSatisfy { same($0.value, metrics[$0.key]!) })
            let blocks = try SweepJSON.decode([ReturnMoments].self, c.blocks)
            #expect(zip(blocks, t.blocks).allSatisfy { same($0.s2, $1.s2) && same($0.n, $1.n) } && blocks.count == t.blocks.count)
            #expect(try JSONSerialization.jsonObject(with: Data(c.parameters.utf8)) is [String: Any])
            // …and this codec reads what JSONEncoder wrote before it.
            let old = SweepJSON.encode(t.parameters)
            // (Foundation reads an integral number written with an exponent, 2.9e+16, as an integer; this
            // codec keeps it a double, as it was before JSONEncoder wrote it: the same number either way.)
            #expect(
                sameNumbers(.object(try TrialColumns.parameters(old)), .object(try SweepJSON.decode([String: ConfigValue].self, old))),
                "\(old)"
            )
            let oldMetrics = try TrialColumns.metrics(SweepJSON.encode(t.metrics))
            #expect(t.metrics.allSatisfy { same($0.value, oldMetrics[$0.key]!) })
            #expect(try TrialColumns.violations(SweepJSON.encode(t.violations)) == t.violations)
            #expect(try TrialColumns.blocks(SweepJSON.encode(t.blocks)).count == t.blocks.count)
        }
        // Whitespace and escaped slashes from other writers.
        #expect(
            try TrialColumns.parameters(#" { "a\/b" : [ 1 , 2.5 , "x\u00e9\ud83d\udc0a" ] } "#) == [
                "a/b": .array([.int(1), .double(2.5), .string("xé🐊")])
            ]
        )
    }

    @Test("damaged columns are refused with Foundation's error, never read as something else")
    func damaged() {
        for text in [#"{"fast":"#, #"{"fast":1"#, #"{"fast":1}x"#, "", "[", #"{"a":01x}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":1.5.2}"#] {
            #expect(throws: DecodingError.self) { try TrialColumns.parameters(text) }
        }
        #expect(throws: DecodingError.self) { try TrialColumns.metrics(#"{"sharpe":"high"}"#) }
        #expect(throws: DecodingError.self) { try TrialColumns.violations(#"["a",2]"#) }
        #expect(throws: DecodingError.self) { try TrialColumns.blocks(#"[{"n":1,"s1":0,"s2":0,"s3":0}]"#) }
    }
}
