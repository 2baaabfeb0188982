import ArgumentParser
import CrocCore
import CrocData
import CrocPipelines
import CrocSupport
import Foundation

/// `crocbot data`: look at market data and compute features.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect market data files and compute feature matrices.",
        subcommands: [Inspect.self, Features.self, Factor.self]
    )

    /// Options shared by the data subcommands.
    struct Source: ParsableArguments {
        @Option(name: .long, help: "CSV file with date/open/high/low/close[/volume] columns.")
        var data: String = DataConfig.defaultPath

        @Option(name: .long, help: "Timestamp format: auto, epoch_s, epoch_ms or a pattern like '%d/%m/%Y %H:%M'.")
        var timestampFormat: String = "auto"

        @Option(name: .long, help: "Field delimiter (one character).")
        var delimiter: String = ","

        /// `--data`, or the shipped copy of a default sample when run outside the repository.
        var path: String { Wiring.packaged.resolve(data) }

        func options() throws -> CSVOptions {
            guard let format = TimestampFormat(configValue: timestampFormat) else {
                throw ValidationError("--timestamp-format: use auto, epoch_s, epoch_ms or a %-pattern, not '\(timestampFormat)'")
            }
            guard delimiter.utf8.count == 1, let d = delimiter.utf8.first else {
                throw ValidationError("--delimiter must be exactly one ASCII character")
            }
            return CSVOptions(delimiter: d, timestampFormat: format)
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Print rows, time range, spacing, gaps and every validation problem of a CSV file.",
            discussion: """
                Reads the whole file leniently and lists each problem with its line and column.
                Exits with status 1 when the file has problems, so scripts can check data before use.

                Examples:
                  crocbot data inspect --data Examples/data/EURUSD_1H_ASK.csv
                  crocbot data inspect --data prices.csv --max-problems 1000
                """
        )

        @OptionGroup var source: Source

        @Option(name: .long, help: "Problems to list at most.")
        var maxProblems: Int = 20

        @Option(name: .long, help: "Gaps to list (the largest first).")
        var gaps: Int = 5

        @Option(
            name: .long,
            help: "A universe instead of one file: a folder of CSV files, a wide CSV of closes, or a long CSV with a symbol column."
        )
        var universe: String?

        @Option(name: .long, help: "With --universe: only these symbols (comma-separated), in this order.")
        var symbols: String?

        func run() throws {
            try Wiring.reportingErrors {
                if let universe {
                    try inspectUniverse(universe)
                } else {
                    try inspectFile()
                }
            }
        }

        /// One file's rows, range, spacing, gaps and problems (exit status 1 when it has problems).
        func inspectFile() throws {
            let r = try CSVBarLoader.inspect(path: source.path, options: try source.options(), maxProblems: max(1, maxProblems))
            let s = r.series
            var rows: [(String, String)] = [
                ("File", source.path), ("Symbol", s.symbol), ("Rows read", "\(r.rowCount)"), ("Valid bars", "\(s.count)"),
                ("Problems", "\(r.problemCount)"),
            ]
            if let first = s.timestamps.first, let last = s.timestamps.last {
                rows += [
                    ("First bar", Timestamp(nanoseconds: first).iso8601()), ("Last bar", Timestamp(nanoseconds: last).iso8601()),
                    ("Price decimals", "\(s.pricePrecision)"),
                ]
            }
            let spacing = DataSummary.spacing(s.timestamps)
            if let median = spacing.median {
                rows.append(("Median spacing", DataSummary.duration(median)))
                rows.append(("Gaps > 1.5x median", "\(spacing.gaps.count)"))
            }
            if let lo = s.low.min(), let hi = s.high.max() { rows.append(("Price range", "\(lo) ... \(hi)")) }
            print(table(rows))
            if !spacing.gaps.isEmpty {
                print("\nLargest gaps:")
                for g in spacing.gaps.sorted(by: { $0.length > $1.length }).prefix(gaps) {
                    print(
                        "  \(Timestamp(nanoseconds: g.from).iso8601()) -> \(Timestamp(nanoseconds: g.to).iso8601())  (\(DataSummary.duration(g.length)))"
                    )
                }
            }
            if !r.problems.isEmpty {
                print("\nProblems:")
                for p in r.problems { print("  \(p)") }
                if r.problemCount > r.problems.count { print("  ... and \(r.problemCount - r.problems.count) more") }
                throw ExitCode(1)
            }
        }

        /// Per-symbol rows, ranges, missing times and gaps of a universe (read strictly:
        /// the first problem stops it, naming file and line).
        func inspectUniverse(_ path: String) throws {
            let picked = symbols.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let u = try UniverseLoader.load(path: path, symbols: picked, options: try source.options())
            var rows: [(String, String)] = [
                ("Universe", path), ("Layout", u.layout.rawValue), ("Symbols", "\(u.count)"), ("Timestamps (union)", "\(u.timestamps.count)"),
                ("Time zone", u.timeZone),
            ]
            if let l = u.barLength { rows.append(("Bar length", Universe.describe(nanos: l))) }
            if let a = u.timestamps.first, let b = u.timestamps.last {
                rows += [("First bar", Timestamp(nanoseconds: a).iso8601()), ("Last bar", Timestamp(nanoseconds: b).iso8601())]
            }
            print(table(rows))
            print("")
            let header = ["Symbol", "Rows", "First", "Last", "Missing", "Gaps", "Longest gap"]
            var lines = [header]
            for m in u.summaries() {
                lines.append([
                    m.symbol, "\(m.rows)", m.first?.iso8601() ?? "-", m.last?.iso8601() ?? "-", "\(m.missing)", "\(m.gaps)",
                    m.longestGap > 0 ? DataSummary.duration(m.longestGap) : "-",
                ])
            }
            let widths = header.indices.map { c in lines.map { $0[c].count }.max() ?? 0 }
            for l in lines {
                print(
                    l.indices.map { c in
                        c == 0
                            ? l[c].padding(toLength: widths[c], withPad: " ", startingAt: 0)
                            : String(repeating: " ", count: widths[c] - l[c].count) + l[c]
                    }.joined(separator: "  ")
                )
            }
            print("\nMissing: times of the union calendar inside a symbol's own range where it has no bar (it does not trade then).")
        }
    }

    struct Features: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "features",
            abstract: "Compute a feature matrix and write it as CSV.",
            discussion: """
                The features come from a YAML/JSON definition (see Examples/features.yaml);
                without --features the standard 22-column set is used. Warm-up rows are
                written with empty fields.

                Examples:
                  crocbot data features --output features.csv
                  crocbot data features --data Examples/data/EURUSD_1H_ASK.csv --features Examples/features.yaml --output eurusd_features.csv
                """
        )

        @OptionGroup var source: Source

        @Option(name: .long, help: "Feature definition file (YAML or JSON).")
        var features: String?

        @Option(name: .long, help: "Output CSV path.")
        var output: String

        func run() throws {
            try Wiring.reportingErrors {
                let definition = try features.map { path throws(ConfigError) in try FeaturePipelineDefinition.load(path: path) } ?? .standard
                let series = try CSVBarLoader.load(path: source.path, options: try source.options())
                let pipeline = FeaturePipeline(definition)
                let start = ContinuousClock.now
                let matrix = pipeline.transform(series)
                let elapsed = ContinuousClock.now - start
                try matrix.csv().write(toFile: output, atomically: true, encoding: .utf8)
                print("wrote \(output): \(matrix.rows) rows x \(matrix.columns) features (\(pipeline.warmup) warm-up rows) in \(elapsed)")
            }
        }
    }
}

/// Spacing statistics of a time index.
enum DataSummary {
    struct Gap {
        let from: Int64
        let to: Int64
        var length: Int64 { to - from }
    }

    static func spacing(_ t: [Int64]) -> (median: Int64?, gaps: [Gap]) {
        guard t.count > 1 else { return (nil, []) }
        var diffs = (1..<t.count).map { t[$0] - t[$0 - 1] }
        diffs.sort()
        let median = diffs[diffs.count / 2]
        let gaps = (1..<t.count).compactMap { i -> Gap? in
            Double(t[i] - t[i - 1]) > 1.5 * Double(median) ? Gap(from: t[i - 1], to: t[i]) : nil
        }
        return (median, gaps)
    }

    static func duration(_ ns: Int64) -> String {
        let s = ns / 1_000_000_000
        if s % 86400 == 0 { return "\(s / 86400)d" }
        if s % 3600 == 0 { return "\(s / 3600)h" }
        if s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }
}

/// An aligned two-column table.
func table(_ rows: [(String, String)]) -> String {
    let w = rows.map(\.0.count).max() ?? 0
    return rows.map { $0.0.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
}

extension DataCommand {
    /// `crocbot data factor`: how well one feature ranks a universe (an alphalens-style summary).
    struct Factor: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "factor",
            abstract: "Evaluate one feature column as a cross-sectional factor of a universe: IC, rank IC, quantile returns.",
            discussion: """
                Runs the feature pipeline per symbol (missing bars stay missing), optionally
                transforms the column across symbols at each date, and scores it against each
                symbol's forward return over --horizon bars: IC and rank IC per date (mean, sd,
                ICIR, by year), mean demeaned return of each of --quantiles quantiles, the
                long-short spread, and the hit rate and turnover of the --top best.

                Examples:
                  crocbot data factor --universe Examples/data/SP500_10_CLOSE.csv --features Examples/features-stationary.yaml --column ret_20 --horizon 21 --top 3
                  crocbot data factor --universe prices/ --features f.yaml --column zscore_20 --transform rank
                """
        )

        @Option(name: .long, help: "The universe: a folder of CSV files, a wide CSV of closes, or a long CSV.")
        var universe: String

        @Option(name: .long, help: "Feature pipeline YAML.")
        var features: String

        @Option(name: .long, help: "The feature column to evaluate.")
        var column: String

        @Option(name: .long, help: "Forward-return horizon in bars.")
        var horizon: Int = 5

        @Option(name: .long, help: "Quantiles per date.")
        var quantiles: Int = 5

        @Option(name: .long, help: "Top-k for the hit rate and turnover.")
        var top: Int = 10

        @Option(name: .long, help: "Cross-sectional transform of the column at each date: none, rank, zscore, demean.")
        var transform: String = "none"

        @Option(name: .long, help: "Labels: raw forward returns, or ranked / demeaned across the universe at each date (raw, rank, demean).")
        var labels: String = "raw"

        @Option(name: .long, help: "Also write Time,Symbol,Score,ForwardReturn for every scored row to this CSV.")
        var output: String?

        func run() throws {
            try Wiring.reportingErrors {
                guard horizon >= 1 else { throw ValidationError("--horizon must be at least 1, got \(horizon)") }
                guard quantiles >= 2 else { throw ValidationError("--quantiles must be at least 2, got \(quantiles)") }
                guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
                let u = try UniverseLoader.load(path: universe)
                guard top <= u.count else { throw ValidationError("--top \(top) is larger than the universe (\(u.count) symbols)") }
                guard horizon < u.timestamps.count else {
                    throw ValidationError("--horizon \(horizon) reaches beyond the data (\(u.timestamps.count) dates)")
                }
                let pipeline = FeaturePipeline(try FeaturePipelineDefinition.load(path: features))
                var panel = FeaturePanel(universe: u, pipeline: pipeline)
                guard panel.columnNames.contains(column) else {
                    throw ValidationError("--column \(column) is not a column of \(features) (columns: \(panel.columnNames.joined(separator: ", ")))")
                }
                try applyTransform(to: &panel)
                let forward = try forwardLabels(u)
                let scores = panel.column(named: column)!
                if let output { try writeScored(panel, scores: scores, forward: forward, to: output) }
                let e = try FactorEvaluation.evaluate(
                    times: panel.times,
                    scores: scores,
                    forwardReturns: forward,
                    quantiles: quantiles,
                    topK: top,
                    period: horizon
                )
                print(
                    "factor \(column) (\(transform)) over \(u.count) symbols x \(u.timestamps.count) dates, \(horizon)-bar forward returns (\(labels))"
                )
                print(factorSummary(e, top: top, period: horizon))
            }
        }

        /// `--transform` applied to the column at every date.
        private func applyTransform(to panel: inout FeaturePanel) throws {
            switch transform {
            case "none": break
            case "rank": panel.transform(column, CrossSection.rank)
            case "zscore": panel.transform(column, CrossSection.zscore)
            case "demean": panel.transform(column, CrossSection.demean)
            default: throw ValidationError("--transform must be none, rank, zscore or demean, got '\(transform)'")
            }
        }

        /// Forward returns over `--horizon`, as `--labels` asks (raw, ranked or demeaned per date).
        private func forwardLabels(_ u: Universe) throws -> [[Double]] {
            var forward = FeaturePanel.forwardReturns(u, horizon: horizon)
            switch labels {
            case "raw": break
            case "rank": for t in forward.indices { CrossSection.rank(&forward[t]) }
            case "demean": for t in forward.indices { CrossSection.demean(&forward[t]) }
            default: throw ValidationError("--labels must be raw, rank or demean, got '\(labels)'")
            }
            return forward
        }

        /// `Time,Symbol,Score,ForwardReturn` for every row with both values.
        private func writeScored(_ panel: FeaturePanel, scores: [[Double]], forward: [[Double]], to output: String) throws {
            var text = "Time,Symbol,Score,ForwardReturn\n"
            for t in scores.indices {
                let time = Timestamp(nanoseconds: panel.times[t]).iso8601()
                for s in scores[t].indices where scores[t][s].isFinite && forward[t][s].isFinite {
                    text += "\(time),\(panel.symbols[s]),\(scores[t][s]),\(forward[t][s])\n"
                }
            }
            do {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("--output \(output): cannot write: \(error.localizedDescription)")
            }
        }
    }
}
