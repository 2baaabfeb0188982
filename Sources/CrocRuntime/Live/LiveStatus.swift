import CrocCore
import Foundation
import Synchronization

/// What `/api/status` and the status page show: the live loop's account,
/// orders and recent history.
public struct LiveStatus: Sendable, Encodable {
    /// A working order.
    public struct OpenOrder: Sendable, Encodable, Hashable {
        /// The engine's client order id.
        public var id: String
        /// `buy` or `sell`.
        public var side: String
        /// Size as placed.
        public var size: String
        /// Order type.
        public var type: String
        /// Creation time (ISO 8601).
        public var created: String

        /// Describes an engine order.
        public init(_ o: Order) {
            id = o.clientOrderID
            side = o.side.rawValue
            size = o.size.description
            switch o.type {
            case .market: type = "market"
            case .limit(let p): type = "limit \(p)"
            case .stop(let p): type = "stop \(p)"
            }
            created = LiveStatus.iso(o.createdAt)
        }
    }

    /// A booked fill.
    public struct RecentFill: Sendable, Encodable, Hashable {
        /// The executor's client order id.
        public var clientOrderID: String
        /// `buy` or `sell`.
        public var side: String
        /// Quantity.
        public var quantity: Double
        /// Price.
        public var price: Double
        /// Commission.
        public var commission: Double
        /// Time (ISO 8601).
        public var time: String
    }

    /// One point of the equity curve.
    public struct EquityPoint: Sendable, Encodable, Hashable {
        /// Time, seconds since 1970.
        public var t: Double
        /// Equity.
        public var equity: Double
    }

    /// The strategy's name.
    public var strategy = ""
    /// The traded symbol.
    public var symbol = ""
    /// Where data comes from (`replay EURUSD_1H_ASK.csv x3600`, `binance kline 1m`).
    public var feed = ""
    /// The venue (`paper`, `binance-testnet`).
    public var venue = ""
    /// When the process started (ISO 8601).
    public var startedAt = LiveStatus.iso(Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)))
    /// Seconds since start (filled in when read).
    public var uptimeSeconds = 0.0
    /// Bars processed.
    public var bars = 0
    /// The last bar's time (nil before the first bar).
    public var lastBarTime: Timestamp?
    /// The last close.
    public var lastClose = 0.0
    /// Equity at the last close.
    public var equity = 0.0
    /// Cash.
    public var cash = 0.0
    /// Signed position (the first symbol's, in a multi-symbol run).
    public var position = 0.0
    /// Signed position per symbol that holds one (multi-symbol runs; empty otherwise).
    public var positions: [String: Double] = [:]
    /// Drawdown from the peak (fraction).
    public var drawdown = 0.0
    /// Strategy failures so far.
    public var strategyErrors = 0
    /// Feed reconnections so far.
    public var reconnects = 0
    /// Whether the service is ready (feed connected, executor started).
    public var ready = false
    /// Working orders.
    public var openOrders: [OpenOrder] = []
    /// Orders sent whose outcome is not known yet (client order ids), until
    /// reconciliation resends or ends them.
    public var unresolvedOrders: [String] = []
    /// Venue fills for orders this run did not place (logged and stored).
    public var unknownFills = 0
    /// The risk limits in force (one line).
    public var riskLimits = ""
    /// Why the kill switch engaged, when it did.
    public var killSwitch: String?
    /// What the start-up reconciliation found (position, cash, venue balances).
    public var recovery = ""
    /// Whether an operator paused new entries.
    public var paused = false
    /// Operator controls so far (who and when), oldest first.
    public var controls: [OperatorControl] = []
    /// The last fills, newest last (at most 50).
    public var recentFills: [RecentFill] = []
    /// The equity curve, thinned to at most `maxPoints` points.
    public var equityCurve: [EquityPoint] = []
    /// Points kept at most.
    public static let maxPoints = 2000
    private var stride = 1
    private var skipped = 0

    /// Appends a point, halving the resolution when the curve is full.
    public mutating func appendEquity(time: Timestamp, equity: Double) {
        skipped += 1
        if skipped < stride { return }
        skipped = 0
        equityCurve.append(EquityPoint(t: Double(time.nanoseconds) / 1e9, equity: equity))
        if equityCurve.count >= Self.maxPoints {
            equityCurve = Swift.stride(from: 0, to: equityCurve.count, by: 2).map { equityCurve[$0] }
            stride *= 2
        }
    }

    enum CodingKeys: String, CodingKey {
        case strategy, symbol, feed, venue
        case startedAt = "started_at"
        case uptimeSeconds = "uptime_seconds"
        case bars
        case lastBarTime = "last_bar_time"
        case lastClose = "last_close"
        case equity, cash, position, drawdown
        case strategyErrors = "strategy_errors"
        case reconnects, ready
        case openOrders = "open_orders"
        case recentFills = "recent_fills"
        case equityCurve = "equity_curve"
        case unresolvedOrders = "unresolved_orders"
        case unknownFills = "unknown_fills"
        case riskLimits = "risk_limits"
        case killSwitch = "kill_switch"
        case recovery, paused, controls, positions
    }

    /// Encodes with ISO 8601 times.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(strategy, forKey: .strategy)
        try c.encode(symbol, forKey: .symbol)
        try c.encode(feed, forKey: .feed)
        try c.encode(venue, forKey: .venue)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try c.encode(bars, forKey: .bars)
        try c.encode(lastBarTime.map(LiveStatus.iso), forKey: .lastBarTime)
        try c.encode(lastClose, forKey: .lastClose)
        try c.encode(equity, forKey: .equity)
        try c.encode(cash, forKey: .cash)
        try c.encode(position, forKey: .position)
        try c.encode(positions, forKey: .positions)
        try c.encode(drawdown, forKey: .drawdown)
        try c.encode(strategyErrors, forKey: .strategyErrors)
        try c.encode(reconnects, forKey: .reconnects)
        try c.encode(ready, forKey: .ready)
        try c.encode(openOrders, forKey: .openOrders)
        try c.encode(recentFills, forKey: .recentFills)
        try c.encode(equityCurve, forKey: .equityCurve)
        try c.encode(unresolvedOrders, forKey: .unresolvedOrders)
        try c.encode(unknownFills, forKey: .unknownFills)
        try c.encode(riskLimits, forKey: .riskLimits)
        try c.encode(killSwitch, forKey: .killSwitch)
        try c.encode(recovery, forKey: .recovery)
        try c.encode(paused, forKey: .paused)
        try c.encode(controls, forKey: .controls)
    }

    static func iso(_ t: Timestamp) -> String {
        let d = Date(timeIntervalSince1970: Double(t.nanoseconds) / 1e9)
        return d.formatted(.iso8601)
    }
}

/// The shared, lock-protected `LiveStatus` the loop writes and the HTTP
/// endpoint reads.
public final class LiveStatusBoard: Sendable {
    private let state = Mutex(LiveStatus())
    private let started = ContinuousClock.now

    /// An empty board.
    public init() {}

    /// Changes the status.
    public func update(_ body: (inout LiveStatus) -> Void) {
        state.withLock { body(&$0) }
    }

    /// Records a fill in the recent list.
    public func recordFill(_ f: Fill, clientOrderID: String) {
        let recent = LiveStatus.RecentFill(
            clientOrderID: clientOrderID,
            side: f.side.rawValue,
            quantity: f.quantity.doubleValue,
            price: f.price.doubleValue,
            commission: f.commission.doubleValue,
            time: LiveStatus.iso(f.timestamp)
        )
        state.withLock { s in
            s.recentFills.append(recent)
            if s.recentFills.count > 50 { s.recentFills.removeFirst(s.recentFills.count - 50) }
        }
    }

    /// A copy of the status, with the uptime filled in.
    public var snapshot: LiveStatus {
        var s = state.withLock { $0 }
        let up = ContinuousClock.now - started
        s.uptimeSeconds = Double(up.components.seconds) + Double(up.components.attoseconds) / 1e18
        return s
    }
}
