import CrocCore
import CrocData
import CrocEngine
import CrocModels
import CrocRuntime
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

@Suite("Trading environment")
struct TradingEnvironmentTests {
    static let series = try! CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/EURUSD_1H_ASK.csv").path)
    static let features = try! FeaturePipelineDefinition.parse(text: "[{name: r, indicator: returns, lags: [1]}, {name: rsi, indicator: rsi}]")

    func env(_ actions: TradingActions = .flatLong) throws -> TradingEnvironment {
        var c = TradingEnvironmentConfig()
        c.window = 8
        c.episodeLength = 200
        c.actions = actions
        c.cash = 100_000
        return try TradingEnvironment(series: Self.series, features: Self.features, config: c)
    }

    @Test("the Gymnasium contract: seeded reset, observation size, truncation after the episode length")
    func contract() throws {
        var e = try env()
        let o1 = e.reset(seed: 5)
        #expect(o1.count == e.observationSize && e.observationSize == 8 * 3 + 2)
        #expect(e.actionSpace == .discrete(2))
        var f = try env()
        #expect(f.reset(seed: 5) == o1)
        var steps = 0
        var last = StepResult(observation: [], reward: 0, terminated: false, truncated: false)
        while !last.truncated && !last.terminated {
            last = e.step(.discrete(steps % 7 < 3 ? 1 : 0))
            steps += 1
            #expect(last.observation.count == e.observationSize)
        }
        #expect(steps == 200 && last.truncated)
    }

    @Test(
        "an episode replayed through the backtest gives the same equity, bar for bar",
        arguments: [TradingActions.flatLong, .shortFlatLong, .continuous]
    )
    func parity(actions: TradingActions) throws {
        var e = try env(actions)
        _ = e.reset(seed: 11)
        var rng = SplitMix64(seed: 3)
        var rewards = 0.0
        var r = StepResult(observation: [], reward: 0, terminated: false, truncated: false)
        var trades = 0
        while !r.truncated && !r.terminated {
            let a: Action = actions == .continuous ? .continuous(rng.uniform() * 2 - 1) : .discrete(Int(rng.next() % (actions == .flatLong ? 2 : 3)))
            r = e.step(a)
            rewards += r.reward
            if abs(e.exposure()) > 0.01 { trades += 1 }
        }
        #expect(trades > 10)
        let slice = Self.series.slice(e.episodeStart..<(e.bar + 1))
        let replay = TargetScheduleStrategy(schedule: e.actionLog)
        let options = BacktestOptions(cash: FixedPoint(100_000), fees: e.config.fees, finalize: .none, allowShort: actions != .flatLong)
        let bt = try Backtester.run(
            series: slice,
            instrument: Instrument(symbol: slice.symbol, pricePrecision: slice.pricePrecision),
            strategy: replay,
            options: options
        )
        #expect(bt.equity == e.equityCurve)
        #expect(abs(rewards - (e.equityCurve.last! - 100_000) / 100_000) < 1e-9)  // rewards sum to the equity change
        #expect(r.info["equity"] == e.equityCurve.last)  // the episode summary
    }

    @Test("an action decided after observing bar t fills at bar t+1's open, as a strategy's order would")
    func latency() throws {
        var e = try env()
        e.reset(at: 300)
        _ = e.step(.discrete(1))
        let fill = try #require(e.engine.fills.first)
        #expect(fill.barIndex == 1)  // the engine's bar 1 = series bar 301
        #expect(fill.price == FixedPoint(unchecked: Self.series.open[301]).rounded(toDecimals: Self.series.pricePrecision))
        #expect(e.exposure() > 0.9)
    }

    @Test("commission and slippage reduce the reward of the same trades")
    func costs() throws {
        var cheap = TradingEnvironmentConfig()
        cheap.window = 8
        cheap.fees = .free
        var dear = cheap
        dear.fees = FeeModel(commissionRate: FixedPoint("0.002")!, slippageBps: FixedPoint(5))
        var a = try TradingEnvironment(series: Self.series, features: Self.features, config: cheap)
        var b = try TradingEnvironment(series: Self.series, features: Self.features, config: dear)
        a.reset(at: 100)
        b.reset(at: 100)
        var ra = 0.0
        var rb = 0.0
        for t in 0..<100 {
            ra += a.step(.discrete(t % 10 < 5 ? 1 : 0)).reward
            rb += b.step(.discrete(t % 10 < 5 ? 1 : 0)).reward
        }
        #expect(rb < ra - 0.01)
    }
}
