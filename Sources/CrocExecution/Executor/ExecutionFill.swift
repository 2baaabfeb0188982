import CrocCore
import CrocEngine

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
