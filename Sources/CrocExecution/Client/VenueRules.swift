import CrocCore
import CrocEngine

/// One symbol's trading rules at a venue (Binance `exchangeInfo` filters:
/// `PRICE_FILTER`, `LOT_SIZE`, `MARKET_LOT_SIZE`, `MIN_NOTIONAL`/`NOTIONAL`),
/// and the assets it trades.
///
/// The executor conforms every order to these rules before it is written to
/// the store: the quantity is rounded down to the step, a limit price to the
/// tick (buys down, sells up: never a worse price than asked), and an order
/// that still breaks a rule is refused locally with the rule and the figures
/// — it never reaches the venue to be rejected there.
public struct VenueRules: Sendable, Hashable, Codable {
    /// The venue's symbol, e.g. `BTCUSDT`.
    public var symbol: String
    /// The asset bought and sold, e.g. `BTC`.
    public var baseAsset: String
    /// The asset prices and cash are in, e.g. `USDT`.
    public var quoteAsset: String
    /// Price increment (zero: any price).
    public var tickSize: Price
    /// Quantity increment (zero: any quantity).
    public var stepSize: Quantity
    /// Smallest quantity.
    public var minQuantity: Quantity
    /// Largest quantity (nil: no limit).
    public var maxQuantity: Quantity?
    /// Smallest order value, quantity × price (zero: none).
    public var minNotional: Money

    /// Creates rules.
    public init(
        symbol: String,
        baseAsset: String,
        quoteAsset: String,
        tickSize: Price = .zero,
        stepSize: Quantity = .zero,
        minQuantity: Quantity = .zero,
        maxQuantity: Quantity? = nil,
        minNotional: Money = .zero
    ) {
        self.symbol = symbol
        self.baseAsset = baseAsset
        self.quoteAsset = quoteAsset
        self.tickSize = tickSize
        self.stepSize = stepSize
        self.minQuantity = minQuantity
        self.maxQuantity = maxQuantity
        self.minNotional = minNotional
    }

    /// Decimals of the tick size (the instrument's price precision), 8 when there is no tick.
    public var pricePrecision: Int {
        guard tickSize.raw > 0 else { return FixedPoint.decimals }
        var digits = FixedPoint.decimals
        var raw = tickSize.raw
        while digits > 0 && raw % 10 == 0 {
            raw /= 10
            digits -= 1
        }
        return digits
    }

    /// `request` rounded to the rules, or the rule it cannot meet.
    /// - Parameter referencePrice: The last market price: the value of a
    ///   market order for the minimum-notional check (limit orders use their price).
    public func conform(_ request: OrderRequest, referencePrice: Price?) -> Result<OrderRequest, VenueRuleViolation> {
        var out = request
        if stepSize.raw > 0 { out.quantity = request.quantity.floored(toMultipleOf: stepSize) }
        if out.quantity.raw <= 0 || out.quantity < minQuantity {
            return .failure(.belowMinQuantity(symbol: symbol, quantity: request.quantity, minimum: max(minQuantity, stepSize)))
        }
        if let maxQ = maxQuantity, out.quantity > maxQ {
            return .failure(.aboveMaxQuantity(symbol: symbol, quantity: out.quantity, maximum: maxQ))
        }
        if let limit = request.kind.limitPrice {
            var price = limit
            if tickSize.raw > 0 {
                let down = limit.floored(toMultipleOf: tickSize)
                price = request.side == .buy || down == limit ? down : down + tickSize
            }
            if price.raw <= 0 { return .failure(.priceBelowTick(symbol: symbol, price: limit, tick: tickSize)) }
            out.kind = .limit(price)
        }
        if minNotional.raw > 0 {
            guard let price = out.kind.limitPrice ?? referencePrice else { return .failure(.noReferencePrice(symbol: symbol)) }
            let value = out.quantity * price
            if value < minNotional { return .failure(.belowMinNotional(symbol: symbol, notional: value, minimum: minNotional)) }
        }
        return .success(out)
    }
}

/// Why an order cannot meet a venue's rules (refused locally, never sent).
public enum VenueRuleViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// The quantity, rounded down to the step, is below the minimum (LOT_SIZE).
    case belowMinQuantity(symbol: String, quantity: Quantity, minimum: Quantity)
    /// The quantity is above the maximum (LOT_SIZE).
    case aboveMaxQuantity(symbol: String, quantity: Quantity, maximum: Quantity)
    /// quantity × price is below the minimum order value (MIN_NOTIONAL / NOTIONAL).
    case belowMinNotional(symbol: String, notional: Money, minimum: Money)
    /// The limit price rounds to zero at the tick size (PRICE_FILTER).
    case priceBelowTick(symbol: String, price: Price, tick: Price)
    /// A market order's value cannot be checked: no last price is known.
    case noReferencePrice(symbol: String)

    /// The rule's name, for metrics labels.
    public var rule: String {
        switch self {
        case .belowMinQuantity: return "lot_size_min"
        case .aboveMaxQuantity: return "lot_size_max"
        case .belowMinNotional: return "min_notional"
        case .priceBelowTick: return "price_filter"
        case .noReferencePrice: return "no_reference_price"
        }
    }

    /// A message for people.
    public var description: String {
        switch self {
        case .belowMinQuantity(let s, let q, let m): return "\(s): quantity \(q) is below the venue's minimum \(m) (LOT_SIZE)"
        case .aboveMaxQuantity(let s, let q, let m): return "\(s): quantity \(q) is above the venue's maximum \(m) (LOT_SIZE)"
        case .belowMinNotional(let s, let v, let m):
            return "\(s): order value \(v) is below the venue's minimum notional \(m) (MIN_NOTIONAL)"
        case .priceBelowTick(let s, let p, let t): return "\(s): price \(p) rounds to zero at the tick size \(t) (PRICE_FILTER)"
        case .noReferencePrice(let s): return "\(s): no last price to check the order's value against the venue's minimum notional"
        }
    }
}

/// A venue that publishes its trading rules and can be told the time.
public protocol VenueRulesProvider: Sendable {
    /// The rules of `symbol` (Binance: `GET /api/v3/exchangeInfo?symbol=`).
    func rules(symbol: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueRules
}
