import CrocCore
import CrocData
import CrocStrategies
import CrocSupport

/// The one event-processing kernel for backtests and live trading
/// (DESIGN rules 1-2).
///
/// Synchronous and deterministic: `process(_:)` takes one bar and runs
/// execution client → fills → portfolio → strategy → orders, without
/// `await`. A backtest feeds it a historical series; live trading feeds it a
/// stream. The same inputs give the same fills, bit for bit.
///
/// Per bar:
/// 1. working orders are matched against the bar (next-open fills, limits, stops);
/// 2. the account is marked at the close and the context refreshed;
/// 3. the strategy sees the bar and may place or cancel orders;
/// 4. the risk checks (`RiskEngine`, when limits are set) refuse orders that
///    break a limit, with the limit and the figures, before they reach the
///    execution client — simulated in a backtest, the executor live — and a
///    drawdown beyond `maxDrawdown` engages the kill switch: working orders
///    are cancelled, the position is closed, and the strategy is not asked
///    again until `resetKillSwitch()`;
/// 5. the remaining commands go to the execution client (`.close` fills happen here);
/// 6. equity at the close is recorded.
///
/// The risk clock is the bar's time, so a backtest and a paper replay of the
/// same bars refuse the same orders.
///
/// Orders are routed one of two ways (`OrderRouting`): to the in-process
/// `SimulatedExchange` (backtests), or to an outbox that the live loop hands
/// to an executor, with the venue's fills coming back through
/// `applyFill(_:orderComplete:)`. Everything else — the strategy, the
/// context, the ledger, the equity curve — is the same code in both.
public struct TradingEngine: Sendable {
    /// Where the strategy's orders go.
    public enum OrderRouting: Sendable, Hashable {
        /// Matched by the engine's own `SimulatedExchange` (backtests).
        case simulated
        /// Collected in `outbox` for an execution client; fills come back
        /// through `applyFill(_:orderComplete:)` (live and paper trading).
        case external
    }

    /// One failure of the strategy's `onBar`.
    public struct StrategyFailure: Sendable, Hashable {
        /// The bar's index.
        public var barIndex: Int
        /// The bar's time.
        public var time: Timestamp
        /// The error, as text.
        public var message: String
    }

    /// Where orders go.
    public let routing: OrderRouting
    /// The traded instrument.
    public let instrument: Instrument
    /// The strategy.
    public private(set) var strategy: any Strategy
    /// The simulated execution client.
    public private(set) var exchange: SimulatedExchange
    /// The account ledger.
    public private(set) var portfolio: Portfolio
    /// Round-trip trades.
    public private(set) var trades: TradeLedger
    /// Every fill, in order.
    public private(set) var fills: [Fill] = []
    /// Rejected orders with their reasons, in order.
    public private(set) var rejections: [(order: Order, reason: RejectionReason)] = []
    /// Equity at each processed bar's close.
    public private(set) var equityCurve: [Double] = []
    /// Bars processed.
    public private(set) var barCount = 0
    private var context: StrategyContext
    private var lastBar: Bar?
    // Cached account figures: change only on fills, read on every bar.
    private var cash: Money
    /// The instrument's signed position (cached; changes only on fills).
    public private(set) var position: Quantity = .zero {
        didSet {
            let (units, fraction) = position.raw.quotientAndRemainder(dividingBy: FixedPoint.scale)
            wholeUnits = fraction == 0 ? units : 0
        }
    }
    /// `position` in whole units when it is a whole number of them, else 0: such a position
    /// marks by one exact integer product (units × price), the value `position * price` rounds to.
    private var wholeUnits: Int64 = 0
    /// Strategy failures (the first 1,000; `strategyFailureCount` counts all).
    public private(set) var strategyFailures: [StrategyFailure] = []
    /// How many times the strategy's `onBar` threw.
    public private(set) var strategyFailureCount = 0
    /// Commands waiting for an external execution client (`.external` routing).
    public private(set) var outbox: [StrategyCommand] = []
    /// Orders handed out through the outbox and not yet complete, by id.
    private var externalWorking: [OrderID: Order] = [:]
    /// Order events of the current bar (kept to reuse its storage).
    private var eventBuffer: [OrderEvent] = []
    /// The spare command array, swapped with the context's (kept to reuse its storage).
    private var commandBuffer: [StrategyCommand] = []
    /// The pre-trade checks (nil: no limits, nothing to check per order or bar).
    private var risk: RiskEngine?
    /// Whether a drawdown limit is set (checked per bar).
    private let watchesDrawdown: Bool
    /// Orders the risk checks refused, in order.
    public private(set) var riskRefusals: [(order: Order, violation: RiskViolation)] = []

    /// Creates an engine.
    /// - Parameters:
    ///   - instrument: The traded instrument.
    ///   - strategy: The strategy to run.
    ///   - exchange: The execution client (simulated or paper).
    ///   - cash: Starting cash.
    ///   - expectedBars: Capacity to reserve for the equity curve.
    ///   - runID: Prefix of client order ids.
    public init(
        instrument: Instrument,
        strategy: any Strategy,
        exchange: SimulatedExchange,
        cash: Money,
        expectedBars: Int = 0,
        runID: String = "crocbot",
        routing: OrderRouting = .simulated,
        risk limits: RiskLimits = .none
    ) {
        self.risk = limits.isEmpty ? nil : RiskEngine(limits: limits)
        self.watchesDrawdown = limits.maxDrawdown != nil
        self.routing = routing
        self.instrument = instrument
        self.strategy = strategy
        self.exchange = exchange
        self.portfolio = Portfolio(cash: cash)
        self.trades = TradeLedger()
        self.cash = cash
        self.context = StrategyContext(instrument: instrument, fees: exchange.fees, runID: runID)
        equityCurve.reserveCapacity(expectedBars)
    }

    /// Processes one market event.
    public mutating func process(_ event: MarketEvent) {
        switch event {
        case .bar(let bar): process(bar)
        }
    }

    /// Processes one bar.
    public mutating func process(_ bar: Bar) {
        var s = takeStrategy()
        let equity = step(bar, &s, markPrice: nil)
        strategy = s
        equityCurve.append(equity)
        lastBar = bar
    }

    /// The closes of a series rounded to an instrument's price precision
    /// (`Instrument.price`), computed once for many backtests over the same
    /// bars (sweeps): the engine marks positions with them instead of
    /// rounding each close again. Same values, so the same results.
    public struct MarkPrices: Sendable {
        /// The instrument whose precision they have.
        public let instrument: Instrument
        /// The series' symbol.
        public let symbol: String
        /// One price per bar.
        public let prices: [Price]

        /// Rounds every close of `series` for `instrument`.
        public init(series: BarSeries, instrument: Instrument) {
            self.instrument = instrument
            self.symbol = series.symbol
            self.prices = series.close.map { instrument.price($0) }
        }
    }

    /// Processes bars `range` of `series` in order: the same per-bar work as
    /// `process(_:)` bar by bar, bit for bit, with the strategy's concrete
    /// type opened once for the whole range, each bar read straight from
    /// the series' columns, and the equity points written in place (the
    /// backtest hot loop).
    /// - Parameters:
    ///   - markPrices: The series' closes already rounded for this engine's instrument (optional).
    /// - Precondition: `range` lies within the series; `markPrices`, when given,
    ///   were made from this series for this instrument.
    public mutating func process(_ series: BarSeries, range: Range<Int>, markPrices: MarkPrices? = nil) {
        precondition(range.lowerBound >= 0 && range.upperBound <= series.count, "bar range outside the series")
        if let m = markPrices {
            precondition(
                m.instrument == instrument && m.symbol == series.symbol && m.prices.count == series.count,
                "mark prices made for another series or instrument"
            )
        }
        guard !range.isEmpty else { return }
        var s = takeStrategy()
        var curve: [Double] = []
        swap(&curve, &equityCurve)
        let base = curve.count
        curve.append(contentsOf: repeatElement(0, count: range.count))
        curve.withUnsafeMutableBufferPointer { out in
            if let m = markPrices {
                m.prices.withUnsafeBufferPointer { p in processRange(series, range, &s, out: out, base: base, marks: p) }
            } else {
                processRange(series, range, &s, out: out, base: base, marks: nil)
            }
        }
        swap(&curve, &equityCurve)
        strategy = s
        lastBar = series[range.upperBound - 1]
    }

    // The built-in strategies get loops compiled for their type, which call `onBar`
    // directly; any other strategy runs the generic loop, through the witness table.
    @_specialize(where S == SMACrossStrategy)
    @_specialize(where S == ModelDrivenStrategy)
    @_specialize(where S == RLPolicyStrategy)
    private mutating func processRange<S: Strategy>(
        _ series: BarSeries,
        _ range: Range<Int>,
        _ strategy: inout S,
        out: UnsafeMutableBufferPointer<Double>,
        base: Int,
        marks: UnsafeBufferPointer<Price>?
    ) {
        series.timestamps.withUnsafeBufferPointer { t in
            series.open.withUnsafeBufferPointer { o in
                series.high.withUnsafeBufferPointer { h in
                    series.low.withUnsafeBufferPointer { l in
                        series.close.withUnsafeBufferPointer { c in
                            series.volume.withUnsafeBufferPointer { v in
                                var k = base
                                for i in range {
                                    out[k] = step(
                                        Bar(timestamp: Timestamp(nanoseconds: t[i]), open: o[i], high: h[i], low: l[i], close: c[i], volume: v[i]),
                                        &strategy,
                                        markPrice: marks?[i]
                                    )
                                    k += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Moves the strategy out (a no-op strategy holds its place), so that the
    /// per-bar code can hold it `inout` next to `self` without a box check per call.
    private mutating func takeStrategy() -> any Strategy {
        var s: any Strategy = Vacant()
        swap(&s, &strategy)
        return s
    }

    /// Stands in for the strategy while it is out of the engine.
    private struct Vacant: Strategy {
        var name: String { "vacant" }
        var warmupBars: Int { 0 }
        func onBar(_ bar: Bar, context: inout StrategyContext) {}
    }

    /// The per-bar work: fills, marks, the strategy's decision, its orders.
    /// Returns the equity at the close (the caller records it and the bar).
    /// `markPrice` is `instrument.price(bar.close)` when the caller has it.
    @inline(__always)
    private mutating func step<S: Strategy>(_ bar: Bar, _ strategy: inout S, markPrice: Price?) -> Double {
        let index = barCount
        barCount += 1
        if routing == .simulated && !exchange.workingOrders.isEmpty {
            var events = takeEventBuffer()
            // The context lets go of the exchange's order array while the exchange updates it
            // (a shared array would be copied on every change), and gets it back after.
            context.workingOrders = []
            exchange.process(bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
            context.workingOrders = exchange.workingOrders
            handle(events, &strategy)
            returnEventBuffer(&events)
        }
        // The close is converted only when a position needs marking (the price rounding is not free).
        var equity = cash
        if position.raw != 0 { equity += Self.markedValue(position, wholeUnits, markPrice ?? instrument.price(bar.close)) }
        context.barIndex = index
        context.time = bar.timestamp
        context.position = position
        context.cash = cash
        context.equity = equity
        if watchesDrawdown, riskStops(bar, equity: equity) {
            // Kill switch: flattened on the bar it engaged; the strategy is not asked again.
        } else {
            decide(bar, &strategy, index: index)
        }
        if !context.commands.isEmpty {
            let close = markPrice ?? instrument.price(bar.close)
            execute(commands: bar, index: index, close: close, &strategy)
            equity = cash
            if position.raw != 0 { equity += Self.markedValue(position, wholeUnits, close) }
        }
        return equity.doubleValue
    }

    /// Runs the strategy's `onBar`; a failure places nothing and is recorded.
    @inline(__always)
    private mutating func decide<S: Strategy>(_ bar: Bar, _ strategy: inout S, index: Int) {
        do {
            try strategy.onBar(bar, context: &context)
        } catch {
            // A strategy that failed mid-decision places nothing.
            context.commands.removeAll(keepingCapacity: true)
            strategyFailureCount += 1
            if strategyFailures.count < 1000 {
                strategyFailures.append(StrategyFailure(barIndex: index, time: bar.timestamp, message: "\(error)"))
            }
        }
    }

    /// Feeds the drawdown check; returns whether the kill switch is engaged (the
    /// strategy sits out). On the bar it engages, every working order is
    /// cancelled and the position closed.
    @inline(never)
    private mutating func riskStops(_ bar: Bar, equity: Money) -> Bool {
        guard var r = risk else { return false }
        if r.isKillSwitchEngaged { return true }
        let engaged = r.updateEquity(equity)
        risk = r
        guard engaged else { return false }
        killReason = r.killReason
        context.commands.removeAll(keepingCapacity: true)
        context.cancelAllOrders()
        context.closePosition(tag: "kill_switch")
        return true
    }

    /// Why the kill switch engaged, or nil while it is not.
    public private(set) var killReason: String?

    /// Whether the drawdown kill switch has stopped the strategy.
    public var isKillSwitchEngaged: Bool { risk?.isKillSwitchEngaged ?? false }

    /// Releases the kill switch (an operator's decision): the strategy is asked again from the next bar.
    public mutating func resetKillSwitch() {
        risk?.resetKillSwitch()
        killReason = nil
    }

    /// The risk checks for one order; nil when it may go.
    private mutating func riskCheck(_ order: Order, close: Price, bar: Bar) -> RiskViolation? {
        guard var r = risk else { return nil }
        if order.tag == "kill_switch" { return nil }  // the kill switch's own exit is never refused
        let quantity: Quantity
        switch order.size {
        case .quantity(let q): quantity = q
        case .cashFraction(let f):
            let price = exchange.fees.slipped(close, side: order.side)
            quantity = exchange.fees.affordableQuantity(budget: cash * f, price: price, step: instrument.quantityStep)
        }
        let kind: OrderRequest.Kind
        switch order.type {
        case .limit(let p): kind = .limit(p)
        case .market, .stop: kind = .market
        }
        var working = Quantity.zero
        var open = 0
        for o in routing == .simulated ? exchange.workingOrders : Array(externalWorking.values) where o.symbol == order.symbol {
            open += 1
            if case .quantity(let q) = o.size { working += o.side == .buy ? q : -q }
        }
        r.updatePrice(symbol: order.symbol, price: close)
        let request = OrderRequest(clientOrderID: "", symbol: order.symbol, side: order.side, kind: kind, quantity: quantity)
        let violation = r.check(request, exposure: position + working, openOrders: open, nowNanos: UInt64(max(bar.timestamp.nanoseconds, 0)))
        risk = r
        return violation
    }

    /// The position's value at `price`: `position * price`, by one multiplication when the
    /// position is a whole number of units (the usual case, and exact: nothing to round).
    /// (Static, with its inputs as arguments: a method on `self` here made the generic range
    /// loop copy the whole engine per bar.)
    @inline(__always)
    private static func markedValue(_ position: Quantity, _ wholeUnits: Int64, _ price: Price) -> Money {
        if wholeUnits != 0 {
            let (value, overflow) = wholeUnits.multipliedReportingOverflow(by: price.raw)
            if !overflow { return FixedPoint(raw: value) }
        }
        return position * price
    }

    /// The reusable event array (order events are collected per bar; one allocation per run, not per order).
    private mutating func takeEventBuffer() -> [OrderEvent] {
        var events: [OrderEvent] = []
        swap(&events, &eventBuffer)
        return events
    }

    private mutating func returnEventBuffer(_ events: inout [OrderEvent]) {
        events.removeAll(keepingCapacity: true)
        swap(&events, &eventBuffer)
    }

    /// Acts at the last processed bar from outside a strategy (an RL agent that
    /// decides after observing the bar): `body` gets the bar's context, and its
    /// orders go to the execution client as if the strategy had placed them
    /// in `onBar`, so they fill at the next bar's open.
    public mutating func act(_ body: (inout StrategyContext) -> Void) {
        guard let bar = lastBar else { return }
        body(&context)
        if !context.commands.isEmpty {
            var s = takeStrategy()
            execute(commands: bar, index: barCount - 1, close: instrument.price(bar.close), &s)
            strategy = s
        }
    }

    /// Ends the run, settling open positions as `mode` says, and marks the
    /// portfolio at the last close.
    /// - `.lastOpen`: pending orders, then market orders closing every position, fill at the last
    ///   bar's open (backtesting.py's `finalize_trades=True`);
    /// - `.lastClose`: positions are closed at the last bar's close;
    /// - `.none`: positions stay open.
    public mutating func finish(_ mode: FinalizeMode) {
        guard let bar = lastBar else { return }
        let index = barCount - 1
        let close = instrument.price(bar.close)
        var s = takeStrategy()
        defer { strategy = s }
        if mode != .none && position.raw != 0 {
            context.commands.removeAll(keepingCapacity: true)
            context.position = position
            context.closePosition(tag: "finalize")
            let commands = context.commands
            context.commands.removeAll(keepingCapacity: true)
            for case .submit(let order) in commands {
                var events: [OrderEvent] = []
                if mode == .lastClose {
                    exchange.execute(order, at: close, bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
                } else {
                    exchange.submit(order, bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
                }
                handle(events, &s)
            }
            if mode == .lastOpen {
                var events: [OrderEvent] = []
                exchange.process(bar: bar, barIndex: index, portfolio: &portfolio, openOnly: true) { events.append($0) }
                handle(events, &s)
            }
        }
        portfolio.mark(instrument.symbol, at: close)
        var equity = cash
        if position.raw != 0 { equity += position * close }
        if !equityCurve.isEmpty { equityCurve[equityCurve.count - 1] = equity.doubleValue }
    }

    // MARK: External routing (live and paper trading)

    /// Takes the commands waiting for the execution client, oldest first.
    public mutating func takeOutbox() -> [StrategyCommand] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// An order handed out through the outbox and not yet complete.
    public func workingOrder(_ id: OrderID) -> Order? { externalWorking[id] }

    /// Orders handed out and not yet complete, oldest first.
    public var externalWorkingOrders: [Order] { externalWorking.values.sorted { $0.id.rawValue < $1.id.rawValue } }

    /// Books a fill reported by the venue for an order from the outbox: the
    /// ledger, the trades, the cached account, then the strategy's
    /// `onOrderEvent` — exactly what a simulated fill does.
    /// - Parameters:
    ///   - fill: The execution (its `orderID` names the engine's order).
    ///   - orderComplete: Whether the order is done (nothing left working).
    /// - Returns: false when the order is unknown (not from this engine, or already complete).
    @discardableResult
    public mutating func applyFill(_ fill: Fill, orderComplete: Bool) -> Bool {
        guard let order = externalWorking[fill.orderID] else { return false }
        if orderComplete { externalWorking[fill.orderID] = nil }
        portfolio.apply(fill)
        if let bar = lastBar, fill.symbol == instrument.symbol { portfolio.mark(instrument.symbol, at: instrument.price(bar.close)) }
        var s = takeStrategy()
        handle([.filled(order, fill)], &s)
        strategy = s
        return true
    }

    /// Ends an order from the outbox without (further) fills: rejected by
    /// the venue or the executor, cancelled, or expired.
    /// - Returns: false when the order is unknown.
    @discardableResult
    public mutating func endOrder(_ id: OrderID, rejected reason: RejectionReason?) -> Bool {
        guard let order = externalWorking.removeValue(forKey: id) else { return false }
        var s = takeStrategy()
        handle(reason.map { [.rejected(order, $0)] } ?? [.cancelled(order)], &s)
        strategy = s
        return true
    }

    /// Starts the ledger from a position held before this engine existed (a
    /// live restart: the reconciled position, its average price, and the cash
    /// the bot may still spend). The strategy sees it in its context from the
    /// next bar, so an open position is managed — exited at the next exit
    /// signal — and not entered a second time.
    /// - Precondition: nothing was processed yet.
    public mutating func restore(position quantity: Quantity, averagePrice: Price, cash: Money) {
        precondition(barCount == 0 && fills.isEmpty, "restore before the first bar")
        var p = Position(symbol: instrument.symbol)
        p.quantity = quantity
        p.averagePrice = quantity.isZero ? .zero : averagePrice
        portfolio = Portfolio(cash: cash, holding: [p])
        self.cash = cash
        position = quantity
        context.position = quantity
        context.averagePrice = p.averagePrice
        context.cash = cash
    }

    /// Re-marks the last equity point after fills booked since the bar was
    /// processed (orders that fill at once at the close).
    public mutating func remarkLastEquity() {
        guard let bar = lastBar, !equityCurve.isEmpty else { return }
        var equity = cash
        if position.raw != 0 { equity += position * instrument.price(bar.close) }
        equityCurve[equityCurve.count - 1] = equity.doubleValue
    }

    /// The last bar processed.
    public var lastProcessedBar: Bar? { lastBar }

    private mutating func execute<S: Strategy>(commands bar: Bar, index: Int, close: Price, _ strategy: inout S) {
        // The commands move out and the context gets the spare buffer (orders placed from
        // onOrderEvent land there): no array is copied or allocated per order.
        var commands = commandBuffer
        swap(&commands, &context.commands)
        defer {
            commands.removeAll(keepingCapacity: true)
            commandBuffer = commands
        }
        portfolio.mark(instrument.symbol, at: close)
        if risk != nil {
            commands.removeAll { command in
                guard case .submit(let order) = command, let violation = riskCheck(order, close: close, bar: bar) else { return false }
                riskRefusals.append((order, violation))
                let reason = RejectionReason.refused("risk: \(violation)")
                rejections.append((order, reason))
                context.position = position
                context.cash = cash
                strategy.onOrderEvent(.rejected(order, reason), context: &context)
                return true
            }
        }
        if routing == .external {
            for command in commands {
                outbox.append(command)
                if case .submit(let order) = command { externalWorking[order.id] = order }
            }
            context.workingOrders = externalWorkingOrders
            return
        }
        for command in commands {
            var events = takeEventBuffer()
            context.workingOrders = []  // not shared while the exchange changes it (see `step`)
            switch command {
            case .submit(let order):
                exchange.submit(order, bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
            case .cancel(let id):
                if let order = exchange.cancel(id) { events.append(.cancelled(order)) }
            }
            context.workingOrders = exchange.workingOrders
            handle(events, &strategy)
            returnEventBuffer(&events)
        }
    }

    private mutating func handle<S: Strategy>(_ events: [OrderEvent], _ strategy: inout S) {
        for event in events {
            switch event {
            case .filled(let order, let fill):
                fills.append(fill)
                trades.record(fill, tag: order.tag)
                let p = portfolio.position(instrument.symbol)
                position = p.quantity
                cash = portfolio.cash
                context.averagePrice = p.averagePrice
            case .rejected(let order, let reason):
                rejections.append((order, reason))
            case .cancelled, .accepted:
                break
            }
            context.position = position
            context.cash = cash
            context.workingOrders = routing == .simulated ? exchange.workingOrders : externalWorkingOrders
            strategy.onOrderEvent(event, context: &context)
        }
        // Orders placed from onOrderEvent are sent on the next bar.
    }
}
