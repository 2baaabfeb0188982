import CrocSupport

/// Builds learners by kind name with hyperparameters from configuration,
/// validating every parameter with its key path (`model.params.rounds`).
public enum ModelFactory {
    /// Parameters each kind takes, with defaults (for docs and validation).
    public static func parameters(of kind: ModelKind) -> [String: ConfigValue] {
        switch kind {
        case .ridge: return ["alpha": .double(1)]
        case .onnx: return [:]
        case .logistic: return ["c": .double(1), "maxIterations": .int(1000), "tolerance": .double(1e-9)]
        case .mlp:
            let p = MLPParameters()
            return [
                "hiddenLayers": .array(p.hiddenLayers.map { .int($0) }), "activation": .string(p.activation.rawValue), "dropout": .double(p.dropout),
                "learningRate": .double(p.learningRate), "l2": .double(p.l2), "batchSize": .int(p.batchSize), "epochs": .int(p.epochs),
                "earlyStopping": .bool(p.earlyStopping), "validationFraction": .double(p.validationFraction), "patience": .int(p.patience),
                "tolerance": .double(p.tolerance), "seed": .int(Int(p.seed)), "threads": .int(p.threads),
            ]
        case .gbdt:
            let p = GBDTParameters()
            return [
                "rounds": .int(p.rounds), "learningRate": .double(p.learningRate), "maxLeaves": .int(p.maxLeaves), "maxDepth": .int(p.maxDepth),
                "minSamplesLeaf": .int(p.minSamplesLeaf), "l2": .double(p.l2), "maxBins": .int(p.maxBins), "subsample": .double(p.subsample),
                "seed": .int(Int(p.seed)), "threads": .int(p.threads),
            ]
        }
    }

    /// Fits `kind` on `data`.
    /// - Parameters:
    ///   - task: Classification (0/1 targets) or regression.
    ///   - hyperparameters: Overrides of `parameters(of:)`.
    ///   - progress: Called with (step, total, training loss) where the learner reports it.
    /// - Throws: `ConfigError` for unknown or invalid parameters, `ModelError` when fitting fails.
    public static func fit(
        kind: ModelKind,
        task: ModelTask,
        data: Dataset,
        hyperparameters: [String: ConfigValue] = [:],
        progress: ((Int, Int, Double) -> Void)? = nil
    ) throws -> any Model {
        let r = try ConfigReader(.object(hyperparameters), path: "model.params")
        try r.rejectUnknownKeys(Array(parameters(of: kind).keys).sorted())
        switch kind {
        case .onnx:
            throw ConfigError(
                .invalidValue,
                keyPath: "model.kind",
                rule: "onnx models are imported (ONNXModel, crocbot import-onnx), not trained here"
            )
        case .ridge:
            guard task == .regression else {
                throw ConfigError(.invalidValue, keyPath: "model.kind", rule: "ridge is a regressor; use a value label or the logistic/gbdt kinds")
            }
            return try RidgeRegression.fit(data, alpha: try r.double("alpha", default: 1))
        case .logistic:
            guard task == .binaryClassification else {
                throw ConfigError(.invalidValue, keyPath: "model.kind", rule: "logistic is a classifier; use a sign or threshold label")
            }
            let (m, report) = try LogisticRegression.fit(
                data,
                c: try r.double("c", default: 1),
                tolerance: try r.double("tolerance", default: 1e-9),
                maxIterations: try r.int("maxIterations", default: 1000)
            )
            progress?(report.iterations, report.iterations, report.logLoss)
            return m
        case .mlp:
            let p = try mlpParameters(r)
            return try MultilayerPerceptron.fit(data, task: task, parameters: p) { progress?($0.epoch, $0.epochs, $0.loss) }
        case .gbdt:
            var p = GBDTParameters()
            p.rounds = try r.int("rounds", default: p.rounds)
            p.learningRate = try r.double("learningRate", default: p.learningRate)
            p.maxLeaves = try r.int("maxLeaves", default: p.maxLeaves)
            p.maxDepth = try r.int("maxDepth", default: p.maxDepth)
            p.minSamplesLeaf = try r.int("minSamplesLeaf", default: p.minSamplesLeaf)
            p.l2 = try r.double("l2", default: p.l2)
            p.maxBins = try r.int("maxBins", default: p.maxBins)
            p.subsample = try r.double("subsample", default: p.subsample)
            p.seed = UInt64(max(0, try r.int("seed", default: 0)))
            p.threads = try r.int("threads", default: p.threads)
            p.loss = task == .binaryClassification ? .logistic : .squared
            do {
                try p.validate()
            } catch {
                throw ConfigError(.invalidValue, keyPath: "model.params", rule: error.description)
            }
            return try GradientBoostedTrees.fit(data, parameters: p) { progress?($0.round, $0.rounds, $0.trainingLoss) }
        }
    }

    static func mlpParameters(_ r: ConfigReader) throws(ConfigError) -> MLPParameters {
        var p = MLPParameters()
        if let raw = r.raw("hiddenLayers") {
            guard case .array(let items) = raw, !items.isEmpty, items.allSatisfy({ ($0.intValue ?? 0) >= 1 }) else {
                throw ConfigError(.invalidValue, keyPath: r.childPath("hiddenLayers"), rule: "expected a list of positive layer sizes, e.g. [64, 64]")
            }
            p.hiddenLayers = items.map { $0.intValue! }
        }
        p.activation = try r.choice("activation", default: p.activation)
        p.dropout = try r.double("dropout", default: p.dropout)
        p.learningRate = try r.double("learningRate", default: p.learningRate)
        p.l2 = try r.double("l2", default: p.l2)
        p.batchSize = try r.int("batchSize", default: p.batchSize)
        p.epochs = try r.int("epochs", default: p.epochs)
        p.earlyStopping = try r.bool("earlyStopping", default: p.earlyStopping)
        p.validationFraction = try r.double("validationFraction", default: p.validationFraction)
        p.patience = try r.int("patience", default: p.patience)
        p.tolerance = try r.double("tolerance", default: p.tolerance)
        p.seed = UInt64(max(0, try r.int("seed", default: 0)))
        p.threads = try r.int("threads", default: p.threads)
        do {
            try p.validate()
        } catch {
            throw ConfigError(.invalidValue, keyPath: r.path, rule: error.description)
        }
        return p
    }

    /// Decodes stored weights of `kind`.
    /// - Throws: `ModelError.corruptWeights`.
    public static func decode(kind: ModelKind, weights: [UInt8]) throws(ModelError) -> any Model {
        switch kind {
        case .ridge: return try RidgeRegression.decode(weights)
        case .logistic: return try LogisticRegression.decode(weights)
        case .gbdt: return try GradientBoostedTrees.decode(weights)
        case .mlp: return try MultilayerPerceptron.decode(weights)
        case .onnx: return try ONNXModel.decode(weights)
        }
    }
}
