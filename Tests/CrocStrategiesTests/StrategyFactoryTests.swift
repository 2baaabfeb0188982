import CrocCore
import CrocSupport
import Testing

@testable import CrocStrategies

@Suite("StrategyFactory")
struct StrategyFactoryTests {
    @Test("builds sma_cross with defaults and with parameters")
    func builds() throws {
        let f = StrategyFactory.standard
        #expect(
            f.names == [
                "equal_weight", "inverse_volatility", "min_variance", "model", "model_topk", "momentum_topk", "pairs", "rl", "rl_portfolio",
                "sma_cross",
            ]
        )
        let d = try f.make("sma_cross")
        #expect(d.name == "sma_cross(10,20)")
        #expect(d.warmupBars == 19)
        let p = try f.make("sma_cross", parameters: ["fast": .int(5), "slow": .string("30")])
        #expect(p.name == "sma_cross(5,30)")
        let c = try f.make(StrategyConfig(name: "sma_cross", params: ["fast": .double(3)]))
        #expect(c.name == "sma_cross(3,20)")
    }

    @Test(
        "errors name the parameter and the rule",
        arguments: [
            ("nope", [String: ConfigValue](), StrategyError.Code.unknownStrategy, "strategy.name"),
            ("sma_cross", ["fats": .int(5)], .unknownParameter, "strategy.params.fats"),
            ("sma_cross", ["fast": .int(30)], .invalidParameter, "strategy.params.fast"),
            ("sma_cross", ["fast": .int(0)], .invalidParameter, "strategy.params.fast"),
            ("sma_cross", ["slow": .string("ten")], .invalidParameter, "strategy.params.slow"),
            ("sma_cross", ["fast": .double(2.5)], .invalidParameter, "strategy.params.fast"),
        ]
    )
    func errors(name: String, params: [String: ConfigValue], code: StrategyError.Code, path: String) {
        let e = #expect(throws: StrategyError.self) { try StrategyFactory.standard.make(name, parameters: params) }
        #expect(e?.code == code)
        #expect(e?.keyPath == path)
    }

    @Test("custom strategies register by name")
    func register() throws {
        struct Idle: Strategy {
            var name: String { "idle" }
            var warmupBars: Int { 0 }
            mutating func onBar(_ bar: Bar, context: inout StrategyContext) {}
        }
        var f = StrategyFactory()
        f.register("idle", summary: "does nothing") { (_: inout StrategyParameters) throws(StrategyError) -> any Strategy in Idle() }
        #expect(try f.make("idle").name == "idle")
    }
}

@Suite("SMACrossStrategy")
struct SMACrossTests {
    func run(_ closes: [Double], fast: Int = 2, slow: Int = 3, position: (Int) -> Quantity = { _ in .zero }) -> [(Int, StrategyCommand)] {
        var s = SMACrossStrategy(fast: fast, slow: slow)
        var ctx = StrategyContext(instrument: Instrument(symbol: "X"), fees: .free)
        var out: [(Int, StrategyCommand)] = []
        for (i, c) in closes.enumerated() {
            ctx.barIndex = i
            ctx.position = position(i)
            ctx.cash = FixedPoint(1000)
            s.onBar(Bar(timestamp: Timestamp(seconds: Int64(i)), open: c, high: c, low: c, close: c, volume: 0), context: &ctx)
            for cmd in ctx.commands { out.append((i, cmd)) }
            ctx.commands.removeAll()
        }
        return out
    }

    @Test("buys all-in on a cross above, on the bar of the cross")
    func crossUp() throws {
        // SMA2 vs SMA3: bars 2,3 fast < slow; bar 4 fast > slow.
        let cmds = run([10, 9, 8, 7, 12])
        #expect(cmds.count == 1)
        let (i, cmd) = try #require(cmds.first)
        #expect(i == 4)
        guard case .submit(let o) = cmd else {
            Issue.record("expected an order")
            return
        }
        #expect(o.side == .buy)
        #expect(o.size == .cashFraction(.one))
        #expect(o.type == .market)
    }

    @Test("closes the position on a cross below and ignores it when flat")
    func crossDown() throws {
        let closes: [Double] = [1, 2, 3, 4, 1]
        #expect(run(closes).isEmpty)  // flat: nothing to close
        let cmds = run(closes, position: { _ in FixedPoint(7) })
        #expect(cmds.count == 1)
        guard case .submit(let o) = cmds[0].1 else {
            Issue.record("expected an order")
            return
        }
        #expect(o.side == .sell)
        #expect(o.size == .quantity(FixedPoint(7)))
    }

    @Test("touching without crossing (fast == slow) is not a cross")
    func equalIsNotCross() {
        // SMA2 == SMA3 on bar 2 ([1,1,1]); then fast rises above: previous was equal, not below.
        #expect(run([1, 1, 1, 5]).isEmpty)
    }

    @Test("no signal before the slow window is full")
    func warmup() {
        #expect(run([5, 1, 9], fast: 1, slow: 3).isEmpty)
    }
}
