import CrocCore

/// Assembles the bars of many symbols, arriving one at a time and in any
/// order from a combined stream, into the time slices the portfolio engine
/// processes (`MarketSlice`: the bars of every symbol that share an open time).
///
/// A value type with an injected clock (`now`, in nanoseconds of any
/// monotonic clock), tested synchronously; `BinanceKlineFeed` drives it.
///
/// Rules:
/// - A time's slice is emitted once every lane has delivered a bar at or after
///   that time (each lane's stream has moved past it), or once `grace` has
///   passed since the time's first bar arrived: a symbol that sent nothing for
///   that time is absent from the slice — it does not trade then and is marked
///   at its last close, as a universe's missing bar is in a backtest.
/// - Slices leave in time order: a later time that is ready waits for an
///   earlier one that is not.
/// - A bar not after its lane's last one is a duplicate (a replay after a
///   reconnect) and is dropped; a bar for a time already emitted (its lane was
///   later than the grace) is late and is dropped. Both are counted, never
///   booked twice.
public struct SliceAssembler: Sendable {
    /// How many lanes (symbols), numbered 0..<lanes.
    public let lanes: Int
    /// How long a time waits for its missing lanes, in nanoseconds.
    public let graceNanoseconds: Int64
    /// Bars dropped as duplicates (not after their lane's last bar).
    public private(set) var duplicates = 0
    /// Bars dropped as late (their time was already emitted without them).
    public private(set) var late = 0
    /// Slices emitted with some lane missing (after the grace).
    public private(set) var incomplete = 0

    private var lastSeen: [Int64?]
    private var emittedThrough: Int64?
    private var pending: [Int64: Pending] = [:]

    private struct Pending: Sendable {
        var firstArrival: Int64
        var bars: [(lane: Int, bar: Bar)]
    }

    /// An empty assembler.
    /// - Parameters:
    ///   - lanes: The number of symbols.
    ///   - graceNanoseconds: How long a time waits for a symbol that has not sent its bar.
    public init(lanes: Int, graceNanoseconds: Int64) {
        self.lanes = max(1, lanes)
        self.graceNanoseconds = max(0, graceNanoseconds)
        self.lastSeen = Array(repeating: nil, count: max(1, lanes))
    }

    /// The open time (ms) of the newest bar `lane` delivered, if any (gap detection).
    public func lastOpenTime(lane: Int) -> Int64? { lane >= 0 && lane < lanes ? lastSeen[lane] : nil }

    /// Times waiting for a lane.
    public var pendingCount: Int { pending.count }

    /// Adds `lane`'s bar that opened at `openTime` (ms); returns the slices it completed, oldest first.
    public mutating func add(lane: Int, openTime: Int64, bar: Bar, now: Int64) -> [MarketSlice] {
        guard lane >= 0, lane < lanes else { return [] }
        if let last = lastSeen[lane], openTime <= last {
            duplicates += 1
            return []
        }
        lastSeen[lane] = openTime
        if let done = emittedThrough, openTime <= done {
            late += 1
            return []
        }
        pending[openTime, default: Pending(firstArrival: now, bars: [])].bars.append((lane, bar))
        return drain(now: now)
    }

    /// The slices whose grace ran out by `now` (and those they held back), oldest first.
    public mutating func expire(now: Int64) -> [MarketSlice] { drain(now: now) }

    private mutating func drain(now: Int64) -> [MarketSlice] {
        var out: [MarketSlice] = []
        for t in pending.keys.sorted() {
            guard let p = pending[t] else { continue }
            let complete = lastSeen.allSatisfy { ($0 ?? .min) >= t }
            guard complete || now - p.firstArrival >= graceNanoseconds else { break }
            pending[t] = nil
            emittedThrough = t
            if p.bars.count < lanes { incomplete += 1 }
            let sorted = p.bars.sorted { $0.lane < $1.lane }
            out.append(MarketSlice(time: Timestamp(nanoseconds: t * 1_000_000), lanes: sorted.map(\.lane), bars: sorted.map(\.bar)))
        }
        return out
    }
}
