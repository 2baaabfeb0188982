#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Relative Strength Index with Wilder smoothing (TA-Lib): seeded at index
/// n with the mean gain and loss of the first n changes; 0 when both are 0.
public struct RSI: Sendable, Hashable {
    /// Period n.
    public let period: Int
    @usableFromInline let decay: Double
    @usableFromInline let inverse: Double
    @usableFromInline var prevValue = 0.0
    @usableFromInline var gain = 0.0
    @usableFromInline var loss = 0.0
    @usableFromInline var seen = 0

    /// Creates an RSI; `period` is clamped to at least 2.
    public init(period: Int) {
        self.period = max(2, period)
        decay = Double(self.period - 1) / Double(self.period)
        inverse = 1.0 / Double(self.period)
    }

    /// Wilder's smoothing step avg·(n − 1)/n + x/n, written so the loop-carried
    /// chain is one multiply and one add (shared by the batch kernel).
    @inlinable @inline(__always)
    static func smooth(_ average: Double, _ x: Double, _ decay: Double, _ inverse: Double) -> Double {
        average * decay + x * inverse
    }

    /// RSI from smoothed gain and loss (0 when both are 0).
    @inlinable @inline(__always)
    static func value(gain: Double, loss: Double) -> Double {
        let total = gain + loss
        return taIsZero(total) ? 0 : 100 * (gain / total)
    }

    /// Index of the first value.
    public var lookback: Int { period }

    /// Adds a close; returns RSI in [0, 100] or NaN during warm-up.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        advance(x)
        // Defined from the bar that seeds the averages (the period's first n changes) on.
        return seen > period ? Self.value(gain: gain, loss: loss) : .nan
    }

    /// Adds a price without computing the RSI: `update`'s state change (the averages), without
    /// its division.
    @inlinable
    public mutating func advance(_ x: Double) {
        seen += 1
        if seen == 1 {
            prevValue = x
            return
        }
        let d = x - prevValue
        prevValue = x
        if seen <= period + 1 {
            if d < 0 { loss -= d } else { gain += d }
            guard seen == period + 1 else { return }
            loss /= Double(period)
            gain /= Double(period)
        } else {
            gain = Self.smooth(gain, d > 0 ? d : 0, decay, inverse)
            loss = Self.smooth(loss, d < 0 ? -d : 0, decay, inverse)
        }
    }

    /// `advance` on every price of `xs` in order.
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) {
        for x in xs { advance(x) }
    }
}

/// One MACD observation.
public struct MACDValue: Sendable, Hashable {
    /// Fast EMA − slow EMA.
    public var macd: Double
    /// EMA of the MACD line.
    public var signal: Double
    /// macd − signal.
    public var histogram: Double
    /// Creates a value.
    @inlinable public init(macd: Double, signal: Double, histogram: Double) {
        self.macd = macd
        self.signal = signal
        self.histogram = histogram
    }

    /// All NaN (warm-up).
    public static let nan = MACDValue(macd: .nan, signal: .nan, histogram: .nan)
}

/// MACD as TA-Lib computes it: both EMAs start at index slow − 1, the fast
/// one seeded there with the SMA of the last `fast` closes (not carried from
/// index fast − 1); the signal EMA is seeded with the SMA of the first
/// `signal` MACD values. All three outputs start at slow + signal − 2.
public struct MACD: Sendable, Hashable {
    /// Fast period.
    public let fast: Int
    /// Slow period.
    public let slow: Int
    /// Signal period.
    public let signalPeriod: Int
    @usableFromInline let kFast: Double
    @usableFromInline let kSlow: Double
    @usableFromInline let kSignal: Double
    @usableFromInline let kFast1: Double
    @usableFromInline let kSlow1: Double
    @usableFromInline let kSignal1: Double
    @usableFromInline var ring: RingBuffer
    @usableFromInline var slowSum = 0.0
    @usableFromInline var fastEMA = 0.0
    @usableFromInline var slowEMA = 0.0
    @usableFromInline var signalEMA = 0.0
    @usableFromInline var seen = 0

    /// Creates a MACD; swaps fast and slow if given in the wrong order (as TA-Lib does).
    public init(fast: Int = 12, slow: Int = 26, signal: Int = 9) {
        let f = max(2, min(fast, slow))
        let s = max(2, max(fast, slow))
        self.fast = f
        self.slow = s
        signalPeriod = max(1, signal)
        kFast = 2.0 / Double(f + 1)
        kSlow = 2.0 / Double(s + 1)
        kSignal = 2.0 / Double(signalPeriod + 1)
        kFast1 = 1.0 - kFast
        kSlow1 = 1.0 - kSlow
        kSignal1 = 1.0 - kSignal
        ring = RingBuffer(capacity: f)
    }

    /// Index of the first value.
    public var lookback: Int { slow - 1 + signalPeriod - 1 }

    /// Adds a close.
    @inlinable
    public mutating func update(_ x: Double) -> MACDValue {
        seen += 1
        if seen <= slow {
            slowSum += x
            _ = ring.push(x)
            guard seen == slow else { return .nan }
            slowEMA = slowSum / Double(slow)
            fastEMA = ring.sumOldestFirst() / Double(fast)
        } else {
            fastEMA = x * kFast + fastEMA * kFast1
            slowEMA = x * kSlow + slowEMA * kSlow1
        }
        let m = fastEMA - slowEMA
        let k = seen - slow  // 0 at the first MACD value
        if k < signalPeriod - 1 {
            signalEMA += m
            return .nan
        }
        if k == signalPeriod - 1 {
            signalEMA = (signalEMA + m) / Double(signalPeriod)
        } else {
            signalEMA = m * kSignal + signalEMA * kSignal1
        }
        return MACDValue(macd: m, signal: signalEMA, histogram: m - signalEMA)
    }
}

/// How a lagged indicator combines the current value with the one `period` bars earlier.
public protocol LagFormula: Sendable, Hashable {
    /// The indicator's value from the current and the lagged input.
    static func apply(current: Double, old: Double) -> Double
}

/// An indicator of x[t] and x[t − n]; first value at index n. `Momentum`,
/// `RateOfChange`, `Returns` and `LogReturns` are this with their formulas.
public struct LaggedIndicator<Formula: LagFormula>: Sendable, Hashable {
    /// Look-back n.
    public let period: Int
    @usableFromInline var ring: RingBuffer

    /// Creates the indicator; `period` is clamped to at least 1.
    public init(period: Int = 1) {
        self.period = max(1, period)
        ring = RingBuffer(capacity: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period }

    /// Adds a value.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        let full = ring.isFull
        let old = ring.push(x)
        return full ? Formula.apply(current: x, old: old) : .nan
    }

    /// Adds a value without computing the indicator: the state change of `update`, for a
    /// run of bars whose values nobody reads (a stream catching up).
    @inlinable
    public mutating func advance(_ x: Double) { _ = ring.push(x) }

    /// Adds every value of `xs` in order without computing the indicator.
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) { ring.push(contentsOf: xs) }
}

/// x − x[t − n].
public enum MomentumFormula: LagFormula {
    /// The difference.
    @inlinable public static func apply(current x: Double, old: Double) -> Double { x - old }
}

/// TA-Lib's ROC: ((x / x[t − n]) − 1) · 100, 0 when the old value is 0.
public enum RateOfChangeFormula: LagFormula {
    /// The percentage change.
    @inlinable public static func apply(current x: Double, old: Double) -> Double { old != 0 ? ((x / old) - 1.0) * 100.0 : 0 }
}

/// TA-Lib's ROCP: (x − x[t − n]) / x[t − n], 0 when the old value is 0.
public enum ReturnsFormula: LagFormula {
    /// The simple return.
    @inlinable public static func apply(current x: Double, old: Double) -> Double { old != 0 ? (x - old) / old : 0 }
}

/// ln(x / x[t − n]).
public enum LogReturnsFormula: LagFormula {
    /// The log return.
    @inlinable public static func apply(current x: Double, old: Double) -> Double { log(x / old) }
}

/// Momentum: x[t] − x[t − n]. First value at index n.
public typealias Momentum = LaggedIndicator<MomentumFormula>
/// Rate of change in percent (TA-Lib's ROC). First value at index n.
public typealias RateOfChange = LaggedIndicator<RateOfChangeFormula>
/// Simple returns over `period` bars (TA-Lib's ROCP). First value at index n.
public typealias Returns = LaggedIndicator<ReturnsFormula>
/// Log returns over `period` bars. First value at index n.
public typealias LogReturns = LaggedIndicator<LogReturnsFormula>

/// One stochastic oscillator observation.
public struct StochasticValue: Sendable, Hashable {
    /// Slow %K.
    public var k: Double
    /// Slow %D.
    public var d: Double
    /// Creates a value.
    @inlinable public init(k: Double, d: Double) {
        self.k = k
        self.d = d
    }

    /// Both NaN.
    public static let nan = StochasticValue(k: .nan, d: .nan)
}

/// Stochastic oscillator (TA-Lib's STOCH with SMA smoothing): fast %K =
/// (close − lowest low) / ((highest high − lowest low) / 100) over
/// `fastK` bars (0 when the range is 0), slow %K = SMA(fast %K, slowK),
/// %D = SMA(slow %K, slowD). Both outputs start at fastK + slowK + slowD − 3.
public struct Stochastic: Sendable, Hashable {
    /// Fast %K window.
    public let fastK: Int
    /// Slow %K smoothing.
    public let slowK: Int
    /// %D smoothing.
    public let slowD: Int
    @usableFromInline var highs: MonotonicWindow
    @usableFromInline var lows: MonotonicWindow
    @usableFromInline var kSMA: SMA
    @usableFromInline var dSMA: SMA
    @usableFromInline var seen = 0

    /// Creates a stochastic oscillator (TA-Lib defaults 5, 3, 3).
    public init(fastK: Int = 5, slowK: Int = 3, slowD: Int = 3) {
        self.fastK = max(1, fastK)
        self.slowK = max(1, slowK)
        self.slowD = max(1, slowD)
        highs = MonotonicWindow(period: self.fastK, isMax: true)
        lows = MonotonicWindow(period: self.fastK, isMax: false)
        kSMA = SMA(period: self.slowK)
        dSMA = SMA(period: self.slowD)
    }

    /// Index of the first value.
    public var lookback: Int { fastK + slowK + slowD - 3 }

    /// Adds a bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double) -> StochasticValue {
        seen += 1
        let hh = highs.push(high)
        let ll = lows.push(low)
        guard seen >= fastK else { return .nan }
        let diff = (hh - ll) / 100.0
        let fast = diff != 0 ? (close - ll) / diff : 0
        let k = kSMA.update(fast)
        guard !k.isNaN else { return .nan }
        let d = dSMA.update(k)
        guard !d.isNaN else { return .nan }
        return StochasticValue(k: k, d: d)
    }
}
