import CrocData
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

@Suite("Cross-sectional factor evaluation and transforms (SciPy and pandas fixtures)")
struct FactorEvaluationTests {
    struct Reference: Decodable {
        var times: [Int64]
        var scores: [[Double?]]
        var returns: [[Double?]]
        var quantiles: Int
        var topK: Int
        var ic: [Double?]
        var rankIC: [Double?]
        var icSummary: [Double]
        var rankICSummary: [Double]
        var rankICByYear: [[Double]]
        var quantileMeanReturns: [Double?]
        var spread: [Double?]
        var cumulativeSpread: [Double?]
        var topKHitRate: Double
        var topKTurnover: Double
        var row: [Double?]
        var rowRank: [Double?]
        var rowZScore: [Double?]
        var rowDemeaned: [Double?]
        var rowWinsorized: [Double?]
    }

    static func reference() throws -> Reference {
        let url = repoRoot.appendingPathComponent("Tests/CrocPipelinesTests/Fixtures/factor/reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    static func values(_ a: [Double?]) -> [Double] { a.map { $0 ?? .nan } }

    /// Equal to 1e-9 relative (absolute near zero); NaN only where the fixture has none.
    static func expectClose(_ a: [Double], _ b: [Double?], _ what: String) {
        #expect(a.count == b.count, "\(what): \(a.count) values, fixture \(b.count)")
        for (i, (x, y)) in zip(a, b).enumerated() {
            guard let y else {
                #expect(x.isNaN, "\(what)[\(i)]: \(x), fixture none")
                continue
            }
            #expect(abs(x - y) <= 1e-9 * max(1, abs(y)), "\(what)[\(i)]: \(x) vs \(y)")
        }
    }

    @Test("IC, rank IC, their summaries and years, quantile returns, the spread, top-k hit rate and turnover match SciPy/pandas")
    func evaluationMatches() throws {
        let r = try Self.reference()
        let e = try FactorEvaluation.evaluate(
            times: r.times,
            scores: r.scores.map(Self.values),
            forwardReturns: r.returns.map(Self.values),
            quantiles: r.quantiles,
            topK: r.topK
        )
        Self.expectClose(e.ic, r.ic, "ic")
        Self.expectClose(e.rankIC, r.rankIC, "rank ic")
        Self.expectClose([e.icSummary.mean, e.icSummary.sd, e.icSummary.ir], r.icSummary, "ic summary")
        Self.expectClose([e.rankICSummary.mean, e.rankICSummary.sd, e.rankICSummary.ir], r.rankICSummary, "rank ic summary")
        #expect(e.rankICByYear.map(\.year) == r.rankICByYear.map { Int($0[0]) })
        Self.expectClose(e.rankICByYear.map(\.mean), r.rankICByYear.map { $0[1] }, "rank ic by year")
        Self.expectClose(e.quantileMeanReturns, r.quantileMeanReturns, "quantile mean returns")
        Self.expectClose(e.spread, r.spread, "spread")
        Self.expectClose(e.cumulativeSpread, r.cumulativeSpread, "cumulative spread")
        Self.expectClose([e.topKHitRate, e.topKTurnover], [r.topKHitRate, r.topKTurnover], "top-k")
        // The planted signal shows: a positive rank IC and a rising quantile profile.
        #expect(e.rankICSummary.mean > 0.1)
        #expect(e.quantileMeanReturns.first! < e.quantileMeanReturns.last!)
    }

    @Test("cross-sectional rank, z-score, demean and winsorise of one row match SciPy/NumPy; NaN stays NaN")
    func transformsMatch() throws {
        let r = try Self.reference()
        let row = Self.values(r.row)
        var ranked = row
        CrossSection.rank(&ranked)
        Self.expectClose(ranked, r.rowRank, "rank")
        var z = row
        CrossSection.zscore(&z)
        Self.expectClose(z, r.rowZScore, "zscore")
        var d = row
        CrossSection.demean(&d)
        Self.expectClose(d, r.rowDemeaned, "demean")
        var w = row
        CrossSection.winsorize(&w, lower: 0.05, upper: 0.95)
        Self.expectClose(w, r.rowWinsorized, "winsorize")
        // Ties share their average rank.
        #expect(CrossSection.averageRanks([3, 1, 3, .nan, 2]).map { $0.isNaN ? -1 : $0 } == [3.5, 1, 3.5, -1, 2])
    }

    @Test("z-scores skip what is not finite: NaN and infinities stay, a flat row and one value give NaN, as value by value")
    func zscoreLeavesNonFiniteCells() {
        // Value by value, as the transform is defined: mean and sample sd of the finite cells.
        func reference(_ v: [Double]) -> [Double] {
            let finite = v.filter(\.isFinite)
            guard finite.count > 1 else { return v.map { _ in .nan } }
            var sum = 0.0
            for x in finite { sum += x }
            let mean = sum / Double(finite.count)
            var squares = 0.0
            for x in finite { squares += (x - mean) * (x - mean) }
            let sd = (squares / Double(finite.count - 1)).squareRoot()
            return v.map { x in x.isFinite ? (sd > 0 ? (x - mean) / sd : .nan) : x }
        }
        /// Equal, or within 1e-12 relative for finite values (the transform's sums are partial
        /// sums added pairwise, not one running sum: the last bits may differ).
        func same(_ a: Double, _ b: Double) -> Bool {
            if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
            if !a.isFinite || !b.isFinite { return a == b }
            return abs(a - b) <= 1e-12 * max(1, abs(b))
        }
        let rows: [[Double]] = [
            [1, 2, .nan, 4, .infinity, -.infinity, 7, -0.0],
            [3, 3, 3, .nan, .infinity],  // no spread: finite cells NaN, the infinity stays
            [5, .nan, -.infinity],  // one finite value: all NaN
            [1e308, 1e308, 1, .infinity],  // the sum overflows: the mean is infinite
            (0..<500).map { Double($0 % 37) * 0.25 - 3 },
        ]
        for row in rows {
            var z = row
            CrossSection.zscore(&z)
            let want = reference(row)
            #expect(zip(z, want).allSatisfy { same($0, $1) }, "\(row.prefix(8))")
        }
    }

    @Test("long rows (the radix sort) rank exactly as a comparison sort: ties, signs, zeros of both signs, infinities and NaN, panel or array")
    func longRowsRankExactly() {
        // A naive reference: average ranks by comparing every pair.
        func reference(_ v: [Double]) -> [Double] {
            v.map { x in
                guard x.isFinite else { return .nan }
                let below = v.filter { $0.isFinite && $0 < x }.count
                let equal = v.filter { $0.isFinite && $0 == x }.count
                return Double(below) + Double(equal + 1) / 2
            }
        }
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<60 {
            let n = [48, 49, 64, 500, 1000, 3][trial % 6]
            var row = (0..<n).map { _ -> Double in
                switch Int.random(in: 0..<10, using: &generator) {
                case 0: return Double(Int.random(in: -3...3, using: &generator))  // ties
                case 1: return [0.0, -0.0, .nan, .infinity, -.infinity, 1e300, -1e-300][Int.random(in: 0..<7, using: &generator)]
                default: return Double.random(in: -1...1, using: &generator) * pow(10, Double(Int.random(in: -8...8, using: &generator)))
                }
            }
            if trial % 5 == 0 { row = row.map { abs($0) } }  // all one sign: bytes shared, passes skipped
            // No missing value: the panel path packs such a row by its branch-free loop.
            if trial % 3 == 1 { row = row.map { $0.isFinite ? $0 : 0.5 } }
            // Values within 1e-9 of each other share their high four bytes: short runs of them are
            // ordered by insertion after the high-byte passes, a run longer than 64 by all bytes.
            if trial % 8 == 3 {
                row = row.map { x in
                    guard x.isFinite && abs(x) < 1e6 else { return x }
                    return 1 + Double(Int.random(in: 0..<7, using: &generator)) * 1e-12 + Double(Int(x * 40))
                }
            }
            if trial % 8 == 5 { row = row.indices.map { k in Double(k % 100) - 50 + Double(Int.random(in: 0..<5, using: &generator)) * 1e-12 } }
            if trial % 8 == 7 { row = row.indices.map { _ in 2 + Double(Int.random(in: 0..<1_000, using: &generator)) * 1e-13 } }
            let expected = reference(row)
            let got = CrossSection.averageRanks(row)
            #expect(zip(got, expected).allSatisfy { $0.isNaN ? $1.isNaN : $0 == $1 }, "trial \(trial), n \(n)")
            // The [0, 1] form, through the array and through a reused scratch on a panel row.
            let finite = row.filter(\.isFinite).count
            var ranked = row
            CrossSection.rank(&ranked)
            var scratch = CrossSection.RankScratch()
            var again = row
            again.withUnsafeMutableBufferPointer { CrossSection.rank($0, scratch: &scratch) }
            for k in row.indices {
                let want = row[k].isFinite ? (finite > 1 ? (expected[k] - 1) / Double(finite - 1) : 0.5) : row[k]
                #expect(ranked[k] == want || (ranked[k].isNaN && want.isNaN))
                #expect(again[k] == ranked[k] || (again[k].isNaN && ranked[k].isNaN))
            }
        }
    }

    @Test("mismatched panels and bad parameters are typed errors naming the rule")
    func badInput() {
        #expect(throws: FactorEvaluation.Failure.self) {
            try FactorEvaluation.evaluate(times: [1, 2], scores: [[1]], forwardReturns: [[1], [2]])
        }
        #expect(throws: FactorEvaluation.Failure.shape("date 0: 2 scores but 1 returns")) {
            try FactorEvaluation.evaluate(times: [1], scores: [[1, 2]], forwardReturns: [[1]])
        }
        #expect(throws: FactorEvaluation.Failure.parameter("quantiles must be at least 2, got 1")) {
            try FactorEvaluation.evaluate(times: [1], scores: [[1]], forwardReturns: [[1]], quantiles: 1)
        }
        // Repeated quantile edges (constant scores) skip the date instead of inventing bins.
        let e = try? FactorEvaluation.evaluate(times: [1], scores: [[1, 1, 1, 1, 1, 1]], forwardReturns: [[1, 2, 3, 4, 5, 6]], topK: 2)
        #expect(e?.spread.first?.isNaN == true)
        #expect(e?.ic.first?.isNaN == true)
    }
}

@Suite("Feature panels over a universe")
struct FeaturePanelTests {
    @Test("each symbol's features sit at its own rows of the union calendar; missing bars stay missing; forward returns per symbol")
    func panelAlignment() throws {
        let path = try PortfolioBacktestTests.layouts()[1]
        let u = try UniverseLoader.load(path: path, symbols: ["AAPL", "KO", "GE"])
        let pipeline = FeaturePipeline(
            try FeaturePipelineDefinition.parse(
                text: "features:\n  - {name: ret_5, indicator: returns, params: {period: 5}}\n  - {name: z, indicator: zscore, params: {period: 10}}"
            )
        )
        let panel = FeaturePanel(universe: u, pipeline: pipeline)
        #expect(panel.columnNames == ["ret_5", "z"])
        let ret = try #require(panel.column(named: "ret_5"))
        #expect(ret.count == u.timestamps.count && ret.allSatisfy { $0.count == 3 })
        for (s, member) in u.members.enumerated() {
            let direct = pipeline.transform(member)
            for t in u.timestamps.indices {
                if let i = u.barIndex(symbol: s, time: t) {
                    let a = ret[t][s]
                    let b = direct[i, 0]
                    #expect(a == b || (a.isNaN && b.isNaN), "\(member.symbol) row \(t)")
                } else {
                    #expect(ret[t][s].isNaN, "\(member.symbol) has no bar at row \(t): nothing forward-filled")
                }
            }
        }
        // Every cell of every column, over a universe of more members than one block of 8 (the
        // panel is written 8 members at a time, the last block short): the member's own value or NaN.
        let all = try PortfolioBacktestTests.shipped()
        #expect(all.count > 8 && all.count % 8 != 0)
        let full = FeaturePanel(universe: all, pipeline: pipeline)
        let rows = all.timestamps.count
        for (s, member) in all.members.enumerated() {
            let direct = pipeline.transform(member)
            for c in 0..<pipeline.width {
                for t in 0..<rows {
                    let a = full.values[(c * rows + t) * all.count + s]
                    if let i = all.barIndex(symbol: s, time: t) {
                        #expect(a.bitPattern == direct[i, c].bitPattern || (a.isNaN && direct[i, c].isNaN), "\(member.symbol) column \(c) row \(t)")
                    } else {
                        #expect(a.isNaN, "\(member.symbol) has no bar at row \(t)")
                    }
                }
            }
        }
        let forward = FeaturePanel.forwardReturns(u, horizon: 3)
        let ge = u.index(of: "GE")!
        let member = u.members[ge]
        let t = u.timestamps.firstIndex(of: member.timestamps[10])!
        #expect(forward[t][ge] == member.close[13] / member.close[10] - 1)  // its own next bars, across gaps
        #expect(forward[u.timestamps.count - 1].allSatisfy { $0.isNaN })
        var ranked = panel
        let known = ranked.transform("z", CrossSection.rank)
        let unknown = ranked.transform("nope", CrossSection.rank)
        #expect(known && !unknown)
        let z = try #require(ranked.column(named: "z"))
        #expect(z.joined().filter { $0.isFinite }.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test("a chain of transforms in one pass gives what one pass per transform gives, and each row is the row's transform")
    func chainedTransforms() throws {
        let path = try PortfolioBacktestTests.layouts()[1]
        let u = try UniverseLoader.load(path: path)
        let pipeline = FeaturePipeline(
            try FeaturePipelineDefinition.parse(
                text:
                    "features:\n  - {name: ret_5, indicator: returns, params: {period: 5}}\n  - {name: v, indicator: volatility, params: {period: 10}}"
            )
        )
        let panel = FeaturePanel(universe: u, pipeline: pipeline)
        var chained = panel
        chained.transformAll([.rank, .none, .zscore])
        var separate = panel
        separate.transformAll(.rank)
        separate.transformAll(.zscore)
        #expect(chained.values.count == separate.values.count)
        #expect(zip(chained.values, separate.values).allSatisfy { $0.bitPattern == $1.bitPattern })
        // Row by row through the public one-row transforms.
        let ret = try #require(panel.column(named: "ret_5"))
        let out = try #require(chained.column(named: "ret_5"))
        for t in ret.indices {
            var row = ret[t]
            CrossSectionTransform.rank.apply(&row)
            CrossSectionTransform.zscore.apply(&row)
            #expect(zip(row, out[t]).allSatisfy { $0.bitPattern == $1.bitPattern }, "row \(t)")
        }
        #expect(out.joined().contains { $0.isFinite && $0 < 0 })  // z-scores of ranks, not ranks
        var untouched = panel
        untouched.transformAll([.none])
        #expect(zip(untouched.values, panel.values).allSatisfy { $0.bitPattern == $1.bitPattern })
    }
}
