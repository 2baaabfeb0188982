import CrocCore
import CrocData
import CrocEngine
import CrocModels
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

@Suite("Portfolio RL environment")
struct PortfolioEnvironmentTests {
    static let universe: Universe = {
        try! UniverseLoader.load(path: repoRoot.appendingPathComponent("Examples/data/SP500_10_CLOSE.csv").path).rows(6000..<7000)
    }()
    static let features = try! FeaturePipelineDefinition.parse(
        text:
            "[{name: r5, indicator: returns, params: {period: 5}}, {name: v20, indicator: volatility, params: {period: 20}}, {name: z, indicator: zscore, params: {period: 20}}]"
    )

    static func env(window: Int = 8) throws -> PortfolioEnvironment {
        var c = PortfolioEnvironmentConfig()
        c.window = window
        c.episodeLength = 120
        c.fees = FeeModel(commissionRate: FixedPoint("0.001")!, slippageBps: FixedPoint(5))
        return try PortfolioEnvironment(universe: universe, features: features, config: c)
    }

    static func randomAction(_ rng: inout SplitMix64, _ n: Int) -> Action { .vector((0...n).map { _ in rng.uniform() * 4 - 2 }) }

    @Test("observations are each symbol's feature window plus the weights; actions are softmax weights with cash")
    func shapes() throws {
        var e = try Self.env()
        let obs = e.reset(seed: 1)
        #expect(e.observationSize == 10 * 8 * 3 + 11 && obs.count == e.observationSize)
        #expect(e.actionSpace == .vector(11))
        #expect(Array(obs.suffix(11)) == [Double](repeating: 0, count: 10) + [1])  // all cash at the start
        // The window of symbol 2 is its features at the last 8 rows, oldest first.
        let panel = FeaturePanel(universe: Self.universe, pipeline: FeaturePipeline(Self.features))
        let z = panel.column(named: "z")!
        #expect(obs[2 * 24 + 7 * 3 + 2] == z[e.row][2] && obs[2 * 24 + 2] == z[e.row - 7][2])
        var w = [Double](repeating: 0, count: 3)
        PortfolioEnvironment.weights([0, 0, log(2)], into: &w)
        #expect(abs(w[0] - 0.25) < 1e-15 && abs(w[2] - 0.5) < 1e-15)
        // After a step toward 50 % in symbol 0 and the rest in cash, the observed weights follow.
        let r = e.step(.vector([log(1.0)] + [Double](repeating: -50, count: 9) + [log(1.0)]))
        let weights = Array(r.observation.suffix(11))
        #expect(abs(weights[0] - 0.5) < 0.01 && abs(weights[10] - 0.5) < 0.01)
        #expect(abs(weights.reduce(0, +) - 1) < 1e-9)
    }

    @Test("an episode's actions replayed through the portfolio backtest give the same equity, bar for bar")
    func replayParity() throws {
        var e = try Self.env()
        _ = e.reset(seed: 5)
        var rng = SplitMix64(seed: 9)
        var rewards = 0.0
        var r = StepResult(observation: [], reward: 0, terminated: false, truncated: false)
        while !r.truncated && !r.terminated {
            r = e.step(Self.randomAction(&rng, 10))
            rewards += r.reward
        }
        // The environment's engine books fills without recording them (the account only).
        #expect(e.engine.portfolio.fillCount > 200 && e.engine.fills.isEmpty && e.engine.trades.closed.isEmpty)
        let slice = try Self.universe.rows(e.episodeStart..<(e.row + 1))
        let options = BacktestOptions(cash: FixedPoint(100_000), fees: e.config.fees, fillTiming: .nextOpen, finalize: .none)
        let bt = try Backtester.run(
            universe: slice,
            instruments: e.instruments,
            strategy: WeightScheduleStrategy(schedule: e.actionLog),
            options: options
        )
        #expect(bt.equity.count == e.equityCurve.count)
        #expect(bt.equity == e.equityCurve)
        #expect(bt.fills.count == e.engine.portfolio.fillCount)  // recorded or not, the same fills
        // Log rewards add up to the log of the episode's growth.
        #expect(abs(rewards - log(e.equityCurve.last! / 100_000)) < 1e-9)
        #expect(r.info["equity"] == e.equityCurve.last)
    }

    @Test("commission, slippage and the turnover penalty lower the reward of the same actions")
    func costs() throws {
        func run(_ fees: FeeModel, penalty: Double = 0) throws -> Double {
            var c = PortfolioEnvironmentConfig()
            c.window = 8
            c.episodeLength = 100
            c.fees = fees
            c.turnoverPenalty = penalty
            var e = try PortfolioEnvironment(universe: Self.universe, features: Self.features, config: c)
            e.reset(at: 300)
            var rng = SplitMix64(seed: 2)
            var total = 0.0
            for _ in 0..<100 { total += e.step(Self.randomAction(&rng, 10)).reward }
            return total
        }
        let free = try run(.free)
        let paid = try run(FeeModel(commissionRate: FixedPoint("0.002")!, slippageBps: FixedPoint(10)))
        let penalised = try run(.free, penalty: 0.01)
        #expect(paid < free - 0.01)
        #expect(penalised < free - 0.1)
    }

    @Test("a vector of copies steps N environments; PPO's Gaussian policy learns on the environment")
    func vectorAndPPO() throws {
        var v = VectorEnvironment(count: 3) { _ in try! Self.env() }
        let first = v.reset(seed: 7)
        #expect(first.count == 3 && first[0] != first[1])
        var rng = SplitMix64(seed: 1)
        for _ in 0..<130 {
            let results = v.step((0..<3).map { _ in Self.randomAction(&rng, 10) })
            #expect(results.count == 3 && results.allSatisfy { $0.observation.count == v.environments[0].observationSize })
        }
        var e = try Self.env()
        var p = PPOParameters()
        p.steps = 256
        p.epochs = 2
        p.hidden = [32]
        p.seed = 4
        var agent = PPOAgent(observationSize: e.observationSize, vectorDimensions: 11, parameters: p)
        var reports = 0
        agent.train(&e, totalSteps: 1024) { report, _ in
            reports += 1
            #expect(report.policyLoss.isFinite && report.valueLoss.isFinite)
            return true
        }
        #expect(reports == 4)
        guard case .vector(let a) = agent.action(e.reset(seed: 3)) else {
            Issue.record("a vector agent must act with a vector")
            return
        }
        #expect(a.count == 11 && a.allSatisfy(\.isFinite))
    }

    @Test("rl_portfolio backtests a saved policy: the backtest equals the policy's greedy episode, bar for bar")
    func savedPolicyBacktestEqualsEpisode() throws {
        var train = try Self.env()
        var p = PPOParameters()
        p.steps = 256
        p.epochs = 1
        p.hidden = [16]
        p.seed = 8
        var agent = PPOAgent(observationSize: train.observationSize, vectorDimensions: 11, parameters: p)
        agent.train(&train, totalSteps: 512)
        let bundle = RLModelBundle(
            metadata: .init(name: "p", agent: .ppo, symbol: "universe(10)", trainingRange: [], metrics: [:]),
            environment: RLEnvironmentSpec(
                features: Self.features,
                window: 8,
                actions: .continuous,
                commission: 0.001,
                slippageBps: 5,
                symbols: Self.universe.symbols
            ),
            policy: agent.policy
        )
        let dir = testTemporaryURL().appendingPathComponent("croc-rlp-\(UUID().uuidString)").path
        try bundle.save(to: dir)
        // The greedy episode over the whole universe from the first decision.
        var c = train.config
        c.episodeLength = Self.universe.timestamps.count - 1 - 27
        var e = try PortfolioEnvironment(universe: Self.universe, features: Self.features, config: c)
        let strategy = try StrategyFactory.standard.make("rl_portfolio", parameters: ["model": .string(dir)], symbols: Self.universe.symbols)
        #expect(strategy.warmupBars == 27)  // volatility 20 + window 8 − 1
        e.reset(at: strategy.warmupBars)
        var obs = e.observation()
        while true {
            let r = e.step(bundle.action(obs))
            if r.terminated || r.truncated { break }
            obs = r.observation
        }
        let options = BacktestOptions(cash: FixedPoint(100_000), fees: c.fees, finalize: .none)
        let bt = try Backtester.run(universe: Self.universe, instruments: e.instruments, strategy: strategy, options: options)
        #expect(e.engine.portfolio.fillCount > 100)
        #expect(Array(bt.equity[strategy.warmupBars...]) == e.equityCurve)
        // A portfolio bundle is refused by rl, a single-instrument run by rl_portfolio's symbol check.
        #expect(throws: StrategyError.self) { _ = try StrategyFactory.standard.make("rl", parameters: ["model": .string(dir)]) }
        #expect(throws: StrategyError.self) {
            _ = try StrategyFactory.standard.make(
                "rl_portfolio",
                parameters: ["model": .string(dir)],
                symbols: Array(Self.universe.symbols.reversed())
            )
        }
    }
}
