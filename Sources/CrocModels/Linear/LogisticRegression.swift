import Dispatch
import Foundation

/// L2-regularised binary logistic regression with an unpenalised intercept,
/// minimising scikit-learn's objective C·Σ logloss + ½‖w‖² with L-BFGS
/// (`LogisticRegression(C=…, solver="lbfgs")`).
public struct LogisticRegression: Model, Hashable {
    /// The learner.
    public var kind: ModelKind { .logistic }
    /// Binary classification.
    public var task: ModelTask { .binaryClassification }
    /// Coefficients, one per feature.
    public internal(set) var coefficients: [Double]
    /// The intercept.
    public internal(set) var intercept: Double
    /// Features expected.
    public var inputWidth: Int { coefficients.count }

    /// Wraps fitted parameters.
    public init(coefficients: [Double], intercept: Double) {
        self.coefficients = coefficients
        self.intercept = intercept
    }

    /// Fit diagnostics.
    public struct FitReport: Sendable, Hashable {
        /// L-BFGS iterations taken.
        public var iterations: Int
        /// Mean log loss on the training data at the solution (without the penalty).
        public var logLoss: Double
        /// Whether the gradient tolerance was reached.
        public var converged: Bool
    }

    /// Fits on `data` (targets 0/1).
    /// - Parameters:
    ///   - c: Inverse regularisation strength (scikit-learn's `C`), > 0.
    ///   - tolerance: Stop when the largest gradient component of the
    ///     per-sample objective falls below this.
    ///   - maxIterations: L-BFGS iteration cap.
    ///   - threads: Worker threads for the gradient (deterministic for a given count).
    /// - Throws: `ModelError` for bad data or hyperparameters.
    public static func fit(
        _ data: Dataset,
        c: Double = 1.0,
        tolerance: Double = 1e-9,
        maxIterations: Int = 1000,
        threads: Int = 2
    ) throws(ModelError) -> (model: LogisticRegression, report: FitReport) {
        let n = data.count
        let d = data.x.columns
        guard n > 0, d > 0 else { throw ModelError(.invalidData, "logistic regression needs at least one row and one feature") }
        guard c > 0, c.isFinite else { throw ModelError(.invalidHyperparameter, "C must be > 0, found \(c)") }
        guard data.y.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw ModelError(.invalidData, "logistic regression needs 0/1 targets") }
        let objective = LogisticObjective(x: data.x, y: data.y, penalty: 1.0 / (c * Double(n)), threads: max(1, threads))
        var theta = [Double](repeating: 0, count: d + 1)  // weights, then intercept
        let result = LBFGS.minimize(&theta, tolerance: tolerance, maxIterations: maxIterations) { objective.evaluate($0, gradient: &$1) }
        let model = LogisticRegression(coefficients: Array(theta[0..<d]), intercept: theta[d])
        var g = [Double](repeating: 0, count: d + 1)
        let penalised = objective.evaluate(theta, gradient: &g)
        var norm2 = 0.0
        for j in 0..<d { norm2 += theta[j] * theta[j] }
        let logLoss = penalised - 0.5 * objective.penalty * norm2
        return (model, FitReport(iterations: result.iterations, logLoss: logLoss, converged: result.converged))
    }

    /// Incremental update (`partial_fit`): `epochs` passes of mini-batch
    /// gradient descent on the same objective, starting from the current
    /// weights, for online retraining as new bars arrive.
    public func updated(with data: Dataset, c: Double = 1.0, learningRate: Double = 0.05, epochs: Int = 1, batchSize: Int = 256) -> LogisticRegression
    {
        var w = coefficients
        var b = intercept
        let d = w.count
        let n = data.count
        guard n > 0, data.x.columns == d else { return self }
        let penalty = 1.0 / (c * Double(n))
        for _ in 0..<max(1, epochs) {
            var start = 0
            while start < n {
                let end = min(n, start + batchSize)
                var gw = [Double](repeating: 0, count: d)
                var gb = 0.0
                for i in start..<end {
                    var z = b
                    for j in 0..<d { z += w[j] * data.x[i, j] }
                    let r = sigmoid(z) - data.y[i]
                    for j in 0..<d { gw[j] += r * data.x[i, j] }
                    gb += r
                }
                let m = Double(end - start)
                for j in 0..<d { w[j] -= learningRate * (gw[j] / m + penalty * w[j]) }
                b -= learningRate * gb / m
                start = end
            }
        }
        return LogisticRegression(coefficients: w, intercept: b)
    }

    /// P(class 1 | x).
    public func predict(_ x: UnsafeBufferPointer<Double>) -> Double {
        var z = intercept
        for j in 0..<coefficients.count { z += coefficients[j] * x[j] }
        return sigmoid(z)
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
    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> LogisticRegression {
        var r = WeightReader(bytes)
        let c = try r.doubles()
        let i = try r.double()
        try r.finish()
        return LogisticRegression(coefficients: c, intercept: i)
    }
}

/// 1 / (1 + e^−z), without overflow.
@inlinable
func sigmoid(_ z: Double) -> Double {
    z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
}

/// log(1 + e^z) − y·z, without overflow.
@inlinable
func logisticLoss(_ z: Double, _ y: Double) -> Double {
    (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y * z
}

/// Mean log loss plus ½·penalty·‖w‖², and its gradient, over row chunks in parallel.
struct LogisticObjective: @unchecked Sendable {
    // @unchecked: read-only after init; workers write only their own chunk's slots.
    let x: Matrix
    let y: [Double]
    let penalty: Double
    let threads: Int

    func evaluate(_ theta: [Double], gradient: inout [Double]) -> Double {
        let n = y.count
        let d = x.columns
        let chunks = min(threads, max(1, n / 4096))
        var partialLoss = [Double](repeating: 0, count: chunks)
        var partialGrad = [Double](repeating: 0, count: chunks * (d + 1))
        x.values.withUnsafeBufferPointer { xv in
            y.withUnsafeBufferPointer { yv in
                theta.withUnsafeBufferPointer { th in
                    partialLoss.withUnsafeMutableBufferPointer { pl in
                        partialGrad.withUnsafeMutableBufferPointer { pg in
                            let xs = SharedPointer(xv.baseAddress!)
                            let ys = SharedPointer(yv.baseAddress!)
                            let w = SharedPointer(th.baseAddress!)
                            let loss = SharedPointer(pl.baseAddress!)
                            let grads = SharedPointer(pg.baseAddress!)
                            parallelChunks(chunks) { c in
                                let xs = xs.base
                                let ys = ys.base
                                let w = w.base
                                let lo = n * c / chunks
                                let hi = n * (c + 1) / chunks
                                let g = grads.base + c * (d + 1)
                                var l = 0.0
                                var gb = 0.0
                                for i in lo..<hi {
                                    let row = xs + i * d
                                    var z = w[d]
                                    for j in 0..<d { z += w[j] * row[j] }
                                    l += logisticLoss(z, ys[i])
                                    let r = sigmoid(z) - ys[i]
                                    for j in 0..<d { g[j] += r * row[j] }
                                    gb += r
                                }
                                g[d] = gb
                                loss.base[c] = l
                            }
                        }
                    }
                }
            }
        }
        let inv = 1.0 / Double(n)
        var f = 0.0
        for c in 0..<chunks { f += partialLoss[c] }
        f *= inv
        for j in 0...d {
            var s = 0.0
            for c in 0..<chunks { s += partialGrad[c * (d + 1) + j] }
            gradient[j] = s * inv
        }
        for j in 0..<d {
            f += 0.5 * penalty * theta[j] * theta[j]
            gradient[j] += penalty * theta[j]
        }
        return f
    }
}

/// Limited-memory BFGS with a backtracking (Armijo) line search.
enum LBFGS {
    struct Result {
        var iterations: Int
        var converged: Bool
        var value: Double
    }

    static func minimize(
        _ x: inout [Double],
        memory m: Int = 10,
        tolerance: Double,
        maxIterations: Int,
        _ f: ([Double], inout [Double]) -> Double
    ) -> Result {
        let n = x.count
        var g = [Double](repeating: 0, count: n)
        var fx = f(x, &g)
        var s: [[Double]] = []
        var yv: [[Double]] = []
        var rho: [Double] = []
        var iterations = 0
        func maxAbs(_ v: [Double]) -> Double { v.reduce(0) { max($0, abs($1)) } }
        func dot(_ a: [Double], _ b: [Double]) -> Double {
            var t = 0.0
            for i in 0..<a.count { t += a[i] * b[i] }
            return t
        }
        while iterations < maxIterations {
            if maxAbs(g) <= tolerance { return Result(iterations: iterations, converged: true, value: fx) }
            // Two-loop recursion: direction = −H·g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for k in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[k] = rho[k] * dot(s[k], q)
                for i in 0..<n { q[i] -= alpha[k] * yv[k][i] }
            }
            let gamma = s.isEmpty ? 1.0 / max(1.0, maxAbs(g)) : dot(s.last!, yv.last!) / dot(yv.last!, yv.last!)
            for i in 0..<n { q[i] *= gamma }
            for k in 0..<s.count {
                let beta = rho[k] * dot(yv[k], q)
                for i in 0..<n { q[i] += s[k][i] * (alpha[k] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 {  // not a descent direction: restart with steepest descent
                s.removeAll()
                yv.removeAll()
                rho.removeAll()
                direction = g.map { -$0 / max(1.0, maxAbs(g)) }
                slope = dot(g, direction)
            }
            var step = 1.0
            var xNew = x
            var gNew = g
            var fNew = fx
            var accepted = false
            for _ in 0..<60 {
                for i in 0..<n { xNew[i] = x[i] + step * direction[i] }
                fNew = f(xNew, &gNew)
                if fNew.isFinite && fNew <= fx + 1e-4 * step * slope {
                    accepted = true
                    break
                }
                step *= 0.5
            }
            iterations += 1
            guard accepted else { return Result(iterations: iterations, converged: false, value: fx) }
            let sk = (0..<n).map { xNew[$0] - x[$0] }
            let yk = (0..<n).map { gNew[$0] - g[$0] }
            let sy = dot(sk, yk)
            let previous = fx
            x = xNew
            g = gNew
            fx = fNew
            if sy > 1e-12 * dot(yk, yk) {
                s.append(sk)
                yv.append(yk)
                rho.append(1 / sy)
                if s.count > m {
                    s.removeFirst()
                    yv.removeFirst()
                    rho.removeFirst()
                }
            }
            if abs(previous - fx) <= 1e-16 * max(1, abs(fx)) && maxAbs(g) <= tolerance * 100 {
                return Result(iterations: iterations, converged: true, value: fx)
            }
        }
        return Result(iterations: iterations, converged: maxAbs(g) <= tolerance, value: fx)
    }
}
