/// Proleptic Gregorian calendar arithmetic on days since 1970-01-01, without
/// Foundation (fast enough for parsing millions of timestamps).
///
/// Algorithms from Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms".
public enum CivilCalendar {
    /// Days since 1970-01-01 for a calendar date (month 1...12, day 1...31).
    @inlinable
    public static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The calendar date of a day count since 1970-01-01.
    @inlinable
    public static func date(fromDays z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    /// Number of days in a month, or 0 for a month outside 1...12.
    @inlinable
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        default: return 0
        }
    }

    /// ISO weekday for a day count: 1 = Monday ... 7 = Sunday.
    @inlinable
    public static func isoWeekday(days: Int64) -> Int {
        // 1970-01-01 was a Thursday (4).
        let r = Int((days + 3) % 7)
        return (r < 0 ? r + 7 : r) + 1
    }
}
