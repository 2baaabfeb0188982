import ArgumentParser
import CrocPipelines
import CrocStrategies
import CrocSupport
import CrocSweepPostgres
import Foundation
import Logging

struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Parameter sweeps and walk-forward optimisation, on one machine or sharded over many.",
        discussion: """
            A sweep file names a strategy, its parameter space (grid, random or TPE), an objective
            with constraints, and the data. Trials run in parallel on all cores, go to a store
            (SQLite by default, PostgreSQL with --store postgres://...), and an interrupted sweep
            resumes where it stopped. --shard I/N (or a Slurm array / Kubernetes Indexed Job)
            runs one share of the trials; all shards write to one store.

            Examples:
              crocbot sweep --config Examples/sweep-sma.yaml
              crocbot sweep --config Examples/sweep-sma-tpe.yaml --workers 2
              crocbot sweep --config Examples/sweep-walkforward.yaml
              crocbot sweep --config Examples/sweep-sma.yaml --store postgres://crocbot:crocbot@127.0.0.1/crocbot --shard 0/3
              crocbot sweep status --store output/sweeps.sqlite
              crocbot sweep report --name sma-grid --output sma-grid.html
            """,
        subcommands: [SweepRunCommand.self, SweepStatusCommand.self, SweepReportCommand.self],
        defaultSubcommand: SweepRunCommand.self
    )
}

/// Options shared by the sweep subcommands.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Where trials go: a SQLite file or postgres://user:password@host:port/db (env CROCBOT_SWEEP_STORE).")
    var store: String?

    var resolved: String { store ?? ProcessInfo.processInfo.environment["CROCBOT_SWEEP_STORE"] ?? "output/sweeps.sqlite" }

    func open() async throws -> any SweepStore {
        let s = resolved
        if s.hasPrefix("postgres://") || s.hasPrefix("postgresql://") { return try await PostgresSweepStore(url: s) }
        return try SQLiteSweepStore(path: s)
    }

    /// The store's name for messages (no password).
    var display: String { PostgresSweepStore.redact(resolved) }
}

/// `--heatmap a,b`: two swept parameters of the spec.
func heatmapAxes(_ text: String?, _ spec: SweepSpec) throws -> (String, String)? {
    guard let text else { return nil }
    let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let swept = spec.space.dimensions.map(\.name)
    guard names.count == 2, names.allSatisfy(swept.contains) else {
        throw ValidationError("--heatmap expects two swept parameters as a,b (this sweep has \(swept.joined(separator: ", "))), found '\(text)'")
    }
    return (names[0], names[1])
}

struct SweepRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run (or resume) a sweep or a walk-forward optimisation.",
        discussion: """
            Examples:
              crocbot sweep --config Examples/sweep-sma.yaml
              crocbot sweep run --config Examples/sweep-sma.yaml --shard 1/3 --store postgres://crocbot:crocbot@db/crocbot
            """
    )

    @Option(name: .long, help: "The sweep file (YAML or JSON).")
    var config: String = "Examples/sweep-sma.yaml"

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Run only shard I of N (0-based, e.g. 0/3); default from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, else all.")
    var shard: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var workers: Int?

    @Option(name: .long, help: "Trials per batch written to the store (a killed run loses at most one batch).")
    var chunk: Int = 1024

    @Option(name: .long, help: "HTML report path (default: output/sweep-<name>.html); written when every trial is in the store.")
    var report: String?

    @Option(name: .long, help: "The report's heatmap axes: two swept parameters, a,b (default: the first two numeric ones).")
    var heatmap: String?

    @Option(name: .long, help: "Log format: text or json.")
    var logFormat: String = "text"

    func run() async throws {
        try await Wiring.reportingErrorsAsync {
            CrocLogging.bootstrap(format: logFormat == "json" ? .json : .text, level: "info")
            let logger = Logger(label: "crocbot.sweep")
            let spec = try Self.loadSpec(config)
            let axes = try heatmapAxes(heatmap, spec)
            let env = ProcessInfo.processInfo.environment
            let part =
                try shard.map { s throws(ConfigError) in try Shard.parse(s) } ?? Shard.fromEnvironment(env, configuredCount: spec.shards) ?? .all
            let threads = workers ?? ProcessInfo.processInfo.activeProcessorCount
            guard threads >= 1 else { throw ValidationError("--workers must be ≥ 1") }
            let store = try await storeOptions.open()
            defer { (store as? PostgresSweepStore)?.close() }
            // One cache for the trials: bundles read once, model_topk's rebalance scores shared.
            let bundles = BundleCache(sharingScores: true)
            let runner = try SweepRunner(spec: spec, factory: .standard(bundles: bundles))
            logger.info(
                "sweep starting",
                metadata: [
                    "sweep": "\(spec.name)", "strategy": "\(spec.strategy)", "sampler": "\(spec.sampler.rawValue)",
                    "trials": "\(spec.plannedTrials)", "shard": "\(part)", "workers": "\(threads)", "store": "\(storeOptions.display)",
                ]
            )
            let reportPath = report ?? "output/sweep-\(spec.name).html"
            if spec.walkForward != nil {
                try await runWalkForward(spec, runner: runner, store: store, threads: threads, axes: axes, reportPath: reportPath)
            } else {
                try await runTrials(spec, runner: runner, store: store, shard: part, threads: threads, axes: axes, reportPath: reportPath)
            }
            if let scores = bundles.scores, scores.count > 0 {
                logger.info("rebalance scores shared by the trials", metadata: ["scored": "\(scores.count)", "read back": "\(scores.hits)"])
            }
        }
    }

    /// Walk-forward optimisation: every window's sweep, the stitched out-of-sample table and the report.
    private func runWalkForward(
        _ spec: SweepSpec,
        runner: SweepRunner,
        store: any SweepStore,
        threads: Int,
        axes: (String, String)?,
        reportPath: String
    ) async throws {
        let progress = ProgressReporter("walk-forward \(spec.name)")
        let outcome = try await WalkForwardOptimizer.run(runner: runner, store: store, workers: threads) { done, total in
            progress.update(step: done, total: total, detail: "windows")
        }
        print(Self.walkForwardTable(outcome, spec))
        var all: [TrialResult] = []
        for k in outcome.steps.indices { all += try await store.trials(sweep: "\(spec.name).wf\(k)") }
        try Self.write(SweepHTMLReport.render(spec: spec, trials: all, walkForward: outcome, heatmap: axes), to: reportPath)
        print("report: \(reportPath)")
    }

    /// This shard's trials into the store; the table, and the report once every trial is in.
    private func runTrials(
        _ spec: SweepSpec,
        runner: SweepRunner,
        store: any SweepStore,
        shard part: Shard,
        threads: Int,
        axes: (String, String)?,
        reportPath: String
    ) async throws {
        guard chunk >= 1 else { throw ValidationError("--chunk must be ≥ 1") }
        let progress = ProgressReporter("sweep \(spec.name)")
        let summary = try await runner.run(store: store, shard: part, workers: threads, chunk: chunk) { done, total in
            progress.update(step: done, total: total, detail: "trials")
        }
        print(
            String(
                format: "shard %@: %d trials evaluated, %d already in the store, %.2f s (%.0f trials/s)",
                part.description,
                summary.evaluated,
                summary.skipped,
                summary.seconds,
                summary.seconds > 0 ? Double(summary.evaluated) / summary.seconds : 0
            )
        )
        let diagnostics = SweepHTMLReport.Diagnostics(trials: summary.trials)
        print(Self.statusTable(spec: spec, trials: summary.trials, top: 10, diagnostics: diagnostics))
        if summary.trials.count >= spec.plannedTrials {
            try Self.write(SweepHTMLReport.render(spec: spec, trials: summary.trials, heatmap: axes, diagnostics: diagnostics), to: reportPath)
            print("report: \(reportPath)")
        } else {
            print("\(spec.plannedTrials - summary.trials.count) trials still to run on other shards; `crocbot sweep report` writes the report later")
        }
    }

    static func write(_ html: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(html.utf8).write(to: url)
    }

    static func walkForwardTable(_ o: WalkForwardOutcome, _ spec: SweepSpec) -> String {
        var lines = ["window  in-sample      out-of-sample  chosen                          IS objective  OOS return %  OOS trades"]
        for (k, s) in o.steps.enumerated() {
            let chosen = s.chosen.map { t in
                spec.space.dimensions.map { "\($0.name)=\(t.parameters[$0.name].map { "\($0)" } ?? "?")" }.joined(separator: " ")
            }
            let cells = [
                "\(k)", "\(s.inSample.lowerBound)-\(s.inSample.upperBound - 1)", "\(s.outOfSample.lowerBound)-\(s.outOfSample.upperBound - 1)",
                chosen ?? "none feasible", s.chosen.map { String(format: "%.4f", $0.objective!) } ?? "-",
                String(format: "%.2f", s.outOfSampleMetrics["return"] ?? 0), "\(Int(s.outOfSampleMetrics["trades"] ?? 0))",
            ]
            let widths = [7, 14, 14, 31, 13, 13, 10]
            lines.append(zip(cells, widths).map { $0.0.padding(toLength: max($0.1, $0.0.count), withPad: " ", startingAt: 0) }.joined(separator: " "))
        }
        let st = o.statistics
        lines.append(
            String(
                format: "stitched out-of-sample: return %.2f %%, Sharpe %.3f, max drawdown %.2f %%, %d trades (buy & hold %.2f %%)",
                st.returnPct,
                st.sharpeRatio,
                st.maxDrawdownPct,
                o.trades,
                st.buyAndHoldReturnPct
            )
        )
        return lines.joined(separator: "\n")
    }

    static func statusTable(spec: SweepSpec, trials: [TrialResult], top: Int, diagnostics: SweepHTMLReport.Diagnostics? = nil) -> String {
        let feasible = trials.ranked()
        var lines = [
            "sweep \(spec.name): \(trials.count)/\(spec.plannedTrials) trials recorded, \(feasible.count) feasible; objective \(spec.objective)"
        ]
        var byShard: [Int: Int] = [:]
        for t in trials { byShard[t.shard, default: 0] += 1 }
        if byShard.count > 1 { lines.append("by shard: " + byShard.keys.sorted().map { "\($0): \(byShard[$0]!)" }.joined(separator: ", ")) }
        let d = diagnostics ?? SweepHTMLReport.Diagnostics(ranked: feasible)
        if let ds = d.deflated, let p = d.pbo {
            lines.append(
                String(
                    format: "deflated Sharpe P[SR > 0] = %.3f over %d trials; probability of backtest overfitting = %.3f",
                    ds.probability,
                    ds.trials,
                    p.probability
                )
            )
        }
        guard !feasible.isEmpty else { return lines.joined(separator: "\n") }
        let names = spec.space.dimensions.map(\.name)
        lines.append(
            (["rank", "trial"] + names + ["objective", "sharpe", "return %", "max DD %", "trades"]).map {
                $0.padding(toLength: 10, withPad: " ", startingAt: 0)
            }
            .joined(separator: " ")
        )
        for (rank, t) in feasible.prefix(top).enumerated() {
            var cells = ["\(rank + 1)", "\(t.index)"] + names.map { t.parameters[$0].map { "\($0)" } ?? "" }
            cells += [t.objective!, t.metrics["sharpe"] ?? .nan, t.metrics["return"] ?? .nan, t.metrics["maxDrawdownPct"] ?? .nan].map {
                String(format: "%.4f", $0)
            }
            cells.append("\(Int(t.metrics["trades"] ?? 0))")
            lines.append(cells.map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

/// Reads a sweep's settings back from the store (its canonical JSON is a sweep file).
func storedSpec(_ record: SweepRecord) throws -> SweepSpec {
    try SweepSpec(try AppConfig.parse(text: record.spec, source: "store:\(record.name)"), source: "store:\(record.name)")
}

struct SweepStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Progress and best trials of the sweeps in a store (all shards merged).",
        discussion: """
            Examples:
              crocbot sweep status
              crocbot sweep status --name sma-grid --store postgres://crocbot:crocbot@127.0.0.1/crocbot
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Only this sweep.")
    var name: String?

    @Option(name: .long, help: "Best trials to list.")
    var top: Int = 5

    func run() async throws {
        try await Wiring.reportingErrorsAsync {
            let store = try await storeOptions.open()
            defer { (store as? PostgresSweepStore)?.close() }
            var records = try await store.sweeps()
            if let name { records = records.filter { $0.name == name } }
            guard !records.isEmpty else {
                throw SweepStoreError("\(storeOptions.display): no sweep\(name.map { " named '\($0)'" } ?? "s") in the store")
            }
            for r in records {
                let spec = try storedSpec(r)
                print(SweepRunCommand.statusTable(spec: spec, trials: try await store.trials(sweep: r.name), top: top))
                print("")
            }
        }
    }
}

struct SweepReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a sweep's HTML report from the store (all shards merged).",
        discussion: """
            Examples:
              crocbot sweep report --name sma-grid --output sma-grid.html
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "The sweep (default: the only one in the store).")
    var name: String?

    @Option(name: .long, help: "HTML report path (default: output/sweep-<name>.html).")
    var output: String?

    @Option(name: .long, help: "The heatmap axes: two swept parameters, a,b (default: the first two numeric ones).")
    var heatmap: String?

    func run() async throws {
        try await Wiring.reportingErrorsAsync {
            let store = try await storeOptions.open()
            defer { (store as? PostgresSweepStore)?.close() }
            let records = try await store.sweeps().filter { !$0.name.contains(".wf") }
            let record: SweepRecord
            if let name {
                guard let r = try await store.sweeps().first(where: { $0.name == name }) else {
                    throw SweepStoreError("\(storeOptions.display): no sweep named '\(name)'; it has: \(records.map(\.name).joined(separator: ", "))")
                }
                record = r
            } else {
                guard records.count == 1 else {
                    throw ValidationError(
                        "the store has \(records.count) sweeps (\(records.map(\.name).joined(separator: ", "))); pick one with --name"
                    )
                }
                record = records[0]
            }
            let spec = try storedSpec(record)
            let trials = try await store.trials(sweep: record.name)
            let path = output ?? "output/sweep-\(record.name).html"
            try SweepRunCommand.write(SweepHTMLReport.render(spec: spec, trials: trials, heatmap: try heatmapAxes(heatmap, spec)), to: path)
            print("\(trials.count)/\(spec.plannedTrials) trials; report: \(path)")
        }
    }
}

extension SweepRunCommand {
    /// The sweep file and the data it names, found from any directory when they are the shipped
    /// examples (``Wiring/packaged``).
    /// - Throws: `ConfigError` naming the file and key.
    static func loadSpec(_ path: String) throws -> SweepSpec {
        var spec = try SweepSpec.load(path: Wiring.packaged.resolve(path))
        spec.data = spec.data.map(Wiring.packaged.resolve)
        spec.universe = spec.universe.map(Wiring.packaged.resolve)
        return spec
    }
}
