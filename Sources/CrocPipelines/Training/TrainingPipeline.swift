import CrocCore
import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import Foundation

/// Time-ordered row ranges with purge gaps: labels of one range never look
/// into the next (a row's label needs `horizon` bars ahead, and the last
/// `purge ≥ horizon` rows before each boundary are dropped).
public struct TimeSplit: Sendable, Hashable {
    /// Training rows.
    public var train: Range<Int>
    /// Validation rows.
    public var validation: Range<Int>
    /// Test rows.
    public var test: Range<Int>

    /// Splits the labelled rows `warmup ..< bars − horizon` by fractions.
    public static func make(bars: Int, warmup: Int, horizon: Int, purge: Int, train: Double, validation: Double) -> TimeSplit {
        let first = warmup
        let last = max(first, bars - horizon)  // rows with a label
        let count = last - first
        let a = first + Int(Double(count) * train)
        let b = a + Int(Double(count) * validation)
        return TimeSplit(
            train: first..<max(first, a - purge),
            validation: min(a, last)..<max(min(a, last), b - purge),
            test: min(b, last)..<last
        )
    }

    /// Rolling or expanding walk-forward windows of `trainSize` (or growing)
    /// training rows followed by `testSize` test rows, purged.
    public static func walkForward(
        bars: Int,
        warmup: Int,
        horizon: Int,
        purge: Int,
        trainSize: Int,
        testSize: Int,
        expanding: Bool
    ) -> [(train: Range<Int>, test: Range<Int>)] {
        var out: [(Range<Int>, Range<Int>)] = []
        let last = bars - horizon
        var testStart = warmup + trainSize
        while testStart + testSize <= last {
            let trainStart = expanding ? warmup : testStart - trainSize
            out.append((trainStart..<(testStart - purge), testStart..<(testStart + testSize)))
            testStart += testSize
        }
        return out
    }
}

/// Features and labels of a whole series, ready to be cut into data sets.
public struct LabelledSeries: Sendable {
    /// The bars.
    public let series: BarSeries
    /// The feature matrix (all bars).
    public let features: FeatureMatrix
    /// The label of each bar (NaN when the horizon runs past the data).
    public let labels: [Double]
    /// The pipeline's warm-up.
    public let warmup: Int

    /// Computes features and labels.
    public init(series: BarSeries, features definition: FeaturePipelineDefinition, label: LabelDefinition) {
        let pipeline = FeaturePipeline(definition)
        self.series = series
        self.features = pipeline.transform(series)
        self.labels = series.indices.map { label.label(series.close, at: $0) ?? .nan }
        self.warmup = pipeline.warmup
    }

    /// The rows of `range` that have every feature and a label.
    public func rows(_ range: Range<Int>) -> [Int] {
        range.clamped(to: 0..<series.count).filter { i in
            !labels[i].isNaN && (0..<features.columns).allSatisfy { !features[i, $0].isNaN }
        }
    }

    /// A data set of `rows`, features scaled by `scaler`.
    public func dataset(_ rows: [Int], scaler: FeatureScaler) -> Dataset {
        var values = [Double]()
        values.reserveCapacity(rows.count * features.columns)
        var v = [Double](repeating: 0, count: features.columns)
        for i in rows {
            for j in 0..<features.columns { v[j] = features[i, j] }
            scaler.transform(&v)
            values.append(contentsOf: v)
        }
        return Dataset(x: Matrix(rows: rows.count, columns: features.columns, values: values), y: rows.map { labels[$0] })
    }

    /// A scaler of `kind` fitted on `rows` only.
    /// - Throws: `ScalerError` when there is nothing to fit on.
    public func fitScaler(_ kind: String, rows: [Int]) throws -> FeatureScaler {
        guard kind != "none" else { return .none }
        let m = subMatrix(rows)
        return kind == "minmax" ? .minMax(try MinMaxScaler.fit(m)) : .standard(try StandardScaler.fit(m))
    }

    func subMatrix(_ rows: [Int]) -> FeatureMatrix {
        var values = [Double](repeating: 0, count: rows.count * features.columns)
        for j in 0..<features.columns {
            for (k, i) in rows.enumerated() { values[j * rows.count + k] = features[i, j] }
        }
        return FeatureMatrix(rows: rows.count, columnNames: features.columnNames, timestamps: rows.map { series.timestamps[$0] }, values: values)
    }
}

/// Classifier or regressor metrics of predictions against labels.
public enum Evaluation {
    /// Metrics by name (`accuracy`, `precision`, `recall`, `auc`, `log_loss`, or
    /// `rmse`, `mae`, `r2`, `ic`), plus `rows`.
    public static func metrics(task: ModelTask, labels y: [Double], predictions p: [Double]) -> [String: Double] {
        var m: [String: Double] = ["rows": Double(y.count)]
        guard !y.isEmpty else { return m }
        switch task {
        case .binaryClassification:
            m["accuracy"] = Metrics.accuracy(y, p)
            let pr = Metrics.precisionRecall(y, p)
            m["precision"] = pr.precision
            m["recall"] = pr.recall
            m["auc"] = Metrics.rocAUC(y, p)
            m["log_loss"] = Metrics.logLoss(y, p)
            m["base_rate"] = y.reduce(0, +) / Double(y.count)
        case .regression:
            m["rmse"] = Metrics.rmse(y, p)
            m["mae"] = Metrics.mae(y, p)
            m["r2"] = Metrics.r2(y, p)
            m["ic"] = Metrics.informationCoefficient(y, p)
        }
        return m
    }
}

/// What `TrainingPipeline.run` produced.
public struct TrainingResult: Sendable {
    /// The saved bundle.
    public var bundle: ModelBundle
    /// The split used.
    public var split: TimeSplit
    /// Metrics on the train, validation and test rows (`train.accuracy`, ...).
    public var metrics: [String: Double]
    /// The model strategy's backtest over the test range.
    public var testBacktest: BacktestResult
    /// Buy-and-hold return over the same range, %.
    public var testBuyAndHoldPct: Double
    /// Labels of the test rows.
    public var testLabels: [Double]
    /// The model's scores on the test rows.
    public var testPredictions: [Double]
}

/// Offline training: dataset → split → scaler (train rows only) → fit →
/// evaluate → backtest on the test range → bundle.
public enum TrainingPipeline {
    /// Runs the whole flow and saves the bundle to `config.output`.
    /// - Parameter progress: (step, total, loss) from the learner.
    /// - Throws: data, configuration, fitting or bundle errors.
    public static func run(_ config: TrainingConfig, progress: ((Int, Int, Double) -> Void)? = nil) throws -> TrainingResult {
        let series = try loadSeries(config.data)
        let data = LabelledSeries(series: series, features: config.features, label: config.label)
        let split = TimeSplit.make(
            bars: series.count,
            warmup: data.warmup,
            horizon: config.label.horizon,
            purge: config.purge,
            train: config.trainFraction,
            validation: config.validationFraction
        )
        let trainRows = data.rows(split.train)
        guard trainRows.count >= 20 else {
            throw ModelError(.invalidData, "only \(trainRows.count) training rows after warm-up (\(data.warmup) bars) and purging; need more data")
        }
        let scaler = try data.fitScaler(config.scaler, rows: trainRows)
        let train = data.dataset(trainRows, scaler: scaler)
        let model = try ModelFactory.fit(
            kind: config.modelKind,
            task: config.label.task,
            data: train,
            hyperparameters: config.modelParameters,
            progress: progress
        )
        var metrics: [String: Double] = [:]
        var testLabels: [Double] = []
        var testPredictions: [Double] = []
        for (name, range) in [("train", split.train), ("validation", split.validation), ("test", split.test)] {
            let rows = data.rows(range)
            let ds = data.dataset(rows, scaler: scaler)
            let predictions = model.predict(batch: ds.x)
            for (k, v) in Evaluation.metrics(task: config.label.task, labels: ds.y, predictions: predictions) {
                metrics["\(name).\(k)"] = v
            }
            if name == "test" {
                testLabels = ds.y
                testPredictions = predictions
            }
        }
        let first = Timestamp(nanoseconds: series.timestamps[trainRows.first!]).iso8601()
        let last = Timestamp(nanoseconds: series.timestamps[trainRows.last!]).iso8601()
        let bundle = ModelBundle(
            metadata: ModelMetadata(
                name: config.name,
                version: config.version,
                kind: config.modelKind,
                task: config.label.task,
                symbol: series.symbol,
                trainingRange: [first, last],
                metrics: metrics,
                hyperparameters: config.modelParameters
            ),
            features: config.features,
            scaler: scaler,
            label: config.label,
            model: model
        )
        // Trade the test range: start `warmup` bars earlier so features are warm at its first bar.
        let start = max(0, split.test.lowerBound - data.warmup)
        let testSeries = series.slice(start..<series.count)
        let strategy = ModelDrivenStrategy(adapter: InferenceAdapter(bundle: bundle, recordLatency: false), rule: config.rule)
        let options = try BacktestOptions(config.backtest)
        let instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision)
        let result = try Backtester.run(series: testSeries, instrument: instrument, strategy: strategy, options: options)
        var finalBundle = bundle
        finalBundle.metadata.metrics["test.backtest_return_pct"] = result.statistics.returnPct
        finalBundle.metadata.metrics["test.backtest_sharpe"] = result.statistics.sharpeRatio
        try finalBundle.save(to: config.output)
        let c0 = series.close[split.test.lowerBound]
        let c1 = series.close[series.count - 1]
        return TrainingResult(
            bundle: finalBundle,
            split: split,
            metrics: metrics,
            testBacktest: result,
            testBuyAndHoldPct: (c1 - c0) / c0 * 100,
            testLabels: testLabels,
            testPredictions: testPredictions
        )
    }

    /// Loads the configured data, restricted to `start`/`end` when set.
    /// - Throws: `CSVError` or `ConfigError`.
    public static func loadSeries(_ data: DataConfig) throws -> BarSeries {
        try loadSeriesNoting(data).series
    }

    /// `loadSeries`, with what the cache did (nil when `data.cache` is off).
    /// - Parameter background: Write a new cache entry on another thread (`UniverseCache.waitForWrites()`
    ///   before the process exits).
    public static func loadSeriesNoting(_ data: DataConfig, background: Bool = false) throws -> (series: BarSeries, cache: UniverseCache.Outcome?) {
        guard let format = TimestampFormat(configValue: data.timestampFormat) else {
            throw ConfigError(.invalidValue, keyPath: "data.timestampFormat", rule: "use auto, epoch_s, epoch_ms or a %-pattern")
        }
        let options = CSVOptions(delimiter: data.delimiter.utf8.first ?? UInt8(ascii: ","), timestampFormat: format, symbol: data.symbol)
        let series: BarSeries
        let outcome: UniverseCache.Outcome?
        if let cache = dataCache(data) {
            (series, outcome) = try cache.loadSeries(path: data.path, options: options, background: background)
        } else {
            (series, outcome) = (try CSVBarLoader.load(path: data.path, options: options), nil)
        }
        return (try restrict(series, start: data.start, end: data.end), outcome)
    }

    /// Loads the universe a data section names (`universe`, `symbols`, `start`, `end`).
    /// - Throws: `UniverseError` naming the file and line, or `ConfigError`.
    public static func loadUniverse(_ data: DataConfig) throws -> Universe {
        try loadUniverseNoting(data).universe
    }

    /// `loadUniverse`, with what the data cache did (nil when `data.cache` is off).
    /// - Parameter background: Write a new cache entry on another thread (`UniverseCache.waitForWrites()`
    ///   before the process exits).
    public static func loadUniverseNoting(
        _ data: DataConfig,
        background: Bool = false
    ) throws -> (
        universe: Universe, cache: UniverseCache.Outcome?
    ) {
        guard let path = data.universe else { throw ConfigError(.invalidValue, keyPath: "data.universe", rule: "not set") }
        guard let format = TimestampFormat(configValue: data.timestampFormat) else {
            throw ConfigError(
                .invalidValue,
                keyPath: "data.timestampFormat",
                rule: "use auto, epoch_s, epoch_ms or a %-pattern, found '\(data.timestampFormat)'"
            )
        }
        let options = CSVOptions(delimiter: data.delimiter.utf8.first ?? UInt8(ascii: ","), timestampFormat: format)
        let loaded: Universe
        let outcome: UniverseCache.Outcome?
        if let cache = dataCache(data) {
            (loaded, outcome) = try cache.load(path: path, symbols: data.symbolList, options: options, background: background)
        } else {
            (loaded, outcome) = (try UniverseLoader.load(path: path, symbols: data.symbolList, options: options), nil)
        }
        return (try restrict(loaded, start: data.start, end: data.end), outcome)
    }

    /// The cache `data.cache` names: nil for `off`, or for `auto` where the environment names
    /// no home or cache folder.
    public static func dataCache(_ data: DataConfig) -> UniverseCache? {
        switch data.cache {
        case "off": return nil
        case "auto": return UniverseCache.defaultDirectory().map { UniverseCache(directory: $0) }
        default: return UniverseCache(directory: data.cache)
        }
    }

    /// `data.start` and `data.end` as times (ns), unbounded where unset.
    /// - Throws: `ConfigError` naming the key of a date that does not parse.
    static func timeRange(start: String?, end: String?) throws -> (lo: Int64, hi: Int64) {
        func time(_ s: String, _ key: String) throws -> Int64 {
            guard let t = try? CSVBarLoader.parse(text: "date,open,high,low,close\n\(s),1,1,1,1\n").timestamps.first else {
                throw ConfigError(.invalidValue, keyPath: key, rule: "not an ISO-8601 date or date-time: '\(s)'")
            }
            return t
        }
        return (try start.map { try time($0, "data.start") } ?? .min, try end.map { try time($0, "data.end") } ?? .max)
    }

    /// `restrict` for every member of a universe: members with no bar in the range are left
    /// out (listed after it or ended before it).
    /// - Throws: `ConfigError` for a bad date, or when no member has a bar in the range.
    public static func restrict(_ universe: Universe, start: String?, end: String?) throws -> Universe {
        guard start != nil || end != nil else { return universe }
        let (lo, hi) = try timeRange(start: start, end: end)
        let cut: Result<Universe, UniverseError> = Result { () throws(UniverseError) in try universe.within(lo..<hi, place: "data.start") }
        if case .failure(.noSymbols) = cut {
            throw ConfigError(
                .invalidValue,
                keyPath: "data.start",
                rule: "no symbol has bars between \(start ?? "the start") and \(end ?? "the end")"
            )
        }
        return try cut.get()
    }

    /// The bars of `series` in [start, end).
    /// - Throws: `ConfigError` for an unparseable date or an empty result.
    public static func restrict(_ series: BarSeries, start: String?, end: String?) throws -> BarSeries {
        guard start != nil || end != nil else { return series }
        let (lo, hi) = try timeRange(start: start, end: end)
        let a = series.timestamps.firstIndex { $0 >= lo } ?? series.count
        let b = series.timestamps.firstIndex { $0 >= hi } ?? series.count
        guard a < b else {
            throw ConfigError(.invalidValue, keyPath: "data.start", rule: "no bars between \(start ?? "the start") and \(end ?? "the end")")
        }
        return series.slice(a..<b)
    }
}
