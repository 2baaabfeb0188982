import CrocCore
import CrocData
import CrocStrategies
import CrocSupport
import Foundation
import Testing

@Suite("Portfolio allocators: weights, no look-ahead, validated parameters")
struct PortfolioAllocatorTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/portfolio").path

    static func panel() throws -> ClosePanel { ClosePanel(try UniverseLoader.load(path: "\(repo)/Examples/data/SP500_10_CLOSE.csv")) }

    /// The fixture's rebalance rows: date → weights.
    static func fixtureWeights(_ name: String) throws -> [String: [Double]] {
        let text = try String(contentsOfFile: "\(fixtures)/\(name).weights.csv", encoding: .utf8)
        var out: [String: [Double]] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            out[f[0]] = f.dropFirst().map { Double($0)! }
        }
        return out
    }

    /// Every decision of `allocator` over the panel, by date.
    static func decisions(_ allocator: any PortfolioAllocator, _ panel: ClosePanel) -> [String: [Double]] {
        var out: [String: [Double]] = [:]
        for t in panel.times.indices { if let w = allocator.weights(panel, at: t) { out[Timestamp(nanoseconds: panel.times[t]).description] = w } }
        return out
    }

    @Test func momentumTopKAndEqualWeightDecideWhatTheReferenceScriptDecided() throws {
        let p = try Self.panel()
        let momentum = try PortfolioAllocators.make(
            "momentum_topk",
            parameters: ["lookback": .int(126), "top": .int(3), "rebalance": .int(21)],
            symbols: p.symbols
        )
        #expect(Self.decisions(momentum, p) == (try Self.fixtureWeights("momentum_top3_126_21")))
        let equal = try PortfolioAllocators.make("equal_weight", parameters: ["rebalance": .int(21)], symbols: p.symbols)
        #expect(Self.decisions(equal, p) == (try Self.fixtureWeights("equal_weight_21")))
    }

    @Test(arguments: ["equal_weight", "inverse_volatility", "momentum_topk", "min_variance"])
    func noLookAhead(name: String) throws {
        let p = try Self.panel()
        let a = try PortfolioAllocators.make(
            name,
            parameters: name == "equal_weight" ? ["rebalance": .int(5)] : ["rebalance": .int(5), "lookback": .int(40)],
            symbols: p.symbols
        )
        var checked = 0
        for t in stride(from: a.firstDecision, to: 1200, by: 5) {
            // Only the closes up to t: the decision must not change.
            let cut = ClosePanel(symbols: p.symbols, times: Array(p.times[...t]), closes: p.closes.map { Array($0[...t]) })
            let full = a.weights(p, at: t)
            #expect(full == a.weights(cut, at: t), "\(name) at \(t)")
            if let w = full {
                #expect(w.allSatisfy { $0 >= 0 } && w.reduce(0, +) <= 1 + 1e-12)
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    @Test func aRollingPanelsRowsReadWholeEqualTheirClosesOneByOne() {
        // A window of 4 rows over 11 appended: the ring wraps twice; gaps stay NaN.
        var p = ClosePanel(symbols: ["A", "B", "C"], window: 4)
        for t in 0..<11 {
            p.append(time: Int64(t)) { row in
                row[0] = 100 + Double(t)
                if t % 3 != 0 { row[1] = 50 - Double(t) }
                row[2] = Double(t * t)
            }
        }
        for t in 7..<11 {
            let whole = p.withRow(t) { Array($0) }
            #expect(whole.count == 3)
            for s in 0..<3 {
                let one = p.close(s, t)
                #expect(whole[s] == one || (whole[s].isNaN && one.isNaN), "row \(t), symbol \(s)")
            }
        }
        #expect(p.withRow(9) { $0[1].isNaN } && p.withRow(10) { $0[1] } == 40)
    }

    @Test func aSymbolWithoutACloseAtTheDecisionGetsNoWeight() {
        let nan = Double.nan
        let p = ClosePanel(symbols: ["A", "B", "C"], times: [0, 1, 2], closes: [[10, 11, 12], [5, nan, 6], [20, 30, nan]])
        #expect(EqualWeightAllocator(rebalance: 1).weights(p, at: 1) == [0.5, 0, 0.5])
        // At t = 2, C has no close and B's return is 20 %, A's 20 %: a tie broken by symbol order.
        #expect(MomentumTopKAllocator(lookback: 2, top: 1, rebalance: 1).weights(p, at: 2) == [1, 0, 0])
        #expect(MomentumTopKAllocator(lookback: 2, top: 2, rebalance: 1).weights(p, at: 2) == [0.5, 0.5, 0])
        #expect(MomentumTopKAllocator(lookback: 2, top: 1, rebalance: 1).weights(p, at: 1) == nil)  // before its first decision
    }

    /// What `momentum_topk` is defined to hold: every return sorted (highest first, ties by
    /// symbol order), the first `top` of them.
    static func referenceTopK(_ p: ClosePanel, lookback: Int, top: Int, at t: Int) -> [Double] {
        var ranked: [(ret: Double, index: Int)] = []
        for s in p.symbols.indices where !p.close(s, t).isNaN && !p.close(s, t - lookback).isNaN {
            ranked.append((p.close(s, t) / p.close(s, t - lookback) - 1, s))
        }
        ranked.sort { $0.ret != $1.ret ? $0.ret > $1.ret : $0.index < $1.index }
        var w = [Double](repeating: 0, count: p.symbols.count)
        for r in ranked.prefix(top) { w[r.index] = 1.0 / Double(top) }
        return w
    }

    @Test func momentumTopKHoldsTheSortedTopOfAWideUniverseWithTiesGapsAndZeroPrices() {
        // 300 symbols whose closes take few distinct values (many equal returns), some gaps, and
        // one symbol at 0 then 0 (a NaN return): the selection must hold exactly the reference's set.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let n = 300
        let bars = 60
        var closes = (0..<n).map { _ in (0..<bars).map { _ in Double(90 + next() % 21) } }
        for s in stride(from: 7, to: n, by: 37) { closes[s][bars - 1] = .nan }
        let p = ClosePanel(symbols: (0..<n).map { "S\($0)" }, times: (0..<bars).map(Int64.init), closes: closes)
        for top in [1, 7, 50, 299, 300] {
            for t in 20..<bars {
                let a = MomentumTopKAllocator(lookback: 20, top: top, rebalance: 1)
                #expect(a.weights(p, at: t) == Self.referenceTopK(p, lookback: 20, top: top, at: t), "top \(top) at \(t)")
            }
        }
        var zero = closes
        zero[3] = [Double](repeating: 0, count: bars)
        let pz = ClosePanel(symbols: p.symbols, times: p.times, closes: zero)
        let topTen = MomentumTopKAllocator(lookback: 20, top: 10, rebalance: 1)
        #expect(topTen.weights(pz, at: 40) == Self.referenceTopK(pz, lookback: 20, top: 10, at: 40))
    }

    @Test func inverseVolatilityAndMinimumVarianceOnKnownCases() {
        // Two symbols with independent returns of standard deviation s and 2s (alternating +-).
        let n = 64
        var a: [Double] = [100]
        var b: [Double] = [100]
        for i in 0..<n {
            a.append(a.last! * (1 + (i % 2 == 0 ? 0.01 : -0.01)))
            b.append(b.last! * (1 + ((i / 2) % 2 == 0 ? 0.02 : -0.02)))
        }
        let p = ClosePanel(symbols: ["A", "B"], times: (0...n).map(Int64.init), closes: [a, b])
        let iv = InverseVolatilityAllocator(lookback: n, rebalance: 1).weights(p, at: n)!
        let sa = PortfolioMath.standardDeviation(PortfolioMath.returns(a, through: n, count: n)!)!
        let sb = PortfolioMath.standardDeviation(PortfolioMath.returns(b, through: n, count: n)!)!
        #expect(abs(iv[0] - (1 / sa) / (1 / sa + 1 / sb)) < 1e-15 && abs(iv[0] + iv[1] - 1) < 1e-15)
        #expect(iv[0] > 0.66 && iv[0] < 0.67)  // sd ratio 1:2
        // Uncorrelated: the minimum-variance weights are proportional to 1/variance.
        let sigma: [[Double]] = [[1, 0], [0, 4]]
        let w = PortfolioMath.minimumVarianceLongOnly(sigma)
        #expect(abs(w[0] - 0.8) < 1e-9 && abs(w[1] - 0.2) < 1e-9)
        // A third asset perfectly correlated with the first and riskier: long-only leaves it out.
        let w3 = PortfolioMath.minimumVarianceLongOnly([[1, 0, 1.5], [0, 4, 0], [1.5, 0, 2.25]])
        #expect(abs(w3[0] - 0.8) < 1e-6 && abs(w3[1] - 0.2) < 1e-6 && w3[2] < 1e-9)
    }

    @Test func minimumVarianceMeetsTheOptimalityConditionsOnRealData() throws {
        let p = try Self.panel()
        let a = MinimumVarianceAllocator(lookback: 126, rebalance: 21)
        for t in [126, 126 + 21 * 90, 126 + 21 * 375] {  // rebalance bars
            let series = p.closes.map { PortfolioMath.returns($0, through: t, count: 126)! }
            let sigma = PortfolioMath.covariance(series)
            guard let w = a.weights(p, at: t) else {
                Issue.record("no decision at rebalance bar \(t)")
                continue
            }
            #expect(abs(w.reduce(0, +) - 1) < 1e-9)
            // KKT: the marginal variance (Σw)_i is the same for every held symbol and no smaller for the others.
            let marginal = sigma.map { row in zip(row, w).reduce(0) { $0 + $1.0 * $1.1 } }
            let held = w.indices.filter { w[$0] > 1e-7 }
            let level = held.map { marginal[$0] }.reduce(0, +) / Double(held.count)
            for i in held { #expect(abs(marginal[i] - level) <= 1e-6 * abs(level) + 1e-12) }
            for i in w.indices where w[i] <= 1e-7 { #expect(marginal[i] >= level * (1 - 1e-6)) }
        }
    }

    @Test func parametersAreValidatedAgainstTheUniverse() {
        #expect(throws: StrategyError(.invalidParameter, keyPath: "strategy.params.top", rule: "must be at most the universe's 2 symbols, found 3")) {
            try PortfolioAllocators.make("momentum_topk", parameters: ["top": .int(3)], symbols: ["A", "B"])
        }
        let unknown = #expect(throws: StrategyError.self) {
            try PortfolioAllocators.make("equal_weight", parameters: ["lookbak": .int(3)], symbols: ["A"])
        }
        #expect(unknown?.code == .unknownParameter && unknown?.keyPath == "strategy.params.lookbak")
        let name = #expect(throws: StrategyError.self) { try PortfolioAllocators.make("risk_parity", parameters: [:], symbols: ["A"]) }
        #expect(name?.keyPath == "strategy.name")
        let zero = #expect(throws: StrategyError.self) {
            try PortfolioAllocators.make("min_variance", parameters: ["lookback": .int(1)], symbols: ["A"])
        }
        #expect(zero?.keyPath == "strategy.params.lookback")
    }
}
