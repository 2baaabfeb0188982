import CrocSupport

/// A point in time: nanoseconds since 1970-01-01T00:00:00 UTC.
///
/// Naive timestamps in data files are read as UTC. Covers 1677...2262.
@frozen
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Nanoseconds since the Unix epoch.
    public var nanoseconds: Int64

    /// Wraps a nanosecond count.
    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// Seconds since the epoch.
    @inlinable public init(seconds: Int64) { self.nanoseconds = seconds * 1_000_000_000 }

    /// A UTC calendar time; nil when a field is out of range.
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, nanosecond: Int = 0) {
        guard (1678...2261).contains(year), (1...12).contains(month),
            (1...CivilCalendar.daysInMonth(year: year, month: month)).contains(day),
            (0..<24).contains(hour), (0..<60).contains(minute), (0..<61).contains(second),
            (0..<1_000_000_000).contains(nanosecond)
        else { return nil }
        let days = CivilCalendar.days(year: year, month: month, day: day)
        let secs = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        self.nanoseconds = secs * 1_000_000_000 + Int64(nanosecond)
    }

    /// Ordering.
    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    /// Nanoseconds per day.
    public static let nanosecondsPerDay: Int64 = 86_400_000_000_000

    /// Whole days since the epoch (floor).
    @inlinable public var daysSinceEpoch: Int64 {
        let d = nanoseconds / Self.nanosecondsPerDay
        return nanoseconds % Self.nanosecondsPerDay < 0 ? d - 1 : d
    }

    /// Seconds since the epoch as a `Double`.
    @inlinable public var secondsSinceEpoch: Double { Double(nanoseconds) / 1e9 }

    /// ISO-8601 text: a date alone at midnight, else `YYYY-MM-DDTHH:MM:SS[.fff]`.
    public var description: String { iso8601(dateOnlyAtMidnight: true) }

    /// ISO-8601 text.
    /// - Parameter dateOnlyAtMidnight: write `2018-08-29` instead of `2018-08-29T00:00:00` at midnight.
    public func iso8601(dateOnlyAtMidnight: Bool = false) -> String {
        // Written as bytes (`ByteText.appendISO8601`): no string per field.
        var out: [UInt8] = []
        out.reserveCapacity(32)
        ByteText.appendISO8601(self, to: &out)
        if dateOnlyAtMidnight && nanoseconds == daysSinceEpoch * Self.nanosecondsPerDay { out.removeLast(9) }  // "T00:00:00"
        return String(decoding: out, as: UTF8.self)
    }
}

/// A length of time in nanoseconds.
public typealias Nanoseconds = Int64
