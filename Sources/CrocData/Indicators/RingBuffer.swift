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
        var head = (self.head + skip) % cap
        storage.withUnsafeMutableBufferPointer { st in
            for i in skip..<xs.count {
                st[head] = xs[i]
                head += 1
                if head == cap { head = 0 }
            }
        }
        self.head = head
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
@usableFromInline
struct MonotonicWindow: Sendable, Hashable {
    @usableFromInline let period: Int
    @usableFromInline let isMax: Bool
    @usableFromInline var values: ContiguousArray<Double>
    @usableFromInline var indices: ContiguousArray<Int>
    @usableFromInline var front = 0
    @usableFromInline var back = 0  // deque occupies [front, back) modulo capacity
    @usableFromInline var seen = 0

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

    /// `push` on every value of `xs` in order (the same deque steps, its ends in registers,
    /// its storage written through pointers).
    @inlinable
    mutating func push(contentsOf xs: UnsafeBufferPointer<Double>) {
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
}

/// TA-Lib's `TA_IS_ZERO`: |v| < 1e-14.
@inlinable @inline(__always)
func taIsZero(_ v: Double) -> Bool { -0.00000000000001 < v && v < 0.00000000000001 }

/// TA-Lib's `TA_IS_ZERO_OR_NEG`: v < 1e-14.
@inlinable @inline(__always)
func taIsZeroOrNeg(_ v: Double) -> Bool { v < 0.00000000000001 }
