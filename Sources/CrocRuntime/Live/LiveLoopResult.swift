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

/// What a live loop did, when its stream ended.
public struct LiveLoopResult: Sendable {
    /// The engine at the end: ledger, fills, trades, equity curve.
    public var engine: TradingEngine
    /// Market events processed.
    public var events: Int
    /// Orders handed to `submitOrder`.
    public var ordersSubmitted: Int
    /// Orders `submitOrder` refused.
    public var ordersRefused: Int
    /// Bars dropped as late (not after the last one).
    public var lateBars: Int
    /// Bars missing by the interval (gaps).
    public var missingBars: Int
    /// Tick-to-order latencies in nanoseconds (event in → order handed over),
    /// at most `LiveLoopSettings.latencySamples` of them.
    public var tickToOrderNanos: [Int64]
    /// Rebalances whose buys went out before every market sell of theirs was answered (the
    /// wait, `LiveLoopSettings.settleTimeout`, ran out; each is logged as a warning).
    public var sellsUnanswered = 0
}
