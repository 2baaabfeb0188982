import CrocCore
import CrocEngine
import CrocSupport
import Foundation
import Logging
import Synchronization

@testable import CrocExecution

func q(_ s: String) -> Quantity { FixedPoint(s)! }

/// An in-process venue whose behaviour tests script: scripted failures, a
/// gate that holds submits (to fill the queue), in-flight tracking, and
/// pushed reports. Market orders fill at `price`.
actor ScriptedVenue: ExecutionClient {
    nonisolated let venueName = "scripted"
    var orders: [String: VenueOrder] = [:]
    var submitCalls: [String] = []
    var queryCalls = 0
    var cancelCalls = 0
    var failures: [ExecutionError] = []
    /// Failures after which the order was nevertheless placed (a lost answer).
    var failuresAfterPlacing: [ExecutionError] = []
    var inFlight = 0
    var maxInFlight = 0
    var gateOpen = true
    var waiters: [CheckedContinuation<Void, Never>] = []
    var price = FixedPoint(100)
    var restLimits = true
    var nextID = 1
    private nonisolated let broadcaster = ReportBroadcaster()

    func script(failures: [ExecutionError] = [], afterPlacing: [ExecutionError] = []) {
        self.failures = failures
        self.failuresAfterPlacing = afterPlacing
    }

    func closeGate() { gateOpen = false }
    func openGate() {
        gateOpen = true
        for w in waiters { w.resume() }
        waiters.removeAll()
    }

    func push(_ report: ExecutionReport) { broadcaster.send(report) }

    func submit(_ request: OrderRequest, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        submitCalls.append(request.clientOrderID)
        inFlight += 1
        maxInFlight = max(maxInFlight, inFlight)
        defer { inFlight -= 1 }
        while !gateOpen { await withCheckedContinuation { waiters.append($0) } }
        if !failures.isEmpty { throw failures.removeFirst() }
        if orders[request.clientOrderID]?.status.isOpen == true { throw .duplicateOrder(clientOrderID: request.clientOrderID) }
        var o = VenueOrder(
            clientOrderID: request.clientOrderID,
            venueOrderID: "V\(nextID)",
            symbol: request.symbol,
            side: request.side,
            status: .new,
            quantity: request.quantity,
            executedQuantity: .zero,
            cumulativeQuote: .zero,
            updateTime: Timestamp(nanoseconds: 0)
        )
        nextID += 1
        if request.kind == .market || !restLimits {
            o.status = .filled
            o.executedQuantity = request.quantity
            o.cumulativeQuote = request.quantity * price
        }
        orders[request.clientOrderID] = o
        if !failuresAfterPlacing.isEmpty { throw failuresAfterPlacing.removeFirst() }
        return o
    }

    func cancel(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        cancelCalls += 1
        guard var o = orders[clientOrderID], o.status.isOpen else { throw .orderNotFound(clientOrderID: clientOrderID) }
        o.status = .canceled
        orders[clientOrderID] = o
        return o
    }

    func queryOrder(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder? {
        queryCalls += 1
        return orders[clientOrderID]
    }

    func openOrders(symbol: String?, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [VenueOrder] {
        orders.values.filter { $0.status.isOpen }
    }

    func balances(deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [AssetBalance] { [] }

    nonisolated func executionReports() -> AsyncStream<ExecutionReport> { broadcaster.stream() }

    /// Venue-side fill of part of a resting order; returns the new snapshot.
    func fill(_ id: String, quantity: Quantity, at price: Price) -> VenueOrder {
        var o = orders[id]!
        o.executedQuantity += quantity
        o.cumulativeQuote += quantity * price
        o.status = o.executedQuantity >= o.quantity ? .filled : .partiallyFilled
        orders[id] = o
        return o
    }
}

/// A retry policy with no waiting, for tests.
let fastRetry = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5), jitter: 0.1)
/// The venue receive window of the tests: short, so ambiguous failures resolve fast (live trading uses 6 s).
let testWindow: Duration = .milliseconds(150)

/// A logger that writes JSON lines to memory.
func memoryLogger(_ sink: LogSink, level: Logger.Level = .info) -> Logger {
    var logger = Logger(label: "test.executor") { label in JSONLogHandler(label: label, sink: sink) }
    logger.logLevel = level
    return logger
}

/// Polls `condition` until it holds or `timeout` passes. The bound is generous: the whole suite
/// runs in parallel on a pool as wide as the machine, and a test that computes synchronously
/// (a model fit, a `swift build` the agent validates) can hold a thread for tens of seconds on a
/// 2-core runner; a condition that holds returns at once.
func eventually(_ timeout: Duration = .seconds(60), _ condition: () async -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return await condition()
}

func buy(_ n: String, _ symbol: String = "BTCUSDT", limit: String? = nil) -> OrderIntent {
    OrderIntent(symbol: symbol, side: .buy, quantity: q(n), kind: limit.map { .limit(FixedPoint($0)!) } ?? .market)
}

func sell(_ n: String, _ symbol: String = "BTCUSDT") -> OrderIntent {
    OrderIntent(symbol: symbol, side: .sell, quantity: q(n))
}
