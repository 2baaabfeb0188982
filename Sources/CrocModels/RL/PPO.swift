import CrocSupport
import Foundation
import Synchronization

/// PPO hyperparameters (Stable-Baselines3's defaults).
public struct PPOParameters: Sendable, Hashable, Codable {
    /// Steps collected per update.
    public var steps: Int = 2048
    /// Minibatch size.
    public var batchSize: Int = 64
    /// Passes over each rollout.
    public var epochs: Int = 10
    /// Adam step size.
    public var learningRate: Double = 3e-4
    /// Discount.
    public var gamma: Double = 0.99
    /// GAE λ.
    public var gaeLambda: Double = 0.95
    /// Ratio clip.
    public var clip: Double = 0.2
    /// Value-loss weight.
    public var valueCoefficient: Double = 0.5
    /// Entropy bonus weight.
    public var entropyCoefficient: Double = 0
    /// Global gradient-norm clip.
    public var maxGradNorm: Double = 0.5
    /// Hidden layers of the policy and of the value network.
    public var hidden: [Int] = [64, 64]
    /// Seed.
    public var seed: UInt64 = 0

    /// Defaults.
    public init() {}
}

/// A PPO training report, per update.
public struct PPOProgress: Sendable {
    /// Environment steps so far.
    public var steps: Int
    /// Mean return of the episodes finished in this rollout (NaN if none).
    public var meanEpisodeReturn: Double
    /// Mean policy loss of the update.
    public var policyLoss: Double
    /// Mean value loss of the update.
    public var valueLoss: Double
}

/// Proximal Policy Optimization (clipped objective, GAE, minibatch epochs,
/// advantage normalisation per minibatch, bootstrapping of time-limit
/// truncations) on `DenseNetwork`s, with a categorical policy for discrete
/// actions or a Gaussian policy (learned, state-independent log σ, as
/// Stable-Baselines3) for continuous ones.
public struct PPOAgent: Sendable {
    /// Policy network: observation → action logits (discrete) or action means (continuous).
    public var policy: DenseNetwork
    /// Log standard deviations of the Gaussian policy (empty for discrete actions).
    public var logStd: [Double] = []
    /// The action range of a continuous policy.
    public var actionRange: ClosedRange<Double>?
    var logStdMoments: (m: [Double], v: [Double]) = ([], [])
    /// Value network: observation → V(s).
    public var value: DenseNetwork
    /// Hyperparameters.
    public let parameters: PPOParameters
    var optimizer: AdamOptimizer
    var rng: SplitMix64

    /// Creates an agent for `observationSize` inputs and `actions` discrete actions.
    public init(observationSize: Int, actions: Int, parameters: PPOParameters = .init()) {
        self.parameters = parameters
        var r = SplitMix64(seed: parameters.seed)
        policy = DenseNetwork(sizes: [observationSize] + parameters.hidden + [actions], outputGain: 0.01, rng: &r)
        value = DenseNetwork(sizes: [observationSize] + parameters.hidden + [1], outputGain: 1, rng: &r)
        optimizer = AdamOptimizer(learningRate: parameters.learningRate, epsilon: 1e-5)
        rng = r
    }

    static func softmax(_ z: [Double]) -> [Double] {
        let m = z.max() ?? 0
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Creates an agent with a Gaussian policy over `dimensions` continuous actions in `range`.
    public init(
        observationSize: Int,
        continuousDimensions dimensions: Int = 1,
        range: ClosedRange<Double> = -1...1,
        parameters: PPOParameters = .init()
    ) {
        self.init(observationSize: observationSize, actions: dimensions, parameters: parameters)
        logStd = [Double](repeating: 0, count: dimensions)
        logStdMoments = ([Double](repeating: 0, count: dimensions), [Double](repeating: 0, count: dimensions))
        actionRange = range
    }

    /// Whether the policy is Gaussian.
    public var isContinuous: Bool { !logStd.isEmpty }

    /// Whether each action is a vector (`ActionSpace.vector`): the raw Gaussian sample goes to
    /// the environment as it is, every dimension at once.
    public var vectorActions = false

    /// Creates an agent with a Gaussian policy over a vector action of `dimensions` (unclipped;
    /// the environment maps it, e.g. through a softmax to portfolio weights).
    public init(observationSize: Int, vectorDimensions dimensions: Int, parameters: PPOParameters = .init()) {
        self.init(observationSize: observationSize, continuousDimensions: dimensions, range: -1...1, parameters: parameters)
        vectorActions = true
    }

    /// The deterministic action: the argmax (discrete), the clipped mean (continuous) or the
    /// mean (vector).
    public func action(_ observation: [Double]) -> Action {
        if vectorActions { return .vector(policy(observation)) }
        guard isContinuous, let range = actionRange else { return .discrete(act(observation)) }
        return .continuous(min(range.upperBound, max(range.lowerBound, policy(observation)[0])))
    }

    static func gaussianLogProb(_ a: [Double], mean: [Double], logStd: [Double]) -> Double {
        var lp = 0.0
        for k in a.indices {
            let z = (a[k] - mean[k]) / exp(logStd[k])
            lp += -0.5 * z * z - logStd[k] - 0.5 * log(2 * Double.pi)
        }
        return lp
    }

    mutating func normal() -> Double {
        let u1 = max(rng.uniform(), 1e-300)
        let u2 = rng.uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// The greedy action (evaluation).
    public func act(_ observation: [Double]) -> Int {
        let logits = policy(observation)
        return logits.indices.max { logits[$0] < logits[$1] } ?? 0
    }

    mutating func sample(_ probabilities: [Double]) -> Int {
        let u = rng.uniform()
        var c = 0.0
        for (i, p) in probabilities.enumerated() {
            c += p
            if u < c { return i }
        }
        return probabilities.count - 1
    }

    /// Trains for at least `totalSteps` environment steps.
    /// - Parameter progress: Called after each update with the report and the agent as it is
    ///   now (to evaluate it); return false to stop early.
    public mutating func train<E: Environment>(_ env: inout E, totalSteps: Int, progress: ((PPOProgress, PPOAgent) -> Bool)? = nil) {
        let p = parameters
        var obs = env.reset(seed: p.seed)
        var episodeReturn = 0.0
        var done = 0
        while done < totalSteps {
            var observations: [[Double]] = []
            var actions: [Int] = []
            var continuousActions: [[Double]] = []
            var logProbs: [Double] = []
            var rewards: [Double] = []
            var ends: [Bool] = []
            var finished: [Double] = []
            // The networks do not change during a rollout: prepared once for its single passes.
            let rolloutPolicy = policy.inference()
            let rolloutValue = value.inference()
            for _ in 0..<p.steps {
                let out = rolloutPolicy(obs)
                let r: StepResult
                var a = 0
                if isContinuous, let range = actionRange {
                    let raw = out.indices.map { out[$0] + exp(logStd[$0]) * normal() }
                    r = env.step(vectorActions ? .vector(raw) : .continuous(min(range.upperBound, max(range.lowerBound, raw[0]))))
                    continuousActions.append(raw)
                    logProbs.append(Self.gaussianLogProb(raw, mean: out, logStd: logStd))
                } else {
                    let probs = Self.softmax(out)
                    a = sample(probs)
                    r = env.step(.discrete(a))
                    logProbs.append(log(max(probs[a], 1e-12)))
                }
                var reward = r.reward
                if r.truncated && !r.terminated { reward += p.gamma * rolloutValue(r.observation)[0] }  // time limit: bootstrap
                observations.append(obs)
                actions.append(a)
                rewards.append(reward)
                ends.append(r.terminated || r.truncated)
                episodeReturn += r.reward
                if r.terminated || r.truncated {
                    finished.append(episodeReturn)
                    episodeReturn = 0
                    obs = env.reset(seed: nil)
                } else {
                    obs = r.observation
                }
            }
            done += p.steps
            // V(s) of the rollout's observations after it, in batches (the same bits as one by one).
            let values = Self.values(rolloutValue, observations)
            let advantages = Self.generalizedAdvantages(
                rewards: rewards,
                values: values,
                ends: ends,
                nextValue: rolloutValue(obs)[0],
                gamma: p.gamma,
                lambda: p.gaeLambda
            )
            let returns = zip(advantages, values).map { $0 + $1 }
            var policyLossSum = 0.0
            var valueLossSum = 0.0
            var batches = 0
            var order = Array(0..<p.steps)
            for _ in 0..<p.epochs {
                for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                var start = 0
                while start < p.steps {
                    let idx = order[start..<min(p.steps, start + p.batchSize)]
                    start += p.batchSize
                    let adv = idx.map { advantages[$0] }
                    let mean = adv.reduce(0, +) / Double(adv.count)
                    let sd = (adv.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, adv.count - 1))).squareRoot()
                    // The minibatch through each network at once (`forward(batch:)` and
                    // `backward(batch:)` give each sample's terms, in sample order, bit for bit);
                    // the policy's pass and the value's on two threads (separate networks: the
                    // same operations in the same order as one after the other).
                    let batch = Array(idx)
                    let inputs = batch.reduce(into: [Double]()) { $0.append(contentsOf: observations[$1]) }
                    let minibatch = PPOMinibatch(
                        batch: batch,
                        inputs: inputs,
                        advantages: adv,
                        mean: mean,
                        sd: sd,
                        continuousActions: continuousActions,
                        actions: actions,
                        logProbs: logProbs,
                        returns: returns
                    )
                    let (policyResult, valueResult) = Self.passes(policy, value, minibatch, logStd: logStd, continuous: isContinuous, parameters: p)
                    // The losses added sample by sample, in sample order, as before.
                    for term in policyResult.lossTerms { policyLossSum += term }
                    for term in valueResult.lossTerms { valueLossSum += term }
                    let gp = policyResult.gradients
                    let gv = valueResult.gradients
                    let gLogStd = policyResult.logStdGradient
                    // The networks moved into the optimiser's list (a copy left in `self` would make
                    // every update copy their weights first).
                    var nets = [policy, value]
                    policy = .placeholder
                    value = .placeholder
                    optimizer.step(&nets, [gp, gv], maxNorm: p.maxGradNorm)
                    policy = nets[0]
                    value = nets[1]
                    if isContinuous {
                        // Adam for log σ, with the networks' step count for bias correction.
                        let t = Double(optimizer.t)
                        for k in logStd.indices {
                            logStdMoments.m[k] = 0.9 * logStdMoments.m[k] + 0.1 * gLogStd[k]
                            logStdMoments.v[k] = 0.999 * logStdMoments.v[k] + 0.001 * gLogStd[k] * gLogStd[k]
                            let mh = logStdMoments.m[k] / (1 - pow(0.9, t))
                            let vh = logStdMoments.v[k] / (1 - pow(0.999, t))
                            logStd[k] -= p.learningRate * mh / (vh.squareRoot() + 1e-5)
                        }
                    }
                    batches += 1
                }
            }
            let report = PPOProgress(
                steps: done,
                meanEpisodeReturn: finished.isEmpty ? .nan : finished.reduce(0, +) / Double(finished.count),
                policyLoss: policyLossSum / Double(batches),
                valueLoss: valueLossSum / Double(batches)
            )
            if let progress, !progress(report, self) { return }
        }
    }

    /// The first output of `net` for each observation, through the batch kernels in chunks of
    /// 128 spread over the cores: each value is the single pass's, bit for bit.
    static func values(_ net: DenseNetwork.Inference, _ observations: [[Double]]) -> [Double] {
        let n = observations.count
        guard n > 0 else { return [] }
        let chunk = 128
        let width = net.sizes.last ?? 1
        var out = [Double](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { buffer in
            let values = SharedPointer(buffer.baseAddress!)
            parallelChunks((n + chunk - 1) / chunk) { c in
                let rows = (c * chunk)..<min(n, (c + 1) * chunk)
                var x: [Double] = []
                x.reserveCapacity(rows.count * (observations[rows.lowerBound].count))
                for i in rows { x.append(contentsOf: observations[i]) }
                let y = net(batch: x, count: rows.count)
                for i in rows { values.base[i] = y[(i - rows.lowerBound) * width] }
            }
        }
        return out
    }

    /// Generalised advantage estimates: δ_t = r_t + γ·V(s_{t+1})·(1 − end_t) − V(s_t),
    /// A_t = δ_t + γλ·(1 − end_t)·A_{t+1}; `nextValue` is V of the state after the last step.
    public static func generalizedAdvantages(
        rewards: [Double],
        values: [Double],
        ends: [Bool],
        nextValue: Double,
        gamma: Double,
        lambda: Double
    ) -> [Double] {
        var advantages = [Double](repeating: 0, count: rewards.count)
        var last = 0.0
        for t in stride(from: rewards.count - 1, through: 0, by: -1) {
            let nonTerminal = ends[t] ? 0.0 : 1.0
            let nv = t == rewards.count - 1 ? nextValue : values[t + 1]
            let delta = rewards[t] + gamma * nv * nonTerminal - values[t]
            last = delta + gamma * lambda * nonTerminal * last
            advantages[t] = last
        }
        return advantages
    }

    /// Mean return of the greedy policy over `episodes` episodes.
    public func evaluate<E: Environment>(_ env: inout E, episodes: Int, seed: UInt64) -> Double {
        var total = 0.0
        for e in 0..<episodes {
            var obs = env.reset(seed: seed &+ UInt64(e))
            while true {
                let r = env.step(action(obs))
                total += r.reward
                if r.terminated || r.truncated { break }
                obs = r.observation
            }
        }
        return total / Double(episodes)
    }
}

/// One minibatch of a PPO update, as both networks' passes read it.
struct PPOMinibatch: Sendable {
    /// The rollout indices of its samples, in order.
    let batch: [Int]
    /// Their observations, row-major (count × observation size).
    let inputs: [Double]
    /// Their advantages, and the minibatch's mean and standard deviation of them.
    let advantages: [Double]
    let mean: Double
    let sd: Double
    /// The rollout's actions (continuous or discrete), log-probabilities and returns.
    let continuousActions: [[Double]]
    let actions: [Int]
    let logProbs: [Double]
    let returns: [Double]

    /// The sample count, as a divisor.
    var n: Double { Double(batch.count) }
}

/// The policy's side of a minibatch: its gradients, log σ's, and each sample's loss term.
struct PolicyPass: Sendable {
    var gradients: DenseNetwork.Gradients
    var logStdGradient: [Double]
    var lossTerms: [Double]
}

/// The value network's side of a minibatch: its gradients and each sample's loss term.
struct ValuePass: Sendable {
    var gradients: DenseNetwork.Gradients
    var lossTerms: [Double]
}

extension PPOAgent {
    /// The policy's and the value network's passes over a minibatch, on two threads when the
    /// networks are wide enough to repay the hand-over (separate networks: each pass is the
    /// same operations in the same order on any thread).
    static func passes(
        _ policy: DenseNetwork,
        _ value: DenseNetwork,
        _ minibatch: PPOMinibatch,
        logStd: [Double],
        continuous: Bool,
        parameters p: PPOParameters
    ) -> (PolicyPass, ValuePass) {
        let results = Mutex<(policy: PolicyPass?, value: ValuePass?)>((nil, nil))
        let pass: @Sendable (Int) -> Void = { side in
            if side == 0 {
                let r = Self.policyPass(policy, minibatch, logStd: logStd, continuous: continuous, parameters: p)
                results.withLock { $0.policy = r }
            } else {
                let r = Self.valuePass(value, minibatch, parameters: p)
                results.withLock { $0.value = r }
            }
        }
        if minibatch.batch.count * (policy.weights.first?.count ?? 0) >= 1 << 16 && Machine.activeCores > 1 {
            DispatchQueue.concurrentPerform(iterations: 2, execute: pass)
        } else {
            pass(0)
            pass(1)
        }
        return results.withLock { ($0.policy!, $0.value!) }
    }

    /// The clipped surrogate's gradient through the policy network for a minibatch.
    static func policyPass(
        _ policy: DenseNetwork,
        _ m: PPOMinibatch,
        logStd: [Double],
        continuous isContinuous: Bool,
        parameters p: PPOParameters
    ) -> PolicyPass {
        let b = m.batch.count
        let n = m.n
        var gp = policy.zeroGradients()
        var gLogStd = [Double](repeating: 0, count: logStd.count)
        var lossTerms: [Double] = []
        lossTerms.reserveCapacity(b)
        let pActs = policy.forward(batch: m.inputs, count: b)
        let outputs = pActs.last!
        let width = outputs.count / b
        var gOutAll = [Double](repeating: 0, count: b * width)
        for (k, i) in m.batch.enumerated() {
            let a = (m.advantages[k] - m.mean) / (m.sd + 1e-8)
            let out = Array(outputs[(k * width)..<((k + 1) * width)])
            var gOut = [Double](repeating: 0, count: out.count)
            if isContinuous {
                let raw = m.continuousActions[i]
                let ratio = exp(Self.gaussianLogProb(raw, mean: out, logStd: logStd) - m.logProbs[i])
                let clipped = min(max(ratio, 1 - p.clip), 1 + p.clip)
                lossTerms.append(-min(ratio * a, clipped * a) / n)
                if ratio * a <= clipped * a {
                    // ∂L/∂log π = −ratio·A/n; ∂log π/∂μ = (a − μ)/σ²; ∂log π/∂log σ = (a − μ)²/σ² − 1.
                    let dlogp = -ratio * a / n
                    for k in out.indices {
                        let sigma2 = exp(2 * logStd[k])
                        let d = raw[k] - out[k]
                        gOut[k] = dlogp * d / sigma2
                        gLogStd[k] += dlogp * (d * d / sigma2 - 1)
                    }
                }
            } else {
                let probs = Self.softmax(out)
                let ratio = exp(log(max(probs[m.actions[i]], 1e-12)) - m.logProbs[i])
                let clipped = min(max(ratio, 1 - p.clip), 1 + p.clip)
                lossTerms.append(-min(ratio * a, clipped * a) / n)
                // The unclipped term is the minimum (or the ratio is inside the clip range): it carries the gradient.
                if ratio * a <= clipped * a {
                    for j in probs.indices { gOut[j] = -ratio * a * ((j == m.actions[i] ? 1 : 0) - probs[j]) / n }
                }
                if p.entropyCoefficient > 0 {
                    let h = probs.reduce(0) { $0 - ($1 > 0 ? $1 * log($1) : 0) }
                    for j in probs.indices { gOut[j] += p.entropyCoefficient * probs[j] * (log(max(probs[j], 1e-12)) + h) / n }
                }
            }
            for j in 0..<width { gOutAll[k * width + j] = gOut[j] }
        }
        policy.backward(batch: pActs, count: b, outputGradient: gOutAll, into: &gp)
        return PolicyPass(gradients: gp, logStdGradient: gLogStd, lossTerms: lossTerms)
    }

    /// The value loss's gradient through the value network for a minibatch.
    static func valuePass(_ value: DenseNetwork, _ m: PPOMinibatch, parameters p: PPOParameters) -> ValuePass {
        let b = m.batch.count
        var gv = value.zeroGradients()
        let vActs = value.forward(batch: m.inputs, count: b)
        var gValue = [Double](repeating: 0, count: b)
        var lossTerms: [Double] = []
        lossTerms.reserveCapacity(b)
        for (k, i) in m.batch.enumerated() {
            let diff = vActs.last![k] - m.returns[i]
            lossTerms.append(diff * diff / m.n)
            gValue[k] = p.valueCoefficient * 2 * diff / m.n
        }
        value.backward(batch: vActs, count: b, outputGradient: gValue, into: &gv)
        return ValuePass(gradients: gv, lossTerms: lossTerms)
    }
}
