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

    /// The realised weights after a rebalance.
    public struct WeightRow: Sendable, Hashable {
        /// The slice's index.
        public var index: Int
        /// The slice's time.
        public var time: Timestamp
        /// Each lane's value over equity, after the rebalance's orders (at their prices).
        public var weights: [Double]
    }

    /// `executeRebalance`'s buffers: each lane's index in the step's slice and held value at
    /// the step's prices, each target's lane and held value, the orders' sequence and its keys.
    struct RebalanceScratch: Sendable {
        var slot: [Int32] = []
        var laneValue: [Money] = []
        var lanes: [Int?] = []
        var held: [Money] = []
        var order: [Int] = []
        var keys: [Double] = []
    }

    /// `processRows`' buffers, kept between calls: sized for `rows` rows of `lanes` lanes.
    struct RowScratch: Sendable {
        var laneBuffer: [Int] = []
        var barBuffer: [Bar] = []
        var closeBuffer: [(close: Double, volume: Double)] = []
        var counts: [Int] = []
        var allLanes: [Int] = []
        var slice = MarketSlice(time: Timestamp(nanoseconds: 0), lanes: [], bars: [])

        /// Resizes the buffers when the shape changed (their contents are written before read).
        mutating func size(lanes n: Int, rows block: Int, compact: Bool) {
            if laneBuffer.count != block * n { laneBuffer = [Int](repeating: 0, count: block * n) }
            let bars = compact ? 0 : block * n
            if barBuffer.count != bars {
                barBuffer = [Bar](repeating: Bar(timestamp: Timestamp(nanoseconds: 0), open: 0, high: 0, low: 0, close: 0, volume: 0), count: bars)
            }
            let closes = compact ? block * n : 0
            if closeBuffer.count != closes { closeBuffer = [(close: Double, volume: Double)](repeating: (0, 0), count: closes) }
            if counts.count != block { counts = [Int](repeating: 0, count: block) }
            if allLanes.count != n {
                allLanes = Array(0..<n)
                slice = MarketSlice(time: Timestamp(nanoseconds: 0), lanes: [], bars: [])
                slice.lanes.reserveCapacity(n)
                slice.bars.reserveCapacity(n)
            }
        }
    }

    /// Lanes' places in the portfolio's positions (`positionSlots`).
    struct PositionSlots: Sendable {
        var index: [Dictionary<String, Position>.Index?] = []
        var count = -1
    }

    /// One more instrument of a multi-instrument run: its own simulated
    /// venue and cached position (lane 0 is the engine's `instrument`,
    /// `exchange` and `position`).
    struct Lane: Sendable {
        var exchange: SimulatedExchange
        var position: Quantity = .zero
    }

    /// Where orders go.
    public let routing: OrderRouting
    /// The traded instrument (the first lane's, in a multi-instrument run).
    public let instrument: Instrument
    /// Every traded instrument, by lane (one for a single-instrument run).
    public let instruments: [Instrument]
    /// The price precision of every instrument when they all share one (nil otherwise).
    private let sharedPricePrecision: Int?
    /// Lanes 1..<N of a multi-instrument run.
    private var extraLanes: [Lane] = []
    /// Whether lane `k + 1`'s venue may hold working orders (false: it holds none), kept
    /// beside the lanes so a slice asks 500 bytes in a row instead of 500 venues' arrays
    /// (one cache miss each). Set after every submit, match and cancel at that lane.
    private var extraLaneWorking: [Bool] = []
    /// How many of `extraLaneWorking` are true: a slice skips the scan for working orders
    /// when none is (a rebalancing portfolio filled at the closes holds none between slices).
    private var workingExtraLanes = 0
    /// Each symbol's lane.
    private let laneOfSymbol: [String: Int]
    /// Rebalances decided on the last slice, waiting for this slice's opens (`.nextOpen`).
    private var pendingRebalances: [[Rebalance.Target]] = []
    /// The realised weights after each rebalance, in order.
    public private(set) var weightHistory: [WeightRow] = []
    /// The lanes whose position is not zero, ascending (what `sliceEquity` sums: about `top`
    /// of a 500-symbol universe, not all 500). Kept by `setLanePosition`.
    private var heldLanes: [Int] = []
    /// Each lane's place in `portfolio.positions` (nil: not looked up, or never traded), so
    /// marks and fills at a lane find its position without hashing the symbol; valid while
    /// `count` is the portfolio's position count (positions are only ever added) and reset
    /// when the portfolio is replaced (`restore`).
    private var positionSlots = PositionSlots()
    /// `processRows`' buffers, reused by the next call.
    private var rowScratch = RowScratch()
    /// `executeRebalance`'s buffers, reused by the next rebalance.
    private var rebalanceScratch = RebalanceScratch()
    /// Where `processRows`' touch pass leaves its sum (so its loads are not optimised away).
    private var touchSink: UInt64 = 0
    /// Per-member cursors of the universe being processed (`process(_:range:)` for a universe).
    private var universeCursor: [Int] = []
    /// The time of the last slice processed (multi-instrument runs).
    private var lastSliceTime: Timestamp?
    /// Whether the engine trades more than one instrument (it then processes slices).
    public var isMultiInstrument: Bool { !extraLanes.isEmpty }
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
    /// Whether fills are kept in `fills` and paired into `trades`, and each rebalance's weights
    /// in `weightHistory` (true). An RL environment, which reads only the account, turns this
    /// off: cash, positions, equity and every fill's effect on them are the same either way;
    /// only the three records stay empty.
    public var recordsFills = true
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
        self.instruments = [instrument]
        self.sharedPricePrecision = instrument.pricePrecision
        self.laneOfSymbol = [instrument.symbol: 0]
        self.strategy = strategy
        self.exchange = exchange
        self.portfolio = Portfolio(cash: cash)
        self.trades = TradeLedger()
        self.cash = cash
        self.context = StrategyContext(instrument: instrument, fees: exchange.fees, runID: runID, allowShort: exchange.allowShort)
        equityCurve.reserveCapacity(expectedBars)
    }

    /// Creates an engine for many instruments on one account: one lane per
    /// instrument, each with its own simulated venue (same costs and fill
    /// rules), one `Portfolio` with shared cash. It processes time slices
    /// (`process(_: MarketSlice)`, or a whole `Universe`). With one
    /// instrument it is the single-instrument engine.
    /// - Precondition: at least one instrument; symbols distinct.
    public init(
        instruments: [Instrument],
        strategy: any Strategy,
        fees: FeeModel,
        fillTiming: FillTiming = .nextOpen,
        allowShort: Bool = false,
        cash: Money,
        expectedBars: Int = 0,
        runID: String = "crocbot",
        routing: OrderRouting = .simulated,
        risk limits: RiskLimits = .none
    ) {
        precondition(!instruments.isEmpty, "at least one instrument")
        precondition(Set(instruments.map(\.symbol)).count == instruments.count, "symbols must be distinct")
        let venue = { (i: Instrument) in SimulatedExchange(instrument: i, fees: fees, fillTiming: fillTiming, allowShort: allowShort) }
        self.risk = limits.isEmpty ? nil : RiskEngine(limits: limits)
        self.watchesDrawdown = limits.maxDrawdown != nil
        self.routing = routing
        self.instrument = instruments[0]
        self.instruments = instruments
        let precision = instruments[0].pricePrecision
        self.sharedPricePrecision = instruments.allSatisfy { $0.pricePrecision == precision } ? precision : nil
        self.laneOfSymbol = Dictionary(uniqueKeysWithValues: instruments.enumerated().map { ($1.symbol, $0) })
        self.strategy = strategy
        self.exchange = venue(instruments[0])
        self.extraLanes = instruments.dropFirst().map { Lane(exchange: venue($0)) }
        self.extraLaneWorking = [Bool](repeating: false, count: instruments.count - 1)
        self.portfolio = Portfolio(cash: cash)
        self.trades = TradeLedger()
        self.cash = cash
        self.context = StrategyContext(instruments: instruments, fees: fees, runID: runID, allowShort: allowShort)
        equityCurve.reserveCapacity(expectedBars)
    }

    /// Processes one market event.
    public mutating func process(_ event: MarketEvent) {
        switch event {
        case .bar(let bar): process(bar)
        case .slice(let slice): process(slice)
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
        if !pendingRebalances.isEmpty {
            executePendingRebalances(index: index, slice: nil, bar: bar, &strategy)
        }
        if routing == .simulated && !exchange.workingOrders.isEmpty {
            fillWorking(lane: 0, bar: bar, index: index, &strategy)
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
        } else if equity.raw >= Self.equityCeiling.raw || outOfRange {
            stopOutOfRange(index: index, time: bar.timestamp, equity: equity)
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
            recordFailure(error, index: index, time: bar.timestamp)
        }
    }

    /// A strategy that failed mid-decision places nothing; the failure is counted and kept
    /// (the first 1,000).
    @inline(never)
    private mutating func recordFailure(_ error: any Error, index: Int, time: Timestamp) {
        context.commands.removeAll(keepingCapacity: true)
        strategyFailureCount += 1
        if strategyFailures.count < 1000 {
            strategyFailures.append(StrategyFailure(barIndex: index, time: time, message: "\(error)"))
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
        context.closeAllPositions(tag: "kill_switch")
        return true
    }

    /// The largest account value the engine trades at: a tenth of the ledger's range
    /// (`FixedPoint` holds amounts up to 9.2e10). Beyond it the strategy is not asked again and
    /// the run records a failure saying why (a backtest then fails with it), rather than letting
    /// an amount overflow.
    public static let equityCeiling = FixedPoint(9_000_000_000)

    /// Whether the account went past `equityCeiling` (the strategy is no longer asked).
    public private(set) var outOfRange = false

    /// Stops asking the strategy once equity leaves the ledger's safe range; recorded once.
    @inline(never)
    private mutating func stopOutOfRange(index: Int, time: Timestamp, equity: Money) {
        context.commands.removeAll(keepingCapacity: true)
        guard !outOfRange else { return }
        outOfRange = true
        strategyFailureCount += 1
        strategyFailures.append(
            StrategyFailure(
                barIndex: index,
                time: time,
                message:
                    "the account's value \(equity.formatted(decimals: 2)) passed \(Self.equityCeiling.formatted(decimals: 0)), the most the ledger trades at (amounts are exact to 1e-8 up to 9.2e10): the run stops here; start with less cash or a shorter period"
            )
        )
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
    private mutating func riskCheck(_ order: Order, close: Price, time: Timestamp) -> RiskViolation? {
        guard var r = risk else { return nil }
        if order.tag == "kill_switch" { return nil }  // the kill switch's own exit is never refused
        let lane = laneOfSymbol[order.symbol] ?? 0
        let quantity: Quantity
        switch order.size {
        case .quantity(let q): quantity = q
        case .cashFraction(let f):
            let price = exchange.fees.slipped(close, side: order.side)
            quantity = exchange.fees.affordableQuantity(budget: cash * f, price: price, step: instruments[lane].quantityStep)
        }
        let kind: OrderRequest.Kind
        switch order.type {
        case .limit(let p): kind = .limit(p)
        case .market, .stop: kind = .market
        }
        var working = Quantity.zero
        var open = 0
        for o in routing == .simulated ? laneWorkingOrders(lane) : Array(externalWorking.values) where o.symbol == order.symbol {
            open += 1
            if case .quantity(let q) = o.size { working += o.side == .buy ? q : -q }
        }
        r.updatePrice(symbol: order.symbol, price: close)
        let request = OrderRequest(clientOrderID: "", symbol: order.symbol, side: order.side, kind: kind, quantity: quantity)
        let violation = r.check(
            request,
            exposure: lanePosition(lane) + working,
            openOrders: open,
            nowNanos: UInt64(max(time.nanoseconds, 0))
        )
        risk = r
        return violation
    }

    // MARK: Lanes

    /// Lane `k`'s signed position.
    @inline(__always)
    private func lanePosition(_ k: Int) -> Quantity { k == 0 ? position : extraLanes[k - 1].position }

    /// The signed position in `symbol` (zero for a symbol this run does not trade).
    public func position(of symbol: String) -> Quantity {
        guard let k = laneOfSymbol[symbol] else { return .zero }
        return lanePosition(k)
    }

    /// The signed position of lane `k` (the instruments' order): `position(of:)` without the
    /// lookup by symbol.
    /// - Precondition: `k` is a lane of this run.
    public func position(lane k: Int) -> Quantity {
        precondition(instruments.indices.contains(k), "lane \(k) outside the run's \(instruments.count) instruments")
        return lanePosition(k)
    }

    /// Lane `k`'s last close: `lastClose(of:)` without the lookup by symbol.
    /// - Precondition: `k` is a lane of this run.
    public func lastClose(lane k: Int) -> Price? {
        precondition(instruments.indices.contains(k), "lane \(k) outside the run's \(instruments.count) instruments")
        if extraLanes.isEmpty { return lastBar.map { instrument.price($0.close) } }
        return context.closes[k].raw > 0 ? context.closes[k] : nil
    }

    /// `symbol`'s last close seen by this engine (nil before its first bar, or for a symbol
    /// this run does not trade).
    public func lastClose(of symbol: String) -> Price? {
        guard let k = laneOfSymbol[symbol] else { return nil }
        if extraLanes.isEmpty { return lastBar.map { instrument.price($0.close) } }
        return context.closes[k].raw > 0 ? context.closes[k] : nil
    }

    /// The time of the last bar or slice processed.
    public var lastProcessedTime: Timestamp? { extraLanes.isEmpty ? lastBar?.timestamp : lastSliceTime }

    /// Lane `k`'s working orders at its simulated venue.
    private func laneWorkingOrders(_ k: Int) -> [Order] { k == 0 ? exchange.workingOrders : extraLanes[k - 1].exchange.workingOrders }

    /// Sets lane `i + 1`'s may-hold-working-orders flag, keeping `workingExtraLanes` in step.
    @inline(__always)
    private mutating func setLaneWorking(_ i: Int, _ working: Bool) {
        guard extraLaneWorking[i] != working else { return }
        extraLaneWorking[i] = working
        workingExtraLanes += working ? 1 : -1
    }

    /// Every working order at the simulated venues, lane by lane.
    private var simulatedWorkingOrders: [Order] {
        guard !extraLanes.isEmpty else { return exchange.workingOrders }
        var all = exchange.workingOrders
        // By index, read in place: binding each lane would retain its arrays.
        for k in extraLanes.indices where extraLaneWorking[k] && !extraLanes[k].exchange.workingOrders.isEmpty {
            all.append(contentsOf: extraLanes[k].exchange.workingOrders)
        }
        return all
    }

    /// Matches lane `k`'s working orders against its bar and books the fills.
    @inline(__always)
    private mutating func fillWorking<S: Strategy>(lane k: Int, bar: Bar, index: Int, _ strategy: inout S) {
        var events = takeEventBuffer()
        // The context lets go of the exchange's order array while the exchange updates it
        // (a shared array would be copied on every change), and gets it back after.
        context.workingOrders = []
        if k == 0 {
            exchange.process(bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
        } else {
            extraLanes[k - 1].exchange.process(bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
            setLaneWorking(k - 1, !extraLanes[k - 1].exchange.workingOrders.isEmpty)
        }
        context.workingOrders = simulatedWorkingOrders
        handle(events, &strategy, lane: k)
        returnEventBuffer(&events)
    }

    /// Fills `order` on lane `k` at `price` now (rebalance orders), booking the fill.
    private mutating func executeNow<S: Strategy>(_ order: Order, lane k: Int, at price: Price, bar: Bar, index: Int, _ strategy: inout S) {
        var events = takeEventBuffer()
        // `execute` fills or rejects at once and never touches the working orders, so the
        // context's list of them stays as it is (no gathering over every lane per fill).
        if k == 0 {
            exchange.execute(order, at: price, bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
        } else {
            extraLanes[k - 1].exchange.execute(order, at: price, bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
        }
        handle(events, &strategy, refreshWorking: false, lane: k)
        returnEventBuffer(&events)
    }

    /// `executeNow` for a rebalance leg that nobody observes (no records kept, no risk limits,
    /// a strategy that ignores order events): the venue's checks (`SimulatedExchange.refusal`),
    /// the fill booked into the portfolio at the lane's place and the lane's position, cash
    /// and average price updated, exactly as `executeNow` and `handle` do — without an order,
    /// its events or hashing the symbol. The leg takes the order id its order would have;
    /// `notional` and `commission` are the leg's (`quantity × price` and its fee).
    /// Returns false, booking nothing, when the venue would refuse it (the caller then sends it
    /// as an order, whose rejection is recorded).
    private mutating func leanFill(
        lane k: Int,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        notional: Money,
        commission: Money,
        bar: Bar,
        index: Int
    ) -> Bool {
        // Every lane's venue has lane 0's costs and short rule (one set per engine): asked of
        // lane 0's, so no lane's venue is copied out of its array.
        let held = lanePosition(k)
        let refused = exchange.refusal(
            side,
            quantity: quantity,
            price: price,
            notional: notional,
            commission: commission,
            held: held,
            portfolio: portfolio
        )
        guard refused == nil else { return false }
        let id = OrderID(context.nextOrderID)
        context.nextOrderID += 1
        let fill = Fill(
            orderID: id,
            symbol: instruments[k].symbol,
            side: side,
            quantity: quantity,
            price: price,
            commission: commission,
            timestamp: bar.timestamp,
            barIndex: index
        )
        let p = portfolio.apply(fill, notional: notional, at: positionSlot(k))
        cash = portfolio.cash
        if k == 0 {
            position = p.quantity
            context.averagePrice = p.averagePrice
        } else {
            extraLanes[k - 1].position = p.quantity
        }
        setLanePosition(k, p.quantity)
        context.averagePrices[k] = p.averagePrice
        context.position = position
        context.cash = cash
        return true
    }

    /// Lane `k`'s bar in the current step: the single bar for lane 0 of a single-instrument step,
    /// else the slice's bar of that lane (nil: no bar now).
    @inline(__always)
    private func laneBar(_ k: Int, bar: Bar?, slice: MarketSlice?) -> Bar? {
        if let slice { return slice.bar(lane: k) }
        return k == 0 ? bar : nil
    }

    /// Equity with every lane marked at its last close (`context.closes`).
    private func sliceEquity() -> Money {
        var equity = cash
        context.positions.withUnsafeBufferPointer { q in
            context.closes.withUnsafeBufferPointer { c in
                // Every close is rounded to the lanes' shared precision: a fractional position's
                // value is then a 64-bit product (`multiplied(byPrice:unit:)`, the same rounding as `*`).
                @inline(__always) func sum(_ unit: Int64) {
                    for k in heldLanes {
                        let raw = q[k].raw
                        equity += Self.markedValue(q[k], raw % FixedPoint.scale == 0 ? raw / FixedPoint.scale : 0, c[k], unit: unit)
                    }
                }
                if !Self.withPriceUnit(sharedPricePrecision, sum) { sum(1) }
            }
        }
        return equity
    }

    /// `quantity × price` for a price of a lane (rounded to the lanes' shared precision): one
    /// 64-bit product where `*` takes its 128-bit path for fractional quantities — the same
    /// result (`multiplied(byPrice:unit:)`); `*` for other prices and precisions.
    /// (Static, with the precision as an argument: a method on `self` called from the generic
    /// rebalance copied the whole engine per call.)
    @inline(__always)
    private static func value(_ quantity: Quantity, at price: Price, precision: Int?) -> Money {
        switch precision {
        case 2: return quantity.multiplied(byPrice: price, unit: 1_000_000)
        case 4: return quantity.multiplied(byPrice: price, unit: 10_000)
        case 5: return quantity.multiplied(byPrice: price, unit: 1_000)
        case 6: return quantity.multiplied(byPrice: price, unit: 100)
        default: return quantity * price
        }
    }

    /// Lane `k`'s position valued at its last close (`position(lane:) × lastClose(lane:)`, the
    /// same product), or nil when flat or before its first close.
    /// - Precondition: `k` is a lane of this run.
    public func positionValue(lane k: Int) -> Money? {
        let q = position(lane: k)
        guard q.raw != 0, let close = lastClose(lane: k) else { return nil }
        return Self.value(q, at: close, precision: sharedPricePrecision)
    }

    /// Calls `body` with the raw unit of prices at `precision` decimals (2, 4, 5, 6 or 8), as a
    /// constant in each case so that the divisions by it in `body` are multiplications; false,
    /// without calling it, for other precisions or none.
    @inline(__always)
    private static func withPriceUnit(_ precision: Int?, _ body: (Int64) -> Void) -> Bool {
        switch precision {
        case 2: body(1_000_000)
        case 4: body(10_000)
        case 5: body(1_000)
        case 6: body(100)
        case 8: body(1)
        default: return false
        }
        return true
    }

    /// Sets lane `k`'s position in the strategy's context and keeps `heldLanes` in step.
    private mutating func setLanePosition(_ k: Int, _ q: Quantity) {
        let was = context.positions[k].raw != 0
        context.positions[k] = q
        guard was != (q.raw != 0) else { return }
        var lo = 0
        var hi = heldLanes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if heldLanes[mid] < k { lo = mid + 1 } else { hi = mid }
        }
        if was { heldLanes.remove(at: lo) } else { heldLanes.insert(k, at: lo) }
    }

    /// Lane `k`'s place in `portfolio.positions` (nil: never traded), from `positionSlots`
    /// (looked up once per lane while no position is added).
    @inline(__always)
    private mutating func positionSlot(_ k: Int) -> Dictionary<String, Position>.Index? {
        let count = portfolio.positions.count
        if positionSlots.count != count {
            if positionSlots.index.count != instruments.count {
                positionSlots.index = [Dictionary<String, Position>.Index?](repeating: nil, count: instruments.count)
            } else {
                for j in positionSlots.index.indices { positionSlots.index[j] = nil }
            }
            positionSlots.count = count
        }
        if let i = positionSlots.index[k] { return i }
        let i = portfolio.positions.index(forKey: instruments[k].symbol)
        positionSlots.index[k] = i
        return i
    }

    /// Marks lane `k`'s position (when it has one) at `price`.
    @inline(__always)
    private mutating func markLane(_ k: Int, at price: Price) {
        if let i = positionSlot(k) { portfolio.mark(at: i, price: price) }
    }

    // MARK: Rebalances

    /// Runs the rebalances decided on the previous step at this step's opens.
    @inline(never)
    private mutating func executePendingRebalances<S: Strategy>(index: Int, slice: MarketSlice?, bar: Bar?, _ strategy: inout S) {
        // The list moves out and comes back emptied (its storage kept for the next slice's).
        var pending: [[Rebalance.Target]] = []
        swap(&pending, &pendingRebalances)
        for targets in pending { executeRebalance(targets, index: index, slice: slice, bar: bar, atOpen: true, &strategy) }
        pending.removeAll(keepingCapacity: true)
        if pendingRebalances.isEmpty { pendingRebalances = pending }
    }

    /// Executes one rebalance at the step's opens or closes, by `Rebalance`'s rules: the
    /// account valued at those prices, the orders sells first, each sized from the value left
    /// after the earlier ones, buys cut to the cash. A symbol without a bar now is not traded.
    @inline(never)
    private mutating func executeRebalance<S: Strategy>(
        _ targets: [Rebalance.Target],
        index: Int,
        slice: MarketSlice?,
        bar: Bar?,
        atOpen: Bool,
        _ strategy: inout S
    ) {
        let n = instruments.count
        // Buffers kept by the engine between rebalances (an RL environment rebalances every step).
        var scratch = RebalanceScratch()
        swap(&scratch, &rebalanceScratch)
        defer { swap(&scratch, &rebalanceScratch) }
        // Each lane's bar in the step (its index in the slice; -1: none), found in one pass over
        // the slice's ascending lanes. Prices are read only for the lanes a rebalance touches
        // (the held ones and the targets: a few dozen of a 500-symbol universe).
        if scratch.slot.count != n {
            scratch.slot = [Int32](repeating: -1, count: n)
        } else {
            scratch.slot.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
        }
        if let slice {
            for (j, k) in slice.lanes.enumerated() where k >= 0 && k < n { scratch.slot[k] = Int32(truncatingIfNeeded: j) }
        } else if bar != nil {
            scratch.slot[0] = 0
        }
        let slot = scratch.slot
        let instruments = self.instruments
        let sliceBars = slice?.bars ?? []
        let single = slice == nil ? bar : nil
        @inline(__always) func barOf(_ k: Int) -> Bar? {
            let j = Int(slot[k])
            guard j >= 0 else { return nil }
            return single ?? sliceBars[j]
        }
        @inline(__always) func priceOf(_ k: Int) -> Price? {
            barOf(k).map { instruments[k].price(atOpen ? $0.open : $0.close) }
        }
        let time = slice?.time ?? bar?.timestamp ?? Timestamp(nanoseconds: 0)
        let precision = sharedPricePrecision
        // The account valued with each held lane at its price now, or its last close when it
        // has no bar now (a flat lane adds nothing).
        // Each held lane's value is kept (`laneValue`, read below for the targets' held values).
        var value = cash
        if scratch.laneValue.count != n { scratch.laneValue = [Money](repeating: .zero, count: n) }
        for k in heldLanes {
            let mark = priceOf(k) ?? closeOf(k)
            let v = Self.value(lanePosition(k), at: mark, precision: precision)
            scratch.laneValue[k] = v
            value += v
            markLane(k, at: mark)
        }
        lanes(of: targets, into: &scratch.lanes)
        let targetLanes = scratch.lanes
        // (A loop, not a closure: a closure calling the engine's methods would copy the engine.)
        scratch.held.removeAll(keepingCapacity: true)
        for lane in targetLanes {
            if let k = lane, lanePosition(k).raw != 0 {
                scratch.held.append(scratch.laneValue[k])
            } else {
                scratch.held.append(.zero)
            }
        }
        Rebalance.sequence(targets, equity: value, heldValues: scratch.held, into: &scratch.order, keys: &scratch.keys)
        let order = scratch.order
        let fees = exchange.fees
        // An engine that keeps no records, checks no risk limits and runs a strategy that ignores
        // order events (an RL environment's) books each leg straight into the ledger (`leanFill`).
        let lean = !recordsFills && risk == nil && routing == .simulated && S.self == IdleStrategy.self
        for i in order {
            guard let k = targetLanes[i], let b = barOf(k), let price = priceOf(k) else { continue }
            let held = lanePosition(k)
            let step = instruments[k].quantityStep
            guard var q = Rebalance.delta(weight: targets[i].weight, equity: value, price: price, position: held, step: step), q.raw != 0
            else {
                continue
            }
            let side: OrderSide = q.raw > 0 ? .buy : .sell
            let fillPrice = fees.slipped(price, side: side)
            // The leg's notional and commission, computed once (the buy's cut to the cash needs them).
            let notional: Money
            let commission: Money
            if side == .buy {
                (q, notional, commission) = Rebalance.affordableBuy(q, price: fillPrice, cash: cash, fees: fees, step: step)
            } else {
                q = q.magnitude
                notional = q * fillPrice
                commission = fees.commission(notional: notional)
            }
            guard q.raw != 0 else { continue }
            let cashBefore = cash
            if !(lean
                && leanFill(lane: k, side: side, quantity: q, price: fillPrice, notional: notional, commission: commission, bar: b, index: index))
            {
                var order = context.makeOrder(symbol: targets[i].symbol, side: side, size: .quantity(q), tag: "rebalance")
                order.createdAt = time
                if risk != nil, let violation = riskCheck(order, close: price, time: time) {
                    riskRefusals.append((order, violation))
                    rejections.append((order, .refused("risk: \(violation)")))
                    continue
                }
                executeNow(order, lane: k, at: fillPrice, bar: b, index: index, &strategy)
            }
            // Revalued exactly: the lane's term and the cash replaced (the sum is the full
            // revaluation); `held × price` is this target's held value, computed above.
            value += (Self.value(lanePosition(k), at: price, precision: precision) - scratch.held[i]) + (cash - cashBefore)
        }
        guard recordsFills else { return }
        var weights = [Double](repeating: 0, count: n)
        let total = value.doubleValue
        if total != 0 {
            for k in heldLanes { weights[k] = (lanePosition(k) * (priceOf(k) ?? closeOf(k))).doubleValue / total }
        }
        weightHistory.append(WeightRow(index: index, time: time, weights: weights))
    }

    /// The orders of a rebalance for an external execution client, planned at the decision's
    /// closes by the backtest's rules: sells first; each order sized from the account's value
    /// after the earlier orders of the rebalance (at the closes, with the fee model's slippage
    /// and commission); a buy cut to the cash those orders leave. A venue that fills at these
    /// closes (paper with `fillAt: close`) books exactly the backtest's fills; one that fills
    /// later refuses a buy the cash no longer covers.
    /// With fills at the close, a symbol with no bar in `slice` gets no order (as in a backtest).
    private mutating func externalRebalanceOrders(_ targets: [Rebalance.Target], slice: MarketSlice?) -> [Order] {
        let closeOnly = exchange.fillTiming == .close && slice != nil
        let fees = exchange.fees
        var held = instruments.indices.map { lanePosition($0) }
        var cashLeft = cash
        var value = cash
        for k in instruments.indices where held[k].raw != 0 { value += held[k] * closeOf(k) }
        let heldValues = instruments.indices.map { held[$0] * closeOf($0) }
        let targetLanes = lanes(of: targets)
        let order = Rebalance.sequence(targets, equity: value, heldValues: targetLanes.map { $0.map { heldValues[$0] } ?? .zero })
        var orders: [Order] = []
        for i in order {
            let target = targets[i]
            guard let k = targetLanes[i], !closeOnly || slice?.bar(lane: k) != nil else { continue }
            let price = closeOf(k)
            let step = instruments[k].quantityStep
            guard price.raw > 0,
                var q = Rebalance.delta(weight: target.weight, equity: value, price: price, position: held[k], step: step), q.raw != 0
            else { continue }
            let side: OrderSide = q.raw > 0 ? .buy : .sell
            let fillPrice = fees.slipped(price, side: side)
            if side == .buy { q = Rebalance.affordable(buy: q, price: fillPrice, cash: cashLeft, fees: fees, step: step) }
            q = q.magnitude
            guard q.raw != 0 else { continue }
            orders.append(context.makeOrder(symbol: target.symbol, side: side, size: .quantity(q), tag: "rebalance"))
            // What the fill would do to the account (`Portfolio.apply`'s arithmetic), for the next order's size.
            let notional = q * fillPrice
            let before = held[k]
            let cashBefore = cashLeft
            cashLeft += side == .buy ? -notional : notional
            cashLeft -= fees.commission(notional: notional)
            held[k] = side == .buy ? before + q : before - q
            value += (held[k] * price - before * price) + (cashLeft - cashBefore)
        }
        return orders
    }

    /// The lane of each target's symbol (nil for a symbol this run does not trade). Targets
    /// made from a lane vector come in lane order: a forward scan comparing the (usually
    /// inline, two-word) symbols finds them without hashing; after the first target found out
    /// of that order the symbol table answers.
    private func lanes(of targets: [Rebalance.Target]) -> [Int?] {
        var out: [Int?] = []
        lanes(of: targets, into: &out)
        return out
    }

    /// `lanes(of:)` into `out` (emptied first; its storage reused).
    private func lanes(of targets: [Rebalance.Target], into out: inout [Int?]) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(targets.count)
        var next = 0
        var inOrder = true
        for t in targets {
            if inOrder {
                var k = next
                while k < instruments.count && instruments[k].symbol != t.symbol { k += 1 }
                if k < instruments.count {
                    out.append(k)
                    next = k + 1
                    continue
                }
                inOrder = false
            }
            out.append(laneOfSymbol[t.symbol])
        }
    }

    /// Lane `k`'s last close (lane 0 of a single-instrument run: the last bar's).
    private func closeOf(_ k: Int) -> Price {
        if k == 0 && extraLanes.isEmpty, let bar = lastBar { return instrument.price(bar.close) }
        return context.closes[k]
    }

    // MARK: Slices (multi-instrument runs)

    /// Processes one time slice: the bars of the symbols that share a timestamp.
    /// Per slice: rebalances waiting from the last slice run at the opens; each lane's working
    /// orders are matched against its own bar; every lane with a bar is marked at its close
    /// (the others keep their last close); the strategy decides once (`onSlice`); its commands
    /// go to the lanes they name; equity at the closes is recorded.
    public mutating func process(_ slice: MarketSlice) {
        var s = takeStrategy()
        let equity = stepSlice(slice, &s)
        strategy = s
        equityCurve.append(equity)
    }

    /// Processes union-calendar rows `range` of `universe` as slices, in order: the same work
    /// as `process(_: MarketSlice)` per row, with the strategy's type opened once and the
    /// slice's storage reused (the portfolio backtest hot loop). Rows must be processed in
    /// order from 0 across calls.
    /// - Precondition: the universe's symbols are this engine's instruments', in lane order.
    public mutating func process(_ universe: Universe, range: Range<Int>) {
        precondition(
            universe.members.count == instruments.count
                && universe.members.withUnsafeBufferPointer { m in instruments.indices.allSatisfy { m[$0].symbol == instruments[$0].symbol } },
            "the universe's symbols must be the engine's instruments, in order"
        )
        precondition(range.lowerBound >= 0 && range.upperBound <= universe.timestamps.count, "rows outside the universe")
        guard !range.isEmpty else { return }
        if universeCursor.count != universe.count {
            universeCursor = universe.members.indices.map { s in
                (0..<range.lowerBound).reversed().lazy.compactMap { universe.barIndex(symbol: s, time: $0) }.first.map { $0 + 1 } ?? 0
            }
        }
        var s = takeStrategy()
        processRows(universe, range, &s)
        strategy = s
    }

    @_specialize(where S == AllocatorStrategy)
    @_specialize(where S == IdleStrategy)
    private mutating func processRows<S: Strategy>(_ universe: Universe, _ range: Range<Int>, _ strategy: inout S) {
        let n = universe.count
        var cursor = universeCursor
        equityCurve.reserveCapacity(equityCurve.count + range.count)
        // Rows are gathered a block at a time, member by member: each member's next `block`
        // bars sit in two or three cache lines per column, so reading them together costs a
        // few misses where reading row by row across 500 members cost one per asset-bar (16
        // rows: 37.6 ms for 500 x 2,520 where 8 rows took 48 ms; 32 and 64 no better). The
        // block's slices (time-major) then fit in L2 while the strategy runs them in order.
        let block = 16
        // A universe of closes (every member's open, high and low are its close's storage, as a
        // wide file's are) gathers only closes and volumes (`closeBuffer`), 16 bytes a bar instead of 48: the
        // block's scratch then stays in cache, and each slice's bars are built from it in place.
        let compact = Self.sharesPriceColumns(universe)
        // Flat scratch: row r of the block holds its lanes at [r * n, r * n + count[r]). Kept by
        // the engine between calls and swapped out while the rows run; the loop borrows its
        // buffers one by one (distinct stored properties of a local), so they are neither copied
        // on write nor retained per call — an RL environment processes one row per step.
        var scratch = RowScratch()
        swap(&scratch, &rowScratch)
        defer { swap(&scratch, &rowScratch) }
        scratch.size(lanes: n, rows: block, compact: compact)
        func run(
            _ laneBuffer: inout [Int],
            _ barBuffer: inout [Bar],
            _ closeBuffer: inout [(close: Double, volume: Double)],
            _ counts: inout [Int],
            _ slice: inout MarketSlice,
            _ allLanes: [Int]
        ) {
            var t0 = range.lowerBound
            while t0 < range.upperBound {
                let t1 = min(t0 + block, range.upperBound)
                for i in 0..<block { counts[i] = 0 }
                laneBuffer.withUnsafeMutableBufferPointer { laneBuffer in
                    barBuffer.withUnsafeMutableBufferPointer { barBuffer in
                        closeBuffer.withUnsafeMutableBufferPointer { closeBuffer in
                            counts.withUnsafeMutableBufferPointer { counts in
                                universe.timestamps.withUnsafeBufferPointer { rowTimes in
                                    // Touch pass: one load per cache line of the block's closes, for every
                                    // member, all independent (many misses in flight at once); the gather
                                    // below then reads them from cache.
                                    var sink: UInt64 = 0
                                    for k in 0..<n {
                                        let start = universe.runStarts[k]
                                        guard start >= 0 else { continue }
                                        universe.members[k].close.withUnsafeBufferPointer { close in
                                            var i = max(t0 - start, 0)
                                            let end = min(t1 - start, close.count)
                                            while i < end {
                                                sink &+= close[i].bitPattern
                                                i += 8
                                            }
                                        }
                                    }
                                    touchSink = sink
                                    for k in 0..<n {
                                        // Each member's columns as buffers: its rows are read by pointer.
                                        cursor[k] = universe.members[k].withColumns { columns in
                                            var c = cursor[k]
                                            let count = columns.timestamps.count
                                            let start = universe.runStarts[k]
                                            if start >= 0 {
                                                // Bars on an unbroken run of rows: row t's bar is t - start, its
                                                // time the row's (the member's own times are not read).
                                                let first = max(t0, start)
                                                let last = min(t1, start + count)
                                                guard first < last else { return min(max(t1 - start, 0), count) }
                                                for t in first..<last {
                                                    let r = t - t0
                                                    let at = r * n + counts[r]
                                                    let i = t - start
                                                    laneBuffer[at] = k
                                                    if compact {
                                                        closeBuffer[at] = (columns.close[i], columns.volume[i])
                                                    } else {
                                                        barBuffer[at] = Bar(
                                                            timestamp: Timestamp(nanoseconds: rowTimes[t]),
                                                            open: columns.open[i],
                                                            high: columns.high[i],
                                                            low: columns.low[i],
                                                            close: columns.close[i],
                                                            volume: columns.volume[i]
                                                        )
                                                    }
                                                    counts[r] += 1
                                                }
                                                return last - start
                                            }
                                            for t in t0..<t1 where c < count && columns.timestamps[c] == rowTimes[t] {
                                                let r = t - t0
                                                let at = r * n + counts[r]
                                                laneBuffer[at] = k
                                                if compact {
                                                    closeBuffer[at] = (columns.close[c], columns.volume[c])
                                                } else {
                                                    barBuffer[at] = columns.bar(c)
                                                }
                                                counts[r] += 1
                                                c += 1
                                            }
                                            return c
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                for t in t0..<t1 {
                    let r = t - t0
                    slice.time = Timestamp(nanoseconds: universe.timestamps[t])
                    if counts[r] == n {
                        // Every member has a bar: the lanes are 0..<n, shared rather than copied.
                        slice.lanes = allLanes
                    } else {
                        slice.lanes.removeAll(keepingCapacity: true)
                        laneBuffer.withUnsafeBufferPointer { slice.lanes.append(contentsOf: $0[(r * n)..<(r * n + counts[r])]) }
                    }
                    if compact {
                        // The row's bars built where the slice holds them (open = high = low = close).
                        let count = counts[r]
                        if slice.bars.count > count {
                            slice.bars.removeLast(slice.bars.count - count)
                        } else if slice.bars.count < count {
                            slice.bars.append(
                                contentsOf: repeatElement(
                                    Bar(timestamp: slice.time, open: 0, high: 0, low: 0, close: 0, volume: 0),
                                    count: count - slice.bars.count
                                )
                            )
                        }
                        let time = slice.time
                        closeBuffer.withUnsafeBufferPointer { gathered in
                            slice.bars.withUnsafeMutableBufferPointer { bars in
                                for j in 0..<count {
                                    let (x, volume) = gathered[r * n + j]
                                    bars[j] = Bar(timestamp: time, open: x, high: x, low: x, close: x, volume: volume)
                                }
                            }
                        }
                    } else {
                        slice.bars.removeAll(keepingCapacity: true)
                        barBuffer.withUnsafeBufferPointer { slice.bars.append(contentsOf: $0[(r * n)..<(r * n + counts[r])]) }
                    }
                    equityCurve.append(stepSlice(slice, &strategy))
                }
                t0 = t1
            }
            universeCursor = cursor
        }
        run(&scratch.laneBuffer, &scratch.barBuffer, &scratch.closeBuffer, &scratch.counts, &scratch.slice, scratch.allLanes)
    }

    /// Whether every member's open, high and low columns are its close column's storage (a
    /// universe of closes, as the wide loader builds it), so a bar is its
    /// close and volume. Storage is compared, not values: O(1) a member.
    private static func sharesPriceColumns(_ universe: Universe) -> Bool {
        universe.members.allSatisfy { member in
            member.withColumns { c in
                c.open.baseAddress == c.close.baseAddress && c.high.baseAddress == c.close.baseAddress && c.low.baseAddress == c.close.baseAddress
            }
        }
    }

    /// The smallest (earliest placed) id of `orders`.
    private static func firstID(_ orders: [Order]) -> UInt64 {
        var first = UInt64.max
        for o in orders where o.id.rawValue < first { first = o.id.rawValue }
        return first
    }

    /// The per-slice work (see `process(_: MarketSlice)`); returns the equity at the closes.
    private mutating func stepSlice<S: Strategy>(_ slice: MarketSlice, _ strategy: inout S) -> Double {
        let index = barCount
        barCount += 1
        if !pendingRebalances.isEmpty { executePendingRebalances(index: index, slice: slice, bar: nil, &strategy) }
        if routing == .simulated && (workingExtraLanes > 0 || !exchange.workingOrders.isEmpty) {
            // Lanes are matched in the order their working orders were placed (the earliest
            // first): a rebalance's sells, placed first, free the cash its buys need.
            var waiting: [(j: Int, first: UInt64)] = []
            for (j, k) in slice.lanes.enumerated() {
                // Read in place (binding the array to a local would retain it per lane and slice).
                guard k == 0 ? !exchange.workingOrders.isEmpty : extraLaneWorking[k - 1] && !extraLanes[k - 1].exchange.workingOrders.isEmpty
                else { continue }
                let first = k == 0 ? Self.firstID(exchange.workingOrders) : Self.firstID(extraLanes[k - 1].exchange.workingOrders)
                waiting.append((j, first))
            }
            if waiting.count > 1 { waiting.sort { $0.first < $1.first } }
            for (j, _) in waiting { fillWorking(lane: slice.lanes[j], bar: slice.bars[j], index: index, &strategy) }
        }
        let precision = sharedPricePrecision
        instruments.withUnsafeBufferPointer { instruments in
            context.closes.withUnsafeMutableBufferPointer { closes in
                slice.lanes.withUnsafeBufferPointer { lanes in
                    slice.bars.withUnsafeBufferPointer { bars in
                        // Every lane at one precision (the usual case): the rounding's unit is a
                        // constant in each loop below, so its division is a multiplication.
                        @inline(__always) func mark(_ unit: Int64) {
                            for j in lanes.indices { closes[lanes[j]] = FixedPoint(unchecked: bars[j].close).rounded(toMultipleOf: unit) }
                        }
                        if !Self.withPriceUnit(precision, mark) {
                            for j in lanes.indices { closes[lanes[j]] = instruments[lanes[j]].price(bars[j].close) }
                        }
                    }
                }
            }
        }
        if let b = slice.bar(lane: 0) { lastBar = b }
        var equity = sliceEquity()
        context.barIndex = index
        context.time = slice.time
        context.position = position
        context.cash = cash
        context.equity = equity
        let anchor = Bar(timestamp: slice.time, open: 0, high: 0, low: 0, close: 0, volume: 0)
        if watchesDrawdown, riskStops(anchor, equity: equity) {
            // Kill switch: every position flattened on the slice it engaged.
        } else if equity.raw >= Self.equityCeiling.raw || outOfRange {
            stopOutOfRange(index: index, time: slice.time, equity: equity)
        } else {
            do {
                try strategy.onSlice(slice, context: &context)
            } catch {
                recordFailure(error, index: index, time: slice.time)
            }
        }
        if !context.commands.isEmpty {
            execute(commands: anchor, index: index, close: context.closes[0], slice: slice, &strategy)
            equity = sliceEquity()
        }
        lastSliceTime = slice.time
        return equity.doubleValue
    }

    /// The position's value at `price`: `position * price`, by one multiplication when the
    /// position is a whole number of units (the usual case, and exact: nothing to round).
    /// (Static, with its inputs as arguments: a method on `self` here made the generic range
    /// loop copy the whole engine per bar.)
    /// A fractional position at a price that is a multiple of `unit` raw units is one 64-bit
    /// product too (`multiplied(byPrice:unit:)`).
    @inline(__always)
    private static func markedValue(_ position: Quantity, _ wholeUnits: Int64, _ price: Price, unit: Int64 = 1) -> Money {
        if wholeUnits != 0 {
            let (value, overflow) = wholeUnits.multipliedReportingOverflow(by: price.raw)
            if !overflow { return FixedPoint(raw: value) }
        }
        return position.multiplied(byPrice: price, unit: unit)
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
    /// In a multi-instrument run it acts at the last slice (each symbol at its last close).
    public mutating func act(_ body: (inout StrategyContext) -> Void) {
        if isMultiInstrument, let time = lastSliceTime {
            body(&context)
            if !context.commands.isEmpty {
                var s = takeStrategy()
                let anchor = Bar(timestamp: time, open: 0, high: 0, low: 0, close: 0, volume: 0)
                execute(commands: anchor, index: barCount - 1, close: context.closes[0], &s)
                strategy = s
            }
            return
        }
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
        if isMultiInstrument {
            finishSlices(mode)
            return
        }
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

    /// `finish` of a multi-instrument run: working orders are cancelled and, unless `mode` is
    /// `.none`, every position is closed at its symbol's last close (a symbol that stopped
    /// trading earlier settles at its own last close); the last equity point is re-marked.
    private mutating func finishSlices(_ mode: FinalizeMode) {
        guard let time = lastSliceTime else { return }
        var s = takeStrategy()
        defer { strategy = s }
        if mode != .none {
            for k in instruments.indices {
                let q = lanePosition(k)
                guard q.raw != 0 else { continue }
                let price = context.closes[k]
                let order = context.makeOrder(
                    symbol: instruments[k].symbol,
                    side: q.raw > 0 ? .sell : .buy,
                    size: .quantity(q.magnitude),
                    tag: "finalize"
                )
                let bar = Bar(
                    timestamp: time,
                    open: price.doubleValue,
                    high: price.doubleValue,
                    low: price.doubleValue,
                    close: price.doubleValue,
                    volume: 0
                )
                executeNow(order, lane: k, at: price, bar: bar, index: barCount - 1, &s)
            }
        }
        for k in instruments.indices where lanePosition(k).raw != 0 { portfolio.mark(instruments[k].symbol, at: context.closes[k]) }
        if !equityCurve.isEmpty { equityCurve[equityCurve.count - 1] = sliceEquity().doubleValue }
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
        if !extraLanes.isEmpty {
            if let k = laneOfSymbol[fill.symbol], context.closes[k].raw > 0 { portfolio.mark(fill.symbol, at: context.closes[k]) }
        } else if let bar = lastBar, fill.symbol == instrument.symbol {
            portfolio.mark(instrument.symbol, at: instrument.price(bar.close))
        }
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
        setLanePosition(0, quantity)
        context.averagePrice = p.averagePrice
        context.cash = cash
    }

    /// Starts a multi-instrument ledger from positions held before this engine
    /// existed (a live restart on many symbols: each symbol's reconciled position
    /// and average price, and the cash the bot may still spend). Symbols not in
    /// `held` start flat; symbols this engine does not trade are ignored.
    /// - Precondition: nothing was processed yet.
    public mutating func restore(positions held: [String: (quantity: Quantity, averagePrice: Price)], cash: Money) {
        precondition(barCount == 0 && fills.isEmpty, "restore before the first bar")
        var holding: [Position] = []
        for (k, i) in instruments.enumerated() {
            let h = held[i.symbol]
            let q = h?.quantity ?? .zero
            var p = Position(symbol: i.symbol)
            p.quantity = q
            p.averagePrice = q.isZero ? .zero : (h?.averagePrice ?? .zero)
            if !q.isZero { holding.append(p) }
            if k == 0 { position = q } else { extraLanes[k - 1].position = q }
            setLanePosition(k, q)
            context.averagePrices[k] = p.averagePrice
        }
        portfolio = Portfolio(cash: cash, holding: holding)
        positionSlots = PositionSlots()
        self.cash = cash
        context.position = position
        context.averagePrice = context.averagePrices[0]
        context.cash = cash
    }

    /// Re-marks the last equity point after fills booked since the bar was
    /// processed (orders that fill at once at the close).
    public mutating func remarkLastEquity() {
        if !extraLanes.isEmpty {
            // A multi-instrument run: every lane at its last close.
            if !equityCurve.isEmpty { equityCurve[equityCurve.count - 1] = sliceEquity().doubleValue }
            return
        }
        guard let bar = lastBar, !equityCurve.isEmpty else { return }
        var equity = cash
        if position.raw != 0 { equity += position * instrument.price(bar.close) }
        equityCurve[equityCurve.count - 1] = equity.doubleValue
    }

    /// The last bar processed.
    public var lastProcessedBar: Bar? { lastBar }

    /// Hands the strategy's commands to the execution client. `bar` and `close` are lane 0's in
    /// a single-instrument step; in a slice step (`slice` given) each lane's come from the slice.
    @_specialize(where S == IdleStrategy)
    private mutating func execute<S: Strategy>(commands bar: Bar, index: Int, close: Price, slice: MarketSlice? = nil, _ strategy: inout S) {
        // The commands move out and the context gets the spare buffer (orders placed from
        // onOrderEvent land there): no array is copied or allocated per order.
        var commands = commandBuffer
        swap(&commands, &context.commands)
        defer {
            commands.removeAll(keepingCapacity: true)
            commandBuffer = commands
        }
        let time = slice?.time ?? bar.timestamp
        if slice == nil {
            portfolio.mark(instrument.symbol, at: close)
        } else {
            for k in heldLanes { markLane(k, at: context.closes[k]) }
        }
        if risk != nil {
            commands.removeAll { command in
                guard case .submit(let order) = command else { return false }
                let lane = laneOfSymbol[order.symbol] ?? 0
                guard let violation = riskCheck(order, close: slice == nil ? close : context.closes[lane], time: time) else { return false }
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
                if case .rebalance(let targets) = command {
                    for order in externalRebalanceOrders(targets, slice: slice) {
                        if risk != nil, let violation = riskCheck(order, close: context.closes[laneOfSymbol[order.symbol] ?? 0], time: time) {
                            riskRefusals.append((order, violation))
                            rejections.append((order, .refused("risk: \(violation)")))
                            continue
                        }
                        outbox.append(.submit(order))
                        externalWorking[order.id] = order
                    }
                    continue
                }
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
                if slice == nil && order.symbol == instrument.symbol {
                    exchange.submit(order, bar: bar, barIndex: index, portfolio: &portfolio) { events.append($0) }
                } else {
                    submitToLane(order, slice: slice, index: index, time: time) { events.append($0) }
                }
            case .cancel(let id):
                if let order = cancelAnywhere(id) { events.append(.cancelled(order)) }
            case .rebalance(let targets):
                if exchange.fillTiming == .close {
                    context.workingOrders = simulatedWorkingOrders
                    executeRebalance(targets, index: index, slice: slice, bar: slice == nil ? bar : nil, atOpen: false, &strategy)
                } else {
                    pendingRebalances.append(targets)
                }
            }
            context.workingOrders = simulatedWorkingOrders
            handle(events, &strategy)
            returnEventBuffer(&events)
        }
    }

    /// Routes a new order to the lane of its symbol. A symbol the run does not trade is
    /// rejected; so is a market order to fill at the close of a symbol with no bar now.
    private mutating func submitToLane(_ order: Order, slice: MarketSlice?, index: Int, time: Timestamp, emit: (OrderEvent) -> Void) {
        guard let k = laneOfSymbol[order.symbol] else {
            emit(.rejected(order, .unknownSymbol(order.symbol)))
            return
        }
        let bar: Bar
        if let b = laneBar(k, bar: nil, slice: slice) {
            bar = b
        } else {
            if exchange.fillTiming == .close, case .market = order.type {
                emit(.rejected(order, .refused("\(order.symbol) has no bar at \(time): it does not trade now")))
                return
            }
            let last = closeOf(k).doubleValue
            bar = Bar(timestamp: time, open: last, high: last, low: last, close: last, volume: 0)
        }
        if k == 0 {
            exchange.submit(order, bar: bar, barIndex: index, portfolio: &portfolio, emit: emit)
        } else {
            extraLanes[k - 1].exchange.submit(order, bar: bar, barIndex: index, portfolio: &portfolio, emit: emit)
            setLaneWorking(k - 1, !extraLanes[k - 1].exchange.workingOrders.isEmpty)
        }
    }

    /// Cancels a working order at whichever lane holds it.
    private mutating func cancelAnywhere(_ id: OrderID) -> Order? {
        if let o = exchange.cancel(id) { return o }
        for k in extraLanes.indices where extraLaneWorking[k] {
            if let o = extraLanes[k].exchange.cancel(id) {
                setLaneWorking(k, !extraLanes[k].exchange.workingOrders.isEmpty)
                return o
            }
        }
        return nil
    }

    /// - Parameters:
    ///   - refreshWorking: Whether the working orders may have changed (they are then
    ///     gathered again for the context); false for orders executed at once.
    ///   - lane: The lane whose venue made the events, when known (its fills' symbol is then
    ///     that lane's, found without a lookup by symbol).
    private mutating func handle<S: Strategy>(_ events: [OrderEvent], _ strategy: inout S, refreshWorking: Bool = true, lane: Int? = nil) {
        for event in events {
            switch event {
            case .filled(let order, let fill):
                if recordsFills {
                    fills.append(fill)
                    trades.record(fill, tag: order.tag)
                }
                let p = portfolio.position(fill.symbol)
                cash = portfolio.cash
                if fill.symbol == instrument.symbol {
                    position = p.quantity
                    context.averagePrice = p.averagePrice
                    setLanePosition(0, p.quantity)
                    context.averagePrices[0] = p.averagePrice
                } else if let k = lane.flatMap({ $0 > 0 && fill.symbol == instruments[$0].symbol ? $0 : nil }) ?? laneOfSymbol[fill.symbol] {
                    extraLanes[k - 1].position = p.quantity
                    setLanePosition(k, p.quantity)
                    context.averagePrices[k] = p.averagePrice
                }
            case .rejected(let order, let reason):
                rejections.append((order, reason))
            case .cancelled, .accepted:
                break
            }
            context.position = position
            context.cash = cash
            if refreshWorking { context.workingOrders = routing == .simulated ? simulatedWorkingOrders : externalWorkingOrders }
            strategy.onOrderEvent(event, context: &context)
        }
        // Orders placed from onOrderEvent are sent on the next bar.
    }
}
