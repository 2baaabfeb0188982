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

    private static func record(_ fill: Fill, tag: String?, open: inout [Lot], closed: inout [ClosedTrade]) {
        var remaining = fill.signedQuantity
        var exitCommissionLeft = fill.commission
        var quantityLeft = fill.quantity
        while remaining.raw != 0, let first = open.first, first.quantity.signum != remaining.signum {
            let closing = min(first.quantity.magnitude, remaining.magnitude)
            let whole = closing == first.quantity.magnitude
            let entryCommission = whole ? first.commission : (first.commission * closing).divided(by: first.quantity.magnitude) ?? .zero
            let exitCommission = closing == quantityLeft ? exitCommissionLeft : (fill.commission * closing).divided(by: fill.quantity) ?? .zero
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
