import CrocCore
import CrocSupport

/// How timestamps in a CSV are written.
public enum TimestampFormat: Sendable, Hashable {
    /// Detect per field: ISO-8601 date or date-time (`2017-01-01`, `2017-01-01 22:00:00`,
    /// `2017-01-01T22:00:00.123Z`, with an optional `±HH:MM` offset),
    /// `DD.MM.YYYY HH:MM:SS.fff`, or epoch seconds (≤ 11 digits) /
    /// milliseconds (12-14 digits) / microseconds (15-17) / nanoseconds (18-19).
    case auto
    /// Integer seconds since the epoch.
    case epochSeconds
    /// Integer milliseconds since the epoch.
    case epochMilliseconds
    /// A strftime-like pattern: `%Y` year, `%m` month, `%d` day, `%H` hour,
    /// `%M` minute, `%S` second, `%f` fraction digits, `%z` `±HH[:]MM` or `Z`,
    /// `%%` a literal percent; any other character must match itself.
    case pattern(String)

    /// Parses a config spelling: `auto`, `epoch_s`, `epoch_ms`, or a pattern containing `%`.
    /// - Returns: nil for an unknown spelling.
    public init?(configValue: String) {
        switch configValue.lowercased() {
        case "auto", "": self = .auto
        case "epoch_s", "epoch", "epochseconds", "unix": self = .epochSeconds
        case "epoch_ms", "epochmilliseconds", "unix_ms": self = .epochMilliseconds
        default:
            guard configValue.contains("%") else { return nil }
            self = .pattern(configValue)
        }
    }

    /// A stable spelling that tells the formats apart (`auto`, `epoch_s`, `epoch_ms`, `pattern:` and
    /// the pattern), for keys: spelled out rather than interpolated, which would reflect on the
    /// value at run time (a scan of every conformance in the program, the first time).
    public var key: String {
        switch self {
        case .auto: "auto"
        case .epochSeconds: "epoch_s"
        case .epochMilliseconds: "epoch_ms"
        case .pattern(let p): "pattern:" + p
        }
    }
}

/// Byte-level timestamp parsing (no Foundation, no allocation).
@usableFromInline
enum TimestampParser {
    /// Parses `p[start..<end]`; nil when it does not match.
    @usableFromInline
    static func parse(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, format: TimestampFormat, pattern: [UInt8]) -> Int64? {
        switch format {
        case .auto: return parseAuto(p, start, end)
        case .epochSeconds: return parseEpoch(p, start, end, nanosPerUnit: 1_000_000_000)
        case .epochMilliseconds: return parseEpoch(p, start, end, nanosPerUnit: 1_000_000)
        case .pattern: return parsePattern(p, start, end, pattern)
        }
    }

    @inline(__always) static func digit(_ c: UInt8) -> Int? { c >= 48 && c <= 57 ? Int(c - 48) : nil }

    @inline(__always)
    static func number(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int? {
        var v = 0
        for k in i..<(i + n) {
            guard let d = digit(p[k]) else { return nil }
            v = v * 10 + d
        }
        return v
    }

    static func parseEpoch(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, nanosPerUnit: Int64) -> Int64? {
        var i = start
        var neg = false
        if i < end && p[i] == 45 {
            neg = true
            i += 1
        }
        guard i < end, end - i <= 19 else { return nil }
        var v: Int64 = 0
        while i < end {
            guard let d = digit(p[i]) else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = a
            i += 1
        }
        let (r, o) = v.multipliedReportingOverflow(by: nanosPerUnit)
        guard !o else { return nil }
        return neg ? -r : r
    }

    static func parseAuto(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        let n = end - start
        guard n > 0 else { return nil }
        // YYYY-MM-DD...
        if n >= 10 && p[start + 4] == 45 && p[start + 7] == 45 {
            guard let y = number(p, start, 4), let m = number(p, start + 5, 2), let d = number(p, start + 8, 2) else { return nil }
            return parseTime(p, start + 10, end, year: y, month: m, day: d, allowOffset: true)
        }
        // DD.MM.YYYY...
        if n >= 10 && p[start + 2] == 46 && p[start + 5] == 46 {
            guard let d = number(p, start, 2), let m = number(p, start + 3, 2), let y = number(p, start + 6, 4) else { return nil }
            return parseTime(p, start + 10, end, year: y, month: m, day: d, allowOffset: false)
        }
        // Epoch integers: the digit count tells the unit.
        var digits = n
        if p[start] == 45 { digits -= 1 }
        switch digits {
        case 1...11: return parseEpoch(p, start, end, nanosPerUnit: 1_000_000_000)
        case 12...14: return parseEpoch(p, start, end, nanosPerUnit: 1_000_000)
        case 15...17: return parseEpoch(p, start, end, nanosPerUnit: 1_000)
        case 18...19: return parseEpoch(p, start, end, nanosPerUnit: 1)
        default: return nil
        }
    }

    /// Parses an optional `[T ]HH:MM[:SS[.fff]]` and optional `Z`/`±HH[:MM]` after a date.
    static func parseTime(_ p: UnsafePointer<UInt8>, _ i0: Int, _ end: Int, year: Int, month: Int, day: Int, allowOffset: Bool) -> Int64? {
        var i = i0
        var hour = 0
        var minute = 0
        var second = 0
        var nanos = 0
        var offsetSeconds = 0
        if i < end {
            guard p[i] == 84 || p[i] == 32 else { return nil }  // 'T' or ' '
            i += 1
            guard end - i >= 5, let h = number(p, i, 2), p[i + 2] == 58, let mi = number(p, i + 3, 2) else { return nil }
            hour = h
            minute = mi
            i += 5
            if i < end && p[i] == 58 {
                guard end - i >= 3, let s = number(p, i + 1, 2) else { return nil }
                second = s
                i += 3
                if i < end && (p[i] == 46 || p[i] == 44) {  // '.' or ','
                    i += 1
                    var scale = 100_000_000
                    let fracStart = i
                    while i < end, let d = digit(p[i]) {
                        if scale > 0 {
                            nanos += d * scale
                            scale /= 10
                        }
                        i += 1
                    }
                    guard i > fracStart else { return nil }
                }
            }
            if i < end {
                guard allowOffset else { return nil }
                if p[i] == 90 {  // 'Z'
                    i += 1
                } else if p[i] == 43 || p[i] == 45 {
                    let sign = p[i] == 45 ? -1 : 1
                    i += 1
                    guard end - i >= 2, let oh = number(p, i, 2) else { return nil }
                    i += 2
                    var om = 0
                    if i < end && p[i] == 58 { i += 1 }
                    if end - i >= 2, let m2 = number(p, i, 2) {
                        om = m2
                        i += 2
                    }
                    guard oh < 24, om < 60 else { return nil }
                    offsetSeconds = sign * (oh * 3600 + om * 60)
                }
                guard i == end else { return nil }
            }
        }
        guard let t = Timestamp(year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanosecond: nanos) else { return nil }
        return t.nanoseconds - Int64(offsetSeconds) * 1_000_000_000
    }

    static func parsePattern(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ pattern: [UInt8]) -> Int64? {
        var i = start
        var k = 0
        var year = 1970
        var month = 1
        var day = 1
        var hour = 0
        var minute = 0
        var second = 0
        var nanos = 0
        var offset = 0
        func readInt(_ maxDigits: Int) -> Int? {
            var v = 0
            var count = 0
            while i < end, count < maxDigits, let d = digit(p[i]) {
                v = v * 10 + d
                i += 1
                count += 1
            }
            return count == 0 ? nil : v
        }
        while k < pattern.count {
            let c = pattern[k]
            if c == 37 && k + 1 < pattern.count {  // '%'
                let spec = pattern[k + 1]
                k += 2
                switch spec {
                case 89:
                    guard let v = readInt(4) else { return nil }
                    year = v  // Y
                case 109:
                    guard let v = readInt(2) else { return nil }
                    month = v  // m
                case 100:
                    guard let v = readInt(2) else { return nil }
                    day = v  // d
                case 72:
                    guard let v = readInt(2) else { return nil }
                    hour = v  // H
                case 77:
                    guard let v = readInt(2) else { return nil }
                    minute = v  // M
                case 83:
                    guard let v = readInt(2) else { return nil }
                    second = v  // S
                case 102:  // f
                    var scale = 100_000_000
                    let s0 = i
                    while i < end, let d = digit(p[i]) {
                        if scale > 0 {
                            nanos += d * scale
                            scale /= 10
                        }
                        i += 1
                    }
                    guard i > s0 else { return nil }
                case 122:  // z
                    guard i < end else { return nil }
                    if p[i] == 90 {
                        i += 1
                        continue
                    }
                    guard p[i] == 43 || p[i] == 45 else { return nil }
                    let sign = p[i] == 45 ? -1 : 1
                    i += 1
                    guard let oh = number(p, i, 2), end - i >= 2 else { return nil }
                    i += 2
                    if i < end && p[i] == 58 { i += 1 }
                    guard end - i >= 2, let om = number(p, i, 2) else { return nil }
                    i += 2
                    offset = sign * (oh * 3600 + om * 60)
                case 37:
                    guard i < end, p[i] == 37 else { return nil }
                    i += 1
                default: return nil
                }
            } else {
                guard i < end, p[i] == c else { return nil }
                i += 1
                k += 1
            }
        }
        guard i == end else { return nil }
        guard let t = Timestamp(year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanosecond: nanos) else { return nil }
        return t.nanoseconds - Int64(offset) * 1_000_000_000
    }
}
