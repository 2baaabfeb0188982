import CrocCore
import CrocSupport

/// The simulated venue shared by backtests, the RL environment and paper
/// trading: it keeps working orders, fills them against bars, charges
/// commission and slippage, and books fills into the portfolio.
///
/// Fill rules:
/// - market orders fill at the next bar's open (`.nextOpen`, default) or
///   immediately at the signal bar's close (`.close`);
/// - a buy limit fills when the bar's low reaches it, at the limit or at the
///   open if the bar gaps below it (sell limits mirror this);
/// - a buy stop triggers when the high reaches it and fills at the stop or
///   at the open if the bar gaps above it (sell stops mirror this);
/// - slippage applies to market and stop fills, never to limit fills;
/// - an order placed on bar t is first evaluated on bar t + 1;
/// - a buy that would cost more than the cash, commission included, is
///   rejected with `.insufficientCash`; a sell beyond the position is
///   rejected unless shorting is allowed (shorts need cash ≥ notional + fees).
public struct SimulatedExchange: Sendable {
    /// The instrument traded.
    public let instrument: Instrument
    /// Costs.
    public let fees: FeeModel
    /// When market orders fill.
    public let fillTiming: FillTiming
    /// Whether sells may open short positions.
    public let allowShort: Bool
    /// Orders accepted and not yet filled or cancelled, oldest first.
    public private(set) var workingOrders: [Order] = []
    /// The spare order array `process` swaps with `workingOrders` (kept to reuse its storage).
    private var spareOrders: [Order] = []

    /// Creates an exchange.
    public init(instrument: Instrument, fees: FeeModel, fillTiming: FillTiming = .nextOpen, allowShort: Bool = false) {
        self.instrument = instrument
        self.fees = fees
        self.fillTiming = fillTiming
        self.allowShort = allowShort
    }

    /// Accepts or rejects a new order. In `.close` mode a market order fills
    /// at once at `bar`'s close.
    /// - Parameters:
    ///   - order: The order.
    ///   - bar: The bar during which it was placed.
    ///   - barIndex: That bar's index.
    ///   - portfolio: The account, updated with any fill.
    ///   - emit: Receives the resulting events in order.
    public mutating func submit(_ order: Order, bar: Bar, barIndex: Int, portfolio: inout Portfolio, emit: (OrderEvent) -> Void) {
        if let reason = staticRejection(order) {
            emit(.rejected(order, reason))
            return
        }
        if fillTiming == .close, case .market = order.type {
            let price = fees.slipped(instrument.price(bar.close), side: order.side)
            execute(order, at: price, bar: bar, barIndex: barIndex, portfolio: &portfolio, emit: emit)
            return
        }
        workingOrders.append(order)
        emit(.accepted(order))
    }

    /// Cancels a working order.
    /// - Returns: The cancelled order, or nil if it was not working.
    public mutating func cancel(_ id: OrderID) -> Order? {
        guard let i = workingOrders.firstIndex(where: { $0.id == id }) else { return nil }
        return workingOrders.remove(at: i)
    }

    /// Evaluates working orders against a new bar, oldest first.
    /// - Parameters:
    ///   - openOnly: Treat the bar as a single price, its open (used to
    ///     settle orders when a run ends, as backtesting.py does).
    public mutating func process(bar: Bar, barIndex: Int, portfolio: inout Portfolio, openOnly: Bool = false, emit: (OrderEvent) -> Void) {
        guard !workingOrders.isEmpty else { return }
        // The orders move out and the still-working ones go back one by one, into the spare
        // buffer: no array is copied or allocated per bar.
        var orders = spareOrders
        swap(&orders, &workingOrders)
        defer {
            orders.removeAll(keepingCapacity: true)
            spareOrders = orders
        }
        let open = instrument.price(bar.open)
        let high = openOnly ? open : instrument.price(bar.high)
        let low = openOnly ? open : instrument.price(bar.low)
        let day = bar.timestamp.daysSinceEpoch
        for order in orders {
            if order.createdBar >= barIndex && !openOnly {
                workingOrders.append(order)  // placed on this bar: evaluated from the next one
                continue
            }
            if order.timeInForce == .day && order.createdAt.daysSinceEpoch != day {
                emit(.cancelled(order))
                continue
            }
            var price: Price?
            switch order.type {
            case .market:
                price = fees.slipped(open, side: order.side)
            case .limit(let limit):
                if order.side == .buy, low <= limit {
                    price = min(open, limit)
                } else if order.side == .sell, high >= limit {
                    price = max(open, limit)
                }
            case .stop(let stop):
                if order.side == .buy, high >= stop {
                    price = fees.slipped(max(open, stop), side: .buy)
                } else if order.side == .sell, low <= stop {
                    price = fees.slipped(min(open, stop), side: .sell)
                }
            }
            if let price {
                execute(order, at: price, bar: bar, barIndex: barIndex, portfolio: &portfolio, emit: emit)
            } else if order.timeInForce == .ioc {
                emit(.cancelled(order))
            } else {
                workingOrders.append(order)
            }
        }
    }

    /// Rejections that do not depend on the fill price.
    package func staticRejection(_ order: Order) -> RejectionReason? {
        guard order.symbol == instrument.symbol else { return .unknownSymbol(order.symbol) }
        switch order.size {
        case .quantity(let q):
            guard instrument.isValidQuantity(q) else { return .invalidQuantity(q, step: instrument.quantityStep) }
        case .cashFraction(let f):
            guard f.raw > 0, f <= .one else { return .invalidCashFraction(f) }
        }
        switch order.type {
        case .market: return nil
        case .limit(let p), .stop(let p): return p.raw > 0 ? nil : .invalidPrice(p)
        }
    }

    /// Why a fill of `quantity` at `price` (`notional` their product, `commission` its fee) is
    /// refused now, or nil when the account affords it: a buy needs cash ≥ notional +
    /// commission (buying back a short releases no cash); a sell beyond `held`, the position
    /// before it, opens a short, which needs `allowShort` and equity ≥ the short's notional +
    /// commission (shorts are fully collateralised). `held` is read for sells only.
    package func refusal(
        _ side: OrderSide,
        quantity: Quantity,
        price: Price,
        notional: Money,
        commission: Money,
        held: @autoclosure () -> Quantity,
        portfolio: Portfolio
    ) -> RejectionReason? {
        let cash = portfolio.cash
        if side == .buy {
            let required = notional + commission
            return required > cash ? .insufficientCash(required: required, available: cash) : nil
        }
        let held = held()
        let opening = quantity - (held.raw > 0 ? min(held, quantity) : .zero)
        guard opening.raw > 0 else { return nil }
        guard allowShort else { return .shortingDisabled(requested: quantity, held: held) }
        let shortNotional = opening * price
        let equity = portfolio.equity
        return shortNotional + commission > equity ? .insufficientCash(required: shortNotional + commission, available: equity) : nil
    }

    /// Fills `order` at `price` now if the account can afford it (settlement at the end of a run).
    package mutating func execute(_ order: Order, at price: Price, bar: Bar, barIndex: Int, portfolio: inout Portfolio, emit: (OrderEvent) -> Void) {
        let cash = portfolio.cash
        let quantity: Quantity
        switch order.size {
        case .quantity(let q):
            quantity = q
        case .cashFraction(let f):
            quantity = fees.affordableQuantity(budget: cash * f, price: price, step: instrument.quantityStep)
            if quantity.isZero {
                let needed = instrument.quantityStep * price + fees.commission(notional: instrument.quantityStep * price)
                emit(.rejected(order, .insufficientCash(required: needed, available: cash * f)))
                return
            }
        }
        let notional = quantity * price
        let commission = fees.commission(notional: notional)
        if let reason = refusal(
            order.side,
            quantity: quantity,
            price: price,
            notional: notional,
            commission: commission,
            held: portfolio.position(instrument.symbol).quantity,
            portfolio: portfolio
        ) {
            emit(.rejected(order, reason))
            return
        }
        let fill = Fill(
            orderID: order.id,
            symbol: order.symbol,
            side: order.side,
            quantity: quantity,
            price: price,
            commission: commission,
            timestamp: bar.timestamp,
            barIndex: barIndex
        )
        portfolio.apply(fill)
        emit(.filled(order, fill))
    }
}
