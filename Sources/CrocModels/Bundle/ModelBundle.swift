import CrocCore
import CrocData
import CrocSupport
import Foundation

/// How training targets are made from prices: the forward return over
/// `horizon` bars, r = close[t + horizon] / close[t] − 1.
public struct LabelDefinition: Sendable, Hashable, Codable {
    /// The target's form.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// 1 when r > 0, else 0.
        case sign
        /// 1 when r > `threshold`, else 0.
        case threshold
        /// r itself (regression).
        case value
    }

    /// The target's form.
    public var kind: Kind
    /// Bars ahead.
    public var horizon: Int
    /// The threshold for `.threshold`.
    public var threshold: Double
    /// For a universe: the forward returns ranked or demeaned across the symbols at each
    /// date before they become labels (nil or `.none`: as they are). Single series ignore it.
    public var crossSection: CrossSectionTransform?

    /// Creates a label definition.
    public init(kind: Kind = .sign, horizon: Int = 5, threshold: Double = 0, crossSection: CrossSectionTransform? = nil) {
        self.kind = kind
        self.horizon = horizon
        self.threshold = threshold
        self.crossSection = crossSection
    }

    /// The label of a forward return `r` (`label(_:at:)` without the prices).
    public func label(forwardReturn r: Double) -> Double {
        switch kind {
        case .sign: return r > 0 ? 1 : 0
        case .threshold: return r > threshold ? 1 : 0
        case .value: return r
        }
    }

    /// The task a model of this label solves.
    public var task: ModelTask { kind == .value ? .regression : .binaryClassification }

    /// The label of bar `i`, or nil when bar `i + horizon` does not exist.
    public func label(_ close: [Double], at i: Int) -> Double? {
        guard i + horizon < close.count, close[i] > 0 else { return nil }
        let r = close[i + horizon] / close[i] - 1
        switch kind {
        case .sign: return r > 0 ? 1 : 0
        case .threshold: return r > threshold ? 1 : 0
        case .value: return r
        }
    }
}

/// Descriptive facts about a trained model.
public struct ModelMetadata: Sendable, Hashable, Codable {
    /// A name (`googl-gbdt`).
    public var name: String
    /// The user's version string.
    public var version: String
    /// The learner.
    public var kind: ModelKind
    /// What it predicts.
    public var task: ModelTask
    /// Symbol of the training data.
    public var symbol: String
    /// First and last bar time of the training rows (ISO-8601).
    public var trainingRange: [String]
    /// Evaluation results (`test.accuracy`, `test.auc`, ...).
    public var metrics: [String: Double]
    /// Hyperparameters as given.
    public var hyperparameters: [String: ConfigValue]
    /// When it was trained (ISO-8601, UTC).
    public var createdAt: String

    /// Creates metadata.
    public init(
        name: String,
        version: String = "1",
        kind: ModelKind,
        task: ModelTask,
        symbol: String = "",
        trainingRange: [String] = [],
        metrics: [String: Double] = [:],
        hyperparameters: [String: ConfigValue] = [:],
        createdAt: String = ISO8601DateFormatter().string(from: Date())
    ) {
        self.name = name
        self.version = version
        self.kind = kind
        self.task = task
        self.symbol = symbol
        self.trainingRange = trainingRange
        self.metrics = metrics
        self.hyperparameters = hyperparameters
        self.createdAt = createdAt
    }
}

/// Why a bundle could not be saved or loaded.
public struct BundleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// A file is missing.
        case missingFile
        /// A file cannot be read or written.
        case io
        /// Not a CrocBot model bundle, or malformed JSON.
        case wrongFormat
        /// A format version this build does not read.
        case unsupportedVersion
        /// The weights do not match their recorded size or checksum.
        case checksumMismatch
        /// The weights decode to an invalid model.
        case invalidWeights
    }

    /// What went wrong.
    public var code: Code
    /// The file concerned.
    public var path: String
    /// Detail for people.
    public var detail: String

    /// Creates an error.
    public init(code: Code, path: String, detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    /// `models/x/bundle.json: checksum mismatch: ...`.
    public var description: String { "\(path): \(detail)" }
}

/// A model with everything needed to use it on new bars: the feature
/// pipeline definition, the fitted scaler, the label definition and metadata.
///
/// Saved as a directory: `bundle.json` (format, version, metadata, features,
/// scaler, label, and the size and checksum of the weights) and
/// `weights.bin` (the learner's parameters). Loading verifies the format,
/// the version and the checksum before decoding anything.
public struct ModelBundle: Sendable {
    /// The on-disk format this build writes and reads.
    public static let formatVersion = 1
    /// The `format` marker in `bundle.json`.
    public static let formatName = "crocbot-model"

    /// Descriptive facts.
    public var metadata: ModelMetadata
    /// The features the model reads, in order.
    public var features: FeaturePipelineDefinition
    /// The scaler fitted on the training range.
    public var scaler: FeatureScaler
    /// How the training targets were made.
    public var label: LabelDefinition
    /// The fitted model.
    public var model: any Model
    /// For a model trained on a universe: the transform applied to every feature column
    /// across the symbols at each date, before the scaler (nil: none; single-series models).
    /// Inference on a universe (`model_topk`) applies it the same way.
    public var crossSection: CrossSectionTransform?

    /// Creates a bundle.
    public init(
        metadata: ModelMetadata,
        features: FeaturePipelineDefinition,
        scaler: FeatureScaler,
        label: LabelDefinition,
        model: any Model,
        crossSection: CrossSectionTransform? = nil
    ) {
        self.metadata = metadata
        self.features = features
        self.scaler = scaler
        self.label = label
        self.model = model
        self.crossSection = crossSection
    }

    struct Manifest: Codable {
        var format: String
        var formatVersion: Int
        var metadata: ModelMetadata
        var features: FeaturePipelineDefinition
        var scaler: FeatureScaler
        var label: LabelDefinition
        var crossSection: CrossSectionTransform?
        var weights: WeightsInfo
    }

    struct WeightsInfo: Codable {
        var file: String
        var bytes: Int
        var checksum: String
    }

    /// FNV-1a 64-bit over the weights, as `fnv1a64:<hex>`: detects truncation
    /// and corruption (it is an integrity check, not a signature).
    public static func checksum(_ bytes: [UInt8]) -> String {
        "fnv1a64:" + FNV1a.hex(bytes)
    }

    /// Writes the bundle into `directory` (created if needed).
    /// - Throws: `BundleError.io` when the files cannot be written.
    public func save(to directory: String) throws(BundleError) {
        let weights = model.encodeWeights()
        let manifest = Manifest(
            format: Self.formatName,
            formatVersion: Self.formatVersion,
            metadata: metadata,
            features: features,
            scaler: scaler,
            label: label,
            crossSection: crossSection,
            weights: WeightsInfo(file: "weights.bin", bytes: weights.count, checksum: Self.checksum(weights))
        )
        try BundleDirectory.write(manifest, weights: weights, to: directory)
    }

    /// Reads and verifies a bundle directory.
    /// - Throws: `BundleError` naming the file and the problem.
    public static func load(from directory: String) throws(BundleError) -> ModelBundle {
        let manifest = try BundleDirectory.readManifest(Manifest.self, from: directory, format: formatName, version: formatVersion)
        let weightsPath = URL(fileURLWithPath: directory).appendingPathComponent(manifest.weights.file).path
        let bytes = try BundleDirectory.readWeights(
            manifest.weights.file,
            in: directory,
            bytes: manifest.weights.bytes,
            checksum: manifest.weights.checksum
        )
        let model: any Model
        do {
            model = try ModelFactory.decode(kind: manifest.metadata.kind, weights: bytes)
        } catch {
            throw BundleError(code: .invalidWeights, path: weightsPath, detail: error.description)
        }
        let width = FeaturePipeline(manifest.features).width
        guard model.inputWidth == width else {
            throw BundleError(
                code: .invalidWeights,
                path: weightsPath,
                detail: "model expects \(model.inputWidth) features, the pipeline makes \(width)"
            )
        }
        return ModelBundle(
            metadata: manifest.metadata,
            features: manifest.features,
            scaler: manifest.scaler,
            label: manifest.label,
            model: model,
            crossSection: manifest.crossSection
        )
    }
}

/// Reading and writing of bundle directories (`bundle.json` plus a weights
/// file), shared by `ModelBundle` and `RLModelBundle`: every check of format,
/// version, size and checksum happens here, with the same typed errors.
public enum BundleDirectory {
    /// Writes `weights.bin` and then `bundle.json` (each atomically) into `directory`, created if needed.
    /// - Throws: `BundleError.io` when the files cannot be written.
    public static func write(_ manifest: some Encodable, weights: [UInt8], to directory: String) throws(BundleError) {
        let dir = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(weights).write(to: dir.appendingPathComponent("weights.bin"), options: .atomic)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try encoder.encode(manifest).write(to: dir.appendingPathComponent("bundle.json"), options: .atomic)
        } catch {
            throw BundleError(code: .io, path: directory, detail: "cannot write bundle: \(error.localizedDescription)")
        }
    }

    /// Reads `directory/bundle.json`, checking its `format` marker and
    /// `formatVersion` before decoding the rest as `M`.
    /// - Throws: `BundleError` (`missingFile`, `io`, `wrongFormat`, `unsupportedVersion`).
    public static func readManifest<M: Decodable>(_ type: M.Type, from directory: String, format: String, version: Int) throws(BundleError) -> M {
        let manifestPath = URL(fileURLWithPath: directory).appendingPathComponent("bundle.json").path
        guard FileManager.default.fileExists(atPath: manifestPath) else {
            throw BundleError(code: .missingFile, path: manifestPath, detail: "no bundle.json: not a bundle directory")
        }
        guard let json = FileManager.default.contents(atPath: manifestPath) else {
            throw BundleError(code: .io, path: manifestPath, detail: "cannot read")
        }
        guard let header = try? JSONSerialization.jsonObject(with: json) as? [String: Any], header["format"] as? String == format else {
            throw BundleError(code: .wrongFormat, path: manifestPath, detail: "not a \(format) bundle")
        }
        guard let found = header["formatVersion"] as? Int, found == version else {
            throw BundleError(
                code: .unsupportedVersion,
                path: manifestPath,
                detail: "format version \(header["formatVersion"] ?? "missing") is not supported (this build reads \(version))"
            )
        }
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return try decoder.decode(M.self, from: json)
        } catch {
            throw BundleError(code: .wrongFormat, path: manifestPath, detail: "malformed: \(error)")
        }
    }

    /// Reads the weights file `file` in `directory` and verifies its size and checksum.
    /// - Throws: `BundleError` (`missingFile`, `checksumMismatch`).
    public static func readWeights(_ file: String, in directory: String, bytes count: Int, checksum expected: String) throws(BundleError) -> [UInt8] {
        let weightsPath = URL(fileURLWithPath: directory).appendingPathComponent(file).path
        guard !file.contains("/"), let data = FileManager.default.contents(atPath: weightsPath) else {
            throw BundleError(code: .missingFile, path: weightsPath, detail: "weights file missing")
        }
        let bytes = [UInt8](data)
        guard bytes.count == count else {
            throw BundleError(code: .checksumMismatch, path: weightsPath, detail: "has \(bytes.count) bytes, bundle.json records \(count)")
        }
        let sum = ModelBundle.checksum(bytes)
        guard sum == expected else {
            throw BundleError(code: .checksumMismatch, path: weightsPath, detail: "checksum \(sum) differs from the recorded \(expected)")
        }
        return bytes
    }
}
