import CrocCore
import Foundation
import Synchronization

/// Reads a `Universe` from disk, in any of its three layouts:
///
/// - **a folder of CSV files**, one per symbol (the symbol is the file name
///   without `.csv`), each read and validated exactly as `CSVBarLoader`
///   reads a single file; hidden files are skipped, anything else that is
///   not a `.csv` file is an error;
/// - **a wide CSV**: the first column is the time, each other column holds
///   one symbol's closes (a table of adjusted closes); an empty cell means the
///   symbol has no bar then (not listed yet, or delisted);
/// - **a long CSV**: a `symbol` (or `ticker`) column plus the usual OHLCV
///   columns, the rows of the symbols in any interleaving, each symbol's rows
///   in time order; the members are sorted by symbol, as a folder's are.
///
/// An ordinary OHLCV file is a universe of one. Close-only data is allowed
/// everywhere: a bar is then open = high = low = close, volume 0. Errors name
/// the file, the line and the column, as `CSVError` does for one file.
///
/// A change to what the loader returns for the same bytes must raise
/// `UniverseCache.loaderRevision`, so no cache entry of the earlier loader is read.
public enum UniverseLoader {
    /// Reads the universe at `path` (a folder or a CSV file).
    /// - Parameters:
    ///   - path: A folder of CSV files, or one wide, long or ordinary CSV file.
    ///   - symbols: When given, only these symbols, in this order.
    ///   - options: Delimiter and timestamp format (`symbol` is ignored; close-only files are always allowed).
    /// - Throws: `UniverseError`, naming the file and line or the members that disagree.
    public static func load(path: String, symbols: [String]? = nil, options: CSVOptions = .init()) throws(UniverseError) -> Universe {
        var options = options
        options.symbol = nil
        options.allowCloseOnly = true
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw .unreadable(path: path, detail: "no such file or folder")
        }
        let universe: Universe
        if isDir.boolValue {
            universe = try loadFolder(path, options: options, only: symbols.map(Set.init))
        } else {
            var bytes: [UInt8]
            do { bytes = try CSVBarLoader.read(path) } catch { throw .csv(error) }
            let parsed = try bytes.withUnsafeBufferPointer { b throws(UniverseError) -> ParsedFile in try parseFile(b, file: path, options: options) }
            // The file's bytes go before a wide file's row ranges are joined (its peak memory is
            // then the file and its closes, or the closes twice, not all three).
            bytes = []
            universe = try parsed.universe()
        }
        guard let symbols else { return universe }
        return try universe.selecting(symbols)
    }

    /// Reads a universe from CSV text (a wide, long or ordinary file), as `load` reads a file.
    public static func parse(
        text: String,
        file: String = "<memory>",
        symbols: [String]? = nil,
        options: CSVOptions = .init()
    ) throws(UniverseError)
        -> Universe
    {
        var options = options
        options.symbol = nil
        options.allowCloseOnly = true
        let bytes = Array(text.utf8)
        let universe = try bytes.withUnsafeBufferPointer { b throws(UniverseError) -> ParsedFile in try parseFile(b, file: file, options: options) }
            .universe()
        guard let symbols else { return universe }
        return try universe.selecting(symbols)
    }

    // MARK: Folder

    static func loadFolder(_ path: String, options: CSVOptions, only: Set<String>?) throws(UniverseError) -> Universe {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        } catch {
            throw .unreadable(path: path, detail: "cannot list the folder (\(error.localizedDescription))")
        }
        var files: [(symbol: String, path: String)] = []
        var bySymbol: [String: String] = [:]
        for name in names where !name.hasPrefix(".") {
            let full = (path as NSString).appendingPathComponent(name)
            guard name.lowercased().hasSuffix(".csv"), name.count > 4 else { throw .notCSV(path: full) }
            let symbol = String(name.dropLast(4))
            // Two files whose names differ only in the case of ".csv" name one symbol.
            if let other = bySymbol[symbol] { throw .duplicateSymbol(symbol, first: other, second: full) }
            bySymbol[symbol] = full
            if let only, !only.contains(symbol) { continue }
            files.append((symbol, full))
        }
        guard !bySymbol.isEmpty else { throw .noSymbols(path: path, detail: "the folder holds no .csv files") }
        guard !files.isEmpty else { throw .noSymbols(path: path, detail: "none of the symbols asked for is in the folder") }
        var members: [BarSeries] = []
        var zones: [String] = []
        for f in files {
            let bytes: [UInt8]
            do { bytes = try CSVBarLoader.read(f.path) } catch { throw .csv(error) }
            var o = options
            o.symbol = f.symbol
            let series: BarSeries
            do {
                series = try bytes.withUnsafeBufferPointer { b throws(CSVError) -> BarSeries in
                    try CSVBarLoader.parse(b, file: f.path, options: o, maxProblems: 0).series
                }
            } catch {
                throw .csv(error)
            }
            members.append(series)
            zones.append(bytes.withUnsafeBufferPointer { zone(of: $0, options: o) })
        }
        return try Universe(members: members, layout: .folder, timeZones: zones)
    }

    // MARK: One file

    /// A header's fields, trimmed of spaces and quotes, case kept.
    static func header(_ p: UnsafeBufferPointer<UInt8>, delimiter: UInt8) -> (names: [String], bodyStart: Int) {
        var i = 0
        if p.count >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { i = 3 }
        var end = i
        while end < p.count && p[end] != 10 { end += 1 }
        var names: [String] = []
        var start = i
        for k in i...end where k == end || p[k] == delimiter {
            var e = k
            if e > start && p[e - 1] == 13 { e -= 1 }
            let raw = String(decoding: UnsafeBufferPointer(rebasing: p[start..<e]), as: UTF8.self)
            names.append(raw.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'")))
            start = k + 1
        }
        return (names, min(end + 1, p.count))
    }

    /// A file read: a universe, or a wide file's row ranges still to be joined (without the file's bytes).
    enum ParsedFile {
        case done(Universe)
        case wide(WidePending)

        /// The universe (joining a wide file's ranges).
        func universe() throws(UniverseError) -> Universe {
            switch self {
            case .done(let u): return u
            case .wide(let pending): return try pending.finish()
            }
        }
    }

    static func parseFile(_ p: UnsafeBufferPointer<UInt8>, file: String, options: CSVOptions, ranges: Int? = nil) throws(UniverseError) -> ParsedFile
    {
        guard p.count > 0 else { throw .csv(CSVError(.empty, file: file, line: 0, detail: "no header line")) }
        let (names, _) = header(p, delimiter: options.delimiter)
        let lower = names.map { $0.lowercased() }
        if let symbolColumn = lower.firstIndex(where: { $0 == "symbol" || $0 == "ticker" }) {
            return .done(try parseLong(p, file: file, options: options, symbolColumn: symbolColumn, names: names))
        }
        // An ordinary OHLCV file names its close `close` (or all of o/h/l/c). A wide file's columns
        // are tickers, and C, O, H, L and V are tickers too (Citigroup, Realty Income, Hyatt, Loews,
        // Visa): one of them alone never makes a file an OHLCV file.
        let abbreviated = ["o", "h", "l", "c"].allSatisfy(lower.contains)
        if lower.contains("close") || abbreviated {
            var o = options
            o.symbol = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            let series: BarSeries
            do { series = try CSVBarLoader.parse(p, file: file, options: o, maxProblems: 0).series } catch { throw .csv(error) }
            return .done(try Universe(members: [series], layout: .single, timeZones: [zone(of: p, options: o)]))
        }
        return .wide(try parseWide(p, file: file, options: options, names: names, ranges: ranges))
    }

    // MARK: Long

    /// Gathers each symbol's rows (with the header) into its own buffer, remembering each row's
    /// line in the file, and reads every buffer with the single-file parser: the same validation,
    /// the errors naming the file's own lines.
    static func parseLong(
        _ p: UnsafeBufferPointer<UInt8>,
        file: String,
        options: CSVOptions,
        symbolColumn: Int,
        names: [String]
    ) throws(UniverseError)
        -> Universe
    {
        let delim = options.delimiter
        let (_, bodyStart) = header(p, delimiter: delim)
        let headerBytes = Array(p[0..<bodyStart])
        var order: [String] = []
        var parts: [String: (bytes: [UInt8], lines: [Int])] = [:]
        try forEachDataLine(p, from: bodyStart) { (line, row) throws(UniverseError) in
            let i = row.lowerBound
            let contentEnd = row.upperBound
            // The symbol field.
            var column = 0
            var s = i
            while column < symbolColumn && s < contentEnd {
                if p[s] == delim { column += 1 }
                s += 1
            }
            var e = s
            while e < contentEnd && p[e] != delim { e += 1 }
            let symbol = String(decoding: UnsafeBufferPointer(rebasing: p[s..<e]), as: UTF8.self)
                .trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
            guard column == symbolColumn, !symbol.isEmpty else {
                throw .csv(CSVError(.missingValue, file: file, line: line, column: symbolColumn + 1, columnName: names[symbolColumn]))
            }
            if parts[symbol] == nil {
                order.append(symbol)
                parts[symbol] = (headerBytes, [])
            }
            parts[symbol]!.bytes.append(contentsOf: p[i..<contentEnd])
            parts[symbol]!.bytes.append(10)
            parts[symbol]!.lines.append(line)
        }
        guard !order.isEmpty else { throw .noSymbols(path: file, detail: "the file has no rows") }
        var members: [BarSeries] = []
        // Sorted by symbol, as a folder's files are: the member order (which breaks ties in
        // rankings) does not depend on how the rows happen to interleave.
        for symbol in order.sorted() {
            let part = parts[symbol]!
            var o = options
            o.symbol = symbol
            do {
                let series = try part.bytes.withUnsafeBufferPointer { b throws(CSVError) -> BarSeries in
                    try part.lines.withUnsafeBufferPointer { lines throws(CSVError) -> BarSeries in
                        try CSVBarLoader.parse(b, file: file, options: o, maxProblems: 0, lineMap: lines).series
                    }
                }
                members.append(series)
            } catch {
                throw .csv(error)
            }
        }
        let z = zone(of: p, options: options)
        return try Universe(members: members, layout: .long, timeZones: Array(repeating: z, count: members.count))
    }

    // MARK: Wide

    /// Closes of a range of rows, `stride` slots per symbol, in one allocation.
    final class FlatCloses: @unchecked Sendable {
        let base: UnsafeMutablePointer<Double>
        let stride: Int

        init(symbols: Int, stride: Int) {
            self.stride = stride
            base = .allocate(capacity: max(1, symbols * stride))
            LargeMemory.adviseHugePages(UnsafeMutableRawPointer(base), bytes: max(1, symbols * stride) * MemoryLayout<Double>.stride)
        }

        deinit { base.deallocate() }
    }

    /// What every range of a wide file's rows is parsed with.
    struct WideContext: Sendable {
        let file: String
        let options: CSVOptions
        let pattern: [UInt8]
        let symbols: [String]
        let timeName: String
    }

    /// What parsing a range of a wide file's rows gathers: the rows' times and, per symbol, its
    /// closes and where its bars lie (rows counted from the range's first), or the range's
    /// first error.
    struct WideChunk: Sendable {
        var rowTimes: [Int64]
        var times: [[Int64]]
        var own: [Bool]
        var firstRow: [Int]
        var lastRow: [Int]
        var closes: [[Double]]
        /// A later range's closes: symbol k's at `flat[k * stride ..< k * stride + counts[k]]`
        /// (one allocation, returned to the system when the ranges are joined).
        var flat: FlatCloses?
        var counts: [Int]
        var fractions: [Int]
        /// The first row's time and line, once read.
        var firstTime: Int64?
        var firstLine = 0
        /// The last row's time and line (line 0: no row).
        var lastTime = Int64.min
        var lastLine = 0
        var error: UniverseError?

        /// Empty, with room for `capacity` rows (and as many closes per symbol unless they go to `flat`).
        init(symbols: Int, capacity: Int, flat: FlatCloses? = nil) {
            rowTimes = [Int64](reservingCapacity: capacity)
            times = [[Int64]](repeating: [], count: symbols)
            own = [Bool](repeating: false, count: symbols)
            firstRow = [Int](repeating: -1, count: symbols)
            lastRow = [Int](repeating: -1, count: symbols)
            closes = (0..<symbols).map { _ in [Double](reservingCapacity: flat == nil ? capacity : 0) }
            self.flat = flat
            counts = [Int](repeating: 0, count: symbols)
            fractions = [Int](repeating: 0, count: symbols)
        }

        /// Appends the rows of the range that follows this one (emptying it).
        mutating func append(_ next: inout WideChunk) {
            guard next.lastLine > 0 else { return }
            let offset = rowTimes.count
            let nextTimes = next.rowTimes
            for k in closes.indices where next.firstRow[k] >= 0 {
                if firstRow[k] < 0 {
                    firstRow[k] = offset + next.firstRow[k]
                    own[k] = next.own[k]
                    times[k] = next.times[k]
                } else if own[k] || next.own[k] || lastRow[k] != offset - 1 || next.firstRow[k] != 0 {
                    // A gap at the join, or inside either range: the symbol's times are its own.
                    if !own[k] { times[k] = Array(rowTimes[firstRow[k]...lastRow[k]]) }
                    times[k].append(contentsOf: next.own[k] ? next.times[k] : Array(nextTimes[next.firstRow[k]...next.lastRow[k]]))
                    own[k] = true
                }
                next.times[k] = []
                lastRow[k] = offset + next.lastRow[k]
                fractions[k] = max(fractions[k], next.fractions[k])
                if let flat = next.flat {
                    closes[k].append(contentsOf: UnsafeBufferPointer(start: flat.base + k * flat.stride, count: next.counts[k]))
                } else {
                    closes[k].append(contentsOf: next.closes[k])
                    next.closes[k] = []
                }
            }
            rowTimes.append(contentsOf: nextTimes)
            next.rowTimes = []
            next.flat = nil
            lastTime = next.lastTime
            lastLine = next.lastLine
        }
    }

    /// Parses the data lines in `range` of a wide file (`firstLine`: the line number before its
    /// first line); the first error stops it and is returned in the chunk.
    static func parseWideRows(
        _ p: UnsafeBufferPointer<UInt8>,
        _ range: Range<Int>,
        firstLine: Int,
        _ context: WideContext,
        capacity: Int,
        flat: FlatCloses? = nil
    ) -> WideChunk {
        let base = p.baseAddress!
        let file = context.file
        let options = context.options
        let pattern = context.pattern
        let symbols = context.symbols
        let timeName = context.timeName
        let names = [timeName] + symbols
        let delim = options.delimiter
        var chunk = WideChunk(symbols: symbols.count, capacity: capacity, flat: flat)
        let flatBase = flat?.base
        let stride = flat?.stride ?? 0
        // The per-symbol state every cell updates, in raw buffers for the loop (an array in the
        // chunk is checked for uniqueness at each write: six runtime calls per cell), moved
        // back into the chunk at the end.
        let n = symbols.count
        let fractions = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        let firstRows = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        let lastRows = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        let own = UnsafeMutableBufferPointer<Bool>.allocate(capacity: n)
        fractions.initialize(repeating: 0)
        firstRows.initialize(repeating: -1)
        lastRows.initialize(repeating: -1)
        counts.initialize(repeating: 0)
        own.initialize(repeating: false)
        var closes: [[Double]] = []
        swap(&closes, &chunk.closes)
        closes.withUnsafeMutableBufferPointer { closes in
            do throws(UniverseError) {
                try forEachDataLine(p, from: range.lowerBound, to: range.upperBound, firstLine: firstLine) { (line, row) throws(UniverseError) in
                    let contentEnd = row.upperBound
                    var column = 0
                    var s = row.lowerBound
                    var time: Int64 = 0
                    while true {
                        var e = s
                        // A plain price (digits, a point, digits) is read a word at a time and
                        // ends its field; other fields are scanned for their end, then parsed.
                        var plain: NumberParse?
                        if column != 0, let v = NumberParser.plainField(base, s, lineEnd: contentEnd, delimiter: delim, readable: p.count) {
                            e = v.end
                            plain = .value(v.value, fractionDigits: v.fractionDigits)
                        } else {
                            while e < contentEnd && p[e] != delim { e += 1 }
                        }
                        if column == 0 {
                            var a = s
                            var b = e
                            while a < b && (p[a] == 32 || p[a] == 34) { a += 1 }
                            while b > a && (p[b - 1] == 32 || p[b - 1] == 34) { b -= 1 }
                            guard a < b else { throw .csv(CSVError(.missingValue, file: file, line: line, column: 1, columnName: timeName)) }
                            guard let t = TimestampParser.parse(base, a, b, format: options.timestampFormat, pattern: pattern) else {
                                let text = String(decoding: UnsafeBufferPointer(start: base + a, count: min(b - a, 64)), as: UTF8.self)
                                throw .csv(CSVError(.badTimestamp, file: file, line: line, column: 1, columnName: timeName, detail: "'\(text)'"))
                            }
                            guard t > chunk.lastTime else {
                                throw .csv(
                                    CSVError(
                                        t == chunk.lastTime ? .duplicateTimestamp : .outOfOrderTimestamp,
                                        file: file,
                                        line: line,
                                        column: 1,
                                        columnName: timeName,
                                        detail:
                                            "\(Timestamp(nanoseconds: t)) after \(Timestamp(nanoseconds: chunk.lastTime)) on line \(chunk.lastLine)"
                                    )
                                )
                            }
                            time = t
                            if chunk.firstTime == nil {
                                chunk.firstTime = t
                                chunk.firstLine = line
                            }
                            chunk.rowTimes.append(t)
                        } else if column <= symbols.count {
                            let k = column - 1
                            func fail(_ code: CSVError.Code, _ detail: String) -> UniverseError {
                                .csv(CSVError(code, file: file, line: line, column: column + 1, columnName: symbols[k], detail: detail))
                            }
                            let text = { String(decoding: UnsafeBufferPointer(start: base + s, count: min(e - s, 64)), as: UTF8.self) }
                            switch plain ?? NumberParser.parse(base, s, e) {
                            case .empty: break  // no bar for this symbol at this time
                            case .invalid: throw fail(.notANumber, "'\(text())'")
                            case .nonFinite: throw fail(.nonFinite, "'\(text())' (leave the cell empty where the symbol has no price)")
                            case .value(let v, let fraction):
                                if v <= 0 { throw fail(.nonPositivePrice, "\(v)") }
                                if v > CSVBarLoader.maxPrice { throw fail(.outOfRange, "\(v) is above the largest price \(CSVBarLoader.maxPrice)") }
                                if v < CSVBarLoader.minPrice {
                                    throw fail(.outOfRange, "\(v) is below the smallest price \(CSVBarLoader.minPrice) (it would round to zero)")
                                }
                                if fraction > fractions[k] { fractions[k] = fraction }
                                let r = chunk.rowTimes.count - 1
                                if firstRows[k] < 0 {
                                    firstRows[k] = r
                                } else if !own[k] && lastRows[k] != r - 1 {
                                    // A gap inside the symbol's run: from here on its times are its own.
                                    chunk.times[k] = Array(chunk.rowTimes[firstRows[k]...lastRows[k]])
                                    own[k] = true
                                }
                                if own[k] { chunk.times[k].append(time) }
                                lastRows[k] = r
                                if let flatBase {
                                    flatBase[k &* stride &+ counts[k]] = v
                                } else {
                                    closes[k].append(v)
                                }
                                counts[k] &+= 1
                            }
                        } else {
                            throw .csv(
                                CSVError(.extraFields, file: file, line: line, column: column + 1, detail: "header has \(names.count) columns")
                            )
                        }
                        column += 1
                        if e >= contentEnd { break }
                        s = e + 1
                    }
                    if column < names.count {
                        throw .csv(
                            CSVError(
                                .missingValue,
                                file: file,
                                line: line,
                                column: column + 1,
                                columnName: names[column],
                                detail:
                                    "row has \(column) fields, header has \(names.count) (leave a cell empty, with its comma, where a symbol has no price)"
                            )
                        )
                    }
                    chunk.lastTime = time
                    chunk.lastLine = line
                }
            } catch {
                chunk.error = error
            }
        }
        swap(&closes, &chunk.closes)
        chunk.fractions = Array(fractions)
        chunk.firstRow = Array(firstRows)
        chunk.lastRow = Array(lastRows)
        chunk.counts = Array(counts)
        chunk.own = Array(own)
        for b in [fractions, firstRows, lastRows, counts] { b.deallocate() }
        own.deallocate()
        return chunk
    }

    /// - Parameter ranges: How many row ranges to read in parallel (nil: one per core for a
    ///   file of at least 2 MiB, at most 8; tests set it to check that any split reads the same).
    static func parseWide(
        _ p: UnsafeBufferPointer<UInt8>,
        file: String,
        options: CSVOptions,
        names: [String],
        ranges: Int? = nil
    ) throws(UniverseError) -> WidePending {
        guard p.baseAddress != nil else { throw .csv(CSVError(.empty, file: file, line: 0, detail: "no header line")) }
        let (_, bodyStart) = header(p, delimiter: options.delimiter)
        guard names.count >= 2 else {
            throw .noSymbols(
                path: file,
                detail: "a wide file has the time in its first column and one column of closes per symbol; the header has \(names.count) column"
            )
        }
        let symbols = Array(names.dropFirst())
        var firstColumn: [String: Int] = [:]
        for (k, s) in symbols.enumerated() {
            guard !s.isEmpty else {
                throw .csv(CSVError(.missingColumn, file: file, line: 1, column: k + 2, detail: "empty symbol name in the header"))
            }
            if let j = firstColumn[s] { throw .duplicateSymbol(s, first: "\(file):1 column \(j + 2)", second: "\(file):1 column \(k + 2)") }
            firstColumn[s] = k
        }
        let pattern: [UInt8]
        if case .pattern(let s) = options.timestampFormat { pattern = Array(s.utf8) } else { pattern = [] }
        // A large file is read in row ranges on every core (each range split at a line end, its
        // first line number from the line ends before it), then the ranges are joined in order.
        // Errors are those of one pass over the file: the first range's first, then a time that
        // does not follow the previous range's last, then the next range's own.
        let rowBytes = 8 * symbols.count + 12
        let bodyBytes = p.count - bodyStart
        let parts = max(1, ranges ?? min(ProcessInfo.processInfo.activeProcessorCount, 8, bodyBytes / (1 << 20)))
        var bounds = [bodyStart]
        for i in 1..<parts {
            var b = bodyStart + bodyBytes / parts * i
            while b < p.count && p[b - 1] != 10 { b += 1 }
            bounds.append(max(b, bounds[i - 1]))
        }
        bounds.append(p.count)
        let cuts = bounds
        // The file's bytes by address: the tasks below only read them, while `p` is valid.
        let address = UInt(bitPattern: p.baseAddress!)
        let size = p.count
        // Each range's line ends: its first line's number, and at most that many rows.
        var newlines = [Int](repeating: 0, count: parts)
        if parts > 1 {
            newlines.withUnsafeMutableBufferPointer { counts in
                let out = UInt(bitPattern: counts.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: parts) { i in
                    let bytes = UnsafePointer<UInt8>(bitPattern: address)!
                    var n = 0
                    var j = cuts[i]
                    while true {
                        let end = NumberParser.lineEnd(bytes, from: j, to: cuts[i + 1])
                        guard end < cuts[i + 1] else { break }
                        n &+= 1
                        j = end + 1
                    }
                    UnsafeMutablePointer<Int>(bitPattern: out)![i] = n + (cuts[i + 1] > cuts[i] && bytes[cuts[i + 1] - 1] != 10 ? 1 : 0)
                }
            }
        }
        var firstLines = [Int](repeating: 1, count: parts)  // the `line` before each range's first
        for i in 1..<max(parts, 1) { firstLines[i] = firstLines[i - 1] + newlines[i - 1] }
        let context = WideContext(file: file, options: options, pattern: pattern, symbols: symbols, timeName: names[0])
        let results = Mutex([WideChunk?](repeating: nil, count: parts))
        let lines = firstLines
        let rows = newlines
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let bytes = UnsafeBufferPointer(start: UnsafePointer<UInt8>(bitPattern: address)!, count: size)
            let chunk: WideChunk
            if parts == 1 {
                chunk = parseWideRows(bytes, cuts[0]..<cuts[1], firstLine: 1, context, capacity: max(16, bodyBytes / rowBytes))
            } else if i == 0 {
                // The first range's closes go to one array per symbol, sized for its rows (the
                // later ranges' closes are appended to them once the file's bytes are released:
                // room for the whole file here made this range slower, ~46 ms against ~37 ms for
                // the 10 MB benchmark file).
                chunk = parseWideRows(bytes, cuts[0]..<cuts[1], firstLine: 1, context, capacity: rows[0])
            } else {
                let flat = FlatCloses(symbols: symbols.count, stride: rows[i])
                chunk = parseWideRows(bytes, cuts[i]..<cuts[i + 1], firstLine: lines[i], context, capacity: rows[i], flat: flat)
            }
            results.withLock { $0[i] = chunk }
        }
        return WidePending(chunks: results.withLock { $0 }, file: file, names: names, zone: zone(of: p, options: options))
    }

    /// A wide file's row ranges, parsed, to be joined into its universe.
    struct WidePending: Sendable {
        var chunks: [WideChunk?]
        let file: String
        let names: [String]
        let zone: String

        /// Joins the ranges in order, throwing the first error a single pass over the file
        /// would have met.
        func finish() throws(UniverseError) -> Universe {
            var chunks = self.chunks
            let parts = chunks.count
            let symbols = Array(names.dropFirst())
            var whole = chunks[0]!
            chunks[0] = nil
            if let error = whole.error { throw error }
            for i in 1..<parts {
                var next = chunks[i]!
                chunks[i] = nil
                if let first = next.firstTime, whole.lastLine > 0, first <= whole.lastTime {
                    throw .csv(
                        CSVError(
                            first == whole.lastTime ? .duplicateTimestamp : .outOfOrderTimestamp,
                            file: file,
                            line: next.firstLine,
                            column: 1,
                            columnName: names[0],
                            detail: "\(Timestamp(nanoseconds: first)) after \(Timestamp(nanoseconds: whole.lastTime)) on line \(whole.lastLine)"
                        )
                    )
                }
                if let error = next.error { throw error }
                whole.append(&next)
            }
            let rowTimes = whole.rowTimes
            let times = whole.times
            let own = whole.own
            let firstRow = whole.firstRow
            let lastRow = whole.lastRow
            var closes = whole.closes
            let fractions = whole.fractions
            whole = WideChunk(symbols: 0, capacity: 0)
            let zeros = [Double](repeating: 0, count: rowTimes.count)
            let series = symbols.indices.map { k in
                var t = times[k]
                if !own[k] && firstRow[k] >= 0 {
                    t = firstRow[k] == 0 && lastRow[k] == rowTimes.count - 1 ? rowTimes : Array(rowTimes[firstRow[k]...lastRow[k]])
                }
                closes[k].shrinkToFitIfLoose()
                return BarSeries(
                    symbol: symbols[k],
                    timestamps: t,
                    closes: closes[k],
                    pricePrecision: min(fractions[k], FixedPoint.decimals),
                    volume: t.count == zeros.count ? zeros : nil
                )
            }
            let z = zone
            return try Universe(members: series, layout: .wide, timeZones: Array(repeating: z, count: series.count))
        }
    }

    /// Calls `body` with each non-blank line from `start` on: its 1-based line number in the
    /// file and the byte range of its content (without the line end or a CR before it).
    static func forEachDataLine(
        _ p: UnsafeBufferPointer<UInt8>,
        from start: Int,
        _ body: (Int, Range<Int>) throws(UniverseError) -> Void
    ) throws(UniverseError) {
        try forEachDataLine(p, from: start, to: p.count, firstLine: 1, body)
    }

    /// `forEachDataLine` over the lines that start in `start..<stop` (`start` at a line's
    /// start), numbered on from `firstLine` (the number of the line before `start`).
    static func forEachDataLine(
        _ p: UnsafeBufferPointer<UInt8>,
        from start: Int,
        to stop: Int,
        firstLine: Int,
        _ body: (Int, Range<Int>) throws(UniverseError) -> Void
    ) throws(UniverseError) {
        var i = start
        var line = firstLine
        while i < stop {
            line += 1
            let end = NumberParser.lineEnd(p.baseAddress!, from: i, to: p.count)
            var contentEnd = end
            if contentEnd > i && p[contentEnd - 1] == 13 { contentEnd -= 1 }
            if (i..<contentEnd).contains(where: { p[$0] != 32 && p[$0] != 9 }) { try body(line, i..<contentEnd) }
            i = end + 1
        }
    }

    // MARK: Time zones

    /// The time zone the file's first data row writes its time in: `UTC` for
    /// epoch numbers and a `Z` or `+00:00` suffix, `±HH:MM` for another
    /// offset, `unspecified` for a local date or time without one.
    static func zone(of p: UnsafeBufferPointer<UInt8>, options: CSVOptions) -> String {
        switch options.timestampFormat {
        case .epochSeconds, .epochMilliseconds: return "UTC"
        default: break
        }
        let (names, bodyStart) = header(p, delimiter: options.delimiter)
        let lower = names.map { $0.lowercased() }
        let column = lower.firstIndex { CSVBarLoader.timestampNames.contains($0) } ?? 0
        // The first non-blank data row's time field.
        var i = bodyStart
        while i < p.count {
            var end = i
            while end < p.count && p[end] != 10 { end += 1 }
            var fields: [Substring] = []
            let text = String(decoding: UnsafeBufferPointer(rebasing: p[i..<end]), as: UTF8.self)
            fields = text.split(separator: Character(Unicode.Scalar(options.delimiter)), omittingEmptySubsequences: false)
            i = end + 1
            guard column < fields.count else { continue }
            let field = fields[column].trimmingCharacters(in: CharacterSet(charactersIn: " \t\r\"'"))
            if field.isEmpty { continue }
            return zone(ofTime: field)
        }
        return "unspecified"
    }

    /// The zone one written time names (see `zone(of:options:)`).
    static func zone(ofTime field: String) -> String {
        if field.allSatisfy({ $0.isNumber || $0 == "-" }) && !field.contains("-", after: 0) { return "UTC" }  // epoch
        if field.hasSuffix("Z") || field.hasSuffix("z") { return "UTC" }
        // ±HH:MM or ±HHMM or ±HH after a time (a date's own dashes come before the 'T' or space).
        guard let sep = field.firstIndex(where: { $0 == "T" || $0 == " " }) else { return "unspecified" }
        let time = field[field.index(after: sep)...]
        guard let sign = time.lastIndex(where: { $0 == "+" || $0 == "-" }) else { return "unspecified" }
        let digits = time[time.index(after: sign)...].filter(\.isNumber)
        guard digits.count == 2 || digits.count == 4 else { return "unspecified" }
        let hh = digits.prefix(2)
        let mm = digits.count == 4 ? String(digits.suffix(2)) : "00"
        if hh == "00" && mm == "00" { return "UTC" }
        return "\(time[sign])\(hh):\(mm)"
    }
}

extension Array {
    /// An empty array with room for `n` elements.
    fileprivate init(reservingCapacity n: Int) {
        self.init()
        reserveCapacity(n)
    }
}

extension String {
    /// Whether `c` occurs at an offset greater than `offset`.
    fileprivate func contains(_ c: Character, after offset: Int) -> Bool {
        dropFirst(offset + 1).contains(c)
    }
}

extension Array where Element == Double {
    /// Drops spare capacity beyond an eighth of the count (a loader's reservation guessed high).
    mutating func shrinkToFitIfLoose() {
        guard capacity - count > count / 8 + 16 else { return }
        self = withUnsafeBufferPointer { Array($0) }
    }
}
