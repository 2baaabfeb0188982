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

    /// Runs `step` over `xs`, writing into `out`.
    @inlinable
    static func run<S>(_ xs: UnsafeBufferPointer<Double>, into out: UnsafeMutablePointer<Double>, _ state: S, _ step: (inout S, Double) -> Double) {
        var s = state
        for i in 0..<xs.count { out[i] = step(&s, xs[i]) }
    }

    /// Runs `step` over high/low/close columns, writing into `out`.
    @inlinable
    static func runHLC<S>(
        _ h: UnsafePointer<Double>,
        _ l: UnsafePointer<Double>,
        _ c: UnsafePointer<Double>,
        count: Int,
        into out: UnsafeMutablePointer<Double>,
        _ state: S,
        _ step: (inout S, Double, Double, Double) -> Double
    ) {
        var s = state
        for i in 0..<count { out[i] = step(&s, h[i], l[i], c[i]) }
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

    /// Allocates an output array and fills it through a pointer. Large
    /// outputs are backed by transparent huge pages where the kernel offers
    /// them (as numpy does), so first-touch page faults do not dominate.
    @inlinable
    static func output(_ count: Int, _ fill: (UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        [Double](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 {
                LargeMemory.adviseHugePages(UnsafeMutableRawPointer(buf.baseAddress!), bytes: count * MemoryLayout<Double>.stride)
                fill(buf.baseAddress!)
            }
            n = count
        }
    }

    // The kernels below perform exactly the operations of the streaming
    // structs (same expressions, same order), over contiguous memory.

    /// Simple moving average.
    public static func sma(_ x: [Double], period: Int) -> [Double] {
        x.withUnsafeBufferPointer { xs in output(xs.count) { out in sma(xs, period: period, into: out) } }
    }

    /// `sma` written into a caller-provided buffer of `xs.count` values.
    public static func sma(_ xs: UnsafeBufferPointer<Double>, period: Int, into out: UnsafeMutablePointer<Double>) {
        let n = max(1, period)
        let inverse = SMA(period: n).inverse
        var sum = 0.0
        for i in 0..<min(n - 1, xs.count) {
            sum += xs[i]
            out[i] = .nan
        }
        if xs.count >= n {
            for i in (n - 1)..<xs.count {
                sum += xs[i]
                out[i] = sum * inverse
                sum -= xs[i - n + 1]
            }
        }
    }

    /// Exponential moving average (SMA-seeded).
    public static func ema(_ x: [Double], period: Int) -> [Double] {
        x.withUnsafeBufferPointer { xs in output(xs.count) { out in ema(xs, period: period, into: out) } }
    }

    /// `ema` written into a caller-provided buffer of `xs.count` values.
    public static func ema(_ xs: UnsafeBufferPointer<Double>, period: Int, into out: UnsafeMutablePointer<Double>) {
        let proto = EMA(period: period)
        let n = proto.period
        let k = proto.k
        let k1 = proto.oneMinusK
        var v = 0.0
        for i in 0..<min(n - 1, xs.count) {
            v += xs[i]
            out[i] = .nan
        }
        guard xs.count >= n else { return }
        v = (v + xs[n - 1]) / Double(n)
        out[n - 1] = v
        for i in n..<xs.count {
            v = xs[i] * k + v * k1
            out[i] = v
        }
    }

    /// Weighted moving average.
    public static func wma(_ x: [Double], period: Int) -> [Double] { run(x, WMA(period: period)) { $0.update($1) } }

    /// Relative Strength Index (Wilder).
    public static func rsi(_ x: [Double], period: Int = 14) -> [Double] {
        x.withUnsafeBufferPointer { xs in output(xs.count) { out in rsi(xs, period: period, into: out) } }
    }

    /// `rsi` written into a caller-provided buffer of `xs.count` values.
    public static func rsi(_ xs: UnsafeBufferPointer<Double>, period: Int = 14, into out: UnsafeMutablePointer<Double>) {
        let proto = RSI(period: period)
        let n = proto.period
        let decay = proto.decay
        let inverse = proto.inverse
        let warm = min(n, xs.count)
        for i in 0..<warm { out[i] = .nan }
        guard xs.count > n else { return }
        var gain = 0.0
        var loss = 0.0
        var prev = xs[0]
        for i in 1...n {
            let d = xs[i] - prev
            prev = xs[i]
            if d < 0 { loss -= d } else { gain += d }
        }
        loss /= Double(n)
        gain /= Double(n)
        out[n] = RSI.value(gain: gain, loss: loss)
        for i in (n + 1)..<xs.count {
            let d = xs[i] - prev
            prev = xs[i]
            gain = RSI.smooth(gain, d > 0 ? d : 0, decay, inverse)
            loss = RSI.smooth(loss, d < 0 ? -d : 0, decay, inverse)
            out[i] = RSI.value(gain: gain, loss: loss)
        }
    }

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
        let n = max(1, period)
        return movingVariance(x, period: n) { v in
            if v.isNaN { return v }
            if taIsZeroOrNeg(v) { return 0 }
            return deviations != 1.0 ? v.squareRoot() * deviations : v.squareRoot()
        }
    }

    /// `stddev` written into a caller-provided buffer.
    public static func stddev(_ xs: UnsafeBufferPointer<Double>, period: Int, deviations: Double = 1, into out: UnsafeMutablePointer<Double>) {
        movingVariance(xs, period: max(1, period), into: out) { v in
            if v.isNaN { return v }
            if taIsZeroOrNeg(v) { return 0 }
            return deviations != 1.0 ? v.squareRoot() * deviations : v.squareRoot()
        }
    }

    /// Rolling z-score written into a caller-provided buffer (the `ZScore` struct's arithmetic).
    public static func zscore(_ xs: UnsafeBufferPointer<Double>, period: Int, into out: UnsafeMutablePointer<Double>) {
        let n = max(2, period)
        let inverse = 1.0 / Double(n)
        guard let p = xs.baseAddress else { return }
        var sum = 0.0
        var mean = 0.0
        var m2 = 0.0
        var untilAnchor = n
        for i in 0..<xs.count {
            let x = xs[i]
            sum += x
            if i < n {
                RollingMoments.add(&mean, &m2, x, i + 1)
            } else {
                untilAnchor -= 1
                if untilAnchor == 0 {
                    RollingMoments.reanchor(p + (i - n + 1), n, inverse, &mean, &m2)
                    untilAnchor = n
                } else {
                    RollingMoments.replace(&mean, &m2, x, xs[i - n], inverse)
                }
            }
            guard i >= n - 1 else {
                out[i] = .nan
                continue
            }
            let m = sum * inverse
            sum -= xs[i - n + 1]
            let v = m2 * inverse
            let sd = taIsZeroOrNeg(v) ? 0 : v.squareRoot()
            out[i] = sd != 0 ? (x - m) / sd : 0
        }
    }

    /// Stochastic slow %K and %D written into caller-provided buffers (the
    /// `Stochastic` struct's arithmetic; rolling extremes by monotonic index deques).
    public static func stochastic(
        high h: UnsafePointer<Double>,
        low l: UnsafePointer<Double>,
        close c: UnsafePointer<Double>,
        count: Int,
        fastK: Int = 5,
        slowK: Int = 3,
        slowD: Int = 3,
        k kOut: UnsafeMutablePointer<Double>,
        d dOut: UnsafeMutablePointer<Double>
    ) {
        let proto = Stochastic(fastK: fastK, slowK: slowK, slowD: slowD)
        let fk = proto.fastK
        let kInverse = proto.kSMA.inverse
        let dInverse = proto.dSMA.inverse
        let sk = proto.slowK
        let sd = proto.slowD
        // Rolling extremes as TA-Lib tracks them: keep the extreme and its
        // index, rescan the window only when that index leaves it. Rings of
        // the last sk fast %K / sd slow %K values feed the two SMAs.
        var rings = [Double](repeating: 0, count: sk + sd)
        rings.withUnsafeMutableBufferPointer { r in
            let fRing = r.baseAddress!
            let sRing = r.baseAddress! + sk
            var highest = -Double.infinity
            var lowest = Double.infinity
            var highestIdx = -1
            var lowestIdx = -1
            var fPos = 0
            var sPos = 0
            var kCount = 0
            var dCount = 0
            var kSum = 0.0
            var dSum = 0.0
            for i in 0..<count {
                let trailing = i - fk + 1
                if highestIdx < trailing {
                    highestIdx = max(0, trailing)
                    highest = h[highestIdx]
                    var j = highestIdx + 1
                    while j <= i {
                        if h[j] >= highest {
                            highest = h[j]
                            highestIdx = j
                        }
                        j += 1
                    }
                } else if h[i] >= highest {
                    highest = h[i]
                    highestIdx = i
                }
                if lowestIdx < trailing {
                    lowestIdx = max(0, trailing)
                    lowest = l[lowestIdx]
                    var j = lowestIdx + 1
                    while j <= i {
                        if l[j] <= lowest {
                            lowest = l[j]
                            lowestIdx = j
                        }
                        j += 1
                    }
                } else if l[i] <= lowest {
                    lowest = l[i]
                    lowestIdx = i
                }
                kOut[i] = .nan
                dOut[i] = .nan
                guard i >= fk - 1 else { continue }
                let diff = (highest - lowest) / 100.0
                let fv = diff != 0 ? (c[i] - lowest) / diff : 0
                // SMA(sk) of fast %K, as SMA.update: add, emit sum·(1/n), subtract the oldest.
                kSum += fv
                fRing[fPos] = fv
                fPos = fPos + 1 == sk ? 0 : fPos + 1
                kCount += 1
                guard kCount >= sk else { continue }
                let kv = kSum * kInverse
                kSum -= fRing[fPos]
                dSum += kv
                sRing[sPos] = kv
                sPos = sPos + 1 == sd ? 0 : sPos + 1
                dCount += 1
                guard dCount >= sd else { continue }
                let dv = dSum * dInverse
                dSum -= sRing[sPos]
                kOut[i] = kv
                dOut[i] = dv
            }
        }
    }

    /// The rolling population variance kernel (`RollingMoments`), mapped through `transform`.
    @inlinable
    static func movingVariance(_ x: [Double], period n: Int, _ transform: (Double) -> Double) -> [Double] {
        x.withUnsafeBufferPointer { xs in output(xs.count) { out in movingVariance(xs, period: n, into: out, transform) } }
    }

    /// The rolling population variance kernel into a buffer.
    @inlinable
    static func movingVariance(
        _ xs: UnsafeBufferPointer<Double>,
        period n: Int,
        into out: UnsafeMutablePointer<Double>,
        _ transform: (Double) -> Double
    ) {
        let inverse = 1.0 / Double(n)
        guard let p = xs.baseAddress else { return }
        var mean = 0.0
        var m2 = 0.0
        var untilAnchor = n
        for i in 0..<xs.count {
            let seen = i + 1
            if i < n {
                RollingMoments.add(&mean, &m2, xs[i], seen)
            } else {
                untilAnchor -= 1
                if untilAnchor == 0 {
                    RollingMoments.reanchor(p + (i - n + 1), n, inverse, &mean, &m2)
                    untilAnchor = n
                } else {
                    RollingMoments.replace(&mean, &m2, xs[i], xs[i - n], inverse)
                }
            }
            out[i] = transform(seen >= n ? m2 * inverse : .nan)
        }
    }

    /// Rolling z-score.
    public static func zscore(_ x: [Double], period: Int) -> [Double] {
        x.withUnsafeBufferPointer { xs in output(xs.count) { out in zscore(xs, period: period, into: out) } }
    }
    /// Rolling minimum.
    public static func rollingMin(_ x: [Double], period: Int) -> [Double] { run(x, RollingMin(period: period)) { $0.update($1) } }
    /// Rolling maximum.
    public static func rollingMax(_ x: [Double], period: Int) -> [Double] { run(x, RollingMax(period: period)) { $0.update($1) } }

    /// MACD line, signal and histogram.
    public static func macd(_ x: [Double], fast: Int = 12, slow: Int = 26, signal: Int = 9) -> (macd: [Double], signal: [Double], histogram: [Double])
    {
        threeOutputs(x) { xs, a, b, c in macd(xs, fast: fast, slow: slow, signal: signal, macd: a, signalLine: b, histogram: c) }
    }

    /// MACD written into caller-provided buffers of `x.count` values each.
    public static func macd(
        _ xs: UnsafeBufferPointer<Double>,
        fast: Int = 12,
        slow: Int = 26,
        signal: Int = 9,
        macd mo: UnsafeMutablePointer<Double>,
        signalLine so: UnsafeMutablePointer<Double>,
        histogram ho: UnsafeMutablePointer<Double>
    ) {
        let p = MACD(fast: fast, slow: slow, signal: signal)
        let f = p.fast
        let s = p.slow
        let g = p.signalPeriod
        let (kf, kf1, ks, ks1, kg, kg1) = (p.kFast, p.kFast1, p.kSlow, p.kSlow1, p.kSignal, p.kSignal1)
        let count = xs.count
        for i in 0..<min(count, p.lookback) {
            mo[i] = .nan
            so[i] = .nan
            ho[i] = .nan
        }
        guard count >= s else { return }
        var slowSum = 0.0
        for i in 0..<s { slowSum += xs[i] }
        var slowEMA = slowSum / Double(s)
        var fastSum = 0.0
        for i in (s - f)..<s { fastSum += xs[i] }
        var fastEMA = fastSum / Double(f)
        // Seed the signal EMA over the first g MACD values.
        var sig = 0.0
        let firstOut = s - 1 + g - 1
        for i in (s - 1)..<min(count, firstOut + 1) {
            if i >= s {
                fastEMA = xs[i] * kf + fastEMA * kf1
                slowEMA = xs[i] * ks + slowEMA * ks1
            }
            let m = fastEMA - slowEMA
            if i < firstOut {
                sig += m
            } else {
                sig = (sig + m) / Double(g)
                mo[i] = m
                so[i] = sig
                ho[i] = m - sig
            }
        }
        guard count > firstOut + 1 else { return }
        for i in (firstOut + 1)..<count {
            fastEMA = xs[i] * kf + fastEMA * kf1
            slowEMA = xs[i] * ks + slowEMA * ks1
            let m = fastEMA - slowEMA
            sig = m * kg + sig * kg1
            mo[i] = m
            so[i] = sig
            ho[i] = m - sig
        }
    }

    /// Bollinger Bands: upper, middle, lower.
    public static func bollinger(
        _ x: [Double],
        period: Int = 20,
        deviationsUp: Double = 2,
        deviationsDown: Double = 2
    ) -> (upper: [Double], middle: [Double], lower: [Double]) {
        threeOutputs(x) { xs, a, b, c in
            bollinger(xs, period: period, deviationsUp: deviationsUp, deviationsDown: deviationsDown, upper: a, middle: b, lower: c)
        }
    }

    /// Runs a three-output kernel into three new arrays of `x.count` values.
    static func threeOutputs(
        _ x: [Double],
        _ kernel: (UnsafeBufferPointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void
    ) -> ([Double], [Double], [Double]) {
        let count = x.count
        var second: [Double] = []
        var third: [Double] = []
        let first = x.withUnsafeBufferPointer { xs in
            output(count) { a in
                second = output(count) { b in
                    third = output(count) { c in kernel(xs, a, b, c) }
                }
            }
        }
        return (first, second, third)
    }

    /// Bollinger Bands written into caller-provided buffers of `x.count` values each.
    public static func bollinger(
        _ xs: UnsafeBufferPointer<Double>,
        period: Int = 20,
        deviationsUp: Double = 2,
        deviationsDown: Double = 2,
        upper uo: UnsafeMutablePointer<Double>,
        middle mo: UnsafeMutablePointer<Double>,
        lower lo: UnsafeMutablePointer<Double>
    ) {
        let n = max(1, period)
        let inverse = 1.0 / Double(n)
        guard let p = xs.baseAddress else { return }
        let count = xs.count
        var sum = 0.0
        var mean = 0.0
        var m2 = 0.0
        for i in 0..<min(n, count) {
            sum += xs[i]
            RollingMoments.add(&mean, &m2, xs[i], i + 1)
            if i < n - 1 {
                uo[i] = .nan
                mo[i] = .nan
                lo[i] = .nan
            }
        }
        guard count >= n else { return }
        func emit(_ i: Int) {
            let middle = sum * inverse
            sum -= xs[i - n + 1]
            let b = BollingerBands.bands(middle: middle, variance: m2 * inverse, up: deviationsUp, down: deviationsDown)
            uo[i] = b.upper
            mo[i] = b.middle
            lo[i] = b.lower
        }
        emit(n - 1)
        var untilAnchor = n
        for i in n..<count {
            sum += xs[i]
            untilAnchor -= 1
            if untilAnchor == 0 {
                RollingMoments.reanchor(p + (i - n + 1), n, inverse, &mean, &m2)
                untilAnchor = n
            } else {
                RollingMoments.replace(&mean, &m2, xs[i], xs[i - n], inverse)
            }
            emit(i)
        }
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
