import CoreMetrics
import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocStrategies
import CrocSupport
import Foundation
import Logging
import Synchronization

/// Runs a strategy on a live stream: each event goes through the same
/// `TradingEngine` as a backtest (feature state, strategy, ledger), and the
/// orders it places go to `submitOrder` — usually the executor's `onSignal`,
/// which applies risk, persistence and backpressure.
///
/// The blueprint's `run_live_loop(data_stream=, strategy=, submit_order=)`.
/// Per event:
/// 1. the venue sees the event first (`LiveVenue.marketEvent`: a paper venue
///    fills resting orders at the bar's open) and booked fills reach the engine;
/// 2. late bars (not after the last one) are dropped and counted; gaps are counted;
/// 3. the engine runs the strategy; a strategy that throws is logged, counted
///    and skipped for this bar, and the loop goes on;
/// 4. each new order becomes an `OrderIntent` and is handed to `submitOrder`;
///    a refusal ends the order in the engine with the reason;
/// 5. the venue settles, fills booked since are applied, and the status board
///    and metrics are updated.
///
/// Ends when the stream ends (returns the result) or the task is cancelled
/// (throws `CancellationError`); it never sends an order twice.
/// - Parameters:
///   - dataStream: Market events (a feed, a replay, an `InMemoryStream`).
///   - strategy: The strategy (from `StrategyFactory`).
///   - submitOrder: Hands an order to execution; its outcome says whether it was taken.
///   - settings: Instrument, cash and costs of the engine's ledger.
///   - venue: Where fills come from (nil: orders are handed over and nothing comes back).
///   - status: Where the status page and `/api/status` read from.
///   - metrics: Counters and timers.
///   - logger: Order and fault log lines.
///   - controls: The operator's channel (pause, resume, cancel-all, flatten);
///     its controls are applied between market events, on this loop's task.
@discardableResult
public func runLiveLoop<Stream: MarketDataStream>(
    dataStream: Stream,
    strategy: any Strategy,
    submitOrder: @escaping @Sendable (OrderIntent) async -> SignalOutcome,
    settings: LiveLoopSettings = LiveLoopSettings(),
    venue: (any LiveVenue)? = nil,
    status: LiveStatusBoard? = nil,
    metrics: LiveMetrics = LiveMetrics(),
    logger: Logger = Logger(label: "crocbot.live"),
    controls: LiveControls? = nil
) async throws -> LiveLoopResult {
    var loop = LiveLoopState(settings: settings, strategy: strategy, venue: venue, status: status, metrics: metrics, logger: logger)
    loop.controls = controls
    status?.update { $0.strategy = strategy.name }
    let symbols = settings.instruments.map(\.symbol)
    status?.update { $0.symbol = symbols.count == 1 ? symbols[0] : symbols.joined(separator: ",") }
    venue?.bind(symbols: symbols)
    guard let controls else {
        var iterator = dataStream.makeAsyncIterator()
        while let event = try await iterator.next() {
            try Task.checkCancellation()
            await loop.handle(event, submitOrder: submitOrder)
        }
        loop.finish()
        return loop.result
    }
    // With an operator channel: market events and controls merge into one sequence, so a
    // control is applied at once, not at the next bar, and never in the middle of one.
    let (inputs, sink) = AsyncStream<LiveLoopInput>.makeStream()
    let feeder = Task {
        do {
            for try await event in dataStream { sink.yield(.event(event)) }
            sink.yield(.end)
        } catch {
            sink.yield(.failed(error))
        }
    }
    let listener = Task {
        while let action = await controls.next() { sink.yield(.control(action)) }
    }
    defer {
        feeder.cancel()
        controls.close()
        listener.cancel()
        sink.finish()
    }
    try await withTaskCancellationHandler {
        for await input in inputs {
            try Task.checkCancellation()
            switch input {
            case .event(let event): await loop.handle(event, submitOrder: submitOrder)
            case .control(let action): await loop.control(action, submitOrder: submitOrder)
            case .end:
                loop.finish()
                return
            case .failed(let error): throw error
            }
        }
    } onCancel: {
        sink.finish()
    }
    try Task.checkCancellation()
    return loop.result
}

/// What the live loop takes next when an operator channel is attached.
enum LiveLoopInput: Sendable {
    case event(MarketEvent)
    case control(OperatorAction)
    case end
    case failed(any Error)
}
