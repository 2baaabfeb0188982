/// The bars of a universe that share one timestamp: what the engine hands a
/// strategy once per time step of a multi-instrument run.
///
/// Symbols are numbered by their place in the run (`StrategyContext.symbols`,
/// a "lane"); a symbol with no bar at this time is absent from `lanes` — it
/// does not trade now and stays marked at its last close.
public struct MarketSlice: Sendable, Hashable {
    /// The slice's time.
    public var time: Timestamp
    /// The lanes that have a bar now, ascending.
    public var lanes: [Int]
    /// Their bars, in the same order as `lanes`.
    public var bars: [Bar]

    /// Creates a slice.
    /// - Precondition: `lanes` ascending and as long as `bars`.
    public init(time: Timestamp, lanes: [Int], bars: [Bar]) {
        precondition(lanes.count == bars.count, "one bar per lane")
        self.time = time
        self.lanes = lanes
        self.bars = bars
    }

    /// The bar of `lane`, or nil when it has none at this time.
    public func bar(lane: Int) -> Bar? {
        var lo = 0
        var hi = lanes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if lanes[mid] < lane { lo = mid + 1 } else { hi = mid }
        }
        return lo < lanes.count && lanes[lo] == lane ? bars[lo] : nil
    }
}
