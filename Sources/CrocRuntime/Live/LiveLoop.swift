import CoreMetrics
import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocStrategies
import CrocSupport
import Foundation
import Logging
import Synchronization

/// Settings of a live loop: the instrument(s), the engine's account and costs.
public struct LiveLoopSettings: Sendable {
    /// The traded instrument: the first of `instruments` (setting it replaces that one).
    public var instrument: Instrument {
        get { instruments[0] }
        set { instruments[0] = newValue }
    }
    /// Every traded instrument, in lane order. More than one: the loop takes `.slice`
    /// events (a universe) and runs the portfolio engine on one account.
    public var instruments: [Instrument]
    /// When the venue fills market orders: with `.close` a rebalance is planned so that
    /// fills at the decision's closes equal a backtest's (paper with `fillAt: close`).
    public var fillTiming: FillTiming
    /// Whether sells may open shorts (what the strategy's context reports).
    public var allowShort: Bool
    /// Starting cash of the engine's ledger.
    public var cash: Money
    /// The costs the strategy sizes with (the venue charges its own).
    public var fees: FeeModel
    /// Prefix of the engine's order ids.
    public var runID: String
    /// The bar interval, for gap detection (nil: no gap check).
    public var barInterval: Duration?
    /// How long to wait, after handing orders over, for the venue to have them
    /// (paper venues: keeps a replay deterministic; real venues: keep it short).
    public var settleTimeout: Duration
    /// How many tick-to-order samples to keep for `LiveLoopResult` (benchmarks).
    public var latencySamples: Int
    /// The pre-trade limits the engine applies (the same checks as a backtest's).
    public var risk: RiskLimits
    /// A position held before this run (a restart, reconciled with the venue):
    /// the engine starts from it instead of flat, with `cash` as what is left to spend.
    public var startPosition: (quantity: Quantity, averagePrice: Price)?
    /// Positions held before this run, by symbol, for a multi-symbol run (a restart
    /// reconciled with the venue); `cash` is then what is left to spend.
    public var startPositions: [String: (quantity: Quantity, averagePrice: Price)] = [:]

    /// Creates settings.
    public init(
        instrument: Instrument = Instrument(symbol: "SAMPLE"),
        cash: Money = Money(10_000),
        fees: FeeModel = FeeModel(commissionRate: .zero),
        runID: String = "live",
        barInterval: Duration? = nil,
        settleTimeout: Duration = .seconds(5),
        latencySamples: Int = 0,
        risk: RiskLimits = .none,
        startPosition: (quantity: Quantity, averagePrice: Price)? = nil,
        instruments: [Instrument]? = nil,
        fillTiming: FillTiming = .nextOpen,
        allowShort: Bool = false
    ) {
        self.instruments = instruments.flatMap { $0.isEmpty ? nil : $0 } ?? [instrument]
        self.fillTiming = fillTiming
        self.allowShort = allowShort
        self.risk = risk
        self.startPosition = startPosition
        self.cash = cash
        self.fees = fees
        self.runID = runID
        self.barInterval = barInterval
        self.settleTimeout = settleTimeout
        self.latencySamples = latencySamples
    }
}

/// The venue side of a live loop: what happens around each market event
/// besides the strategy. `ExecutorVenue` is the implementation over a
/// `MarketOrderExecutor`.
public protocol LiveVenue: Sendable {
    /// Called with each market event before the engine sees it. A simulated
    /// or paper venue matches its resting orders against the bar here and
    /// returns what that booked; a real venue returns nothing.
    func marketEvent(_ event: MarketEvent) async -> [ExecutorEvent]
    /// Events booked since the last call (pushed fills, rejections, cancels).
    func drainEvents() -> [ExecutorEvent]
    /// Called after the engine's orders for an event were handed over.
    func settle(timeout: Duration) async
    /// Cancels a working order by the executor's client order id.
    func cancel(clientOrderID: String) async
    /// Tells the venue the symbol of the stream's bars (bars carry none).
    func bind(symbol: String)
    /// Tells the venue the symbols of a universe's slices, by lane.
    func bind(symbols: [String])
}

extension LiveVenue {
    /// Ignores the symbol.
    public func bind(symbol: String) {}
    /// Binds the first symbol.
    public func bind(symbols: [String]) { if let first = symbols.first { bind(symbol: first) } }
}

/// A `LiveVenue` over a `MarketOrderExecutor`, optionally with the
/// in-process simulated venue it trades on (paper trading on bars).
///
/// With a simulated venue, each bar first advances the venue (resting orders
/// fill at this bar's open, exactly as in a backtest), and `settle` waits
/// until the executor has sent every order — so a replay gives the same
/// fills as `crocbot backtest`, bit for bit.
public final class ExecutorVenue: LiveVenue, Sendable {
    /// The executor.
    public let executor: MarketOrderExecutor
    /// The simulated venue, for paper trading on bars with the backtest's fill model.
    public let simulated: SimulatedExecutionClient?
    /// The paper venue, for paper trading at the last price.
    public let paper: PaperExecutionClient?
    private let inbox = EventInbox()

    /// Listens to `executor`'s events from now on.
    /// - Parameters:
    ///   - executor: The executor orders go through.
    ///   - simulated: An in-process venue advanced by each bar (fills at the next open, like a backtest).
    ///   - paper: A paper venue given each bar's close as its last price (fills market orders at once).
    public init(executor: MarketOrderExecutor, simulated: SimulatedExecutionClient? = nil, paper: PaperExecutionClient? = nil) {
        self.executor = executor
        self.simulated = simulated
        self.paper = paper
        let inbox = self.inbox
        executor.subscribe { inbox.append($0) }
    }

    /// Advances the simulated venue by the bar and books its reports.
    public func marketEvent(_ event: MarketEvent) async -> [ExecutorEvent] {
        let bar: Bar
        switch event {
        case .bar(let b):
            bar = b
        case .slice(let slice):
            return await marketSlice(slice)
        }
        if let simulated {
            let reports = simulated.process(bar: bar, broadcast: false)
            await executor.updateMarket(symbol: simulated.symbol, price: simulated.instrument.price(bar.close))
            return reports.isEmpty ? [] : await executor.ingest(reports)
        }
        // A paper venue takes the close as its last price; every venue's executor checks its
        // risk limits (an order's value, the price band) against it.
        if let symbol = symbol {
            let price = Price(unchecked: bar.close)
            if let paper { await paper.updatePrice(symbol: symbol, price: price, time: bar.timestamp) }
            await executor.updateMarket(symbol: symbol, price: price)
        }
        return []
    }

    /// A universe's slice: the simulated venue matches each symbol's resting orders against its
    /// own bar (as a portfolio backtest does); otherwise each bar's close is the symbol's last
    /// price for the executor's risk checks (and a paper venue's fills).
    private func marketSlice(_ slice: MarketSlice) async -> [ExecutorEvent] {
        let symbols = symbolsBox.withLock { $0 }
        if let simulated {
            let reports = simulated.process(slice: slice, broadcast: false)
            let instruments = simulated.instruments
            for (j, k) in slice.lanes.enumerated() where k < instruments.count {
                await executor.updateMarket(symbol: instruments[k].symbol, price: instruments[k].price(slice.bars[j].close))
            }
            return reports.isEmpty ? [] : await executor.ingest(reports)
        }
        for (j, k) in slice.lanes.enumerated() where k < symbols.count {
            let price = Price(unchecked: slice.bars[j].close)
            if let paper { await paper.updatePrice(symbol: symbols[k], price: price, time: slice.time) }
            await executor.updateMarket(symbol: symbols[k], price: price)
        }
        return []
    }

    /// The symbol bars are priced for: the first lane's (set by the loop).
    private var symbol: String? { symbolsBox.withLock { $0.first } }
    /// The symbols by lane (set by the loop).
    private let symbolsBox = Mutex<[String]>([])

    /// Tells the venue which symbol the bars are for (the loop calls this).
    public func bind(symbol: String) { bind(symbols: [symbol]) }

    /// Tells the venue the symbols of a universe's slices, by lane (the loop calls this).
    public func bind(symbols: [String]) { symbolsBox.withLock { $0 = symbols } }

    /// Events pushed by the executor since the last call.
    public func drainEvents() -> [ExecutorEvent] { inbox.drain() }

    /// With a simulated venue, waits until every order is sent and answered.
    public func settle(timeout: Duration) async {
        guard simulated != nil || paper != nil else { return }
        await executor.waitUntilIdle(timeout: timeout)
    }

    /// Cancels through the executor; failures are logged by it.
    public func cancel(clientOrderID: String) async {
        try? await executor.cancel(clientOrderID: clientOrderID)
    }
}

/// A lock-protected list of events.
final class EventInbox: Sendable {
    private let events = Mutex<[ExecutorEvent]>([])
    func append(_ e: ExecutorEvent) { events.withLock { $0.append(e) } }
    func drain() -> [ExecutorEvent] {
        events.withLock { e in
            defer { e.removeAll() }
            return e
        }
    }
}

/// What a live loop did, when its stream ended.
public struct LiveLoopResult: Sendable {
    /// The engine at the end: ledger, fills, trades, equity curve.
    public var engine: TradingEngine
    /// Market events processed.
    public var events: Int
    /// Orders handed to `submitOrder`.
    public var ordersSubmitted: Int
    /// Orders `submitOrder` refused.
    public var ordersRefused: Int
    /// Bars dropped as late (not after the last one).
    public var lateBars: Int
    /// Bars missing by the interval (gaps).
    public var missingBars: Int
    /// Tick-to-order latencies in nanoseconds (event in → order handed over),
    /// at most `LiveLoopSettings.latencySamples` of them.
    public var tickToOrderNanos: [Int64]
}

/// Runs a strategy on a live stream: each event goes through the same
/// `TradingEngine` as a backtest (feature state, strategy, ledger), and the
/// orders it places go to `submitOrder` — usually the executor's `onSignal`,
/// which applies risk, persistence and backpressure.
///
/// The blueprint's `run_live_loop(data_stream=, strategy=, submit_order=)`.
/// Per event:
/// 1. the venue sees the event first (`LiveVenue.marketEvent`: a paper venue
///    fills resting orders at the bar's open) and booked fills reach the engine;
/// 2. late bars (not after the last one) are dropped and counted; gaps are counted;
/// 3. the engine runs the strategy; a strategy that throws is logged, counted
///    and skipped for this bar, and the loop goes on;
/// 4. each new order becomes an `OrderIntent` and is handed to `submitOrder`;
///    a refusal ends the order in the engine with the reason;
/// 5. the venue settles, fills booked since are applied, and the status board
///    and metrics are updated.
///
/// Ends when the stream ends (returns the result) or the task is cancelled
/// (throws `CancellationError`); it never sends an order twice.
/// - Parameters:
///   - dataStream: Market events (a feed, a replay, an `InMemoryStream`).
///   - strategy: The strategy (from `StrategyFactory`).
///   - submitOrder: Hands an order to execution; its outcome says whether it was taken.
///   - settings: Instrument, cash and costs of the engine's ledger.
///   - venue: Where fills come from (nil: orders are handed over and nothing comes back).
///   - status: Where the status page and `/api/status` read from.
///   - metrics: Counters and timers.
///   - logger: Order and fault log lines.
///   - controls: The operator's channel (pause, resume, cancel-all, flatten);
///     its controls are applied between market events, on this loop's task.
@discardableResult
public func runLiveLoop<Stream: MarketDataStream>(
    dataStream: Stream,
    strategy: any Strategy,
    submitOrder: @escaping @Sendable (OrderIntent) async -> SignalOutcome,
    settings: LiveLoopSettings = LiveLoopSettings(),
    venue: (any LiveVenue)? = nil,
    status: LiveStatusBoard? = nil,
    metrics: LiveMetrics = LiveMetrics(),
    logger: Logger = Logger(label: "crocbot.live"),
    controls: LiveControls? = nil
) async throws -> LiveLoopResult {
    var loop = LiveLoopState(settings: settings, strategy: strategy, venue: venue, status: status, metrics: metrics, logger: logger)
    loop.controls = controls
    status?.update { $0.strategy = strategy.name }
    let symbols = settings.instruments.map(\.symbol)
    status?.update { $0.symbol = symbols.count == 1 ? symbols[0] : symbols.joined(separator: ",") }
    venue?.bind(symbols: symbols)
    guard let controls else {
        var iterator = dataStream.makeAsyncIterator()
        while let event = try await iterator.next() {
            try Task.checkCancellation()
            await loop.handle(event, submitOrder: submitOrder)
        }
        return loop.result
    }
    // With an operator channel: market events and controls merge into one sequence, so a
    // control is applied at once, not at the next bar, and never in the middle of one.
    let (inputs, sink) = AsyncStream<LiveLoopInput>.makeStream()
    let feeder = Task {
        do {
            for try await event in dataStream { sink.yield(.event(event)) }
            sink.yield(.end)
        } catch {
            sink.yield(.failed(error))
        }
    }
    let listener = Task {
        while let action = await controls.next() { sink.yield(.control(action)) }
    }
    defer {
        feeder.cancel()
        controls.close()
        listener.cancel()
        sink.finish()
    }
    try await withTaskCancellationHandler {
        for await input in inputs {
            try Task.checkCancellation()
            switch input {
            case .event(let event): await loop.handle(event, submitOrder: submitOrder)
            case .control(let action): await loop.control(action, submitOrder: submitOrder)
            case .end: return
            case .failed(let error): throw error
            }
        }
    } onCancel: {
        sink.finish()
    }
    try Task.checkCancellation()
    return loop.result
}

/// What the live loop takes next when an operator channel is attached.
enum LiveLoopInput: Sendable {
    case event(MarketEvent)
    case control(OperatorAction)
    case end
    case failed(any Error)
}

/// The loop's state between events.
struct LiveLoopState {
    let settings: LiveLoopSettings
    let venue: (any LiveVenue)?
    let status: LiveStatusBoard?
    let metrics: LiveMetrics
    let logger: Logger
    var engine: TradingEngine
    var byClientID: [String: OrderID] = [:]
    var clientIDs: [OrderID: String] = [:]
    var booked: [String: Quantity] = [:]
    var events = 0
    var submitted = 0
    var refused = 0
    var late = 0
    var missing = 0
    var lastTime: Timestamp?
    var peak = 0.0
    var samples: [Int64] = []
    var controls: LiveControls?
    /// A flatten asked before the first bar (no price to act at yet).
    var pendingFlatten = false

    init(
        settings: LiveLoopSettings,
        strategy: any Strategy,
        venue: (any LiveVenue)?,
        status: LiveStatusBoard?,
        metrics: LiveMetrics,
        logger: Logger
    ) {
        self.settings = settings
        self.venue = venue
        self.status = status
        self.metrics = metrics
        self.logger = logger
        if settings.instruments.count > 1 {
            // A universe: the portfolio engine (one lane per symbol, one account), fed slices.
            engine = TradingEngine(
                instruments: settings.instruments,
                strategy: strategy,
                fees: settings.fees,
                fillTiming: settings.fillTiming,
                allowShort: settings.allowShort,
                cash: settings.cash,
                runID: settings.runID,
                routing: .external,
                risk: settings.risk
            )
        } else {
            let exchange = SimulatedExchange(instrument: settings.instrument, fees: settings.fees)
            engine = TradingEngine(
                instrument: settings.instrument,
                strategy: strategy,
                exchange: exchange,
                cash: settings.cash,
                runID: settings.runID,
                routing: .external,
                risk: settings.risk
            )
        }
        if engine.isMultiInstrument {
            if !settings.startPositions.isEmpty { engine.restore(positions: settings.startPositions, cash: settings.cash) }
        } else if let start = settings.startPosition ?? settings.startPositions[settings.instrument.symbol] {
            engine.restore(position: start.quantity, averagePrice: start.averagePrice, cash: settings.cash)
        }
        samples.reserveCapacity(settings.latencySamples)
    }

    var result: LiveLoopResult {
        LiveLoopResult(
            engine: engine,
            events: events,
            ordersSubmitted: submitted,
            ordersRefused: refused,
            lateBars: late,
            missingBars: missing,
            tickToOrderNanos: samples
        )
    }

    mutating func handle(_ event: MarketEvent, submitOrder: @Sendable (OrderIntent) async -> SignalOutcome) async {
        let received = ContinuousClock.now
        let time: Timestamp
        switch event {
        case .bar(let bar):
            guard !engine.isMultiInstrument else {
                logger.error("a bar without a symbol reached a multi-symbol run; dropped", metadata: ["bar_time": "\(bar.timestamp)"])
                return
            }
            time = bar.timestamp
        case .slice(let slice):
            guard engine.isMultiInstrument || slice.lanes == [0] else {
                logger.error("a multi-symbol slice reached a single-symbol run; dropped", metadata: ["time": "\(slice.time)"])
                return
            }
            time = slice.time
        }
        events += 1
        metrics.barsReceived.increment()
        if let last = lastTime, time <= last {
            late += 1
            metrics.barsLate.increment()
            logger.warning("late bar dropped", metadata: ["bar_time": "\(time)", "last_bar_time": "\(last)"])
            return
        }
        if let last = lastTime, let interval = settings.barInterval, interval > .zero {
            let step = interval.nanoseconds
            let gap = (time.nanoseconds - last.nanoseconds) / step - 1
            if gap > 0 {
                missing += Int(gap)
                metrics.barsMissing.increment(by: Int(gap))
                logger.warning("bars missing", metadata: ["missing": "\(gap)", "after": "\(last)", "bar_time": "\(time)"])
            }
        }
        lastTime = time
        if let venue {
            apply(await venue.marketEvent(event))
            apply(venue.drainEvents())
        }

        let failures = engine.strategyFailureCount
        let strategyStart = ContinuousClock.now
        switch event {
        case .bar(let bar): engine.process(bar)
        case .slice(let slice):
            if engine.isMultiInstrument { engine.process(slice) } else if let bar = slice.bars.first { engine.process(bar) }
        }
        metrics.strategyLatency.recordNanoseconds((ContinuousClock.now - strategyStart).nanoseconds)
        if engine.strategyFailureCount > failures, let f = engine.strategyFailures.last {
            metrics.strategyErrors.increment()
            logger.error(
                "strategy failed; bar skipped",
                metadata: ["strategy": "\(engine.strategy.name)", "bar_time": "\(time)", "error": "\(f.message)"]
            )
        }
        let commands = engine.takeOutbox()
        if !commands.isEmpty {
            await send(commands, time: time, received: received, submitOrder: submitOrder)
            if let venue {
                await venue.settle(timeout: settings.settleTimeout)
                if apply(venue.drainEvents(), processed: true) { engine.remarkLastEquity() }
            }
        }
        publish(time: time, event: event)
        if pendingFlatten {
            // A flatten asked before the first bar (a restored position): done at this first bar.
            pendingFlatten = false
            await control(.flatten, submitOrder: submitOrder)
        }
    }

    /// Applies an operator's order-changing control (pause and resume only set the channel's flag).
    mutating func control(_ action: OperatorAction, submitOrder: @Sendable (OrderIntent) async -> SignalOutcome) async {
        if let venue { apply(venue.drainEvents(), processed: true) }
        switch action {
        case .cancelAll:
            logger.notice("operator: cancelling every working order", metadata: ["orders": "\(engine.externalWorkingOrders.count)"])
            for order in engine.externalWorkingOrders {
                if let clientID = clientIDs[order.id] { await venue?.cancel(clientOrderID: clientID) }
            }
        case .flatten:
            guard let time = engine.lastProcessedTime else {
                pendingFlatten = true
                logger.notice("operator: flatten at the first bar (none yet)")
                return
            }
            let multi = engine.isMultiInstrument
            logger.notice(
                "operator: flattening",
                metadata: multi ? ["symbols": "\(engine.instruments.count)"] : ["position": "\(engine.position)"]
            )
            engine.act { ctx in
                ctx.cancelAllOrders()
                if multi { ctx.closeAllPositions(tag: "operator_flatten") } else { ctx.closePosition(tag: "operator_flatten") }
            }
            await send(engine.takeOutbox(), time: time, received: .now, submitOrder: submitOrder)
            if let venue {
                await venue.settle(timeout: settings.settleTimeout)
                if apply(venue.drainEvents(), processed: true) { engine.remarkLastEquity() }
            }
            publish(time: time, event: nil)
        case .pause, .resume, .stop:
            break
        }
    }

    /// Whether `order` would increase its symbol's position (an entry), which a pause refuses.
    private func isEntry(_ order: Order) -> Bool {
        let held = engine.position(of: order.symbol)
        switch order.side {
        case .buy: return held.raw >= 0
        case .sell: return held.raw <= 0
        }
    }

    private mutating func send(
        _ commands: [StrategyCommand],
        time: Timestamp,
        received: ContinuousClock.Instant,
        submitOrder: @Sendable (OrderIntent) async -> SignalOutcome
    ) async {
        // Sells first, and settled, before any buy: the executor sends orders concurrently, so
        // without this a buy could reach the venue before the sell that pays for it (a
        // rebalance's plan counts on the sells' proceeds).
        let isBuy: (StrategyCommand) -> Bool = { if case .submit(let o) = $0 { return o.side == .buy } else { return false } }
        let isSell: (StrategyCommand) -> Bool = { if case .submit(let o) = $0 { return o.side == .sell } else { return false } }
        if commands.contains(where: isBuy), commands.contains(where: isSell) {
            await sendInOrder(commands.filter { !isBuy($0) }, time: time, received: received, submitOrder: submitOrder)
            if let venue {
                await venue.settle(timeout: settings.settleTimeout)
                if apply(venue.drainEvents(), processed: true) { engine.remarkLastEquity() }
            }
            await sendInOrder(commands.filter(isBuy), time: time, received: received, submitOrder: submitOrder)
            return
        }
        await sendInOrder(commands, time: time, received: received, submitOrder: submitOrder)
    }

    private mutating func sendInOrder(
        _ commands: [StrategyCommand],
        time: Timestamp,
        received: ContinuousClock.Instant,
        submitOrder: @Sendable (OrderIntent) async -> SignalOutcome
    ) async {
        for command in commands {
            switch command {
            case .cancel(let id):
                if let clientID = clientIDs[id] { await venue?.cancel(clientOrderID: clientID) }
            case .rebalance:
                // The engine turns a rebalance into sized orders before they reach the outbox.
                continue
            case .submit(let order):
                if let controls, controls.isPaused, isEntry(order) {
                    refused += 1
                    metrics.ordersRefused.increment()
                    engine.endOrder(order.id, rejected: .refused("paused by the operator: no new entries"))
                    continue
                }
                guard let intent = intent(for: order) else { continue }
                metrics.signals.increment()
                let outcome = await submitOrder(intent)
                let handed = ContinuousClock.now - received
                metrics.tickToOrder.recordNanoseconds(handed.nanoseconds)
                if samples.count < settings.latencySamples { samples.append(handed.nanoseconds) }
                switch outcome {
                case .accepted(let clientID):
                    submitted += 1
                    byClientID[clientID] = order.id
                    clientIDs[order.id] = clientID
                    logger.info(
                        "order handed to executor",
                        metadata: [
                            "client_order_id": "\(clientID)", "symbol": "\(order.symbol)", "side": "\(order.side.rawValue)",
                            "quantity": "\(intent.quantity)", "bar_time": "\(time)",
                        ]
                    )
                case .refused(let why):
                    refused += 1
                    metrics.ordersRefused.increment()
                    engine.endOrder(order.id, rejected: .refused("\(why)"))
                }
            }
        }
    }

    /// The executor's form of an engine order; nil (and the order ended) when it cannot be sent.
    private mutating func intent(for order: Order) -> OrderIntent? {
        let kind: OrderRequest.Kind
        switch order.type {
        case .market: kind = .market
        case .limit(let p): kind = .limit(p)
        case .stop:
            engine.endOrder(order.id, rejected: .refused("stop orders are not supported by the live executor"))
            return nil
        }
        let quantity: Quantity
        var fraction: FixedPoint?
        switch order.size {
        case .quantity(let q):
            quantity = q
        case .cashFraction(let f):
            fraction = f
            guard let close = engine.lastClose(of: order.symbol) else {
                engine.endOrder(order.id, rejected: .refused("\(order.symbol) has no price yet: a cash-fraction order cannot be sized"))
                refused += 1
                metrics.ordersRefused.increment()
                return nil
            }
            let step = engine.instruments.first { $0.symbol == order.symbol }?.quantityStep ?? engine.instrument.quantityStep
            let price = settings.fees.slipped(close, side: .buy)
            let budget = engine.portfolio.cash * f
            let estimate = settings.fees.affordableQuantity(budget: budget, price: price, step: step)
            // Never more than the cash allows: an order the cash cannot pay for one step of is not sent.
            guard !estimate.isZero else {
                engine.endOrder(
                    order.id,
                    rejected: .refused(
                        "cash \(budget.formatted(decimals: 2)) affords less than one step (\(step)) at \(price), costs included"
                    )
                )
                refused += 1
                metrics.ordersRefused.increment()
                return nil
            }
            // Simulated and paper venues size the order at fill time; real venues send this quantity.
            quantity = estimate
        }
        return OrderIntent(
            symbol: order.symbol,
            side: order.side,
            quantity: quantity,
            kind: kind,
            timeInForce: order.timeInForce,
            tag: order.tag,
            cashFraction: fraction
        )
    }

    /// Books executor events in the engine; duplicates book nothing. Returns whether a fill was booked.
    @discardableResult
    /// - Parameter processed: Whether the engine already processed the event these fills belong
    ///   to (fills at its close, or between events): they get its index, not the next one's.
    private mutating func apply(_ events: [ExecutorEvent], processed: Bool = false) -> Bool {
        var filled = false
        for e in events {
            switch e {
            case .filled(let f, let complete):
                guard let id = byClientID[f.clientOrderID] else { continue }
                if let done = booked[f.clientOrderID], done >= f.cumulativeQuantity { continue }
                booked[f.clientOrderID] = f.cumulativeQuantity
                // A commission paid in the base asset changes what is held (`heldQuantity`);
                // `commission` values it, so cash moves exactly by the notional.
                let fill = Fill(
                    orderID: id,
                    symbol: f.symbol,
                    side: f.side,
                    quantity: f.heldQuantity,
                    price: f.price,
                    commission: f.commission,
                    timestamp: f.time,
                    barIndex: processed ? max(0, engine.barCount - 1) : engine.barCount
                )
                if engine.applyFill(fill, orderComplete: complete) {
                    filled = true
                    metrics.fills.increment()
                    status?.recordFill(fill, clientOrderID: f.clientOrderID)
                }
                if complete { forget(f.clientOrderID, id) }
            case .unknownFill(let report):
                // Not this engine's order (the executor logged and stored it): an operator decides.
                status?.update { $0.unknownFills += 1 }
                logger.error("venue fill for an order this run did not place", metadata: ["client_order_id": "\(report.clientOrderID)"])
            case .ended(let clientID, let state, let reason):
                guard let id = byClientID[clientID] else { continue }
                let rejected = state == .rejected || state == .dropped
                engine.endOrder(id, rejected: rejected ? .refused(reason ?? state.rawValue) : nil)
                forget(clientID, id)
            }
        }
        return filled
    }

    private mutating func forget(_ clientID: String, _ id: OrderID) {
        byClientID[clientID] = nil
        clientIDs[id] = nil
        booked[clientID] = nil
    }

    private mutating func publish(time: Timestamp, event: MarketEvent?) {
        let equity = engine.equityCurve.last ?? engine.portfolio.cash.doubleValue
        peak = max(peak, equity)
        let drawdown = peak > 0 ? (peak - equity) / peak : 0
        metrics.equity.record(equity)
        metrics.drawdown.record(drawdown)
        guard let status else { return }
        let engine = self.engine
        let events = self.events
        var lastClose: Double?
        switch event {
        case .bar(let bar): lastClose = bar.close
        case .slice(let slice): lastClose = slice.bar(lane: 0)?.close
        case nil: lastClose = nil
        }
        var positions: [String: Double] = [:]
        if engine.isMultiInstrument {
            for i in engine.instruments {
                let q = engine.position(of: i.symbol)
                if q.raw != 0 { positions[i.symbol] = q.doubleValue }
            }
        }
        status.update { s in
            s.bars = events
            s.lastBarTime = time
            if let lastClose { s.lastClose = lastClose }
            s.equity = equity
            s.cash = engine.portfolio.cash.doubleValue
            s.position = engine.position.doubleValue
            s.positions = positions
            s.drawdown = drawdown
            s.strategyErrors = engine.strategyFailureCount
            s.openOrders = engine.externalWorkingOrders.map { LiveStatus.OpenOrder($0) }
            s.killSwitch = engine.killReason
            s.appendEquity(time: time, equity: equity)
        }
    }
}
