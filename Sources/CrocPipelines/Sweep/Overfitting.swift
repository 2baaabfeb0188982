import Foundation

/// Overfitting diagnostics for a set of trials: how much of the best
/// trial's Sharpe ratio is explained by having tried many.
public enum Overfitting {
    /// The deflated Sharpe ratio (Bailey & López de Prado, 2014).
    public struct DeflatedSharpe: Sendable, Hashable {
        /// The selected trial's per-period Sharpe ratio.
        public var sharpe: Double
        /// The expected maximum per-period Sharpe of `trials` unskilled trials.
        public var benchmark: Double
        /// Trials counted.
        public var trials: Int
        /// Returns in the selected trial.
        public var observations: Int
        /// P(true Sharpe > 0 after deflation): above 0.95 is significant at 5 %.
        public var probability: Double
    }

    /// The probability of backtest overfitting by combinatorially symmetric
    /// cross-validation (Bailey, Borwein, López de Prado & Zhu, 2015).
    public struct PBO: Sendable, Hashable {
        /// Share of splits where the in-sample best is below the out-of-sample median.
        public var probability: Double
        /// The splits evaluated (C(S, S/2)).
        public var splits: Int
        /// The logits λ of each split's out-of-sample relative rank.
        public var logits: [Double]
    }

    /// Euler–Mascheroni γ.
    static let eulerGamma = 0.577_215_664_901_532_9

    /// Φ, the standard normal distribution function.
    public static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Φ⁻¹ (Acklam's rational approximation, refined by one Halley step; |error| < 1e-12).
    public static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "quantile needs 0 < p < 1")
        let a = [
            -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01,
            2.506628277459239e+00,
        ]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [
            -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00,
            2.938163982698783e+00,
        ]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5
            let r = q * q
            x =
                (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = normalCDF(x) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }

    /// The expected maximum of `n` standard normal draws (the false strategy theorem).
    public static func expectedMaximum(trials n: Int) -> Double {
        guard n > 1 else { return 0 }
        let N = Double(n)
        return (1 - eulerGamma) * normalQuantile(1 - 1 / N) + eulerGamma * normalQuantile(1 - 1 / (N * M_E))
    }

    /// The deflated Sharpe ratio of the selected trial.
    /// - Parameters:
    ///   - selected: The selected trial's return moments (all blocks added).
    ///   - trialSharpes: Per-period Sharpe ratios of all trials (the spread of the search).
    /// - Returns: nil with fewer than two trials or two returns.
    public static func deflatedSharpe(selected: ReturnMoments, trialSharpes: [Double]) -> DeflatedSharpe? {
        deflatedSharpe(
            sharpe: selected.sharpe,
            observations: Int(selected.n),
            skewness: selected.skewness,
            kurtosis: selected.kurtosis,
            trialSharpes: trialSharpes
        )
    }

    /// The deflated Sharpe ratio from its inputs: DSR = Φ((SR − SR₀)·√(T − 1) /
    /// √(1 − γ₃·SR + (γ₄ − 1)/4·SR²)), SR₀ = √V[SRₙ] · E[max of N standard normals].
    /// - Parameters:
    ///   - sharpe: The selected per-period Sharpe ratio.
    ///   - observations: T, its number of returns.
    ///   - skewness: γ₃ of its returns.
    ///   - kurtosis: γ₄ of its returns (3 for normal).
    ///   - trialSharpes: Per-period Sharpe ratios of all trials (N and their variance).
    public static func deflatedSharpe(
        sharpe sr: Double,
        observations t: Int,
        skewness: Double,
        kurtosis: Double,
        trialSharpes: [Double]
    ) -> DeflatedSharpe? {
        let s = trialSharpes.filter(\.isFinite)
        guard s.count >= 2, t >= 2 else { return nil }
        let mean = s.reduce(0, +) / Double(s.count)
        let variance = s.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(s.count - 1)
        let benchmark = variance.squareRoot() * expectedMaximum(trials: s.count)
        let denominator = 1 - skewness * sr + (kurtosis - 1) / 4 * sr * sr
        let z = denominator > 0 ? (sr - benchmark) * Double(t - 1).squareRoot() / denominator.squareRoot() : 0
        return DeflatedSharpe(sharpe: sr, benchmark: benchmark, trials: s.count, observations: t, probability: normalCDF(z))
    }

    /// PBO by CSCV over trials' per-block return moments.
    ///
    /// The time axis is cut into S blocks; for every way of choosing S/2 of
    /// them as in-sample, the trial with the best in-sample Sharpe is ranked
    /// among all trials on the other S/2 blocks; λ = logit(rank / (N + 1)).
    /// PBO is the share of splits with λ ≤ 0 (the in-sample winner at or
    /// below the out-of-sample median).
    /// - Parameter blocks: One array of S block moments per trial.
    /// - Returns: nil with fewer than two trials or an odd or small S.
    public static func pbo(_ blocks: [[ReturnMoments]]) -> PBO? {
        guard blocks.count >= 2, let s = blocks.first?.count, s >= 2, s % 2 == 0, blocks.allSatisfy({ $0.count == s }) else { return nil }
        let n = blocks.count
        var logits: [Double] = []
        var chosen = [Int](0..<(s / 2))
        var inSample = [Double](repeating: 0, count: n)
        var outSample = [Double](repeating: 0, count: n)
        while true {
            var mask = [Bool](repeating: false, count: s)
            for c in chosen { mask[c] = true }
            for j in 0..<n {
                var a = ReturnMoments()
                var b = ReturnMoments()
                for k in 0..<s {
                    if mask[k] { a = a + blocks[j][k] } else { b = b + blocks[j][k] }
                }
                inSample[j] = a.sharpe
                outSample[j] = b.sharpe
            }
            var best = 0
            for j in 1..<n where inSample[j] > inSample[best] { best = j }
            // Relative rank of the in-sample best out of sample, ties counted half.
            var below = 0.0
            for j in 0..<n where j != best {
                if outSample[j] < outSample[best] { below += 1 } else if outSample[j] == outSample[best] { below += 0.5 }
            }
            let omega = (below + 1) / Double(n + 1)
            logits.append(log(omega / (1 - omega)))
            // Next combination of S/2 out of S, in lexicographic order.
            var i = s / 2 - 1
            while i >= 0 && chosen[i] == s - s / 2 + i { i -= 1 }
            if i < 0 { break }
            chosen[i] += 1
            for k in (i + 1)..<(s / 2) { chosen[k] = chosen[k - 1] + 1 }
        }
        let overfit = logits.filter { $0 <= 0 }.count
        return PBO(probability: Double(overfit) / Double(logits.count), splits: logits.count, logits: logits)
    }
}
