import CrocModels
import CrocSupport
import Synchronization

/// Model bundles read once and shared, read-only, by the strategies that one
/// factory builds: a sweep's trials of the `model` or `rl` strategy read,
/// verify and decode the bundle directory on first use and reuse it after,
/// instead of once per trial. The trials of one sweep therefore all see the
/// bundle as it was when first read, even if it is retrained meanwhile.
///
/// Only value-type models are shared (they are immutable once decoded). A
/// bundle whose model is a class instance, such as an ONNX Runtime session,
/// is loaded anew for every strategy, as without a cache.
public final class BundleCache: Sendable {
    private let models = Mutex<[String: ModelBundle]>([:])
    private let policies = Mutex<[String: RLModelBundle]>([:])
    /// The rebalance scores that the `model_topk` trials of a sweep share (nil: each strategy
    /// scores its own rebalances, as a single backtest does).
    public let scores: ScoreCache?

    /// An empty cache.
    /// - Parameter sharingScores: Whether the `model_topk` strategies built through it share
    ///   their rebalances' scores (`ScoreCache`): what a sweep wants; a single run gains
    ///   nothing and would only digest its bars.
    public init(sharingScores: Bool = false) {
        scores = sharingScores ? ScoreCache() : nil
    }

    /// Reads started by `prefetchModel(at:)` and not yet collected (nil: the read failed).
    private let pending = Mutex<[String: Background<ModelBundle?>]>([:])

    /// Starts reading the model bundle in `directory` on another thread, so that a command reads
    /// it while its data loads; `model(at:)` then waits for this read instead of starting its own.
    /// A failed read is not kept: `model(at:)` reads again and throws the typed error.
    public func prefetchModel(at directory: String) {
        pending.withLock { p in
            guard p[directory] == nil else { return }
            p[directory] = Background { try? ModelBundle.load(from: directory) }
        }
    }

    /// The model bundle in `directory`, read and verified on first use (or by a prefetch, whose
    /// read this call does itself when no worker has started it).
    /// - Throws: `BundleError` from `ModelBundle.load(from:)` (failures are not cached).
    public func model(at directory: String) throws(BundleError) -> ModelBundle {
        if let read = pending.withLock({ $0.removeValue(forKey: directory) }), let b = read.value {
            // A model that is not shared goes to this first caller only.
            if Self.shares(b.model) { models.withLock { $0[directory] = b } }
            return b
        }
        if let b = models.withLock({ $0[directory] }) { return b }
        let b = try ModelBundle.load(from: directory)
        if Self.shares(b.model) { models.withLock { $0[directory] = b } }
        return b
    }

    /// Whether a decoded model may be shared by strategies on many threads: value types
    /// only (a class instance may keep a session or scratch state of its own).
    public static func shares(_ model: any Model) -> Bool { !(type(of: model) is AnyClass) }

    /// The RL policy bundle in `directory`, read and verified on first use.
    /// - Throws: `BundleError` from `RLModelBundle.load(from:)` (failures are not cached).
    public func policy(at directory: String) throws(BundleError) -> RLModelBundle {
        if let b = policies.withLock({ $0[directory] }) { return b }
        let b = try RLModelBundle.load(from: directory)
        policies.withLock { $0[directory] = b }
        return b
    }

    /// How many bundles are held (model and RL together).
    public var count: Int { models.withLock { $0.count } + policies.withLock { $0.count } }
}
