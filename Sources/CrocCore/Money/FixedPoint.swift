/// An exact decimal with 8 fractional digits, stored as a scaled `Int64`.
///
/// All money, prices and quantities in the ledger use it (DESIGN rule 4):
/// sums are exact, products round once (half to even) to 8 decimals. The
/// range is ±92,233,720,368.54775807, enough for any single account we
/// simulate; validated inputs (cash < 1e10) stay far inside it.
@frozen
public struct FixedPoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Number of fractional digits.
    public static let decimals = 8
    /// 10^decimals.
    public static let scale: Int64 = 100_000_000
    /// The largest magnitude accepted from a `Double`.
    public static let maxMagnitude: Double = 92_000_000_000

    /// The scaled integer: value × 10^8.
    public var raw: Int64

    /// Wraps a scaled integer.
    @inlinable public init(raw: Int64) { self.raw = raw }

    /// An integral value.
    @inlinable public init(_ value: Int) { self.raw = Int64(value) * Self.scale }

    /// Rounds a `Double` to 8 decimals; nil for NaN, infinities or values
    /// beyond ±9.2e10.
    @inlinable
    public init?(rounding value: Double) {
        guard value.isFinite, abs(value) < Self.maxMagnitude else { return nil }
        self.raw = Int64(Self.roundedToEven(value * Double(Self.scale)))
    }

    /// Rounds a `Double` already known to be finite and in range (hot paths:
    /// bar prices validated by the loader).
    @inlinable @inline(__always)
    public init(unchecked value: Double) {
        let scaled = value * 100_000_000  // × scale
        // Below 2^51, x + 1.5·2^52 holds round(x) (nearest, ties to even) in its low mantissa bits:
        // the difference of the bit patterns is the integer, with no conversion instruction.
        if abs(scaled) < 2_251_799_813_685_248.0 {
            self.raw = Int64(bitPattern: (scaled + 6_755_399_441_055_744.0).bitPattern) &- 0x4338_0000_0000_0000
        } else {
            self.raw = Int64(scaled.rounded(.toNearestOrEven))
        }
    }

    /// `x.rounded(.toNearestOrEven)`, without the libm call baseline x86-64
    /// makes for it: below 2^51 in magnitude, adding and subtracting 1.5·2^52
    /// rounds to an integer in the FPU's default mode (nearest, ties to even),
    /// which is the same result bit for bit (up to the sign of a zero).
    @inlinable @inline(__always)
    static func roundedToEven(_ x: Double) -> Double {
        let magic = 6_755_399_441_055_744.0  // 1.5 · 2^52
        guard abs(x) < 2_251_799_813_685_248.0 else { return x.rounded(.toNearestOrEven) }  // 2^51
        return (x + magic) - magic
    }

    /// Parses a plain decimal string (`"123.45"`, `"-0.001"`); nil when it
    /// has more than 8 decimals, is malformed, or is out of range.
    public init?(_ text: String) {
        var s = Substring(text.trimmingWhitespace())
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard !s.isEmpty, parts.count <= 2, parts[0].allSatisfy(\.isASCIIDigit) else { return nil }
        let frac = parts.count == 2 ? parts[1] : ""
        guard frac.allSatisfy(\.isASCIIDigit), frac.count <= Self.decimals, !(parts[0].isEmpty && frac.isEmpty) else { return nil }
        guard parts[0].count <= 11, let whole = parts[0].isEmpty ? 0 : Int64(parts[0]) else { return nil }
        let padded = frac + String(repeating: "0", count: Self.decimals - frac.count)
        guard let f = Int64(padded) else { return nil }
        let (r, o) = whole.multipliedReportingOverflow(by: Self.scale)
        guard !o else { return nil }
        raw = negative ? -(r + f) : r + f
    }

    /// Zero.
    public static let zero = FixedPoint(raw: 0)
    /// One.
    public static let one = FixedPoint(raw: scale)

    /// The nearest `Double`.
    @inlinable public var doubleValue: Double { Double(raw) / Double(Self.scale) }

    /// Whether this is zero.
    @inlinable public var isZero: Bool { raw == 0 }

    /// The magnitude.
    @inlinable public var magnitude: FixedPoint { FixedPoint(raw: raw < 0 ? -raw : raw) }

    /// `-1`, `0` or `1`.
    @inlinable public var signum: Int { raw > 0 ? 1 : (raw < 0 ? -1 : 0) }

    /// Exact sum.
    @inlinable public static func + (a: FixedPoint, b: FixedPoint) -> FixedPoint { FixedPoint(raw: a.raw + b.raw) }
    /// Exact difference.
    @inlinable public static func - (a: FixedPoint, b: FixedPoint) -> FixedPoint { FixedPoint(raw: a.raw - b.raw) }
    /// Negation.
    @inlinable public static prefix func - (a: FixedPoint) -> FixedPoint { FixedPoint(raw: -a.raw) }
    /// In-place sum.
    @inlinable public static func += (a: inout FixedPoint, b: FixedPoint) { a.raw += b.raw }
    /// In-place difference.
    @inlinable public static func -= (a: inout FixedPoint, b: FixedPoint) { a.raw -= b.raw }
    /// Ordering.
    @inlinable public static func < (a: FixedPoint, b: FixedPoint) -> Bool { a.raw < b.raw }

    /// Product rounded half-to-even to 8 decimals.
    @inlinable
    public static func * (a: FixedPoint, b: FixedPoint) -> FixedPoint {
        let (p, overflow) = a.raw.multipliedReportingOverflow(by: b.raw)
        let s: Int64 = 100_000_000  // scale, as a literal so the divisions become multiplications
        if !overflow { return FixedPoint(raw: adjust(p / s, p % s, s)) }
        return FixedPoint(raw: wideProduct(a.raw, b.raw))
    }

    /// `self * price` for a `price` that is a whole multiple of `unit` raw units (every price
    /// rounded to `8 − log10(unit)` decimals is): the same half-to-even product, computed as
    /// `self.raw · (price.raw / unit)` over `10^8 / unit`, which fits 64 bits where the product
    /// of the raws overflows (a fractional quantity times a price: 1,000.5 units at 50.25 is
    /// about 5·10^20 raw²). Any other input takes `*`. Give `unit` as a constant (a power of
    /// ten dividing 10^8) so that both divisions become multiplications.
    @inlinable @inline(__always)
    public func multiplied(byPrice price: FixedPoint, unit: Int64) -> FixedPoint {
        if unit > 1 && unit <= Self.scale && Self.scale % unit == 0 {
            let (whole, rest) = price.raw.quotientAndRemainder(dividingBy: unit)
            if rest == 0 {
                let (p, overflow) = raw.multipliedReportingOverflow(by: whole)
                if !overflow { return FixedPoint(raw: Self.roundedQuotient(p, Self.scale / unit)) }
            }
        }
        return self * price
    }

    /// `a·b / 10^8` rounded half to even when `a·b` overflows 64 bits, with
    /// divisions by the constant scale only (no 128-bit division): with
    /// `x = x1·s + x0` and `y = y1·s + y0`, `x·y / s = x1·y1·s + x1·y0 + x0·y1 + x0·y0 / s`,
    /// where only the last term has a remainder. Magnitudes, then the sign,
    /// as the truncating division it replaces rounds symmetrically.
    /// Traps, like the full-width division, when the result does not fit.
    @inlinable
    static func wideProduct(_ a: Int64, _ b: Int64) -> Int64 {
        let s: UInt64 = 100_000_000  // scale
        let x = a.magnitude
        let y = b.magnitude
        let (x1, x0) = (x / s, x % s)
        if x0 == 0 {
            // A whole number of units (positions in shares): the product is exact, nothing to round.
            let (p, o) = x1.multipliedReportingOverflow(by: y)
            if !o && p <= UInt64(Int64.max) { return (a < 0) != (b < 0) ? -Int64(p) : Int64(p) }
        }
        let (y1, y0) = (y / s, y % s)
        let low = x0 * y0  // < 10^16: no overflow
        let r = low % s
        let (hh, o1) = x1.multipliedReportingOverflow(by: y1)
        let (hs, o2) = hh.multipliedReportingOverflow(by: s)
        let (m1, o3) = x1.multipliedReportingOverflow(by: y0)
        let (m2, o4) = x0.multipliedReportingOverflow(by: y1)
        let (t1, o5) = hs.addingReportingOverflow(m1)
        let (t2, o6) = t1.addingReportingOverflow(m2)
        var (q, o7) = t2.addingReportingOverflow(low / s)
        if o1 || o2 || o3 || o4 || o5 || o6 || o7 || q >= UInt64(Int64.max) {
            let (wq, wr) = scale.dividingFullWidth(a.multipliedFullWidth(by: b))
            return adjust(wq, wr, scale)
        }
        if r &* 2 > s || (r &* 2 == s && q & 1 != 0) { q += 1 }
        return (a < 0) != (b < 0) ? -Int64(q) : Int64(q)
    }

    /// Product with an integer count.
    @inlinable public static func * (a: FixedPoint, n: Int) -> FixedPoint { FixedPoint(raw: a.raw * Int64(n)) }

    /// Quotient rounded half-to-even to 8 decimals; nil when dividing by zero.
    @inlinable
    public func divided(by d: FixedPoint) -> FixedPoint? {
        guard d.raw != 0 else { return nil }
        let wide = raw.multipliedFullWidth(by: Self.scale)
        let (q, r) = d.raw.dividingFullWidth(wide)
        return FixedPoint(raw: Self.adjust(q, r, d.raw))
    }

    /// The largest multiple of `step` that is ≤ self (for positive steps).
    @inlinable
    public func floored(toMultipleOf step: FixedPoint) -> FixedPoint {
        guard step.raw > 0 else { return self }
        let q = raw / step.raw
        let r = raw % step.raw
        return FixedPoint(raw: (r < 0 ? q - 1 : q) * step.raw)
    }

    /// Whether self is a whole multiple of `step`.
    @inlinable
    public func isMultiple(of step: FixedPoint) -> Bool { step.raw > 0 && raw % step.raw == 0 }

    /// Rounds to `digits` decimals (half to even).
    /// One case per unit, so that each division is by a constant (a multiplication):
    /// instruments round every price with it.
    @inlinable
    public func rounded(toDecimals digits: Int) -> FixedPoint {
        switch digits {
        case ...0: return FixedPoint(raw: Self.roundedQuotient(raw, 100_000_000) * 100_000_000)
        case 1: return FixedPoint(raw: Self.roundedQuotient(raw, 10_000_000) * 10_000_000)
        case 2: return FixedPoint(raw: Self.roundedQuotient(raw, 1_000_000) * 1_000_000)
        case 3: return FixedPoint(raw: Self.roundedQuotient(raw, 100_000) * 100_000)
        case 4: return FixedPoint(raw: Self.roundedQuotient(raw, 10_000) * 10_000)
        case 5: return FixedPoint(raw: Self.roundedQuotient(raw, 1_000) * 1_000)
        case 6: return FixedPoint(raw: Self.roundedQuotient(raw, 100) * 100)
        case 7: return FixedPoint(raw: Self.roundedQuotient(raw, 10) * 10)
        default: return self
        }
    }

    /// `self` rounded (half to even) to a multiple of `unit` raw units: `rounded(toDecimals:)`
    /// with its unit given (`10_000` for 4 decimals), for loops that round many values to one
    /// precision and want the division by a constant the compiler can see.
    @inlinable @inline(__always)
    public func rounded(toMultipleOf unit: Int64) -> FixedPoint {
        unit == 1 ? self : FixedPoint(raw: Self.roundedQuotient(raw, unit) * unit)
    }

    @inlinable @inline(__always)
    static func roundedQuotient(_ n: Int64, _ d: Int64) -> Int64 {
        adjust(n / d, n % d, d)
    }

    /// Half-to-even adjustment of a truncated quotient `q` with remainder `r` (divisor `d` > 0 or < 0).
    @inlinable @inline(__always)
    static func adjust(_ q: Int64, _ r: Int64, _ d: Int64) -> Int64 {
        if r == 0 { return q }
        let twice = (r < 0 ? -r : r) &* 2
        let dm = d < 0 ? -d : d
        let negative = (r < 0) != (d < 0)
        if twice > dm || (twice == dm && q & 1 != 0) { return negative ? q - 1 : q + 1 }
        return q
    }

    /// Plain decimal text without trailing zeros (`"18090.536482"`).
    public var description: String { formatted(decimals: nil) }

    /// Decimal text with exactly `decimals` digits (rounded), or trimmed when nil.
    public func formatted(decimals: Int?) -> String {
        let v = decimals.map { rounded(toDecimals: $0) } ?? self
        let neg = v.raw < 0
        let m = v.raw.magnitude
        let whole = m / UInt64(Self.scale)
        var frac = String(m % UInt64(Self.scale))
        frac = String(repeating: "0", count: Self.decimals - frac.count) + frac
        if let d = decimals {
            frac = String(frac.prefix(max(0, d)))
        } else {
            while frac.last == "0" { frac.removeLast() }
        }
        return (neg ? "-" : "") + String(whole) + (frac.isEmpty ? "" : "." + frac)
    }
}

extension FixedPoint: Codable {
    /// Decodes from a JSON number or a decimal string.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self), let v = FixedPoint(s) {
            self = v
        } else if let d = try? c.decode(Double.self), let v = FixedPoint(rounding: d) {
            self = v
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a decimal with at most 8 fractional digits")
        }
    }

    /// Encodes as an exact decimal string.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A price in quote currency.
public typealias Price = FixedPoint
/// A quantity of the instrument (signed for positions).
public typealias Quantity = FixedPoint
/// An amount of cash.
public typealias Money = FixedPoint

extension Character {
    @usableFromInline var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    func trimmingWhitespace() -> Substring {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return s
    }
}
