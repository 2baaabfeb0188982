import CrocCore
import CrocData
import CrocModels
import Foundation

/// What an RL policy was trained on: the observation it expects and the actions it takes.
public struct RLEnvironmentSpec: Sendable, Hashable, Codable {
    /// The feature pipeline.
    public var features: FeaturePipelineDefinition
    /// Feature vectors per observation.
    public var window: Int
    /// The action set.
    public var actions: TradingActions
    /// Commission fraction used in training.
    public var commission: Double
    /// Slippage (bps) used in training.
    public var slippageBps: Double
    /// For a portfolio policy (`PortfolioEnvironment`): the symbols it allocates between, in
    /// the order of its outputs (cash after them); nil for a single-instrument policy.
    public var symbols: [String]?

    /// Creates a spec.
    public init(
        features: FeaturePipelineDefinition,
        window: Int,
        actions: TradingActions,
        commission: Double,
        slippageBps: Double,
        symbols: [String]? = nil
    ) {
        self.features = features
        self.window = window
        self.actions = actions
        self.commission = commission
        self.slippageBps = slippageBps
        self.symbols = symbols
    }

    /// The observation width the policy takes: window × features + 2 for one instrument;
    /// symbols × window × features + symbols + 1 for a portfolio.
    public var observationSize: Int {
        let f = FeaturePipeline(features).width
        guard let symbols else { return f * window + 2 }
        return symbols.count * window * f + symbols.count + 1
    }
}

/// A trained RL policy with its environment spec and metadata, saved as a
/// directory like `ModelBundle`: `bundle.json` and `weights.bin` (the
/// network), size- and checksum-verified on load.
public struct RLModelBundle: Sendable {
    /// The agent that produced the policy.
    public enum Agent: String, Sendable, Hashable, Codable, CaseIterable {
        /// Proximal Policy Optimization (policy logits).
        case ppo
        /// Double DQN (Q-values).
        case dqn
    }

    /// Descriptive facts.
    public struct Metadata: Sendable, Hashable, Codable {
        /// Name.
        public var name: String
        /// Agent.
        public var agent: Agent
        /// Symbol of the training data.
        public var symbol: String
        /// First and last training bar (ISO-8601).
        public var trainingRange: [String]
        /// Evaluation results.
        public var metrics: [String: Double]
        /// Creation time (ISO-8601).
        public var createdAt: String

        /// Creates metadata.
        public init(
            name: String,
            agent: Agent,
            symbol: String,
            trainingRange: [String],
            metrics: [String: Double],
            createdAt: String = ISO8601DateFormatter().string(from: Date())
        ) {
            self.name = name
            self.agent = agent
            self.symbol = symbol
            self.trainingRange = trainingRange
            self.metrics = metrics
            self.createdAt = createdAt
        }
    }

    /// Descriptive facts.
    public var metadata: Metadata
    /// The environment the policy expects.
    public var environment: RLEnvironmentSpec
    /// The network: observation → logits (PPO) or Q-values (DQN); the greedy action is the argmax.
    public var policy: DenseNetwork

    /// Creates a bundle.
    public init(metadata: Metadata, environment: RLEnvironmentSpec, policy: DenseNetwork) {
        self.metadata = metadata
        self.environment = environment
        self.policy = policy
    }

    /// The greedy action for an observation: the argmax for discrete action
    /// sets, the policy mean clipped to the action range for continuous ones.
    public func action(_ observation: [Double]) -> Action {
        let out = policy(observation)
        if environment.symbols != nil { return .vector(out) }
        if case .continuous(let low, let high) = environment.actions.space { return .continuous(min(high, max(low, out.first ?? 0))) }
        return .discrete(out.indices.max { out[$0] < out[$1] } ?? 0)
    }

    /// The `format` marker in `bundle.json`.
    static let formatName = "crocbot-rl-model"

    struct Manifest: Codable {
        var format: String
        var formatVersion: Int
        var metadata: Metadata
        var environment: RLEnvironmentSpec
        var weightsBytes: Int
        var weightsChecksum: String
    }

    /// Writes `bundle.json` and `weights.bin` into `directory`.
    /// - Throws: `BundleError.io`.
    public func save(to directory: String) throws(BundleError) {
        let weights: [UInt8]
        do {
            // Keys sorted: the same policy, the same bytes (the default order varies per process).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            weights = [UInt8](try encoder.encode(policy))
        } catch {
            throw BundleError(code: .io, path: directory, detail: "cannot encode the policy: \(error)")
        }
        let manifest = Manifest(
            format: Self.formatName,
            formatVersion: 1,
            metadata: metadata,
            environment: environment,
            weightsBytes: weights.count,
            weightsChecksum: ModelBundle.checksum(weights)
        )
        try BundleDirectory.write(manifest, weights: weights, to: directory)
    }

    /// Reads and verifies a bundle directory.
    /// - Throws: `BundleError` naming the file and the problem.
    public static func load(from directory: String) throws(BundleError) -> RLModelBundle {
        let m = try BundleDirectory.readManifest(Manifest.self, from: directory, format: formatName, version: 1)
        let weightsPath = URL(fileURLWithPath: directory).appendingPathComponent("weights.bin").path
        let data = Data(try BundleDirectory.readWeights("weights.bin", in: directory, bytes: m.weightsBytes, checksum: m.weightsChecksum))
        guard let net = try? JSONDecoder().decode(DenseNetwork.self, from: data) else {
            throw BundleError(code: .invalidWeights, path: weightsPath, detail: "not a policy network")
        }
        let width = m.environment.observationSize
        let outputs = m.environment.symbols.map { $0.count + 1 }
        guard net.sizes.first == width, outputs == nil || net.sizes.last == outputs else {
            throw BundleError(
                code: .invalidWeights,
                path: weightsPath,
                detail: "network takes \(net.sizes.first ?? 0) inputs and gives \(net.sizes.last ?? 0) outputs; the spec makes \(width) inputs"
                    + (outputs.map { " and wants \($0) outputs" } ?? "")
            )
        }
        return RLModelBundle(metadata: m.metadata, environment: m.environment, policy: net)
    }
}

/// Runs an RL bundle's greedy policy as a strategy, backtest or live: each bar
/// goes through the bundle's feature pipeline (streaming), the last `window`
/// vectors plus exposure and unrealised PnL form the same observation the
/// training environment gave, and the action's target exposure is traded with
/// the environment's own order logic.
public struct RLPolicyStrategy: Strategy {
    /// The bundle.
    public let bundle: RLModelBundle
    private var stream: FeatureStream
    private var window: [Double] = []
    private var filled = 0

    /// Creates the strategy.
    public init(bundle: RLModelBundle) {
        self.bundle = bundle
        stream = FeaturePipeline(bundle.environment.features).makeStream()
    }

    /// `rl(<name>)`.
    public var name: String { "rl(\(bundle.metadata.name))" }
    /// Feature warm-up plus the window.
    public var warmupBars: Int { stream.warmup + bundle.environment.window - 1 }

    /// Observes the bar, asks the policy, trades toward its target.
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) {
        let v = stream.update(bar)
        guard stream.isWarm else { return }
        window.append(contentsOf: v)
        let w = bundle.environment.window * v.count
        if window.count > w { window.removeFirst(window.count - w) }
        filled += 1
        guard filled >= bundle.environment.window else { return }
        let equity = max(1e-9, context.equity.doubleValue)
        let held = context.position.doubleValue
        let exposure = held == 0 ? 0 : held * bar.close / equity
        let pnl = held == 0 ? 0 : held * (bar.close - context.averagePrice.doubleValue) / equity
        let target = targetExposure(bundle.action(window + [exposure, pnl]), bundle.environment.actions)
        TargetExposureTrader.trade(toward: target, close: bar.close, context: &context)
    }
}
