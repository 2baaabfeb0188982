import CrocCore
import CrocEngine
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocExecution

private let later = ContinuousClock.now + .seconds(60)

private func request(_ id: String, _ side: OrderSide, _ n: String, limit: String? = nil, tif: TimeInForce = .gtc) -> OrderRequest {
    OrderRequest(
        clientOrderID: id,
        symbol: "ETHUSDT",
        side: side,
        kind: limit.map { .limit(FixedPoint($0)!) } ?? .market,
        quantity: q(n),
        timeInForce: tif
    )
}

@Suite("Paper client")
struct PaperClientTests {
    let fees = FeeModel(commissionRate: FixedPoint("0.001")!, slippageBps: FixedPoint(10))

    @Test func marketOrdersFillAtTheLastPriceWithTheBacktestsCosts() async throws {
        let paper = PaperExecutionClient(cash: FixedPoint(10_000), fees: fees)
        await #expect(throws: ExecutionError.invalidRequest("ETHUSDT: no price yet")) {
            try await paper.submit(request("a", .buy, "1"), deadline: later)
        }
        await paper.updatePrice(symbol: "ETHUSDT", price: FixedPoint(2000), time: Timestamp(seconds: 1))
        let o = try await paper.submit(request("b", .buy, "2"), deadline: later)
        // 10 bps slippage against the taker: 2002; commission 0.1% of 4004.
        #expect(o.status == .filled && o.executedQuantity == q("2"))
        #expect(o.averagePrice == FixedPoint(2002))
        #expect(o.cumulativeCommission == FixedPoint("4.004")!)
        #expect(await paper.account.cash == FixedPoint(10_000) - FixedPoint(4004) - FixedPoint("4.004")!)
        await #expect(throws: ExecutionError.duplicateOrder(clientOrderID: "b")) { try await paper.submit(request("b", .buy, "1"), deadline: later) }
        // Shorting is off: selling more than held is refused, typed.
        do {
            _ = try await paper.submit(request("c", .sell, "3"), deadline: later)
            Issue.record("expected a rejection")
        } catch {
            #expect(error.kind == "rejected" && "\(error)".contains("shorting disabled"))
        }
        // Not enough cash.
        do {
            _ = try await paper.submit(request("d", .buy, "100"), deadline: later)
            Issue.record("expected a rejection")
        } catch {
            #expect("\(error)".contains("insufficient cash"))
        }
    }

    @Test func limitOrdersRestAndFillWhenAPriceReachesThem() async throws {
        let paper = PaperExecutionClient(cash: FixedPoint(10_000), fees: .free)
        let reports = paper.executionReports()
        await paper.updatePrice(symbol: "ETHUSDT", price: FixedPoint(2000), time: Timestamp(seconds: 1))
        let resting = try await paper.submit(request("l1", .buy, "1", limit: "1990"), deadline: later)
        #expect(resting.status == .new)
        #expect(try await paper.openOrders(symbol: "ETHUSDT", deadline: later).map(\.clientOrderID) == ["l1"])
        let ioc = try await paper.submit(request("l2", .buy, "1", limit: "1980", tif: .ioc), deadline: later)
        #expect(ioc.status == .expired)
        await paper.updatePrice(symbol: "ETHUSDT", price: FixedPoint(1995), time: Timestamp(seconds: 2))
        #expect(try await paper.queryOrder(symbol: "ETHUSDT", clientOrderID: "l1", deadline: later)?.status == .new)
        await paper.updatePrice(symbol: "ETHUSDT", price: FixedPoint(1985), time: Timestamp(seconds: 3))
        var iterator = reports.makeAsyncIterator()
        let report = await iterator.next()
        #expect(report?.kind == .fill && report?.order.clientOrderID == "l1")
        #expect(report?.order.averagePrice == FixedPoint(1990))  // fills at its limit
        #expect(await paper.account.position("ETHUSDT").quantity == q("1"))
        // Cancel: a resting order can be cancelled once.
        _ = try await paper.submit(request("l3", .sell, "1", limit: "2100"), deadline: later)
        #expect(try await paper.cancel(symbol: "ETHUSDT", clientOrderID: "l3", deadline: later).status == .canceled)
        await #expect(throws: ExecutionError.self) { try await paper.cancel(symbol: "ETHUSDT", clientOrderID: "l3", deadline: later) }
        let balances = try await paper.balances(deadline: later)
        #expect(balances.first { $0.asset == "ETHUSDT" }?.free == q("1"))
    }
}

@Suite("Simulated execution client")
struct SimulatedClientTests {
    func bar(_ i: Int64, _ price: Double) -> Bar {
        TestBars.bar(Int(i), close: price, spread: 1)
    }

    @Test func nextOpenFillsArriveAsReportsOnTheNextBar() async throws {
        let sim = SimulatedExecutionClient(instrument: Instrument(symbol: "ETHUSDT"), fees: .free, fillTiming: .nextOpen, cash: FixedPoint(100_000))
        let reports = sim.executionReports()
        sim.process(bar: bar(0, 100))
        let ack = try await sim.submit(request("m1", .buy, "2"), deadline: later)
        #expect(ack.status == .new)
        sim.process(bar: bar(1, 105))
        var it = reports.makeAsyncIterator()
        let fill = await it.next()
        #expect(fill?.kind == .fill && fill?.order.averagePrice == FixedPoint(105))
        #expect(try await sim.queryOrder(symbol: "ETHUSDT", clientOrderID: "m1", deadline: later)?.executedQuantity == q("2"))
        #expect(sim.account.position("ETHUSDT").quantity == q("2"))
    }

    @Test func anExecutorOverTheSimulatedClientMatchesTheExchangesRules() async throws {
        let sim = SimulatedExecutionClient(instrument: Instrument(symbol: "ETHUSDT"), fees: .free, fillTiming: .nextOpen, cash: FixedPoint(1_000))
        sim.process(bar: bar(0, 100))
        let ex = MarketOrderExecutor(client: sim, configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow))
        try await ex.start()
        let id = try #require(await ex.onSignal(OrderIntent(symbol: "ETHUSDT", side: .buy, quantity: q("5"))).clientOrderID)
        #expect(await eventually { await ex.order(id)?.state == .acked })
        sim.process(bar: bar(1, 110))
        #expect(await eventually { await ex.position("ETHUSDT") == q("5") })
        // Cash rules come from the exchange: 20 × 110 > 1,000 − 550 is rejected, and the rejection is final.
        let big = try #require(await ex.onSignal(OrderIntent(symbol: "ETHUSDT", side: .buy, quantity: q("20"))).clientOrderID)
        #expect(await eventually { await ex.order(big)?.state == .acked })
        sim.process(bar: bar(2, 110))
        #expect(await eventually { await ex.order(big)?.state == .rejected })
        #expect(await ex.position("ETHUSDT") == q("5"))
        await ex.shutdown()
    }
}

/// Paper trading books every fill through the backtest's `SimulatedExchange`: the same orders at
/// the same prices give the same fills and the same refusals on paper and in a backtest.
@Suite("Paper and backtest fills agree")
struct PaperBacktestParityTests {
    static let instrument = Instrument(symbol: "ETHUSDT", pricePrecision: 2, quantityStep: FixedPoint("0.01")!)

    /// What a venue answered: a fill's figures or the refusal's text.
    static func outcome(_ client: any ExecutionClient, _ r: OrderRequest) async -> String {
        do {
            let o = try await client.submit(r, deadline: later)
            return "\(o.status.rawValue) \(o.executedQuantity) @ \(o.averagePrice.map { "\($0)" } ?? "-") fee \(o.cumulativeCommission ?? .zero)"
        } catch {
            return "refused: \(error)".replacingOccurrences(of: "rejected(operation: \"submit\", code: nil, message: ", with: "")
        }
    }

    @Test(arguments: [false, true])
    func sameOrdersSamePricesSameFills(allowShort: Bool) async throws {
        let fees = FeeModel(commissionRate: FixedPoint("0.001")!, slippageBps: FixedPoint(5))
        let backtest = SimulatedExecutionClient(
            instrument: Self.instrument,
            fees: fees,
            fillTiming: .close,
            allowShort: allowShort,
            cash: FixedPoint(10_000)
        )
        let paper = PaperExecutionClient(cash: FixedPoint(10_000), fees: fees, allowShort: allowShort, instruments: [Self.instrument])
        let closes = ["2000", "2013.37", "1987.5", "2050", "1999.99", "2100"]
        var orders: [(Int, OrderRequest)] = []
        func add(_ bar: Int, _ id: String, _ side: OrderSide, _ n: String, fraction: String? = nil) {
            orders.append(
                (
                    bar,
                    OrderRequest(
                        clientOrderID: id,
                        symbol: "ETHUSDT",
                        side: side,
                        kind: .market,
                        quantity: q(n),
                        cashFraction: fraction.map { FixedPoint($0)! }
                    )
                )
            )
        }
        add(0, "a", .buy, "1.5")
        add(1, "b", .buy, "0.01", fraction: "0.5")  // half the cash, sized by the exchange
        add(1, "c", .buy, "100")  // more than the cash
        add(2, "d", .buy, "0.015")  // not a multiple of the step
        add(3, "e", .sell, "2")
        add(4, "f", .sell, "10")  // beyond the position: a short if allowed, collateral checked
        add(5, "g", .sell, "3")
        var results: [[String]] = [[], []]
        for (bar, close) in closes.enumerated() {
            let c = Double(close)!
            backtest.process(bar: Bar(timestamp: Timestamp(seconds: Int64(bar)), open: c, high: c, low: c, close: c, volume: 0))
            await paper.updatePrice(symbol: "ETHUSDT", price: FixedPoint(close)!, time: Timestamp(seconds: Int64(bar)))
            for (b, r) in orders where b == bar {
                results[0].append(await Self.outcome(backtest, r))
                results[1].append(await Self.outcome(paper, r))
            }
        }
        #expect(results[0] == results[1])
        #expect(results[0].contains { $0.contains("insufficient cash") })
        #expect(results[0].contains { $0.contains("invalid quantity") })
        #expect(results[0].filter { $0.hasPrefix("filled") }.count >= 3)
        let held = await paper.account.position("ETHUSDT").quantity
        #expect(held == backtest.account.position("ETHUSDT").quantity)
        #expect(await paper.account.cash == backtest.account.cash)
    }
}
