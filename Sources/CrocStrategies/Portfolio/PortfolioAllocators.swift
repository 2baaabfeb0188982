import CrocData
import CrocSupport

/// The closes of a universe aligned on its union calendar, for the
/// decisions of portfolio strategies: `close(s, t)` is symbol `s`'s close at
/// row `t`, or NaN when it has no bar then. Never forward-filled: a symbol
/// without a bar at the decision gets no weight.
///
/// A panel holds either every row (`init(_:)`, `init(symbols:times:closes:)`)
/// or, for a strategy that receives the rows one slice at a time, only the
/// last `window` of them (`init(symbols:window:)` + `append`): row numbers
/// stay absolute, and memory is `window × symbols` whatever the run's length.
public struct ClosePanel: Sendable {
    /// The symbols, in the universe's order.
    public let symbols: [String]
    /// The time of every row appended (ns since the epoch).
    public private(set) var times: [Int64]
    /// How many rows are kept (the newest); `Int.max` for a full panel.
    public let window: Int
    /// Time-major storage: row `t` lives at `(t % rowsKept) * symbols.count`.
    private var storage: [Double]
    /// Rows the storage holds.
    private let rowsKept: Int

    /// The panel of a universe (every row).
    public init(_ universe: Universe) {
        let n = universe.count
        let rows = universe.timestamps.count
        var values = [Double](repeating: .nan, count: rows * n)
        for (s, m) in universe.members.enumerated() {
            for t in 0..<rows { if let i = universe.barIndex(symbol: s, time: t) { values[t * n + s] = m.close[i] } }
        }
        self.symbols = universe.symbols
        self.times = universe.timestamps
        self.window = .max
        self.storage = values
        self.rowsKept = max(rows, 1)
    }

    /// A panel from columns (tests, or data built in code).
    /// - Precondition: one column per symbol, each as long as `times`.
    public init(symbols: [String], times: [Int64], closes: [[Double]]) {
        precondition(symbols.count == closes.count && closes.allSatisfy { $0.count == times.count }, "one column per symbol, one row per time")
        let n = symbols.count
        var values = [Double](repeating: .nan, count: times.count * n)
        for s in 0..<n { for t in times.indices { values[t * n + s] = closes[s][t] } }
        self.symbols = symbols
        self.times = times
        self.window = .max
        self.storage = values
        self.rowsKept = max(times.count, 1)
    }

    /// An empty panel that keeps the last `window` rows appended.
    public init(symbols: [String], window: Int) {
        self.symbols = symbols
        self.times = []
        self.window = max(1, window)
        self.rowsKept = max(1, window)
        self.storage = [Double](repeating: .nan, count: max(1, window) * symbols.count)
    }

    /// Rows appended so far (the next row's number).
    public var count: Int { times.count }

    /// Symbol `s`'s close at row `t`, NaN when it had no bar then.
    /// - Precondition: `t` is one of the rows kept (`count - window ..< count`).
    @inlinable
    public func close(_ s: Int, _ t: Int) -> Double {
        precondition(t < count && t >= count - window, "row \(t) is not kept (rows \(max(0, count - window))..<\(count))")
        return value(s, t)
    }

    @usableFromInline
    func value(_ s: Int, _ t: Int) -> Double { storage[(t % rowsKept) * symbols.count + s] }

    /// Calls `body` with row `t`'s closes, one per symbol in order (NaN where a symbol had no
    /// bar): a whole row read without a bounds check and a modulo per symbol.
    /// - Precondition: `t` is one of the rows kept (`count - window ..< count`).
    public func withRow<R>(_ t: Int, _ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R {
        precondition(t >= 0 && t < count && t >= count - window, "row \(t) is not kept (rows \(max(0, count - window))..<\(count))")
        let n = symbols.count
        let base = (t % rowsKept) * n
        return try storage.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[base..<(base + n)])) }
    }

    /// Every row's closes as one column per symbol (full panels; NaN for rows no longer kept).
    public var closes: [[Double]] {
        (0..<symbols.count).map { s in (0..<count).map { t in t >= count - window ? value(s, t) : .nan } }
    }

    /// Appends the next row: `fill` sets the closes of the symbols that have
    /// a bar (the others stay NaN).
    public mutating func append(time: Int64, _ fill: (inout UnsafeMutableBufferPointer<Double>) -> Void) {
        let n = symbols.count
        let base = (count % rowsKept) * n
        storage.withUnsafeMutableBufferPointer { all in
            var row = UnsafeMutableBufferPointer(rebasing: all[base..<(base + n)])
            row.update(repeating: .nan)
            fill(&row)
        }
        times.append(time)
    }
}

/// Decides target weights for a universe from its closes: the allocation
/// rule of a portfolio strategy (the engine turns the weights into orders
/// with `Rebalance`'s sizing rules).
///
/// `weights(_:at:)` sees only closes up to and including `t` (no look-ahead:
/// the tests append future rows and check the answer does not change).
/// It returns nil on bars where the strategy does not rebalance, and
/// otherwise one weight per symbol (0 for symbols it does not hold), long
/// only, summing to at most 1.
public protocol PortfolioAllocator: Sendable {
    /// The registered name (`momentum_topk`).
    var name: String { get }
    /// The first bar index at which it can decide.
    var firstDecision: Int { get }
    /// Rows of history a decision reads (the current row included): a
    /// rolling panel of this many rows is enough.
    var window: Int { get }
    /// Target weights at bar `t`, or nil when it does not rebalance then.
    func weights(_ panel: ClosePanel, at t: Int) -> [Double]?
}

extension PortfolioAllocator {
    /// Whether `t` is a rebalance bar: from `firstDecision` on, every `every` bars.
    func isRebalance(_ t: Int, every: Int) -> Bool { t >= firstDecision && (t - firstDecision) % every == 0 }
}

/// Every symbol with a close at the decision, at 1/n, every `rebalance` bars from the first.
public struct EqualWeightAllocator: PortfolioAllocator {
    /// Bars between rebalances.
    public let rebalance: Int
    public var name: String { "equal_weight" }
    public var firstDecision: Int { 0 }
    public var window: Int { 1 }

    /// Creates the rule.
    public init(rebalance: Int) { self.rebalance = max(1, rebalance) }

    public func weights(_ panel: ClosePanel, at t: Int) -> [Double]? {
        guard isRebalance(t, every: rebalance) else { return nil }
        let present = panel.symbols.indices.map { !panel.close($0, t).isNaN }
        let n = present.filter { $0 }.count
        guard n > 0 else { return nil }
        return present.map { $0 ? 1.0 / Double(n) : 0 }
    }
}

/// From bar `lookback` on, every `rebalance` bars: the `top` symbols with the
/// highest `close[t] / close[t − lookback] − 1` (ties by symbol order) at
/// `1/top` each, the rest 0. Symbols without both closes are not ranked.
public struct MomentumTopKAllocator: PortfolioAllocator {
    /// Bars of the momentum window.
    public let lookback: Int
    /// How many symbols are held.
    public let top: Int
    /// Bars between rebalances.
    public let rebalance: Int
    public var name: String { "momentum_topk" }
    public var firstDecision: Int { lookback }
    public var window: Int { lookback + 1 }

    /// Creates the rule.
    public init(lookback: Int, top: Int, rebalance: Int) {
        self.lookback = max(1, lookback)
        self.top = max(1, top)
        self.rebalance = max(1, rebalance)
    }

    public func weights(_ panel: ClosePanel, at t: Int) -> [Double]? {
        guard isRebalance(t, every: rebalance) else { return nil }
        var ranked: [(ret: Double, index: Int)] = []
        ranked.reserveCapacity(panel.symbols.count)
        var anyNaN = false
        panel.withRow(t) { nowRow in
            panel.withRow(t - lookback) { thenRow in
                for s in nowRow.indices {
                    let now = nowRow[s]
                    let then = thenRow[s]
                    if now.isNaN || then.isNaN { continue }
                    let ret = now / then - 1
                    anyNaN = anyNaN || ret.isNaN
                    ranked.append((ret, s))
                }
            }
        }
        var w = [Double](repeating: 0, count: panel.symbols.count)
        // Highest return first; equal returns keep the symbols' order.
        let better = { (a: (ret: Double, index: Int), b: (ret: Double, index: Int)) in a.ret != b.ret ? a.ret > b.ret : a.index < b.index }
        if anyNaN {
            // A NaN return (0 / 0) leaves the order to the sort itself: kept as it was.
            ranked.sort(by: better)
            for r in ranked.prefix(top) { w[r.index] = 1.0 / Double(top) }
            return w
        }
        // Without NaN the order is total, so the `top` best are one set whatever the method:
        // kept in a sorted run of at most `top` (O(n log top) instead of sorting all n).
        let best = ranked.first(top, sortedBy: better)
        for r in best { w[r.index] = 1.0 / Double(top) }
        return w
    }
}

/// Weights inversely proportional to each symbol's volatility (standard
/// deviation of its simple returns over the last `lookback` bars), summing to 1,
/// every `rebalance` bars from bar `lookback`. A symbol with a missing close in
/// the window or no variation gets 0.
public struct InverseVolatilityAllocator: PortfolioAllocator {
    /// Bars of the volatility window (returns: `lookback` of them).
    public let lookback: Int
    /// Bars between rebalances.
    public let rebalance: Int
    public var name: String { "inverse_volatility" }
    public var firstDecision: Int { lookback }
    public var window: Int { lookback + 1 }

    /// Creates the rule.
    public init(lookback: Int, rebalance: Int) {
        self.lookback = max(2, lookback)
        self.rebalance = max(1, rebalance)
    }

    public func weights(_ panel: ClosePanel, at t: Int) -> [Double]? {
        guard isRebalance(t, every: rebalance) else { return nil }
        let inverse = panel.symbols.indices.map { s -> Double in
            guard let r = PortfolioMath.returns(panel, symbol: s, through: t, count: lookback), let sd = PortfolioMath.standardDeviation(r), sd > 0
            else { return 0 }
            return 1 / sd
        }
        let total = inverse.reduce(0, +)
        guard total > 0 else { return nil }
        return inverse.map { $0 / total }
    }
}

/// The long-only minimum-variance portfolio of the symbols with a full window:
/// minimises `wᵀ Σ w` subject to `Σ w = 1`, `w ≥ 0`, with `Σ` the sample
/// covariance of simple returns over the last `lookback` bars, every
/// `rebalance` bars from bar `lookback`. Solved in Swift by projected gradient
/// descent onto the simplex (a convex problem: it converges to the optimum).
public struct MinimumVarianceAllocator: PortfolioAllocator {
    /// Bars of the covariance window.
    public let lookback: Int
    /// Bars between rebalances.
    public let rebalance: Int
    public var name: String { "min_variance" }
    public var firstDecision: Int { lookback }
    public var window: Int { lookback + 1 }

    /// Creates the rule.
    public init(lookback: Int, rebalance: Int) {
        self.lookback = max(2, lookback)
        self.rebalance = max(1, rebalance)
    }

    public func weights(_ panel: ClosePanel, at t: Int) -> [Double]? {
        guard isRebalance(t, every: rebalance) else { return nil }
        var members: [Int] = []
        var series: [[Double]] = []
        for s in panel.symbols.indices {
            guard let r = PortfolioMath.returns(panel, symbol: s, through: t, count: lookback) else { continue }
            members.append(s)
            series.append(r)
        }
        guard !members.isEmpty else { return nil }
        let sigma = PortfolioMath.covariance(series)
        let w = PortfolioMath.minimumVarianceLongOnly(sigma)
        var out = [Double](repeating: 0, count: panel.symbols.count)
        for (k, s) in members.enumerated() { out[s] = w[k] }
        return out
    }
}

/// Small numerical helpers of the allocators (Double analytics; the ledger stays exact).
public enum PortfolioMath {
    /// The last `count` simple returns ending at `t`, nil when a close in the window is missing.
    public static func returns(_ c: [Double], through t: Int, count: Int) -> [Double]? {
        guard t - count >= 0 else { return nil }
        var r: [Double] = []
        r.reserveCapacity(count)
        for i in (t - count + 1)...t {
            let a = c[i - 1]
            let b = c[i]
            if a.isNaN || b.isNaN || a <= 0 { return nil }
            r.append(b / a - 1)
        }
        return r
    }

    /// `returns` of symbol `s`'s column of a panel (rows `t − count ... t` must be kept).
    public static func returns(_ panel: ClosePanel, symbol s: Int, through t: Int, count: Int) -> [Double]? {
        guard t - count >= 0 else { return nil }
        var r: [Double] = []
        r.reserveCapacity(count)
        var a = panel.close(s, t - count)
        for i in (t - count + 1)...t {
            let b = panel.close(s, i)
            if a.isNaN || b.isNaN || a <= 0 { return nil }
            r.append(b / a - 1)
            a = b
        }
        return r
    }

    /// Sample standard deviation (n − 1), nil with fewer than two values.
    public static func standardDeviation(_ x: [Double]) -> Double? {
        guard x.count >= 2 else { return nil }
        let mean = x.reduce(0, +) / Double(x.count)
        let ss = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (ss / Double(x.count - 1)).squareRoot()
    }

    /// Sample covariance matrix (n − 1) of equally long series.
    public static func covariance(_ series: [[Double]]) -> [[Double]] {
        let k = series.count
        let n = series.first?.count ?? 0
        let means = series.map { $0.reduce(0, +) / Double(max(n, 1)) }
        var c = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in 0..<k {
            for j in i..<k {
                var s = 0.0
                for t in 0..<n { s += (series[i][t] - means[i]) * (series[j][t] - means[j]) }
                c[i][j] = s / Double(max(n - 1, 1))
                c[j][i] = c[i][j]
            }
        }
        return c
    }

    /// The Euclidean projection of `v` onto the probability simplex (Duchi et al., 2008).
    public static func projectOntoSimplex(_ v: [Double]) -> [Double] {
        let u = v.sorted(by: >)
        var cumulative = 0.0
        var theta = 0.0
        for (i, x) in u.enumerated() {
            cumulative += x
            let candidate = (cumulative - 1) / Double(i + 1)
            if x - candidate > 0 { theta = candidate }
        }
        return v.map { max($0 - theta, 0) }
    }

    /// argmin wᵀΣw over the simplex, by projected gradient descent with step
    /// 1/L (L: the largest row sum of |Σ|, a bound on the largest eigenvalue),
    /// until the weights move less than 1e-12 or after 20,000 steps.
    public static func minimumVarianceLongOnly(_ sigma: [[Double]]) -> [Double] {
        let k = sigma.count
        guard k > 1 else { return [Double](repeating: 1, count: k) }
        let lipschitz = 2 * (sigma.map { $0.reduce(0) { $0 + abs($1) } }.max() ?? 1)
        guard lipschitz > 0 else { return [Double](repeating: 1 / Double(k), count: k) }
        var w = [Double](repeating: 1 / Double(k), count: k)
        for _ in 0..<20_000 {
            var g = [Double](repeating: 0, count: k)
            for i in 0..<k {
                var s = 0.0
                for j in 0..<k { s += sigma[i][j] * w[j] }
                g[i] = 2 * s
            }
            let next = projectOntoSimplex((0..<k).map { w[$0] - g[$0] / lipschitz })
            var moved = 0.0
            for i in 0..<k { moved = max(moved, abs(next[i] - w[i])) }
            w = next
            if moved < 1e-12 { break }
        }
        return w
    }
}

/// Builds portfolio allocators by name from a strategy's parameters, validated
/// against the universe (`top` larger than the universe is an error naming the key).
public enum PortfolioAllocators {
    /// The registered names, with their parameters and defaults.
    public static let catalogue: [(name: String, parameters: String)] = [
        ("equal_weight", "rebalance=21"),
        ("inverse_volatility", "lookback=63, rebalance=21"),
        ("momentum_topk", "lookback=126, top=3, rebalance=21"),
        ("min_variance", "lookback=126, rebalance=21"),
    ]

    /// Whether `name` is a portfolio strategy.
    public static func isPortfolio(_ name: String) -> Bool { catalogue.contains { $0.name == name } }

    /// The allocator `name` with `parameters`, for a universe of `symbols`.
    /// - Throws: `StrategyError` naming `strategy.name` or `strategy.params.<key>`.
    public static func make(_ name: String, parameters: [String: ConfigValue], symbols: [String]) throws(StrategyError) -> any PortfolioAllocator {
        var p = StrategyParameters(parameters, symbols: symbols)
        let allocator = try make(name, parameters: &p)
        try p.rejectUnread()
        return allocator
    }

    /// A one-line description of a registered allocator.
    public static func summary(_ name: String) -> String {
        switch name {
        case "equal_weight": return "portfolio: every symbol with a bar at 1/n, every `rebalance` bars"
        case "inverse_volatility": return "portfolio: weights ∝ 1/volatility of returns over `lookback`, every `rebalance` bars"
        case "momentum_topk": return "portfolio: the `top` symbols by `lookback`-bar return at 1/top each, every `rebalance` bars"
        case "min_variance": return "portfolio: long-only minimum variance over `lookback` bars, every `rebalance` bars"
        default: return "portfolio strategy"
        }
    }

    /// The allocator `name` from parameters being read (the caller rejects unread ones);
    /// `top` is checked against `p.symbols` when the run's symbols are known.
    static func make(_ name: String, parameters p: inout StrategyParameters) throws(StrategyError) -> any PortfolioAllocator {
        let symbols = p.symbols
        let allocator: any PortfolioAllocator
        switch name {
        case "equal_weight":
            allocator = EqualWeightAllocator(rebalance: try p.int("rebalance", default: 21, in: 1...1_000_000))
        case "inverse_volatility":
            allocator = InverseVolatilityAllocator(
                lookback: try p.int("lookback", default: 63, in: 2...1_000_000),
                rebalance: try p.int("rebalance", default: 21, in: 1...1_000_000)
            )
        case "momentum_topk":
            let lookback = try p.int("lookback", default: 126, in: 1...1_000_000)
            let top = try p.int("top", default: 3, in: 1...1_000_000)
            if let symbols, top > symbols.count {
                throw StrategyError(
                    .invalidParameter,
                    keyPath: "strategy.params.top",
                    rule: "must be at most the universe's \(symbols.count) symbols, found \(top)"
                )
            }
            allocator = MomentumTopKAllocator(lookback: lookback, top: top, rebalance: try p.int("rebalance", default: 21, in: 1...1_000_000))
        case "min_variance":
            allocator = MinimumVarianceAllocator(
                lookback: try p.int("lookback", default: 126, in: 2...1_000_000),
                rebalance: try p.int("rebalance", default: 21, in: 1...1_000_000)
            )
        default:
            throw StrategyError(
                .unknownStrategy,
                keyPath: "strategy.name",
                rule: "no portfolio strategy '\(name)'; known: \(catalogue.map(\.name).joined(separator: ", "))"
            )
        }
        return allocator
    }
}
