import CrocCore
import CrocData
import CrocExecution
import CrocStrategies
import CrocSupport
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Why the live runtime could not be assembled.
public struct LiveRuntimeError: Error, Sendable, CustomStringConvertible {
    /// A message for people.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// `crocbot live`, assembled: every component is built in a
/// `ServiceContainer` factory from `AppConfig`, and the long-running ones
/// form a swift-service-lifecycle `ServiceGroup`:
///
/// 1. process metrics (`crocbot_uptime_seconds`, `crocbot_build_info`);
/// 2. the executor (start + reconcile; on shutdown: in-flight orders finish or
///    time out, working orders cancelled or kept as configured, store flushed);
/// 3. the HTTP endpoint (`/metrics`, `/health`, `/api/status`, `/`);
/// 4. the feed and the engine (`runLiveLoop`).
///
/// SIGINT/SIGTERM shut the group down gracefully in reverse order — data
/// stops first, the executor last — and `run()` returns normally (exit 0). A
/// service that fails shuts the others down the same way and `run()` throws
/// its error (logged by the group).
public struct LiveRuntime: Sendable {
    /// Where the components were built.
    public let container: ServiceContainer
    /// What the status page shows.
    public let status: LiveStatusBoard
    /// The HTTP endpoint (its `boundPort` tells where it listens).
    public let server: StatusServer
    /// The executor.
    public let executor: MarketOrderExecutor
    /// The services, in start order.
    public let services: [any Service]
    private let logger: Logger

    /// Where market data comes from.
    public enum Feed: Sendable {
        /// A historical series replayed at `config.live.speed`.
        case replay(BarSeries, label: String)
        /// Binance klines over WebSocket (`config.live.symbol`, `.interval`).
        case binance(BinanceKlineFeed.Configuration)
    }

    /// Builds the runtime.
    /// - Parameters:
    ///   - config: The validated configuration (`live:`, `strategy:`, `backtest:` for cash and costs).
    ///   - feed: The market data.
    ///   - instrument: The traded instrument.
    ///   - registry: What `/metrics` exposes (the one bootstrapped into swift-metrics).
    ///   - environment: For exchange keys (`BINANCE_API_KEY`, `BINANCE_API_SECRET`).
    ///   - logger: The root logger.
    ///   - paper: Trade on the in-process paper venue even with a Binance feed.
    ///   - exitAtEnd: End when the replay ends instead of serving until a signal.
    /// - Throws: `LiveRuntimeError`, `ConfigError`, `StrategyError`, `OrderStoreError`, `ExecutionError`.
    public init(
        config: AppConfig,
        feed: Feed,
        instrument: Instrument,
        registry: PrometheusCollectorRegistry,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "crocbot.live"),
        paper: Bool = false,
        exitAtEnd: Bool = false
    ) throws {
        let live = config.live
        let onPaper = paper || live.exchange == .paper
        let options = try LiveRuntime.ledger(config.backtest)
        let container = ServiceContainer()
        container.register(instance: registry)
        container.register(instance: LiveStatusBoard())
        container.register((any Strategy).self) { _ in try StrategyFactory.standard.make(config.strategy) }
        container.register((any OrderStore).self) { _ in
            let dir = (live.store as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            return try SQLiteOrderStore(path: live.store)
        }
        if onPaper {
            container.register(SimulatedExecutionClient.self) { _ in
                SimulatedExecutionClient(
                    instrument: instrument,
                    fees: options.fees,
                    fillTiming: config.backtest.fillAt,
                    allowShort: config.backtest.allowShort,
                    cash: options.cash
                )
            }
            container.register((any ExecutionClient).self) { c in try c.resolve(SimulatedExecutionClient.self) }
        } else {
            container.register((any ExecutionClient).self) { _ in
                let credentials = try BinanceCredentials.fromEnvironment(environment)
                let url = live.testnet ? BinanceSpotClient.Configuration.testnetURL : BinanceSpotClient.Configuration.productionURL
                return BinanceSpotClient(credentials: credentials, configuration: .init(baseURL: url), logger: Logger(label: "crocbot.binance"))
            }
        }
        container.register(MarketOrderExecutor.self) { c in
            MarketOrderExecutor(
                client: try c.resolve((any ExecutionClient).self),
                store: try c.resolve((any OrderStore).self),
                configuration: ExecutorConfiguration(maxInFlight: live.maxInFlight, queueCapacity: live.queueCapacity),
                logger: Logger(label: "crocbot.executor")
            )
        }
        container.register((any LiveVenue).self) { c in
            let executor = try c.resolve(MarketOrderExecutor.self)
            let simulated = onPaper ? try c.resolve(SimulatedExecutionClient.self) : nil
            return ExecutorVenue(executor: executor, simulated: simulated)
        }
        container.register(StatusServer.self) { c in
            StatusServer(
                host: live.host,
                port: live.port,
                token: live.token.isEmpty ? nil : live.token,
                registry: try c.resolve(PrometheusCollectorRegistry.self),
                status: try c.resolve(LiveStatusBoard.self)
            )
        }

        let status = try container.resolve(LiveStatusBoard.self)
        let server = try container.resolve(StatusServer.self)
        let executor = try container.resolve(MarketOrderExecutor.self)
        let strategy = try container.resolve((any Strategy).self)
        let venue = try container.resolve((any LiveVenue).self)
        let started = ReadyLatch()
        let settings = LiveLoopSettings(
            instrument: instrument,
            cash: options.cash,
            fees: options.fees,
            runID: "live",
            barInterval: nil,
            settleTimeout: .seconds(10)
        )
        let loopLogger = Logger(label: "crocbot.live")
        let metrics = LiveMetrics()
        let loop: any Service
        switch feed {
        case .replay(let series, let label):
            status.update {
                $0.feed = "replay \(label) ×\(Int(live.speed))"
                $0.venue = "paper"
            }
            loop = LiveLoopService(
                stream: ReplayStream(series: series, speed: .scaled(live.speed)),
                strategy: strategy,
                executor: executor,
                venue: venue,
                settings: settings,
                status: status,
                executorStarted: started,
                waitForShutdownAtEnd: live.serveAfterReplay && !exitAtEnd,
                logger: loopLogger,
                metrics: metrics
            )
        case .binance(let feedConfig):
            status.update {
                $0.feed = "binance " + (feedConfig.streamURL.split(separator: "/").last.map(String.init) ?? feedConfig.symbol)
                $0.venue = onPaper ? "paper" : (live.testnet ? "binance-testnet" : "binance")
            }
            var s = settings
            s.barInterval = live.intervalDuration
            loop = LiveLoopService(
                stream: BinanceKlineFeed(configuration: feedConfig, metrics: metrics, status: status, logger: Logger(label: "crocbot.feed")),
                strategy: strategy,
                executor: executor,
                venue: venue,
                settings: s,
                status: status,
                executorStarted: started,
                waitForShutdownAtEnd: !exitAtEnd,
                logger: loopLogger,
                metrics: metrics
            )
        }
        self.container = container
        self.status = status
        self.server = server
        self.executor = executor
        self.logger = logger
        self.services = [
            ProcessMetricsService(version: "0.1.0"),
            ExecutorService(
                executor: executor,
                cancelOpenOrders: live.cancelOpenOrdersOnShutdown,
                started: started,
                logger: logger,
                reconcileEvery: onPaper ? nil : .seconds(5)
            ),
            server.makeApplication(logger: Logger(label: "crocbot.http")),
            loop,
        ]
    }

    /// Runs every service until the replay ends (with `exitAtEnd`), a signal
    /// arrives, or a service fails.
    /// - Parameter signals: Signals that shut down gracefully (default SIGINT and SIGTERM).
    /// - Throws: the first service error, after the others shut down.
    public func run(signals: [UnixSignal] = [.sigint, .sigterm]) async throws {
        try await makeServiceGroup(signals: signals).run()
    }

    /// The service group `run()` runs (tests trigger its graceful shutdown
    /// as a signal would).
    public func makeServiceGroup(signals: [UnixSignal] = [.sigint, .sigterm]) -> ServiceGroup {
        let configs = services.map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0,
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup
            )
        }
        var configuration = ServiceGroupConfiguration(services: configs, gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(60)
        return ServiceGroup(configuration: configuration)
    }

    /// Cash and costs from the backtest section (the paper ledger uses the same).
    static func ledger(_ s: BacktestSettings) throws -> (cash: Money, fees: FeeModel) {
        guard let cash = FixedPoint(rounding: s.cash), let rate = FixedPoint(rounding: s.commission),
            let fixed = FixedPoint(rounding: s.commissionFixed), let slip = FixedPoint(rounding: s.slippageBps)
        else { throw LiveRuntimeError("backtest: cash, commission and slippage must be finite and below 9.2e10") }
        return (cash, FeeModel(commissionRate: rate, commissionFixed: fixed, slippageBps: slip))
    }
}
