#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of parsing one numeric field.
@usableFromInline
enum NumberParse {
    case value(Double, fractionDigits: Int)
    case empty
    case invalid
    case nonFinite
}

/// Decimal text to `Double`, correctly rounded.
///
/// The fast path (Clinger's): at most 19 significant digits whose mantissa is
/// ≤ 2^53 and a decimal exponent within ±22 is one exact multiplication or
/// division, hence correctly rounded. Anything else goes to `strtod`.
@usableFromInline
enum NumberParser {
    @usableFromInline static let powersOfTen: [Double] = (0...22).map { pow(10.0, Double($0)) }

    @inlinable
    static func parse(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> NumberParse {
        var start = s
        var end = e
        while start < end && (p[start] == 32 || p[start] == 9 || p[start] == 34) { start += 1 }  // space, tab, quote
        while end > start && (p[end - 1] == 32 || p[end - 1] == 9 || p[end - 1] == 34) { end -= 1 }
        if start == end { return .empty }
        var i = start
        var negative = false
        if p[i] == 45 || p[i] == 43 {
            negative = p[i] == 45
            i += 1
        }
        // The common field — digits, perhaps a point and more digits, 15 digits at most in all
        // (so the integer is exact in a double), no exponent — in one pass without per-digit
        // bookkeeping: the same mantissa and power of ten as the general loop below, so the
        // same value.
        do {
            var j = i
            var m: UInt64 = 0
            while j < end {
                let d = p[j] &- 48
                if d >= 10 { break }
                m = m &* 10 &+ UInt64(d)
                j &+= 1
            }
            var total = j &- i
            var frac = 0
            if j < end && p[j] == 46 {
                j &+= 1
                let fractionStart = j
                while j < end {
                    let d = p[j] &- 48
                    if d >= 10 { break }
                    m = m &* 10 &+ UInt64(d)
                    j &+= 1
                }
                frac = j &- fractionStart
                total &+= frac
            }
            if j == end && total > 0 && total <= 15 {
                var v = Double(m)
                if frac > 0 { v /= powersOfTen[frac] }
                return .value(negative ? -v : v, fractionDigits: frac)
            }
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fracDigits = 0
        var sawDigit = false
        var exponent = 0
        while i < end, p[i] &- 48 < 10 {
            sawDigit = true
            if digits < 19 {
                mantissa = mantissa &* 10 &+ UInt64(p[i] &- 48)
                if mantissa != 0 { digits += 1 }
            } else {
                exponent += 1
            }
            i += 1
        }
        if i < end && p[i] == 46 {
            i += 1
            while i < end, p[i] &- 48 < 10 {
                sawDigit = true
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(p[i] &- 48)
                    if mantissa != 0 { digits += 1 }
                    exponent -= 1
                }
                fracDigits += 1
                i += 1
            }
        }
        if !sawDigit {
            return classifyWord(p, start, end)
        }
        if i < end && (p[i] == 101 || p[i] == 69) {  // e/E
            i += 1
            var expNeg = false
            if i < end && (p[i] == 45 || p[i] == 43) {
                expNeg = p[i] == 45
                i += 1
            }
            var ev = 0
            let es = i
            while i < end, p[i] &- 48 < 10 {
                if ev < 100_000 { ev = ev * 10 + Int(p[i] &- 48) }
                i += 1
            }
            if i == es { return .invalid }
            exponent += expNeg ? -ev : ev
            fracDigits = max(0, fracDigits - (expNeg ? -ev : ev))
        }
        if i != end { return .invalid }
        if mantissa <= (1 << 53) && exponent >= -22 && exponent <= 22 && digits <= 19 {
            var v = Double(mantissa)
            if exponent < 0 { v /= powersOfTen[-exponent] } else if exponent > 0 { v *= powersOfTen[exponent] }
            return .value(negative ? -v : v, fractionDigits: fracDigits)
        }
        return slowPath(p, start, end, fracDigits)
    }

    /// `10^k` for k in 0...7, as an integer and as a double: constants in a switch (a global
    /// table is initialised lazily, and every read of it checks that it was).
    @inlinable @inline(__always)
    static func smallPowerOfTen(_ k: Int) -> (integer: UInt64, double: Double) {
        switch k {
        case 0: return (1, 1)
        case 1: return (10, 10)
        case 2: return (100, 100)
        case 3: return (1000, 1000)
        case 4: return (10_000, 10_000)
        case 5: return (100_000, 100_000)
        case 6: return (1_000_000, 1_000_000)
        default: return (10_000_000, 10_000_000)
        }
    }

    /// Eight bytes from `p + i` as one word, the first byte lowest (any alignment).
    @inlinable @inline(__always)
    static func word(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
    }

    /// How many of `w`'s bytes, from the first, are ASCII digits (0...8). A byte below `0`
    /// borrows from the bytes after it and one above `9` carries into them, so only the bytes
    /// after the first non-digit may be misread — and they are not counted.
    @inlinable @inline(__always)
    static func leadingDigits(_ w: UInt64) -> Int {
        let x = w &- 0x3030_3030_3030_3030
        let nonDigit = (x | (x &+ 0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080
        return nonDigit.trailingZeroBitCount &>> 3
    }

    /// The value of the first `k` bytes of `w` (1...8 ASCII digits, the first most
    /// significant), three multiplications for all of them at once (Lemire's eight-digit
    /// conversion): the digits are moved to the word's top, the bytes below them read as
    /// leading zeros.
    @inlinable @inline(__always)
    static func digitsValue(_ w: UInt64, _ k: Int) -> UInt64 {
        var v = (w &- 0x3030_3030_3030_3030) &<< UInt64(64 &- 8 &* k)
        v = (v &* 10 &+ (v &>> 8)) & 0x00FF_00FF_00FF_00FF
        v = (v &* 100 &+ (v &>> 16)) & 0x0000_FFFF_0000_FFFF
        v = (v &* 10_000 &+ (v &>> 32)) & 0x0000_0000_FFFF_FFFF
        return v
    }

    /// The common field of a price column — 1 to 7 digits, then perhaps a point and 0 to 7
    /// digits, nothing before it — read eight bytes at a time: its value, fraction digits and
    /// the position of the byte after it (the caller checks that the field ends there). The
    /// same mantissa and power of ten as `parse`, so the same `Double`. Nil for any other
    /// text (a sign, a space, a quote, an empty field, eight digits in a row): `parse` it.
    /// - Precondition: 16 bytes from `s` are readable.
    @inlinable @inline(__always)
    static func parsePlain(_ p: UnsafePointer<UInt8>, _ s: Int) -> (value: Double, fractionDigits: Int, end: Int)? {
        let w = word(p, s)
        let k = leadingDigits(w)
        guard k > 0 && k < 8 else { return nil }
        var m = digitsValue(w, k)
        var i = s &+ k
        var frac = 0
        if p[i] == 46 {
            let f = word(p, i &+ 1)
            frac = leadingDigits(f)
            guard frac < 8 else { return nil }
            if frac > 0 { m = m &* smallPowerOfTen(frac).integer &+ digitsValue(f, frac) }
            i &+= 1 &+ frac
        }
        var v = Double(m)
        if frac > 0 { v /= smallPowerOfTen(frac).double }
        return (v, frac, i)
    }

    /// `parsePlain` of the field at `s` when the plain number is the whole field: it ends at
    /// `lineEnd` (the line's content end) or at `delimiter`. Nil otherwise, or when fewer than 16
    /// bytes from `s` lie before `readable` (the buffer's end): the caller scans and `parse`s.
    @inlinable @inline(__always)
    static func plainField(
        _ p: UnsafePointer<UInt8>,
        _ s: Int,
        lineEnd: Int,
        delimiter: UInt8,
        readable: Int
    ) -> (value: Double, fractionDigits: Int, end: Int)? {
        guard s &+ 16 <= readable, let v = parsePlain(p, s), v.end == lineEnd || (v.end < lineEnd && p[v.end] == delimiter) else { return nil }
        return v
    }

    /// The position of the first line feed in `p[start..<stop]`, or `stop` when there is none
    /// (`memchr`: a vector scan, not byte by byte).
    @inlinable @inline(__always)
    static func lineEnd(_ p: UnsafePointer<UInt8>, from start: Int, to stop: Int) -> Int {
        guard start < stop, let hit = memchr(p + start, 10, stop - start) else { return stop }
        return UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - p
    }

    @usableFromInline
    static func classifyWord(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> NumberParse {
        var word = ""
        for k in start..<min(end, start + 12) { word.unicodeScalars.append(Unicode.Scalar(p[k] | 0x20)) }
        let w = word.trimmingPrefix(while: { $0 == "-" || $0 == "+" })
        if w == "nan" || w == "inf" || w == "infinity" { return .nonFinite }
        return .invalid
    }

    @usableFromInline
    static func slowPath(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ fracDigits: Int) -> NumberParse {
        var buf = [CChar](repeating: 0, count: end - start + 1)
        for k in start..<end { buf[k - start] = CChar(bitPattern: p[k]) }
        var v = 0.0
        let consumed = buf.withUnsafeMutableBufferPointer { b -> Int in
            var endPtr: UnsafeMutablePointer<CChar>?
            v = strtod(b.baseAddress!, &endPtr)
            return endPtr.map { $0 - b.baseAddress! } ?? 0
        }
        guard consumed == end - start else { return .invalid }
        guard v.isFinite else { return .nonFinite }
        return .value(v, fractionDigits: fracDigits)
    }
}

extension String {
    fileprivate func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        var s = Substring(self)
        while let f = s.first, predicate(f) { s = s.dropFirst() }
        return s
    }
}
