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

/// The venue side of a live loop: what happens around each market event
/// besides the strategy. `ExecutorVenue` is the implementation over a
/// `MarketOrderExecutor`.
public protocol LiveVenue: Sendable {
    /// Called with each market event before the engine sees it. A simulated
    /// or paper venue matches its resting orders against the bar here and
    /// returns what that booked; a real venue returns nothing.
    func marketEvent(_ event: MarketEvent) async -> [ExecutorEvent]
    /// Events booked since the last call (pushed fills, rejections, cancels).
    func drainEvents() -> [ExecutorEvent]
    /// Called after the engine's orders for an event were handed over.
    func settle(timeout: Duration) async
    /// Whether orders fill only when a later bar reaches the venue (a simulated venue replaying
    /// bars, as a backtest fills): then a rebalance's buys do not wait for its sells' fills (the
    /// venue matches them after the sells, at the same bar). A real venue answers in its own time.
    var fillsOnBars: Bool { get }
    /// Cancels a working order by the executor's client order id.
    func cancel(clientOrderID: String) async
    /// Tells the venue the symbol of the stream's bars (bars carry none).
    func bind(symbol: String)
    /// Tells the venue the symbols of a universe's slices, by lane.
    func bind(symbols: [String])
}

extension LiveVenue {
    /// A real venue's answer: no.
    public var fillsOnBars: Bool { false }
    /// Ignores the symbol.
    public func bind(symbol: String) {}
    /// Binds the first symbol.
    public func bind(symbols: [String]) { if let first = symbols.first { bind(symbol: first) } }
}
