import AsyncHTTPClient
import CrocCore
import CrocEngine
import CrocSupport
import CrocTestSupport
import Foundation
import Logging
import MetricsTestKit
import NIOCore
import Synchronization
import Testing

@testable import CrocExecution

private func binance(_ baseURL: String, _ fake: FakeBinance, recvWindow: Duration = .seconds(5)) -> BinanceSpotClient {
    BinanceSpotClient(
        credentials: BinanceCredentials(apiKey: fake.apiKey, secretKey: fake.secret),
        configuration: .init(baseURL: baseURL, recvWindow: recvWindow),
        logger: quietLogger
    )
}

let btcusdt = VenueRules(
    symbol: "BTCUSDT",
    baseAsset: "BTC",
    quoteAsset: "USDT",
    tickSize: FixedPoint("0.01")!,
    stepSize: FixedPoint("0.00001")!,
    minQuantity: FixedPoint("0.00001")!,
    maxQuantity: FixedPoint(9000),
    minNotional: FixedPoint(5)
)

@Suite("Venue rules")
struct VenueRulesTests {
    func market(_ side: OrderSide, _ n: String) -> OrderRequest {
        OrderRequest(clientOrderID: "x", symbol: "BTCUSDT", side: side, kind: .market, quantity: q(n))
    }

    @Test func ordersAreRoundedToTheStepAndTickAndRefusedWithTheRuleAndFigures() throws {
        // Rounded down to the LOT_SIZE step.
        let rounded = try btcusdt.conform(market(.buy, "0.12345678"), referencePrice: FixedPoint(100)).get()
        #expect(rounded.quantity == q("0.12345"))
        // Limit prices to the tick: buys down, sells up (never worse than asked).
        let buy = OrderRequest(clientOrderID: "b", symbol: "BTCUSDT", side: .buy, kind: .limit(FixedPoint("100.019")!), quantity: q("1"))
        let sell = OrderRequest(clientOrderID: "s", symbol: "BTCUSDT", side: .sell, kind: .limit(FixedPoint("100.011")!), quantity: q("1"))
        #expect(try btcusdt.conform(buy, referencePrice: nil).get().kind == .limit(FixedPoint("100.01")!))
        #expect(try btcusdt.conform(sell, referencePrice: nil).get().kind == .limit(FixedPoint("100.02")!))
        // Below the step: refused, naming LOT_SIZE and the minimum.
        #expect(
            btcusdt.conform(market(.buy, "0.000009"), referencePrice: FixedPoint(100))
                == .failure(.belowMinQuantity(symbol: "BTCUSDT", quantity: q("0.000009"), minimum: q("0.00001")))
        )
        // 0.01 × 100 = 1 < 5: MIN_NOTIONAL, with the value and the minimum in the message.
        let small = btcusdt.conform(market(.buy, "0.01"), referencePrice: FixedPoint(100))
        #expect(small == .failure(.belowMinNotional(symbol: "BTCUSDT", notional: FixedPoint(1), minimum: FixedPoint(5))))
        if case .failure(let v) = small { #expect(v.description.contains("minimum notional 5") && v.rule == "min_notional") }
        // A market order's value needs a price.
        #expect(btcusdt.conform(market(.buy, "1"), referencePrice: nil) == .failure(.noReferencePrice(symbol: "BTCUSDT")))
        #expect(
            btcusdt.conform(market(.buy, "9001"), referencePrice: FixedPoint(100))
                == .failure(.aboveMaxQuantity(symbol: "BTCUSDT", quantity: q("9001"), maximum: FixedPoint(9000)))
        )
        #expect(btcusdt.pricePrecision == 2)
    }

    @Test func exchangeInfoFiltersLoadIntoTheRules() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        let rules = try await binance(fake.baseURL, fake).rules(symbol: "BTCUSDT", deadline: .now + .seconds(5))
        #expect(rules == btcusdt)
        await #expect(throws: ExecutionError.invalidRequest("symbol XRPBTC is not listed by the venue (exchangeInfo)")) {
            try await binance(fake.baseURL, fake).rules(symbol: "XRPBTC", deadline: .now + .seconds(5))
        }
    }

    @Test func theExecutorRoundsAndRefusesBeforeAnythingIsStoredOrSent() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        let store = InMemoryOrderStore()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: binance(fake.baseURL, fake),
            store: store,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow),
            logger: quietLogger,
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        await ex.setRules([btcusdt])
        await ex.updateMarket(symbol: "BTCUSDT", price: FixedPoint(100))
        guard case .refused(.venueRule(.belowMinNotional)) = await ex.onSignal(buy("0.01")) else {
            Issue.record("expected a minimum-notional refusal")
            return
        }
        #expect(try store.allOrders().isEmpty)
        #expect(fake.orderCount == 0)
        #expect(try metrics.expectCounter("crocbot_venue_rule_refusals_total", [("rule", "min_notional")]).totalValue == 1)
        let id = try #require(await ex.onSignal(buy("0.12345678")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.12345") })
        #expect(fake.orders.first { $0.clientOrderId == id }?.origQty == q("0.12345"))
        await ex.shutdown()
    }
}

@Suite("Transport truth: only a failure before the request left is 'not sent'")
struct TransportTruthTests {
    @Test func errorsAfterTheConnectionWasUpMayHaveReachedTheVenue() {
        func sent(_ e: any Error) -> Bool { BinanceSpotClient.mapTransport(e, operation: "submit").mayHaveReachedVenue }
        #expect(sent(IOError(errnoCode: ECONNRESET, reason: "read(descriptor:pointer:size:)")))  // "Connection reset by peer"
        #expect(sent(IOError(errnoCode: ETIMEDOUT, reason: "read(descriptor:pointer:size:)")))  // "Connection timed out"
        #expect(sent(IOError(errnoCode: EPIPE, reason: "write(descriptor:pointer:size:)")))
        // NIO names errors it reads from SO_ERROR "connection reset (error set)", on connected sockets too.
        #expect(sent(IOError(errnoCode: ECONNRESET, reason: "connection reset (error set)")))
        #expect(!sent(IOError(errnoCode: ECONNREFUSED, reason: "connection reset (error set)")))
        #expect(sent(HTTPClientError.remoteConnectionClosed))
        #expect(sent(HTTPClientError.readTimeout))
        #expect(sent(HTTPClientError.deadlineExceeded))
        #expect(!sent(IOError(errnoCode: ECONNREFUSED, reason: "connect(descriptor:addr:size:)")))
        #expect(!sent(IOError(errnoCode: ETIMEDOUT, reason: "connect(descriptor:addr:size:)")))
        #expect(!sent(HTTPClientError.connectTimeout))
        #expect(!sent(HTTPClientError.tlsHandshakeTimeout))
        struct Text: Error, CustomStringConvertible { var description: String }
        #expect(!sent(Text(description: "Connection errors: [connection refused]")))
        #expect(!sent(Text(description: "DNS error: NXDOMAIN")))
        #expect(sent(Text(description: "Connection reset by peer")))  // the old text match called this "never sent"
    }
}

/// The executor against the local venue through a fault-injecting TCP proxy:
/// every fault ends with exactly one order per signal at the venue.
@Suite("Executor through a faulty network", .serialized)
struct FaultyNetworkTests {
    func setUp(
        retry: RetryPolicy = fastRetry,
        timeout: Duration = .milliseconds(400)
    ) async throws -> (FakeBinance, FaultProxy, MarketOrderExecutor, any OrderStore, TestMetrics) {
        let fake = FakeBinance()
        try await fake.start()
        let proxy = FaultProxy(upstreamPort: fake.port)
        try proxy.start()
        let store = InMemoryOrderStore()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: binance(proxy.baseURL, fake),
            store: store,
            configuration: ExecutorConfiguration(requestTimeout: timeout, retry: retry, venueReceiveWindow: testWindow),
            logger: quietLogger,
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        return (fake, proxy, ex, store, metrics)
    }

    @Test(arguments: ["reset", "half-close", "delay"])
    func aFaultAfterTheVenueProcessedTheOrderBecomesOneOrder(fault: String) async throws {
        let (fake, proxy, ex, store, _) = try await setUp()
        defer {
            proxy.stop()
            fake.stop()
        }
        switch fault {
        case "reset": proxy.inject(.resetAfterProcessing, on: "POST /api/v3/order")
        case "half-close": proxy.inject(.halfCloseAfterProcessing, on: "POST /api/v3/order")
        default: proxy.inject(.delay(seconds: 1), on: "POST /api/v3/order")
        }
        let id = try #require(await ex.onSignal(buy("0.03")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.03") })
        #expect(proxy.faultsFired == 1)
        #expect(fake.count(clientOrderID: id) == 1)
        #expect(fake.orderCount == 1)
        #expect(try store.positions()["BTCUSDT"] == q("0.03"))
        #expect(try store.order(id)?.state == .filled)
        await ex.shutdown()
    }

    @Test func anUnreadableSuccessAnswerIsLookedUpNotRejected() async throws {
        let (fake, proxy, ex, store, _) = try await setUp()
        defer {
            proxy.stop()
            fake.stop()
        }
        fake.inject(.garbageAfterProcessing, on: "POST /api/v3/order")
        let id = try #require(await ex.onSignal(buy("0.02")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.02") })
        #expect(fake.count(clientOrderID: id) == 1)
        #expect(try store.order(id)?.state == .filled)
        await ex.shutdown()
    }

    @Test func anOutageOfThreeSecondsLeavesNoOrderUnresolved() async throws {
        let (fake, proxy, ex, store, metrics) = try await setUp(
            retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20), maxDelay: .milliseconds(50))
        )
        defer {
            proxy.stop()
            fake.stop()
        }
        proxy.refuse(for: 3)
        let started = ContinuousClock.now
        let id = try #require(await ex.onSignal(buy("0.05")).clientOrderID)
        // The retries run out during the outage: the order is unresolved, visible, counted.
        #expect(await eventually { await ex.unresolvedOrders.map(\.clientOrderID) == [id] })
        #expect(try metrics.expectCounter("crocbot_orders_total", [("event", "unresolved")]).totalValue == 1)
        #expect(try metrics.expectGauge("crocbot_orders_unresolved").lastValue == 1)
        // The periodic reconcile (the live runtime runs it every 5 s) picks it up once the venue answers.
        var resolved = false
        while ContinuousClock.now - started < .seconds(12) {
            await ex.reconcile()
            let unresolved = await ex.unresolvedOrders
            if await ex.position("BTCUSDT") == q("0.05") && unresolved.isEmpty {
                resolved = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(resolved)
        #expect(ContinuousClock.now - started >= .seconds(3))
        #expect(fake.count(clientOrderID: id) == 1)
        #expect(try store.order(id)?.state == .filled)
        #expect(try metrics.expectGauge("crocbot_orders_unresolved").lastValue == 0)
        await ex.shutdown()
    }

    @Test func anUnresolvedOrderTheVenueNeverSawIsEndedAfterResolveWithin() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        let proxy = FaultProxy(upstreamPort: fake.port)
        try proxy.start()
        defer { proxy.stop() }
        let ex = MarketOrderExecutor(
            client: binance(proxy.baseURL, fake),
            configuration: ExecutorConfiguration(
                requestTimeout: .milliseconds(300),
                retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10), maxDelay: .milliseconds(20)),
                venueReceiveWindow: testWindow,
                resolveWithin: .milliseconds(500)
            ),
            logger: quietLogger
        )
        try await ex.start()
        let events = ex.events()
        proxy.refuse(for: 1.5)
        let id = try #require(await ex.onSignal(buy("0.05")).clientOrderID)
        #expect(await eventually { await ex.unresolvedOrders.count == 1 })
        try await Task.sleep(for: .seconds(2))  // past resolveWithin, and the venue is back
        await ex.reconcile()
        #expect(await ex.order(id)?.state == .expired)
        #expect(await ex.order(id)?.lastError?.contains("the venue never saw it") == true)
        #expect(await ex.unresolvedOrders.isEmpty)
        #expect(fake.count(clientOrderID: id) == 0)
        var iterator = events.makeAsyncIterator()
        guard case .ended(let endedID, .expired, _)? = await iterator.next() else {
            Issue.record("expected the order to end")
            return
        }
        #expect(endedID == id)
        await ex.shutdown()
    }
}

@Suite("Reports the executor did not expect")
struct UnexpectedReportTests {
    @Test func aFillAfterACancelIsBookedAndAFillForAnUnknownOrderIsStored() async throws {
        let venue = ScriptedVenue()
        let store = InMemoryOrderStore()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: venue,
            store: store,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow),
            logger: quietLogger,
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        let id = try #require(await ex.onSignal(buy("2", limit: "90")).clientOrderID)
        #expect(await eventually { await ex.order(id)?.state == .acked })
        try await ex.cancel(clientOrderID: id)
        #expect(await ex.order(id)?.state == .canceled)
        // The venue matched part of it before the cancel took effect, and says so afterwards.
        var late = try #require(await venue.orders[id])
        late.executedQuantity = q("0.5")
        late.cumulativeQuote = FixedPoint(45)
        let events = await ex.ingest([ExecutionReport(kind: .partialFill, order: late)])
        #expect(events.count == 1)
        #expect(await ex.position("BTCUSDT") == q("0.5"))
        #expect(try store.positions()["BTCUSDT"] == q("0.5"))
        #expect(try store.order(id)?.state == .canceled)
        #expect(await ex.ingest([ExecutionReport(kind: .partialFill, order: late)]).isEmpty)  // booked once
        // A fill for an order this store never had: not booked, never dropped silently.
        let stranger = VenueOrder(
            clientOrderID: "web-123",
            venueOrderID: "77",
            symbol: "BTCUSDT",
            side: .buy,
            status: .filled,
            quantity: q("1"),
            executedQuantity: q("1"),
            cumulativeQuote: FixedPoint(100),
            updateTime: Timestamp(nanoseconds: 1)
        )
        #expect(await ex.ingest([ExecutionReport(kind: .fill, order: stranger)]) == [.unknownFill(stranger)])
        #expect(try store.unknownReports() == [stranger])
        #expect(await ex.position("BTCUSDT") == q("0.5"))
        #expect(try metrics.expectCounter("crocbot_unknown_order_reports_total").totalValue == 1)
        await ex.shutdown()
    }

    @Test func aBaseAssetCommissionReducesThePositionAndAThirdAssetOneTouchesNeither() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock {
            $0.commissionAsset = "BTC"
            $0.commissionRate = FixedPoint("0.001")!
        }
        let store = InMemoryOrderStore()
        let ex = MarketOrderExecutor(
            client: binance(fake.baseURL, fake),
            store: store,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow),
            logger: quietLogger
        )
        try await ex.start()
        await ex.setRules([btcusdt])
        await ex.updateMarket(symbol: "BTCUSDT", price: FixedPoint(100))
        let events = ex.events()
        _ = await ex.onSignal(buy("2"))
        #expect(await eventually { await ex.position("BTCUSDT") == q("1.998") })  // 2 − 0.002 BTC fee
        var iterator = events.makeAsyncIterator()
        guard case .filled(let fill, true)? = await iterator.next() else {
            Issue.record("expected a fill")
            return
        }
        #expect(fill.quantity == q("2") && fill.baseCommission == q("0.002"))
        #expect(fill.heldQuantity == q("1.998"))
        #expect(fill.commission == FixedPoint("0.2"))  // 0.002 BTC at 100
        #expect(try store.positions()["BTCUSDT"] == q("1.998"))
        // The exit sells what is held, and the fee of a sell in USDT is cash, not position.
        fake.state.withLock { $0.commissionAsset = "USDT" }
        _ = await ex.onSignal(sell("1.998"))
        #expect(await eventually { await ex.position("BTCUSDT") == .zero })
        // A lookup of a filled order reads the commission's asset from its trades.
        fake.state.withLock { $0.commissionAsset = "BTC" }
        let c = binance(fake.baseURL, fake)
        let placed = try await c.submit(
            OrderRequest(clientOrderID: "look-1", symbol: "BTCUSDT", side: .buy, kind: .market, quantity: q("1")),
            deadline: .now + .seconds(5)
        )
        let looked = try #require(try await c.queryOrder(symbol: "BTCUSDT", clientOrderID: "look-1", deadline: .now + .seconds(5)))
        #expect(looked.commissionsByAsset == ["BTC": q("0.001")] && placed.commissionsByAsset == looked.commissionsByAsset)
        await ex.shutdown()
    }
}

@Suite("Order store safety")
struct OrderStoreSafetyTests {
    @Test func twoProcessesCannotTradeFromOneStore() throws {
        let path = tempPath("orders.sqlite")
        do {
            let first = try SQLiteOrderStore(path: path, durability: .powerLoss, exclusive: true)
            #expect(throws: OrderStoreError.self) { try SQLiteOrderStore(path: path, exclusive: true) }
            do {
                _ = try SQLiteOrderStore(path: path, exclusive: true)
            } catch {
                #expect(error.description.contains("another process holds this order store"))
            }
            try first.insert(
                OrderRecord(
                    request: OrderRequest(clientOrderID: "a", symbol: "BTCUSDT", side: .buy, kind: .market, quantity: q("1")),
                    createdAt: Timestamp(nanoseconds: 1)
                )
            )
        }
        // Released with the store: a restart opens it again and finds the order.
        let again = try SQLiteOrderStore(path: path, exclusive: true)
        #expect(try again.order("a")?.state == .pendingNew)
    }

    @Test func baseCommissionsAndUnknownReportsSurviveReopening() throws {
        let path = tempPath("orders.sqlite")
        let r = OrderRecord(
            request: OrderRequest(clientOrderID: "f", symbol: "BTCUSDT", side: .buy, kind: .market, quantity: q("2")),
            createdAt: Timestamp(nanoseconds: 1)
        )
        var fill = ExecutionFill(
            clientOrderID: "f",
            symbol: "BTCUSDT",
            side: .buy,
            quantity: q("2"),
            price: FixedPoint(100),
            commission: FixedPoint("0.2")!,
            cumulativeQuantity: q("2"),
            time: Timestamp(nanoseconds: 2)
        )
        fill.baseCommission = q("0.002")
        var done = r
        done.state = .filled
        done.filledQuantity = q("2")
        done.baseCommission = q("0.002")
        let stranger = VenueOrder(
            clientOrderID: "x",
            venueOrderID: "9",
            symbol: "BTCUSDT",
            side: .sell,
            status: .filled,
            quantity: q("1"),
            executedQuantity: q("1"),
            cumulativeQuote: FixedPoint(100),
            updateTime: Timestamp(nanoseconds: 3)
        )
        do {
            let store = try SQLiteOrderStore(path: path)
            try store.insert(r)
            #expect(try store.record(fill: fill, order: done))
            try store.recordUnknownReport(stranger, receivedAt: Timestamp(nanoseconds: 4))
        }
        let store = try SQLiteOrderStore(path: path)
        #expect(try store.positions()["BTCUSDT"] == q("1.998"))
        #expect(try store.order("f")?.baseCommission == q("0.002"))
        #expect(try store.unknownReports() == [stranger])
    }
}
