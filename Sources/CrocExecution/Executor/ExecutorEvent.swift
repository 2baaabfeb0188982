import CrocCore
import CrocEngine

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
