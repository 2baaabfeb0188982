/// An order's identity within one engine run (monotonic, deterministic).
@frozen
public struct OrderID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The sequence number.
    public var rawValue: UInt64
    /// Wraps a sequence number.
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// Ordering by sequence.
    @inlinable public static func < (a: OrderID, b: OrderID) -> Bool { a.rawValue < b.rawValue }
    /// `#12`.
    public var description: String { "#\(rawValue)" }
}

/// Buy or sell.
public enum OrderSide: String, Sendable, Hashable, Codable, CaseIterable {
    /// Buy (increases the position).
    case buy
    /// Sell (decreases the position).
    case sell

    /// `+1` for buys, `-1` for sells.
    @inlinable public var sign: Int64 { self == .buy ? 1 : -1 }
    /// The other side.
    @inlinable public var opposite: OrderSide { self == .buy ? .sell : .buy }
}

/// How an order's price is determined.
public enum OrderType: Sendable, Hashable, Codable {
    /// At the market price (next open by default).
    case market
    /// At `price` or better.
    case limit(Price)
    /// Becomes a market order once the price touches `price`.
    case stop(Price)
}

/// How long an order stays working.
public enum TimeInForce: String, Sendable, Hashable, Codable, CaseIterable {
    /// Good till cancelled.
    case gtc
    /// Immediate or cancel: whatever does not fill on the first bar it is evaluated on is cancelled.
    case ioc
    /// Cancelled at the end of the (UTC) day it was placed on.
    case day
}

/// How much an order trades.
public enum OrderSize: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A fixed quantity (a positive multiple of the instrument's step).
    case quantity(Quantity)
    /// A fraction of the cash available when the order fills, converted to
    /// the largest affordable quantity at the fill price, costs included
    /// (backtesting.py's `size < 1`). `1` means all available cash.
    case cashFraction(FixedPoint)

    /// `10` or `100% of cash`.
    public var description: String {
        switch self {
        case .quantity(let q): return q.description
        case .cashFraction(let f): return "\((f * FixedPoint(100)).description)% of cash"
        }
    }
}

/// An order as the strategy placed it.
public struct Order: Sendable, Hashable, Codable {
    /// Engine-assigned identity.
    public var id: OrderID
    /// Idempotency key sent to venues (`crocbot-<run>-<id>` by default).
    public var clientOrderID: String
    /// The instrument's symbol.
    public var symbol: String
    /// Buy or sell.
    public var side: OrderSide
    /// Market, limit or stop.
    public var type: OrderType
    /// How much it trades.
    public var size: OrderSize
    /// How long it works.
    public var timeInForce: TimeInForce
    /// When it was placed (the bar's timestamp).
    public var createdAt: Timestamp
    /// Index of the bar it was placed on.
    public var createdBar: Int
    /// Free text from the strategy, carried into trades.
    public var tag: String?

    /// Creates an order.
    public init(
        id: OrderID,
        clientOrderID: String,
        symbol: String,
        side: OrderSide,
        type: OrderType,
        size: OrderSize,
        timeInForce: TimeInForce = .gtc,
        createdAt: Timestamp,
        createdBar: Int,
        tag: String? = nil
    ) {
        self.id = id
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.side = side
        self.type = type
        self.size = size
        self.timeInForce = timeInForce
        self.createdAt = createdAt
        self.createdBar = createdBar
        self.tag = tag
    }
}

/// Why an order was refused.
public enum RejectionReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Buying would need more cash than is available.
    case insufficientCash(required: Money, available: Money)
    /// The quantity is not a positive multiple of the instrument's step.
    case invalidQuantity(Quantity, step: Quantity)
    /// A cash fraction outside (0, 1].
    case invalidCashFraction(FixedPoint)
    /// A limit/stop price that is not positive.
    case invalidPrice(Price)
    /// Selling more than is held when shorting is off.
    case shortingDisabled(requested: Quantity, held: Quantity)
    /// The order names another instrument.
    case unknownSymbol(String)
    /// Refused outside the engine: by the live executor (risk, backpressure)
    /// or by the venue, with its message.
    case refused(String)

    /// A message for people.
    public var description: String {
        switch self {
        case .insufficientCash(let req, let avail):
            return "insufficient cash: requires \(req.formatted(decimals: 2)), available \(avail.formatted(decimals: 2))"
        case .invalidQuantity(let q, let step):
            return "invalid quantity \(q): must be a positive multiple of \(step)"
        case .invalidCashFraction(let f):
            return "invalid cash fraction \(f): must be in (0, 1]"
        case .invalidPrice(let p):
            return "invalid price \(p): must be > 0"
        case .shortingDisabled(let req, let held):
            return "shorting disabled: sell \(req) exceeds position \(held)"
        case .unknownSymbol(let s):
            return "unknown symbol \(s)"
        case .refused(let why):
            return "refused: \(why)"
        }
    }
}

/// What happened to an order.
public enum OrderEvent: Sendable, Hashable {
    /// Accepted and working.
    case accepted(Order)
    /// Refused, with the reason.
    case rejected(Order, RejectionReason)
    /// Cancelled before filling (by the strategy, IOC or DAY expiry).
    case cancelled(Order)
    /// Fully filled.
    case filled(Order, Fill)
}
