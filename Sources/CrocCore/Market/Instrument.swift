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
        FixedPoint(unchecked: value).rounded(toDecimals: pricePrecision)
    }

    /// Whether `quantity` is a positive multiple of the step.
    @inlinable
    public func isValidQuantity(_ quantity: Quantity) -> Bool {
        quantity.raw > 0 && quantity.isMultiple(of: quantityStep)
    }
}
