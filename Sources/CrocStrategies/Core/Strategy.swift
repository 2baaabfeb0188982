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
}

extension Strategy {
    /// Ignores order events.
    public mutating func onOrderEvent(_ event: OrderEvent, context: inout StrategyContext) {}
}

/// What a strategy asks the engine to do.
public enum StrategyCommand: Sendable, Hashable {
    /// Send a new order.
    case submit(Order)
    /// Cancel a working order.
    case cancel(OrderID)
}

/// The strategy's window onto its account, and its way to act.
///
/// Read-only account fields are refreshed by the engine before every call;
/// orders placed here are handed to the execution client right after the
/// call returns, in the order they were placed.
public struct StrategyContext: Sendable {
    /// The traded instrument.
    public let instrument: Instrument
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
    public init(instrument: Instrument, fees: FeeModel, runID: String = "run") {
        self.instrument = instrument
        self.fees = fees
        self.runID = runID
        self.clientOrderPrefix = runID + "-"
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
        let id = OrderID(nextOrderID)
        nextOrderID += 1
        let order = Order(
            id: id,
            clientOrderID: clientOrderPrefix + String(id.rawValue),
            symbol: instrument.symbol,
            side: side,
            type: type,
            size: size,
            timeInForce: timeInForce,
            createdAt: time,
            createdBar: barIndex,
            tag: tag
        )
        commands.append(.submit(order))
        return id
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
