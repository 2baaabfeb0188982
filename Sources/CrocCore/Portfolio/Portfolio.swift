/// The account ledger: cash, positions, fees, realised and unrealised PnL.
///
/// Exact by construction: every amount is `FixedPoint`, cash changes by
/// exactly notional ± commission on each fill, and equity is cash plus the
/// marked value of the positions.
public struct Portfolio: Sendable, Hashable, Codable {
    /// Cash balance.
    public private(set) var cash: Money
    /// Cash at the start.
    public let initialCash: Money
    /// Positions by symbol.
    public private(set) var positions: [String: Position]
    /// Commissions paid so far.
    public private(set) var totalCommission: Money
    /// Number of fills applied.
    public private(set) var fillCount: Int

    /// An account holding only cash.
    public init(cash: Money) {
        self.cash = cash
        self.initialCash = cash
        self.positions = [:]
        self.totalCommission = .zero
        self.fillCount = 0
    }

    /// An account that starts with positions already held (a restart of live
    /// trading: what the venue and the order store say is held), and `cash`.
    /// No cash moves for them; they are marked at their average price until
    /// the first mark.
    public init(cash: Money, holding: [Position]) {
        self.init(cash: cash)
        for var p in holding where !p.isFlat {
            if p.markPrice.isZero { p.markPrice = p.averagePrice }
            positions[p.symbol] = p
        }
    }

    /// The position in `symbol` (flat when never traded).
    public func position(_ symbol: String) -> Position {
        positions[symbol] ?? Position(symbol: symbol)
    }

    /// Books a fill: moves cash by the notional and the commission, updates the position.
    public mutating func apply(_ fill: Fill) {
        // One lookup, the position updated in place.
        apply(fill, notional: fill.notional, at: positions.index(forKey: fill.symbol))
    }

    /// `apply(_:)` for a fill of the position at `index` of `positions` (its place, found
    /// before: no hashing), or of a symbol not held before when `index` is nil (its position is
    /// added); `notional` is the fill's `quantity × price`, computed once by the caller.
    /// Returns the position's quantity and average price after the fill.
    /// - Precondition: `index`, when given, is the fill's symbol's place in `positions`, taken
    ///   since the last position was added.
    @discardableResult
    package mutating func apply(
        _ fill: Fill,
        notional: Money,
        at index: Dictionary<String, Position>.Index?
    ) -> (quantity: Quantity, averagePrice: Price) {
        cash += fill.side == .buy ? -notional : notional
        cash -= fill.commission
        totalCommission += fill.commission
        fillCount += 1
        guard let i = index else {
            var p = Position(symbol: fill.symbol)
            Self.apply(fill, notional: notional, to: &p)
            positions[fill.symbol] = p
            return (p.quantity, p.averagePrice)
        }
        Self.apply(fill, notional: notional, to: &positions.values[i])
        return (positions.values[i].quantity, positions.values[i].averagePrice)
    }

    /// `mark(_:at:)` for the position at `index` of `positions` (its place, found before).
    package mutating func mark(at index: Dictionary<String, Position>.Index, price: Price) {
        positions.values[index].markPrice = price
    }

    private static func apply(_ fill: Fill, notional: Money, to p: inout Position) {
        p.apply(fill, notional: notional)
        if p.markPrice.isZero { p.markPrice = fill.price }
    }

    /// Marks `symbol` at `price` for unrealised PnL and equity.
    public mutating func mark(_ symbol: String, at price: Price) {
        if let i = positions.index(forKey: symbol) { positions.values[i].markPrice = price }
    }

    /// Cash plus the marked value of all positions.
    public var equity: Money {
        var e = cash
        for p in positions.values { e += p.marketValue }
        return e
    }

    /// PnL realised by closing positions, before commissions.
    public var realizedPnL: Money { positions.values.reduce(.zero) { $0 + $1.realizedPnL } }

    /// PnL of open positions at their marks.
    public var unrealizedPnL: Money { positions.values.reduce(.zero) { $0 + $1.unrealizedPnL } }
}
