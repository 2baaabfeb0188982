/// An execution: how much of an order traded, at what price and cost.
public struct Fill: Sendable, Hashable, Codable {
    /// The order that filled.
    public var orderID: OrderID
    /// The instrument's symbol.
    public var symbol: String
    /// Buy or sell.
    public var side: OrderSide
    /// Positive quantity traded.
    public var quantity: Quantity
    /// Execution price, slippage included.
    public var price: Price
    /// Commission charged for this fill.
    public var commission: Money
    /// When it happened (the bar's timestamp).
    public var timestamp: Timestamp
    /// Index of the bar it happened on.
    public var barIndex: Int

    /// Creates a fill.
    public init(
        orderID: OrderID,
        symbol: String,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        commission: Money,
        timestamp: Timestamp,
        barIndex: Int
    ) {
        self.orderID = orderID
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.price = price
        self.commission = commission
        self.timestamp = timestamp
        self.barIndex = barIndex
    }

    /// Quantity with its sign: positive for buys.
    @inlinable public var signedQuantity: Quantity { side == .buy ? quantity : -quantity }

    /// Traded value, quantity × price.
    @inlinable public var notional: Money { quantity * price }
}
