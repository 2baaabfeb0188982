import CrocSupport

/// Numbers and times written straight into a byte buffer, for outputs with a
/// row per bar (equity curves, trades): no `String(format:)`, no
/// `NumberFormatter`, no intermediate `String` per field.
///
/// `appendFixed` gives exactly what C's `printf("%.Nf")` gives — the exact
/// binary value of the double rounded half-to-even to N decimals — so files
/// written this way are byte-for-byte what the Foundation formatting wrote.
public enum ByteText {
    private static let powersOfTen: [UInt64] = (0...18).map { n in (0..<n).reduce(UInt64(1)) { r, _ in r * 10 } }

    /// Appends `x` with `decimals` digits after the point (0...9), as `%.{decimals}f` would.
    public static func appendFixed(_ x: Double, decimals: Int, to out: inout [UInt8]) {
        precondition((0...9).contains(decimals), "0...9 decimals")
        guard x.isFinite else {
            if x.isNaN {
                out.append(contentsOf: x.sign == .minus ? Array("-nan".utf8) : Array("nan".utf8))
            } else {
                out.append(contentsOf: x < 0 ? Array("-inf".utf8) : Array("inf".utf8))
            }
            return
        }
        let magnitude = x.magnitude
        // Beyond 1e27 (never in a ledger: FixedPoint stops at 9.2e10) the exact product leaves 128 bits;
        // such doubles are integers, written digit by digit.
        guard magnitude < 1e27 else {
            out.append(contentsOf: Array(formatLarge(x, decimals: decimals).utf8))
            return
        }
        if x.sign == .minus { out.append(UInt8(ascii: "-")) }
        let scaled = scaledRounded(magnitude, decimals: decimals)
        let unit = UInt128(powersOfTen[decimals])
        let whole = scaled / unit
        if whole <= UInt128(UInt64.max) {
            appendUnsigned(UInt64(whole), to: &out)
        } else {
            appendPadded(UInt64(whole / 1_000_000_000_000_000_000), width: 1, to: &out)
            appendPadded(UInt64(whole % 1_000_000_000_000_000_000), width: 18, to: &out)
        }
        guard decimals > 0 else { return }
        out.append(UInt8(ascii: "."))
        appendPadded(UInt64(scaled % unit), width: decimals, to: &out)
    }

    /// `magnitude × 10^decimals`, rounded half-to-even on the exact binary value (magnitude < 1e27).
    @inline(__always)
    static func scaledRounded(_ magnitude: Double, decimals: Int) -> UInt128 {
        if magnitude == 0 { return 0 }
        let bits = magnitude.bitPattern
        let biased = Int((bits >> 52) & 0x7FF)
        let fraction = bits & ((1 << 52) - 1)
        let mantissa = biased == 0 ? fraction : fraction | (1 << 52)
        let shift = (biased == 0 ? 1 : biased) - 1075  // magnitude = mantissa × 2^shift
        let numerator = UInt128(mantissa) * UInt128(powersOfTen[decimals])
        if shift >= 0 { return numerator << UInt128(shift) }
        let down = -shift
        if down >= 127 { return 0 }  // below half a unit of the last digit
        let quotient = numerator >> UInt128(down)
        let remainder = numerator - (quotient << UInt128(down))
        let half = UInt128(1) << UInt128(down - 1)
        var q = quotient
        if remainder > half || (remainder == half && q & 1 == 1) { q += 1 }
        return q
    }

    /// Appends an unsigned integer in decimal.
    @inline(__always)
    public static func appendUnsigned(_ v: UInt64, to out: inout [UInt8]) {
        if v < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(v))
            return
        }
        var digits:
            (
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var x = v
        withUnsafeMutableBytes(of: &digits) { raw in
            let d = raw.bindMemory(to: UInt8.self)
            while x > 0 {
                d[n] = UInt8(ascii: "0") &+ UInt8(x % 10)
                x /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    /// Appends a signed integer in decimal.
    public static func appendInteger(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        appendUnsigned(v.magnitude, to: &out)
    }

    /// Appends `v` as `FixedPoint.description` writes it: the decimals it has, trailing zeros trimmed.
    public static func appendFixedPoint(_ v: FixedPoint, to out: inout [UInt8]) {
        if v.raw < 0 { out.append(UInt8(ascii: "-")) }
        let m = v.raw.magnitude
        let scale = UInt64(FixedPoint.scale)
        appendUnsigned(m / scale, to: &out)
        var frac = m % scale
        guard frac > 0 else { return }
        var width = FixedPoint.decimals
        while frac % 10 == 0 {
            frac /= 10
            width -= 1
        }
        out.append(UInt8(ascii: "."))
        appendPadded(frac, width: width, to: &out)
    }

    /// Appends `v` with at least `width` digits (leading zeros).
    @inline(__always)
    public static func appendPadded(_ v: UInt64, width: Int, to out: inout [UInt8]) {
        var count = 1
        var x = v / 10
        while x > 0 {
            count += 1
            x /= 10
        }
        if count < width { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - count)) }
        appendUnsigned(v, to: &out)
    }

    /// Appends `t` as `Timestamp.iso8601()` writes it (`YYYY-MM-DDTHH:MM:SS[.fff|.fffffffff]`).
    public static func appendISO8601(_ t: Timestamp, to out: inout [UInt8]) {
        let days = t.daysSinceEpoch
        let rem = t.nanoseconds - days * Timestamp.nanosecondsPerDay
        let (y, m, d) = CivilCalendar.date(fromDays: days)
        if y < 0 {
            out.append(UInt8(ascii: "-"))
            appendPadded(UInt64(-y), width: 4, to: &out)
        } else {
            appendPadded(UInt64(y), width: 4, to: &out)
        }
        out.append(UInt8(ascii: "-"))
        appendPadded(UInt64(m), width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(UInt64(d), width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        let secs = UInt64(rem / 1_000_000_000)
        let nanos = UInt64(rem % 1_000_000_000)
        appendPadded(secs / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secs % 3600 / 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secs % 60, width: 2, to: &out)
        if nanos != 0 {
            out.append(UInt8(ascii: "."))
            if nanos % 1_000_000 == 0 {
                appendPadded(nanos / 1_000_000, width: 3, to: &out)
            } else {
                appendPadded(nanos, width: 9, to: &out)
            }
        }
    }

    /// Exact `%.Nf` of a magnitude ≥ 1e18: the integer part from the binary value, digit by digit.
    private static func formatLarge(_ x: Double, decimals: Int) -> String {
        // x is an integer here (|x| ≥ 2^53 has no fraction bits): its exact decimal digits, then zeros.
        let bits = x.magnitude.bitPattern
        let biased = Int((bits >> 52) & 0x7FF)
        let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52)
        let shift = biased - 1075
        // mantissa × 2^shift in base 10^9 limbs, least significant first.
        var limbs: [UInt64] = [mantissa % 1_000_000_000, mantissa / 1_000_000_000 % 1_000_000_000, mantissa / 1_000_000_000_000_000_000]
        for _ in 0..<max(shift, 0) {
            var carry: UInt64 = 0
            for i in limbs.indices {
                let v = limbs[i] * 2 + carry
                limbs[i] = v % 1_000_000_000
                carry = v / 1_000_000_000
            }
            if carry > 0 { limbs.append(carry) }
        }
        while limbs.count > 1 && limbs.last == 0 { limbs.removeLast() }
        var text = x.sign == .minus ? "-" : ""
        text += String(limbs.last!)
        for limb in limbs.dropLast().reversed() {
            let s = String(limb)
            text += String(repeating: "0", count: 9 - s.count) + s
        }
        if decimals > 0 { text += "." + String(repeating: "0", count: decimals) }
        return text
    }
}
