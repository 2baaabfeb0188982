/// Batch (vectorised) forms of every indicator, for training and backtests.
///
/// Each runs the streaming indicator's own update over a contiguous array,
/// so batch and streaming results are identical bit for bit (DESIGN rule 3),
/// and each follows TA-Lib's numerics: NaN for the warm-up, values from the
/// same index TA-Lib starts at.
public enum Indicators {
    /// Runs `step` over `input`, writing one output per input.
    @inlinable
    static func run<S>(_ input: [Double], _ state: S, _ step: (inout S, Double) -> Double) -> [Double] {
        var s = state
        return [Double](unsafeUninitializedCapacity: input.count) { out, n in
            input.withUnsafeBufferPointer { x in
                for i in 0..<x.count { out[i] = step(&s, x[i]) }
            }
            n = input.count
        }
    }

    /// Runs `step` over bars given as high/low/close columns.
    @inlinable
    static func runHLC<S>(
        _ high: [Double],
        _ low: [Double],
        _ close: [Double],
        _ state: S,
        _ step: (inout S, Double, Double, Double) -> Double
    ) -> [Double] {
        precondition(high.count == low.count && low.count == close.count, "high, low and close must have equal lengths")
        var s = state
        return [Double](unsafeUninitializedCapacity: close.count) { out, n in
            high.withUnsafeBufferPointer { h in
                low.withUnsafeBufferPointer { l in
                    close.withUnsafeBufferPointer { c in
                        for i in 0..<c.count { out[i] = step(&s, h[i], l[i], c[i]) }
                    }
                }
            }
            n = close.count
        }
    }

    /// Simple moving average.
    public static func sma(_ x: [Double], period: Int) -> [Double] { run(x, SMA(period: period)) { $0.update($1) } }
    /// Exponential moving average (SMA-seeded).
    public static func ema(_ x: [Double], period: Int) -> [Double] { run(x, EMA(period: period)) { $0.update($1) } }
    /// Weighted moving average.
    public static func wma(_ x: [Double], period: Int) -> [Double] { run(x, WMA(period: period)) { $0.update($1) } }
    /// Relative Strength Index (Wilder).
    public static func rsi(_ x: [Double], period: Int = 14) -> [Double] { run(x, RSI(period: period)) { $0.update($1) } }
    /// Momentum x[t] − x[t − n].
    public static func momentum(_ x: [Double], period: Int = 10) -> [Double] { run(x, Momentum(period: period)) { $0.update($1) } }
    /// Rate of change, %.
    public static func rateOfChange(_ x: [Double], period: Int = 10) -> [Double] { run(x, RateOfChange(period: period)) { $0.update($1) } }
    /// Simple returns over `period` bars.
    public static func returns(_ x: [Double], period: Int = 1) -> [Double] { run(x, Returns(period: period)) { $0.update($1) } }
    /// Log returns over `period` bars.
    public static func logReturns(_ x: [Double], period: Int = 1) -> [Double] { run(x, LogReturns(period: period)) { $0.update($1) } }
    /// Rolling population standard deviation × `deviations`.
    public static func stddev(_ x: [Double], period: Int, deviations: Double = 1) -> [Double] {
        run(x, StdDev(period: period, deviations: deviations)) { $0.update($1) }
    }
    /// Rolling z-score.
    public static func zscore(_ x: [Double], period: Int) -> [Double] { run(x, ZScore(period: period)) { $0.update($1) } }
    /// Rolling minimum.
    public static func rollingMin(_ x: [Double], period: Int) -> [Double] { run(x, RollingMin(period: period)) { $0.update($1) } }
    /// Rolling maximum.
    public static func rollingMax(_ x: [Double], period: Int) -> [Double] { run(x, RollingMax(period: period)) { $0.update($1) } }

    /// MACD line, signal and histogram.
    public static func macd(_ x: [Double], fast: Int = 12, slow: Int = 26, signal: Int = 9) -> (macd: [Double], signal: [Double], histogram: [Double])
    {
        var s = MACD(fast: fast, slow: slow, signal: signal)
        var m = [Double](repeating: 0, count: x.count)
        var sig = m
        var h = m
        x.withUnsafeBufferPointer { xs in
            m.withUnsafeMutableBufferPointer { mo in
                sig.withUnsafeMutableBufferPointer { so in
                    h.withUnsafeMutableBufferPointer { ho in
                        for i in 0..<xs.count {
                            let v = s.update(xs[i])
                            mo[i] = v.macd
                            so[i] = v.signal
                            ho[i] = v.histogram
                        }
                    }
                }
            }
        }
        return (m, sig, h)
    }

    /// Bollinger Bands: upper, middle, lower.
    public static func bollinger(
        _ x: [Double],
        period: Int = 20,
        deviationsUp: Double = 2,
        deviationsDown: Double = 2
    ) -> (upper: [Double], middle: [Double], lower: [Double]) {
        var s = BollingerBands(period: period, deviationsUp: deviationsUp, deviationsDown: deviationsDown)
        var u = [Double](repeating: 0, count: x.count)
        var m = u
        var l = u
        x.withUnsafeBufferPointer { xs in
            u.withUnsafeMutableBufferPointer { uo in
                m.withUnsafeMutableBufferPointer { mo in
                    l.withUnsafeMutableBufferPointer { lo in
                        for i in 0..<xs.count {
                            let v = s.update(xs[i])
                            uo[i] = v.upper
                            mo[i] = v.middle
                            lo[i] = v.lower
                        }
                    }
                }
            }
        }
        return (u, m, l)
    }

    /// True range.
    public static func trueRange(high: [Double], low: [Double], close: [Double]) -> [Double] {
        runHLC(high, low, close, TrueRange()) { $0.update(high: $1, low: $2, close: $3) }
    }
    /// Average true range.
    public static func atr(high: [Double], low: [Double], close: [Double], period: Int = 14) -> [Double] {
        runHLC(high, low, close, ATR(period: period)) { $0.update(high: $1, low: $2, close: $3) }
    }
    /// Average directional index.
    public static func adx(high: [Double], low: [Double], close: [Double], period: Int = 14) -> [Double] {
        runHLC(high, low, close, ADX(period: period)) { $0.update(high: $1, low: $2, close: $3) }
    }

    /// Stochastic oscillator slow %K and %D.
    public static func stochastic(
        high: [Double],
        low: [Double],
        close: [Double],
        fastK: Int = 5,
        slowK: Int = 3,
        slowD: Int = 3
    ) -> (k: [Double], d: [Double]) {
        var s = Stochastic(fastK: fastK, slowK: slowK, slowD: slowD)
        var k = [Double](repeating: 0, count: close.count)
        var d = k
        for i in 0..<close.count {
            let v = s.update(high: high[i], low: low[i], close: close[i])
            k[i] = v.k
            d[i] = v.d
        }
        return (k, d)
    }

    /// On-balance volume.
    public static func obv(close: [Double], volume: [Double]) -> [Double] {
        var s = OBV()
        return zip(close, volume).map { s.update(close: $0, volume: $1) }
    }

    /// Rolling VWAP over `period` bars.
    public static func vwap(high: [Double], low: [Double], close: [Double], volume: [Double], period: Int = 20) -> [Double] {
        var s = VWAP(period: period)
        return (0..<close.count).map { s.update(high: high[$0], low: low[$0], close: close[$0], volume: volume[$0]) }
    }
}
