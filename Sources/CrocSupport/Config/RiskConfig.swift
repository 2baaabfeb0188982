/// Pre-trade risk limits (`risk:`), applied by the same `RiskEngine` in
/// backtests, sweeps, paper and live trading: an order that breaks one is
/// refused before it reaches the exchange, simulated or real, with the limit
/// and the figures. Every key is optional; absent means no limit.
///
/// ```yaml
/// risk:
///   maxOrderNotional: 5000       # one order's value (quantity × price), quote currency
///   maxPositionNotional: 10000   # |position| × price per symbol, counting working orders
///   maxPosition: 2               # |position| per symbol in base units, counting working orders
///   maxOpenOrders: 4             # orders working or in flight at once
///   maxOrdersPerMinute: 30       # sliding one-minute window
///   maxDrawdown: 0.2             # kill switch: 20 % below peak equity flattens and stops trading
///   priceBandBps: 500            # a limit price more than 5 % from the last price is refused
/// ```
///
/// `crocbot live` trades with safe defaults where a key is absent: one order
/// is never worth more than the bot's cash budget (`maxOrderNotional`), and
/// at most 60 orders a minute.
public struct RiskConfig: Sendable, Equatable, Encodable {
    /// Largest value of one order, in the quote currency.
    public var maxOrderNotional: Double?
    /// Largest |position| × price per symbol, counting working orders.
    public var maxPositionNotional: Double?
    /// Largest |position| per symbol, in base units, counting working orders.
    public var maxPosition: Double?
    /// Most orders working or in flight at once.
    public var maxOpenOrders: Int?
    /// Most orders accepted in any 60-second window.
    public var maxOrdersPerMinute: Int?
    /// Drawdown from peak equity (a fraction in (0, 1)) that engages the kill
    /// switch: working orders are cancelled, positions closed, new orders refused.
    public var maxDrawdown: Double?
    /// Largest distance of a limit price from the last price, in basis points.
    public var priceBandBps: Double?

    /// Creates limits (none by default).
    public init(
        maxOrderNotional: Double? = nil,
        maxPositionNotional: Double? = nil,
        maxPosition: Double? = nil,
        maxOpenOrders: Int? = nil,
        maxOrdersPerMinute: Int? = nil,
        maxDrawdown: Double? = nil,
        priceBandBps: Double? = nil
    ) {
        self.maxOrderNotional = maxOrderNotional
        self.maxPositionNotional = maxPositionNotional
        self.maxPosition = maxPosition
        self.maxOpenOrders = maxOpenOrders
        self.maxOrdersPerMinute = maxOrdersPerMinute
        self.maxDrawdown = maxDrawdown
        self.priceBandBps = priceBandBps
    }

    /// Whether no limit is set.
    public var isEmpty: Bool { self == RiskConfig() }

    /// Reads and validates the section.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys([
            "maxOrderNotional", "maxPositionNotional", "maxPosition", "maxOpenOrders", "maxOrdersPerMinute", "maxDrawdown", "priceBandBps",
        ])
        func fail(_ key: String, _ rule: String) -> ConfigError {
            ConfigError(.invalidValue, keyPath: r.childPath(key), rule: rule, source: r.source)
        }
        func positive(_ key: String) throws(ConfigError) -> Double? {
            guard r.raw(key) != nil else { return nil }
            let v = try r.double(key, default: 0)
            guard v > 0, v < 9e10 else { throw fail(key, "must be > 0 and below 9e10, found \(v)") }
            return v
        }
        func count(_ key: String) throws(ConfigError) -> Int? {
            guard r.raw(key) != nil else { return nil }
            let v = try r.int(key, default: 0)
            guard v >= 1, v <= 1_000_000 else { throw fail(key, "must be in 1...1000000, found \(v)") }
            return v
        }
        maxOrderNotional = try positive("maxOrderNotional")
        maxPositionNotional = try positive("maxPositionNotional")
        maxPosition = try positive("maxPosition")
        maxOpenOrders = try count("maxOpenOrders")
        maxOrdersPerMinute = try count("maxOrdersPerMinute")
        maxDrawdown = nil
        if r.raw("maxDrawdown") != nil {
            let d = try r.double("maxDrawdown", default: 0)
            guard d > 0, d < 1 else { throw fail("maxDrawdown", "must be a fraction in (0, 1), found \(d)") }
            maxDrawdown = d
        }
        priceBandBps = try positive("priceBandBps")
    }
}
