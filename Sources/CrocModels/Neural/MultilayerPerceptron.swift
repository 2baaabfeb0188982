import Foundation

/// Hidden-layer activation.
public enum Activation: String, Sendable, Hashable, Codable, CaseIterable {
    /// max(0, x).
    case relu
    /// tanh(x).
    case tanh
}

/// MLP hyperparameters (names follow scikit-learn's `MLPClassifier`).
public struct MLPParameters: Sendable, Hashable, Codable {
    /// Units per hidden layer.
    public var hiddenLayers: [Int] = [64, 64]
    /// Hidden activation.
    public var activation: Activation = .relu
    /// Dropout rate on hidden activations during training (0 = none).
    public var dropout: Double = 0
    /// Adam's step size.
    public var learningRate: Double = 1e-3
    /// L2 penalty (scikit-learn's `alpha`).
    public var l2: Double = 1e-4
    /// Samples per mini-batch.
    public var batchSize: Int = 64
    /// Maximum passes over the data.
    public var epochs: Int = 200
    /// Hold out `validationFraction` of the rows and stop when their accuracy
    /// (or negative MSE) has not improved by `tolerance` for `patience` epochs;
    /// the weights of the best validation score are kept.
    public var earlyStopping: Bool = true
    /// Share of rows held out for early stopping.
    public var validationFraction: Double = 0.1
    /// Epochs without improvement before stopping.
    public var patience: Int = 10
    /// Minimum improvement that counts.
    public var tolerance: Double = 1e-4
    /// Seed for initialisation, shuffling, dropout and the validation split.
    public var seed: UInt64 = 0
    /// Worker threads per mini-batch (results are deterministic for a given count).
    public var threads: Int = 2

    /// Defaults.
    public init() {}

    /// Checks ranges.
    /// - Throws: `ModelError.invalidHyperparameter` naming the parameter.
    public func validate() throws(ModelError) {
        func fail(_ s: String) -> ModelError { ModelError(.invalidHyperparameter, s) }
        guard !hiddenLayers.isEmpty, hiddenLayers.allSatisfy({ (1...65_536).contains($0) }) else {
            throw fail("hiddenLayers must be 1...65536 units each, found \(hiddenLayers)")
        }
        guard dropout >= 0, dropout < 1 else { throw fail("dropout must be in [0, 1), found \(dropout)") }
        guard learningRate > 0, learningRate < 10 else { throw fail("learningRate must be in (0, 10), found \(learningRate)") }
        guard l2 >= 0 else { throw fail("l2 must be ≥ 0") }
        guard batchSize >= 1 else { throw fail("batchSize must be ≥ 1") }
        guard epochs >= 1 else { throw fail("epochs must be ≥ 1") }
        guard validationFraction > 0, validationFraction < 1 else { throw fail("validationFraction must be in (0, 1)") }
        guard patience >= 1 else { throw fail("patience must be ≥ 1") }
        guard threads >= 1 else { throw fail("threads must be ≥ 1") }
    }
}

/// A fully connected network: hidden layers with ReLU or tanh, one output
/// unit (sigmoid for classification, identity for regression).
public struct MultilayerPerceptron: Model, Hashable {
    /// One dense layer: `weights` is out × in, row-major.
    public struct Layer: Sendable, Hashable, Codable {
        /// Inputs.
        public var inputs: Int
        /// Outputs.
        public var outputs: Int
        /// Weights, out × in.
        public var weights: [Float]
        /// Biases.
        public var bias: [Float]
    }

    /// The learner (reported as its own kind).
    public var kind: ModelKind { .mlp }
    /// Classification or regression.
    public let task: ModelTask
    /// Hidden activation.
    public let activation: Activation
    /// The layers, input to output.
    public let layers: [Layer]
    /// Features expected.
    public var inputWidth: Int { layers.first?.inputs ?? 0 }

    /// Wraps fitted layers.
    public init(task: ModelTask, activation: Activation, layers: [Layer]) {
        self.task = task
        self.activation = activation
        self.layers = layers
    }

    /// The forward pass for one vector.
    public func predict(_ x: UnsafeBufferPointer<Double>) -> Double {
        let widest = layers.map { max($0.inputs, $0.outputs) }.max() ?? 1
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * widest) { buf in
            var input = buf.baseAddress!
            var output = buf.baseAddress! + widest
            for j in 0..<inputWidth { input[j] = Float(x[j]) }
            for (l, layer) in layers.enumerated() {
                layer.weights.withUnsafeBufferPointer { w in
                    for o in 0..<layer.outputs {
                        var s = layer.bias[o]
                        let row = w.baseAddress! + o * layer.inputs
                        for j in 0..<layer.inputs { s += row[j] * input[j] }
                        output[o] = l == layers.count - 1 ? s : activate(s)
                    }
                }
                swap(&input, &output)
            }
            let z = Double(input[0])
            return task == .binaryClassification ? sigmoid(z) : z
        }
    }

    @inline(__always)
    func activate(_ s: Float) -> Float { activation == .relu ? max(0, s) : Foundation.tanh(s) }

    /// Parameters as JSON.
    public func encodeWeights() -> [UInt8] {
        // Sorted keys: the same model always encodes to the same bytes.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(Payload(task: task, activation: activation, layers: layers))) ?? Data())
    }

    struct Payload: Codable {
        var task: ModelTask
        var activation: Activation
        var layers: [Layer]
    }

    /// Reads `encodeWeights()` output.
    /// - Throws: `ModelError.corruptWeights` for malformed or inconsistent layers.
    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> MultilayerPerceptron {
        let p: Payload
        do {
            p = try JSONDecoder().decode(Payload.self, from: Data(bytes))
        } catch {
            throw ModelError(.corruptWeights, "MLP weights are not valid: \(error)")
        }
        guard !p.layers.isEmpty, p.layers.last!.outputs == 1 else { throw ModelError(.corruptWeights, "MLP needs layers ending in one output") }
        for (k, l) in p.layers.enumerated() {
            guard l.weights.count == l.inputs * l.outputs, l.bias.count == l.outputs, k == 0 || p.layers[k - 1].outputs == l.inputs else {
                throw ModelError(.corruptWeights, "MLP layer \(k): inconsistent shapes")
            }
        }
        return MultilayerPerceptron(task: p.task, activation: p.activation, layers: p.layers)
    }
}
