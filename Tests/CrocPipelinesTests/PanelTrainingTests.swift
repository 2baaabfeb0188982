import CrocCore
import CrocData
import CrocEngine
import CrocModels
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

@Suite("Panel training, model_topk and TopkDropout")
struct PanelTrainingTests {
    static let wide = repoRoot.appendingPathComponent("Examples/data/SP500_10_CLOSE.csv").path

    static func temp(_ name: String) -> String {
        testTemporaryURL().appendingPathComponent("croc-panel-\(name)-\(UUID().uuidString)").path
    }

    /// A small universe config: 2000-2012, three features ranked across symbols, ranked labels.
    static func config(universe: String = wide, output: String, extra: String = "") throws -> TrainingConfig {
        let yaml = """
            name: panel-test
            data: {universe: \(universe), start: "2000-01-01", end: "2012-01-01"}
            features:
              - {name: ret_20, indicator: returns, params: {period: 20}}
              - {name: vol_20, indicator: volatility, params: {period: 20}}
              - {name: zscore_20, indicator: zscore, params: {period: 20}}
            crossSection: rank
            label: {kind: value, horizon: 10, crossSection: rank}
            scaler: standard
            model: {kind: gbdt, params: {rounds: 15, maxDepth: 3, minSamplesLeaf: 50, subsample: 0.8, seed: 3}}
            portfolio: {top: 3, dropout: 1, rebalance: 10}
            backtest: {cash: 100000, commission: 0.001}
            output: \(output)
            \(extra)
            """
        return try TrainingConfig(try AppConfig.parse(text: yaml))
    }

    static func weights(_ dir: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent("weights.bin")) }

    @Test("training on a universe is deterministic, and data planted after the training labels leaves weights.bin byte-identical")
    func deterministicAndNoLookAhead() throws {
        let a = Self.temp("a")
        let b = Self.temp("b")
        let first = try PanelTrainingPipeline.run(try Self.config(output: a))
        _ = try PanelTrainingPipeline.run(try Self.config(output: b))
        #expect(try Self.weights(a) == Self.weights(b))
        #expect(first.bundle.crossSection == .rank && first.bundle.label.crossSection == .rank)
        #expect(first.trainRows > 1000 && first.testFactor.rankICSummary.count > 100)

        // Rewrite every close from the validation range's first date on (wild factors): the
        // training rows, their labels, the scaler and so the weights must not move.
        let u = try TrainingPipeline.loadUniverse(try Self.config(output: a).data)
        let cut = u.timestamps[first.split.validation.lowerBound]
        let text = try String(contentsOfFile: Self.wide, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var planted = 0
        for i in 1..<lines.count where !lines[i].isEmpty {
            var cells = lines[i].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let t = try CSVBarLoader.parse(text: "date,open,high,low,close\n\(cells[0]),1,1,1,1\n").timestamps[0]
            guard t >= cut else { continue }
            for j in 1..<cells.count {
                if let v = Double(cells[j]) { cells[j] = String(v * (1 + 0.5 * sin(Double(i * 31 + j)))) }
            }
            lines[i] = cells.joined(separator: ",")
            planted += 1
        }
        #expect(planted > 1000)
        let plantedPath = Self.temp("planted") + ".csv"
        try lines.joined(separator: "\n").write(toFile: plantedPath, atomically: true, encoding: .utf8)
        let c = Self.temp("c")
        let tampered = try PanelTrainingPipeline.run(try Self.config(universe: plantedPath, output: c))
        #expect(tampered.split == first.split)
        #expect(try Self.weights(c) == Self.weights(a))
        // ...while the test range's evaluation does see the planted prices.
        #expect(tampered.metrics["test.rank_ic_mean"] != first.metrics["test.rank_ic_mean"])
    }

    @Test("model_topk scores each symbol as the batch panel does (streaming = batch, the bundle's rank transform and scaler)")
    func streamingScoresEqualBatch() throws {
        let dir = Self.temp("stream")
        let result = try PanelTrainingPipeline.run(try Self.config(output: dir))
        let bundle = try ModelBundle.load(from: dir)
        let u = try TrainingPipeline.loadUniverse(try Self.config(output: dir).data)
        let data = try LabelledPanel(universe: u, features: bundle.features, crossSection: bundle.crossSection ?? .none, label: bundle.label)
        // Batch: every row with features (labels or not), scored through the bundle's scaler.
        var batch = [[Double]](repeating: [Double](repeating: .nan, count: u.count), count: u.timestamps.count)
        let width = data.panel.columnNames.count
        for t in 0..<u.timestamps.count {
            for s in 0..<u.count {
                var v = data.vector((t, s))
                guard v.count == width, v.allSatisfy(\.isFinite) else { continue }
                bundle.scaler.transform(&v)
                batch[t][s] = bundle.model.predict(v)
            }
        }
        // Streaming: the strategy fed slice by slice.
        var strategy = ModelTopKStrategy(adapter: InferenceAdapter(bundle: bundle, recordLatency: false), top: 3, rebalance: 7)
        let instruments = u.symbols.map { Instrument(symbol: $0, pricePrecision: 3) }
        var context = StrategyContext(instruments: instruments, fees: .free)
        for t in 0..<u.timestamps.count {
            var lanes: [Int] = []
            var bars: [Bar] = []
            for s in 0..<u.count {
                if let b = u.bar(symbol: s, time: t) {
                    lanes.append(s)
                    bars.append(b)
                }
            }
            try strategy.onSlice(MarketSlice(time: Timestamp(nanoseconds: u.timestamps[t]), lanes: lanes, bars: bars), context: &context)
        }
        #expect(strategy.decisions.count > 300)
        var compared = 0
        for d in strategy.decisions {
            #expect((d.slice - strategy.warmupBars) % 7 == 0)
            for s in 0..<u.count {
                #expect(d.scores[s].isNaN == batch[d.slice][s].isNaN, "row \(d.slice) symbol \(s)")
                if d.scores[s].isFinite {
                    #expect(abs(d.scores[s] - batch[d.slice][s]) <= 1e-12, "row \(d.slice) symbol \(s): \(d.scores[s]) vs \(batch[d.slice][s])")
                    compared += 1
                }
            }
        }
        #expect(compared > 3000)
        // The last decision placed a rebalance of the top 3 scores at 1/3 each.
        guard case .rebalance(let targets)? = context.commands.last, let last = strategy.decisions.last else {
            Issue.record("no rebalance placed")
            return
        }
        let best = (0..<u.count).filter { last.scores[$0].isFinite }.sorted { last.scores[$0] > last.scores[$1] }.prefix(3)
        #expect(Set(targets.map(\.symbol)) == Set(best.map { u.symbols[$0] }))
        #expect(targets.allSatisfy { abs($0.weight - 1.0 / 3) < 1e-15 })
        // The training report: the factor charts, the metrics, the backtest; self-contained.
        let html = FactorHTMLReport.render(
            bundle: bundle,
            factor: result.testFactor,
            metrics: result.metrics,
            backtest: result.testBacktest,
            configuration: "x"
        )
        for id in ["cumulative-rank-ic", "rank-ic-by-year", "quantile-returns", "spread", "feature-importance", "equity"] {
            #expect(html.contains("data-chart=\"\(id)\""), "chart \(id)")
        }
        // Offline: no network, no script but the charts' inline one.
        #expect(html.contains("test.rank_ic_mean") && !html.contains("https://") && !html.contains("<script src"))
    }

    @Test(
        "model_topk without a cross-sectional transform scores each lane on the thread that caught its stream up: the batch panel's scores",
        arguments: [7, 450]  // 450 slices of 10 symbols wait at a rebalance: the catch-up splits over the cores
    )
    func fusedScoresEqualBatch(every: Int) throws {
        let dir = Self.temp("fused")
        _ = try PanelTrainingPipeline.run(try Self.config(output: dir))
        var bundle = try ModelBundle.load(from: dir)
        bundle.crossSection = nil
        let u = try TrainingPipeline.loadUniverse(try Self.config(output: dir).data)
        let data = try LabelledPanel(universe: u, features: bundle.features, crossSection: .none, label: bundle.label)
        let width = data.panel.columnNames.count
        var strategy = ModelTopKStrategy(adapter: InferenceAdapter(bundle: bundle, recordLatency: false), top: 3, rebalance: every)
        var context = StrategyContext(instruments: u.symbols.map { Instrument(symbol: $0, pricePrecision: 3) }, fees: .free)
        for t in 0..<u.timestamps.count {
            let lanes = (0..<u.count).filter { u.bar(symbol: $0, time: t) != nil }
            let bars = lanes.map { u.bar(symbol: $0, time: t)! }
            try strategy.onSlice(MarketSlice(time: Timestamp(nanoseconds: u.timestamps[t]), lanes: lanes, bars: bars), context: &context)
        }
        #expect(strategy.decisions.count >= (every == 7 ? 300 : 5))
        var compared = 0
        for d in strategy.decisions {
            for s in 0..<u.count {
                var v = data.vector((d.slice, s))
                let batch: Double
                if v.count == width, v.allSatisfy(\.isFinite) {
                    bundle.scaler.transform(&v)
                    batch = bundle.model.predict(v)
                } else {
                    batch = .nan
                }
                #expect(d.scores[s].isNaN == batch.isNaN, "row \(d.slice) symbol \(s)")
                if d.scores[s].isFinite {
                    #expect(abs(d.scores[s] - batch) <= 1e-12, "row \(d.slice) symbol \(s): \(d.scores[s]) vs \(batch)")
                    compared += 1
                }
            }
        }
        #expect(compared >= (every == 7 ? 3000 : 50))
    }

    @Test("model_topk in a backtest holds at most top symbols and replaces at most dropout per rebalance")
    func backtestRespectsTopAndDropout() throws {
        let dir = Self.temp("bt")
        _ = try PanelTrainingPipeline.run(try Self.config(output: dir))
        let u = try TrainingPipeline.loadUniverse(DataConfig(start: "2008-01-01", universe: Self.wide))
        let factory = StrategyFactory.standard(bundles: BundleCache())
        let strategy = try factory.make(
            "model_topk",
            parameters: ["model": .string(dir), "top": .int(4), "dropout": .int(1), "rebalance": .int(10)],
            symbols: u.symbols
        )
        var options = try BacktestOptions(BacktestSettings(cash: 1_000_000, commission: 0.001))
        options.fillTiming = .close
        let instruments = try Backtester.instruments(for: u, config: InstrumentConfig())
        let result = try Backtester.run(universe: u, instruments: instruments, strategy: strategy, options: options)
        let rows = result.weights
        #expect(rows.count > 50)
        var previous: Set<Int> = []
        for (i, row) in rows.enumerated() {
            let held = Set(row.weights.indices.filter { row.weights[$0] > 1e-9 })
            #expect(held.count <= 4, "rebalance \(i) holds \(held.count)")
            if i > 0 && previous.count == 4 {
                #expect(previous.subtracting(held).count <= 1, "rebalance \(i) replaced \(previous.subtracting(held).count)")
            }
            previous = held
        }
        #expect(result.statistics.tradeCount > 10)
    }

    @Test("a sweep's model_topk trials share their rebalances' scores; each trial's run is the one it makes alone, on any data")
    func sharedScores() throws {
        let dir = Self.temp("shared")
        _ = try PanelTrainingPipeline.run(try Self.config(output: dir))
        let u = try TrainingPipeline.loadUniverse(DataConfig(start: "2008-01-01", universe: Self.wide))
        var options = try BacktestOptions(BacktestSettings(cash: 1_000_000, commission: 0.001))
        options.fillTiming = .close
        let instruments = try Backtester.instruments(for: u, config: InstrumentConfig())
        let trials: [[String: ConfigValue]] = [
            ["top": .int(3), "dropout": .int(1)],
            ["top": .int(4), "dropout": .int(0)],
            ["top": .int(2), "dropout": .int(2), "weighting": .string("score")],
            ["top": .int(3), "minScore": .double(0.4)],
        ]
        func run(_ universe: Universe, _ trial: [String: ConfigValue], _ factory: StrategyFactory) throws -> BacktestResult {
            let params = trial.merging(["model": .string(dir), "rebalance": .int(10)]) { a, _ in a }
            let strategy = try factory.make("model_topk", parameters: params, symbols: universe.symbols)
            return try Backtester.run(universe: universe, instruments: instruments, strategy: strategy, options: options)
        }
        func same(_ a: BacktestResult, _ b: BacktestResult, _ what: String) {
            let equity = a.equity == b.equity
            let fills = a.fills == b.fills
            let weights = a.weights.map(\.weights) == b.weights.map(\.weights)
            #expect(
                equity && fills && weights,
                "\(what): equity \(equity), fills \(fills) (\(a.fills.count) and \(b.fills.count)), weights \(weights)"
            )
        }
        let shared = BundleCache(sharingScores: true)
        let sharing = StrategyFactory.standard(bundles: shared)
        let alone = StrategyFactory.standard(bundles: BundleCache())
        #expect(BundleCache().scores == nil)
        var rebalances = 0
        for (i, trial) in trials.enumerated() {
            let a = try run(u, trial, alone)
            let b = try run(u, trial, sharing)
            same(a, b, "trial \(i)")
            if i == 0 { rebalances = shared.scores!.count }
            // The first trial scored every rebalance; the others read every row back.
            #expect(shared.scores!.hits == rebalances * i, "trial \(i)")
        }
        #expect(rebalances > 50)

        // Other data from a date on: the rows before it are read back, the ones after scored
        // again (the streams catch up on every bar they skipped), and the run is the one alone.
        let k = u.count / 2
        let changedRow = u.members[k].count * 2 / 3
        var members = u.members
        var bars = (0..<members[k].count).map { members[k][$0] }
        for i in changedRow..<bars.count {
            bars[i].close *= 1.07
            bars[i].open = bars[i].close
            bars[i].high = bars[i].close
            bars[i].low = bars[i].close
        }
        members[k] = try BarSeries(symbol: members[k].symbol, bars: bars, pricePrecision: members[k].pricePrecision)
        let edited = try Universe(members: members)
        let hits = shared.scores!.hits
        let kept = shared.scores!.count
        same(try run(edited, trials[0], alone), try run(edited, trials[0], sharing), "edited data")
        let reused = shared.scores!.hits - hits
        let scored = shared.scores!.count - kept
        #expect(reused > 0 && scored > 0 && reused + scored == rebalances, "\(reused) read back, \(scored) scored")

        // One more symbol, listed later and last (a walk-forward window that reaches its listing):
        // the same bars as `u` until then, but rows one score longer — never read from `u`'s.
        let first = u.members[0]
        let late = try BarSeries(
            symbol: "ZZLATE",
            bars: (first.count * 3 / 4..<first.count).map { first[$0] },
            pricePrecision: first.pricePrecision
        )
        let longer = try Universe(members: u.members + [late])
        let lateInstruments = try Backtester.instruments(for: longer, config: InstrumentConfig())
        func runLonger(_ factory: StrategyFactory) throws -> BacktestResult {
            let params = trials[0].merging(["model": .string(dir), "rebalance": .int(10)]) { a, _ in a }
            let strategy = try factory.make("model_topk", parameters: params, symbols: longer.symbols)
            return try Backtester.run(universe: longer, instruments: lateInstruments, strategy: strategy, options: options)
        }
        let before = shared.scores!.hits
        same(try runLonger(alone), try runLonger(sharing), "a symbol listed later")
        #expect(shared.scores!.hits == before, "no row of the shorter universe read back")
    }

    @Test("model_topk on paper through the live loop: the backtest's fills, equity and positions, bit for bit")
    func paperEqualsBacktest() async throws {
        let dir = Self.temp("paper")
        _ = try PanelTrainingPipeline.run(try Self.config(output: dir))
        let u = try UniverseLiveParityTests.shipped().rows(4000..<5200)
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        let options = BacktestOptions(
            cash: FixedPoint(100_000),
            fees: FeeModel(commissionRate: FixedPoint("0.001")!, slippageBps: FixedPoint(5)),
            fillTiming: .close,
            finalize: .none
        )
        let params: [String: ConfigValue] = ["model": .string(dir), "top": .int(3), "dropout": .int(1), "rebalance": .int(10)]
        let factory = StrategyFactory.standard(bundles: BundleCache())
        try await UniverseLiveParityTests.expectParity(
            u,
            instruments,
            { try factory.make(StrategyConfig(name: "model_topk", params: params), symbols: u.symbols) },
            options,
            minFills: 40
        )
    }

    @Test("walk-forward on the panel: windows of dates shared by all symbols, scores only out of sample, stitched into one factor")
    func walkForward() throws {
        let config = try Self.config(output: Self.temp("wf"))
        let u = try TrainingPipeline.loadUniverse(config.data)
        let data = try LabelledPanel(universe: u, features: config.features, crossSection: config.crossSection, label: config.label)
        let r = try PanelWalkForward.run(data, config: config, trainSize: 500, testSize: 250, expanding: false)
        #expect(r.windows.count == (data.dates - 10 - (data.warmup + 500)) / 250)
        for w in r.windows {
            #expect(w.train.upperBound + config.purge == w.test.lowerBound)
            #expect(w.rankIC.isFinite)
        }
        // Dates before the first test window have no score; the stitched factor covers the tests.
        let firstTest = r.windows[0].test.lowerBound
        #expect(r.factor.rankIC[..<firstTest].allSatisfy { $0.isNaN })
        #expect(r.factor.rankICSummary.count == r.windows.count * 250)
        #expect(r.outOfSample["rows"] == Double(r.windows.reduce(0) { $0 + data.rows($1.test).count }))
    }

    @Test("TopkDropout's partial selection picks what sorting every candidate picks (ties, NaN, any book)")
    func topkDropoutPartialSelection() {
        /// The rule with every list sorted in full (the form before the partial selection).
        func reference(held: [Int], score: [Double], top: Int, dropout: Int) -> [Int] {
            func scored(_ k: Int) -> Bool { k < score.count && !score[k].isNaN }
            func better(_ a: Int, _ b: Int) -> Bool { score[a] != score[b] ? score[a] > score[b] : a < b }
            let unscored = held.filter { !scored($0) }
            let last = held.filter { scored($0) }.sorted(by: better)
            let candidates = (0..<score.count).filter { scored($0) && !held.contains($0) }.sorted(by: better)
            guard dropout > 0 else { return Array((last + candidates).sorted(by: better).prefix(max(0, top - unscored.count))) + unscored }
            let today = Array(candidates.prefix(max(0, dropout + top - held.count)))
            let worst = Set((last + today).sorted(by: better).suffix(dropout))
            let sell = Set(last.filter { worst.contains($0) })
            let buy = today.prefix(max(0, sell.count + top - held.count))
            return (last.filter { !sell.contains($0) } + buy).sorted(by: better) + unscored
        }
        var state: UInt64 = 5
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for trial in 0..<400 {
            let lanes = 1 + next(300)
            // Few distinct scores (many ties), some NaN (not scored), some ±∞.
            let score: [Double] = (0..<lanes).map { _ in
                let r = next(100)
                return r < 8 ? .nan : r < 10 ? (r == 8 ? .infinity : -.infinity) : Double(r % 17) / 4
            }
            let held = Array(Set((0..<next(60)).map { _ in next(lanes + 5) })).sorted()
            let top = 1 + next(60)
            let dropout = next(8)
            let expected = reference(held: held, score: score, top: top, dropout: dropout)
            let got = TopKDropout.select(held: held, scores: score, top: top, dropout: dropout)
            #expect(got == expected, "trial \(trial): \(lanes) lanes, top \(top), dropout \(dropout), held \(held.count)")
            if got != expected { break }
        }
    }

    @Test("TopkDropout keeps holdings, sells at most dropout of the worst, and buys the best to refill (Qlib's rule)")
    func topkDropoutRule() {
        // Held 0, 1, 2; scores: 3 best, then 0, 4, 1, 2 worst.
        let scores: [Int: Double] = [0: 0.8, 1: 0.4, 2: 0.1, 3: 0.9, 4: 0.5]
        // dropout 1: today = best 2 not held = [3, 4]; comb = 3, 0, 4, 1, 2; worst 1 = [2] → sell 2, buy 3.
        #expect(TopKDropout.select(held: [0, 1, 2], scores: scores, top: 3, dropout: 1) == [3, 0, 1])
        // dropout 2: today = [3, 4] (2 + 3 − 3 = 2); comb worst 2 = [1, 2] → sell both, buy 3 and 4.
        #expect(TopKDropout.select(held: [0, 1, 2], scores: scores, top: 3, dropout: 2) == [3, 0, 4])
        // dropout 0: a plain top-3.
        #expect(TopKDropout.select(held: [0, 1, 2], scores: scores, top: 3, dropout: 0) == [3, 0, 4])
        // Empty book: buys the top 3 whatever the dropout.
        #expect(TopKDropout.select(held: [], scores: scores, top: 3, dropout: 1) == [3, 0, 4])
        // A held symbol without a score (no bar now) is kept and keeps its slot.
        #expect(TopKDropout.select(held: [7, 1], scores: scores, top: 3, dropout: 1) == [3, 0, 7])
        // When the held are already the best, nothing changes.
        #expect(TopKDropout.select(held: [3, 0, 4], scores: scores, top: 3, dropout: 1) == [3, 0, 4])
        // The array form (NaN: no score) selects the same; ±∞ are scores, NaN in the dictionary is none.
        let byLane = [0.8, 0.4, 0.1, 0.9, 0.5, .nan, .nan, .nan]
        for dropout in 0...2 {
            #expect(
                TopKDropout.select(held: [0, 1, 2], scores: byLane, top: 3, dropout: dropout)
                    == TopKDropout.select(held: [0, 1, 2], scores: scores, top: 3, dropout: dropout)
            )
        }
        #expect(TopKDropout.select(held: [7, 1], scores: byLane, top: 3, dropout: 1) == [3, 0, 7])
        #expect(TopKDropout.select(held: [], scores: [0: 0.8, 1: .infinity, 2: .nan, 3: -.infinity], top: 2, dropout: 0) == [1, 0])
        #expect(TopKDropout.select(held: [2], scores: [0: 0.8, 1: .infinity, 2: .nan], top: 2, dropout: 0) == [1, 2])
    }

    @Test("bad input: top beyond the universe, a horizon beyond the data, volume on a close-only universe, short histories")
    func badInput() throws {
        let u = try UniverseLoader.load(path: Self.wide)
        #expect(throws: StrategyError.self) {
            _ = try StrategyFactory.standard.make("model_topk", parameters: ["model": .string("/nonexistent"), "top": .int(11)], symbols: u.symbols)
        }
        let missing = #expect(throws: StrategyError.self) {
            _ = try StrategyFactory.standard.make("model_topk", parameters: ["model": .string("/nonexistent"), "top": .int(2)], symbols: u.symbols)
        }
        #expect(missing?.keyPath == "strategy.params.model")
        let def = try FeaturePipelineDefinition.parse(text: "[{name: r, indicator: returns}]")
        let beyond = #expect(throws: PanelError.self) {
            _ = try LabelledPanel(universe: try u.rows(0..<30), features: def, crossSection: .none, label: LabelDefinition(kind: .value, horizon: 30))
        }
        #expect(beyond?.place == "label.horizon")
        let volume = try FeaturePipelineDefinition.parse(text: "[{name: vz, indicator: zscore, source: volume}]")
        let noVolume = #expect(throws: PanelError.self) {
            _ = try LabelledPanel(universe: u, features: volume, crossSection: .none, label: LabelDefinition(kind: .value, horizon: 5))
        }
        #expect(noVolume?.place == "features.vz")
        // A member with fewer bars than warm-up + horizon is left out, by name.
        var longBars: [Bar] = []
        for i in 0..<200 {
            let c = 10 + Double(i % 7)
            longBars.append(
                Bar(timestamp: Timestamp(nanoseconds: Int64(i) * 86_400_000_000_000), open: c, high: c + 1, low: c - 1, close: c, volume: 1)
            )
        }
        let long = try BarSeries(symbol: "LONG", bars: longBars)
        let shortBars = (190..<200).map { long[$0] }
        let universe = try Universe(members: [long, try BarSeries(symbol: "NEW", bars: shortBars)])
        let z = try FeaturePipelineDefinition.parse(text: "[{name: z, indicator: zscore, params: {period: 20}}]")
        let panel = try LabelledPanel(universe: universe, features: z, crossSection: .rank, label: LabelDefinition(kind: .value, horizon: 5))
        #expect(panel.excluded == ["NEW"] && panel.universe.symbols == ["LONG"])
        // A config with a cross-section but one series is refused, naming the key.
        let single = #expect(throws: ConfigError.self) {
            _ = try TrainingConfig(try AppConfig.parse(text: "data: {path: x.csv}\ncrossSection: rank\n"))
        }
        #expect(single?.keyPath == "crossSection")
    }

    @Test("the volatility indicator is the population sd of 1-bar log returns, the same in batch and streaming form")
    func volatility() throws {
        let closes = [100.0, 101, 99, 102, 103, 101, 104, 108, 107, 109]
        var v = ReturnVolatility(period: 4)
        let out = closes.map { v.update($0) }
        let warming = out[0..<4].allSatisfy { $0.isNaN }
        #expect(warming)
        for i in 4..<closes.count {
            let r = (i - 3...i).map { log(closes[$0] / closes[$0 - 1]) }
            let m = r.reduce(0, +) / 4
            let sd = (r.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 4).squareRoot()
            #expect(abs(out[i] - sd) < 1e-12, "bar \(i)")
        }
        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)
        let pipeline = FeaturePipeline(try FeaturePipelineDefinition.parse(text: "[{name: v, indicator: volatility, params: {period: 20}}]"))
        let batch = pipeline.transform(series)
        var stream = pipeline.makeStream()
        #expect(pipeline.warmup == 20)
        for i in 0..<series.count {
            let x = stream.update(series[i])[0]
            #expect(x.bitPattern == batch[i, 0].bitPattern || (x.isNaN && batch[i, 0].isNaN), "bar \(i)")
        }
    }
}
