import CoreMetrics
import Metrics

/// The executor's counters, gauges and timers (swift-metrics; the runtime
/// bootstraps the Prometheus backend). Names follow Prometheus conventions:
///
/// - `crocbot_orders_total{event=submitted|acked|filled|partially_filled|rejected|retried|canceled|expired|dropped|unresolved}`
/// - `crocbot_signals_refused_total{reason=risk|queue_full|invalid|stopped|store}`
/// - `crocbot_backpressure_total{policy=suspend|drop_oldest|reject}`
/// - `crocbot_risk_refusals_total{check=...}`
/// - `crocbot_execution_reports_total{kind=...}`, `crocbot_execution_reports_ignored_total`
/// - `crocbot_order_transitions_invalid_total`
/// - `crocbot_venue_rule_refusals_total{rule=...}`, `crocbot_unknown_order_reports_total`
/// - gauges `crocbot_executor_queue_depth`, `crocbot_executor_in_flight`, `crocbot_kill_switch_engaged`,
///   `crocbot_orders_unresolved` (sent, outcome not yet known)
/// - timers `crocbot_order_submit_to_ack_seconds`, `crocbot_signal_to_submit_seconds`
public struct ExecutorMetrics: Sendable {
    let factory: any MetricsFactory
    let submitted: Counter
    let acked: Counter
    let filled: Counter
    let partiallyFilled: Counter
    let rejected: Counter
    let retried: Counter
    let canceled: Counter
    let expired: Counter
    let dropped: Counter
    let unresolved: Counter
    let reportsIgnored: Counter
    let invalidTransitions: Counter
    let queueDepth: Gauge
    let inFlight: Gauge
    let killSwitch: Gauge
    let unresolvedOrders: Gauge
    let unknownReports: Counter
    let submitToAck: Metrics.Timer
    let signalToSubmit: Metrics.Timer

    /// Metrics created on `factory` (default: the bootstrapped global one).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        func orders(_ event: String) -> Counter {
            Counter(label: "crocbot_orders_total", dimensions: [("event", event)], factory: factory)
        }
        submitted = orders("submitted")
        acked = orders("acked")
        filled = orders("filled")
        partiallyFilled = orders("partially_filled")
        rejected = orders("rejected")
        retried = orders("retried")
        canceled = orders("canceled")
        expired = orders("expired")
        dropped = orders("dropped")
        unresolved = orders("unresolved")
        reportsIgnored = Counter(label: "crocbot_execution_reports_ignored_total", factory: factory)
        invalidTransitions = Counter(label: "crocbot_order_transitions_invalid_total", factory: factory)
        queueDepth = Gauge(label: "crocbot_executor_queue_depth", factory: factory)
        inFlight = Gauge(label: "crocbot_executor_in_flight", factory: factory)
        killSwitch = Gauge(label: "crocbot_kill_switch_engaged", factory: factory)
        unresolvedOrders = Gauge(label: "crocbot_orders_unresolved", factory: factory)
        unknownReports = Counter(label: "crocbot_unknown_order_reports_total", factory: factory)
        submitToAck = Metrics.Timer(label: "crocbot_order_submit_to_ack_seconds", preferredDisplayUnit: .seconds, factory: factory)
        signalToSubmit = Metrics.Timer(label: "crocbot_signal_to_submit_seconds", preferredDisplayUnit: .seconds, factory: factory)
        // Counters on per-report and per-signal paths are made once, not per event.
        let kinds: [ExecutionReportKind] = [.ack, .partialFill, .fill, .cancel, .reject, .expire]
        reportCounters = Dictionary(
            uniqueKeysWithValues: kinds.map {
                ($0, Counter(label: "crocbot_execution_reports_total", dimensions: [("kind", $0.rawValue)], factory: factory))
            }
        )
        backpressureCounters = Dictionary(
            uniqueKeysWithValues: BackpressurePolicy.allCases.map {
                ($0, Counter(label: "crocbot_backpressure_total", dimensions: [("policy", $0.rawValue)], factory: factory))
            }
        )
    }

    private let reportCounters: [ExecutionReportKind: Counter]
    private let backpressureCounters: [BackpressurePolicy: Counter]

    /// Counts what the order book says happened.
    func count(_ counter: OrderBook.Counter) {
        switch counter {
        case .acked: acked.increment()
        case .filled: filled.increment()
        case .partiallyFilled: partiallyFilled.increment()
        case .canceled: canceled.increment()
        case .expired: expired.increment()
        case .rejected: rejected.increment()
        case .dropped: dropped.increment()
        case .reportsIgnored: reportsIgnored.increment()
        case .invalidTransition: invalidTransitions.increment()
        case .unknownReport: unknownReports.increment()
        }
    }

    func venueRule(_ rule: String) {
        Counter(label: "crocbot_venue_rule_refusals_total", dimensions: [("rule", rule)], factory: factory).increment()
    }

    func refused(_ reason: String) {
        Counter(label: "crocbot_signals_refused_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    func backpressure(_ policy: BackpressurePolicy) {
        backpressureCounters[policy]?.increment()
    }

    func riskRefusal(_ check: String) {
        Counter(label: "crocbot_risk_refusals_total", dimensions: [("check", check)], factory: factory).increment()
    }

    func report(_ kind: ExecutionReportKind) {
        reportCounters[kind]?.increment()
    }
}

extension CoreMetrics.Timer {
    /// Records the time elapsed since `start` on the continuous clock.
    func record(since start: ContinuousClock.Instant) { record(ContinuousClock.now - start) }

    /// Records a duration.
    func record(_ d: Duration) {
        recordNanoseconds(d.nanoseconds)
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    package var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
