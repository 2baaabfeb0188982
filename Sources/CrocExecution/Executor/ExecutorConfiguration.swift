import CrocCore
import CrocEngine

/// What the executor does with a new signal when its queue is full (DESIGN rule 6).
public enum BackpressurePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// The producer waits (`onSignal` suspends) until there is room: it resumes once the queue
    /// is down to its low-water mark (one eighth of the capacity below full, at least one slot),
    /// so a fast producer queues runs of signals instead of waking once per signal.
    case suspend
    /// The oldest queued, unsent signal is dropped to make room (stale signals lose).
    case dropOldest = "drop_oldest"
    /// The new signal is refused.
    case reject
}

/// Retries of transient failures: exponential backoff with jitter.
/// Rejections are never retried.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Most send attempts per order (the first one included).
    public var maxAttempts: Int
    /// Delay before the first retry.
    public var baseDelay: Duration
    /// Longest delay between attempts.
    public var maxDelay: Duration
    /// Random spread applied to each delay, as a fraction (0.2 = ±20%).
    public var jitter: Double

    /// Creates a policy.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(5), jitter: Double = 0.2) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before retry number `retry` (1-based), honouring a venue's Retry-After.
    public func delay(retry: Int, retryAfter: Duration?, random: Double) -> Duration {
        let exponent = min(max(retry - 1, 0), 30)
        var d = baseDelay * (1 << exponent)
        if d > maxDelay { d = maxDelay }
        let factor = 1 + jitter * (2 * random - 1)
        d = d * factor
        if let after = retryAfter, after > d { d = after }
        return d
    }
}

/// The executor's settings.
public struct ExecutorConfiguration: Sendable, Hashable {
    /// Most requests in flight to the venue at once.
    public var maxInFlight: Int
    /// Signals that may wait for a free slot.
    public var queueCapacity: Int
    /// What happens when the queue is full.
    public var backpressure: BackpressurePolicy
    /// Deadline of each request to the venue.
    public var requestTimeout: Duration
    /// Retries of transient failures.
    public var retry: RetryPolicy
    /// Pre-trade risk limits.
    public var risk: RiskLimits
    /// Prefix of client order ids (letters, digits, `-`, `_`; ids stay within Binance's 36 characters).
    public var clientOrderIDPrefix: String
    /// On restart, orders that were written but are unknown to the venue are
    /// sent again (same client order id) if younger than this; older ones are dropped.
    public var resubmitUnsentWithin: Duration
    /// On restart, wait until an unacknowledged order is at least this old
    /// before looking it up, so a request still travelling (within the venue's
    /// `recvWindow`) cannot land after the lookup.
    public var recoveryGrace: Duration
    /// How long after it was signed the venue may still accept a request
    /// (Binance `recvWindow`, plus clock error). After an ambiguous failure
    /// (reset, timeout, unreadable answer) an order the venue says it does not
    /// know is looked up again once this has passed since the last send, and
    /// only then sent again: a request still travelling cannot land after it.
    public var venueReceiveWindow: Duration
    /// An order whose outcome is still unknown this long after it was
    /// created is ended (`expired`, with the reason) by reconciliation once
    /// the venue has confirmed it never saw it; before that it is resent under
    /// the same client order id.
    public var resolveWithin: Duration

    /// Creates a configuration.
    public init(
        maxInFlight: Int = 8,
        queueCapacity: Int = 1024,
        backpressure: BackpressurePolicy = .suspend,
        requestTimeout: Duration = .seconds(5),
        retry: RetryPolicy = RetryPolicy(),
        risk: RiskLimits = .none,
        clientOrderIDPrefix: String = "cb",
        resubmitUnsentWithin: Duration = .seconds(60),
        recoveryGrace: Duration = .zero,
        venueReceiveWindow: Duration = .seconds(6),
        resolveWithin: Duration = .seconds(30)
    ) {
        self.venueReceiveWindow = venueReceiveWindow
        self.resolveWithin = resolveWithin
        self.maxInFlight = max(1, maxInFlight)
        self.queueCapacity = max(1, queueCapacity)
        self.backpressure = backpressure
        self.requestTimeout = requestTimeout
        self.retry = retry
        self.risk = risk
        self.clientOrderIDPrefix = clientOrderIDPrefix
        self.resubmitUnsentWithin = resubmitUnsentWithin
        self.recoveryGrace = recoveryGrace
    }
}

/// A strategy's order intent: what to trade, before it becomes an order.
public struct OrderIntent: Sendable, Hashable {
    /// The symbol.
    public var symbol: String
    /// Buy or sell.
    public var side: OrderSide
    /// Positive quantity.
    public var quantity: Quantity
    /// Market or limit.
    public var kind: OrderRequest.Kind
    /// How long a limit works.
    public var timeInForce: TimeInForce
    /// Free text carried into logs and the store.
    public var tag: String?
    /// Size the order at fill time as this fraction of available cash
    /// (the backtest's `.cashFraction`); `quantity` is then the estimate
    /// that risk checks use. Venues that cannot size by cash send `quantity`.
    public var cashFraction: FixedPoint?

    /// Creates an intent.
    public init(
        symbol: String,
        side: OrderSide,
        quantity: Quantity,
        kind: OrderRequest.Kind = .market,
        timeInForce: TimeInForce = .gtc,
        tag: String? = nil,
        cashFraction: FixedPoint? = nil
    ) {
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.kind = kind
        self.timeInForce = timeInForce
        self.tag = tag
        self.cashFraction = cashFraction
    }
}

/// Why a signal did not become an order.
public enum SignalRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// A risk check said no.
    case risk(RiskViolation)
    /// The queue was full and the policy is `reject`.
    case queueFull
    /// The intent itself is invalid (quantity or price not positive, empty symbol).
    case invalid(String)
    /// The executor is not running.
    case stopped
    /// The order could not be persisted, so it was not sent.
    case store(OrderStoreError)
    /// The order cannot meet the venue's trading rules (lot size, minimum notional, tick).
    case venueRule(VenueRuleViolation)

    /// A message for people.
    public var description: String {
        switch self {
        case .risk(let v): return "risk: \(v)"
        case .queueFull: return "executor queue full"
        case .invalid(let m): return "invalid signal: \(m)"
        case .stopped: return "executor stopped"
        case .store(let e): return "\(e)"
        case .venueRule(let v): return "venue rule: \(v)"
        }
    }
}

/// What `onSignal` did with a signal.
public enum SignalOutcome: Sendable, Hashable {
    /// Persisted and queued for sending under this client order id.
    case accepted(clientOrderID: String)
    /// Not turned into an order.
    case refused(SignalRefusal)

    /// The client order id, when accepted.
    public var clientOrderID: String? {
        if case .accepted(let id) = self { return id }
        return nil
    }
}
