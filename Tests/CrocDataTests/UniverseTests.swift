import CrocCore
import CrocTestSupport
import Foundation
import Testing

@testable import CrocData

/// A fresh temporary folder.
private func tempFolder(_ name: String) throws -> String {
    let dir = testTemporaryDirectory() + "crocbot-universe-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

private func write(_ text: String, _ path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

/// The first `rows` rows of the shipped wide table, for the symbols named, as (date, close?) per symbol;
/// `drop` removes rows of one symbol (a calendar that does not line up).
private func sample(rows: Int, symbols: [String], drop: [String: Set<Int>] = [:]) throws -> (dates: [String], closes: [String: [String?]]) {
    let text = try String(contentsOfFile: sampleData("SP500_10_CLOSE.csv"), encoding: .utf8)
    let lines = text.split(separator: "\n").map(String.init)
    let header = lines[0].split(separator: ",").map(String.init)
    var dates: [String] = []
    var closes: [String: [String?]] = [:]
    for (r, line) in lines.dropFirst().prefix(rows).enumerated() {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        dates.append(f[0])
        for s in symbols {
            let c = f[header.firstIndex(of: s)!]
            closes[s, default: []].append(drop[s]?.contains(r) == true ? nil : c)
        }
    }
    return (dates, closes)
}

/// The same data in the three layouts: a folder of files, one wide file, one long file.
private func threeLayouts(rows: Int, symbols: [String], drop: [String: Set<Int>]) throws -> (folder: String, wide: String, long: String) {
    let (dates, closes) = try sample(rows: rows, symbols: symbols, drop: drop)
    let root = try tempFolder("layouts")
    let folder = root + "/folder"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for s in symbols {
        var t = "Date,Close\n"
        for (i, d) in dates.enumerated() { if let c = closes[s]![i] { t += "\(d),\(c)\n" } }
        try write(t, folder + "/\(s).csv")
    }
    var wide = "Date," + symbols.joined(separator: ",") + "\n"
    for (i, d) in dates.enumerated() { wide += d + "," + symbols.map { closes[$0]![i] ?? "" }.joined(separator: ",") + "\n" }
    try write(wide, root + "/wide.csv")
    // Long: rows interleaved by date, symbols in their order, with full OHLCV columns.
    var long = "date,symbol,open,high,low,close,volume\n"
    for (i, d) in dates.enumerated() {
        for s in symbols { if let c = closes[s]![i] { long += "\(d),\(s),\(c),\(c),\(c),\(c),0\n" } }
    }
    try write(long, root + "/long.csv")
    return (folder, root + "/wide.csv", root + "/long.csv")
}

@Suite("Universe: layouts, calendars, validation")
struct UniverseTests {
    @Test("the union calendar of two members is the sorted set union, whichever lies within the other, overlaps or interleaves")
    func unionOfTwoCalendars() {
        var random = XorShift64(state: 5)
        func next() -> UInt64 { random.next() }
        func calendar() -> [Int64] { Array(Set((0..<Int(next() % 40)).map { _ in Int64(next() % 60) })).sorted() }
        for _ in 0..<2_000 {
            let a = calendar()
            // b: a random calendar, a's subset, or a's superset.
            var b = calendar()
            switch next() % 3 {
            case 0: b = a.filter { _ in next() % 2 == 0 }
            case 1: b = Array(Set(a + b)).sorted()
            default: break
            }
            let expected = Array(Set(a + b)).sorted()
            #expect(Universe.mergeUnique(a, b) == expected, "\(a) with \(b)")
            #expect(Universe.mergeUnique(b, a) == expected, "\(b) with \(a)")
            #expect(Universe.isSubset(b, of: a) == Set(b).isSubset(of: Set(a)), "\(b) within \(a)")
        }
    }

    @Test("the shipped wide table: 10 symbols, every date, close-only bars")
    func shippedWide() throws {
        let u = try UniverseLoader.load(path: sampleData("SP500_10_CLOSE.csv"))
        #expect(u.layout == .wide)
        #expect(u.symbols == ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO"])
        #expect(u.timestamps.count == 8313)
        #expect(u.members.allSatisfy { $0.count == 8313 })
        #expect(u.barLength == Timestamp.nanosecondsPerDay)
        #expect(u.timeZone == "unspecified")
        let aapl = u.members[0]
        #expect(aapl.close[0] == 0.264 && aapl.open[0] == 0.264 && aapl.high[0] == 0.264 && aapl.low[0] == 0.264 && aapl.volume[0] == 0)
        #expect(aapl.pricePrecision == 3)
        #expect(Timestamp(nanoseconds: u.timestamps.last!).description == "2022-12-28")
        #expect(u.members[9].close.last! > 0)
    }

    @Test("--symbols picks some, in the order asked; unknown names are listed")
    func selecting() throws {
        let u = try UniverseLoader.load(path: sampleData("SP500_10_CLOSE.csv"), symbols: ["KO", "AAPL"])
        #expect(u.symbols == ["KO", "AAPL"])
        let e = #expect(throws: UniverseError.self) { try u.selecting(["KO", "MSFT", "XOM"]) }
        #expect(e == .unknownSymbols(["MSFT", "XOM"], available: ["KO", "AAPL"]))
        #expect(e?.description.contains("MSFT, XOM") == true)
        #expect(throws: UniverseError.duplicateSymbol("KO", first: "--symbols", second: "--symbols")) { try u.selecting(["KO", "KO"]) }
    }

    @Test("folder, wide and long layouts give the same universe, with calendars that do not line up")
    func threeLayoutsAgree() throws {
        // AMD starts late (rows 0-9 absent), KO has holes, BAC ends early.
        let drop: [String: Set<Int>] = ["AMD": Set(0..<10), "KO": [20, 21, 50], "BAC": Set(90..<120)]
        let paths = try threeLayouts(rows: 120, symbols: ["AAPL", "AMD", "BAC", "KO"], drop: drop)
        let folder = try UniverseLoader.load(path: paths.folder)
        let wide = try UniverseLoader.load(path: paths.wide)
        let long = try UniverseLoader.load(path: paths.long)
        #expect(folder.layout == .folder && wide.layout == .wide && long.layout == .long)
        for u in [wide, long] {
            #expect(u.symbols == folder.symbols)
            #expect(u.timestamps == folder.timestamps)
            for (a, b) in zip(u.members, folder.members) {
                #expect(a.timestamps == b.timestamps)
                #expect(a.close == b.close && a.open == b.open && a.high == b.high && a.low == b.low)
                #expect(a.pricePrecision == b.pricePrecision)
            }
        }
        #expect(folder.timestamps.count == 120)
        #expect(folder.members.map(\.count) == [120, 110, 90, 117])
    }

    @Test("a symbol without a bar at a time has nothing to fill against; it is marked at its last close")
    func misalignedCalendars() throws {
        let drop: [String: Set<Int>] = ["AMD": Set(0..<10), "KO": [20, 21, 50], "BAC": Set(90..<120)]
        let u = try UniverseLoader.load(path: threeLayouts(rows: 120, symbols: ["AAPL", "AMD", "BAC", "KO"], drop: drop).wide)
        let amd = u.index(of: "AMD")!
        let ko = u.index(of: "KO")!
        let bac = u.index(of: "BAC")!
        for t in 0..<10 {
            #expect(u.bar(symbol: amd, time: t) == nil)
            #expect(u.lastCloseIndex(symbol: amd, time: t) == nil)
        }
        #expect(u.barIndex(symbol: amd, time: 10) == 0)
        #expect(u.bar(symbol: ko, time: 20) == nil && u.bar(symbol: ko, time: 21) == nil)
        #expect(u.barIndex(symbol: ko, time: 19) == 19)
        #expect(u.lastCloseIndex(symbol: ko, time: 21) == 19)  // marked at the close of time 19
        #expect(u.barIndex(symbol: ko, time: 22) == 20)
        #expect(u.bar(symbol: ko, time: 22)?.timestamp.nanoseconds == u.timestamps[22])
        #expect(u.bar(symbol: bac, time: 119) == nil)
        #expect(u.lastCloseIndex(symbol: bac, time: 119) == 89)
        // Every bar is at its own time, in the union calendar, exactly once.
        for (s, m) in u.members.enumerated() {
            var seen = 0
            for t in u.timestamps.indices {
                if let i = u.barIndex(symbol: s, time: t) {
                    #expect(m.timestamps[i] == u.timestamps[t])
                    seen += 1
                }
            }
            #expect(seen == m.count)
        }
        let summary = u.summaries()
        #expect(summary.map(\.missing) == [0, 0, 0, 3])
        #expect(summary[ko].rows == 117)
        #expect(summary[bac].last?.nanoseconds == u.timestamps[89])
    }

    @Test("tickers that look like OHLCV columns (C, O, H, L, V) stay symbols of a wide file")
    func tickersNamedLikeColumns() throws {
        let u = try UniverseLoader.parse(text: "Date,C,V,KO\n2020-01-01,40.5,200.25,55\n2020-01-02,41,201,\n", file: "w.csv")
        #expect(u.layout == .wide && u.symbols == ["C", "V", "KO"])
        #expect(u.members.map(\.count) == [2, 2, 1])
        let ohlc = try UniverseLoader.parse(text: "ts,o,h,l,c\n2020-01-01,1,2,0.5,1.5\n", file: "x.csv")
        #expect(ohlc.layout == .single && ohlc.members[0].high == [2])
    }

    @Test("an ordinary OHLCV file is a universe of one")
    func single() throws {
        let u = try UniverseLoader.load(path: sampleData("GOOGL.csv"))
        #expect(u.layout == .single && u.symbols == ["GOOGL"] && u.timestamps.count == 2335)
        #expect(u.members[0] == (try CSVBarLoader.load(path: sampleData("GOOGL.csv"))))
    }

    @Test("long files: errors name the file's own line, per-symbol order is checked")
    func longErrors() throws {
        let header = "date,symbol,open,high,low,close\n"
        // Line 5 (B's second row) is earlier than line 3 (B's first).
        let unordered = header + "2020-01-01,A,1,1,1,1\n2020-01-02,B,1,1,1,1\n2020-01-02,A,1,1,1,1\n2020-01-01,B,1,1,1,1\n"
        let e1 = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: unordered, file: "long.csv") }
        guard case .csv(let c1) = e1 else {
            Issue.record("expected a CSV error, got \(String(describing: e1))")
            return
        }
        #expect(c1.code == .outOfOrderTimestamp && c1.line == 5 && c1.file == "long.csv")
        #expect(c1.detail.contains("on line 3"))
        // A high below its low on line 4.
        let bad = header + "2020-01-01,A,1,1,1,1\n2020-01-01,B,1,1,1,1\n2020-01-02,A,1,1,2,1\n"
        let e2 = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: bad, file: "long.csv") }
        guard case .csv(let c2) = e2 else {
            Issue.record("expected a CSV error")
            return
        }
        #expect(c2.code == .highBelowLow && c2.line == 4 && c2.columnName == "high")
        // A row without its symbol.
        let e3 = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: header + "2020-01-01,,1,1,1,1\n", file: "long.csv") }
        #expect(e3 == .csv(CSVError(.missingValue, file: "long.csv", line: 2, column: 2, columnName: "symbol")))
    }

    @Test("wide files: a non-numeric cell, NaN, a short row and duplicate columns are errors with their place")
    func wideErrors() throws {
        let nonNumeric = "Date,A,B\n2020-01-01,1.5,2\n2020-01-02,1.6,abc\n"
        #expect(throws: UniverseError.csv(CSVError(.notANumber, file: "w.csv", line: 3, column: 3, columnName: "B", detail: "'abc'"))) {
            try UniverseLoader.parse(text: nonNumeric, file: "w.csv")
        }
        let nan = "Date,A,B\n2020-01-01,1.5,NaN\n"
        let e = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: nan, file: "w.csv") }
        guard case .csv(let c) = e else {
            Issue.record("expected a CSV error")
            return
        }
        #expect(c.code == .nonFinite && c.line == 2 && c.columnName == "B")
        let short = "Date,A,B\n2020-01-01,1.5\n"
        let e2 = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: short, file: "w.csv") }
        guard case .csv(let c2) = e2 else {
            Issue.record("expected a CSV error")
            return
        }
        #expect(c2.code == .missingValue && c2.line == 2 && c2.columnName == "B")
        #expect(throws: UniverseError.duplicateSymbol("A", first: "w.csv:1 column 2", second: "w.csv:1 column 3")) {
            try UniverseLoader.parse(text: "Date,A,A\n2020-01-01,1,2\n", file: "w.csv")
        }
        let negative = "Date,A\n2020-01-01,-3\n"
        let e3 = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: negative, file: "w.csv") }
        guard case .csv(let c3) = e3 else {
            Issue.record("expected a CSV error")
            return
        }
        #expect(c3.code == .nonPositivePrice && c3.columnName == "A")
        let huge = "Date,A\n2020-01-01,1e30\n"
        let e4 = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: huge, file: "w.csv") }
        guard case .csv(let c4) = e4 else {
            Issue.record("expected a CSV error")
            return
        }
        #expect(c4.code == .outOfRange)
        let order = "Date,A\n2020-01-02,1\n2020-01-01,1\n"
        let e5 = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: order, file: "w.csv") }
        guard case .csv(let c5) = e5 else {
            Issue.record("expected a CSV error")
            return
        }
        #expect(c5.code == .outOfOrderTimestamp && c5.line == 3)
        #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: "Date\n2020-01-01\n", file: "w.csv") }
    }

    @Test("folders: a non-CSV file, an unreadable entry, two files for one symbol, an empty folder")
    func folderErrors() throws {
        let dir = try tempFolder("bad")
        try write("Date,Close\n2020-01-01,1\n2020-01-02,2\n", dir + "/A.csv")
        try write("notes", dir + "/README.md")
        #expect(throws: UniverseError.notCSV(path: dir + "/README.md")) { try UniverseLoader.load(path: dir) }
        try FileManager.default.removeItem(atPath: dir + "/README.md")
        try write("hidden files are skipped", dir + "/.DS_Store")
        #expect(try UniverseLoader.load(path: dir).symbols == ["A"])
        try FileManager.default.createDirectory(atPath: dir + "/B.csv", withIntermediateDirectories: true)
        let e = #expect(throws: UniverseError.self) { try UniverseLoader.load(path: dir) }
        guard case .csv(let c) = e else {
            Issue.record("expected a CSV error")
            return
        }
        #expect(c.code == .unreadable && c.file == dir + "/B.csv")
        try FileManager.default.removeItem(atPath: dir + "/B.csv")
        try write("Date,Close\n2020-01-01,1\n2020-01-02,2\n", dir + "/A.CSV")
        let dup = #expect(throws: UniverseError.self) { try UniverseLoader.load(path: dir) }
        guard case .duplicateSymbol(let s, _, _) = dup else {
            Issue.record("expected a duplicate symbol")
            return
        }
        #expect(s == "A")
        let empty = try tempFolder("empty")
        #expect(throws: UniverseError.noSymbols(path: empty, detail: "the folder holds no .csv files")) { try UniverseLoader.load(path: empty) }
        #expect(throws: UniverseError.unreadable(path: empty + "/nope", detail: "no such file or folder")) {
            try UniverseLoader.load(path: empty + "/nope")
        }
        // A file's own problem names the file and line.
        let broken = try tempFolder("broken")
        try write("Date,Close\n2020-01-01,1\n2020-01-02,x\n", broken + "/Z.csv")
        #expect(throws: UniverseError.csv(CSVError(.notANumber, file: broken + "/Z.csv", line: 3, column: 2, columnName: "close", detail: "'x'"))) {
            try UniverseLoader.load(path: broken)
        }
    }

    @Test("members that disagree on the time zone or the bar length are refused, naming both")
    func disagreements() throws {
        let zones = try tempFolder("zones")
        try write("time,close\n2020-01-01T00:00:00Z,1\n2020-01-02T00:00:00Z,2\n", zones + "/A.csv")
        try write("time,close\n2020-01-01T00:00:00,1\n2020-01-02T00:00:00,2\n", zones + "/B.csv")
        #expect(throws: UniverseError.timeZoneMismatch(symbol: "B", zone: "unspecified", firstSymbol: "A", firstZone: "UTC")) {
            try UniverseLoader.load(path: zones)
        }
        try write("time,close\n2020-01-01T02:00:00+02:00,1\n2020-01-02T02:00:00+02:00,2\n", zones + "/B.csv")
        #expect(throws: UniverseError.timeZoneMismatch(symbol: "B", zone: "+02:00", firstSymbol: "A", firstZone: "UTC")) {
            try UniverseLoader.load(path: zones)
        }
        try write("time,close\n2020-01-01T00:00:00+00:00,1\n2020-01-02T00:00:00+00:00,2\n", zones + "/B.csv")
        #expect(try UniverseLoader.load(path: zones).timeZone == "UTC")

        let lengths = try tempFolder("lengths")
        try write("Date,Close\n2020-01-01,1\n2020-01-02,2\n2020-01-03,2\n", lengths + "/D.csv")
        try write("Date,Close\n2020-01-01 00:00:00,1\n2020-01-01 01:00:00,2\n2020-01-01 02:00:00,2\n", lengths + "/H.csv")
        let e = #expect(throws: UniverseError.self) { try UniverseLoader.load(path: lengths) }
        #expect(e == .barLengthMismatch(symbol: "H", barLength: "1h", firstSymbol: "D", firstBarLength: "1d"))
        #expect(e?.description.contains("D has 1d bars, H has 1h bars") == true)
    }

    @Test("close-only files are read as open = high = low = close; a single file still needs all four columns")
    func closeOnly() throws {
        let u = try UniverseLoader.parse(
            text: "Date,Close\n2020-01-01,1.25\n2020-01-02,0\n".replacingOccurrences(of: ",0\n", with: ",2\n"),
            file: "x.csv"
        )
        #expect(u.members[0].open == [1.25, 2] && u.members[0].high == [1.25, 2] && u.members[0].low == [1.25, 2])
        let e = #expect(throws: CSVError.self) { try CSVBarLoader.parse(text: "Date,Close\n2020-01-01,1\n", file: "x.csv") }
        #expect(e?.code == .missingColumn)
        let zero = #expect(throws: UniverseError.self) { try UniverseLoader.parse(text: "Date,Close\n2020-01-01,0\n", file: "x.csv") }
        #expect(zero == .csv(CSVError(.nonPositivePrice, file: "x.csv", line: 2, column: 2, columnName: "close", detail: "0.0")))
    }

    @Test("built from series in code: duplicates refused, gaps counted, the union calendar sorted")
    func fromSeries() throws {
        let day = Timestamp.nanosecondsPerDay
        func series(_ symbol: String, days: [Int64]) throws -> BarSeries {
            try BarSeries(
                symbol: symbol,
                bars: days.map { Bar(timestamp: Timestamp(nanoseconds: $0 * day), open: 1, high: 1, low: 1, close: 1, volume: 0) }
            )
        }
        // B trades on days A does not have, and pauses for ten days.
        let a = try series("A", days: [0, 1, 2, 3, 4, 5, 6])
        let b = try series("B", days: [2, 3, 13, 14, 15, 16])
        let u = try Universe(members: [a, b])
        #expect(u.timestamps == [0, 1, 2, 3, 4, 5, 6, 13, 14, 15, 16].map { $0 * day })
        #expect(u.barLength == day)
        let s = u.summaries()
        #expect(s[0].gaps == 0 && s[0].missing == 0)
        #expect(s[1].gaps == 1 && s[1].longestGap == 10 * day && s[1].missing == 3)  // days 4, 5, 6 of the union
        #expect(u.lastCloseIndex(symbol: 1, time: 6) == 1)
        // A fills rows 0...6 without a gap; B's bars leave rows 4, 5, 6 out; C starts at row 7.
        let c = try series("C", days: [13, 14, 15, 16])
        let withC = try Universe(members: [a, b, c])
        #expect(withC.runStarts == [0, -1, 7])
        #expect(u.runStarts == [0, -1])
        #expect(throws: UniverseError.duplicateSymbol("A", first: "member 1", second: "member 2")) { try Universe(members: [a, a]) }
        #expect(throws: UniverseError.self) { try Universe(members: []) }
    }

    /// Reads wide `text` as a universe with its rows split into `ranges` parallel ranges.
    private static func wide(_ text: String, ranges: Int) -> Result<Universe, UniverseError> {
        var options = CSVOptions()
        options.allowCloseOnly = true
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { b in
            Result { () throws(UniverseError) -> Universe in
                try UniverseLoader.parseFile(b, file: "w.csv", options: options, ranges: ranges).universe()
            }
        }
    }

    @Test("a wide file read in 2 to 7 row ranges gives what one pass gives: members, gaps at the joins, errors and their lines")
    func wideRanges() throws {
        let rows = 40
        let symbols = ["A", "B", "C", "D"]
        let dates = (0..<rows).map { String(Timestamp(nanoseconds: Int64($0) * Timestamp.nanosecondsPerDay).iso8601().prefix(10)) }
        func cell(_ s: Int, _ t: Int) -> String {
            switch s {
            case 1 where t < 20: return ""  // B listed at row 20
            case 2 where t % 7 == 3 || t % 11 == 5: return ""  // C with gaps, some at the joins
            case 3 where t > 10: return ""  // D delisted after row 10
            default: return String(format: s == 0 ? "%.2f" : "%.4f", 10 + Double(s) + Double((t * 7 + s) % 13) / 8)
            }
        }
        func text(_ edit: (inout [String]) -> Void = { _ in }) -> String {
            var lines = (0..<rows).map { t in ([dates[t]] + symbols.indices.map { cell($0, t) }).joined(separator: ",") }
            edit(&lines)
            return "Date," + symbols.joined(separator: ",") + "\n" + lines.joined(separator: "\n") + "\n"
        }
        let one = try Self.wide(text(), ranges: 1).get()
        #expect(one.members.map(\.count) == [40, 20, 31, 11])
        #expect(one.members[0].pricePrecision == 2 && one.members[1].pricePrecision == 4)
        for ranges in 2...7 {
            let split = try Self.wide(text(), ranges: ranges).get()
            #expect(split.members == one.members, "\(ranges) ranges")
            #expect(split.timestamps == one.timestamps && split.runStarts == one.runStarts)
        }
        // One bad line at every row, so that some fall on a join: the same error (file, line,
        // column, detail) whatever the split. A blank line in the middle shifts the line numbers.
        let edits: [(String, (inout [String], Int) -> Void)] = [
            ("time out of order", { lines, r in lines[r] = ([dates[max(r - 2, 0)]] + symbols.indices.map { cell($0, r) }).joined(separator: ",") }),
            ("duplicate time", { lines, r in lines[r] = ([dates[max(r - 1, 0)]] + symbols.indices.map { cell($0, r) }).joined(separator: ",") }),
            ("bad cell", { lines, r in lines[r] = dates[r] + ",1,x,2,3" }),
            ("short row", { lines, r in lines[r] = dates[r] + ",1" }),
            ("bad time", { lines, r in lines[r] = "soon,1,2,3,4" }),
        ]
        for (name, edit) in edits {
            for r in 1..<rows {
                let bad = text { lines in
                    edit(&lines, r)
                    lines.insert("", at: 17)
                }
                guard case .failure(let expected) = Self.wide(bad, ranges: 1) else {
                    Issue.record("\(name) at row \(r): no error in one pass")
                    continue
                }
                for ranges in 2...5 {
                    guard case .failure(let error) = Self.wide(bad, ranges: ranges) else {
                        Issue.record("\(name) at row \(r), \(ranges) ranges: no error")
                        continue
                    }
                    #expect(error == expected, "\(name) at row \(r), \(ranges) ranges")
                }
            }
        }
    }
}
