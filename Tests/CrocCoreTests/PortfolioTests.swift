import Testing

@testable import CrocCore

func fill(_ side: OrderSide, _ qty: String, at price: String, fee: String = "0", bar: Int = 0, id: UInt64 = 1) -> Fill {
    Fill(
        orderID: OrderID(id),
        symbol: "X",
        side: side,
        quantity: FixedPoint(qty)!,
        price: FixedPoint(price)!,
        commission: FixedPoint(fee)!,
        timestamp: Timestamp(nanoseconds: Int64(bar) * 86_400_000_000_000),
        barIndex: bar
    )
}

@Suite("Portfolio ledger")
struct PortfolioTests {
    @Test("a buy moves cash by notional plus commission, exactly")
    func buyCash() {
        var p = Portfolio(cash: FixedPoint(10_000))
        p.apply(fill(.buy, "46", at: "216.716721", fee: "19.93793833"))
        #expect(p.cash.description == "11.09289567")
        #expect(p.position("X").quantity == FixedPoint(46))
        #expect(p.position("X").averagePrice.description == "216.716721")
        #expect(p.totalCommission.description == "19.93793833")
    }

    @Test("a round trip realises PnL and equity is cash plus marked value")
    func roundTrip() {
        var p = Portfolio(cash: FixedPoint(1000))
        p.apply(fill(.buy, "10", at: "50", fee: "1"))
        p.mark("X", at: FixedPoint(55))
        #expect(p.equity.description == "1049")  // 499 cash + 550
        #expect(p.unrealizedPnL.description == "50")
        p.apply(fill(.sell, "10", at: "60", fee: "1"))
        #expect(p.cash.description == "1098")
        #expect(p.realizedPnL.description == "100")
        #expect(p.position("X").isFlat)
        #expect(p.equity == p.cash)
    }

    @Test("averaging in and flipping through zero")
    func averageAndFlip() {
        var pos = Position(symbol: "X")
        pos.apply(fill(.buy, "10", at: "100"))
        pos.apply(fill(.buy, "30", at: "120"))
        #expect(pos.averagePrice.description == "115")
        pos.apply(fill(.sell, "50", at: "130"))
        #expect(pos.realizedPnL.description == "600")  // 40 × (130 − 115)
        #expect(pos.quantity.description == "-10")
        #expect(pos.averagePrice.description == "130")
    }
}

@Suite("TradeLedger")
struct TradeLedgerTests {
    @Test("closes lots first in, first out, splitting commissions pro rata")
    func fifo() throws {
        var l = TradeLedger()
        l.record(fill(.buy, "10", at: "100", fee: "2", bar: 1, id: 1), tag: "a")
        l.record(fill(.buy, "10", at: "110", fee: "2", bar: 2, id: 2), tag: "b")
        l.record(fill(.sell, "15", at: "120", fee: "3", bar: 3, id: 3))
        #expect(l.closed.count == 2)
        let first = l.closed[0]
        #expect(first.quantity.description == "10")
        #expect(first.entryPrice.description == "100")
        #expect(first.commission.description == "4")  // 2 entry + 10/15 of 3
        #expect(first.pnl.description == "196")
        #expect(first.tag == "a")
        let second = l.closed[1]
        #expect(second.quantity.description == "5")
        #expect(second.commission.description == "2")  // half of 2 + 5/15 of 3
        #expect(second.pnl.description == "48")
        #expect(l.openLotCount == 1)
        l.record(fill(.sell, "5", at: "100", fee: "1", bar: 4, id: 4))
        #expect(l.closed[2].commission.description == "2")  // remaining 1 entry + 1 exit
        #expect(l.openLotCount == 0)
    }

    @Test("return fraction is net of commission, as backtesting.py's ReturnPct")
    func returnFraction() {
        var l = TradeLedger()
        l.record(fill(.buy, "46", at: "216.716721", fee: "19.93793833", bar: 38))
        l.record(fill(.sell, "46", at: "281.646637", fee: "25.91149060", bar: 119))
        let t = l.closed[0]
        #expect(abs(t.returnFraction - 0.2950081054613224) < 1e-9)
        #expect(abs(t.pnl.doubleValue - 2940.9267070639994) < 1e-6)
    }

    @Test("short trades report negative size and profit when price falls")
    func shortTrade() {
        var l = TradeLedger()
        l.record(fill(.sell, "5", at: "100", bar: 1))
        l.record(fill(.buy, "5", at: "90", bar: 2))
        #expect(l.closed[0].quantity.description == "-5")
        #expect(l.closed[0].pnl.description == "50")
        #expect(l.closed[0].returnFraction > 0.099 && l.closed[0].returnFraction < 0.101)
    }
}

@Suite("FeeModel")
struct FeeModelTests {
    let fees = FeeModel(commissionRate: FixedPoint("0.002")!, commissionFixed: FixedPoint("1")!, slippageBps: FixedPoint(10))

    @Test("commission is rate × notional plus the fixed part")
    func commission() {
        #expect(fees.commission(notional: FixedPoint(1000)).description == "3")
        #expect(fees.commission(notional: FixedPoint(-1000)).description == "3")
    }

    @Test("slippage moves the price against the trader")
    func slippage() {
        #expect(fees.slipped(FixedPoint(100), side: .buy).description == "100.1")
        #expect(fees.slipped(FixedPoint(100), side: .sell).description == "99.9")
    }

    @Test("affordable quantity is the largest step multiple whose full cost fits")
    func affordable() {
        let plain = FeeModel(commissionRate: FixedPoint("0.002")!)
        let q = plain.affordableQuantity(budget: FixedPoint(10_000), price: FixedPoint("216.716721")!, step: .one)
        #expect(q == FixedPoint(46))  // 46 × 216.716721 × 1.002 = 9988.9 ≤ 10000 < 47 × ...
        let exact = plain.affordableQuantity(budget: FixedPoint("1002")!, price: FixedPoint(100), step: .one)
        #expect(exact == FixedPoint(10))  // cost exactly equals budget
        let frac = plain.affordableQuantity(budget: FixedPoint(100), price: FixedPoint(30_000), step: FixedPoint("0.0001")!)
        #expect(frac.description == "0.0033")
        #expect(fees.affordableQuantity(budget: FixedPoint("0.5")!, price: FixedPoint(1), step: .one) == .zero)
    }
}
