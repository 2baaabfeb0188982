import CrocCore
import Foundation
import Testing

@testable import CrocData

/// Large files read strictly are parsed in two parts at once: the result and every error must be
/// exactly what one pass over the file gives (`inspect` is always one pass: it is the reference).
@Suite("CSV loader: two parts at once")
struct ParallelCSVTests {
    /// A minute-bar file large enough to be split (> `parallelThreshold`).
    static func rows(_ count: Int) -> [String] {
        var out: [String] = []
        out.reserveCapacity(count)
        let start: Int64 = 1_600_000_000
        for i in 0..<count {
            let t = Timestamp(nanoseconds: (start + Int64(i) * 60) * 1_000_000_000).iso8601()
            let base = 100 + Double(i % 997) * 0.01
            out.append("\(t),\(base),\(base + 0.5),\(base - 0.5),\(base + 0.125),\(1000 + i % 13)")
        }
        return out
    }

    static let header = "Date,Open,High,Low,Close,Volume"

    static func text(_ rows: [String]) -> String { ([header] + rows).joined(separator: "\n") + "\n" }

    /// The byte offset where the loader splits `text` and the line number of the first row after it.
    static func split(_ text: String) -> (line: Int, row: Int) {
        let bytes = Array(text.utf8)
        let bodyStart = header.utf8.count + 1
        var mid = bodyStart + (bytes.count - bodyStart) / 2
        while mid < bytes.count && bytes[mid - 1] != 10 { mid += 1 }
        let line = 1 + bytes[0..<mid].filter { $0 == 10 }.count  // lines before mid, header included
        return (line + 1, line - 1)  // (the first line of part two, its row index)
    }

    func firstProblem(_ text: String) throws -> CSVError {
        try #require(try CSVBarLoader.inspect(text: text, file: "big.csv").problems.first)
    }

    func strictError(_ text: String) -> CSVError? {
        do {
            _ = try CSVBarLoader.parse(text: text, file: "big.csv")
            return nil
        } catch { return error }
    }

    @Test("a clean file: the same bars, precision and count as one pass")
    func clean() throws {
        let text = Self.text(Self.rows(120_000))
        #expect(text.utf8.count > CSVBarLoader.parallelThreshold)
        let strict = try CSVBarLoader.parse(text: text, file: "big.csv")
        let reference = try CSVBarLoader.inspect(text: text, file: "big.csv")
        #expect(reference.problemCount == 0)
        #expect(strict == reference.series)
        #expect(strict.count == 120_000)
        #expect(strict.pricePrecision == reference.series.pricePrecision)
    }

    @Test("a bad number deep in the second part is reported at its true line")
    func errorInSecondPart() throws {
        var rows = Self.rows(120_000)
        rows[100_000] = rows[100_000].replacingOccurrences(of: ",1", with: ",1x", options: [], range: nil)
        let text = Self.text(rows)
        let e = try #require(strictError(text))
        #expect(e == (try firstProblem(text)))
        #expect(e.line == 100_002)
        #expect(e.file == "big.csv")
    }

    @Test("problems in both parts: the earlier one in the file wins")
    func errorsInBothParts() throws {
        var rows = Self.rows(120_000)
        rows[10_000] = rows[10_000] + ",extra"
        rows[110_000] = "garbage"
        let text = Self.text(rows)
        let e = try #require(strictError(text))
        #expect(e == (try firstProblem(text)))
        #expect(e.line == 10_002)
        #expect(e.code == .extraFields)
    }

    @Test("the order of timestamps is checked where the parts meet")
    func orderAtTheSeam() throws {
        for duplicate in [true, false] {
            var rows = Self.rows(120_000)
            let (line, row) = Self.split(Self.text(rows))
            // The first row of part two repeats (or precedes) the last row of part one.
            let previous = rows[row - 1].split(separator: ",", maxSplits: 1)
            let earlier = rows[row - 2].split(separator: ",", maxSplits: 1)
            let rest = rows[row].split(separator: ",", maxSplits: 1)[1]
            rows[row] = "\(duplicate ? previous[0] : earlier[0]),\(rest)"
            let text = Self.text(rows)
            #expect(Self.split(text).line == line)  // same lengths: the split did not move
            let e = try #require(strictError(text))
            #expect(e == (try firstProblem(text)))
            #expect(e.line == line)
            #expect(e.code == (duplicate ? .duplicateTimestamp : .outOfOrderTimestamp))
        }
    }

    @Test("a bad first row of part two is reported as itself, not as an order problem")
    func badFirstRowOfPartTwo() throws {
        var rows = Self.rows(120_000)
        let (line, row) = Self.split(Self.text(rows))
        rows[row] = rows[row].replacingOccurrences(of: ",", with: ";")
        let text = Self.text(rows)
        let e = try #require(strictError(text))
        #expect(e == (try firstProblem(text)))
        #expect(e.line == line)
    }

    @Test("CRLF endings and blank lines across the seam load as one pass does")
    func crlfAndBlankLines() throws {
        var rows = Self.rows(120_000)
        for k in stride(from: 0, to: rows.count, by: 7_001) { rows[k] += "\r\n" }
        let text = ([Self.header] + rows).joined(separator: "\r\n") + "\r\n"
        let strict = try CSVBarLoader.parse(text: text, file: "big.csv")
        let reference = try CSVBarLoader.inspect(text: text, file: "big.csv")
        #expect(reference.problemCount == 0)
        #expect(strict == reference.series)
        #expect(strict.count == 120_000)
    }
}
