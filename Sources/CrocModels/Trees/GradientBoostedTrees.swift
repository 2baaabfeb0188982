import CrocKernels
import CrocSupport
import Foundation

/// The loss a GBDT minimises.
public enum BoostingLoss: String, Sendable, Hashable, Codable, CaseIterable {
    /// Binary log loss (predicts P(class 1)).
    case logistic
    /// Squared error (predicts a value).
    case squared
}

/// GBDT hyperparameters (names follow scikit-learn's HistGradientBoosting / LightGBM).
public struct GBDTParameters: Sendable, Hashable, Codable {
    /// Boosting rounds (trees).
    public var rounds: Int = 100
    /// Shrinkage applied to every leaf value.
    public var learningRate: Double = 0.1
    /// Maximum leaves per tree (leaf-wise growth).
    public var maxLeaves: Int = 31
    /// Maximum depth (0 = unlimited).
    public var maxDepth: Int = 0
    /// Minimum samples in a leaf.
    public var minSamplesLeaf: Int = 20
    /// L2 regularisation of leaf values.
    public var l2: Double = 0
    /// Histogram bins per feature (≤ 255).
    public var maxBins: Int = 255
    /// Fraction of rows sampled for each tree (1 = all).
    public var subsample: Double = 1
    /// The loss.
    public var loss: BoostingLoss = .logistic
    /// Seed for binning samples and row subsampling.
    public var seed: UInt64 = 0
    /// Worker threads for histogram building.
    public var threads: Int = 2

    /// Defaults.
    public init() {}

    /// Checks ranges.
    /// - Throws: `ModelError.invalidHyperparameter` naming the parameter.
    public func validate() throws(ModelError) {
        func fail(_ s: String) -> ModelError { ModelError(.invalidHyperparameter, s) }
        guard rounds >= 1, rounds <= 100_000 else { throw fail("rounds must be in 1...100000, found \(rounds)") }
        guard learningRate > 0, learningRate <= 10 else { throw fail("learningRate must be in (0, 10], found \(learningRate)") }
        guard maxLeaves >= 2, maxLeaves <= 65_536 else { throw fail("maxLeaves must be in 2...65536, found \(maxLeaves)") }
        guard maxDepth >= 0 else { throw fail("maxDepth must be ≥ 0 (0 = unlimited), found \(maxDepth)") }
        guard minSamplesLeaf >= 1 else { throw fail("minSamplesLeaf must be ≥ 1, found \(minSamplesLeaf)") }
        guard l2 >= 0 else { throw fail("l2 must be ≥ 0, found \(l2)") }
        guard (2...255).contains(maxBins) else { throw fail("maxBins must be in 2...255, found \(maxBins)") }
        guard subsample > 0, subsample <= 1 else { throw fail("subsample must be in (0, 1], found \(subsample)") }
        guard threads >= 1 else { throw fail("threads must be ≥ 1") }
    }
}

/// One regression tree, as flat arrays. Node 0 is the root; a node with
/// `feature[i] < 0` is a leaf holding `value[i]`. NaN goes left.
public struct RegressionTree: Sendable, Hashable, Codable {
    /// Split feature, or −1 for a leaf.
    public var feature: [Int32] = []
    /// Split threshold: x ≤ threshold goes left.
    public var threshold: [Double] = []
    /// Left child index.
    public var left: [Int32] = []
    /// Right child index.
    public var right: [Int32] = []
    /// Leaf value (shrinkage applied).
    public var value: [Double] = []

    /// The leaf value for `x`.
    @inlinable
    public func evaluate(_ x: UnsafeBufferPointer<Double>) -> Double {
        var i = 0
        while feature[i] >= 0 {
            let v = x[Int(feature[i])]
            i = Int(v <= threshold[i] || v.isNaN ? left[i] : right[i])
        }
        return value[i]
    }
}

/// Histogram-based gradient-boosted decision trees (binary log loss or
/// squared error), grown leaf-wise like LightGBM and scikit-learn's
/// `HistGradientBoosting*`.
public struct GradientBoostedTrees: Model, Hashable {
    /// The learner.
    public var kind: ModelKind { .gbdt }
    /// Classification for the logistic loss, regression for squared error.
    public var task: ModelTask { loss == .logistic ? .binaryClassification : .regression }
    /// The loss.
    public let loss: BoostingLoss
    /// Features expected.
    public let inputWidth: Int
    /// The raw score before any tree (log-odds or mean).
    public let baseScore: Double
    /// The trees.
    public let trees: [RegressionTree]
    /// Total split gain per feature (importance).
    public let featureGain: [Double]
    /// The splits of every tree walked as a complete binary tree (see `TreeWalk`), breadth
    /// first, tree after tree: slot j's children are slots 2j + 1 and 2j + 2 (derived from `trees`).
    let splits: [Split]
    /// The leaves of those complete trees, left to right, tree after tree.
    let leaves: [Double]
    /// The trees not stored complete (too deep or too thin, see `completeDepthLimit`), each
    /// node's split, leaf value and children together (derived from `trees`).
    let nodes: [PackedNode]
    /// How each tree is walked, in tree order.
    let walks: [TreeWalk]

    /// Trees up to this depth are stored complete (at most 2^10 − 1 splits and 2^10 leaves) when
    /// their 2^depth leaves are at most four times their nodes; others (an unlimited `maxDepth`,
    /// thin trees) keep their own nodes.
    static let completeDepthLimit = 10

    /// A split of a complete tree: x goes to the right child when x[`feature`] > `threshold`
    /// (NaN goes left). A leaf above the bottom level is stored as splits of threshold +∞ down
    /// to the bottom (every value goes left), its value at each bottom slot below it.
    struct Split: Sendable, Hashable {
        var threshold: Double
        var feature: Int32
    }

    /// Whether `Split` is laid out as the C kernel reads it (16 bytes: the threshold at 0, the
    /// feature at 8), so `croc_tree_walk_complete` may walk the complete trees.
    static let splitLayoutIsC =
        MemoryLayout<Split>.stride == 16 && MemoryLayout<Split>.offset(of: \.threshold) == 0 && MemoryLayout<Split>.offset(of: \.feature) == 8

    /// One tree's walk: a complete tree of `depth` levels whose splits start at `splits[start]`
    /// and leaves at `leaves[leafStart]` — the next slot is `2j + 1 + (x > threshold)`, no child
    /// to load — or, when `leafStart < 0`, packed nodes from `nodes[start]`.
    struct TreeWalk: Sendable, Hashable {
        var depth: Int32
        var start: Int32
        var leafStart: Int32
        var isComplete: Bool { leafStart >= 0 }
    }

    /// One node of a packed tree. A split sends x to `right` when x[`feature`] > `threshold`
    /// (NaN goes left); a leaf is its own child on both sides (feature 0, threshold +∞), so a
    /// walk of exactly the tree's depth ends on the row's leaf whatever its path length.
    struct PackedNode: Sendable, Hashable {
        var threshold: Double
        var value: Double
        var feature: Int32
        var left: Int32
        var right: Int32
    }

    /// Wraps fitted parameters.
    /// - Precondition: every child index is greater than its parent's (as trained and as
    ///   `decode` checks), so the trees are acyclic.
    public init(loss: BoostingLoss, inputWidth: Int, baseScore: Double, trees: [RegressionTree], featureGain: [Double]) {
        self.loss = loss
        self.inputWidth = inputWidth
        self.baseScore = baseScore
        self.trees = trees
        self.featureGain = featureGain
        var splits: [Split] = []
        var leaves: [Double] = []
        var nodes: [PackedNode] = []
        var walks: [TreeWalk] = []
        for t in trees {
            // Depth by the children-after-parents order: one pass, no recursion on deep trees.
            var level = [Int32](repeating: 0, count: t.feature.count)
            for i in t.feature.indices where t.feature[i] >= 0 {
                for child in [Int(t.left[i]), Int(t.right[i])] where child > i && child < level.count {
                    level[child] = max(level[child], level[i] + 1)
                }
            }
            let depth = Int(level.max() ?? 0)
            // Complete when shallow and not much bigger than the tree itself (a deep, thin tree of a
            // leaf-wise fit would waste most of its 2^depth slots).
            if depth <= Self.completeDepthLimit && 1 << depth <= 4 * t.feature.count {
                let walk = TreeWalk(depth: Int32(depth), start: Int32(splits.count), leafStart: Int32(leaves.count))
                let splitBase = splits.count
                let leafBase = leaves.count
                splits.append(contentsOf: repeatElement(Split(threshold: .infinity, feature: 0), count: (1 << depth) - 1))
                leaves.append(contentsOf: repeatElement(0, count: 1 << depth))
                // Slot by slot from the root; a leaf above the bottom fills its whole subtree.
                var pending: [(node: Int, slot: Int, level: Int)] = t.feature.isEmpty ? [] : [(0, 0, 0)]
                while let (node, slot, at) = pending.popLast() {
                    if at == depth {
                        leaves[leafBase + slot - ((1 << depth) - 1)] = t.value[node]
                    } else if t.feature[node] < 0 {
                        pending.append((node, 2 * slot + 1, at + 1))
                        pending.append((node, 2 * slot + 2, at + 1))
                    } else {
                        splits[splitBase + slot] = Split(threshold: t.threshold[node], feature: t.feature[node])
                        pending.append((Int(t.left[node]), 2 * slot + 1, at + 1))
                        pending.append((Int(t.right[node]), 2 * slot + 2, at + 1))
                    }
                }
                walks.append(walk)
                continue
            }
            let base = Int32(nodes.count)
            walks.append(TreeWalk(depth: Int32(depth), start: base, leafStart: -1))
            for i in t.feature.indices {
                let me = base + Int32(i)
                guard t.feature[i] >= 0 else {
                    nodes.append(PackedNode(threshold: .infinity, value: t.value[i], feature: 0, left: me, right: me))
                    continue
                }
                nodes.append(
                    PackedNode(threshold: t.threshold[i], value: 0, feature: t.feature[i], left: base + t.left[i], right: base + t.right[i])
                )
            }
        }
        self.splits = splits
        self.leaves = leaves
        self.nodes = nodes
        self.walks = walks
    }

    /// The raw score (log-odds for the logistic loss): the trees' leaf values added in tree
    /// order (the same sum, bit for bit, as `RegressionTree.evaluate` tree by tree).
    /// - Precondition: `x` holds at least `inputWidth` values.
    public func rawScore(_ x: UnsafeBufferPointer<Double>) -> Double {
        precondition(x.count >= inputWidth, "GBDT: fewer features than the model's input width")
        var s = baseScore
        withForest { split, leaf, node in
            guard let x = x.baseAddress else { return }
            for w in walks {
                if w.isComplete {
                    let sp = split + Int(w.start)
                    var j = 0
                    for _ in 0..<w.depth {
                        let n = sp[j]
                        // Right only when x > threshold: NaN compares false and goes left.
                        j = 2 &* j &+ (x[Int(n.feature)] > n.threshold ? 2 : 1)
                    }
                    s += leaf[Int(w.leafStart) + j - ((1 << Int(w.depth)) - 1)]
                } else {
                    var i = Int(w.start)
                    for _ in 0..<w.depth {
                        let n = node[i]
                        i = Int(x[Int(n.feature)] > n.threshold ? n.right : n.left)
                    }
                    s += node[i].value
                }
            }
        }
        return s
    }

    /// The forest's three arrays as pointers (a dangling but unread pointer for an empty one).
    @inline(__always)
    private func withForest(_ body: (UnsafePointer<Split>, UnsafePointer<Double>, UnsafePointer<PackedNode>) -> Void) {
        splits.withUnsafeBufferPointer { sp in
            leaves.withUnsafeBufferPointer { lv in
                nodes.withUnsafeBufferPointer { nd in
                    let split = sp.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Split>.alignment)!
                    let leaf = lv.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Double>.alignment)!
                    let node = nd.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<PackedNode>.alignment)!
                    body(split, leaf, node)
                }
            }
        }
    }

    /// The fewest rows `predict(batch:)` gives a thread of its own.
    static let rowsPerTask = 192

    /// Predicts every row of `x` tree by tree: each tree walks all rows while its nodes sit in
    /// L1, level by level over all rows (their loads overlap instead of waiting on one another). Each row
    /// still adds its leaf values in tree order, so its score equals `predict(_:)`'s bit for bit.
    /// Batches of 384 rows or more are split across the cores (rows are independent: the same
    /// scores).
    /// - Precondition: `x.columns >= inputWidth`.
    public func predict(batch x: Matrix) -> [Double] { predict(batch: x, gathers: true) }

    /// `predict(batch:)`, with the AVX-512 gather kernel for complete trees allowed or not (tests
    /// compare the two walks; the scores are the same bit for bit).
    func predict(batch x: Matrix, gathers allowed: Bool) -> [Double] {
        precondition(x.columns >= inputWidth, "GBDT: fewer features than the model's input width")
        let gathers = allowed && Self.splitLayoutIsC && croc_kernels_vector_path() >= 2
        var scores = [Double](repeating: baseScore, count: x.rows)
        let width = x.columns
        let count = x.rows
        scores.withUnsafeMutableBufferPointer { scores in
            x.values.withUnsafeBufferPointer { values in
                withForest { split, leaf, node in
                    guard let rows = values.baseAddress, let score = scores.baseAddress, count > 0 else { return }
                    // A batch of a few hundred rows or more (a universe scored at a rebalance) is
                    // split across the cores; a smaller one is not worth waking them.
                    let tasks = count >= 2 * Self.rowsPerTask ? min(Machine.activeCores, count / Self.rowsPerTask) : 1
                    guard tasks > 1 else {
                        Self.walk(
                            walks,
                            rows: rows,
                            width: width,
                            score: score,
                            split: split,
                            leaf: leaf,
                            node: node,
                            range: 0..<count,
                            gathers: gathers
                        )
                        return
                    }
                    // The buffers by address: each task reads the rows and the forest, and writes
                    // only its own rows' scores.
                    let addresses = (
                        UInt(bitPattern: rows), UInt(bitPattern: score), UInt(bitPattern: split), UInt(bitPattern: leaf), UInt(bitPattern: node)
                    )
                    let walks = self.walks
                    DispatchQueue.concurrentPerform(iterations: tasks) { t in
                        Self.walk(
                            walks,
                            rows: UnsafePointer(bitPattern: addresses.0)!,
                            width: width,
                            score: UnsafeMutablePointer(bitPattern: addresses.1)!,
                            split: UnsafePointer(bitPattern: addresses.2)!,
                            leaf: UnsafePointer(bitPattern: addresses.3)!,
                            node: UnsafePointer(bitPattern: addresses.4)!,
                            range: (t * count / tasks)..<((t + 1) * count / tasks),
                            gathers: gathers
                        )
                    }
                }
            }
            if loss == .logistic { for r in scores.indices { scores[r] = sigmoid(scores[r]) } }
        }
        return scores
    }

    /// Every tree over rows `range` of `rows` (`width` values each), a block of rows at a time,
    /// adding each row's leaf values to its score in tree order (`predict(batch:)`'s kernel;
    /// each row's score is its own, so any split of the rows gives the same scores).
    private static func walk(
        _ walks: [TreeWalk],
        rows: UnsafePointer<Double>,
        width: Int,
        score: UnsafeMutablePointer<Double>,
        split: UnsafePointer<Split>,
        leaf: UnsafePointer<Double>,
        node: UnsafePointer<PackedNode>,
        range: Range<Int>,
        gathers: Bool
    ) {
        // Rows in blocks that stay in L1/L2 while every tree walks them.
        let block = 256
        guard !range.isEmpty else { return }
        // With `gathers`, complete trees go to the AVX-512 kernel first (eight rows a gather).
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: min(range.count, block)) { at in
            for first in stride(from: range.lowerBound, to: range.upperBound, by: block) {
                let m = min(block, range.upperBound - first)
                let base = rows + first * width
                for w in walks {
                    let depth = Int(w.depth)
                    if w.isComplete {
                        // The AVX-512 kernel walks the first rows, eight at a time (none without it);
                        // this loop the rest.
                        var done = 0
                        if gathers {
                            done = Int(
                                croc_tree_walk_complete(
                                    base,
                                    Int64(width),
                                    Int64(m),
                                    score + first,
                                    UnsafeRawPointer(split + Int(w.start)),
                                    leaf + Int(w.leafStart),
                                    w.depth,
                                    at.baseAddress
                                )
                            )
                        }
                        guard done < m else { continue }
                        let sp = split + Int(w.start)
                        let lv = leaf + Int(w.leafStart) - ((1 << depth) - 1)
                        for r in done..<m { at[r] = 0 }
                        // Level by level over the block: each row's step is independent
                        // of the others', so the core overlaps as many walks as it can hold;
                        // the next slot is computed, not loaded.
                        for _ in 0..<depth {
                            var x = base + done * width
                            for r in done..<m {
                                let j = Int(at[r])
                                let n = sp[j]
                                at[r] = Int64(2 &* j &+ (x[Int(n.feature)] > n.threshold ? 2 : 1))
                                x += width
                            }
                        }
                        for r in done..<m { score[first + r] += lv[Int(at[r])] }
                    } else {
                        for r in 0..<m { at[r] = Int64(w.start) }
                        for _ in 0..<depth {
                            var x = base
                            for r in 0..<m {
                                let n = node[Int(at[r])]
                                at[r] = Int64(x[Int(n.feature)] > n.threshold ? n.right : n.left)
                                x += width
                            }
                        }
                        for r in 0..<m { score[first + r] += node[Int(at[r])].value }
                    }
                }
            }
        }
    }

    /// P(class 1) for the logistic loss, the value for squared error.
    public func predict(_ x: UnsafeBufferPointer<Double>) -> Double {
        let s = rawScore(x)
        return loss == .logistic ? sigmoid(s) : s
    }

    /// Parameters as JSON (trees are small; JSON keeps them inspectable).
    public func encodeWeights() -> [UInt8] {
        let payload = Payload(loss: loss, inputWidth: inputWidth, baseScore: baseScore, trees: trees, featureGain: featureGain)
        // Sorted keys: the same model always encodes to the same bytes (byte-identical weights.bin).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(payload)) ?? Data())
    }

    struct Payload: Codable {
        var loss: BoostingLoss
        var inputWidth: Int
        var baseScore: Double
        var trees: [RegressionTree]
        var featureGain: [Double]
    }

    /// Reads `encodeWeights()` output.
    /// - Throws: `ModelError.corruptWeights` for malformed or inconsistent trees.
    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> GradientBoostedTrees {
        let p: Payload
        if let fast = ForestJSON.decode(bytes) {
            p = fast
        } else {
            do {
                p = try JSONDecoder().decode(Payload.self, from: Data(bytes))
            } catch {
                throw ModelError(.corruptWeights, "GBDT weights are not valid: \(error)")
            }
        }
        for (k, t) in p.trees.enumerated() {
            let n = t.feature.count
            guard n > 0, t.threshold.count == n, t.left.count == n, t.right.count == n, t.value.count == n else {
                throw ModelError(.corruptWeights, "tree \(k): arrays of different lengths")
            }
            for i in 0..<n where t.feature[i] >= 0 {
                guard Int(t.feature[i]) < p.inputWidth, (1..<n).contains(Int(t.left[i])), (1..<n).contains(Int(t.right[i])),
                    Int(t.left[i]) > i, Int(t.right[i]) > i
                else { throw ModelError(.corruptWeights, "tree \(k) node \(i): invalid split") }
            }
        }
        return GradientBoostedTrees(loss: p.loss, inputWidth: p.inputWidth, baseScore: p.baseScore, trees: p.trees, featureGain: p.featureGain)
    }
}
