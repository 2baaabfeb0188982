import CrocCore
import CrocSupport
import Foundation

/// Pairs trading on two symbols of a universe: the spread `log(A) − β·log(B)`,
/// with the hedge ratio β the least-squares slope of log(A) on log(B) over the
/// last `lookback` bars, is turned into a z-score over the same window. Above
/// `entry` the spread is sold (A short, B long), below `−entry` it is bought
/// (A long, B short), each leg at `weight` of equity; when |z| falls below
/// `exit` both legs are closed. Needs shorting (`allowShort`). Bars where
/// either symbol has no bar are skipped (nothing is decided on a stale price).
public struct PairsStrategy: Strategy {
    /// The two symbols (A is traded against B).
    public let a: String
    public let b: String
    /// Bars of the regression and z-score window.
    public let lookback: Int
    /// |z| at which a position is opened.
    public let entry: Double
    /// |z| below which it is closed.
    public let exit: Double
    /// Each leg's weight of equity.
    public let weight: Double
    /// +1 long the spread, −1 short it, 0 flat.
    public private(set) var state = 0
    /// The last z-score computed (NaN before the window is full).
    public private(set) var lastZ = Double.nan
    private var logA: [Double] = []
    private var logB: [Double] = []

    /// Creates the strategy.
    public init(a: String, b: String, lookback: Int, entry: Double, exit: Double, weight: Double) {
        self.a = a
        self.b = b
        self.lookback = lookback
        self.entry = entry
        self.exit = exit
        self.weight = weight
    }

    /// Reads `a`, `b`, `lookback`, `entry`, `exit`, `weight`; the symbols are checked against the run's.
    public init(parameters p: inout StrategyParameters) throws(StrategyError) {
        let a = try p.string("a", default: "")
        let b = try p.string("b", default: "")
        for (key, s) in [("a", a), ("b", b)] {
            guard !s.isEmpty else {
                throw StrategyError(.invalidParameter, keyPath: "strategy.params.\(key)", rule: "required: a symbol of the universe")
            }
            if let symbols = p.symbols, !symbols.contains(s) {
                throw StrategyError(
                    .invalidParameter,
                    keyPath: "strategy.params.\(key)",
                    rule: "\(s) is not in the universe (\(symbols.prefix(12).joined(separator: ", "))\(symbols.count > 12 ? ", ..." : ""))"
                )
            }
        }
        guard a != b else { throw StrategyError(.invalidParameter, keyPath: "strategy.params.b", rule: "must differ from a (\(a))") }
        let entry = try p.double("entry", default: 2, in: 0.01...100)
        let exit = try p.double("exit", default: 0.5, in: 0...100)
        guard exit < entry else {
            throw StrategyError(.invalidParameter, keyPath: "strategy.params.exit", rule: "must be below entry (\(entry)), found \(exit)")
        }
        self.init(
            a: a,
            b: b,
            lookback: try p.int("lookback", default: 60, in: 3...100_000),
            entry: entry,
            exit: exit,
            weight: try p.double("weight", default: 0.5, in: 0.001...1)
        )
    }

    public var name: String { "pairs" }
    public var warmupBars: Int { lookback }

    public func onBar(_ bar: Bar, context: inout StrategyContext) throws {
        throw StrategyError(.invalidParameter, keyPath: "strategy.name", rule: "pairs trades two symbols: run it on a universe (--universe)")
    }

    public mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        guard let ka = context.lane(of: a), let kb = context.lane(of: b) else {
            throw RebalanceError.unknownSymbol(context.lane(of: a) == nil ? a : b, known: context.symbols)
        }
        guard let barA = slice.bar(lane: ka), let barB = slice.bar(lane: kb), barA.close > 0, barB.close > 0 else { return }
        logA.append(Foundation.log(barA.close))
        logB.append(Foundation.log(barB.close))
        if logA.count > lookback {
            logA.removeFirst()
            logB.removeFirst()
        }
        guard logA.count == lookback, let z = Self.zScore(logA, logB) else { return }
        lastZ = z
        switch state {
        case 0 where z > entry:
            try open(-1, &context)
        case 0 where z < -entry:
            try open(1, &context)
        case 1 where z > -exit, -1 where z < exit:
            try context.orderTargetPercent(a, 0)
            try context.orderTargetPercent(b, 0)
            state = 0
        default:
            break
        }
    }

    private mutating func open(_ side: Int, _ context: inout StrategyContext) throws {
        try context.orderTargetPercent(a, Double(side) * weight)
        try context.orderTargetPercent(b, Double(-side) * weight)
        state = side
    }

    /// The z-score of the last spread value over the window, with β from least squares
    /// (nil when B does not vary or the spread is constant).
    static func zScore(_ y: [Double], _ x: [Double]) -> Double? {
        let n = Double(y.count)
        let mx = x.reduce(0, +) / n
        let my = y.reduce(0, +) / n
        var sxx = 0.0
        var sxy = 0.0
        for i in x.indices {
            sxx += (x[i] - mx) * (x[i] - mx)
            sxy += (x[i] - mx) * (y[i] - my)
        }
        guard sxx > 0 else { return nil }
        let beta = sxy / sxx
        let spread = zip(y, x).map { $0 - beta * $1 }
        let ms = spread.reduce(0, +) / n
        let sd = (spread.reduce(0) { $0 + ($1 - ms) * ($1 - ms) } / (n - 1)).squareRoot()
        guard sd > 0 else { return nil }
        return (spread[spread.count - 1] - ms) / sd
    }
}
