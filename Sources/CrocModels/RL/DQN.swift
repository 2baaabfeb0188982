import Foundation

/// DQN hyperparameters (RL Zoo's tuned values for CartPole-v1 as defaults).
public struct DQNParameters: Sendable, Hashable, Codable {
    /// Adam step size.
    public var learningRate: Double = 2.3e-3
    /// Minibatch size.
    public var batchSize: Int = 64
    /// Replay buffer capacity.
    public var bufferSize: Int = 100_000
    /// Steps of random play before learning.
    public var learningStarts: Int = 1_000
    /// Discount.
    public var gamma: Double = 0.99
    /// Copy the online network to the target every this many gradient steps.
    public var targetUpdateInterval: Int = 10
    /// Environment steps between training phases.
    public var trainFrequency: Int = 256
    /// Gradient steps per training phase.
    public var gradientSteps: Int = 128
    /// Share of `totalSteps` over which ε falls from 1 to `finalEpsilon`.
    public var explorationFraction: Double = 0.16
    /// Final exploration rate.
    public var finalEpsilon: Double = 0.04
    /// Hidden layers.
    public var hidden: [Int] = [256, 256]
    /// Global gradient-norm clip.
    public var maxGradNorm: Double = 10
    /// Seed.
    public var seed: UInt64 = 0

    /// Defaults.
    public init() {}
}

/// Double DQN: an online Q-network picks the next action, a periodically
/// copied target network values it; experience replay; linear ε-greedy
/// schedule; Huber loss; time-limit truncations are not treated as terminal.
public struct DQNAgent: Sendable {
    /// The online Q-network: observation → one value per action.
    public var online: DenseNetwork
    /// The target Q-network.
    public var target: DenseNetwork
    /// Hyperparameters.
    public let parameters: DQNParameters
    var optimizer: AdamOptimizer
    /// Mean Huber loss of the latest gradient step (NaN before learning starts).
    public private(set) var lastLoss: Double = .nan
    var rng: SplitMix64

    /// Creates an agent.
    public init(observationSize: Int, actions: Int, parameters: DQNParameters = .init()) {
        self.parameters = parameters
        var r = SplitMix64(seed: parameters.seed)
        online = DenseNetwork(sizes: [observationSize] + parameters.hidden + [actions], outputGain: 1, rng: &r)
        target = online
        optimizer = AdamOptimizer(learningRate: parameters.learningRate)
        rng = r
    }

    /// The greedy action.
    public func act(_ observation: [Double]) -> Int {
        let q = online(observation)
        return q.indices.max { q[$0] < q[$1] } ?? 0
    }

    /// Trains for `totalSteps` environment steps.
    /// - Parameter progress: Called after each training phase with (steps, mean return of recent
    ///   episodes, ε) and the agent as it is now; return false to stop.
    public mutating func train<E: Environment>(_ env: inout E, totalSteps: Int, progress: ((Int, Double, Double, DQNAgent) -> Bool)? = nil) {
        let p = parameters
        guard case .discrete(let actionCount) = env.actionSpace else { return }
        var states: [[Double]] = []
        var actions: [Int] = []
        var rewards: [Double] = []
        var nexts: [[Double]] = []
        var dones: [Bool] = []
        var head = 0
        var obs = env.reset(seed: p.seed)
        var episodeReturn = 0.0
        var recent: [Double] = []
        var gradientStepsDone = 0
        for step in 1...totalSteps {
            let fraction = min(1, Double(step) / max(1, p.explorationFraction * Double(totalSteps)))
            let epsilon = 1 + (p.finalEpsilon - 1) * fraction
            let a = step <= p.learningStarts || rng.uniform() < epsilon ? Int(rng.next() % UInt64(actionCount)) : act(obs)
            let r = env.step(.discrete(a))
            let transition = (obs, a, r.reward, r.observation, r.terminated)
            if states.count < p.bufferSize {
                states.append(transition.0)
                actions.append(transition.1)
                rewards.append(transition.2)
                nexts.append(transition.3)
                dones.append(transition.4)
            } else {
                (states[head], actions[head], rewards[head], nexts[head], dones[head]) = transition
                head = (head + 1) % p.bufferSize
            }
            episodeReturn += r.reward
            if r.terminated || r.truncated {
                recent.append(episodeReturn)
                if recent.count > 20 { recent.removeFirst() }
                episodeReturn = 0
                obs = env.reset(seed: nil)
            } else {
                obs = r.observation
            }
            guard step > p.learningStarts, step % p.trainFrequency == 0 else { continue }
            for _ in 0..<p.gradientSteps {
                var g = online.zeroGradients()
                let n = Double(p.batchSize)
                var lossSum = 0.0
                for _ in 0..<p.batchSize {
                    let i = Int(rng.next() % UInt64(states.count))
                    var y = rewards[i]
                    if !dones[i] {
                        let qNext = online(nexts[i])
                        let best = qNext.indices.max { qNext[$0] < qNext[$1] } ?? 0
                        y += p.gamma * target(nexts[i])[best]  // double DQN
                    }
                    let acts = online.forward(states[i])
                    let diff = acts.last![actions[i]] - y
                    lossSum += abs(diff) <= 1 ? 0.5 * diff * diff : abs(diff) - 0.5
                    var grad = [Double](repeating: 0, count: actionCount)
                    grad[actions[i]] = max(-1, min(1, diff)) / n  // Huber
                    online.backward(acts, outputGradient: grad, into: &g)
                }
                var nets = [online]
                optimizer.step(&nets, [g], maxNorm: p.maxGradNorm)
                online = nets[0]
                lastLoss = lossSum / n
                gradientStepsDone += 1
                if gradientStepsDone % p.targetUpdateInterval == 0 { target = online }
            }
            let mean = recent.isEmpty ? .nan : recent.reduce(0, +) / Double(recent.count)
            if let progress, !progress(step, mean, epsilon, self) { return }
        }
    }

    /// Mean return of the greedy policy over `episodes` episodes.
    public func evaluate<E: Environment>(_ env: inout E, episodes: Int, seed: UInt64) -> Double {
        var total = 0.0
        for e in 0..<episodes {
            var obs = env.reset(seed: seed &+ UInt64(e))
            while true {
                let r = env.step(.discrete(act(obs)))
                total += r.reward
                if r.terminated || r.truncated { break }
                obs = r.observation
            }
        }
        return total / Double(episodes)
    }
}
