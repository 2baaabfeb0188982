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
        let widths = layers.map(\.outputs)
        let batch = p.batchSize
        // Activations per layer for a batch (input copy, then each layer's output), deltas, and gradients.
        var acts = [[Float]](repeating: [], count: layers.count + 1)
        acts[0] = [Float](repeating: 0, count: batch * d)
        for (k, w) in widths.enumerated() { acts[k + 1] = [Float](repeating: 0, count: batch * w) }
        var masks = acts
        var deltas = acts
        var gW = layers.map { [Float](repeating: 0, count: $0.weights.count) }
        var gB = layers.map { [Float](repeating: 0, count: $0.bias.count) }
        for epoch in 1...p.epochs {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var lossSum = 0.0
            var start = 0
            while start < order.count {
                let m = min(batch, order.count - start)
                lossSum += trainBatch(Array(order[start..<(start + m)]), &acts, &masks, &deltas, &gW, &gB) * Double(m)
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

    /// Forward, backward and one Adam step on `rows`; returns the mean loss.
    mutating func trainBatch(
        _ rows: [Int],
        _ acts: inout [[Float]],
        _ masks: inout [[Float]],
        _ deltas: inout [[Float]],
        _ gW: inout [[Float]],
        _ gB: inout [[Float]]
    ) -> Double {
        let m = rows.count
        let last = layers.count - 1
        for (r, i) in rows.enumerated() {
            for j in 0..<d { acts[0][r * d + j] = x[i * d + j] }
        }
        let keep = Float(1 - p.dropout)
        // Forward.
        for (k, layer) in layers.enumerated() {
            let (fi, fo) = (layer.inputs, layer.outputs)
            acts[k].withUnsafeBufferPointer { a in
                acts[k + 1].withUnsafeMutableBufferPointer { z in
                    layer.weights.withUnsafeBufferPointer { w in
                        for r in 0..<m {
                            let input = a.baseAddress! + r * fi
                            for o in 0..<fo {
                                let row = w.baseAddress! + o * fi
                                var s: Float = 0
                                for j in 0..<fi { s += row[j] * input[j] }
                                z[r * fo + o] = s + layer.bias[o]
                            }
                        }
                    }
                }
            }
            if k < last {
                for t in 0..<(m * fo) {
                    var v = acts[k + 1][t]
                    v = p.activation == .relu ? max(0, v) : Foundation.tanh(v)
                    if p.dropout > 0 {
                        let kept: Float = rng.uniform() < Double(keep) ? 1 / keep : 0
                        masks[k + 1][t] = kept
                        v *= kept
                    }
                    acts[k + 1][t] = v
                }
            }
        }
        // Output delta and loss (mean over the batch).
        var loss = 0.0
        let inv = 1 / Float(m)
        for r in 0..<m {
            let z = Double(acts[last + 1][r])
            let target = Double(y[rows[r]])
            let out: Double
            if task == .binaryClassification {
                out = sigmoid(z)
                loss += logisticLoss(z, target)
            } else {
                out = z
                loss += 0.5 * (z - target) * (z - target)
            }
            deltas[last + 1][r] = Float(out - target) * inv
        }
        // Backward.
        for k in stride(from: last, through: 0, by: -1) {
            let layer = layers[k]
            let (fi, fo) = (layer.inputs, layer.outputs)
            for t in 0..<gW[k].count { gW[k][t] = 0 }
            for t in 0..<fo { gB[k][t] = 0 }
            deltas[k + 1].withUnsafeBufferPointer { dl in
                acts[k].withUnsafeBufferPointer { a in
                    gW[k].withUnsafeMutableBufferPointer { g in
                        for r in 0..<m {
                            let input = a.baseAddress! + r * fi
                            for o in 0..<fo {
                                let dv = dl[r * fo + o]
                                if dv == 0 { continue }
                                gB[k][o] += dv
                                let row = g.baseAddress! + o * fi
                                for j in 0..<fi { row[j] += dv * input[j] }
                            }
                        }
                    }
                }
            }
            if k > 0 {
                // δ_{k} = (δ_{k+1} · W) ⊙ f'(a_k) (⊙ dropout mask).
                for t in 0..<(m * fi) { deltas[k][t] = 0 }
                deltas[k + 1].withUnsafeBufferPointer { dl in
                    deltas[k].withUnsafeMutableBufferPointer { dk in
                        layer.weights.withUnsafeBufferPointer { w in
                            for r in 0..<m {
                                let out = dk.baseAddress! + r * fi
                                for o in 0..<fo {
                                    let dv = dl[r * fo + o]
                                    if dv == 0 { continue }
                                    let row = w.baseAddress! + o * fi
                                    for j in 0..<fi { out[j] += dv * row[j] }
                                }
                            }
                        }
                    }
                }
                for t in 0..<(m * fi) {
                    let a = acts[k][t]
                    var g: Float = p.activation == .relu ? (a > 0 ? 1 : 0) : 1 - a * a
                    if p.dropout > 0 { g *= masks[k][t] }
                    deltas[k][t] *= g
                }
            }
        }
        // L2 (scikit-learn scales it by the batch size) and Adam.
        step += 1
        let lr = p.learningRate * (1 - pow(0.999, Double(step))).squareRoot() / (1 - pow(0.9, Double(step)))
        let alpha = Float(p.l2) * inv
        for k in 0..<layers.count {
            for t in 0..<layers[k].weights.count {
                let g = gW[k][t] + alpha * layers[k].weights[t]
                mW[k][t] = 0.9 * mW[k][t] + 0.1 * g
                vW[k][t] = 0.999 * vW[k][t] + 0.001 * g * g
                layers[k].weights[t] -= Float(lr) * mW[k][t] / (vW[k][t].squareRoot() + 1e-8)
            }
            for t in 0..<layers[k].bias.count {
                let g = gB[k][t]
                mB[k][t] = 0.9 * mB[k][t] + 0.1 * g
                vB[k][t] = 0.999 * vB[k][t] + 0.001 * g * g
                layers[k].bias[t] -= Float(lr) * mB[k][t] / (vB[k][t].squareRoot() + 1e-8)
            }
        }
        return loss / Double(m)
    }
}
