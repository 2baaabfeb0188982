import CrocCore
import CrocEngine

/// Paper trading: orders fill against live prices with the backtest's fee and
/// slippage model, no money moves.
///
/// Feed it prices with `updatePrice(symbol:price:time:)` (from a trade or
/// kline stream). Market orders fill at once at the last price, slipped
/// against the taker; limit orders rest and fill at their limit when a later
/// price reaches it. Cash and positions follow the fills, with the same
/// affordability and shorting rules as `SimulatedExchange`.
public actor PaperExecutionClient: ExecutionClient {
    /// `paper`.
    public nonisolated let venueName = "paper"
    /// Costs, shared with the backtest.
    public let fees: FeeModel
    /// Whether sells may open shorts.
    public let allowShort: Bool
    private var portfolio: Portfolio
    private var prices: [String: (price: Price, time: Timestamp)] = [:]
    private var orders: [String: VenueOrder] = [:]
    private var resting: [String: [(id: String, limit: Price)]] = [:]
    private var nextID: UInt64 = 1
    private nonisolated let broadcaster = ReportBroadcaster()

    /// Creates a paper account.
    /// - Parameters:
    ///   - cash: Starting cash in the quote currency.
    ///   - fees: Commission and slippage (the backtest's model).
    ///   - allowShort: Whether sells may open shorts.
    public init(cash: Money, fees: FeeModel, allowShort: Bool = false) {
        self.portfolio = Portfolio(cash: cash)
        self.fees = fees
        self.allowShort = allowShort
    }

    /// The account as the paper venue sees it.
    public var account: Portfolio { portfolio }

    /// The last price seen for `symbol`.
    public func lastPrice(_ symbol: String) -> Price? { prices[symbol]?.price }

    /// A new market price: marks the account and fills resting limits it reaches.
    public func updatePrice(symbol: String, price: Price, time: Timestamp) {
        prices[symbol] = (price, time)
        portfolio.mark(symbol, at: price)
        guard var book = resting[symbol], !book.isEmpty else { return }
        var keep: [(id: String, limit: Price)] = []
        for entry in book {
            guard let order = orders[entry.id], order.status.isOpen else { continue }
            let reached = order.side == .buy ? price <= entry.limit : price >= entry.limit
            if reached, let filled = fill(order, at: entry.limit, time: time) {
                broadcaster.send(ExecutionReport(snapshot: filled))
            } else if reached {
                broadcaster.send(ExecutionReport(snapshot: orders[entry.id]!))
            } else {
                keep.append(entry)
            }
        }
        book = keep
        resting[symbol] = book
    }

    public func submit(_ request: OrderRequest, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        guard orders[request.clientOrderID] == nil else { throw .duplicateOrder(clientOrderID: request.clientOrderID) }
        guard request.quantity.raw > 0 else { throw .invalidRequest("quantity \(request.quantity) must be > 0") }
        guard let last = prices[request.symbol] else { throw .invalidRequest("\(request.symbol): no price yet") }
        let id = nextID
        nextID += 1
        let order = VenueOrder(
            clientOrderID: request.clientOrderID,
            venueOrderID: "P\(id)",
            symbol: request.symbol,
            side: request.side,
            status: .new,
            quantity: request.quantity,
            executedQuantity: .zero,
            cumulativeQuote: .zero,
            cumulativeCommission: .zero,
            updateTime: last.time
        )
        orders[request.clientOrderID] = order
        switch request.kind {
        case .market:
            if let filled = fill(order, at: fees.slipped(last.price, side: request.side), time: last.time) { return filled }
            let rejected = orders[request.clientOrderID]!
            throw .rejected(operation: "submit", code: nil, message: rejected.rejectReason ?? "rejected")
        case .limit(let limit):
            guard limit.raw > 0 else {
                orders[request.clientOrderID]?.status = .rejected
                throw .invalidRequest("limit price \(limit) must be > 0")
            }
            let marketable = request.side == .buy ? last.price <= limit : last.price >= limit
            if marketable {
                // Crosses the book: fills at once at the better of last price and limit.
                let px = request.side == .buy ? min(last.price, limit) : max(last.price, limit)
                if let filled = fill(order, at: px, time: last.time) { return filled }
                let rejected = orders[request.clientOrderID]!
                throw .rejected(operation: "submit", code: nil, message: rejected.rejectReason ?? "rejected")
            }
            if request.timeInForce == .ioc {
                orders[request.clientOrderID]?.status = .expired
                return orders[request.clientOrderID]!
            }
            resting[request.symbol, default: []].append((request.clientOrderID, limit))
            return order
        }
    }

    public func cancel(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        guard var order = orders[clientOrderID] else { throw .orderNotFound(clientOrderID: clientOrderID) }
        guard order.status.isOpen else {
            throw .rejected(operation: "cancel", code: nil, message: "order \(clientOrderID) is \(order.status.rawValue)")
        }
        order.status = .canceled
        orders[clientOrderID] = order
        resting[order.symbol]?.removeAll { $0.id == clientOrderID }
        return order
    }

    public func queryOrder(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder? {
        orders[clientOrderID]
    }

    public func openOrders(symbol: String?, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [VenueOrder] {
        orders.values.filter { $0.status.isOpen && (symbol == nil || $0.symbol == symbol) }
    }

    public func balances(deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [AssetBalance] {
        var out = [AssetBalance(asset: "CASH", free: portfolio.cash, locked: .zero)]
        for (symbol, position) in portfolio.positions.sorted(by: { $0.key < $1.key }) {
            out.append(AssetBalance(asset: symbol, free: position.quantity, locked: .zero))
        }
        return out
    }

    public nonisolated func executionReports() -> AsyncStream<ExecutionReport> { broadcaster.stream() }

    /// Fills `order` completely at `price` if the account allows it; otherwise marks it rejected.
    /// - Returns: The filled order, or nil when rejected.
    private func fill(_ order: VenueOrder, at price: Price, time: Timestamp) -> VenueOrder? {
        var order = order
        let notional = order.quantity * price
        let commission = fees.commission(notional: notional)
        let held = portfolio.position(order.symbol).quantity
        if order.side == .buy {
            if notional + commission > portfolio.cash {
                order.status = .rejected
                order.rejectReason =
                    "insufficient cash: requires \((notional + commission).formatted(decimals: 2)), available \(portfolio.cash.formatted(decimals: 2))"
                orders[order.clientOrderID] = order
                return nil
            }
        } else {
            let opening = order.quantity - (held.raw > 0 ? min(held, order.quantity) : .zero)
            if opening.raw > 0 && !allowShort {
                order.status = .rejected
                order.rejectReason = "shorting disabled: sell \(order.quantity) exceeds position \(held)"
                orders[order.clientOrderID] = order
                return nil
            }
        }
        let fill = Fill(
            orderID: OrderID(0),
            symbol: order.symbol,
            side: order.side,
            quantity: order.quantity,
            price: price,
            commission: commission,
            timestamp: time,
            barIndex: 0
        )
        portfolio.apply(fill)
        order.status = .filled
        order.executedQuantity = order.quantity
        order.cumulativeQuote = notional
        order.cumulativeCommission = commission
        order.updateTime = time
        orders[order.clientOrderID] = order
        return order
    }
}
