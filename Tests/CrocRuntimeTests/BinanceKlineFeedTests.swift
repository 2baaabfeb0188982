import CrocCore
import CrocExecution
import CrocStrategies
import CrocTestSupport
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Prometheus
import Synchronization
import Testing

@testable import CrocRuntime

/// A Binance-shaped market-data server on 127.0.0.1: the kline WebSocket
/// stream and REST `/api/v3/klines`, scripted per connection.
final class FakeMarketData: Sendable {
    /// One minute in ms.
    static let minute: Int64 = 60_000
    /// What connection N (0-based) sends; `nil` in a script = stay silent until closed.
    let scripts: [[String?]]
    private let state = Mutex<(connections: Int, restCalls: [String])>((0, []))
    private let portBox = Mutex<Int?>(nil)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    init(scripts: [[String?]]) { self.scripts = scripts }

    var connections: Int { state.withLock { $0.connections } }
    var restCalls: [String] { state.withLock { $0.restCalls } }

    /// A kline message for minute `i` (close 100 + i).
    static func kline(_ i: Int64, closed: Bool = true, symbol: String = "BTCUSDT") -> String {
        let t = i * minute
        let c = 100 + Double(i)
        return
            #"{"e":"kline","E":\#(t + minute),"s":"\#(symbol)","k":{"t":\#(t),"T":\#(t + minute - 1),"s":"\#(symbol)","i":"1m","o":"\#(c - 0.5)","c":"\#(c)","h":"\#(c + 1)","l":"\#(c - 1)","v":"12.5","x":\#(closed)}}"#
    }

    /// A combined-stream message carrying `symbol`'s kline for minute `i`.
    static func combined(_ i: Int64, _ symbol: String) -> String {
        #"{"stream":"\#(symbol.lowercased())@kline_1m","data":\#(kline(i, symbol: symbol))}"#
    }

    /// A trade message at `ms` (price 100 + ms/1000).
    static func trade(_ ms: Int64, id: Int) -> String {
        #"{"e":"trade","E":\#(ms),"s":"BTCUSDT","t":\#(id),"p":"\#(100 + Double(ms) / 1000)","q":"0.5","T":\#(ms),"m":false}"#
    }

    /// Starts listening; returns the port.
    func start() async -> Int {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.get("/api/v3/klines") { request, _ -> Response in
            let p = request.uri.queryParameters
            let from = Int64(p.get("startTime") ?? "") ?? 0
            let to = Int64(p.get("endTime") ?? "") ?? 0
            let symbol = p.get("symbol") ?? ""
            self.state.withLock { $0.restCalls.append(symbol == "BTCUSDT" ? "\(from)-\(to)" : "\(symbol):\(from)-\(to)") }
            var rows: [String] = []
            var i = (from + FakeMarketData.minute - 1) / FakeMarketData.minute
            while i * FakeMarketData.minute <= to {
                let c = 100 + Double(i)
                rows.append(
                    #"[\#(i * FakeMarketData.minute),"\#(c - 0.5)","\#(c + 1)","\#(c - 1)","\#(c)","12.5",\#(i * FakeMarketData.minute + 59_999),"0",1,"0","0","0"]"#
                )
                i += 1
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "[" + rows.joined(separator: ",") + "]"))
            )
        }
        let handler: WebSocketDataHandler<WebSocketRouterContext<BasicWebSocketRequestContext>> = { inbound, outbound, _ in
            let n = self.state.withLock { s in
                defer { s.connections += 1 }
                return s.connections
            }
            let script = n < self.scripts.count ? self.scripts[n] : [nil]
            for message in script {
                guard let message else {
                    for try await _ in inbound {}  // silent until the client goes
                    return
                }
                try await outbound.write(.text(message))
            }
            // Returning closes the connection: a drop. Wait first, as a real server's
            // drop comes after the client has read what was sent (the client library
            // discards frames it has not read yet when the close arrives).
            try await Task.sleep(for: .seconds(1))
        }
        router.ws("/ws/btcusdt@kline_1m", onUpgrade: handler)
        router.ws("/ws/btcusdt@trade", onUpgrade: handler)
        router.ws("/stream", onUpgrade: handler)
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: quietLogger
        )
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        var it = stream.makeAsyncIterator()
        let port = await it.next() ?? 0
        portBox.withLock { $0 = port }
        return port
    }

    func stop() { task.withLock { $0?.cancel() } }
}

@Suite("Binance kline feed")
struct BinanceKlineFeedTests {
    @Test(
        "closed klines become bars; a drop reconnects, a gap is backfilled over REST, duplicates and junk are skipped, a silent connection is dropped"
    )
    func reconnectAndBackfill() async throws {
        let server = FakeMarketData(scripts: [
            // connection 0: minutes 0-2 (with an unfinished kline and junk), then the server drops it
            [FakeMarketData.kline(0), FakeMarketData.kline(1, closed: false), "not json", FakeMarketData.kline(1), FakeMarketData.kline(2)],
            // connection 1: minute 2 again (duplicate), then 6: minutes 3-5 were missed; then silence
            [FakeMarketData.kline(2), FakeMarketData.kline(6), FakeMarketData.kline(7), nil],
            // connection 2 (after the idle watchdog dropped connection 1): minute 8
            [FakeMarketData.kline(8), nil],
        ])
        let port = await server.start()
        defer { server.stop() }
        let metrics = LiveMetrics()
        let status = LiveStatusBoard()
        let feed = BinanceKlineFeed(
            configuration: .init(
                symbol: "BTCUSDT",
                interval: "1m",
                intervalDuration: .seconds(60),
                webSocketURL: "ws://127.0.0.1:\(port)",
                restURL: "http://127.0.0.1:\(port)",
                reconnectBaseDelay: .milliseconds(10),
                reconnectMaxDelay: .milliseconds(50),
                idleTimeout: .milliseconds(1500),
                pingInterval: .seconds(30)
            ),
            metrics: metrics,
            status: status,
            logger: quietLogger
        )
        let collect = Task { () -> [Bar] in
            var bars: [Bar] = []
            var it = feed.makeAsyncIterator()
            while bars.count < 9, let e = try await it.next() {
                if case .bar(let b) = e { bars.append(b) }
            }
            return bars
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            collect.cancel()
        }
        let bars = try await collect.value
        timeout.cancel()
        #expect(bars.map { $0.timestamp.nanoseconds / 60_000_000_000 } == Array(0...8))
        #expect(bars.map(\.close) == (0...8).map { 100 + Double($0) })
        let c = feed.counters
        #expect(c.connections == 3)
        #expect(c.reconnects >= 2)
        #expect(c.backfilled == 3)
        #expect(c.duplicates == 1)
        #expect(c.ignored >= 2)  // the unfinished kline and the junk
        #expect(server.restCalls == ["\(3 * FakeMarketData.minute)-\(6 * FakeMarketData.minute - 1)"])
        #expect(status.snapshot.reconnects >= 2)
    }
}

@Suite("Trade bars")
struct TradeBarTests {
    @Test("trades become OHLCV bars by interval; the first (joined mid-way) interval and late trades are dropped")
    func aggregate() {
        var a = TradeBarAggregator(intervalMilliseconds: 60_000)
        #expect(a.add(price: 9, quantity: 1, timeMilliseconds: 30_000) == nil)  // joined mid-interval 0
        #expect(a.add(price: 10, quantity: 1, timeMilliseconds: 60_000) == nil)  // interval 0 discarded
        #expect(a.add(price: 12, quantity: 2, timeMilliseconds: 70_000) == nil)
        #expect(a.add(price: 8, quantity: 1, timeMilliseconds: 80_000) == nil)
        #expect(a.add(price: 11, quantity: 1, timeMilliseconds: 119_999) == nil)
        #expect(a.add(price: 50, quantity: 1, timeMilliseconds: 10_000) == nil)  // late: interval 0 is over
        let done = a.add(price: 13, quantity: 1, timeMilliseconds: 180_000)
        #expect(done?.openTime == 60_000)
        #expect(done?.bar == Bar(timestamp: Timestamp(nanoseconds: 60_000 * 1_000_000), open: 10, high: 12, low: 8, close: 11, volume: 5))
        #expect(a.lateTrades == 1)
    }

    @Test("the trade stream through the feed: bars from trades, an interrupted interval refetched whole over REST")
    func tradeFeed() async throws {
        let m = FakeMarketData.minute
        let server = FakeMarketData(scripts: [
            // connection 0: joins in minute 0 (discarded), builds minute 1, starts minute 2, then drops
            [
                FakeMarketData.trade(30_000, id: 1), FakeMarketData.trade(m, id: 2), FakeMarketData.trade(m + 20_000, id: 3),
                FakeMarketData.trade(2 * m + 1_000, id: 4),
            ],
            // connection 1: joins in minute 3 (discarded), minute 4 complete, then minute 5 starts: 2 and 3 come from REST
            [
                FakeMarketData.trade(3 * m + 5_000, id: 9), FakeMarketData.trade(4 * m, id: 10), FakeMarketData.trade(4 * m + 59_000, id: 11),
                FakeMarketData.trade(5 * m, id: 12), nil,
            ],
        ])
        let port = await server.start()
        defer { server.stop() }
        let feed = BinanceKlineFeed(
            configuration: .init(
                stream: .trade,
                symbol: "BTCUSDT",
                interval: "1m",
                intervalDuration: .seconds(60),
                webSocketURL: "ws://127.0.0.1:\(port)",
                restURL: "http://127.0.0.1:\(port)",
                reconnectBaseDelay: .milliseconds(10)
            ),
            logger: quietLogger
        )
        let collect = Task { () -> [Bar] in
            var bars: [Bar] = []
            var it = feed.makeAsyncIterator()
            while bars.count < 4, let e = try await it.next() {
                if case .bar(let b) = e { bars.append(b) }
            }
            return bars
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            collect.cancel()
        }
        let bars = try await collect.value
        timeout.cancel()
        #expect(bars.map { $0.timestamp.nanoseconds / 60_000_000_000 } == [1, 2, 3, 4])
        // Minute 1 from its trades; 2 and 3 from REST klines (close 100 + minute); 4 from its trades.
        #expect(bars[0].open == 160 && bars[0].close == 180 && bars[0].volume == 1)
        #expect(bars[1].close == 102 && bars[2].close == 103)
        #expect(bars[3].open == 340 && bars[3].close == 399 && bars[3].volume == 1)
        #expect(feed.counters.backfilled == 2)
    }
}

@Suite("Live loop over the Binance feed")
struct LiveFeedLoopTests {
    @Test("disconnect, reconnect and backfill through the live loop: every bar processed once, none missing, reconnects counted")
    func loopOverFeed() async throws {
        let server = FakeMarketData(scripts: [
            [FakeMarketData.kline(0), FakeMarketData.kline(1), FakeMarketData.kline(2)],
            [FakeMarketData.kline(2), FakeMarketData.kline(6), FakeMarketData.kline(7), FakeMarketData.kline(8), nil],
        ])
        let port = await server.start()
        defer { server.stop() }
        let registry = PrometheusCollectorRegistry()
        let metrics = LiveMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let status = LiveStatusBoard()
        let quietLog = quietLogger
        let feed = BinanceKlineFeed(
            configuration: .init(
                symbol: "BTCUSDT",
                interval: "1m",
                intervalDuration: .seconds(60),
                webSocketURL: "ws://127.0.0.1:\(port)",
                restURL: "http://127.0.0.1:\(port)",
                reconnectBaseDelay: .milliseconds(10)
            ),
            metrics: metrics,
            status: status,
            logger: quietLog
        )
        let loop = Task {
            try await runLiveLoop(
                dataStream: feed,
                strategy: SMACrossStrategy(fast: 2, slow: 3),
                submitOrder: { _ in .refused(.stopped) },
                settings: LiveLoopSettings(instrument: Instrument(symbol: "BTCUSDT"), barInterval: .seconds(60)),
                status: status,
                metrics: metrics,
                logger: quietLog
            )
        }
        try await waitFor { status.snapshot.bars == 9 }
        loop.cancel()
        _ = try? await loop.value
        let text = registry.emitToString()
        #expect(sample(text, #"crocbot_bars_total{kind="received"}"#) == 9)
        #expect(sample(text, #"crocbot_bars_total{kind="missing"}"#) ?? 0 == 0)
        #expect(sample(text, #"crocbot_bars_total{kind="late"}"#) ?? 0 == 0)
        #expect(sample(text, "crocbot_feed_reconnects_total") ?? 0 >= 1)
        #expect(status.snapshot.lastBarTime == Timestamp(nanoseconds: 8 * 60_000_000_000))
        #expect(feed.counters.backfilled == 3)
    }
}

@Suite("Slices from a combined stream")
struct SliceAssemblerTests {
    private func bar(_ minute: Int64, _ close: Double) -> Bar {
        TestBars.bar(Int(minute), close: close)
    }
    private let ms: Int64 = 60_000
    private let second: Int64 = 1_000_000_000

    @Test("a time leaves once every symbol has moved past it, lanes ascending, in time order, whatever the arrival order")
    func completeSlices() {
        var a = SliceAssembler(lanes: 3, graceNanoseconds: 5 * second)
        #expect(a.add(lane: 2, openTime: 0, bar: bar(0, 3), now: 0).isEmpty)
        #expect(a.add(lane: 0, openTime: 0, bar: bar(0, 1), now: 1).isEmpty)
        #expect(a.add(lane: 0, openTime: ms, bar: bar(1, 1.1), now: 2).isEmpty)  // lane 1 has sent nothing yet
        let out = a.add(lane: 1, openTime: 0, bar: bar(0, 2), now: 3)
        #expect(out.count == 1)
        #expect(out.first?.lanes == [0, 1, 2])
        #expect(out.first?.bars.map(\.close) == [1, 2, 3])
        #expect(out.first?.time == Timestamp(nanoseconds: 0))
        // Minute 1: lanes 1 and 2 arrive; it leaves with all three.
        #expect(a.add(lane: 2, openTime: ms, bar: bar(1, 3.1), now: 4).isEmpty)
        #expect(a.add(lane: 1, openTime: ms, bar: bar(1, 2.1), now: 5).map(\.lanes) == [[0, 1, 2]])
        #expect(a.incomplete == 0 && a.pendingCount == 0)
    }

    @Test("a symbol that sends nothing is left out after the grace; its late bar and duplicates are dropped, counted, never emitted")
    func graceLateAndDuplicates() {
        var a = SliceAssembler(lanes: 2, graceNanoseconds: 5 * second)
        #expect(a.add(lane: 0, openTime: 0, bar: bar(0, 1), now: 0).isEmpty)
        #expect(a.expire(now: 4 * second).isEmpty)
        let out = a.expire(now: 5 * second)
        #expect(out.map(\.lanes) == [[0]])
        #expect(a.incomplete == 1)
        // Lane 1's bar for minute 0 arrives after the slice left: late, dropped.
        #expect(a.add(lane: 1, openTime: 0, bar: bar(0, 2), now: 6 * second).isEmpty)
        #expect(a.late == 1)
        // A replay of lane 0's minute 0 after a reconnect: a duplicate.
        #expect(a.add(lane: 0, openTime: 0, bar: bar(0, 1), now: 6 * second).isEmpty)
        #expect(a.duplicates == 1)
        // Minute 1 from both: a full slice.
        _ = a.add(lane: 1, openTime: ms, bar: bar(1, 2), now: 7 * second)
        #expect(a.add(lane: 0, openTime: ms, bar: bar(1, 1), now: 7 * second).map(\.lanes) == [[0, 1]])
    }

    @Test("a ready later time waits for an earlier one that is not, so slices never go back in time")
    func order() {
        var a = SliceAssembler(lanes: 2, graceNanoseconds: 10 * second)
        _ = a.add(lane: 0, openTime: 0, bar: bar(0, 1), now: 0)
        _ = a.add(lane: 0, openTime: ms, bar: bar(1, 1), now: 8 * second)
        // At 10 s minute 0 has waited its grace; minute 1 has not, and lane 1 is silent.
        #expect(a.expire(now: 10 * second).map(\.time) == [Timestamp(nanoseconds: 0)])
        #expect(a.expire(now: 18 * second).map(\.time) == [Timestamp(nanoseconds: 60_000_000_000)])
    }
}

@Suite("Binance combined stream")
struct BinanceCombinedStreamTests {
    @Test("several symbols over one connection become slices; one symbol's gap is backfilled from REST for that symbol")
    func combinedStream() async throws {
        let server = FakeMarketData(scripts: [
            [
                FakeMarketData.combined(0, "BTCUSDT"), FakeMarketData.combined(0, "ETHUSDT"),
                FakeMarketData.combined(1, "ETHUSDT"), FakeMarketData.combined(1, "BTCUSDT"),
                // BTCUSDT misses minutes 2-3: its minute 4 triggers a backfill of 2-3 for BTCUSDT alone.
                FakeMarketData.combined(2, "ETHUSDT"), FakeMarketData.combined(3, "ETHUSDT"),
                FakeMarketData.combined(4, "BTCUSDT"), FakeMarketData.combined(4, "ETHUSDT"),
                #"{"stream":"xrpusdt@kline_1m","data":\#(FakeMarketData.kline(5, symbol: "XRPUSDT"))}"#,  // not ours
                nil,
            ]
        ])
        let port = await server.start()
        defer { server.stop() }
        let config = BinanceKlineFeed.Configuration(
            symbol: "BTCUSDT",
            interval: "1m",
            intervalDuration: .seconds(60),
            webSocketURL: "ws://127.0.0.1:\(port)",
            restURL: "http://127.0.0.1:\(port)",
            symbols: ["BTCUSDT", "ETHUSDT"]
        )
        #expect(config.streamURL == "ws://127.0.0.1:\(port)/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m")
        let feed = BinanceKlineFeed(configuration: config, logger: quietLogger)
        let collect = Task { () -> [MarketSlice] in
            var slices: [MarketSlice] = []
            var it = feed.makeAsyncIterator()
            while slices.count < 5, let e = try await it.next() {
                if case .slice(let s) = e { slices.append(s) }
            }
            return slices
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            collect.cancel()
        }
        let slices = try await collect.value
        timeout.cancel()
        let minutes: [Int64] = slices.map { $0.time.nanoseconds / 60_000_000_000 }
        #expect(minutes == [0, 1, 2, 3, 4])
        #expect(slices.allSatisfy { $0.lanes == [0, 1] })
        let closes: [[Double]] = slices.map { $0.bars.map(\.close) }
        let expected: [[Double]] = (0...4).map { (i: Int) -> [Double] in [100 + Double(i), 100 + Double(i)] }
        #expect(closes == expected)
        #expect(server.restCalls == ["\(2 * FakeMarketData.minute)-\(4 * FakeMarketData.minute - 1)"])
        #expect(feed.counters.backfilled == 2)
        #expect(feed.counters.ignored >= 1)
    }
}
