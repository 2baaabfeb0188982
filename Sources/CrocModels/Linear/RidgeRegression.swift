/// Ridge regression (L2-penalised least squares) with an unpenalised
/// intercept, solved in closed form as scikit-learn's `Ridge(solver="cholesky")`:
/// centre X and y, solve (XᵀX + αI) w = Xᵀy by Cholesky, intercept = ȳ − x̄·w.
/// `alpha = 0` is ordinary least squares.
public struct RidgeRegression: Model, Hashable {
    /// The learner.
    public var kind: ModelKind { .ridge }
    /// Regression.
    public var task: ModelTask { .regression }
    /// Coefficients, one per feature.
    public let coefficients: [Double]
    /// The intercept.
    public let intercept: Double
    /// Features expected.
    public var inputWidth: Int { coefficients.count }

    /// Wraps fitted parameters.
    public init(coefficients: [Double], intercept: Double) {
        self.coefficients = coefficients
        self.intercept = intercept
    }

    /// Fits on `data`.
    /// - Throws: `ModelError` for empty data, a negative alpha, or a singular system.
    public static func fit(_ data: Dataset, alpha: Double = 1.0) throws(ModelError) -> RidgeRegression {
        let n = data.count
        let d = data.x.columns
        guard n > 0, d > 0 else { throw ModelError(.invalidData, "ridge needs at least one row and one feature") }
        guard alpha >= 0, alpha.isFinite else { throw ModelError(.invalidHyperparameter, "alpha must be ≥ 0, found \(alpha)") }
        var xMean = [Double](repeating: 0, count: d)
        var yMean = 0.0
        data.x.values.withUnsafeBufferPointer { x in
            for i in 0..<n {
                for j in 0..<d { xMean[j] += x[i * d + j] }
                yMean += data.y[i]
            }
        }
        for j in 0..<d { xMean[j] /= Double(n) }
        yMean /= Double(n)
        // A = XcᵀXc + αI (upper triangle), b = Xcᵀyc.
        var a = [Double](repeating: 0, count: d * d)
        var b = [Double](repeating: 0, count: d)
        var row = [Double](repeating: 0, count: d)
        data.x.values.withUnsafeBufferPointer { x in
            for i in 0..<n {
                for j in 0..<d { row[j] = x[i * d + j] - xMean[j] }
                let yc = data.y[i] - yMean
                for j in 0..<d {
                    let rj = row[j]
                    b[j] += rj * yc
                    for k in j..<d { a[j * d + k] += rj * row[k] }
                }
            }
        }
        for j in 0..<d {
            a[j * d + j] += alpha
            for k in 0..<j { a[j * d + k] = a[k * d + j] }
        }
        let w = try Cholesky.solve(a, b, d)
        var intercept = yMean
        for j in 0..<d { intercept -= xMean[j] * w[j] }
        return RidgeRegression(coefficients: w, intercept: intercept)
    }

    /// w·x + b.
    public func predict(_ x: UnsafeBufferPointer<Double>) -> Double {
        var s = intercept
        for j in 0..<coefficients.count { s += coefficients[j] * x[j] }
        return s
    }

    /// Coefficients then intercept.
    public func encodeWeights() -> [UInt8] {
        var w = WeightWriter()
        w.doubles(coefficients)
        w.double(intercept)
        return w.bytes
    }

    /// Reads `encodeWeights()` output.
    /// - Throws: `ModelError.corruptWeights` for malformed bytes.
    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> RidgeRegression {
        var r = WeightReader(bytes)
        let c = try r.doubles()
        let i = try r.double()
        try r.finish()
        return RidgeRegression(coefficients: c, intercept: i)
    }
}

/// Dense symmetric positive-definite solves.
enum Cholesky {
    /// Solves A x = b for symmetric positive-definite A (d × d, row-major).
    static func solve(_ a0: [Double], _ b: [Double], _ d: Int) throws(ModelError) -> [Double] {
        var l = [Double](repeating: 0, count: d * d)
        // A pivot this small relative to the diagonal means a (numerically) singular system.
        let scale = (0..<d).map { abs(a0[$0 * d + $0]) }.max() ?? 0
        let minPivot = max(scale, 1e-300) * 1e-12
        for i in 0..<d {
            for j in 0...i {
                var s = a0[i * d + j]
                for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
                if i == j {
                    guard s > minPivot, s.isFinite else {
                        throw ModelError(.numerical, "matrix not positive definite (collinear features? try alpha > 0)")
                    }
                    l[i * d + i] = s.squareRoot()
                } else {
                    l[i * d + j] = s / l[j * d + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: d)
        for i in 0..<d {
            var s = b[i]
            for k in 0..<i { s -= l[i * d + k] * y[k] }
            y[i] = s / l[i * d + i]
        }
        var x = [Double](repeating: 0, count: d)
        for i in stride(from: d - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<d { s -= l[k * d + i] * x[k] }
            x[i] = s / l[i * d + i]
        }
        return x
    }
}
