import ArgumentParser
import CrocCore
import CrocData
import CrocModels
import CrocPipelines
import CrocStrategies
import CrocSupport
import Foundation

/// `crocbot train`: fit a model from a config and save its bundle.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on historical data and save it as a bundle.",
        discussion: """
            Builds features and labels, splits the rows in time order with purge gaps, fits the
            scaler and the model on the training rows only, evaluates on validation and test rows,
            backtests the model's strategy over the test range, and writes the bundle.

            Examples:
              crocbot train --config Examples/train-gbdt-googl.yaml
              crocbot backtest --strategy model --param model=models/googl-gbdt --from 2016-12-01
            """
    )

    @Option(name: .long, help: "Training configuration (YAML or JSON).")
    var config: String

    @Option(name: .long, help: "Bundle directory (overrides the config's output).")
    var output: String?

    func run() throws {
        try Wiring.reportingErrors {
            let text = try String(contentsOfFile: config, encoding: .utf8)
            let tree = try AppConfig.parse(text: text, source: config)
            if RLTrainingConfig.isRL(tree) {
                try trainRL(tree)
                return
            }
            var cfg = try TrainingConfig.load(path: config)
            if let output { cfg.output = output }
            if cfg.isPanel {
                try trainPanel(cfg)
            } else {
                try trainSeries(cfg)
            }
        }
    }

    /// One instrument's model: train, report, the test-range backtest, and walk-forward if configured.
    private func trainSeries(_ cfg: TrainingConfig) throws {
        let progress = ProgressReporter("train \(cfg.modelKind.rawValue)")
        var curve: [(step: Int, loss: Double)] = []
        let result = try TrainingPipeline.run(cfg) { step, total, loss in
            curve.append((step, loss))
            progress.update(step: step, total: total, detail: String(format: "loss %.5f", loss))
        }
        let configText = (try? String(contentsOfFile: config, encoding: .utf8)) ?? config
        let reportPath = (cfg.output as NSString).appendingPathComponent("report.html")
        try TrainingHTMLReport.render(result, learningCurve: curve, configuration: configText).write(
            toFile: reportPath,
            atomically: true,
            encoding: .utf8
        )
        print(evaluationTable(result.metrics, task: result.bundle.metadata.task))
        let s = result.testBacktest.statistics
        print("\nTest-range backtest (\(s.start.iso8601()) to \(s.end.iso8601())):")
        print(
            table([
                ("Return [%]", String(format: "%.4f", s.returnPct)), ("Buy & Hold Return [%]", String(format: "%.4f", result.testBuyAndHoldPct)),
                ("Sharpe Ratio", String(format: "%.4f", s.sharpeRatio)), ("Max. Drawdown [%]", String(format: "%.4f", s.maxDrawdownPct)),
                ("# Trades", "\(s.tradeCount)"), ("Win Rate [%]", String(format: "%.2f", s.winRatePct)),
            ])
        )
        print(
            "\nwrote bundle \(cfg.output) and \(reportPath) (train rows \(result.split.train), validation \(result.split.validation), test \(result.split.test))"
        )
        if let wf = cfg.walkForward {
            let series = try TrainingPipeline.loadSeries(cfg.data)
            let data = LabelledSeries(series: series, features: cfg.features, label: cfg.label)
            let wfProgress = ProgressReporter("walk-forward")
            let r = try WalkForward.run(data, config: cfg, trainSize: wf.trainSize, testSize: wf.testSize, expanding: wf.expanding) {
                step,
                total in
                wfProgress.update(step: step, total: total, detail: "windows")
            }
            print(
                "\nWalk-forward (\(wf.expanding ? "expanding" : "rolling"), \(r.windows.count) windows of \(wf.testSize) test rows), stitched out-of-sample:"
            )
            print(evaluationTable(r.outOfSample.reduce(into: [:]) { $0["data.\($1.key)"] = $1.value }, task: cfg.label.task))
        }
    }
}

extension TrainCommand {
    /// The universe path: one model ranks every symbol; IC, quantiles and a `model_topk` backtest.
    func trainPanel(_ cfg: TrainingConfig) throws {
        let progress = ProgressReporter("train \(cfg.modelKind.rawValue) on a universe")
        let wfProgress = ProgressReporter("walk-forward")
        let result = try PanelTrainingPipeline.run(
            cfg,
            progress: { step, total, loss in progress.update(step: step, total: total, detail: String(format: "loss %.5f", loss)) },
            walkForwardProgress: { step, total in wfProgress.update(step: step, total: total, detail: "windows") }
        )
        if !result.excluded.isEmpty {
            print("warning: left out (history shorter than the warm-up plus the horizon): \(result.excluded.joined(separator: ", "))")
        }
        let reportPath = (cfg.output as NSString).appendingPathComponent("report.html")
        let configText = (try? String(contentsOfFile: config, encoding: .utf8)) ?? config
        try FactorHTMLReport.render(
            bundle: result.bundle,
            factor: result.testFactor,
            metrics: result.metrics,
            backtest: result.testBacktest,
            configuration: configText
        ).write(toFile: reportPath, atomically: true, encoding: .utf8)
        print(evaluationTable(result.metrics, task: result.bundle.metadata.task))
        print(factorTable(result.metrics))
        print("\nTest range, cross-sectional (\(cfg.label.horizon)-bar forward returns):")
        print(factorSummary(result.testFactor, top: cfg.portfolio.top, period: cfg.label.horizon))
        let s = result.testBacktest.statistics
        let p = cfg.portfolio
        print(
            "\nTest-range backtest, model_topk top \(p.top), dropout \(p.dropout), every \(p.rebalance) bars (\(s.start.iso8601()) to \(s.end.iso8601())):"
        )
        print(
            table([
                ("Return [%]", String(format: "%.4f", s.returnPct)),
                ("Equal-weight buy & hold [%]", String(format: "%.4f", result.testBuyAndHoldPct)),
                ("Sharpe Ratio", String(format: "%.4f", s.sharpeRatio)), ("Max. Drawdown [%]", String(format: "%.4f", s.maxDrawdownPct)),
                ("# Trades", "\(s.tradeCount)"),
            ])
        )
        print(
            "\nwrote bundle \(cfg.output) and \(reportPath) (\(result.trainRows) training rows; dates: train \(result.split.train), validation \(result.split.validation), test \(result.split.test))"
        )
        print(
            "backtest it with: crocbot backtest --universe \(cfg.data.universe ?? "") --strategy model_topk --param model=\(cfg.output) --param top=\(p.top)"
        )
        if let wf = cfg.walkForward, let r = result.walkForward {
            print(
                "\nWalk-forward (\(wf.expanding ? "expanding" : "rolling"), \(r.windows.count) windows of \(wf.testSize) dates), stitched out-of-sample:"
            )
            print(evaluationTable(r.outOfSample.reduce(into: [:]) { $0["data.\($1.key)"] = $1.value }, task: cfg.label.task))
            print(factorSummary(r.factor, top: p.top, period: cfg.label.horizon))
        }
    }

    /// The RL path: train on the training range, evaluate on the held-out range, save the bundle.
    func trainRL(_ tree: ConfigValue) throws {
        var cfg = try RLTrainingConfig(tree, source: config, baseDirectory: URL(fileURLWithPath: config).deletingLastPathComponent().path)
        if let output { cfg.output = output }
        let progress = ProgressReporter("train \(cfg.agent.rawValue)")
        // The reporter appends steps/s and the ETA.
        var curve: [RLTrainingProgress] = []
        let result = try RLTraining.run(cfg) { p in
            curve.append(p)
            let detail = String(format: "episode return %+.4f, loss %.5f", p.meanEpisodeReturn, p.loss)
            progress.update(step: p.steps, total: p.totalSteps, detail: detail)
        }
        let reportPath = (cfg.output as NSString).appendingPathComponent("report.html")
        let configText = (try? String(contentsOfFile: config, encoding: .utf8)) ?? config
        try RLTrainingHTMLReport.render(result, progress: curve, configuration: configText).write(
            toFile: reportPath,
            atomically: true,
            encoding: .utf8
        )
        print(
            table([
                ("Agent", cfg.agent.rawValue), ("Training steps", "\(cfg.steps)"),
                ("Steps/s (learning included)", String(format: "%.0f", result.stepsPerSecond)),
                ("Held-out return, policy [%]", String(format: "%.4f", result.testReturnPct)),
                ("Held-out return, random policy [%]", String(format: "%.4f", result.randomReturnPct)),
                (
                    cfg.isPortfolio ? "Held-out return, equal-weight buy & hold [%]" : "Held-out return, buy & hold [%]",
                    String(format: "%.4f", result.buyAndHoldPct)
                ),
            ])
        )
        if let universe = cfg.data.universe {
            print(
                "\nwrote RL bundle \(cfg.output) and \(reportPath); backtest it with: crocbot backtest --universe \(universe) --strategy rl_portfolio --param model=\(cfg.output)"
            )
        } else {
            print("\nwrote RL bundle \(cfg.output) and \(reportPath); backtest it with: crocbot backtest --strategy rl --param model=\(cfg.output)")
        }
    }
}

/// `crocbot evaluate`: score a bundle on data and backtest its strategy.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a trained bundle on data: prediction metrics and a backtest of its strategy.",
        discussion: """
            On a universe (--universe), the bundle scores every symbol at each date: IC and rank IC
            (mean, sd, ICIR, by year), quantile returns and the long-short spread, top-k hit rate
            and turnover, then a model_topk backtest; --predictions writes
            Time,Symbol,Score,ForwardReturn for every scored row.

            Examples:
              crocbot evaluate --model models/googl-gbdt --data Examples/data/GOOGL.csv --from 2016-12-01
              crocbot evaluate --model models/sp500-gbdt --universe Examples/data/SP500_10_CLOSE.csv --from 2015-01-01 --predictions preds.csv
            """
    )

    @Option(name: .long, help: "A universe instead of --data: a folder of CSV files, a wide CSV of closes, or a long CSV.")
    var universe: String?

    @Option(name: .long, help: "With --universe: only these symbols (comma-separated).")
    var symbols: String?

    @Option(name: .long, help: "With --universe: write Time,Symbol,Score,ForwardReturn for every scored row to this CSV.")
    var predictions: String?

    @Option(name: .long, help: "With --universe: symbols held by the model_topk backtest.")
    var top: Int = 3

    @Option(name: .long, help: "With --universe: holdings replaced at most per rebalance (0: any).")
    var dropout: Int = 0

    @Option(name: .long, help: "With --universe: bars between rebalances (default: the label horizon).")
    var rebalance: Int?

    @Option(name: .long, help: "With --universe: score quantiles.")
    var quantiles: Int = 5

    @Option(name: .long, help: "Bundle directory.")
    var model: String

    @Option(name: .long, help: "CSV data.")
    var data: String = DataConfig.defaultPath

    @Option(name: .long, help: "Only bars from this date (ISO-8601).")
    var from: String?

    @Option(name: .long, help: "Only bars before this date (ISO-8601).")
    var to: String?

    @Option(name: .long, help: "Enter long above this score.")
    var longAbove: Double?

    @Option(name: .long, help: "Exit a long below this score.")
    var exitBelow: Double?

    @Option(name: .long, help: "Starting cash for the backtest.")
    var cash: Double = 10_000

    @Option(name: .long, help: "Commission fraction for the backtest.")
    var commission: Double = 0.002

    @Option(name: .long, help: "HTML report path (default: evaluation.html in the bundle directory).")
    var report: String?

    func run() throws {
        try Wiring.reportingErrors {
            if universe != nil {
                try evaluateUniverse()
            } else {
                try evaluateSeries()
            }
        }
    }

    /// A bundle on one instrument: the model's metrics, a backtest of its decision rule, the report.
    private func evaluateSeries() throws {
        guard predictions == nil else { throw ValidationError("--predictions needs --universe (a cross-section to score)") }
        let bundle = try ModelBundle.load(from: model)
        let series = try TrainingPipeline.loadSeries(DataConfig(path: Wiring.packaged.resolve(data), start: from, end: to))
        let labelled = LabelledSeries(series: series, features: bundle.features, label: bundle.label)
        let rows = labelled.rows(0..<series.count)
        let ds = labelled.dataset(rows, scaler: bundle.scaler)
        let predictions = bundle.model.predict(batch: ds.x)
        let metrics = Evaluation.metrics(task: bundle.metadata.task, labels: ds.y, predictions: predictions)
        print(
            "Model \(bundle.metadata.name) v\(bundle.metadata.version) (\(bundle.metadata.kind.rawValue), trained on \(bundle.metadata.trainingRange.joined(separator: " to ")))"
        )
        print(evaluationTable(metrics.reduce(into: [:]) { $0["data.\($1.key)"] = $1.value }, task: bundle.metadata.task))
        let defaults = bundle.metadata.task == .regression ? DecisionRule(longAbove: 0, exitBelow: 0) : DecisionRule()
        let rule = DecisionRule(longAbove: longAbove ?? defaults.longAbove, exitBelow: exitBelow ?? defaults.exitBelow)
        let strategy = ModelDrivenStrategy(adapter: InferenceAdapter(bundle: bundle), rule: rule)
        let options = try BacktestOptions(BacktestSettings(cash: cash, commission: commission))
        let result = try Backtester.run(
            series: series,
            instrument: Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision),
            strategy: strategy,
            options: options
        )
        print("\nBacktest:")
        print(BacktestReport.table(result))
        let path = report ?? (model as NSString).appendingPathComponent("evaluation.html")
        let settings =
            "model: \(model)\ndata: \(data)\nfrom: \(from ?? "-")\nto: \(to ?? "-")\nrule: longAbove \(rule.longAbove), exitBelow \(rule.exitBelow)\ncash: \(cash)\ncommission: \(commission)"
        let html = EvaluationHTMLReport.render(
            bundle: bundle,
            labels: ds.y,
            predictions: predictions,
            metrics: metrics,
            backtest: result,
            configuration: settings
        )
        try Data(html.utf8).write(to: URL(fileURLWithPath: path))
        print("\nwrote \(path)")
    }
}

extension EvaluateCommand {
    /// A bundle on a universe: cross-sectional metrics, the predictions file, a `model_topk` backtest.
    func evaluateUniverse() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
        guard quantiles >= 2 else { throw ValidationError("--quantiles must be at least 2, got \(quantiles)") }
        if let rebalance, rebalance < 1 { throw ValidationError("--rebalance must be at least 1 bar, got \(rebalance)") }
        let bundle = try ModelBundle.load(from: model)
        let u = try TrainingPipeline.loadUniverse(DataConfig(start: from, end: to, universe: universe, symbols: symbols))
        guard top <= u.count else { throw ValidationError("--top \(top) is more than the universe's \(u.count) symbols") }
        // Write access first: an unwritable predictions path fails before any work.
        if let predictions {
            let folder = URL(fileURLWithPath: predictions).deletingLastPathComponent()
            guard (try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)) != nil,
                FileManager.default.createFile(atPath: predictions, contents: nil)
            else { throw ValidationError("--predictions \(predictions): cannot write there") }
        }
        let data = try LabelledPanel(universe: u, features: bundle.features, crossSection: bundle.crossSection ?? .none, label: bundle.label)
        if !data.excluded.isEmpty {
            print("warning: left out (history shorter than the warm-up plus the horizon): \(data.excluded.joined(separator: ", "))")
        }
        let rows = data.rows(0..<data.dates)
        let ds = data.dataset(rows, scaler: bundle.scaler)
        let scores = bundle.model.predict(batch: ds.x)
        let metrics = Evaluation.metrics(task: bundle.metadata.task, labels: ds.y, predictions: scores)
        print(
            "Model \(bundle.metadata.name) v\(bundle.metadata.version) (\(bundle.metadata.kind.rawValue), trained on \(bundle.metadata.trainingRange.joined(separator: " to "))) over \(data.universe.count) symbols x \(data.dates) dates"
        )
        print(evaluationTable(metrics.reduce(into: [:]) { $0["data.\($1.key)"] = $1.value }, task: bundle.metadata.task))
        let horizon = bundle.label.horizon
        let e = try FactorEvaluation.evaluate(
            times: data.universe.timestamps,
            scores: data.scores(rows, predictions: scores),
            forwardReturns: data.forwardReturns,
            quantiles: quantiles,
            topK: top,
            period: horizon
        )
        print("\nCross-sectional (\(horizon)-bar forward returns):")
        print(factorSummary(e, top: top, period: horizon))
        if let predictions {
            var text = "Time,Symbol,Score,ForwardReturn\n"
            for (k, r) in rows.enumerated() {
                let time = Timestamp(nanoseconds: data.universe.timestamps[r.t]).iso8601()
                text += "\(time),\(data.universe.symbols[r.s]),\(scores[k]),\(data.forwardReturns[r.t][r.s])\n"
            }
            do {
                try text.write(toFile: predictions, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("--predictions \(predictions): cannot write: \(error.localizedDescription)")
            }
            print("\nwrote \(rows.count) scored rows to \(predictions)")
        }
        let strategy = ModelTopKStrategy(
            adapter: InferenceAdapter(bundle: bundle, recordLatency: false),
            top: top,
            dropout: dropout,
            rebalance: rebalance ?? horizon
        )
        let options = try BacktestOptions(BacktestSettings(cash: cash, commission: commission))
        let instruments = try Backtester.instruments(for: data.universe, config: InstrumentConfig())
        let result = try Backtester.run(universe: data.universe, instruments: instruments, strategy: strategy, options: options)
        print("\nBacktest, model_topk top \(top), dropout \(dropout), every \(rebalance ?? horizon) bars:")
        print(BacktestReport.table(result))
        let path = report ?? (model as NSString).appendingPathComponent("evaluation.html")
        let settings =
            "model: \(model)\nuniverse: \(universe ?? "")\nfrom: \(from ?? "-")\nto: \(to ?? "-")\ntop: \(top)\ndropout: \(dropout)\ncash: \(cash)\ncommission: \(commission)"
        let html = FactorHTMLReport.render(bundle: bundle, factor: e, metrics: metrics, backtest: result, configuration: settings)
        do {
            try Data(html.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("--report \(path): cannot write: \(error.localizedDescription)")
        }
        print("\nwrote \(path)")
    }
}

/// The cross-sectional metrics of a panel training, by range.
func factorTable(_ metrics: [String: Double]) -> String {
    let names = ["ic_mean", "rank_ic_mean", "rank_icir", "topk_hit_rate", "spread_cumulative"]
    let ranges = ["train", "validation", "test", "data"].filter { r in metrics.keys.contains { $0.hasPrefix(r + ".ic_mean") } }
    var lines = ["metric".padding(toLength: 18, withPad: " ", startingAt: 0) + ranges.map { $0.leftPad(12) }.joined()]
    for n in names {
        lines.append(
            n.padding(toLength: 18, withPad: " ", startingAt: 0)
                + ranges.map { String(format: "%.4f", metrics["\($0).\(n)"] ?? .nan).leftPad(12) }.joined()
        )
    }
    return lines.joined(separator: "\n")
}

/// An alphalens-style summary of a factor evaluation.
func factorSummary(_ e: FactorEvaluation, top: Int, period: Int) -> String {
    func f(_ v: Double, _ d: Int = 4) -> String { v.isFinite ? String(format: "%.\(d)f", v) : "n/a" }
    let finite = e.spread.filter(\.isFinite)
    return [
        "IC       mean \(f(e.icSummary.mean))  sd \(f(e.icSummary.sd))  ICIR \(f(e.icSummary.ir))  dates \(e.icSummary.count)",
        "rank IC  mean \(f(e.rankICSummary.mean))  sd \(f(e.rankICSummary.sd))  ICIR \(f(e.rankICSummary.ir))  dates \(e.rankICSummary.count)",
        "rank IC by year: " + e.rankICByYear.map { "\($0.year) \(f($0.mean, 3))" }.joined(separator: ", "),
        "quantile mean demeaned returns [%], bottom first: " + e.quantileMeanReturns.map { f($0 * 100, 3) }.joined(separator: "  "),
        "long-short spread: mean per date \(f(finite.reduce(0, +) / Double(max(1, finite.count)) * 100, 3)) %, "
            + "compounded over non-overlapping \(period)-bar periods \(f((e.cumulativeSpread.last ?? 0) * 100, 2)) %",
        "top-\(top): hit rate \(f(e.topKHitRate, 3)), turnover \(f(e.topKTurnover, 3))",
    ].joined(separator: "\n")
}

/// Metrics as a table: rows by metric, columns by range.
func evaluationTable(_ metrics: [String: Double], task: ModelTask) -> String {
    let names =
        task == .binaryClassification
        ? ["rows", "accuracy", "precision", "recall", "auc", "log_loss", "base_rate"]
        : ["rows", "rmse", "mae", "r2", "ic"]
    let ranges = ["train", "validation", "test", "data"].filter { r in metrics.keys.contains { $0.hasPrefix(r + ".") } }
    var lines = ["metric".padding(toLength: 12, withPad: " ", startingAt: 0) + ranges.map { $0.leftPad(12) }.joined()]
    for n in names {
        var line = n.padding(toLength: 12, withPad: " ", startingAt: 0)
        for r in ranges {
            let v = metrics["\(r).\(n)"] ?? .nan
            line += (n == "rows" ? String(Int(v.isNaN ? 0 : v)) : String(format: "%.4f", v)).leftPad(12)
        }
        lines.append(line)
    }
    return lines.joined(separator: "\n")
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? " " + self : String(repeating: " ", count: width - count) + self }
}
