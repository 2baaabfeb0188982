import CrocCore
import CrocData
import CrocEngine
import CrocModels
import CrocPipelines
import CrocStrategies
import CrocSupport
import Foundation

// crocbench cross-section: the cross-sectional ML and portfolio RL targets of issue 21, each
// timed on its own (release build):
//   1. panel features: 20 columns per symbol over 500 symbols x 2,520 bars, then two
//      cross-sectional transforms (rank and z-score of every column);
//   2. GBDT on that panel (1.26 M rows x 20 features, 100 rounds, depth 6, 2 threads): the data
//      goes to /tmp/crocbench_panel.bin for scripts/bench_lightgbm_panel.py (LightGBM, same
//      rows, same parameters, same threads);
//   3. a model_topk backtest of the 500 symbols against momentum_topk on the same universe;
//   4. PortfolioEnvironment steps/s, 20 assets x window 32, random actions, one core;
//   5. PPO learning throughput on that environment (steps/s, learning included), against
//      scripts/bench_sb3_ppo_portfolio.py (Stable-Baselines3, same sizes, same threads).

/// The 20 feature columns of the benchmark (all computable from closes).
let crossSectionFeatures = """
    - {name: r1, indicator: returns}
    - {name: r5, indicator: returns, params: {period: 5}}
    - {name: r20, indicator: returns, params: {period: 20}}
    - {name: r60, indicator: returns, params: {period: 60}}
    - {name: r120, indicator: returns, params: {period: 120}}
    - {name: lr10, indicator: log_returns, params: {period: 10}}
    - {name: v20, indicator: volatility, params: {period: 20}}
    - {name: v60, indicator: volatility, params: {period: 60}}
    - {name: z20, indicator: zscore, params: {period: 20}}
    - {name: z60, indicator: zscore, params: {period: 60}}
    - {name: rsi14, indicator: rsi, params: {period: 14}}
    - {name: rsi5, indicator: rsi, params: {period: 5}}
    - {name: roc10, indicator: roc, params: {period: 10}}
    - {name: roc30, indicator: roc, params: {period: 30}}
    - {name: mom10, indicator: mom, params: {period: 10}}
    - {name: sd20, indicator: stddev, params: {period: 20}}
    - {name: ema20, indicator: ema, params: {period: 20}}
    - {name: sma50, indicator: sma, params: {period: 50}}
    - {name: min20, indicator: min, params: {period: 20}}
    - {name: max20, indicator: max, params: {period: 20}}
    """

/// Part 1 of cross-section: the panel's features and two transforms (best of 5); with `streams`,
/// the same features streamed bar by bar and caught up in runs. `crocbench panel` runs it alone.
func benchPanel(_ universe: Universe, _ pipeline: FeaturePipeline, streams: Bool) -> FeaturePanel {
    var panelTime = Double.infinity
    var featureTime = Double.infinity
    var panel = FeaturePanel(universe: universe, pipeline: pipeline)
    for _ in 0..<5 {
        let start = ContinuousClock.now
        var p = FeaturePanel(universe: universe, pipeline: pipeline)
        featureTime = min(featureTime, seconds(ContinuousClock.now - start))
        p.transformAll([.rank, .zscore])  // one pass over the panel, each row through both
        panelTime = min(panelTime, seconds(ContinuousClock.now - start))
        panel = p
    }
    let (streamTime, runTime, runLength) = streams ? benchStreams(universe, pipeline) : (Double.nan, Double.nan, 0)
    print(
        String(
            format:
                "panel features: %d symbols x %d rows x %d columns + rank + z-score across symbols: best %.3f s (features %.3f s on 2 cores; streaming the same on one core %.3f s bar by bar, %.3f s caught up in runs of %d bars)",
            universe.count,
            universe.timestamps.count,
            pipeline.width,
            panelTime,
            featureTime,
            streamTime,
            runTime,
            runLength
        )
    )
    return panel
}

/// Part 2 of `cross-section`: GBDT on the panel's rows, best of 3 fits (`crocbench gbdt-panel`
/// runs it alone on the rows `cross-section` saved in /tmp/crocbench_panel.bin).
func benchPanelGBDT(_ data: Dataset) throws -> GradientBoostedTrees {
    var p = GBDTParameters()
    p.rounds = 100
    p.maxDepth = 6
    p.maxLeaves = 63
    p.learningRate = 0.1
    p.minSamplesLeaf = 20
    p.threads = 2
    p.loss = .squared
    var gbdtTime = Double.infinity
    var model: GradientBoostedTrees?
    for _ in 0..<3 {
        let start = ContinuousClock.now
        model = try GradientBoostedTrees.fit(data, parameters: p)
        gbdtTime = min(gbdtTime, seconds(ContinuousClock.now - start))
    }
    let predictions = model!.predict(batch: data.x)
    let mse = zip(predictions, data.y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(data.y.count)
    print(
        String(
            format:
                "gbdt on the panel: %d rows x %d features, 100 rounds, depth 6, 63 leaves, 2 threads: best %.3f s (training mse %.6f); /tmp/crocbench_panel.bin for scripts/bench_lightgbm_panel.py",
            data.y.count,
            data.x.columns,
            gbdtTime,
            mse
        )
    )
    return model!
}

/// The rows `cross-section` saved for LightGBM (count, width, row-major x, y; float64).
func loadPanelRows(_ path: String = "/tmp/crocbench_panel.bin") throws -> Dataset {
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    return bytes.withUnsafeBytes { raw in
        let rows = Int(raw.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        let width = Int(raw.loadUnaligned(fromByteOffset: 8, as: Int64.self))
        let x = (0..<(rows * width)).map { raw.loadUnaligned(fromByteOffset: 16 + 8 * $0, as: Double.self) }
        let y = (0..<rows).map { raw.loadUnaligned(fromByteOffset: 16 + 8 * (rows * width + $0), as: Double.self) }
        return Dataset(x: Matrix(rows: rows, columns: width, values: x), y: y)
    }
}

func benchCrossSection() throws {
    let path = "/tmp/crocbench_universe_500.csv"
    let universe = FileManager.default.fileExists(atPath: path) ? try UniverseLoader.load(path: path) : try syntheticUniverse()
    let definition = try FeaturePipelineDefinition.parse(text: crossSectionFeatures)
    let pipeline = FeaturePipeline(definition)

    // 1. Panel features + two cross-sectional transforms.
    let panel = benchPanel(universe, pipeline, streams: true)
    // 2. GBDT on the panel: rows with every feature and a 5-bar forward return (ranked).
    var forward = FeaturePanel.forwardReturns(universe, horizon: 5)
    for t in forward.indices { CrossSection.rank(&forward[t]) }
    let rows = universe.timestamps.count
    let n = universe.count
    let width = pipeline.width
    var x: [Double] = []
    var y: [Double] = []
    x.reserveCapacity(rows * n * width)
    panel.values.withUnsafeBufferPointer { v in
        for t in 0..<rows {
            for s in 0..<n where forward[t][s].isFinite {
                var ok = true
                for c in 0..<width where !v[(c * rows + t) * n + s].isFinite { ok = false }
                guard ok else { continue }
                for c in 0..<width { x.append(v[(c * rows + t) * n + s]) }
                y.append(forward[t][s])
            }
        }
    }
    let data = Dataset(x: Matrix(rows: y.count, columns: width, values: x), y: y)
    // Rows for LightGBM: count, width, then row-major x, then y (float64, little-endian).
    var bytes = Data()
    withUnsafeBytes(of: Int64(y.count)) { bytes.append(contentsOf: $0) }
    withUnsafeBytes(of: Int64(width)) { bytes.append(contentsOf: $0) }
    x.withUnsafeBytes { bytes.append(contentsOf: $0) }
    y.withUnsafeBytes { bytes.append(contentsOf: $0) }
    try bytes.write(to: URL(fileURLWithPath: "/tmp/crocbench_panel.bin"))
    let model = try benchPanelGBDT(data)

    // 3. model_topk (that GBDT, features through the streams) against momentum_topk, same universe.
    let bundle = ModelBundle(
        metadata: ModelMetadata(name: "bench", kind: .gbdt, task: .regression),
        features: definition,
        scaler: .none,
        label: LabelDefinition(kind: .value, horizon: 5),
        model: model
    )
    // Saved for the whole-command comparison (scripts/bench_topk_command.py) and `crocbench model-topk`.
    try bundle.save(to: topkBundlePath)
    try benchModelTopK(universe: universe, bundle: bundle)
    try benchPortfolioEnvironment(universe)
}

/// Part of `cross-section` (`crocbench streams` runs it alone): the 20-feature streams of every
/// member bar by bar, and caught up in runs of 21 bars (`CROCBENCH_RUN=N`: N; `FeatureStream.update(contentsOf:)`, as
/// model_topk does between rebalances, lanes interleaved run by run), one core, best of 3.
func benchStreams(_ universe: Universe, _ pipeline: FeaturePipeline) -> (perBar: Double, runs: Double, runLength: Int) {
    var streamTime = Double.infinity
    for _ in 0..<3 {
        let start = ContinuousClock.now
        var sink = 0.0
        for m in universe.members {
            var stream = pipeline.makeStream()
            for i in 0..<m.count { sink += stream.update(m[i])[0] }
        }
        streamTime = min(streamTime, seconds(ContinuousClock.now - start))
        if sink == 42 { print("") }
    }
    // The same streams caught up in runs (FeatureStream.update(contentsOf:)), as model_topk does
    // between rebalances: runs of 21 bars, lanes interleaved run by run (states go cold in between).
    var runTime = Double.infinity
    let runLength = Int(ProcessInfo.processInfo.environment["CROCBENCH_RUN"] ?? "") ?? 21
    for _ in 0..<3 {
        var streams = Array(repeating: pipeline.makeStream(), count: universe.count)
        let bars = universe.members.map { m in (0..<m.count).map { m[$0] } }
        let start = ContinuousClock.now
        var sink = 0.0
        var from = 0
        let longest = bars.map(\.count).max() ?? 0
        while from < longest {
            for k in bars.indices where from < bars[k].count {
                bars[k][from..<min(bars[k].count, from + runLength)].withUnsafeBufferPointer { streams[k].update(contentsOf: $0) }
                sink += streams[k].vector[0]
            }
            from += runLength
        }
        runTime = min(runTime, seconds(ContinuousClock.now - start))
        if sink == 42 { print("") }
    }
    return (streamTime, runTime, runLength)
}

/// Where `cross-section` saves its GBDT bundle.
let topkBundlePath = "/tmp/crocbench_topk_bundle"

/// Part 3 of `cross-section` (`crocbench model-topk` runs it alone on the saved bundle, for profilers):
/// model_topk (the GBDT, features streamed) against momentum_topk on the same universe, engine only.
func benchModelTopK(universe: Universe, bundle: ModelBundle) throws {
    let instruments = universe.symbols.map { Instrument(symbol: $0, pricePrecision: 4, quantityStep: FixedPoint(raw: 1)) }
    let options = BacktestOptions(
        cash: FixedPoint(100_000),
        fees: FeeModel(commissionRate: FixedPoint("0.001")!),
        fillTiming: .close,
        finalize: .none
    )
    func time(_ make: () throws -> any Strategy) throws -> (Double, Int) {
        var best = Double.infinity
        var fills = 0
        for _ in 0..<3 {
            let strategy = try make()
            let start = ContinuousClock.now
            let engine = Backtester.runEngine(universe: universe, instruments: instruments, strategy: strategy, options: options)
            best = min(best, seconds(ContinuousClock.now - start))
            fills = engine.fills.count
        }
        return (best, fills)
    }
    // Reading the bundle (once per command: serial, before the first bar).
    let loadTime = best(5) { _ = try? ModelBundle.load(from: topkBundlePath) }
    print(String(format: "model_topk's bundle read: best %.2f ms", loadTime * 1000))
    // The model alone, as model_topk calls it: 120 rebalances of 480 rows (one thread).
    let adapter = InferenceAdapter(bundle: bundle, recordLatency: false)
    var rng = SplitMix64(seed: 1)
    let width = bundle.features.features.count
    let batch = Matrix(rows: 480, columns: width, values: (0..<(480 * width)).map { _ in Double(rng.next() % 20_001) / 100_000 - 0.1 })
    var sink = 0.0
    let predictTime = best(5) { for _ in 0..<120 { sink += adapter.predict(batch: batch)[7] } }
    print(
        String(
            format: "model_topk's predictions alone: 120 batches of 480 rows, each split over %d cores: best %.1f ms (%.1f ns a row)",
            min(Machine.activeCores, 2),
            predictTime * 1000,
            predictTime / 57_600 * 1e9
        )
    )
    if sink == 42 { print("") }
    let (momentum, momentumFills) = try time {
        try StrategyFactory.standard.make(
            "momentum_topk",
            parameters: ["top": .int(50), "lookback": .int(126), "rebalance": .int(21)],
            symbols: universe.symbols
        )
    }
    let (topk, topkFills) = try time {
        ModelTopKStrategy(adapter: InferenceAdapter(bundle: bundle, recordLatency: false), top: 50, dropout: 5, rebalance: 21)
    }
    print(
        String(
            format: "model_topk vs momentum_topk (top 50, every 21 bars, 500 symbols): %.3f s (%d fills) vs %.3f s (%d fills): %.2f x",
            topk,
            topkFills,
            momentum,
            momentumFills,
            topk / momentum
        )
    )
    // A sweep's trials (top x dropout, one schedule) one after another, each scoring its own
    // rebalances, then sharing them through a ScoreCache (what `crocbot sweep` does).
    let trials = [(20, 0), (20, 5), (50, 0), (50, 5), (80, 0), (80, 5)]
    func sweep(_ cache: ScoreCache?) -> (Double, [Double]) {
        var finals: [Double] = []
        let start = ContinuousClock.now
        for (top, dropout) in trials {
            let strategy = ModelTopKStrategy(
                adapter: InferenceAdapter(bundle: bundle, recordLatency: false),
                top: top,
                dropout: dropout,
                rebalance: 21,
                sharedScores: cache.map { ($0, topkBundlePath) }
            )
            let engine = Backtester.runEngine(universe: universe, instruments: instruments, strategy: strategy, options: options)
            finals.append(engine.equityCurve.last ?? 0)
        }
        return (seconds(ContinuousClock.now - start), finals)
    }
    var alone = Double.infinity
    var shared = Double.infinity
    var same = true
    for _ in 0..<2 {
        let (a, aFinals) = sweep(nil)
        let (b, bFinals) = sweep(ScoreCache())
        alone = min(alone, a)
        shared = min(shared, b)
        same = same && aFinals == bFinals
    }
    print(
        String(
            format:
                "model_topk sweep, %d trials (top x dropout, every 21 bars, 500 symbols), engine only: %.3f s scoring each trial, %.3f s sharing the scores (%.2f x); final equities ",
            trials.count,
            alone,
            shared,
            alone / shared
        ) + (same ? "identical" : "DIFFER")
    )
}

/// Parts 4 and 5 of `cross-section` (`crocbench portfolio-env` runs them alone, for profilers).
func benchPortfolioEnvironment(_ universe: Universe) throws {
    // 4. PortfolioEnvironment: 20 assets, window 32, random actions, one core.
    let twenty = try universe.selecting(Array(universe.symbols.enumerated().filter { $0.offset % 10 != 0 }.map(\.element).prefix(20)))
    let envFeatures = try FeaturePipelineDefinition.parse(
        text:
            "[{name: r5, indicator: returns, params: {period: 5}}, {name: r20, indicator: returns, params: {period: 20}}, {name: v20, indicator: volatility, params: {period: 20}}, {name: z20, indicator: zscore, params: {period: 20}}]"
    )
    var c = PortfolioEnvironmentConfig()
    c.window = 32
    c.episodeLength = 256
    var env = try PortfolioEnvironment(universe: twenty, features: envFeatures, config: c)
    var rng = SplitMix64(seed: 1)
    var actions = (0..<256).map { _ in Action.vector((0...20).map { _ in rng.uniform() * 4 - 2 }) }
    // CROCBENCH_ENV_CASH: every action all cash (no orders after the first step): the environment's
    // cost without trading (observations, rewards, the engine's slices), beside the random rebalances'.
    if ProcessInfo.processInfo.environment["CROCBENCH_ENV_CASH"] != nil {
        actions = (0..<256).map { _ in Action.vector((0...20).map { $0 == 20 ? 50 : -50 }) }
    }
    _ = env.reset(seed: 1)
    let steps = 100_000
    let start = ContinuousClock.now
    var checksum = 0.0
    for i in 0..<steps {
        let r = env.step(actions[i & 255])
        checksum += r.reward + r.observation[i % r.observation.count]
        if r.terminated || r.truncated { _ = env.reset(seed: nil) }
    }
    let envTime = seconds(ContinuousClock.now - start)
    print(
        String(
            format:
                "portfolio environment: 20 assets x window 32 x 4 features (observation %d), %d random steps: %.0f steps/s (one core; checksum %.3f)",
            env.observationSize,
            steps,
            Double(steps) / envTime,
            checksum
        )
    )

    // CROCBENCH_ENV_ONLY: the environment alone (for profilers).
    if ProcessInfo.processInfo.environment["CROCBENCH_ENV_ONLY"] != nil { return }

    // 5. PPO learning throughput on it: default hyper-parameters (2,048-step rollouts, 10 epochs,
    //    minibatches of 64, [64, 64] tanh), Gaussian policy over 21 outputs.
    var trainEnv = env
    var pp = PPOParameters()
    pp.seed = 1
    var agent = PPOAgent(observationSize: env.observationSize, vectorDimensions: 21, parameters: pp)
    let total = 4096
    let t0 = ContinuousClock.now
    agent.train(&trainEnv, totalSteps: total)
    let ppoTime = seconds(ContinuousClock.now - t0)
    print(
        String(
            format:
                "ppo on the portfolio environment: %d steps (2 rollouts of 2048, 10 epochs, batch 64, [64, 64]) in %.2f s: %.0f steps/s, learning included",
            total,
            ppoTime,
            Double(total) / ppoTime
        )
    )
}
