import CoreMetrics
import Metrics

/// The live loop's counters, gauges and timers (swift-metrics; `crocbot live`
/// bootstraps the Prometheus backend served at `/metrics`):
///
/// - `crocbot_bars_total{kind=received|late|missing}`
/// - `crocbot_signals_total`, `crocbot_live_orders_refused_total`, `crocbot_live_fills_total`
/// - `crocbot_strategy_errors_total`
/// - `crocbot_feed_reconnects_total`
/// - gauges `crocbot_equity`, `crocbot_drawdown_ratio`
/// - timers `crocbot_strategy_seconds` (features + inference + decision per
///   bar) and `crocbot_tick_to_order_seconds` (event in → order handed to the executor)
///
/// The executor adds its own (`crocbot_orders_total{event}`, queue depth, ...).
public struct LiveMetrics: Sendable {
    /// Bars received.
    public let barsReceived: Counter
    /// Bars dropped as late.
    public let barsLate: Counter
    /// Bars missing (gaps).
    public let barsMissing: Counter
    /// Orders the strategy placed.
    public let signals: Counter
    /// Orders the executor refused.
    public let ordersRefused: Counter
    /// Fills booked in the engine.
    public let fills: Counter
    /// Strategy failures.
    public let strategyErrors: Counter
    /// Rebalances whose buys went out before all their sells were answered (the wait timed out).
    public let sellsUnanswered: Counter
    /// Feed reconnections.
    public let reconnects: Counter
    /// Equity at the last close.
    public let equity: Gauge
    /// Drawdown from the peak, as a fraction.
    public let drawdown: Gauge
    /// Time in the strategy per bar.
    public let strategyLatency: Metrics.Timer
    /// Event in → order handed over.
    public let tickToOrder: Metrics.Timer

    /// Metrics created on `factory` (default: the bootstrapped global one).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        barsReceived = Counter(label: "crocbot_bars_total", dimensions: [("kind", "received")], factory: factory)
        barsLate = Counter(label: "crocbot_bars_total", dimensions: [("kind", "late")], factory: factory)
        barsMissing = Counter(label: "crocbot_bars_total", dimensions: [("kind", "missing")], factory: factory)
        signals = Counter(label: "crocbot_signals_total", factory: factory)
        ordersRefused = Counter(label: "crocbot_live_orders_refused_total", factory: factory)
        fills = Counter(label: "crocbot_live_fills_total", factory: factory)
        strategyErrors = Counter(label: "crocbot_strategy_errors_total", factory: factory)
        sellsUnanswered = Counter(label: "crocbot_rebalance_sells_unanswered_total", factory: factory)
        reconnects = Counter(label: "crocbot_feed_reconnects_total", factory: factory)
        equity = Gauge(label: "crocbot_equity", factory: factory)
        drawdown = Gauge(label: "crocbot_drawdown_ratio", factory: factory)
        strategyLatency = Metrics.Timer(label: "crocbot_strategy_seconds", preferredDisplayUnit: .seconds, factory: factory)
        tickToOrder = Metrics.Timer(label: "crocbot_tick_to_order_seconds", preferredDisplayUnit: .seconds, factory: factory)
    }
}
