import CrocCore

/// Bars for tests: evenly spaced, open at the close, high and low a fixed spread around it.
public enum TestBars {
    /// One minute in nanoseconds.
    public static let minute: Int64 = 60_000_000_000
    /// One day in nanoseconds.
    public static let day: Int64 = 86_400_000_000_000

    /// The bar at `start + index × spacing` (nanoseconds): open = close, high = close + `spread`,
    /// low = close − `spread`.
    public static func bar(_ index: Int, close: Double, spread: Double = 0, spacing: Int64 = minute, start: Int64 = 0, volume: Double = 1) -> Bar {
        Bar(
            timestamp: Timestamp(nanoseconds: start + Int64(index) * spacing),
            open: close,
            high: close + spread,
            low: close - spread,
            close: close,
            volume: volume
        )
    }

    /// One ``bar(_:close:spread:spacing:start:volume:)`` per close, in order.
    public static func series(_ closes: [Double], spread: Double = 0, spacing: Int64 = minute, start: Int64 = 0) -> [Bar] {
        closes.enumerated().map { bar($0.offset, close: $0.element, spread: spread, spacing: spacing, start: start) }
    }
}
