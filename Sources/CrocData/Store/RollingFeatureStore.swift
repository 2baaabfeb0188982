import CrocCore
import Foundation

/// Why the store refused an update.
public struct FeatureStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// The vector's length differs from the store's width.
        case wrongWidth
        /// The bar is not later than the symbol's latest bar.
        case outOfOrder
    }

    /// What went wrong.
    public var code: Code
    /// The symbol.
    public var symbol: String
    /// Detail for people.
    public var detail: String

    /// `feature store BTCUSDT: vector has 3 values, store width is 4`.
    public var description: String { "feature store \(symbol): \(detail)" }
}

/// A read-only view of one symbol's window: the last `count` bars and their
/// feature vectors, oldest first, as a row-major matrix. It points into the
/// store's memory: use it only inside the `withWindow` closure that lent it.
public struct FeatureWindow {
    /// Rows held (≤ the store's window).
    public let count: Int
    /// Values per row.
    public let width: Int
    /// The rows, row-major and contiguous (`count × width` values), oldest first.
    public let matrix: UnsafeBufferPointer<Double>
    /// The bars, oldest first.
    public let bars: UnsafeBufferPointer<Bar>

    /// The value at `row`, `column`.
    @inlinable public subscript(row: Int, column: Int) -> Double { matrix[row * width + column] }

    /// One row, without copying.
    public func row(_ i: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: matrix[(i * width)..<((i + 1) * width)])
    }

    /// The newest row.
    public var latest: UnsafeBufferPointer<Double>? { count > 0 ? row(count - 1) : nil }
}

/// Keeps the last `window` bars and feature vectors of every symbol in ring
/// buffers, and lends the window out as a contiguous matrix without copying.
///
/// Why a lock and not an actor: the point of the store is to hand a model the
/// window as a matrix *view*. An actor can only return values across its
/// isolation boundary, so every read would copy `window × width` doubles
/// (512 KB for 256 × 256). Here reads and writes take a lock for a short,
/// synchronous critical section, and `withWindow` runs the caller's closure on
/// the live memory inside it: no copy, no suspension while the lock is held,
/// and the type stays `Sendable` so any task may share it.
///
/// Each ring is stored twice over (slot `i` and `i + window`), so the last
/// `window` rows are always contiguous whatever the write position: one
/// extra store per append buys a copy-free view.
public final class RollingFeatureStore: @unchecked Sendable {
    // @unchecked: `rings` is only read or written between `lock.lock()` and
    // `lock.unlock()` (see `locked`), and views never escape `withWindow`.
    /// Rows kept per symbol.
    public let window: Int
    /// Values per feature vector.
    public let width: Int

    struct Ring {
        var values: [Double]  // 2 · window · width
        var bars: [Bar]  // 2 · window
        var next = 0  // slot of the next write
        var count = 0
    }

    private let lock = NSLock()
    private var rings: [String: Ring] = [:]

    private func locked<T>(_ body: (inout [String: Ring]) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&rings)
    }

    /// Creates a store.
    /// - Parameters:
    ///   - window: Rows kept per symbol (the blueprint's 256 by default), at least 1.
    ///   - width: Values per feature vector.
    public init(window: Int = 256, width: Int) {
        self.window = max(1, window)
        self.width = max(0, width)
    }

    /// Appends a bar and its feature vector for `symbol`.
    /// - Throws: `FeatureStoreError` for a vector of the wrong width or a bar
    ///   not later than the symbol's latest one.
    public func append(symbol: String, bar: Bar, features: [Double]) throws(FeatureStoreError) {
        guard features.count == width else {
            throw FeatureStoreError(code: .wrongWidth, symbol: symbol, detail: "vector has \(features.count) values, store width is \(width)")
        }
        let (window, width) = (self.window, self.width)
        let error: FeatureStoreError? = locked { all in
            var ring =
                all.removeValue(forKey: symbol)
                ?? Ring(
                    values: [Double](repeating: .nan, count: 2 * window * width),
                    bars: [Bar](
                        repeating: Bar(timestamp: Timestamp(nanoseconds: .min), open: 0, high: 0, low: 0, close: 0, volume: 0),
                        count: 2 * window
                    )
                )
            defer { all[symbol] = ring }
            if ring.count > 0 {
                let last = ring.bars[ring.next == 0 ? window - 1 : ring.next - 1]
                guard bar.timestamp > last.timestamp else {
                    return FeatureStoreError(code: .outOfOrder, symbol: symbol, detail: "bar at \(bar.timestamp) is not after \(last.timestamp)")
                }
            }
            let slot = ring.next
            ring.values.withUnsafeMutableBufferPointer { v in
                features.withUnsafeBufferPointer { f in
                    if width > 0 {
                        (v.baseAddress! + slot * width).update(from: f.baseAddress!, count: width)
                        (v.baseAddress! + (slot + window) * width).update(from: f.baseAddress!, count: width)
                    }
                }
            }
            ring.bars[slot] = bar
            ring.bars[slot + window] = bar
            ring.next = slot + 1 == window ? 0 : slot + 1
            ring.count = min(ring.count + 1, window)
            return nil
        }
        if let error { throw error }
    }

    /// Rows held for `symbol` (0 when unknown).
    public func count(for symbol: String) -> Int { locked { $0[symbol]?.count ?? 0 } }

    /// Symbols with at least one row, sorted.
    public var symbols: [String] { locked { $0.keys.sorted() } }

    /// The latest feature vector of `symbol` (a copy of one row), or nil.
    public func latestVector(for symbol: String) -> [Double]? {
        withWindow(for: symbol) { w in w.latest.map(Array.init) } ?? nil
    }

    /// The latest bar of `symbol`, or nil.
    public func latestBar(for symbol: String) -> Bar? {
        withWindow(for: symbol) { w in w.bars.last } ?? nil
    }

    /// Runs `body` on `symbol`'s window, in place; nil when the symbol has no rows.
    /// The lock is held while `body` runs: keep it short and synchronous.
    public func withWindow<R>(for symbol: String, _ body: (FeatureWindow) throws -> R) rethrows -> R? {
        let (window, width) = (self.window, self.width)
        return try locked { all -> R? in
            guard let ring = all[symbol], ring.count > 0 else { return nil }
            // Rows [end − count, end) of the doubled storage are the window, oldest first.
            let end = ring.next + window
            let start = end - ring.count
            return try ring.values.withUnsafeBufferPointer { v in
                try ring.bars.withUnsafeBufferPointer { b in
                    try body(
                        FeatureWindow(
                            count: ring.count,
                            width: width,
                            matrix: UnsafeBufferPointer(rebasing: v[(start * width)..<(end * width)]),
                            bars: UnsafeBufferPointer(rebasing: b[start..<end])
                        )
                    )
                }
            }
        }
    }
}
