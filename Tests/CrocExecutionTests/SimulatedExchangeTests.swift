import CrocCore
import CrocEngine
import CrocSupport
import Testing

@testable import CrocExecution

let day: Int64 = 86_400_000_000_000

func bar(_ i: Int, _ o: Double, _ h: Double, _ l: Double, _ c: Double) -> Bar {
    Bar(timestamp: Timestamp(nanoseconds: Int64(i) * day), open: o, high: h, low: l, close: c, volume: 0)
}

func order(_ id: UInt64, _ side: OrderSide, _ size: OrderSize, _ type: OrderType = .market, tif: TimeInForce = .gtc, bar: Int = 0) -> Order {
    Order(
        id: OrderID(id),
        clientOrderID: "t-\(id)",
        symbol: "X",
        side: side,
        type: type,
        size: size,
        timeInForce: tif,
        createdAt: Timestamp(nanoseconds: Int64(bar) * day),
        createdBar: bar
    )
}

func qty(_ s: String) -> OrderSize { .quantity(FixedPoint(s)!) }
func px(_ s: String) -> Price { FixedPoint(s)! }

/// A tiny harness: an exchange plus a portfolio, recording events.
struct Venue {
    var exchange: SimulatedExchange
    var portfolio: Portfolio
    var events: [OrderEvent] = []

    init(cash: Int = 10_000, fees: FeeModel = .free, timing: FillTiming = .nextOpen, allowShort: Bool = false, step: String = "1") {
        exchange = SimulatedExchange(
            instrument: Instrument(symbol: "X", pricePrecision: 4, quantityStep: FixedPoint(step)!),
            fees: fees,
            fillTiming: timing,
            allowShort: allowShort
        )
        portfolio = Portfolio(cash: FixedPoint(cash))
    }

    mutating func submit(_ o: Order, on b: Bar, index: Int) {
        exchange.submit(o, bar: b, barIndex: index, portfolio: &portfolio) { events.append($0) }
    }

    mutating func process(_ b: Bar, index: Int) {
        exchange.process(bar: b, barIndex: index, portfolio: &portfolio) { events.append($0) }
    }

    var fills: [Fill] { events.compactMap { if case .filled(_, let f) = $0 { return f } else { return nil } } }
    var rejections: [RejectionReason] { events.compactMap { if case .rejected(_, let r) = $0 { return r } else { return nil } } }
    var cancels: [OrderID] { events.compactMap { if case .cancelled(let o) = $0 { return o.id } else { return nil } } }
}

@Suite("SimulatedExchange: fill timing and costs")
struct FillTimingTests {
    @Test("a market order placed on bar t fills at bar t+1's open, not before")
    func nextOpen() {
        var v = Venue()
        v.submit(order(1, .buy, qty("10")), on: bar(0, 100, 110, 90, 105), index: 0)
        v.process(bar(0, 100, 110, 90, 105), index: 0)  // same bar again: must not fill
        #expect(v.fills.isEmpty)
        v.process(bar(1, 107, 112, 101, 111), index: 1)
        #expect(v.fills.count == 1)
        #expect(v.fills[0].price == px("107"))
        #expect(v.fills[0].barIndex == 1)
        #expect(v.portfolio.cash == FixedPoint(10_000 - 1070))
    }

    @Test("with fill-at-close the order fills at once at the signal bar's close")
    func atClose() {
        var v = Venue(timing: .close)
        v.submit(order(1, .buy, qty("10")), on: bar(0, 100, 110, 90, 105), index: 0)
        #expect(v.fills.first?.price == px("105"))
        #expect(v.fills.first?.barIndex == 0)
    }

    @Test("commission (rate + fixed) and slippage are charged exactly")
    func costs() {
        let fees = FeeModel(commissionRate: px("0.001"), commissionFixed: px("2"), slippageBps: FixedPoint(50))
        var v = Venue(fees: fees)
        v.submit(order(1, .buy, qty("10")), on: bar(0, 100, 100, 100, 100), index: 0)
        v.process(bar(1, 200, 210, 190, 205), index: 1)
        let f = v.fills[0]
        #expect(f.price == px("201"))  // 200 × 1.005
        #expect(f.commission == px("4.01"))  // 2010 × 0.001 + 2
        #expect(v.portfolio.cash == px("7985.99"))
        v.submit(order(2, .sell, qty("10")), on: bar(1, 200, 210, 190, 205), index: 1)
        v.process(bar(2, 300, 300, 300, 300), index: 2)
        #expect(v.fills[1].price == px("298.5"))  // 300 × 0.995
        #expect(v.fills[1].commission == px("4.985"))
        #expect(v.portfolio.cash == px("10966.005"))
    }
}

@Suite("SimulatedExchange: limit and stop orders")
struct LimitStopTests {
    @Test("a buy limit fills at the limit when the low touches it")
    func buyLimitTouched() {
        var v = Venue()
        v.submit(order(1, .buy, qty("1"), .limit(px("95"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.process(bar(1, 100, 102, 96, 100), index: 1)
        #expect(v.fills.isEmpty)
        #expect(v.exchange.workingOrders.count == 1)
        v.process(bar(2, 99, 100, 94, 97), index: 2)
        #expect(v.fills.first?.price == px("95"))
        #expect(v.exchange.workingOrders.isEmpty)
    }

    @Test("a buy limit gapped through fills at the better open")
    func buyLimitGap() {
        var v = Venue()
        v.submit(order(1, .buy, qty("1"), .limit(px("95"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.process(bar(1, 90, 92, 88, 91), index: 1)
        #expect(v.fills.first?.price == px("90"))
    }

    @Test("a sell limit fills at the limit or a better gap open")
    func sellLimit() {
        var v = Venue()
        v.portfolio.apply(
            Fill(
                orderID: OrderID(99),
                symbol: "X",
                side: .buy,
                quantity: FixedPoint(2),
                price: px("100"),
                commission: .zero,
                timestamp: Timestamp(nanoseconds: 0),
                barIndex: 0
            )
        )
        v.submit(order(1, .sell, qty("1"), .limit(px("105"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.submit(order(2, .sell, qty("1"), .limit(px("103"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.process(bar(1, 104, 106, 103.5, 105), index: 1)
        #expect(v.fills.map(\.price) == [px("105"), px("104")])
    }

    @Test("a buy stop triggers on the high and fills at the stop, or the open on a gap")
    func buyStop() {
        var v = Venue()
        v.submit(order(1, .buy, qty("1"), .stop(px("105"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.submit(order(2, .buy, qty("1"), .stop(px("102"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.process(bar(1, 101, 104, 100, 103), index: 1)
        #expect(v.fills.map(\.price) == [px("102")])
        v.process(bar(2, 108, 110, 107, 109), index: 2)
        #expect(v.fills.map(\.price) == [px("102"), px("108")])
    }

    @Test("a sell stop protects a long: triggers on the low, gaps fill at the open")
    func sellStop() {
        var v = Venue()
        v.portfolio.apply(
            Fill(
                orderID: OrderID(99),
                symbol: "X",
                side: .buy,
                quantity: FixedPoint(1),
                price: px("100"),
                commission: .zero,
                timestamp: Timestamp(nanoseconds: 0),
                barIndex: 0
            )
        )
        v.submit(order(1, .sell, qty("1"), .stop(px("95"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.process(bar(1, 92, 93, 90, 91), index: 1)
        #expect(v.fills.first?.price == px("92"))
    }

    @Test("IOC orders that do not fill are cancelled; DAY orders expire with the day")
    func timeInForce() {
        var v = Venue()
        v.submit(order(1, .buy, qty("1"), .limit(px("50")), tif: .ioc), on: bar(0, 100, 101, 99, 100), index: 0)
        v.submit(order(2, .buy, qty("1"), .limit(px("50")), tif: .day), on: bar(0, 100, 101, 99, 100), index: 0)
        v.submit(order(3, .buy, qty("1"), .limit(px("50"))), on: bar(0, 100, 101, 99, 100), index: 0)
        v.process(bar(1, 100, 101, 99, 100), index: 1)
        #expect(v.cancels == [OrderID(1), OrderID(2)])
        #expect(v.exchange.workingOrders.map(\.id) == [OrderID(3)])
        #expect(v.exchange.cancel(OrderID(3))?.id == OrderID(3))
        #expect(v.exchange.cancel(OrderID(3)) == nil)
    }
}

@Suite("SimulatedExchange: rejections")
struct RejectionTests {
    @Test("a buy beyond available cash is rejected with the amounts")
    func insufficientCash() {
        var v = Venue(cash: 1000, fees: FeeModel(commissionRate: px("0.01")))
        v.submit(order(1, .buy, qty("10")), on: bar(0, 100, 100, 100, 100), index: 0)
        v.process(bar(1, 100, 100, 100, 100), index: 1)  // 1000 + 10 commission > 1000
        #expect(v.fills.isEmpty)
        #expect(v.rejections == [.insufficientCash(required: px("1010"), available: px("1000"))])
        #expect(v.rejections[0].description.contains("insufficient cash"))
        #expect(v.portfolio.cash == FixedPoint(1000))
    }

    @Test("a cash-fraction order sizes to what the fill price affords, costs included")
    func cashFraction() {
        var v = Venue(cash: 10_000, fees: FeeModel(commissionRate: px("0.002")))
        v.submit(order(1, .buy, .cashFraction(.one)), on: bar(0, 200, 200, 200, 200), index: 0)
        v.process(bar(1, 216.716721, 220, 210, 215), index: 1)
        #expect(v.fills.first?.quantity == FixedPoint(46))
        var poor = Venue(cash: 10)
        poor.submit(order(1, .buy, .cashFraction(.one)), on: bar(0, 200, 200, 200, 200), index: 0)
        poor.process(bar(1, 200, 200, 200, 200), index: 1)
        #expect(poor.rejections.count == 1)
    }

    @Test("selling more than held is rejected unless shorting is allowed")
    func shorting() {
        var v = Venue()
        v.submit(order(1, .sell, qty("5")), on: bar(0, 100, 100, 100, 100), index: 0)
        v.process(bar(1, 100, 100, 100, 100), index: 1)
        #expect(v.rejections == [.shortingDisabled(requested: FixedPoint(5), held: .zero)])
        var s = Venue(allowShort: true)
        s.submit(order(1, .sell, qty("5")), on: bar(0, 100, 100, 100, 100), index: 0)
        s.process(bar(1, 100, 100, 100, 100), index: 1)
        #expect(s.portfolio.position("X").quantity == FixedPoint(-5))
        #expect(s.portfolio.cash == FixedPoint(10_500))
    }

    @Test("invalid quantities, prices, fractions and symbols are refused on submit")
    func staticRules() {
        var v = Venue(step: "0.5")
        let b = bar(0, 100, 100, 100, 100)
        v.submit(order(1, .buy, qty("0.3")), on: b, index: 0)
        v.submit(order(2, .buy, qty("0")), on: b, index: 0)
        v.submit(order(3, .buy, qty("1"), .limit(.zero)), on: b, index: 0)
        v.submit(order(4, .buy, .cashFraction(px("1.5"))), on: b, index: 0)
        var other = order(5, .buy, qty("1"))
        other.symbol = "Y"
        v.submit(other, on: b, index: 0)
        v.submit(order(6, .buy, qty("1.5")), on: b, index: 0)
        #expect(v.rejections.count == 5)
        #expect(v.exchange.workingOrders.map(\.id) == [OrderID(6)])
    }
}
