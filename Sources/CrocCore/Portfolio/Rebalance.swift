/// How a shared account moves to target weights: the sizing rules of a
/// portfolio rebalance, as pure functions of the account at each step.
///
/// The semantics, which the engine's `rebalance(to:)` and
/// `orderTargetPercent` follow and the tests match against vectorbt 1.2.0
/// (`Portfolio.from_orders(size_type='targetpercent', group_by=True,
/// cash_sharing=True, call_seq='auto', update_value=True)`, filled at the
/// close) and bt 1.4.1:
///
/// 1. A weight is a fraction of the account's equity (cash plus every
///    position at its price).
/// 2. The orders run in ascending order of their approximate value
///    (`weight × equity − value held`): sells first, so the buys are funded;
///    ties keep the order given (`sequence`).
/// 3. Each order is sized when it executes, from the equity at that moment —
///    after the earlier orders of the same rebalance paid their fees
///    (`delta`).
/// 4. A buy that needs more cash than is left is reduced to what the cash
///    affords, commission included (`affordable`); a sell is never reduced.
///
/// Weights are `Double`s (1/3 has no exact decimal form, and the ledger's 8
/// decimals would shift a third of the account by 1e-8 of its value); the
/// quantity a weight asks for is computed once in `Double` and then becomes
/// an exact `FixedPoint`, rounded toward zero to the instrument's quantity
/// step, so a rebalance never buys more than its target. Cash, fees and
/// positions stay exact.
public enum Rebalance {
    /// One symbol's target: a fraction of equity (0 closes the position).
    public struct Target: Sendable, Hashable {
        /// The symbol.
        public var symbol: String
        /// Its target weight.
        public var weight: Double

        /// Creates a target.
        public init(symbol: String, weight: Double) {
            self.symbol = symbol
            self.weight = weight
        }
    }

    /// The order in which the targets' orders run: by ascending approximate
    /// order value `weight × equity − held(symbol)` (the most negative — the
    /// largest sell — first), ties in the order given (a stable sort).
    /// - Parameters:
    ///   - targets: The targets, in the universe's order.
    ///   - equity: The account's equity at the decision.
    ///   - held: The value held in a symbol (position × price; 0 when flat).
    public static func sequence(_ targets: [Target], equity: Money, held: (String) -> Money) -> [Target] {
        let held = targets.map { held($0.symbol) }
        return sequence(targets, equity: equity, heldValues: held).map { targets[$0] }
    }

    /// `sequence(_:equity:held:)` as positions into `targets`, with the value held in each
    /// target's symbol given in the same order (`heldValues[i]` for `targets[i]`): no lookup
    /// by symbol, for an engine that already knows each target's lane.
    public static func sequence(_ targets: [Target], equity: Money, heldValues: [Money]) -> [Int] {
        var order: [Int] = []
        var keys: [Double] = []
        sequence(targets, equity: equity, heldValues: heldValues, into: &order, keys: &keys)
        return order
    }

    /// `sequence(_:equity:heldValues:)` into `order`, with `keys` as scratch (both emptied
    /// first; their storage reused: an engine rebalancing every step allocates nothing here).
    package static func sequence(_ targets: [Target], equity: Money, heldValues: [Money], into order: inout [Int], keys: inout [Double]) {
        precondition(heldValues.count == targets.count, "one held value per target")
        let value = equity.doubleValue
        keys.removeAll(keepingCapacity: true)
        for i in targets.indices { keys.append(targets[i].weight * value - heldValues[i].doubleValue) }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: targets.indices)
        guard targets.count <= 32 else {
            let keys = keys
            order.sort { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
            return
        }
        // A few dozen targets (a rebalance of a portfolio's holdings): insertion, which moves a
        // position only past larger keys, so equal keys keep their order (stable, as above).
        keys.withUnsafeBufferPointer { keys in
            order.withUnsafeMutableBufferPointer { order in
                for i in order.indices.dropFirst() {
                    let p = order[i]
                    let key = keys[p]
                    var j = i
                    while j > 0 && keys[order[j - 1]] > key {
                        order[j] = order[j - 1]
                        j -= 1
                    }
                    order[j] = p
                }
            }
        }
    }

    /// The signed quantity (positive: buy) that brings `position` to
    /// `weight × equity` at `price`, rounded toward zero to `step`. A weight of
    /// 0 sells exactly what is held. Nil when the price is not positive or the
    /// target is not representable.
    public static func delta(weight: Double, equity: Money, price: Price, position: Quantity, step: Quantity) -> Quantity? {
        if weight == 0 { return -position }
        guard price.raw > 0, weight.isFinite, let target = FixedPoint(rounding: weight * equity.doubleValue / price.doubleValue) else { return nil }
        let d = target - position
        guard step.raw > 1 else { return d }
        return d.raw >= 0 ? d.floored(toMultipleOf: step) : -((-d).floored(toMultipleOf: step))
    }

    /// A buy of `quantity` at `price`, reduced (to a multiple of `step`) to
    /// what `cash` affords when it and its commission need more.
    public static func affordable(buy quantity: Quantity, price: Price, cash: Money, fees: FeeModel, step: Quantity) -> Quantity {
        affordableBuy(quantity, price: price, cash: cash, fees: fees, step: step).quantity
    }

    /// `affordable(buy:price:cash:fees:step:)` with the notional (`quantity × price`) and the
    /// commission of the quantity it returns, each computed once (all zero for no quantity).
    package static func affordableBuy(
        _ quantity: Quantity,
        price: Price,
        cash: Money,
        fees: FeeModel,
        step: Quantity
    ) -> (quantity: Quantity, notional: Money, commission: Money) {
        guard quantity.raw > 0 else { return (.zero, .zero, .zero) }
        let notional = quantity * price
        let commission = fees.commission(notional: notional)
        if notional + commission <= cash { return (quantity, notional, commission) }
        let q = min(quantity, fees.affordableQuantity(budget: cash, price: price, step: step))
        let cut = q * price
        return (q, cut, fees.commission(notional: cut))
    }

    /// Checks a set of targets before any order is placed.
    /// - Parameters:
    ///   - targets: The targets.
    ///   - allowShort: Whether negative weights (short positions) are allowed.
    ///   - maxGrossWeight: The most the weights' absolute values may add up
    ///     to (1: no leverage).
    /// - Throws: `RebalanceError` naming the symbol and the value, for a
    ///   non-finite weight, a symbol named twice, a negative weight without
    ///   `allowShort`, or weights adding up to more than `maxGrossWeight`.
    ///   - distinctSymbols: The caller guarantees no symbol is named twice (targets built
    ///     from a run's own symbols, one per lane): the duplicate check is skipped.
    public static func validate(
        _ targets: [Target],
        allowShort: Bool,
        maxGrossWeight: Double = 1,
        distinctSymbols: Bool = false
    ) throws(RebalanceError) {
        var seen: Set<String> = []
        if !distinctSymbols { seen.reserveCapacity(targets.count) }
        var gross = 0.0
        for t in targets {
            guard t.weight.isFinite else { throw .nonFiniteWeight(symbol: t.symbol, weight: t.weight) }
            guard distinctSymbols || seen.insert(t.symbol).inserted else { throw .duplicateSymbol(t.symbol) }
            if t.weight < 0 && !allowShort { throw .negativeWeight(symbol: t.symbol, weight: t.weight) }
            gross += abs(t.weight)
        }
        // A tolerance for weights like 1/3 + 1/3 + 1/3 that add up to 1 + 1 ulp.
        if gross > maxGrossWeight * (1 + 1e-12) { throw .overweight(total: gross, limit: maxGrossWeight) }
    }
}

/// Why target weights were refused, naming the symbol and the figures.
public enum RebalanceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A weight that is NaN or infinite.
    case nonFiniteWeight(symbol: String, weight: Double)
    /// A symbol named twice in one rebalance.
    case duplicateSymbol(String)
    /// A negative weight while shorting is not allowed.
    case negativeWeight(symbol: String, weight: Double)
    /// Absolute weights adding up to more than the leverage allows.
    case overweight(total: Double, limit: Double)
    /// A symbol the run does not trade.
    case unknownSymbol(String, known: [String])
    /// A lane-ordered weight vector of the wrong length.
    case laneCount(found: Int, expected: Int)

    /// A message for people.
    public var description: String {
        switch self {
        case .nonFiniteWeight(let s, let w): return "target weight of \(s) is \(w): weights must be finite numbers"
        case .duplicateSymbol(let s): return "\(s) is named twice in one rebalance"
        case .negativeWeight(let s, let w): return "target weight of \(s) is \(w): negative weights (shorts) need allowShort"
        case .overweight(let total, let limit):
            return "target weights add up to \(total), above \(limit) (set a higher leverage to allow it, or scale the weights down)"
        case .unknownSymbol(let s, let known):
            return "\(s) is not traded in this run; the symbols are \(known.prefix(20).joined(separator: ", "))\(known.count > 20 ? ", ..." : "")"
        case .laneCount(let found, let expected): return "\(found) weights for \(expected) symbols"
        }
    }
}
