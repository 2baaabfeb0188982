import CrocCore

/// A time-ordered series of bars for one symbol, stored column by column
/// (contiguous arrays of `Double`), so indicators and models read prices
/// without copying and a million bars take 48 MB.
public struct BarSeries: Sendable, Hashable, RandomAccessCollection {
    /// The symbol.
    public var symbol: String
    /// Open times, nanoseconds since the epoch, strictly increasing.
    public private(set) var timestamps: [Int64]
    /// Opening prices.
    public private(set) var open: [Double]
    /// Highest prices.
    public private(set) var high: [Double]
    /// Lowest prices.
    public private(set) var low: [Double]
    /// Closing prices.
    public private(set) var close: [Double]
    /// Volumes.
    public private(set) var volume: [Double]
    /// Decimal places seen in the source's prices (0...8).
    public var pricePrecision: Int

    /// An empty series.
    public init(symbol: String, pricePrecision: Int = 8, reservingCapacity n: Int = 0) {
        self.symbol = symbol
        self.pricePrecision = pricePrecision
        timestamps = []
        open = []
        high = []
        low = []
        close = []
        volume = []
        if n > 0 {
            timestamps.reserveCapacity(n)
            open.reserveCapacity(n)
            high.reserveCapacity(n)
            low.reserveCapacity(n)
            close.reserveCapacity(n)
            volume.reserveCapacity(n)
        }
    }

    /// A series from bars that must already be valid and time-ordered.
    /// - Throws: `BarValidationError` for the first invalid or out-of-order bar.
    public init(symbol: String, bars: [Bar], pricePrecision: Int = 8) throws(BarValidationError) {
        self.init(symbol: symbol, pricePrecision: pricePrecision, reservingCapacity: bars.count)
        for (i, b) in bars.enumerated() {
            if let problem = BarValidationError.Problem.check(b) {
                throw BarValidationError(index: i, problem: problem)
            }
            if let last = timestamps.last, b.timestamp.nanoseconds <= last {
                throw BarValidationError(index: i, problem: b.timestamp.nanoseconds == last ? .duplicateTimestamp : .outOfOrderTimestamp)
            }
            appendUnchecked(b)
        }
    }

    /// A close-only series (a universe of closes): open, high and low are the
    /// close — one shared storage for the four columns, not four copies — and
    /// volume is 0. No validation (loaders validate first).
    /// - Precondition: `timestamps` and `close` have the same length.
    /// `volume`, when given, is the zeros to share (its length the closes').
    init(symbol: String, timestamps: [Int64], closes: [Double], pricePrecision: Int, volume zeros: [Double]? = nil) {
        precondition(timestamps.count == closes.count, "one close per timestamp")
        self.symbol = symbol
        self.pricePrecision = pricePrecision
        self.timestamps = timestamps
        open = closes
        high = closes
        low = closes
        close = closes
        volume =
            zeros.map {
                precondition($0.count == closes.count, "one volume per close")
                return $0
            } ?? [Double](repeating: 0, count: closes.count)
    }

    /// A series from its columns as a cache entry stored them (no validation: the entry was
    /// written from a validated series; the columns' lengths are checked by the reader). Columns
    /// that shared storage when stored are passed the same array, so they share it again.
    init(
        restoring symbol: String,
        pricePrecision: Int,
        timestamps: [Int64],
        open: [Double],
        high: [Double],
        low: [Double],
        close: [Double],
        volume: [Double]
    ) {
        self.symbol = symbol
        self.pricePrecision = pricePrecision
        self.timestamps = timestamps
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }

    /// Appends without validation (loaders validate first).
    public mutating func appendUnchecked(_ bar: Bar) {
        timestamps.append(bar.timestamp.nanoseconds)
        open.append(bar.open)
        high.append(bar.high)
        low.append(bar.low)
        close.append(bar.close)
        volume.append(bar.volume)
    }

    /// Appends another series' bars (a loader stitching the parts it parsed at once; no validation).
    mutating func append(contentsOf other: BarSeries) {
        timestamps += other.timestamps
        open += other.open
        high += other.high
        low += other.low
        close += other.close
        volume += other.volume
    }

    /// First index.
    public var startIndex: Int { 0 }
    /// One past the last index.
    public var endIndex: Int { timestamps.count }

    /// The bar at `i`.
    @inlinable
    public subscript(i: Int) -> Bar {
        Bar(timestamp: Timestamp(nanoseconds: timestamps[i]), open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i])
    }

    /// The columns of a series as buffers, for loops that read many series at once (a
    /// universe's time slices) without a bounds check per value. Valid only inside the
    /// `withColumns` call that made them.
    public struct Columns {
        public let timestamps: UnsafeBufferPointer<Int64>
        public let open: UnsafeBufferPointer<Double>
        public let high: UnsafeBufferPointer<Double>
        public let low: UnsafeBufferPointer<Double>
        public let close: UnsafeBufferPointer<Double>
        public let volume: UnsafeBufferPointer<Double>

        @usableFromInline
        init(
            timestamps: UnsafeBufferPointer<Int64>,
            open: UnsafeBufferPointer<Double>,
            high: UnsafeBufferPointer<Double>,
            low: UnsafeBufferPointer<Double>,
            close: UnsafeBufferPointer<Double>,
            volume: UnsafeBufferPointer<Double>
        ) {
            self.timestamps = timestamps
            self.open = open
            self.high = high
            self.low = low
            self.close = close
            self.volume = volume
        }

        /// The bar at `i` (unchecked: `i` must be below `timestamps.count`).
        @inlinable @inline(__always)
        public func bar(_ i: Int) -> Bar {
            Bar(timestamp: Timestamp(nanoseconds: timestamps[i]), open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i])
        }
    }

    /// Calls `body` with this series' columns as buffers (all of `count` values).
    @inlinable
    public func withColumns<R>(_ body: (Columns) throws -> R) rethrows -> R {
        try timestamps.withUnsafeBufferPointer { t in
            try open.withUnsafeBufferPointer { o in
                try high.withUnsafeBufferPointer { h in
                    try low.withUnsafeBufferPointer { l in
                        try close.withUnsafeBufferPointer { c in
                            try volume.withUnsafeBufferPointer { v in
                                try body(Columns(timestamps: t, open: o, high: h, low: l, close: c, volume: v))
                            }
                        }
                    }
                }
            }
        }
    }

    /// The bars in `range` as a new series.
    public func slice(_ range: Range<Int>) -> BarSeries {
        var s = BarSeries(symbol: symbol, pricePrecision: pricePrecision, reservingCapacity: range.count)
        s.timestamps = Array(timestamps[range])
        s.open = Array(open[range])
        s.high = Array(high[range])
        s.low = Array(low[range])
        s.close = Array(close[range])
        s.volume = Array(volume[range])
        return s
    }
}

/// A bar that breaks an OHLCV invariant.
public struct BarValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which invariant.
    public enum Problem: String, Sendable, Equatable {
        /// A price or volume is NaN or infinite.
        case nonFinite = "a value is NaN or infinite"
        /// A price is ≤ 0.
        case nonPositivePrice = "price must be > 0"
        /// high < low.
        case highBelowLow = "high is below low"
        /// open outside [low, high].
        case openOutsideRange = "open is outside [low, high]"
        /// close outside [low, high].
        case closeOutsideRange = "close is outside [low, high]"
        /// volume < 0.
        case negativeVolume = "volume is negative"
        /// Same timestamp as the previous bar.
        case duplicateTimestamp = "duplicate timestamp"
        /// Earlier than the previous bar.
        case outOfOrderTimestamp = "timestamp earlier than the previous bar"

        /// The first invariant `bar` breaks, or nil.
        public static func check(_ b: Bar) -> Problem? {
            guard b.open.isFinite, b.high.isFinite, b.low.isFinite, b.close.isFinite, b.volume.isFinite else { return .nonFinite }
            guard b.open > 0, b.high > 0, b.low > 0, b.close > 0 else { return .nonPositivePrice }
            guard b.high >= b.low else { return .highBelowLow }
            guard b.open >= b.low, b.open <= b.high else { return .openOutsideRange }
            guard b.close >= b.low, b.close <= b.high else { return .closeOutsideRange }
            guard b.volume >= 0 else { return .negativeVolume }
            return nil
        }
    }

    /// Index of the bar.
    public var index: Int
    /// What is wrong.
    public var problem: Problem

    /// `bar 12: high is below low`.
    public var description: String { "bar \(index): \(problem.rawValue)" }
}
