/// On-balance volume (TA-Lib): starts at the first bar's volume; adds the
/// volume on an up close, subtracts it on a down close. First value at index 0.
public struct OBV: Sendable, Hashable {
    @usableFromInline var value = 0.0
    @usableFromInline var prevClose = Double.nan

    /// Creates an OBV.
    public init() {}

    /// Index of the first value.
    public var lookback: Int { 0 }

    /// Adds a bar.
    @inlinable
    public mutating func update(close: Double, volume: Double) -> Double {
        if prevClose.isNaN {
            value = volume
        } else {
            // ±volume or +0 without a data-dependent branch (the same sums as TA-Lib's if/else).
            let direction = (close > prevClose ? 1.0 : 0.0) - (close < prevClose ? 1.0 : 0.0)
            value += volume * direction
        }
        prevClose = close
        return value
    }
}

/// Rolling volume-weighted average price over `period` bars, with the typical
/// price (high + low + close) / 3; NaN when the window's volume is 0.
public struct VWAP: Sendable, Hashable {
    /// Window length.
    public let period: Int
    @usableFromInline var pv: RingBuffer
    @usableFromInline var vol: RingBuffer
    @usableFromInline var sumPV = 0.0
    @usableFromInline var sumV = 0.0

    /// Creates a rolling VWAP; `period` is clamped to at least 1.
    public init(period: Int) {
        self.period = max(1, period)
        pv = RingBuffer(capacity: self.period)
        vol = RingBuffer(capacity: self.period)
    }

    /// Index of the first value.
    public var lookback: Int { period - 1 }

    /// Adds a bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double, volume: Double) -> Double {
        let tp = (high + low + close) / 3
        let full = pv.isFull
        let oldPV = pv.push(tp * volume)
        let oldV = vol.push(volume)
        if full {
            sumPV -= oldPV
            sumV -= oldV
        }
        sumPV += tp * volume
        sumV += volume
        guard pv.isFull else { return .nan }
        return sumV != 0 ? sumPV / sumV : .nan
    }
}

/// Average directional index (TA-Lib's ADX, Wilder smoothing, no rounding;
/// divisions by n are multiplications by 1/n, within 1e-9 of TA-Lib).
/// First value at index 2n − 1.
public struct ADX: Sendable, Hashable {
    /// Period n.
    public let period: Int
    @usableFromInline let decay: Double
    @usableFromInline let inverse: Double
    @usableFromInline var prevHigh = 0.0
    @usableFromInline var prevLow = 0.0
    @usableFromInline var prevClose = 0.0
    @usableFromInline var plusDM = 0.0
    @usableFromInline var minusDM = 0.0
    @usableFromInline var tr = 0.0
    @usableFromInline var sumDX = 0.0
    @usableFromInline var value = 0.0
    @usableFromInline var seen = 0

    /// Creates an ADX; `period` is clamped to at least 2.
    public init(period: Int = 14) {
        self.period = max(2, period)
        decay = Double(self.period - 1) / Double(self.period)
        inverse = 1.0 / Double(self.period)
    }

    /// Index of the first value.
    public var lookback: Int { 2 * period - 1 }

    /// Adds a bar.
    @inlinable
    public mutating func update(high: Double, low: Double, close: Double) -> Double {
        seen += 1
        if seen == 1 {
            prevHigh = high
            prevLow = low
            prevClose = close
            return .nan
        }
        let diffP = high - prevHigh
        prevHigh = high
        let diffM = prevLow - low
        prevLow = low
        let accumulating = seen <= period  // the first n − 1 changes are summed, not smoothed
        if !accumulating {
            minusDM *= decay  // x − x/n
            plusDM *= decay
        }
        if diffM > 0 && diffP < diffM {
            minusDM += diffM
        } else if diffP > 0 && diffP > diffM {
            plusDM += diffP
        }
        var range = prevHigh - prevLow
        let r2 = abs(prevHigh - prevClose)
        if r2 > range { range = r2 }
        let r3 = abs(prevLow - prevClose)
        if r3 > range { range = r3 }
        tr = accumulating ? tr + range : tr * decay + range
        prevClose = close
        if accumulating { return .nan }
        var dx = Double.nan
        if !taIsZero(tr) {
            let scale = 100.0 / tr
            let minusDI = minusDM * scale
            let plusDI = plusDM * scale
            let s = minusDI + plusDI
            if !taIsZero(s) { dx = 100.0 * (abs(minusDI - plusDI) / s) }
        }
        if seen <= 2 * period {
            if !dx.isNaN { sumDX += dx }
            guard seen == 2 * period else { return .nan }
            value = sumDX * inverse
            return value
        }
        if !dx.isNaN { value = RSI.smooth(value, dx, decay, inverse) }
        return value
    }
}
