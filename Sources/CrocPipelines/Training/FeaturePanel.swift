import CrocCore
import CrocData
import Foundation

/// The feature pipeline run per symbol of a universe into one panel indexed by
/// (time, symbol): the same YAML and indicators as a single series (batch =
/// streaming), each symbol's features computed over its own bars and placed at
/// its rows of the union calendar. A row where a symbol has no bar stays
/// missing (NaN) — nothing is forward-filled into a row a model would score —
/// and so do its warm-up rows.
public struct FeaturePanel: Sendable {
    /// The union calendar (nanoseconds since the epoch).
    public let times: [Int64]
    /// The symbols, in the universe's member order.
    public let symbols: [String]
    /// The feature columns' names.
    public let columnNames: [String]
    /// `values[(c * times.count + t) * symbols.count + s]`: column c, time t, symbol s.
    public private(set) var values: [Double]

    /// Runs `pipeline` over every member of `universe` (members in parallel).
    public init(universe: Universe, pipeline: FeaturePipeline) {
        let rows = universe.timestamps.count
        let n = universe.count
        let width = pipeline.width
        times = universe.timestamps
        symbols = universe.symbols
        columnNames = pipeline.columnNames
        var values = [Double](repeating: .nan, count: width * rows * n)
        // Each member's rows of the calendar, then its matrix scattered there (members write
        // disjoint cells, so they run concurrently into the one buffer).
        values.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            let address = UInt(bitPattern: base)
            DispatchQueue.concurrentPerform(iterations: n) { s in
                let panel = UnsafeMutablePointer<Double>(bitPattern: address)!
                let member = universe.members[s]
                let matrix = pipeline.transform(member)
                Self.forEachBar(of: member, in: universe) { i, t in
                    for c in 0..<width { panel[(c * rows + t) * n + s] = matrix[i, c] }
                }
            }
        }
        self.values = values
    }

    /// One column as time-major rows (`[t][symbol]`), or nil for an unknown name.
    public func column(named name: String) -> [[Double]]? {
        guard let c = columnNames.firstIndex(of: name) else { return nil }
        let rows = times.count
        let n = symbols.count
        return (0..<rows).map { t in Array(values[((c * rows + t) * n)..<((c * rows + t) * n + n)]) }
    }

    /// Applies a cross-sectional transform to every row of column `name`.
    /// - Returns: false for an unknown name.
    @discardableResult
    public mutating func transform(_ name: String, _ body: (inout [Double]) -> Void) -> Bool {
        guard let c = columnNames.firstIndex(of: name) else { return false }
        let rows = times.count
        let n = symbols.count
        var row = [Double](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { v in
            for t in 0..<rows {
                let start = (c * rows + t) * n
                for s in 0..<n { row[s] = v[start + s] }
                body(&row)
                for s in 0..<n { v[start + s] = row[s] }
            }
        }
        return true
    }

    /// Applies `transform` to every row of every column, rows in parallel (each row's
    /// cells are its own, so the result is the same as one row after another).
    public mutating func transformAll(_ transform: CrossSectionTransform) {
        guard transform != .none else { return }
        let rows = times.count
        let n = symbols.count
        let columns = columnNames.count
        values.withUnsafeMutableBufferPointer { v in
            let address = UInt(bitPattern: v.baseAddress!)
            // Rows are contiguous: each is transformed where it lies, through one scratch per task.
            let tasks = min(columns * rows, 64)
            DispatchQueue.concurrentPerform(iterations: tasks) { task in
                let base = UnsafeMutablePointer<Double>(bitPattern: address)!
                var scratch = CrossSection.RankScratch()
                let first = task * (columns * rows) / tasks
                let last = (task + 1) * (columns * rows) / tasks
                for r in first..<last {
                    transform.apply(UnsafeMutableBufferPointer(start: base + r * n, count: n), scratch: &scratch)
                }
            }
        }
    }

    /// Each symbol's return over its next `horizon` bars (close to close, in its own bars),
    /// at the row of the bar it starts from; NaN where fewer than `horizon` bars follow or the
    /// symbol has no bar (time-major `[t][symbol]`).
    /// - Precondition: horizon ≥ 1.
    public static func forwardReturns(_ universe: Universe, horizon: Int) -> [[Double]] {
        precondition(horizon >= 1, "a horizon of at least one bar")
        var out = [[Double]](repeating: [Double](repeating: .nan, count: universe.count), count: universe.timestamps.count)
        for (s, member) in universe.members.enumerated() {
            forEachBar(of: member, in: universe) { i, t in
                if i + horizon < member.count { out[t][s] = member.close[i + horizon] / member.close[i] - 1 }
            }
        }
        return out
    }

    /// Calls `body(i, t)` for each bar `i` of `member` with `t` its row of the union calendar
    /// (one forward walk: a member's times are union times, in order).
    private static func forEachBar(of member: BarSeries, in universe: Universe, _ body: (Int, Int) -> Void) {
        var t = 0
        for i in 0..<member.count {
            while universe.timestamps[t] != member.timestamps[i] { t += 1 }
            body(i, t)
        }
    }
}
