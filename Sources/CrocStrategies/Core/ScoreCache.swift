import CrocCore
import Synchronization

/// The scores of `model_topk`'s rebalances, shared by the trials of one sweep.
///
/// A rebalance's scores depend only on the model, the rebalance schedule and every bar seen
/// up to it — not on `top`, `dropout`, `minScore`, `weighting` or `bottom`, which only pick
/// from them. A sweep over those (Examples/sweep-model-topk.yaml) computed the same features
/// and predictions once per trial; with a cache, the first trial to reach a rebalance scores it
/// and the others read the scores back, so their cost is the engine and the selection.
///
/// A score row is found only under the same model (the bundle directory, read once by the
/// sweep's `BundleCache`), the same schedule (`every`, the slice index), the same number of
/// symbols and a digest of every bar the strategy has seen, in order (`BarDigest`: times, lanes
/// and the five prices of each bar): a trial on other data (a walk-forward window, an edited
/// file) never reads another's scores. The rows are the ones the strategy computed, so a trial's results are the same bit for
/// bit with or without the cache (tested). Thread-safe; bounded by `capacityBytes` (past it,
/// rows are computed and not kept).
public final class ScoreCache: Sendable {
    /// What a rebalance's score row depends on.
    public struct Key: Hashable, Sendable {
        /// The model's bundle directory.
        public var model: String
        /// Slices between rebalances.
        public var every: Int
        /// The rebalance's slice index.
        public var slice: Int
        /// The run's symbols (a row has one score per lane): two universes can agree on every bar
        /// so far and still differ in length — a walk-forward window that adds a symbol listed
        /// later, after the others.
        public var lanes: Int
        /// Every bar seen up to and including the rebalance's slice.
        public var data: BarDigest
    }

    private struct State {
        var rows: [Key: [Double]] = [:]
        var bytes = 0
        var hits = 0
    }

    private let state = Mutex(State())
    /// The most score bytes kept.
    public let capacityBytes: Int

    /// An empty cache keeping at most `capacityBytes` of scores (64 MiB: a 500-symbol
    /// universe's 120 rebalances take 0.5 MiB per schedule).
    public init(capacityBytes: Int = 64 << 20) {
        self.capacityBytes = capacityBytes
    }

    /// The score row stored under `key` (empty: the rebalance had no symbol to score), or nil.
    public func row(_ key: Key) -> [Double]? {
        state.withLock { s in
            guard let row = s.rows[key] else { return nil }
            s.hits += 1
            return row
        }
    }

    /// Keeps `row` under `key` while the cache has room.
    public func store(_ row: [Double], for key: Key) {
        state.withLock { s in
            let bytes = row.count * 8 + 64
            guard s.rows[key] == nil, s.bytes + bytes <= capacityBytes else { return }
            s.rows[key] = row
            s.bytes += bytes
        }
    }

    /// Rows read back so far.
    public var hits: Int { state.withLock { $0.hits } }

    /// Rows kept.
    public var count: Int { state.withLock { $0.rows.count } }
}

/// An order-sensitive digest of the bars a strategy has seen: six independent 64-bit chains
/// (time and lane, open, high, low, close, volume), each folding its value in by a multiply
/// and a shift (bijective for a given state, so two sequences that differ anywhere differ in
/// that chain unless it collides; all six must collide at once for two different histories to
/// match). The chains are independent, so a slice of 500 bars folds in at the multiplier's
/// throughput, not its latency.
public struct BarDigest: Hashable, Sendable {
    var time: UInt64 = 0x243F_6A88_85A3_08D3
    var open: UInt64 = 0x1319_8A2E_0370_7344
    var high: UInt64 = 0xA409_3822_299F_31D0
    var low: UInt64 = 0x082E_FA98_EC4E_6C89
    var close: UInt64 = 0x4528_21E6_38D0_1377
    var volume: UInt64 = 0xBE54_66CF_34E9_0C6C

    /// A digest of nothing.
    public init() {}

    @inline(__always)
    static func fold(_ h: UInt64, _ x: UInt64) -> UInt64 {
        let m = (h ^ x) &* 0x9E37_79B9_7F4A_7C15
        return m ^ (m &>> 29)
    }

    /// Folds in one slice: its time and bar count, then each bar with its lane.
    public mutating func add(_ slice: MarketSlice) {
        time = Self.fold(time, UInt64(bitPattern: slice.time.nanoseconds))
        time = Self.fold(time, UInt64(slice.lanes.count))
        slice.lanes.withUnsafeBufferPointer { lanes in
            slice.bars.withUnsafeBufferPointer { bars in
                for j in 0..<min(lanes.count, bars.count) {
                    let b = bars[j]
                    time = Self.fold(
                        time,
                        UInt64(bitPattern: Int64(lanes[j])) ^ (UInt64(bitPattern: b.timestamp.nanoseconds) &* 0xD6E8_FEB8_6659_FD93)
                    )
                    open = Self.fold(open, b.open.bitPattern)
                    high = Self.fold(high, b.high.bitPattern)
                    low = Self.fold(low, b.low.bitPattern)
                    close = Self.fold(close, b.close.bitPattern)
                    volume = Self.fold(volume, b.volume.bitPattern)
                }
            }
        }
    }
}
