import CrocCore
import CrocEngine

/// Where an order is in its life, as the executor tracks it.
///
/// ```
/// pendingNew ─▶ submitted ─▶ acked ─▶ partiallyFilled ─▶ filled
///     │  │          │  ╲        │  ╲         │
///     │  ╰▶ dropped │   ╲       │   ╲        ╰▶ canceled / expired
///     ╰▶ rejected   ╰▶ rejected  ╰▶ canceled / expired / rejected
/// ```
/// `pendingNew`: written to the store, not yet sent. `submitted`: sent, no
/// answer yet (the state a crash can leave behind, resolved by reconciliation).
public enum OrderState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Persisted, queued, not sent.
    case pendingNew = "pending_new"
    /// Sent at least once; outcome unknown.
    case submitted
    /// Working at the venue.
    case acked
    /// Working, part filled.
    case partiallyFilled = "partially_filled"
    /// Completely filled.
    case filled
    /// Cancelled (possibly after partial fills).
    case canceled
    /// Refused by the venue.
    case rejected
    /// Expired at the venue.
    case expired
    /// Dropped from the queue before sending (backpressure `dropOldest`, kill switch, shutdown).
    case dropped

    /// Whether nothing more can happen to the order.
    public var isTerminal: Bool {
        switch self {
        case .filled, .canceled, .rejected, .expired, .dropped: return true
        case .pendingNew, .submitted, .acked, .partiallyFilled: return false
        }
    }

    /// Whether the order may be working at the venue.
    public var isOpenAtVenue: Bool { self == .submitted || self == .acked || self == .partiallyFilled }

    /// Whether `next` may follow this state. Staying put is allowed (duplicate reports).
    public func canTransition(to next: OrderState) -> Bool {
        if next == self { return true }
        switch self {
        case .pendingNew: return [.submitted, .dropped, .rejected, .acked, .partiallyFilled, .filled, .canceled, .expired].contains(next)
        case .submitted: return [.acked, .partiallyFilled, .filled, .canceled, .rejected, .expired].contains(next)
        // A simulated or paper venue may refuse an accepted order when it comes to fill it (cash at the fill price).
        case .acked: return [.partiallyFilled, .filled, .canceled, .expired, .rejected].contains(next)
        case .partiallyFilled: return [.filled, .canceled, .expired].contains(next)
        case .filled, .canceled, .rejected, .expired, .dropped: return false
        }
    }

    /// The state a venue status maps to.
    public init(_ status: VenueOrderStatus) {
        switch status {
        case .new: self = .acked
        case .partiallyFilled: self = .partiallyFilled
        case .filled: self = .filled
        case .canceled: self = .canceled
        case .rejected: self = .rejected
        case .expired: self = .expired
        }
    }
}

/// An impossible state change, refused.
public struct InvalidOrderTransition: Error, Sendable, Hashable, CustomStringConvertible {
    /// The order.
    public var clientOrderID: String
    /// Its state.
    public var from: OrderState
    /// The state asked for.
    public var to: OrderState

    /// A message for people.
    public var description: String { "order \(clientOrderID): invalid transition \(from.rawValue) → \(to.rawValue)" }
}

/// One order as the executor and its store know it.
public struct OrderRecord: Sendable, Hashable, Codable {
    /// The request sent (and re-sent) to the venue.
    public var request: OrderRequest
    /// Current state.
    public var state: OrderState
    /// The venue's id, once known.
    public var venueOrderID: String?
    /// Quantity filled and booked (cumulative).
    public var filledQuantity: Quantity
    /// Quote value filled and booked (cumulative).
    public var filledQuote: Money
    /// Commission booked in the quote asset (or the venue's unnamed asset), cumulative.
    public var commission: Money
    /// Commission paid in the base asset (cumulative): it reduces what is held.
    public var baseCommission: Quantity = .zero
    /// Send attempts so far.
    public var attempts: Int
    /// When the signal arrived (wall clock, ns since the epoch).
    public var createdAt: Timestamp
    /// Last change (wall clock).
    public var updatedAt: Timestamp
    /// The last error or rejection text.
    public var lastError: String?
    /// The strategy's tag.
    public var tag: String?

    /// Creates a record in `pendingNew`.
    public init(request: OrderRequest, createdAt: Timestamp, tag: String? = nil) {
        self.request = request
        self.state = .pendingNew
        self.venueOrderID = nil
        self.filledQuantity = .zero
        self.filledQuote = .zero
        self.commission = .zero
        self.attempts = 0
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.lastError = nil
        self.tag = tag
    }

    /// The client order id.
    public var clientOrderID: String { request.clientOrderID }

    /// Moves to `next`, or throws when the state machine forbids it.
    public mutating func transition(to next: OrderState) throws(InvalidOrderTransition) {
        guard state.canTransition(to: next) else { throw InvalidOrderTransition(clientOrderID: clientOrderID, from: state, to: next) }
        state = next
    }
}

/// A booked execution: the part of an order's cumulative fill not booked before.
public struct ExecutionFill: Sendable, Hashable, Codable {
    /// The order.
    public var clientOrderID: String
    /// The symbol.
    public var symbol: String
    /// Buy or sell.
    public var side: OrderSide
    /// Quantity of this fill.
    public var quantity: Quantity
    /// Average price of this fill.
    public var price: Price
    /// Commission of this fill in the quote asset, with any base-asset part
    /// valued at the fill price (what the ledger's cash pays for it).
    public var commission: Money
    /// The part of the commission paid in the base asset, in base units: the
    /// position changes by `signedQuantity − baseCommission`.
    public var baseCommission: Quantity = .zero
    /// The order's cumulative filled quantity after this fill: unique per order, the store's dedupe key.
    public var cumulativeQuantity: Quantity
    /// Venue time.
    public var time: Timestamp

    /// Creates a fill.
    public init(
        clientOrderID: String,
        symbol: String,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        commission: Money,
        cumulativeQuantity: Quantity,
        time: Timestamp
    ) {
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.price = price
        self.commission = commission
        self.cumulativeQuantity = cumulativeQuantity
        self.time = time
    }

    /// Quantity with its sign: positive for buys.
    public var signedQuantity: Quantity { side == .buy ? quantity : -quantity }

    /// What the fill changes in the base asset held: the executed quantity with
    /// its sign, less any commission paid in the base asset.
    public var positionChange: Quantity { signedQuantity - baseCommission }

    /// The quantity the account ledger books for this fill: for a buy, what
    /// arrived net of a base-asset fee; for a sell, what left including it. With
    /// `commission` (which values that fee) cash moves exactly by the notional.
    public var heldQuantity: Quantity { side == .buy ? quantity - baseCommission : quantity + baseCommission }
}

/// What the executor tells its listeners (`MarketOrderExecutor.events()`).
public enum ExecutorEvent: Sendable, Hashable {
    /// A fill was booked; `orderComplete` when the order is now terminal.
    case filled(ExecutionFill, orderComplete: Bool)
    /// The venue reported a fill for an order the executor does not know
    /// (not from this store): logged, stored, and left for reconciliation.
    case unknownFill(VenueOrder)
    /// An order ended without a (further) fill: rejected, cancelled, expired or dropped.
    case ended(clientOrderID: String, state: OrderState, reason: String?)
}
