import CrocCore
import Foundation

/// Many instruments on one clock: one `BarSeries` per symbol and the union
/// of their timestamps.
///
/// Calendars need not line up. `timestamps` is the sorted union of every
/// member's bar times; at a time where a symbol has no bar, `barIndex`
/// answers nil and `bar` gives nothing to fill against — a missing bar is
/// never forward-filled into one that could trade. What a consumer may use
/// there is the symbol's last close (`lastCloseIndex`), for marking a
/// position. A symbol listed later or ending earlier simply has no bars
/// outside its own range.
///
/// A universe is read from a folder of CSV files, a wide CSV of closes or a
/// long CSV with a `symbol` column (`UniverseLoader`), or built from series
/// in code (`init(members:)`). Every member shares one bar length and one
/// time zone; a universe whose members disagree is refused with both values.
public struct Universe: Sendable {
    /// The members, in the order given (folder: file names sorted; wide:
    /// header order; long: sorted by symbol; `selecting`: the order asked).
    public let members: [BarSeries]
    /// The union calendar: every member's bar times, sorted, each once (ns since the epoch).
    public let timestamps: [Int64]
    /// Where the universe came from (`.series` when built in code).
    public let layout: UniverseLayout
    /// The members' common bar length in nanoseconds (the median spacing of
    /// their bars), or nil when no member has two bars.
    public let barLength: Int64?
    /// The members' common time zone as their timestamps are written: `UTC`
    /// (a `Z` or `+00:00` suffix, or epoch numbers), `±HH:MM`, or `unspecified`.
    public let timeZone: String
    /// Per member, the row of the union calendar where its bars start when they
    /// fill one unbroken run of rows (`timestamps[start ..< start + count]`, the
    /// usual case: listed late or delisted early, no gap between), else -1. For
    /// such a member the bar at row t is bar `t - start`: hot loops read no times.
    public let runStarts: [Int]

    /// The symbols, in member order.
    public var symbols: [String] { members.map(\.symbol) }

    /// Number of members.
    public var count: Int { members.count }

    /// A universe of series already validated (each time-ordered).
    /// - Parameters:
    ///   - members: One series per symbol.
    ///   - layout: Where they came from.
    ///   - timeZones: Each member's time zone as written (see `timeZone`);
    ///     members built in code are `UTC`.
    /// - Throws: `UniverseError` for no members, a duplicate symbol, or
    ///   members whose bar lengths or time zones disagree.
    public init(members: [BarSeries], layout: UniverseLayout = .series, timeZones: [String]? = nil) throws(UniverseError) {
        guard !members.isEmpty else { throw .noSymbols(path: "<universe>", detail: "no member series") }
        var seen: [String: Int] = [:]
        for (i, m) in members.enumerated() {
            if let j = seen[m.symbol] { throw .duplicateSymbol(m.symbol, first: "member \(j + 1)", second: "member \(i + 1)") }
            seen[m.symbol] = i
        }
        let zones = timeZones ?? Array(repeating: "UTC", count: members.count)
        precondition(zones.count == members.count, "one time zone per member")
        for i in members.indices.dropFirst() where zones[i] != zones[0] {
            throw .timeZoneMismatch(symbol: members[i].symbol, zone: zones[i], firstSymbol: members[0].symbol, firstZone: zones[0])
        }
        var length: (symbol: String, nanos: Int64)?
        // Members of a wide file share one times array (the same storage): each array's median
        // spacing is computed once, found again by its storage (not once per member, nor again
        // after each member with times of its own: a sort of every spacing each time).
        var spacings: [Int: Int64?] = [:]
        for m in members {
            let storage = m.timestamps.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
            let spacing: Int64?
            if storage != 0, let known = spacings[storage] {
                spacing = known
            } else {
                spacing = Self.medianSpacing(m.timestamps)
                spacings[storage] = spacing
            }
            guard let l = spacing else { continue }
            if let first = length, first.nanos != l {
                throw .barLengthMismatch(
                    symbol: m.symbol,
                    barLength: Self.describe(nanos: l),
                    firstSymbol: first.symbol,
                    firstBarLength: Self.describe(nanos: first.nanos)
                )
            }
            if length == nil { length = (m.symbol, l) }
        }
        self.members = members
        self.layout = layout
        self.barLength = length?.nanos
        self.timeZone = zones[0]
        // The union calendar: each member's sorted times merged in, one linear pass each
        // (members usually share most of their calendar).
        var union: [Int64] = []
        for m in members { union = Self.mergeUnique(union, m.timestamps) }
        self.timestamps = union
        // A member's times are distinct union times: they fill the rows from its first to its
        // last bar exactly when there are as many of them as those rows.
        self.runStarts = members.map { m in
            guard let first = m.timestamps.first, let last = m.timestamps.last else { return -1 }
            let start = union.partitionPoint { $0 < first }
            let end = union.partitionPoint { $0 < last }
            return end - start + 1 == m.timestamps.count ? start : -1
        }
    }

    /// A universe as a cache entry stored it: every derived field given, nothing checked or
    /// merged again (the entry was written from a universe that `init(members:)` built).
    init(restoring members: [BarSeries], timestamps: [Int64], layout: UniverseLayout, barLength: Int64?, timeZone: String, runStarts: [Int]) {
        self.members = members
        self.timestamps = timestamps
        self.layout = layout
        self.barLength = barLength
        self.timeZone = timeZone
        self.runStarts = runStarts
    }

    /// The index of `symbol` among the members.
    public func index(of symbol: String) -> Int? { members.firstIndex { $0.symbol == symbol } }

    /// The index in `members[symbol]` of its bar at `timestamps[time]`, or
    /// nil when the symbol has no bar then.
    /// (A member on the whole calendar answers at once; others by a binary search of their
    /// times — no symbols × times table is kept.)
    @inlinable
    public func barIndex(symbol: Int, time: Int) -> Int? {
        let n = members[symbol].timestamps.count
        if n == timestamps.count { return time }  // its times are the union's
        let i = members[symbol].timestamps.partitionPoint { $0 < timestamps[time] }
        return i < n && members[symbol].timestamps[i] == timestamps[time] ? i : nil
    }

    /// The bar of `members[symbol]` at `timestamps[time]`, or nil when it has none then.
    public func bar(symbol: Int, time: Int) -> Bar? {
        barIndex(symbol: symbol, time: time).map { members[symbol][$0] }
    }

    /// The index in `members[symbol]` of its last bar at or before
    /// `timestamps[time]` (the close a position is marked at), or nil before its first bar.
    public func lastCloseIndex(symbol: Int, time: Int) -> Int? {
        guard time >= 0 else { return nil }
        let t = timestamps[time]
        let after = members[symbol].timestamps.partitionPoint { $0 <= t }  // the first bar after t
        return after > 0 ? after - 1 : nil
    }

    /// The members named, in the order named.
    /// - Throws: `UniverseError.unknownSymbols` listing every name not in the universe,
    ///   `.duplicateSymbol` when a name is asked twice, `.noSymbols` for an empty list.
    public func selecting(_ symbols: [String]) throws(UniverseError) -> Universe {
        guard !symbols.isEmpty else { throw .noSymbols(path: "--symbols", detail: "the list is empty") }
        let unknown = symbols.filter { index(of: $0) == nil }
        guard unknown.isEmpty else { throw .unknownSymbols(unknown, available: self.symbols) }
        var seen: Set<String> = []
        for s in symbols where !seen.insert(s).inserted { throw .duplicateSymbol(s, first: "--symbols", second: "--symbols") }
        let picked = symbols.map { members[index(of: $0)!] }
        return try Universe(members: picked, layout: layout, timeZones: Array(repeating: timeZone, count: picked.count))
    }

    /// The universe cut to union-calendar rows `rows`: every member's bars in that time range;
    /// a member with none there is left out (listed after it or ended before it).
    /// - Throws: `UniverseError.noSymbols` when no member has a bar in the range.
    public func rows(_ rows: Range<Int>) throws(UniverseError) -> Universe {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= timestamps.count, "rows outside the universe")
        guard !rows.isEmpty else { throw .noSymbols(path: "rows \(rows)", detail: "no rows") }
        return try within(timestamps[rows.lowerBound]..<(timestamps[rows.upperBound - 1] + 1), place: "rows \(rows)")
    }

    /// Every member's bars with times in `times`; a member with none there is left out.
    /// - Throws: `UniverseError.noSymbols` naming `place` when no member has a bar there.
    public func within(_ times: Range<Int64>, place: String) throws(UniverseError) -> Universe {
        let cut = members.compactMap { m -> BarSeries? in
            let a = m.timestamps.partitionPoint { $0 < times.lowerBound }
            let b = m.timestamps.partitionPoint { $0 < times.upperBound }
            return a < b ? m.slice(a..<b) : nil
        }
        guard !cut.isEmpty else { throw .noSymbols(path: place, detail: "no symbol has a bar in these rows") }
        return try Universe(members: cut, layout: layout, timeZones: Array(repeating: timeZone, count: cut.count))
    }

    /// What `crocbot data inspect --universe` prints for one member.
    public struct MemberSummary: Sendable, Hashable {
        /// The symbol.
        public var symbol: String
        /// Its bars.
        public var rows: Int
        /// Its first and last bar times (nil without bars).
        public var first: Timestamp?
        /// Its last bar time.
        public var last: Timestamp?
        /// Times of the union calendar within its own range where it has no bar.
        public var missing: Int
        /// Spacings between its consecutive bars longer than four bar lengths (a daily
        /// calendar's weekends and one-day holidays are not gaps; a week without bars is).
        public var gaps: Int
        /// Its longest spacing between consecutive bars (ns), 0 with fewer than two bars.
        public var longestGap: Int64
    }

    /// Rows, range, missing times and gaps of each member.
    public func summaries() -> [MemberSummary] {
        members.enumerated().map { s, m in
            var missing = 0
            if let a = m.timestamps.first, let b = m.timestamps.last {
                // Its times are union times: the union's rows in [a, b] it has no bar at.
                missing = (timestamps.partitionPoint { $0 <= b } - timestamps.partitionPoint { $0 < a }) - m.count
            }
            var gaps = 0
            var longest: Int64 = 0
            for i in m.timestamps.indices.dropFirst() {
                let d = m.timestamps[i] - m.timestamps[i - 1]
                longest = max(longest, d)
                if let l = barLength, d > 4 * l { gaps += 1 }
            }
            return MemberSummary(
                symbol: m.symbol,
                rows: m.count,
                first: m.timestamps.first.map { Timestamp(nanoseconds: $0) },
                last: m.timestamps.last.map { Timestamp(nanoseconds: $0) },
                missing: missing,
                gaps: gaps,
                longestGap: longest
            )
        }
    }

    /// The sorted union of two strictly increasing arrays, each value once.
    static func mergeUnique(_ a: [Int64], _ b: [Int64]) -> [Int64] {
        if a.isEmpty { return b }
        if b.isEmpty || a == b { return a }
        // One within the other (a member listed later or delisted earlier, or the calendar the
        // others share): that one is the union, its storage kept — the members sharing it are
        // then matched by identity, not compared time by time.
        if isSubset(b, of: a) { return a }
        if isSubset(a, of: b) { return b }
        var out: [Int64] = []
        out.reserveCapacity(max(a.count, b.count))
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if a[i] < b[j] {
                out.append(a[i])
                i += 1
            } else if b[j] < a[i] {
                out.append(b[j])
                j += 1
            } else {
                out.append(a[i])
                i += 1
                j += 1
            }
        }
        out.append(contentsOf: a[i...])
        out.append(contentsOf: b[j...])
        return out
    }

    /// Whether every time of `small` is one of `big`'s (both ascending, without repeats): one
    /// pass, stopping at the first time `big` lacks.
    static func isSubset(_ small: [Int64], of big: [Int64]) -> Bool {
        guard small.count <= big.count else { return false }
        var j = 0
        for t in small {
            while j < big.count && big[j] < t { j += 1 }
            guard j < big.count && big[j] == t else { return false }
            j += 1
        }
        return true
    }

    /// The median spacing of sorted times, nil with fewer than two.
    static func medianSpacing(_ t: [Int64]) -> Int64? {
        guard t.count >= 2 else { return nil }
        var d = (1..<t.count).map { t[$0] - t[$0 - 1] }
        let mid = d.count / 2
        // A partial selection would do; the series are at most millions of bars and this runs once.
        d.sort()
        return d[mid]
    }

    /// `1d`, `4h`, `15m`, `30s`, or nanoseconds.
    public static func describe(nanos: Int64) -> String {
        let s: Int64 = 1_000_000_000
        for (unit, size) in [("w", 7 * 86_400 * s), ("d", 86_400 * s), ("h", 3_600 * s), ("m", 60 * s), ("s", s)] where nanos % size == 0 {
            return "\(nanos / size)\(unit)"
        }
        return "\(nanos)ns"
    }
}

/// Where a universe came from.
public enum UniverseLayout: String, Sendable, Hashable {
    /// A folder of CSV files, one per symbol (the file name without extension).
    case folder
    /// One CSV: the time, then one column of closes per symbol.
    case wide
    /// One CSV with a `symbol` column and the usual OHLCV columns.
    case long
    /// One ordinary OHLCV file: a universe of one.
    case single
    /// Built in code from series.
    case series
}

/// Why a universe could not be read or built; each case names the place.
public enum UniverseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A problem inside one of its files (file:line, column, why).
    case csv(CSVError)
    /// The path cannot be read (missing, permissions, not a file or folder).
    case unreadable(path: String, detail: String)
    /// A folder holds something that is not a `.csv` file.
    case notCSV(path: String)
    /// Nothing to trade: an empty folder, a wide file without symbol columns, an empty selection.
    case noSymbols(path: String, detail: String)
    /// The same symbol twice (two files, two columns, or asked twice), with both places.
    case duplicateSymbol(String, first: String, second: String)
    /// Symbols asked for that the universe does not have.
    case unknownSymbols([String], available: [String])
    /// Members whose timestamps are written in different time zones.
    case timeZoneMismatch(symbol: String, zone: String, firstSymbol: String, firstZone: String)
    /// Members whose bars are of different lengths (daily against hourly).
    case barLengthMismatch(symbol: String, barLength: String, firstSymbol: String, firstBarLength: String)

    /// A message for people, naming the place and the rule.
    public var description: String {
        switch self {
        case .csv(let e): return e.description
        case .unreadable(let path, let detail): return "\(path): cannot read universe: \(detail)"
        case .notCSV(let path):
            return "\(path): not a CSV file: a universe folder holds only <SYMBOL>.csv files (hidden files are skipped)"
        case .noSymbols(let path, let detail): return "\(path): universe has no symbols: \(detail)"
        case .duplicateSymbol(let s, let a, let b): return "symbol '\(s)' appears twice in the universe: \(a) and \(b)"
        case .unknownSymbols(let names, let available):
            return
                "unknown symbol\(names.count == 1 ? "" : "s") \(names.joined(separator: ", ")): the universe has \(available.joined(separator: ", "))"
        case .timeZoneMismatch(let s, let z, let f, let fz):
            return "universe members disagree on the time zone: \(f) is written in \(fz), \(s) in \(z); convert them to one zone first"
        case .barLengthMismatch(let s, let l, let f, let fl):
            return "universe members disagree on the bar length: \(f) has \(fl) bars, \(s) has \(l) bars; resample them to one length first"
        }
    }
}

extension Array where Element == Int64 {
    /// The first index whose element fails `belongs` (the array partitioned: true, then false).
    @inlinable
    func partitionPoint(_ belongs: (Int64) -> Bool) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if belongs(self[mid]) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
