import CrocCore
import CrocSupport

/// The backtest's `SimulatedExchange` behind the `ExecutionClient` protocol:
/// the same matching, fee, slippage and cash rules, driven by bars.
///
/// Feed it bars with `process(bar:)`; orders submitted between bars are
/// matched by the exchange's rules (`.nextOpen` fills market orders at the
/// next bar's open, `.close` at once at the current close). Reports for fills
/// that happen on a later bar arrive on `executionReports()`.
public actor SimulatedExecutionClient: ExecutionClient {
    /// `simulated`.
    public nonisolated let venueName = "simulated"
    private var exchange: SimulatedExchange
    private var portfolio: Portfolio
    private var lastBar: Bar?
    private var barIndex = -1
    private var orders: [String: VenueOrder] = [:]
    private var clientIDs: [OrderID: String] = [:]
    private var nextID: UInt64 = 1
    private nonisolated let broadcaster = ReportBroadcaster()

    /// Creates a client.
    /// - Parameters:
    ///   - instrument: The instrument traded.
    ///   - fees: Commission and slippage.
    ///   - fillTiming: When market orders fill (`.close` fills them at once).
    ///   - allowShort: Whether sells may open shorts.
    ///   - cash: Starting cash (quote currency).
    public init(instrument: Instrument, fees: FeeModel, fillTiming: FillTiming = .close, allowShort: Bool = false, cash: Money) {
        exchange = SimulatedExchange(instrument: instrument, fees: fees, fillTiming: fillTiming, allowShort: allowShort)
        portfolio = Portfolio(cash: cash)
    }

    /// The account as the venue sees it.
    public var account: Portfolio { portfolio }

    /// Advances the market by one bar: working orders are matched against it.
    public func process(bar: Bar) {
        barIndex += 1
        lastBar = bar
        exchange.process(bar: bar, barIndex: barIndex, portfolio: &portfolio) { handle($0, push: true) }
        portfolio.mark(exchange.instrument.symbol, at: exchange.instrument.price(bar.close))
    }

    public func submit(_ request: OrderRequest, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        guard orders[request.clientOrderID] == nil else { throw .duplicateOrder(clientOrderID: request.clientOrderID) }
        guard let bar = lastBar else { throw .invalidRequest("\(request.symbol): no market data yet") }
        let id = OrderID(nextID)
        nextID += 1
        clientIDs[id] = request.clientOrderID
        let order = Order(
            id: id,
            clientOrderID: request.clientOrderID,
            symbol: request.symbol,
            side: request.side,
            type: request.kind.limitPrice.map { .limit($0) } ?? .market,
            size: .quantity(request.quantity),
            timeInForce: request.timeInForce,
            createdAt: bar.timestamp,
            createdBar: barIndex
        )
        orders[request.clientOrderID] = VenueOrder(
            clientOrderID: request.clientOrderID,
            venueOrderID: String(id.rawValue),
            symbol: request.symbol,
            side: request.side,
            status: .new,
            quantity: request.quantity,
            executedQuantity: .zero,
            cumulativeQuote: .zero,
            cumulativeCommission: .zero,
            updateTime: bar.timestamp
        )
        exchange.submit(order, bar: bar, barIndex: barIndex, portfolio: &portfolio) { handle($0, push: false) }
        let snapshot = orders[request.clientOrderID]!
        if snapshot.status == .rejected {
            throw .rejected(operation: "submit", code: nil, message: snapshot.rejectReason ?? "rejected")
        }
        return snapshot
    }

    public func cancel(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        guard var order = orders[clientOrderID], let raw = order.venueOrderID.flatMap(UInt64.init) else {
            throw .orderNotFound(clientOrderID: clientOrderID)
        }
        guard exchange.cancel(OrderID(raw)) != nil else {
            throw .rejected(operation: "cancel", code: nil, message: "order \(clientOrderID) is \(order.status.rawValue)")
        }
        order.status = .canceled
        orders[clientOrderID] = order
        return order
    }

    public func queryOrder(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder? {
        orders[clientOrderID]
    }

    public func openOrders(symbol: String?, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [VenueOrder] {
        orders.values.filter { $0.status.isOpen && (symbol == nil || $0.symbol == symbol) }
    }

    public func balances(deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [AssetBalance] {
        [
            AssetBalance(asset: "CASH", free: portfolio.cash, locked: .zero),
            AssetBalance(asset: exchange.instrument.symbol, free: portfolio.position(exchange.instrument.symbol).quantity, locked: .zero),
        ]
    }

    public nonisolated func executionReports() -> AsyncStream<ExecutionReport> { broadcaster.stream() }

    private func handle(_ event: OrderEvent, push: Bool) {
        let report: ExecutionReport
        switch event {
        case .accepted(let o):
            guard let snap = orders[o.clientOrderID] else { return }
            report = ExecutionReport(kind: .ack, order: snap)
        case .rejected(let o, let reason):
            guard var snap = orders[o.clientOrderID] else { return }
            snap.status = .rejected
            snap.rejectReason = reason.description
            orders[o.clientOrderID] = snap
            report = ExecutionReport(kind: .reject, order: snap)
        case .cancelled(let o):
            guard var snap = orders[o.clientOrderID] else { return }
            snap.status = o.timeInForce == .gtc ? .canceled : .expired
            orders[o.clientOrderID] = snap
            report = ExecutionReport(kind: snap.status == .canceled ? .cancel : .expire, order: snap)
        case .filled(let o, let fill):
            guard var snap = orders[o.clientOrderID] else { return }
            snap.status = .filled
            snap.executedQuantity += fill.quantity
            snap.cumulativeQuote += fill.notional
            snap.cumulativeCommission = (snap.cumulativeCommission ?? .zero) + fill.commission
            snap.updateTime = fill.timestamp
            orders[o.clientOrderID] = snap
            report = ExecutionReport(kind: .fill, order: snap)
        }
        if push { broadcaster.send(report) }
    }
}
