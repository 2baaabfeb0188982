import Foundation

/// A small fully connected network with explicit forward and backward passes,
/// for reinforcement-learning agents (policy and value heads need custom losses).
/// Hidden layers use tanh; the output layer is linear.
public struct DenseNetwork: Sendable, Hashable, Codable {
    /// Layer sizes, input first.
    public let sizes: [Int]
    /// Weights per layer, out × in row-major.
    public var weights: [[Double]]
    /// Biases per layer.
    public var biases: [[Double]]

    /// Creates a network with scaled uniform initialisation; the output layer's
    /// weights are scaled by `outputGain` (small for policies, as Stable-Baselines3 does).
    public init(sizes: [Int], outputGain: Double = 1, rng: inout SplitMix64) {
        self.sizes = sizes
        var w: [[Double]] = []
        var b: [[Double]] = []
        for k in 0..<(sizes.count - 1) {
            let (fi, fo) = (sizes[k], sizes[k + 1])
            let gain = k == sizes.count - 2 ? outputGain : 2.0.squareRoot()
            let bound = gain * (3.0 / Double(fi)).squareRoot()
            w.append((0..<(fi * fo)).map { _ in (rng.uniform() * 2 - 1) * bound })
            b.append([Double](repeating: 0, count: fo))
        }
        weights = w
        biases = b
    }

    /// Activations of every layer (input first, output last), for `backward`.
    public func forward(_ x: [Double]) -> [[Double]] {
        var acts = [x]
        acts.reserveCapacity(weights.count + 1)
        for k in 0..<weights.count {
            acts.append(layer(k, acts[k], count: 1))
        }
        return acts
    }

    /// Layer `k` over `count` inputs stored row-major in `input` (count × in), as count × out.
    ///
    /// Each output is its bias plus the products in input order, exactly as one sample at a
    /// time would sum them; several outputs are summed side by side (independent chains the
    /// processor overlaps), so batching changes the speed and not a bit of the result.
    func layer(_ k: Int, _ input: [Double], count: Int) -> [Double] {
        let (fi, fo) = (sizes[k], sizes[k + 1])
        let last = k == weights.count - 1
        var out = [Double](repeating: 0, count: count * fo)
        input.withUnsafeBufferPointer { x in
            weights[k].withUnsafeBufferPointer { w in
                biases[k].withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { y in
                        for o in 0..<fo {
                            let row = w.baseAddress! + o * fi
                            var s = 0
                            while s + 8 <= count {
                                let x0 = x.baseAddress! + s * fi
                                var a = (b[o], b[o], b[o], b[o], b[o], b[o], b[o], b[o])
                                for j in 0..<fi {
                                    let wj = row[j]
                                    a.0 += wj * x0[j]
                                    a.1 += wj * x0[fi + j]
                                    a.2 += wj * x0[2 * fi + j]
                                    a.3 += wj * x0[3 * fi + j]
                                    a.4 += wj * x0[4 * fi + j]
                                    a.5 += wj * x0[5 * fi + j]
                                    a.6 += wj * x0[6 * fi + j]
                                    a.7 += wj * x0[7 * fi + j]
                                }
                                y[s * fo + o] = a.0
                                y[(s + 1) * fo + o] = a.1
                                y[(s + 2) * fo + o] = a.2
                                y[(s + 3) * fo + o] = a.3
                                y[(s + 4) * fo + o] = a.4
                                y[(s + 5) * fo + o] = a.5
                                y[(s + 6) * fo + o] = a.6
                                y[(s + 7) * fo + o] = a.7
                                s += 8
                            }
                            while s < count {
                                let xs = x.baseAddress! + s * fi
                                var a = b[o]
                                for j in 0..<fi { a += row[j] * xs[j] }
                                y[s * fo + o] = a
                                s += 1
                            }
                        }
                        if !last { for i in 0..<(count * fo) { y[i] = Foundation.tanh(y[i]) } }
                    }
                }
            }
        }
        return out
    }

    /// Activations of every layer for a batch of `count` inputs (row-major, count × in), each
    /// layer count × size: `forward` of each row, bit for bit.
    public func forward(batch x: [Double], count: Int) -> [[Double]] {
        var acts = [x]
        acts.reserveCapacity(weights.count + 1)
        for k in 0..<weights.count { acts.append(layer(k, acts[k], count: count)) }
        return acts
    }

    /// The output for `x`.
    public func callAsFunction(_ x: [Double]) -> [Double] { forward(x).last! }

    /// Gradient sums, shaped like the parameters.
    public struct Gradients: Sendable {
        /// Per layer, like `weights`.
        public var weights: [[Double]]
        /// Per layer, like `biases`.
        public var biases: [[Double]]
    }

    /// Zero gradients for this network.
    public func zeroGradients() -> Gradients {
        Gradients(weights: weights.map { [Double](repeating: 0, count: $0.count) }, biases: biases.map { [Double](repeating: 0, count: $0.count) })
    }

    /// Adds ∂loss/∂parameters for one sample, given ∂loss/∂output. The gradient with
    /// respect to the input is not formed (nothing upstream needs it), which spares the
    /// widest layer a second pass over its weights.
    public func backward(_ acts: [[Double]], outputGradient: [Double], into g: inout Gradients) {
        backward(batch: acts, count: 1, outputGradient: outputGradient, into: &g)
    }

    /// Adds ∂loss/∂parameters for a batch (activations from `forward(batch:count:)`, output
    /// gradients count × out): every gradient element receives the samples' terms in sample
    /// order, as `backward` one sample after another would add them.
    public func backward(batch acts: [[Double]], count: Int, outputGradient: [Double], into g: inout Gradients) {
        var delta = outputGradient
        for k in stride(from: weights.count - 1, through: 0, by: -1) {
            let (fi, fo) = (sizes[k], sizes[k + 1])
            let needsInput = k > 0
            var next = [Double](repeating: 0, count: needsInput ? count * fi : 0)
            acts[k].withUnsafeBufferPointer { input in
                weights[k].withUnsafeBufferPointer { w in
                    g.weights[k].withUnsafeMutableBufferPointer { gw in
                        delta.withUnsafeBufferPointer { d in
                            for o in 0..<fo {
                                let grow = gw.baseAddress! + o * fi
                                for s in 0..<count {
                                    let ds = d[s * fo + o]
                                    if ds == 0 { continue }
                                    g.biases[k][o] += ds
                                    let xs = input.baseAddress! + s * fi
                                    for j in 0..<fi { grow[j] += ds * xs[j] }
                                }
                            }
                            guard needsInput else { return }
                            next.withUnsafeMutableBufferPointer { nx in
                                for s in 0..<count {
                                    let ns = nx.baseAddress! + s * fi
                                    for o in 0..<fo {
                                        let ds = d[s * fo + o]
                                        if ds == 0 { continue }
                                        let row = w.baseAddress! + o * fi
                                        for j in 0..<fi { ns[j] += ds * row[j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if needsInput {
                acts[k].withUnsafeBufferPointer { input in
                    for i in 0..<(count * fi) { next[i] *= 1 - input[i] * input[i] }  // tanh'
                }
            }
            delta = next
        }
    }
}

/// Adam over one or more networks, with an optional global gradient-norm clip.
public struct AdamOptimizer: Sendable {
    /// Step size.
    public var learningRate: Double
    /// Adam's ε (Stable-Baselines3 uses 1e-5).
    public var epsilon: Double
    var m: [DenseNetwork.Gradients] = []
    var v: [DenseNetwork.Gradients] = []
    var t = 0

    /// Creates an optimiser.
    public init(learningRate: Double, epsilon: Double = 1e-8) {
        self.learningRate = learningRate
        self.epsilon = epsilon
    }

    /// One step for `nets` with gradients `grads` (same order), clipping the global norm to `maxNorm`.
    public mutating func step(_ nets: inout [DenseNetwork], _ grads: [DenseNetwork.Gradients], maxNorm: Double? = nil) {
        if m.isEmpty {
            m = nets.map { $0.zeroGradients() }
            v = m
        }
        var scale = 1.0
        if let maxNorm {
            var sq = 0.0
            for g in grads {
                for l in g.weights { for x in l { sq += x * x } }
                for l in g.biases { for x in l { sq += x * x } }
            }
            let norm = sq.squareRoot()
            if norm > maxNorm { scale = maxNorm / (norm + 1e-6) }
        }
        t += 1
        let c1 = 1 - pow(0.9, Double(t))
        let c2 = 1 - pow(0.999, Double(t))
        let lr = learningRate
        let eps = epsilon
        func update(_ p: inout [Double], _ g: [Double], _ mm: inout [Double], _ vv: inout [Double]) {
            p.withUnsafeMutableBufferPointer { p in
                g.withUnsafeBufferPointer { g in
                    mm.withUnsafeMutableBufferPointer { mm in
                        vv.withUnsafeMutableBufferPointer { vv in
                            for i in 0..<p.count {
                                let gi = g[i] * scale
                                mm[i] = 0.9 * mm[i] + 0.1 * gi
                                vv[i] = 0.999 * vv[i] + 0.001 * gi * gi
                                p[i] -= lr * (mm[i] / c1) / ((vv[i] / c2).squareRoot() + eps)
                            }
                        }
                    }
                }
            }
        }
        for n in nets.indices {
            for k in nets[n].weights.indices {
                update(&nets[n].weights[k], grads[n].weights[k], &m[n].weights[k], &v[n].weights[k])
                update(&nets[n].biases[k], grads[n].biases[k], &m[n].biases[k], &v[n].biases[k])
            }
        }
    }
}
