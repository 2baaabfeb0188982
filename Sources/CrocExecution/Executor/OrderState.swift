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
