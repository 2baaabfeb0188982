import CrocCore
import CrocEngine

/// An order's status as the venue reports it.
public enum VenueOrderStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Accepted and working, nothing filled.
    case new
    /// Working, part filled.
    case partiallyFilled
    /// Completely filled.
    case filled
    /// Cancelled (possibly after partial fills).
    case canceled
    /// Refused by the venue.
    case rejected
    /// Expired (IOC/FOK remainder, venue-side expiry).
    case expired

    /// Whether the order can still change.
    public var isOpen: Bool { self == .new || self == .partiallyFilled }
}

/// A snapshot of one order at the venue. Fill figures are cumulative, which is
/// what makes duplicated or out-of-order reports harmless: the executor only
/// ever books the part of `executedQuantity` it has not booked yet.
public struct VenueOrder: Sendable, Hashable, Codable {
    /// Our idempotency key.
    public var clientOrderID: String
    /// The venue's id, when known.
    public var venueOrderID: String?
    /// The symbol.
    public var symbol: String
    /// Buy or sell.
    public var side: OrderSide
    /// Status at the venue.
    public var status: VenueOrderStatus
    /// Quantity ordered.
    public var quantity: Quantity
    /// Quantity filled so far (cumulative).
    public var executedQuantity: Quantity
    /// Quote value filled so far (cumulative Σ qty × price).
    public var cumulativeQuote: Money
    /// Commission charged so far in the quote asset (or in an asset the venue
    /// does not name), when the venue reports it.
    public var cumulativeCommission: Money?
    /// Commission charged so far by asset, when the venue names the asset
    /// (Binance `commissionAsset`: the base asset on most buys, the quote
    /// asset on sells, BNB when enabled). Empty when it does not.
    public var commissionsByAsset: [String: FixedPoint] = [:]
    /// Venue time of this state, nanoseconds since the epoch.
    public var updateTime: Timestamp
    /// The venue's reason for a rejection, if any.
    public var rejectReason: String?

    /// Creates a snapshot.
    public init(
        clientOrderID: String,
        venueOrderID: String?,
        symbol: String,
        side: OrderSide,
        status: VenueOrderStatus,
        quantity: Quantity,
        executedQuantity: Quantity,
        cumulativeQuote: Money,
        cumulativeCommission: Money? = nil,
        commissionsByAsset: [String: FixedPoint] = [:],
        updateTime: Timestamp,
        rejectReason: String? = nil
    ) {
        self.commissionsByAsset = commissionsByAsset
        self.clientOrderID = clientOrderID
        self.venueOrderID = venueOrderID
        self.symbol = symbol
        self.side = side
        self.status = status
        self.quantity = quantity
        self.executedQuantity = executedQuantity
        self.cumulativeQuote = cumulativeQuote
        self.cumulativeCommission = cumulativeCommission
        self.updateTime = updateTime
        self.rejectReason = rejectReason
    }

    /// Average fill price so far, if anything filled.
    public var averagePrice: Price? {
        executedQuantity.raw > 0 ? cumulativeQuote.divided(by: executedQuantity) : nil
    }
}

/// What an execution report announces.
public enum ExecutionReportKind: String, Sendable, Hashable, Codable {
    /// The venue accepted the order.
    case ack
    /// Part of the order filled.
    case partialFill
    /// The order filled completely.
    case fill
    /// The order was cancelled.
    case cancel
    /// The venue refused the order.
    case reject
    /// The order expired.
    case expire
}

/// One execution as the venue reports it (Binance's `l`, `L` and `n`).
public struct VenueFill: Sendable, Hashable, Codable {
    /// Quantity of this execution.
    public var quantity: Quantity
    /// Its price.
    public var price: Price
    /// Its commission.
    public var commission: Money
    /// The commission's asset (nil: the quote asset).
    public var commissionAsset: String?

    /// Creates an execution.
    public init(quantity: Quantity, price: Price, commission: Money, commissionAsset: String? = nil) {
        self.quantity = quantity
        self.price = price
        self.commission = commission
        self.commissionAsset = commissionAsset
    }
}

/// One event from the venue about one order, with the order's state after it.
public struct ExecutionReport: Sendable, Hashable, Codable {
    /// What happened.
    public var kind: ExecutionReportKind
    /// The order after the event (cumulative figures).
    public var order: VenueOrder
    /// The execution this report announces, when the venue gives it
    /// (exact price and commission, rather than a difference of cumulative figures).
    public var lastFill: VenueFill?

    /// Creates a report.
    public init(kind: ExecutionReportKind, order: VenueOrder, lastFill: VenueFill? = nil) {
        self.kind = kind
        self.order = order
        self.lastFill = lastFill
    }

    /// The report a snapshot implies on its own (`ack` for a working order, `fill` for a filled one, ...).
    public init(snapshot: VenueOrder) {
        switch snapshot.status {
        case .new: kind = .ack
        case .partiallyFilled: kind = .partialFill
        case .filled: kind = .fill
        case .canceled: kind = .cancel
        case .rejected: kind = .reject
        case .expired: kind = .expire
        }
        order = snapshot
        lastFill = nil
    }
}

/// An asset balance at the venue.
public struct AssetBalance: Sendable, Hashable, Codable {
    /// The asset, e.g. `USDT`.
    public var asset: String
    /// Available.
    public var free: FixedPoint
    /// Held by working orders.
    public var locked: FixedPoint

    /// Creates a balance.
    public init(asset: String, free: FixedPoint, locked: FixedPoint) {
        self.asset = asset
        self.free = free
        self.locked = locked
    }
}

/// A venue that takes orders: the simulated exchange, the paper client, or a
/// real exchange such as Binance.
///
/// The calls are `nonisolated(nonsending)`: an in-process client that is not
/// an actor (the simulated exchange) runs on the caller's executor with no
/// hop; actor clients hop to themselves as usual.
///
/// Every call takes a `deadline`; implementations must give up by then with
/// `ExecutionError.timeout`. All errors are `ExecutionError`s, whose
/// `isTransient` and `mayHaveReachedVenue` tell the executor whether and how
/// to retry.
public protocol ExecutionClient: Sendable {
    /// The venue's name for logs and metrics (`simulated`, `paper`, `binance`).
    var venueName: String { get }

    /// Sends a new order. Returns the venue's view of it right after acceptance
    /// (market orders may already be filled).
    nonisolated(nonsending) func submit(_ request: OrderRequest, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder

    /// Cancels a working order by client order id.
    nonisolated(nonsending) func cancel(
        symbol: String,
        clientOrderID: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> VenueOrder

    /// The venue's view of one order, or `nil` if the venue has never seen it.
    nonisolated(nonsending) func queryOrder(
        symbol: String,
        clientOrderID: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> VenueOrder?

    /// Working orders, for one symbol or all.
    nonisolated(nonsending) func openOrders(symbol: String?, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [VenueOrder]

    /// Account balances.
    nonisolated(nonsending) func balances(deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [AssetBalance]

    /// Execution reports pushed by the venue (fills of resting orders, cancels
    /// by the venue). Each call returns a new stream; a client without push
    /// reports returns one that finishes at once.
    func executionReports() -> AsyncStream<ExecutionReport>
}
