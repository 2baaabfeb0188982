import CrocCore
import CrocSupport
import Foundation
import Testing

@testable import CrocData

@Suite("Feature pipeline")
struct FeaturePipelineTests {
    let bars = TALibFixture.bars

    @Test("the standard pipeline: about 20 columns, batch rows equal streaming vectors bit for bit")
    func batchEqualsStream() {
        let pipeline = FeaturePipeline(.standard)
        #expect(pipeline.width == 22)
        let m = pipeline.transform(bars)
        #expect(m.rows == bars.count)
        var stream = pipeline.makeStream()
        for i in 0..<bars.count {
            let v = stream.update(bars[i])
            let row = m.row(i)
            #expect(identical(v, row), "row \(i)")
            if !identical(v, row) { break }
        }
        #expect(stream.isWarm)
    }

    @Test("catching up a run of bars at once gives the per-bar stream's vectors bit for bit (every indicator, lags)")
    func chunkedStreamEqualsPerBar() throws {
        let def = try FeaturePipelineDefinition.parse(
            text: """
                features:
                  - {name: p, indicator: price, source: hlc3}
                  - {name: r, indicator: returns, lags: [1, 3]}
                  - {name: lr, indicator: log_returns, params: {period: 5}}
                  - {name: sma, indicator: sma, source: hl2, params: {period: 5}}
                  - {name: ema, indicator: ema, params: {period: 10}}
                  - {name: wma, indicator: wma, params: {period: 7}}
                  - {name: rsi, indicator: rsi, lags: [2]}
                  - {name: rsi5, indicator: rsi, params: {period: 5}}
                  - {name: m, indicator: macd}
                  - {name: bb, indicator: bbands, outputs: [upper, lower]}
                  - {name: atr, indicator: atr}
                  - {name: tr, indicator: trange}
                  - {name: sd, indicator: stddev, params: {period: 20}}
                  - {name: vol, indicator: volatility, params: {period: 20}}
                  - {name: z, indicator: zscore, params: {period: 20}}
                  - {name: lo, indicator: min, params: {period: 20}}
                  - {name: hi, indicator: max, params: {period: 20}}
                  - {name: mom, indicator: mom}
                  - {name: roc, indicator: roc}
                  - {name: st, indicator: stoch}
                  - {name: obv, indicator: obv}
                  - {name: vwap, indicator: vwap}
                  - {name: adx, indicator: adx}
                """
        )
        #expect(Set(def.features.map(\.indicator)) == Set(IndicatorKind.allCases))
        let pipeline = FeaturePipeline(def)
        let all = (0..<bars.count).map { bars[$0] }
        // Runs of 1, 2, ... 40 bars, then again: every run length meets every phase of the windows.
        // Starting at 1 and at 2: a warm-up's last step (an RSI's seed, a window filling) falls
        // inside a run in one of the two, where a run only advances the states.
        for firstLength in [1, 2] {
            var perBar = pipeline.makeStream()
            var chunked = pipeline.makeStream()
            var i = 0
            var length = firstLength
            var checked = 0
            while i < all.count {
                let run = Array(all[i..<min(all.count, i + length)])
                var expected: [Double] = []
                for bar in run { expected = perBar.update(bar) }
                run.withUnsafeBufferPointer { chunked.update(contentsOf: $0) }
                #expect(identical(chunked.vector, expected), "bars \(i)..<\(i + run.count)")
                #expect(chunked.barCount == perBar.barCount && chunked.isWarm == perBar.isWarm)
                if !identical(chunked.vector, expected) { break }
                i += run.count
                length = length % 40 + 1
                checked += 1
            }
            #expect(checked > 40 && perBar.isWarm)
        }
    }

    @Test("a copied stream is independent of its original (the states are values, copied on first write)")
    func copiedStreamIsIndependent() {
        let pipeline = FeaturePipeline(.standard)
        var original = pipeline.makeStream()
        for i in 0..<300 { original.update(bars[i]) }
        var copy = original
        var reference = pipeline.makeStream()
        for i in 0..<300 { reference.update(bars[i]) }
        // The copy runs on; the original must not move, and must then continue as the reference.
        let run = (300..<360).map { bars[$0] }
        run.withUnsafeBufferPointer { copy.update(contentsOf: $0) }
        #expect(original.barCount == 300 && copy.barCount == 360)
        for bar in run {
            #expect(identical(original.update(bar), reference.update(bar)))
        }
        #expect(identical(original.vector, copy.vector))
    }

    @Test("columns are the indicators' own values; lags are shifted copies")
    func columnsAndLags() throws {
        let def = try FeaturePipelineDefinition.parse(
            text: """
                features:
                  - {name: r, indicator: returns, lags: [1, 3]}
                  - {name: m, indicator: macd, outputs: [hist]}
                  - {name: hl, indicator: sma, source: hl2, params: {period: 5}}
                """
        )
        let p = FeaturePipeline(def)
        #expect(p.columnNames == ["r", "r_lag1", "r_lag3", "m_hist", "hl"])
        #expect(p.warmup == 33)
        let m = p.transform(bars)
        let r = Indicators.returns(bars.close)
        #expect(identical(Array(m.column(named: "r")!), r))
        let lag3 = Array(m.column(named: "r_lag3")!)
        #expect(lag3[0...2].allSatisfy { $0.isNaN })
        #expect(identical(Array(lag3[3...]), Array(r[..<(r.count - 3)])))
        #expect(identical(Array(m.column(named: "m_hist")!), Indicators.macd(bars.close).histogram))
        let hl2 = bars.indices.map { (bars.high[$0] + bars.low[$0]) / 2 }
        #expect(identical(Array(m.column(named: "hl")!), Indicators.sma(hl2, period: 5)))
        #expect(m.row(p.warmup).allSatisfy { !$0.isNaN })
        #expect(m.row(p.warmup - 1).contains { $0.isNaN })
    }

    @Test("a definition round-trips through JSON (so it can travel with a model)")
    func codable() throws {
        let data = try JSONEncoder().encode(FeaturePipelineDefinition.standard)
        let back = try JSONDecoder().decode(FeaturePipelineDefinition.self, from: data)
        #expect(back == .standard)
    }

    @Test(
        "validation errors name the key path",
        arguments: [
            ("features: [{name: x, indicator: nope}]", "features[0].indicator", "unknown indicator"),
            ("features: [{name: x}]", "features[0].indicator", "required"),
            ("features: [{indicator: rsi, params: {period: 1}}]", "features[0].params.period", "must be in"),
            ("features: [{indicator: rsi, params: {periode: 5}}]", "features[0].params.periode", "unknown key"),
            ("features: [{indicator: sma, params: {period: 2.5}}]", "features[0].params.period", "integer"),
            ("features: [{indicator: macd, params: {fast: 30}}]", "features[0].params.fast", "less than slow"),
            ("features: [{indicator: atr, source: close}]", "features[0].source", "takes no source"),
            ("features: [{indicator: sma, source: vwap}]", "features[0].source", "must be one of"),
            ("features: [{indicator: sma, lags: [0]}]", "features[0].lags[0]", "1...10000"),
            ("features: [{indicator: sma, lags: 3}]", "features[0].lags", "list"),
            ("features: [{indicator: macd, outputs: [line]}]", "features[0].outputs[0]", "macd outputs are"),
            ("features: [{indicator: rsi}, {indicator: rsi}]", "features[1].name", "already produced"),
            ("features: [{indicator: rsi, name: 'a b'}]", "features[0].name", "letters"),
            ("features: []", "features", "at least one"),
            ("feature: []", "feature", "unknown key"),
        ]
    )
    func errors(yaml: String, path: String, rule: String) {
        let e = #expect(throws: ConfigError.self) { try FeaturePipelineDefinition.parse(text: yaml, source: "f.yaml") }
        #expect(e?.keyPath == path)
        #expect(e?.rule.contains(rule) == true, "\(e?.rule ?? "")")
    }

    @Test("the matrix writes CSV with empty fields for warm-up")
    func csv() throws {
        let def = try FeaturePipelineDefinition.parse(text: "[{name: s, indicator: sma, params: {period: 2}}]")
        let m = FeaturePipeline(def).transform(bars.slice(0..<3))
        let lines = m.csv().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "time,s")
        #expect(lines[1] == "2017-01-01T22:00:00,")
        #expect(lines[2] == "2017-01-01T23:00:00,\((bars.close[0] + bars.close[1]) * 0.5)")
    }
}
