import CrocSupport

/// Numbers and times written straight into a byte buffer, for outputs with a
/// row per bar (equity curves, trades): no `String(format:)`, no
/// `NumberFormatter`, no intermediate `String` per field.
///
/// `appendFixed` gives exactly what C's `printf("%.Nf")` gives — the exact
/// binary value of the double rounded half-to-even to N decimals — so files
/// written this way are byte-for-byte what the Foundation formatting wrote.
public enum ByteText {
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
        // +0, the most common value of a weights table (every symbol not held): its text at once.
        if x == 0 && x.sign == .plus {
            out.append(contentsOf: zeros[decimals])
            return
        }
        // Beyond 1e27 (never in a ledger: FixedPoint stops at 9.2e10) the exact product leaves 128 bits;
        // such doubles are integers, written digit by digit.
        guard x.magnitude < 1e27 else {
            out.append(contentsOf: Array(formatLarge(x, decimals: decimals).utf8))
            return
        }
        // At most 1 + 27 + 1 + 9 bytes, written on the stack and appended at once (one capacity
        // and uniqueness check per field, not per digit).
        append(capacity: 48, to: &out) { writeFixed(x, decimals: decimals, to: $0) }
    }

    /// `%.{n}f` of +0 for n in 0...9: `0`, `0.0`, `0.00`, ...
    private static let zeros: [[UInt8]] = (0...9).map { n in Array(("0" + (n > 0 ? "." + String(repeating: "0", count: n) : "")).utf8) }

    /// `appendFixed` as a `String`: printf's `%.{decimals}f` text of one value.
    public static func fixed(_ x: Double, decimals: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        appendFixed(x, decimals: decimals, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes one field with `write` (given room for `capacity` bytes on the stack; it returns
    /// how many it wrote) and appends them to `out` at once: one capacity and uniqueness check
    /// per field, not per byte.
    @inline(__always)
    static func append(capacity: Int, to out: inout [UInt8], _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            let n = write(buffer.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: n))
        }
    }

    /// `appendFixed` of a finite `x` with |x| < 1e27 into `p` (room for 38 bytes); returns the bytes written.
    /// One copy of the body per count of decimals, each with its power of ten a constant: the
    /// divisions by it are then multiplications (a CSV of a million equities formats two
    /// million values; the hardware division was a fifth of each).
    @inline(__always)
    static func writeFixed(_ x: Double, decimals: Int, to p: UnsafeMutablePointer<UInt8>) -> Int {
        switch decimals {
        case 0: return writeFixed(x, 0, 1, to: p)
        case 1: return writeFixed(x, 1, 10, to: p)
        case 2: return writeFixed(x, 2, 100, to: p)
        case 3: return writeFixed(x, 3, 1_000, to: p)
        case 4: return writeFixed(x, 4, 10_000, to: p)
        case 5: return writeFixed(x, 5, 100_000, to: p)
        case 6: return writeFixed(x, 6, 1_000_000, to: p)
        case 7: return writeFixed(x, 7, 10_000_000, to: p)
        case 8: return writeFixed(x, 8, 100_000_000, to: p)
        default: return writeFixed(x, 9, 1_000_000_000, to: p)
        }
    }

    /// `writeFixed(_:decimals:to:)` with `unit64` = 10^`decimals` (0...9), for constants.
    @inline(__always)
    static func writeFixed(_ x: Double, _ decimals: Int, _ unit64: UInt64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        if x.sign == .minus {
            p[0] = UInt8(ascii: "-")
            n = 1
        }
        let scaled = scaledRounded(x.magnitude, decimals: decimals)
        let whole: UInt64
        let fraction: UInt64
        if scaled <= UInt128(UInt64.max) {
            // The usual case (|x| × 10^decimals < 1.8e19): 64-bit division, not 128-bit.
            let s = UInt64(scaled)
            whole = s / unit64
            fraction = s % unit64
        } else {
            let unit = UInt128(unit64)
            let w = scaled / unit
            fraction = UInt64(scaled % unit)
            if w > UInt128(UInt64.max) {
                n += writePadded(UInt64(w / 1_000_000_000_000_000_000), width: 1, to: p + n)
                n += writePadded(UInt64(w % 1_000_000_000_000_000_000), width: 18, to: p + n)
                if decimals > 0 {
                    p[n] = UInt8(ascii: ".")
                    writeDigits(fraction, count: decimals, to: p + n + 1)
                    n += 1 + decimals
                }
                return n
            }
            whole = UInt64(w)
        }
        n += writeUnsigned(whole, to: p + n)
        guard decimals > 0 else { return n }
        p[n] = UInt8(ascii: ".")
        writeDigits(fraction, count: decimals, to: p + n + 1)
        return n + 1 + decimals
    }

    /// The last `count` decimal digits of `v` into `p[0..<count]`, leading zeros included (a
    /// fraction below 10^count: exactly its digits, with no count of them to find first).
    @inline(__always)
    static func writeDigits(_ v: UInt64, count: Int, to p: UnsafeMutablePointer<UInt8>) {
        var x = v
        var i = count
        while i >= 2 {
            let q = x / 100
            let r = Int(truncatingIfNeeded: x &- q &* 100)
            p[i - 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: r % 10)
            p[i - 2] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: r / 10)
            x = q
            i -= 2
        }
        if i == 1 { p[0] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: x % 10) }
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
        let numerator = UInt128(mantissa) * UInt128(pow10(decimals))
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

    /// 10^d for d in 0...19 (a switch the compiler makes a table: no global array to reach).
    @inline(__always)
    static func pow10(_ d: Int) -> UInt64 {
        switch d {
        case 0: 1
        case 1: 10
        case 2: 100
        case 3: 1_000
        case 4: 10_000
        case 5: 100_000
        case 6: 1_000_000
        case 7: 10_000_000
        case 8: 100_000_000
        case 9: 1_000_000_000
        case 10: 10_000_000_000
        case 11: 100_000_000_000
        case 12: 1_000_000_000_000
        case 13: 10_000_000_000_000
        case 14: 100_000_000_000_000
        case 15: 1_000_000_000_000_000
        case 16: 10_000_000_000_000_000
        case 17: 100_000_000_000_000_000
        case 18: 1_000_000_000_000_000_000
        default: 10_000_000_000_000_000_000
        }
    }

    /// How many decimal digits `v` has (1 for 0).
    @inline(__always)
    static func digitCount(_ v: UInt64) -> Int {
        var count = 1
        while count < 20 && v >= pow10(count) { count += 1 }
        return count
    }

    /// The decimal digits of `v` into `p` (room for 20 bytes); returns how many. Two digits
    /// per division, from the last.
    @inline(__always)
    static func writeUnsigned(_ v: UInt64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        let count = digitCount(v)
        writeDigits(v, count: count, to: p)
        return count
    }

    /// `v` with at least `width` digits (leading zeros) into `p`; returns how many bytes.
    @inline(__always)
    static func writePadded(_ v: UInt64, width: Int, to p: UnsafeMutablePointer<UInt8>) -> Int {
        let count = digitCount(v)
        var n = 0
        while n < width - count {
            p[n] = UInt8(ascii: "0")
            n += 1
        }
        return n + writeUnsigned(v, to: p + n)
    }

    /// Appends an unsigned integer in decimal.
    @inline(__always)
    public static func appendUnsigned(_ v: UInt64, to out: inout [UInt8]) {
        if v < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(v))
            return
        }
        append(capacity: 20, to: &out) { writeUnsigned(v, to: $0) }
    }

    /// Appends a signed integer in decimal.
    public static func appendInteger(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        appendUnsigned(v.magnitude, to: &out)
    }

    /// Appends `v` as `FixedPoint.description` writes it: the decimals it has, trailing zeros trimmed.
    public static func appendFixedPoint(_ v: FixedPoint, to out: inout [UInt8]) {
        append(capacity: 48, to: &out) { p in
            var n = 0
            if v.raw < 0 {
                p[0] = UInt8(ascii: "-")
                n = 1
            }
            let m = v.raw.magnitude
            let scale = UInt64(FixedPoint.scale)
            n += writeUnsigned(m / scale, to: p + n)
            var frac = m % scale
            if frac > 0 {
                var width = FixedPoint.decimals
                while frac % 10 == 0 {
                    frac /= 10
                    width -= 1
                }
                p[n] = UInt8(ascii: ".")
                n += 1 + writePadded(frac, width: width, to: p + n + 1)
            }
            return n
        }
    }

    /// Appends `v` with at least `width` digits (leading zeros).
    @inline(__always)
    public static func appendPadded(_ v: UInt64, width: Int, to out: inout [UInt8]) {
        append(capacity: max(20, width), to: &out) { writePadded(v, width: width, to: $0) }
    }

    /// The date part (`YYYY-MM-DD`) of the last time written with it: a file of many rows a day
    /// (minute bars) computes each day's date once. Start each output with a fresh one.
    public struct ISODateCache: Sendable {
        var days = Int64.min
        var length = 0
        var bytes: (UInt64, UInt64) = (0, 0)

        /// Empty: the first time written computes its date.
        public init() {}
    }

    /// Appends `t` as `Timestamp.iso8601()` writes it (`YYYY-MM-DDTHH:MM:SS[.fff|.fffffffff]`).
    public static func appendISO8601(_ t: Timestamp, to out: inout [UInt8]) {
        var cache = ISODateCache()
        appendISO8601(t, to: &out, cache: &cache)
    }

    /// `appendISO8601(_:to:)`, the date part taken from `cache` when `t` falls on its day.
    public static func appendISO8601(_ t: Timestamp, to out: inout [UInt8], cache: inout ISODateCache) {
        let days = t.daysSinceEpoch
        if days != cache.days {
            let (y, m, d) = CivilCalendar.date(fromDays: days)
            cache.length = withUnsafeMutableBytes(of: &cache.bytes) { raw in
                let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var n = 0
                if y < 0 {
                    p[0] = UInt8(ascii: "-")
                    n = 1 + writePadded(UInt64(-y), width: 4, to: p + 1)
                } else {
                    n = writePadded(UInt64(y), width: 4, to: p)
                }
                p[n] = UInt8(ascii: "-")
                p[n + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m / 10)
                p[n + 2] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m % 10)
                p[n + 3] = UInt8(ascii: "-")
                p[n + 4] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: d / 10)
                p[n + 5] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: d % 10)
                return n + 6
            }
            cache.days = days
        }
        let rem = t.nanoseconds - days * Timestamp.nanosecondsPerDay
        let date = cache
        append(capacity: 48, to: &out) { p in
            var n = date.length
            withUnsafeBytes(of: date.bytes) { bytes in p.update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n) }
            @inline(__always) func two(_ v: UInt64, after separator: UInt8) {
                p[n] = separator
                p[n + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v / 10 % 10)
                p[n + 2] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                n += 3
            }
            let secs = UInt64(rem / 1_000_000_000)
            let nanos = UInt64(rem % 1_000_000_000)
            two(secs / 3600, after: UInt8(ascii: "T"))
            two(secs % 3600 / 60, after: UInt8(ascii: ":"))
            two(secs % 60, after: UInt8(ascii: ":"))
            if nanos != 0 {
                p[n] = UInt8(ascii: ".")
                n += 1
                if nanos % 1_000_000 == 0 {
                    n += writePadded(nanos / 1_000_000, width: 3, to: p + n)
                } else {
                    n += writePadded(nanos, width: 9, to: p + n)
                }
            }
            return n
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
