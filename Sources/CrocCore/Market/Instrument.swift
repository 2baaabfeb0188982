/// A tradable instrument: its symbol, price precision and quantity step.
public struct Instrument: Hashable, Sendable, Codable {
    /// The symbol (`GOOGL`, `EURUSD`, `BTCUSDT`).
    public var symbol: String
    /// Decimal places of prices (0...8).
    public var pricePrecision: Int
    /// The smallest tradable quantity; order quantities are multiples of it.
    public var quantityStep: Quantity

    /// Creates an instrument.
    /// - Parameters:
    ///   - symbol: The symbol.
    ///   - pricePrecision: Decimal places of prices, clamped to 0...8.
    ///   - quantityStep: Smallest quantity; whole units by default.
    public init(symbol: String, pricePrecision: Int = 8, quantityStep: Quantity = .one) {
        self.symbol = symbol
        self.pricePrecision = min(max(pricePrecision, 0), FixedPoint.decimals)
        self.quantityStep = quantityStep.raw > 0 ? quantityStep : .one
    }

    /// Rounds a raw price to this instrument's precision (half to even).
    @inlinable
    public func price(_ value: Double) -> Price {
        let p = FixedPoint(unchecked: value)
        // The same rounding as `p.rounded(toDecimals: pricePrecision)`, with a constant divisor per case.
        switch pricePrecision {
        case 0: return FixedPoint(raw: Self.round(p.raw, 100_000_000))
        case 1: return FixedPoint(raw: Self.round(p.raw, 10_000_000))
        case 2: return FixedPoint(raw: Self.round(p.raw, 1_000_000))
        case 3: return FixedPoint(raw: Self.round(p.raw, 100_000))
        case 4: return FixedPoint(raw: Self.round(p.raw, 10_000))
        case 5: return FixedPoint(raw: Self.round(p.raw, 1_000))
        case 6: return FixedPoint(raw: Self.round(p.raw, 100))
        case 7: return FixedPoint(raw: Self.round(p.raw, 10))
        default: return p
        }
    }

    /// `raw` rounded half to even to a multiple of `unit`.
    @inlinable @inline(__always)
    static func round(_ raw: Int64, _ unit: Int64) -> Int64 {
        FixedPoint.adjust(raw / unit, raw % unit, unit) * unit
    }

    /// Whether `quantity` is a positive multiple of the step.
    @inlinable
    public func isValidQuantity(_ quantity: Quantity) -> Bool {
        quantity.raw > 0 && quantity.isMultiple(of: quantityStep)
    }
}
