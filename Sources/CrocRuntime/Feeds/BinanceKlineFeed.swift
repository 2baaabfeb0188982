import AsyncHTTPClient
import CoreMetrics
import CrocCore
import CrocData
import CrocExecution
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import WSClient

/// Binance market data as a live `MarketDataStream` of bars, over the
/// WebSocket market stream `<symbol>@kline_<interval>` or `<symbol>@trade`.
///
/// With several symbols (`Configuration.symbols`), one combined stream
/// (`/stream?streams=a@kline_1m/b@kline_1m/...`) carries them all, and the
/// feed yields `.slice` events (lanes in the order of `symbols`) assembled by
/// `SliceAssembler`: a time's slice leaves when every symbol has moved past it,
/// or `sliceGrace` after its first bar (a symbol that sent nothing is absent).
/// Gaps are backfilled and duplicates skipped per symbol.
///
/// - Klines: only closed klines (`"x": true`) become bars, stamped with their open time.
/// - Trades: trades are aggregated into bars of the interval (`TradeBarAggregator`);
///   a bar is complete when the first trade of a later interval arrives. After
///   a reconnect the interrupted bar is discarded and fetched whole over REST
///   (a bar built from part of its trades would be wrong).
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

    /// Which market stream.
    public enum StreamKind: String, Sendable, Hashable, CaseIterable {
        /// `<symbol>@kline_<interval>`: the venue's bars.
        case kline
        /// `<symbol>@trade`: every trade, aggregated here into bars.
        case trade
    }

    /// Where and what to stream.
    public struct Configuration: Sendable {
        /// Klines or trades.
        public var stream: StreamKind
        /// The symbol, e.g. `BTCUSDT` (the first of `symbols`).
        public var symbol: String
        /// Every symbol, in lane order; more than one: a combined stream of slices.
        public var symbols: [String]
        /// How long a slice waits for a symbol that has not sent its bar.
        public var sliceGrace: Duration
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
            stream: StreamKind = .kline,
            symbol: String,
            interval: String,
            intervalDuration: Duration,
            webSocketURL: String = "wss://stream.testnet.binance.vision",
            restURL: String = "https://testnet.binance.vision",
            reconnectBaseDelay: Duration = .milliseconds(500),
            reconnectMaxDelay: Duration = .seconds(30),
            idleTimeout: Duration = .seconds(90),
            pingInterval: Duration = .seconds(30),
            symbols: [String]? = nil,
            sliceGrace: Duration = .seconds(5)
        ) {
            self.stream = stream
            self.symbols = symbols.flatMap { $0.isEmpty ? nil : $0 } ?? [symbol]
            self.symbol = self.symbols[0]
            self.sliceGrace = sliceGrace
            self.interval = interval
            self.intervalDuration = intervalDuration
            self.webSocketURL = webSocketURL
            self.restURL = restURL
            self.reconnectBaseDelay = reconnectBaseDelay
            self.reconnectMaxDelay = reconnectMaxDelay
            self.idleTimeout = idleTimeout
            self.pingInterval = pingInterval
        }

        /// Whether the feed streams several symbols (a combined stream of slices).
        public var isCombined: Bool { symbols.count > 1 }

        /// One symbol's stream name, e.g. `btcusdt@kline_1m`.
        func streamName(_ symbol: String) -> String {
            switch stream {
            case .kline: return "\(symbol.lowercased())@kline_\(interval)"
            case .trade: return "\(symbol.lowercased())@trade"
            }
        }

        /// The stream's URL: `/ws/<stream>` for one symbol, `/stream?streams=a/b/...` for several.
        public var streamURL: String {
            guard isCombined else { return "\(webSocketURL)/ws/\(streamName(symbol))" }
            return "\(webSocketURL)/stream?streams=" + symbols.map(streamName).joined(separator: "/")
        }
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
        /// Combined streams: bars for a time whose slice had already left without them.
        public var late = 0
        /// Combined streams: slices that left after the grace with some symbol missing.
        public var incompleteSlices = 0
    }

    /// The settings.
    public let configuration: Configuration
    private let metrics: LiveMetrics
    private let status: LiveStatusBoard?
    private let logger: Logger
    private let httpClient: HTTPClient
    private let counterBox = LockedBox(Counters())
    /// Each symbol's lane (upper case), for combined streams.
    private let lanes: [String: Int]

    /// Creates a feed; nothing connects until iteration starts.
    public init(
        configuration: Configuration,
        metrics: LiveMetrics = LiveMetrics(),
        status: LiveStatusBoard? = nil,
        logger: Logger = Logger(label: "crocbot.feed"),
        httpClient: HTTPClient = .shared
    ) {
        self.configuration = configuration
        self.lanes = Dictionary(configuration.symbols.enumerated().map { ($1.uppercased(), $0) }, uniquingKeysWith: { a, _ in a })
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
        let step = Int64(configuration.intervalDuration.components.seconds) * 1000
        let assembler = LockedBox(SliceAssembler(lanes: configuration.symbols.count, graceNanoseconds: configuration.sliceGrace.nanoseconds))
        let epoch = ContinuousClock.now
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
                    let aggregators = LockedBox(
                        Array(repeating: TradeBarAggregator(intervalMilliseconds: step), count: configuration.symbols.count)
                    )
                    status?.update { $0.ready = true }
                    logger.notice("feed connected", metadata: ["stream": "\(configuration.streamURL)"])
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let lastMessage = LockedBox(ContinuousClock.now)
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                lastMessage.withLock { $0 = .now }
                                guard case .text(let text) = message else { continue }
                                if configuration.isCombined {
                                    await handleCombined(text, assembler: assembler, epoch: epoch, aggregators: aggregators, out: out)
                                } else {
                                    try await handle(text, last: last, aggregators: aggregators, out: out)
                                }
                            }
                        }
                        if configuration.isCombined {
                            group.addTask {
                                // A slice waiting for a silent symbol leaves after the grace.
                                let tick = Swift.min(configuration.sliceGrace / 2, .seconds(1))
                                while true {
                                    try await Task.sleep(for: Swift.max(tick, .milliseconds(10)))
                                    emit(assembler.withLock { $0.expire(now: (ContinuousClock.now - epoch).nanoseconds) }, assembler, out)
                                }
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
            } catch {
                // Only our own cancellation ends the feed; a CancellationError from inside the
                // client (its tasks torn down with the connection) is a dropped connection.
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
            let base =
                Double(configuration.reconnectBaseDelay.components.attoseconds) / 1e18 + Double(configuration.reconnectBaseDelay.components.seconds)
            let cap =
                Double(configuration.reconnectMaxDelay.components.seconds) + Double(configuration.reconnectMaxDelay.components.attoseconds) / 1e18
            let wait = Swift.min(cap, base * pow(2, Double(Swift.min(failures - 1, 20)))) * Double.random(in: 0.8...1.2)
            logger.warning("feed reconnecting", metadata: ["in_seconds": "\(String(format: "%.2f", wait))", "attempt": "\(failures)"])
            try? await Task.sleep(for: .seconds(wait))
        }
        out.finish()
    }

    private func handle(
        _ text: String,
        last: LockedBox<Int64?>,
        aggregators: LockedBox<[TradeBarAggregator]>,
        out: AsyncThrowingStream<MarketEvent, any Error>.Continuation
    ) async throws {
        let data = Data(text.utf8)
        switch configuration.stream {
        case .kline:
            guard let kline = try? JSONDecoder().decode(KlineMessage.self, from: data), kline.e == "kline", kline.k.x,
                let bar = kline.k.bar
            else {
                count { $0.ignored += 1 }
                return
            }
            await deliver(bar, openTime: kline.k.t, last: last, out: out)
        case .trade:
            guard let trade = try? JSONDecoder().decode(TradeMessage.self, from: data), trade.e == "trade",
                let price = Double(trade.p), let quantity = Double(trade.q), price >= Bar.minPrice, price <= Bar.maxPrice, quantity >= 0,
                quantity <= Bar.maxVolume
            else {
                count { $0.ignored += 1 }
                return
            }
            if let done = aggregators.withLock({ $0[0].add(price: price, quantity: quantity, timeMilliseconds: trade.T) }) {
                await deliver(done.bar, openTime: done.openTime, last: last, out: out)
            }
        }
    }

    /// A message of a combined stream (`{"stream":"btcusdt@kline_1m","data":{...}}`): its
    /// symbol's bar goes to the assembler, after that symbol's gap (if any) is backfilled.
    private func handleCombined(
        _ text: String,
        assembler: LockedBox<SliceAssembler>,
        epoch: ContinuousClock.Instant,
        aggregators: LockedBox<[TradeBarAggregator]>,
        out: AsyncThrowingStream<MarketEvent, any Error>.Continuation
    ) async {
        let data = Data(text.utf8)
        let lane: Int
        let openTime: Int64
        let bar: Bar
        switch configuration.stream {
        case .kline:
            guard let message = try? JSONDecoder().decode(CombinedMessage<KlineMessage>.self, from: data), message.data.e == "kline",
                message.data.k.x, let b = message.data.k.bar, let k = lanes[message.data.s?.uppercased() ?? ""]
            else {
                count { $0.ignored += 1 }
                return
            }
            (lane, openTime, bar) = (k, message.data.k.t, b)
        case .trade:
            guard let message = try? JSONDecoder().decode(CombinedMessage<TradeMessage>.self, from: data), message.data.e == "trade",
                let k = lanes[message.data.s?.uppercased() ?? ""], let price = Double(message.data.p), let quantity = Double(message.data.q),
                price >= Bar.minPrice, price <= Bar.maxPrice, quantity >= 0, quantity <= Bar.maxVolume
            else {
                count { $0.ignored += 1 }
                return
            }
            guard let done = aggregators.withLock({ $0[k].add(price: price, quantity: quantity, timeMilliseconds: message.data.T) }) else { return }
            (lane, openTime, bar) = (k, done.openTime, done.bar)
        }
        let step = Int64(configuration.intervalDuration.components.seconds) * 1000
        if let previous = assembler.withLock({ $0.lastOpenTime(lane: lane) }), step > 0, openTime > previous + step {
            let symbol = configuration.symbols[lane]
            let filled = await backfill(symbol: symbol, from: previous + step, to: openTime - 1)
            for b in filled where b.openTime < openTime {
                let now = (ContinuousClock.now - epoch).nanoseconds
                let before = assembler.withLock { $0.duplicates }
                emit(assembler.withLock { $0.add(lane: lane, openTime: b.openTime, bar: b.bar, now: now) }, assembler, out)
                if assembler.withLock({ $0.duplicates }) == before { count { $0.backfilled += 1 } }
            }
            if filled.isEmpty {
                logger.error("gap not backfilled", metadata: ["symbol": "\(symbol)", "from_ms": "\(previous + step)", "to_ms": "\(openTime - 1)"])
            }
        }
        let now = (ContinuousClock.now - epoch).nanoseconds
        emit(assembler.withLock { $0.add(lane: lane, openTime: openTime, bar: bar, now: now) }, assembler, out)
    }

    /// Yields assembled slices and mirrors the assembler's drop counts.
    private func emit(
        _ slices: [MarketSlice],
        _ assembler: LockedBox<SliceAssembler>,
        _ out: AsyncThrowingStream<MarketEvent, any Error>.Continuation
    ) {
        for slice in slices { out.yield(.slice(slice)) }
        let (duplicates, late, incomplete) = assembler.withLock { ($0.duplicates, $0.late, $0.incomplete) }
        count {
            $0.duplicates = duplicates
            $0.late = late
            $0.incompleteSlices = incomplete
        }
    }

    private func deliver(_ bar: Bar, openTime t: Int64, last: LockedBox<Int64?>, out: AsyncThrowingStream<MarketEvent, any Error>.Continuation) async
    {
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

    /// Closed klines of `symbol` (default: the first) with open times in [from, to] (ms), oldest first; empty on failure (logged).
    func backfill(symbol: String? = nil, from: Int64, to: Int64) async -> [(openTime: Int64, bar: Bar)] {
        let url =
            "\(configuration.restURL)/api/v3/klines?symbol=\((symbol ?? configuration.symbol).uppercased())&interval=\(configuration.interval)"
            + "&startTime=\(from)&endTime=\(to)&limit=1000"
        do {
            let request = HTTPClientRequest(url: url)
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
                let bar = Bar(timestamp: Timestamp(nanoseconds: t * 1_000_000), open: o, high: h, low: l, close: c, volume: v)
                guard bar.isWithinLedgerRange, l <= Swift.min(o, c), h >= Swift.max(o, c) else {
                    logger.warning("backfilled kline out of range or inconsistent; skipped", metadata: ["open_time_ms": "\(t)"])
                    continue
                }
                out.append((t, bar))
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

/// A message of a combined stream: `{"stream":"<name>","data":{...}}`.
struct CombinedMessage<Payload: Decodable>: Decodable {
    let stream: String
    let data: Payload
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
            let bar = Bar(timestamp: Timestamp(nanoseconds: t * 1_000_000), open: o, high: h, low: l, close: c, volume: v)
            // Prices the exact ledger cannot hold would trap the engine: such a message is ignored (and counted).
            return bar.isWithinLedgerRange ? bar : nil
        }
    }
    let e: String
    let s: String?
    let k: Kline
}

/// A trade event (`{"e":"trade","E":...,"s":"BTCUSDT","t":1,"p":"...","q":"...","T":...}`).
struct TradeMessage: Decodable {
    let e: String
    let s: String?
    let p: String
    let q: String
    let T: Int64
}

/// Builds time bars from trades: open, high, low, close and volume of every
/// trade whose time falls in `[k·interval, (k+1)·interval)`. A bar is
/// complete when a trade of a later interval arrives; trades older than the
/// current bar are dropped (counted). The first interval seen is discarded
/// by default: joining a stream mid-interval gives only part of its trades.
public struct TradeBarAggregator: Sendable {
    /// The bar length in ms.
    public let intervalMilliseconds: Int64
    private var openTime: Int64?
    private var open = 0.0
    private var high = 0.0
    private var low = 0.0
    private var close = 0.0
    private var volume = 0.0
    /// Trades dropped because their interval was already complete.
    public private(set) var lateTrades = 0

    private var discardCurrent: Bool

    /// An empty aggregator.
    /// - Parameter discardFirstInterval: Drop the first interval's bar (it started before we joined).
    public init(intervalMilliseconds: Int64, discardFirstInterval: Bool = true) {
        self.intervalMilliseconds = max(1, intervalMilliseconds)
        self.discardCurrent = discardFirstInterval
    }

    /// Adds a trade; returns the bar it completed, if any (with its open time in ms).
    public mutating func add(price: Double, quantity: Double, timeMilliseconds: Int64) -> (openTime: Int64, bar: Bar)? {
        let bucket = timeMilliseconds - ((timeMilliseconds % intervalMilliseconds) + intervalMilliseconds) % intervalMilliseconds
        guard let current = openTime else {
            start(bucket, price, quantity)
            return nil
        }
        if bucket < current {
            lateTrades += 1
            return nil
        }
        if bucket == current {
            high = Swift.max(high, price)
            low = Swift.min(low, price)
            close = price
            volume += quantity
            return nil
        }
        let done = (
            current, Bar(timestamp: Timestamp(nanoseconds: current * 1_000_000), open: open, high: high, low: low, close: close, volume: volume)
        )
        let discard = discardCurrent
        discardCurrent = false
        start(bucket, price, quantity)
        return discard ? nil : done
    }

    private mutating func start(_ bucket: Int64, _ price: Double, _ quantity: Double) {
        openTime = bucket
        open = price
        high = price
        low = price
        close = price
        volume = quantity
    }
}
