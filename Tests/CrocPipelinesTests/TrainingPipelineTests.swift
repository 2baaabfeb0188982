import CrocCore
import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

@Suite("Training pipeline")
struct TrainingPipelineTests {
    @Test("splits are time-ordered and purged: no training label reaches a later range")
    func purge() {
        let s = TimeSplit.make(bars: 1000, warmup: 50, horizon: 5, purge: 5, train: 0.6, validation: 0.2)
        #expect(s.train.lowerBound == 50)
        #expect(s.train.upperBound - 1 + 5 < s.validation.lowerBound)  // last train label's bar is before validation
        #expect(s.validation.upperBound - 1 + 5 < s.test.lowerBound)
        #expect(s.test.upperBound == 995)
        for (train, test) in TimeSplit.walkForward(bars: 1000, warmup: 50, horizon: 5, purge: 5, trainSize: 300, testSize: 100, expanding: false) {
            #expect(train.upperBound - 1 + 5 < test.lowerBound)
            #expect(train.count == 295)
        }
        #expect(
            TimeSplit.walkForward(bars: 1000, warmup: 50, horizon: 5, purge: 5, trainSize: 300, testSize: 100, expanding: true).last?.train.lowerBound
                == 50
        )
    }

    @Test("labels and the scaler of the training range never see test-range data")
    func noLookAhead() throws {
        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)
        let def = try FeaturePipelineDefinition.parse(text: "[{name: r, indicator: returns}, {name: z, indicator: zscore, params: {period: 10}}]")
        let label = LabelDefinition(kind: .sign, horizon: 5)
        let split = TimeSplit.make(bars: series.count, warmup: 10, horizon: 5, purge: 5, train: 0.6, validation: 0.2)
        let original = LabelledSeries(series: series, features: def, label: label)
        // Plant a wild change in every bar after the training range: training labels and the
        // scaler fitted on training rows must come out exactly the same.
        var bars = (0..<series.count).map { series[$0] }
        for i in split.train.upperBound + 5..<bars.count {
            bars[i].open *= 3
            bars[i].high *= 3
            bars[i].low *= 3
            bars[i].close *= 3
        }
        let tampered = LabelledSeries(series: try BarSeries(symbol: "X", bars: bars), features: def, label: label)
        let rows = original.rows(split.train)
        #expect(rows == tampered.rows(split.train))
        #expect(rows.map { original.labels[$0] } == rows.map { tampered.labels[$0] })
        #expect(try original.fitScaler("standard", rows: rows) == tampered.fitScaler("standard", rows: rows))
        #expect(original.dataset(rows, scaler: .none).x == tampered.dataset(rows, scaler: .none).x)
        // ...whereas the rows inside the purge gap do see the tampered prices: without the
        // purge, those labels (here as forward-return values) would have leaked into training.
        let value = LabelDefinition(kind: .value, horizon: 5)
        let gap = (split.train.upperBound..<(split.train.upperBound + 5))
        let tamperedSeries = try BarSeries(symbol: "X", bars: bars)
        for i in gap { #expect(value.label(series.close, at: i) != value.label(tamperedSeries.close, at: i)) }
    }

    @Test("train → bundle → model strategy: the example config runs end to end")
    func endToEnd() throws {
        let yaml = """
            name: e2e
            data: {path: \(repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)}
            features: [{name: r, indicator: returns, lags: [1, 2]}, {name: rsi, indicator: rsi}, {name: z, indicator: zscore, params: {period: 20}}]
            label: {kind: sign, horizon: 5}
            model: {kind: gbdt, params: {rounds: 20, maxLeaves: 7, minSamplesLeaf: 40}}
            rule: {longAbove: 0.5, exitBelow: 0.5}
            output: \(testTemporaryURL().appendingPathComponent("croc-e2e-\(UUID().uuidString)").path)
            """
        let config = try TrainingConfig(try AppConfig.parse(text: yaml))
        var steps = 0
        let result = try TrainingPipeline.run(config) { step, total, _ in
            steps = step
            #expect(total == 20)
        }
        #expect(steps == 20)
        let report = TrainingHTMLReport.render(result, learningCurve: [(1, 0.69), (20, 0.6)], configuration: yaml)
        for id in ["learning-curve", "confusion", "roc", "feature-importance"] { #expect(report.contains("data-chart=\"\(id)\"")) }
        #expect(!report.contains("https://") && report.contains("test.auc"))
        #expect(result.testLabels.count == result.testPredictions.count && result.testLabels.count == Int(result.metrics["test.rows"]!))
        #expect(result.metrics["test.rows"]! > 300)
        #expect(result.metrics["train.auc"]! > 0.5)
        #expect(result.testBacktest.trades.count > 0)
        // The saved bundle drives the registered `model` strategy in a plain backtest.
        let strategy = try StrategyFactory.standard.make("model", parameters: ["model": .string(config.output), "longAbove": .double(0.5)])
        #expect(strategy.name == "model(e2e)")
        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)
        let run = try Backtester.run(
            series: series,
            instrument: Instrument(symbol: "GOOGL", pricePrecision: 6),
            strategy: strategy,
            options: BacktestOptions(cash: FixedPoint(10_000), fees: FeeModel(commissionRate: FixedPoint("0.002")!))
        )
        #expect(run.trades.count > 0)
        // The evaluation report of the same bundle on the same data.
        let evaluation = EvaluationHTMLReport.render(
            bundle: result.bundle,
            labels: result.testLabels,
            predictions: result.testPredictions,
            metrics: ["auc": result.metrics["test.auc"]!, "rows": result.metrics["test.rows"]!],
            backtest: run,
            configuration: "model: e2e"
        )
        for id in ["confusion", "roc", "feature-importance", "equity"] { #expect(evaluation.contains("data-chart=\"\(id)\""), "missing \(id)") }
        #expect(evaluation.contains(String(format: "%.5f", result.metrics["test.auc"]!)))
        #expect(!evaluation.contains("https://") && evaluation.contains("model: e2e") && evaluation.hasSuffix("</html>"))
        let missing = #expect(throws: StrategyError.self) {
            try StrategyFactory.standard.make("model", parameters: ["model": .string("/nonexistent")])
        }
        #expect(missing?.keyPath == "strategy.params.model")
    }

    @Test(
        "training config errors name the key path",
        arguments: [
            ("model: {kind: forest}", "model.kind"),
            ("label: {horizon: 0}", "label.horizon"),
            ("split: {train: 0.9, validation: 0.2}", "split.train"),
            ("split: {purge: 1}", "split.purge"),
            ("scaler: robust", "scaler"),
            ("rules: {}", "rules"),
        ]
    )
    func configErrors(yaml: String, path: String) {
        let e = #expect(throws: ConfigError.self) { try TrainingConfig(try AppConfig.parse(text: yaml)) }
        #expect(e?.keyPath == path)
    }
}

@Suite("ModelDrivenStrategy")
struct ModelDrivenStrategyTests {
    /// A model whose score is its first feature (the bar's return), through the identity scaler.
    struct Echo: Model {
        var kind: ModelKind { .ridge }
        var task: ModelTask { .regression }
        var inputWidth: Int { 1 }
        func predict(_ x: UnsafeBufferPointer<Double>) -> Double { x[0] }
        func encodeWeights() -> [UInt8] { [] }
    }

    @Test("enters above the long threshold, exits below the exit threshold, waits out the cooldown")
    func rule() throws {
        let def = try FeaturePipelineDefinition.parse(text: "[{name: r, indicator: returns}]")
        let bundle = ModelBundle(
            metadata: ModelMetadata(name: "echo", kind: .ridge, task: .regression),
            features: def,
            scaler: .none,
            label: LabelDefinition(kind: .value),
            model: Echo()
        )
        var s = ModelDrivenStrategy(adapter: InferenceAdapter(bundle: bundle), rule: DecisionRule(longAbove: 0.01, exitBelow: -0.01, cooldownBars: 2))
        #expect(s.warmupBars == 1)
        var ctx = StrategyContext(instrument: Instrument(symbol: "X"), fees: .free)
        let closes: [Double] = [100, 102, 103, 100, 101, 103, 106, 107]
        var actions: [String] = []
        for (i, c) in closes.enumerated() {
            ctx.barIndex = i
            s.onBar(Bar(timestamp: Timestamp(seconds: Int64(i)), open: c, high: c, low: c, close: c, volume: 1), context: &ctx)
            for case .submit(let o) in ctx.commands {
                actions.append("\(i):\(o.side.rawValue)")
                ctx.position = o.side == .buy ? FixedPoint(10) : .zero  // fill at once for the test
            }
            ctx.commands.removeAll()
        }
        // +2% at bar 1 → buy; −2.9% at bar 3 → sell; cooldown skips bars 4-5; +2.9% at bar 6 → buy.
        #expect(actions == ["1:buy", "3:sell", "6:buy"])
    }
}

@Suite("Walk-forward and online training")
struct WalkForwardTests {
    static let yaml = """
        features: [{name: r, indicator: returns, lags: [1]}, {name: z, indicator: zscore, params: {period: 10}}]
        label: {kind: sign, horizon: 3}
        model: {kind: logistic, params: {c: 1}}
        """

    @Test("each window fits on its own past only; out-of-sample predictions cover every test row once")
    func walkForward() throws {
        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)
        let config = try TrainingConfig(try AppConfig.parse(text: Self.yaml))
        let data = LabelledSeries(series: series, features: config.features, label: config.label)
        let result = try WalkForward.run(data, config: config, trainSize: 500, testSize: 250, expanding: false)
        #expect(result.windows.count == (series.count - 3 - data.warmup - 500) / 250)
        for w in result.windows { #expect(w.train.upperBound + 3 <= w.test.lowerBound) }
        let rows = result.predictions.map(\.row)
        #expect(rows == rows.sorted() && Set(rows).count == rows.count)
        #expect(result.outOfSample["rows"] == Double(rows.count))
        #expect(result.outOfSample["auc"] != nil)
    }

    @Test("online retraining runs on schedule and only on labels that are already known")
    func online() throws {
        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)
        let config = try TrainingConfig(try AppConfig.parse(text: Self.yaml))
        var retrainer = OnlineRetrainer(config: config, every: 100, window: 300)
        var retrainedAt: [Int] = []
        for i in 0..<600 where try retrainer.add(series[i]) {
            retrainedAt.append(i)
            // Trained at bar i: the newest label used needs bar lastLabelledBar + 3 ≤ i.
            #expect(retrainer.lastLabelledBar + 3 <= i)
        }
        #expect(retrainedAt == [99, 199, 299, 399, 499, 599])
        #expect(retrainer.bundle?.metadata.version == "1+online.6")
    }
}
