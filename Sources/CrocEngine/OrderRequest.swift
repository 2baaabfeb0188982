import CrocCore

/// A request to open an order at a venue.
///
/// `clientOrderID` is the idempotency key: the executor assigns it once,
/// writes it to the order store before the first send, and reuses it on
/// every retry, so a timed-out request can never become two orders.
public struct OrderRequest: Sendable, Hashable, Codable {
    /// The idempotency key sent to the venue (Binance `newClientOrderId`, at most 36 characters).
    public var clientOrderID: String
    /// The venue's symbol, e.g. `BTCUSDT`.
    public var symbol: String
    /// Buy or sell.
    public var side: OrderSide
    /// Market or limit. (Stops are the strategy's business: the engine turns them into market orders.)
    public var kind: Kind
    /// Positive quantity in base units.
    public var quantity: Quantity
    /// How long a limit order works (market orders ignore it).
    public var timeInForce: TimeInForce
    /// Size at fill time as this fraction of available cash (simulated and
    /// paper venues); `quantity` is the estimate. Real venues send `quantity`.
    public var cashFraction: FixedPoint?

    /// Market or limit.
    public enum Kind: Sendable, Hashable, Codable {
        /// At the market.
        case market
        /// At `price` or better.
        case limit(Price)

        /// The limit price, if any.
        public var limitPrice: Price? {
            if case .limit(let p) = self { return p }
            return nil
        }
    }

    /// Creates a request.
    public init(
        clientOrderID: String,
        symbol: String,
        side: OrderSide,
        kind: Kind,
        quantity: Quantity,
        timeInForce: TimeInForce = .gtc,
        cashFraction: FixedPoint? = nil
    ) {
        self.cashFraction = cashFraction
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.side = side
        self.kind = kind
        self.quantity = quantity
        self.timeInForce = timeInForce
    }
}
