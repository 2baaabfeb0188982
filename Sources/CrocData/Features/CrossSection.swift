import Foundation

/// Cross-sectional transforms: each applies to one timestamp's values across
/// the symbols of a universe (one row of a time × symbol panel), in place.
/// Missing values (NaN) stay missing and are ignored by the statistics —
/// Qlib's `CSRankNorm`/`CSZScoreNorm` and alphalens' per-date grouping.
public enum CrossSection {
    /// Average ranks (1-based; ties share the mean of their ranks, as
    /// `scipy.stats.rankdata(method="average")`) of the finite values; NaN elsewhere.
    public static func averageRanks(_ values: [Double]) -> [Double] {
        var out = [Double](repeating: .nan, count: values.count)
        // (value, position) pairs of the finite values, sorted by value: a tuple sort
        // compares in place instead of looking values up through a closure.
        var order: [(value: Double, index: Int32)] = []
        order.reserveCapacity(values.count)
        for k in values.indices where values[k].isFinite { order.append((values[k], Int32(k))) }
        order.sort { $0.value < $1.value }
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && order[j + 1].value == order[i].value { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for m in i...j { out[Int(order[m].index)] = rank }
            i = j + 1
        }
        return out
    }

    /// Ranks mapped to [0, 1]: (average rank − 1) / (n − 1) over the n finite values
    /// (a single value maps to 0.5).
    public static func rank(_ row: inout [Double]) {
        let ranks = averageRanks(row)
        let n = ranks.lazy.filter(\.isFinite).count
        for k in row.indices where ranks[k].isFinite { row[k] = n > 1 ? (ranks[k] - 1) / Double(n - 1) : 0.5 }
    }

    /// Subtracts the mean of the finite values.
    public static func demean(_ row: inout [Double]) {
        var sum = 0.0
        var count = 0
        for x in row where x.isFinite {
            sum += x
            count += 1
        }
        guard count > 0 else { return }
        let mean = sum / Double(count)
        for k in row.indices where row[k].isFinite { row[k] -= mean }
    }

    /// (x − mean) / standard deviation of the finite values (sample, n − 1, as pandas and
    /// Qlib's `CSZScoreNorm`); NaN where fewer than two values or no spread.
    public static func zscore(_ row: inout [Double]) {
        var sum = 0.0
        var count = 0
        for x in row where x.isFinite {
            sum += x
            count += 1
        }
        guard count > 1 else {
            for k in row.indices { row[k] = .nan }
            return
        }
        let mean = sum / Double(count)
        var squares = 0.0
        for x in row where x.isFinite { squares += (x - mean) * (x - mean) }
        let sd = (squares / Double(count - 1)).squareRoot()
        for k in row.indices where row[k].isFinite { row[k] = sd > 0 ? (row[k] - mean) / sd : .nan }
    }

    /// Clips the finite values to their `lower` and `upper` quantiles (linear
    /// interpolation, as `numpy.quantile`).
    /// - Precondition: 0 ≤ lower ≤ upper ≤ 1.
    public static func winsorize(_ row: inout [Double], lower: Double, upper: Double) {
        precondition(lower >= 0 && lower <= upper && upper <= 1, "quantiles in [0, 1], lower ≤ upper")
        let sorted = row.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return }
        let lo = quantile(sorted, lower)
        let hi = quantile(sorted, upper)
        for k in row.indices where row[k].isFinite { row[k] = min(max(row[k], lo), hi) }
    }

    /// The `q` quantile of ascending `sorted` values, interpolated linearly between the
    /// neighbouring order statistics (`numpy.quantile`'s default).
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty, "no values")
        let position = q * Double(sorted.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, sorted.count - 1)
        let fraction = position - Double(below)
        return sorted[below] + (sorted[above] - sorted[below]) * fraction
    }
}

/// A cross-sectional transform by its config name, as training configs and
/// model bundles record it (`crossSection: rank`): applied to every feature
/// column (or to the labels) across the symbols at each timestamp, the same
/// way at training and at inference.
public enum CrossSectionTransform: String, Sendable, Hashable, Codable, CaseIterable {
    /// Values as they are.
    case none
    /// `CrossSection.rank`: ranks mapped to [0, 1].
    case rank
    /// `CrossSection.zscore`: (x − mean) / sd.
    case zscore
    /// `CrossSection.demean`: x − mean.
    case demean

    /// Applies the transform to one timestamp's row, in place.
    public func apply(_ row: inout [Double]) {
        switch self {
        case .none: break
        case .rank: CrossSection.rank(&row)
        case .zscore: CrossSection.zscore(&row)
        case .demean: CrossSection.demean(&row)
        }
    }
}
