import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocCore
@testable import CrocPipelines

/// backtesting.py 0.6.6's run of sma_cross 10/20 on GOOGL (scripts/backtesting_reference.py).
struct Reference: Decodable {
    struct Trade: Decodable {
        let size: Int
        let entryBar: Int
        let exitBar: Int
        let entryPrice: Double
        let exitPrice: Double
        let pnl: Double
        let returnPct: Double
        let commission: Double
        let entryTime: String
        let exitTime: String
    }
    let trades: [Trade]
    let stats: [String: Double?]
    let equityFinal: Double
    let equity: [Double]

    static func load() throws -> Reference {
        let url = repoRoot.appendingPathComponent("Tests/CrocPipelinesTests/Fixtures/backtesting_py_sma_cross_googl.json")
        let data = try Data(contentsOf: url)
        // Durations and timestamps are strings or numbers; decode leniently.
        let raw = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var stats: [String: Double?] = [:]
        for (k, v) in raw["stats"] as! [String: Any] { stats[k] = v as? Double }
        struct Partial: Decodable {
            let trades: [Trade]
            let equityFinal: Double
            let equity: [Double]
        }
        let p = try JSONDecoder().decode(Partial.self, from: data)
        return Reference(trades: p.trades, stats: stats, equityFinal: p.equityFinal, equity: p.equity)
    }
}

func defaultBacktest() throws -> BacktestResult {
    let cfg = try AppConfig.load(path: nil)
    let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent(cfg.data.path).path)
    let instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision, quantityStep: .one)
    let strategy = try StrategyFactory.standard.make(cfg.strategy)
    return try Backtester.run(series: series, instrument: instrument, strategy: strategy, options: try BacktestOptions(cfg.backtest))
}

@Suite("Backtest parity with backtesting.py")
struct BacktestParityTests {
    @Test("same trades: entry/exit bar and time, price, size")
    func trades() throws {
        let ref = try Reference.load()
        let result = try defaultBacktest()
        #expect(result.trades.count == ref.trades.count)
        for (ours, theirs) in zip(result.trades, ref.trades) {
            #expect(ours.quantity == FixedPoint(theirs.size))
            #expect(ours.entryBar == theirs.entryBar)
            #expect(ours.exitBar == theirs.exitBar)
            #expect(ours.entryPrice.doubleValue == theirs.entryPrice)
            #expect(ours.exitPrice.doubleValue == theirs.exitPrice)
            #expect(ours.entryTime.iso8601() == theirs.entryTime)
            #expect(ours.exitTime.iso8601() == theirs.exitTime)
            #expect(abs(ours.pnl.doubleValue - theirs.pnl) < 1e-6)
            #expect(abs(ours.commission.doubleValue - theirs.commission) < 1e-6)
            #expect(abs(ours.returnFraction - theirs.returnPct) < 1e-12)
        }
    }

    @Test("same final equity to the cent, and the same equity curve")
    func equity() throws {
        let ref = try Reference.load()
        let result = try defaultBacktest()
        #expect((result.statistics.equityFinal * 100).rounded() == (ref.equityFinal * 100).rounded())
        #expect(abs(result.statistics.equityFinal - ref.equityFinal) < 1e-6)
        #expect(result.equity.count == ref.equity.count)
        let worst = zip(result.equity, ref.equity).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-6)
    }

    @Test("same statistics, line by line")
    func statistics() throws {
        let ref = try Reference.load()
        let s = try defaultBacktest().statistics
        let ours: [String: Double] = [
            "Duration": s.durationSeconds, "Exposure Time [%]": s.exposureTimePct, "Equity Final [$]": s.equityFinal,
            "Equity Peak [$]": s.equityPeak, "Commissions [$]": s.commissions, "Return [%]": s.returnPct,
            "Buy & Hold Return [%]": s.buyAndHoldReturnPct, "Return (Ann.) [%]": s.returnAnnualizedPct,
            "Volatility (Ann.) [%]": s.volatilityAnnualizedPct, "CAGR [%]": s.cagrPct, "Sharpe Ratio": s.sharpeRatio,
            "Sortino Ratio": s.sortinoRatio, "Calmar Ratio": s.calmarRatio, "Alpha [%]": s.alphaPct, "Beta": s.beta,
            "Max. Drawdown [%]": s.maxDrawdownPct, "Avg. Drawdown [%]": s.avgDrawdownPct,
            "Max. Drawdown Duration": s.maxDrawdownDurationSeconds, "Avg. Drawdown Duration": s.avgDrawdownDurationSeconds,
            "# Trades": Double(s.tradeCount), "Win Rate [%]": s.winRatePct, "Best Trade [%]": s.bestTradePct,
            "Worst Trade [%]": s.worstTradePct, "Avg. Trade [%]": s.avgTradePct,
            "Max. Trade Duration": s.maxTradeDurationSeconds, "Avg. Trade Duration": s.avgTradeDurationSeconds,
            "Profit Factor": s.profitFactor, "Expectancy [%]": s.expectancyPct, "SQN": s.sqn, "Kelly Criterion": s.kellyCriterion,
        ]
        for (key, value) in ours {
            let expected = try #require(ref.stats[key] ?? nil, "fixture lacks \(key)")
            let tolerance = max(1e-9, abs(expected) * 1e-9)
            #expect(abs(value - expected) <= tolerance, "\(key): ours \(value), backtesting.py \(expected)")
        }
        #expect(ours.count == 30)
    }

    @Test("reports: aligned table and CSV files with every trade and bar")
    func reports() throws {
        let result = try defaultBacktest()
        let table = BacktestReport.table(result)
        let lines = table.split(separator: "\n")
        #expect(lines.count == 34)
        #expect(Set(lines.map(\.count)).count == 1)  // aligned
        #expect(table.contains("Equity Final [$]") && table.contains("18090.536482"))
        // The table's numbers and durations are printf's `%.6f` and `%lld days %02lld:%02lld:%02lld`
        // (written without `String(format:)`): ties, signs, zeros of both signs, large and tiny values.
        var statistics = result.statistics
        for x in [0.0, -0.0, 0.5e-6, 2.5e-6, -1e-7, 1e-9, 123.4567895, -98765.4321, 18090.536482, 1e15 / 3, 5e17, .nan, .infinity, -.infinity] {
            for seconds in [0.0, 59.5, 3_600.0, 86_399.0, 86_400.0 * 3_386, 1e9 + 0.4, -3_725.0, .nan] {
                statistics.equityFinal = x
                statistics.maxDrawdownDurationSeconds = seconds
                let rows = Dictionary(uniqueKeysWithValues: BacktestReport.rows(statistics))
                let number = x.isNaN ? "NaN" : x.isInfinite ? (x > 0 ? "inf" : "-inf") : String(format: "%.6f", x)
                #expect(rows["Equity Final [$]"] == number, "\(x)")
                if seconds.isFinite {
                    let total = Int64(seconds.rounded())
                    let (days, rem) = (total / 86_400, total % 86_400)
                    let duration = String(format: "%lld days %02lld:%02lld:%02lld", days, rem / 3_600, rem % 3_600 / 60, rem % 60)
                    #expect(rows["Max. Drawdown Duration"] == duration, "\(seconds)")
                } else {
                    #expect(rows["Max. Drawdown Duration"] == "NaN")
                }
            }
        }
        let dir = testTemporaryURL().appendingPathComponent("croc-report-\(UUID().uuidString)").path
        let files = try BacktestReport.write(result, to: dir)
        let trades = try String(contentsOfFile: files.trades, encoding: .utf8).split(separator: "\n")
        #expect(trades.count == 61)
        #expect(trades[1].hasPrefix("46,38,119,216.716721,281.646637,"))
        let equity = try String(contentsOfFile: files.equity, encoding: .utf8).split(separator: "\n")
        #expect(equity.count == 2336)
        #expect(equity.last?.hasPrefix("2018-08-29T00:00:00,18090.536") == true)
    }
}

@Suite("Backtest statistics edge cases")
struct StatisticsEdgeTests {
    @Test("no trades: trade statistics are NaN, return is zero")
    func noTrades() {
        let t: [Int64] = (0..<10).map { Int64($0) * 86_400_000_000_000 }
        let s = BacktestStatistics.compute(
            timestamps: t,
            close: Array(repeating: 5, count: 10),
            equity: Array(repeating: 100, count: 10),
            trades: [],
            warmupBars: 0,
            commissions: 0
        )
        #expect(s.tradeCount == 0)
        #expect(s.returnPct == 0)
        #expect(s.winRatePct.isNaN && s.sqn.isNaN && s.profitFactor.isNaN)
        #expect(s.maxDrawdownPct == 0)
        #expect(s.maxDrawdownDurationSeconds.isNaN)
        #expect(s.exposureTimePct == 0)
    }

    @Test("drawdown depth and duration follow the equity curve")
    func drawdown() {
        let t: [Int64] = (0..<6).map { Int64($0) * 86_400_000_000_000 }
        let e: [Double] = [100, 120, 90, 60, 120, 130]
        let s = BacktestStatistics.compute(timestamps: t, close: e, equity: e, trades: [], warmupBars: 0, commissions: 0)
        #expect(s.maxDrawdownPct == -50)
        #expect(s.maxDrawdownDurationSeconds == 3 * 86400)
        #expect(s.equityPeak == 130)
    }

    @Test("exposure counts each bar under some open trade once, overlapping or unsorted trades alike")
    func exposureUnion() {
        var rng = SplitMix64(seed: 7)
        for round in 0..<200 {
            let n = 1 + Int(rng.next() % 60)
            var trades: [ClosedTrade] = []
            for _ in 0..<Int(rng.next() % 6) {
                let a = Int(rng.next() % UInt64(n + 4)) - 2  // some out of range, some inverted
                let b = a + Int(rng.next() % 12) - 2
                trades.append(
                    ClosedTrade(
                        symbol: "X",
                        quantity: .one,
                        entryBar: a,
                        exitBar: b,
                        entryTime: Timestamp(nanoseconds: 0),
                        exitTime: Timestamp(nanoseconds: 0),
                        entryPrice: .one,
                        exitPrice: .one,
                        commission: .zero,
                        pnl: .zero,
                        tag: nil
                    )
                )
            }
            var covered = Set<Int>()
            for t in trades where max(0, t.entryBar) <= min(n - 1, t.exitBar) {
                for i in max(0, t.entryBar)...min(n - 1, t.exitBar) { covered.insert(i) }
            }
            #expect(BacktestStatistics.exposedBars(trades, bars: n) == covered.count, "round \(round)")
        }
    }

    @Test("drawdowns without a division per bar equal the bar-by-bar definition; other curves take that path")
    func drawdownsFastPath() throws {
        var rng = SplitMix64(seed: 11)
        for round in 0..<400 {
            let n = 1 + Int(rng.next() % 80)
            // Steps from a small set so that ties with the peak, flat runs and single-bar dips occur.
            var e = 100.0 + Double(rng.next() % 5)
            var equity: [Double] = []
            for _ in 0..<n {
                equity.append(e)
                e = max(1, e + Double(Int(rng.next() % 7) - 3) * (round % 2 == 0 ? 1 : 0.37))
            }
            let times = (0..<n).map { Int64($0) * 86_400_000_000_000 }
            let fast = try #require(BacktestStatistics.Drawdowns.positive(equity, times), "round \(round)")
            let reference = BacktestStatistics.Drawdowns(reference: equity, timestamps: times)
            #expect(fast == reference, "round \(round): \(equity)")
            #expect(BacktestStatistics.Drawdowns(equity: equity, timestamps: times) == reference)
        }
        // Zero, negative and NaN equity are left to the bar-by-bar definition.
        let times = (0..<5).map { Int64($0) * 86_400_000_000_000 }
        for equity in [[100.0, 50, 0, 20, 120], [100, -5, 30, 90, 80], [100, .nan, 90, 80, 110], [0, 1, 2, 1, 3]] {
            #expect(BacktestStatistics.Drawdowns.positive(equity, times) == nil)
            let d = BacktestStatistics.Drawdowns(equity: equity, timestamps: times)
            let r = BacktestStatistics.Drawdowns(reference: equity, timestamps: times)
            #expect(d.durations == r.durations && d.maxDepth.bitPattern == r.maxDepth.bitPattern)
        }
        // A curve that ends one bar below its peak: that bar counts in the deepest drawdown, not as a drawdown.
        let tail = BacktestStatistics.Drawdowns(equity: [100, 110, 99], timestamps: Array(times.prefix(3)))
        #expect(tail.durations.isEmpty && tail.maxDepth == 1 - 99.0 / 110 && tail.peak == 110)
    }

    @Test("an empty series cannot be backtested")
    func emptySeries() {
        #expect(throws: BacktestError.self) {
            try Backtester.run(
                series: BarSeries(symbol: "X"),
                instrument: Instrument(symbol: "X"),
                strategy: SMACrossStrategy(),
                options: BacktestOptions(cash: FixedPoint(1), fees: .free)
            )
        }
    }
}
