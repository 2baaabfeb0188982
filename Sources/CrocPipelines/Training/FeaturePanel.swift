import CrocCore
import CrocData
import CrocKernels
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
        // Members go in blocks of 8 (one cache line of a panel row): a block's matrices are
        // computed, then written line by line (below), so each line of the panel is filled by one
        // task at once — written member by member over all rows, every line was fetched 8
        // times. Each block writes every cell of its members
        // (NaN where a member has no bar), so the 8-byte-per-cell panel is never filled twice,
        // and blocks write disjoint cells, so they run concurrently into the one buffer.
        let block = 8
        let values = [Double](unsafeUninitializedCapacity: width * rows * n) { out, count in
            count = width * rows * n
            guard count > 0 else { return }
            // Huge pages before the first write: each panel row is 4 KB at 500 symbols, so a
            // block's writes touch a new 4 KB page per (time, column) — a TLB miss and, at first
            // touch, a page fault each; 2 MB pages turn ~50,000 of both per 200 MB into ~100.
            LargeMemory.adviseHugePages(UnsafeMutableRawPointer(out.baseAddress!), bytes: count * MemoryLayout<Double>.stride)
            let address = UInt(bitPattern: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: (n + block - 1) / block) { b in
                let panel = UnsafeMutablePointer<Double>(bitPattern: address)!
                let first = b * block
                let members = Array(universe.members[first..<min(n, first + block)])
                let matrices = members.map { pipeline.transform($0) }
                // Each member's bar at each row of the calendar (-1: none), by one walk of its times.
                var barAt = [Int32](repeating: -1, count: members.count * rows)
                universe.timestamps.withUnsafeBufferPointer { rowTimes in
                    for (j, member) in members.enumerated() {
                        member.timestamps.withUnsafeBufferPointer { times in
                            var i = 0
                            for t in 0..<rows where i < times.count && times[i] == rowTimes[t] {
                                barAt[j * rows + t] = Int32(truncatingIfNeeded: i)
                                i += 1
                            }
                        }
                    }
                }
                // Written by streaming stores, a panel line (8 symbols of one time and column) at
                // a time from the block's 8 matrices (CrocKernels): the lines are not read before
                // they are written, which halves the memory traffic of this 200 MB write.
                let counts = members.map { Int64($0.count) }
                withPointers(to: matrices.map(\.values)) { pointers in
                    barAt.withUnsafeBufferPointer { barAt in
                        croc_panel_write_members(
                            panel,
                            Int64(n),
                            Int64(rows),
                            Int64(first),
                            pointers,
                            counts,
                            barAt.baseAddress!,
                            Int64(members.count),
                            Int64(width)
                        )
                    }
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
        transformAll([transform])
    }

    /// Applies `transforms` in order to every row of every column (Qlib's processor chains,
    /// e.g. `[.rank, .zscore]`): each row goes through the whole chain while it is in cache,
    /// one pass over the panel instead of one per transform; the same values as
    /// `transformAll` once per transform. Rows in parallel.
    public mutating func transformAll(_ transforms: [CrossSectionTransform]) {
        let chain = transforms.filter { $0 != .none }
        guard !chain.isEmpty else { return }
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
                    for transform in chain { transform.apply(UnsafeMutableBufferPointer(start: base + r * n, count: n), scratch: &scratch) }
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

/// Calls `body` with a pointer to each array's elements (the arrays stay alive and unmoved
/// throughout), in order.
private func withPointers<R>(to arrays: [[Double]], _ body: ([UnsafePointer<Double>?]) -> R) -> R {
    func nest(_ k: Int, _ pointers: inout [UnsafePointer<Double>?]) -> R {
        guard k < arrays.count else { return body(pointers) }
        return arrays[k].withUnsafeBufferPointer { buffer in
            pointers.append(buffer.baseAddress)
            return nest(k + 1, &pointers)
        }
    }
    var pointers: [UnsafePointer<Double>?] = []
    pointers.reserveCapacity(arrays.count)
    return nest(0, &pointers)
}
