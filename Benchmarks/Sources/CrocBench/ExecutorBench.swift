import CoreMetrics
import CrocCore
import CrocExecution
import CrocSupport
import Foundation
import Hummingbird
import Logging
import Synchronization

/// Collects timer recordings by label (nanoseconds); everything else is a no-op.
final class RecordingMetrics: MetricsFactory, @unchecked Sendable {
    final class Recorder: TimerHandler, CounterHandler, RecorderHandler, @unchecked Sendable {
        let samples = Mutex<[Int64]>([])
        func recordNanoseconds(_ duration: Int64) { samples.withLock { $0.append(duration) } }
        func increment(by: Int64) {}
        func reset() {}
        func record(_ value: Int64) {}
        func record(_ value: Double) {}
    }
    let timers = Mutex<[String: Recorder]>([:])
    let noop = Recorder()
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { noop }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { noop }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        timers.withLock { t in
            if let r = t[label] { return r }
            let r = Recorder()
            t[label] = r
            return r
        }
    }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    func samples(_ label: String) -> [Int64] { timers.withLock { $0[label]?.samples.withLock { $0 } ?? [] } }
    func clear() { timers.withLock { t in for r in t.values { r.samples.withLock { $0.removeAll() } } } }
}

func percentile(_ xs: [Int64], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return Double(s[min(s.count - 1, Int(Double(s.count - 1) * p))])
}

func quietLogger() -> Logger {
    var l = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    l.logLevel = .critical
    return l
}

/// Orders through `MarketOrderExecutor` against the in-process simulated exchange.
func benchExecutor(orders: Int) async throws {
    // CROCBENCH_ONE_FLOOD=1: one flood run only, nothing else (for profilers and `perf stat`);
    // CROCBENCH_ONE_FLOOD=16: one run of the batches-of-16 flood.
    let oneFlood = ProcessInfo.processInfo.environment["CROCBENCH_ONE_FLOOD"]
    let one = oneFlood != nil
    let modes =
        one
        ? [(oneFlood == "16" ? "flood, onSignals batches of 16" : "flood", false, oneFlood == "16" ? 16 : 1)]
        : [("flood", false, 1), ("flood, onSignals batches of 16", false, 16), ("paced 100k/s", true, 1)]
    for (label, paced, batch) in modes {
        var results: [(rate: Double, p50: Double, p99: Double)] = []
        for _ in 0..<(one ? 1 : 3) {
            let metrics = RecordingMetrics()
            let instrument = Instrument(symbol: "BTCUSDT", pricePrecision: 2, quantityStep: FixedPoint(1))
            let venue = SimulatedExecutionClient(
                instrument: instrument,
                fees: .free,
                fillTiming: .close,
                allowShort: true,
                cash: FixedPoint(1_000_000_000)
            )
            venue.process(bar: Bar(timestamp: Timestamp(nanoseconds: 0), open: 100, high: 100, low: 100, close: 100, volume: 0))
            let ex = MarketOrderExecutor(
                client: venue,
                store: InMemoryOrderStore(),
                configuration: ExecutorConfiguration(maxInFlight: 8, queueCapacity: 1024, backpressure: .suspend),
                logger: quietLogger(),
                metrics: ExecutorMetrics(factory: metrics)
            )
            try await ex.start()
            let n = paced ? orders / 4 : orders
            let start = ContinuousClock.now
            if batch > 1 {
                var i = 0
                while i < n {
                    let intents = (i..<min(n, i + batch)).map {
                        OrderIntent(symbol: "BTCUSDT", side: $0 % 2 == 0 ? .buy : .sell, quantity: FixedPoint(1))
                    }
                    _ = await ex.onSignals(intents)
                    i += batch
                }
            }
            for i in 0..<(batch > 1 ? 0 : n) {
                if paced {
                    // One signal every 10 µs: a steady 100,000 signals/s.
                    let due = start + .microseconds(10 * i)
                    while ContinuousClock.now < due {}
                }
                _ = await ex.onSignal(OrderIntent(symbol: "BTCUSDT", side: i % 2 == 0 ? .buy : .sell, quantity: FixedPoint(1)))
            }
            while true {
                let open = await ex.openOrders.count
                let queued = await ex.queueDepth
                if open == 0 && queued == 0 { break }
                await Task.yield()
            }
            let elapsed = ContinuousClock.now - start
            let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let lat = metrics.samples("crocbot_signal_to_submit_seconds")
            precondition(lat.count == n, "every order reached the venue (\(lat.count)/\(n))")
            let fills = venue.account.fillCount
            precondition(fills == n, "every order filled (\(fills)/\(n))")
            results.append((Double(n) / secs, percentile(lat, 0.5), percentile(lat, 0.99)))
            await ex.shutdown()
        }
        let best = results.max { $0.rate < $1.rate }!
        let medianP99 = results.map(\.p99).sorted()[results.count / 2]
        print(
            String(
                format:
                    "executor (%@, simulated venue, 8 in flight, in-memory store): %.0f orders/s (best of 3); signal-to-submit p50 %.1f us, p99 %.1f us (median of 3 runs)",
                label,
                best.rate,
                results.map(\.p50).sorted()[results.count / 2] / 1000,
                medianP99 / 1000
            )
        )
    }
    if one { return }
    // The same flood with the durable SQLite store (every order written before it is sent).
    let path = NSTemporaryDirectory() + "crocbench-orders-\(UUID().uuidString).sqlite"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let instrument = Instrument(symbol: "BTCUSDT", pricePrecision: 2, quantityStep: FixedPoint(1))
    let venue = SimulatedExecutionClient(instrument: instrument, fees: .free, fillTiming: .close, allowShort: true, cash: FixedPoint(1_000_000_000))
    venue.process(bar: Bar(timestamp: Timestamp(nanoseconds: 0), open: 100, high: 100, low: 100, close: 100, volume: 0))
    let ex = MarketOrderExecutor(
        client: venue,
        store: try SQLiteOrderStore(path: path),
        configuration: ExecutorConfiguration(maxInFlight: 8),
        logger: quietLogger(),
        metrics: ExecutorMetrics(factory: RecordingMetrics())
    )
    try await ex.start()
    let n = orders / 10
    let start = ContinuousClock.now
    for i in 0..<n { _ = await ex.onSignal(OrderIntent(symbol: "BTCUSDT", side: i % 2 == 0 ? .buy : .sell, quantity: FixedPoint(1))) }
    while await ex.openOrders.count > 0 { await Task.yield() }
    let elapsed = ContinuousClock.now - start
    let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    print(String(format: "executor (flood, simulated venue, SQLite WAL store): %.0f orders/s over %d orders", Double(n) / secs, n))
    await ex.shutdown()
}

/// Orders through `MarketOrderExecutor` and `BinanceSpotClient` against a local HTTP server
/// that answers like Binance (signature not checked; one FILLED answer per order).
func benchExecutorHTTP(orders: Int) async throws {
    let router = Router()
    let counter = Mutex(0)
    router.post("/api/v3/order") { req, _ -> Response in
        let id = counter.withLock { c in
            c += 1
            return c
        }
        let query = req.uri.queryParameters
        let cid = query.get("newClientOrderId") ?? "x"
        let qty = query.get("quantity") ?? "1"
        let body = """
            {"symbol":"BTCUSDT","orderId":\(id),"clientOrderId":"\(cid)","transactTime":1,"price":"0","origQty":"\(qty)","executedQty":"\(qty)",\
            "cummulativeQuoteQty":"100","status":"FILLED","type":"MARKET","side":"BUY","fills":[]}
            """
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    let (ports, cont) = AsyncStream<Int>.makeStream()
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { cont.yield($0.localAddress?.port ?? 0) }
    )
    let server = Task { try await app.runService(gracefulShutdownSignals: []) }
    var port = 0
    for await p in ports {
        port = p
        break
    }
    let metrics = RecordingMetrics()
    let client = BinanceSpotClient(
        credentials: BinanceCredentials(apiKey: "bench", secretKey: "bench"),
        configuration: .init(baseURL: "http://127.0.0.1:\(port)", weightLimitPerMinute: .max / 2),
        logger: quietLogger()
    )
    let ex = MarketOrderExecutor(
        client: client,
        configuration: ExecutorConfiguration(maxInFlight: 8, queueCapacity: 64),
        logger: quietLogger(),
        metrics: ExecutorMetrics(factory: metrics)
    )
    try await ex.start()
    // Warm the connection pool.
    for _ in 0..<64 { _ = await ex.onSignal(OrderIntent(symbol: "BTCUSDT", side: .buy, quantity: FixedPoint(1))) }
    while await ex.openOrders.count > 0 { await Task.yield() }
    metrics.clear()
    let start = ContinuousClock.now
    for _ in 0..<orders { _ = await ex.onSignal(OrderIntent(symbol: "BTCUSDT", side: .buy, quantity: FixedPoint(1))) }
    while await ex.openOrders.count > 0 { try await Task.sleep(for: .microseconds(200)) }
    let elapsed = ContinuousClock.now - start
    let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let lat = metrics.samples("crocbot_order_submit_to_ack_seconds")
    print(
        String(
            format: "executor (Binance client over local HTTP, 8 in flight): %.0f orders/s over %d orders; submit-to-ack p50 %.0f us, p99 %.0f us",
            Double(orders) / secs,
            orders,
            percentile(lat, 0.5) / 1000,
            percentile(lat, 0.99) / 1000
        )
    )
    await ex.shutdown()
    server.cancel()
}
