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

/// Holds `targets` (base units by symbol) from slice `enterAt` on, and closes every position at `exitAt`.
private struct HoldTargets: Strategy {
    var targets: [String: Quantity]
    var enterAt: Int
    var exitAt: Int
    var name: String { "hold_targets" }
    var warmupBars: Int { 0 }
    func onBar(_ bar: Bar, context: inout StrategyContext) {}
    func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        if context.barIndex == exitAt {
            context.closeAllPositions()
        } else if context.barIndex >= enterAt && context.barIndex < exitAt && context.workingOrders.isEmpty {
            for symbol in targets.keys.sorted() { _ = try context.orderTargetQuantity(symbol, targets[symbol]!) }
        }
    }
}

/// Buys 3 BTC on slice 1, then rotates on slice 2: BTC sold, 80 % of equity in ETH (the buy
/// needs the sale's proceeds).
private struct Rotate: Strategy {
    var name: String { "rotate" }
    var warmupBars: Int { 0 }
    func onBar(_ bar: Bar, context: inout StrategyContext) {}
    func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        if context.barIndex == 1 { _ = try context.orderTargetQuantity("BTCUSDT", FixedPoint(3)) }
        if context.barIndex == 2 { try context.rebalance(to: ["ETHUSDT": 0.8, "BTCUSDT": 0]) }
    }
}

/// A slice of BTCUSDT at 100 and ETHUSDT at 50 (lanes 0 and 1), minute `i`.
private func slice(_ i: Int) -> MarketSlice {
    let t = Timestamp(nanoseconds: Int64(1_700_000_000 + i * 60) * 1_000_000_000)
    return MarketSlice(
        time: t,
        lanes: [0, 1],
        bars: [
            Bar(timestamp: t, open: 100, high: 100, low: 100, close: 100, volume: 1),
            Bar(timestamp: t, open: 50, high: 50, low: 50, close: 50, volume: 1),
        ]
    )
}

/// One multi-symbol live run against the local venue, wired as `LiveRuntime` wires it: each
/// symbol's rules, the reconciliation of every symbol, the engine restored from it, the
/// executor's risk limits in force (with no price given to it but the bars'), slices sent
/// one at a time after the executor answered for the previous one.
private func liveRun(
    _ fake: FakeBinance,
    store: any OrderStore,
    strategy: any Strategy,
    slices: Int,
    symbols: [String] = ["BTCUSDT", "ETHUSDT"],
    budget: Money = FixedPoint(1000),
    settleTimeout: Duration = .seconds(5),
    beforeSlice: (Int) -> Void = { _ in }
) async throws -> (LiveLoopResult, MarketOrderExecutor, LivePortfolioStart) {
    let client = BinanceSpotClient(
        credentials: BinanceCredentials(apiKey: fake.apiKey, secretKey: fake.secret),
        configuration: .init(baseURL: fake.baseURL),
        logger: quietLogger
    )
    // The limits a real venue gets by default: no order worth more than the budget (needs a price).
    let risk = try LiveRuntime.riskLimits(RiskConfig(), budget: budget, realVenue: true)
    let ex = MarketOrderExecutor(
        client: client,
        store: store,
        configuration: ExecutorConfiguration(retry: fastRetry, risk: risk, venueReceiveWindow: testWindow),
        logger: quietLogger
    )
    try await ex.start()
    var rules: [VenueRules] = []
    for s in symbols { rules.append(try await client.rules(symbol: s, deadline: .now + .seconds(5))) }
    let start = try await LiveRecovery.reconcile(
        executor: ex,
        client: client,
        rules: rules,
        budget: budget,
        onUnknownPosition: .refuse,
        logger: quietLogger
    )
    var settings = LiveLoopSettings(
        cash: start.cash,
        fees: FeeModel(commissionRate: .zero),
        risk: risk,
        instruments: rules.map { Instrument(symbol: $0.symbol, pricePrecision: $0.pricePrecision, quantityStep: $0.stepSize) }
    )
    settings.startPositions = start.positions
    settings.settleTimeout = settleTimeout
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
    for i in 0..<slices {
        beforeSlice(i)
        try await stream.send(.slice(slice(i)))
        try await Task.sleep(for: .milliseconds(30))
        _ = await ex.waitUntilIdle(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(30))
    }
    stream.finish()
    return (try await loop.value, ex, start)
}

@Suite("Live trading several symbols on one account against the local venue", .serialized)
struct LiveMultiSymbolTests {
    /// The rotation of `Rotate` on the local venue over `slices` slices, its sale (the
    /// rotation's first order) answered `delay` after the venue booked it.
    private func rotation(delay: Duration, settleTimeout: Duration, slices: Int = 4) async throws -> (LiveLoopResult, [FakeBinance.Order]) {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock {
            $0.balances = [("USDT", "1000.00000000", "0.00000000")]
            $0.fillPrices = ["ETHUSDT": FixedPoint(50)]
        }
        let store = try SQLiteOrderStore(path: tempPath("rotation.sqlite"), durability: .powerLoss, exclusive: true)
        let (result, ex, _) = try await liveRun(fake, store: store, strategy: Rotate(), slices: slices, settleTimeout: settleTimeout) { i in
            if i == 2 { fake.state.withLock { $0.faults["POST /api/v3/order"] = [.delayAfterProcessing(delay)] } }
        }
        await ex.shutdown()
        return (result, fake.orders)
    }

    @Test("a real venue's rebalance: its buy goes out only once the sale that pays for it is answered")
    func rotationWaitsForTheSale() async throws {
        let (result, orders) = try await rotation(delay: .milliseconds(100), settleTimeout: .seconds(5))
        #expect(orders.map { "\($0.side) \($0.symbol) \($0.origQty)" } == ["BUY BTCUSDT 3", "SELL BTCUSDT 3", "BUY ETHUSDT 16"])
        let sale = try #require(orders.first { $0.side == "SELL" })
        let buy = try #require(orders.last)
        // Without the wait the buy reaches the venue 0-4 ms after the sale, before its answer.
        #expect(buy.time - sale.time >= 90, "the buy reached the venue \(buy.time - sale.time) ms after the sale, before its answer")
        #expect(result.ordersRefused == 0 && result.sellsUnanswered == 0)
        #expect(result.engine.position(of: "ETHUSDT") == FixedPoint(16) && result.engine.position(of: "BTCUSDT") == .zero)
        #expect(result.engine.fills.map { "\($0.side) \($0.symbol) \($0.quantity)" } == ["buy BTCUSDT 3", "sell BTCUSDT 3", "buy ETHUSDT 16"])
    }

    @Test("a sale answered after the wait: the rebalance's buy goes out anyway, counted and logged, and every fill is booked")
    func rotationPastTheWait() async throws {
        // The rotation on the last slice: the sale's answer comes after the stream's last event
        // (a second late: still after the 20 ms wait on a machine too loaded to run it in time).
        let (result, orders) = try await rotation(delay: .seconds(1), settleTimeout: .milliseconds(20), slices: 3)
        #expect(result.sellsUnanswered == 1)
        #expect(orders.map { "\($0.side) \($0.symbol)" } == ["BUY BTCUSDT", "SELL BTCUSDT", "BUY ETHUSDT"])
        // The late sale's fill still reaches the books (when the stream ends): nothing is lost.
        #expect(
            result.engine.position(of: "BTCUSDT") == .zero && result.engine.position(of: "ETHUSDT") == FixedPoint(16),
            "BTC \(result.engine.position(of: "BTCUSDT")), ETH \(result.engine.position(of: "ETHUSDT")), fills \(result.engine.fills.map { "\($0.side) \($0.symbol) \($0.quantity)" })"
        )
    }

    @Test func ordersForEachSymbolReachTheVenueAndARestartResumesEveryPosition() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock {
            $0.balances = [("USDT", "1000.00000000", "0.00000000")]
            $0.fillPrices = ["ETHUSDT": FixedPoint(50)]
        }
        let path = tempPath("multi-orders.sqlite")
        let targets = ["BTCUSDT": q("3"), "ETHUSDT": q("8")]
        // Run 1: 3 BTC at 100 and 8 ETH at 50 bought on slice 1 (700 of the 1,000 USDT); then the process stops.
        do {
            let store = try SQLiteOrderStore(path: path, durability: .powerLoss, exclusive: true)
            let (first, ex, start) = try await liveRun(
                fake,
                store: store,
                strategy: HoldTargets(targets: targets, enterAt: 1, exitAt: 99),
                slices: 3
            )
            #expect(start.cash == FixedPoint(1000) && start.positions.isEmpty)
            #expect(first.ordersRefused == 0)  // the executor's order-value limit had the bars' prices
            #expect(first.engine.position(of: "BTCUSDT") == q("3"))
            #expect(first.engine.position(of: "ETHUSDT") == q("8"))
            #expect(first.engine.portfolio.cash == FixedPoint(300))
            #expect(await ex.position("BTCUSDT") == q("3"))
            #expect(await ex.position("ETHUSDT") == q("8"))
            await ex.shutdown()
        }
        #expect(fake.orders.map { "\($0.side) \($0.symbol) \($0.origQty)" }.sorted() == ["BUY BTCUSDT 3", "BUY ETHUSDT 8"])
        // The venue now holds both; 300 USDT are left.
        fake.state.withLock {
            $0.balances = [("BTC", "3.00000000", "0.00000000"), ("ETH", "8.00000000", "0.00000000"), ("USDT", "300.00000000", "0.00000000")]
        }
        // Run 2, a new process: at its targets from the first slice (nothing sent), exits everything on slice 2.
        let store = try SQLiteOrderStore(path: path, durability: .powerLoss, exclusive: true)
        let (second, ex, start) = try await liveRun(
            fake,
            store: store,
            strategy: HoldTargets(targets: targets, enterAt: 0, exitAt: 2),
            slices: 4
        )
        #expect(start.holdings.map(\.position) == [q("3"), q("8")])
        #expect(start.holdings.map(\.averagePrice) == [FixedPoint(100), FixedPoint(50)])
        #expect(start.cash == FixedPoint(300))  // budget 1,000 − 700 spent, and 300 USDT free
        #expect(start.summary.contains("store explains 3 BTC; venue holds 3 BTC; store explains 8 ETH; venue holds 8 ETH, 300 USDT free"))
        #expect(fake.orders.count == 4)
        #expect(fake.orders.suffix(2).map { "\($0.side) \($0.symbol) \($0.origQty)" }.sorted() == ["SELL BTCUSDT 3", "SELL ETHUSDT 8"])
        #expect(second.engine.position(of: "BTCUSDT") == .zero && second.engine.position(of: "ETHUSDT") == .zero)
        // The books add up: 300 + 300 + 400 back in cash at the same prices, no fees in the engine's model.
        #expect(second.engine.portfolio.cash == FixedPoint(1000))
        await ex.shutdown()
    }

    @Test func aBalanceOfAnySymbolTheStoreCannotExplainOrAMixOfQuoteAssetsStopsTheStart() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock { $0.balances = [("ETH", "2.00000000", "0.00000000"), ("USDT", "1000.00000000", "0.00000000")] }
        do {
            _ = try await liveRun(fake, store: InMemoryOrderStore(), strategy: HoldTargets(targets: [:], enterAt: 0, exitAt: 9), slices: 0)
            Issue.record("expected the start to be refused")
        } catch let e as LiveRecoveryError {
            #expect(e.description.contains("the venue holds 2 ETH but the order store explains only 0"))
        }
        do {
            _ = try await liveRun(
                fake,
                store: InMemoryOrderStore(),
                strategy: HoldTargets(targets: [:], enterAt: 0, exitAt: 9),
                slices: 0,
                symbols: ["BTCUSDT", "ETHBTC"]
            )
            Issue.record("expected the start to be refused")
        } catch let e as LiveRecoveryError {
            #expect(e.description.contains("ETHBTC is quoted in BTC but BTCUSDT in USDT"))
        }
        #expect(fake.orderCount == 0)
    }

    @Test func theRuntimeLoadsEverySymbolsRulesAndReconcilesThemBeforeTheFirstSlice() async throws {
        let fake = FakeBinance()
        try await fake.start()
        defer { fake.stop() }
        fake.state.withLock { $0.balances = [("USDT", "250.00000000", "0.00000000")] }
        var config = AppConfig()
        config.live.exchange = .binance
        config.live.port = 0
        config.live.store = tempPath("orders.sqlite")
        config.live.restURL = fake.baseURL
        config.live.streamURL = "ws://127.0.0.1:9"  // no market data: the test is about what happens before the first slice
        config.live.symbols = ["BTCUSDT", "ETHUSDT"]
        config.backtest.cash = 500
        let feed = BinanceKlineFeed.Configuration(
            symbol: "BTCUSDT",
            interval: "1m",
            intervalDuration: .seconds(60),
            webSocketURL: config.live.streamURL,
            restURL: config.live.restURL,
            symbols: config.live.symbols
        )
        let instruments = config.live.symbols.map { Instrument(symbol: $0, pricePrecision: 8, quantityStep: .one) }
        let rt = try LiveRuntime(
            config: config,
            feed: .binance(feed),
            instrument: instruments[0],
            registry: PrometheusCollectorRegistry(),
            environment: ["BINANCE_API_KEY": fake.apiKey, "BINANCE_API_SECRET": fake.secret],
            logger: quietLogger,
            instruments: instruments,
            strategy: try StrategyFactory.standard.make("equal_weight", symbols: config.live.symbols)
        )
        let group = rt.makeServiceGroup(signals: [])
        let task = Task { try await group.run() }
        // Waits for the start-up reconciliation's summary, not `ready`: the runtime sets `ready`
        // once it has reconciled, and the feed clears it again when its stream (unreachable here,
        // on purpose) fails, which can come within the 2 ms between two polls (the test failed
        // that way, more often on a faster build).
        #expect(await eventually(.seconds(20)) { !rt.status.snapshot.recovery.isEmpty })
        let s = rt.status.snapshot
        #expect(s.recovery.contains("store explains 0 BTC; venue holds 0 BTC; store explains 0 ETH; venue holds 0 ETH, 250 USDT free"))
        #expect(s.recovery.contains("cash 250 USDT (budget 500"))
        #expect(await rt.executor.venueRules("ETHUSDT")?.stepSize == q("0.0001"))
        #expect(await rt.executor.venueRules("BTCUSDT") != nil)
        #expect(s.feed.contains("2 symbols"))
        await group.triggerGracefulShutdown()
        try await task.value
        // The feed and the run must name the same symbols, in order.
        #expect(throws: LiveRuntimeError.self) {
            try LiveRuntime(
                config: config,
                feed: .binance(feed),
                instrument: instruments[0],
                registry: PrometheusCollectorRegistry(),
                environment: ["BINANCE_API_KEY": fake.apiKey, "BINANCE_API_SECRET": fake.secret],
                logger: quietLogger,
                instruments: instruments.reversed()
            )
        }
    }
}
