/// One OHLCV bar. Prices are `Double` for analytics and models; the ledger
/// converts them to `FixedPoint` at the instrument's precision.
@frozen
public struct Bar: Hashable, Sendable, Codable {
    /// The bar's open time.
    public var timestamp: Timestamp
    /// Opening price.
    public var open: Double
    /// Highest price.
    public var high: Double
    /// Lowest price.
    public var low: Double
    /// Closing price.
    public var close: Double
    /// Traded volume (0 when the source has none).
    public var volume: Double

    /// Creates a bar.
    @inlinable
    public init(timestamp: Timestamp, open: Double, high: Double, low: Double, close: Double, volume: Double) {
        self.timestamp = timestamp
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }

    /// The largest price the exact ledger represents (`FixedPoint`'s range, 9.2e10).
    public static let maxPrice = FixedPoint.maxMagnitude
    /// The smallest price the exact ledger represents without rounding it to zero (1e-8).
    public static let minPrice = 1e-8
    /// The largest volume accepted (features scale it; 1e15 keeps it exact in a `Double`).
    public static let maxVolume = 1e15

    /// Whether every price lies in [`minPrice`, `maxPrice`] and the volume in [0, `maxVolume`]
    /// (NaN fails): what the engine can turn into exact amounts without a trap.
    public var isWithinLedgerRange: Bool {
        let lo = min(open, high, low, close)
        let hi = max(open, high, low, close)
        return lo >= Self.minPrice && hi <= Self.maxPrice && volume >= 0 && volume <= Self.maxVolume && !(lo.isNaN || hi.isNaN)
    }
}

/// A market event the engine processes.
public enum MarketEvent: Sendable, Hashable {
    /// A completed bar.
    case bar(Bar)
    /// The completed bars of a universe's symbols that share one timestamp
    /// (a multi-instrument feed; lanes number the run's symbols).
    case slice(MarketSlice)
}
