import ArgumentParser
import AsyncHTTPClient
import CoreMetrics
import CrocCore
import CrocData
import CrocPipelines
import CrocRuntime
import CrocStrategies
import CrocSupport
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Prometheus

/// `crocbot live`: runs the bot (`live run`, the default) or controls a running one (`live control`).
struct LiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Trade live or on paper through the same engine as the backtest, and serve /metrics and a status page.",
        subcommands: [LiveRunCommand.self, LiveControlCommand.self],
        defaultSubcommand: LiveRunCommand.self
    )
}

/// `crocbot live [run]`.
struct LiveRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Trade live or on paper through the same engine as the backtest, and serve /metrics and a status page (the default).",
        discussion: """
            With no flags (or --paper): replays the shipped EURUSD hourly data at 50 bars a second
            through the paper venue (the backtest's fill model) with the default strategy, and
            serves http://127.0.0.1:8080/ — a status page with the equity curve and recent
            orders — plus /metrics (Prometheus), /health and /api/status. After the replay the
            page stays up until Ctrl-C (or pass --exit-at-end).

            Orders go through the async executor and are written to an SQLite store before
            they are sent. SIGINT/SIGTERM: data stops, in-flight orders finish or time out,
            working orders are cancelled (live.cancelOpenOrdersOnShutdown), the store is
            flushed, exit 0.

            Binance: --exchange binance streams klines over WebSocket (reconnects, backfills
            gaps over REST) and sends orders to the testnet with keys from BINANCE_API_KEY and
            BINANCE_API_SECRET; add --paper to trade the live stream on paper instead.

            Examples:
              crocbot live --paper
              crocbot live --paper --speed 720000 --port 9090 --exit-at-end
              crocbot live --paper --data Examples/data/GOOGL.csv --strategy sma_cross --param fast=5
              crocbot live --config Examples/live-universe.yaml --exit-at-end     # a universe on paper
              crocbot live --paper --universe Examples/data/SP500_10_CLOSE.csv --strategy momentum_topk --param top=3
              CROCBOT_LIVE__TOKEN=s3cret crocbot live --paper        # bearer auth for all but /health
              crocbot live --exchange binance --testnet --symbol BTCUSDT --interval 1m
              crocbot live --exchange binance --paper --symbol ETHUSDT --stream trade --interval 1s
              crocbot live --exchange binance --paper --symbols BTCUSDT,ETHUSDT,BNBUSDT --strategy equal_weight
              crocbot live --config Examples/live-binance-symbols.yaml --paper   # the same from a file
              CROCBOT_LIVE__TOKEN=s3cret crocbot live control flatten   # operator controls (see `live control --help`)
            """
    )

    @OptionGroup var common: ConfigOptions

    @Flag(name: .long, help: "Trade on paper: the in-process venue with the backtest's fill model (default for replays).")
    var paper = false

    @Option(name: .long, help: "Venue and feed: paper (replay a CSV) or binance (WebSocket klines).")
    var exchange: String?

    @Flag(inversion: .prefixedNo, help: "Binance: use the testnet (default) or production.")
    var testnet = true

    @Option(name: .long, help: "Replay: CSV with date/open/high/low/close[/volume] (default: the shipped EURUSD hourly data).")
    var data: String?

    @OptionGroup var portfolio: UniverseOptions

    @Option(name: .long, help: "Replay speed: seconds of data per second (default 180000: 1 h bars at 50/s).")
    var speed: Double?

    @Option(name: .long, help: "Binance symbol, e.g. BTCUSDT.")
    var symbol: String?

    @Option(name: .long, help: "Binance kline interval, e.g. 1m (also the bar length built from trades).")
    var interval: String?

    @Option(name: .long, help: "Binance market stream: kline (the venue's bars) or trade (trades aggregated into bars).")
    var stream: String?

    @OptionGroup var strategyOptions: StrategyOptions

    @Option(name: .long, help: "HTTP bind address (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "HTTP port (default 8080; 0 picks a free one).")
    var port: Int?

    @Option(name: .long, help: "SQLite order store (default output/live-orders-<venue>[-testnet].sqlite).")
    var store: String?

    @Flag(name: .long, help: "Stop when the replay ends instead of serving until a signal.")
    var exitAtEnd = false

    @Option(name: .long, help: "Write the final metrics (Prometheus text) to this file when the run ends.")
    var metricsOut: String?

    func overrides() throws -> [String: ConfigValue] {
        var o: [String: ConfigValue] = [:]
        if let data { o["data.path"] = .string(data) }
        portfolio.overrides(into: &o)
        try strategyOptions.overrides(into: &o)
        if let exchange { o["live.exchange"] = .string(exchange) }
        if !testnet { o["live.testnet"] = .bool(false) }
        if let speed { o["live.speed"] = .double(speed) }
        if let symbol { o["live.symbol"] = .string(symbol) }
        // --symbols picks a universe's members on paper, and the streamed symbols on Binance.
        if let symbols = portfolio.symbols { o["live.symbols"] = .string(symbols) }
        if let interval { o["live.interval"] = .string(interval) }
        if let stream { o["live.stream"] = .string(stream) }
        if let host { o["live.host"] = .string(host) }
        if let port { o["live.port"] = .int(port) }
        if let store { o["live.store"] = .string(store) }
        return o
    }

    func run() async throws {
        var cfg = try Wiring.reportingErrors { try common.load(overrides: try overrides()) }
        if data == nil, cfg.data.path == Wiring.packaged.resolve(DataConfig.defaultPath) {
            // A replay's default is the shipped EURUSD hourly data (more bars than GOOGL's days).
            cfg.data.path = Wiring.packaged.resolve("Examples/data/EURUSD_1H_ASK.csv")
        }
        CrocLogging.bootstrap(format: cfg.logging.format, level: cfg.logging.level)
        let registry = Self.bootstrapMetrics()
        let logger = Logger(label: "crocbot.live")
        // The final snapshot, also after an error (the agent and its benchmark read it).
        defer { if let metricsOut { Self.writeMetrics(registry, to: metricsOut) } }
        do {
            let runtime = try makeRuntime(cfg, registry: registry, logger: logger)
            try await runtime.run()
            logger.notice("stopped cleanly")
        } catch {
            logger.critical("live trading stopped with an error", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The process's metrics: Prometheus, with microsecond buckets for the latency histograms.
    private static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 20_000, 100_000].map { .microseconds($0) }
        factory.durationHistogramBuckets["crocbot_tick_to_order_seconds"] = fast
        factory.durationHistogramBuckets["crocbot_strategy_seconds"] = fast
        factory.durationHistogramBuckets["crocbot_signal_to_submit_seconds"] = fast
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// `--metrics-out`: the registry as Prometheus text (a failure is reported, not thrown).
    private static func writeMetrics(_ registry: PrometheusCollectorRegistry, to path: String) {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        if !FileManager.default.createFile(atPath: path, contents: Data(bytes)) {
            FileHandle.standardError.write(Data("error: --metrics-out \(path): cannot write the file\n".utf8))
        }
    }

    private func makeRuntime(_ cfg: AppConfig, registry: PrometheusCollectorRegistry, logger: Logger) throws -> LiveRuntime {
        let live = cfg.live
        switch live.exchange {
        case .paper where cfg.data.universe != nil:
            return try makeUniverseRuntime(cfg, path: cfg.data.universe ?? "", registry: registry, logger: logger)
        case .paper:
            let path = cfg.data.path
            let series = try TrainingPipeline.loadSeries(cfg.data)
            let instrument = try Backtester.instrument(for: series, config: cfg.instrument)
            logger.info("replaying", metadata: ["file": "\(path)", "bars": "\(series.count)", "speed": "\(live.speed)"])
            return try LiveRuntime(
                config: cfg,
                feed: .replay(series, label: (path as NSString).lastPathComponent),
                instrument: instrument,
                registry: registry,
                logger: logger,
                exitAtEnd: exitAtEnd
            )
        case .binance:
            if cfg.data.universe != nil {
                throw ConfigError(
                    .invalidValue,
                    keyPath: "data.universe",
                    rule: "a universe replays on paper: use live.exchange: paper (or drop --exchange binance)"
                )
            }
            let symbols = live.tradedSymbols
            var instruments: [Instrument] = []
            for symbol in symbols {
                // The defaults (and per-symbol overrides) until the venue's rules replace them at start.
                let spec = cfg.instrument.spec(for: symbol)
                guard let step = FixedPoint(rounding: spec.quantityStep), step.raw > 0 else {
                    throw ConfigError(.invalidValue, keyPath: "instrument.quantityStep", rule: "not representable")
                }
                instruments.append(Instrument(symbol: symbol, pricePrecision: spec.pricePrecision ?? 8, quantityStep: step))
            }
            let feed = BinanceKlineFeed.Configuration(
                stream: live.stream == "trade" ? .trade : .kline,
                symbol: symbols[0],
                interval: live.interval,
                intervalDuration: live.intervalDuration,
                webSocketURL: LiveRuntime.streamURL(live),
                restURL: LiveRuntime.restURL(live),
                symbols: symbols,
                sliceGrace: .milliseconds(Int64(live.sliceGrace * 1000))
            )
            // Several symbols: one account through the portfolio engine, with a portfolio strategy
            // or one instance of a single-symbol strategy per symbol (--per-symbol), as a universe.
            let strategy =
                symbols.count > 1 ? try Backtester.universeStrategy(cfg.strategy, symbols: symbols, perSymbol: try portfolio.stakeRule()) : nil
            if symbols.count > 1 {
                logger.info("streaming several symbols on one account", metadata: ["symbols": "\(symbols.joined(separator: ","))"])
            }
            return try LiveRuntime(
                config: cfg,
                feed: .binance(feed),
                instrument: instruments[0],
                registry: registry,
                logger: logger,
                paper: paper,
                exitAtEnd: exitAtEnd,
                instruments: instruments,
                strategy: strategy
            )
        }
    }
}

extension LiveRunCommand {
    /// Paper trading a universe: its slices replayed through the portfolio engine, the
    /// executor and the simulated venue (one lane per symbol, one account).
    fileprivate func makeUniverseRuntime(_ cfg: AppConfig, path: String, registry: PrometheusCollectorRegistry, logger: Logger) throws -> LiveRuntime
    {
        let universe = try TrainingPipeline.loadUniverse(cfg.data)
        let instruments = try Backtester.instruments(for: universe, config: cfg.instrument)
        let strategy = try Backtester.universeStrategy(cfg.strategy, symbols: universe.symbols, perSymbol: try portfolio.stakeRule())
        logger.info(
            "replaying a universe",
            metadata: ["path": "\(path)", "symbols": "\(universe.count)", "timestamps": "\(universe.timestamps.count)", "speed": "\(cfg.live.speed)"]
        )
        return try LiveRuntime(
            config: cfg,
            feed: .universe(universe, label: (path as NSString).lastPathComponent),
            instrument: instruments[0],
            registry: registry,
            logger: logger,
            paper: true,
            exitAtEnd: exitAtEnd,
            instruments: instruments,
            strategy: strategy
        )
    }
}

/// `crocbot live control <action>`: operator controls of a running bot, over
/// its authenticated `POST /api/control/<action>` endpoints.
struct LiveControlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control",
        abstract: "Pause or resume new entries, cancel all working orders, flatten, or stop a running bot.",
        discussion: """
            Calls POST /api/control/<action> on the bot's status server with its bearer token
            (--token, or CROCBOT_LIVE__TOKEN). Every control is logged by the bot with a
            fingerprint of the token and the time, and listed on its status page.

              pause       refuse new entries (exits still go)
              resume      take new entries again
              cancel-all  cancel every working order
              flatten     cancel every working order and close the position at the market
              stop        shut down gracefully, as SIGTERM

            Examples:
              CROCBOT_LIVE__TOKEN=s3cret crocbot live control pause
              crocbot live control flatten --url http://127.0.0.1:9090 --token s3cret
            """
    )

    @Argument(help: "pause, resume, cancel-all, flatten or stop.")
    var action: String

    @Option(name: .long, help: "The bot's status server (default http://127.0.0.1:8080).")
    var url: String = "http://127.0.0.1:8080"

    @Option(name: .long, help: "The bearer token (default: CROCBOT_LIVE__TOKEN).")
    var token: String?

    @Option(name: .long, help: "Seconds to wait for the bot's answer, connecting included (default 10).")
    var timeout: Double = 10

    func validate() throws {
        guard timeout.isFinite, timeout > 0, timeout <= 3_600 else {
            throw ValidationError("--timeout must be a number of seconds in (0, 3600], found \(timeout)")
        }
    }

    func run() async throws {
        guard let action = OperatorAction(rawValue: action) else {
            FileHandle.standardError.write(
                Data("error: unknown control '\(action)'; one of: \(OperatorAction.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8)
            )
            throw ExitCode(2)
        }
        guard let token = token ?? ProcessInfo.processInfo.environment["CROCBOT_LIVE__TOKEN"], !token.isEmpty else {
            FileHandle.standardError.write(Data("error: operator controls need the bot's token: --token or CROCBOT_LIVE__TOKEN\n".utf8))
            throw ExitCode(2)
        }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        var request = HTTPClientRequest(url: base + "/api/control/" + action.rawValue)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64((timeout * 1000).rounded())))
            let body = try await response.body.collect(upTo: 1 << 20)
            let text = String(buffer: body)
            guard (200..<300).contains(Int(response.status.code)) else {
                FileHandle.standardError.write(Data("error: \(action.rawValue): HTTP \(response.status.code): \(text)\n".utf8))
                throw ExitCode(1)
            }
            print(text)
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data("error: \(action.rawValue): cannot reach \(base): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
