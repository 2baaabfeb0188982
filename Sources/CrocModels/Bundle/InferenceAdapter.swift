import CrocData
import Foundation

/// Inference latency, recorded per call into power-of-two nanosecond buckets.
public struct LatencySummary: Sendable, Hashable {
    /// Calls recorded.
    public var count: Int
    /// Mean latency, ns.
    public var meanNanoseconds: Double
    /// Estimated median, ns (bucket upper bound).
    public var p50Nanoseconds: Double
    /// Estimated 99th percentile, ns (bucket upper bound).
    public var p99Nanoseconds: Double
}

/// Turns a bundle into the function a strategy calls: feature vector in
/// (raw, as the bundle's pipeline makes it), score out. Applies the bundle's
/// scaler, then the model, and records each call's latency.
public final class InferenceAdapter: @unchecked Sendable {
    // @unchecked: the bundle is immutable; latency counters are guarded by `lock`.
    /// The bundle.
    public let bundle: ModelBundle
    /// Features expected per vector.
    public var inputWidth: Int { bundle.model.inputWidth }
    private let lock = NSLock()
    private var buckets = [Int](repeating: 0, count: 64)
    private var calls = 0
    private var totalNanoseconds: UInt64 = 0
    private let recordsLatency: Bool

    /// Wraps a bundle.
    /// - Parameter recordLatency: Time every call (two clock reads).
    public init(bundle: ModelBundle, recordLatency: Bool = true) {
        self.bundle = bundle
        self.recordsLatency = recordLatency
    }

    /// Loads a bundle from disk and wraps it.
    /// - Throws: `BundleError`.
    public convenience init(path: String) throws(BundleError) {
        self.init(bundle: try ModelBundle.load(from: path))
    }

    /// The model's score for one raw feature vector: P(class 1) or a value.
    public func predict(_ features: UnsafeBufferPointer<Double>) -> Double {
        let start = recordsLatency ? DispatchTime.now().uptimeNanoseconds : 0
        let width = features.count
        let score = withUnsafeTemporaryAllocation(of: Double.self, capacity: width) { scaled -> Double in
            for j in 0..<width { scaled[j] = features[j] }
            switch bundle.scaler {
            case .none: break
            case .standard(let s): for j in 0..<width { scaled[j] = (scaled[j] - s.mean[j]) / s.scale[j] }
            case .minMax(let s): for j in 0..<width { scaled[j] = (scaled[j] - s.minimum[j]) / s.range[j] }
            }
            return bundle.model.predict(UnsafeBufferPointer(scaled))
        }
        if recordsLatency { record(DispatchTime.now().uptimeNanoseconds &- start) }
        return score
    }

    /// The model's score for one raw feature vector.
    public func predict(_ features: [Double]) -> Double { features.withUnsafeBufferPointer { predict($0) } }

    /// The model's scores for every row of raw feature vectors: the same scaler arithmetic per
    /// row as `predict(_:)`, then the model's batch prediction (`Model.predict(batch:)`, equal
    /// to one row at a time bit for bit; a GBDT walks each tree over all rows). Latency is
    /// recorded once per batch, as one call.
    public func predict(batch features: Matrix) -> [Double] {
        let start = recordsLatency ? DispatchTime.now().uptimeNanoseconds : 0
        var scaled = features
        let width = features.columns
        switch bundle.scaler {
        case .none: break
        case .standard(let s):
            for r in 0..<features.rows {
                for j in 0..<width { scaled.values[r * width + j] = (scaled.values[r * width + j] - s.mean[j]) / s.scale[j] }
            }
        case .minMax(let s):
            for r in 0..<features.rows {
                for j in 0..<width { scaled.values[r * width + j] = (scaled.values[r * width + j] - s.minimum[j]) / s.range[j] }
            }
        }
        let scores = bundle.model.predict(batch: scaled)
        if recordsLatency { record(DispatchTime.now().uptimeNanoseconds &- start) }
        return scores
    }

    private func record(_ ns: UInt64) {
        let bucket = min(63, 64 - (ns | 1).leadingZeroBitCount)
        lock.lock()
        buckets[bucket] += 1
        calls += 1
        totalNanoseconds &+= ns
        lock.unlock()
    }

    /// Latency so far.
    public var latency: LatencySummary {
        lock.lock()
        defer { lock.unlock() }
        func quantile(_ q: Double) -> Double {
            guard calls > 0 else { return .nan }
            let target = Int((Double(calls) * q).rounded(.up))
            var seen = 0
            for (b, c) in buckets.enumerated() {
                seen += c
                if seen >= target { return Double(UInt64(1) << UInt64(b)) }
            }
            return .nan
        }
        return LatencySummary(
            count: calls,
            meanNanoseconds: calls > 0 ? Double(totalNanoseconds) / Double(calls) : .nan,
            p50Nanoseconds: quantile(0.5),
            p99Nanoseconds: quantile(0.99)
        )
    }
}
