/// A net position in one instrument.
public struct Position: Sendable, Hashable, Codable {
    /// The symbol.
    public var symbol: String
    /// Signed quantity: positive long, negative short.
    public var quantity: Quantity
    /// Average entry price of the open quantity (zero when flat).
    public var averagePrice: Price
    /// PnL realised by reducing this position, before commissions.
    public var realizedPnL: Money
    /// The last price it was marked at.
    public var markPrice: Price

    /// A flat position.
    public init(symbol: String) {
        self.symbol = symbol
        self.quantity = .zero
        self.averagePrice = .zero
        self.realizedPnL = .zero
        self.markPrice = .zero
    }

    /// Whether nothing is held.
    @inlinable public var isFlat: Bool { quantity.raw == 0 }

    /// Mark-to-market value, quantity × mark.
    @inlinable public var marketValue: Money { quantity.raw == 0 ? .zero : quantity * markPrice }

    /// PnL of the open quantity at the mark.
    @inlinable public var unrealizedPnL: Money {
        quantity.raw == 0 ? .zero : quantity * (markPrice - averagePrice)
    }

    /// Applies a fill: increases update the average price, reductions realise PnL.
    public mutating func apply(_ fill: Fill) { apply(fill, notional: fill.notional) }

    /// `apply(_:)` with the fill's notional (`quantity × price`) computed once by the caller.
    package mutating func apply(_ fill: Fill, notional: Money) {
        let q = fill.signedQuantity
        if quantity.raw == 0 || quantity.signum == q.signum {
            // Increase: new average = (|q0|·avg + |q|·p) / |q0 + q|.
            let total = (quantity + q).magnitude
            let cost = (quantity.raw == 0 ? .zero : quantity.magnitude * averagePrice) + notional
            averagePrice = cost.divided(by: total) ?? fill.price
            quantity += q
        } else {
            let closing = min(quantity.magnitude, q.magnitude)
            let direction = FixedPoint(quantity.signum)
            realizedPnL += closing * (fill.price - averagePrice) * direction
            quantity += q
            if quantity.raw == 0 {
                averagePrice = .zero
            } else if quantity.signum != direction.signum {
                averagePrice = fill.price  // flipped: the remainder opened at the fill price
            }
        }
    }
}
