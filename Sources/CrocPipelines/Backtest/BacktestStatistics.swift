import CrocCore
import CrocSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The statistics users know from backtesting.py, computed the way its
/// `compute_stats` computes them (0.6.x), so the two can be compared line by
/// line. Percentages are in percent; durations in seconds; NaN where
/// backtesting.py reports NaN (e.g. no trades).
public struct BacktestStatistics: Sendable, Equatable {
    /// First bar time.
    public var start: Timestamp
    /// Last bar time.
    public var end: Timestamp
    /// end − start, seconds.
    public var durationSeconds: Double
    /// Share of bars with a position, %.
    public var exposureTimePct: Double
    /// Final equity.
    public var equityFinal: Double
    /// Highest equity.
    public var equityPeak: Double
    /// Commissions paid.
    public var commissions: Double
    /// Total return, %.
    public var returnPct: Double
    /// Buy & hold return from the first tradable bar, %.
    public var buyAndHoldReturnPct: Double
    /// Annualised (geometric) return, %.
    public var returnAnnualizedPct: Double
    /// Annualised volatility, %.
    public var volatilityAnnualizedPct: Double
    /// Compound annual growth rate, %.
    public var cagrPct: Double
    /// Sharpe ratio (annualised return / annualised volatility, risk-free 0).
    public var sharpeRatio: Double
    /// Sortino ratio.
    public var sortinoRatio: Double
    /// Calmar ratio.
    public var calmarRatio: Double
    /// Jensen's alpha against buy & hold, %.
    public var alphaPct: Double
    /// Beta of equity log returns against the market's.
    public var beta: Double
    /// Maximum drawdown, % (negative).
    public var maxDrawdownPct: Double
    /// Mean drawdown depth, % (negative).
    public var avgDrawdownPct: Double
    /// Longest drawdown, seconds.
    public var maxDrawdownDurationSeconds: Double
    /// Mean drawdown duration, seconds.
    public var avgDrawdownDurationSeconds: Double
    /// Number of closed trades.
    public var tradeCount: Int
    /// Winning trades, %.
    public var winRatePct: Double
    /// Best trade return, %.
    public var bestTradePct: Double
    /// Worst trade return, %.
    public var worstTradePct: Double
    /// Geometric mean trade return, %.
    public var avgTradePct: Double
    /// Longest trade, seconds.
    public var maxTradeDurationSeconds: Double
    /// Mean trade duration, seconds.
    public var avgTradeDurationSeconds: Double
    /// Sum of winning returns / |sum of losing returns|.
    public var profitFactor: Double
    /// Mean trade return, %.
    public var expectancyPct: Double
    /// System Quality Number.
    public var sqn: Double
    /// Kelly criterion.
    public var kellyCriterion: Double

    /// Computes the statistics.
    /// - Parameters:
    ///   - timestamps: Bar times (ns), one per equity point.
    ///   - close: Closing prices.
    ///   - equity: Equity at each bar.
    ///   - trades: Closed trades.
    ///   - warmupBars: The strategy's warm-up; buy & hold starts there.
    ///   - commissions: Total commission paid.
    ///   - riskFreeRate: Annual risk-free rate, fraction.
    ///   - calendar: The series' calendar facts, when computed once for many runs over the same bars.
    ///   - market: Whether to compute beta and alpha (a log-return regression on the closes);
    ///     sweeps that do not report them skip it (they stay NaN).
    public static func compute(
        timestamps: [Int64],
        close: [Double],
        equity: [Double],
        trades: [ClosedTrade],
        warmupBars: Int,
        commissions: Double,
        riskFreeRate: Double = 0,
        calendar given: Calendar? = nil,
        market: Bool = true
    ) -> BacktestStatistics {
        var periodReturns: [Double] = []
        return compute(
            timestamps: timestamps,
            close: close,
            equity: equity,
            trades: trades,
            warmupBars: warmupBars,
            commissions: commissions,
            riskFreeRate: riskFreeRate,
            calendar: given,
            market: market,
            periodReturns: &periodReturns
        )
    }

    /// `compute`, also handing out the calendar-period returns it derives: return k is
    /// `equity[ends[k + 1]] / equity[ends[k]] − 1` over `calendar.bucketEnds`.
    static func compute(
        timestamps: [Int64],
        close: [Double],
        equity: [Double],
        trades: [ClosedTrade],
        warmupBars: Int,
        commissions: Double,
        riskFreeRate: Double = 0,
        calendar given: Calendar? = nil,
        market: Bool = true,
        periodReturns: inout [Double]
    ) -> BacktestStatistics {
        let n = equity.count
        precondition(n > 0 && timestamps.count == n && close.count == n, "statistics need one equity point per bar")
        let nan = Double.nan
        let calendar = given ?? Calendar(timestamps: timestamps)
        precondition(calendar.bars == n, "the calendar was computed for another series")

        let dd = Drawdowns(equity: equity, timestamps: timestamps)
        let (peak, maxDD, ddDurations, ddPeaks) = (dd.peak, dd.maxDepth, dd.durations, dd.depths)
        let unit = calendar.unit
        func ceilDuration(_ seconds: Double) -> Double {
            guard seconds.isFinite else { return seconds }
            let ns = seconds * 1e9
            let u = Double(unit)
            return (ns / u).rounded(.up) * u / 1e9
        }

        var s = BacktestStatistics(
            start: Timestamp(nanoseconds: timestamps[0]),
            end: Timestamp(nanoseconds: timestamps[n - 1]),
            durationSeconds: Double(timestamps[n - 1] - timestamps[0]) / 1e9,
            exposureTimePct: 0,
            equityFinal: equity[n - 1],
            equityPeak: peak,
            commissions: commissions,
            returnPct: (equity[n - 1] - equity[0]) / equity[0] * 100,
            buyAndHoldReturnPct: nan,
            returnAnnualizedPct: nan,
            volatilityAnnualizedPct: nan,
            cagrPct: nan,
            sharpeRatio: nan,
            sortinoRatio: nan,
            calmarRatio: nan,
            alphaPct: nan,
            beta: nan,
            maxDrawdownPct: nan,
            avgDrawdownPct: nan,
            maxDrawdownDurationSeconds: nan,
            avgDrawdownDurationSeconds: nan,
            tradeCount: trades.count,
            winRatePct: nan,
            bestTradePct: nan,
            worstTradePct: nan,
            avgTradePct: nan,
            maxTradeDurationSeconds: nan,
            avgTradeDurationSeconds: nan,
            profitFactor: nan,
            expectancyPct: nan,
            sqn: nan,
            kellyCriterion: nan
        )

        s.exposureTimePct = Double(exposedBars(trades, bars: n)) / Double(n) * 100
        let firstBar = min(max(0, warmupBars), n - 1)
        s.buyAndHoldReturnPct = (close[n - 1] - close[firstBar]) / close[firstBar] * 100

        // Period returns: from the last equity of each calendar bucket. One pass also sums them
        // and their downside squares in order (the same sums the separate passes made).
        let annualPeriods = calendar.annualPeriods
        let ends = calendar.bucketEnds
        periodReturns.removeAll(keepingCapacity: true)
        var returnSum = 0.0
        var downsideSum = 0.0
        var nonPositiveGrowth = false
        if ends.count > 1 {
            // The calendar was derived from n timestamps (checked above): its bucket ends are bar indices.
            periodReturns = equity.withUnsafeBufferPointer { e in
                ends.withUnsafeBufferPointer { ends in
                    [Double](unsafeUninitializedCapacity: ends.count - 1) { out, count in
                        var previous = e[ends[0]]
                        for k in 1..<ends.count {
                            let current = e[ends[k]]
                            let r = current / previous - 1
                            out[k - 1] = r
                            returnSum += r
                            let m = min(r, 0)
                            downsideSum += m * m
                            if r + 1 <= 0 { nonPositiveGrowth = true }
                            previous = current
                        }
                        count = ends.count - 1
                    }
                }
            }
        }
        // The geometric mean of the period returns: Π(1 + r) telescopes to last / first bucket equity,
        // so one log replaces one per period (equal to the per-period log sum within rounding).
        let g: Double
        if periodReturns.isEmpty {
            g = .nan
        } else if nonPositiveGrowth {
            g = 0
        } else {
            g = exp(log(equity[ends[ends.count - 1]] / equity[ends[0]]) / Double(periodReturns.count)) - 1
        }
        let annualized = pow(1 + g, annualPeriods) - 1
        s.returnAnnualizedPct = annualized * 100
        let variance = sampleVariance(periodReturns, sum: returnSum)
        s.volatilityAnnualizedPct = sqrt(pow(variance + (1 + g) * (1 + g), annualPeriods) - pow(1 + g, 2 * annualPeriods)) * 100
        let years = s.durationSeconds.rounded(.down) / 86400 / 365.25
        s.cagrPct = years != 0 ? (pow(s.equityFinal / equity[0], 1 / years) - 1) * 100 : nan
        s.sharpeRatio = (s.returnAnnualizedPct - riskFreeRate * 100) / nonZero(s.volatilityAnnualizedPct)
        if !periodReturns.isEmpty {
            let downside = downsideSum / Double(periodReturns.count)
            s.sortinoRatio = (annualized - riskFreeRate) / (sqrt(downside) * sqrt(annualPeriods))
        }
        s.calmarRatio = annualized / nonZero(maxDD)
        if market && n > 2 {
            var x: [Double] = []
            var y: [Double] = []
            x.reserveCapacity(n - 1)
            y.reserveCapacity(n - 1)
            for i in 1..<n {
                x.append(log(equity[i] / equity[i - 1]))
                y.append(log(close[i] / close[i - 1]))
            }
            s.beta = covariance(x, y) / sampleVariance(y)
        }
        s.alphaPct = s.returnPct - riskFreeRate * 100 - s.beta * (s.buyAndHoldReturnPct - riskFreeRate * 100)
        s.maxDrawdownPct = -maxDD * 100
        if !ddPeaks.isEmpty {
            s.avgDrawdownPct = -mean(ddPeaks) * 100
            s.maxDrawdownDurationSeconds = ceilDuration(ddDurations.max()!)
            s.avgDrawdownDurationSeconds = ceilDuration(mean(ddDurations))
        }

        if !trades.isEmpty {
            let pl = trades.map { $0.pnl.doubleValue }
            let returns = trades.map(\.returnFraction)
            let durations = trades.map { Double($0.duration) / 1e9 }
            let winRate = Double(pl.lazy.filter { $0 > 0 }.count) / Double(pl.count)
            s.winRatePct = winRate * 100
            s.bestTradePct = returns.max()! * 100
            s.worstTradePct = returns.min()! * 100
            s.avgTradePct = geometricMean(returns) * 100
            s.maxTradeDurationSeconds = ceilDuration(durations.max()!)
            s.avgTradeDurationSeconds = ceilDuration(mean(durations))
            let gains = returns.filter { $0 > 0 }.reduce(0, +)
            let losses = abs(returns.filter { $0 < 0 }.reduce(0, +))
            s.profitFactor = gains / nonZero(losses)
            s.expectancyPct = mean(returns) * 100
            s.sqn = sqrt(Double(pl.count)) * mean(pl) / nonZero(sqrt(sampleVariance(pl)))
            let avgWin = mean(pl.filter { $0 > 0 })
            let avgLoss = -mean(pl.filter { $0 < 0 })
            s.kellyCriterion = winRate - (1 - winRate) / (avgWin / avgLoss)
        }
        return s
    }

    /// Median spacing of the last 100 timestamps (ns), as pandas computes it.
    /// The drawdowns of an equity curve: dd = 1 − equity / running peak; each run of bars
    /// below the peak, closed by the next bar at a peak (or by the last bar, when at least
    /// two bars are below), is one drawdown with its depth and length.
    struct Drawdowns: Equatable {
        /// The highest equity.
        var peak = -Double.infinity
        /// The deepest drawdown (0 when equity never falls below its peak).
        var maxDepth = -Double.infinity
        /// Each drawdown's length, seconds, from its peak bar to its recovery (or the last bar).
        var durations: [Double] = []
        /// Each drawdown's depth, as a fraction of its peak.
        var depths: [Double] = []

        private init() {}

        /// Measures `equity` (one point per timestamp; not empty).
        init(equity: [Double], timestamps: [Int64]) {
            if let fast = Self.positive(equity, timestamps) {
                self = fast
            } else {
                self.init(reference: equity, timestamps: timestamps)
            }
        }

        /// Bar by bar, any values: dd of every bar.
        init(reference equity: [Double], timestamps: [Int64]) {
            let n = equity.count
            var lastZero: Int? = nil
            var runMax = 0.0
            for i in 0..<n {
                peak = max(peak, equity[i])
                let d = 1 - equity[i] / peak
                if d > maxDepth { maxDepth = d }
                if d == 0 {
                    if let a = lastZero, i > a + 1 {
                        durations.append(Double(timestamps[i] - timestamps[a]) / 1e9)
                        depths.append(runMax)
                    }
                    lastZero = i
                    runMax = 0
                } else if d > runMax {
                    runMax = d
                }
            }
            if let a = lastZero, a != n - 1, n - 1 > a + 1 {
                durations.append(Double(timestamps[n - 1] - timestamps[a]) / 1e9)
                depths.append(runMax)
            }
        }

        /// The same figures for a curve of positive, finite values without a division per bar
        /// (nil when a value is not): below a peak p, 1 − e / p only grows as e falls, so a
        /// run's depth is 1 − (its lowest equity) / p, and a bar is at a peak exactly when
        /// e ≥ p (for 0 < e < p, e / p rounds below 1).
        static func positive(_ equity: [Double], _ timestamps: [Int64]) -> Drawdowns? {
            equity.withUnsafeBufferPointer { e -> Drawdowns? in
                let n = e.count
                guard n > 0, e[0] > 0, e[0].isFinite else { return nil }
                var out = Drawdowns()
                var peak = e[0]
                var low = peak  // the lowest equity since the last peak bar
                var maxDepth = 0.0
                var lastZero = 0
                for i in 1..<n {
                    let x = e[i]
                    if x >= peak {
                        guard x.isFinite else { return nil }
                        if i > lastZero + 1 {
                            let depth = 1 - low / peak
                            out.durations.append(Double(timestamps[i] - timestamps[lastZero]) / 1e9)
                            out.depths.append(depth)
                            if depth > maxDepth { maxDepth = depth }
                        }
                        peak = x
                        low = x
                        lastZero = i
                    } else if x > 0 {
                        if x < low { low = x }
                    } else {
                        return nil  // zero, negative or NaN
                    }
                }
                if lastZero != n - 1 {
                    let depth = 1 - low / peak
                    if depth > maxDepth { maxDepth = depth }
                    if n - 1 > lastZero + 1 {
                        out.durations.append(Double(timestamps[n - 1] - timestamps[lastZero]) / 1e9)
                        out.depths.append(depth)
                    }
                }
                out.peak = peak
                out.maxDepth = maxDepth
                return out
            }
        }
    }

    /// What the statistics need from a series' timestamps alone: computed once
    /// per series, it serves every run over those bars (sweeps).
    public struct Calendar: Sendable {
        /// Bars.
        public let bars: Int
        /// Resolution unit of durations (ns).
        public let unit: Int64
        /// Periods per year for annualising (252, 365, 52, 12 or 1).
        public let annualPeriods: Double
        /// The last bar index of each calendar bucket (day, week, month or year).
        public let bucketEnds: [Int]

        /// Derives the calendar of a series.
        public init(timestamps: [Int64]) {
            let n = timestamps.count
            bars = n
            let period = BacktestStatistics.dataPeriod(timestamps)
            unit = BacktestStatistics.resolutionUnit(period)
            let freqDays = Int(period / Timestamp.nanosecondsPerDay)
            var weekendBars = 0
            for t in timestamps where CivilCalendar.isoWeekday(days: Timestamp(nanoseconds: t).daysSinceEpoch) >= 6 { weekendBars += 1 }
            let haveWeekends = n > 0 && Double(weekendBars) / Double(n) > 2.0 / 7.0 * 0.6
            switch freqDays {
            case 7: annualPeriods = 52
            case 31: annualPeriods = 12
            case 365: annualPeriods = 1
            default: annualPeriods = haveWeekends ? 365 : 252
            }
            func bucket(_ t: Int64) -> Int64 {
                let d = Timestamp(nanoseconds: t).daysSinceEpoch
                switch freqDays {
                case 7: return (d + 3).floorDiv(7)  // weeks ending Sunday
                case 31:
                    let c = CivilCalendar.date(fromDays: d)
                    return Int64(c.year * 12 + c.month)
                case 365: return Int64(CivilCalendar.date(fromDays: d).year)
                default: return d
                }
            }
            var ends: [Int] = []
            var current = Int64.min
            for i in 0..<n {
                let b = bucket(timestamps[i])
                if b != current {
                    ends.append(i)
                    current = b
                } else {
                    ends[ends.count - 1] = i
                }
            }
            bucketEnds = ends
        }
    }

    static func dataPeriod(_ t: [Int64]) -> Int64 {
        let tail = t.suffix(100)
        guard tail.count > 1 else { return 0 }
        var diffs: [Int64] = []
        var prev = tail.first!
        for x in tail.dropFirst() {
            diffs.append(x - prev)
            prev = x
        }
        diffs.sort()
        let m = diffs.count
        return m % 2 == 1 ? diffs[m / 2] : (diffs[m / 2 - 1] + diffs[m / 2]) / 2
    }

    /// The coarsest unit that divides the period (pandas' `resolution_string`), in ns.
    static func resolutionUnit(_ period: Int64) -> Int64 {
        let units: [Int64] = [86_400_000_000_000, 3_600_000_000_000, 60_000_000_000, 1_000_000_000, 1_000_000, 1_000, 1]
        for u in units where period != 0 && period % u == 0 { return u }
        return 1
    }

    static func mean(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count) }

    static func sampleVariance(_ x: [Double]) -> Double {
        sampleVariance(x, sum: x.reduce(0, +))
    }

    /// The sample variance given `sum`, the in-order sum of `x` (two-pass: the mean, then squared deviations).
    static func sampleVariance(_ x: [Double], sum: Double) -> Double {
        guard x.count > 1 else { return .nan }
        let m = sum / Double(x.count)
        var squares = 0.0
        for v in x { squares += (v - m) * (v - m) }
        return squares / Double(x.count - 1)
    }

    /// Bars at which some trade was open (entry to exit, inclusive), counted
    /// once where trades overlap: the length of the union of their intervals.
    static func exposedBars(_ trades: [ClosedTrade], bars n: Int) -> Int {
        var intervals: [(Int, Int)] = []
        intervals.reserveCapacity(trades.count)
        var sorted = true
        for t in trades {
            let a = max(0, t.entryBar)
            let b = min(n - 1, t.exitBar)
            guard a <= b else { continue }
            if let last = intervals.last, a < last.0 { sorted = false }
            intervals.append((a, b))
        }
        if !sorted { intervals.sort { $0.0 < $1.0 } }
        var total = 0
        var end = -1  // the last bar counted so far
        for (a, b) in intervals where b > end {
            total += b - max(a, end + 1) + 1
            end = b
        }
        return total
    }

    static func covariance(_ x: [Double], _ y: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        let mx = mean(x)
        let my = mean(y)
        var s = 0.0
        for i in x.indices { s += (x[i] - mx) * (y[i] - my) }
        return s / Double(x.count - 1)
    }

    /// backtesting.py's `geometric_mean`: 0 if any 1 + r ≤ 0, NaN when empty.
    static func geometricMean(_ r: [Double]) -> Double {
        guard !r.isEmpty else { return .nan }
        var logSum = 0.0
        for x in r {
            let v = (x.isNaN ? 0 : x) + 1
            if v <= 0 { return 0 }
            logSum += log(v)
        }
        return exp(logSum / Double(r.count)) - 1
    }

    static func nonZero(_ x: Double) -> Double { x == 0 ? .nan : x }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
