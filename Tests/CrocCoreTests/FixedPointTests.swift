import Foundation
import Testing

@testable import CrocCore

@Suite("FixedPoint")
struct FixedPointTests {
    @Test("parses decimal strings exactly and rejects malformed ones")
    func parsing() {
        #expect(FixedPoint("123.45")?.raw == 12_345_000_000)
        #expect(FixedPoint("-0.00000001")?.raw == -1)
        #expect(FixedPoint(".5")?.raw == 50_000_000)
        #expect(FixedPoint("7")?.raw == 700_000_000)
        #expect(FixedPoint("1.123456789") == nil)  // 9 decimals
        #expect(FixedPoint("1.2.3") == nil)
        #expect(FixedPoint("abc") == nil)
        #expect(FixedPoint("") == nil)
        #expect(FixedPoint("999999999999") == nil)  // out of range
    }

    @Test("converts doubles with rounding and refuses non-finite ones")
    func doubles() {
        #expect(FixedPoint(rounding: 216.716721)?.raw == 21_671_672_100)
        #expect(FixedPoint(rounding: Double.nan) == nil)
        #expect(FixedPoint(rounding: Double.infinity) == nil)
        #expect(FixedPoint(rounding: 1e12) == nil)
        #expect(FixedPoint(rounding: 0.1)!.doubleValue == 0.1)
    }

    @Test("multiplies exactly and rounds half to even once")
    func multiplication() {
        let a = FixedPoint("46")!
        let p = FixedPoint("216.716721")!
        #expect((a * p).description == "9968.969166")
        let rate = FixedPoint("0.002")!
        #expect((a * p * rate).description == "19.93793833")  // 19.937938332 rounds down
        // 0.00000001 * 0.5 = 0.000000005 → half to even → 0
        #expect((FixedPoint(raw: 1) * FixedPoint("0.5")!).raw == 0)
        #expect((FixedPoint(raw: 3) * FixedPoint("0.5")!).raw == 2)  // 1.5 → 2
        #expect((FixedPoint(raw: -3) * FixedPoint("0.5")!).raw == -2)
    }

    @Test("large products take the 128-bit path without overflow")
    func wideMultiplication() {
        let big = FixedPoint("50000000")!
        let x = FixedPoint("1000.5")!
        // 5e7 * 1000.5 overflows the 64-bit raw product but fits the result range.
        #expect((big * FixedPoint("0.001")!).description == "50000")
        #expect((FixedPoint("90000")! * x).description == "90045000")
    }

    @Test("the fast wide product equals the 128-bit division for random, signed and half-way operands")
    func wideProductMatchesFullWidthDivision() {
        func reference(_ a: Int64, _ b: Int64) -> Int64 {
            let (q, r) = FixedPoint.scale.dividingFullWidth(a.multipliedFullWidth(by: b))
            return FixedPoint.adjust(q, r, FixedPoint.scale)
        }
        var rng = SystemRandomNumberGenerator()
        var cases: [(Int64, Int64)] = [
            (10_000_000_000, 123_456_789_012),  // 100 shares × 1234.56789012
            (-10_000_000_000, 123_456_789_012),
            (5_000_000_000_000_000, 100_000),  // 5e7 × 0.001
            (15, 10_000_000_000_000_000 / 3 * 2),
            (150_000_000, 3_000_000_000_000_000_050),  // x0·y0 ends in 50000000: a tie
            (250_000_000, 3_000_000_000_000_000_050),
            (Int64.max / 100_000_000, 100_000_000),
        ]
        // Ties (remainder exactly half the scale) on overflowing products: even quotient stays, odd rounds up.
        #expect(FixedPoint.wideProduct(100_000_001, 100_050_000_000) == 100_050_001_000)
        #expect(FixedPoint.wideProduct(100_000_001, 100_150_000_000) == 100_150_001_002)
        #expect(FixedPoint.wideProduct(-100_000_001, 100_150_000_000) == -100_150_001_002)
        for _ in 0..<20_000 {
            // Magnitudes from tiny to large, so that some products overflow and some results are at the edge.
            let a = Int64.random(in: -(1 << Int64.random(in: 1...62, using: &rng))...(1 << 40), using: &rng)
            let b = Int64.random(in: -(1 << 40)...(1 << Int64.random(in: 1...62, using: &rng)), using: &rng)
            cases.append((a, b))
        }
        for (a, b) in cases {
            // Only operands whose rounded quotient fits: the rest trap in both implementations.
            let quotient = Double(a) * Double(b) / 1e8
            guard abs(quotient) < 9.0e18 else { continue }
            #expect(FixedPoint(raw: a) * FixedPoint(raw: b) == FixedPoint(raw: reference(a, b)), "\(a) × \(b)")
            #expect(FixedPoint.wideProduct(a, b) == reference(a, b), "\(a) × \(b)")
        }
    }

    @Test("a quantity times a price on a known unit equals the full product: fractional, signed, half-way, off-unit prices")
    func productByPriceUnit() {
        var rng = SystemRandomNumberGenerator()
        // (quantity raw, price raw): 1,000.5 units at 50.25 overflows the raw product; 0.00000001 at
        // 0.5 is a tie (0.5e-8: stays at the even 0); 0.00000003 at 0.5 is a tie rounding up to 2.
        var cases: [(Int64, Int64)] = [
            (100_050_000_000, 5_025_000_000), (-100_050_000_000, 5_025_000_000), (1, 50_000_000), (3, 50_000_000),
            (-3, 50_000_000), (123_456_789, 123_450_000), (123_456_789, 123_456_789),
        ]
        for _ in 0..<20_000 {
            let q = Int64.random(in: -(1 << 42)...(1 << 42), using: &rng)
            // Prices on a 4-decimal grid mostly, some off it (they take the general product).
            let p = Int64.random(in: 1...2_000_000, using: &rng) * (Bool.random(using: &rng) ? 10_000 : 1)
            cases.append((q, p))
        }
        for (q, p) in cases {
            let expected = FixedPoint(raw: q) * FixedPoint(raw: p)
            #expect(FixedPoint(raw: q).multiplied(byPrice: FixedPoint(raw: p), unit: 10_000) == expected, "\(q) × \(p)")
            #expect(FixedPoint(raw: q).multiplied(byPrice: FixedPoint(raw: p), unit: 1) == expected, "\(q) × \(p)")
            if p % 1_000_000 == 0 {
                #expect(FixedPoint(raw: q).multiplied(byPrice: FixedPoint(raw: p), unit: 1_000_000) == expected, "\(q) × \(p)")
            }
        }
    }

    @Test("the fast half-to-even rounding of doubles equals Double.rounded(.toNearestOrEven)")
    func fastRounding() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [
            0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 4_503_599_627_370_495.5, 2_251_799_813_685_247.5, 2_251_799_813_685_248.0, 9.2e18, -9.2e18, 1e-300,
        ]
        for _ in 0..<50_000 {
            let e = Double.random(in: -8...19, using: &rng)
            let v = (Bool.random(using: &rng) ? 1 : -1) * Foundation.pow(10, e)
            values.append(v)
            values.append((v * 2).rounded() / 2)  // exact halves
        }
        for v in values {
            #expect(FixedPoint.roundedToEven(v) == v.rounded(.toNearestOrEven), "\(v)")
            let price = v / 1e8  // prices from 1e-16 to 1e11, ties among them
            if abs(price) < 9e10 {
                #expect(FixedPoint(unchecked: price).raw == Int64((price * 1e8).rounded(.toNearestOrEven)), "\(price)")
            }
        }
        // Half-cent ties of the bit-pattern conversion go to even, both signs.
        for k in -40...40 {
            let tie = (Double(k) + 0.5) / 1e8
            #expect(FixedPoint(unchecked: tie).raw == Int64((tie * 1e8).rounded(.toNearestOrEven)), "\(tie)")
        }
        #expect(FixedPoint(unchecked: 1e9).raw == 100_000_000_000_000_000)  // above 2^51 after scaling: the fallback
        // Prices as the engine sees them: instrument rounding equals rounding to decimals.
        for precision in 0...8 {
            let instrument = Instrument(symbol: "X", pricePrecision: precision)
            for _ in 0..<2_000 {
                let price = Double.random(in: 0...100_000, using: &rng)
                let exact = FixedPoint(unchecked: price)
                #expect(instrument.price(price) == exact.rounded(toDecimals: precision), "\(price) at \(precision) decimals")
                #expect(instrument.price(-price) == FixedPoint(unchecked: -price).rounded(toDecimals: precision))
            }
            let tie = FixedPoint(raw: 125 * 1_000_000 / 10)  // 0.125 → 0.12 at 2 decimals
            #expect(instrument.price(tie.doubleValue) == tie.rounded(toDecimals: precision))
        }
    }

    @Test("divides with rounding and reports division by zero")
    func division() {
        #expect(FixedPoint(10).divided(by: FixedPoint(3))?.description == "3.33333333")
        #expect(FixedPoint(20).divided(by: FixedPoint(3))?.description == "6.66666667")
        #expect(FixedPoint(1).divided(by: .zero) == nil)
    }

    @Test("floors to a step and rounds to decimals")
    func steps() {
        #expect(FixedPoint("46.99")!.floored(toMultipleOf: .one).description == "46")
        #expect(FixedPoint("-0.5")!.floored(toMultipleOf: .one).description == "-1")
        #expect(FixedPoint("0.123")!.floored(toMultipleOf: FixedPoint("0.01")!).description == "0.12")
        #expect(FixedPoint("1.005")!.rounded(toDecimals: 2).description == "1")  // half to even
        #expect(FixedPoint("1.015")!.rounded(toDecimals: 2).description == "1.02")
        #expect(FixedPoint("3.14159")!.formatted(decimals: 2) == "3.14")
    }
}

@Suite("Timestamp")
struct TimestampTests {
    @Test(
        "calendar fields round-trip through ISO text",
        arguments: [
            (1970, 1, 1, 0, 0, 0, "1970-01-01"),
            (2009, 5, 22, 0, 0, 0, "2009-05-22"),
            (2017, 1, 1, 22, 0, 0, "2017-01-01T22:00:00"),
            (2024, 2, 29, 23, 59, 59, "2024-02-29T23:59:59"),
            (1969, 12, 31, 12, 0, 0, "1969-12-31T12:00:00"),
        ]
    )
    func roundTrip(y: Int, m: Int, d: Int, h: Int, mi: Int, s: Int, text: String) throws {
        let t = try #require(Timestamp(year: y, month: m, day: d, hour: h, minute: mi, second: s))
        #expect(t.description == text)
    }

    @Test("rejects impossible dates")
    func invalid() {
        #expect(Timestamp(year: 2023, month: 2, day: 29) == nil)
        #expect(Timestamp(year: 2023, month: 13, day: 1) == nil)
        #expect(Timestamp(year: 2023, month: 1, day: 1, hour: 24) == nil)
    }

    @Test("epoch anchor is exact")
    func epoch() {
        #expect(Timestamp(year: 2017, month: 1, day: 1)!.nanoseconds == 1_483_228_800 * 1_000_000_000)
    }
}
