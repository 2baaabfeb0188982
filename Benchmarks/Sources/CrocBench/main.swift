// crocbench: release-build benchmarks for the targets in issue #2.
//
//   swift run -c release crocbench [engine|csv|all|sweep|trials|...] [--bars N] [--csv PATH] [--trials N]
//
// engine: sma_cross 10/20 through TradingEngine over N synthetic bars (default 1,000,000);
//         reports bars/s (best of 5) and peak resident memory per bar.
// indicators: batch RSI/EMA/SMA/MACD/BBANDS/ATR/ADX over the CSV's closes and streaming
//         EMA/SMA updates/s. Compare with scripts/bench_talib.py on the same file.
// executor: signals through MarketOrderExecutor (8 in flight) to the simulated venue (flood and paced
//         100k/s; in-memory and SQLite stores) and to the Binance client over local HTTP.
// live:   tick-to-order latency of the live loop (bar in → order handed to the executor) with the
//         default strategy and a GBDT model strategy, paced at 10,000 events/s and flooded.
// sweep:  the 100 x 100 sma_cross grid on GOOGL (10,000 backtests), 1 worker vs all cores, in
//         memory and with the SQLite store. Compare with scripts/bench_vectorbt_grid.py.
// trials: N trials spread over that grid (--trials N, default 500) on one core, untimed: a
//         fixed workload for profilers (perf record, valgrind --tool=callgrind).
// portfolio: momentum_topk (top 50, lookback 126, rebalance 21, 0.1 % commission) through the
//         multi-instrument TradingEngine over 500 symbols x 2,520 daily closes (the universe
//         scripts/bench_vectorbt_portfolio.py writes to /tmp/crocbench_universe_500.csv, or a
//         generated one like it): asset-bars/s (best of 5) and peak memory against the closes' size.
// cross-section: panel features, GBDT on the panel, model_topk vs momentum_topk, the portfolio RL
//         environment and PPO on it (CrossSectionBench.swift); peers: scripts/bench_lightgbm_panel.py,
//         scripts/bench_sb3_ppo_portfolio.py.
// panel:  part 1 of cross-section alone (panel features + rank + z-score), without the streams.
// streams: the 20-feature streams of cross-section bar by bar and caught up in runs of 21 bars
//         (CROCBENCH_RUN=N for runs of N).
// model-topk: part 3 of cross-section alone, on the GBDT bundle cross-section saves to
//         /tmp/crocbench_topk_bundle (also what scripts/bench_topk_command.py runs the whole commands with).
// csv:    writes an N-row OHLCV CSV (default /tmp/crocbench_1m.csv) and times CSVBarLoader.load
//         (best of 5). Compare with scripts/bench_pandas_csv.py on the same file.

import CrocCore
import CrocData
import CrocEngine
import CrocKernels
import CrocModels
import CrocPipelines
import CrocStrategies
import CrocSupport
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// This process's resource usage so far (getrusage).
func selfUsage() -> rusage {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage
}

func peakRSSBytes() -> Int {
    #if os(Linux)
    return Int(selfUsage().ru_maxrss) * 1024  // KiB on Linux
    #else
    return Int(selfUsage().ru_maxrss)  // bytes on macOS
    #endif
}

func currentRSSBytes() -> Int {
    #if os(Linux)
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let parts = s.split(separator: " ")
    return parts.count > 1 ? (Int(parts[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    #else
    return 0
    #endif
}

/// A reproducible random walk with valid OHLC invariants, 2 decimals.
func syntheticSeries(bars n: Int, seed: UInt64 = 7) -> BarSeries {
    var s = BarSeries(symbol: "SYN", pricePrecision: 2, reservingCapacity: n)
    var state = seed
    func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
    var price = 100.0
    let t0: Int64 = 1_500_000_000 * 1_000_000_000
    for i in 0..<n {
        let open = price
        let close = max(1, (open * (1 + (next() - 0.5) * 0.02) * 100).rounded() / 100)
        let high = (max(open, close) * (1 + next() * 0.005) * 100).rounded(.up) / 100
        let low = (min(open, close) * (1 - next() * 0.005) * 100).rounded(.down) / 100
        s.appendUnchecked(
            Bar(
                timestamp: Timestamp(nanoseconds: t0 + Int64(i) * 60_000_000_000),
                open: open,
                high: high,
                low: low,
                close: close,
                volume: (next() * 1000).rounded()
            )
        )
        price = close
    }
    return s
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func benchEngine(bars n: Int) {
    let before = currentRSSBytes()
    let series = syntheticSeries(bars: n)
    let instrument = Instrument(symbol: "SYN", pricePrecision: 2, quantityStep: .one)
    let options = BacktestOptions(cash: FixedPoint(1_000_000), fees: FeeModel(commissionRate: FixedPoint("0.002")!))
    var best = Double.infinity
    var trades = 0
    for _ in 0..<5 {
        let start = ContinuousClock.now
        var engine = Backtester.runEngine(series: series, instrument: instrument, strategy: SMACrossStrategy(fast: 10, slow: 20), options: options)
        engine.finish(.lastOpen)
        let t = seconds(ContinuousClock.now - start)
        trades = engine.trades.closed.count
        best = min(best, t)
    }
    let peak = peakRSSBytes()
    print(
        String(format: "engine: sma_cross 10/20 over %d bars: best %.2f ms, %.1f M bars/s, %d trades", n, best * 1000, Double(n) / best / 1e6, trades)
    )
    print(
        String(
            format: "engine: peak RSS %.1f MB, %.0f bytes/bar over the process baseline (series + engine state)",
            Double(peak) / 1e6,
            Double(peak - before) / Double(n)
        )
    )
}

/// 500 close-only random walks over 2,520 business days, one in ten listed late or delisted early.
func syntheticUniverse(symbols: Int = 500, bars: Int = 2520, seed: UInt64 = 11, partial: Bool = true) throws -> Universe {
    var state = seed
    func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
    let t0: Int64 = 1_262_563_200 * 1_000_000_000  // 2010-01-04
    var members: [BarSeries] = []
    for k in 0..<symbols {
        let first = partial && k % 10 == 0 ? Int(next() * Double(bars / 3)) : 0
        let last = partial && k % 10 == 0 ? bars - Int(next() * Double(bars / 3)) : bars
        var series = BarSeries(symbol: String(format: "S%03d", k), pricePrecision: 4, reservingCapacity: last - first)
        var price = 50.0
        for i in 0..<bars {
            price *= 1 + (next() - 0.5) * 0.04 + 0.0003
            guard i >= first && i < last else { continue }
            let c = (price * 10_000).rounded() / 10_000
            series.appendUnchecked(
                Bar(timestamp: Timestamp(nanoseconds: t0 + Int64(i) * 86_400_000_000_000), open: c, high: c, low: c, close: c, volume: 0)
            )
        }
        members.append(series)
    }
    return try Universe(members: members)
}

func benchPortfolio() throws {
    let path = "/tmp/crocbench_universe_500.csv"
    let before = currentRSSBytes()
    let universe = FileManager.default.fileExists(atPath: path) ? try UniverseLoader.load(path: path) : try syntheticUniverse()
    let loaded = currentRSSBytes()
    let instruments = universe.symbols.map { Instrument(symbol: $0, pricePrecision: 4, quantityStep: FixedPoint(raw: 1)) }
    let options = BacktestOptions(
        cash: FixedPoint(100_000),
        fees: FeeModel(commissionRate: FixedPoint("0.001")!),
        fillTiming: .close,
        finalize: .none
    )
    let assetBars = universe.members.reduce(0) { $0 + $1.count }
    let cells = universe.count * universe.timestamps.count
    var best = Double.infinity
    var final = 0.0
    var fills = 0
    // CROCBENCH_RUNS: engine runs, best counted (default 5; more for a profiler).
    let runs = max(1, Int(ProcessInfo.processInfo.environment["CROCBENCH_RUNS"] ?? "") ?? 5)
    for _ in 0..<runs {
        let strategy = try StrategyFactory.standard.make(
            "momentum_topk",
            parameters: ["top": .int(50), "lookback": .int(126), "rebalance": .int(21)],
            symbols: universe.symbols
        )
        let start = ContinuousClock.now
        var engine = Backtester.runEngine(universe: universe, instruments: instruments, strategy: strategy, options: options)
        engine.finish(.none)
        best = min(best, seconds(ContinuousClock.now - start))
        final = engine.equityCurve.last ?? 0
        fills = engine.fills.count
    }
    let peak = peakRSSBytes()
    let closesBytes = Double(cells * 8)
    print(
        String(
            format:
                "portfolio: momentum_topk top 50 over %d symbols x %d rows (%d asset-bars%@): best %.2f ms, %.1f M asset-bars/s (%.1f M cells/s), %d fills, final equity %.6f",
            universe.count,
            universe.timestamps.count,
            assetBars,
            FileManager.default.fileExists(atPath: path) ? " from \(path)" : ", generated",
            best * 1000,
            Double(assetBars) / best / 1e6,
            Double(cells) / best / 1e6,
            fills,
            final
        )
    )
    print(
        String(
            format: "portfolio: closes %.1f MB; universe in memory %.1f MB; peak RSS over the process baseline %.1f MB (%.2f x the closes)",
            closesBytes / 1e6,
            Double(loaded - before) / 1e6,
            Double(peak - before) / 1e6,
            Double(peak - before) / closesBytes
        )
    )
}

func benchCSV(rows n: Int, path: String) throws {
    if !FileManager.default.fileExists(atPath: path) {
        let s = syntheticSeries(bars: n)
        var text = "Date,Open,High,Low,Close,Volume\n"
        text.reserveCapacity(n * 64)
        for i in 0..<s.count {
            text +=
                "\(Timestamp(nanoseconds: s.timestamps[i]).iso8601().replacingOccurrences(of: "T", with: " ")),\(s.open[i]),\(s.high[i]),\(s.low[i]),\(s.close[i]),\(s.volume[i])\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
    var best = Double.infinity
    var count = 0
    for _ in 0..<5 {
        let start = ContinuousClock.now
        let s = try CSVBarLoader.load(path: path)
        best = min(best, seconds(ContinuousClock.now - start))
        count = s.count
    }
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    print(
        String(
            format: "csv: loaded %d rows (%.1f MB) from %@: best %.1f ms, %.1f M rows/s",
            count,
            Double(size) / 1e6,
            path,
            best * 1000,
            Double(count) / best / 1e6
        )
    )
}

/// Best-of-`runs` wall time of `body`, in seconds.
func best(_ runs: Int = 7, _ body: () -> Void) -> Double {
    var b = Double.infinity
    for _ in 0..<runs {
        let start = ContinuousClock.now
        body()
        b = min(b, seconds(ContinuousClock.now - start))
    }
    return b
}

func benchIndicators(path: String) throws {
    let s = try CSVBarLoader.load(path: path)
    let c = s.close
    var sink = 0.0
    func report(_ name: String, _ t: Double) {
        print(String(format: "indicators: %-22@ %7.2f ms  (%.0f M values/s)", name as NSString, t * 1000, Double(c.count) / t / 1e6))
    }
    report("RSI(14)", best { sink += Indicators.rsi(c, period: 14).last! })
    report("EMA(20)", best { sink += Indicators.ema(c, period: 20).last! })
    report("SMA(20)", best { sink += Indicators.sma(c, period: 20).last! })
    report("MACD(12,26,9)", best { sink += Indicators.macd(c).histogram.last! })
    report("BBANDS(20,2)", best { sink += Indicators.bollinger(c, period: 20).upper.last! })
    // Compute only: the same kernels writing into reused buffers (as TA-Lib's C API does).
    var o1 = [Double](repeating: 0, count: c.count)
    var o2 = o1
    var o3 = o1
    c.withUnsafeBufferPointer { xs in
        o1.withUnsafeMutableBufferPointer { a in
            o2.withUnsafeMutableBufferPointer { b in
                o3.withUnsafeMutableBufferPointer { d in
                    report(
                        "MACD into buffers",
                        best { Indicators.macd(xs, macd: a.baseAddress!, signalLine: b.baseAddress!, histogram: d.baseAddress!) }
                    )
                    report(
                        "BBANDS into buffers",
                        best { Indicators.bollinger(xs, period: 20, upper: a.baseAddress!, middle: b.baseAddress!, lower: d.baseAddress!) }
                    )
                }
            }
        }
    }
    sink += o1[100] + o2[100] + o3[100]
    report("ATR(14)", best { sink += Indicators.atr(high: s.high, low: s.low, close: c).last! })
    report("ADX(14)", best { sink += Indicators.adx(high: s.high, low: s.low, close: c).last! })
    // Streaming: one update call per value, state kept across calls.
    let tEMA = best {
        var e = EMA(period: 20)
        var acc = 0.0
        for x in c { acc += e.update(x) }
        sink += acc
    }
    let tSMA = best {
        var m = SMA(period: 20)
        var acc = 0.0
        for x in c { acc += m.update(x) }
        sink += acc
    }
    let pipeline = FeaturePipeline(.standard)
    var cells = 0
    let tPipe = best {
        let m = pipeline.transform(s)
        cells = m.values.count
        sink += m[m.rows - 1, 0]
    }
    print(
        String(
            format: "pipeline: standard %d features over %d bars: %.1f ms (%.0f M cells/s)",
            pipeline.width,
            s.count,
            tPipe * 1000,
            Double(cells) / tPipe / 1e6
        )
    )
    if ProcessInfo.processInfo.environment["CROCBENCH_BREAKDOWN"] == "1" {
        for f in FeaturePipelineDefinition.standard.features {
            let one = FeaturePipeline(try! FeaturePipelineDefinition(features: [f]))
            let t = best(3) { sink += one.transform(s)[0, 0] }
            print(String(format: "  %-10@ %6.2f ms", f.name as NSString, t * 1000))
        }
    }
    var stream = pipeline.makeStream()
    let bars = (0..<200_000).map { s[$0] }
    let tStream = best(3) {
        for b in bars { sink += stream.update(b)[0] }
    }
    print(String(format: "pipeline: streaming %d features: %.2f us per bar", pipeline.width, tStream / Double(bars.count) * 1e6))
    print(String(format: "streaming: EMA(20) %.0f M updates/s, SMA(20) %.0f M updates/s", Double(c.count) / tEMA / 1e6, Double(c.count) / tSMA / 1e6))
    if sink == 42 { print("") }
}

/// 1M × 32 synthetic classification data (seeded), shared with scripts/bench_models.py
/// through a binary file: row-major float64 features then float64 labels.
func modelData(rows n: Int, path: String) throws -> Dataset {
    let d = 32
    if !FileManager.default.fileExists(atPath: path) {
        let rng = SystemRandomNumberGenerator()
        _ = rng
        var state: UInt64 = 12345
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var x = [Double](repeating: 0, count: n * d)
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var z = -0.3
            for j in 0..<d {
                let v = uniform() * 4 - 2
                x[i * d + j] = v
                if j < 8 { z += (j % 2 == 0 ? 0.6 : -0.4) * v }
            }
            z += sin(2 * x[i * d + 8]) + x[i * d + 9] * x[i * d + 10] - abs(x[i * d + 11])
            y[i] = uniform() < 1 / (1 + exp(-z)) ? 1 : 0
        }
        var bytes = Data(capacity: (n * d + n) * 8)
        x.withUnsafeBytes { bytes.append(contentsOf: $0) }
        y.withUnsafeBytes { bytes.append(contentsOf: $0) }
        try bytes.write(to: URL(fileURLWithPath: path))
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let all = data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
    return Dataset(x: Matrix(rows: n, columns: d, values: Array(all[0..<(n * d)])), y: Array(all[(n * d)...]))
}

func benchModels(path: String) throws {
    let data = try modelData(rows: 1_000_000, path: path)
    for tol in [1e-4, 1e-6] {
        let start = ContinuousClock.now
        let (_, report) = try LogisticRegression.fit(data, c: 1.0, tolerance: tol, threads: 2)
        let t = seconds(ContinuousClock.now - start)
        print(String(format: "logistic 1M x 32 (C=1, tol %.0e): %.2f s, %d iterations, log loss %.9f", tol, t, report.iterations, report.logLoss))
    }
    var p = GBDTParameters()
    p.rounds = 100
    p.maxDepth = 6
    p.maxLeaves = 63
    p.threads = 2
    let start = ContinuousClock.now
    let gbdt = try GradientBoostedTrees.fit(data, parameters: p)
    let tg = seconds(ContinuousClock.now - start)
    let sample = data.x.slice(rows: 0..<100_000)
    let p1 = gbdt.predict(batch: sample)
    print(
        String(
            format: "gbdt 1M x 32, 100 rounds, depth 6, 63 leaves, 2 threads: %.2f s; train AUC (first 100k) %.4f",
            tg,
            Metrics.rocAUC(Array(data.y[0..<100_000]), p1)
        )
    )
    // MLP 32-64-64-1, one epoch over 1M rows, batch 256.
    var mp = MLPParameters()
    mp.hiddenLayers = [64, 64]
    mp.batchSize = 256
    mp.epochs = 1
    mp.earlyStopping = false
    let startMLP = ContinuousClock.now
    let mlp = try MultilayerPerceptron.fit(data, task: .binaryClassification, parameters: mp)
    let tm = seconds(ContinuousClock.now - startMLP)
    print(
        String(
            format: "mlp 32-64-64-1, 1 epoch over 1M rows, batch 256, 2 threads: %.2f s; train AUC (first 100k) %.4f",
            tm,
            Metrics.rocAUC(Array(data.y[0..<100_000]), mlp.predict(batch: sample))
        )
    )
    let mlpBundle = ModelBundle(
        metadata: ModelMetadata(name: "bench-mlp", kind: .mlp, task: .binaryClassification),
        features: try FeaturePipelineDefinition(features: (0..<32).map { FeatureSpec(name: "f\($0)", indicator: .price) }),
        scaler: .none,
        label: LabelDefinition(),
        model: mlp
    )
    let mlpAdapter = InferenceAdapter(bundle: mlpBundle)
    var sinkMLP = 0.0
    let tmi = best(5) { for r in (0..<10_000).map({ data.x.row($0) }) { sinkMLP += mlpAdapter.predict(r) } }
    print(String(format: "inference (MLP 32-64-64-1 via adapter): mean %.2f us per vector (incl. row copy)", tmi / 10_000 * 1e6))
    if sinkMLP == 42 { print("") }
    // Single-vector inference through the adapter.
    let def = try FeaturePipelineDefinition(features: (0..<32).map { FeatureSpec(name: "f\($0)", indicator: .price) })
    let bundle = ModelBundle(
        metadata: ModelMetadata(name: "bench", kind: .gbdt, task: .binaryClassification),
        features: def,
        scaler: .standard(StandardScaler(mean: [Double](repeating: 0, count: 32), scale: [Double](repeating: 1, count: 32))),
        label: LabelDefinition(),
        model: gbdt
    )
    let adapter = InferenceAdapter(bundle: bundle)
    var sink = 0.0
    let rows = (0..<10_000).map { data.x.row($0) }
    let ti = best(5) { for r in rows { sink += adapter.predict(r) } }
    let l = adapter.latency
    print(
        String(
            format: "inference (GBDT 100 trees, 32 features, via adapter): mean %.2f us per vector; adapter p50 <= %.0f ns, p99 <= %.0f ns",
            ti / Double(rows.count) * 1e6,
            l.p50Nanoseconds,
            l.p99Nanoseconds
        )
    )
    if sink == 42 { print("") }
}

// The allocator as crocbot sets it (large buffers reused from the heap, not faulted in again).
_ = croc_tune_allocator()
var args = Array(CommandLine.arguments.dropFirst())

var bars = 1_000_000
var csvPath = "/tmp/crocbench_1m.csv"
if let i = args.firstIndex(of: "--bars"), i + 1 < args.count, let v = Int(args[i + 1]) {
    bars = v
    args.removeSubrange(i...(i + 1))
}
if let i = args.firstIndex(of: "--csv"), i + 1 < args.count {
    csvPath = args[i + 1]
    args.removeSubrange(i...(i + 1))
}
var trials = 500
if let i = args.firstIndex(of: "--trials"), i + 1 < args.count, let v = Int(args[i + 1]) {
    trials = v
    args.removeSubrange(i...(i + 1))
}
// The CartPole convergence runs: `--steps N` (budget) and `--target R` (the average return over 100
// greedy episodes to reach). The defaults are the full criterion; CI runs DQN reduced (see scripts/ci/bench.sh).
var stepBudget: Int?
if let i = args.firstIndex(of: "--steps"), i + 1 < args.count, let v = Int(args[i + 1]), v > 0 {
    stepBudget = v
    args.removeSubrange(i...(i + 1))
}
var targetReturn = 475.0
if let i = args.firstIndex(of: "--target"), i + 1 < args.count, let v = Double(args[i + 1]) {
    targetReturn = v
    args.removeSubrange(i...(i + 1))
}
let which = args.first ?? "all"
// The benchmarks read the shipped examples by paths relative to the repository root.
guard FileManager.default.fileExists(atPath: "Examples/data/GOOGL.csv") else {
    FileHandle.standardError.write(
        Data("crocbench: run it from the repository root (Examples/data/GOOGL.csv not found in \(FileManager.default.currentDirectoryPath))\n".utf8)
    )
    exit(2)
}
if which == "engine" || which == "all" { benchEngine(bars: bars) }
if which == "csv" || which == "all" { try benchCSV(rows: bars, path: csvPath) }
if which == "portfolio" || which == "all" { try benchPortfolio() }
// universe-load: UniverseLoader.load of the portfolio benchmark's wide file (10 MB), best of 10.
if which == "universe-load" {
    let path = "/tmp/crocbench_universe_500.csv"
    // The first load is what a command pays (fresh memory: page faults); the best of 10 after it reuses the heap.
    func minorFaults() -> Int { selfUsage().ru_minflt }
    let faults0 = minorFaults()
    let t0 = ContinuousClock.now
    let cells = try UniverseLoader.load(path: path).members.reduce(0) { $0 + $1.count }
    let first = seconds(ContinuousClock.now - t0)
    let faults = minorFaults() - faults0
    let time = best(10) { _ = try? UniverseLoader.load(path: path) }
    print(
        String(
            format: "universe-load: %@, %d closes: first %.1f ms (%d page faults), best %.1f ms",
            path,
            cells,
            first * 1000,
            faults,
            time * 1000
        )
    )
}
if which == "executor-sim" { try await benchExecutor(orders: Int(ProcessInfo.processInfo.environment["CROCBENCH_ORDERS"] ?? "") ?? 200_000) }
// CROCBENCH_LIVE_EVENTS: events per run (default 100,000; CI runs 30,000 to check that no event is lost).
if which == "live" { try await benchLive(events: Int(ProcessInfo.processInfo.environment["CROCBENCH_LIVE_EVENTS"] ?? "") ?? 100_000, rate: 10_000) }
if which == "sweep" { try await benchSweep() }
if which == "portfolio-sweep" { try await benchPortfolioSweep() }
if which == "cross-section" { try benchCrossSection() }
if which == "panel" {
    let path = "/tmp/crocbench_universe_500.csv"
    let universe = FileManager.default.fileExists(atPath: path) ? try UniverseLoader.load(path: path) : try syntheticUniverse()
    _ = benchPanel(universe, FeaturePipeline(try FeaturePipelineDefinition.parse(text: crossSectionFeatures)), streams: false)
}
if which == "streams" {
    let (perBar, runs, runLength) = benchStreams(
        try UniverseLoader.load(path: "/tmp/crocbench_universe_500.csv"),
        FeaturePipeline(try FeaturePipelineDefinition.parse(text: crossSectionFeatures))
    )
    print(
        String(
            format: "streams: 20 features x 500 symbols x 2,520 bars, one core: %.3f s bar by bar, %.3f s in runs of %d bars",
            perBar,
            runs,
            runLength
        )
    )
}
if which == "model-topk" {
    // Part 3 of cross-section on the bundle cross-section saved (run cross-section once first).
    let path = "/tmp/crocbench_universe_500.csv"
    try benchModelTopK(universe: try UniverseLoader.load(path: path), bundle: try ModelBundle.load(from: topkBundlePath))
}
if which == "gbdt-panel" {
    // Part 2 of cross-section alone, on the rows it saved (run cross-section once first).
    _ = try benchPanelGBDT(try loadPanelRows())
}
if which == "portfolio-env" {
    let path = "/tmp/crocbench_universe_500.csv"
    try benchPortfolioEnvironment(FileManager.default.fileExists(atPath: path) ? try UniverseLoader.load(path: path) : try syntheticUniverse())
}
if which == "trials" {
    // A fixed amount of work for profilers (perf, valgrind --tool=callgrind): the first
    // `--trials` (default 500) trials spread evenly over the 100 × 100 grid, on one core, untimed.
    let runner = try SweepRunner(spec: try SweepSpec.load(path: "Examples/sweep-grid-100x100.yaml"))
    let n = min(trials, 10_000)
    var sink = 0.0
    for k in 0..<n {
        let i = k * 10_000 / n
        sink += runner.evaluate(runner.parameters(of: i), index: i).objective ?? 0
    }
    print(String(format: "trials: objective sum %.6f", sink))
}
if which == "executor" {
    // CROCBENCH_ORDERS: orders per run (default 200,000; CI runs 50,000 to check that none is lost).
    try await benchExecutor(orders: Int(ProcessInfo.processInfo.environment["CROCBENCH_ORDERS"] ?? "") ?? 200_000)
    try await benchExecutorHTTP(orders: 5_000)
}
if which == "rl" {
    // Environment steps per second: one env, the stationary example features, window 32.
    let series = try CSVBarLoader.load(path: "Examples/data/EURUSD_1H_ASK.csv")
    let def = try FeaturePipelineDefinition.load(path: "Examples/features-stationary.yaml")
    var config = TradingEnvironmentConfig()
    config.window = 32
    config.episodeLength = 4096
    var env = try TradingEnvironment(series: series, features: def, config: config)
    var steps = 0
    var sink = 0.0
    let t = best(3) {
        _ = env.reset(seed: 1)
        var done = false
        while !done {
            let r = env.step(.discrete(steps % 13 < 6 ? 1 : 0))
            sink += r.reward + r.observation[0]
            steps += 1
            done = r.truncated || r.terminated
        }
    }
    print(String(format: "rl env: %d features x window 32 (+2), %.2f M steps/s", FeaturePipeline(def).width, Double(steps / 3) / t / 1e6))
    if sink == 42 { print("") }
}
if which == "ppo-cartpole" {
    // PPO (Stable-Baselines3 defaults) on CartPole-v1 until the greedy policy averages 475 over
    // 100 evaluation episodes; budget 400,000 environment steps.
    let budget = stepBudget ?? 400_000
    var env = CartPole()
    var agent = PPOAgent(observationSize: 4, actions: 2)
    var evalEnv = CartPole()
    let start = ContinuousClock.now
    var reached: (steps: Int, seconds: Double, score: Double)?
    agent.train(&env, totalSteps: budget) { report, current in
        var probe = evalEnv
        let quick = current.evaluate(&probe, episodes: 20, seed: 1_000)
        print(
            String(
                format: "ppo: %7d steps, mean episode return %6.1f, greedy eval %6.1f, policy loss %+.4f, value loss %.3f",
                report.steps,
                report.meanEpisodeReturn,
                quick,
                report.policyLoss,
                report.valueLoss
            )
        )
        guard quick >= targetReturn else { return true }
        let full = current.evaluate(&evalEnv, episodes: 100, seed: 10_000)
        if full >= targetReturn {
            reached = (report.steps, seconds(ContinuousClock.now - start), full)
            return false
        }
        return true
    }
    if let r = reached {
        print(
            String(
                format: "ppo cartpole: average return %.1f over 100 episodes after %d steps, %.1f s wall clock (training incl. evaluations)",
                r.score,
                r.steps,
                r.seconds
            )
        )
    } else {
        print("ppo cartpole: did not reach \(targetReturn) within \(budget) steps")
        exit(1)
    }
}
if which == "dqn-cartpole" {
    // Double DQN (RL Zoo's CartPole settings) until the greedy policy averages 475 over 100
    // evaluation episodes; budget 100,000 environment steps.
    let budget = stepBudget ?? 100_000
    var env = CartPole()
    var agent = DQNAgent(observationSize: 4, actions: 2)
    var evalEnv = CartPole()
    let start = ContinuousClock.now
    var reached: (steps: Int, seconds: Double, score: Double)?
    agent.train(&env, totalSteps: budget) { steps, mean, epsilon, current in
        var probe = evalEnv
        let quick = current.evaluate(&probe, episodes: 20, seed: 1_000)
        print(String(format: "dqn: %6d steps, recent episode return %6.1f, eps %.3f, greedy eval %6.1f", steps, mean, epsilon, quick))
        guard quick >= targetReturn else { return true }
        let full = current.evaluate(&evalEnv, episodes: 100, seed: 10_000)
        if full >= targetReturn {
            reached = (steps, seconds(ContinuousClock.now - start), full)
            return false
        }
        return true
    }
    if let r = reached {
        print(String(format: "dqn cartpole: average return %.1f over 100 episodes after %d steps, %.1f s wall clock", r.score, r.steps, r.seconds))
    } else {
        print("dqn cartpole: did not reach \(targetReturn) within \(budget) steps")
        exit(1)
    }
}
if which == "models" {
    try benchModels(path: "/tmp/crocbench_models_1m.bin")
}
if which == "indicators" || which == "all" {
    if !FileManager.default.fileExists(atPath: csvPath) { try benchCSV(rows: bars, path: csvPath) }
    try benchIndicators(path: csvPath)
}
