import CrocCore
import CrocData

/// A portfolio strategy made of an allocation rule (`PortfolioAllocator`):
/// it keeps a rolling panel of the universe's closes as the slices arrive
/// (only the rows the rule reads), asks the rule for target weights on each
/// slice, and rebalances to them with `StrategyContext.rebalance(weights:)`.
///
/// Registered as `equal_weight`, `inverse_volatility`, `momentum_topk` and
/// `min_variance` (`StrategyFactory.standard`). It sees a slice's closes
/// only when the slice is delivered, so it cannot look ahead.
public struct AllocatorStrategy: Strategy {
    /// The allocation rule.
    public let allocator: any PortfolioAllocator
    /// The closes seen so far (the last `allocator.window` rows).
    public private(set) var panel: ClosePanel?
    /// The weights of each rebalance decided: (row, weights by lane).
    public private(set) var decisions: [(row: Int, weights: [Double])] = []

    /// Wraps a rule.
    public init(allocator: any PortfolioAllocator) { self.allocator = allocator }

    public var name: String { allocator.name }
    public var warmupBars: Int { allocator.firstDecision }

    /// A single-instrument run is a universe of one symbol.
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) throws {
        try onSlice(MarketSlice(time: bar.timestamp, lanes: [0], bars: [bar]), context: &context)
    }

    public mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        if panel == nil { panel = ClosePanel(symbols: context.symbols, window: allocator.window) }
        panel!.append(time: slice.time.nanoseconds) { row in
            for (j, k) in slice.lanes.enumerated() { row[k] = slice.bars[j].close }
        }
        let t = panel!.count - 1
        guard let w = allocator.weights(panel!, at: t) else { return }
        decisions.append((t, w))
        try context.rebalance(weights: w)
    }
}
