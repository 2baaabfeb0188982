/// Which venue live trading uses.
public enum LiveExchange: String, Sendable, Equatable, CaseIterable, Encodable {
    /// In-process paper trading: the backtest's fill model on replayed bars.
    case paper
    /// Binance spot (testnet unless `testnet: false`).
    case binance
}

/// What live trading does at start with a venue balance of the traded asset
/// that the order store cannot explain.
public enum UnknownPositionPolicy: String, Sendable, Equatable, CaseIterable, Encodable {
    /// Refuse to start, saying what was found (the default).
    case refuse
    /// Trade it as the bot's position (exit it at the next exit signal).
    case adopt
}

/// Live and paper trading settings (`crocbot live`).
///
/// ```yaml
/// live:
///   exchange: paper          # or binance
///   symbol: BTCUSDT          # Binance: one symbol ...
///   symbols: [BTCUSDT, ETHUSDT]  # ... or many on one account, over one combined stream
///   sliceGrace: 5            # seconds a time slice waits for a symbol that sent nothing
///   speed: 180000            # replay: 1 h bars at 50 per second
///   host: 127.0.0.1
///   port: 8080
///   token: ""                # bearer token for everything but /health (or CROCBOT_LIVE__TOKEN);
///                            # required when host is not a loopback address
///   store: ""                # default output/live-orders-<venue>[-testnet].sqlite
///   cancelOpenOrdersOnShutdown: true
///   restURL: ""              # override the venue's REST URL (testnets, regional endpoints, local servers)
///   streamURL: ""            # override the venue's WebSocket URL
///   onUnknownPosition: refuse  # or adopt: a venue balance the store cannot explain
///   resolveWithin: 30        # seconds: an order whose outcome is unknown is resent or ended by then
/// ```
public struct LiveConfig: Sendable, Equatable, Encodable {
    /// The venue.
    public var exchange: LiveExchange
    /// Binance: use the testnet.
    public var testnet: Bool
    /// Binance: the symbol, e.g. `BTCUSDT`.
    public var symbol: String
    /// Binance: several symbols traded on one account over one combined stream (the
    /// portfolio engine; empty: `symbol` alone). They must share a quote asset.
    public var symbols: [String]
    /// Binance, several symbols: seconds a minute's slice waits for a symbol that sent nothing.
    public var sliceGrace: Double
    /// The symbols traded: `symbols`, or `[symbol]` when it is empty.
    public var tradedSymbols: [String] { symbols.isEmpty ? [symbol] : symbols }
    /// Binance: the kline interval, e.g. `1m` (also the bar length built from trades).
    public var interval: String
    /// Binance: the market stream, `kline` (the venue's bars) or `trade` (trades aggregated into bars here).
    public var stream: String
    /// Replay speed: seconds of data per second of wall time.
    public var speed: Double
    /// HTTP bind address.
    public var host: String
    /// HTTP port (0: any free port).
    public var port: Int
    /// Bearer token required for everything but `/health` (empty: none).
    public var token: String
    /// The SQLite order store (written before every order is sent).
    public var store: String
    /// Cancel working orders on shutdown (else they stay at the venue and are reconciled on restart).
    public var cancelOpenOrdersOnShutdown: Bool
    /// Orders in flight at most.
    public var maxInFlight: Int
    /// Queued orders at most.
    public var queueCapacity: Int
    /// Keep serving the status page after a replay ends, until SIGINT/SIGTERM.
    public var serveAfterReplay: Bool
    /// The venue's REST base URL (empty: the venue's default for `testnet`).
    public var restURL: String
    /// The venue's market-data WebSocket base URL (empty: the venue's default for `testnet`).
    public var streamURL: String
    /// What to do at start with a venue balance the order store cannot explain.
    public var onUnknownPosition: UnknownPositionPolicy
    /// Seconds within which an order whose outcome is unknown is resent (same id) or ended.
    public var resolveWithin: Double

    /// Creates live settings.
    public init(
        exchange: LiveExchange = .paper,
        testnet: Bool = true,
        symbol: String = "BTCUSDT",
        interval: String = "1m",
        stream: String = "kline",
        speed: Double = 180_000,
        host: String = "127.0.0.1",
        port: Int = 8080,
        token: String = "",
        store: String = "",
        cancelOpenOrdersOnShutdown: Bool = true,
        maxInFlight: Int = 8,
        queueCapacity: Int = 1024,
        serveAfterReplay: Bool = true,
        restURL: String = "",
        streamURL: String = "",
        onUnknownPosition: UnknownPositionPolicy = .refuse,
        resolveWithin: Double = 30,
        symbols: [String] = [],
        sliceGrace: Double = 5
    ) {
        self.symbols = symbols
        self.sliceGrace = sliceGrace
        self.restURL = restURL
        self.streamURL = streamURL
        self.onUnknownPosition = onUnknownPosition
        self.resolveWithin = resolveWithin
        self.exchange = exchange
        self.testnet = testnet
        self.symbol = symbol
        self.interval = interval
        self.stream = stream
        self.speed = speed
        self.host = host
        self.port = port
        self.token = token
        self.store = store
        self.cancelOpenOrdersOnShutdown = cancelOpenOrdersOnShutdown
        self.maxInFlight = maxInFlight
        self.queueCapacity = queueCapacity
        self.serveAfterReplay = serveAfterReplay
    }

    /// Kline intervals Binance accepts.
    public static let intervals = ["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"]

    /// Reads and validates the section.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys([
            "exchange", "testnet", "symbol", "interval", "stream", "speed", "host", "port", "token", "store", "cancelOpenOrdersOnShutdown",
            "maxInFlight", "queueCapacity", "serveAfterReplay", "restURL", "streamURL", "onUnknownPosition", "resolveWithin",
            "symbols", "sliceGrace",
        ])
        self.init(
            exchange: try r.choice("exchange", default: .paper),
            testnet: try r.bool("testnet", default: true),
            symbol: try r.string("symbol", default: "BTCUSDT"),
            interval: try r.string("interval", default: "1m"),
            stream: try r.string("stream", default: "kline"),
            speed: try r.double("speed", default: 180_000),
            host: try r.string("host", default: "127.0.0.1"),
            port: try r.int("port", default: 8080),
            token: try r.string("token", default: ""),
            store: try r.string("store", default: ""),
            cancelOpenOrdersOnShutdown: try r.bool("cancelOpenOrdersOnShutdown", default: true),
            maxInFlight: try r.int("maxInFlight", default: 8),
            queueCapacity: try r.int("queueCapacity", default: 1024),
            serveAfterReplay: try r.bool("serveAfterReplay", default: true),
            restURL: try r.string("restURL", default: ""),
            streamURL: try r.string("streamURL", default: ""),
            onUnknownPosition: try r.choice("onUnknownPosition", default: .refuse),
            resolveWithin: try r.double("resolveWithin", default: 30),
            symbols: try r.stringList("symbols"),
            sliceGrace: try r.double("sliceGrace", default: 5)
        )
        func fail(_ key: String, _ rule: String) -> ConfigError {
            ConfigError(.invalidValue, keyPath: r.childPath(key), rule: rule, source: r.source)
        }
        guard speed > 0, speed.isFinite else { throw fail("speed", "must be > 0, found \(speed)") }
        guard (0...65_535).contains(port) else { throw fail("port", "must be in 0...65535, found \(port)") }
        guard (1...256).contains(maxInFlight) else { throw fail("maxInFlight", "must be in 1...256, found \(maxInFlight)") }
        guard (1...1_000_000).contains(queueCapacity) else { throw fail("queueCapacity", "must be in 1...1000000, found \(queueCapacity)") }
        guard Self.intervals.contains(interval) else {
            throw fail("interval", "must be one of \(Self.intervals.joined(separator: ", ")), found '\(interval)'")
        }
        guard !symbol.isEmpty, symbol.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw fail("symbol", "must be letters and digits, found '\(symbol)'")
        }
        var seen = Set<String>()
        for (i, s) in symbols.enumerated() {
            guard !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw fail("symbols[\(i)]", "must be letters and digits, found '\(s)'")
            }
            guard seen.insert(s.uppercased()).inserted else { throw fail("symbols[\(i)]", "'\(s)' is listed twice") }
        }
        guard sliceGrace >= 0.1, sliceGrace <= 3600 else { throw fail("sliceGrace", "must be in 0.1...3600 seconds, found \(sliceGrace)") }
        // Binance serves at most 1,024 streams on one connection.
        guard symbols.count <= 1024 else { throw fail("symbols", "at most 1024 symbols on one combined stream, found \(symbols.count)") }
        guard Self.isLoopback(host) || !token.isEmpty else {
            throw fail(
                "token",
                "must be set when live.host is not a loopback address (found host '\(host)'): the status server's control endpoints would be open to the network"
            )
        }
        for (key, url) in [("restURL", restURL), ("streamURL", streamURL)] where !url.isEmpty {
            let schemes = key == "restURL" ? ["http://", "https://"] : ["ws://", "wss://"]
            guard schemes.contains(where: { url.hasPrefix($0) }) else {
                throw fail(key, "must start with \(schemes.joined(separator: " or ")), found '\(url)'")
            }
        }
        guard resolveWithin >= 1, resolveWithin <= 3600 else { throw fail("resolveWithin", "must be in 1...3600 seconds, found \(resolveWithin)") }
        guard ["kline", "trade"].contains(stream) else { throw fail("stream", "must be kline or trade, found '\(stream)'") }
    }

    enum CodingKeys: String, CodingKey {
        case exchange, testnet, symbol, interval, stream, speed, host, port, token, store, cancelOpenOrdersOnShutdown, maxInFlight
        case queueCapacity, serveAfterReplay, restURL, streamURL, onUnknownPosition, resolveWithin, symbols, sliceGrace
    }

    /// Encodes the settings with the token masked (configs end up in reports and logs).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(exchange, forKey: .exchange)
        try c.encode(testnet, forKey: .testnet)
        try c.encode(symbol, forKey: .symbol)
        if !symbols.isEmpty {
            try c.encode(symbols, forKey: .symbols)
            try c.encode(sliceGrace, forKey: .sliceGrace)
        }
        try c.encode(interval, forKey: .interval)
        try c.encode(stream, forKey: .stream)
        try c.encode(speed, forKey: .speed)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encode(token.isEmpty ? "" : "***", forKey: .token)
        try c.encode(store, forKey: .store)
        try c.encode(cancelOpenOrdersOnShutdown, forKey: .cancelOpenOrdersOnShutdown)
        try c.encode(maxInFlight, forKey: .maxInFlight)
        try c.encode(queueCapacity, forKey: .queueCapacity)
        try c.encode(serveAfterReplay, forKey: .serveAfterReplay)
        try c.encode(restURL, forKey: .restURL)
        try c.encode(streamURL, forKey: .streamURL)
        try c.encode(onUnknownPosition, forKey: .onUnknownPosition)
        try c.encode(resolveWithin, forKey: .resolveWithin)
    }

    /// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// The order store's path: `store` when set, else one per venue and
    /// network (`output/live-orders-paper.sqlite`,
    /// `output/live-orders-binance-testnet.sqlite`, `output/live-orders-binance.sqlite`),
    /// so testnet and production orders never share a store.
    public func storePath(paper: Bool) -> String {
        if !store.isEmpty { return store }
        if paper || exchange == .paper { return "output/live-orders-paper.sqlite" }
        return "output/live-orders-\(exchange.rawValue)\(testnet ? "-testnet" : "").sqlite"
    }

    /// The interval as a duration.
    public var intervalDuration: Duration {
        let n = Int64(interval.dropLast()) ?? 1
        switch interval.last {
        case "s": return .seconds(n)
        case "m": return .seconds(n * 60)
        case "h": return .seconds(n * 3600)
        default: return .seconds(n * 86_400)
        }
    }
}
