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

private func client(
    _ fake: FakeBinance,
    secret: String? = nil,
    recvWindow: Duration = .seconds(5),
    logger: Logger? = nil,
    weightLimit: Int = 6000
)
    -> BinanceSpotClient
{
    BinanceSpotClient(
        credentials: BinanceCredentials(apiKey: fake.apiKey, secretKey: secret ?? fake.secret),
        configuration: .init(baseURL: fake.baseURL, recvWindow: recvWindow, weightLimitPerMinute: weightLimit),
        logger: logger ?? Logger(label: "test.binance")
    )
}

private func soon() -> ContinuousClock.Instant { .now + .seconds(5) }

private func market(_ id: String, _ side: OrderSide = .buy, _ n: String = "0.01") -> OrderRequest {
    OrderRequest(clientOrderID: id, symbol: "BTCUSDT", side: side, kind: .market, quantity: q(n))
}

@Suite("Binance spot client: protocol", .serialized)
struct BinanceProtocolTests {
    @Test func signatureMatchesBinancesDocumentedExample() {
        // From Binance's "SIGNED endpoint examples for POST /api/v3/order" (HMAC key example).
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        #expect(BinanceSpotClient.hmacHex(secret: secret, message: query) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
    }

    @Test func ordersRoundTripThroughTheDocumentedEndpoints() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        let c = client(fake)
        let filled = try await c.submit(market("ord-1", .buy, "0.02"), deadline: soon())
        #expect(filled.status == .filled)
        #expect(filled.executedQuantity == q("0.02"))
        #expect(filled.cumulativeQuote == FixedPoint(2))
        #expect(filled.cumulativeCommission == FixedPoint("0.001"))
        #expect(filled.venueOrderID == "1")
        let limit = OrderRequest(clientOrderID: "ord-2", symbol: "BTCUSDT", side: .sell, kind: .limit(FixedPoint("123.45")!), quantity: q("0.5"))
        let resting = try await c.submit(limit, deadline: soon())
        #expect(resting.status == .new && resting.executedQuantity.isZero)
        #expect(fake.orders.last?.price == "123.45")
        #expect(try await c.queryOrder(symbol: "BTCUSDT", clientOrderID: "ord-2", deadline: soon())?.status == .new)
        #expect(try await c.queryOrder(symbol: "BTCUSDT", clientOrderID: "nope", deadline: soon()) == nil)
        #expect(try await c.openOrders(symbol: "BTCUSDT", deadline: soon()).map(\.clientOrderID) == ["ord-2"])
        #expect(try await c.cancel(symbol: "BTCUSDT", clientOrderID: "ord-2", deadline: soon()).status == .canceled)
        await #expect(throws: ExecutionError.orderNotFound(clientOrderID: "ord-2")) {
            try await c.cancel(symbol: "BTCUSDT", clientOrderID: "ord-2", deadline: soon())
        }
        let balances = try await c.balances(deadline: soon())
        #expect(
            balances == [
                AssetBalance(asset: "BTC", free: FixedPoint("1.5")!, locked: FixedPoint("0.25")!),
                AssetBalance(asset: "USDT", free: FixedPoint(1000), locked: .zero),
            ]
        )
        #expect(await c.usedWeight > 0)
    }

    @Test func venueErrorsMapToTypedErrors() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        let c = client(fake)
        fake.state.withLock { $0.rejectNextOrder = (-2010, "Account has insufficient balance for requested action.") }
        await #expect(
            throws: ExecutionError.rejected(operation: "submit", code: -2010, message: "Account has insufficient balance for requested action.")
        ) {
            try await c.submit(market("e-1"), deadline: soon())
        }
        _ = try await c.submit(
            OrderRequest(clientOrderID: "e-2", symbol: "BTCUSDT", side: .buy, kind: .limit(FixedPoint(1)), quantity: q("1")),
            deadline: soon()
        )
        await #expect(throws: ExecutionError.duplicateOrder(clientOrderID: "e-2")) {
            try await c.submit(
                OrderRequest(clientOrderID: "e-2", symbol: "BTCUSDT", side: .buy, kind: .limit(FixedPoint(1)), quantity: q("1")),
                deadline: soon()
            )
        }
        fake.inject(.rateLimit(retryAfterSeconds: 7), on: "POST /api/v3/order")
        do {
            _ = try await c.submit(market("e-3"), deadline: soon())
            Issue.record("expected a rate limit")
        } catch {
            #expect(error.retryAfter == .seconds(7))
            #expect(error.isTransient && !error.mayHaveReachedVenue)
        }
        fake.inject(.error500BeforeProcessing, on: "POST /api/v3/order")
        do {
            _ = try await c.submit(market("e-4"), deadline: soon())
            Issue.record("expected a server error")
        } catch {
            #expect(error.kind == "server" && error.isTransient && error.mayHaveReachedVenue)
        }
        // Wrong secret: the venue refuses the signature.
        let bad = client(fake, secret: "wrong")
        await #expect(throws: ExecutionError.authentication(code: -1022, message: "Signature for this request is not valid.")) {
            try await bad.submit(market("e-5"), deadline: soon())
        }
        // A request that cannot arrive in time.
        fake.inject(.delayAfterProcessing(.seconds(1)), on: "GET /api/v3/order")
        await #expect(throws: ExecutionError.timeout(operation: "query")) {
            try await c.queryOrder(symbol: "BTCUSDT", clientOrderID: "e-2", deadline: .now + .milliseconds(200))
        }
    }

    @Test func clockSkewResynchronisesTheClockAndRetriesOnce() async throws {
        let fake = FakeBinance()  // its clock runs 1.5 s ahead
        try await fake.start()
        defer { fake.stop() }
        let c = client(fake, recvWindow: .seconds(1))
        #expect(await c.serverTimeOffsetMillis == 0)
        // -1021: the venue refused the timestamp without processing; the client measures its clock and sends again.
        #expect(try await c.submit(market("t-1"), deadline: soon()).status == .filled)
        #expect(abs(await c.serverTimeOffsetMillis - 1500) < 200)
        #expect(fake.count(clientOrderID: "t-1") == 1)
        #expect(fake.state.withLock { $0.requests }.filter { $0 == "POST /api/v3/order" }.count == 2)
        // A skew that persists after the resync is a typed, transient error (the executor retries with backoff).
        fake.inject(.clockSkew, on: "POST /api/v3/order", times: 2)
        await #expect(throws: ExecutionError.clockSkew(message: "Timestamp for this request is outside of the recvWindow.")) {
            try await c.submit(market("t-2"), deadline: soon())
        }
        #expect(fake.count(clientOrderID: "t-2") == 0)
    }

    @Test func connectionRefusedIsATransportErrorThatNeverLeft() async throws {
        let c = BinanceSpotClient(credentials: BinanceCredentials(apiKey: "k", secretKey: "s"), configuration: .init(baseURL: "http://127.0.0.1:9"))
        do {
            _ = try await c.submit(market("c-1"), deadline: .now + .seconds(1))
            Issue.record("expected a connection error")
        } catch {
            #expect(error.kind == "transport")
            #expect(error.isTransient && !error.mayHaveReachedVenue)
        }
    }

    @Test func theLocalWeightBudgetHoldsRequestsBackBeforeTheVenueBans() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        let c = client(fake, weightLimit: 10)
        _ = try await c.queryOrder(symbol: "BTCUSDT", clientOrderID: "x", deadline: soon())  // weight 4
        _ = try await c.queryOrder(symbol: "BTCUSDT", clientOrderID: "x", deadline: soon())  // weight 8
        let before = fake.state.withLock { $0.requests.count }
        do {
            _ = try await c.queryOrder(symbol: "BTCUSDT", clientOrderID: "x", deadline: soon())
            Issue.record("expected the local budget to refuse")
        } catch {
            #expect(error.kind == "rate_limited" && error.retryAfter != nil)
        }
        #expect(fake.state.withLock { $0.requests.count } == before)
    }

    @Test func apiKeysNeverReachTheLogs() async throws {
        let fake = FakeBinance(apiKey: "KEY-visible-nowhere-123", secret: "SECRET-visible-nowhere-456")
        try await fake.start()
        defer { fake.stop() }
        let sink = LogSink.inMemory()
        let logger = memoryLogger(sink, level: .trace)
        let c = client(fake, logger: logger)
        let ex = MarketOrderExecutor(
            client: c,
            configuration: ExecutorConfiguration(retry: fastRetry, venueReceiveWindow: testWindow),
            logger: logger
        )
        try await ex.start()
        fake.inject(.error500BeforeProcessing, on: "POST /api/v3/order")
        _ = await ex.onSignal(buy("0.01"))
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.01") })
        let credentials = BinanceCredentials(apiKey: fake.apiKey, secretKey: fake.secret)
        logger.info("configured", metadata: ["credentials": "\(credentials)", "api_key": "\(fake.apiKey)"])
        await ex.shutdown()
        #expect(sink.lines.count > 3)
        for line in sink.lines {
            #expect(!line.contains("visible-nowhere"), "secret in log line: \(line)")
        }
        #expect(!"\(credentials)".contains(fake.secret) && !String(reflecting: credentials).contains(fake.apiKey))
    }

    @Test func credentialsFromTheEnvironmentNameTheMissingVariable() {
        #expect(throws: ExecutionError.authentication(code: nil, message: "environment variable BINANCE_API_KEY is not set")) {
            try BinanceCredentials.fromEnvironment([:])
        }
        #expect(throws: ExecutionError.authentication(code: nil, message: "environment variable BINANCE_API_SECRET is not set")) {
            try BinanceCredentials.fromEnvironment(["BINANCE_API_KEY": "k"])
        }
        #expect((try? BinanceCredentials.fromEnvironment(["BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"])) != nil)
    }
}

/// The executor against the local Binance server: every failure mode ends
/// with no duplicate order at the venue, no lost fill, and a position equal
/// to the sum of fills.
@Suite("Executor failure modes against the local Binance server", .serialized)
struct ExecutorFailureModeTests {
    func check(_ fake: FakeBinance, _ ex: MarketOrderExecutor, _ store: any OrderStore, expected: Quantity) async throws {
        for o in fake.orders { #expect(fake.count(clientOrderID: o.clientOrderId) == 1, "duplicate order \(o.clientOrderId) at the venue") }
        let venueFilled = fake.orders.reduce(Quantity.zero) { $0 + ($1.side == "BUY" ? $1.executedQty : -$1.executedQty) }
        let booked = try store.positions()["BTCUSDT"] ?? .zero
        #expect(venueFilled == expected)
        #expect(booked == expected)
        #expect(await ex.position("BTCUSDT") == expected)
    }

    func setUp(
        _ config: ExecutorConfiguration = ExecutorConfiguration(requestTimeout: .milliseconds(300), retry: fastRetry, venueReceiveWindow: testWindow),
        store: (any OrderStore)? = nil
    )
        async throws -> (FakeBinance, MarketOrderExecutor, any OrderStore, TestMetrics)
    {
        let fake = FakeBinance()
        try await fake.start()
        let s = store ?? InMemoryOrderStore()
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(client: client(fake), store: s, configuration: config, metrics: ExecutorMetrics(factory: metrics))
        try await ex.start()
        return (fake, ex, s, metrics)
    }

    @Test func aTimeoutAfterTheVenueActedBecomesOneOrder() async throws {
        let (fake, ex, store, metrics) = try await setUp()
        defer { fake.stop() }
        fake.inject(.delayAfterProcessing(.seconds(1)), on: "POST /api/v3/order")
        let id = try #require(await ex.onSignal(buy("0.03")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.03") })
        #expect(fake.count(clientOrderID: id) == 1)
        #expect(try metrics.expectCounter("crocbot_orders_total", [("event", "retried")]).totalValue >= 1)
        try await check(fake, ex, store, expected: q("0.03"))
        await ex.shutdown()
    }

    @Test(arguments: [true, false])
    func a500BeforeOrAfterProcessingBecomesOneOrder(after: Bool) async throws {
        let (fake, ex, store, _) = try await setUp()
        defer { fake.stop() }
        fake.inject(after ? .error500AfterProcessing : .error500BeforeProcessing, on: "POST /api/v3/order", times: 2)
        for _ in 0..<3 { _ = await ex.onSignal(buy("0.01")) }
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.03") })
        #expect(fake.orderCount == 3)
        try await check(fake, ex, store, expected: q("0.03"))
        await ex.shutdown()
    }

    @Test func a429WaitsForRetryAfter() async throws {
        let (fake, ex, store, _) = try await setUp()
        defer { fake.stop() }
        fake.inject(.rateLimit(retryAfterSeconds: 1), on: "POST /api/v3/order")
        let start = ContinuousClock.now
        _ = await ex.onSignal(buy("0.01"))
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.01") })
        #expect(ContinuousClock.now - start >= .milliseconds(950))
        try await check(fake, ex, store, expected: q("0.01"))
        await ex.shutdown()
    }

    @Test func connectionRefusedLosesNothing() async throws {
        let store = InMemoryOrderStore()
        let c = BinanceSpotClient(credentials: BinanceCredentials(apiKey: "k", secretKey: "s"), configuration: .init(baseURL: "http://127.0.0.1:9"))
        let metrics = TestMetrics()
        let ex = MarketOrderExecutor(
            client: c,
            store: store,
            configuration: ExecutorConfiguration(
                requestTimeout: .milliseconds(300),
                retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2))
            ),
            metrics: ExecutorMetrics(factory: metrics)
        )
        try await ex.start()
        let id = try #require(await ex.onSignal(buy("1")).clientOrderID)
        #expect(await eventually { (try? metrics.expectCounter("crocbot_orders_total", [("event", "unresolved")]).totalValue) == 1 })
        let r = try #require(try store.order(id))
        #expect(!r.state.isTerminal)  // kept for reconciliation, not forgotten
        #expect(r.lastError?.contains("connection failed") == true)
        #expect(await ex.position("BTCUSDT") == .zero)
        await ex.shutdown()
    }

    @Test func aSlowVenueForcesBackpressureAndEveryAcceptedOrderFillsOnce() async throws {
        let (fake, ex, store, metrics) = try await setUp(
            ExecutorConfiguration(
                maxInFlight: 8,
                queueCapacity: 4,
                backpressure: .reject,
                requestTimeout: .seconds(5),
                retry: fastRetry,
                venueReceiveWindow: testWindow
            )
        )
        defer { fake.stop() }
        fake.state.withLock { $0.slowAll = .milliseconds(100) }
        var accepted = 0
        for _ in 0..<40 {
            if await ex.onSignal(buy("0.01")).clientOrderID != nil { accepted += 1 }
        }
        #expect(accepted < 40)
        #expect(try metrics.expectCounter("crocbot_backpressure_total", [("policy", "reject")]).totalValue == Int64(40 - accepted))
        let expected = q("0.01") * accepted
        #expect(await eventually(.seconds(10)) { await ex.position("BTCUSDT") == expected })
        #expect(fake.state.withLock { $0.maxConcurrent } <= 8)
        try await check(fake, ex, store, expected: expected)
        await ex.shutdown()
    }

    @Test func partialFillsCompletedAtTheVenueAreBookedByReconciliationOnce() async throws {
        let (fake, ex, store, _) = try await setUp()
        defer { fake.stop() }
        fake.state.withLock { $0.partialFills = true }
        let id = try #require(await ex.onSignal(buy("0.04")).clientOrderID)
        #expect(await eventually { await ex.position("BTCUSDT") == q("0.02") })
        #expect(await ex.order(id)?.state == .partiallyFilled)
        fake.completeFill(clientOrderID: id)
        await ex.reconcile()
        await ex.reconcile()
        #expect(await ex.position("BTCUSDT") == q("0.04"))
        #expect(try store.fills(clientOrderID: id).count == 2)
        #expect(try store.order(id)?.state == .filled)
        try await check(fake, ex, store, expected: q("0.04"))
        await ex.shutdown()
    }

    @Test(arguments: ["beforeSend", "afterSend"])
    func aCrashMidSubmissionIsReconciledOnRestart(point: String) async throws {
        let path = tempPath("orders.sqlite")
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        let config = ExecutorConfiguration(requestTimeout: .seconds(2), retry: fastRetry, venueReceiveWindow: testWindow)
        let first = MarketOrderExecutor(client: client(fake), store: try SQLiteOrderStore(path: path), configuration: config)
        try await first.start()
        await first.setCrashPoint(point == "beforeSend" ? .beforeSend : .afterSend)
        let id = try #require(await first.onSignal(buy("0.05")).clientOrderID)
        #expect(await eventually { await first.isCrashed })
        #expect(fake.count(clientOrderID: id) == (point == "beforeSend" ? 0 : 1))
        #expect(try SQLiteOrderStore(path: path).order(id)?.state == .pendingNew)  // written before sending

        // A new process: same store file, same venue.
        let store = try SQLiteOrderStore(path: path)
        let second = MarketOrderExecutor(client: client(fake), store: store, configuration: config)
        try await second.start()
        #expect(await eventually { await second.position("BTCUSDT") == q("0.05") })
        #expect(fake.count(clientOrderID: id) == 1)
        #expect(try store.order(id)?.state == .filled)
        try await check(fake, second, store, expected: q("0.05"))
        await second.shutdown()
    }
}
