import CrocKernels
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
    /// Each output is its bias plus the products in input order, each added by one fused
    /// multiply-add (`croc_dense_forward`), whatever the batch: batching changes the speed and
    /// not a bit of the result, and so does the processor (the AVX-512, AVX2 and portable
    /// paths round alike).
    func layer(_ k: Int, _ input: [Double], count: Int) -> [Double] {
        let (fi, fo) = (sizes[k], sizes[k + 1])
        var out = [Double](repeating: 0, count: count * fo)
        Self.affine(Self.transposed(weights[k], inputs: fi, outputs: fo), biases[k], input, count: count, inputs: fi, outputs: fo, into: &out)
        if k < weights.count - 1 { for i in 0..<(count * fo) { out[i] = Foundation.tanh(out[i]) } }
        return out
    }

    /// `w` (outputs × inputs, row-major) transposed: inputs × outputs.
    static func transposed(_ w: [Double], inputs fi: Int, outputs fo: Int) -> [Double] {
        precondition(w.count == fi * fo)
        return [Double](unsafeUninitializedCapacity: fi * fo) { wt, count in
            w.withUnsafeBufferPointer { croc_transpose($0.baseAddress, wt.baseAddress, Int64(fo), Int64(fi)) }
            count = fi * fo
        }
    }

    /// Caps the kernels' path at `level` — 0 portable, 1 AVX2 + FMA, 2 AVX-512 (the default: the
    /// widest the processor has) — for tests that compare the paths (the results are the same);
    /// returns the path now in use.
    @discardableResult
    static func useKernels(upTo level: Int) -> Int {
        Int(croc_kernels_set_vector_path(Int32(level)))
    }

    /// The kernels' path in use (2 AVX-512, 1 AVX2 + FMA, 0 portable).
    static var kernelPath: Int { Int(croc_kernels_vector_path()) }

    /// `y = x · wt + b` for `count` rows of `x` (count × inputs, row-major) and the weights
    /// transposed (`wt`, inputs × outputs); `b` empty adds no bias (sums from +0).
    static func affine(_ wt: [Double], _ b: [Double], _ x: [Double], count: Int, inputs fi: Int, outputs fo: Int, into y: inout [Double]) {
        precondition(wt.count == fi * fo && x.count >= count * fi && y.count >= count * fo && (b.isEmpty || b.count == fo))
        wt.withUnsafeBufferPointer { wt in
            b.withUnsafeBufferPointer { b in
                x.withUnsafeBufferPointer { x in
                    y.withUnsafeMutableBufferPointer { y in
                        croc_dense_forward(
                            x.baseAddress,
                            wt.baseAddress,
                            b.isEmpty ? nil : b.baseAddress,
                            y.baseAddress,
                            Int64(count),
                            Int64(fi),
                            Int64(fo)
                        )
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

        /// The outputs for `count` inputs stored row-major in `x` (count × in), count × out: each
        /// row's output is the single pass's, bit for bit (the same kernels, any batch).
        public func callAsFunction(batch x: [Double], count: Int) -> [Double] {
            var a = x
            for k in transposedWeights.indices {
                var y = [Double](repeating: 0, count: count * sizes[k + 1])
                DenseNetwork.affine(transposedWeights[k], biases[k], a, count: count, inputs: sizes[k], outputs: sizes[k + 1], into: &y)
                if k < transposedWeights.count - 1 { for i in y.indices { y[i] = Foundation.tanh(y[i]) } }
                a = y
            }
            return a
        }

        /// The output for `x` (`DenseNetwork.callAsFunction`).
        public func callAsFunction(_ x: [Double]) -> [Double] { self(batch: x, count: 1) }
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
    /// gradients count × out): every weight gradient receives the samples' terms in sample
    /// order, each by one fused multiply-add, and every bias gradient its samples' terms in
    /// order — what `backward` one sample after another adds, bit for bit.
    public func backward(batch acts: [[Double]], count: Int, outputGradient: [Double], into g: inout Gradients) {
        var delta = outputGradient
        for k in stride(from: weights.count - 1, through: 0, by: -1) {
            let (fi, fo) = (sizes[k], sizes[k + 1])
            precondition(acts[k].count >= count * fi && delta.count >= count * fo, "activations and output gradients of \(count) samples")
            precondition(g.weights[k].count == fi * fo && g.biases[k].count == fo, "gradients shaped like this network")
            acts[k].withUnsafeBufferPointer { input in
                delta.withUnsafeBufferPointer { d in
                    g.weights[k].withUnsafeMutableBufferPointer { gw in
                        g.biases[k].withUnsafeMutableBufferPointer { gb in
                            croc_dense_weight_gradient(
                                d.baseAddress,
                                input.baseAddress,
                                gw.baseAddress,
                                gb.baseAddress,
                                Int64(count),
                                Int64(fo),
                                Int64(fi)
                            )
                        }
                    }
                }
            }
            guard k > 0 else { break }
            // ∂loss/∂input of layer k = δ · W (W as fo × fi), then through tanh.
            var next = [Double](repeating: 0, count: count * fi)
            Self.affine(weights[k], [], delta, count: count, inputs: fo, outputs: fi, into: &next)
            acts[k].withUnsafeBufferPointer { input in
                for i in 0..<(count * fi) { next[i] *= 1 - input[i] * input[i] }  // tanh'
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
            // Each array's squares in 16 partial sums added pairwise (`croc_sum_squares`), the
            // arrays in order.
            var sq = 0.0
            for g in grads {
                for l in g.weights { sq += l.withUnsafeBufferPointer { croc_sum_squares($0.baseAddress, Int64($0.count)) } }
                for l in g.biases { sq += l.withUnsafeBufferPointer { croc_sum_squares($0.baseAddress, Int64($0.count)) } }
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
            precondition(p.count == g.count && p.count == mm.count && p.count == vv.count)
            p.withUnsafeMutableBufferPointer { p in
                g.withUnsafeBufferPointer { g in
                    mm.withUnsafeMutableBufferPointer { mm in
                        vv.withUnsafeMutableBufferPointer { vv in
                            croc_adam_update(
                                p.baseAddress,
                                g.baseAddress,
                                mm.baseAddress,
                                vv.baseAddress,
                                Int64(p.count),
                                gradientScale,
                                c1,
                                c2,
                                lr,
                                eps
                            )
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
