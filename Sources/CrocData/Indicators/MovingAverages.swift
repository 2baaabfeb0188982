/// Simple moving average, TA-Lib's running-sum arithmetic: add the new
/// value, emit sum · (1/n), subtract the value leaving the window.
/// First value at index `period − 1`; NaN before.
public struct SMA: Sendable, Hashable {
    /// Window length.
    public let period: Int
    @usableFromInline let inverse: Double
    @usableFromInline var ring: RingBuffer
    @usableFromInline var sum = 0.0
    @usableFromInline var seen = 0

    /// Creates an SMA; `period` is clamped to at least 1.
    public init(period: Int) {
        self.period = max(1, period)
        inverse = 1.0 / Double(self.period)
        ring = RingBuffer(capacity: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value; returns the average or NaN during warm-up.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        seen += 1
        sum += x
        _ = ring.push(x)
        guard seen >= period else { return .nan }
        let out = sum * inverse
        sum -= ring.oldest
        return out
    }

    /// Adds a value without computing the average: the state change of `update`.
    @inlinable
    public mutating func advance(_ x: Double) {
        seen += 1
        sum += x
        _ = ring.push(x)
        if seen >= period { sum -= ring.oldest }
    }

    /// `advance` on every value of `xs` in order (the same steps; the running sum in a
    /// register, the ring written through one pointer).
    @inlinable
    public mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>) {
        var sum = self.sum
        var seen = self.seen
        var head = ring.head
        var count = ring.count
        let period = self.period
        ring.storage.withUnsafeMutableBufferPointer { st in
            let cap = st.count
            for x in xs {
                seen += 1
                sum += x
                st[head] = x
                head += 1
                if head == cap { head = 0 }
                if count < cap { count += 1 }
                if seen >= period { sum -= count < cap ? st[0] : st[head] }
            }
        }
        self.sum = sum
        self.seen = seen
        ring.head = head
        ring.count = count
    }
}

/// Exponential moving average with k = 2 / (n + 1), seeded at index n − 1
/// with the SMA of the first n values (TA-Lib's default). Updates as
/// x·k + ema·(1 − k), which equals TA-Lib's (x − ema)·k + ema to a few ulps
/// and keeps the dependency chain to one multiply and one add.
public struct EMA: Sendable, Hashable {
    /// Period n.
    public let period: Int
    /// Smoothing factor 2 / (n + 1).
    public let k: Double
    @usableFromInline let oneMinusK: Double
    @usableFromInline var value = 0.0
    @usableFromInline var seen = 0

    /// Creates an EMA; `period` is clamped to at least 1.
    public init(period: Int) {
        self.period = max(1, period)
        k = 2.0 / Double(self.period + 1)
        oneMinusK = 1.0 - k
    }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value; returns the EMA or NaN during warm-up.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        seen += 1
        if seen < period {
            value += x
            return .nan
        }
        if seen == period {
            value = (value + x) / Double(period)
            return value
        }
        value = x * k + value * oneMinusK  // one multiply-add on the loop-carried chain
        return value
    }
}

/// Linearly weighted moving average (weights 1...n, newest heaviest), with
/// TA-Lib's O(1) update of a weighted and a plain running sum.
public struct WMA: Sendable, Hashable {
    /// Window length.
    public let period: Int
    @usableFromInline let divider: Double
    @usableFromInline var ring: RingBuffer
    @usableFromInline var periodSum = 0.0
    @usableFromInline var periodSub = 0.0
    @usableFromInline var trailing = 0.0
    @usableFromInline var seen = 0

    /// Creates a WMA; `period` is clamped to at least 1.
    public init(period: Int) {
        self.period = max(1, period)
        divider = Double((self.period * (self.period + 1)) >> 1)
        ring = RingBuffer(capacity: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a value; returns the WMA or NaN during warm-up.
    @inlinable
    public mutating func update(_ x: Double) -> Double {
        seen += 1
        _ = ring.push(x)
        if seen < period {
            periodSub += x
            periodSum += x * Double(seen)
            return .nan
        }
        periodSub += x
        periodSub -= trailing
        periodSum += x * Double(period)
        trailing = ring.oldest
        let out = periodSum / divider
        periodSum -= periodSub
        return out
    }
}
