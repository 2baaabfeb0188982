import CoreMetrics
import CrocCore
import CrocEngine
import DequeModule
import Foundation
import Logging
import Synchronization

/// Turns a strategy's order intents into orders at a venue, with a fixed
/// concurrency limit and explicit backpressure (DESIGN rules 5 and 6).
///
/// The path of a signal:
/// 1. `onSignal(_:)` validates the intent and, if the queue is full, applies
///    the backpressure policy (`suspend`, `dropOldest`, `reject`), counted in
///    `crocbot_backpressure_total`;
/// 2. the risk checks run (`RiskEngine`); a refusal is typed, logged and counted;
/// 3. the order gets a unique client order id and is **written to the store
///    before it is sent**;
/// 4. one of `maxInFlight` workers sends it with a deadline; transient
///    failures (timeouts, 5xx, 429 with Retry-After, connection errors) are
///    retried with exponential backoff and jitter, **reusing the client order
///    id**, and a request that may have reached the venue is first looked up
///    by that id, so a timeout never becomes a second order; rejections are
///    final;
/// 5. the venue's answers and pushed execution reports move the order through
///    `OrderState`'s state machine; fills are booked from cumulative figures,
///    so duplicated or out-of-order reports book nothing twice and lose nothing.
///
/// On `start()` the executor reloads unfinished orders from the store and
/// reconciles them with the venue by client order id.
public actor MarketOrderExecutor {
    /// Where an injected crash happens (tests of recovery).
    package enum CrashPoint: Sendable {
        /// After the order is in the store, before the request leaves.
        case beforeSend
        /// After the venue answered, before the answer is processed.
        case afterSend
    }

    /// The venue.
    public nonisolated let client: any ExecutionClient
    /// The order store.
    public nonisolated let store: any OrderStore
    /// The settings.
    public nonisolated let configuration: ExecutorConfiguration
    private let logger: Logger
    private let metrics: ExecutorMetrics
    private var risk: RiskEngine
    /// The order bookkeeping (a value type; this actor carries out its actions).
    private var book = OrderBook()
    /// When each order was last sent (for the venue's receive window).
    private var lastSent: [String: ContinuousClock.Instant] = [:]
    /// Orders whose retries ran out with the outcome unknown, until they change state or are
    /// sent again. A sent order not in this set belongs to the worker sending it: reconciliation
    /// leaves it alone (looking it up mid-flight would find nothing and could send it twice).
    private var unresolved: Set<String> = []
    /// The reused buffer of the order book's actions.
    private var actionBuffer: [OrderBook.Action] = []
    private var queue = Deque<Job>()
    private var waitingWorkers: [CheckedContinuation<Job?, Never>] = []
    private var waitingProducers = Deque<CheckedContinuation<Void, Never>>()
    private var inFlight = 0
    private var running = false
    private var crashed = false
    private var workers: [Task<Void, Never>] = []
    private var reportTask: Task<Void, Never>?
    private var sequence: UInt64 = 0
    private let session: String
    private var rng = SystemRandomNumberGenerator()
    package var crashPoint: CrashPoint?
    private let eventBroadcaster = EventBroadcaster<ExecutorEvent>()
    private let eventSinks = Mutex<[@Sendable (ExecutorEvent) -> Void]>([])
    private var captured: [ExecutorEvent]?
    private var handoffs = 0  // jobs handed to a waiting worker that has not started them yet
    /// Callers of `waitUntilIdle`, each with the id its own timer wakes it by.
    private var idleWaiters: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    private var nextIdleWaiter: UInt64 = 0
    /// Queue depth at or below which suspended producers resume: one eighth of the
    /// capacity below it (at least one slot).
    private let lowWater: Int

    /// Creates an executor; call `start()` before sending signals.
    /// - Parameters:
    ///   - client: The venue.
    ///   - store: Where orders are persisted (SQLite for live trading).
    ///   - configuration: Limits, backpressure, retries and risk.
    ///   - logger: Order events are logged with `client_order_id` metadata.
    ///   - metrics: Counters, gauges and timers.
    public init(
        client: any ExecutionClient,
        store: any OrderStore = InMemoryOrderStore(),
        configuration: ExecutorConfiguration = ExecutorConfiguration(),
        logger: Logger = Logger(label: "crocbot.executor"),
        metrics: ExecutorMetrics = ExecutorMetrics()
    ) {
        self.client = client
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.risk = RiskEngine(limits: configuration.risk)
        self.lowWater = configuration.queueCapacity - max(1, configuration.queueCapacity / 8)
        self.book.logLevel = logger.logLevel
        // A per-process token keeps client order ids unique across restarts.
        let ms = UInt64(Date().timeIntervalSince1970 * 1000)
        self.session = String(ms, radix: 36) + String(UInt32.random(in: 0..<(36 * 36 * 36)), radix: 36)
    }

    // MARK: Lifecycle

    /// Reloads unfinished orders from the store, reconciles them with the
    /// venue, then starts the workers and the report listener.
    public func start() async throws(OrderStoreError) {
        guard !running else { return }
        running = true
        crashed = false
        let rules = book.rules
        book = OrderBook(open: try store.openOrders(), positions: try store.positions())
        book.rules = rules
        book.logLevel = logger.logLevel
        let reports = client.executionReports()
        reportTask = Task { [weak self] in
            for await report in reports {
                guard let self else { return }
                await self.handle(report: report)
            }
        }
        for _ in 0..<configuration.maxInFlight {
            workers.append(Task { await self.workerLoop() })
        }
        if !book.records.isEmpty {
            logger.info("recovering orders", metadata: ["open_orders": "\(book.records.count)", "venue": "\(client.venueName)"])
            await reconcile(recovering: true)
        }
    }

    /// Stops taking signals, drops queued (unsent) orders, lets requests in
    /// flight finish (each is bounded by its deadline and retries), optionally
    /// cancels orders still working at the venue, and stops the workers.
    public func shutdown(cancelOpenOrders: Bool = false) async {
        guard running else { return }
        running = false
        while let job = queue.popFirst() { drop(job.id, reason: "executor shutting down") }
        for w in waitingWorkers { w.resume(returning: nil) }
        waitingWorkers.removeAll()
        while let p = waitingProducers.popFirst() { p.resume() }
        metrics.queueDepth.record(0)
        let tasks = workers
        workers.removeAll()
        for t in tasks { await t.value }
        if cancelOpenOrders { await cancelAll(symbol: nil) }
        reportTask?.cancel()
        reportTask = nil
        wakeIdleWaiters()
        eventBroadcaster.finish()
        logger.info("executor stopped", metadata: ["open_orders": "\(book.records.count)"])
    }

    /// Sets where an injected crash happens (tests of recovery).
    package func setCrashPoint(_ point: CrashPoint?) { crashPoint = point }

    /// Whether an injected crash happened.
    package var isCrashed: Bool { crashed }

    /// Simulates the process dying: everything stops at once, nothing more is written.
    package func simulateCrash() {
        crashed = true
        running = false
        for w in waitingWorkers { w.resume(returning: nil) }
        waitingWorkers.removeAll()
        while let p = waitingProducers.popFirst() { p.resume() }
        for t in workers { t.cancel() }
        workers.removeAll()
        reportTask?.cancel()
        reportTask = nil
    }

    // MARK: Events

    /// Fills as they are booked and orders as they end, from now on (each
    /// call returns a new stream). The live loop books these in its engine.
    public nonisolated func events() -> AsyncStream<ExecutorEvent> { eventBroadcaster.stream() }

    /// Calls `sink` synchronously, on the executor, with every event from
    /// now on: when a call into the executor returns, the sink has seen what
    /// it caused (the live loop's paper venues rely on this to stay deterministic).
    public nonisolated func subscribe(_ sink: @escaping @Sendable (ExecutorEvent) -> Void) {
        eventSinks.withLock { $0.append(sink) }
    }

    /// Applies reports the caller got from the venue directly (a simulated
    /// venue advanced by a bar) and returns the events they caused, in order.
    /// The same reports arriving again on the venue's stream book nothing twice.
    public func ingest(_ reports: [ExecutionReport]) -> [ExecutorEvent] {
        captured = []
        for r in reports { handle(report: r) }
        defer { captured = nil }
        return captured ?? []
    }

    /// Whether every accepted signal has been sent and answered (nothing
    /// queued, handed over, or in flight).
    public var isIdle: Bool { queue.count == 0 && inFlight == 0 && handoffs == 0 }

    /// Waits until `isIdle`, or at most `timeout`.
    /// - Returns: whether the executor became idle in time.
    @discardableResult
    public func waitUntilIdle(timeout: Duration = .seconds(30)) async -> Bool {
        if isIdle { return true }
        let deadline = ContinuousClock.now + timeout
        nextIdleWaiter += 1
        let id = nextIdleWaiter
        // The timer wakes only this wait, and only if it was not cancelled: a cancelled timer
        // (its wait ended when the executor went idle) that went on to wake every waiter would
        // end a later wait early — the live loop then moved on with orders still in flight,
        // their fills booked a bar late (seen on a loaded machine as paper ≠ backtest).
        let timer = Task { [weak self] in
            do { try await Task.sleep(until: deadline) } catch { return }
            await self?.wakeIdleWaiter(id)
        }
        defer { timer.cancel() }
        await withCheckedContinuation { idleWaiters.append((id, $0)) }
        return isIdle
    }

    /// Ends the wait `id` (its timeout), if it is still waiting.
    private func wakeIdleWaiter(_ id: UInt64) {
        guard let i = idleWaiters.firstIndex(where: { $0.id == id }) else { return }
        idleWaiters.remove(at: i).continuation.resume()
    }

    private func wakeIdleWaiters() {
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for w in waiters { w.continuation.resume() }
    }

    private func notifyIfIdle() {
        if !idleWaiters.isEmpty && isIdle { wakeIdleWaiters() }
    }

    private func emit(_ event: ExecutorEvent) {
        captured?.append(event)
        for sink in eventSinks.withLock({ $0 }) { sink(event) }
        eventBroadcaster.send(event)
    }

    // MARK: Signals

    /// Turns an order intent into a persisted, queued order, or says why not.
    /// Suspends while the queue is full under the `suspend` policy.
    public func onSignal(_ intent: OrderIntent) async -> SignalOutcome {
        guard running else { return refuse(.stopped, intent) }
        guard !intent.symbol.isEmpty else { return refuse(.invalid("empty symbol"), intent) }
        guard intent.quantity.raw > 0 else { return refuse(.invalid("quantity \(intent.quantity) must be > 0"), intent) }
        if let p = intent.kind.limitPrice, p.raw <= 0 { return refuse(.invalid("limit price \(p) must be > 0"), intent) }
        if queue.count >= configuration.queueCapacity {
            metrics.backpressure(configuration.backpressure)
            switch configuration.backpressure {
            case .reject:
                return refuse(.queueFull, intent)
            case .dropOldest:
                if let oldest = queue.popFirst() { drop(oldest.id, reason: "queue full: dropped for a newer signal") }
            case .suspend:
                while running && queue.count >= configuration.queueCapacity {
                    await withCheckedContinuation { waitingProducers.append($0) }
                }
                guard running else { return refuse(.stopped, intent) }
            }
        }
        sequence += 1
        let id = "\(configuration.clientOrderIDPrefix)-\(session)-\(String(sequence, radix: 36))"
        var request = OrderRequest(
            clientOrderID: id,
            symbol: intent.symbol,
            side: intent.side,
            kind: intent.kind,
            quantity: intent.quantity,
            timeInForce: intent.timeInForce,
            cashFraction: intent.cashFraction
        )
        if !book.rules.isEmpty, let venue = book.rules[intent.symbol] {
            switch venue.conform(request, referencePrice: risk.lastPrices[intent.symbol]) {
            case .success(let conformed): request = conformed
            case .failure(let violation):
                metrics.venueRule(violation.rule)
                return refuse(.venueRule(violation), intent)
            }
        }
        let nowNanos = risk.needsClock ? UInt64(DispatchTime.now().uptimeNanoseconds) : 0
        if let violation = risk.check(request, exposure: book.exposure(intent.symbol), openOrders: book.records.count, nowNanos: nowNanos) {
            metrics.riskRefusal(violation.check)
            return refuse(.risk(violation), intent)
        }
        let record = OrderRecord(request: request, createdAt: Self.wallClock(), tag: intent.tag)
        do {
            try store.insert(record)
        } catch {
            return refuse(.store(error), intent)
        }
        if logger.logLevel <= .debug {
            logger.debug("order queued", metadata: orderMetadata(record))
        }
        book.add(record)  // (its last use: moved into the book)
        enqueue(id)
        return .accepted(clientOrderID: id)
    }

    /// `onSignal` for several intents at once (one hop onto the executor for
    /// the whole batch, e.g. a portfolio rebalance); outcomes in order.
    public func onSignals(_ intents: [OrderIntent]) async -> [SignalOutcome] {
        var out: [SignalOutcome] = []
        out.reserveCapacity(intents.count)
        for intent in intents { out.append(await onSignal(intent)) }
        return out
    }

    private func refuse(_ refusal: SignalRefusal, _ intent: OrderIntent) -> SignalOutcome {
        let reason: String
        switch refusal {
        case .risk: reason = "risk"
        case .queueFull: reason = "queue_full"
        case .invalid: reason = "invalid"
        case .stopped: reason = "stopped"
        case .store: reason = "store"
        case .venueRule: reason = "venue_rule"
        }
        metrics.refused(reason)
        logger.warning(
            "signal refused",
            metadata: ["reason": "\(reason)", "detail": "\(refusal)", "symbol": "\(intent.symbol)", "side": "\(intent.side.rawValue)"]
        )
        return .refused(refusal)
    }

    // MARK: Market and account

    /// Sets the venue's trading rules for their symbols: from now on every
    /// order for them is rounded to the rules and refused locally when it
    /// cannot meet them (before it is written or sent), and fees are booked by
    /// asset (a base-asset commission reduces the position).
    public func setRules(_ list: [VenueRules]) {
        for r in list { book.rules[r.symbol] = r }
    }

    /// The rules in force for `symbol`, if the venue published them.
    public func venueRules(_ symbol: String) -> VenueRules? { book.rules[symbol] }

    /// Records a market price (for the price-band and notional checks).
    public func updateMarket(symbol: String, price: Price) { risk.updatePrice(symbol: symbol, price: price) }

    /// Records account equity; engages the drawdown kill switch when the limit
    /// is reached, which drops queued orders, cancels working ones and refuses new ones.
    public func updateEquity(_ equity: Money) async {
        guard risk.updateEquity(equity) else { return }
        await engageKillSwitch(reason: risk.killReason ?? "drawdown")
    }

    /// Engages the kill switch by hand.
    public func engageKillSwitch(reason: String) async {
        if !risk.isKillSwitchEngaged { risk.engageKillSwitch(reason: reason) }
        metrics.killSwitch.record(1)
        logger.critical("kill switch engaged", metadata: ["reason": "\(reason)"])
        while let job = queue.popFirst() { drop(job.id, reason: "kill switch") }
        metrics.queueDepth.record(0)
        await cancelAll(symbol: nil)
    }

    /// Releases the kill switch.
    public func resetKillSwitch() {
        risk.resetKillSwitch()
        metrics.killSwitch.record(0)
        logger.warning("kill switch reset")
    }

    /// Whether the kill switch is engaged.
    public var isKillSwitchEngaged: Bool { risk.isKillSwitchEngaged }

    /// Net position per symbol: the sum of booked fills.
    public func position(_ symbol: String) -> Quantity { book.positions[symbol] ?? .zero }

    /// Every position.
    public var allPositions: [String: Quantity] { book.positions }

    /// Orders not yet terminal, by client order id.
    public var openOrders: [OrderRecord] { book.records.values.sorted { $0.createdAt < $1.createdAt } }

    /// One order as the executor knows it (open orders from memory, others from the store).
    public func order(_ clientOrderID: String) -> OrderRecord? {
        book[clientOrderID] ?? (try? store.order(clientOrderID)) ?? nil
    }

    /// Orders sent whose outcome is not known yet and that no worker is
    /// retrying: reconciliation looks them up, then resends (same id) or ends
    /// them within `configuration.resolveWithin`.
    public var unresolvedOrders: [OrderRecord] {
        unresolved.compactMap { book[$0] }.filter { $0.state == .submitted }
            .sorted { $0.createdAt < $1.createdAt }
    }

    /// Signals waiting for a worker.
    public var queueDepth: Int { queue.count }

    /// Requests in flight.
    public var requestsInFlight: Int { inFlight }

    // MARK: Cancels and reconciliation

    /// Cancels one working order.
    public func cancel(clientOrderID: String) async throws(ExecutionError) {
        guard let r = book[clientOrderID] else { throw .orderNotFound(clientOrderID: clientOrderID) }
        if r.state == .pendingNew {
            if let i = queue.firstIndex(where: { $0.id == clientOrderID }) {
                queue.remove(at: i)
                drop(clientOrderID, reason: "cancelled before sending")
            }
            return
        }
        let snap = try await client.cancel(symbol: r.request.symbol, clientOrderID: clientOrderID, deadline: deadline())
        apply(snap, kind: .cancel)
    }

    /// Cancels every working order (of one symbol, or all).
    public func cancelAll(symbol: String?) async {
        for r in book.records.values where r.state.isOpenAtVenue && (symbol == nil || r.request.symbol == symbol) {
            do {
                try await cancel(clientOrderID: r.clientOrderID)
            } catch {
                logger.error("cancel failed", metadata: ["client_order_id": "\(r.clientOrderID)", "error": "\(error)"])
            }
        }
    }

    /// Looks every sent, unfinished order up at the venue by client order id
    /// and books what it says. On recovery, orders the venue has never seen
    /// are sent again (same id) if recent, or dropped.
    public func reconcile() async { await reconcile(recovering: false) }

    private func reconcile(recovering: Bool) async {
        let candidates = book.records.values.filter { r in
            recovering ? true : r.state.isOpenAtVenue && (r.state != .submitted || unresolved.contains(r.clientOrderID))
        }
        .sorted { $0.createdAt < $1.createdAt }
        for r in candidates {
            if recovering, configuration.recoveryGrace > .zero {
                let ageNanos = Self.wallClock().nanoseconds - r.createdAt.nanoseconds
                let graceNanos = configuration.recoveryGrace.nanoseconds
                if ageNanos < graceNanos { try? await Task.sleep(for: .nanoseconds(graceNanos - ageNanos)) }
            }
            let found: VenueOrder?
            do {
                found = try await queryWithRetry(r)
            } catch {
                logger.error("reconcile: lookup failed", metadata: ["client_order_id": "\(r.clientOrderID)", "error": "\(error)"])
                continue
            }
            if let snap = found {
                logger.info(
                    "reconcile: order found at venue",
                    metadata: ["client_order_id": "\(r.clientOrderID)", "status": "\(snap.status.rawValue)"]
                )
                apply(snap, kind: nil)
                continue
            }
            guard let current = book[r.clientOrderID],
                recovering || current.state != .submitted || unresolved.contains(current.clientOrderID)
            else { continue }  // meanwhile sent again by a worker
            let age = Self.wallClock().nanoseconds - current.createdAt.nanoseconds
            if recovering, current.state == .pendingNew || current.state == .submitted, current.filledQuantity.isZero {
                if age <= configuration.resubmitUnsentWithin.nanoseconds {
                    book.markUnsent(current.clientOrderID)  // never reached the venue: safe to send under the same id
                    logger.warning("reconcile: order unknown at venue, sending again", metadata: orderMetadata(current))
                    enqueue(current.clientOrderID)
                } else {
                    drop(current.clientOrderID, reason: "unknown at venue after restart and older than the resubmit window")
                }
            } else if current.state == .submitted {
                // Sent, retries spent, and the venue has not seen it. Once no request can still land
                // (the receive window since the last send has passed) it is safe to send it again under
                // the same id; past `resolveWithin` the signal is stale and the order is ended instead.
                if let sent = lastSent[current.clientOrderID], ContinuousClock.now < sent + configuration.venueReceiveWindow { continue }
                if age <= configuration.resolveWithin.nanoseconds {
                    book.markUnsent(current.clientOrderID)
                    unresolved.remove(current.clientOrderID)
                    metrics.unresolvedOrders.record(unresolved.count)
                    logger.warning("reconcile: unresolved order unknown at venue, sending again", metadata: orderMetadata(current))
                    enqueue(current.clientOrderID)
                } else {
                    let reason =
                        "outcome unknown for \(age / 1_000_000_000) s and the venue never saw it: ended without a fill (last error: \(current.lastError ?? "none"))"
                    logger.error("reconcile: unresolved order ended", metadata: orderMetadata(current).merging(["reason": "\(reason)"]) { $1 })
                    perform(book.transition(current.clientOrderID, to: .expired, reason: reason, now: Self.wallClock()))
                }
            } else if current.state.isOpenAtVenue {
                logger.error("reconcile: acknowledged order unknown at venue; marking expired", metadata: orderMetadata(current))
                perform(book.transition(current.clientOrderID, to: .expired, reason: "venue no longer knows the order", now: Self.wallClock()))
            }
        }
    }

    private func queryWithRetry(_ r: OrderRecord) async throws(ExecutionError) -> VenueOrder? {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.queryOrder(symbol: r.request.symbol, clientOrderID: r.clientOrderID, deadline: deadline())
            } catch .orderNotFound {
                return nil
            } catch {
                guard error.isTransient, attempt < configuration.retry.maxAttempts, !crashed else { throw error }
                try? await Task.sleep(for: backoff(attempt, error))
            }
        }
    }

    // MARK: Workers

    /// A queued order and when it was queued.
    private struct Job {
        var id: String
        var enqueuedAt: ContinuousClock.Instant
    }

    /// Hands an order to an idle worker, or queues it.
    private func enqueue(_ id: String) {
        let job = Job(id: id, enqueuedAt: .now)
        if let worker = waitingWorkers.popLast() {
            handoffs += 1
            worker.resume(returning: job)
        } else {
            queue.append(job)
            metrics.queueDepth.record(queue.count)
        }
    }

    private func workerLoop() async {
        while let job = await nextJob() {
            await send(job)
        }
    }

    private func nextJob() async -> Job? {
        if let job = queue.popFirst() {
            metrics.queueDepth.record(queue.count)
            // Producers waiting for room (the `suspend` policy) resume once the queue is down to
            // its low-water mark, as many as there is room for: a producer then queues a run of
            // signals instead of suspending and resuming once per signal.
            if !waitingProducers.isEmpty && queue.count <= lowWater {
                var room = configuration.queueCapacity - queue.count
                while room > 0, let p = waitingProducers.popFirst() {
                    p.resume()
                    room -= 1
                }
            }
            return job
        }
        guard running else { return nil }
        let job = await withCheckedContinuation { waitingWorkers.append($0) }
        if job != nil { handoffs -= 1 }
        return job
    }

    private func send(_ job: Job) async {
        let id = job.id
        // Marked `submitted` here (in memory; the store learns the outcome): a crash injected
        // before the send leaves the stored order `pendingNew`, as a real crash would.
        guard !crashed, let request = book.startSending(id) else { return }
        let dequeued = ContinuousClock.now
        metrics.signalToSubmit.record(dequeued - job.enqueuedAt)
        if crashPoint == .beforeSend {
            simulateCrash()
            return
        }
        inFlight += 1
        metrics.inFlight.record(inFlight)
        defer {
            inFlight -= 1
            metrics.inFlight.record(inFlight)
            notifyIfIdle()
        }
        metrics.submitted.increment()
        if logger.logLevel <= .info, let record = book[id] { logger.info("order submitted", metadata: orderMetadata(record)) }
        var attempt = 0
        var attemptStart = dequeued
        var lookUpFirst = false
        while !crashed {
            attempt += 1
            if attempt > 1 { book.update(id) { $0.attempts = attempt } }
            let started = attempt == 1 ? dequeued : ContinuousClock.now
            do {
                if lookUpFirst {
                    var found = try await client.queryOrder(symbol: request.symbol, clientOrderID: id, deadline: deadline())
                    if found == nil, let sent = lastSent[id], ContinuousClock.now < sent + configuration.venueReceiveWindow {
                        // "Not found" right after a possible send: the request may still be on its way.
                        // Ask again once the venue can no longer accept it, and only then send.
                        try? await Task.sleep(until: sent + configuration.venueReceiveWindow)
                        guard !crashed else { return }
                        found = try await client.queryOrder(symbol: request.symbol, clientOrderID: id, deadline: deadline())
                    }
                    if let found {
                        // The earlier attempt reached the venue: adopt it, never send twice.
                        if crashPoint == .afterSend { return simulateCrash() }
                        logger.info("order found after ambiguous failure", metadata: ["client_order_id": "\(id)"])
                        apply(found, kind: nil)
                        return
                    }
                    lookUpFirst = false
                }
                attemptStart = started
                let snap = try await client.submit(request, deadline: deadline())
                if crashPoint == .afterSend { return simulateCrash() }
                metrics.submitToAck.record(since: started)
                apply(snap, kind: nil)
                return
            } catch .duplicateOrder {
                // The id is already at the venue: an earlier attempt got through.
                lastSent[id] = attemptStart
                lookUpFirst = true
                if attempt >= configuration.retry.maxAttempts { break }
                continue
            } catch .orderNotFound {
                lookUpFirst = false  // the lookup says the venue never saw it: send
                attempt -= 1
                continue
            } catch {
                guard !crashed else { return }
                lastSent[id] = attemptStart  // (only failed sends are remembered: the receive window counts from them)
                book.update(id) { $0.lastError = "\(error)" }
                // A success answer we could not read means the venue may well have the order: look it up.
                let unreadable: Bool
                if case .invalidResponse = error { unreadable = true } else { unreadable = false }
                if !error.isTransient && !unreadable {
                    reject(id, error)
                    return
                }
                if error.mayHaveReachedVenue { lookUpFirst = true }
                guard attempt < configuration.retry.maxAttempts else { break }
                metrics.retried.increment()
                let wait = backoff(attempt, error)
                logger.warning(
                    "order send failed, retrying",
                    metadata: ["client_order_id": "\(id)", "attempt": "\(attempt)", "error": "\(error)", "retry_in": "\(wait)"]
                )
                try? await Task.sleep(for: wait)
            }
        }
        guard !crashed, let r = book[id], !r.state.isTerminal else { return }
        metrics.unresolved.increment()
        unresolved.insert(id)
        metrics.unresolvedOrders.record(unresolved.count)
        persist(r)
        logger.error(
            "order outcome unknown after retries; will reconcile",
            metadata: ["client_order_id": "\(id)", "attempts": "\(attempt)", "error": "\(r.lastError ?? "")"]
        )
    }

    private func reject(_ id: String, _ error: ExecutionError) {
        guard let r = book[id] else { return }
        logger.error("order rejected", metadata: orderMetadata(r).merging(["error": "\(error)"]) { $1 })
        perform(book.transition(id, to: .rejected, reason: "\(error)", now: Self.wallClock()))
    }

    // MARK: Reports

    private func handle(report: ExecutionReport) {
        metrics.report(report.kind)
        apply(report.order, kind: report.kind, lastFill: report.lastFill)
    }

    /// Applies the venue's view of an order through the book (see `OrderBook.apply`).
    private func apply(_ snap: VenueOrder, kind: ExecutionReportKind?, lastFill: VenueFill? = nil) {
        guard !crashed else { return }
        // A fill for an order not open here: the store says whether it ended here (a late fill) or is a stranger's.
        let store = self.store
        let id = snap.clientOrderID
        var actions: [OrderBook.Action] = []
        swap(&actions, &actionBuffer)
        book.apply(snap, kind: kind, lastFill: lastFill, stored: { (try? store.order(id)) ?? nil }, now: Self.wallClock(), into: &actions)
        perform(draining: &actions)
        swap(&actions, &actionBuffer)
    }

    /// Stops counting `r` as unresolved once its outcome is known.
    private func resolved(_ r: OrderRecord) {
        guard r.state != .submitted, unresolved.remove(r.clientOrderID) != nil else { return }
        metrics.unresolvedOrders.record(unresolved.count)
    }

    /// Carries out the book's actions, in order.
    private func perform(_ actions: [OrderBook.Action]) {
        var actions = actions
        perform(draining: &actions)
    }

    /// Carries out the book's actions, in order, moving each out of `actions`
    /// (no copy of the records and fills they carry); `actions` ends empty, its capacity kept.
    private func perform(draining actions: inout [OrderBook.Action]) {
        // Each action is moved out of the buffer and a trivial one left in its place (perform never
        // suspends or re-enters the buffer), so the records and fills are neither copied nor swapped.
        actions.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for i in 0..<buffer.count {
                let action = (base + i).move()
                (base + i).initialize(to: .count(.acked))
                perform(action)
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    /// One action of the book, carried out.
    private func perform(_ action: consuming OrderBook.Action) {
        switch consume action {
        case .recordFill(let fill, let r):
            if r.state.isTerminal && !lastSent.isEmpty { lastSent[r.clientOrderID] = nil }
            if !unresolved.isEmpty { resolved(r) }
            do {
                if try !store.record(fill: fill, order: r) {
                    logger.warning(
                        "fill was already in the store",
                        metadata: ["client_order_id": "\(fill.clientOrderID)", "cumulative": "\(fill.cumulativeQuantity)"]
                    )
                }
            } catch {
                logger.critical("fill could not be stored", metadata: ["client_order_id": "\(r.clientOrderID)", "error": "\(error)"])
            }
        case .persist(let r):
            if r.state.isTerminal && !lastSent.isEmpty { lastSent[r.clientOrderID] = nil }
            if !unresolved.isEmpty { resolved(r) }
            persist(r)
        case .storeUnknown(let snap):
            do {
                try store.recordUnknownReport(snap, receivedAt: Self.wallClock())
            } catch {
                logger.critical(
                    "unknown-order report could not be stored",
                    metadata: ["client_order_id": "\(snap.clientOrderID)", "error": "\(error)"]
                )
            }
        case .emit(let event):
            emit(event)
        case .count(let counter):
            metrics.count(counter)
        case .log(let level, let message, let fields):
            guard logger.logLevel <= level else { return }
            var metadata = Logger.Metadata()
            for (k, v) in fields { metadata[k] = .string(v) }
            metadata["venue"] = .string(client.venueName)
            logger.log(level: level, "\(message)", metadata: metadata)
        }
    }

    private func drop(_ id: String, reason: String) {
        guard let r = book[id] else { return }
        logger.warning("order dropped", metadata: orderMetadata(r).merging(["reason": "\(reason)"]) { $1 })
        perform(book.transition(id, to: .dropped, reason: reason, now: Self.wallClock()))
        notifyIfIdle()
    }

    private func persist(_ r: OrderRecord) {
        do {
            try store.update(r)
        } catch {
            logger.critical("order could not be stored", metadata: ["client_order_id": "\(r.clientOrderID)", "error": "\(error)"])
        }
    }

    // MARK: Helpers

    private func deadline() -> ContinuousClock.Instant { .now + configuration.requestTimeout }

    private func backoff(_ attempt: Int, _ error: ExecutionError) -> Duration {
        configuration.retry.delay(retry: attempt, retryAfter: error.retryAfter, random: Double.random(in: 0...1, using: &rng))
    }

    private func orderMetadata(_ r: OrderRecord) -> Logger.Metadata {
        [
            "client_order_id": "\(r.clientOrderID)",
            "symbol": "\(r.request.symbol)",
            "side": "\(r.request.side.rawValue)",
            "quantity": "\(r.request.quantity)",
            "state": "\(r.state.rawValue)",
            "venue": "\(client.venueName)",
        ]
    }

    private static func wallClock() -> Timestamp {
        Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
    }
}
