/// A fixed-capacity ring of the last `capacity` values, oldest overwritten.
///
/// A value type backed by `ContiguousArray`; indicators keep one each.
@usableFromInline
struct RingBuffer: Sendable, Hashable {
    @usableFromInline var storage: ContiguousArray<Double>
    @usableFromInline var head = 0  // slot of the next write == oldest value once full
    @usableFromInline var count = 0

    @usableFromInline
    init(capacity: Int) { storage = ContiguousArray(repeating: 0, count: max(1, capacity)) }

    @inlinable var capacity: Int { storage.count }
    @inlinable var isFull: Bool { count == storage.count }

    /// Appends `x`, returning the value it displaced (0 until full).
    @inlinable @inline(__always)
    mutating func push(_ x: Double) -> Double {
        let old = storage[head]
        storage[head] = x
        head += 1
        if head == storage.count { head = 0 }
        if count < storage.count { count += 1 }
        return old
    }

    /// Appends every value of `xs` in order: the state of `push` on each, with one uniqueness
    /// check for the run instead of one per value.
    /// Values that a later one of the run overwrites are not written (the ring ends the same).
    @inlinable
    mutating func push(contentsOf xs: UnsafeBufferPointer<Double>) {
        let cap = storage.count
        let skip = max(0, xs.count - cap)
        let head = (self.head + skip) % cap
        let n = xs.count - skip
        guard n > 0, let source = xs.baseAddress else { return }
        storage.withUnsafeMutableBufferPointer { st in
            // At most two stretches: up to the end of the storage, then from its start.
            let first = min(n, cap - head)
            (st.baseAddress! + head).update(from: source + skip, count: first)
            if first < n { st.baseAddress!.update(from: source + skip + first, count: n - first) }
        }
        self.head = (head + n) % cap
        count = min(cap, count + xs.count)
    }

    /// The oldest value held (valid once at least one value was pushed).
    @inlinable var oldest: Double { count < storage.count ? storage[0] : storage[head] }

    /// The value `k` steps back: `k == 0` is the newest.
    @inlinable
    func back(_ k: Int) -> Double {
        var i = head - 1 - k
        while i < 0 { i += storage.count }
        return storage[i]
    }

    /// Sum of the held values, oldest first (the order TA-Lib sums a seed window in).
    @inlinable
    func sumOldestFirst() -> Double {
        var s = 0.0
        for k in stride(from: count - 1, through: 0, by: -1) { s += back(k) }
        return s
    }
}

/// A sliding-window minimum or maximum in amortised O(1) (monotonic deque).
///
/// A run of at least `period` values whose extremes nobody reads (`push(contentsOf:)`, a
/// stream skipping to the bar it scores) is only copied into a ring of the window's values for
/// windows up to `scanLimit`; the next `push` then scans the ring — a few compares a value,
/// where the deque costs a hard-to-predict branch a value. The scan returns exactly the deque's
/// value (the extreme; of equal extremes, such as −0 and +0, the newest); a window holding NaN
/// rebuilds the deque from the ring and returns to it, so its odd NaN answers are kept too.
@usableFromInline
struct MonotonicWindow: Sendable, Hashable {
    @usableFromInline let period: Int
    @usableFromInline let isMax: Bool
    @usableFromInline var values: ContiguousArray<Double>
    @usableFromInline var indices: ContiguousArray<Int>
    @usableFromInline var front = 0
    @usableFromInline var back = 0  // deque occupies [front, back) modulo capacity
    @usableFromInline var seen = 0
    /// In scan mode (`scanning`), the last `period` values twice over: slot h and h + period hold
    /// the same value, so the window, oldest first, is `recent[head..<head + period]`.
    @usableFromInline var recent: ContiguousArray<Double> = []
    /// The slot of the next write in `recent` (the oldest value's).
    @usableFromInline var head = 0
    /// Whether the window lives in `recent` (the deque is then out of date).
    @usableFromInline var scanning = false

    /// Windows up to this length may be scanned instead of kept in the deque.
    @usableFromInline static let scanLimit = 64

    @usableFromInline
    init(period: Int, isMax: Bool) {
        self.period = period
        self.isMax = isMax
        values = ContiguousArray(repeating: 0, count: period + 1)
        indices = ContiguousArray(repeating: 0, count: period + 1)
    }

    /// Adds `x`; returns the extreme of the last `period` values.
    @inlinable
    mutating func push(_ x: Double) -> Double {
        if scanning {
            recent.withUnsafeMutableBufferPointer { r in
                r[head] = x
                r[head + period] = x
            }
            head += 1
            if head == period { head = 0 }
            seen += 1
            return scan()
        }
        return pushDeque(x)
    }

    /// The deque's step for `x`.
    @inlinable
    mutating func pushDeque(_ x: Double) -> Double {
        let cap = values.count
        let i = seen
        seen += 1
        // Drop from the back everything `x` dominates.
        while back != front {
            let last = back == 0 ? cap - 1 : back - 1
            let v = values[last]
            if isMax ? (v <= x) : (v >= x) { back = last } else { break }
        }
        values[back] = x
        indices[back] = i
        back += 1
        if back == cap { back = 0 }
        // Drop from the front what left the window.
        while indices[front] <= i - period {
            front += 1
            if front == cap { front = 0 }
        }
        return values[front]
    }

    /// `push` on every value of `xs` in order: the same window afterwards (and the same extreme
    /// from the next `push`). A run as long as the window, or any run in scan mode, of a window up
    /// to `scanLimit` is only copied; otherwise the deque takes each value, its ends in registers.
    @inlinable
    mutating func push(contentsOf xs: UnsafeBufferPointer<Double>) {
        if period <= Self.scanLimit && (scanning || xs.count >= period) {
            if !scanning {
                if recent.isEmpty { recent = ContiguousArray(repeating: 0, count: 2 * period) }
                scanning = true
                head = 0
            }
            let skip = max(0, xs.count - period)
            var h = (head + skip) % period
            let period = self.period
            recent.withUnsafeMutableBufferPointer { r in
                for i in skip..<xs.count {
                    r[h] = xs[i]
                    r[h + period] = xs[i]
                    h += 1
                    if h == period { h = 0 }
                }
            }
            head = h
            seen += xs.count
            return
        }
        var front = self.front
        var back = self.back
        var i = seen
        let period = self.period
        let isMax = self.isMax
        values.withUnsafeMutableBufferPointer { values in
            indices.withUnsafeMutableBufferPointer { indices in
                let cap = values.count
                for x in xs {
                    while back != front {
                        let last = back == 0 ? cap - 1 : back - 1
                        let v = values[last]
                        if isMax ? (v <= x) : (v >= x) { back = last } else { break }
                    }
                    values[back] = x
                    indices[back] = i
                    back += 1
                    if back == cap { back = 0 }
                    while indices[front] <= i - period {
                        front += 1
                        if front == cap { front = 0 }
                    }
                    i += 1
                }
            }
        }
        self.front = front
        self.back = back
        seen = i
    }

    /// The extreme of the scanned window (full: scan mode starts with at least `period` values):
    /// four contiguous stretches, oldest to newest, each keeping its newest extreme, then joined
    /// newest-wins — the deque's answer. A NaN in the window rebuilds the deque instead.
    @inlinable
    mutating func scan() -> Double {
        let n = period
        let q = n / 4
        let isMax = self.isMax
        let (best, sum) = recent.withUnsafeBufferPointer { r -> (Double, Double) in
            let p = r.baseAddress! + head
            @inline(__always) func pick(_ x: Double, _ b: Double) -> Double { isMax ? (x >= b ? x : b) : (x <= b ? x : b) }
            guard q > 0 else {
                var b = p[0]
                var s = p[0]
                for k in 1..<n {
                    b = pick(p[k], b)
                    s += p[k]
                }
                return (b, s)
            }
            var b0 = p[0]
            var b1 = p[q]
            var b2 = p[2 * q]
            var b3 = p[3 * q]
            var s0 = b0
            var s1 = b1
            var s2 = b2
            var s3 = b3
            for i in 1..<q {
                let x0 = p[i]
                let x1 = p[q + i]
                let x2 = p[2 * q + i]
                let x3 = p[3 * q + i]
                b0 = pick(x0, b0)
                b1 = pick(x1, b1)
                b2 = pick(x2, b2)
                b3 = pick(x3, b3)
                s0 += x0
                s1 += x1
                s2 += x2
                s3 += x3
            }
            for k in (4 * q)..<n {
                b3 = pick(p[k], b3)
                s3 += p[k]
            }
            return (pick(b3, pick(b2, pick(b1, b0))), (s0 + s1) + (s2 + s3))
        }
        // NaN (or ±∞ cancelling, harmlessly) in the sum: the exact deque decides.
        guard sum.isNaN else { return best }
        let window = Array(recent[head..<(head + n)])
        scanning = false
        front = 0
        back = 0
        seen -= n
        var extreme = Double.nan
        for x in window { extreme = pushDeque(x) }
        return extreme
    }
}

/// TA-Lib's `TA_IS_ZERO`: |v| < 1e-14.
@inlinable @inline(__always)
func taIsZero(_ v: Double) -> Bool { -0.00000000000001 < v && v < 0.00000000000001 }

/// TA-Lib's `TA_IS_ZERO_OR_NEG`: v < 1e-14.
@inlinable @inline(__always)
func taIsZeroOrNeg(_ v: Double) -> Bool { v < 0.00000000000001 }
