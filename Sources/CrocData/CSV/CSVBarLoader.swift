import CrocCore
import Foundation

/// Options for reading OHLCV bars from CSV.
public struct CSVOptions: Sendable, Hashable {
    /// Field delimiter byte (`,` by default).
    public var delimiter: UInt8
    /// How timestamps are written.
    public var timestampFormat: TimestampFormat
    /// Symbol for the series; default: the file name without extension.
    public var symbol: String?
    /// Whether a file with a `close` column and no `open`, `high` or `low`
    /// is accepted; each bar is then open = high = low = close (universes of
    /// adjusted closes). Off by default: a missing column is an error.
    public var allowCloseOnly: Bool

    /// Creates options.
    public init(delimiter: UInt8 = UInt8(ascii: ","), timestampFormat: TimestampFormat = .auto, symbol: String? = nil, allowCloseOnly: Bool = false) {
        self.delimiter = delimiter
        self.timestampFormat = timestampFormat
        self.symbol = symbol
        self.allowCloseOnly = allowCloseOnly
    }
}

/// The result of reading a CSV leniently: the valid rows and every problem found.
public struct CSVInspection: Sendable {
    /// The rows that passed validation.
    public var series: BarSeries
    /// Data rows read (valid or not).
    public var rowCount: Int
    /// Problems, in file order (capped by the `maxProblems` argument).
    public var problems: [CSVError]
    /// Total number of problems, including those beyond the cap.
    public var problemCount: Int
}

/// Reads OHLCV bars from CSV bytes with a hand-written parser.
///
/// Columns are found by header name, case-insensitively: the timestamp
/// (`date`, `time`, `timestamp`, `datetime`, ...), `open`, `high`, `low`,
/// `close`, and optionally `volume` (0 when absent). Other columns are
/// ignored. Every row is validated; the first problem is thrown as a
/// `CSVError` naming file, line and column (`load`), or all problems are
/// collected (`inspect`). No row is ever dropped silently.
public enum CSVBarLoader {
    /// The largest price a bar may have: `FixedPoint`'s range (`Bar.maxPrice`).
    public static let maxPrice = Bar.maxPrice
    /// The smallest price a bar may have: one unit of the ledger's last decimal (`Bar.minPrice`).
    public static let minPrice = Bar.minPrice
    /// The largest volume a bar may have (`Bar.maxVolume`).
    public static let maxVolume = Bar.maxVolume
    /// Loads a file strictly.
    /// - Throws: `CSVError` for the first problem.
    /// A header with no data rows is an error too (`.empty`): there is nothing to trade.
    public static func load(path: String, options: CSVOptions = .init()) throws(CSVError) -> BarSeries {
        let series = try withContents(path) { buf throws(CSVError) -> BarSeries in
            try parse(buf, file: path, options: options, maxProblems: 0).series
        }
        if series.isEmpty { throw CSVError(.empty, file: path, line: 2, detail: "no data rows after the header") }
        return series
    }

    /// Parses bytes strictly (tests and in-memory data).
    /// - Throws: `CSVError` for the first problem.
    public static func parse(text: String, file: String = "<memory>", options: CSVOptions = .init()) throws(CSVError) -> BarSeries {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { b throws(CSVError) -> BarSeries in
            try parse(UnsafeBufferPointer(b), file: file, options: options, maxProblems: 0).series
        }
    }

    /// Reads a file leniently, collecting problems instead of stopping.
    /// - Throws: `CSVError` only for problems that stop reading altogether (unreadable file, bad header).
    public static func inspect(path: String, options: CSVOptions = .init(), maxProblems: Int = 100) throws(CSVError) -> CSVInspection {
        let bytes = try read(path)
        return try bytes.withUnsafeBufferPointer { buf throws(CSVError) -> CSVInspection in
            try parse(buf, file: path, options: options, maxProblems: max(1, maxProblems))
        }
    }

    /// Lenient parse of in-memory text.
    public static func inspect(
        text: String,
        file: String = "<memory>",
        options: CSVOptions = .init(),
        maxProblems: Int = 100
    ) throws(CSVError) -> CSVInspection {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { b throws(CSVError) -> CSVInspection in
            try parse(UnsafeBufferPointer(b), file: file, options: options, maxProblems: max(1, maxProblems))
        }
    }

    /// Runs `body` on the file's bytes, read whole into memory. (Not mapped: a file truncated
    /// by another process while it is parsed would kill a mapped reader with SIGBUS.)
    static func withContents<R>(_ path: String, _ body: (UnsafeBufferPointer<UInt8>) throws(CSVError) -> R) throws(CSVError) -> R {
        let bytes = try read(path)
        return try bytes.withUnsafeBufferPointer { buf throws(CSVError) -> R in try body(buf) }
    }

    /// Reads a whole file into memory with one `read` loop (no Foundation copy).
    static func read(_ path: String) throws(CSVError) -> [UInt8] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CSVError(.unreadable, file: path, line: 0, detail: "no such file")
        }
        guard !isDir.boolValue, let f = fopen(path, "rb") else {
            throw CSVError(.unreadable, file: path, line: 0, detail: isDir.boolValue ? "is a directory" : "permission denied")
        }
        defer { fclose(f) }
        fseek(f, 0, SEEK_END)
        let size = ftell(f)
        fseek(f, 0, SEEK_SET)
        guard size >= 0 else { throw CSVError(.unreadable, file: path, line: 0, detail: "cannot determine size") }
        // Read in two halves at once on large files (pread, no shared offset), into memory that is not zeroed first.
        var got = 0
        let fd = fileno(f)
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            // A large file is read into huge pages (fewer page faults as the bytes arrive).
            LargeMemory.adviseHugePages(UnsafeMutableRawPointer(base), bytes: size)
            let halves = size >= parallelThreshold ? 2 : 1
            let step = (size + halves - 1) / halves
            nonisolated(unsafe) let target = base
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: halves)
            defer { counts.deallocate() }
            nonisolated(unsafe) let slots = counts
            DispatchQueue.concurrentPerform(iterations: halves) { k in
                let start = k * step
                let length = min(step, size - start)
                var done = 0
                while done < length {
                    let r = pread(fd, target + start + done, length - done, off_t(start + done))
                    if r <= 0 { break }
                    done += r
                }
                slots[k] = done
            }
            got = (0..<halves).reduce(0) { $0 + counts[$1] }
            initialized = got == size ? size : 0
        }
        guard got == size else { throw CSVError(.unreadable, file: path, line: 0, detail: "short read (\(got) of \(size) bytes)") }
        return bytes
    }

    enum Role: UInt8 {
        case ignore, timestamp, open, high, low, close, volume
    }

    static let timestampNames: Set<String> = [
        "date", "time", "timestamp", "datetime", "date_time", "date time", "gmt time", "local time", "open time", "open_time",
        "opentime", "ts",
    ]

    /// The shared parser. `maxProblems == 0` means strict: throw the first problem.
    /// `lineMap`: when the rows were gathered from a larger file, the original line of each data
    /// row (errors name it; see `parseRows`).
    static func parse(
        _ buf: UnsafeBufferPointer<UInt8>,
        file: String,
        options: CSVOptions,
        maxProblems: Int,
        lineMap: UnsafeBufferPointer<Int>? = nil
    ) throws(CSVError) -> CSVInspection {
        let symbol = options.symbol ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        guard let p = buf.baseAddress, buf.count > 0 else { throw CSVError(.empty, file: file, line: 0, detail: "no header line") }
        let n = buf.count
        var i = 0
        if n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { i = 3 }  // UTF-8 BOM
        let delim = options.delimiter

        // Header.
        var headerEnd = i
        while headerEnd < n && p[headerEnd] != 10 { headerEnd += 1 }
        var names: [String] = []
        var fieldStart = i
        var k = i
        while k <= headerEnd {
            if k == headerEnd || p[k] == delim {
                var e = k
                if e > fieldStart && p[e - 1] == 13 { e -= 1 }
                let raw = String(decoding: UnsafeBufferPointer(start: p + fieldStart, count: e - fieldStart), as: UTF8.self)
                names.append(raw.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'")).lowercased())
                fieldStart = k + 1
            }
            k += 1
        }
        if names.allSatisfy(\.isEmpty) { throw CSVError(.empty, file: file, line: 1, detail: "empty header line") }
        var roles = [Role](repeating: .ignore, count: names.count)
        var columnOf: [Role: Int] = [:]
        for (c, name) in names.enumerated() {
            let role: Role
            switch name {
            case "open", "o": role = .open
            case "high", "h": role = .high
            case "low", "l": role = .low
            case "close", "c": role = .close
            case "volume", "vol", "v": role = .volume
            case _ where timestampNames.contains(name): role = .timestamp
            default: role = .ignore
            }
            guard role != .ignore else { continue }
            if let prev = columnOf[role] {
                throw CSVError(
                    .duplicateColumn,
                    file: file,
                    line: 1,
                    column: c + 1,
                    columnName: name,
                    detail: "'\(names[prev])' (column \(prev + 1)) already provides the \(role) column"
                )
            }
            columnOf[role] = c
            roles[c] = role
        }
        let closeOnly =
            options.allowCloseOnly && columnOf[.close] != nil && columnOf[.open] == nil && columnOf[.high] == nil && columnOf[.low] == nil
        for role in closeOnly ? [Role.timestamp, .close] : [Role.timestamp, .open, .high, .low, .close] where columnOf[role] == nil {
            throw CSVError(.missingColumn, file: file, line: 1, detail: "no \(role) column in header [\(names.joined(separator: ", "))]")
        }
        let requiredFields = (columnOf.values.max() ?? 0) + 1
        let pattern: [UInt8]
        if case .pattern(let s) = options.timestampFormat { pattern = Array(s.utf8) } else { pattern = [] }
        let layout = Layout(names: names, roles: roles, columnOf: columnOf, requiredFields: requiredFields, pattern: pattern, closeOnly: closeOnly)
        let bodyStart = min(headerEnd + 1, n)

        // A large file read strictly is parsed in two parts at once, split at a line boundary, each
        // validated as a whole file is; where they meet the order of the timestamps is checked, and
        // the first problem in file order is the one reported, with its true line number.
        if maxProblems == 0, n - bodyStart >= parallelThreshold, ProcessInfo.processInfo.activeProcessorCount > 1 {
            var mid = bodyStart + (n - bodyStart) / 2
            while mid < n && p[mid - 1] != 10 { mid += 1 }
            if mid < n {
                var linesBefore = 1
                var q = bodyStart
                while q < mid {
                    guard let nl = memchr(p + q, 10, mid - q) else { break }
                    linesBefore += 1
                    q = UnsafeRawPointer(nl).assumingMemoryBound(to: UInt8.self) - p + 1
                }
                let parts = UnsafeMutablePointer<Rows>.allocate(capacity: 2)
                defer {
                    parts.deinitialize(count: 2)
                    parts.deallocate()
                }
                let bounds = [(bodyStart, mid, 1), (mid, n, linesBefore)]
                // Part one holds the result: room for its lines and (by its mean line length) part two's.
                let firstLines = max(1, linesBefore - 1)
                let secondLines = Int(Double(n - mid) / Double(max(1, mid - bodyStart)) * Double(firstLines) * 1.02) + 64
                (parts + 0).initialize(to: Rows(series: BarSeries(symbol: symbol, pricePrecision: 0, reservingCapacity: firstLines + secondLines)))
                (parts + 1).initialize(to: Rows(series: BarSeries(symbol: symbol, pricePrecision: 0, reservingCapacity: secondLines)))
                // Each part writes only its own slot; the bytes are read-only and outlive the calls.
                nonisolated(unsafe) let bytes = p
                nonisolated(unsafe) let slots = parts
                nonisolated(unsafe) let lines = lineMap
                DispatchQueue.concurrentPerform(iterations: 2) { k in
                    do throws(CSVError) {
                        try parseRows(
                            bytes,
                            from: bounds[k].0,
                            to: bounds[k].1,
                            readable: n,
                            lineBefore: bounds[k].2,
                            layout: layout,
                            file: file,
                            options: options,
                            maxProblems: 0,
                            lineMap: lines,
                            into: &slots[k]
                        )
                    } catch {
                        slots[k].error = error
                    }
                }
                if let e = parts[0].error { throw e }
                if let first = parts[1].firstTimestamp, first <= parts[0].lastTimestamp {
                    let map = { (l: Int) -> Int in lineMap.map { l >= 2 && l - 2 < $0.count ? $0[l - 2] : l } ?? l }
                    throw orderError(
                        ts: first,
                        line: map(parts[1].firstLine),
                        after: parts[0].lastTimestamp,
                        onLine: map(parts[0].lastLine),
                        layout: layout,
                        file: file
                    )
                }
                if let e = parts[1].error { throw e }
                var series = parts[0].series
                parts[0].series = BarSeries(symbol: symbol)  // (series is the only reference: appended in place)
                series.append(contentsOf: parts[1].series)
                series.pricePrecision = min(max(parts[0].maxFraction, parts[1].maxFraction), FixedPoint.decimals)
                return CSVInspection(series: series, rowCount: parts[0].rowCount + parts[1].rowCount, problems: [], problemCount: 0)
            }
        }

        var rows = Rows(series: BarSeries(symbol: symbol, pricePrecision: 0, reservingCapacity: max(16, n / 48)))
        try parseRows(
            p,
            from: bodyStart,
            to: n,
            readable: n,
            lineBefore: 1,
            layout: layout,
            file: file,
            options: options,
            maxProblems: maxProblems,
            lineMap: lineMap,
            into: &rows
        )
        rows.series.pricePrecision = min(rows.maxFraction, FixedPoint.decimals)
        return CSVInspection(series: rows.series, rowCount: rows.rowCount, problems: rows.problems, problemCount: rows.problemCount)
    }

    /// Files at least this large (bytes after the header) are parsed on two cores when read strictly.
    static let parallelThreshold = 4 << 20

    /// The header's layout: which column plays which role.
    struct Layout {
        var names: [String]
        var roles: [Role]
        var columnOf: [Role: Int]
        var requiredFields: Int
        var pattern: [UInt8]
        /// Only a close column: open, high and low are the close.
        var closeOnly = false
    }

    /// What a pass over rows found.
    struct Rows {
        var series: BarSeries
        var problems: [CSVError] = []
        var problemCount = 0
        var maxFraction = 0
        var rowCount = 0
        var lastTimestamp = Int64.min
        var lastLine = 0
        /// The first row accepted, and its line (to check the order where two parts meet).
        var firstTimestamp: Int64?
        var firstLine = 0
        /// Where a strict pass stopped.
        var error: CSVError?
    }

    /// A timestamp not after the previous row's.
    static func orderError(ts: Int64, line: Int, after last: Int64, onLine lastLine: Int, layout: Layout, file: String) -> CSVError {
        let col = layout.columnOf[.timestamp]!
        return CSVError(
            ts == last ? .duplicateTimestamp : .outOfOrderTimestamp,
            file: file,
            line: line,
            column: col + 1,
            columnName: layout.names[col],
            detail: "\(Timestamp(nanoseconds: ts)) after \(Timestamp(nanoseconds: last)) on line \(lastLine)"
        )
    }

    /// Parses the rows in `p[start..<end]` (whole lines; `lineBefore` is the line number before the
    /// first), validating each, into `rows`. Strict (`maxProblems == 0`): throws the first problem.
    /// `p[0..<readable]` may be read (numbers are read eight bytes at a time, past `end`).
    static func parseRows(
        _ p: UnsafePointer<UInt8>,
        from start: Int,
        to end: Int,
        readable: Int,
        lineBefore: Int,
        layout: Layout,
        file: String,
        options: CSVOptions,
        maxProblems: Int,
        lineMap: UnsafeBufferPointer<Int>? = nil,
        into rows: inout Rows
    ) throws(CSVError) {
        let delim = options.delimiter
        var line = lineBefore
        var i = start
        /// The line number errors name: `line`, or the original file's line when these rows were
        /// gathered from a larger file (`lineMap[k]` is the line of data row k + 2; errors only).
        func ln(_ l: Int) -> Int { lineMap.map { l >= 2 && l - 2 < $0.count ? $0[l - 2] : l } ?? l }

        func report(_ e: CSVError) throws(CSVError) {
            if maxProblems == 0 { throw e }
            rows.problemCount += 1
            if rows.problems.count < maxProblems { rows.problems.append(e) }
        }

        var values = (0.0, 0.0, 0.0, 0.0, 0.0)  // open, high, low, close, volume
        rowLoop: while i < end {
            line += 1
            let lineEnd = NumberParser.lineEnd(p, from: i, to: end)
            defer { i = lineEnd + 1 }
            var contentEnd = lineEnd
            if contentEnd > i && p[contentEnd - 1] == 13 { contentEnd -= 1 }
            // Blank lines carry no data; skip them.
            var blank = true
            for b in i..<contentEnd where p[b] != 32 && p[b] != 9 {
                blank = false
                break
            }
            if blank { continue }
            rows.rowCount += 1

            var ts: Int64 = 0
            var column = 0
            var s = i
            var rowOK = true
            values = (0, 0, 0, 0, 0)
            while true {
                var e = s
                // A plain number (digits, a point, digits) in a price or volume column is read a
                // word at a time and ends its field; other fields are scanned for their end.
                var plain: NumberParse?
                if column < layout.roles.count, layout.roles[column] != .timestamp, layout.roles[column] != .ignore,
                    let v = NumberParser.plainField(p, s, lineEnd: contentEnd, delimiter: delim, readable: readable)
                {
                    e = v.end
                    plain = .value(v.value, fractionDigits: v.fractionDigits)
                } else {
                    while e < contentEnd && p[e] != delim { e += 1 }
                }
                if column < layout.roles.count {
                    let role = layout.roles[column]
                    if role == .timestamp {
                        var a = s
                        var b = e
                        while a < b && (p[a] == 32 || p[a] == 34) { a += 1 }
                        while b > a && (p[b - 1] == 32 || p[b - 1] == 34) { b -= 1 }
                        if a == b {
                            try report(CSVError(.missingValue, file: file, line: ln(line), column: column + 1, columnName: layout.names[column]))
                            rowOK = false
                        } else if let t = TimestampParser.parse(p, a, b, format: options.timestampFormat, pattern: layout.pattern) {
                            ts = t
                        } else {
                            let text = String(decoding: UnsafeBufferPointer(start: p + a, count: min(b - a, 64)), as: UTF8.self)
                            try report(
                                CSVError(
                                    .badTimestamp,
                                    file: file,
                                    line: ln(line),
                                    column: column + 1,
                                    columnName: layout.names[column],
                                    detail: "'\(text)'"
                                )
                            )
                            rowOK = false
                        }
                    } else if role != .ignore {
                        switch plain ?? NumberParser.parse(p, s, e) {
                        case .value(let v, let frac):
                            switch role {
                            case .open: values.0 = v
                            case .high: values.1 = v
                            case .low: values.2 = v
                            case .close: values.3 = v
                            default: values.4 = v
                            }
                            if role != .volume && frac > rows.maxFraction { rows.maxFraction = frac }
                        case .empty:
                            try report(CSVError(.missingValue, file: file, line: ln(line), column: column + 1, columnName: layout.names[column]))
                            rowOK = false
                        case .invalid:
                            let text = String(decoding: UnsafeBufferPointer(start: p + s, count: min(e - s, 64)), as: UTF8.self)
                            try report(
                                CSVError(
                                    .notANumber,
                                    file: file,
                                    line: ln(line),
                                    column: column + 1,
                                    columnName: layout.names[column],
                                    detail: "'\(text)'"
                                )
                            )
                            rowOK = false
                        case .nonFinite:
                            let text = String(decoding: UnsafeBufferPointer(start: p + s, count: min(e - s, 64)), as: UTF8.self)
                            try report(
                                CSVError(
                                    .nonFinite,
                                    file: file,
                                    line: ln(line),
                                    column: column + 1,
                                    columnName: layout.names[column],
                                    detail: "'\(text)'"
                                )
                            )
                            rowOK = false
                        }
                    }
                } else {
                    try report(
                        CSVError(.extraFields, file: file, line: ln(line), column: column + 1, detail: "header has \(layout.names.count) columns")
                    )
                    rowOK = false
                    break
                }
                column += 1
                if e >= contentEnd { break }
                s = e + 1
            }
            if column < layout.requiredFields {
                let missing = layout.roles.indices.first { $0 >= column && layout.roles[$0] != .ignore } ?? column
                try report(
                    CSVError(
                        .missingValue,
                        file: file,
                        line: ln(line),
                        column: missing + 1,
                        columnName: layout.names[missing],
                        detail: "row has \(column) fields, header has \(layout.names.count)"
                    )
                )
                continue rowLoop
            }
            guard rowOK else { continue rowLoop }

            if layout.closeOnly { values = (values.3, values.3, values.3, values.3, values.4) }
            let (o, h, l, c, v) = values
            // Validation, each naming the column at fault (the close when it is the only price).
            func fail(_ code: CSVError.Code, _ role: Role, _ detail: String) throws(CSVError) {
                let col = layout.columnOf[role] ?? layout.columnOf[.close]!
                try report(CSVError(code, file: file, line: ln(line), column: col + 1, columnName: layout.names[col], detail: detail))
            }
            if o <= 0 || h <= 0 || l <= 0 || c <= 0 {
                let role: Role = o <= 0 ? .open : (h <= 0 ? .high : (l <= 0 ? .low : .close))
                let value = o <= 0 ? o : (h <= 0 ? h : (l <= 0 ? l : c))
                try fail(.nonPositivePrice, role, "\(value)")
                continue rowLoop
            }
            // Prices become exact 8-decimal fixed-point numbers in the ledger: outside
            // [1e-8, 9.2e10] they would round to zero or overflow it (a trap, not an error).
            if o > Self.maxPrice || h > Self.maxPrice || l > Self.maxPrice || c > Self.maxPrice {
                let role: Role = o > Self.maxPrice ? .open : (h > Self.maxPrice ? .high : (l > Self.maxPrice ? .low : .close))
                let value = o > Self.maxPrice ? o : (h > Self.maxPrice ? h : (l > Self.maxPrice ? l : c))
                try fail(.outOfRange, role, "\(value) is above the largest price \(Self.maxPrice)")
                continue rowLoop
            }
            if o < Self.minPrice || h < Self.minPrice || l < Self.minPrice || c < Self.minPrice {
                let role: Role = o < Self.minPrice ? .open : (h < Self.minPrice ? .high : (l < Self.minPrice ? .low : .close))
                let value = o < Self.minPrice ? o : (h < Self.minPrice ? h : (l < Self.minPrice ? l : c))
                try fail(.outOfRange, role, "\(value) is below the smallest price \(Self.minPrice) (it would round to zero)")
                continue rowLoop
            }
            if v > Self.maxVolume {
                try fail(.outOfRange, .volume, "\(v) is above the largest volume \(Self.maxVolume)")
                continue rowLoop
            }
            if h < l {
                try fail(.highBelowLow, .high, "high=\(h) low=\(l)")
                continue rowLoop
            }
            if o < l || o > h {
                try fail(.openOutsideRange, .open, "open=\(o) low=\(l) high=\(h)")
                continue rowLoop
            }
            if c < l || c > h {
                try fail(.closeOutsideRange, .close, "close=\(c) low=\(l) high=\(h)")
                continue rowLoop
            }
            if v < 0 {
                try fail(.negativeVolume, .volume, "\(v)")
                continue rowLoop
            }
            if ts <= rows.lastTimestamp {
                try report(Self.orderError(ts: ts, line: ln(line), after: rows.lastTimestamp, onLine: ln(rows.lastLine), layout: layout, file: file))
                continue rowLoop
            }
            if rows.firstTimestamp == nil {
                rows.firstTimestamp = ts
                rows.firstLine = line
            }
            rows.lastTimestamp = ts
            rows.lastLine = line
            rows.series.appendUnchecked(Bar(timestamp: Timestamp(nanoseconds: ts), open: o, high: h, low: l, close: c, volume: v))
        }
    }
}

/// A `MarketDataSource` backed by a CSV file.
public struct CSVDataSource: MarketDataSource {
    /// The file.
    public let path: String
    /// Parsing options.
    public let options: CSVOptions

    /// Creates a source.
    public init(path: String, options: CSVOptions = .init()) {
        self.path = path
        self.options = options
    }

    /// The symbol: `options.symbol` or the file name without extension.
    public var symbol: String { options.symbol ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }

    /// Loads and validates the file.
    /// - Throws: `CSVError` naming file, line and column of the first problem.
    public func loadBars() throws -> BarSeries {
        try CSVBarLoader.load(path: path, options: options)
    }
}
