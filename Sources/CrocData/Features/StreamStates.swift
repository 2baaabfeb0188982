import CrocCore

/// One feature's indicator state inside a `FeatureStream`, updated in place over a run of bars.
///
/// `update` processes every bar of `bars` in order and writes bar i's outputs at
/// `out[i * stride + o]`. With `lastOnly`, only the last bar's outputs need be written, and an
/// indicator that can advance without computing its value (lagged returns, σ, volatility,
/// z-score) skips that work on the other bars; the state after the run is the same either way.
protocol StreamState: Sendable {
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool)
}

/// A run of bars as the states read it: the bars, and their closes gathered once for the run
/// (most features read the close: each reads the column instead of picking it out of every bar).
struct RunInput {
    let bars: UnsafeBufferPointer<Bar>
    /// `bars[i].close` at `closes[i]`.
    let closes: UnsafePointer<Double>

    var count: Int { bars.count }

    /// `field`'s value in bar `i`.
    @inline(__always)
    func value(_ field: PriceField, _ i: Int) -> Double { field == .close ? closes[i] : field.value(bars[i]) }
}

/// An indicator of one price series, one output per bar.
protocol SingleInputIndicator: Sendable {
    mutating func update(_ x: Double) -> Double
}

/// A single-input indicator that can take a value without producing its output.
protocol SkippableIndicator: SingleInputIndicator {
    mutating func advance(_ x: Double)
    /// `advance` on every value in order.
    mutating func advance(contentsOf xs: UnsafeBufferPointer<Double>)
}

/// An indicator of high, low and close.
protocol RangeIndicator: Sendable {
    mutating func update(high: Double, low: Double, close: Double) -> Double
}

extension SMA: SkippableIndicator {}
extension EMA: SingleInputIndicator {}
extension WMA: SingleInputIndicator {}
extension RSI: SkippableIndicator {}
extension RollingMin: SkippableIndicator {}
extension RollingMax: SkippableIndicator {}
extension LaggedIndicator: SkippableIndicator {}
extension StdDev: SkippableIndicator {}
extension ZScore: SkippableIndicator {}
extension ReturnVolatility: SkippableIndicator {}
extension ATR: RangeIndicator {}
extension TrueRange: RangeIndicator {}
extension ADX: RangeIndicator {}

/// The price field itself.
struct PriceState: StreamState {
    let field: PriceField
    func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        for i in 0..<run.count { out[i * stride] = run.value(field, i) }
    }
}

/// Every value of a single-input indicator (inlined into each concrete state below, so each
/// is specialized: a generic state behind an existential would call its indicator unspecialized).
@inline(__always)
func runPlain<S: SingleInputIndicator>(
    _ s: inout S,
    _ field: PriceField,
    _ run: RunInput,
    _ out: UnsafeMutablePointer<Double>,
    _ stride: Int
) {
    for i in 0..<run.count { out[i * stride] = s.update(run.value(field, i)) }
}

/// A skippable indicator: with `lastOnly`, every bar but the last only advances it.
@inline(__always)
func runSkipping<S: SkippableIndicator>(
    _ s: inout S,
    _ field: PriceField,
    _ run: RunInput,
    _ out: UnsafeMutablePointer<Double>,
    _ stride: Int,
    _ lastOnly: Bool
) {
    let n = run.count
    guard lastOnly, n > 1 else { return runPlain(&s, field, run, out, stride) }
    if field == .close {
        s.advance(contentsOf: UnsafeBufferPointer(start: run.closes, count: n - 1))
    } else {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: n - 1) { xs in
            for i in 0..<(n - 1) { xs[i] = field.value(run.bars[i]) }
            s.advance(contentsOf: UnsafeBufferPointer(xs))
        }
    }
    out[(n - 1) * stride] = s.update(run.value(field, n - 1))
}

/// A high-low-close indicator, one output.
@inline(__always)
func runRange<S: RangeIndicator>(_ s: inout S, _ run: RunInput, _ out: UnsafeMutablePointer<Double>, _ stride: Int) {
    let bars = run.bars
    for i in 0..<bars.count { out[i * stride] = s.update(high: bars[i].high, low: bars[i].low, close: bars[i].close) }
}

/// `SMA` in a stream (skips the values nobody reads).
struct SMAState: StreamState {
    var s: SMA
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `EMA` in a stream.
struct EMAState: StreamState {
    var s: EMA
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runPlain(&s, field, run, out, stride)
    }
}

/// `WMA` in a stream.
struct WMAState: StreamState {
    var s: WMA
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runPlain(&s, field, run, out, stride)
    }
}

/// `RSI` in a stream.
struct RSIState: StreamState {
    var s: RSI
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `RollingMin` in a stream (skips the values nobody reads).
struct RollingMinState: StreamState {
    var s: RollingMin
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `RollingMax` in a stream (skips the values nobody reads).
struct RollingMaxState: StreamState {
    var s: RollingMax
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `Returns` in a stream (skips the values nobody reads).
struct ReturnsState: StreamState {
    var s: Returns
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `LogReturns` in a stream (skips the values nobody reads).
struct LogReturnsState: StreamState {
    var s: LogReturns
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `Momentum` in a stream (skips the values nobody reads).
struct MomentumState: StreamState {
    var s: Momentum
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `RateOfChange` in a stream (skips the values nobody reads).
struct RateOfChangeState: StreamState {
    var s: RateOfChange
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `StdDev` in a stream (skips the values nobody reads).
struct StdDevState: StreamState {
    var s: StdDev
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `ZScore` in a stream (skips the values nobody reads).
struct ZScoreState: StreamState {
    var s: ZScore
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `ReturnVolatility` in a stream (skips the values nobody reads).
struct VolatilityState: StreamState {
    var s: ReturnVolatility
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runSkipping(&s, field, run, out, stride, lastOnly)
    }
}

/// `ATR` in a stream.
struct ATRState: StreamState {
    var s: ATR
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runRange(&s, run, out, stride)
    }
}

/// `TrueRange` in a stream.
struct TrueRangeState: StreamState {
    var s: TrueRange
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runRange(&s, run, out, stride)
    }
}

/// `ADX` in a stream.
struct ADXState: StreamState {
    var s: ADX
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        runRange(&s, run, out, stride)
    }
}

/// MACD: line, signal, histogram.
struct MACDState: StreamState {
    var s: MACD
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        let bars = run.bars
        for i in 0..<bars.count {
            let v = s.update(field.value(bars[i]))
            out[i * stride] = v.macd
            out[i * stride + 1] = v.signal
            out[i * stride + 2] = v.histogram
        }
    }
}

/// Bollinger bands: upper, middle, lower.
struct BollingerState: StreamState {
    var s: BollingerBands
    let field: PriceField
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        let bars = run.bars
        for i in 0..<bars.count {
            let v = s.update(field.value(bars[i]))
            out[i * stride] = v.upper
            out[i * stride + 1] = v.middle
            out[i * stride + 2] = v.lower
        }
    }
}

/// Stochastic: %K and %D.
struct StochasticState: StreamState {
    var s: Stochastic
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        let bars = run.bars
        for i in 0..<bars.count {
            let v = s.update(high: bars[i].high, low: bars[i].low, close: bars[i].close)
            out[i * stride] = v.k
            out[i * stride + 1] = v.d
        }
    }
}

/// On-balance volume.
struct OBVState: StreamState {
    var s: OBV
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        let bars = run.bars
        for i in 0..<bars.count { out[i * stride] = s.update(close: bars[i].close, volume: bars[i].volume) }
    }
}

/// Rolling VWAP.
struct VWAPState: StreamState {
    var s: VWAP
    mutating func update(_ run: RunInput, _ out: UnsafeMutablePointer<Double>, stride: Int, lastOnly: Bool) {
        let bars = run.bars
        for i in 0..<bars.count {
            out[i * stride] = s.update(high: bars[i].high, low: bars[i].low, close: bars[i].close, volume: bars[i].volume)
        }
    }
}
