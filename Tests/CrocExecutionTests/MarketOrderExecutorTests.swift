import CrocCore
import CrocEngine
import CrocSupport
import CrocTestSupport
import Foundation
import Logging
import MetricsTestKit
import Synchronization
import Testing

@testable import CrocExecution

@Suite("Order state machine")
struct OrderStateTests {
    @Test func forwardTransitionsAreAllowedAndImpossibleOnesRefused() throws {
        var r = OrderRecord(
            request: OrderRequest(clientOrderID: "a", symbol: "X", side: .buy, kind: .market, quantity: q("1")),
            createdAt: Timestamp(nanoseconds: 0)
        )
        try r.transition(to: .submitted)
        try r.transition(to: .acked)
        try r.transition(to: .partiallyFilled)
        try r.transition(to: .filled)
        #expect(throws: InvalidOrderTransition.self) { try r.transition(to: .acked) }
        #expect(throws: InvalidOrderTransition.self) { try r.transition(to: .canceled) }
        #expect(r.state == .filled)
        #expect(!OrderState.acked.canTransition(to: .submitted))
        #expect(!OrderState.partiallyFilled.canTransition(to: .acked))
        #expect(!OrderState.dropped.canTransition(to: .submitted))
        #expect(OrderState.submitted.canTransition(to: .rejected))
        #expect(!OrderState.partiallyFilled.canTransition(to: .rejected))
    }

    @Test func retryDelaysGrowExponentiallyAndHonourRetryAfter() {
        let p = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1), jitter: 0)
        #expect(p.delay(retry: 1, retryAfter: nil, random: 0.5) == .milliseconds(100))
        #expect(p.delay(retry: 2, retryAfter: nil, random: 0.5) == .milliseconds(200))
        #expect(p.delay(retry: 3, retryAfter: nil, random: 0.5) == .milliseconds(400))
        #expect(p.delay(retry: 9, retryAfter: nil, random: 0.5) == .seconds(1))
        #expect(p.delay(retry: 1, retryAfter: .seconds(2), random: 0.5) == .seconds(2))
        let j = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1), jitter: 0.2)
        #expect(j.delay(retry: 1, retryAfter: nil, random: 0) == .milliseconds(80))
        #expect(j.delay(retry: 1, retryAfter: nil, random: 1) == .milliseconds(120))
    }
}

@Suite("Risk checks")
struct RiskEngineTests {
    func request(_ side: OrderSide, _ n: String, limit: String? = nil) -> OrderRequest {
        OrderRequest(clientOrderID: "r", symbol: "BTCUSDT", side: side, kind: limit.map { .limit(FixedPoint($0)!) } ?? .market, quantity: q(n))
    }

    func run(_ risk: inout RiskEngine, _ r: OrderRequest, exposure: Quantity, openOrders: Int, nowNanos: UInt64) -> RiskViolation? {
        risk.check(r, exposure: exposure, openOrders: openOrders, nowNanos: nowNanos)
    }

    func equity(_ risk: inout RiskEngine, _ e: Money) -> Bool { risk.updateEquity(e) }

    @Test func eachLimitRefusesWithATypedViolation() {
        var risk = RiskEngine(limits: RiskLimits(maxPosition: q("2"), maxNotional: FixedPoint(500), maxOpenOrders: 3, priceBandBps: FixedPoint(100)))
        #expect(run(&risk, request(.buy, "1"), exposure: .zero, openOrders: 0, nowNanos: 0) == .noReferencePrice(symbol: "BTCUSDT"))
        risk.updatePrice(symbol: "BTCUSDT", price: FixedPoint(200))
        #expect(run(&risk, request(.buy, "1"), exposure: .zero, openOrders: 0, nowNanos: 0) == nil)
        #expect(run(&risk, request(.buy, "3"), exposure: .zero, openOrders: 0, nowNanos: 0)?.check == "max_position")
        #expect(run(&risk, request(.sell, "1"), exposure: q("-2"), openOrders: 0, nowNanos: 0)?.check == "max_position")
        // 2 × 300 = 600 > 500 at the limit price.
        #expect(run(&risk, request(.buy, "1", limit: "300"), exposure: q("1"), openOrders: 0, nowNanos: 0)?.check == "max_notional")
        #expect(run(&risk, request(.buy, "1"), exposure: .zero, openOrders: 3, nowNanos: 0) == .maxOpenOrders(open: 3, limit: 3))
        // 1% band around 200: 198..202.
        #expect(run(&risk, request(.buy, "1", limit: "201.9"), exposure: .zero, openOrders: 0, nowNanos: 0) == nil)
        #expect(run(&risk, request(.buy, "1", limit: "203"), exposure: .zero, openOrders: 0, nowNanos: 0)?.check == "price_band")
        #expect(run(&risk, request(.buy, "1", limit: "197"), exposure: .zero, openOrders: 0, nowNanos: 0)?.check == "price_band")
    }

    @Test func orderRateIsASlidingOneSecondWindow() {
        var risk = RiskEngine(limits: RiskLimits(maxOrdersPerSecond: 3))
        let r = request(.buy, "1")
        for i in 0..<3 { #expect(run(&risk, r, exposure: .zero, openOrders: 0, nowNanos: UInt64(i) * 1000) == nil) }
        #expect(run(&risk, r, exposure: .zero, openOrders: 0, nowNanos: 500_000_000) == .orderRate(limit: 3))
        #expect(run(&risk, r, exposure: .zero, openOrders: 0, nowNanos: 1_000_000_001) == nil)
    }

    @Test func drawdownEngagesTheKillSwitchUntilReset() {
        var risk = RiskEngine(limits: RiskLimits(maxDrawdown: FixedPoint("0.1")!))
        #expect(!equity(&risk, FixedPoint(1000)))
        #expect(!equity(&risk, FixedPoint(1100)))
        #expect(!equity(&risk, FixedPoint(1000)))
        #expect(equity(&risk, FixedPoint(990)))  // 10% below 1100
        #expect(run(&risk, request(.buy, "1"), exposure: .zero, openOrders: 0, nowNanos: 0)?.check == "kill_switch")
        risk.resetKillSwitch()
        #expect(run(&risk, request(.buy, "1"), exposure: .zero, openOrders: 0, nowNanos: 0) == nil)
    }
}

@Suite("MarketOrderExecutor")
struct MarketOrderExecutorTests {
    @Test("a wait for idleness ends when the executor is idle or at its own timeout, never at an earlier wait's cancelled timer")
    func idleWaitsEndOnlyWhenIdle() async throws {
        let venue = ScriptedVenue()
        let ex = MarketOrderExecutor(client: venue, configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow))
        try await ex.start()
        // Each round holds an order at the venue for 20 ms and waits: the wait must see the
        // executor idle (the previous round's wait ended by idleness; its timer, cancelled, used
        // to wake every later waiter, ending this wait with the order still in flight).
        for round in 0..<40 {
            await venue.closeGate()
            _ = try #require(await ex.onSignal(buy("0.1")).clientOrderID)
            let opener = Task {
                try? await Task.sleep(for: .milliseconds(20))
                await venue.openGate()
            }
            let idle = await ex.waitUntilIdle(timeout: .seconds(60))
            #expect(idle, "round \(round): the wait ended with an order in flight")
            await opener.value
            #expect(await ex.waitUntilIdle(timeout: .seconds(60)))
        }
        // A wait that times out says so (the order is still held).
        await venue.closeGate()
        _ = await ex.onSignal(buy("0.1"))
        #expect(await ex.waitUntilIdle(timeout: .milliseconds(50)) == false)
        await venue.openGate()
        #expect(await ex.waitUntilIdle(timeout: .seconds(60)))
        #expect(await ex.position("BTCUSDT") == q("4.1"))
        await ex.shutdown()
    }

    @Test func signalsBecomeStoredOrdersAndFillsBuildThePosition() async throws {
        let venue = ScriptedVenue()
        let store = InMemoryOrderStore()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: venue,
            store: store,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow),
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        var ids: [String] = []
        for _ in 0..<10 { ids.append(try #require(await ex.onSignal(buy("0.5")).clientOrderID)) }
        #expect(Set(ids).count == 10)
        #expect(ids.allSatisfy { $0.count <= 36 && $0.hasPrefix("cb-") })
        #expect(await eventually { await ex.position("BTCUSDT") == q("5") })
        _ = await ex.onSignal(sell("2"))
        #expect(await eventually { await ex.position("BTCUSDT") == q("3") })
        await ex.shutdown()
        #expect(try store.positions()["BTCUSDT"] == q("3"))
        #expect(try store.allOrders().allSatisfy { $0.state == .filled })
        #expect(try store.fills(clientOrderID: nil).count == 11)
        #expect(try metrics.expectCounter("crocbot_orders_total", [("event", "filled")]).totalValue == 11)
        #expect(try metrics.expectCounter("crocbot_orders_total", [("event", "submitted")]).totalValue == 11)
        #expect(try metrics.expectTimer("crocbot_order_submit_to_ack_seconds").values.count == 11)
    }

    @Test func neverMoreThanTheConfiguredRequestsInFlight() async throws {
        let venue = ScriptedVenue()
        await venue.closeGate()
        let ex = MarketOrderExecutor(
            client: venue,
            configuration: ExecutorConfiguration(maxInFlight: 3, queueCapacity: 100, retry: fastRetry, venueReceiveWindow: testWindow)
        )
        try await ex.start()
        for _ in 0..<20 { _ = await ex.onSignal(buy("1")) }
        #expect(await eventually { await venue.inFlight == 3 })
        #expect(await ex.requestsInFlight == 3)
        #expect(await ex.queueDepth == 17)
        await venue.openGate()
        #expect(await eventually { await ex.position("BTCUSDT") == q("20") })
        #expect(await venue.maxInFlight == 3)
        await ex.shutdown()
    }

    @Test func rejectPolicyRefusesWhenTheQueueIsFull() async throws {
        let venue = ScriptedVenue()
        await venue.closeGate()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: venue,
            configuration: ExecutorConfiguration(
                maxInFlight: 1,
                queueCapacity: 2,
                backpressure: .reject,
                retry: fastRetry,
                venueReceiveWindow: testWindow
            ),
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        var outcomes: [SignalOutcome] = []
        for _ in 0..<6 {
            outcomes.append(await ex.onSignal(buy("1")))
            _ = await eventually { await venue.inFlight == 1 }
        }
        let refused = outcomes.filter { $0 == .refused(.queueFull) }.count
        #expect(refused == 3)  // one in flight, two queued
        #expect(try metrics.expectCounter("crocbot_backpressure_total", [("policy", "reject")]).totalValue == 3)
        await venue.openGate()
        #expect(await eventually { await ex.position("BTCUSDT") == q("3") })
        await ex.shutdown()
        #expect(await venue.submitCalls.count == 3)
    }

    @Test func dropOldestReplacesTheStalestQueuedSignal() async throws {
        let venue = ScriptedVenue()
        await venue.closeGate()
        let store = InMemoryOrderStore()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: venue,
            store: store,
            configuration: ExecutorConfiguration(
                maxInFlight: 1,
                queueCapacity: 2,
                backpressure: .dropOldest,
                retry: fastRetry,
                venueReceiveWindow: testWindow
            ),
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        var ids: [String] = []
        for i in 0..<5 {
            ids.append(try #require(await ex.onSignal(buy("\(i + 1)")).clientOrderID))
            _ = await eventually { await venue.inFlight == 1 }
        }
        // ids[0] in flight; ids[1], ids[2] dropped for ids[3], ids[4].
        #expect(try store.order(ids[1])?.state == .dropped)
        #expect(try store.order(ids[2])?.state == .dropped)
        #expect(try metrics.expectCounter("crocbot_backpressure_total", [("policy", "drop_oldest")]).totalValue == 2)
        await venue.openGate()
        #expect(await eventually { await ex.position("BTCUSDT") == q("10") })  // 1 + 4 + 5
        await ex.shutdown()
        #expect(await venue.submitCalls == [ids[0], ids[3], ids[4]])
    }

    @Test func suspendPolicyMakesTheProducerWait() async throws {
        let venue = ScriptedVenue()
        await venue.closeGate()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: venue,
            configuration: ExecutorConfiguration(
                maxInFlight: 1,
                queueCapacity: 2,
                backpressure: .suspend,
                retry: fastRetry,
                venueReceiveWindow: testWindow
            ),
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        let produced = Mutex(0)
        let producer = Task {
            for _ in 0..<6 {
                _ = await ex.onSignal(buy("1"))
                produced.withLock { $0 += 1 }
            }
        }
        #expect(await eventually { produced.withLock { $0 } == 3 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(produced.withLock { $0 } == 3)  // the fourth waits for room
        #expect(try metrics.expectCounter("crocbot_backpressure_total", [("policy", "suspend")]).totalValue >= 1)
        await venue.openGate()
        await producer.value
        #expect(await eventually { await ex.position("BTCUSDT") == q("6") })
        await ex.shutdown()
    }

    @Test func transientErrorsAreRetriedWithTheSameIdAndRejectionsAreNot() async throws {
        let venue = ScriptedVenue()
        await venue.script(failures: [
            .transport(operation: "submit", message: "refused", requestSent: false),
            .server(operation: "submit", status: 503, code: nil, message: "busy"),
        ])
        let metrics = TestMetrics()
        let store = InMemoryOrderStore()
        let ex = MarketOrderExecutor(
            client: venue,
            store: store,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow),
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        let id = try #require(await ex.onSignal(buy("1")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("1") })
        #expect(await venue.submitCalls == [id, id, id])
        #expect(try metrics.expectCounter("crocbot_orders_total", [("event", "retried")]).totalValue == 2)
        // A rejection is final.
        await venue.script(failures: [.rejected(operation: "submit", code: -2010, message: "Account has insufficient balance")])
        let bad = try #require(await ex.onSignal(buy("1")).clientOrderID)
        #expect(await eventually { (try? store.order(bad))??.state == .rejected })
        try await Task.sleep(for: .milliseconds(30))
        #expect(await venue.submitCalls.filter { $0 == bad }.count == 1)
        #expect(try store.order(bad)?.lastError?.contains("insufficient balance") == true)
        await ex.shutdown()
    }

    @Test func aLostAnswerIsLookedUpNotResent() async throws {
        let venue = ScriptedVenue()
        // The venue places the order but the answer is lost (timeout); the retry must find it, not place it again.
        await venue.script(afterPlacing: [.timeout(operation: "submit")])
        let ex = MarketOrderExecutor(client: venue, configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow))
        try await ex.start()
        let id = try #require(await ex.onSignal(buy("2")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("2") })
        try await Task.sleep(for: .milliseconds(30))
        #expect(await venue.submitCalls == [id])
        #expect(await venue.queryCalls >= 1)
        #expect(await ex.position("BTCUSDT") == q("2"))
        await ex.shutdown()
    }

    @Test func duplicatedAndOutOfOrderReportsBookEachFillOnce() async throws {
        let venue = ScriptedVenue()
        let store = InMemoryOrderStore()
        let ex = MarketOrderExecutor(
            client: venue,
            store: store,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow)
        )
        try await ex.start()
        let id = try #require(await ex.onSignal(buy("10", limit: "100")).clientOrderID)
        #expect(await eventually { await ex.order(id)?.state == .acked })
        let a = await venue.fill(id, quantity: q("3"), at: FixedPoint(100))
        let b = await venue.fill(id, quantity: q("3"), at: FixedPoint(101))
        let c = await venue.fill(id, quantity: q("4"), at: FixedPoint(102))
        // Out of order, duplicated, and an old ack at the end.
        await venue.push(ExecutionReport(snapshot: b))
        await venue.push(ExecutionReport(snapshot: a))
        await venue.push(ExecutionReport(snapshot: b))
        await venue.push(ExecutionReport(snapshot: c))
        await venue.push(ExecutionReport(snapshot: c))
        var ack = a
        ack.status = .new
        ack.executedQuantity = .zero
        ack.cumulativeQuote = .zero
        await venue.push(ExecutionReport(snapshot: ack))
        #expect(await eventually { (try? store.order(id))??.state == .filled })
        try await Task.sleep(for: .milliseconds(20))
        let fills = try store.fills(clientOrderID: id)
        #expect(fills.map(\.quantity).reduce(.zero, +) == q("10"))
        #expect(await ex.position("BTCUSDT") == q("10"))
        // Booked value equals the venue's cumulative quote: nothing lost in the merge of a+b.
        let value = fills.reduce(Money.zero) { $0 + $1.quantity * $1.price }
        #expect(value == c.cumulativeQuote)
        await ex.shutdown()
    }

    @Test func riskRefusalsAreTypedCountedAndLogged() async throws {
        let venue = ScriptedVenue()
        let sink = LogSink.inMemory()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: venue,
            configuration: ExecutorConfiguration(retry: fastRetry, risk: RiskLimits(maxPosition: q("2")), venueReceiveWindow: testWindow),
            logger: memoryLogger(sink),
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        #expect(await ex.onSignal(buy("2")).clientOrderID != nil)
        let outcome = await ex.onSignal(buy("1"))
        guard case .refused(.risk(.maxPosition(let symbol, let projected, let limit))) = outcome else {
            Issue.record("expected a max-position refusal, got \(outcome)")
            return
        }
        #expect(symbol == "BTCUSDT" && projected == q("3") && limit == q("2"))
        #expect(try metrics.expectCounter("crocbot_risk_refusals_total", [("check", "max_position")]).totalValue == 1)
        #expect(sink.lines.contains { $0.contains("signal refused") && $0.contains("position would be 3, limit 2") })
        let zero = await ex.onSignal(OrderIntent(symbol: "BTCUSDT", side: .buy, quantity: .zero))
        #expect(zero == SignalOutcome.refused(.invalid("quantity 0 must be > 0")))
        await ex.shutdown()
    }

    @Test func killSwitchCancelsWorkingOrdersAndBlocksNewOnes() async throws {
        let venue = ScriptedVenue()
        let ex = MarketOrderExecutor(
            client: venue,
            configuration: ExecutorConfiguration(retry: fastRetry, risk: RiskLimits(maxDrawdown: FixedPoint("0.05")!), venueReceiveWindow: testWindow)
        )
        try await ex.start()
        let id = try #require(await ex.onSignal(buy("1", limit: "90")).clientOrderID)
        #expect(await eventually { await ex.order(id)?.state == .acked })
        await ex.updateEquity(FixedPoint(10_000))
        await ex.updateEquity(FixedPoint(9_400))
        #expect(await ex.isKillSwitchEngaged)
        #expect(await venue.orders[id]?.status == .canceled)
        #expect(await ex.order(id)?.state == .canceled)
        guard case .refused(.risk(.killSwitch)) = await ex.onSignal(buy("1")) else {
            Issue.record("expected the kill switch to refuse")
            return
        }
        await ex.resetKillSwitch()
        #expect(await ex.onSignal(buy("1")).clientOrderID != nil)
        await ex.shutdown()
    }

    @Test func everyOrderEventIsAJSONLineWithTheClientOrderID() async throws {
        let venue = ScriptedVenue()
        let sink = LogSink.inMemory()
        let ex = MarketOrderExecutor(
            client: venue,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow),
            logger: memoryLogger(sink)
        )
        try await ex.start()
        let id = try #require(await ex.onSignal(buy("1")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("1") })
        await ex.shutdown()
        let events = sink.lines.compactMap { line -> [String: Any]? in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        #expect(events.count == sink.lines.count)
        let orderEvents = events.filter { ($0["message"] as? String)?.hasPrefix("order ") == true }
        #expect(orderEvents.map { $0["message"] as? String } == ["order submitted", "order filled"])
        for e in orderEvents {
            #expect((e["metadata"] as? [String: Any])?["client_order_id"] as? String == id)
        }
    }
}

@Suite("Order stores")
struct OrderStoreTests {
    func record(_ id: String) -> OrderRecord {
        OrderRecord(
            request: OrderRequest(
                clientOrderID: id,
                symbol: "ETHUSDT",
                side: .sell,
                kind: .limit(FixedPoint("1234.5")!),
                quantity: q("0.25"),
                timeInForce: .ioc
            ),
            createdAt: Timestamp(nanoseconds: 42),
            tag: "t"
        )
    }

    @Test(arguments: ["memory", "sqlite"])
    func ordersAndFillsRoundTripAndFillsAreIdempotent(kind: String) throws {
        let store: any OrderStore = kind == "memory" ? InMemoryOrderStore() : try SQLiteOrderStore(path: tempPath("orders.sqlite"))
        var r = record("o1")
        try store.insert(r)
        #expect(throws: OrderStoreError.self) { try store.insert(r) }
        #expect(try store.order("o1") == r)
        r.state = .partiallyFilled
        r.filledQuantity = q("0.1")
        r.filledQuote = FixedPoint("123.45")!
        let f = ExecutionFill(
            clientOrderID: "o1",
            symbol: "ETHUSDT",
            side: .sell,
            quantity: q("0.1"),
            price: FixedPoint("1234.5")!,
            commission: FixedPoint("0.01")!,
            cumulativeQuantity: q("0.1"),
            time: Timestamp(nanoseconds: 7)
        )
        #expect(try store.record(fill: f, order: r))
        #expect(try store.record(fill: f, order: r) == false)
        #expect(try store.fills(clientOrderID: "o1") == [f])
        #expect(try store.positions()["ETHUSDT"] == q("-0.1"))
        #expect(try store.order("o1") == r)
        #expect(try store.openOrders().map(\.clientOrderID) == ["o1"])
        r.state = .canceled
        try store.update(r)
        #expect(try store.openOrders().isEmpty)
        #expect(throws: OrderStoreError.self) { try store.update(record("nope")) }
    }

    @Test func sqliteSurvivesReopening() throws {
        let path = tempPath("orders.sqlite")
        do {
            let store = try SQLiteOrderStore(path: path)
            try store.insert(record("a"))
            try store.insert(record("b"))
        }
        let reopened = try SQLiteOrderStore(path: path)
        #expect(try reopened.openOrders().map(\.clientOrderID) == ["a", "b"])
        let journal = try reopened.pragmaJournalMode()
        #expect(journal == "wal")
    }

    @Test func unwritablePathIsATypedError() {
        #expect(throws: OrderStoreError.self) { try SQLiteOrderStore(path: "/proc/nonexistent/dir/orders.sqlite") }
    }
}
