import CrocCore

/// A trading strategy: sees each bar once, in time order, and acts through
/// its `StrategyContext`.
///
/// The engine calls `onBar` with the bar just completed and nothing else:
/// a strategy keeps whatever history it needs itself, so it cannot read a
/// bar before the engine delivers it (no look-ahead by construction). The
/// same value runs unchanged in backtests and live trading.
public protocol Strategy: Sendable {
    /// A name for reports and logs.
    var name: String { get }
    /// Bars needed before the first signal is possible (the longest
    /// indicator warm-up); buy & hold statistics start at this bar.
    var warmupBars: Int { get }
    /// Handles a completed bar.
    ///
    /// A strategy that cannot decide (a model that fails, bad input) throws:
    /// the engine then discards the orders placed during this call, records
    /// the failure, and goes on with the next bar. A backtest fails with the
    /// first such error; the live loop logs and counts each one.
    mutating func onBar(_ bar: Bar, context: inout StrategyContext) throws
    /// Handles an order event (fill, rejection, cancellation). Default: nothing.
    mutating func onOrderEvent(_ event: OrderEvent, context: inout StrategyContext)
    /// Handles a completed time slice of a universe (the bars of every
    /// symbol that has one at `slice.time`), once per slice, after the fills
    /// and marks. Portfolio strategies implement this; the default hands the
    /// first symbol's bar, when the slice has one, to `onBar`, so a
    /// single-instrument strategy trades the universe's first symbol.
    mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws
}

extension Strategy {
    /// Ignores order events.
    public mutating func onOrderEvent(_ event: OrderEvent, context: inout StrategyContext) {}

    /// Passes the first symbol's bar to `onBar`.
    public mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        if slice.lanes.first == 0 { try onBar(slice.bars[0], context: &context) }
    }
}

/// What a strategy asks the engine to do.
public enum StrategyCommand: Sendable, Hashable {
    /// Send a new order.
    case submit(Order)
    /// Cancel a working order.
    case cancel(OrderID)
    /// Move the named symbols to target weights of equity, sized when the
    /// orders execute (`Rebalance`'s rules: sells first, each order from the
    /// account's value at that moment, buys cut to the cash left).
    case rebalance([Rebalance.Target])
}

/// The strategy's window onto its account, and its way to act.
///
/// Read-only account fields are refreshed by the engine before every call;
/// orders placed here are handed to the execution client right after the
/// call returns, in the order they were placed.
public struct StrategyContext: Sendable {
    /// The traded instrument (the first symbol's, in a multi-instrument run).
    public package(set) var instrument: Instrument
    /// The instruments of the run, one per lane (`symbols[k]` is `instruments[k].symbol`).
    public let instruments: [Instrument]
    /// The symbols of the run, by lane.
    public let symbols: [String]
    /// Signed position per lane (kept by multi-instrument runs; lane 0 is `position`).
    public package(set) var positions: [Quantity]
    /// Each lane's last close (zero before its first bar; kept by multi-instrument runs).
    public package(set) var closes: [Price]
    /// Average entry price per lane (lane 0 is `averagePrice`).
    public package(set) var averagePrices: [Price]
    /// Whether sells may open short positions (negative target weights need it).
    public let allowShort: Bool
    /// The most the absolute target weights of a rebalance may add up to (1: no leverage).
    public var maxGrossWeight: Double = 1
    private let laneOfSymbol: [String: Int]
    /// The costs orders will pay (for sizing).
    public let fees: FeeModel
    /// Index of the current bar (0-based).
    public package(set) var barIndex: Int = -1
    /// Time of the current bar.
    public package(set) var time: Timestamp = Timestamp(nanoseconds: 0)
    /// Signed position quantity.
    public package(set) var position: Quantity = .zero
    /// Average entry price of the open position (zero when flat).
    public package(set) var averagePrice: Price = .zero
    /// Cash balance.
    public package(set) var cash: Money = .zero
    /// Cash plus marked positions, at the current bar's close.
    public package(set) var equity: Money = .zero
    /// Orders still working at the venue.
    public package(set) var workingOrders: [Order] = []
    /// Commands placed during the current call.
    public package(set) var commands: [StrategyCommand] = []
    package var nextOrderID: UInt64 = 1
    package let runID: String
    /// `runID` + "-", the fixed part of every client order id.
    private let clientOrderPrefix: String

    /// Creates a context (the engine does this).
    public init(instrument: Instrument, fees: FeeModel, runID: String = "run", allowShort: Bool = false) {
        self.init(instruments: [instrument], fees: fees, runID: runID, allowShort: allowShort)
    }

    /// Creates the context of a multi-instrument run (the engine does this).
    /// - Precondition: at least one instrument, symbols distinct.
    public init(instruments: [Instrument], fees: FeeModel, runID: String = "run", allowShort: Bool = false) {
        precondition(!instruments.isEmpty, "at least one instrument")
        self.instrument = instruments[0]
        self.instruments = instruments
        self.symbols = instruments.map(\.symbol)
        self.positions = Array(repeating: .zero, count: instruments.count)
        self.closes = Array(repeating: .zero, count: instruments.count)
        self.averagePrices = Array(repeating: .zero, count: instruments.count)
        self.allowShort = allowShort
        self.laneOfSymbol = Dictionary(uniqueKeysWithValues: instruments.enumerated().map { ($1.symbol, $0) })
        self.fees = fees
        self.runID = runID
        self.clientOrderPrefix = runID + "-"
    }

    /// The lane of `symbol`, or nil when the run does not trade it.
    public func lane(of symbol: String) -> Int? { laneOfSymbol[symbol] }

    /// The signed position held in `symbol` (zero for a symbol not traded).
    public func position(of symbol: String) -> Quantity {
        guard let k = laneOfSymbol[symbol] else { return .zero }
        return k == 0 ? position : positions[k]
    }

    /// `symbol`'s last close, or nil before its first bar (or for a symbol not traded).
    public func close(of symbol: String) -> Price? {
        guard let k = laneOfSymbol[symbol], closes[k].raw != 0 else { return nil }
        return closes[k]
    }

    private func requireLane(_ symbol: String) throws(RebalanceError) -> Int {
        guard let k = laneOfSymbol[symbol] else { throw .unknownSymbol(symbol, known: symbols) }
        return k
    }

    /// Places an order for `symbol` (any symbol of the run).
    /// - Throws: `RebalanceError.unknownSymbol` for a symbol the run does not trade.
    @discardableResult
    public mutating func submit(
        symbol: String,
        _ side: OrderSide,
        _ size: OrderSize,
        type: OrderType = .market,
        timeInForce: TimeInForce = .gtc,
        tag: String? = nil
    ) throws(RebalanceError) -> OrderID {
        _ = try requireLane(symbol)
        return place(symbol, side, size, type: type, timeInForce: timeInForce, tag: tag)
    }

    /// Buys or sells the difference between `target` and the position in
    /// `symbol` (nothing when they are equal), with a market order.
    /// - Returns: The order's id, or nil when no order was needed.
    /// - Throws: `RebalanceError.unknownSymbol`.
    @discardableResult
    public mutating func orderTargetQuantity(_ symbol: String, _ target: Quantity, tag: String? = nil) throws(RebalanceError) -> OrderID? {
        _ = try requireLane(symbol)
        let delta = target - position(of: symbol)
        guard delta.raw != 0 else { return nil }
        return place(symbol, delta.raw > 0 ? .buy : .sell, .quantity(delta.magnitude), type: .market, timeInForce: .gtc, tag: tag)
    }

    /// Moves `symbol` to `weight` of equity (0 closes it), sized when the
    /// order executes. Calls in a row join one rebalance, so their orders
    /// run sells first.
    /// - Throws: `RebalanceError` for an unknown symbol, a non-finite
    ///   weight, a negative weight without shorting, or weights of the
    ///   joined rebalance adding up to more than `maxGrossWeight`.
    public mutating func orderTargetPercent(_ symbol: String, _ weight: Double) throws(RebalanceError) {
        _ = try requireLane(symbol)
        var targets: [Rebalance.Target] = []
        var joins = false
        if case .rebalance(let pending)? = commands.last {
            targets = pending
            joins = true
        }
        if let i = targets.firstIndex(where: { $0.symbol == symbol }) {
            targets[i].weight = weight
        } else {
            targets.append(Rebalance.Target(symbol: symbol, weight: weight))
        }
        try Rebalance.validate(targets, allowShort: allowShort, maxGrossWeight: maxGrossWeight)
        if joins { commands[commands.count - 1] = .rebalance(targets) } else { commands.append(.rebalance(targets)) }
    }

    /// Moves the account to `weights` (fractions of equity by symbol); every
    /// position in a symbol not named is closed. Orders run sells first and
    /// are sized when they execute (`Rebalance`).
    /// - Throws: `RebalanceError` (nothing is placed).
    public mutating func rebalance(to weights: [String: Double]) throws(RebalanceError) {
        var lanes = [Double](repeating: 0, count: symbols.count)
        for (symbol, w) in weights { lanes[try requireLane(symbol)] = w }
        try rebalance(weights: lanes)
    }

    /// `rebalance(to:)` with one weight per lane, in lane order.
    /// - Throws: `RebalanceError` (nothing is placed); `.laneCount` when the count is not the run's.
    public mutating func rebalance(weights: [Double]) throws(RebalanceError) {
        guard weights.count == symbols.count else { throw .laneCount(found: weights.count, expected: symbols.count) }
        // A zero weight for a symbol not held orders nothing and moves no sum: such targets are
        // left out (a top-k of 500 names 500 weights but trades a few dozen symbols).
        var targets: [Rebalance.Target] = []
        targets.reserveCapacity(symbols.count)  // one allocation, not one per doubling
        for k in symbols.indices where weights[k] != 0 || (k == 0 ? position : positions[k]).raw != 0 {
            targets.append(Rebalance.Target(symbol: symbols[k], weight: weights[k]))
        }
        // One target per lane of the run's (distinct) symbols: nothing can be named twice.
        try Rebalance.validate(targets, allowShort: allowShort, maxGrossWeight: maxGrossWeight, distinctSymbols: true)
        commands.append(.rebalance(targets))
    }

    /// Sends market orders that flatten every position of the run.
    public mutating func closeAllPositions(tag: String? = nil) {
        for k in symbols.indices {
            let q = k == 0 ? position : positions[k]
            guard q.raw != 0 else { continue }
            place(symbols[k], q.raw > 0 ? .sell : .buy, .quantity(q.magnitude), type: .market, timeInForce: .gtc, tag: tag)
        }
    }

    /// Whether no position is held.
    public var isFlat: Bool { position.raw == 0 }

    /// Places an order.
    /// - Returns: Its id, for cancelling.
    @discardableResult
    public mutating func submit(
        _ side: OrderSide,
        _ size: OrderSize,
        type: OrderType = .market,
        timeInForce: TimeInForce = .gtc,
        tag: String? = nil
    ) -> OrderID {
        place(instrument.symbol, side, size, type: type, timeInForce: timeInForce, tag: tag)
    }

    @discardableResult
    private mutating func place(
        _ symbol: String,
        _ side: OrderSide,
        _ size: OrderSize,
        type: OrderType,
        timeInForce: TimeInForce,
        tag: String?
    ) -> OrderID {
        let order = makeOrder(symbol: symbol, side: side, size: size, type: type, timeInForce: timeInForce, tag: tag)
        commands.append(.submit(order))
        return order.id
    }

    /// A new order with the next id, stamped with the current bar (the engine's own orders —
    /// rebalance legs, settlement — take their ids here too, so ids never repeat).
    package mutating func makeOrder(
        symbol: String,
        side: OrderSide,
        size: OrderSize,
        type: OrderType = .market,
        timeInForce: TimeInForce = .gtc,
        tag: String? = nil
    ) -> Order {
        let id = OrderID(nextOrderID)
        nextOrderID += 1
        return Order(
            id: id,
            clientOrderID: clientOrderPrefix + String(id.rawValue),
            symbol: symbol,
            side: side,
            type: type,
            size: size,
            timeInForce: timeInForce,
            createdAt: time,
            createdBar: barIndex,
            tag: tag
        )
    }

    /// Buys `size`.
    @discardableResult
    public mutating func buy(_ size: OrderSize, type: OrderType = .market, timeInForce: TimeInForce = .gtc, tag: String? = nil) -> OrderID {
        submit(.buy, size, type: type, timeInForce: timeInForce, tag: tag)
    }

    /// Sells `size`.
    @discardableResult
    public mutating func sell(_ size: OrderSize, type: OrderType = .market, timeInForce: TimeInForce = .gtc, tag: String? = nil) -> OrderID {
        submit(.sell, size, type: type, timeInForce: timeInForce, tag: tag)
    }

    /// Sends a market order that flattens the position; nil when already flat.
    @discardableResult
    public mutating func closePosition(tag: String? = nil) -> OrderID? {
        guard position.raw != 0 else { return nil }
        return submit(position.raw > 0 ? .sell : .buy, .quantity(position.magnitude), tag: tag)
    }

    /// Cancels a working order.
    public mutating func cancel(_ id: OrderID) { commands.append(.cancel(id)) }

    /// Cancels every working order.
    public mutating func cancelAllOrders() {
        for o in workingOrders { commands.append(.cancel(o.id)) }
    }

    /// The largest quantity affordable with `cash` at `price`, costs included.
    public func affordableQuantity(at price: Price) -> Quantity {
        fees.affordableQuantity(budget: cash, price: fees.slipped(price, side: .buy), step: instrument.quantityStep)
    }
}
