import Foundation

/// Progress of one training epoch.
public struct EpochProgress: Sendable {
    /// Epochs done.
    public var epoch: Int
    /// Epoch cap.
    public var epochs: Int
    /// Mean training loss of the epoch.
    public var loss: Double
    /// Validation score (accuracy or −MSE), NaN without early stopping.
    public var validationScore: Double
}

extension MultilayerPerceptron {
    /// Fits on `data` (0/1 targets for classification).
    /// - Throws: `ModelError` for bad data or hyperparameters.
    public static func fit(
        _ data: Dataset,
        task: ModelTask,
        parameters p: MLPParameters = .init(),
        progress: ((EpochProgress) -> Void)? = nil
    ) throws(ModelError) -> MultilayerPerceptron {
        try p.validate()
        let n = data.count
        let d = data.x.columns
        guard n >= 2, d >= 1 else { throw ModelError(.invalidData, "MLP needs at least two rows and one feature") }
        if task == .binaryClassification, !data.y.allSatisfy({ $0 == 0 || $0 == 1 }) {
            throw ModelError(.invalidData, "classification needs 0/1 targets")
        }
        var trainer = MLPTrainer(data: data, task: task, parameters: p)
        return trainer.run(progress: progress)
    }

    /// Incremental update (`partial_fit`): `epochs` passes of Adam over `data`
    /// starting from the current weights (fresh optimiser state).
    public func updated(with data: Dataset, parameters: MLPParameters = .init(), epochs: Int = 1) -> MultilayerPerceptron {
        guard data.count > 0, data.x.columns == inputWidth else { return self }
        var p = parameters
        p.epochs = max(1, epochs)
        p.earlyStopping = false
        var trainer = MLPTrainer(data: data, task: task, parameters: p, start: self)
        return trainer.run(progress: nil)
    }
}

struct MLPTrainer {
    let p: MLPParameters
    let task: ModelTask
    let x: [Float]  // row-major n × d
    let y: [Float]
    let d: Int
    var layers: [MultilayerPerceptron.Layer]
    var rng: SplitMix64
    var trainRows: [Int]
    var validationRows: [Int]
    // Adam state per layer.
    var mW: [[Float]], vW: [[Float]], mB: [[Float]], vB: [[Float]]
    var step = 0

    init(data: Dataset, task: ModelTask, parameters: MLPParameters, start: MultilayerPerceptron? = nil) {
        p = parameters
        self.task = task
        d = data.x.columns
        x = data.x.values.map { Float($0) }
        y = data.y.map { Float($0) }
        rng = SplitMix64(seed: parameters.seed)
        if let start {
            layers = start.layers
        } else {
            // Glorot-uniform, as scikit-learn: bound = sqrt(6 / (fan_in + fan_out)) for every layer
            // (scikit-learn uses 2 only when the hidden activation is logistic, which we do not offer).
            let sizes = [d] + parameters.hiddenLayers + [1]
            var ls: [MultilayerPerceptron.Layer] = []
            for k in 0..<(sizes.count - 1) {
                let (fi, fo) = (sizes[k], sizes[k + 1])
                let bound = (6 / Double(fi + fo)).squareRoot()
                var w = [Float](repeating: 0, count: fi * fo)
                var b = [Float](repeating: 0, count: fo)
                for i in w.indices { w[i] = Float((rng.uniform() * 2 - 1) * bound) }
                for i in b.indices { b[i] = Float((rng.uniform() * 2 - 1) * bound) }
                ls.append(.init(inputs: fi, outputs: fo, weights: w, bias: b))
            }
            layers = ls
        }
        var rows = Array(0..<data.count)
        if parameters.earlyStopping {
            for i in stride(from: rows.count - 1, to: 0, by: -1) { rows.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let held = max(1, Int(Double(rows.count) * parameters.validationFraction))
            validationRows = Array(rows[0..<held]).sorted()
            trainRows = Array(rows[held...]).sorted()
        } else {
            validationRows = []
            trainRows = rows
        }
        mW = layers.map { [Float](repeating: 0, count: $0.weights.count) }
        vW = mW
        mB = layers.map { [Float](repeating: 0, count: $0.bias.count) }
        vB = mB
    }

    var model: MultilayerPerceptron { MultilayerPerceptron(task: task, activation: p.activation, layers: layers) }

    mutating func run(progress: ((EpochProgress) -> Void)?) -> MultilayerPerceptron {
        var best = -Double.infinity
        var bestLayers = layers
        var stale = 0
        var order = trainRows
        let workers = max(1, min(p.threads, p.batchSize / 32))
        // Each workspace holds a full batch: a short final batch may run on fewer workers.
        var spaces = (0..<workers).map { Workspace(layers: layers, inputs: d, rows: p.batchSize, seed: p.seed &+ UInt64($0) &* 0x9E37_79B9) }
        for epoch in 1...p.epochs {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var lossSum = 0.0
            var start = 0
            while start < order.count {
                let m = min(p.batchSize, order.count - start)
                lossSum += trainBatch(order[start..<(start + m)], &spaces)
                start += m
            }
            var score = Double.nan
            if p.earlyStopping {
                // As scikit-learn: patience counts epochs that fail to beat the best by
                // `tolerance`, but any improvement at all is kept as the best weights.
                score = validationScore()
                stale = score < best + p.tolerance ? stale + 1 : 0
                if score > best {
                    best = score
                    bestLayers = layers
                }
            }
            progress?(EpochProgress(epoch: epoch, epochs: p.epochs, loss: lossSum / Double(order.count), validationScore: score))
            if p.earlyStopping && stale >= p.patience { break }
        }
        if p.earlyStopping { layers = bestLayers }
        return model
    }

    func validationScore() -> Double {
        let m = model
        var hits = 0.0
        var sq = 0.0
        var row = [Double](repeating: 0, count: d)
        for i in validationRows {
            for j in 0..<d { row[j] = Double(x[i * d + j]) }
            let out = m.predict(row)
            if task == .binaryClassification {
                if (out > 0.5 ? 1 : 0) == Double(y[i]) { hits += 1 }
            } else {
                sq += (out - Double(y[i])) * (out - Double(y[i]))
            }
        }
        return task == .binaryClassification ? hits / Double(validationRows.count) : -sq / Double(validationRows.count)
    }

    /// Buffers and gradient sums of one worker.
    struct Workspace {
        var acts: [[Float]]  // input copy, then each layer's output
        var masks: [[Float]]
        var deltas: [[Float]]
        var gW: [[Float]]
        var gB: [[Float]]
        var rng: SplitMix64

        init(layers: [MultilayerPerceptron.Layer], inputs d: Int, rows: Int, seed: UInt64) {
            acts = [[Float](repeating: 0, count: rows * d)] + layers.map { [Float](repeating: 0, count: rows * $0.outputs) }
            masks = acts
            deltas = acts
            gW = layers.map { [Float](repeating: 0, count: $0.weights.count) }
            gB = layers.map { [Float](repeating: 0, count: $0.bias.count) }
            rng = SplitMix64(seed: seed)
        }
    }

    /// One Adam step on `rows`: the rows are split across workers, each runs
    /// forward and backward into its own gradient sums, and the sums are added
    /// in worker order. Returns the summed loss.
    mutating func trainBatch(_ rows: ArraySlice<Int>, _ spaces: inout [Workspace]) -> Double {
        let m = rows.count
        let workers = min(spaces.count, max(1, m / 16))
        var losses = [Double](repeating: 0, count: workers)
        let trainer = self
        let batchRows = Array(rows)
        spaces.withUnsafeMutableBufferPointer { sp in
            losses.withUnsafeMutableBufferPointer { lp in
                let s = SharedPointer(sp.baseAddress!)
                let l = SharedPointer(lp.baseAddress!)
                parallelChunks(workers) { c in
                    let part = batchRows[(m * c / workers)..<(m * (c + 1) / workers)]
                    l.base[c] = trainer.backprop(part, batchSize: m, into: &s.base[c])
                }
            }
        }
        for c in 1..<max(1, workers) {
            for k in 0..<layers.count {
                for t in 0..<spaces[0].gW[k].count { spaces[0].gW[k][t] += spaces[c].gW[k][t] }
                for t in 0..<spaces[0].gB[k].count { spaces[0].gB[k][t] += spaces[c].gB[k][t] }
            }
        }
        adam(spaces[0].gW, spaces[0].gB, batchSize: m)
        return losses.reduce(0, +)
    }

    /// Forward and backward on `rows` (part of a batch of `batchSize`), writing the
    /// gradient sums into `w`; returns the summed loss of these rows.
    func backprop(_ rows: ArraySlice<Int>, batchSize: Int, into w: inout Workspace) -> Double {
        let m = rows.count
        let last = layers.count - 1
        for (r, i) in rows.enumerated() {
            for j in 0..<d { w.acts[0][r * d + j] = x[i * d + j] }
        }
        let keep = Float(1 - p.dropout)
        // The parameters read in the loops, read once (a debug build copies `p` per read).
        let relu = p.activation == .relu
        let dropout = p.dropout > 0
        for (k, layer) in layers.enumerated() {
            let (fi, fo) = (layer.inputs, layer.outputs)
            w.acts[k].withUnsafeBufferPointer { a in
                w.acts[k + 1].withUnsafeMutableBufferPointer { z in
                    layer.weights.withUnsafeBufferPointer { wt in
                        for r in 0..<m {
                            let input = a.baseAddress! + r * fi
                            for o in 0..<fo {
                                let row = wt.baseAddress! + o * fi
                                var s: Float = 0
                                var j = 0
                                while j < fi {  // `while`: a range's iterator is a call per step in debug builds
                                    s += row[j] * input[j]
                                    j += 1
                                }
                                z[r * fo + o] = s + layer.bias[o]
                            }
                        }
                    }
                }
            }
            if k < last {
                for t in 0..<(m * fo) {
                    var v = w.acts[k + 1][t]
                    v = relu ? max(0, v) : Foundation.tanh(v)
                    if dropout {
                        let kept: Float = w.rng.uniform() < Double(keep) ? 1 / keep : 0
                        w.masks[k + 1][t] = kept
                        v *= kept
                    }
                    w.acts[k + 1][t] = v
                }
            }
        }
        var loss = 0.0
        let inv = 1 / Float(batchSize)
        for (r, i) in rows.enumerated() {
            let z = Double(w.acts[last + 1][r])
            let target = Double(y[i])
            let out: Double
            if task == .binaryClassification {
                out = sigmoid(z)
                loss += logisticLoss(z, target)
            } else {
                out = z
                loss += 0.5 * (z - target) * (z - target)
            }
            w.deltas[last + 1][r] = Float(out - target) * inv
        }
        for k in stride(from: last, through: 0, by: -1) {
            let layer = layers[k]
            let (fi, fo) = (layer.inputs, layer.outputs)
            for t in 0..<w.gW[k].count { w.gW[k][t] = 0 }
            for t in 0..<fo { w.gB[k][t] = 0 }
            w.deltas[k + 1].withUnsafeBufferPointer { dl in
                w.acts[k].withUnsafeBufferPointer { a in
                    w.gW[k].withUnsafeMutableBufferPointer { g in
                        w.gB[k].withUnsafeMutableBufferPointer { gb in
                            for r in 0..<m {
                                let input = a.baseAddress! + r * fi
                                for o in 0..<fo {
                                    let dv = dl[r * fo + o]
                                    if dv == 0 { continue }
                                    gb[o] += dv
                                    let row = g.baseAddress! + o * fi
                                    var j = 0
                                    while j < fi {
                                        row[j] += dv * input[j]
                                        j += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if k > 0 {
                // δ_k = (δ_{k+1} · W) ⊙ f'(a_k) (⊙ the dropout mask).
                for t in 0..<(m * fi) { w.deltas[k][t] = 0 }
                w.deltas[k + 1].withUnsafeBufferPointer { dl in
                    w.deltas[k].withUnsafeMutableBufferPointer { dk in
                        layer.weights.withUnsafeBufferPointer { wt in
                            for r in 0..<m {
                                let out = dk.baseAddress! + r * fi
                                for o in 0..<fo {
                                    let dv = dl[r * fo + o]
                                    if dv == 0 { continue }
                                    let row = wt.baseAddress! + o * fi
                                    var j = 0
                                    while j < fi {
                                        out[j] += dv * row[j]
                                        j += 1
                                    }
                                }
                            }
                        }
                    }
                }
                for t in 0..<(m * fi) {
                    let a = w.acts[k][t]
                    var g: Float = relu ? (a > 0 ? 1 : 0) : 1 - a * a
                    if dropout { g *= w.masks[k][t] }
                    w.deltas[k][t] *= g
                }
            }
        }
        return loss
    }

    /// L2 (scaled by the batch size, as scikit-learn) and one Adam step.
    mutating func adam(_ gW: [[Float]], _ gB: [[Float]], batchSize m: Int) {
        step += 1
        let lr = Float(p.learningRate * (1 - pow(0.999, Double(step))).squareRoot() / (1 - pow(0.9, Double(step))))
        let alpha = Float(p.l2) / Float(m)
        /// One Adam update of `weights` (through pointers and a `while` loop: the same arithmetic,
        /// without a nested array access per term, which debug builds do not inline).
        func update(_ weights: inout [Float], _ mean: inout [Float], _ variance: inout [Float], _ grad: [Float], decay: Float?) {
            let count = weights.count
            weights.withUnsafeMutableBufferPointer { w in
                mean.withUnsafeMutableBufferPointer { m in
                    variance.withUnsafeMutableBufferPointer { v in
                        grad.withUnsafeBufferPointer { g in
                            var t = 0
                            while t < count {
                                var gt = g[t]
                                if let decay { gt = gt + decay * w[t] }  // L2 on the weights only
                                m[t] = 0.9 * m[t] + 0.1 * gt
                                v[t] = 0.999 * v[t] + 0.001 * gt * gt
                                w[t] -= lr * m[t] / (v[t].squareRoot() + 1e-8)
                                t += 1
                            }
                        }
                    }
                }
            }
        }
        for k in 0..<layers.count {
            update(&layers[k].weights, &mW[k], &vW[k], gW[k], decay: alpha)
            update(&layers[k].bias, &mB[k], &vB[k], gB[k], decay: nil)
        }
    }
}
