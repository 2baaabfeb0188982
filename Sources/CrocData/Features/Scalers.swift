/// A scaler that could not be fitted.
public struct ScalerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Detail for people.
    public var description: String
}

/// Standardises each column to zero mean and unit (population) variance, as
/// scikit-learn's `StandardScaler`: fitted once on a training range, then
/// applied unchanged; a column with zero variance is only centred.
public struct StandardScaler: Sendable, Hashable, Codable {
    /// Column means.
    public var mean: [Double]
    /// Column standard deviations (1 where the variance is 0).
    public var scale: [Double]

    /// Creates a scaler from known parameters.
    public init(mean: [Double], scale: [Double]) {
        self.mean = mean
        self.scale = scale
    }

    /// Fits on `rows` of `matrix`, skipping rows with any NaN (warm-up).
    /// - Throws: `ScalerError` when no complete row is in range.
    public static func fit(_ m: FeatureMatrix, rows: Range<Int>? = nil) throws(ScalerError) -> StandardScaler {
        let use = completeRows(m, rows ?? 0..<m.rows)
        guard !use.isEmpty else { throw ScalerError(description: "no complete rows to fit the scaler on") }
        var mean = [Double](repeating: 0, count: m.columns)
        var scale = mean
        for j in 0..<m.columns {
            var s = 0.0
            for i in use { s += m[i, j] }
            let mu = s / Double(use.count)
            var q = 0.0
            for i in use {
                let d = m[i, j] - mu
                q += d * d
            }
            let sd = (q / Double(use.count)).squareRoot()
            mean[j] = mu
            scale[j] = sd > 0 ? sd : 1
        }
        return StandardScaler(mean: mean, scale: scale)
    }

    /// Scales one vector in place.
    @inlinable
    public func transform(_ v: inout [Double]) {
        for j in v.indices { v[j] = (v[j] - mean[j]) / scale[j] }
    }

    /// A scaled copy of a matrix (NaN stays NaN).
    public func transform(_ m: FeatureMatrix) -> FeatureMatrix {
        var out = m
        for j in 0..<m.columns {
            for i in 0..<m.rows { out.values[j * m.rows + i] = (m[i, j] - mean[j]) / scale[j] }
        }
        return out
    }
}

/// Rescales each column to [0, 1] from the minimum and maximum seen in the
/// training range (scikit-learn's `MinMaxScaler`); values outside that range
/// map outside [0, 1], and a constant column maps to 0.
public struct MinMaxScaler: Sendable, Hashable, Codable {
    /// Column minima.
    public var minimum: [Double]
    /// Column ranges (1 where max == min).
    public var range: [Double]

    /// Creates a scaler from known parameters.
    public init(minimum: [Double], range: [Double]) {
        self.minimum = minimum
        self.range = range
    }

    /// Fits on `rows` of `matrix`, skipping rows with any NaN.
    /// - Throws: `ScalerError` when no complete row is in range.
    public static func fit(_ m: FeatureMatrix, rows: Range<Int>? = nil) throws(ScalerError) -> MinMaxScaler {
        let use = completeRows(m, rows ?? 0..<m.rows)
        guard !use.isEmpty else { throw ScalerError(description: "no complete rows to fit the scaler on") }
        var lo = [Double](repeating: .infinity, count: m.columns)
        var hi = [Double](repeating: -.infinity, count: m.columns)
        for j in 0..<m.columns {
            for i in use {
                lo[j] = Swift.min(lo[j], m[i, j])
                hi[j] = Swift.max(hi[j], m[i, j])
            }
        }
        return MinMaxScaler(minimum: lo, range: zip(lo, hi).map { $1 > $0 ? $1 - $0 : 1 })
    }

    /// Scales one vector in place.
    @inlinable
    public func transform(_ v: inout [Double]) {
        for j in v.indices { v[j] = (v[j] - minimum[j]) / range[j] }
    }

    /// A scaled copy of a matrix.
    public func transform(_ m: FeatureMatrix) -> FeatureMatrix {
        var out = m
        for j in 0..<m.columns {
            for i in 0..<m.rows { out.values[j * m.rows + i] = (m[i, j] - minimum[j]) / range[j] }
        }
        return out
    }
}

/// A serialisable choice of scaler, to travel with a model.
public enum FeatureScaler: Sendable, Hashable, Codable {
    /// No scaling.
    case none
    /// Z-score.
    case standard(StandardScaler)
    /// Min-max.
    case minMax(MinMaxScaler)

    /// Scales one vector in place.
    public func transform(_ v: inout [Double]) {
        switch self {
        case .none: break
        case .standard(let s): s.transform(&v)
        case .minMax(let s): s.transform(&v)
        }
    }
}

func completeRows(_ m: FeatureMatrix, _ rows: Range<Int>) -> [Int] {
    let r = rows.clamped(to: 0..<m.rows)
    return r.filter { i in (0..<m.columns).allSatisfy { !m[i, $0].isNaN } }
}
