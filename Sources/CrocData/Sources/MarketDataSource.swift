import CrocCore

/// Historical market data that can be loaded in full (pull model).
///
/// Backtests and training read a `MarketDataSource`; live trading reads a
/// `MarketDataStream` (asynchronous). Both deliver the same `Bar`s.
public protocol MarketDataSource: Sendable {
    /// The symbol the bars belong to.
    var symbol: String { get }
    /// Loads and validates all bars.
    /// - Throws: a typed error naming where and why the data is bad.
    func loadBars() throws -> BarSeries
}

/// Bars already in memory (tests, synthetic data, slices of other sources).
public struct InMemoryDataSource: MarketDataSource {
    /// The bars.
    public let series: BarSeries
    /// The symbol.
    public var symbol: String { series.symbol }
    /// Wraps a series.
    public init(series: BarSeries) { self.series = series }
    /// Returns the series.
    public func loadBars() throws -> BarSeries { series }
}
