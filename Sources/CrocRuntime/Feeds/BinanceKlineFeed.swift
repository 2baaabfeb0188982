import AsyncHTTPClient
import CoreMetrics
import CrocCore
import CrocData
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import WSClient

/// Closed Binance klines as a live `MarketDataStream`, over the WebSocket
/// market stream `<symbol>@kline_<interval>`.
///
/// - Only closed klines (`"x": true`) become bars, stamped with their open time.
/// - Heartbeats: the client answers the server's pings and pings itself
///   (`pingInterval`); a connection silent for `idleTimeout` is dropped.
/// - A dropped connection is reopened with exponential backoff and jitter,
///   counted in `crocbot_feed_reconnects_total`.
/// - Gaps (a bar more than one interval after the last) are backfilled from
///   REST `GET /api/v3/klines` before the bar is delivered; duplicates
///   (a bar not after the last, e.g. replayed after a reconnect) are skipped.
public struct BinanceKlineFeed: MarketDataStream {
    /// The element type.
    public typealias Element = MarketEvent

    /// Where and what to stream.
    public struct Configuration: Sendable {
        /// The symbol, e.g. `BTCUSDT`.
        public var symbol: String
        /// The kline interval, e.g. `1m`.
        public var interval: String
        /// The interval as a duration (gap detection).
        public var intervalDuration: Duration
        /// WebSocket base, e.g. `wss://stream.testnet.binance.vision` (the feed appends `/ws/<stream>`).
        public var webSocketURL: String
        /// REST base for backfill, e.g. `https://testnet.binance.vision`.
        public var restURL: String
        /// First reconnect delay.
        public var reconnectBaseDelay: Duration
        /// Longest reconnect delay.
        public var reconnectMaxDelay: Duration
        /// Drop a connection silent this long.
        public var idleTimeout: Duration
        /// Our own ping period.
        public var pingInterval: Duration

        /// The testnet's market stream for `symbol` and `interval`.
        public init(
            symbol: String,
            interval: String,
            intervalDuration: Duration,
            webSocketURL: String = "wss://stream.testnet.binance.vision",
            restURL: String = "https://testnet.binance.vision",
            reconnectBaseDelay: Duration = .milliseconds(500),
            reconnectMaxDelay: Duration = .seconds(30),
            idleTimeout: Duration = .seconds(90),
            pingInterval: Duration = .seconds(30)
        ) {
            self.symbol = symbol
            self.interval = interval
            self.intervalDuration = intervalDuration
            self.webSocketURL = webSocketURL
            self.restURL = restURL
            self.reconnectBaseDelay = reconnectBaseDelay
            self.reconnectMaxDelay = reconnectMaxDelay
            self.idleTimeout = idleTimeout
            self.pingInterval = pingInterval
        }

        /// The stream's URL.
        public var streamURL: String { "\(webSocketURL)/ws/\(symbol.lowercased())@kline_\(interval)" }
    }

    /// Counters of one feed (also in the metrics).
    public struct Counters: Sendable, Hashable {
        /// Connections opened.
        public var connections = 0
        /// Reconnections after a drop.
        public var reconnects = 0
        /// Bars fetched over REST to fill gaps.
        public var backfilled = 0
        /// Duplicate bars skipped.
        public var duplicates = 0
        /// Messages that were not closed klines or could not be read.
        public var ignored = 0
    }

    /// The settings.
    public let configuration: Configuration
    private let metrics: LiveMetrics
    private let status: LiveStatusBoard?
    private let logger: Logger
    private let httpClient: HTTPClient
    private let counterBox = LockedBox(Counters())

    /// Creates a feed; nothing connects until iteration starts.
    public init(
        configuration: Configuration,
        metrics: LiveMetrics = LiveMetrics(),
        status: LiveStatusBoard? = nil,
        logger: Logger = Logger(label: "crocbot.feed"),
        httpClient: HTTPClient = .shared
    ) {
        self.configuration = configuration
        self.metrics = metrics
        self.status = status
        self.logger = logger
        self.httpClient = httpClient
    }

    /// The counters so far.
    public var counters: Counters { counterBox.value }

    /// Starts streaming; the stream ends only by cancellation.
    public func makeAsyncIterator() -> AsyncThrowingStream<MarketEvent, any Error>.Iterator {
        let (stream, continuation) = AsyncThrowingStream<MarketEvent, any Error>.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        let task = Task { await produce(into: continuation) }
        continuation.onTermination = { _ in task.cancel() }
        return stream.makeAsyncIterator()
    }

    private func count(_ body: (inout Counters) -> Void) { counterBox.withLock { body(&$0) } }

    private func produce(into out: AsyncThrowingStream<MarketEvent, any Error>.Continuation) async {
        let last = LockedBox<Int64?>(nil)  // open time (ms) of the last bar delivered
        var failures = 0
        while !Task.isCancelled {
            let connectedAt = ContinuousClock.now
            do {
                try await WebSocketClient.connect(
                    url: configuration.streamURL,
                    configuration: .init(maxFrameSize: 1 << 20, autoPing: .enabled(timePeriod: configuration.pingInterval)),
                    logger: logger
                ) { inbound, _, _ in
                    count { $0.connections += 1 }
                    status?.update { $0.ready = true }
                    logger.notice("feed connected", metadata: ["stream": "\(configuration.streamURL)"])
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let lastMessage = LockedBox(ContinuousClock.now)
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                lastMessage.withLock { $0 = .now }
                                guard case .text(let text) = message else { continue }
                                try await handle(text, last: last, out: out)
                            }
                        }
                        group.addTask {
                            // Watchdog: a silent connection is dead even if TCP has not noticed.
                            while true {
                                try await Task.sleep(for: configuration.idleTimeout / 4)
                                if ContinuousClock.now - lastMessage.withLock({ $0 }) > configuration.idleTimeout {
                                    throw FeedError.idle(configuration.idleTimeout)
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
                logger.warning("feed connection closed by the server", metadata: ["stream": "\(configuration.streamURL)"])
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled { break }
                logger.error("feed connection failed", metadata: ["stream": "\(configuration.streamURL)", "error": "\(error)"])
            }
            if Task.isCancelled { break }
            // A connection that lived a while resets the backoff.
            failures = ContinuousClock.now - connectedAt > .seconds(60) ? 1 : failures + 1
            count { $0.reconnects += 1 }
            metrics.reconnects.increment()
            status?.update {
                $0.reconnects += 1
                $0.ready = false
            }
            let base = Double(configuration.reconnectBaseDelay.components.attoseconds) / 1e18 + Double(configuration.reconnectBaseDelay.components.seconds)
            let cap = Double(configuration.reconnectMaxDelay.components.seconds) + Double(configuration.reconnectMaxDelay.components.attoseconds) / 1e18
            let wait = Swift.min(cap, base * pow(2, Double(Swift.min(failures - 1, 20)))) * Double.random(in: 0.8...1.2)
            logger.warning("feed reconnecting", metadata: ["in_seconds": "\(String(format: "%.2f", wait))", "attempt": "\(failures)"])
            try? await Task.sleep(for: .seconds(wait))
        }
        out.finish()
    }

    private func handle(_ text: String, last: LockedBox<Int64?>, out: AsyncThrowingStream<MarketEvent, any Error>.Continuation) async throws {
        guard let kline = try? JSONDecoder().decode(KlineMessage.self, from: Data(text.utf8)), kline.e == "kline", kline.k.x,
            let bar = kline.k.bar
        else {
            count { $0.ignored += 1 }
            return
        }
        let t = kline.k.t
        let step = Int64(configuration.intervalDuration.components.seconds) * 1000
        let previous = last.withLock { $0 }
        if let previous, t <= previous {
            count { $0.duplicates += 1 }
            return
        }
        if let previous, step > 0, t > previous + step {
            let filled = await backfill(from: previous + step, to: t - 1)
            for b in filled where b.openTime > (last.withLock { $0 } ?? .min) && b.openTime < t {
                out.yield(.bar(b.bar))
                last.withLock { $0 = b.openTime }
                count { $0.backfilled += 1 }
            }
            if filled.isEmpty {
                logger.error("gap not backfilled", metadata: ["from_ms": "\(previous + step)", "to_ms": "\(t - 1)"])
            }
        }
        out.yield(.bar(bar))
        last.withLock { $0 = t }
    }

    /// Closed klines with open times in [from, to] (ms), oldest first; empty on failure (logged).
    func backfill(from: Int64, to: Int64) async -> [(openTime: Int64, bar: Bar)] {
        let url =
            "\(configuration.restURL)/api/v3/klines?symbol=\(configuration.symbol.uppercased())&interval=\(configuration.interval)"
            + "&startTime=\(from)&endTime=\(to)&limit=1000"
        do {
            var request = HTTPClientRequest(url: url)
                        let response = try await httpClient.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 8 << 20)
            guard response.status.code == 200 else {
                logger.error("backfill failed", metadata: ["status": "\(response.status.code)", "from_ms": "\(from)", "to_ms": "\(to)"])
                return []
            }
            guard let rows = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[Any]] else { return [] }
            var out: [(Int64, Bar)] = []
            for row in rows where row.count >= 6 {
                guard let t = (row[0] as? NSNumber)?.int64Value,
                    let o = (row[1] as? String).flatMap(Double.init), let h = (row[2] as? String).flatMap(Double.init),
                    let l = (row[3] as? String).flatMap(Double.init), let c = (row[4] as? String).flatMap(Double.init),
                    let v = (row[5] as? String).flatMap(Double.init), t >= from, t <= to
                else { continue }
                out.append((t, Bar(timestamp: Timestamp(nanoseconds: t * 1_000_000), open: o, high: h, low: l, close: c, volume: v)))
            }
            logger.notice("gap backfilled", metadata: ["bars": "\(out.count)", "from_ms": "\(from)", "to_ms": "\(to)"])
            return out.sorted { $0.0 < $1.0 }
        } catch {
            logger.error("backfill failed", metadata: ["error": "\(error)", "from_ms": "\(from)", "to_ms": "\(to)"])
            return []
        }
    }

    /// Why a connection was dropped by us.
    enum FeedError: Error, CustomStringConvertible {
        case idle(Duration)
        var description: String {
            switch self {
            case .idle(let d): return "no message for \(d): connection presumed dead"
            }
        }
    }
}

/// A kline event (`{"e":"kline","E":...,"s":"BTCUSDT","k":{...}}`).
struct KlineMessage: Decodable {
    struct Kline: Decodable {
        let t: Int64
        let o: String
        let h: String
        let l: String
        let c: String
        let v: String
        let x: Bool

        var bar: Bar? {
            guard let o = Double(o), let h = Double(h), let l = Double(l), let c = Double(c), let v = Double(v),
                o > 0, h > 0, l > 0, c > 0, v >= 0, o.isFinite, h.isFinite, l.isFinite, c.isFinite
            else { return nil }
            return Bar(timestamp: Timestamp(nanoseconds: t * 1_000_000), open: o, high: h, low: l, close: c, volume: v)
        }
    }
    let e: String
    let k: Kline
}
