import CrocSupport
import Foundation
import Testing

@testable import CrocCore

@Suite("ByteText: printf-exact numbers and ISO times into a byte buffer")
struct ByteTextTests {
    func fixed(_ x: Double, _ d: Int) -> String {
        var out: [UInt8] = []
        ByteText.appendFixed(x, decimals: d, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func fixedDecimalsMatchPrintfOnRandomAndHostileValues() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [
            0, -0.0, 1, -1, 0.5, 1.5, 2.5, 0.125, 0.375, 1e-9, 5e-9, 1.5e-8, 2.5e-8, 123456.123456785, 9.2e10, 1e17, 1.7e18, 1e20, 3.3e26,
            1e27, 1e30, -1e300, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, .infinity, -.infinity, .nan,
            18090.536482, 10_000, 99.99999999, 0.1, 0.2, 0.3,
        ]
        for _ in 0..<20_000 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: values.append(Double.random(in: 0..<100_000, using: &rng))
            case 1: values.append(Double.random(in: -1e12..<1e12, using: &rng))
            case 2: values.append(Double(Int.random(in: -1_000_000..<1_000_000, using: &rng)) / 256)  // exact binary fractions: ties
            default: values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
            }
        }
        for x in values {
            for d in 0...9 {
                let expected = String(format: "%.\(d)f", x)
                #expect(fixed(x, d) == expected, "\(x.bitPattern) with \(d) decimals")
            }
        }
    }

    /// ISO-8601 text field by field with strings (the first `Timestamp.iso8601()`): the reference
    /// the byte writers are checked against.
    static func referenceISO8601(_ n: Int64) -> String {
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        let t = Timestamp(nanoseconds: n)
        let days = t.daysSinceEpoch
        let rem = n - days * Timestamp.nanosecondsPerDay
        let (y, m, d) = CivilCalendar.date(fromDays: days)
        let secs = Int(rem / 1_000_000_000)
        let nanos = Int(rem % 1_000_000_000)
        let date: String = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
        let time: String = pad(secs / 3600, 2) + ":" + pad(secs % 3600 / 60, 2) + ":" + pad(secs % 60, 2)
        var out: String = date + "T" + time
        if nanos != 0 {
            let fraction: String = nanos % 1_000_000 == 0 ? pad(nanos / 1_000_000, 3) : pad(nanos, 9)
            out += "." + fraction
        }
        return out
    }

    @Test func isoTimesMatchTimestampIso8601() {
        var rng = SystemRandomNumberGenerator()
        var stamps: [Int64] = [0, 1, 999_999_999, 1_000_000, 86_400_000_000_000, -1, -86_400_000_000_001, 4_102_444_799_000_000_000]
        for _ in 0..<20_000 {
            stamps.append(Int64.random(in: -2_000_000_000_000_000_000...4_000_000_000_000_000_000 as ClosedRange<Int64>, using: &rng))
        }
        for _ in 0..<2_000 { stamps.append(Int64.random(in: 0...4_000_000_000, using: &rng) * 1_000_000_000) }
        for n in stamps {
            var out: [UInt8] = []
            ByteText.appendISO8601(Timestamp(nanoseconds: n), to: &out)
            let reference = Self.referenceISO8601(n)
            #expect(String(decoding: out, as: UTF8.self) == reference, "\(n)")
            #expect(Timestamp(nanoseconds: n).iso8601() == reference, "\(n)")
            let midnight = n == Timestamp(nanoseconds: n).daysSinceEpoch * Timestamp.nanosecondsPerDay
            #expect(Timestamp(nanoseconds: n).iso8601(dateOnlyAtMidnight: true) == (midnight ? String(reference.prefix(10)) : reference), "\(n)")
        }
    }

    @Test("ISO times through one date cache: minute bars across days, runs of one day, gaps, the epoch's both sides")
    func isoTimesThroughADateCache() {
        var rng = SystemRandomNumberGenerator()
        var stamps: [Int64] = []
        var t: Int64 = -3 * Timestamp.nanosecondsPerDay - 17
        for _ in 0..<20_000 {
            stamps.append(t)
            t += [60_000_000_000, 1, 86_400_000_000_000, 3_600_000_000_000, 999_999_999].randomElement(using: &rng)!
        }
        for _ in 0..<2_000 { stamps.append(Int64.random(in: -2_000_000_000_000_000_000...4_000_000_000_000_000_000, using: &rng)) }
        var cached: [UInt8] = []
        var plain: [UInt8] = []
        var cache = ByteText.ISODateCache()
        for n in stamps {
            ByteText.appendISO8601(Timestamp(nanoseconds: n), to: &cached, cache: &cache)
            cached.append(10)
            plain.append(contentsOf: Self.referenceISO8601(n).utf8)
            plain.append(10)
        }
        #expect(cached == plain)
    }

    @Test func integers() {
        var values: [Int64] = [0, 7, -7, 9, 10, 99, 100, 101, 1_234_567_890, 9_999_999_999, 10_000_000_000, .max, .min + 1]
        for d in 0...18 {
            let p = Int64(pow(10.0, Double(d)).rounded())
            values += [p - 1, p, p + 1, -p]
        }
        for v in values {
            var out: [UInt8] = []
            ByteText.appendInteger(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
        }
        var out: [UInt8] = []
        ByteText.appendPadded(42, width: 5, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "00042")
    }

    @Test func fixedPointsMatchTheirDescription() {
        var rng = SystemRandomNumberGenerator()
        var raws: [Int64] = [0, 1, -1, 10, 100_000_000, -100_000_000, 123_456_789, 150_000_000, -5, .max, .min, .min + 1]
        for _ in 0..<20_000 { raws.append(Int64.random(in: .min ... .max, using: &rng)) }
        for _ in 0..<5_000 { raws.append(Int64.random(in: -1_000_000...1_000_000, using: &rng) * 1_000) }  // trailing zeros
        for raw in raws {
            var out: [UInt8] = []
            ByteText.appendFixedPoint(FixedPoint(raw: raw), to: &out)
            #expect(String(decoding: out, as: UTF8.self) == FixedPoint(raw: raw).description, "\(raw)")
        }
    }
}
