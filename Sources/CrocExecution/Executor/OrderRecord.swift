import CrocCore
import CrocEngine

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
