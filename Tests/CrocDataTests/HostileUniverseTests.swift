import CrocCore
import Foundation
import Testing

@testable import CrocData

/// Random and hostile wide and long files through the universe loader: nothing traps, every
/// failure is a `UniverseError`, and every universe that loads holds only valid bars.
@Suite("Hostile universe files")
struct HostileUniverseTests {
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

    static let hostile = [
        "1e30", "-1", "0", "NaN", "inf", "", "\"12.5\"", "abc", "1e-12", "9.3e10", "1,5", "\u{0}", "+5", String(repeating: "9", count: 300),
        "2020-01-01",
    ]

    static func date(_ d: Int) -> String {
        Timestamp(nanoseconds: Int64(d) * Timestamp.nanosecondsPerDay + 946_684_800_000_000_000).iso8601(dateOnlyAtMidnight: true)
    }

    func wide(_ rng: inout Rng) -> String {
        let k = Int.random(in: 1...5, using: &rng)
        var symbols = (0..<k).map { "S\($0)" }
        if Int.random(in: 0..<8, using: &rng) == 0 { symbols.append(symbols[0]) }  // a duplicate column
        var lines = ["Date," + symbols.joined(separator: ",")]
        var d = 0
        for _ in 0..<Int.random(in: 0..<40, using: &rng) {
            // Rarely out of order or repeated.
            d += Int.random(in: 0..<30, using: &rng) == 0 ? Int.random(in: -1...0, using: &rng) : Int.random(in: 1...3, using: &rng)
            var cells = symbols.map { _ in
                Int.random(in: 0..<6, using: &rng) == 0 ? "" : String(format: "%.2f", Double.random(in: 1...200, using: &rng))
            }
            if Int.random(in: 0..<40, using: &rng) == 0 {
                cells[Int.random(in: 0..<cells.count, using: &rng)] = Self.hostile.randomElement(using: &rng)!
            }
            if Int.random(in: 0..<80, using: &rng) == 0 { cells.removeLast() }  // a short row
            if Int.random(in: 0..<80, using: &rng) == 0 { cells.append("7") }  // an extra cell
            lines.append(Self.date(d) + "," + cells.joined(separator: ","))
        }
        return lines.joined(separator: Int.random(in: 0..<4, using: &rng) == 0 ? "\r\n" : "\n") + "\n"
    }

    func long(_ rng: inout Rng) -> String {
        var lines = ["date,symbol,open,high,low,close,volume"]
        var day = [0, 0, 0, 0]
        for _ in 0..<Int.random(in: 0..<60, using: &rng) {
            let p = Double.random(in: 2...100, using: &rng)
            let s = Int.random(in: 0..<4, using: &rng)
            day[s] += Int.random(in: 0..<40, using: &rng) == 0 ? 0 : Int.random(in: 1...2, using: &rng)  // rarely a repeated time
            var f = [Self.date(day[s]), "S\(s)", "\(p)", "\(p + 1)", "\(p - 1)", "\(p)", "10"]
            if Int.random(in: 0..<30, using: &rng) == 0 { f[Int.random(in: 0..<f.count, using: &rng)] = Self.hostile.randomElement(using: &rng)! }
            lines.append(f.joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    @Test func randomAndHostileUniversesNeverTrapAndFailOnlyWithAUniverseError() {
        var rng = Rng(state: 20_261_203)
        var loaded = 0
        var refused = 0
        for i in 0..<600 {
            var text = i % 2 == 0 ? wide(&rng) : long(&rng)
            if Int.random(in: 0..<10, using: &rng) == 0 {
                var bytes = Array(text.utf8)
                for _ in 0..<6 { bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng)) }
                text = String(decoding: bytes, as: UTF8.self)
            }
            do {
                let u = try UniverseLoader.parse(text: text, file: "u\(i).csv")
                loaded += 1
                for m in u.members {
                    for j in m.indices {
                        let b = m[j]
                        #expect(BarValidationError.Problem.check(b) == nil, "u\(i).csv: \(m.symbol) bar \(j)")
                        if j > 0 { #expect(m.timestamps[j] > m.timestamps[j - 1]) }
                    }
                }
                #expect(u.timestamps == u.timestamps.sorted() && Set(u.timestamps).count == u.timestamps.count)
            } catch {
                refused += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(loaded > 50 && refused > 50, "loaded \(loaded), refused \(refused)")
    }
}
