import CrocCore
import CrocData
import CrocEngine
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

/// Replays a table of target weights (time → weight per lane) through `rebalance(weights:)`.
struct WeightReplayStrategy: Strategy {
    let weights: [Int64: [Double]]
    var name: String { "replay" }
    var warmupBars: Int { 0 }
    func onBar(_ bar: Bar, context: inout StrategyContext) {}
    mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        if let w = weights[slice.time.nanoseconds] { try context.rebalance(weights: w) }
    }
}

/// Rebalances every slice to equal weights of the symbols that have a bar now (the others to 0).
struct EveryBarEqualWeight: Strategy {
    var name: String { "every_bar" }
    var warmupBars: Int { 0 }
    func onBar(_ bar: Bar, context: inout StrategyContext) {}
    mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        var w = [Double](repeating: 0, count: context.symbols.count)
        for k in slice.lanes { w[k] = 1.0 / Double(slice.lanes.count) }
        try context.rebalance(weights: w)
    }
}

@Suite("Portfolio backtests: one engine, many instruments, one account")
struct PortfolioBacktestTests {
    static let fixtures = repoRoot.appendingPathComponent("Tests/CrocPipelinesTests/Fixtures/portfolio").path
    static func shipped() throws -> Universe {
        try UniverseLoader.load(path: repoRoot.appendingPathComponent("Examples/data/SP500_10_CLOSE.csv").path)
    }

    /// vectorbt's conditions: fills at the close, fractional shares, positions left open at the end.
    static func options(commission: String, cash: Int = 100_000) -> BacktestOptions {
        BacktestOptions(cash: FixedPoint(cash), fees: FeeModel(commissionRate: FixedPoint(commission)!), fillTiming: .close, finalize: .none)
    }

    static func fractional(_ u: Universe) -> [Instrument] { u.symbols.map { Instrument(symbol: $0, quantityStep: FixedPoint(raw: 1)) } }

    static func rows(_ name: String) throws -> [[String]] {
        try String(contentsOfFile: "\(fixtures)/\(name)", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
    }

    static func worstRelative(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? .infinity
    }

    @Test(
        "the engine matches vectorbt 1.2.0 from_orders(targetpercent, cash_sharing) at every close: replayed weights and the registered strategies",
        arguments: [
            ("equal_weight_21", "0.001", "equal_weight", ["rebalance": ConfigValue.int(21)]),
            ("momentum_top3_126_21", "0.001", "momentum_topk", ["lookback": .int(126), "top": .int(3), "rebalance": .int(21)]),
            ("momentum_top3_126_21_nofee", "0", "momentum_topk", ["lookback": .int(126), "top": .int(3), "rebalance": .int(21)]),
        ]
    )
    func matchesVectorbt(name: String, commission: String, strategy: String, parameters: [String: ConfigValue]) throws {
        let u = try Self.shipped()
        let reference = try Self.rows("\(name).equity.csv").dropFirst().map { Double($0[1])! }
        var table: [Int64: [Double]] = [:]
        for r in try Self.rows("\(name).weights.csv").dropFirst() {
            let t = try CSVBarLoader.parse(text: "date,close\n\(r[0]),1\n", options: CSVOptions(allowCloseOnly: true)).timestamps[0]
            table[t] = r.dropFirst().map { Double($0)! }
        }
        let replay = try Backtester.run(
            universe: u,
            instruments: Self.fractional(u),
            strategy: WeightReplayStrategy(weights: table),
            options: Self.options(commission: commission)
        )
        #expect(replay.equity.count == reference.count)
        #expect(Self.worstRelative(replay.equity, reference) <= 1e-9, "replayed weights: \(Self.worstRelative(replay.equity, reference))")
        let registered = try StrategyFactory.standard.make(strategy, parameters: parameters, symbols: u.symbols)
        let run = try Backtester.run(
            universe: u,
            instruments: Self.fractional(u),
            strategy: registered,
            options: Self.options(commission: commission)
        )
        #expect(Self.worstRelative(run.equity, reference) <= 1e-9, "\(strategy): \(Self.worstRelative(run.equity, reference))")
        #expect(run.fills == replay.fills)
        // The orders vectorbt placed, in the same sequence (sells first within a rebalance).
        let orders = try Self.rows("\(name).orders.csv").dropFirst()
        #expect(run.fills.count == orders.count)
        for (fill, order) in zip(run.fills, orders) {
            #expect(String(fill.timestamp.iso8601().prefix(10)) == order[0] && fill.symbol == order[1])
            #expect(fill.side == (order[2] == "Buy" ? .buy : .sell))
        }
        // The books add up: cash plus every position at its last close is the final equity.
        var books = run.portfolio.cash
        for (s, m) in u.members.enumerated() {
            books +=
                run.portfolio.position(m.symbol).quantity * FixedPoint(rounding: m.close[u.lastCloseIndex(symbol: s, time: u.timestamps.count - 1)!])!
        }
        #expect(books.doubleValue == run.equity.last!)
        // Contributions add up to the return on the starting cash.
        let total = run.symbolStatistics.map(\.contributionPct).reduce(0, +)
        let returnPct = (run.equity.last! / 100_000 - 1) * 100
        #expect(abs(total - returnPct) <= 1e-6 * max(1, abs(total)), "\(total) vs \(returnPct)")
    }

    /// A small universe in the three layouts, the third symbol missing some dates.
    static func layouts() throws -> [String] {
        let root = testTemporaryDirectory() + "crocbot-pf-layouts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/folder", withIntermediateDirectories: true)
        let u = try shipped()
        let symbols = ["AAPL", "KO", "JNJ", "GE"]
        let rows = 400
        func close(_ s: String, _ t: Int) -> String? {
            if s == "GE" && (t % 7 == 3 || t < 30 || t > 350) { return nil }  // listed later, gaps, delisted earlier
            let k = u.index(of: s)!
            return String(u.members[k].close[t])
        }
        let dates = (0..<rows).map { String(Timestamp(nanoseconds: u.timestamps[$0]).iso8601().prefix(10)) }
        var wide = "Date," + symbols.joined(separator: ",") + "\n"
        var long = "date,symbol,open,high,low,close,volume\n"
        for s in symbols {
            var text = "Date,Close\n"
            for t in 0..<rows { if let c = close(s, t) { text += "\(dates[t]),\(c)\n" } }
            try text.write(toFile: root + "/folder/\(s).csv", atomically: true, encoding: .utf8)
        }
        for t in 0..<rows {
            wide += dates[t] + "," + symbols.map { close($0, t) ?? "" }.joined(separator: ",") + "\n"
            for s in symbols { if let c = close(s, t) { long += "\(dates[t]),\(s),\(c),\(c),\(c),\(c),0\n" } }
        }
        try wide.write(toFile: root + "/wide.csv", atomically: true, encoding: .utf8)
        try long.write(toFile: root + "/long.csv", atomically: true, encoding: .utf8)
        return [root + "/folder", root + "/wide.csv", root + "/long.csv"]
    }

    @Test("the three universe layouts give identical backtests; a symbol is never filled at a time it has no bar; the books add up")
    func layoutsAndCalendars() throws {
        var results: [BacktestResult] = []
        for path in try Self.layouts() {
            let u = try UniverseLoader.load(path: path, symbols: ["AAPL", "KO", "JNJ", "GE"])
            for fill in [FillTiming.nextOpen, .close] {
                var o = Self.options(commission: "0.001")
                o.fillTiming = fill
                let r = try Backtester.run(
                    universe: u,
                    instruments: u.symbols.map { Instrument(symbol: $0, quantityStep: FixedPoint("0.001")!) },
                    strategy: EveryBarEqualWeight(),
                    options: o
                )
                #expect(r.equity.count == u.timestamps.count)
                // Every fill is at a time its symbol has a bar, at that bar's price.
                for f in r.fills {
                    let s = u.index(of: f.symbol)!
                    let t = u.timestamps.firstIndex(of: f.timestamp.nanoseconds)!
                    let i = try #require(u.barIndex(symbol: s, time: t), "\(f.symbol) filled at \(f.timestamp) without a bar")
                    #expect(f.price == FixedPoint(rounding: fill == .close ? u.members[s].close[i] : u.members[s].open[i])!)
                }
                #expect(r.fills.contains { $0.symbol == "GE" })
                var books = r.portfolio.cash
                for (s, m) in u.members.enumerated() {
                    let last = m.close[u.lastCloseIndex(symbol: s, time: u.timestamps.count - 1)!]
                    books += r.portfolio.position(m.symbol).quantity * FixedPoint(rounding: last)!
                }
                #expect(books.doubleValue == r.equity.last!, "cash + positions at the last closes = final equity")
                #expect(r.portfolio.cash.raw >= 0)
                // GE stops trading after row 350: its position is held, marked at its last close, never traded again.
                let lastGE = u.members[u.index(of: "GE")!].timestamps.last!
                #expect(!r.fills.contains { $0.symbol == "GE" && $0.timestamp.nanoseconds > lastGE })
                results.append(r)
            }
        }
        #expect(results.count == 6)
        for k in 2..<6 {
            #expect(results[k].equity == results[k % 2].equity)
            #expect(results[k].fills == results[k % 2].fills)
        }
    }

    @Test("a single-instrument strategy over a one-symbol universe gives the single-series backtest, fill for fill")
    func oneSymbolUniverseIsTheSingleEngine() throws {
        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)
        let instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision)
        let options = BacktestOptions(cash: FixedPoint(10_000), fees: FeeModel(commissionRate: FixedPoint("0.002")!), finalize: .none)
        let strategy = try StrategyFactory.standard.make("sma_cross", parameters: ["fast": .int(10), "slow": .int(20)])
        let single = try Backtester.run(series: series, instrument: instrument, strategy: strategy, options: options)
        let u = try Universe(members: [series])
        let sliced = try Backtester.run(universe: u, instruments: [instrument], strategy: strategy, options: options)
        #expect(single.fills.count > 20)
        #expect(sliced.fills == single.fills)
        #expect(sliced.equity == single.equity)
    }

    @Test("next-open rebalances fill at the next slice's opens, sized from the value there")
    func nextOpenRebalance() throws {
        func series(_ s: String, _ opens: [Double], _ closes: [Double]) throws -> BarSeries {
            try BarSeries(
                symbol: s,
                bars: zip(opens, closes).enumerated().map { i, oc in
                    Bar(
                        timestamp: Timestamp(nanoseconds: Int64(i) * 86_400_000_000_000),
                        open: oc.0,
                        high: max(oc.0, oc.1),
                        low: min(oc.0, oc.1),
                        close: oc.1,
                        volume: 1
                    )
                }
            )
        }
        let u = try Universe(members: [try series("A", [10, 11, 12], [10, 10, 10]), try series("B", [20, 22, 18], [20, 20, 20])])
        let table: [Int64: [Double]] = [0: [0.5, 0.5]]
        let options = BacktestOptions(cash: FixedPoint(1000), fees: FeeModel(commissionRate: .zero), finalize: .none)
        let r = try Backtester.run(
            universe: u,
            instruments: u.symbols.map { Instrument(symbol: $0) },
            strategy: WeightReplayStrategy(weights: table),
            options: options
        )
        // Decided at t0's close; filled at t1's opens: 500 / 11 → 45 A, 500 / 22 → 22 B (whole units, toward zero).
        #expect(r.fills.map(\.symbol) == ["A", "B"])
        #expect(r.fills.map(\.price) == [FixedPoint(11), FixedPoint(22)])
        #expect(r.fills.map(\.quantity) == [FixedPoint(45), FixedPoint(22)])
        #expect(r.fills.allSatisfy { $0.barIndex == 1 })
        #expect(r.weights.count == 1 && r.weights[0].index == 1)
    }

    @Test("strategy errors from the portfolio API are typed and stop the backtest with the symbol named")
    func typedErrors() throws {
        struct Bad: Strategy {
            let weights: [String: Double]
            var name: String { "bad" }
            var warmupBars: Int { 0 }
            func onBar(_ bar: Bar, context: inout StrategyContext) {}
            func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws { try context.rebalance(to: weights) }
        }
        let u = try Self.shipped().selecting(["AAPL", "KO"])
        let options = Self.options(commission: "0")
        for (weights, text) in [(["ZZZ": 0.5], "ZZZ is not traded"), (["KO": -0.2], "negative weights"), (["KO": 0.7, "AAPL": 0.6], "add up to")] {
            let e = #expect(throws: BacktestError.self) {
                try Backtester.run(universe: u, instruments: Self.fractional(u), strategy: Bad(weights: weights), options: options)
            }
            #expect(e?.description.contains(text) == true, "\(e?.description ?? "")")
        }
        #expect(throws: StrategyError.self) { try StrategyFactory.standard.make("momentum_topk", parameters: ["top": .int(11)], symbols: u.symbols) }
        let top = #expect(throws: StrategyError.self) {
            try StrategyFactory.standard.make("momentum_topk", parameters: ["top": .int(3)], symbols: u.symbols)
        }
        #expect(top?.keyPath == "strategy.params.top")
    }

    @Test("orderTargetPercent calls in a row join one rebalance; orderTargetQuantity orders the difference")
    func contextOrders() throws {
        var c = StrategyContext(instruments: ["A", "B", "C"].map { Instrument(symbol: $0) }, fees: FeeModel(commissionRate: .zero))
        try c.orderTargetPercent("A", 0.2)
        try c.orderTargetPercent("B", 0.3)
        try c.orderTargetPercent("A", 0.25)
        #expect(c.commands == [.rebalance([.init(symbol: "A", weight: 0.25), .init(symbol: "B", weight: 0.3)])])
        #expect(throws: RebalanceError.overweight(total: 1.05, limit: 1)) { try c.orderTargetPercent("C", 0.5) }
        #expect(c.commands.count == 1)
        #expect(throws: RebalanceError.unknownSymbol("D", known: ["A", "B", "C"])) { try c.orderTargetPercent("D", 0.1) }
        c.positions[1] = FixedPoint(5)
        let id = try c.orderTargetQuantity("B", FixedPoint(2))
        #expect(id != nil)
        guard case .submit(let o)? = c.commands.last else {
            Issue.record("no order")
            return
        }
        #expect(o.symbol == "B" && o.side == .sell && o.size == .quantity(FixedPoint(3)))
        #expect(try c.orderTargetQuantity("B", FixedPoint(5)) == nil)
    }

    @Test("the portfolio report: fills.csv and weights.csv carry the symbols, the HTML has the portfolio charts")
    func reportFiles() throws {
        let u = try Self.shipped()
        let strategy = try StrategyFactory.standard.make("momentum_topk", parameters: [:], symbols: u.symbols)
        let r = try Backtester.run(universe: u, instruments: Self.fractional(u), strategy: strategy, options: Self.options(commission: "0.001"))
        let dir = testTemporaryDirectory() + "crocbot-pf-report-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try BacktestReport.writeAll(r, to: dir, report: dir + "/report.html", configuration: "x")
        let fills = try String(contentsOfFile: dir + "/fills.csv", encoding: .utf8).split(separator: "\n")
        #expect(fills[0] == "Time,Symbol,Side,Quantity,Price,Commission,OrderID")
        #expect(fills.count == r.fills.count + 1)
        let weights = try String(contentsOfFile: dir + "/weights.csv", encoding: .utf8).split(separator: "\n")
        #expect(weights[0] == "Time," + u.symbols.joined(separator: ","))
        #expect(weights.count == r.weights.count + 1)
        for row in r.weights { #expect(row.weights.reduce(0, +) <= 1 + 1e-12) }
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        for id in BacktestHTMLReport.chartIDs + BacktestHTMLReport.portfolioChartIDs { #expect(html.contains("data-chart=\"\(id)\""), "\(id)") }
        #expect(html.contains("equal-weight buy &amp; hold"))
        #expect(html.components(separatedBy: "<script>").count - 1 == 1 && !html.contains("<script src"))  // the charts' one inline script
    }

    @Test("writeAll on a portfolio (sections and files as parallel tasks) writes what the sequential writers give, byte for byte")
    func portfolioWriteAllMatchesSequentialWriters() throws {
        let u = try Self.shipped()
        let strategy = try StrategyFactory.standard.make("momentum_topk", parameters: ["top": .int(3)], symbols: u.symbols)
        let r = try Backtester.run(universe: u, instruments: Self.fractional(u), strategy: strategy, options: Self.options(commission: "0.001"))
        #expect(!r.weights.isEmpty && r.fills.count > 10)
        let dir = testTemporaryDirectory() + "crocbot-pf-writeall-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try BacktestReport.writeAll(r, to: dir, report: dir + "/html/report.html", configuration: "cfg: 2")
        let expected: [(String, [UInt8])] = [
            ("trades.csv", BacktestReport.tradesCSVBytes(r)),
            ("equity.csv", BacktestReport.equityCSVBytes(r)),
            ("fills.csv", BacktestReport.fillsCSVBytes(r)),
            ("weights.csv", BacktestReport.weightsCSVBytes(r)),
            ("html/report.html", Array(BacktestHTMLReport.render(r, configuration: "cfg: 2").utf8)),
        ]
        for (name, bytes) in expected {
            let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
            #expect(written.count > 100, "\(name)")
            #expect(written == bytes, "\(name)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }
}

@Suite("Portfolio sweeps and the ledger's range")
struct PortfolioSweepTests {
    static let universePath = repoRoot.appendingPathComponent("Examples/data/SP500_10_CLOSE.csv").path

    @Test("a universe sweep runs each trial as the portfolio backtest of its parameters")
    func universeSweep() async throws {
        let spec = try sweepSpec(
            """
            name: pf
            strategy: momentum_topk
            universe: {path: \(Self.universePath), symbols: "AAPL,KO,JNJ,GE,AMD", start: "2005-01-01"}
            parameters:
              lookback: [21, 63]
              top: [1, 2]
            instrument: {quantityStep: 0.00000001}
            backtest: {cash: 100000, commission: 0.001, fillAt: close, finalize: none}
            """
        )
        let runner = try SweepRunner(spec: spec)
        #expect(runner.universe?.symbols == ["AAPL", "KO", "JNJ", "GE", "AMD"])
        let summary = try await runner.run(store: InMemorySweepStore(), workers: 2, sweepName: "pf")
        #expect(summary.evaluated == 4)
        let trial = runner.evaluate(["lookback": .int(63), "top": .int(2)], index: 0)
        let u = try TrainingPipeline.loadUniverse(try #require(spec.universe))
        let direct = try Backtester.run(
            universe: u,
            instruments: u.symbols.map { Instrument(symbol: $0, pricePrecision: 8, quantityStep: FixedPoint(raw: 1)) },
            strategy: try StrategyFactory.standard.make("momentum_topk", parameters: ["lookback": .int(63), "top": .int(2)], symbols: u.symbols),
            options: BacktestOptions(
                cash: FixedPoint(100_000),
                fees: FeeModel(commissionRate: FixedPoint("0.001")!),
                fillTiming: .close,
                finalize: .none
            )
        )
        #expect(trial.violations.isEmpty)
        #expect(trial.metrics["equityFinal"] == direct.statistics.equityFinal)
        #expect(trial.metrics["sharpe"] == direct.statistics.sharpeRatio)
        // top larger than the universe: the trial is infeasible, with the key named.
        let bad = runner.evaluate(["lookback": .int(63), "top": .int(6)], index: 1)
        #expect(bad.violations.first?.contains("strategy.params.top") == true)
    }

    @Test("walk-forward on a universe: each window's best parameters trade the next rows on one account, stitched")
    func universeWalkForward() async throws {
        let spec = try sweepSpec(
            """
            name: pf-wf
            strategy: momentum_topk
            universe: {path: \(Self.universePath), symbols: "AAPL,KO,JNJ,GE,AMD,CVX", start: "2004-01-01"}
            parameters:
              lookback: [21, 63]
              top: [1, 3]
            instrument: {quantityStep: 0.00000001}
            backtest: {cash: 100000, commission: 0.001, fillAt: close, finalize: none}
            walkForward: {windows: 3, inSample: 0.7, mode: rolling}
            """
        )
        let runner = try SweepRunner(spec: spec)
        let u = try #require(runner.universe)
        let outcome = try await WalkForwardOptimizer.run(runner: runner, store: InMemorySweepStore(), workers: 2)
        #expect(outcome.steps.count == 3)
        let oosRows = outcome.steps.reduce(0) { $0 + $1.outOfSample.count }
        #expect(outcome.equity.count == oosRows)
        #expect(outcome.timestamps == outcome.steps.flatMap { s in s.outOfSample.map { u.timestamps[$0] } })
        for step in outcome.steps {
            #expect(step.inSample.upperBound <= step.outOfSample.lowerBound)  // selection never sees the test rows
            #expect(step.chosen != nil)
        }
        // The first window's out-of-sample return is the chosen parameters' portfolio backtest over those rows.
        let first = outcome.steps[0]
        let chosen = try #require(first.chosen)
        let strategy = try StrategyFactory.standard.make("momentum_topk", parameters: chosen.parameters, symbols: u.symbols)
        let from = max(0, first.outOfSample.lowerBound - strategy.warmupBars - 1)
        let test = try u.rows(from..<first.outOfSample.upperBound)
        let direct = try Backtester.run(
            universe: test,
            instruments: try Backtester.instruments(for: test, config: spec.instrument),
            strategy: strategy,
            options: runner.options
        )
        let offset = first.outOfSample.lowerBound - from
        let expected = direct.equity.last! / direct.equity[offset - 1]
        #expect(abs(outcome.equity[first.outOfSample.count - 1] / runner.options.cash.doubleValue - expected) < 1e-12)
        #expect(outcome.statistics.equityFinal == outcome.equity.last)
    }

    @Test("sweep files: a portfolio strategy needs a universe; data and universe together are refused")
    func specErrors() throws {
        let none = #expect(throws: ConfigError.self) { try sweepSpec("strategy: momentum_topk\nparameters: {top: [1, 2]}") }
        #expect(none?.keyPath == "universe")
        let both = #expect(throws: ConfigError.self) {
            try sweepSpec("strategy: momentum_topk\nuniverse: \(Self.universePath)\ndata: [\(googl)]\nparameters: {top: [1, 2]}")
        }
        #expect(both?.keyPath == "data")
    }

    @Test("an account that outgrows the ledger's safe range stops the run with a typed failure, not a trap")
    func equityCeiling() throws {
        let series = try CSVBarLoader.load(path: googl)
        let options = BacktestOptions(cash: FixedPoint(8_000_000_000), fees: FeeModel(commissionRate: FixedPoint("0.002")!))
        let strategy = try StrategyFactory.standard.make("sma_cross", parameters: [:])
        let e = #expect(throws: BacktestError.self) {
            try Backtester.run(series: series, instrument: Instrument(symbol: "GOOGL", pricePrecision: 2), strategy: strategy, options: options)
        }
        #expect(e?.description.contains("the most the ledger trades at") == true, "\(e?.description ?? "")")
    }

    @Test("pro-rated commissions of huge lots are exact instead of overflowing")
    func prorate() {
        let commission = FixedPoint(20_000_000)  // 2e7
        let quantity = FixedPoint(5_000_000)
        // 2e7 × 2.5e6 overflows the ledger's range as a product; the quotient is 1e7.
        #expect(TradeLedger.prorate(commission, FixedPoint(2_500_000), quantity) == FixedPoint(10_000_000))
        #expect(TradeLedger.prorate(FixedPoint("0.3")!, FixedPoint(1), FixedPoint(3)) == FixedPoint("0.1")!)
    }
}

@Suite("Per-symbol strategies and pairs on one account")
struct PerSymbolAndPairsTests {
    static func shipped() throws -> Universe {
        try UniverseLoader.load(path: repoRoot.appendingPathComponent("Examples/data/SP500_10_CLOSE.csv").path)
    }

    /// The most positions open at once, replayed from the fills.
    static func maxOpen(_ fills: [Fill]) -> Int {
        var held: [String: Quantity] = [:]
        var most = 0
        var i = 0
        while i < fills.count {
            let bar = fills[i].barIndex
            while i < fills.count && fills[i].barIndex == bar {
                let f = fills[i]
                held[f.symbol, default: .zero] += f.side == .buy ? f.quantity : -f.quantity
                i += 1
            }
            most = max(most, held.values.filter { $0.raw != 0 }.count)
        }
        return most
    }

    @Test("sma_cross per symbol: each instance trades only its symbol, entries sized to equity / N, at most maxOpen open")
    func perSymbol() throws {
        let u = try Self.shipped()
        let options = BacktestOptions(cash: FixedPoint(100_000), fees: FeeModel(commissionRate: FixedPoint("0.001")!), finalize: .none)
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        let free = PerSymbolStrategy(symbols: u.count, stake: StakeRule()) { _ in SMACrossStrategy(fast: 10, slow: 30) }
        let r = try Backtester.run(universe: u, instruments: instruments, strategy: free, options: options)
        #expect(Set(r.fills.map(\.symbol)).count == 10)
        // Each entry (a buy from flat) costs at most equity / 10 at the decision plus the move to the next open.
        var held: [String: Quantity] = [:]
        for f in r.fills {
            if f.side == .buy && (held[f.symbol] ?? .zero).isZero {
                let decidedAt = r.equity[f.barIndex - 1]
                #expect(f.notional.doubleValue <= decidedAt / 10 * 1.25, "\(f.symbol) \(f.timestamp): \(f.notional) vs equity \(decidedAt)")
            }
            held[f.symbol, default: .zero] += f.side == .buy ? f.quantity : -f.quantity
        }
        #expect(Self.maxOpen(r.fills) > 3)
        let capped = PerSymbolStrategy(symbols: u.count, stake: StakeRule(amount: .fixed(FixedPoint(10_000)), maxOpen: 3)) { _ in
            SMACrossStrategy(fast: 10, slow: 30)
        }
        let c = try Backtester.run(universe: u, instruments: instruments, strategy: capped, options: options)
        #expect(Self.maxOpen(c.fills) <= 3)
        #expect(c.fills.count < r.fills.count)
        #expect(c.portfolio.cash.raw >= 0)
    }

    @Test("pairs: opposite legs on a mean-reverting spread, closed when it reverts; refused without shorting; symbols validated")
    func pairs() throws {
        var bState: UInt64 = 3
        func noise() -> Double {
            bState = bState &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(bState >> 11) / Double(1 << 53) - 0.5
        }
        var b = 100.0
        var spread = 0.0
        var barsA: [Bar] = []
        var barsB: [Bar] = []
        for i in 0..<600 {
            b *= 1 + noise() * 0.02
            spread = 0.8 * spread + noise() * 0.05
            let a = exp(log(b) + 0.3 + spread)
            let t = Timestamp(nanoseconds: Int64(i) * 86_400_000_000_000)
            barsA.append(Bar(timestamp: t, open: a, high: a, low: a, close: a, volume: 0))
            barsB.append(Bar(timestamp: t, open: b, high: b, low: b, close: b, volume: 0))
        }
        let u = try Universe(members: [try BarSeries(symbol: "A", bars: barsA), try BarSeries(symbol: "B", bars: barsB)])
        let instruments = u.symbols.map { Instrument(symbol: $0, quantityStep: FixedPoint("0.0001")!) }
        var options = BacktestOptions(
            cash: FixedPoint(100_000),
            fees: FeeModel(commissionRate: FixedPoint("0.0005")!),
            finalize: .none,
            allowShort: true
        )
        let strategy = try StrategyFactory.standard.make(
            "pairs",
            parameters: ["a": .string("A"), "b": .string("B"), "lookback": .int(40)],
            symbols: u.symbols
        )
        let r = try Backtester.run(universe: u, instruments: instruments, strategy: strategy, options: options)
        #expect(r.fills.count >= 8)
        // Legs come in pairs at the same bar, opposite sides.
        let byBar = Dictionary(grouping: r.fills, by: \.barIndex)
        for (_, legs) in byBar {
            #expect(legs.count == 2 && Set(legs.map(\.symbol)) == ["A", "B"] && legs[0].side != legs[1].side)
        }
        #expect(r.equity.last! > 100_000, "a mean-reverting spread is profitable before costs this small")
        options.allowShort = false
        let e = #expect(throws: BacktestError.self) {
            try Backtester.run(universe: u, instruments: instruments, strategy: strategy, options: options)
        }
        #expect(e?.description.contains("need allowShort") == true)
        let unknown = #expect(throws: StrategyError.self) {
            try StrategyFactory.standard.make("pairs", parameters: ["a": .string("A"), "b": .string("C")], symbols: u.symbols)
        }
        #expect(unknown?.keyPath == "strategy.params.b")
    }
}

@Suite("The report's equal-weight benchmark")
struct EqualWeightIndexTests {
    @Test("each symbol's close over its first, 1 before its first bar, its last close after its last bar and through gaps, averaged")
    func misalignedMembers() throws {
        func day(_ i: Int) -> Timestamp { Timestamp(nanoseconds: Int64(i) * 86_400_000_000_000) }
        func series(_ symbol: String, _ closes: [Int: Double]) throws -> BarSeries {
            let bars = closes.keys.sorted().map { i in
                Bar(timestamp: day(i), open: closes[i]!, high: closes[i]!, low: closes[i]!, close: closes[i]!, volume: 0)
            }
            return try BarSeries(symbol: symbol, bars: bars)
        }
        let full = try series("FULL", [0: 10, 1: 11, 2: 12, 3: 13, 4: 14, 5: 15])
        let late = try series("LATE", [2: 50, 3: 55, 4: 60, 5: 40])  // listed on day 2
        let early = try series("EARLY", [0: 4, 1: 5, 2: 6])  // delisted after day 2
        let gappy = try series("GAPPY", [0: 20, 1: 25, 2: 30, 5: 10])  // no bars on days 3 and 4
        let u = try Universe(members: [full, late, early, gappy])
        let index = Backtester.equalWeightIndex(u)
        let expected: [Double] = [
            (10.0 / 10 + 1 + 4.0 / 4 + 20.0 / 20) / 4,
            (11.0 / 10 + 1 + 5.0 / 4 + 25.0 / 20) / 4,
            (12.0 / 10 + 50.0 / 50 + 6.0 / 4 + 30.0 / 20) / 4,
            (13.0 / 10 + 55.0 / 50 + 6.0 / 4 + 30.0 / 20) / 4,
            (14.0 / 10 + 60.0 / 50 + 6.0 / 4 + 30.0 / 20) / 4,
            (15.0 / 10 + 40.0 / 50 + 6.0 / 4 + 10.0 / 20) / 4,
        ]
        #expect(index == expected)
        // A report's run (details) computes it on another thread while the engine runs; a
        // sweep's trial (no details) inline: the same benchmark, bit for bit, either way.
        let instruments = u.symbols.map { Instrument(symbol: $0, quantityStep: FixedPoint("0.001")!) }
        for details in [true, false] {
            let r = try Backtester.run(
                universe: u,
                instruments: instruments,
                strategy: EveryBarEqualWeight(),
                options: PortfolioBacktestTests.options(commission: "0.001"),
                details: details
            )
            #expect(r.closes == expected, "details \(details)")
        }
    }
}
