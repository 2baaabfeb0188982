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
        try reportingErrors {
            let text = try String(contentsOfFile: config, encoding: .utf8)
            let tree = try AppConfig.parse(text: text, source: config)
            if RLTrainingConfig.isRL(tree) {
                try trainRL(tree)
                return
            }
            var cfg = try TrainingConfig.load(path: config)
            if let output { cfg.output = output }
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
}

extension TrainCommand {
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
                ("Held-out return, buy & hold [%]", String(format: "%.4f", result.buyAndHoldPct)),
            ])
        )
        print("\nwrote RL bundle \(cfg.output) and \(reportPath); backtest it with: crocbot backtest --strategy rl --param model=\(cfg.output)")
    }
}

/// `crocbot evaluate`: score a bundle on data and backtest its strategy.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a trained bundle on data: prediction metrics and a backtest of its strategy.",
        discussion: """
            Examples:
              crocbot evaluate --model models/googl-gbdt --data Examples/data/GOOGL.csv --from 2016-12-01
            """
    )

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
        try reportingErrors {
            let bundle = try ModelBundle.load(from: model)
            let series = try TrainingPipeline.loadSeries(DataConfig(path: data, start: from, end: to))
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
