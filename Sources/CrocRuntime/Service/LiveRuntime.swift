import CrocCore
import CrocData
import CrocEngine
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
    /// The operator's channel (what `POST /api/control/...` writes).
    public let controls: LiveControls
    /// The services, in start order.
    public let services: [any Service]
    private let logger: Logger

    /// Where market data comes from.
    public enum Feed: Sendable {
        /// A historical series replayed at `config.live.speed`.
        case replay(BarSeries, label: String)
        /// Binance klines over WebSocket (`config.live.symbol`, `.interval`); with several
        /// symbols (`config.live.symbols`), one combined stream of slices, traded on one account.
        case binance(BinanceKlineFeed.Configuration)
        /// A universe replayed as time slices at `config.live.speed` (paper only): every
        /// symbol on one account, through the portfolio engine.
        case universe(Universe, label: String)
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
    ///   - instruments: Every traded instrument, in lane order, for a `.universe` feed
    ///     (nil: `instrument` alone).
    ///   - strategy: The strategy to run (nil: `config.strategy` from the standard factory;
    ///     a universe passes the one `Backtester.universeStrategy` builds).
    /// - Throws: `LiveRuntimeError`, `ConfigError`, `StrategyError`, `OrderStoreError`, `ExecutionError`.
    public init(
        config: AppConfig,
        feed: Feed,
        instrument: Instrument,
        registry: PrometheusCollectorRegistry,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "crocbot.live"),
        paper: Bool = false,
        exitAtEnd: Bool = false,
        instruments: [Instrument]? = nil,
        strategy chosen: (any Strategy)? = nil
    ) throws {
        let live = config.live
        let instruments = instruments ?? [instrument]
        switch feed {
        case .universe:
            guard paper || live.exchange == .paper else {
                throw LiveRuntimeError("a universe replay trades on paper only (live.exchange: paper, or --paper)")
            }
        case .binance(let f):
            guard instruments.map(\.symbol) == f.symbols else {
                throw LiveRuntimeError(
                    "the feed streams \(f.symbols.joined(separator: ",")) but the run trades \(instruments.map(\.symbol).joined(separator: ",")): "
                        + "one instrument per streamed symbol, in the same order"
                )
            }
        case .replay:
            if instruments.count > 1 { throw LiveRuntimeError("many instruments need a universe feed (--universe) or live.symbols") }
        }
        let onPaper = paper || live.exchange == .paper
        let options = try LiveRuntime.ledger(config.backtest)
        // The same limits as a backtest's; a real venue adds safe defaults where none are set.
        let engineRisk = try LiveRuntime.riskLimits(config.risk, budget: options.cash, realVenue: !onPaper)
        let storePath = live.storePath(paper: onPaper)
        let container = ServiceContainer()
        container.register(instance: registry)
        container.register(instance: LiveStatusBoard())
        container.register((any Strategy).self) { _ in try chosen ?? StrategyFactory.standard.make(config.strategy) }
        container.register((any OrderStore).self) { _ in
            let dir = (storePath as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            // Order rows are fsynced (power loss loses nothing); one process per store.
            return try SQLiteOrderStore(path: storePath, durability: .powerLoss, exclusive: true)
        }
        if onPaper {
            container.register(SimulatedExecutionClient.self) { _ in
                SimulatedExecutionClient(
                    instruments: instruments,
                    fees: options.fees,
                    fillTiming: config.backtest.fillAt,
                    allowShort: config.backtest.allowShort,
                    cash: options.cash
                )
            }
            container.register((any ExecutionClient).self) { c in try c.resolve(SimulatedExecutionClient.self) }
        } else {
            container.register(BinanceSpotClient.self) { _ in
                let credentials = try BinanceCredentials.fromEnvironment(environment)
                return BinanceSpotClient(
                    credentials: credentials,
                    configuration: .init(baseURL: LiveRuntime.restURL(live)),
                    logger: logger.component("binance")
                )
            }
            container.register((any ExecutionClient).self) { c in try c.resolve(BinanceSpotClient.self) }
        }
        container.register(MarketOrderExecutor.self) { c in
            var executorConfig = ExecutorConfiguration(maxInFlight: live.maxInFlight, queueCapacity: live.queueCapacity)
            if !onPaper {
                // A real venue: the executor checks the limits again on the wall clock, waits out the
                // venue's receive window before resending anything it may have sent, and resolves every
                // order within live.resolveWithin.
                executorConfig.risk = engineRisk
                executorConfig.venueReceiveWindow = .seconds(6)
                executorConfig.recoveryGrace = .seconds(6)
                executorConfig.resolveWithin = .milliseconds(Int64(live.resolveWithin * 1000))
            }
            return MarketOrderExecutor(
                client: try c.resolve((any ExecutionClient).self),
                store: try c.resolve((any OrderStore).self),
                configuration: executorConfig,
                logger: logger.component("executor")
            )
        }
        container.register((any LiveVenue).self) { c in
            let executor = try c.resolve(MarketOrderExecutor.self)
            let simulated = onPaper ? try c.resolve(SimulatedExecutionClient.self) : nil
            return ExecutorVenue(executor: executor, simulated: simulated)
        }
        container.register(instance: LiveControls())
        container.register(StatusServer.self) { c in
            StatusServer(
                host: live.host,
                port: live.port,
                token: live.token.isEmpty ? nil : live.token,
                registry: try c.resolve(PrometheusCollectorRegistry.self),
                status: try c.resolve(LiveStatusBoard.self),
                controls: try c.resolve(LiveControls.self),
                logger: logger.component("http")
            )
        }

        let status = try container.resolve(LiveStatusBoard.self)
        let server = try container.resolve(StatusServer.self)
        let executor = try container.resolve(MarketOrderExecutor.self)
        let strategy = try container.resolve((any Strategy).self)
        let venue = try container.resolve((any LiveVenue).self)
        let controls = try container.resolve(LiveControls.self)
        let started = ReadyLatch()
        let settings = LiveLoopSettings(
            instrument: instrument,
            cash: options.cash,
            fees: options.fees,
            runID: "live",
            barInterval: nil,
            settleTimeout: .seconds(10),
            risk: engineRisk,
            instruments: instruments,
            fillTiming: config.backtest.fillAt,
            allowShort: config.backtest.allowShort
        )
        status.update { $0.riskLimits = engineRisk.summary }
        logger.notice("risk limits in force", metadata: ["limits": "\(engineRisk.summary)", "store": "\(storePath)"])
        // A real venue: before the first bar, load its rules and reconcile the position and cash with it.
        var prepare: (@Sendable (LiveLoopSettings) async throws -> LiveLoopSettings)?
        if !onPaper {
            let binance = try container.resolve(BinanceSpotClient.self)
            let policy = live.onUnknownPosition
            let recoveryLogger = logger.component("recovery")
            prepare = { current in
                try await binance.syncTime()
                var rules: [VenueRules] = []
                for i in current.instruments {
                    rules.append(try await binance.rules(symbol: i.symbol, deadline: .now + .seconds(10)))
                }
                let start = try await LiveRecovery.reconcile(
                    executor: executor,
                    client: binance,
                    rules: rules,
                    budget: current.cash,
                    onUnknownPosition: policy,
                    logger: recoveryLogger
                )
                var next = current
                // The venue's rules become the engine's instruments (price precision, quantity step).
                next.instruments = zip(current.instruments, rules).map { i, r in
                    Instrument(symbol: i.symbol, pricePrecision: r.pricePrecision, quantityStep: r.stepSize.raw > 0 ? r.stepSize : i.quantityStep)
                }
                next.cash = start.cash
                next.startPositions = start.positions
                status.update { $0.recovery = start.summary }
                return next
            }
        }
        let loopLogger = logger.component("loop")
        let metrics = LiveMetrics()
        // A replay (one series or a universe) on paper; the same loop for both streams.
        func replayLoop<S: MarketDataStream>(_ stream: S, feed: String) -> any Service {
            status.update {
                $0.feed = feed
                $0.venue = "paper"
            }
            return LiveLoopService(
                stream: stream,
                strategy: strategy,
                executor: executor,
                venue: venue,
                settings: settings,
                status: status,
                executorStarted: started,
                waitForShutdownAtEnd: live.serveAfterReplay && !exitAtEnd,
                logger: loopLogger,
                metrics: metrics,
                controls: controls
            )
        }
        let loop: any Service
        switch feed {
        case .replay(let series, let label):
            loop = replayLoop(ReplayStream(series: series, speed: .scaled(live.speed)), feed: "replay \(label) ×\(Int(live.speed))")
        case .universe(let universe, let label):
            loop = replayLoop(
                UniverseReplayStream(universe: universe, speed: .scaled(live.speed)),
                feed: "replay \(label) (\(universe.count) symbols) ×\(Int(live.speed))"
            )
        case .binance(let feedConfig):
            status.update {
                $0.feed =
                    feedConfig.isCombined
                    ? "binance \(feedConfig.symbols.count) symbols (\(feedConfig.symbols.joined(separator: ",")))"
                    : "binance " + (feedConfig.streamURL.split(separator: "/").last.map(String.init) ?? feedConfig.symbol)
                $0.venue = onPaper ? "paper" : (live.testnet ? "binance-testnet" : "binance")
            }
            var s = settings
            s.barInterval = live.intervalDuration
            loop = LiveLoopService(
                stream: BinanceKlineFeed(configuration: feedConfig, metrics: metrics, status: status, logger: logger.component("feed")),
                strategy: strategy,
                executor: executor,
                venue: venue,
                settings: s,
                status: status,
                executorStarted: started,
                waitForShutdownAtEnd: !exitAtEnd,
                logger: loopLogger,
                metrics: metrics,
                controls: controls,
                prepare: prepare
            )
        }
        self.container = container
        self.status = status
        self.server = server
        self.executor = executor
        self.controls = controls
        self.logger = logger
        self.services = [
            ProcessMetricsService(version: CrocBotVersion.current),
            ExecutorService(
                executor: executor,
                cancelOpenOrders: live.cancelOpenOrdersOnShutdown,
                started: started,
                logger: logger,
                reconcileEvery: onPaper ? nil : .seconds(5),
                status: status
            ),
            server.makeApplication(logger: logger.component("http")),
            loop,
        ]
    }

    /// Runs every service until the replay ends (with `exitAtEnd`), a signal
    /// arrives, or a service fails.
    /// - Parameter signals: Signals that shut down gracefully (default SIGINT and SIGTERM).
    /// - Throws: the first service error, after the others shut down.
    public func run(signals: [UnixSignal] = [.sigint, .sigterm]) async throws {
        let group = makeServiceGroup(signals: signals)
        let controls = self.controls
        let logger = self.logger
        // An operator's `stop` shuts the group down as SIGTERM would.
        let watcher = Task {
            guard await controls.stopRequested() else { return }
            logger.notice("operator asked to stop; shutting down gracefully")
            await group.triggerGracefulShutdown()
        }
        defer {
            controls.releaseStopWaiters()
            watcher.cancel()
        }
        try await group.run()
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

    /// The risk limits of `config`; on a real venue, safe defaults where a key
    /// is absent: one order is never worth more than the cash budget, and at
    /// most 60 orders a minute.
    public static func riskLimits(_ config: RiskConfig, budget: Money, realVenue: Bool) throws(ConfigError) -> RiskLimits {
        var limits = try RiskLimits(config: config)
        if realVenue {
            if limits.maxOrderNotional == nil { limits.maxOrderNotional = budget }
            if limits.maxOrdersPerMinute == nil { limits.maxOrdersPerMinute = 60 }
        }
        return limits
    }

    /// The venue's REST URL: `live.restURL`, else Binance's testnet or production.
    public static func restURL(_ live: LiveConfig) -> String {
        if !live.restURL.isEmpty { return live.restURL }
        return live.testnet ? BinanceSpotClient.Configuration.testnetURL : BinanceSpotClient.Configuration.productionURL
    }

    /// The venue's WebSocket URL: `live.streamURL`, else Binance's testnet or production.
    public static func streamURL(_ live: LiveConfig) -> String {
        if !live.streamURL.isEmpty { return live.streamURL }
        return live.testnet ? "wss://stream.testnet.binance.vision" : "wss://stream.binance.com:9443"
    }

    /// Cash and costs from the backtest section (the paper ledger uses the same).
    static func ledger(_ s: BacktestSettings) throws -> (cash: Money, fees: FeeModel) {
        guard let cash = FixedPoint(rounding: s.cash), let rate = FixedPoint(rounding: s.commission),
            let fixed = FixedPoint(rounding: s.commissionFixed), let slip = FixedPoint(rounding: s.slippageBps)
        else { throw LiveRuntimeError("backtest: cash, commission and slippage must be finite and below 9.2e10") }
        return (cash, FeeModel(commissionRate: rate, commissionFixed: fixed, slippageBps: slip))
    }
}
