import CrocCore
import CrocData
import CrocModels
import CrocStrategies
import CrocSupport
import Foundation

/// `crocbot train` for RL: a config with an `agent:` key.
///
/// ```yaml
/// name: eurusd-ppo
/// agent: ppo            # or dqn
/// data: {path: Examples/data/EURUSD_1H_ASK.csv}
/// features: Examples/features-stationary.yaml
/// window: 16
/// actions: flat_long    # short_flat_long
/// steps: 50000
/// episodeLength: 256
/// trainFraction: 0.7
/// costs: {commission: 0.0001, slippageBps: 0.5}
/// output: models/eurusd-ppo
/// ```
public struct RLTrainingConfig: Sendable {
    /// Bundle name.
    public var name: String
    /// PPO or DQN.
    public var agent: RLModelBundle.Agent
    /// The data.
    public var data: DataConfig
    /// Observation features.
    public var features: FeaturePipelineDefinition
    /// Feature vectors per observation.
    public var window: Int
    /// The actions.
    public var actions: TradingActions
    /// Environment steps of training.
    public var steps: Int
    /// Bars per training episode.
    public var episodeLength: Int
    /// Share of the bars used for training (the rest is the held-out test range).
    public var trainFraction: Double
    /// Commission fraction.
    public var commission: Double
    /// Slippage, bps.
    public var slippageBps: Double
    /// Seed.
    public var seed: UInt64
    /// Bundle directory.
    public var output: String
    /// Portfolio reward shaping (`reward: {turnoverPenalty, drawdownPenalty}`).
    public var turnoverPenalty = 0.0
    /// Penalty per unit of drawdown increase.
    public var drawdownPenalty = 0.0

    /// Whether the data is a universe: a portfolio policy on `PortfolioEnvironment`.
    public var isPortfolio: Bool { data.universe != nil }

    /// Whether a configuration tree is an RL one (has `agent:`).
    public static func isRL(_ tree: ConfigValue) -> Bool {
        if case .object(let o) = tree { return o.keys.contains("agent") }
        return false
    }

    /// Validates a configuration tree.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ tree: ConfigValue, source: String? = nil, baseDirectory: String = ".") throws(ConfigError) {
        let r = try ConfigReader(tree, source: source)
        try r.rejectUnknownKeys([
            "name", "agent", "data", "features", "window", "actions", "steps", "episodeLength", "trainFraction", "costs", "seed", "output",
            "reward",
        ])
        name = try r.string("name", default: "rl")
        agent = try r.choice("agent", default: .ppo)
        data = try DataConfig(try r.nested("data"))
        switch r.raw("features") {
        case nil, .string("standard")?: features = .standard
        case .string(let path)?:
            let candidate = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: baseDirectory + "/")).path
            features = try FeaturePipelineDefinition.load(path: FileManager.default.fileExists(atPath: path) ? path : candidate)
        case let other?: features = try FeaturePipelineDefinition(from: .object(["features": other]), source: source)
        }
        window = try r.int("window", default: 16)
        actions = try r.choice("actions", default: .flatLong)
        steps = try r.int("steps", default: 50_000)
        episodeLength = try r.int("episodeLength", default: 256)
        trainFraction = try r.double("trainFraction", default: 0.7)
        let c = try r.nested("costs")
        try c.rejectUnknownKeys(["commission", "slippageBps"])
        commission = try c.double("commission", default: 0.001)
        slippageBps = try c.double("slippageBps", default: 0)
        seed = UInt64(max(0, try r.int("seed", default: 0)))
        output = try r.string("output", default: "models/\(name)")
        let w = try r.nested("reward")
        try w.rejectUnknownKeys(["turnoverPenalty", "drawdownPenalty"])
        turnoverPenalty = try w.double("turnoverPenalty", default: 0)
        drawdownPenalty = try w.double("drawdownPenalty", default: 0)
        guard turnoverPenalty >= 0, drawdownPenalty >= 0 else {
            throw ConfigError(.invalidValue, keyPath: "reward", rule: "penalties must be ≥ 0", source: source)
        }
        if data.universe != nil {
            guard agent == .ppo else {
                throw ConfigError(
                    .invalidValue,
                    keyPath: "agent",
                    rule: "a portfolio (data.universe) takes weight vectors: use agent: ppo",
                    source: source
                )
            }
        } else if r.raw("reward") != nil {
            throw ConfigError(.invalidValue, keyPath: "reward", rule: "reward shaping applies to a portfolio (data.universe)", source: source)
        }
        guard (1...512).contains(window) else { throw ConfigError(.invalidValue, keyPath: "window", rule: "must be in 1...512", source: source) }
        guard steps >= 256 else { throw ConfigError(.invalidValue, keyPath: "steps", rule: "must be ≥ 256", source: source) }
        guard episodeLength >= 16 else { throw ConfigError(.invalidValue, keyPath: "episodeLength", rule: "must be ≥ 16", source: source) }
        guard trainFraction > 0.1, trainFraction < 0.95 else {
            throw ConfigError(.invalidValue, keyPath: "trainFraction", rule: "must be in (0.1, 0.95)", source: source)
        }
        guard actions != .continuous || agent == .ppo else {
            throw ConfigError(
                .invalidValue,
                keyPath: "actions",
                rule: "dqn takes discrete actions (flat_long or short_flat_long); continuous needs agent: ppo",
                source: source
            )
        }
    }

    func environmentConfig(episodeLength: Int) -> TradingEnvironmentConfig {
        var e = TradingEnvironmentConfig()
        e.window = window
        e.actions = actions
        e.episodeLength = episodeLength
        e.fees = FeeModel(commissionRate: FixedPoint(unchecked: commission), slippageBps: FixedPoint(unchecked: slippageBps))
        return e
    }
}

/// One progress report of RL training.
public struct RLTrainingProgress: Sendable {
    /// Environment steps so far.
    public var steps: Int
    /// Steps the run will take.
    public var totalSteps: Int
    /// Mean return of recently finished episodes (NaN if none yet).
    public var meanEpisodeReturn: Double
    /// Latest training loss: PPO's policy + value loss, DQN's Huber loss (NaN before learning starts).
    public var loss: Double
}

/// What RL training produced.
public struct RLTrainingResult: Sendable {
    /// The saved bundle.
    public var bundle: RLModelBundle
    /// Held-out return of the greedy policy, %.
    public var testReturnPct: Double
    /// Mean held-out return of a uniformly random policy (5 seeds), %.
    public var randomReturnPct: Double
    /// Buy & hold over the held-out range, %.
    public var buyAndHoldPct: Double
    /// Training throughput, environment steps per second (learning included).
    public var stepsPerSecond: Double
}

/// Trains an RL agent on the training range and evaluates it on the held-out range.
public enum RLTraining {
    /// Runs training, evaluation and saving.
    /// - Parameter progress: called after each update.
    /// - Throws: data, configuration or bundle errors.
    public static func run(_ config: RLTrainingConfig, progress: ((RLTrainingProgress) -> Void)? = nil) throws -> RLTrainingResult {
        if config.isPortfolio { return try runPortfolio(config, progress: progress) }
        let series = try TrainingPipeline.loadSeries(config.data)
        let split = Int(Double(series.count) * config.trainFraction)
        var trainEnv = try TradingEnvironment(
            series: series.slice(0..<split),
            features: config.features,
            config: config.environmentConfig(episodeLength: config.episodeLength)
        )
        var actionCount = 1
        var actionRange: ClosedRange<Double>?
        switch trainEnv.actionSpace {
        case .discrete(let n): actionCount = n
        case .continuous(let low, let high): actionRange = low...high
        case .vector(let n): actionCount = n
        }
        let start = ContinuousClock.now
        let policy: DenseNetwork
        switch config.agent {
        case .ppo:
            var p = PPOParameters()
            p.seed = config.seed
            p.steps = min(p.steps, max(256, config.steps / 4))
            var agent =
                actionRange.map { PPOAgent(observationSize: trainEnv.observationSize, continuousDimensions: 1, range: $0, parameters: p) }
                ?? PPOAgent(observationSize: trainEnv.observationSize, actions: actionCount, parameters: p)
            agent.train(&trainEnv, totalSteps: config.steps) { report, _ in
                progress?(
                    RLTrainingProgress(
                        steps: report.steps,
                        totalSteps: config.steps,
                        meanEpisodeReturn: report.meanEpisodeReturn,
                        loss: report.policyLoss + report.valueLoss
                    )
                )
                return true
            }
            policy = agent.policy
        case .dqn:
            var p = DQNParameters()
            p.seed = config.seed
            p.hidden = [64, 64]
            p.learningStarts = min(p.learningStarts, config.steps / 10)
            var agent = DQNAgent(observationSize: trainEnv.observationSize, actions: actionCount, parameters: p)
            agent.train(&trainEnv, totalSteps: config.steps) { steps, mean, _, now in
                if steps % 256 == 0 || steps == config.steps {
                    progress?(RLTrainingProgress(steps: steps, totalSteps: config.steps, meanEpisodeReturn: mean, loss: now.lastLoss))
                }
                return true
            }
            policy = agent.online
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let spec = RLEnvironmentSpec(
            features: config.features,
            window: config.window,
            actions: config.actions,
            commission: config.commission,
            slippageBps: config.slippageBps
        )
        var bundle = RLModelBundle(
            metadata: .init(
                name: config.name,
                agent: config.agent,
                symbol: series.symbol,
                trainingRange: [
                    Timestamp(nanoseconds: series.timestamps[0]).iso8601(), Timestamp(nanoseconds: series.timestamps[split - 1]).iso8601(),
                ],
                metrics: [:]
            ),
            environment: spec,
            policy: policy
        )
        // Held-out evaluation on the full series (features warm from its start), from the split onward.
        let testLength = series.count - 1 - split
        var testEnv = try TradingEnvironment(series: series, features: config.features, config: config.environmentConfig(episodeLength: testLength))
        let (policyReturn, random) = heldOut(&testEnv, from: split, policy: bundle) { rng in
            if let r = actionRange { return .continuous(r.lowerBound + rng.uniform() * (r.upperBound - r.lowerBound)) }
            return .discrete(Int(rng.next() % UInt64(actionCount)))
        }
        let hold = (series.close[series.count - 1] / series.close[split] - 1) * 100
        bundle.metadata.metrics = [
            "test.return_pct": policyReturn, "test.random_return_pct": random, "test.buy_and_hold_pct": hold,
            "train.steps_per_second": Double(config.steps) / seconds,
        ]
        try bundle.save(to: config.output)
        return RLTrainingResult(
            bundle: bundle,
            testReturnPct: policyReturn,
            randomReturnPct: random,
            buyAndHoldPct: hold,
            stepsPerSecond: Double(config.steps) / seconds
        )
    }
}

/// An environment that can replay one episode from a given row: what the held-out
/// evaluation of a trained policy needs.
protocol HeldOutEnvironment: Environment {
    /// Starts an episode at `start`.
    mutating func reset(at start: Int)
    /// The current observation.
    func observation() -> [Double]
    /// The episode's equity so far.
    var equityCurve: [Double] { get }
    /// The starting cash.
    var startingCash: Double { get }
}

extension TradingEnvironment: HeldOutEnvironment {
    var startingCash: Double { config.cash }
}

extension PortfolioEnvironment: HeldOutEnvironment {
    var startingCash: Double { config.cash }
}

extension RLTraining {
    /// The held-out return (%) of the greedy policy from row `start` to the end of `env`'s data,
    /// and the mean return of a random policy over five seeded episodes (`randomAction` draws
    /// each action).
    static func heldOut<E: HeldOutEnvironment>(
        _ env: inout E,
        from start: Int,
        policy bundle: RLModelBundle,
        randomAction: (inout SplitMix64) -> Action
    ) -> (policy: Double, random: Double) {
        func episode(_ choose: ([Double]) -> Action) -> Double {
            env.reset(at: start)
            var obs = env.observation()
            while true {
                let r = env.step(choose(obs))
                if r.terminated || r.truncated { return ((env.equityCurve.last ?? 0) / env.startingCash - 1) * 100 }
                obs = r.observation
            }
        }
        let policy = episode { bundle.action($0) }
        var random = 0.0
        for s in 0..<5 {
            var rng = SplitMix64(seed: UInt64(s) &+ 77)
            random += episode { _ in randomAction(&rng) }
        }
        return (policy, random / 5)
    }

    /// The portfolio environment's settings from the config.
    static func portfolioConfig(_ config: RLTrainingConfig, episodeLength: Int) -> PortfolioEnvironmentConfig {
        var e = PortfolioEnvironmentConfig()
        e.window = config.window
        e.episodeLength = episodeLength
        e.fees = FeeModel(commissionRate: FixedPoint(unchecked: config.commission), slippageBps: FixedPoint(unchecked: config.slippageBps))
        e.turnoverPenalty = config.turnoverPenalty
        e.drawdownPenalty = config.drawdownPenalty
        return e
    }

    /// PPO's Gaussian policy on `PortfolioEnvironment` over the first `trainFraction` of the
    /// universe's rows; the greedy policy, a random one (5 seeds) and the equal-weight buy &
    /// hold over the rest.
    /// - Throws: data, configuration or bundle errors.
    static func runPortfolio(_ config: RLTrainingConfig, progress: ((RLTrainingProgress) -> Void)?) throws -> RLTrainingResult {
        let universe = try TrainingPipeline.loadUniverse(config.data)
        let rows = universe.timestamps.count
        let split = Int(Double(rows) * config.trainFraction)
        var trainEnv = try PortfolioEnvironment(
            universe: try universe.rows(0..<split),
            features: config.features,
            config: portfolioConfig(config, episodeLength: config.episodeLength)
        )
        var p = PPOParameters()
        p.seed = config.seed
        p.steps = min(p.steps, max(256, config.steps / 4))
        let n = universe.count
        var agent = PPOAgent(observationSize: trainEnv.observationSize, vectorDimensions: n + 1, parameters: p)
        let start = ContinuousClock.now
        agent.train(&trainEnv, totalSteps: config.steps) { report, _ in
            progress?(
                RLTrainingProgress(
                    steps: report.steps,
                    totalSteps: config.steps,
                    meanEpisodeReturn: report.meanEpisodeReturn,
                    loss: report.policyLoss + report.valueLoss
                )
            )
            return true
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var bundle = RLModelBundle(
            metadata: .init(
                name: config.name,
                agent: .ppo,
                symbol: "universe(\(n))",
                trainingRange: [
                    Timestamp(nanoseconds: universe.timestamps[0]).iso8601(), Timestamp(nanoseconds: universe.timestamps[split - 1]).iso8601(),
                ],
                metrics: [:]
            ),
            environment: RLEnvironmentSpec(
                features: config.features,
                window: config.window,
                actions: .continuous,
                commission: config.commission,
                slippageBps: config.slippageBps,
                symbols: universe.symbols
            ),
            policy: agent.policy
        )
        // Held-out: the whole universe (features warm from its start), from the split on.
        var testEnv = try PortfolioEnvironment(
            universe: universe,
            features: config.features,
            config: portfolioConfig(config, episodeLength: rows - 1 - split)
        )
        let (policyReturn, random) = heldOut(&testEnv, from: split, policy: bundle) { rng in .vector((0...n).map { _ in rng.uniform() * 4 - 2 }) }
        let index = Backtester.equalWeightIndex(try universe.rows(split..<rows))
        let hold = ((index.last ?? 1) / (index.first ?? 1) - 1) * 100
        bundle.metadata.metrics = [
            "test.return_pct": policyReturn, "test.random_return_pct": random, "test.buy_and_hold_pct": hold,
            "train.steps_per_second": Double(config.steps) / seconds,
        ]
        try bundle.save(to: config.output)
        return RLTrainingResult(
            bundle: bundle,
            testReturnPct: policyReturn,
            randomReturnPct: random,
            buyAndHoldPct: hold,
            stepsPerSecond: Double(config.steps) / seconds
        )
    }
}
