import CrocCore
import CrocData
import CrocEngine
import CrocRuntime
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

@testable import CrocExecution

/// Enters with all its cash on the bars in `enterOn` when flat, closes the position on `exitOn`.
private struct EnterExit: Strategy {
    var enterOn: Set<Int>
    var exitOn: Set<Int>
    var name: String { "enter_exit" }
    var warmupBars: Int { 0 }
    func onBar(_ bar: Bar, context: inout StrategyContext) {
        if enterOn.contains(context.barIndex) && context.isFlat && context.workingOrders.isEmpty { context.buy(.cashFraction(.one)) }
        if exitOn.contains(context.barIndex) { context.closePosition() }
    }
}

private func bar(_ i: Int, _ close: Double = 100) -> Bar {
    TestBars.bar(i, close: close, start: 1_700_000_000 * 1_000_000_000)
}

/// One live run against the local venue: bars are sent one at a time, each
/// after the executor has answered for the previous one (a real venue's
/// fills come back asynchronously; the engine books them on the next bar).
private func liveRun(
    _ fake: FakeBinance,
    store: any OrderStore,
    strategy: any Strategy,
    bars: [Bar],
    cash: Money = FixedPoint(1000),
    onUnknownPosition: UnknownPositionPolicy = .refuse
) async throws -> (LiveLoopResult, MarketOrderExecutor, LiveStartState) {
    let client = BinanceSpotClient(
        credentials: BinanceCredentials(apiKey: fake.apiKey, secretKey: fake.secret),
        configuration: .init(baseURL: fake.baseURL),
        logger: quietLogger
    )
    // A real venue's default limits: no order worth more than the budget, priced from the bars alone.
    let risk = try LiveRuntime.riskLimits(RiskConfig(), budget: cash, realVenue: true)
    let ex = MarketOrderExecutor(
        client: client,
        store: store,
        configuration: ExecutorConfiguration(retry: fastRetry, risk: risk, venueReceiveWindow: testWindow),
        logger: quietLogger
    )
    try await ex.start()
    let rules = try await client.rules(symbol: "BTCUSDT", deadline: .now + .seconds(5))
    let start = try await LiveRecovery.reconcile(
        executor: ex,
        client: client,
        rules: rules,
        budget: cash,
        onUnknownPosition: onUnknownPosition,
        lastPrice: FixedPoint(100),
        logger: quietLogger
    )
    let settings = LiveLoopSettings(
        instrument: Instrument(symbol: "BTCUSDT", pricePrecision: rules.pricePrecision, quantityStep: rules.stepSize),
        cash: start.cash,
        fees: FeeModel(commissionRate: .zero),
        risk: risk,
        startPosition: start.position.isZero ? nil : (start.position, start.averagePrice)
    )
    let stream = InMemoryStream(capacity: 16)
    let venue = ExecutorVenue(executor: ex)
    let loop = Task {
        try await runLiveLoop(
            dataStream: stream,
            strategy: strategy,
            submitOrder: { await ex.onSignal($0) },
            settings: settings,
            venue: venue,
            logger: quietLogger
        )
    }
    for b in bars {
        try await stream.send(.bar(b))
        try await Task.sleep(for: .milliseconds(30))
        _ = await ex.waitUntilIdle(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(30))
    }
    stream.finish()
    let result = try await loop.value
    return (result, ex, start)
}

@Suite("Live restart memory and fees against the local venue", .serialized)
struct LiveRestartTests {
    @Test func aRestartWithAnOpenPositionSellsItAtTheNextExitAndSendsNoSecondEntry() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock { $0.balances = [("USDT", "1000.00000000", "0.00000000")] }
        let path = tempPath("orders.sqlite")
        // Run 1: enters on bar 1 with all 1,000 USDT at 100 (10 BTC), then the process stops.
        do {
            let store = try SQLiteOrderStore(path: path, durability: .powerLoss, exclusive: true)
            let (first, ex, start) = try await liveRun(
                fake,
                store: store,
                strategy: EnterExit(enterOn: [1], exitOn: []),
                bars: (0..<3).map { bar($0) }
            )
            #expect(start.position.isZero && start.cash == FixedPoint(1000))
            #expect(first.engine.position == q("10"))
            await ex.shutdown()
        }
        #expect(fake.orders.map(\.side) == ["BUY"])
        #expect(fake.orders.first?.origQty == q("10"))
        // The venue now holds the 10 BTC (and a little BNB for fees); the quote balance is spent.
        fake.state.withLock {
            $0.balances = [("BTC", "10.00000000", "0.00000000"), ("USDT", "0.00000000", "0.00000000"), ("BNB", "1.00000000", "0.00000000")]
        }
        // Run 2, a new process: an entry signal on its first bar (already long: nothing sent), the exit on the second.
        let store = try SQLiteOrderStore(path: path, durability: .powerLoss, exclusive: true)
        let (second, ex, start) = try await liveRun(fake, store: store, strategy: EnterExit(enterOn: [0], exitOn: [1]), bars: (0..<4).map { bar($0) })
        #expect(start.position == q("10") && start.averagePrice == FixedPoint(100))
        #expect(start.cash == .zero)  // budget 1,000 − 1,000 spent, and the venue has 0 USDT free
        #expect(fake.orders.map(\.side) == ["BUY", "SELL"])
        #expect(fake.orders.last?.origQty == q("10"))
        #expect(second.engine.position == .zero)
        #expect(await ex.position("BTCUSDT") == .zero)
        await ex.shutdown()
    }

    @Test func aBuyPayingItsFeeInTheBaseAssetExitsWithTheHeldQuantity() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock {
            $0.commissionAsset = "BTC"  // buys pay in what they receive, as on Binance without BNB
            $0.sellCommissionAsset = "USDT"
            $0.commissionRate = FixedPoint("0.001")!
            $0.balances = [("USDT", "1000.00000000", "0.00000000")]
        }
        let (result, ex, _) = try await liveRun(
            fake,
            store: InMemoryOrderStore(),
            strategy: EnterExit(enterOn: [1], exitOn: [3]),
            bars: (0..<5).map { bar($0) }
        )
        // Bought 10 BTC, paid 0.01 BTC in fees: 9.99 held, 9.99 sold.
        #expect(fake.orders.map(\.side) == ["BUY", "SELL"])
        #expect(fake.orders.last?.origQty == q("9.99"))
        #expect(result.engine.position == .zero)
        #expect(await ex.position("BTCUSDT") == .zero)
        // Cash moved by exactly the notionals and fees: −1,000 for the buy (its BTC fee valued at 100 included),
        // +999 for the sale, −0.00999 USDT for the sale's fee.
        #expect(result.engine.portfolio.cash == FixedPoint("998.99001")!)
        await ex.shutdown()
    }

    @Test func aVenueBalanceTheStoreCannotExplainIsRefusedOrAdopted() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock { $0.balances = [("BTC", "2.00000000", "0.50000000"), ("USDT", "400.00000000", "0.00000000")] }
        do {
            _ = try await liveRun(fake, store: InMemoryOrderStore(), strategy: EnterExit(enterOn: [], exitOn: []), bars: [])
            Issue.record("expected the start to be refused")
        } catch let e as LiveRecoveryError {
            #expect(e.description.contains("the venue holds 2.5 BTC but the order store explains only 0"))
            #expect(e.description.contains("live.onUnknownPosition: adopt"))
        }
        #expect(fake.orderCount == 0)
        let (result, ex, start) = try await liveRun(
            fake,
            store: InMemoryOrderStore(),
            strategy: EnterExit(enterOn: [0], exitOn: [1]),
            bars: (0..<3).map { bar($0) },
            onUnknownPosition: .adopt
        )
        #expect(start.position == q("2.5"))
        #expect(start.cash == FixedPoint(400))  // the smaller of the 1,000 budget and the 400 USDT free
        #expect(fake.orders.map(\.side) == ["SELL"])  // no entry while holding; the adopted balance is exited
        #expect(fake.orders.first?.origQty == q("2.5"))
        #expect(result.engine.position == .zero)
        await ex.shutdown()
    }
}

@Suite("crocbot live on a venue: start-up reconciliation through the runtime", .serialized)
struct LiveRuntimeRecoveryTests {
    func runtime(_ fake: FakeBinance, store: String, policy: UnknownPositionPolicy = .refuse) throws -> LiveRuntime {
        var config = AppConfig()
        config.live.exchange = .binance
        config.live.port = 0
        config.live.store = store
        config.live.restURL = fake.baseURL
        config.live.streamURL = "ws://127.0.0.1:9"  // no market data: the test is about what happens before the first bar
        config.live.onUnknownPosition = policy
        config.backtest.cash = 500
        let feed = BinanceKlineFeed.Configuration(
            stream: .kline,
            symbol: "BTCUSDT",
            interval: "1m",
            intervalDuration: .seconds(60),
            webSocketURL: config.live.streamURL,
            restURL: config.live.restURL
        )
        return try LiveRuntime(
            config: config,
            feed: .binance(feed),
            instrument: Instrument(symbol: "BTCUSDT", pricePrecision: 8, quantityStep: .one),
            registry: PrometheusCollectorRegistry(),
            environment: ["BINANCE_API_KEY": fake.apiKey, "BINANCE_API_SECRET": fake.secret],
            logger: quietLogger
        )
    }

    @Test func theRuntimeLoadsTheRulesReconcilesAndLogsItsLimitsBeforeTheFirstBar() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock { $0.balances = [("USDT", "300.00000000", "0.00000000")] }
        let rt = try runtime(fake, store: tempPath("orders.sqlite"))
        let group = rt.makeServiceGroup(signals: [])
        let task = Task { try await group.run() }
        // Waits for the start-up reconciliation's summary, not `ready`: the runtime sets `ready`
        // once it has reconciled, and the feed clears it again when its stream (unreachable here,
        // on purpose) fails, which can come within the 2 ms between two polls (the test failed
        // that way, more often on a faster build).
        #expect(await eventually(.seconds(20)) { !rt.status.snapshot.recovery.isEmpty })
        let s = rt.status.snapshot
        #expect(s.riskLimits.contains("maxOrderNotional=500") && s.riskLimits.contains("maxOrdersPerMinute=60"))
        #expect(s.recovery.contains("store explains 0 BTC") && s.recovery.contains("cash 300 USDT (budget 500"))
        #expect(await rt.executor.venueRules("BTCUSDT") == btcusdt)
        #expect(fake.state.withLock { $0.requests }.contains("GET /api/v3/account"))
        await group.triggerGracefulShutdown()
        try await task.value
    }

    @Test func anUnexplainedBalanceOrWorkingOrderStopsTheStartWithWhatWasFound() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock { $0.balances = [("BTC", "0.40000000", "0.00000000"), ("USDT", "300.00000000", "0.00000000")] }
        let rt = try runtime(fake, store: tempPath("orders.sqlite"))
        do {
            try await rt.run(signals: [])
            Issue.record("expected the start to be refused")
        } catch {
            #expect("\(error)".contains("the venue holds 0.4 BTC but the order store explains only 0"))
        }
        #expect(fake.orderCount == 0)
        #expect(!rt.status.snapshot.ready)
        // A working order placed outside the bot: refused too, naming it.
        fake.state.withLock { $0.balances = [("USDT", "300.00000000", "0.00000000")] }
        let c = BinanceSpotClient(
            credentials: BinanceCredentials(apiKey: fake.apiKey, secretKey: fake.secret),
            configuration: .init(baseURL: fake.baseURL),
            logger: quietLogger
        )
        _ = try await c.submit(
            OrderRequest(clientOrderID: "manual-1", symbol: "BTCUSDT", side: .buy, kind: .limit(FixedPoint(50)), quantity: q("1")),
            deadline: .now + .seconds(5)
        )
        let again = try runtime(fake, store: tempPath("orders.sqlite"))
        do {
            try await again.run(signals: [])
            Issue.record("expected the start to be refused")
        } catch {
            #expect("\(error)".contains("working order(s) on BTCUSDT that the order store does not know: manual-1"))
        }
    }
}
