import CrocCore
import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import Foundation

/// Why a universe cannot be made into training or evaluation rows, naming the place.
public struct PanelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config key or option concerned (`label.horizon`, `features`, `--model`).
    public var place: String
    /// Why.
    public var rule: String

    /// Creates an error.
    public init(_ place: String, _ rule: String) {
        self.place = place
        self.rule = rule
    }

    /// `place: rule`.
    public var description: String { "\(place): \(rule)" }
}

/// Features and labels of a universe as one panel, ready to be cut into data
/// sets: the feature pipeline per symbol (`FeaturePanel`), the bundle's
/// cross-sectional transform of every column at each date, and labels from
/// each symbol's forward return over `horizon` of its own bars (optionally
/// ranked or demeaned across the symbols at each date).
///
/// A row is a (date, symbol) with every feature and the label finite; rows
/// are ordered by date, then by symbol. Each row also knows the date its label
/// ends (`labelEnd`), so training rows can be cut where their labels stop short
/// of the next range even for a symbol with gaps in its calendar.
public struct LabelledPanel: Sendable {
    /// The universe (members whose history is too short for the warm-up left out).
    public let universe: Universe
    /// The features, transformed across symbols.
    public let panel: FeaturePanel
    /// The label at `[t][s]` (NaN where none).
    public let labels: [[Double]]
    /// The raw forward return at `[t][s]` (NaN where none), for IC and quantile returns.
    public let forwardReturns: [[Double]]
    /// The union-calendar row at which the label of `[t][s]` ends (−1 where none).
    public let labelEnd: [[Int32]]
    /// The pipeline's warm-up (bars).
    public let warmup: Int
    /// Members left out: fewer bars than the warm-up plus the horizon.
    public let excluded: [String]

    /// Computes features and labels.
    /// - Throws: `PanelError` for a horizon beyond the data, features the universe cannot
    ///   provide (volume on close-only data), or no member long enough to be labelled.
    public init(
        universe full: Universe,
        features definition: FeaturePipelineDefinition,
        crossSection: CrossSectionTransform,
        label: LabelDefinition
    ) throws(PanelError) {
        let pipeline = FeaturePipeline(definition)
        guard label.horizon < full.timestamps.count else {
            throw PanelError("label.horizon", "\(label.horizon) bars reaches beyond the data (\(full.timestamps.count) dates)")
        }
        try Self.checkFields(definition, universe: full)
        let need = pipeline.warmup + label.horizon + 1
        let short = full.members.filter { $0.count < need }.map(\.symbol)
        let kept = full.symbols.filter { !short.contains($0) }
        guard !kept.isEmpty else {
            throw PanelError(
                "data.universe",
                "no symbol has the \(need) bars the warm-up (\(pipeline.warmup)) and the horizon (\(label.horizon)) need"
            )
        }
        let universe: Universe
        do {
            universe = short.isEmpty ? full : try full.selecting(kept)
        } catch {
            throw PanelError("data.universe", error.description)
        }
        var panel = FeaturePanel(universe: universe, pipeline: pipeline)
        panel.transformAll(crossSection)
        let rows = universe.timestamps.count
        let n = universe.count
        var forward = [[Double]](repeating: [Double](repeating: .nan, count: n), count: rows)
        var ends = [[Int32]](repeating: [Int32](repeating: -1, count: n), count: rows)
        for (s, m) in universe.members.enumerated() {
            // The member's rows of the union calendar, in order.
            var rowOf = [Int](repeating: 0, count: m.count)
            var t = 0
            for i in 0..<m.count {
                while universe.timestamps[t] != m.timestamps[i] { t += 1 }
                rowOf[i] = t
            }
            for i in 0..<m.count where i + label.horizon < m.count && m.close[i] > 0 {
                forward[rowOf[i]][s] = m.close[i + label.horizon] / m.close[i] - 1
                ends[rowOf[i]][s] = Int32(rowOf[i + label.horizon])
            }
        }
        var labels = forward
        for t in 0..<rows {
            if let c = label.crossSection, c != .none { c.apply(&labels[t]) }
            for s in 0..<n where labels[t][s].isFinite { labels[t][s] = label.label(forwardReturn: labels[t][s]) }
        }
        self.universe = universe
        self.panel = panel
        self.labels = labels
        self.forwardReturns = forward
        self.labelEnd = ends
        self.warmup = pipeline.warmup
        self.excluded = short
    }

    /// Refuses features the universe's data does not have: volume on a close-only (wide) universe.
    /// - Throws: `PanelError` naming the feature.
    public static func checkFields(_ definition: FeaturePipelineDefinition, universe: Universe) throws(PanelError) {
        guard universe.layout == .wide else { return }
        for f in definition.features where f.source == .volume || f.indicator == .obv || f.indicator == .vwap {
            throw PanelError(
                "features.\(f.name)",
                "reads volume, but the universe is a wide file of closes (no volume); drop it or use a long or folder universe"
            )
        }
    }

    /// Union-calendar rows.
    public var dates: Int { universe.timestamps.count }

    /// The (date, symbol) rows of `range` with every feature and a label, whose label ends
    /// before row `labelsBefore` (the next range's first row; nil: no limit).
    public func rows(_ range: Range<Int>, labelsBefore: Int? = nil) -> [(t: Int, s: Int)] {
        let n = universe.count
        let width = panel.columnNames.count
        let limit = Int32(labelsBefore ?? Int(Int32.max))
        var out: [(Int, Int)] = []
        panel.values.withUnsafeBufferPointer { v in
            for t in range.clamped(to: 0..<dates) {
                for s in 0..<n where labels[t][s].isFinite && labelEnd[t][s] < limit {
                    var ok = true
                    for c in 0..<width where !v[(c * dates + t) * n + s].isFinite {
                        ok = false
                        break
                    }
                    if ok { out.append((t, s)) }
                }
            }
        }
        return out
    }

    /// The features of a row.
    public func vector(_ row: (t: Int, s: Int)) -> [Double] {
        let n = universe.count
        return (0..<panel.columnNames.count).map { panel.values[($0 * dates + row.t) * n + row.s] }
    }

    /// A data set of `rows`, features scaled by `scaler`.
    public func dataset(_ rows: [(t: Int, s: Int)], scaler: FeatureScaler) -> Dataset {
        let width = panel.columnNames.count
        var values = [Double]()
        values.reserveCapacity(rows.count * width)
        for r in rows {
            var v = vector(r)
            scaler.transform(&v)
            values.append(contentsOf: v)
        }
        return Dataset(x: Matrix(rows: rows.count, columns: width, values: values), y: rows.map { labels[$0.t][$0.s] })
    }

    /// A scaler of `kind` fitted on `rows` only.
    /// - Throws: `ScalerError` when there is nothing to fit on.
    public func fitScaler(_ kind: String, rows: [(t: Int, s: Int)]) throws -> FeatureScaler {
        guard kind != "none" else { return .none }
        let width = panel.columnNames.count
        var values = [Double](repeating: 0, count: rows.count * width)
        for (k, r) in rows.enumerated() {
            let v = vector(r)
            for j in 0..<width { values[j * rows.count + k] = v[j] }
        }
        let m = FeatureMatrix(rows: rows.count, columnNames: panel.columnNames, timestamps: rows.map { universe.timestamps[$0.t] }, values: values)
        return kind == "minmax" ? .minMax(try MinMaxScaler.fit(m)) : .standard(try StandardScaler.fit(m))
    }

    /// Scores every row of `rows` with `model` into a `[t][s]` panel (NaN elsewhere).
    public func scores(_ rows: [(t: Int, s: Int)], predictions: [Double]) -> [[Double]] {
        var out = [[Double]](repeating: [Double](repeating: .nan, count: universe.count), count: dates)
        for (k, r) in rows.enumerated() { out[r.t][r.s] = predictions[k] }
        return out
    }
}

/// What `PanelTrainingPipeline.run` produced.
public struct PanelTrainingResult: Sendable {
    /// The saved bundle.
    public var bundle: ModelBundle
    /// The split, in union-calendar rows.
    public var split: TimeSplit
    /// Prediction metrics per range (`test.rmse`, `test.rank_ic`, ...).
    public var metrics: [String: Double]
    /// IC, rank IC, quantiles and top-k of the model's test-range scores.
    public var testFactor: FactorEvaluation
    /// The `model_topk` backtest over the test range.
    public var testBacktest: BacktestResult
    /// The equal-weight buy & hold of the universe over the same range, %.
    public var testBuyAndHoldPct: Double
    /// Members left out for a history shorter than the warm-up plus the horizon.
    public var excluded: [String]
    /// Training rows (date, symbol) used.
    public var trainRows: Int
    /// The walk-forward evaluation, when the config asks for one (`walkForward:`).
    public var walkForward: PanelWalkForward.Result?
}

/// Training on a universe (Qlib's workflow): features per symbol into one
/// panel → cross-sectional transforms → labels from forward returns → time
/// splits shared by every symbol (the purge before each boundary, and no
/// training row whose label ends in the next range) → scaler on training rows
/// only → fit → IC, rank IC, quantiles and top-k on every range → a
/// `model_topk` backtest of the test range → the bundle.
///
/// Deterministic for a seed: the same data up to the end of the training
/// labels gives byte-identical weights, whatever comes after.
public enum PanelTrainingPipeline {
    /// Runs the whole flow and saves the bundle to `config.output`.
    /// - Parameter progress: (step, total, loss) from the learner.
    /// - Throws: `PanelError`, `ConfigError`, `UniverseError`, `ModelError`, `BundleError`, `BacktestError`.
    /// - Parameter walkForwardProgress: (window, windows) of the walk-forward, when configured.
    public static func run(
        _ config: TrainingConfig,
        progress: ((Int, Int, Double) -> Void)? = nil,
        walkForwardProgress: ((Int, Int) -> Void)? = nil
    ) throws -> PanelTrainingResult {
        let universe = try TrainingPipeline.loadUniverse(config.data)
        let top = config.portfolio.top + config.portfolio.bottom
        guard top <= universe.count else {
            throw PanelError(
                "portfolio.top",
                "top \(config.portfolio.top) (+ bottom \(config.portfolio.bottom)) is more than the universe's \(universe.count) symbols"
            )
        }
        let data = try LabelledPanel(universe: universe, features: config.features, crossSection: config.crossSection, label: config.label)
        let split = TimeSplit.make(
            bars: data.dates,
            warmup: data.warmup,
            horizon: config.label.horizon,
            purge: config.purge,
            train: config.trainFraction,
            validation: config.validationFraction
        )
        let nextAfterTrain = split.validation.isEmpty ? split.test.lowerBound : split.validation.lowerBound
        let trainRows = data.rows(split.train, labelsBefore: nextAfterTrain)
        guard trainRows.count >= 20 else {
            throw ModelError(
                .invalidData,
                "only \(trainRows.count) training rows (date, symbol) after warm-up (\(data.warmup) bars) and purging; need more data"
            )
        }
        let scaler = try data.fitScaler(config.scaler, rows: trainRows)
        let model = try ModelFactory.fit(
            kind: config.modelKind,
            task: config.label.task,
            data: data.dataset(trainRows, scaler: scaler),
            hyperparameters: config.modelParameters,
            progress: progress
        )
        var metrics: [String: Double] = [:]
        var testFactor: FactorEvaluation?
        let ranges: [(String, [(t: Int, s: Int)])] = [
            ("train", trainRows), ("validation", data.rows(split.validation, labelsBefore: split.test.lowerBound)), ("test", data.rows(split.test)),
        ]
        for (name, rows) in ranges {
            let ds = data.dataset(rows, scaler: scaler)
            let predictions = model.predict(batch: ds.x)
            for (k, v) in Evaluation.metrics(task: config.label.task, labels: ds.y, predictions: predictions) { metrics["\(name).\(k)"] = v }
            guard !rows.isEmpty else { continue }
            let factor = try FactorEvaluation.evaluate(
                times: data.universe.timestamps,
                scores: data.scores(rows, predictions: predictions),
                forwardReturns: data.forwardReturns,
                quantiles: config.portfolio.quantiles,
                topK: min(config.portfolio.top, data.universe.count),
                period: config.label.horizon
            )
            metrics["\(name).ic_mean"] = factor.icSummary.mean
            metrics["\(name).rank_ic_mean"] = factor.rankICSummary.mean
            metrics["\(name).rank_icir"] = factor.rankICSummary.ir
            metrics["\(name).topk_hit_rate"] = factor.topKHitRate
            metrics["\(name).spread_cumulative"] = factor.cumulativeSpread.last ?? .nan
            if name == "test" { testFactor = factor }
        }
        guard let testFactor else { throw PanelError("split.test", "the test range has no row with every feature and a label") }
        let first = Timestamp(nanoseconds: data.universe.timestamps[trainRows.first!.t]).iso8601()
        let last = Timestamp(nanoseconds: data.universe.timestamps[trainRows.last!.t]).iso8601()
        var bundle = ModelBundle(
            metadata: ModelMetadata(
                name: config.name,
                version: config.version,
                kind: config.modelKind,
                task: config.label.task,
                symbol: "universe(\(data.universe.count))",
                trainingRange: [first, last],
                metrics: metrics,
                hyperparameters: config.modelParameters
            ),
            features: config.features,
            scaler: scaler,
            label: config.label,
            model: model,
            crossSection: config.crossSection == .none ? nil : config.crossSection
        )
        // Trade the test range, starting `warmup` rows earlier so every stream is warm at its first row.
        let start = max(0, split.test.lowerBound - data.warmup)
        let testUniverse = try data.universe.rows(start..<data.dates)
        let p = config.portfolio
        let strategy = ModelTopKStrategy(
            adapter: InferenceAdapter(bundle: bundle, recordLatency: false),
            top: p.top,
            dropout: p.dropout,
            rebalance: p.rebalance,
            bottom: p.bottom,
            weighting: ModelTopKStrategy.Weighting(rawValue: p.weighting) ?? .equal
        )
        var options = try BacktestOptions(config.backtest)
        if p.bottom > 0 { options.allowShort = true }
        let instruments = try Backtester.instruments(for: testUniverse, config: InstrumentConfig())
        let result = try Backtester.run(universe: testUniverse, instruments: instruments, strategy: strategy, options: options, details: false)
        bundle.metadata.metrics["test.backtest_return_pct"] = result.statistics.returnPct
        bundle.metadata.metrics["test.backtest_sharpe"] = result.statistics.sharpeRatio
        try bundle.save(to: config.output)
        let index = Backtester.equalWeightIndex(testUniverse)
        let from = split.test.lowerBound - start
        let buyHold = index.count > from && index[from] > 0 ? (index[index.count - 1] / index[from] - 1) * 100 : .nan
        let walkForward = try config.walkForward.map { wf in
            try PanelWalkForward.run(
                data,
                config: config,
                trainSize: wf.trainSize,
                testSize: wf.testSize,
                expanding: wf.expanding,
                progress: walkForwardProgress
            )
        }
        return PanelTrainingResult(
            bundle: bundle,
            split: split,
            metrics: metrics,
            testFactor: testFactor,
            testBacktest: result,
            testBuyAndHoldPct: buyHold,
            excluded: data.excluded,
            trainRows: trainRows.count,
            walkForward: walkForward
        )
    }
}

/// Walk-forward on a panel: rolling or expanding windows of union-calendar rows
/// (dates), shared by every symbol; each window fits the scaler and the model on
/// its training rows (none whose label ends in its test rows) and scores the next
/// `testSize` dates. The out-of-sample scores are stitched into one panel and
/// evaluated as a factor (IC, rank IC, quantiles, top-k).
public enum PanelWalkForward {
    /// What a panel walk-forward produced.
    public struct Result: Sendable {
        /// Per window: training dates, test dates, rank IC mean of its test dates.
        public var windows: [(train: Range<Int>, test: Range<Int>, rankIC: Double)]
        /// Prediction metrics over every stitched out-of-sample row.
        public var outOfSample: [String: Double]
        /// The factor evaluation of the stitched out-of-sample scores.
        public var factor: FactorEvaluation
    }

    /// Runs the windows.
    /// - Throws: `ModelError` when no window fits, fitting errors.
    public static func run(
        _ data: LabelledPanel,
        config: TrainingConfig,
        trainSize: Int,
        testSize: Int,
        expanding: Bool,
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> Result {
        let windows = TimeSplit.walkForward(
            bars: data.dates,
            warmup: data.warmup,
            horizon: config.label.horizon,
            purge: config.purge,
            trainSize: trainSize,
            testSize: testSize,
            expanding: expanding
        )
        guard !windows.isEmpty else {
            throw ModelError(.invalidData, "no walk-forward window fits: \(data.dates) dates, train \(trainSize), test \(testSize)")
        }
        var scores = [[Double]](repeating: [Double](repeating: .nan, count: data.universe.count), count: data.dates)
        var out: [(train: Range<Int>, test: Range<Int>, rankIC: Double)] = []
        var labels: [Double] = []
        var predictions: [Double] = []
        for (k, w) in windows.enumerated() {
            let trainRows = data.rows(w.train, labelsBefore: w.test.lowerBound)
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
            for (i, r) in testRows.enumerated() { scores[r.t][r.s] = p[i] }
            labels += test.y
            predictions += p
            let window = try FactorEvaluation.evaluate(
                times: data.universe.timestamps,
                scores: data.scores(testRows, predictions: p),
                forwardReturns: data.forwardReturns,
                quantiles: config.portfolio.quantiles,
                topK: min(config.portfolio.top, data.universe.count),
                period: config.label.horizon
            )
            out.append((w.train, w.test, window.rankICSummary.mean))
            progress?(k + 1, windows.count)
        }
        let factor = try FactorEvaluation.evaluate(
            times: data.universe.timestamps,
            scores: scores,
            forwardReturns: data.forwardReturns,
            quantiles: config.portfolio.quantiles,
            topK: min(config.portfolio.top, data.universe.count),
            period: config.label.horizon
        )
        return Result(
            windows: out,
            outOfSample: Evaluation.metrics(task: config.label.task, labels: labels, predictions: predictions),
            factor: factor
        )
    }
}
