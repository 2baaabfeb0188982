import CrocCore
import CrocData
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocEngine

let day: Int64 = 86_400_000_000_000

func bars(_ closes: [Double]) -> [Bar] {
    TestBars.series(closes, spread: 1, spacing: day)
}

/// Records what it is shown and buys once on a chosen bar.
struct Recorder: Strategy {
    var name: String { "recorder" }
    var warmupBars: Int { 0 }
    var seen: [Int64] = []
    var equities: [Money] = []
    var buyOn: Int
    var events: [String] = []

    mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
        seen.append(bar.timestamp.nanoseconds)
        equities.append(context.equity)
        if context.barIndex == buyOn { context.buy(.quantity(FixedPoint(2)), tag: "entry") }
    }

    mutating func onOrderEvent(_ event: OrderEvent, context: inout StrategyContext) {
        switch event {
        case .accepted: events.append("accepted")
        case .filled(_, let f): events.append("filled@\(f.barIndex)")
        case .rejected: events.append("rejected")
        case .cancelled: events.append("cancelled")
        }
    }
}

func makeEngine(_ strategy: any Strategy, cash: Int = 1000, timing: FillTiming = .nextOpen) -> TradingEngine {
    let instrument = Instrument(symbol: "X", pricePrecision: 2)
    let exchange = SimulatedExchange(instrument: instrument, fees: FeeModel(commissionRate: FixedPoint("0.01")!), fillTiming: timing)
    return TradingEngine(instrument: instrument, strategy: strategy, exchange: exchange, cash: FixedPoint(cash))
}

@Suite("TradingEngine")
struct TradingEngineTests {
    @Test("the drawdown kill switch cancels working orders, flattens the position and stops the strategy")
    func killSwitch() throws {
        /// Buys 8 on bar 0, rests a far buy limit on bar 1, and wants to rest another on every later bar.
        struct Eager: Strategy {
            var name: String { "eager" }
            var warmupBars: Int { 0 }
            var asked = 0
            mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
                asked += 1
                if context.barIndex == 0 { context.buy(.quantity(FixedPoint(8))) }
                if context.barIndex == 1 { context.buy(.quantity(FixedPoint(1)), type: .limit(FixedPoint(1))) }
                if context.barIndex > 1 { context.buy(.quantity(FixedPoint(1)), type: .limit(FixedPoint(1))) }
            }
        }
        let instrument = Instrument(symbol: "X", pricePrecision: 2)
        let exchange = SimulatedExchange(instrument: instrument, fees: FeeModel(commissionRate: .zero))
        var engine = TradingEngine(
            instrument: instrument,
            strategy: Eager(),
            exchange: exchange,
            cash: FixedPoint(1000),
            risk: RiskLimits(maxOpenOrders: 1, maxDrawdown: FixedPoint("0.2")!)
        )
        // Equity: 1000 until the buy at 100 (bar 1's open), then 200 + 8 × close: 920, 840, then 760 on bar 4
        // (−24 % from the peak of 1000): the switch engages there; the exit fills at bar 5's open.
        for b in bars([100, 100, 90, 80, 70, 60, 70, 80]) { engine.process(.bar(b)) }
        #expect(engine.isKillSwitchEngaged)
        #expect(engine.killReason?.contains("drawdown") == true)
        #expect(engine.fills.map(\.side) == [.buy, .sell])
        #expect(engine.position == .zero)
        #expect(engine.exchange.workingOrders.isEmpty)
        let asked = try #require(engine.strategy as? Eager).asked
        #expect(asked == 4)  // bars 0-3; not asked again once the switch engaged on bar 4
        #expect(engine.fills.last?.price == FixedPoint(60))
        // maxOpenOrders: 1 refused the second resting limit while bar 1's was working.
        #expect(engine.riskRefusals.map(\.violation.check).contains("max_open_orders"))
        engine.resetKillSwitch()
        engine.process(.bar(bars([80])[0]))
        #expect(try #require(engine.strategy as? Eager).asked == 5)
    }

    @Test("an engine that does not record fills books the same account: cash, positions and equity; fills and trades stay empty")
    func unrecordedFills() throws {
        struct Flipper: Strategy {
            var name: String { "flipper" }
            var warmupBars: Int { 0 }
            mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
                // Buys 3 on even bars and sells them on odd ones: a fill at every later bar's open.
                if context.barIndex % 2 == 0 { context.buy(.quantity(FixedPoint(3))) } else { context.sell(.quantity(FixedPoint(3))) }
            }
        }
        var recorded = makeEngine(Flipper())
        var unrecorded = makeEngine(Flipper())
        unrecorded.recordsFills = false
        for b in bars([100, 101, 99, 103, 98, 104, 97]) {
            recorded.process(.bar(b))
            unrecorded.process(.bar(b))
        }
        #expect(recorded.fills.count == 6 && recorded.trades.closed.count == 3)
        #expect(unrecorded.fills.isEmpty && unrecorded.trades.closed.isEmpty)
        #expect(unrecorded.portfolio == recorded.portfolio)
        #expect(unrecorded.portfolio.fillCount == 6)
        #expect(unrecorded.equityCurve == recorded.equityCurve)
    }

    @Test("the strategy sees each bar once, in order, and never a later one")
    func noLookAhead() throws {
        var engine = makeEngine(Recorder(buyOn: -1))
        let input = bars([10, 11, 12, 13])
        for b in input { engine.process(.bar(b)) }
        let r = try #require(engine.strategy as? Recorder)
        #expect(r.seen == input.map(\.timestamp.nanoseconds))
    }

    @Test("processing a series range equals processing its bars one by one, fills, orders and equity alike")
    func rangeEqualsBarByBar() throws {
        var closes: [Double] = []
        var x = 100.0
        for i in 0..<600 {
            x *= 1 + 0.02 * sin(Double(i) * 0.37) + 0.003 * cos(Double(i) * 1.9)
            closes.append((x * 1000).rounded() / 1000)
        }
        let series = try BarSeries(symbol: "X", bars: bars(closes))
        var one = makeEngine(SMACrossStrategy(fast: 3, slow: 11), cash: 100_000)
        for b in bars(closes) { one.process(b) }
        var ranged = makeEngine(SMACrossStrategy(fast: 3, slow: 11), cash: 100_000)
        ranged.process(series, range: 0..<250)
        ranged.process(series, range: 250..<250)
        ranged.process(series, range: 250..<600)
        #expect(ranged.lastProcessedBar == one.lastProcessedBar)
        // With the closes rounded once beforehand: the same run.
        var marked = makeEngine(SMACrossStrategy(fast: 3, slow: 11), cash: 100_000)
        let marks = TradingEngine.MarkPrices(series: series, instrument: marked.instrument)
        #expect(marks.prices[17] == marked.instrument.price(closes[17]))
        marked.process(series, range: 0..<600, markPrices: marks)
        #expect(marked.fills == one.fills)
        #expect(marked.equityCurve == one.equityCurve)
        #expect(one.fills.count > 10)
        #expect(ranged.fills == one.fills)
        #expect(ranged.equityCurve == one.equityCurve)
        #expect(ranged.portfolio == one.portfolio)
        #expect(ranged.trades.closed.map(\.pnl) == one.trades.closed.map(\.pnl))
        // The strategy is back in the engine with its state, not a placeholder.
        #expect(ranged.strategy.name == "sma_cross(3,11)")
        one.finish(.lastOpen)
        ranged.finish(.lastOpen)
        #expect(ranged.equityCurve == one.equityCurve)
        #expect(ranged.strategy.name == "sma_cross(3,11)")
    }

    @Test("equity marks whole and fractional positions as cash + position × close, exactly")
    func markingExact() throws {
        struct Buyer: Strategy {
            var quantity: Quantity
            var name: String { "buyer" }
            var warmupBars: Int { 0 }
            mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
                if context.barIndex == 0 { context.buy(.quantity(quantity)) }
            }
        }
        for text in ["1.25", "3", "0.07"] {
            let quantity = try #require(FixedPoint(text))
            let instrument = Instrument(symbol: "X", pricePrecision: 2, quantityStep: try #require(FixedPoint("0.01")))
            let exchange = SimulatedExchange(instrument: instrument, fees: .free, fillTiming: .nextOpen)
            var engine = TradingEngine(instrument: instrument, strategy: Buyer(quantity: quantity), exchange: exchange, cash: FixedPoint(1000))
            let closes = [10.333, 11.777, 12.125, 13.005]
            for b in bars(closes) { engine.process(b) }
            #expect(engine.position == quantity)
            for i in 1..<closes.count {
                #expect(engine.equityCurve[i] == (engine.portfolio.cash + quantity * instrument.price(closes[i])).doubleValue, "\(text) at bar \(i)")
            }
        }
    }

    @Test("an order placed on bar t fills on bar t+1 and the account follows")
    func orderFlow() throws {
        var engine = makeEngine(Recorder(buyOn: 1))
        for b in bars([10, 11, 12, 13]) { engine.process(b) }
        let r = try #require(engine.strategy as? Recorder)
        #expect(r.events == ["accepted", "filled@2"])
        #expect(engine.fills.count == 1)
        #expect(engine.fills[0].price == FixedPoint(12))
        // cash 1000 − 24 − 0.24 commission; equity at bar 3 = cash + 2 × 13.
        #expect(engine.portfolio.cash.description == "975.76")
        #expect(engine.equityCurve == [1000, 1000, 999.76, 1001.76])
        #expect(r.equities.map(\.description) == ["1000", "1000", "999.76", "1001.76"])
    }

    @Test("orders placed on a fill are sent once; working limits that do not fill stay working, bar after bar")
    func ordersFromFills() throws {
        /// Buys 2 on bar 0; when that fills, places two take-profit limits (sold one at a time).
        struct Bracket: Strategy {
            var name: String { "bracket" }
            var warmupBars: Int { 0 }
            var events: [String] = []
            mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
                if context.barIndex == 0 { context.buy(.quantity(FixedPoint(2)), tag: "entry") }
            }
            mutating func onOrderEvent(_ event: OrderEvent, context: inout StrategyContext) {
                switch event {
                case .accepted(let o): events.append("accepted \(o.tag ?? "")")
                case .filled(let o, let f): events.append("filled \(o.tag ?? "")@\(f.barIndex)")
                case .rejected, .cancelled: events.append("other")
                }
                if case .filled(let o, _) = event, o.side == .buy {
                    context.sell(.quantity(FixedPoint(1)), type: .limit(FixedPoint(12)), tag: "tp1")
                    context.sell(.quantity(FixedPoint(1)), type: .limit(FixedPoint(15)), tag: "tp2")
                }
            }
        }
        // Highs are close + 1: tp1 (12) is reached on bar 2, tp2 (15) only on bar 4.
        let closes: [Double] = [10, 10, 11, 13, 14, 14]
        var engine = makeEngine(Bracket())
        for b in bars(closes) { engine.process(b) }
        let r = try #require(engine.strategy as? Bracket)
        #expect(r.events == ["accepted entry", "filled entry@1", "accepted tp1", "accepted tp2", "filled tp1@2", "filled tp2@4"])
        #expect(engine.fills.map(\.price) == [FixedPoint(10), FixedPoint(12), FixedPoint(15)])
        #expect(engine.fills.map(\.orderID.rawValue) == [1, 2, 3])
        #expect(engine.position == .zero && engine.exchange.workingOrders.isEmpty)
        #expect(engine.trades.closed.map(\.exitPrice) == [FixedPoint(12), FixedPoint(15)])
        #expect(engine.trades.closed.map(\.tag) == ["entry", "entry"])
        // The same run through the range loop.
        var ranged = makeEngine(Bracket())
        ranged.process(try BarSeries(symbol: "X", bars: bars(closes)), range: 0..<closes.count)
        #expect(ranged.fills == engine.fills)
        #expect(ranged.equityCurve == engine.equityCurve)
        #expect((ranged.strategy as? Bracket)?.events == r.events)
    }

    @Test("fill-at-close fills on the signal bar")
    func closeTiming() {
        var engine = makeEngine(Recorder(buyOn: 1), timing: .close)
        for b in bars([10, 11, 12]) { engine.process(b) }
        #expect(engine.fills.first?.barIndex == 1)
        #expect(engine.fills.first?.price == FixedPoint(11))
    }

    @Test("finish settles open positions at the last open or close, or leaves them")
    func finalize() {
        for (mode, cash) in [(FinalizeMode.lastOpen, "1001.5"), (.lastClose, "1001.5"), (.none, "975.76")] {
            var engine = makeEngine(Recorder(buyOn: 1))
            for b in bars([10, 11, 12, 13]) { engine.process(b) }
            engine.finish(mode)
            // Close: sell 2 at 13 (open == close here) − 0.26 commission.
            #expect(engine.portfolio.cash.description == cash, "\(mode)")
            #expect(engine.trades.closed.count == (mode == .none ? 0 : 1))
            #expect(engine.equityCurve.last == (mode == .none ? 1001.76 : 1001.5))
        }
    }

    @Test("rejections are recorded with their reason and the run goes on")
    func rejection() {
        var engine = makeEngine(Recorder(buyOn: 0), cash: 5)
        for b in bars([10, 11, 12]) { engine.process(b) }
        #expect(engine.fills.isEmpty)
        #expect(engine.rejections.count == 1)
        #expect(engine.equityCurve == [5, 5, 5])
    }

    @Test("two runs over the same data give identical fills and equity")
    func determinism() {
        var closes: [Double] = []
        var x = 100.0
        var seed: UInt64 = 42
        for _ in 0..<2000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            x *= 1 + (Double(seed >> 11) / Double(1 << 53) - 0.5) * 0.04
            closes.append((x * 100).rounded() / 100)
        }
        func once() -> TradingEngine {
            var e = makeEngine(SMACrossStrategy(fast: 5, slow: 20), cash: 100_000)
            for b in bars(closes) { e.process(b) }
            e.finish(.lastOpen)
            return e
        }
        let a = once()
        let b = once()
        #expect(a.fills.count > 10)
        #expect(a.fills == b.fills)
        #expect(a.equityCurve == b.equityCurve)
        #expect(a.portfolio == b.portfolio)
    }
}

/// Places limit orders on the last lanes of a universe on chosen slices and cancels one,
/// recording what the context shows as working.
struct LaneLimits: Strategy {
    var name: String { "lane_limits" }
    var warmupBars: Int { 0 }
    var working: [[String]] = []
    var events: [String] = []
    var cheapID: OrderID?

    mutating func onBar(_ bar: Bar, context: inout StrategyContext) {}

    mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        working.append(context.workingOrders.map(\.symbol).sorted())
        switch context.barIndex {
        case 0:
            // Far below the market: waits; and one that fills when the price dips to 95.
            cheapID = try context.submit(symbol: "D", .buy, .quantity(FixedPoint(1)), type: .limit(FixedPoint(50)))
            try context.submit(symbol: "C", .buy, .quantity(FixedPoint(2)), type: .limit(FixedPoint(95)))
        case 3:
            if let id = cheapID { context.cancel(id) }
        default: break
        }
    }

    mutating func onOrderEvent(_ event: OrderEvent, context: inout StrategyContext) {
        switch event {
        case .filled(let o, let f): events.append("filled \(o.symbol)@\(f.barIndex)")
        case .cancelled(let o): events.append("cancelled \(o.symbol)")
        case .accepted, .rejected: break
        }
    }
}

@Test("working orders on a universe's later lanes wait slice after slice, fill on their own bar, and cancel; equity marks only held lanes")
func workingOrdersOnLaterLanes() throws {
    let symbols = ["A", "B", "C", "D"]
    let closes: [[Double]] = [
        [10, 10, 10, 10, 10, 10],
        [20, 20, 20, 20, 20, 20],
        [100, 99, 94, 96, 97, 98],  // C dips to 94 on slice 2 (its low 93 with spread 1)
        [100, 100, 100, 100, 100, 100],
    ]
    let series = closes.map { bars($0) }
    var engine = TradingEngine(
        instruments: symbols.map { Instrument(symbol: $0, pricePrecision: 2) },
        strategy: LaneLimits(),
        fees: .free,
        cash: FixedPoint(1_000)
    )
    for t in 0..<6 {
        engine.process(MarketSlice(time: series[0][t].timestamp, lanes: [0, 1, 2, 3], bars: series.map { $0[t] }))
    }
    let s = try #require(engine.strategy as? LaneLimits)
    #expect(s.working[0] == [])
    #expect(s.working[1] == ["C", "D"] && s.working[2] == ["D"])  // C filled on slice 2 before the strategy ran
    #expect(s.working[3] == ["D"] && s.working[4] == [] && s.working[5] == [])
    #expect(s.events == ["filled C@2", "cancelled D"])
    #expect(engine.position(of: "C") == FixedPoint(2) && engine.position(of: "D") == .zero)
    // Filled at or under its limit; then cash 1,000 - 2 × the fill price plus 2 C marked at
    // each close (A, B and D, never held, add nothing).
    let price = try #require(engine.fills.first).price.doubleValue
    #expect(engine.fills.count == 1 && price <= 95)
    let cash = 1_000 - 2 * price
    #expect(engine.equityCurve == [1_000, 1_000, cash + 2 * 94, cash + 2 * 96, cash + 2 * 97, cash + 2 * 98])
}

/// Records every slice it is shown (time, lanes, closes) and holds an equal weight of every
/// lane with a bar, so fills, marks and equity depend on what each slice holds.
struct SliceLog: Strategy {
    var name: String { "slice_log" }
    var warmupBars: Int { 0 }
    var slices: [String] = []

    mutating func onBar(_ bar: Bar, context: inout StrategyContext) {}

    mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        slices.append("\(slice.time.nanoseconds): \(zip(slice.lanes, slice.bars).map { "\($0)=\($1.open)/\($1.close)" })")
        var weights = [Double](repeating: 0, count: context.closes.count)
        for k in slice.lanes { weights[k] = 0.9 / Double(slice.lanes.count) }
        try context.rebalance(weights: weights)
    }
}

@Test("a universe run in pieces sees the same slices, fills and equity as slice by slice (late, early, gappy members)")
func universeRowsMatchSlices() throws {
    // 40 union rows; A every row, B rows 5..<17 (an unbroken run), C rows 18..<40 with gaps,
    // D rows 0..<3 only.
    let rows = 40
    func member(_ symbol: String, _ present: (Int) -> Bool, base: Double) throws -> BarSeries {
        let all = bars((0..<rows).map { base + Double(($0 * 7 + symbol.count * 3) % 11) })
        return try BarSeries(symbol: symbol, bars: (0..<rows).filter(present).map { all[$0] })
    }
    let universe = try Universe(members: [
        try member("A", { _ in true }, base: 50),
        try member("B", { $0 >= 5 && $0 < 17 }, base: 20),
        try member("C", { $0 >= 18 && $0 % 5 != 2 }, base: 80),
        try member("D", { $0 < 3 }, base: 10),
    ])
    #expect(universe.runStarts == [0, 5, -1, 0])
    func engine() -> TradingEngine {
        TradingEngine(
            instruments: universe.symbols.map { Instrument(symbol: $0, pricePrecision: 2, quantityStep: FixedPoint("0.01")!) },
            strategy: SliceLog(),
            fees: FeeModel(commissionRate: FixedPoint("0.001")!),
            cash: FixedPoint(10_000)
        )
    }
    var bySlice = engine()
    for t in 0..<rows {
        var lanes: [Int] = []
        var slice: [Bar] = []
        for k in 0..<universe.count {
            if let b = universe.bar(symbol: k, time: t) {
                lanes.append(k)
                slice.append(b)
            }
        }
        bySlice.process(MarketSlice(time: Timestamp(nanoseconds: universe.timestamps[t]), lanes: lanes, bars: slice))
    }
    var inPieces = engine()
    for range in [0..<4, 4..<21, 21..<21, 21..<40] { inPieces.process(universe, range: range) }
    let a = try #require(bySlice.strategy as? SliceLog)
    let b = try #require(inPieces.strategy as? SliceLog)
    #expect(a.slices.count == rows)
    #expect(a.slices == b.slices)
    #expect(bySlice.fills == inPieces.fills)
    #expect(bySlice.equityCurve == inPieces.equityCurve)
    #expect(bySlice.portfolio == inPieces.portfolio)
    #expect(!bySlice.fills.isEmpty && bySlice.fills.contains { $0.symbol == "B" } && bySlice.fills.contains { $0.symbol == "C" })
}

@Test("an engine keeping no records books a rebalance's legs as the recording engine does: account, equity, positions and order ids")
func unrecordedRebalancesMatchRecorded() throws {
    // Members that list late, end early and skip rows: positions appear one after another
    // (the lanes' places in the portfolio change as they do), and some rows leave a symbol out.
    let rows = 60
    func member(_ symbol: String, _ present: (Int) -> Bool, base: Double) throws -> BarSeries {
        let all = bars((0..<rows).map { base + Double(($0 * 7 + symbol.count * 3) % 13) * 0.37 })
        return try BarSeries(symbol: symbol, bars: (0..<rows).filter(present).map { all[$0] })
    }
    let universe = try Universe(members: [
        try member("A", { _ in true }, base: 50),
        try member("BB", { $0 >= 9 && $0 < 40 }, base: 20),
        try member("CCC", { $0 >= 20 && $0 % 6 != 2 }, base: 80),
        try member("D", { $0 < 30 || $0 % 4 == 0 }, base: 10),
    ])
    func engine(recording: Bool) -> TradingEngine {
        var e = TradingEngine(
            instruments: universe.symbols.map { Instrument(symbol: $0, pricePrecision: 2, quantityStep: FixedPoint("0.0001")!) },
            strategy: IdleStrategy(),
            fees: FeeModel(commissionRate: FixedPoint("0.002")!, slippageBps: FixedPoint(10)),
            cash: FixedPoint(10_000)
        )
        e.recordsFills = recording
        return e
    }
    var recorded = engine(recording: true)
    var lean = engine(recording: false)
    var state: UInt64 = 4
    func uniform() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / 9_007_199_254_740_992
    }
    for t in 0..<rows {
        recorded.process(universe, range: t..<(t + 1))
        lean.process(universe, range: t..<(t + 1))
        // Random long-only weights summing to at most 0.98, some zero (positions closed).
        var w = (0..<4).map { _ in uniform() < 0.25 ? 0 : uniform() }
        let total = w.reduce(0, +)
        if total > 0 { w = w.map { $0 / total * 0.98 } }
        recorded.act { context in _ = try? context.rebalance(weights: w) }
        lean.act { context in _ = try? context.rebalance(weights: w) }
        #expect(lean.portfolio == recorded.portfolio, "row \(t)")
    }
    #expect(recorded.fills.count > 80 && recorded.fills.contains { $0.symbol == "CCC" })
    #expect(lean.fills.isEmpty && lean.trades.closed.isEmpty && lean.weightHistory.isEmpty)
    #expect(lean.portfolio.fillCount == recorded.fills.count)
    #expect(lean.equityCurve == recorded.equityCurve)
    #expect(lean.rejections.count == recorded.rejections.count)
    for symbol in universe.symbols { #expect(lean.position(of: symbol) == recorded.position(of: symbol)) }
    // A lane's value is its (fractional) position times its last close, the same product; nil when flat.
    var flat = 0
    for k in 0..<universe.count {
        let q = lean.position(lane: k)
        if q.isZero {
            flat += 1
            #expect(lean.positionValue(lane: k) == nil)
        } else {
            #expect(q.raw % FixedPoint.scale != 0)
            let close = try #require(lean.lastClose(lane: k))
            #expect(lean.positionValue(lane: k) == q * close)
        }
    }
    #expect(flat < universe.count)
    // The legs took the order ids their orders would have: the next order's id is the same.
    var next: [OrderID] = []
    recorded.act { next.append($0.buy(.quantity(FixedPoint(1)))) }
    lean.act { next.append($0.buy(.quantity(FixedPoint(1)))) }
    #expect(next.count == 2 && next[0] == next[1])
}
