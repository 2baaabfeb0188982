#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rolling mean and sum of squared deviations of the last `period` values,
/// updated in O(1) with Welford's add/replace recurrences.
///
/// E[x²] − E[x]² from running sums loses about 1e-8 relative on FX prices
/// (the two terms nearly cancel); these recurrences keep the error at the
/// scale of the variance itself, and an exact two-pass re-anchoring every
/// `period` updates stops drift, matching TA-Lib 0.8's STDDEV/VAR to ~1e-12.
@usableFromInline
struct RollingMoments: Sendable, Hashable {
    @usableFromInline let period: Int
    @usableFromInline let inverse: Double
    @usableFromInline var ring: RingBuffer
    @usableFromInline var mean = 0.0
    @usableFromInline var m2 = 0.0
    @usableFromInline var seen = 0
    @usableFromInline var untilAnchor: Int  // replace steps left before the next exact re-anchoring

    @usableFromInline
    init(period: Int) {
        self.period = period
        inverse = 1.0 / Double(period)
        ring = RingBuffer(capacity: period)
        untilAnchor = period
    }

    /// Welford's replace step: `old` leaves the window, `x` enters.
    @inlinable @inline(__always)
    static func replace(_ mean: inout Double, _ m2: inout Double, _ x: Double, _ old: Double, _ inverse: Double) {
        let oldMean = mean
        mean += (x - old) * inverse
        m2 += (x - old) * (x - mean + old - oldMean)
    }

    /// Welford's add step for the growing window (`count` values including `x`).
    @inlinable @inline(__always)
    static func add(_ mean: inout Double, _ m2: inout Double, _ x: Double, _ count: Int) {
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    /// Adds `x`; returns the population variance of the window, or NaN during warm-up.
    @inlinable
    mutating func push(_ x: Double) -> Double {
        let full = ring.isFull
        let old = ring.push(x)
        seen += 1
        if !full {
            Self.add(&mean, &m2, x, seen)
        } else {
            untilAnchor -= 1
            if untilAnchor == 0 {
                reanchor()
                untilAnchor = period
            } else {
                Self.replace(&mean, &m2, x, old, inverse)
            }
        }
        guard seen >= period else { return .nan }
        return m2 * inverse
    }

    /// Adds every value of `xs` in order: exactly the state `push` leaves after each of them
    /// (the same steps in the same order), with the window's statistics in registers and the
    /// ring written through one pointer for the whole run.
    @inlinable
    mutating func push(contentsOf xs: UnsafeBufferPointer<Double>) {
        var mean = self.mean
        var m2 = self.m2
        var seen = self.seen
        var until = untilAnchor
        var head = ring.head
        var count = ring.count
        let inverse = self.inverse
        let period = self.period
        ring.storage.withUnsafeMutableBufferPointer { st in
            let cap = st.count
            var from = 0
            // A full window re-anchors every `period` values, and a re-anchoring recomputes the
            // mean and M2 from the ring alone: the values up to this run's last one only need to
            // reach the ring (the same state, without their Welford steps).
            if count == cap, xs.count >= until {
                let last = until - 1 + (xs.count - until) / period * period
                let skip = max(0, last + 1 - cap)
                head = (head + skip) % cap
                for i in skip...last {
                    st[head] = xs[i]
                    head += 1
                    if head == cap { head = 0 }
                }
                seen += last + 1
                Self.reanchor(UnsafeBufferPointer(st), head: head, count: count, inverse, &mean, &m2)
                until = period
                from = last + 1
            }
            for x in xs[from...] {
                let full = count == cap
                let old = st[head]
                st[head] = x
                head += 1
                if head == cap { head = 0 }
                if count < cap { count += 1 }
                seen += 1
                if !full {
                    Self.add(&mean, &m2, x, seen)
                } else {
                    until -= 1
                    if until == 0 {
                        Self.reanchor(UnsafeBufferPointer(st), head: head, count: count, inverse, &mean, &m2)
                        until = period
                    } else {
                        Self.replace(&mean, &m2, x, old, inverse)
                    }
                }
            }
        }
        self.mean = mean
        self.m2 = m2
        self.seen = seen
        untilAnchor = until
        ring.head = head
        ring.count = count
    }

    /// Recomputes mean and M2 exactly (two passes over the window), so
    /// rounding drift never outlives `period` updates: O(n) once per n updates.
    @inlinable
    mutating func reanchor() {
        let (head, count) = (ring.head, ring.count)
        var mean = 0.0
        var m2 = 0.0
        ring.storage.withUnsafeBufferPointer { Self.reanchor($0, head: head, count: count, inverse, &mean, &m2) }
        self.mean = mean
        self.m2 = m2
    }

    /// The re-anchoring over a ring's storage, oldest value first.
    @inlinable @inline(__always)
    static func reanchor(
        _ st: UnsafeBufferPointer<Double>,
        head: Int,
        count n: Int,
        _ inverse: Double,
        _ mean: inout Double,
        _ m2: inout Double
    ) {
        let cap = st.count
        var i = head - n
        if i < 0 { i += cap }
        let first = i
        var s = 0.0
        for _ in 0..<n {
            s += st[i]
            i += 1
            if i == cap { i = 0 }
        }
        let m = s * inverse
        var q = 0.0
        i = first
        for _ in 0..<n {
            let d = st[i] - m
            q += d * d
            i += 1
            if i == cap { i = 0 }
        }
        mean = m
        m2 = q
    }

    /// The same re-anchoring over a contiguous window (the batch kernel's view).
    @inlinable @inline(__always)
    static func reanchor(_ window: UnsafePointer<Double>, _ n: Int, _ inverse: Double, _ mean: inout Double, _ m2: inout Double) {
        var s = 0.0
        for j in 0..<n { s += window[j] }
        let m = s * inverse
        var q = 0.0
        for j in 0..<n {
            let d = window[j] - m
            q += d * d
        }
        mean = m
        m2 = q
    }
}

/// Rolling population standard deviation × `deviations` (TA-Lib's STDDEV:
/// 0 when the variance is ≤ 1e-14). First value at index n − 1.
public struct StdDev: Sendable, Hashable {
    /// Window length.
    public let period: Int
    /// Multiplier of σ.
    public let deviations: Double
    @usableFromInline var moments: RollingMoments

    /// Creates a rolling standard deviation; `period` is clamped to at least 1.
    public init(period: Int, deviations: Double = 1) {
        self.period = max(1, period)
        self.deviations = deviations
        moments = RollingMoments(period: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value; returns the population variance or NaN during warm-up.
    @inlinable
    public mutating func variance(_ x: Double) -> Double { moments.push(x) }

    /// Adds a value; returns σ × deviations or NaN during warm-up.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        let v = moments.push(x)
        if v.isNaN { return v }
        if taIsZeroOrNeg(v) { return 0 }
        return deviations != 1.0 ? sqrt(v) * deviations : sqrt(v)
    }

    /// Adds a value without computing σ: the state change of `update`.
    @inlinable
    public mutating func advance(_ x: Double) { _ = moments.push(x) }

    /// Adds every value of `xs` in order without computing σ: the state change of `update`
    /// on each.
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) { moments.push(contentsOf: xs) }

    /// σ with the sample (n − 1) denominator from a population σ (pandas' default).
    public static func sampleFromPopulation(_ sigma: Double, period: Int) -> Double {
        period > 1 ? sigma * (Double(period) / Double(period - 1)).squareRoot() : .nan
    }
}

/// The rolling standard deviation (population, as `StdDev`) of 1-bar log
/// returns over `period` returns: a volatility free of the price level, so
/// symbols trading at $20 and $2,000 compare. The first value comes at bar
/// `period` (it needs `period + 1` prices); a non-positive price gives NaN.
public struct ReturnVolatility: Sendable, Hashable {
    /// Returns in the window.
    public let period: Int
    @usableFromInline var previous = Double.nan
    @usableFromInline var sd: StdDev

    /// Creates the indicator; `period` is clamped to at least 2.
    public init(period: Int) {
        self.period = max(2, period)
        sd = StdDev(period: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period }

    /// Adds a price; returns the volatility or NaN during warm-up.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        defer { previous = x }
        guard previous.isFinite else { return .nan }
        guard previous > 0, x > 0 else { return .nan }
        return sd.update(log(x / previous))
    }

    /// Adds a price without computing the volatility: the state change of `update`.
    @inlinable
    public mutating func advance(_ x: Double) {
        defer { previous = x }
        guard previous.isFinite, previous > 0, x > 0 else { return }
        sd.advance(log(x / previous))
    }

    /// Adds every price of `xs` in order without computing the volatility: the state change
    /// of `update` on each (the log returns first, then σ's window over all of them).
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, xs.count)) { r in
            var k = 0
            var previous = self.previous
            for x in xs {
                if previous.isFinite, previous > 0, x > 0 {
                    r[k] = log(x / previous)
                    k += 1
                }
                previous = x
            }
            self.previous = previous
            sd.advance(contentsOf: UnsafeBufferPointer(rebasing: r[0..<k]))
        }
    }
}

/// One Bollinger Bands observation.
public struct BollingerValue: Sendable, Hashable {
    /// middle + up·σ.
    public var upper: Double
    /// SMA.
    public var middle: Double
    /// middle − down·σ.
    public var lower: Double
    /// Creates a value.
    @inlinable public init(upper: Double, middle: Double, lower: Double) {
        self.upper = upper
        self.middle = middle
        self.lower = lower
    }

    /// All NaN.
    public static let nan = BollingerValue(upper: .nan, middle: .nan, lower: .nan)
}

/// Bollinger Bands on an SMA with population σ (TA-Lib's BBANDS with
/// MA type SMA). First value at index n − 1.
public struct BollingerBands: Sendable, Hashable {
    /// Window length.
    public let period: Int
    /// σ multiplier of the upper band.
    public let deviationsUp: Double
    /// σ multiplier of the lower band.
    public let deviationsDown: Double
    @usableFromInline var sma: SMA
    @usableFromInline var moments: RollingMoments

    /// Creates Bollinger Bands (TA-Lib defaults 5, 2, 2; the common choice is 20, 2, 2).
    public init(period: Int = 20, deviationsUp: Double = 2, deviationsDown: Double = 2) {
        self.period = max(1, period)
        self.deviationsUp = deviationsUp
        self.deviationsDown = deviationsDown
        sma = SMA(period: self.period)
        moments = RollingMoments(period: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value.
    @inlinable
    public mutating func update(_ x: Double) -> BollingerValue {
        let middle = sma.update(x)
        let v = moments.push(x)
        guard !middle.isNaN else { return .nan }
        return Self.bands(middle: middle, variance: v, up: deviationsUp, down: deviationsDown)
    }

    /// The bands from the middle and the population variance (shared with the batch kernel).
    @inlinable @inline(__always)
    static func bands(middle: Double, variance v: Double, up: Double, down: Double) -> BollingerValue {
        let sigma = taIsZeroOrNeg(v) ? 0 : sqrt(v)
        if up == down {
            if up == 1.0 { return BollingerValue(upper: middle + sigma, middle: middle, lower: middle - sigma) }
            let w = sigma * up
            return BollingerValue(upper: middle + w, middle: middle, lower: middle - w)
        }
        return BollingerValue(upper: middle + sigma * up, middle: middle, lower: middle - sigma * down)
    }
}

/// Rolling z-score: (x − SMA) / population σ over the same window; 0 when σ is 0.
public struct ZScore: Sendable, Hashable {
    /// Window length.
    public let period: Int
    @usableFromInline var mean: SMA
    @usableFromInline var sigma: StdDev

    /// Creates a z-score; `period` is clamped to at least 2.
    public init(period: Int) {
        self.period = max(2, period)
        mean = SMA(period: self.period)
        sigma = StdDev(period: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        let m = mean.update(x)
        let s = sigma.update(x)
        if m.isNaN { return .nan }
        return s != 0 ? (x - m) / s : 0
    }

    /// Adds a value without computing the z-score: the state change of `update`.
    @inlinable
    public mutating func advance(_ x: Double) {
        _ = mean.update(x)
        sigma.advance(x)
    }

    /// Adds every value of `xs` in order without computing the z-score: the state change of
    /// `update` on each (the mean and σ are independent states).
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) {
        mean.advance(contentsOf: xs)
        sigma.advance(contentsOf: xs)
    }
}

/// True range: max(high − low, |high − previous close|, |low − previous close|).
/// First value at index 1 (TA-Lib never uses TR[0]).
public struct TrueRange: Sendable, Hashable {
    @usableFromInline var prevClose = Double.nan

    /// Creates a true-range indicator.
    public init() {}

    /// Index of the first value.
    public var lookback: Int { 1 }

    /// Adds a bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double) -> Double {
        let yc = prevClose
        prevClose = close
        if yc.isNaN { return .nan }
        var greatest = high - low
        let v2 = abs(yc - high)
        if v2 > greatest { greatest = v2 }
        let v3 = abs(yc - low)
        if v3 > greatest { greatest = v3 }
        return greatest
    }
}

/// Average true range with Wilder smoothing: seeded at index n with the mean
/// of TR[1...n], then (ATR·(n − 1) + TR) / n.
public struct ATR: Sendable, Hashable {
    /// Period n.
    public let period: Int
    @usableFromInline let decay: Double
    @usableFromInline let inverse: Double
    @usableFromInline var tr = TrueRange()
    @usableFromInline var value = 0.0
    @usableFromInline var count = 0

    /// Creates an ATR; `period` is clamped to at least 1.
    public init(period: Int) {
        self.period = max(1, period)
        decay = Double(self.period - 1) / Double(self.period)
        inverse = 1.0 / Double(self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period }

    /// Adds a bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double) -> Double {
        let t = tr.update(high: high, low: low, close: close)
        if t.isNaN { return .nan }
        count += 1
        if count < period {
            value += t
            return .nan
        }
        if count == period {
            value = (value + t) / Double(period)
            return value
        }
        value = RSI.smooth(value, t, decay, inverse)  // Wilder: (ATR·(n − 1) + TR) / n
        return value
    }
}

/// Rolling minimum over `period` values (exact). First value at index n − 1.
public struct RollingMin: Sendable, Hashable {
    /// Window length.
    public let period: Int
    @usableFromInline var window: MonotonicWindow

    /// Creates a rolling minimum; `period` is clamped to at least 1.
    public init(period: Int) {
        self.period = max(1, period)
        window = MonotonicWindow(period: self.period, isMax: false)
    }

    /// Adds a value without reading the extreme: the state change of `update`.
    @inlinable
    public mutating func advance(_ x: Double) { _ = window.push(x) }

    /// `advance` on every value of `xs` in order.
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) { window.push(contentsOf: xs) }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        let v = window.push(x)
        return window.seen >= period ? v : .nan
    }
}

/// Rolling maximum over `period` values (exact). First value at index n − 1.
public struct RollingMax: Sendable, Hashable {
    /// Window length.
    public let period: Int
    @usableFromInline var window: MonotonicWindow

    /// Creates a rolling maximum; `period` is clamped to at least 1.
    public init(period: Int) {
        self.period = max(1, period)
        window = MonotonicWindow(period: self.period, isMax: true)
    }

    /// Adds a value without reading the extreme: the state change of `update`.
    @inlinable
    public mutating func advance(_ x: Double) { _ = window.push(x) }

    /// `advance` on every value of `xs` in order.
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) { window.push(contentsOf: xs) }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        let v = window.push(x)
        return window.seen >= period ? v : .nan
    }
}
