import CrocCore
import CrocData
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

@Suite("Backtest CSVs written into one buffer")
struct ReportBytesTests {
    /// trades.csv as it was written field by field with `String`s: the byte writer must give the same text.
    static func referenceTradesCSV(_ result: BacktestResult) -> String {
        var out = "Size,EntryBar,ExitBar,EntryPrice,ExitPrice,PnL,ReturnPct,Commission,EntryTime,ExitTime,Duration,Tag,Symbol\n"
        for t in result.trades {
            let fields = [
                t.quantity.description, String(t.entryBar), String(t.exitBar), t.entryPrice.description, t.exitPrice.description,
                t.pnl.description, String(t.returnFraction), t.commission.description, t.entryTime.iso8601(), t.exitTime.iso8601(),
                String(t.duration / 1_000_000_000), t.tag ?? "", t.symbol,
            ]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    @Test("trades.csv: the same text as field-by-field Strings, on the default backtest and with commission, shorts and tags")
    func tradesCSV() throws {
        let plain = try defaultBacktest()
        #expect(plain.trades.count > 10)
        #expect(BacktestReport.tradesCSV(plain) == Self.referenceTradesCSV(plain))

        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/EURUSD_1H_ASK.csv").path)
        let instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision, quantityStep: FixedPoint(raw: 1_000))
        let options = BacktestOptions(cash: FixedPoint(100_000), fees: FeeModel(commissionRate: FixedPoint(rounding: 0.0007)!), allowShort: true)
        let strategy = try StrategyFactory.standard.make(StrategyConfig(name: "sma_cross", params: ["fast": .int(5), "slow": .int(13)]))
        let result = try Backtester.run(series: series, instrument: instrument, strategy: strategy, options: options)
        #expect(result.trades.count > 100)
        #expect(result.trades.contains { $0.pnl.raw < 0 } && result.trades.contains { $0.commission.raw > 0 })
        #expect(BacktestReport.tradesCSV(result) == Self.referenceTradesCSV(result))
    }

    @Test(
        "writeAll (every core, equity in 1 to 4 pieces, each file written by its last piece's task) writes what write and the HTML report give, byte for byte",
        arguments: [50_000, 2_000, 1_000, 600, 500]
    )
    func writeAllMatchesTheSequentialWriters(rowsPerPiece: Int) throws {
        let result = try defaultBacktest()
        let dir = testTemporaryDirectory() + "crocbot-writeall-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try BacktestReport.writeAll(
            result,
            to: dir + "/a",
            report: dir + "/a/report.html",
            configuration: "cfg: 1",
            rowsPerPiece: rowsPerPiece
        )
        let reference = try BacktestReport.write(result, to: dir + "/b")
        try BacktestHTMLReport.write(result, configuration: "cfg: 1", to: dir + "/b/report.html")
        for (a, b) in [(files.trades, reference.trades), (files.equity, reference.equity), (files.report, dir + "/b/report.html")] {
            let x = try Data(contentsOf: URL(fileURLWithPath: a))
            let y = try Data(contentsOf: URL(fileURLWithPath: b))
            #expect(x.count > 100)
            #expect(x == y, "\(a), pieces of \(rowsPerPiece) rows")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/a/fills.csv")) == Data(BacktestReport.fillsCSVBytes(result)))
        // The drawdown of the second half is measured from the peak of the whole curve so far.
        let rows = try String(contentsOfFile: files.equity, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == result.equity.count + 1)
        #expect(!FileManager.default.fileExists(atPath: files.equity + ".tmp-\(getpid())"))
    }

    @Test("writeAll into a path that cannot be written is a thrown error, not a crash")
    func writeAllUnwritable() throws {
        let result = try defaultBacktest()
        #expect(throws: (any Error).self) {
            try BacktestReport.writeAll(result, to: "/proc/crocbot-no", report: "/proc/crocbot-no/report.html", configuration: "")
        }
    }

    @Test("the price chart marks at most maxMarkedTrades trades, evenly spaced, and says so")
    func markersAreCapped() throws {
        #expect(BacktestHTMLReport.markedTrades(10) == Array(0..<10))
        let many = BacktestHTMLReport.markedTrades(19_089)
        #expect(many.count == BacktestHTMLReport.maxMarkedTrades)
        #expect(many.first == 0 && many.last == 19_088)
        #expect(zip(many, many.dropFirst()).allSatisfy { $0 < $1 })
        let result = try defaultBacktest()
        let html = BacktestHTMLReport.render(result, configuration: "")
        let markers = html.components(separatedBy: "class=\"marker\"").count - 1
        #expect(markers == 2 * min(result.trades.count, BacktestHTMLReport.maxMarkedTrades))
    }
}
