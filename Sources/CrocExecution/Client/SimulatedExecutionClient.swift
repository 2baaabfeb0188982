import CrocCore
import CrocEngine
import CrocSupport
import Synchronization

/// The backtest's `SimulatedExchange` behind the `ExecutionClient` protocol:
/// the same matching, fee, slippage and cash rules, driven by bars.
///
/// Feed it bars with `process(bar:)`; orders submitted between bars are
/// matched by the exchange's rules (`.nextOpen` fills market orders at the
/// next bar's open, `.close` at once at the current close). Reports for fills
/// that happen on a later bar arrive on `executionReports()`.
///
/// Many instruments on one account: `init(instruments:...)` gives each symbol
/// its own exchange (a lane, as in a portfolio backtest) over one `Portfolio`,
/// and `process(slice:)` matches each lane's working orders against its own
/// bar, in lane order, exactly as `TradingEngine.process(_: MarketSlice)`.
///
/// A lock-protected class rather than an actor: its calls never suspend, so
/// they run on the caller's executor without a hop (the executor benchmark's
/// in-process venue).
public final class SimulatedExecutionClient: ExecutionClient {
    private struct State: Sendable {
        /// One exchange per symbol (lane 0 first).
        var lanes: [SimulatedExchange]
        /// Each lane's last bar.
        var lastBars: [Bar?]
        var laneOf: [String: Int]
        var portfolio: Portfolio
        /// The time of the last bar or slice processed.
        var time: Timestamp?
        var barIndex = -1
        var orders = IndexedOrders()
        var nextID: UInt64 = 1
    }

    /// `simulated`.
    public let venueName = "simulated"
    private let state: Mutex<State>
    private let broadcaster = ReportBroadcaster()

    /// Creates a client.
    /// - Parameters:
    ///   - instrument: The instrument traded.
    ///   - fees: Commission and slippage.
    ///   - fillTiming: When market orders fill (`.close` fills them at once).
    ///   - allowShort: Whether sells may open shorts.
    ///   - cash: Starting cash (quote currency).
    public convenience init(instrument: Instrument, fees: FeeModel, fillTiming: FillTiming = .close, allowShort: Bool = false, cash: Money) {
        self.init(instruments: [instrument], fees: fees, fillTiming: fillTiming, allowShort: allowShort, cash: cash)
    }

    /// Creates a client for many instruments on one account (a lane per symbol).
    /// - Parameters:
    ///   - instruments: The instruments traded, in lane order (the universe's symbol order).
    ///   - fees: Commission and slippage (the same for every symbol).
    ///   - fillTiming: When market orders fill (`.close` fills them at once).
    ///   - allowShort: Whether sells may open shorts.
    ///   - cash: Starting cash (quote currency), shared by every symbol.
    /// - Precondition: at least one instrument, symbols distinct.
    public init(instruments: [Instrument], fees: FeeModel, fillTiming: FillTiming = .close, allowShort: Bool = false, cash: Money) {
        precondition(!instruments.isEmpty, "a simulated venue needs an instrument")
        var laneOf: [String: Int] = [:]
        for (k, i) in instruments.enumerated() { laneOf[i.symbol] = k }
        precondition(laneOf.count == instruments.count, "symbols must be distinct")
        state = Mutex(
            State(
                lanes: instruments.map { SimulatedExchange(instrument: $0, fees: fees, fillTiming: fillTiming, allowShort: allowShort) },
                lastBars: Array(repeating: nil, count: instruments.count),
                laneOf: laneOf,
                portfolio: Portfolio(cash: cash)
            )
        )
    }

    /// The instrument traded (the first lane's).
    public var instrument: Instrument { state.withLock { $0.lanes[0].instrument } }

    /// Every instrument traded, in lane order.
    public var instruments: [Instrument] { state.withLock { $0.lanes.map(\.instrument) } }

    /// The instrument's symbol.
    public var symbol: String { instrument.symbol }

    /// The account as the venue sees it.
    public var account: Portfolio { state.withLock { $0.portfolio } }

    /// Advances the market by one bar: working orders are matched against it.
    /// - Parameter broadcast: Whether the reports also go to `executionReports()` streams.
    /// - Returns: The reports the bar caused, in order.
    @discardableResult
    public func process(bar: Bar, broadcast: Bool = true) -> [ExecutionReport] {
        process(slice: MarketSlice(time: bar.timestamp, lanes: [0], bars: [bar]), broadcast: broadcast)
    }

    /// Advances the market by one time slice: each lane with a bar matches its working orders
    /// against that bar, in lane order, and is marked at its close; lanes without a bar wait.
    /// - Parameter broadcast: Whether the reports also go to `executionReports()` streams.
    /// - Returns: The reports the slice caused, in order.
    @discardableResult
    public func process(slice: MarketSlice, broadcast: Bool = true) -> [ExecutionReport] {
        let reports = state.withLock { s -> [ExecutionReport] in
            s.barIndex += 1
            s.time = slice.time
            var out: [ExecutionReport] = []
            let index = s.barIndex
            var orders = IndexedOrders()
            swap(&orders, &s.orders)
            // Lanes are matched in the order their working orders were placed (the earliest
            // first), as the portfolio engine does: a rebalance's sells fund its buys.
            var waiting: [(j: Int, first: UInt64)] = []
            for (j, k) in slice.lanes.enumerated() where k < s.lanes.count {
                s.lastBars[k] = slice.bars[j]
                if let first = s.lanes[k].workingOrders.lazy.map(\.id.rawValue).min() { waiting.append((j, first)) }
            }
            if waiting.count > 1 { waiting.sort { $0.first < $1.first } }
            for (j, _) in waiting {
                let k = slice.lanes[j]
                s.lanes[k].process(bar: slice.bars[j], barIndex: index, portfolio: &s.portfolio) { event in
                    if let r = Self.handle(event, orders: &orders) { out.append(r) }
                }
            }
            for (j, k) in slice.lanes.enumerated() where k < s.lanes.count {
                s.portfolio.mark(s.lanes[k].instrument.symbol, at: s.lanes[k].instrument.price(slice.bars[j].close))
            }
            swap(&orders, &s.orders)
            return out
        }
        if broadcast { for r in reports { broadcaster.send(r) } }
        return reports
    }

    public nonisolated(nonsending) func submit(_ request: OrderRequest, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder
    {
        let result = state.withLock { s -> Result<VenueOrder, ExecutionError> in
            guard let lane = s.laneOf[request.symbol] else {
                return .failure(
                    .invalidRequest("\(request.symbol): not traded here (symbols: \(s.lanes.map(\.instrument.symbol).joined(separator: ", ")))")
                )
            }
            guard let last = s.lastBars[lane], let now = s.time else { return .failure(.invalidRequest("\(request.symbol): no market data yet")) }
            var bar = last
            if last.timestamp != now {
                // No bar of this symbol now: it does not trade at a close it does not have, and a
                // resting order waits for its next bar (as in a portfolio backtest).
                if s.lanes[lane].fillTiming == .close && request.kind.limitPrice == nil {
                    return .failure(
                        .rejected(operation: "submit", code: nil, message: "\(request.symbol) has no bar at \(now): it does not trade now")
                    )
                }
                bar = Bar(timestamp: now, open: last.close, high: last.close, low: last.close, close: last.close, volume: 0)
            }
            let id = OrderID(s.nextID)
            let order = Order(
                id: id,
                clientOrderID: request.clientOrderID,
                symbol: request.symbol,
                side: request.side,
                type: request.kind.limitPrice.map { .limit($0) } ?? .market,
                size: request.cashFraction.map { .cashFraction($0) } ?? .quantity(request.quantity),
                timeInForce: request.timeInForce,
                createdAt: bar.timestamp,
                createdBar: s.barIndex
            )
            // One lookup of the id: it is claimed (or found taken) and the order's events update
            // its snapshot by position.
            let snap = VenueOrder(
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
            guard let position = s.orders.insertNew(snap) else { return .failure(.duplicateOrder(clientOrderID: request.clientOrderID)) }
            s.nextID += 1
            var orders = IndexedOrders()
            swap(&orders, &s.orders)
            let index = s.barIndex
            let clientOrderID = request.clientOrderID
            s.lanes[lane].submit(order, bar: bar, barIndex: index, portfolio: &s.portfolio) { event in
                if event.clientOrderID == clientOrderID {
                    _ = Self.apply(event, to: &orders[position: position])
                } else {
                    _ = Self.handle(event, orders: &orders)
                }
            }
            swap(&orders, &s.orders)
            let snapshot = s.orders[position: position]
            if snapshot.status == .rejected {
                return .failure(.rejected(operation: "submit", code: nil, message: snapshot.rejectReason ?? "rejected"))
            }
            return .success(snapshot)
        }
        return try result.get()
    }

    public nonisolated(nonsending) func cancel(
        symbol: String,
        clientOrderID: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> VenueOrder {
        let result = state.withLock { s -> Result<VenueOrder, ExecutionError> in
            guard var order = s.orders[clientOrderID], let raw = order.venueOrderID.flatMap(UInt64.init) else {
                return .failure(.orderNotFound(clientOrderID: clientOrderID))
            }
            guard let lane = s.laneOf[order.symbol], s.lanes[lane].cancel(OrderID(raw)) != nil else {
                return .failure(.rejected(operation: "cancel", code: nil, message: "order \(clientOrderID) is \(order.status.rawValue)"))
            }
            order.status = .canceled
            s.orders[clientOrderID] = order
            return .success(order)
        }
        return try result.get()
    }

    public nonisolated(nonsending) func queryOrder(
        symbol: String,
        clientOrderID: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> VenueOrder? {
        state.withLock { $0.orders[clientOrderID] }
    }

    public nonisolated(nonsending) func openOrders(symbol: String?, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [VenueOrder] {
        state.withLock { s in s.orders.values.filter { $0.status.isOpen && (symbol == nil || $0.symbol == symbol) } }
    }

    public nonisolated(nonsending) func balances(deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [AssetBalance] {
        state.withLock { s in
            [AssetBalance(asset: "CASH", free: s.portfolio.cash, locked: .zero)]
                + s.lanes.map { AssetBalance(asset: $0.instrument.symbol, free: s.portfolio.position($0.instrument.symbol).quantity, locked: .zero) }
        }
    }

    public func executionReports() -> AsyncStream<ExecutionReport> { broadcaster.stream() }

    /// Applies an exchange event to the order snapshots; returns the report it implies.
    private static func handle(_ event: OrderEvent, orders: inout IndexedOrders) -> ExecutionReport? {
        guard let position = orders.position(of: event.clientOrderID) else { return nil }
        return apply(event, to: &orders[position: position])
    }

    /// Applies an exchange event to its order's snapshot; returns the report it implies.
    private static func apply(_ event: OrderEvent, to snap: inout VenueOrder) -> ExecutionReport {
        switch event {
        case .accepted:
            return ExecutionReport(kind: .ack, order: snap)
        case .rejected(_, let reason):
            snap.status = .rejected
            snap.rejectReason = reason.description
            return ExecutionReport(kind: .reject, order: snap)
        case .cancelled(let o):
            snap.status = o.timeInForce == .gtc ? .canceled : .expired
            return ExecutionReport(kind: snap.status == .canceled ? .cancel : .expire, order: snap)
        case .filled(_, let fill):
            snap.status = .filled
            snap.executedQuantity += fill.quantity
            snap.cumulativeQuote += fill.notional
            snap.cumulativeCommission = (snap.cumulativeCommission ?? .zero) + fill.commission
            snap.updateTime = fill.timestamp
            return ExecutionReport(
                kind: .fill,
                order: snap,
                lastFill: VenueFill(quantity: fill.quantity, price: fill.price, commission: fill.commission)
            )
        }
    }
}

/// Venue orders in arrival order with an index by client order id
/// (resizing the index moves small values only).
struct IndexedOrders: Sendable {
    private var items: [VenueOrder] = []
    private var index: [String: Int] = [:]

    subscript(id: String) -> VenueOrder? {
        get { index[id].map { items[$0] } }
        set {
            guard let value = newValue else { return }
            if let i = index[id] {
                items[i] = value
            } else {
                index[id] = items.count
                items.append(value)
            }
        }
    }

    var values: [VenueOrder] { items }

    /// Where the order with this id is, if present.
    func position(of id: String) -> Int? { index[id] }

    /// The order at a position from `position(of:)` or `insertNew`, in place.
    subscript(position i: Int) -> VenueOrder {
        get { items[i] }
        _modify { yield &items[i] }
    }

    /// Adds an order under a new id (one lookup of the id); nil when the id is taken.
    mutating func insertNew(_ order: VenueOrder) -> Int? {
        let position = items.count
        var inserted = false
        func claim(_ slot: inout Int) {
            if slot < 0 {
                slot = position
                inserted = true
            }
        }
        claim(&index[order.clientOrderID, default: -1])
        guard inserted else { return nil }
        items.append(order)
        return position
    }
}

extension OrderEvent {
    /// The client order id of the order the event is about.
    fileprivate var clientOrderID: String {
        switch self {
        case .accepted(let o), .rejected(let o, _), .cancelled(let o), .filled(let o, _): return o.clientOrderID
        }
    }
}
