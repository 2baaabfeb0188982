import CrocCore
import CrocModels

/// The positions an RL agent may choose.
public enum TradingActions: String, Sendable, Hashable, Codable, CaseIterable {
    /// 0 = flat, 1 = long (all cash).
    case flatLong = "flat_long"
    /// 0 = short, 1 = flat, 2 = long (shorts need `allowShort`).
    case shortFlatLong = "short_flat_long"
    /// A target position in [−1, 1] as a fraction of equity.
    case continuous

    /// The matching action space.
    public var space: ActionSpace {
        switch self {
        case .flatLong: return .discrete(2)
        case .shortFlatLong: return .discrete(3)
        case .continuous: return .continuous(low: -1, high: 1)
        }
    }
}

/// Maps an agent's action to a target exposure in [−1, 1].
public func targetExposure(_ action: Action, _ kind: TradingActions) -> Double {
    switch (kind, action) {
    case (.flatLong, .discrete(let a)): return a == 1 ? 1 : 0
    case (.shortFlatLong, .discrete(let a)): return Double(min(2, max(0, a)) - 1)
    case (.continuous, .continuous(let x)): return min(1, max(-1, x))
    case (.continuous, .discrete(let a)): return Double(a)
    case (_, .continuous(let x)): return x > 0.5 ? 1 : 0
    case (_, .vector(let v)): return targetExposure(.continuous(v.first ?? 0), kind)  // a single asset reads the first component
    }
}

/// Trades toward a target exposure: the one piece of order logic the RL
/// environment, its backtest replay and the `rl` strategy share.
public enum TargetExposureTrader {
    /// Places the orders that move the position toward `target` (fraction of
    /// equity; sign = direction) at `close`: flatten on 0 or a reversal (the
    /// new side follows on the next decision), buy with a cash fraction, size
    /// shorts from equity with a 2 % buffer.
    public static func trade(toward target: Double, close: Double, context: inout StrategyContext) {
        guard context.workingOrders.isEmpty else { return }
        let held = context.position
        if target == 0 {
            if held.raw != 0 { context.closePosition(tag: "rl-flat") }
            return
        }
        if target > 0 && held.raw < 0 || target < 0 && held.raw > 0 {
            context.closePosition(tag: "rl-reverse")
            return
        }
        if target > 0 && held.raw == 0 {
            context.buy(.cashFraction(FixedPoint(unchecked: min(1, target))), tag: "rl-long")
        } else if target < 0 && held.raw == 0 {
            let price = FixedPoint(unchecked: close)
            let q =
                (context.equity * FixedPoint(unchecked: -target)).divided(by: price * FixedPoint(unchecked: 1.02))?
                .floored(toMultipleOf: context.instrument.quantityStep) ?? .zero
            if q.raw > 0 { context.sell(.quantity(q), tag: "rl-short") }
        }
    }
}

/// Replays target exposures bar by bar (index = the engine's bar index):
/// how an RL episode is re-run through the backtest to prove parity.
public struct TargetScheduleStrategy: Strategy {
    /// Target exposure per bar; bars past the end keep the last target.
    public let schedule: [Double]
    private var target = 0.0
    /// "target-schedule".
    public var name: String { "target-schedule" }
    /// None.
    public var warmupBars: Int { 0 }

    /// Creates the replay.
    public init(schedule: [Double]) { self.schedule = schedule }

    /// Trades toward this bar's scheduled target.
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
        if context.barIndex < schedule.count { target = schedule[context.barIndex] }
        TargetExposureTrader.trade(toward: target, close: bar.close, context: &context)
    }
}

/// A strategy that never trades (an engine driven from outside through `TradingEngine.act`).
public struct IdleStrategy: Strategy {
    /// "idle".
    public var name: String { "idle" }
    /// None.
    public var warmupBars: Int { 0 }
    /// Does nothing.
    public init() {}
    /// Does nothing.
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) {}
}

/// Replays a schedule of portfolio weights: at slice `k` of the run (the
/// engine's bar index) it rebalances to `schedule[k]` when there is one — the
/// weights a portfolio RL environment decided, replayed through a backtest.
public struct WeightScheduleStrategy: Strategy {
    /// Weights by slice (one per lane), nil where nothing was decided.
    public let schedule: [[Double]?]
    /// "weight-schedule".
    public var name: String { "weight-schedule" }
    /// None.
    public var warmupBars: Int { 0 }

    /// Creates the replay.
    public init(schedule: [[Double]?]) { self.schedule = schedule }

    /// Nothing for a lone bar (a schedule is per slice).
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) throws {
        try onSlice(MarketSlice(time: bar.timestamp, lanes: [0], bars: [bar]), context: &context)
    }

    /// Rebalances to this slice's scheduled weights.
    public mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        let k = context.barIndex
        guard k >= 0, k < schedule.count, let w = schedule[k] else { return }
        try context.rebalance(weights: w)
    }
}
