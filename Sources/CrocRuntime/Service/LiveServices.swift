import CoreMetrics
import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocStrategies
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// A one-shot signal that tasks can wait for (the executor has started).
public final class ReadyLatch: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// A closed latch.
    public init() {}

    /// Opens the latch, waking every waiter.
    public func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    /// Whether the latch is open.
    public var isOpen: Bool { state.withLock { $0.open } }

    /// Waits until the latch is open.
    public func wait() async {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

/// The executor as a service: starts it (reloading and reconciling stored
/// orders), and on graceful shutdown lets requests in flight finish or time
/// out, cancels or keeps working orders as configured, and flushes the store.
public struct ExecutorService: Service {
    /// The executor.
    public let executor: MarketOrderExecutor
    /// Cancel working orders on shutdown.
    public let cancelOpenOrders: Bool
    /// Opened once the executor has started.
    public let started: ReadyLatch
    /// Where the service logs.
    public let logger: Logger
    /// How often working orders are looked up at the venue (nil: never). A
    /// venue without pushed reports for resting orders (Binance's REST client)
    /// needs this so that their fills are not missed, and it resolves orders
    /// whose outcome is unknown (resent under the same id, or ended).
    public let reconcileEvery: Duration?
    /// Where unresolved orders are shown.
    public let status: LiveStatusBoard?

    /// Creates the service.
    public init(
        executor: MarketOrderExecutor,
        cancelOpenOrders: Bool,
        started: ReadyLatch,
        logger: Logger,
        reconcileEvery: Duration? = nil,
        status: LiveStatusBoard? = nil
    ) {
        self.status = status
        self.executor = executor
        self.cancelOpenOrders = cancelOpenOrders
        self.started = started
        self.logger = logger
        self.reconcileEvery = reconcileEvery
    }

    /// Runs until graceful shutdown.
    public func run() async throws {
        try await executor.start()
        started.open()
        if let every = reconcileEvery {
            let executor = self.executor
            try? await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: every)
                    if await !executor.openOrders.isEmpty { await executor.reconcile() }
                    let unresolved = await executor.unresolvedOrders.map(\.clientOrderID)
                    status?.update { $0.unresolvedOrders = unresolved }
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        logger.notice("shutting down the executor", metadata: ["cancel_open_orders": "\(cancelOpenOrders)"])
        await executor.shutdown(cancelOpenOrders: cancelOpenOrders)
        try executor.store.flush()
        logger.notice("order store flushed")
    }
}

/// The feed and the engine as a service: runs `runLiveLoop` once the
/// executor is up; graceful shutdown stops taking data at once.
public struct LiveLoopService<Stream: MarketDataStream>: Service {
    /// The market data.
    public let stream: Stream
    /// The strategy.
    public let strategy: any Strategy
    /// The executor orders go to.
    public let executor: MarketOrderExecutor
    /// Where fills come back from.
    public let venue: any LiveVenue
    /// The engine's settings.
    public let settings: LiveLoopSettings
    /// The status board.
    public let status: LiveStatusBoard
    /// Waited for before the first event.
    public let executorStarted: ReadyLatch
    /// After the stream ends: keep running until shutdown (true) or end the service (false).
    public let waitForShutdownAtEnd: Bool
    /// Where the loop logs.
    public let logger: Logger
    /// The loop's metrics.
    public let metrics: LiveMetrics
    /// The operator's channel (pause, resume, cancel-all, flatten).
    public let controls: LiveControls?
    /// Runs once the executor is up and before the first event: reconciles
    /// with the venue and returns the settings to trade with (restart memory).
    /// A failure ends the service with its error (nothing is traded).
    public let prepare: (@Sendable (LiveLoopSettings) async throws -> LiveLoopSettings)?

    /// Creates the service.
    public init(
        stream: Stream,
        strategy: any Strategy,
        executor: MarketOrderExecutor,
        venue: any LiveVenue,
        settings: LiveLoopSettings,
        status: LiveStatusBoard,
        executorStarted: ReadyLatch,
        waitForShutdownAtEnd: Bool,
        logger: Logger,
        metrics: LiveMetrics = LiveMetrics(),
        controls: LiveControls? = nil,
        prepare: (@Sendable (LiveLoopSettings) async throws -> LiveLoopSettings)? = nil
    ) {
        self.controls = controls
        self.prepare = prepare
        self.stream = stream
        self.strategy = strategy
        self.executor = executor
        self.venue = venue
        self.settings = settings
        self.status = status
        self.executorStarted = executorStarted
        self.waitForShutdownAtEnd = waitForShutdownAtEnd
        self.logger = logger
        self.metrics = metrics
    }

    /// Runs the loop until the stream ends or shutdown.
    public func run() async throws {
        await executorStarted.wait()
        let settings = try await prepare?(self.settings) ?? self.settings
        status.update { $0.ready = true }
        let executor = self.executor
        do {
            let result = try await cancelWhenGracefulShutdown {
                try await runLiveLoop(
                    dataStream: stream,
                    strategy: strategy,
                    submitOrder: { await executor.onSignal($0) },
                    settings: settings,
                    venue: venue,
                    status: status,
                    metrics: metrics,
                    logger: logger,
                    controls: controls
                )
            }
            logger.notice(
                "market data ended",
                metadata: [
                    "bars": "\(result.events)", "orders": "\(result.ordersSubmitted)", "fills": "\(result.engine.fills.count)",
                    "equity": "\(result.engine.equityCurve.last ?? 0)",
                ]
            )
        } catch is CancellationError {
            logger.notice("stopped taking market data")
            status.update { $0.ready = false }
            return
        }
        status.update { $0.ready = false }
        if waitForShutdownAtEnd { try? await gracefulShutdown() }
    }
}

/// Process-level metrics (`crocbot_uptime_seconds`, `crocbot_build_info`),
/// updated every second until shutdown.
public struct ProcessMetricsService: Service {
    /// The version reported in `crocbot_build_info`.
    public let version: String
    /// The factory the gauges are made on.
    public let factory: any MetricsFactory

    /// Creates the service.
    public init(version: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.version = version
        self.factory = factory
    }

    /// Runs until graceful shutdown.
    public func run() async throws {
        Gauge(label: "crocbot_build_info", dimensions: [("version", version)], factory: factory).record(1)
        let uptime = Gauge(label: "crocbot_uptime_seconds", factory: factory)
        let start = ContinuousClock.now
        try? await cancelWhenGracefulShutdown {
            while true {
                uptime.record(Double((ContinuousClock.now - start).components.seconds))
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
