/// What an agent may do in an environment.
public enum ActionSpace: Sendable, Hashable, Codable {
    /// One of `n` actions, 0..<n.
    case discrete(Int)
    /// A real number in [low, high].
    case continuous(low: Double, high: Double)
    /// A vector of `n` real numbers (unbounded, as a Gaussian policy samples them); the
    /// environment maps it, e.g. to portfolio weights through a softmax.
    case vector(Int)
}

/// An action for either kind of space.
public enum Action: Sendable, Hashable {
    /// A discrete choice.
    case discrete(Int)
    /// A continuous value.
    case continuous(Double)
    /// A vector of values (`ActionSpace.vector`).
    case vector([Double])
}

/// What one step returned (Gymnasium's `(observation, reward, terminated, truncated, info)`).
public struct StepResult: Sendable {
    /// The observation after the step.
    public var observation: [Double]
    /// The reward for the step.
    public var reward: Double
    /// The episode ended by the environment's own rules.
    public var terminated: Bool
    /// The episode was cut short (time limit, end of data).
    public var truncated: Bool
    /// Diagnostics by name.
    public var info: [String: Double]

    /// Creates a step result.
    public init(observation: [Double], reward: Double, terminated: Bool, truncated: Bool, info: [String: Double] = [:]) {
        self.observation = observation
        self.reward = reward
        self.terminated = terminated
        self.truncated = truncated
        self.info = info
    }
}

/// The Gymnasium contract: `reset(seed:)` then `step(_:)` until terminated or truncated.
public protocol Environment: Sendable {
    /// Length of an observation vector.
    var observationSize: Int { get }
    /// The actions the environment accepts.
    var actionSpace: ActionSpace { get }
    /// Starts an episode; the seed makes it reproducible.
    mutating func reset(seed: UInt64?) -> [Double]
    /// Applies an action.
    mutating func step(_ action: Action) -> StepResult
}
