/// A completed round trip: an entry and the exit that closed it.
public struct ClosedTrade: Sendable, Hashable, Codable {
    /// The symbol.
    public var symbol: String
    /// Signed size: positive for a long trade, negative for a short one.
    public var quantity: Quantity
    /// Bar index of the entry fill.
    public var entryBar: Int
    /// Bar index of the exit fill.
    public var exitBar: Int
    /// Entry time.
    public var entryTime: Timestamp
    /// Exit time.
    public var exitTime: Timestamp
    /// Entry price.
    public var entryPrice: Price
    /// Exit price.
    public var exitPrice: Price
    /// Commissions of the entry and exit, pro rata to this trade's size.
    public var commission: Money
    /// Net PnL: size × (exit − entry) − commission.
    public var pnl: Money
    /// Tag of the entry order.
    public var tag: String?

    /// Return as a fraction of the entry value, net of commission
    /// (backtesting.py's `ReturnPct`).
    public var returnFraction: Double {
        let entry = entryPrice.doubleValue
        let gross = Double(quantity.signum) * (exitPrice.doubleValue / entry - 1)
        return gross - commission.doubleValue / (quantity.magnitude.doubleValue * entry)
    }

    /// Holding time in nanoseconds.
    public var duration: Nanoseconds { exitTime.nanoseconds - entryTime.nanoseconds }
}

/// Turns fills into round-trip trades, FIFO: each fill that adds to a
/// position opens a lot; fills against the position close the oldest lots
/// first, splitting one when needed (the way backtesting.py reports trades).
public struct TradeLedger: Sendable, Hashable, Codable {
    struct Lot: Sendable, Hashable, Codable {
        var quantity: Quantity  // signed
        var price: Price
        var bar: Int
        var time: Timestamp
        var commission: Money  // entry commission still attributed to this lot
        var tag: String?
    }

    private var lots: [String: [Lot]] = [:]
    /// Trades closed so far, in closing order.
    public private(set) var closed: [ClosedTrade] = []

    /// An empty ledger.
    public init() {}

    /// Number of open lots across symbols.
    public var openLotCount: Int { lots.values.reduce(0) { $0 + $1.count } }

    /// Records a fill.
    /// - Parameter tag: The order's tag, kept on lots it opens.
    public mutating func record(_ fill: Fill, tag: String? = nil) {
        // One lookup; the symbol's lots are updated in place (no copy of the array).
        if let i = lots.index(forKey: fill.symbol) {
            Self.record(fill, tag: tag, open: &lots.values[i], closed: &closed)
        } else {
            var open: [Lot] = []
            Self.record(fill, tag: tag, open: &open, closed: &closed)
            lots[fill.symbol] = open
        }
    }

    /// `amount × part / whole` (part ≤ whole, so the result fits): the product rounded to the
    /// ledger's 8 decimals, then divided; when that product would leave the ledger's range (a
    /// large commission times a large quantity), one exact 128-bit product and division instead.
    package static func prorate(_ amount: Money, _ part: Quantity, _ whole: Quantity) -> Money {
        guard whole.raw != 0 else { return .zero }
        if abs(amount.doubleValue * part.doubleValue) < 9e10 { return (amount * part).divided(by: whole) ?? .zero }
        let (q, r) = whole.raw.magnitude.dividingFullWidth(amount.raw.magnitude.multipliedFullWidth(by: part.raw.magnitude))
        var v = q
        if r &* 2 > whole.raw.magnitude || (r &* 2 == whole.raw.magnitude && v & 1 != 0) { v += 1 }
        let negative = ((amount.raw < 0) != (part.raw < 0)) != (whole.raw < 0)
        return FixedPoint(raw: negative ? -Int64(v) : Int64(v))
    }

    private static func record(_ fill: Fill, tag: String?, open: inout [Lot], closed: inout [ClosedTrade]) {
        var remaining = fill.signedQuantity
        var exitCommissionLeft = fill.commission
        var quantityLeft = fill.quantity
        while remaining.raw != 0, let first = open.first, first.quantity.signum != remaining.signum {
            let closing = min(first.quantity.magnitude, remaining.magnitude)
            let whole = closing == first.quantity.magnitude
            let entryCommission = whole ? first.commission : prorate(first.commission, closing, first.quantity.magnitude)
            let exitCommission = closing == quantityLeft ? exitCommissionLeft : prorate(fill.commission, closing, fill.quantity)
            exitCommissionLeft -= exitCommission
            quantityLeft -= closing
            let signed = first.quantity.signum > 0 ? closing : -closing
            let commission = entryCommission + exitCommission
            closed.append(
                ClosedTrade(
                    symbol: fill.symbol,
                    quantity: signed,
                    entryBar: first.bar,
                    exitBar: fill.barIndex,
                    entryTime: first.time,
                    exitTime: fill.timestamp,
                    entryPrice: first.price,
                    exitPrice: fill.price,
                    commission: commission,
                    pnl: signed * (fill.price - first.price) - commission,
                    tag: first.tag
                )
            )
            if whole {
                open.removeFirst()
            } else {
                open[0].quantity = first.quantity.signum > 0 ? first.quantity - closing : first.quantity + closing
                open[0].commission = first.commission - entryCommission
            }
            remaining = remaining.signum > 0 ? remaining - closing : remaining + closing
        }
        if remaining.raw != 0 {
            open.append(
                Lot(quantity: remaining, price: fill.price, bar: fill.barIndex, time: fill.timestamp, commission: exitCommissionLeft, tag: tag)
            )
        }
    }
}
