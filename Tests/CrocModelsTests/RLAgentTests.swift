import Foundation
import Testing

@testable import CrocModels

@Suite("RL networks and PPO")
struct RLAgentTests {
    @Test("DenseNetwork's backward pass equals finite differences")
    func gradientCheck() {
        var rng = SplitMix64(seed: 9)
        var net = DenseNetwork(sizes: [3, 5, 4, 2], outputGain: 1, rng: &rng)
        let x = [0.3, -0.7, 1.1]
        let upstream = [0.8, -1.3]  // ∂L/∂output for L = upstream · output
        var g = net.zeroGradients()
        net.backward(net.forward(x), outputGradient: upstream, into: &g)
        func loss(_ n: DenseNetwork) -> Double { zip(n(x), upstream).reduce(0) { $0 + $1.0 * $1.1 } }
        var worst = 0.0
        for k in net.weights.indices {
            for i in net.weights[k].indices {
                let h = 1e-6
                net.weights[k][i] += h
                let up = loss(net)
                net.weights[k][i] -= 2 * h
                let down = loss(net)
                net.weights[k][i] += h
                worst = max(worst, abs((up - down) / (2 * h) - g.weights[k][i]))
            }
            for i in net.biases[k].indices {
                let h = 1e-6
                net.biases[k][i] += h
                let up = loss(net)
                net.biases[k][i] -= 2 * h
                let down = loss(net)
                net.biases[k][i] += h
                worst = max(worst, abs((up - down) / (2 * h) - g.biases[k][i]))
            }
        }
        #expect(worst < 1e-7, "worst gradient error \(worst)")
    }

    @Test("a batch through the network is each sample through it, bit for bit: activations and summed gradients")
    func batchEqualsSamples() {
        var rng = SplitMix64(seed: 21)
        let net = DenseNetwork(sizes: [37, 16, 8, 5], outputGain: 1, rng: &rng)
        let count = 11  // blocks of four and a remainder
        let xs = (0..<count).map { _ in (0..<37).map { _ in rng.uniform() * 2 - 1 } }
        let grads = (0..<count).map { s in (0..<5).map { j in s == 3 && j == 1 ? 0 : rng.uniform() - 0.5 } }
        var one = net.zeroGradients()
        for s in 0..<count { net.backward(net.forward(xs[s]), outputGradient: grads[s], into: &one) }
        let acts = net.forward(batch: xs.flatMap { $0 }, count: count)
        for s in 0..<count {
            let single = net.forward(xs[s])
            for k in 1..<single.count { #expect(Array(acts[k][(s * single[k].count)..<((s + 1) * single[k].count)]) == single[k]) }
        }
        var batched = net.zeroGradients()
        net.backward(batch: acts, count: count, outputGradient: grads.flatMap { $0 }, into: &batched)
        #expect(batched.weights == one.weights)
        #expect(batched.biases == one.biases)
    }

    @Test("each output is its bias plus the products in input order by fused multiply-adds, bit for bit: batches, single rows, prepared networks")
    func vectorKernelsEqualTheDefinition() {
        var rng = SplitMix64(seed: 5)
        // Outputs in groups of 32, 8 and 4 with remainders; rows in sixes with remainders; inputs
        // past one block of 256.
        for sizes in [[33, 64, 21], [7, 20, 1], [130, 36, 3], [5, 4, 17], [300, 45, 6]] {
            let net = DenseNetwork(sizes: sizes, outputGain: 1, rng: &rng)
            let prepared = net.inference()
            // What every layer is defined to compute: bias + Σ_j w[o][j] · x[j] in input order, each
            // term by one fused multiply-add, tanh between.
            func reference(_ x: [Double]) -> [[Double]] {
                var acts = [x]
                for k in 0..<(sizes.count - 1) {
                    let (fi, fo) = (sizes[k], sizes[k + 1])
                    var y = [Double](repeating: 0, count: fo)
                    for o in 0..<fo {
                        var a = net.biases[k][o]
                        for j in 0..<fi { a.addProduct(net.weights[k][o * fi + j], acts[k][j]) }
                        y[o] = k == sizes.count - 2 ? a : Foundation.tanh(a)
                    }
                    acts.append(y)
                }
                return acts
            }
            for count in 1...9 {
                let xs = (0..<count).map { _ in (0..<sizes[0]).map { _ in rng.uniform() * 4 - 2 } }
                let batch = net.forward(batch: xs.flatMap { $0 }, count: count)
                for s in 0..<count {
                    let r = reference(xs[s])
                    for k in 1..<sizes.count {
                        #expect(Array(batch[k][(s * sizes[k])..<((s + 1) * sizes[k])]) == r[k], "\(sizes) count \(count) row \(s) layer \(k)")
                    }
                    #expect(prepared(xs[s]) == r.last!, "\(sizes) prepared")
                    #expect(net(xs[s]) == r.last!, "\(sizes) single")
                }
            }
        }
    }

    @Test("batched gradients are one sample's after another, bit for bit, also with sums at -0 and inputs that are not finite")
    func batchedGradientsAtNegativeZeroAndInfinity() {
        var rng = SplitMix64(seed: 9)
        let net = DenseNetwork(sizes: [8, 4, 2], outputGain: 1, rng: &rng)
        let count = 8
        for poison in ["negative zero", "infinity"] {
            var xs = (0..<count).map { _ in (0..<8).map { _ in rng.uniform() + 0.5 } }
            if poison == "infinity" { xs[2][3] = .infinity }
            // Output gradients with zeros: the scalar loop skips those samples.
            let grads = (0..<count).map { s in (0..<2).map { j in s % 3 == 0 ? 0 : rng.uniform() - 0.5 } }
            var start = net.zeroGradients()
            if poison == "negative zero" { start.weights[0] = start.weights[0].map { _ in -0.0 } }
            var one = start
            for s in 0..<count { net.backward(net.forward(xs[s]), outputGradient: grads[s], into: &one) }
            var batched = start
            let acts = net.forward(batch: xs.flatMap { $0 }, count: count)
            net.backward(batch: acts, count: count, outputGradient: grads.flatMap { $0 }, into: &batched)
            for k in one.weights.indices {
                let same = zip(one.weights[k], batched.weights[k]).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
                #expect(same, "\(poison) layer \(k)")
            }
        }
    }

    @Test("the AVX-512, AVX2 + FMA and portable kernels give the same bits: forward, backward, Adam, gradient norm")
    func kernelPathsAgree() {
        var rng = SplitMix64(seed: 17)
        let nets = [DenseNetwork(sizes: [300, 37, 13, 3], outputGain: 1, rng: &rng), DenseNetwork(sizes: [9, 70, 1], outputGain: 1, rng: &rng)]
        func run() -> [[UInt64]] {
            var rng = SplitMix64(seed: 3)
            var out: [[UInt64]] = []
            var moved = nets
            var optimizer = AdamOptimizer(learningRate: 1e-2, epsilon: 1e-5)
            for _ in 0..<3 {
                var grads: [DenseNetwork.Gradients] = []
                for net in moved {
                    let count = 11
                    let xs = (0..<(count * net.sizes[0])).map { _ in rng.uniform() * 2 - 1 }
                    let acts = net.forward(batch: xs, count: count)
                    out.append(acts.last!.map(\.bitPattern))
                    var g = net.zeroGradients()
                    net.backward(
                        batch: acts,
                        count: count,
                        outputGradient: (0..<(count * net.sizes.last!)).map { _ in rng.uniform() - 0.5 },
                        into: &g
                    )
                    out.append(g.weights.flatMap { $0 }.map(\.bitPattern))
                    grads.append(g)
                }
                optimizer.step(&moved, grads, maxNorm: 0.5)
                out.append(moved.flatMap { $0.weights.flatMap { $0 } + $0.biases.flatMap { $0 } }.map(\.bitPattern))
            }
            return out
        }
        // Each path the processor has, widest first (on one without AVX-512 the first two runs
        // are both AVX2's), against the portable one.
        let widest = DenseNetwork.useKernels(upTo: 2)
        let wide = run()
        let avx2 = DenseNetwork.useKernels(upTo: 1)
        let vector = run()
        DenseNetwork.useKernels(upTo: 0)
        let portable = run()
        DenseNetwork.useKernels(upTo: 2)
        #expect(DenseNetwork.kernelPath == widest)
        for (name, other) in [("widest (\(widest))", wide), ("AVX2 (\(avx2))", vector)] {
            let differing = zip(other, portable).filter { $0 != $1 }.count
            #expect(other.count == portable.count && differing == 0, "\(name): \(differing) of \(other.count) arrays differ from the portable path")
        }
    }

    @Test("GAE on a hand-worked example, with an episode end cutting the bootstrap")
    func gae() {
        let a = PPOAgent.generalizedAdvantages(
            rewards: [1, 1, 1],
            values: [0.5, 0.4, 0.3],
            ends: [false, true, false],
            nextValue: 0.2,
            gamma: 0.9,
            lambda: 0.8
        )
        let d2 = 1 + 0.9 * 0.2 - 0.3  // step 2 bootstraps from nextValue
        let d1 = 1 - 0.4  // step 1 ends the episode: no bootstrap, no carry
        let d0 = 1 + 0.9 * 0.4 - 0.5
        #expect(abs(a[2] - d2) < 1e-12 && abs(a[1] - d1) < 1e-12 && abs(a[0] - (d0 + 0.9 * 0.8 * d1)) < 1e-12)
    }

    @Test("PPO is seeded: the same seed trains the same policy")
    func seeded() {
        var p = PPOParameters()
        p.steps = 256
        p.epochs = 2
        var envA = CartPole()
        var envB = CartPole()
        var a = PPOAgent(observationSize: 4, actions: 2, parameters: p)
        var b = PPOAgent(observationSize: 4, actions: 2, parameters: p)
        a.train(&envA, totalSteps: 256)
        b.train(&envB, totalSteps: 256)
        #expect(a.policy == b.policy && a.value == b.value)
        #expect(a.policy != PPOAgent(observationSize: 4, actions: 2, parameters: p).policy)  // training moved it
    }
}

@Suite("DQN")
struct DQNTests {
    @Test("DQN is seeded, fills its buffer before learning, and its greedy action is the argmax of Q")
    func seeded() {
        var p = DQNParameters()
        p.hidden = [16]
        p.learningStarts = 100
        p.trainFrequency = 50
        p.gradientSteps = 5
        var envA = CartPole()
        var envB = CartPole()
        var a = DQNAgent(observationSize: 4, actions: 2, parameters: p)
        var b = DQNAgent(observationSize: 4, actions: 2, parameters: p)
        var phases = 0
        a.train(&envA, totalSteps: 400) { _, _, eps, _ in
            phases += 1
            #expect(eps < 1 && eps >= p.finalEpsilon)
            return true
        }
        b.train(&envB, totalSteps: 400)
        #expect(phases == 6)  // steps 150, 200, ..., 400 after 100 random steps
        #expect(a.online == b.online)
        #expect(a.online != DQNAgent(observationSize: 4, actions: 2, parameters: p).online)
        let s = [0.01, -0.02, 0.03, 0.04]
        let q = a.online(s)
        #expect(a.act(s) == (q[1] > q[0] ? 1 : 0))
    }
}

/// A one-step continuous task: observe x in [−1, 1], act a in [−1, 1], reward −(a − x)².
struct TrackingTask: Environment {
    var x = 0.0
    var rng = SplitMix64(seed: 0)
    var observationSize: Int { 1 }
    var actionSpace: ActionSpace { .continuous(low: -1, high: 1) }
    mutating func reset(seed: UInt64?) -> [Double] {
        if let seed { rng = SplitMix64(seed: seed) }
        x = rng.uniform() * 2 - 1
        return [x]
    }
    mutating func step(_ action: Action) -> StepResult {
        guard case .continuous(let a) = action else { return StepResult(observation: [x], reward: -4, terminated: true, truncated: false) }
        return StepResult(observation: [x], reward: -(a - x) * (a - x), terminated: true, truncated: false)
    }
}

@Suite("PPO with a Gaussian policy")
struct GaussianPPOTests {
    @Test("learns a continuous control task, and its exploration noise shrinks")
    func tracking() {
        var p = PPOParameters()
        p.steps = 512
        p.hidden = [16]
        p.learningRate = 3e-3
        var env = TrackingTask()
        var agent = PPOAgent(observationSize: 1, continuousDimensions: 1, parameters: p)
        var evalEnv = TrackingTask()
        let before = agent.evaluate(&evalEnv, episodes: 200, seed: 99)  // ≈ −E[x²] = −1/3 at the start
        agent.train(&env, totalSteps: 6_144)
        let after = agent.evaluate(&evalEnv, episodes: 200, seed: 99)
        #expect(before < -0.2)
        #expect(after > -0.05, "mean reward after training \(after)")
        #expect(agent.logStd[0] < 0)  // σ < 1: less exploration once the mean is right
        if case .continuous(let a) = agent.action([0.5]) { #expect(abs(a - 0.5) < 0.25) } else { Issue.record("expected a continuous action") }
    }
}
