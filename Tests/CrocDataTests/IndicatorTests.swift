import CrocCore
import CrocTestSupport
import Foundation
import Testing

@testable import CrocData

/// TA-Lib's values on the shipped EURUSD data (scripts/talib_reference.py).
struct TALibFixture {
    let columns: [String: [Double]]

    static let shared: TALibFixture = {
        let path = repoRoot.appendingPathComponent("Tests/CrocDataTests/Fixtures/talib_eurusd.csv").path
        let text = try! String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let names = lines.removeFirst().split(separator: ",").map(String.init)
        var cols = [[Double]](repeating: [], count: names.count)
        for line in lines {
            for (j, f) in line.split(separator: ",").enumerated() { cols[j].append(f == "nan" ? .nan : Double(f)!) }
        }
        return TALibFixture(columns: Dictionary(uniqueKeysWithValues: zip(names, cols)))
    }()

    static let bars: BarSeries = try! CSVBarLoader.load(path: sampleData("EURUSD_1H_ASK.csv"))
}

/// Same warm-up (NaN positions) and values within `relative` after it.
/// Values are compared relative to their own magnitude, with a floor at 1 %
/// of the column's mean magnitude: where a series crosses zero (MACD
/// histogram, momentum) its values are differences of numbers 10^4 times
/// larger, and an error relative to ~0 measures that cancellation, not the
/// algorithm.
func expectAgreement(_ name: String, _ ours: [Double], relative: Double = 1e-9, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let ref = TALibFixture.shared.columns[name] else {
        Issue.record("fixture lacks \(name)", sourceLocation: sourceLocation)
        return
    }
    #expect(ours.count == ref.count, sourceLocation: sourceLocation)
    let firstRef = ref.firstIndex { !$0.isNaN } ?? ref.count
    let firstOurs = ours.firstIndex { !$0.isNaN } ?? ours.count
    #expect(firstOurs == firstRef, "\(name): first valid index", sourceLocation: sourceLocation)
    let valid = ref[firstRef...].filter { !$0.isNaN }
    let scale = valid.isEmpty ? 1 : valid.reduce(0) { $0 + abs($1) } / Double(valid.count)
    var worst = 0.0
    var worstAt = -1
    for i in firstRef..<min(ours.count, ref.count) {
        if ref[i].isNaN != ours[i].isNaN {
            Issue.record("\(name)[\(i)]: NaN mismatch (ours \(ours[i]), TA-Lib \(ref[i]))", sourceLocation: sourceLocation)
            return
        }
        if ref[i].isNaN { continue }
        let err = abs(ours[i] - ref[i]) / max(abs(ref[i]), scale * 1e-2)
        if err > worst {
            worst = err
            worstAt = i
        }
    }
    #expect(worst <= relative, "\(name): worst relative error \(worst) at \(worstAt)", sourceLocation: sourceLocation)
}

@Suite("Indicators agree with TA-Lib on EURUSD")
struct IndicatorTALibTests {
    let b = TALibFixture.bars

    @Test("moving averages: SMA, EMA, WMA")
    func movingAverages() {
        expectAgreement("sma20", Indicators.sma(b.close, period: 20))
        expectAgreement("ema20", Indicators.ema(b.close, period: 20))
        expectAgreement("wma20", Indicators.wma(b.close, period: 20))
    }

    @Test("oscillators: RSI, MACD, momentum, ROC, returns, stochastic")
    func oscillators() {
        expectAgreement("rsi14", Indicators.rsi(b.close, period: 14))
        let m = Indicators.macd(b.close, fast: 12, slow: 26, signal: 9)
        expectAgreement("macd", m.macd)
        expectAgreement("macd_signal", m.signal)
        expectAgreement("macd_hist", m.histogram)
        expectAgreement("mom10", Indicators.momentum(b.close, period: 10))
        expectAgreement("roc10", Indicators.rateOfChange(b.close, period: 10))
        expectAgreement("returns", Indicators.returns(b.close))
        expectAgreement("log_returns", Indicators.logReturns(b.close))
        let s = Indicators.stochastic(high: b.high, low: b.low, close: b.close, fastK: 5, slowK: 3, slowD: 3)
        expectAgreement("stoch_k", s.k)
        expectAgreement("stoch_d", s.d)
    }

    @Test("volatility: Bollinger, stddev, z-score, true range, ATR, min/max")
    func volatility() {
        let bb = Indicators.bollinger(b.close, period: 20, deviationsUp: 2, deviationsDown: 2)
        expectAgreement("bb_upper", bb.upper)
        expectAgreement("bb_middle", bb.middle)
        expectAgreement("bb_lower", bb.lower)
        expectAgreement("stddev20", Indicators.stddev(b.close, period: 20))
        expectAgreement("zscore20", Indicators.zscore(b.close, period: 20))
        expectAgreement("trange", Indicators.trueRange(high: b.high, low: b.low, close: b.close))
        expectAgreement("atr14", Indicators.atr(high: b.high, low: b.low, close: b.close, period: 14))
        expectAgreement("min20", Indicators.rollingMin(b.close, period: 20))
        expectAgreement("max20", Indicators.rollingMax(b.close, period: 20))
    }

    @Test("volume and trend: OBV, VWAP, ADX")
    func volumeTrend() {
        expectAgreement("obv", Indicators.obv(close: b.close, volume: b.volume))
        expectAgreement("vwap20", Indicators.vwap(high: b.high, low: b.low, close: b.close, volume: b.volume, period: 20))
        expectAgreement("adx14", Indicators.adx(high: b.high, low: b.low, close: b.close, period: 14))
    }
}

/// Bitwise equality, NaN equal to NaN.
func identical(_ a: [Double], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}

@Suite("Streaming indicators reproduce the batch values exactly")
struct StreamingEqualsBatchTests {
    let b = TALibFixture.bars

    @Test("single-input indicators")
    func singleInput() {
        var sma = SMA(period: 20)
        var ema = EMA(period: 20)
        var wma = WMA(period: 20)
        var rsi = RSI(period: 14)
        var mom = Momentum(period: 10)
        var roc = RateOfChange(period: 10)
        var ret = Returns()
        var lr = LogReturns()
        var sd = StdDev(period: 20, deviations: 2)
        var z = ZScore(period: 20)
        var mn = RollingMin(period: 20)
        var mx = RollingMax(period: 20)
        var macd = MACD()
        var bb = BollingerBands(period: 20)
        var out = [[Double]](repeating: [], count: 16)
        for x in b.close {
            out[0].append(sma.update(x))
            out[1].append(ema.update(x))
            out[2].append(wma.update(x))
            out[3].append(rsi.update(x))
            out[4].append(mom.update(x))
            out[5].append(roc.update(x))
            out[6].append(ret.update(x))
            out[7].append(lr.update(x))
            out[8].append(sd.update(x))
            out[9].append(z.update(x))
            out[10].append(mn.update(x))
            out[11].append(mx.update(x))
            let m = macd.update(x)
            out[12].append(m.macd)
            out[13].append(m.histogram)
            let v = bb.update(x)
            out[14].append(v.upper)
            out[15].append(v.lower)
        }
        let c = b.close
        let batch: [[Double]] = [
            Indicators.sma(c, period: 20), Indicators.ema(c, period: 20), Indicators.wma(c, period: 20), Indicators.rsi(c, period: 14),
            Indicators.momentum(c, period: 10), Indicators.rateOfChange(c, period: 10), Indicators.returns(c), Indicators.logReturns(c),
            Indicators.stddev(c, period: 20, deviations: 2), Indicators.zscore(c, period: 20), Indicators.rollingMin(c, period: 20),
            Indicators.rollingMax(c, period: 20), Indicators.macd(c).macd, Indicators.macd(c).histogram,
            Indicators.bollinger(c, period: 20).upper, Indicators.bollinger(c, period: 20).lower,
        ]
        for i in 0..<batch.count { #expect(identical(out[i], batch[i]), "indicator #\(i)") }
    }

    @Test("bar-input indicators")
    func barInput() {
        var atr = ATR(period: 14)
        var tr = TrueRange()
        var adx = ADX(period: 14)
        var st = Stochastic(fastK: 14, slowK: 3, slowD: 3)
        var obv = OBV()
        var vwap = VWAP(period: 20)
        var out = [[Double]](repeating: [], count: 7)
        for i in 0..<b.count {
            out[0].append(atr.update(high: b.high[i], low: b.low[i], close: b.close[i]))
            out[1].append(tr.update(high: b.high[i], low: b.low[i], close: b.close[i]))
            out[2].append(adx.update(high: b.high[i], low: b.low[i], close: b.close[i]))
            let s = st.update(high: b.high[i], low: b.low[i], close: b.close[i])
            out[3].append(s.k)
            out[4].append(s.d)
            out[5].append(obv.update(close: b.close[i], volume: b.volume[i]))
            out[6].append(vwap.update(high: b.high[i], low: b.low[i], close: b.close[i], volume: b.volume[i]))
        }
        let s = Indicators.stochastic(high: b.high, low: b.low, close: b.close, fastK: 14, slowK: 3, slowD: 3)
        let batch = [
            Indicators.atr(high: b.high, low: b.low, close: b.close, period: 14), Indicators.trueRange(high: b.high, low: b.low, close: b.close),
            Indicators.adx(high: b.high, low: b.low, close: b.close, period: 14), s.k, s.d, Indicators.obv(close: b.close, volume: b.volume),
            Indicators.vwap(high: b.high, low: b.low, close: b.close, volume: b.volume, period: 20),
        ]
        for i in 0..<batch.count { #expect(identical(out[i], batch[i]), "indicator #\(i)") }
    }

    @Test("skipping runs: rolling min and max (a scanned window) answer as the deque (ties of ±0, NaN); moments and rings keep the same state")
    func rollingExtremesSkippingRuns() {
        var rng = HostileUniverseTests.Rng(state: 11)
        // Few distinct values (many ties), signed zeros, and NaN now and then.
        let palette: [Double] = [-0.0, 0.0, 1, -1, 2, 2.5, -3, .infinity, -.infinity]
        let xs: [Double] = (0..<3_000).map { i in
            let r = Int(rng.next() % 1_000)
            if (1_200..<1_260).contains(i) || (r < 3 && i > 2_000) { return .nan }
            return r < 600 ? palette[r % 2] : palette[r % palette.count]
        }
        for period in [1, 2, 3, 4, 5, 7, 20, 63, 64, 65, 100] {
            var plainMin = RollingMin(period: period)
            var plainMax = RollingMax(period: period)
            var runMin = RollingMin(period: period)
            var runMax = RollingMax(period: period)
            var i = 0
            var length = 1
            var checked = 0
            while i < xs.count {
                let run = Array(xs[i..<min(xs.count, i + length)])
                var expected = (Double.nan, Double.nan)
                for x in run { expected = (plainMin.update(x), plainMax.update(x)) }
                run.dropLast().withUnsafeBufferPointer {
                    runMin.advance(contentsOf: $0)
                    runMax.advance(contentsOf: $0)
                }
                let got = (runMin.update(run.last!), runMax.update(run.last!))
                #expect(got.0.bitPattern == expected.0.bitPattern, "min, period \(period), bars \(i)..<\(i + run.count)")
                #expect(got.1.bitPattern == expected.1.bitPattern, "max, period \(period), bars \(i)..<\(i + run.count)")
                if got.0.bitPattern != expected.0.bitPattern || got.1.bitPattern != expected.1.bitPattern { break }
                i += run.count
                length = length % (2 * period + 3) + 1
                checked += 1
            }
            #expect(i == xs.count && checked > 20, "period \(period)")
        }
        // `plain` takes the prices a value at a time, `runs` in runs whose lengths `next` grows from
        // `length`: the same state after every run.
        let prices = b.close
        func expectSameState<S: Equatable>(
            _ what: String,
            _ plain: S,
            length: Int,
            next: (Int) -> Int,
            push: (inout S, Double) -> Void,
            pushRun: (inout S, UnsafeBufferPointer<Double>) -> Void
        ) {
            var plain = plain
            var runs = plain
            var i = 0
            var length = length
            while i < prices.count {
                let run = Array(prices[i..<min(prices.count, i + length)])
                for x in run { push(&plain, x) }
                run.withUnsafeBufferPointer { pushRun(&runs, $0) }
                #expect(runs == plain, "\(what), values \(i)..<\(i + run.count)")
                if runs != plain { break }
                i += run.count
                length = next(length)
            }
            #expect(i == prices.count, "\(what)")
        }
        // Rolling moments skip the Welford steps before a run's last re-anchoring: the same state.
        for period in [1, 2, 5, 20, 60] {
            expectSameState(
                "moments, period \(period)",
                RollingMoments(period: period),
                length: 1,
                next: { $0 % (3 * period + 2) + 1 },
                push: { _ = $0.push($1) },
                pushRun: { $0.push(contentsOf: $1) }
            )
        }
        // Rings take a run in at most two copies: the state of one push a value.
        for capacity in [1, 2, 7, 20, 120] {
            expectSameState(
                "ring, capacity \(capacity)",
                RingBuffer(capacity: capacity),
                length: 0,
                next: { ($0 + 1) % (2 * capacity + 3) },
                push: { _ = $0.push($1) },
                pushRun: { $0.push(contentsOf: $1) }
            )
        }
        // The scan is taken: a run as long as the window leaves the deque aside.
        var w = MonotonicWindow(period: 20, isMax: false)
        Array(repeating: 1.0, count: 25).withUnsafeBufferPointer { w.push(contentsOf: $0) }
        #expect(w.scanning && w.push(-0.0).sign == .minus && w.push(0.0).sign == .plus)
    }
}

@Suite("Indicator edge cases")
struct IndicatorEdgeTests {
    @Test("warm-up lengths follow TA-Lib")
    func lookbacks() {
        #expect(SMA(period: 20).lookback == 19)
        #expect(EMA(period: 20).lookback == 19)
        #expect(RSI(period: 14).lookback == 14)
        #expect(ATR(period: 14).lookback == 14)
        #expect(MACD().lookback == 33)
        #expect(ADX(period: 14).lookback == 27)
        #expect(Stochastic().lookback == 8)
    }

    @Test("flat prices: RSI 0, σ 0, z-score 0, stochastic 0, no NaN after warm-up")
    func flat() {
        let x = [Double](repeating: 1.5, count: 60)
        #expect(Indicators.rsi(x).last == 0)
        #expect(Indicators.stddev(x, period: 10).last == 0)
        #expect(Indicators.zscore(x, period: 10).last == 0)
        #expect(Indicators.stochastic(high: x, low: x, close: x).k.last == 0)
        #expect(Indicators.bollinger(x, period: 10).upper.last == 1.5)
    }

    @Test("rolling min/max track a known window exactly")
    func minMax() {
        let x: [Double] = [5, 3, 8, 1, 9, 2, 7]
        #expect(Array(Indicators.rollingMin(x, period: 3).dropFirst(2)) == [3, 1, 1, 1, 2])
        #expect(Array(Indicators.rollingMax(x, period: 3).dropFirst(2)) == [8, 8, 9, 9, 9])
    }

    @Test("WMA and EMA on a hand-computed series")
    func handComputed() {
        let x: [Double] = [1, 2, 3, 4]
        #expect(Indicators.wma(x, period: 3)[2] == (1 + 4 + 9) / 6.0)
        #expect(Indicators.wma(x, period: 3)[3] == (2 + 6 + 12) / 6.0)
        let e = Indicators.ema(x, period: 3)
        #expect(e[2] == 2)
        #expect(e[3] == (4 - 2) * 0.5 + 2)
        #expect(StdDev.sampleFromPopulation(1, period: 4) == (4.0 / 3.0).squareRoot())
    }
}

@Suite("Standard deviation accuracy")
struct StdDevAccuracyTests {
    @Test("rolling σ stays accurate on prices with a tiny spread (no cancellation)")
    func tinySpread() {
        // Prices near 1.05 moving by 1e-5: naive E[x²] − E[x]² loses ~8 digits here.
        var x: [Double] = []
        var seed: UInt64 = 1
        for _ in 0..<5000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            x.append(1.05 + Double(seed >> 40) / Double(1 << 24) * 1e-4)
        }
        let ours = Indicators.stddev(x, period: 20)
        var worst = 0.0
        for t in 19..<x.count {
            let w = x[(t - 19)...t]
            let m = w.reduce(0, +) / 20
            let exact = (w.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 20).squareRoot()
            worst = max(worst, abs(ours[t] - exact) / exact)
        }
        #expect(worst < 1e-9, "worst relative error \(worst)")
    }
}
