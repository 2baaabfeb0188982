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
        self.raw = Int64((value * Double(Self.scale)).rounded(.toNearestOrEven))
    }

    /// Rounds a `Double` already known to be finite and in range (hot paths:
    /// bar prices validated by the loader).
    @inlinable
    public init(unchecked value: Double) {
        self.raw = Int64((value * Double(Self.scale)).rounded(.toNearestOrEven))
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
        if !overflow { return FixedPoint(raw: roundedQuotient(p, scale)) }
        let wide = a.raw.multipliedFullWidth(by: b.raw)
        let (q, r) = scale.dividingFullWidth(wide)
        return FixedPoint(raw: adjust(q, r, scale))
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
    @inlinable
    public func rounded(toDecimals digits: Int) -> FixedPoint {
        guard digits < Self.decimals else { return self }
        var unit: Int64 = 1
        for _ in 0..<(Self.decimals - max(0, digits)) { unit *= 10 }
        return FixedPoint(raw: Self.roundedQuotient(raw, unit) * unit)
    }

    @inlinable
    static func roundedQuotient(_ n: Int64, _ d: Int64) -> Int64 {
        adjust(n / d, n % d, d)
    }

    /// Half-to-even adjustment of a truncated quotient `q` with remainder `r` (divisor `d` > 0 or < 0).
    @inlinable
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
