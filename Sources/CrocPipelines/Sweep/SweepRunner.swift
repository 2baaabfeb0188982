import CrocCore
import CrocData
import CrocEngine
import CrocModels
import CrocStrategies
import CrocSupport
import Dispatch
import Foundation
import Synchronization

/// This process's share of a sweep: trials whose index is `index` modulo `count`.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    /// 0-based shard index.
    public var index: Int
    /// Number of shards.
    public var count: Int

    /// The whole sweep.
    public static let all = Shard(index: 0, count: 1)

    /// Creates a shard.
    /// - Precondition: `0 <= index < count`.
    public init(index: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(index), "shard index must be in 0..<count")
        self.index = index
        self.count = count
    }

    /// `I/N`.
    public var description: String { "\(index)/\(count)" }

    /// Whether trial `i` belongs to this shard.
    public func owns(_ i: Int) -> Bool { i % count == index }

    /// Parses `I/N` (0-based `I`).
    /// - Throws: `ConfigError` for anything else.
    public static func parse(_ text: String) throws(ConfigError) -> Shard {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (0..<n).contains(i) else {
            throw ConfigError(.invalidValue, keyPath: "shard", rule: "expected I/N with 0 ≤ I < N (e.g. 0/3), found '\(text)'")
        }
        return Shard(index: i, count: n)
    }

    /// The shard a scheduler assigned: a Slurm array task (`SLURM_ARRAY_TASK_ID`,
    /// `SLURM_ARRAY_TASK_COUNT`, minus `SLURM_ARRAY_TASK_MIN` when the array
    /// does not start at 0) or a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`,
    /// with the count from `configuredCount`, the sweep's `shards:`, or
    /// `CROCBOT_SHARDS`). Nil when neither is set.
    /// - Throws: `ConfigError` when the variables are inconsistent.
    public static func fromEnvironment(_ env: [String: String], configuredCount: Int?) throws(ConfigError) -> Shard? {
        if let id = env["SLURM_ARRAY_TASK_ID"] {
            guard let i = Int(id), let n = env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) else {
                throw ConfigError(.invalidValue, keyPath: "SLURM_ARRAY_TASK_ID", rule: "needs integer SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT")
            }
            let base = env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0
            guard n >= 1, (0..<n).contains(i - base) else {
                throw ConfigError(.invalidValue, keyPath: "SLURM_ARRAY_TASK_ID", rule: "task \(i) (min \(base)) is outside an array of \(n)")
            }
            return Shard(index: i - base, count: n)
        }
        if let id = env["JOB_COMPLETION_INDEX"] {
            guard let i = Int(id) else { throw ConfigError(.invalidValue, keyPath: "JOB_COMPLETION_INDEX", rule: "not an integer: '\(id)'") }
            guard let n = configuredCount ?? env["CROCBOT_SHARDS"].flatMap(Int.init) else {
                throw ConfigError(
                    .invalidValue,
                    keyPath: "shards",
                    rule: "JOB_COMPLETION_INDEX is set: give the shard count as shards: in the sweep file or CROCBOT_SHARDS"
                )
            }
            guard n >= 1, (0..<n).contains(i) else {
                throw ConfigError(.invalidValue, keyPath: "JOB_COMPLETION_INDEX", rule: "index \(i) is outside \(n) shards")
            }
            return Shard(index: i, count: n)
        }
        return nil
    }
}

/// What a sweep run did.
public struct SweepRunSummary: Sendable {
    /// Trials this run evaluated.
    public var evaluated: Int
    /// Trials of this shard that were already in the store (skipped).
    public var skipped: Int
    /// Wall time of this run.
    public var seconds: Double
    /// Every trial of the sweep in the store after the run (all shards).
    public var trials: [TrialResult]

    /// The best feasible trial.
    public var best: TrialResult? { trials.ranked().first }
}

/// Runs a sweep: one backtest per trial and data file, in parallel on all
/// cores with no shared mutable state, results recorded in a store in
/// batches so an interrupted run resumes where it stopped.
public struct SweepRunner: Sendable {
    /// The sweep.
    public let spec: SweepSpec
    /// Builds strategies by name.
    public let factory: StrategyFactory
    /// The data, one series per file.
    public let series: [BarSeries]
    /// The instrument of each series.
    public let instruments: [Instrument]
    /// The backtest options.
    public let options: BacktestOptions
    /// Each series' calendar, computed once for all trials.
    let calendars: [BacktestStatistics.Calendar]
    /// Each series' closes rounded for its instrument, computed once for all trials.
    let markPrices: [TradingEngine.MarkPrices]
    /// The universe every trial trades on one account (`universe:` sweeps), else nil.
    public let universe: Universe?
    /// The universe's instruments, by lane.
    let universeInstruments: [Instrument]

    /// Creates a runner over loaded data.
    /// - Parameter factory: Builds each trial's strategy; by default the built-ins, with
    ///   model and RL bundles read once for all trials and `model_topk`'s rebalance scores
    ///   shared by them (`BundleCache(sharingScores: true)`).
    /// - Throws: `ConfigError` for unrepresentable instrument settings.
    public init(
        spec: SweepSpec,
        series: [BarSeries],
        factory: StrategyFactory = .standard(bundles: BundleCache(sharingScores: true))
    ) throws(ConfigError) {
        self.spec = spec
        self.factory = factory
        self.series = series
        var instruments: [Instrument] = []
        for s in series { instruments.append(try Backtester.instrument(for: s, config: spec.instrument)) }
        self.instruments = instruments
        options = try BacktestOptions(spec.backtest)
        calendars = series.map { BacktestStatistics.Calendar(timestamps: $0.timestamps) }
        markPrices = zip(series, instruments).map { TradingEngine.MarkPrices(series: $0, instrument: $1) }
        universe = nil
        universeInstruments = []
    }

    /// Creates a runner whose trials trade `universe` on one account.
    /// - Throws: `ConfigError` for unrepresentable instrument settings.
    public init(
        spec: SweepSpec,
        universe: Universe,
        factory: StrategyFactory = .standard(bundles: BundleCache(sharingScores: true))
    ) throws(ConfigError) {
        self.spec = spec
        self.factory = factory
        self.series = []
        self.instruments = []
        self.options = try BacktestOptions(spec.backtest)
        self.calendars = []
        self.markPrices = []
        self.universe = universe
        self.universeInstruments = try Backtester.instruments(for: universe, config: spec.instrument)
    }

    /// Loads the sweep's data files (or its universe) and creates a runner.
    /// - Throws: `CSVError`, `UniverseError` or `ConfigError` naming the file.
    public init(spec: SweepSpec, factory: StrategyFactory = .standard(bundles: BundleCache(sharingScores: true))) throws {
        if let u = spec.universe {
            try self.init(spec: spec, universe: try TrainingPipeline.loadUniverse(u), factory: factory)
        } else {
            try self.init(spec: spec, series: try spec.data.map { try TrainingPipeline.loadSeries($0) }, factory: factory)
        }
    }

    /// Evaluates one parameter set on every data file (thread-safe: everything is local).
    public func evaluate(_ parameters: [String: ConfigValue], index: Int, shard: Int = 0) -> TrialResult {
        let started = ContinuousClock.now
        var metrics: [String: Double] = [:]
        var blocks = [ReturnMoments](repeating: ReturnMoments(), count: spec.blocks)
        var violations: [String] = []
        var sums: [String: Double] = [:]
        func accumulate(_ result: BacktestResult) {
            let st = result.statistics
            for (name, v) in [
                ("sharpe", st.sharpeRatio), ("sortino", st.sortinoRatio), ("calmar", st.calmarRatio), ("return", st.returnPct),
                ("maxDrawdownPct", st.maxDrawdownPct), ("exposurePct", st.exposureTimePct), ("equityFinal", st.equityFinal),
            ] {
                sums[name, default: 0] += v
            }
            sums["trades", default: 0] += Double(st.tradeCount)
            // With one period per bar, the statistics' period returns are these bar returns.
            Self.addBlocks(result.equity, returns: result.periodsAreBars ? result.periodReturns : nil, into: &blocks)
        }
        if let u = universe {
            var p = StrategyParameters(parameters, symbols: u.symbols)
            do {
                let strategy = try factory.entry(spec.strategy)!.build(&p)
                try p.rejectUnread()
                do {
                    accumulate(
                        try Backtester.run(universe: u, instruments: universeInstruments, strategy: strategy, options: options, details: false)
                    )
                } catch {
                    violations.append("backtest failed on the universe: \(error)")
                }
            } catch {
                violations.append("invalid parameters: \(error)")
            }
        }
        for (k, s) in series.enumerated() {
            var p = StrategyParameters(parameters)
            let strategy: any Strategy
            do {
                strategy = try factory.entry(spec.strategy)!.build(&p)
                try p.rejectUnread()
            } catch {
                violations.append("invalid parameters: \(error)")
                break
            }
            let result: BacktestResult
            do {
                result = try Backtester.run(
                    series: s,
                    instrument: instruments[k],
                    strategy: strategy,
                    options: options,
                    calendar: calendars[k],
                    marketStatistics: false,
                    markPrices: markPrices[k]
                )
            } catch {
                violations.append("backtest failed on \(s.symbol): \(error)")
                break
            }
            accumulate(result)
        }
        if violations.isEmpty {
            let n = Double(universe == nil ? series.count : 1)
            for (k, v) in sums { metrics[k] = k == "trades" ? v : v / n }
            violations = spec.constraints.violations(metrics)
        }
        var objective: Double? = nil
        if violations.isEmpty {
            objective = spec.objective.value(metrics)
            if objective == nil { violations.append("objective \(spec.objective) is not a number (no trades or no variance)") }
        }
        let elapsed = ContinuousClock.now - started
        return TrialResult(
            index: index,
            shard: shard,
            parameters: parameters,
            objective: objective,
            violations: violations,
            metrics: metrics,
            blocks: blocks,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        )
    }

    /// Per-bar returns of an equity curve, added to `blocks` equal time slices.
    /// - Parameter returns: `equity[t] / equity[t − 1] − 1` for t = 1..<n when already
    ///   computed (the statistics' period returns of daily bars); used where `equity[t − 1] > 0`.
    static func addBlocks(_ equity: [Double], returns given: [Double]? = nil, into blocks: inout [ReturnMoments]) {
        let n = equity.count
        guard n > 1 else { return }
        equity.withUnsafeBufferPointer { e in
            if let r = given, r.count == n - 1 {
                r.withUnsafeBufferPointer { r in walkBlocks(n, &blocks) { t in e[t - 1] > 0 ? r[t - 1] : 0 } }
            } else {
                walkBlocks(n, &blocks) { t in
                    let prev = e[t - 1]
                    return prev > 0 ? e[t] / prev - 1 : 0
                }
            }
        }
    }

    /// Adds `value(t)` for t = 1..<n to block ⌊(t − 1)·b / (n − 1)⌋ of `blocks`, walking the
    /// blocks rather than dividing per bar.
    @inline(__always)
    private static func walkBlocks(_ n: Int, _ blocks: inout [ReturnMoments], _ value: (Int) -> Double) {
        let b = blocks.count
        var t = 1
        for k in 0..<b {
            var m = blocks[k]
            // ⌊(t − 1)·b / (n − 1)⌋ = k  ⇔  t − 1 < ⌈(k + 1)(n − 1) / b⌉.
            let end = min(n, 1 + ((k + 1) * (n - 1) + b - 1) / b)
            while t < end {
                m.add(value(t))
                t += 1
            }
            blocks[k] = m
        }
    }

    /// The parameters of trial `index` for grid and random sweeps.
    public func parameters(of index: Int) -> [String: ConfigValue] {
        spec.sampler == .grid ? spec.space.gridPoint(index) : randomTrial(spec.space, seed: spec.seed, index: index)
    }

    /// Evaluates `count` jobs on `workers` threads; results in job order.
    /// `job(k)` gives job k's trial index and parameters; the workers call it,
    /// so building the parameters runs in parallel too.
    func evaluateAll(
        count: Int,
        shard: Int,
        workers: Int,
        job: @escaping @Sendable (Int) -> (index: Int, parameters: [String: ConfigValue])
    ) async -> [TrialResult] {
        await withCheckedContinuation { (c: CheckedContinuation<[TrialResult], Never>) in
            DispatchQueue.global().async {
                let next = Atomic<Int>(0)
                var out = [TrialResult?](repeating: nil, count: count)
                out.withUnsafeMutableBufferPointer { buffer in
                    nonisolated(unsafe) let slots = buffer
                    DispatchQueue.concurrentPerform(iterations: max(1, min(workers, count))) { _ in
                        while true {
                            let i = next.add(1, ordering: .relaxed).oldValue
                            guard i < count else { return }
                            let (index, parameters) = job(i)
                            slots[i] = evaluate(parameters, index: index, shard: shard)
                        }
                    }
                }
                c.resume(returning: out.map { $0! })
            }
        }
    }

    /// Runs this shard's trials that the store does not have yet.
    /// - Parameters:
    ///   - store: Where results go; trials already there are skipped.
    ///   - shard: This process's share.
    ///   - workers: Threads (default: all cores).
    ///   - chunk: Trials per recorded batch (grid and random).
    ///   - sweepName: The name in the store (default: the spec's name).
    ///   - progress: Called with (trials done, trials of this shard) after each batch.
    /// - Throws: `SweepStoreError` from the store.
    public func run(
        store: any SweepStore,
        shard: Shard = .all,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        chunk: Int = 1024,
        sweepName: String? = nil,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> SweepRunSummary {
        let name = sweepName ?? spec.name
        let started = ContinuousClock.now
        try await store.open(SweepRecord(name: name, specHash: spec.specHash, spec: spec.canonical, planned: spec.plannedTrials))
        let done = try await store.finished(sweep: name)
        var evaluated = 0
        var skipped = 0
        // What this run recorded: the final read of the store decodes only the other rows.
        var recorded: [Int: TrialResult] = [:]
        if spec.sampler == .tpe {
            (evaluated, skipped, recorded) = try await runTPE(
                store: store,
                name: name,
                shard: shard,
                workers: workers,
                done: done,
                progress: progress
            )
        } else {
            let mine = (0..<spec.plannedTrials).filter { shard.owns($0) }
            let pending = mine.filter { !done.contains($0) }
            skipped = mine.count - pending.count
            // Chunk k + 1 is evaluated while chunk k is being recorded, so the
            // workers do not wait for the store.
            var recording: [TrialResult] = []
            var position = 0
            while position < pending.count || !recording.isEmpty {
                let slice = pending[position..<min(pending.count, position + max(1, chunk))]
                async let next =
                    slice.isEmpty
                    ? []
                    : evaluateAll(count: slice.count, shard: shard.index, workers: workers) { [self] k in
                        let i = slice[slice.startIndex + k]
                        return (i, parameters(of: i))
                    }
                if !recording.isEmpty {
                    try await store.record(recording, sweep: name)
                    for t in recording { recorded[t.index] = t }
                    evaluated += recording.count
                    progress?(skipped + evaluated, mine.count)
                }
                recording = await next
                position += slice.count
            }
        }
        let elapsed = ContinuousClock.now - started
        return SweepRunSummary(
            evaluated: evaluated,
            skipped: skipped,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18,
            trials: try await store.trials(sweep: name, reusing: recorded)
        )
    }

    /// TPE: rounds of `batch` proposals from this shard's own history, each
    /// round seeded from (seed, shard, round): deterministic, and a resumed
    /// shard proposes what it would have.
    private func runTPE(
        store: any SweepStore,
        name: String,
        shard: Shard,
        workers: Int,
        done: Set<Int>,
        progress: (@Sendable (Int, Int) -> Void)?
    ) async throws -> (evaluated: Int, skipped: Int, recorded: [Int: TrialResult]) {
        let local = (0..<spec.trials).filter { shard.owns($0) }  // global indices, in local order
        let sampler = TPESampler()
        var history: [(parameters: [String: ConfigValue], objective: Double?)] = []
        var byIndex: [Int: TrialResult] = [:]
        if !done.isEmpty {
            for t in try await store.trials(sweep: name) where shard.owns(t.index) { byIndex[t.index] = t }
        }
        var evaluated = 0
        var skipped = 0
        var round = 0
        var position = 0
        while position < local.count {
            let indices = Array(local[position..<min(local.count, position + spec.batch)])
            var rng = SplitMix64(seed: spec.seed ^ (UInt64(shard.index) &* 0xA24B_AED4_963E_E407) ^ (UInt64(round) &* 0x9FB2_1C65_1E98_DF25))
            var jobs: [(index: Int, parameters: [String: ConfigValue])] = []
            var proposals: [[String: ConfigValue]] = []
            for i in indices {
                // Proposals within a round see the same history; pending ones count as bad to spread them out.
                let seen = history + proposals.map { ($0, nil) }
                var p = sampler.propose(spec.space, history: seen, rng: &rng)
                // A point already tried teaches nothing: draw again (a few times) for a new one.
                for _ in 0..<8 where seen.contains(where: { $0.parameters == p }) { p = sampler.propose(spec.space, history: seen, rng: &rng) }
                for _ in 0..<64 where seen.contains(where: { $0.parameters == p }) { p = spec.space.randomPoint(&rng) }
                proposals.append(p)
                if byIndex[i] == nil { jobs.append((i, p)) }
            }
            let results = jobs.isEmpty ? [] : await evaluateAll(count: jobs.count, shard: shard.index, workers: workers) { [jobs] in jobs[$0] }
            try await store.record(results, sweep: name)
            for r in results { byIndex[r.index] = r }
            for i in indices {
                if let t = byIndex[i] { history.append((t.parameters, t.objective)) }
            }
            evaluated += jobs.count
            skipped += indices.count - jobs.count
            position += indices.count
            round += 1
            progress?(position, local.count)
        }
        // Every row of this shard as the store holds it (read before, or recorded by this run).
        return (evaluated, skipped, byIndex)
    }
}
