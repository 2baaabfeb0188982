/// Trading costs: commission (a fraction of notional plus a fixed amount per
/// order) and slippage in basis points against the trader. One definition,
/// used by the simulated exchange to charge and by strategies to size orders.
public struct FeeModel: Sendable, Hashable, Codable {
    /// Commission as a fraction of notional (0.002 = 0.2 %).
    public var commissionRate: FixedPoint
    /// Fixed commission per fill.
    public var commissionFixed: Money
    /// Slippage in basis points (1 bp = 0.01 %).
    public var slippageBps: FixedPoint

    /// No costs.
    public static let free = FeeModel(commissionRate: .zero, commissionFixed: .zero, slippageBps: .zero)

    /// Creates a fee model.
    public init(commissionRate: FixedPoint, commissionFixed: Money = .zero, slippageBps: FixedPoint = .zero) {
        self.commissionRate = commissionRate
        self.commissionFixed = commissionFixed
        self.slippageBps = slippageBps
    }

    /// Commission for a fill of `notional`.
    @inlinable
    public func commission(notional: Money) -> Money {
        notional.magnitude * commissionRate + commissionFixed
    }

    /// The execution price after slippage: higher for buys, lower for sells.
    @inlinable
    public func slipped(_ price: Price, side: OrderSide) -> Price {
        if slippageBps.isZero { return price }
        let factor = FixedPoint(raw: FixedPoint.scale + side.sign * (slippageBps.raw / 10_000))
        return price * factor
    }

    /// The largest quantity (a multiple of `step`) whose cost at `price`,
    /// commission included, fits in `budget`.
    public func affordableQuantity(budget: Money, price: Price, step: Quantity) -> Quantity {
        guard budget.raw > commissionFixed.raw, price.raw > 0, step.raw > 0 else { return .zero }
        let perUnit = price + price * commissionRate
        guard let estimate = (budget - commissionFixed).divided(by: perUnit) else { return .zero }
        var q = estimate.floored(toMultipleOf: step)
        // Exact check: rounding may put the estimate one step too high.
        while q.raw > 0, q * price + commission(notional: q * price) > budget { q -= step }
        return q
    }
}
