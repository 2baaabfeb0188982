import CrocCore
import CrocData
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

/// Random and hostile CSV files through the loader and a whole backtest:
/// nothing traps, and every failure is a `CSVError` naming where.
@Suite("Hostile CSV files")
struct HostileCSVTests {
    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let hostileNumbers = [
        "1e30", "-1e30", "1e-12", "0", "-0", "NaN", "inf", "-inf", "1e308", "4.9e-324", "92000000000.5", "9.2e10", "1e-8", "0x1p3", "1,5", "",
        "\"100\"", "١٠٠", "1e", ".", "-", "+5", "00000000000000000000000000000001", String(repeating: "9", count: 400),
    ]

    func row(_ day: Int, _ price: Double) -> String {
        let date = Timestamp(nanoseconds: Int64(day) * 86_400_000_000_000 + 946_684_800_000_000_000).iso8601(dateOnlyAtMidnight: true)
        return "\(date),\(price),\(price + 1),\(price - 1),\(price),1000"
    }

    func hostileFile(_ rng: inout Rng) -> [UInt8] {
        var lines = ["Date,Open,High,Low,Close,Volume"]
        let n = Int.random(in: 0..<80, using: &rng)
        var price = 100.0
        for d in 0..<n {
            price = max(2, price + Double.random(in: -3...3, using: &rng))
            lines.append(row(d, price))
        }
        var text = lines.joined(separator: "\n") + "\n"
        var bytes = Array(text.utf8)
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:  // a hostile number in a random field
                if lines.count > 1 {
                    let i = Int.random(in: 1..<lines.count, using: &rng)
                    var fields = lines[i].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                    fields[Int.random(in: 0..<fields.count, using: &rng)] = Self.hostileNumbers.randomElement(using: &rng)!
                    lines[i] = fields.joined(separator: ",")
                    text = lines.joined(separator: "\n") + "\n"
                    bytes = Array(text.utf8)
                }
            case 1: bytes.insert(0, at: Int.random(in: 0...bytes.count, using: &rng))  // NUL byte
            case 2: bytes.insert(13, at: Int.random(in: 0...bytes.count, using: &rng))  // lone CR
            case 3: bytes = [0xEF, 0xBB, 0xBF] + bytes  // BOM
            case 4: bytes.append(contentsOf: Array(String(repeating: "7", count: 100_000).utf8))  // a long line
            case 5: bytes = Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)  // CRLF
            case 6: bytes = Array(text.replacingOccurrences(of: "Close", with: "\"Close\"").utf8)  // quoted header
            case 7: if !bytes.isEmpty { bytes.removeLast(Int.random(in: 0...min(bytes.count, 30), using: &rng)) }  // truncated
            case 8: for _ in 0..<8 { bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng)) }
            default: bytes = Array("Date,Open,High,Low,Close,Volume\n".utf8)  // no rows
            }
        }
        return bytes
    }

    @Test func randomAndHostileFilesNeverTrapAndFailOnlyWithACSVError() throws {
        let dir = testTemporaryURL().appendingPathComponent("crocbot-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = Rng(state: 20_261_202)
        var loaded = 0
        var refused: [CSVError.Code: Int] = [:]
        let options = try BacktestOptions(AppConfig().backtest)
        for i in 0..<400 {
            let path = dir.appendingPathComponent("f\(i).csv").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data(hostileFile(&rng))))
            let series: BarSeries
            do {
                series = try CSVBarLoader.load(path: path)
            } catch {
                refused[error.code, default: 0] += 1
                #expect(error.file == path)
                #expect(error.code == .unreadable || error.line >= 1, "\(error)")
                continue
            }
            loaded += 1
            #expect(series.count > 0)
            let instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision)
            for name in ["sma_cross"] {
                let strategy = try StrategyFactory.standard.make(StrategyConfig(name: name, params: ["fast": .int(2), "slow": .int(5)]))
                let result = try Backtester.run(series: series, instrument: instrument, strategy: strategy, options: options)
                #expect(result.equity.count == series.count)
                #expect(!BacktestReport.equityCSVBytes(result).isEmpty)
            }
        }
        // Both kinds were exercised: files that load and run, and files refused for a range of reasons.
        #expect(loaded > 50)
        #expect(refused.count >= 5, "\(refused)")
        #expect(refused[.outOfRange, default: 0] > 0)
    }

    @Test func theReportedTrapIsATypedErrorNamingTheLine() throws {
        var text = "Date,Open,High,Low,Close,Volume\n"
        for d in 0..<40 { text += row(d, 100 + Double(d)) + "\n" }
        text += row(40, 1e30) + "\n"
        let e = #expect(throws: CSVError.self) { try CSVBarLoader.parse(text: text, file: "prices.csv") }
        #expect(e?.code == .outOfRange && e?.line == 42 && e?.description.contains("above the largest price") == true)
        // A BOM, CRLF endings and a quoted header still load.
        let ok = "\u{FEFF}\"Date\",\"Open\",\"High\",\"Low\",\"Close\"\r\n2020-01-01,1,2,0.5,1.5\r\n2020-01-02,1,2,0.5,1.5\r\n"
        #expect(try CSVBarLoader.parse(text: ok).count == 2)
    }
}
