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
}

/// A market event the engine processes.
public enum MarketEvent: Sendable, Hashable {
    /// A completed bar.
    case bar(Bar)
}
