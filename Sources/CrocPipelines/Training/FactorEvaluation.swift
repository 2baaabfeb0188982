import CrocCore
import CrocData
import Foundation

/// How well a score ranks a universe: the measures alphalens-reloaded and
/// Qlib report for a factor or a model's predictions, computed from a
/// time × symbol panel of scores and of the forward returns they predict.
///
/// Definitions (tested against SciPy and pandas fixtures to 1e-9):
/// - **IC** per date: Pearson correlation of score and forward return over the
///   symbols where both are finite (Qlib's `IC`); **rank IC**: Spearman, the
///   Pearson correlation of their average ranks (alphalens'
///   `factor_information_coefficient`, Qlib's `Rank IC`). Dates with fewer than
///   two such symbols, or no spread, have none.
/// - mean, standard deviation (n − 1) and **ICIR** = mean / sd over dates; the
///   mean rank IC by calendar year (UTC).
/// - **Quantiles**: each date's scores cut into `quantiles` equal-count bins by
///   their quantile edges (`pandas.qcut`: edges at the linear-interpolated
///   quantiles, bins right-closed, the first also closed on the left; a date whose
///   edges repeat is skipped, as `qcut` refuses it). Returns are demeaned per date
///   (alphalens' `demeaned=True`); the quantile's mean return pools every
///   (date, symbol) of it (alphalens' `mean_return_by_quantile(by_date=False)`).
///   The **long–short spread** per date is the top quantile's mean return minus
///   the bottom's; cumulative: compounded every `period`-th date (the forward returns'
///   horizon, so that periods do not overlap).
/// - **Top-k hit rate**: per date, the share of the `topK` best-scored symbols
///   whose forward return is among the `topK` best; mean over dates.
/// - **Top-k turnover**: per date after the first, the share of today's top-k
///   set not in the previous date's (alphalens' `quantile_turnover`); mean.
public struct FactorEvaluation: Sendable {
    /// The dates (nanoseconds since the epoch, UTC), one per panel row.
    public var times: [Int64]
    /// Pearson IC per date (NaN where there is none).
    public var ic: [Double]
    /// Spearman rank IC per date (NaN where there is none).
    public var rankIC: [Double]
    /// Mean, sample standard deviation and mean / sd of the IC over dates that have one.
    public var icSummary: Summary
    /// The same for the rank IC.
    public var rankICSummary: Summary
    /// Mean rank IC per calendar year, ascending years.
    public var rankICByYear: [(year: Int, mean: Double)]
    /// The pooled mean demeaned forward return of each quantile, bottom (1) first.
    public var quantileMeanReturns: [Double]
    /// Top minus bottom quantile mean return per date (NaN where the date was skipped).
    public var spread: [Double]
    /// The spread compounded every `period`-th date (skipped dates count as 0; the value is
    /// carried between them): with forward returns over `period` bars, the periods do not
    /// overlap.
    public var cumulativeSpread: [Double]
    /// Mean top-k hit rate.
    public var topKHitRate: Double
    /// Mean top-k turnover.
    public var topKTurnover: Double

    /// Mean, standard deviation and their ratio.
    public struct Summary: Sendable, Equatable {
        /// Mean over dates.
        public var mean: Double
        /// Sample standard deviation (n − 1).
        public var sd: Double
        /// mean / sd (the information ratio of the IC).
        public var ir: Double
        /// Dates counted.
        public var count: Int
    }

    /// Why a panel cannot be evaluated, naming the rule.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The panels' shapes disagree.
        case shape(String)
        /// A parameter out of range.
        case parameter(String)

        /// The rule broken.
        public var description: String {
            switch self {
            case .shape(let s): return "factor evaluation: \(s)"
            case .parameter(let s): return "factor evaluation: \(s)"
            }
        }
    }

    /// Evaluates `scores` against `forwardReturns` (both time-major: `[t][symbol]`, NaN for
    /// missing).
    /// - Throws: `Failure` when the panels' shapes differ, `quantiles` < 2 or `topK` < 1.
    public static func evaluate(
        times: [Int64],
        scores: [[Double]],
        forwardReturns: [[Double]],
        quantiles: Int = 5,
        topK: Int = 10,
        period: Int = 1
    ) throws(Failure) -> FactorEvaluation {
        guard scores.count == times.count, forwardReturns.count == times.count else {
            throw .shape("\(times.count) dates, \(scores.count) score rows, \(forwardReturns.count) return rows")
        }
        for t in times.indices where scores[t].count != forwardReturns[t].count {
            throw .shape("date \(t): \(scores[t].count) scores but \(forwardReturns[t].count) returns")
        }
        guard quantiles >= 2 else { throw .parameter("quantiles must be at least 2, got \(quantiles)") }
        guard topK >= 1 else { throw .parameter("topK must be at least 1, got \(topK)") }
        guard period >= 1 else { throw .parameter("period must be at least 1, got \(period)") }

        var ic: [Double] = []
        var rankIC: [Double] = []
        var sums = [Double](repeating: 0, count: quantiles)
        var counts = [Int](repeating: 0, count: quantiles)
        var spread: [Double] = []
        var hits: [Double] = []
        var turnovers: [Double] = []
        var previousTop: Set<Int>?
        for t in times.indices {
            let valid = scores[t].indices.filter { scores[t][$0].isFinite && forwardReturns[t][$0].isFinite }
            let x = valid.map { scores[t][$0] }
            let y = valid.map { forwardReturns[t][$0] }
            ic.append(Self.pearson(x, y))
            rankIC.append(Self.pearson(CrossSection.averageRanks(x), CrossSection.averageRanks(y)))

            // Quantiles of the date (demeaned returns).
            var daySpread = Double.nan
            if let labels = Self.qcut(x, quantiles), !y.isEmpty {
                let mean = y.reduce(0, +) / Double(y.count)
                var daySums = [Double](repeating: 0, count: quantiles)
                var dayCounts = [Int](repeating: 0, count: quantiles)
                for (i, q) in labels.enumerated() {
                    sums[q] += y[i] - mean
                    counts[q] += 1
                    daySums[q] += y[i] - mean
                    dayCounts[q] += 1
                }
                if dayCounts[quantiles - 1] > 0 && dayCounts[0] > 0 {
                    daySpread = daySums[quantiles - 1] / Double(dayCounts[quantiles - 1]) - daySums[0] / Double(dayCounts[0])
                }
            }
            spread.append(daySpread)

            // Top-k by score (ties by symbol order), hit rate against the top-k by return.
            if valid.count >= topK {
                let byScore = valid.indices.sorted { x[$0] != x[$1] ? x[$0] > x[$1] : $0 < $1 }
                let byReturn = valid.indices.sorted { y[$0] != y[$1] ? y[$0] > y[$1] : $0 < $1 }
                let top = Set(byScore.prefix(topK).map { valid[$0] })
                let best = Set(byReturn.prefix(topK).map { valid[$0] })
                hits.append(Double(top.intersection(best).count) / Double(topK))
                if let previousTop { turnovers.append(Double(top.subtracting(previousTop).count) / Double(topK)) }
                previousTop = top
            }
        }
        var cumulative: [Double] = []
        var growth = 1.0
        for (t, s) in spread.enumerated() {
            if t % period == 0 { growth *= 1 + (s.isFinite ? s : 0) }
            cumulative.append(growth - 1)
        }
        var byYear: [Int: (sum: Double, count: Int)] = [:]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for (t, v) in rankIC.enumerated() where v.isFinite {
            let year = calendar.component(.year, from: Date(timeIntervalSince1970: Double(times[t]) / 1e9))
            byYear[year, default: (0, 0)].sum += v
            byYear[year, default: (0, 0)].count += 1
        }
        return FactorEvaluation(
            times: times,
            ic: ic,
            rankIC: rankIC,
            icSummary: Self.summary(ic),
            rankICSummary: Self.summary(rankIC),
            rankICByYear: byYear.keys.sorted().map { ($0, byYear[$0]!.sum / Double(byYear[$0]!.count)) },
            quantileMeanReturns: (0..<quantiles).map { counts[$0] > 0 ? sums[$0] / Double(counts[$0]) : .nan },
            spread: spread,
            cumulativeSpread: cumulative,
            topKHitRate: hits.isEmpty ? .nan : hits.reduce(0, +) / Double(hits.count),
            topKTurnover: turnovers.isEmpty ? .nan : turnovers.reduce(0, +) / Double(turnovers.count)
        )
    }

    /// Pearson correlation; NaN with fewer than two pairs or no spread in either.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "pairs")
        let n = x.count
        guard n >= 2 else { return .nan }
        let mx = x.reduce(0, +) / Double(n)
        let my = y.reduce(0, +) / Double(n)
        var sxy = 0.0
        var sxx = 0.0
        var syy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx
            let dy = y[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0 && syy > 0 else { return .nan }
        return sxy / (sxx * syy).squareRoot()
    }

    /// `pandas.qcut(x, q, labels=False)`: each value's bin (0-based), or nil when the
    /// edges repeat (or there are no values).
    static func qcut(_ x: [Double], _ q: Int) -> [Int]? {
        guard !x.isEmpty else { return nil }
        let sorted = x.sorted()
        let edges = (0...q).map { CrossSection.quantile(sorted, Double($0) / Double(q)) }
        for i in 1..<edges.count where !(edges[i] > edges[i - 1]) { return nil }
        return x.map { v in
            var bin = 0
            while bin < q - 1 && v > edges[bin + 1] { bin += 1 }
            return bin
        }
    }

    static func summary(_ values: [Double]) -> Summary {
        let v = values.filter(\.isFinite)
        guard !v.isEmpty else { return Summary(mean: .nan, sd: .nan, ir: .nan, count: 0) }
        let mean = v.reduce(0, +) / Double(v.count)
        let sd = v.count > 1 ? (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot() : .nan
        return Summary(mean: mean, sd: sd, ir: sd > 0 ? mean / sd : .nan, count: v.count)
    }
}
