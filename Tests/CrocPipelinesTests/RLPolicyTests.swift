import CrocCore
import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocPipelines

@Suite("RL bundles and the rl strategy")
struct RLPolicyTests {
    static let series = try! CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/EURUSD_1H_ASK.csv").path)
    static let features = try! FeaturePipelineDefinition.parse(
        text: "[{name: r, indicator: returns, lags: [1]}, {name: z, indicator: zscore, params: {period: 10}}]"
    )

    func bundle(seed: UInt64 = 4, actions: TradingActions = .flatLong) -> RLModelBundle {
        var rng = SplitMix64(seed: seed)
        let width = FeaturePipeline(Self.features).width * 8 + 2
        let outputs = actions == .continuous ? 1 : 2
        let net = DenseNetwork(sizes: [width, 16, outputs], outputGain: 3, rng: &rng)  // an untrained but decisive policy
        return RLModelBundle(
            metadata: .init(name: "t", agent: .ppo, symbol: "EURUSD", trainingRange: [], metrics: ["x": 1]),
            environment: RLEnvironmentSpec(features: Self.features, window: 8, actions: actions, commission: 0.0001, slippageBps: 0),
            policy: net
        )
    }

    @Test(
        "the rl strategy in a backtest trades exactly as the policy does in the environment",
        arguments: [TradingActions.flatLong, .continuous]
    )
    func parity(actions: TradingActions) throws {
        let b = bundle(actions: actions)
        var config = TradingEnvironmentConfig()
        config.actions = actions
        config.window = 8
        config.episodeLength = 300
        config.fees = FeeModel(commissionRate: FixedPoint("0.0001")!)
        var env = try TradingEnvironment(series: Self.series, features: Self.features, config: config)
        let start = 1_000
        env.reset(at: start)
        var obs = env.observation()
        while true {
            let r = env.step(b.action(obs))
            if r.terminated || r.truncated { break }
            obs = r.observation
        }
        let lead = env.firstValid  // the strategy needs the same warm-up before `start`
        let slice = Self.series.slice((start - lead)..<(env.bar + 1))
        let bt = try Backtester.run(
            series: slice,
            instrument: Instrument(symbol: slice.symbol, pricePrecision: slice.pricePrecision),
            strategy: RLPolicyStrategy(bundle: b),
            options: BacktestOptions(cash: FixedPoint(10_000), fees: config.fees, finalize: .none, allowShort: actions != .flatLong)
        )
        #expect(bt.trades.count > 3)
        #expect(Array(bt.equity[lead...]) == env.equityCurve)
    }

    @Test("RL bundles round-trip and refuse corruption; the factory builds `rl` from a path")
    func bundles() throws {
        let dir = testTemporaryURL().appendingPathComponent("croc-rl-\(UUID().uuidString)").path
        let b = bundle()
        try b.save(to: dir)
        let back = try RLModelBundle.load(from: dir)
        #expect(back.policy == b.policy && back.environment == b.environment && back.metadata.name == "t")
        let strategy = try StrategyFactory.standard.make("rl", parameters: ["model": .string(dir)])
        #expect(strategy.name == "rl(t)")
        let weights = URL(fileURLWithPath: dir).appendingPathComponent("weights.bin")
        var data = try Data(contentsOf: weights)
        // The same policy gives the same bytes in any process: keys in sorted order (the
        // encoder's default order follows the process's hash seed).
        let sorted = JSONEncoder()
        sorted.outputFormatting = [.sortedKeys]
        #expect(data == (try sorted.encode(b.policy)))
        #expect(data.starts(with: Data(#"{"biases":"#.utf8)))
        data[data.count / 2] ^= 0x01
        try data.write(to: weights)
        #expect((#expect(throws: BundleError.self) { try RLModelBundle.load(from: dir) })?.code == .checksumMismatch)
        #expect(
            (#expect(throws: StrategyError.self) { try StrategyFactory.standard.make("rl", parameters: [:]) })?.keyPath == "strategy.params.model"
        )
    }

    @Test(
        "RL training runs end to end: trains, evaluates against buy & hold and random, saves a loadable bundle",
        arguments: [RLModelBundle.Agent.ppo, .dqn]
    )
    func training(agent: RLModelBundle.Agent) throws {
        let out = testTemporaryURL().appendingPathComponent("croc-rlt-\(UUID().uuidString)").path
        let yaml = """
            name: small
            agent: \(agent.rawValue)
            data: {path: \(repoRoot.appendingPathComponent("Examples/data/EURUSD_1H_ASK.csv").path)}
            features: [{name: r, indicator: returns}, {name: rsi, indicator: rsi}]
            window: 4
            steps: 512
            episodeLength: 64
            output: \(out)
            """
        let config = try RLTrainingConfig(try AppConfig.parse(text: yaml))
        var calls = 0
        var reports: [RLTrainingProgress] = []
        let result = try RLTraining.run(config) { p in
            calls += 1
            reports.append(p)
            #expect(p.totalSteps == 512 && p.steps <= 512)
            #expect(p.loss.isFinite)
        }
        #expect(calls >= 1)
        let html = RLTrainingHTMLReport.render(result, progress: reports, configuration: yaml)
        #expect(html.contains("data-chart=\"episode-returns\"") && html.contains("data-chart=\"rl-loss\""))
        #expect(html.contains(String(format: "%.4f", result.testReturnPct)) && html.contains("<svg"))
        #expect(result.testReturnPct.isFinite && result.randomReturnPct.isFinite && result.buyAndHoldPct.isFinite)
        #expect(try RLModelBundle.load(from: out).metadata.metrics["test.return_pct"] == result.testReturnPct)
        let bad = #expect(throws: ConfigError.self) { try RLTrainingConfig(try AppConfig.parse(text: "agent: a2c")) }
        #expect(bad?.keyPath == "agent")
    }

    @Test("continuous actions: PPO trains a Gaussian policy from config, its bundle acts in [−1, 1]; dqn refuses them")
    func continuousTraining() throws {
        let out = testTemporaryURL().appendingPathComponent("croc-rlc-\(UUID().uuidString)").path
        let yaml = """
            name: small-continuous
            agent: ppo
            actions: continuous
            data: {path: \(repoRoot.appendingPathComponent("Examples/data/EURUSD_1H_ASK.csv").path)}
            features: [{name: r, indicator: returns}]
            window: 4
            steps: 512
            episodeLength: 64
            output: \(out)
            """
        let result = try RLTraining.run(try RLTrainingConfig(try AppConfig.parse(text: yaml)))
        #expect(result.testReturnPct.isFinite && result.randomReturnPct.isFinite)
        let loaded = try RLModelBundle.load(from: out)
        #expect(loaded.environment.actions == .continuous && loaded.policy.sizes.last == 1)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<50 {
            let obs = (0..<loaded.policy.sizes[0]).map { _ in rng.uniform() * 20 - 10 }
            guard case .continuous(let x) = loaded.action(obs) else {
                Issue.record("a continuous bundle must give continuous actions")
                break
            }
            #expect((-1...1).contains(x))
        }
        let dqn = #expect(throws: ConfigError.self) {
            try RLTrainingConfig(try AppConfig.parse(text: "agent: dqn\nactions: continuous\ndata: {path: x.csv}"))
        }
        #expect(dqn?.keyPath == "actions")
    }
}
