import CrocCore

/// A feature matrix: one row per bar, one column per feature, stored column
/// by column (each column contiguous, as indicators produce them).
/// Warm-up rows hold NaN.
public struct FeatureMatrix: Sendable {
    /// Number of rows (bars).
    public let rows: Int
    /// Column names, in order.
    public let columnNames: [String]
    /// Bar times (ns), one per row.
    public let timestamps: [Int64]
    /// Values, column-major: `values[column * rows + row]`.
    public internal(set) var values: [Double]

    /// Number of columns.
    public var columns: Int { columnNames.count }

    /// Wraps column-major values.
    /// - Precondition: `values.count == rows × columnNames.count` and one timestamp per row.
    public init(rows: Int, columnNames: [String], timestamps: [Int64], values: [Double]) {
        precondition(values.count == rows * columnNames.count && timestamps.count == rows, "feature matrix shape mismatch")
        self.rows = rows
        self.columnNames = columnNames
        self.timestamps = timestamps
        self.values = values
    }

    /// The value at `row`, `column`.
    @inlinable
    public subscript(row: Int, column: Int) -> Double { values[column * rows + row] }

    /// One column, without copying.
    public func column(_ j: Int) -> ArraySlice<Double> { values[(j * rows)..<((j + 1) * rows)] }

    /// One column by name.
    public func column(named name: String) -> ArraySlice<Double>? {
        columnNames.firstIndex(of: name).map { column($0) }
    }

    /// One row as a vector (a copy).
    public func row(_ i: Int) -> [Double] { (0..<columns).map { self[i, $0] } }

    /// CSV text: `time,<columns>`; NaN written as empty fields.
    public func csv() -> String {
        var out = "time," + columnNames.joined(separator: ",") + "\n"
        out.reserveCapacity(rows * (columns * 12 + 24))
        for i in 0..<rows {
            out += Timestamp(nanoseconds: timestamps[i]).iso8601()
            for j in 0..<columns {
                let v = self[i, j]
                out += v.isNaN ? "," : ",\(v)"
            }
            out += "\n"
        }
        return out
    }
}

/// A compiled `FeaturePipelineDefinition`: computes the feature matrix of a
/// series (batch) and hands out streaming states that produce the same
/// vector one bar at a time.
public struct FeaturePipeline: Sendable {
    /// The definition it was built from.
    public let definition: FeaturePipelineDefinition
    /// Column names, in order.
    public let columnNames: [String]
    /// The first row at which every column is defined.
    public let warmup: Int

    /// Compiles a definition.
    public init(_ definition: FeaturePipelineDefinition) {
        self.definition = definition
        columnNames = definition.features.flatMap(\.columnNames)
        warmup = definition.features.map(\.warmup).max() ?? 0
    }

    /// Number of columns.
    public var width: Int { columnNames.count }

    /// The feature matrix of `series`.
    public func transform(_ series: BarSeries) -> FeatureMatrix {
        let rows = series.count
        let values = [Double](unsafeUninitializedCapacity: rows * width) { buf, n in
            n = rows * width
            guard rows > 0, let base = buf.baseAddress else { return }
            LargeMemory.adviseHugePages(UnsafeMutableRawPointer(base), bytes: rows * width * 8)
            var column = 0
            for spec in definition.features {
                Self.fill(spec, series: series, rows: rows, matrix: base, firstColumn: column)
                column += spec.columnNames.count
            }
        }
        return FeatureMatrix(rows: rows, columnNames: columnNames, timestamps: series.timestamps, values: values)
    }

    /// A streaming state, positioned before the first bar.
    public func makeStream() -> FeatureStream { FeatureStream(definition) }

    /// Computes one feature's columns into the matrix.
    static func fill(_ spec: FeatureSpec, series s: BarSeries, rows: Int, matrix: UnsafeMutablePointer<Double>, firstColumn: Int) {
        let all = spec.indicator.outputs
        let kept = spec.keptOutputs
        // Kept outputs go straight into their matrix columns; others into scratch.
        var scratch = [Double](repeating: 0, count: rows * (all.count - kept.count))
        scratch.withUnsafeMutableBufferPointer { tmp in
            var targets: [UnsafeMutablePointer<Double>] = []
            var k = 0
            var t = 0
            for o in all {
                if kept.contains(o) {
                    targets.append(matrix + (firstColumn + k) * rows)
                    k += 1
                } else {
                    targets.append(tmp.baseAddress! + t * rows)
                    t += 1
                }
            }
            compute(spec, series: s, into: targets)
        }
        // Lags: shifted copies of each kept output.
        let baseCount = kept.count
        for b in 0..<baseCount {
            let src = matrix + (firstColumn + b) * rows
            for (li, lag) in spec.lags.enumerated() {
                let dst = matrix + (firstColumn + baseCount + b * spec.lags.count + li) * rows
                let shift = min(lag, rows)
                for i in 0..<shift { dst[i] = .nan }
                if rows > shift { (dst + shift).update(from: src, count: rows - shift) }
            }
        }
    }

    static func compute(_ spec: FeatureSpec, series s: BarSeries, into out: [UnsafeMutablePointer<Double>]) {
        let rows = s.count
        let p = spec.intParameter
        func single(_ body: (UnsafeBufferPointer<Double>) -> Void) {
            let column = spec.source.column(s)
            column.withUnsafeBufferPointer(body)
        }
        func hlc(_ body: (UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>) -> Void) {
            s.high.withUnsafeBufferPointer { h in
                s.low.withUnsafeBufferPointer { l in
                    s.close.withUnsafeBufferPointer { c in body(h.baseAddress!, l.baseAddress!, c.baseAddress!) }
                }
            }
        }
        switch spec.indicator {
        case .price: single { out[0].update(from: $0.baseAddress!, count: rows) }
        case .returns: single { Indicators.run($0, into: out[0], Returns(period: p("period"))) { $0.update($1) } }
        case .logReturns: single { Indicators.run($0, into: out[0], LogReturns(period: p("period"))) { $0.update($1) } }
        case .sma: single { Indicators.sma($0, period: p("period"), into: out[0]) }
        case .ema: single { Indicators.ema($0, period: p("period"), into: out[0]) }
        case .wma: single { Indicators.run($0, into: out[0], WMA(period: p("period"))) { $0.update($1) } }
        case .rsi: single { Indicators.rsi($0, period: p("period"), into: out[0]) }
        case .macd:
            single { Indicators.macd($0, fast: p("fast"), slow: p("slow"), signal: p("signal"), macd: out[0], signalLine: out[1], histogram: out[2]) }
        case .bbands:
            let d = spec.parameter("deviations")
            single { Indicators.bollinger($0, period: p("period"), deviationsUp: d, deviationsDown: d, upper: out[0], middle: out[1], lower: out[2]) }
        case .stddev:
            let d = spec.parameter("deviations")
            single { Indicators.stddev($0, period: p("period"), deviations: d, into: out[0]) }
        case .zscore: single { Indicators.zscore($0, period: p("period"), into: out[0]) }
        case .volatility: single { Indicators.run($0, into: out[0], ReturnVolatility(period: p("period"))) { $0.update($1) } }
        case .min: single { Indicators.run($0, into: out[0], RollingMin(period: p("period"))) { $0.update($1) } }
        case .max: single { Indicators.run($0, into: out[0], RollingMax(period: p("period"))) { $0.update($1) } }
        case .mom: single { Indicators.run($0, into: out[0], Momentum(period: p("period"))) { $0.update($1) } }
        case .roc: single { Indicators.run($0, into: out[0], RateOfChange(period: p("period"))) { $0.update($1) } }
        case .atr:
            hlc { Indicators.runHLC($0, $1, $2, count: rows, into: out[0], ATR(period: p("period"))) { $0.update(high: $1, low: $2, close: $3) } }
        case .trange: hlc { Indicators.runHLC($0, $1, $2, count: rows, into: out[0], TrueRange()) { $0.update(high: $1, low: $2, close: $3) } }
        case .adx:
            hlc { Indicators.runHLC($0, $1, $2, count: rows, into: out[0], ADX(period: p("period"))) { $0.update(high: $1, low: $2, close: $3) } }
        case .stoch:
            hlc {
                Indicators.stochastic(
                    high: $0,
                    low: $1,
                    close: $2,
                    count: rows,
                    fastK: p("fastK"),
                    slowK: p("slowK"),
                    slowD: p("slowD"),
                    k: out[0],
                    d: out[1]
                )
            }
        case .obv:
            var o = OBV()
            s.close.withUnsafeBufferPointer { c in
                s.volume.withUnsafeBufferPointer { v in
                    for i in 0..<rows { out[0][i] = o.update(close: c[i], volume: v[i]) }
                }
            }
        case .vwap:
            var w = VWAP(period: p("period"))
            hlc { h, l, c in
                s.volume.withUnsafeBufferPointer { v in
                    for i in 0..<rows { out[0][i] = w.update(high: h[i], low: l[i], close: c[i], volume: v[i]) }
                }
            }
        }
    }
}

/// The streaming form of a pipeline: feed bars one at a time, read the
/// feature vector of the latest bar. O(1) per bar per feature; the vector
/// equals the batch matrix's row for the same bar, bit for bit.
public struct FeatureStream: Sendable {
    /// One feature's indicator state. Each kind is its own type behind `any StreamState`, so a
    /// run of bars updates the state where it lives: the former enum of 22 payloads was copied
    /// out of its slot and back for every run (a memmove of the largest payload each time).
    /// Copies of a stream stay independent: the existential's box is copied on first write.
    static func state(_ f: FeatureSpec) -> any StreamState {
        let p = f.intParameter
        let src = f.source
        switch f.indicator {
        case .price: return PriceState(field: src)
        case .returns: return ReturnsState(s: Returns(period: p("period")), field: src)
        case .logReturns: return LogReturnsState(s: LogReturns(period: p("period")), field: src)
        case .sma: return SMAState(s: SMA(period: p("period")), field: src)
        case .ema: return EMAState(s: EMA(period: p("period")), field: src)
        case .wma: return WMAState(s: WMA(period: p("period")), field: src)
        case .rsi: return RSIState(s: RSI(period: p("period")), field: src)
        case .macd: return MACDState(s: MACD(fast: p("fast"), slow: p("slow"), signal: p("signal")), field: src)
        case .bbands:
            let d = f.parameter("deviations")
            return BollingerState(s: BollingerBands(period: p("period"), deviationsUp: d, deviationsDown: d), field: src)
        case .stddev: return StdDevState(s: StdDev(period: p("period"), deviations: f.parameter("deviations")), field: src)
        case .zscore: return ZScoreState(s: ZScore(period: p("period")), field: src)
        case .volatility: return VolatilityState(s: ReturnVolatility(period: p("period")), field: src)
        case .min: return RollingMinState(s: RollingMin(period: p("period")), field: src)
        case .max: return RollingMaxState(s: RollingMax(period: p("period")), field: src)
        case .mom: return MomentumState(s: Momentum(period: p("period")), field: src)
        case .roc: return RateOfChangeState(s: RateOfChange(period: p("period")), field: src)
        case .atr: return ATRState(s: ATR(period: p("period")))
        case .trange: return TrueRangeState(s: TrueRange())
        case .adx: return ADXState(s: ADX(period: p("period")))
        case .stoch: return StochasticState(s: Stochastic(fastK: p("fastK"), slowK: p("slowK"), slowD: p("slowD")))
        case .obv: return OBVState(s: OBV())
        case .vwap: return VWAPState(s: VWAP(period: p("period")))
        }
    }

    struct Slot: Sendable {
        var state: any StreamState
        let outputIndex: [Int]  // indicator output index of each kept output
        let firstColumn: Int
        let lags: [Int]
        var history: [RingBuffer]  // per kept output, for lags
    }

    var slots: [Slot]
    /// Per-bar outputs of one feature during `update(contentsOf:)` (3 per bar), then the run's closes.
    var chunkScratch: [Double] = []
    /// The feature vector of the latest bar (NaN where not yet defined).
    public private(set) var vector: [Double]
    /// Bars processed.
    public private(set) var barCount = 0
    /// The first bar index at which every column is defined.
    public let warmup: Int

    init(_ definition: FeaturePipelineDefinition) {
        var slots: [Slot] = []
        var column = 0
        for f in definition.features {
            let kept = f.keptOutputs
            let indices = kept.map { o in f.indicator.outputs.firstIndex(of: o)! }
            let maxLag = f.lags.max() ?? 0
            slots.append(
                Slot(
                    state: Self.state(f),
                    outputIndex: indices,
                    firstColumn: column,
                    lags: f.lags,
                    history: maxLag > 0 ? kept.map { _ in RingBuffer(capacity: maxLag) } : []
                )
            )
            column += f.columnNames.count
        }
        self.slots = slots
        vector = [Double](repeating: .nan, count: column)
        warmup = definition.features.map(\.warmup).max() ?? 0
    }

    /// Processes `bars` in order, exactly as `update(_:)` on each of them would (the same
    /// states and arithmetic, so the same vector bit for bit), but one feature at a time over
    /// the whole run: a strategy that needs the vector only now and then (a rebalance every 21
    /// bars) buffers its bars and catches up here at a fraction of the per-bar cost.
    public mutating func update(contentsOf bars: UnsafeBufferPointer<Bar>) {
        let n = bars.count
        guard n > 0 else { return }
        barCount += n
        if chunkScratch.count < n * 4 { chunkScratch = [Double](repeating: .nan, count: n * 4) }
        Self.catchUp(bars, &slots, &chunkScratch, &vector)
    }

    /// `update(contentsOf:)`'s work on the stream's parts, each through its buffer (one
    /// uniqueness check per run, not one per slot and value).
    private static func catchUp(_ bars: UnsafeBufferPointer<Bar>, _ slots: inout [Slot], _ scratch: inout [Double], _ vector: inout [Double]) {
        let n = bars.count
        scratch.withUnsafeMutableBufferPointer { scratch in
            vector.withUnsafeMutableBufferPointer { vector in
                slots.withUnsafeMutableBufferPointer { slots in
                    let out = scratch.baseAddress!
                    let closes = out + n * 3
                    for i in 0..<n { closes[i] = bars[i].close }
                    let run = RunInput(bars: bars, closes: closes)
                    for s in slots.indices {
                        slots[s].state.update(run, out, stride: 3, lastOnly: slots[s].lags.isEmpty)
                        let first = slots[s].firstColumn
                        let kept = slots[s].outputIndex.count
                        let lagCount = slots[s].lags.count
                        for k in 0..<kept {
                            let o = slots[s].outputIndex[k]
                            vector[first + k] = out[(n - 1) * 3 + o]
                            guard lagCount > 0 else { continue }
                            for i in 0..<(n - 1) { _ = slots[s].history[k].push(out[i * 3 + o]) }
                            for li in 0..<lagCount {
                                let lag = slots[s].lags[li]
                                vector[first + kept + k * lagCount + li] =
                                    slots[s].history[k].count >= lag ? slots[s].history[k].back(lag - 1) : .nan
                            }
                            _ = slots[s].history[k].push(out[(n - 1) * 3 + o])
                        }
                    }
                }
            }
        }
    }

    /// Whether every column of the latest vector is defined.
    public var isWarm: Bool { barCount > warmup }

    /// Processes one bar and returns the new feature vector: a run of one bar through the
    /// same state updates as `update(contentsOf:)`.
    @discardableResult
    public mutating func update(_ bar: Bar) -> [Double] {
        withUnsafePointer(to: bar) { update(contentsOf: UnsafeBufferPointer(start: $0, count: 1)) }
        return vector
    }

}
