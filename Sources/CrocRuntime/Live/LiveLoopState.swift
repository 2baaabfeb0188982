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

/// The loop's state between events.
struct LiveLoopState {
    let settings: LiveLoopSettings
    let venue: (any LiveVenue)?
    let status: LiveStatusBoard?
    let metrics: LiveMetrics
    let logger: Logger
    var engine: TradingEngine
    /// Engine orders ↔ executor intents and events.
    var bridge = OrderBridge()
    var events = 0
    var submitted = 0
    var refused = 0
    var sellsUnanswered = 0
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
            tickToOrderNanos: samples,
            sellsUnanswered: sellsUnanswered
        )
    }

    /// At the stream's end: books the answers that came after the last event's (a fill the
    /// executor received while the loop waited for the next bar is in the result, not lost).
    mutating func finish() {
        guard let venue else { return }
        if apply(venue.drainEvents(), processed: true) {
            engine.remarkLastEquity()
            if let time = lastTime { publish(time: time, event: nil) }
        }
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
                if let clientID = bridge.clientOrderID(of: order.id) { await venue?.cancel(clientOrderID: clientID) }
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
        // Sells first, and answered, before any buy: the executor sends orders concurrently, so
        // without this a buy could reach the venue before the sell that pays for it (a
        // rebalance's plan counts on the sells' proceeds).
        let isBuy: (StrategyCommand) -> Bool = { if case .submit(let o) = $0 { return o.side == .buy } else { return false } }
        let isSell: (StrategyCommand) -> Bool = { if case .submit(let o) = $0 { return o.side == .sell } else { return false } }
        if commands.contains(where: isBuy), commands.contains(where: isSell) {
            let sells = await sendInOrder(commands.filter { !isBuy($0) }, time: time, received: received, submitOrder: submitOrder)
            if let venue {
                await venue.settle(timeout: settings.settleTimeout)
                if apply(venue.drainEvents(), processed: true) { engine.remarkLastEquity() }
                if !venue.fillsOnBars { await awaitAnswers(to: sells, from: venue, time: time) }
            }
            await sendInOrder(commands.filter(isBuy), time: time, received: received, submitOrder: submitOrder)
            return
        }
        await sendInOrder(commands, time: time, received: received, submitOrder: submitOrder)
    }

    /// Books the venue's answers until none of the market orders handed over as `clientIDs`
    /// is working (each filled, refused or ended), at most `settleTimeout`: on a real venue
    /// (whose `settle` returns at once) the executor answers asynchronously, and a rebalance's
    /// buys are sized on the cash its sells brought. Past the wait the buys go out on the cash
    /// booked so far (the venue refuses what it does not cover): logged as a warning and counted
    /// in `crocbot_rebalance_sells_unanswered_total`; the late answer is booked when it comes.
    private mutating func awaitAnswers(to clientIDs: [String], from venue: any LiveVenue, time: Timestamp) async {
        let deadline = ContinuousClock.now + settings.settleTimeout
        while clientIDs.contains(where: { bridge.isWorking(clientOrderID: $0) }) {
            guard ContinuousClock.now < deadline, !Task.isCancelled else {
                let waiting = clientIDs.filter { bridge.isWorking(clientOrderID: $0) }
                sellsUnanswered += 1
                metrics.sellsUnanswered.increment()
                logger.warning(
                    "a rebalance's sells were not all answered in time; its buys go out on the cash booked so far",
                    metadata: [
                        "bar_time": "\(time)", "waited": "\(settings.settleTimeout)", "client_order_ids": "\(waiting.joined(separator: ","))",
                        "cash": "\(engine.portfolio.cash)",
                    ]
                )
                return
            }
            try? await Task.sleep(for: settings.answerPoll)
            if apply(venue.drainEvents(), processed: true) { engine.remarkLastEquity() }
        }
    }

    /// Hands `commands` over one by one.
    /// - Returns: The client order ids of the market sells the executor took.
    @discardableResult
    private mutating func sendInOrder(
        _ commands: [StrategyCommand],
        time: Timestamp,
        received: ContinuousClock.Instant,
        submitOrder: @Sendable (OrderIntent) async -> SignalOutcome
    ) async -> [String] {
        var sells: [String] = []
        for command in commands {
            switch command {
            case .cancel(let id):
                if let clientID = bridge.clientOrderID(of: id) { await venue?.cancel(clientOrderID: clientID) }
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
                    bridge.accepted(order.id, clientOrderID: clientID)
                    if order.side == .sell, case .market = order.type { sells.append(clientID) }
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
        return sells
    }

    /// The executor's form of an engine order; nil (and the order ended) when it cannot be sent.
    private mutating func intent(for order: Order) -> OrderIntent? {
        let step = engine.instruments.first { $0.symbol == order.symbol }?.quantityStep ?? engine.instrument.quantityStep
        switch OrderBridge.sizing(
            for: order,
            lastClose: engine.lastClose(of: order.symbol),
            cash: engine.portfolio.cash,
            quantityStep: step,
            fees: settings.fees
        ) {
        case .intent(let intent):
            return intent
        case .refused(let why):
            engine.endOrder(order.id, rejected: .refused(why))
            refused += 1
            metrics.ordersRefused.increment()
            return nil
        case .unsupported(let why):
            engine.endOrder(order.id, rejected: .refused(why))
            return nil
        }
    }

    /// Books executor events in the engine; duplicates book nothing. Returns whether a fill was booked.
    @discardableResult
    /// - Parameter processed: Whether the engine already processed the event these fills belong
    ///   to (fills at its close, or between events): they get its index, not the next one's.
    private mutating func apply(_ events: [ExecutorEvent], processed: Bool = false) -> Bool {
        var filled = false
        for e in events {
            switch bridge.book(e, barIndex: processed ? max(0, engine.barCount - 1) : engine.barCount) {
            case .fill(let fill, let complete, let clientID):
                if engine.applyFill(fill, orderComplete: complete) {
                    filled = true
                    metrics.fills.increment()
                    status?.recordFill(fill, clientOrderID: clientID)
                }
            case .unknownFill(let clientID):
                // Not this engine's order (the executor logged and stored it): an operator decides.
                status?.update { $0.unknownFills += 1 }
                logger.error("venue fill for an order this run did not place", metadata: ["client_order_id": "\(clientID)"])
            case .ended(let id, let rejection):
                engine.endOrder(id, rejected: rejection.map { .refused($0) })
            case .ignored:
                continue
            }
        }
        return filled
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
