/// What a model predicts.
public enum ModelTask: String, Sendable, Hashable, Codable, CaseIterable {
    /// A real value (e.g. a forward return).
    case regression
    /// The probability of class 1 (e.g. "the price goes up").
    case binaryClassification = "binary"
}

/// The learners CrocBot ships, by their config names.
public enum ModelKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Ridge (L2) linear regression, closed form.
    case ridge
    /// L2-regularised logistic regression (L-BFGS).
    case logistic
    /// Histogram gradient-boosted decision trees.
    case gbdt
    /// Multilayer perceptron (Adam).
    case mlp
    /// An imported ONNX model, run through ONNX Runtime.
    case onnx
}

/// A fitted model: maps one feature vector (or a batch) to a prediction.
///
/// For `.binaryClassification` the prediction is P(class 1); for
/// `.regression` it is the predicted value.
public protocol Model: Sendable {
    /// The learner.
    var kind: ModelKind { get }
    /// What it predicts.
    var task: ModelTask { get }
    /// Features expected per vector.
    var inputWidth: Int { get }
    /// Predicts one vector of `inputWidth` values.
    func predict(_ x: UnsafeBufferPointer<Double>) -> Double
    /// Predicts every row of `x`; each row's prediction equals `predict(_:)` of that row, bit
    /// for bit (a learner may reorder the work across rows, never within one).
    func predict(batch x: Matrix) -> [Double]
    /// Serialises the fitted parameters (little-endian, versioned by the bundle).
    func encodeWeights() -> [UInt8]
}

extension Model {
    /// Predicts one vector.
    public func predict(_ x: [Double]) -> Double { x.withUnsafeBufferPointer { predict($0) } }

    /// Predicts every row of `x`, one row at a time.
    public func predict(batch x: Matrix) -> [Double] {
        x.values.withUnsafeBufferPointer { v in
            (0..<x.rows).map { predict(UnsafeBufferPointer(rebasing: v[($0 * x.columns)..<(($0 + 1) * x.columns)])) }
        }
    }
}

/// Why fitting or loading a model failed.
public struct ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// Not enough or inconsistent training data.
        case invalidData
        /// A hyperparameter out of range.
        case invalidHyperparameter
        /// The numerical method did not converge or the system is singular.
        case numerical
        /// Stored weights are malformed.
        case corruptWeights
    }

    /// What went wrong.
    public var code: Code
    /// Detail for people.
    public var detail: String

    /// Creates an error.
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The detail.
    public var description: String { detail }
}

/// Little-endian binary encoding of model parameters.
struct WeightWriter {
    var bytes: [UInt8] = []
    mutating func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func double(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func doubles(_ v: [Double]) {
        int(v.count)
        for x in v { double(x) }
    }
}

/// Reads what `WeightWriter` wrote; every read is bounds-checked.
struct WeightReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func uint64() throws(ModelError) -> UInt64 {
        guard offset + 8 <= bytes.count else { throw ModelError(.corruptWeights, "weights truncated at byte \(offset)") }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
        offset += 8
        return v
    }

    mutating func int(max: Int = 1 << 40) throws(ModelError) -> Int {
        let v = Int(Int64(bitPattern: try uint64()))
        guard v >= 0, v <= max else { throw ModelError(.corruptWeights, "implausible count \(v) at byte \(offset - 8)") }
        return v
    }

    mutating func double() throws(ModelError) -> Double { Double(bitPattern: try uint64()) }

    mutating func doubles() throws(ModelError) -> [Double] {
        let n = try int(max: (bytes.count - offset) / 8)
        var out = [Double]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try double()) }
        return out
    }

    func finish() throws(ModelError) {
        guard offset == bytes.count else { throw ModelError(.corruptWeights, "\(bytes.count - offset) trailing bytes") }
    }
}
