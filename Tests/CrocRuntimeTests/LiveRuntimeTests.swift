import AsyncHTTPClient
import CoreMetrics
import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceLifecycle
import Testing

@testable import CrocRuntime

let sampleDir = repoRoot.appendingPathComponent("Examples/data")

func get(_ url: String, headers: [(String, String)] = []) async throws -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: url)
    for (k, v) in headers { request.headers.add(name: k, value: v) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    let body = try await response.body.collect(upTo: 16 << 20)
    return (Int(response.status.code), String(buffer: body))
}

/// The value of one Prometheus sample line (`name{labels} value`).
func sample(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}

/// Runs the status server on an ephemeral port for the duration of `body`.
func withServer<T: Sendable>(_ server: StatusServer, _ body: (Int) async throws -> T) async throws -> T {
    let app = server.makeApplication(logger: quietLogger)
    let task = Task { try await app.runService(gracefulShutdownSignals: []) }
    defer { task.cancel() }
    let port = await server.boundPort.value()
    return try await body(port)
}

@Suite("Status endpoint")
struct StatusServerTests {
    @Test("a paper replay moves the counters that /metrics exposes, and /api/status shows the account")
    func metricsScrape() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let series = try CSVBarLoader.load(path: sampleDir.appendingPathComponent("GOOGL.csv").path)
        let instrument = Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision)
        let fees = FeeModel(commissionRate: FixedPoint(unchecked: 0.002))
        let venue = SimulatedExecutionClient(instrument: instrument, fees: fees, fillTiming: .nextOpen, cash: Money(10_000))
        let executor = MarketOrderExecutor(client: venue, logger: quietLogger, metrics: ExecutorMetrics(factory: factory))
        try await executor.start()
        let status = LiveStatusBoard()
        let server = StatusServer(host: "127.0.0.1", port: 0, registry: registry, status: status)
        try await withServer(server) { port async throws in
            let before = try await get("http://127.0.0.1:\(port)/metrics")
            #expect(before.status == 200)
            #expect(sample(before.body, #"crocbot_bars_total{kind="received"}"#) == nil)
            let result = try await runLiveLoop(
                dataStream: ReplayStream(series: series),
                strategy: SMACrossStrategy(),
                submitOrder: { await executor.onSignal($0) },
                settings: LiveLoopSettings(instrument: instrument, cash: Money(10_000), fees: fees),
                venue: ExecutorVenue(executor: executor, simulated: venue),
                status: status,
                metrics: LiveMetrics(factory: factory),
                logger: quietLogger
            )
            let after = try await get("http://127.0.0.1:\(port)/metrics")
            #expect(after.status == 200)
            #expect(sample(after.body, #"crocbot_bars_total{kind="received"}"#) == Double(series.count))
            #expect(sample(after.body, "crocbot_signals_total") == Double(result.ordersSubmitted))
            #expect(sample(after.body, #"crocbot_orders_total{event="filled"}"#) == Double(result.engine.fills.count))
            #expect(sample(after.body, "crocbot_tick_to_order_seconds_count") == Double(result.ordersSubmitted))
            #expect(sample(after.body, "crocbot_live_fills_total") == Double(result.engine.fills.count))
            #expect((sample(after.body, "crocbot_equity") ?? 0) > 0)

            let s = try await get("http://127.0.0.1:\(port)/api/status")
            #expect(s.status == 200)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(s.body.utf8)) as? [String: Any])
            #expect(json["bars"] as? Int == series.count)
            #expect(json["strategy"] as? String == "sma_cross(10,20)")
            #expect((json["equity"] as? Double).map { abs($0 - (result.engine.equityCurve.last ?? 0)) < 1e-9 } == true)
            #expect((json["equity_curve"] as? [Any])?.isEmpty == false)
            #expect((json["recent_fills"] as? [Any])?.count == min(50, result.engine.fills.count))
            #expect(json["last_bar_time"] as? String != nil)
            let page = try await get("http://127.0.0.1:\(port)/")
            #expect(page.status == 200 && page.body.contains("equity-line") && page.body.contains("api/status"))
        }
        await executor.shutdown()
    }

    @Test("with a token: 401 without it or with a wrong one, /health stays open")
    func bearerAuth() async throws {
        let server = StatusServer(host: "127.0.0.1", port: 0, token: "t0ken", registry: PrometheusCollectorRegistry(), status: LiveStatusBoard())
        try await withServer(server) { port async throws in
            let base = "http://127.0.0.1:\(port)"
            #expect(try await get("\(base)/health").status == 200)
            #expect(try await get("\(base)/health/live").status == 200)
            #expect(try await get("\(base)/health/ready").status == 503)  // not ready: no loop running
            for path in ["/", "/metrics", "/api/status"] {
                #expect(try await get(base + path).status == 401)
                #expect(try await get(base + path, headers: [("Authorization", "Bearer wrong")]).status == 401)
                #expect(try await get(base + path, headers: [("Authorization", "Bearer t0ken")]).status == 200)
            }
            #expect(try await get("\(base)/api/status?token=t0ken").status == 200)
            #expect(try await get("\(base)/api/status?token=t0ke").status == 401)
        }
    }
}

/// A venue that is down (transport errors before anything is sent) while `down` is set.
final class FlakyVenue: ExecutionClient, @unchecked Sendable {
    let inner: SimulatedExecutionClient
    let lock = NSLock()
    var down = false
    var failed = 0
    var venueName: String { "flaky" }
    init(_ inner: SimulatedExecutionClient) { self.inner = inner }
    func setDown(_ d: Bool) {
        lock.lock()
        down = d
        lock.unlock()
    }
    private func check(_ op: String) throws(ExecutionError) {
        lock.lock()
        defer { lock.unlock() }
        if down {
            failed += 1
            throw .transport(operation: op, message: "connection refused", requestSent: false)
        }
    }
    nonisolated(nonsending) func submit(_ request: OrderRequest, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        try check("submit")
        return try await inner.submit(request, deadline: deadline)
    }
    nonisolated(nonsending) func cancel(
        symbol: String,
        clientOrderID: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> VenueOrder {
        try check("cancel")
        return try await inner.cancel(symbol: symbol, clientOrderID: clientOrderID, deadline: deadline)
    }
    nonisolated(nonsending) func queryOrder(
        symbol: String,
        clientOrderID: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> VenueOrder? {
        try check("query")
        return try await inner.queryOrder(symbol: symbol, clientOrderID: clientOrderID, deadline: deadline)
    }
    nonisolated(nonsending) func openOrders(symbol: String?, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [VenueOrder] {
        try await inner.openOrders(symbol: symbol, deadline: deadline)
    }
    nonisolated(nonsending) func balances(deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [AssetBalance] {
        try await inner.balances(deadline: deadline)
    }
    func executionReports() -> AsyncStream<ExecutionReport> { inner.executionReports() }
}

/// Buys one unit on every bar.
struct BuyEveryBar: Strategy {
    var name: String { "buy_every_bar" }
    var warmupBars: Int { 0 }
    mutating func onBar(_ bar: Bar, context: inout StrategyContext) { context.buy(.quantity(.one)) }
}

@Suite("Live loop faults")
struct LiveFaultTests {
    @Test("an exchange outage: orders queue, backpressure shows in the metrics, nothing is lost or sent twice")
    func outage() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let instrument = Instrument(symbol: "TEST", pricePrecision: 2)
        let sim = SimulatedExecutionClient(
            instrument: instrument,
            fees: FeeModel(commissionRate: .zero),
            fillTiming: .close,
            cash: Money(1_000_000)
        )
        let venue = FlakyVenue(sim)
        let executor = MarketOrderExecutor(
            client: venue,
            configuration: ExecutorConfiguration(
                maxInFlight: 1,
                queueCapacity: 3,
                backpressure: .suspend,
                retry: RetryPolicy(maxAttempts: 10_000, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))
            ),
            logger: quietLogger,
            metrics: ExecutorMetrics(factory: factory)
        )
        try await executor.start()
        let stream = InMemoryStream(capacity: 64)
        let bars = (0..<30).map { i in
            Bar(timestamp: Timestamp(seconds: Int64(i) * 60), open: 100, high: 101, low: 99, close: 100, volume: 1)
        }
        let loop = Task {
            try await runLiveLoop(
                dataStream: stream,
                strategy: BuyEveryBar(),
                submitOrder: { await executor.onSignal($0) },
                settings: LiveLoopSettings(
                    instrument: instrument,
                    cash: Money(1_000_000),
                    fees: FeeModel(commissionRate: .zero),
                    settleTimeout: .milliseconds(5)
                ),
                venue: ExecutorVenue(executor: executor, simulated: sim),
                metrics: LiveMetrics(factory: factory),
                logger: quietLogger
            )
        }
        for b in bars[0..<5] { try await stream.send(.bar(b)) }
        try await waitFor { await executor.position("TEST") == FixedPoint(5) }
        venue.setDown(true)
        for b in bars[5..<15] { try await stream.send(.bar(b)) }
        try await waitFor { sample(registry.emitToString(), #"crocbot_backpressure_total{policy="suspend"}"#) ?? 0 > 0 }
        #expect(await executor.position("TEST") == FixedPoint(5))  // nothing got through while down
        venue.setDown(false)
        for b in bars[15...] { try await stream.send(.bar(b)) }
        stream.finish()
        let result = try await loop.value
        #expect(await executor.waitUntilIdle(timeout: .seconds(120)))
        let text = registry.emitToString()
        #expect(sample(text, #"crocbot_backpressure_total{policy="suspend"}"#) ?? 0 > 0)
        #expect(sample(text, #"crocbot_orders_total{event="retried"}"#) ?? 0 > 0)
        #expect(venue.failed > 0)
        // Every order the strategy placed reached the venue exactly once and filled.
        #expect(result.ordersSubmitted == 30)
        #expect(result.ordersRefused == 0)
        #expect(await executor.position("TEST") == FixedPoint(30))
        #expect(sim.account.position("TEST").quantity == FixedPoint(30))
        #expect(try executor.store.allOrders().allSatisfy { $0.state == .filled })
        await executor.shutdown()
    }

    @Test("graceful shutdown (what SIGTERM does) during a replay: clean return, store flushed and consistent")
    func gracefulShutdown() async throws {
        var config = AppConfig()
        config.live.port = 0
        config.live.speed = 360_000  // 100 hourly bars a second
        config.live.store = tempPath("orders.sqlite")
        let series = try CSVBarLoader.load(path: sampleDir.appendingPathComponent("EURUSD_1H_ASK.csv").path)
        let runtime = try LiveRuntime(
            config: config,
            feed: .replay(series, label: "EURUSD"),
            instrument: Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision),
            registry: PrometheusCollectorRegistry(),
            logger: quietLogger
        )
        let group = runtime.makeServiceGroup(signals: [])
        let task = Task { try await group.run() }
        // Two fills in (the cooperative pool is shared with the rest of the suite, so time is loose).
        try await waitFor { runtime.status.snapshot.recentFills.count >= 2 }
        let port = await runtime.server.boundPort.value()
        #expect(try await get("http://127.0.0.1:\(port)/health/ready").status == 200)
        await group.triggerGracefulShutdown()
        try await task.value  // returns normally: exit 0
        let bars = runtime.status.snapshot.bars
        #expect(bars > 20 && bars < series.count)  // stopped taking data
        let store = try SQLiteOrderStore(path: config.live.store)
        let orders = try store.allOrders()
        #expect(!orders.isEmpty)
        #expect(try store.openOrders().isEmpty)
        for o in orders {
            let filled = try store.fills(clientOrderID: o.clientOrderID).reduce(Quantity.zero) { $0 + $1.quantity }
            #expect(filled == o.filledQuantity)
        }
        #expect(await runtime.executor.onSignal(OrderIntent(symbol: series.symbol, side: .buy, quantity: .one)) == .refused(.stopped))
    }

    @Test("a failing service (port taken) shuts the group down and its error comes out")
    func failingService() async throws {
        let blocker = StatusServer(host: "127.0.0.1", port: 0, registry: PrometheusCollectorRegistry(), status: LiveStatusBoard())
        try await withServer(blocker) { port async throws in
            var config = AppConfig()
            config.live.port = port
            config.live.store = tempPath("orders.sqlite")
            let series = try CSVBarLoader.load(path: sampleDir.appendingPathComponent("GOOGL.csv").path)
            let runtime = try LiveRuntime(
                config: config,
                feed: .replay(series, label: "GOOGL"),
                instrument: Instrument(symbol: series.symbol),
                registry: PrometheusCollectorRegistry(),
                logger: quietLogger
            )
            await #expect(throws: (any Error).self) { try await runtime.run(signals: []) }
            #expect(await runtime.executor.onSignal(OrderIntent(symbol: series.symbol, side: .buy, quantity: .one)) == .refused(.stopped))
        }
    }
}

/// Polls `condition` until it holds (at most `seconds`). The bound is generous: the suite runs in
/// parallel on a pool as wide as the machine, and tests that compute synchronously (model fits, the
/// agent's `swift build`) can hold every thread of a 2-core runner for tens of seconds.
func waitFor(seconds: Int = 120, _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("condition not met within \(seconds) s")
}

@Suite("Executor service")
struct ExecutorServiceTests {
    @Test("a resting order filled silently at the venue is found by the periodic reconcile; shutdown flushes")
    func periodicReconcile() async throws {
        let instrument = Instrument(symbol: "TEST", pricePrecision: 2)
        let venue = SimulatedExecutionClient(
            instrument: instrument,
            fees: FeeModel(commissionRate: .zero),
            fillTiming: .nextOpen,
            cash: Money(100_000)
        )
        venue.process(bar: Bar(timestamp: Timestamp(seconds: 0), open: 100, high: 101, low: 99, close: 100, volume: 1))
        let executor = MarketOrderExecutor(client: venue, store: try SQLiteOrderStore(path: tempPath("orders.sqlite")), logger: quietLogger)
        let started = ReadyLatch()
        let service = ExecutorService(
            executor: executor,
            cancelOpenOrders: false,
            started: started,
            logger: quietLogger,
            reconcileEvery: .milliseconds(20)
        )
        let group = ServiceGroup(configuration: .init(services: [service], logger: quietLogger))
        let task = Task { try await group.run() }
        await started.wait()
        let outcome = await executor.onSignal(OrderIntent(symbol: "TEST", side: .buy, quantity: FixedPoint(3), kind: .limit(FixedPoint(95))))
        guard case .accepted(let id) = outcome else {
            Issue.record("refused: \(outcome)")
            return
        }
        try await waitFor { await executor.order(id)?.state == .acked }
        // The next bar trades through the limit; the venue pushes nothing.
        venue.process(bar: Bar(timestamp: Timestamp(seconds: 60), open: 96, high: 97, low: 94, close: 96, volume: 1), broadcast: false)
        try await waitFor { await executor.position("TEST") == FixedPoint(3) }
        #expect(await executor.order(id)?.state == .filled)
        await group.triggerGracefulShutdown()
        try await task.value
        #expect(try executor.store.fills(clientOrderID: id).count == 1)
    }
}

func post(_ url: String, token: String?) async throws -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    let body = try await response.body.collect(upTo: 1 << 20)
    return (Int(response.status.code), String(buffer: body))
}

@Suite("Operator controls", .serialized)
struct OperatorControlTests {
    @Test("pause refuses entries, flatten closes the position, stop shuts down; each logged with a token fingerprint")
    func controls() async throws {
        var config = AppConfig()
        config.live.port = 0
        config.live.speed = 720_000  // 200 hourly bars a second
        config.live.token = "op-s3cret"
        config.live.store = tempPath("orders.sqlite")
        let series = try CSVBarLoader.load(path: sampleDir.appendingPathComponent("EURUSD_1H_ASK.csv").path)
        /// Enters whenever flat and never exits by itself: only the operator's flatten closes
        /// its position (with sma_cross the strategy could exit first, and there would be
        /// nothing left to flatten).
        struct AlwaysIn: Strategy {
            var name: String { "always_in" }
            var warmupBars: Int { 0 }
            func onBar(_ bar: Bar, context: inout StrategyContext) {
                if context.isFlat && context.workingOrders.isEmpty { context.buy(.quantity(FixedPoint(1000))) }
            }
        }
        let runtime = try LiveRuntime(
            config: config,
            feed: .replay(series, label: "EURUSD"),
            instrument: Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision),
            registry: PrometheusCollectorRegistry(),
            logger: quietLogger,
            strategy: AlwaysIn()
        )
        let task = Task { try await runtime.run(signals: []) }
        let port = await runtime.server.boundPort.value()
        let base = "http://127.0.0.1:\(port)/api/control/"
        #expect(try await post(base + "pause", token: nil).status == 401)
        #expect(try await post(base + "pause", token: "wrong").status == 401)
        #expect(try await post(base + "explode", token: "op-s3cret").status == 404)
        try await waitFor { runtime.status.snapshot.position != 0 }
        let paused = try await post(base + "pause", token: "op-s3cret")
        #expect(paused.status == 202 && paused.body.contains("\"action\":\"pause\""))
        #expect(!paused.body.contains("op-s3cret") && paused.body.contains("token sha256:"))
        #expect(runtime.status.snapshot.paused)
        #expect(try await post(base + "flatten", token: "op-s3cret").status == 202)
        try await waitFor { runtime.status.snapshot.position == 0 }
        // Paused: the strategy's next entries are refused, so the bot stays flat while bars go by.
        let barsAtFlat = runtime.status.snapshot.bars
        try await waitFor { runtime.status.snapshot.bars > barsAtFlat + 150 }
        #expect(runtime.status.snapshot.position == 0)
        let log = runtime.status.snapshot.controls.map(\.action)
        #expect(log == [.pause, .flatten])
        #expect(try await post(base + "stop", token: "op-s3cret").status == 202)
        try await task.value  // an operator's stop is a graceful shutdown: run() returns normally
        #expect(runtime.controls.log.map(\.action) == [.pause, .flatten, .stop])
        let store = try SQLiteOrderStore(path: config.live.store)
        #expect(try store.allOrders().contains { $0.tag == "operator_flatten" })
    }

    @Test("without a token the control endpoints answer 403")
    func noToken() async throws {
        let server = StatusServer(
            port: 0,
            registry: PrometheusCollectorRegistry(),
            status: LiveStatusBoard(),
            controls: LiveControls(),
            logger: quietLogger
        )
        try await withServer(server) { port in
            let r = try await post("http://127.0.0.1:\(port)/api/control/flatten", token: nil)
            #expect(r.status == 403 && r.body.contains("set live.token"))
        }
    }
}

@Suite("Paper trading a universe through the runtime")
struct UniverseRuntimeTests {
    static func universe() throws -> Universe {
        try UniverseLoader.load(path: sampleDir.appendingPathComponent("SP500_10_CLOSE.csv").path, symbols: ["AAPL", "KO", "GE", "JNJ"])
    }

    @Test("a universe replay through the whole runtime: positions per symbol on the status board and /api/status, the store consistent")
    func runtimeReplay() async throws {
        var config = AppConfig()
        config.live.port = 0
        config.live.speed = 1e15
        config.live.serveAfterReplay = false
        config.live.store = tempPath("universe-orders.sqlite")
        config.backtest.fillAt = .close
        let u = try Self.universe()
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        let strategy = try StrategyFactory.standard.make(StrategyConfig(name: "equal_weight", params: ["rebalance": .int(63)]), symbols: u.symbols)
        let runtime = try LiveRuntime(
            config: config,
            feed: .universe(u, label: "SP500_10"),
            instrument: instruments[0],
            registry: PrometheusCollectorRegistry(),
            logger: quietLogger,
            exitAtEnd: true,
            instruments: instruments,
            strategy: strategy
        )
        try await runtime.run(signals: [])
        let s = runtime.status.snapshot
        #expect(s.bars == u.timestamps.count)
        #expect(s.symbol == "AAPL,KO,GE,JNJ")
        #expect(Set(s.positions.keys) == Set(u.symbols))
        #expect(s.positions.values.allSatisfy { $0 > 0 })
        #expect(s.cash >= 0)
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) as? [String: Any])
        #expect((json["positions"] as? [String: Double])?.count == 4)
        let store = try SQLiteOrderStore(path: config.live.store)
        let orders = try store.allOrders()
        #expect(Set(orders.map(\.request.symbol)) == Set(u.symbols))
        #expect(try store.openOrders().isEmpty)
    }

    @Test("a universe feed needs paper; many instruments need a universe feed")
    func refusals() throws {
        var config = AppConfig()
        config.live.port = 0
        config.live.exchange = .binance
        let u = try Self.universe()
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        #expect(throws: LiveRuntimeError.self) {
            try LiveRuntime(
                config: config,
                feed: .universe(u, label: "u"),
                instrument: instruments[0],
                registry: PrometheusCollectorRegistry(),
                logger: quietLogger,
                instruments: instruments
            )
        }
        config.live.exchange = .paper
        let series = u.members[0]
        #expect(throws: LiveRuntimeError.self) {
            try LiveRuntime(
                config: config,
                feed: .replay(series, label: "s"),
                instrument: instruments[0],
                registry: PrometheusCollectorRegistry(),
                logger: quietLogger,
                instruments: instruments
            )
        }
    }

    @Test("flatten on a universe closes every symbol's position at the market")
    func flattenUniverse() async throws {
        let u = try Self.universe()
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        let fees = FeeModel(commissionRate: .zero)
        let venue = SimulatedExecutionClient(instruments: instruments, fees: fees, fillTiming: .close, cash: Money(100_000))
        let executor = MarketOrderExecutor(client: venue, logger: quietLogger)
        try await executor.start()
        let strategy = try StrategyFactory.standard.make(StrategyConfig(name: "equal_weight", params: ["rebalance": .int(1000)]), symbols: u.symbols)
        var loop = LiveLoopState(
            settings: LiveLoopSettings(cash: Money(100_000), fees: fees, instruments: instruments, fillTiming: .close),
            strategy: strategy,
            venue: ExecutorVenue(executor: executor, simulated: venue),
            status: nil,
            metrics: LiveMetrics(),
            logger: quietLogger
        )
        let submit: @Sendable (OrderIntent) async -> SignalOutcome = { await executor.onSignal($0) }
        var iterator = UniverseReplayStream(universe: u).makeAsyncIterator()
        for _ in 0..<40 {
            guard let event = try await iterator.next() else { break }
            await loop.handle(event, submitOrder: submit)
        }
        #expect(u.symbols.filter { loop.engine.position(of: $0).raw != 0 }.count == 4)
        await loop.control(.flatten, submitOrder: submit)
        for symbol in u.symbols {
            #expect(loop.engine.position(of: symbol) == .zero, "\(symbol)")
            #expect(venue.account.position(symbol).quantity == .zero, "\(symbol)")
        }
        await executor.shutdown()
    }
}
