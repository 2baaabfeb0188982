import CrocCore
import CrocData
import CrocModels
import CrocSupport

/// One walk-forward window's outcome.
public struct WalkForwardWindow: Sendable {
    /// Training rows (purged before the test rows).
    public var train: Range<Int>
    /// Test rows.
    public var test: Range<Int>
    /// Metrics on the test rows.
    public var metrics: [String: Double]
}

/// What `WalkForward.run` produced.
public struct WalkForwardResult: Sendable {
    /// Per-window results, in time order.
    public var windows: [WalkForwardWindow]
    /// Metrics over all out-of-sample predictions stitched together.
    public var outOfSample: [String: Double]
    /// The stitched out-of-sample rows and their predictions.
    public var predictions: [(row: Int, score: Double)]
}

/// Walk-forward evaluation: for each window, fit the scaler and the model
/// on its training rows only, then predict the following test rows.
public enum WalkForward {
    /// Runs rolling (`expanding == false`) or expanding windows.
    /// - Throws: fitting errors.
    public static func run(
        _ data: LabelledSeries,
        config: TrainingConfig,
        trainSize: Int,
        testSize: Int,
        expanding: Bool,
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> WalkForwardResult {
        let windows = TimeSplit.walkForward(
            bars: data.series.count,
            warmup: data.warmup,
            horizon: config.label.horizon,
            purge: config.purge,
            trainSize: trainSize,
            testSize: testSize,
            expanding: expanding
        )
        guard !windows.isEmpty else {
            throw ModelError(.invalidData, "no walk-forward window fits: \(data.series.count) bars, train \(trainSize), test \(testSize)")
        }
        var results: [WalkForwardWindow] = []
        var stitched: [(Int, Double)] = []
        for (k, w) in windows.enumerated() {
            let trainRows = data.rows(w.train)
            let scaler = try data.fitScaler(config.scaler, rows: trainRows)
            let model = try ModelFactory.fit(
                kind: config.modelKind,
                task: config.label.task,
                data: data.dataset(trainRows, scaler: scaler),
                hyperparameters: config.modelParameters
            )
            let testRows = data.rows(w.test)
            let test = data.dataset(testRows, scaler: scaler)
            let p = model.predict(batch: test.x)
            results.append(
                WalkForwardWindow(train: w.train, test: w.test, metrics: Evaluation.metrics(task: config.label.task, labels: test.y, predictions: p))
            )
            stitched += zip(testRows, p).map { ($0, $1) }
            progress?(k + 1, windows.count)
        }
        let y = stitched.map { data.labels[$0.0] }
        return WalkForwardResult(
            windows: results,
            outOfSample: Evaluation.metrics(task: config.label.task, labels: y, predictions: stitched.map(\.1)),
            predictions: stitched
        )
    }
}

/// Online training: as bars arrive, retrain every `every` bars on the most
/// recent `window` rows whose labels are already known (a label needs
/// `horizon` later bars, so at bar t only rows ≤ t − horizon are used).
public struct OnlineRetrainer: Sendable {
    /// The configuration (features, label, scaler, model).
    public let config: TrainingConfig
    /// Bars between retrains.
    public let every: Int
    /// Labelled rows used per retrain.
    public let window: Int
    private var bars: [Bar] = []
    private var sinceRetrain = 0
    /// The latest model, once one could be trained.
    public private(set) var bundle: ModelBundle?
    /// Retrains done.
    public private(set) var retrainCount = 0
    /// Index of the last bar whose label the latest model was trained on.
    public private(set) var lastLabelledBar = -1

    /// Creates a retrainer.
    public init(config: TrainingConfig, every: Int, window: Int) {
        self.config = config
        self.every = max(1, every)
        self.window = max(10, window)
    }

    /// Adds a bar; retrains when the schedule says so.
    /// - Returns: true when a new model was trained on this bar.
    /// - Throws: fitting errors.
    @discardableResult
    public mutating func add(_ bar: Bar) throws -> Bool {
        bars.append(bar)
        sinceRetrain += 1
        guard sinceRetrain >= every else { return false }
        let series = try BarSeries(symbol: "online", bars: bars)
        let data = LabelledSeries(series: series, features: config.features, label: config.label)
        // Rows whose label is known now: t + horizon ≤ last bar.
        let lastKnown = series.count - 1 - config.label.horizon
        guard lastKnown >= data.warmup else { return false }
        let rows = data.rows(max(data.warmup, lastKnown - window + 1)..<(lastKnown + 1))
        guard rows.count >= 10, Set(rows.map { data.labels[$0] }).count > 1 || config.label.task == .regression else { return false }
        let scaler = try data.fitScaler(config.scaler, rows: rows)
        let model = try ModelFactory.fit(
            kind: config.modelKind,
            task: config.label.task,
            data: data.dataset(rows, scaler: scaler),
            hyperparameters: config.modelParameters
        )
        bundle = ModelBundle(
            metadata: ModelMetadata(
                name: config.name,
                version: "\(config.version)+online.\(retrainCount + 1)",
                kind: config.modelKind,
                task: config.label.task
            ),
            features: config.features,
            scaler: scaler,
            label: config.label,
            model: model
        )
        retrainCount += 1
        lastLabelledBar = rows.last!
        sinceRetrain = 0
        return true
    }
}
