import CrocSupport
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

    /// A one-weight network that holds a network's place while it is moved out (no storage shared).
    static let placeholder: DenseNetwork = {
        var r = SplitMix64(seed: 0)
        return DenseNetwork(sizes: [1, 1], rng: &r)
    }()

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
        if count >= 4 && fo >= 4 {
            Self.tiledLayer(Self.transposed(weights[k], inputs: fi, outputs: fo), biases[k], input, count: count, inputs: fi, outputs: fo, into: &out)
            if !last { for i in 0..<(count * fo) { out[i] = Foundation.tanh(out[i]) } }
            return out
        }
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

    /// `w` (outputs × inputs, row-major) transposed: inputs × outputs.
    static func transposed(_ w: [Double], inputs fi: Int, outputs fo: Int) -> [Double] {
        var wt = [Double](repeating: 0, count: fi * fo)
        w.withUnsafeBufferPointer { w in
            wt.withUnsafeMutableBufferPointer { wt in
                for o in 0..<fo {
                    for j in 0..<fi { wt[j * fo + o] = w[o * fi + j] }
                }
            }
        }
        return wt
    }

    /// `y = x · wᵀ + b` for `count` rows of `x` (count × inputs, row-major), from the weights
    /// transposed (`wt`, inputs × outputs): tiles of 4 rows × 4 outputs kept in vector registers
    /// while the inputs run (each weight vector loaded once per tile instead of once per
    /// product), then single rows 16 and 4 outputs at a time. Every output is still its bias
    /// plus the products in input order, one multiplication and one addition each (no fused
    /// multiply-add): the scalar loop's result, bit for bit, whatever the batch (tested).
    static func tiledLayer(_ wt: [Double], _ b: [Double], _ x: [Double], count: Int, inputs fi: Int, outputs fo: Int, into y: inout [Double]) {
        let wideOutputs = fo - fo % 4
        let wideRows = count - count % 4
        wt.withUnsafeBufferPointer { wt in
            b.withUnsafeBufferPointer { b in
                x.withUnsafeBufferPointer { x in
                    y.withUnsafeMutableBufferPointer { y in
                        let wt = wt.baseAddress!
                        let b = b.baseAddress!
                        let x = x.baseAddress!
                        let y = y.baseAddress!
                        var s = 0
                        while s < wideRows {
                            let x0 = x + s * fi
                            let x1 = x0 + fi
                            let x2 = x1 + fi
                            let x3 = x2 + fi
                            var o = 0
                            while o < wideOutputs {
                                let bias = loadVector(b + o)
                                var (a0, a1, a2, a3) = (bias, bias, bias, bias)
                                var column = wt + o
                                for j in 0..<fi {
                                    let wj = loadVector(column)
                                    a0 = a0 + wj * SIMD4(repeating: x0[j])
                                    a1 = a1 + wj * SIMD4(repeating: x1[j])
                                    a2 = a2 + wj * SIMD4(repeating: x2[j])
                                    a3 = a3 + wj * SIMD4(repeating: x3[j])
                                    column += fo
                                }
                                let row = y + s * fo + o
                                storeVector(a0, row)
                                storeVector(a1, row + fo)
                                storeVector(a2, row + 2 * fo)
                                storeVector(a3, row + 3 * fo)
                                o += 4
                            }
                            s += 4
                        }
                        // Single rows (a batch's last ones, or one observation).
                        while s < count {
                            let xs = x + s * fi
                            var o = 0
                            while o + 16 <= wideOutputs {
                                var (a0, a1, a2, a3) = (loadVector(b + o), loadVector(b + o + 4), loadVector(b + o + 8), loadVector(b + o + 12))
                                var column = wt + o
                                for j in 0..<fi {
                                    let v = SIMD4(repeating: xs[j])
                                    a0 = a0 + loadVector(column) * v
                                    a1 = a1 + loadVector(column + 4) * v
                                    a2 = a2 + loadVector(column + 8) * v
                                    a3 = a3 + loadVector(column + 12) * v
                                    column += fo
                                }
                                let row = y + s * fo + o
                                storeVector(a0, row)
                                storeVector(a1, row + 4)
                                storeVector(a2, row + 8)
                                storeVector(a3, row + 12)
                                o += 16
                            }
                            while o < wideOutputs {
                                var a = loadVector(b + o)
                                var column = wt + o
                                for j in 0..<fi {
                                    a = a + loadVector(column) * SIMD4(repeating: xs[j])
                                    column += fo
                                }
                                storeVector(a, y + s * fo + o)
                                o += 4
                            }
                            s += 1
                        }
                        // The outputs past the last 4, every row: scalar sums in the same order.
                        for s in 0..<count {
                            let xs = x + s * fi
                            for o in wideOutputs..<fo {
                                var a = b[o]
                                for j in 0..<fi { a += wt[j * fo + o] * xs[j] }
                                y[s * fo + o] = a
                            }
                        }
                    }
                }
            }
        }
    }

    /// The network with each layer's weights transposed for fast single-observation passes
    /// (a rollout's thousands of `policy(observation)` calls between two updates): the same
    /// outputs as the network, bit for bit. Make a new one after the weights change.
    public struct Inference: Sendable {
        /// Layer sizes, input first.
        public let sizes: [Int]
        let transposedWeights: [[Double]]
        let biases: [[Double]]

        /// The output for `x` (`DenseNetwork.callAsFunction`).
        public func callAsFunction(_ x: [Double]) -> [Double] {
            var a = x
            for k in transposedWeights.indices {
                var y = [Double](repeating: 0, count: sizes[k + 1])
                DenseNetwork.tiledLayer(transposedWeights[k], biases[k], a, count: 1, inputs: sizes[k], outputs: sizes[k + 1], into: &y)
                if k < transposedWeights.count - 1 { for i in y.indices { y[i] = Foundation.tanh(y[i]) } }
                a = y
            }
            return a
        }
    }

    /// This network prepared for many single-observation passes with unchanged weights.
    public func inference() -> Inference {
        Inference(
            sizes: sizes,
            transposedWeights: weights.indices.map { Self.transposed(weights[$0], inputs: sizes[$0], outputs: sizes[$0 + 1]) },
            biases: biases
        )
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
                            // Tiles of 4 outputs × 4 inputs stay in registers over the samples when
                            // that adds the same terms in the same order: a zero ∂ (skipped by the
                            // scalar loop) then adds 0 × x = ±0, which changes nothing unless x is
                            // not finite or the sum is -0 — checked first.
                            let tiled = count >= 4 && fi >= 4 && fo >= 4 && Self.isTileSafe(input, gw)
                            let tiledOutputs = tiled ? fo - fo % 4 : 0
                            let tiledInputs = fi - fi % 4
                            if tiled {
                                Self.weightGradientTiles(
                                    gw.baseAddress!,
                                    d.baseAddress!,
                                    input.baseAddress!,
                                    count: count,
                                    inputs: fi,
                                    outputs: fo,
                                    tiledInputs: tiledInputs,
                                    tiledOutputs: tiledOutputs
                                )
                            }
                            for o in 0..<fo {
                                let grow = gw.baseAddress! + o * fi
                                // Tiled rows: only their inputs past the last 4 are left.
                                let from = o < tiledOutputs ? tiledInputs : 0
                                for s in 0..<count {
                                    let ds = d[s * fo + o]
                                    if ds == 0 { continue }
                                    g.biases[k][o] += ds
                                    let xs = input.baseAddress! + s * fi
                                    for j in from..<fi { grow[j] += ds * xs[j] }
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

extension DenseNetwork {
    /// Whether the weight-gradient tiles add what the scalar loop adds: every input finite
    /// and no gradient sum at -0.
    static func isTileSafe(_ input: UnsafeBufferPointer<Double>, _ gw: UnsafeMutableBufferPointer<Double>) -> Bool {
        for v in input where !v.isFinite { return false }
        for v in gw where v == 0 && v.sign == .minus { return false }
        return true
    }

    /// `gw[o][j] += Σ_s d[s][o] · x[s][j]` for the first `tiledOutputs` outputs and `tiledInputs`
    /// inputs, the samples in order: a 4 × 4 block of sums loaded once, the samples added, stored.
    static func weightGradientTiles(
        _ gw: UnsafeMutablePointer<Double>,
        _ d: UnsafePointer<Double>,
        _ x: UnsafePointer<Double>,
        count: Int,
        inputs fi: Int,
        outputs fo: Int,
        tiledInputs: Int,
        tiledOutputs: Int
    ) {
        // Inputs a block of 32 at a time, so that the samples' values of the block (count × 32)
        // stay in the first cache levels while every output tile passes over them.
        var block = 0
        while block < tiledInputs {
            let blockEnd = min(block + 32, tiledInputs)
            var o = 0
            while o < tiledOutputs {
                let r0 = gw + o * fi
                let r1 = r0 + fi
                let r2 = r1 + fi
                let r3 = r2 + fi
                var j = block
                while j < blockEnd {
                    var (g0, g1, g2, g3) = (loadVector(r0 + j), loadVector(r1 + j), loadVector(r2 + j), loadVector(r3 + j))
                    var xs = x + j
                    var ds = d + o
                    for _ in 0..<count {
                        let v = loadVector(xs)
                        g0 = g0 + SIMD4(repeating: ds[0]) * v
                        g1 = g1 + SIMD4(repeating: ds[1]) * v
                        g2 = g2 + SIMD4(repeating: ds[2]) * v
                        g3 = g3 + SIMD4(repeating: ds[3]) * v
                        xs += fi
                        ds += fo
                    }
                    storeVector(g0, r0 + j)
                    storeVector(g1, r1 + j)
                    storeVector(g2, r2 + j)
                    storeVector(g3, r3 + j)
                    j += 4
                }
                o += 4
            }
            block = blockEnd
        }
    }
}

/// Four doubles from `p` (any alignment): the vector kernels' load.
@inline(__always)
private func loadVector(_ p: UnsafePointer<Double>) -> SIMD4<Double> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Double>.self) }

/// Four doubles to `p` (any alignment): the vector kernels' store.
@inline(__always)
private func storeVector(_ v: SIMD4<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Double>.self)
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
        let gradientScale = scale
        @Sendable func update(_ p: inout [Double], _ g: [Double], _ mm: inout [Double], _ vv: inout [Double]) {
            p.withUnsafeMutableBufferPointer { p in
                g.withUnsafeBufferPointer { g in
                    mm.withUnsafeMutableBufferPointer { mm in
                        vv.withUnsafeMutableBufferPointer { vv in
                            // Four at a time in vector registers (the same IEEE operations per
                            // element, in the same order: the scalar loop's values, bit for bit).
                            let count = p.count
                            let wide = count - count % 4
                            if wide > 0 {
                                let (pb, gb, mb, vb) = (p.baseAddress!, g.baseAddress!, mm.baseAddress!, vv.baseAddress!)
                                let (s, a1, b1, a2, b2) = (
                                    SIMD4(repeating: gradientScale), SIMD4<Double>(repeating: 0.9), SIMD4<Double>(repeating: 0.1),
                                    SIMD4<Double>(repeating: 0.999), SIMD4<Double>(repeating: 0.001)
                                )
                                let (vc1, vc2, vlr, veps) = (SIMD4(repeating: c1), SIMD4(repeating: c2), SIMD4(repeating: lr), SIMD4(repeating: eps))
                                var i = 0
                                while i < wide {
                                    let gi = loadVector(gb + i) * s
                                    let m = a1 * loadVector(mb + i) + b1 * gi
                                    let v = a2 * loadVector(vb + i) + b2 * gi * gi
                                    storeVector(m, mb + i)
                                    storeVector(v, vb + i)
                                    storeVector(loadVector(pb + i) - vlr * (m / vc1) / ((v / vc2).squareRoot() + veps), pb + i)
                                    i += 4
                                }
                            }
                            for i in wide..<count {
                                let gi = g[i] * gradientScale
                                mm[i] = 0.9 * mm[i] + 0.1 * gi
                                vv[i] = 0.999 * vv[i] + 0.001 * gi * gi
                                p[i] -= lr * (mm[i] / c1) / ((vv[i] / c2).squareRoot() + eps)
                            }
                        }
                    }
                }
            }
        }
        // Each network on its own thread when there are several and they are large (every
        // parameter's update is its own: the same values on any number of threads).
        let parameters = nets.reduce(0) { $0 + $1.weights.reduce(0) { $0 + $1.count } }
        let threads = nets.count > 1 && parameters >= 1 << 16 ? min(nets.count, Machine.activeCores) : 1
        nets.withUnsafeMutableBufferPointer { nets in
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    let (na, ma, va) = (UInt(bitPattern: nets.baseAddress!), UInt(bitPattern: m.baseAddress!), UInt(bitPattern: v.baseAddress!))
                    let count = nets.count
                    DispatchQueue.concurrentPerform(iterations: threads) { task in
                        let nets = UnsafeMutablePointer<DenseNetwork>(bitPattern: na)!
                        let m = UnsafeMutablePointer<DenseNetwork.Gradients>(bitPattern: ma)!
                        let v = UnsafeMutablePointer<DenseNetwork.Gradients>(bitPattern: va)!
                        for n in stride(from: task, to: count, by: threads) {
                            for k in nets[n].weights.indices {
                                update(&nets[n].weights[k], grads[n].weights[k], &m[n].weights[k], &v[n].weights[k])
                                update(&nets[n].biases[k], grads[n].biases[k], &m[n].biases[k], &v[n].biases[k])
                            }
                        }
                    }
                }
            }
        }
    }
}
