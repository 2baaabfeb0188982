import CrocCore
import CrocSupport

/// How much of the shared account one symbol's entry may use when a
/// single-instrument strategy runs per symbol (`PerSymbolStrategy`), after
/// freqtrade's `stake_amount` and `max_open_trades`.
public struct StakeRule: Sendable, Hashable {
    /// The budget of one entry.
    public enum Amount: Sendable, Hashable {
        /// Equity at the decision divided by the number of symbols (`equity / N`).
        case equalShare
        /// A fixed amount of cash per entry.
        case fixed(Money)
    }

    /// The budget of one entry (what the strategy's cash fraction applies to).
    public var amount: Amount
    /// The most positions open at once (nil: no cap); entries beyond it are dropped.
    public var maxOpen: Int?

    /// Creates a rule.
    public init(amount: Amount = .equalShare, maxOpen: Int? = nil) {
        self.amount = amount
        self.maxOpen = maxOpen
    }

    /// Parses the command line's form: `stake` is `equal` or a positive amount of cash;
    /// `maxOpen`, when given, at least 1.
    /// - Throws: `StrategyError` (`.invalidParameter`) naming `--stake` or `--max-open`.
    public init(parsing stake: String, maxOpen: Int?) throws(StrategyError) {
        if stake == "equal" {
            amount = .equalShare
        } else if let v = Double(stake), v > 0, v.isFinite, let m = FixedPoint(rounding: v) {
            amount = .fixed(m)
        } else {
            throw StrategyError(.invalidParameter, keyPath: "--stake", rule: "expects 'equal' or a positive amount of cash, got '\(stake)'")
        }
        if let maxOpen, maxOpen < 1 { throw StrategyError(.invalidParameter, keyPath: "--max-open", rule: "must be at least 1, got \(maxOpen)") }
        self.maxOpen = maxOpen
    }
}

/// Runs one instance of a single-instrument strategy per symbol of a
/// universe on the shared account: each instance sees only its symbol's
/// bars, position and working orders, exactly as it would alone; its entries
/// (orders sized as a fraction of cash) are re-sized to the stake rule's
/// budget, and entries beyond `maxOpen` open positions are dropped. Exits
/// are never touched.
public struct PerSymbolStrategy: Strategy {
    /// One instance per lane.
    public private(set) var instances: [any Strategy]
    /// The entry budget and the cap on open positions.
    public let stake: StakeRule
    /// Entries dropped by `maxOpen` or for want of cash.
    public private(set) var droppedEntries = 0

    /// Wraps one instance per symbol (`make(lane)` builds lane `k`'s).
    public init(symbols: Int, stake: StakeRule, make: (Int) -> any Strategy) {
        self.instances = (0..<symbols).map(make)
        self.stake = stake
    }

    public var name: String { "per_symbol(\(instances.first?.name ?? ""))" }
    public var warmupBars: Int { instances.map(\.warmupBars).max() ?? 0 }

    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) throws {
        try onSlice(MarketSlice(time: bar.timestamp, lanes: [0], bars: [bar]), context: &context)
    }

    public mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        let saved = (context.instrument, context.position, context.averagePrice, context.workingOrders)
        defer { (context.instrument, context.position, context.averagePrice, context.workingOrders) = saved }
        let all = saved.3
        var open = context.positions.indices.filter { ($0 == 0 ? saved.1 : context.positions[$0]).raw != 0 }.count
        var cashLeft = context.cash
        let share: Money
        switch stake.amount {
        case .equalShare: share = context.equity * FixedPoint(rounding: 1.0 / Double(max(1, context.symbols.count)))!
        case .fixed(let m): share = m
        }
        for (j, k) in slice.lanes.enumerated() {
            focus(&context, lane: k, all: all, lane0Position: saved.1, lane0Average: saved.2)
            let before = context.commands.count
            try instances[k].onBar(slice.bars[j], context: &context)
            guard context.commands.count > before else { continue }
            let flat = context.position.raw == 0
            let price = context.fees.slipped(context.instruments[k].price(slice.bars[j].close), side: .buy)
            var i = before
            while i < context.commands.count {
                guard case .submit(var order) = context.commands[i], flat, case .cashFraction(let f) = order.size else {
                    i += 1
                    continue
                }
                // An entry: capped by the open positions, sized from the stake (and the cash left).
                if let cap = stake.maxOpen, open >= cap {
                    context.commands.remove(at: i)
                    droppedEntries += 1
                    continue
                }
                let budget = min(cashLeft, share) * f
                let q = context.fees.affordableQuantity(budget: budget, price: price, step: context.instruments[k].quantityStep)
                guard q.raw > 0 else {
                    context.commands.remove(at: i)
                    droppedEntries += 1
                    continue
                }
                order.size = .quantity(q)
                context.commands[i] = .submit(order)
                if order.side == .buy { cashLeft -= q * price + context.fees.commission(notional: q * price) }
                open += 1
                i += 1
            }
        }
    }

    public mutating func onOrderEvent(_ event: OrderEvent, context: inout StrategyContext) {
        let order: Order
        switch event {
        case .accepted(let o), .rejected(let o, _), .cancelled(let o), .filled(let o, _): order = o
        }
        guard let k = context.lane(of: order.symbol) else { return }
        let saved = (context.instrument, context.position, context.averagePrice, context.workingOrders)
        defer { (context.instrument, context.position, context.averagePrice, context.workingOrders) = saved }
        focus(&context, lane: k, all: saved.3, lane0Position: saved.1, lane0Average: saved.2)
        instances[k].onOrderEvent(event, context: &context)
    }

    /// Points the context's single-instrument fields at lane `k`.
    private func focus(_ context: inout StrategyContext, lane k: Int, all: [Order], lane0Position: Quantity, lane0Average: Price) {
        context.instrument = context.instruments[k]
        context.position = k == 0 ? lane0Position : context.positions[k]
        context.averagePrice = k == 0 ? lane0Average : context.averagePrices[k]
        let symbol = context.symbols[k]
        context.workingOrders = all.isEmpty ? [] : all.filter { $0.symbol == symbol }
    }
}
