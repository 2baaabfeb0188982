import CrocCore
import CrocSupport

/// Limits every order must pass before it leaves (checked in this order).
/// `nil` disables a check.
public struct RiskLimits: Sendable, Hashable, Codable {
    /// Largest absolute position per symbol, in base units, counting working orders.
    public var maxPosition: Quantity?
    /// Largest absolute position value per symbol (|position| × price), counting working orders.
    public var maxNotional: Money?
    /// Most orders working or in flight at once.
    public var maxOpenOrders: Int?
    /// Most orders accepted in any one-second window.
    public var maxOrdersPerSecond: Int?
    /// Most orders accepted in any 60-second window.
    public var maxOrdersPerMinute: Int?
    /// Largest value of a single order (quantity × limit or last price).
    public var maxOrderNotional: Money?
    /// Largest distance of an order's price from the last price, in basis points.
    /// Market orders need a last price when this is set.
    public var priceBandBps: FixedPoint?
    /// Drawdown from peak equity, as a fraction (0.2 = 20%), that engages the
    /// kill switch: open orders are cancelled and new ones refused until reset.
    public var maxDrawdown: FixedPoint?
    /// Per-symbol overrides of `maxPosition` and `maxNotional`.
    public var symbols: [String: SymbolLimits]

    /// Position limits for one symbol.
    public struct SymbolLimits: Sendable, Hashable, Codable {
        /// Largest absolute position.
        public var maxPosition: Quantity?
        /// Largest absolute position value.
        public var maxNotional: Money?

        /// Creates limits.
        public init(maxPosition: Quantity? = nil, maxNotional: Money? = nil) {
            self.maxPosition = maxPosition
            self.maxNotional = maxNotional
        }
    }

    /// No limits.
    public static let none = RiskLimits()

    /// Whether no check is configured.
    public var isEmpty: Bool { self == .none }

    /// The limits of a `risk:` section.
    /// - Throws: `ConfigError` naming the key when a value is not representable.
    public init(config c: RiskConfig) throws(ConfigError) {
        func fixed(_ v: Double?, _ key: String) throws(ConfigError) -> FixedPoint? {
            guard let v else { return nil }
            guard let f = FixedPoint(rounding: v) else {
                throw ConfigError(.invalidValue, keyPath: "risk.\(key)", rule: "not representable as an exact amount (|x| < 9.2e10), found \(v)")
            }
            return f
        }
        self.init(
            maxPosition: try fixed(c.maxPosition, "maxPosition"),
            maxNotional: try fixed(c.maxPositionNotional, "maxPositionNotional"),
            maxOpenOrders: c.maxOpenOrders,
            priceBandBps: try fixed(c.priceBandBps, "priceBandBps"),
            maxDrawdown: try fixed(c.maxDrawdown, "maxDrawdown"),
            maxOrdersPerMinute: c.maxOrdersPerMinute,
            maxOrderNotional: try fixed(c.maxOrderNotional, "maxOrderNotional")
        )
    }

    /// A one-line summary of the limits in force (logged at start).
    public var summary: String {
        var parts: [String] = []
        if let v = maxOrderNotional { parts.append("maxOrderNotional=\(v)") }
        if let v = maxNotional { parts.append("maxPositionNotional=\(v)") }
        if let v = maxPosition { parts.append("maxPosition=\(v)") }
        if let v = maxOpenOrders { parts.append("maxOpenOrders=\(v)") }
        if let v = maxOrdersPerSecond { parts.append("maxOrdersPerSecond=\(v)") }
        if let v = maxOrdersPerMinute { parts.append("maxOrdersPerMinute=\(v)") }
        if let v = maxDrawdown { parts.append("maxDrawdown=\(v)") }
        if let v = priceBandBps { parts.append("priceBandBps=\(v)") }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }

    /// Creates limits.
    public init(
        maxPosition: Quantity? = nil,
        maxNotional: Money? = nil,
        maxOpenOrders: Int? = nil,
        maxOrdersPerSecond: Int? = nil,
        priceBandBps: FixedPoint? = nil,
        maxDrawdown: FixedPoint? = nil,
        symbols: [String: SymbolLimits] = [:],
        maxOrdersPerMinute: Int? = nil,
        maxOrderNotional: Money? = nil
    ) {
        self.maxOrdersPerMinute = maxOrdersPerMinute
        self.maxOrderNotional = maxOrderNotional
        self.maxPosition = maxPosition
        self.maxNotional = maxNotional
        self.maxOpenOrders = maxOpenOrders
        self.maxOrdersPerSecond = maxOrdersPerSecond
        self.priceBandBps = priceBandBps
        self.maxDrawdown = maxDrawdown
        self.symbols = symbols
    }
}

/// Why the risk checks refused an order.
public enum RiskViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// The position after the order would exceed the limit.
    case maxPosition(symbol: String, projected: Quantity, limit: Quantity)
    /// The position's value after the order would exceed the limit.
    case maxNotional(symbol: String, projected: Money, limit: Money)
    /// Too many orders working.
    case maxOpenOrders(open: Int, limit: Int)
    /// Too many orders in the last second.
    case orderRate(limit: Int)
    /// Too many orders in the last minute.
    case orderRatePerMinute(limit: Int)
    /// One order's value is above the limit.
    case maxOrderNotional(symbol: String, value: Money, limit: Money)
    /// The order's price is too far from the last price.
    case priceBand(symbol: String, price: Price, reference: Price, bandBps: FixedPoint)
    /// A price check is configured and no price is known for the symbol.
    case noReferencePrice(symbol: String)
    /// The drawdown kill switch is engaged.
    case killSwitch(reason: String)

    /// The check's name, for metrics labels.
    public var check: String {
        switch self {
        case .maxPosition: return "max_position"
        case .maxNotional: return "max_notional"
        case .maxOpenOrders: return "max_open_orders"
        case .orderRate: return "order_rate"
        case .orderRatePerMinute: return "order_rate_minute"
        case .maxOrderNotional: return "max_order_notional"
        case .priceBand: return "price_band"
        case .noReferencePrice: return "no_reference_price"
        case .killSwitch: return "kill_switch"
        }
    }

    /// A message for people.
    public var description: String {
        switch self {
        case .maxPosition(let s, let p, let l): return "\(s): position would be \(p), limit \(l)"
        case .maxNotional(let s, let p, let l): return "\(s): position value would be \(p.formatted(decimals: 2)), limit \(l.formatted(decimals: 2))"
        case .maxOpenOrders(let o, let l): return "\(o) orders open, limit \(l)"
        case .orderRate(let l): return "more than \(l) orders in one second"
        case .orderRatePerMinute(let l): return "more than \(l) orders in one minute"
        case .maxOrderNotional(let s, let v, let l):
            return "\(s): order value \(v.formatted(decimals: 2)) is above the limit \(l.formatted(decimals: 2))"
        case .priceBand(let s, let p, let r, let b): return "\(s): price \(p) is more than \(b) bps from the last price \(r)"
        case .noReferencePrice(let s): return "\(s): no last price to check the order against"
        case .killSwitch(let r): return "kill switch engaged: \(r)"
        }
    }
}

/// The pre-trade risk checks: synchronous, O(1) per order, owned by the executor.
public struct RiskEngine: Sendable {
    /// The limits in force.
    public var limits: RiskLimits
    /// Last price per symbol.
    public private(set) var lastPrices: [String: Price] = [:]
    /// Highest equity seen.
    public private(set) var peakEquity: Money?
    /// Why the kill switch is engaged, or nil when it is not.
    public private(set) var killReason: String?
    private var perSecond: RateWindow
    private var perMinute: RateWindow

    /// Creates the checks.
    public init(limits: RiskLimits) {
        self.limits = limits
        perSecond = RateWindow(limit: limits.maxOrdersPerSecond ?? 0, windowNanos: 1_000_000_000)
        perMinute = RateWindow(limit: limits.maxOrdersPerMinute ?? 0, windowNanos: 60_000_000_000)
    }

    /// Whether new orders are blocked.
    public var isKillSwitchEngaged: Bool { killReason != nil }

    /// Records a market price.
    public mutating func updatePrice(symbol: String, price: Price) { lastPrices[symbol] = price }

    /// Records account equity.
    /// - Returns: true when this update engaged the kill switch.
    public mutating func updateEquity(_ equity: Money) -> Bool {
        if peakEquity == nil || equity > peakEquity! { peakEquity = equity }
        guard killReason == nil, let maxDD = limits.maxDrawdown, let peak = peakEquity, peak.raw > 0 else { return false }
        guard let dd = (peak - equity).divided(by: peak), dd >= maxDD else { return false }
        killReason =
            "drawdown \((dd * FixedPoint(100)).formatted(decimals: 2))% from peak \(peak.formatted(decimals: 2)) reached the \((maxDD * FixedPoint(100)).formatted(decimals: 2))% limit"
        return true
    }

    /// Engages the kill switch by hand.
    public mutating func engageKillSwitch(reason: String) { killReason = reason }

    /// Releases the kill switch (an operator's decision); the drawdown peak restarts from the next equity.
    public mutating func resetKillSwitch() {
        killReason = nil
        peakEquity = nil
    }

    /// Checks one order. On success the order counts toward the rate limit.
    /// - Parameters:
    ///   - request: The order.
    ///   - exposure: The symbol's position plus the signed unfilled quantity of its working orders.
    ///   - openOrders: Orders working or in flight.
    ///   - nowNanos: A monotonic clock reading in nanoseconds.
    ///
    /// An order that only reduces the exposure (an exit, never past flat) is
    /// always allowed, kill switch included: no limit may keep a position open.
    public mutating func check(_ request: OrderRequest, exposure: Quantity, openOrders: Int, nowNanos: UInt64) -> RiskViolation? {
        let projected = exposure + (request.side == .buy ? request.quantity : -request.quantity)
        if projected.magnitude < exposure.magnitude && (projected.raw == 0 || projected.signum == exposure.signum) { return nil }
        if let reason = killReason { return .killSwitch(reason: reason) }
        let symbolLimits = limits.symbols[request.symbol]
        if let maxPos = symbolLimits?.maxPosition ?? limits.maxPosition, projected.magnitude > maxPos {
            return .maxPosition(symbol: request.symbol, projected: projected, limit: maxPos)
        }
        let last = lastPrices[request.symbol]
        if let maxOrder = limits.maxOrderNotional {
            guard let price = request.kind.limitPrice ?? last else { return .noReferencePrice(symbol: request.symbol) }
            let value = request.quantity * price
            if value > maxOrder { return .maxOrderNotional(symbol: request.symbol, value: value, limit: maxOrder) }
        }
        if let maxNotional = symbolLimits?.maxNotional ?? limits.maxNotional {
            guard let price = request.kind.limitPrice ?? last else { return .noReferencePrice(symbol: request.symbol) }
            let value = projected.magnitude * price
            if value > maxNotional { return .maxNotional(symbol: request.symbol, projected: value, limit: maxNotional) }
        }
        if let maxOpen = limits.maxOpenOrders, openOrders >= maxOpen { return .maxOpenOrders(open: openOrders, limit: maxOpen) }
        if let band = limits.priceBandBps {
            guard let reference = last else { return .noReferencePrice(symbol: request.symbol) }
            if let price = request.kind.limitPrice {
                let distance = (price - reference).magnitude
                let allowed = reference * band * FixedPoint(raw: FixedPoint.scale / 10_000)
                if distance > allowed { return .priceBand(symbol: request.symbol, price: price, reference: reference, bandBps: band) }
            }
        }
        if perSecond.limit > 0 && perSecond.isFull(at: nowNanos) { return .orderRate(limit: perSecond.limit) }
        if perMinute.limit > 0 && perMinute.isFull(at: nowNanos) { return .orderRatePerMinute(limit: perMinute.limit) }
        if perSecond.limit > 0 { perSecond.record(nowNanos) }
        if perMinute.limit > 0 { perMinute.record(nowNanos) }
        return nil
    }

    /// Whether the rate checks need a clock reading.
    public var needsClock: Bool { perSecond.limit > 0 || perMinute.limit > 0 }
}

/// The times of the last `limit` accepted orders, for a sliding-window rate limit.
struct RateWindow: Sendable {
    let limit: Int
    let windowNanos: UInt64
    private var times: [UInt64]
    private var head = 0
    private var count = 0

    init(limit: Int, windowNanos: UInt64) {
        self.limit = max(limit, 0)
        self.windowNanos = windowNanos
        times = Array(repeating: 0, count: self.limit)
    }

    /// Whether `limit` orders were accepted within the window ending at `now`.
    func isFull(at now: UInt64) -> Bool { count == limit && now &- times[head] < windowNanos }

    mutating func record(_ now: UInt64) {
        if count == limit {
            times[head] = now
            head = (head + 1) % limit
        } else {
            times[(head + count) % limit] = now
            count += 1
        }
    }
}
