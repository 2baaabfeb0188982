import CrocCore
import CrocTestSupport
import Foundation
import Testing

@testable import CrocData

@Suite("CSV loader: shipped data")
struct CSVSampleDataTests {
    @Test("loads GOOGL daily bars completely")
    func googl() throws {
        let s = try CSVBarLoader.load(path: sampleData("GOOGL.csv"))
        #expect(s.count == 2335)
        #expect(s.symbol == "GOOGL")
        #expect(s.pricePrecision == 6)
        #expect(Timestamp(nanoseconds: s.timestamps[0]).description == "2009-05-22")
        #expect(s.open[0] == 198.528534)
        #expect(s.close[0] == 196.946945)
        #expect(s.volume[0] == 3_433_700)
        #expect(Timestamp(nanoseconds: s.timestamps.last!).description == "2018-08-29")
    }

    @Test("loads EURUSD hourly bars completely")
    func eurusd() throws {
        let s = try CSVDataSource(path: sampleData("EURUSD_1H_ASK.csv")).loadBars()
        #expect(s.count == 6225)
        #expect(s.pricePrecision == 5)
        #expect(Timestamp(nanoseconds: s.timestamps[0]).description == "2017-01-01T22:00:00")
        #expect(s.volume[0] == 143_539_993.3)
    }
}

@Suite("CSV loader: validation errors name file, line and column")
struct CSVErrorTests {
    static let header = "Date,Open,High,Low,Close,Volume\n"
    static let good = "2020-01-01,10,12,9,11,100\n"

    struct Case: Sendable, CustomStringConvertible {
        let row: String
        let code: CSVError.Code
        let column: Int?
        let name: String?
        var description: String { "\(code)" }
    }

    static let cases: [Case] = [
        Case(row: "2020-01-02,abc,12,9,11,100", code: .notANumber, column: 2, name: "open"),
        Case(row: "2020-01-02,10,,9,11,100", code: .missingValue, column: 3, name: "high"),
        Case(row: "2020-01-02,10,12,9", code: .missingValue, column: 5, name: "close"),
        Case(row: "2020-01-02,10,12,9,NaN,100", code: .nonFinite, column: 5, name: "close"),
        Case(row: "2020-01-02,10,inf,9,11,100", code: .nonFinite, column: 3, name: "high"),
        Case(row: "2020-01-02,0,12,9,11,100", code: .nonPositivePrice, column: 2, name: "open"),
        Case(row: "2020-01-02,10,12,-9,11,100", code: .nonPositivePrice, column: 4, name: "low"),
        Case(row: "2020-01-02,10,8,9,8.5,100", code: .highBelowLow, column: 3, name: "high"),
        Case(row: "2020-01-02,13,12,9,11,100", code: .openOutsideRange, column: 2, name: "open"),
        Case(row: "2020-01-02,10,12,9,8,100", code: .closeOutsideRange, column: 5, name: "close"),
        Case(row: "2020-01-02,10,12,9,11,-1", code: .negativeVolume, column: 6, name: "volume"),
        Case(row: "2020-01-01,10,12,9,11,100", code: .duplicateTimestamp, column: 1, name: "date"),
        Case(row: "2019-12-31,10,12,9,11,100", code: .outOfOrderTimestamp, column: 1, name: "date"),
        Case(row: "2020-13-45,10,12,9,11,100", code: .badTimestamp, column: 1, name: "date"),
        Case(row: "yesterday,10,12,9,11,100", code: .badTimestamp, column: 1, name: "date"),
        Case(row: "2020-01-02,10,12,9,11,100,7", code: .extraFields, column: 7, name: nil),
        Case(row: "2020-01-02,10,12,9,11,1e", code: .notANumber, column: 6, name: "volume"),
    ]

    @Test("each bad row is reported with its location", arguments: cases)
    func badRow(c: Case) {
        let text = Self.header + Self.good + c.row + "\n"
        let e = #expect(throws: CSVError.self) { try CSVBarLoader.parse(text: text, file: "bars.csv") }
        #expect(e?.code == c.code)
        #expect(e?.file == "bars.csv")
        #expect(e?.line == 3)
        #expect(e?.column == c.column)
        #expect(e?.columnName == c.name)
        #expect(e?.description.hasPrefix("bars.csv:3: ") == true)
    }

    @Test("a missing required column is named")
    func missingColumn() {
        let e = #expect(throws: CSVError.self) { try CSVBarLoader.parse(text: "Date,Open,High,Close\n2020-01-01,1,2,1\n") }
        #expect(e?.code == .missingColumn)
        #expect(e?.line == 1)
        #expect(e?.detail.contains("low") == true)
    }

    @Test("two timestamp columns are ambiguous, not silently resolved")
    func duplicateColumn() {
        let e = #expect(throws: CSVError.self) { try CSVBarLoader.parse(text: "Date,Time,Open,High,Low,Close\n") }
        #expect(e?.code == .duplicateColumn)
        #expect(e?.column == 2)
    }

    @Test("empty and unreadable files are typed errors")
    func emptyAndUnreadable() {
        #expect(throws: CSVError.self) { try CSVBarLoader.parse(text: "") }
        let e = #expect(throws: CSVError.self) { try CSVBarLoader.load(path: "/nonexistent/bars.csv") }
        #expect(e?.code == .unreadable)
        #expect(e?.description.contains("/nonexistent/bars.csv") == true)
        let dir = #expect(throws: CSVError.self) { try CSVBarLoader.load(path: "/tmp") }
        #expect(dir?.code == .unreadable)
    }

    @Test("inspect collects every problem and keeps only valid rows")
    func inspect() throws {
        let text =
            Self.header + Self.good + "2020-01-02,abc,12,9,11,100\n2020-01-03,10,12,9,11,100\n2020-01-03,10,12,9,11,100\n2020-01-04,10,8,9,8.5,1\n"
        let r = try CSVBarLoader.inspect(text: text)
        #expect(r.rowCount == 5)
        #expect(r.series.count == 2)
        #expect(r.problems.map(\.code) == [.notANumber, .duplicateTimestamp, .highBelowLow])
        #expect(r.problems.map(\.line) == [3, 5, 6])
        #expect(r.problemCount == 3)
    }
}

@Suite("CSV loader: formats")
struct CSVFormatTests {
    func firstTimestamp(_ ts: String, _ format: TimestampFormat = .auto) throws -> String {
        let s = try CSVBarLoader.parse(text: "time,open,high,low,close\n\(ts),1,1,1,1\n", options: CSVOptions(timestampFormat: format))
        return Timestamp(nanoseconds: s.timestamps[0]).iso8601()
    }

    @Test(
        "timestamps in every supported spelling",
        arguments: [
            ("2017-01-01", "2017-01-01T00:00:00"),
            ("2017-01-01 22:00:00", "2017-01-01T22:00:00"),
            ("2017-01-01T22:00", "2017-01-01T22:00:00"),
            ("2017-01-01T22:00:00.250Z", "2017-01-01T22:00:00.250"),
            ("2017-01-01T22:00:00+02:00", "2017-01-01T20:00:00"),
            ("2017-01-01T22:00:00-0130", "2017-01-01T23:30:00"),
            ("01.01.2017 22:00:00.000", "2017-01-01T22:00:00"),
            ("01.01.2017", "2017-01-01T00:00:00"),
            ("1483308000", "2017-01-01T22:00:00"),
            ("1483308000123", "2017-01-01T22:00:00.123"),
            ("\"2017-01-01\"", "2017-01-01T00:00:00"),
        ]
    )
    func autoFormats(text: String, expected: String) throws {
        #expect(try firstTimestamp(text) == expected)
    }

    @Test("explicit formats: epoch units and patterns")
    func explicitFormats() throws {
        #expect(try firstTimestamp("1483308000", .epochSeconds) == "2017-01-01T22:00:00")
        #expect(try firstTimestamp("1483308000000", .epochMilliseconds) == "2017-01-01T22:00:00")
        #expect(try firstTimestamp("01/02/2017 07:30", .pattern("%m/%d/%Y %H:%M")) == "2017-01-02T07:30:00")
        #expect(try firstTimestamp("20170102-073005.5", .pattern("%Y%m%d-%H%M%S.%f")) == "2017-01-02T07:30:05.500")
        #expect(throws: CSVError.self) { try firstTimestamp("2017-01-02", .pattern("%d/%m/%Y")) }
        #expect(TimestampFormat(configValue: "epoch_ms") == .epochMilliseconds)
        #expect(TimestampFormat(configValue: "weird") == nil)
    }

    @Test("headers match case-insensitively; CRLF, BOM, quotes, blank lines and extra columns are handled")
    func tolerantLayout() throws {
        let text =
            "\u{FEFF}\"Timestamp\";\"OPEN\";High;LOW;Close;Adj Close;VOLUME\r\n2020-01-01;1.5;2;1;1.75;9;10\r\n\r\n2020-01-02;1.75;2.5;1.5;2;9;0\r\n"
        let s = try CSVBarLoader.parse(text: text, options: CSVOptions(delimiter: UInt8(ascii: ";"), symbol: "ABC"))
        #expect(s.count == 2)
        #expect(s.symbol == "ABC")
        #expect(s.close == [1.75, 2])
        #expect(s.volume == [10, 0])
        #expect(s.pricePrecision == 2)
    }

    @Test("volume is optional and reads as zero when absent")
    func noVolume() throws {
        let s = try CSVBarLoader.parse(text: "date,open,high,low,close\n2020-01-01,1,2,1,1.5\n")
        #expect(s.volume == [0])
    }

    @Test("numbers parse exactly like Swift's correctly rounded parser")
    func numberParsing() throws {
        var rng = SystemRandomNumberGenerator()
        var lines = ["date,open,high,low,close"]
        var expected: [Double] = []
        let samples = ["0.1", "1e-7", "12345678901.2345678901234", "3.14159265358979323846", "1E5", "0.000001234", "98765.4321e-3"]
        for (i, text) in samples.enumerated() {
            lines.append("\(2000 + i)-01-01,\(text),\(text),\(text),\(text)")
            expected.append(Double(text)!)
        }
        for i in 0..<500 {
            let v = Double.random(in: 1e-3...1e6, using: &rng)
            let text = String(v)
            lines.append("\(2100 + i / 12)-\(String(format: "%02d", i % 12 + 1))-01,\(text),\(text),\(text),\(text)")
            expected.append(v)
        }
        let s = try CSVBarLoader.parse(text: lines.joined(separator: "\n"))
        #expect(s.close == expected)
    }
}

/// xorshift64: the tests' fixed sequences of random values (a seed other than 0 gives the
/// same sequence on every run).
struct XorShift64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

@Suite("CSV numbers")
struct NumberParserTests {
    /// What the parser makes of `text` (a field alone in its buffer).
    func parsed(_ text: String) -> NumberParse {
        let bytes = Array(text.utf8) + [0]
        return bytes.withUnsafeBufferPointer { NumberParser.parse($0.baseAddress!, 0, bytes.count - 1) }
    }

    @Test("decimal fields are the correctly rounded double of their text, with their fraction digits: short and long, signs, points, exponents")
    func correctlyRounded() {
        var random = XorShift64(state: 31)  // a fixed set of random fields
        func next() -> UInt64 { random.next() }
        var fields: [String] = ["0", "-0", "+7", "5.", ".5", "-.25", "0.1", "0.0000000000000001", "123456789012345", "1234567890123456"]
        fields += ["12345678.1234567", "9007199254740993", "1e5", "2.5E-3", "-1.5e+2", "00012.500", "99999999999999999999.5"]
        for _ in 0..<4_000 {
            let whole = next() % 1_000_000_000
            let digits = Int(next() % 12)
            let fraction = digits == 0 ? "" : "." + String(String(next()).prefix(digits))
            let sign = ["", "-", "+"][Int(next() % 3)]
            fields.append("\(sign)\(whole)\(fraction)")
        }
        for field in fields {
            guard case .value(let v, let fractionDigits) = parsed(field) else {
                Issue.record("\(field) not parsed")
                continue
            }
            let expected = Double(field.hasPrefix("+") ? String(field.dropFirst()) : field)!
            #expect(v.bitPattern == expected.bitPattern, "\(field): \(v) against \(expected)")
            if !field.lowercased().contains("e") {
                let point = field.firstIndex(of: ".")
                #expect(fractionDigits == (point.map { field.distance(from: $0, to: field.endIndex) - 1 } ?? 0), "\(field)")
            }
        }
    }

    @Test("the word-at-a-time reader takes plain fields with parse's value, fraction digits and end, and leaves every other field to parse")
    func plainFields() {
        var random = XorShift64(state: 97)  // a fixed set of random fields
        func next() -> UInt64 { random.next() }
        func digits(_ count: Int) -> String { String((0..<count).map { _ in Character(String(next() % 10)) }) }
        // 1 to 7 digits, then perhaps a point and 0 to 7 digits.
        func isPlain(_ text: String) -> Bool {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            let allDigits = { (part: Substring) in part.allSatisfy { $0.isASCII && $0.isNumber } }
            return parts.count <= 2 && (1...7).contains(parts[0].count) && allDigits(parts[0])
                && (parts.count == 1 || (parts[1].count <= 7 && allDigits(parts[1])))
        }
        // Every length of integer and fraction part around the eight-byte word, then odd fields.
        var fields: [String] = []
        for whole in 0...9 {
            for fraction in -1...9 { fields.append(digits(whole) + (fraction < 0 ? "" : "." + digits(fraction))) }
        }
        fields += ["0", "5.", "00012.500", "0000000.0000000", "-1.5", "+2", " 3.5", "\"4.25\"", "1e5", "2.5E-3", ".5", "", "1.2.3", "12a", "nan"]
        var taken = 0
        for field in fields {
            for terminator in [",", "\n", "\r\n", ";", " ", "x", "e", ".", ""] {
                // The field, its terminator, then padding so that 16 bytes are readable from its start.
                let bytes = Array((field + terminator).utf8) + [UInt8](repeating: 0x37, count: 16)
                let got = bytes.withUnsafeBufferPointer { NumberParser.parsePlain($0.baseAddress!, 0) }
                // As a whole field of a comma-separated line: only when a comma or the line's end follows.
                let lineEnd = bytes.firstIndex { $0 == 10 || $0 == 13 } ?? (field + terminator).utf8.count
                let whole = bytes.withUnsafeBufferPointer {
                    NumberParser.plainField($0.baseAddress!, 0, lineEnd: lineEnd, delimiter: UInt8(ascii: ","), readable: $0.count)
                }
                let ends = got.map { $0.end == lineEnd || ($0.end < lineEnd && bytes[$0.end] == UInt8(ascii: ",")) } ?? false
                #expect((whole != nil) == ends && whole?.end == (ends ? got?.end : nil), "\(field)\(terminator) as a field")
                let short = bytes.withUnsafeBufferPointer {
                    NumberParser.plainField($0.baseAddress!, 0, lineEnd: lineEnd, delimiter: 44, readable: 15)
                }
                #expect(short == nil, "fewer than 16 readable bytes are left to parse")
                let plain = isPlain(field)
                guard let got else {
                    // (Without a terminator the padding's digits run on; a point after a field reads on.)
                    #expect(!plain || terminator == "" || terminator == ".", "\(field)\(terminator) should be read")
                    continue
                }
                // What it read is a plain number and ends where the field's digits end.
                let read = String(decoding: bytes[0..<got.end], as: UTF8.self)
                #expect(isPlain(read), "\(field)\(terminator) read as \(read)")
                guard read == field else { continue }  // the padding's digits ran on (no terminator)
                taken += 1
                guard case .value(let v, let fractionDigits) = parsed(field) else {
                    Issue.record("\(field) is not a number for parse")
                    continue
                }
                #expect(got.value.bitPattern == v.bitPattern, "\(field): \(got.value) against \(v)")
                #expect(got.fractionDigits == fractionDigits, "\(field): \(got.fractionDigits) fraction digits against \(fractionDigits)")
            }
        }
        #expect(taken > 500)
    }

    @Test("fields that are not numbers stay empty, invalid or not finite")
    func notNumbers() {
        for field in ["", "  ", "\"\""] {
            guard case .empty = parsed(field) else {
                Issue.record("\(field) should be empty")
                continue
            }
        }
        for field in [".", "-", "1.2.3", "12a", "1e", "--1", "1 2"] {
            guard case .invalid = parsed(field) else {
                Issue.record("\(field) should be invalid")
                continue
            }
        }
        for field in ["nan", "-inf", "Infinity"] {
            guard case .nonFinite = parsed(field) else {
                Issue.record("\(field) should be non-finite")
                continue
            }
        }
    }
}
