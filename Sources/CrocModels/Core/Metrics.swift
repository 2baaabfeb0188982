import Foundation

/// Evaluation metrics for classifiers and regressors.
public enum Metrics {
    /// Share of correct 0/1 predictions at `threshold`.
    public static func accuracy(_ y: [Double], _ p: [Double], threshold: Double = 0.5) -> Double {
        guard !y.isEmpty else { return .nan }
        var hit = 0
        for i in y.indices where (p[i] > threshold ? 1.0 : 0.0) == y[i] { hit += 1 }
        return Double(hit) / Double(y.count)
    }

    /// Precision and recall of class 1 at `threshold`.
    public static func precisionRecall(_ y: [Double], _ p: [Double], threshold: Double = 0.5) -> (precision: Double, recall: Double) {
        var tp = 0.0
        var fp = 0.0
        var fn = 0.0
        for i in y.indices {
            let predicted = p[i] > threshold
            if predicted && y[i] == 1 { tp += 1 } else if predicted { fp += 1 } else if y[i] == 1 { fn += 1 }
        }
        return (tp + fp > 0 ? tp / (tp + fp) : .nan, tp + fn > 0 ? tp / (tp + fn) : .nan)
    }

    /// Area under the ROC curve (Mann-Whitney, ties counted half).
    public static func rocAUC(_ y: [Double], _ p: [Double]) -> Double {
        let order = p.indices.sorted { p[$0] < p[$1] }
        var rankSumPositive = 0.0
        var positives = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && p[order[j + 1]] == p[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1
            for k in i...j where y[order[k]] == 1 {
                rankSumPositive += averageRank
                positives += 1
            }
            i = j + 1
        }
        let negatives = Double(y.count) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSumPositive - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// Mean binary log loss, probabilities clipped to [1e-15, 1 − 1e-15].
    public static func logLoss(_ y: [Double], _ p: [Double]) -> Double {
        guard !y.isEmpty else { return .nan }
        var s = 0.0
        for i in y.indices {
            let q = min(max(p[i], 1e-15), 1 - 1e-15)
            s -= y[i] * log(q) + (1 - y[i]) * log(1 - q)
        }
        return s / Double(y.count)
    }

    /// Root mean squared error.
    public static func rmse(_ y: [Double], _ p: [Double]) -> Double {
        guard !y.isEmpty else { return .nan }
        return (zip(y, p).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(y.count)).squareRoot()
    }

    /// Mean absolute error.
    public static func mae(_ y: [Double], _ p: [Double]) -> Double {
        guard !y.isEmpty else { return .nan }
        return zip(y, p).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(y.count)
    }

    /// Coefficient of determination.
    public static func r2(_ y: [Double], _ p: [Double]) -> Double {
        guard y.count > 1 else { return .nan }
        let mean = y.reduce(0, +) / Double(y.count)
        let total = y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let residual = zip(y, p).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return total > 0 ? 1 - residual / total : .nan
    }

    /// Information coefficient: Spearman rank correlation of predictions and outcomes.
    public static func informationCoefficient(_ y: [Double], _ p: [Double]) -> Double {
        pearson(ranks(y), ranks(p))
    }

    /// Pearson correlation.
    public static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count > 1 else { return .nan }
        let ma = a.reduce(0, +) / Double(a.count)
        let mb = b.reduce(0, +) / Double(b.count)
        var sab = 0.0
        var saa = 0.0
        var sbb = 0.0
        for i in a.indices {
            sab += (a[i] - ma) * (b[i] - mb)
            saa += (a[i] - ma) * (a[i] - ma)
            sbb += (b[i] - mb) * (b[i] - mb)
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : .nan
    }

    /// Average ranks (1-based, ties averaged).
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }
}
