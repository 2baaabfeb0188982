import CrocCore
import CrocEngine
import CrocSupport

/// Paper trading: orders fill against live prices with the backtest's fee and
/// slippage model, no money moves.
///
/// Feed it prices with `updatePrice(symbol:price:time:)` (from a trade or
/// kline stream). Market orders fill at once at the last price, slipped
/// against the taker; limit orders rest and fill at their limit when a later
/// price reaches it (a tick stream trades through the limit, it does not gap
/// past it). Every fill goes through `SimulatedExchange.execute` — the
/// backtest's own rules for validation, commission, cash-fraction sizing,
/// affordability, shorting and short collateral — so a paper fill and a
/// backtest fill of the same order at the same price are the same fill.
public actor PaperExecutionClient: ExecutionClient {
    /// `paper`.
    public nonisolated let venueName = "paper"
    /// Costs, shared with the backtest.
    public let fees: FeeModel
    /// Whether sells may open shorts.
    public let allowShort: Bool
    private var portfolio: Portfolio
    /// The backtest's exchange per symbol: its fill rules book every paper fill.
    private var exchanges: [String: SimulatedExchange] = [:]
    /// Instruments by symbol (others get 8-decimal prices and quantities).
    private let instruments: [String: Instrument]
    private var ticks = 0
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
    ///   - instruments: The instruments traded (quantity step, price
    ///     precision); a symbol not listed trades with 8 decimals of both.
    public init(cash: Money, fees: FeeModel, allowShort: Bool = false, instruments: [Instrument] = []) {
        self.portfolio = Portfolio(cash: cash)
        self.fees = fees
        self.allowShort = allowShort
        self.instruments = Dictionary(instruments.map { ($0.symbol, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The exchange whose rules fill `symbol`'s orders.
    private func exchange(_ symbol: String) -> SimulatedExchange {
        if let e = exchanges[symbol] { return e }
        let instrument = instruments[symbol] ?? Instrument(symbol: symbol, pricePrecision: 8, quantityStep: FixedPoint(raw: 1))
        let e = SimulatedExchange(instrument: instrument, fees: fees, fillTiming: .close, allowShort: allowShort)
        exchanges[symbol] = e
        return e
    }

    /// The account as the paper venue sees it.
    public var account: Portfolio { portfolio }

    /// The last price seen for `symbol`.
    public func lastPrice(_ symbol: String) -> Price? { prices[symbol]?.price }

    /// A new market price: marks the account and fills resting limits it reaches.
    public func updatePrice(symbol: String, price: Price, time: Timestamp) {
        ticks += 1
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
            if let filled = fill(order, at: fees.slipped(last.price, side: request.side), time: last.time, cashFraction: request.cashFraction) {
                return filled
            }
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

    /// Fills `order` completely at `price` through the backtest's exchange rules if they allow
    /// it; otherwise marks it rejected with the exchange's reason.
    /// - Returns: The filled order, or nil when rejected.
    private func fill(_ order: VenueOrder, at price: Price, time: Timestamp, cashFraction: FixedPoint? = nil) -> VenueOrder? {
        var order = order
        var exchange = exchange(order.symbol)
        let engineOrder = Order(
            id: OrderID(UInt64(order.venueOrderID.map { $0.dropFirst() }.flatMap { UInt64($0) } ?? 0)),
            clientOrderID: order.clientOrderID,
            symbol: order.symbol,
            side: order.side,
            type: .market,
            size: cashFraction.map { .cashFraction($0) } ?? .quantity(order.quantity),
            createdAt: time,
            createdBar: ticks
        )
        if let reason = exchange.staticRejection(engineOrder) {
            order.status = .rejected
            order.rejectReason = reason.description
            orders[order.clientOrderID] = order
            return nil
        }
        let bar = Bar(timestamp: time, open: price.doubleValue, high: price.doubleValue, low: price.doubleValue, close: price.doubleValue, volume: 0)
        var outcome: OrderEvent?
        exchange.execute(engineOrder, at: price, bar: bar, barIndex: ticks, portfolio: &portfolio) { outcome = $0 }
        exchanges[order.symbol] = exchange
        switch outcome {
        case .filled(_, let fill):
            order.status = .filled
            order.quantity = fill.quantity
            order.executedQuantity = fill.quantity
            order.cumulativeQuote = fill.notional
            order.cumulativeCommission = fill.commission
            order.updateTime = time
            orders[order.clientOrderID] = order
            return order
        case .rejected(_, let reason):
            order.status = .rejected
            order.rejectReason = reason.description
        default:
            order.status = .rejected
            order.rejectReason = "not filled"
        }
        orders[order.clientOrderID] = order
        return nil
    }
}
