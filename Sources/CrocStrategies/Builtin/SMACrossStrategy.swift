import CrocCore

/// Moving-average crossover, long only: buys with all available cash when
/// the fast SMA of closes crosses above the slow one, and closes the
/// position when it crosses below.
///
/// "Crosses above" means fast < slow on the previous bar and fast > slow on
/// this one (backtesting.py's `crossover`). The averages are compared
/// exactly: closes are summed as fixed-point integers, so there is no
/// floating-point drift and two runs always agree.
public struct SMACrossStrategy: Strategy {
    /// One-line description.
    public static let summary = "SMA crossover, long only: all-in on fast > slow cross, exit on the reverse cross"

    /// Fast window length.
    public let fast: Int
    /// Slow window length.
    public let slow: Int
    /// The name for reports.
    public var name: String { "sma_cross(\(fast),\(slow))" }
    /// The slow SMA's first value is at bar `slow − 1`.
    public var warmupBars: Int { slow - 1 }

    // Internal, and visible to inlining: the backtest's range loop inlines `onBar` (see below).
    @usableFromInline var window: [Int64]
    @usableFromInline var head = 0
    @usableFromInline var count = 0
    @usableFromInline var fastSum: Int64 = 0
    @usableFromInline var slowSum: Int64 = 0
    @usableFromInline var previousSign = 0  // sign of (fast − slow) on the previous bar; 0 = unknown or equal

    /// Creates the strategy.
    /// - Precondition: `1 <= fast < slow`; use `init(parameters:)` for user input.
    public init(fast: Int = 10, slow: Int = 20) {
        precondition(fast >= 1 && slow > fast, "sma_cross needs 1 <= fast < slow")
        self.fast = fast
        self.slow = slow
        self.window = [Int64](repeating: 0, count: slow)
    }

    /// Creates the strategy from validated parameters `fast` and `slow`.
    public init(parameters p: inout StrategyParameters) throws(StrategyError) {
        let fast = try p.int("fast", default: 10, in: 1...100_000)
        let slow = try p.int("slow", default: 20, in: 2...100_000)
        guard fast < slow else {
            throw StrategyError(.invalidParameter, keyPath: "strategy.params.fast", rule: "must be less than slow (\(slow)), found \(fast)")
        }
        self.init(fast: fast, slow: slow)
    }

    /// Updates the averages and acts on a cross. Inlinable: the engine's range loop,
    /// compiled for this type, runs it without a call per bar.
    @inlinable @inline(__always)
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
        let x = FixedPoint(unchecked: bar.close).raw
        // Ring buffer of the last `slow` closes; `head` is the oldest slot.
        let outSlow = window[head]
        let shifted = head + slow - fast  // < 2·slow: one subtraction instead of a division
        let fastOutIndex = shifted >= slow ? shifted - slow : shifted
        let outFast = window[fastOutIndex]
        window[head] = x
        head = head + 1 == slow ? 0 : head + 1
        count += 1
        fastSum += x - (count > fast ? outFast : 0)
        slowSum += x - (count > slow ? outSlow : 0)
        guard count >= slow else { return }
        // fast/F vs slow/S compared exactly as fastSum·S vs slowSum·F.
        let lhs = fastSum.multipliedFullWidth(by: Int64(slow))
        let rhs = slowSum.multipliedFullWidth(by: Int64(fast))
        let sign = lhs == rhs ? 0 : (lhs.high < rhs.high || (lhs.high == rhs.high && lhs.low < rhs.low) ? -1 : 1)
        defer { previousSign = sign }
        guard count > slow else { return }
        if previousSign < 0 && sign > 0 {
            Self.enter(&context)
        } else if previousSign > 0 && sign < 0 {
            Self.exit(&context)
        }
    }

    // The order paths are out of line: a cross is rare, and the per-bar path stays small.
    @inline(never) @usableFromInline
    static func enter(_ context: inout StrategyContext) {
        if context.isFlat && context.workingOrders.isEmpty { context.buy(.cashFraction(.one), tag: "sma_cross_up") }
    }

    @inline(never) @usableFromInline
    static func exit(_ context: inout StrategyContext) {
        context.closePosition(tag: "sma_cross_down")
    }
}
