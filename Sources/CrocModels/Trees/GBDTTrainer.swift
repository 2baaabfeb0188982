import Foundation

/// Per-feature bin edges: value ≤ edges[b] (and > edges[b − 1]) falls in bin b.
/// NaN falls in bin 0, the leftmost, matching `RegressionTree`'s NaN-goes-left rule.
struct BinMapper: Sendable {
    var edges: [[Double]]

    /// scikit-learn's thresholds: midpoints of distinct values when there are
    /// few, else "midpoint" percentiles; fitted on at most 200,000 sampled rows.
    init(_ x: Matrix, maxBins: Int, seed: UInt64, threads: Int = 1) {
        let n = x.rows
        var rows = Array(0..<n)
        if n > 200_000 {
            var rng = SplitMix64(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
            for i in 0..<200_000 {
                let j = i + Int(rng.next() % UInt64(n - i))
                rows.swapAt(i, j)
            }
            rows = Array(rows[0..<200_000])
        }
        // Each feature's edges are its own: features in parallel, the same edges on any number of threads.
        let columns = x.columns
        var edges = [[Double]](repeating: [], count: columns)
        let sampled = rows
        edges.withUnsafeMutableBufferPointer { out in
            let target = SharedPointer(out.baseAddress!)
            let tasks = max(1, min(threads, columns))
            parallelChunks(tasks) { c in
                for f in (columns * c / tasks)..<(columns * (c + 1) / tasks) {
                    target.base[f] = Self.edges(of: sampled.map { x[$0, f] }, maxBins: maxBins)
                }
            }
        }
        self.edges = edges
    }

    /// The edges of one feature's sampled values.
    static func edges(of values: [Double], maxBins: Int) -> [Double] {
        var col = values.filter { !$0.isNaN }
        col.sort()
        var distinct: [Double] = []
        for v in col where distinct.last != v { distinct.append(v) }
        var e: [Double] = []
        if distinct.count <= maxBins {
            for k in 0..<max(0, distinct.count - 1) { e.append((distinct[k] + distinct[k + 1]) * 0.5) }
        } else {
            let m = col.count
            for k in 1..<maxBins {
                let pos = Double(k) / Double(maxBins) * Double(m - 1)
                let v = (col[Int(pos.rounded(.down))] + col[Int(pos.rounded(.up))]) * 0.5
                if e.last != v { e.append(v) }
            }
        }
        return e
    }

    /// All ones when `condition` holds, else zero: a select the compiler cannot turn back into a
    /// branch (the searches' comparisons are unpredictable; mispredicted branches were most of
    /// the binning's time).
    @inline(__always)
    static func mask(_ condition: Bool) -> Int { 0 &- Int(unsafeBitCast(condition, to: UInt8.self)) }

    /// `out[i] = bin(x[i * stride], e)` for each i in `rows`, four values' searches interleaved
    /// (a search's steps depend on the one before; four independent ones overlap).
    @inline(__always)
    static func bin(
        _ rows: Range<Int>,
        of x: UnsafePointer<Double>,
        stride: Int,
        _ e: UnsafeBufferPointer<Double>,
        into out: UnsafeMutablePointer<UInt8>
    ) {
        var i = rows.lowerBound
        if e.count > 0 {
            let edges = e.baseAddress!
            while i &+ 4 <= rows.upperBound {
                let (v0, v1, v2, v3) = (x[i &* stride], x[(i &+ 1) &* stride], x[(i &+ 2) &* stride], x[(i &+ 3) &* stride])
                var (b0, b1, b2, b3) = (0, 0, 0, 0)
                var count = e.count
                while count > 1 {
                    let half = count >> 1
                    b0 &+= half & mask(edges[b0 &+ half &- 1] < v0)
                    b1 &+= half & mask(edges[b1 &+ half &- 1] < v1)
                    b2 &+= half & mask(edges[b2 &+ half &- 1] < v2)
                    b3 &+= half & mask(edges[b3 &+ half &- 1] < v3)
                    count &-= half
                }
                // NaN compares false everywhere: bin 0, as `bin(_:_:)` gives it.
                out[i] = v0.isNaN ? 0 : UInt8(truncatingIfNeeded: b0 &+ (edges[b0] < v0 ? 1 : 0))
                out[i &+ 1] = v1.isNaN ? 0 : UInt8(truncatingIfNeeded: b1 &+ (edges[b1] < v1 ? 1 : 0))
                out[i &+ 2] = v2.isNaN ? 0 : UInt8(truncatingIfNeeded: b2 &+ (edges[b2] < v2 ? 1 : 0))
                out[i &+ 3] = v3.isNaN ? 0 : UInt8(truncatingIfNeeded: b3 &+ (edges[b3] < v3 ? 1 : 0))
                i &+= 4
            }
        }
        while i < rows.upperBound {
            out[i] = bin(x[i &* stride], e)
            i &+= 1
        }
    }

    /// The number of edges below `v` (0 for NaN), by a search whose steps are conditional
    /// moves rather than branches (a feature's bins are unpredictable row to row).
    @inline(__always)
    static func bin(_ v: Double, _ e: UnsafeBufferPointer<Double>) -> UInt8 {
        if v.isNaN || e.isEmpty { return 0 }
        var base = 0
        var count = e.count
        while count > 1 {
            let half = count >> 1
            base &+= half & mask(e[base &+ half &- 1] < v)
            count &-= half
        }
        return UInt8(truncatingIfNeeded: base &+ (e[base] < v ? 1 : 0))
    }
}

/// SplitMix64: a small, fast, seedable generator (deterministic across platforms).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The internal state.
    public var state: UInt64
    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform value in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
}

/// Progress of one boosting round, for progress bars.
public struct BoostingProgress: Sendable {
    /// Rounds done.
    public var round: Int
    /// Rounds in all.
    public var rounds: Int
    /// Mean training loss after this round.
    public var trainingLoss: Double
}

extension GradientBoostedTrees {
    /// Fits on `data` (0/1 targets for the logistic loss).
    /// - Parameter progress: Called after each round (from the fitting thread).
    /// - Throws: `ModelError` for bad data or hyperparameters.
    public static func fit(
        _ data: Dataset,
        parameters p: GBDTParameters = .init(),
        progress: ((BoostingProgress) -> Void)? = nil
    ) throws(ModelError) -> GradientBoostedTrees {
        try p.validate()
        let n = data.count
        let d = data.x.columns
        guard n >= 2, d >= 1 else { throw ModelError(.invalidData, "GBDT needs at least two rows and one feature") }
        if p.loss == .logistic, !data.y.allSatisfy({ $0 == 0 || $0 == 1 }) {
            throw ModelError(.invalidData, "the logistic loss needs 0/1 targets")
        }
        var trainer = GBDTTrainer(data: data, parameters: p)
        return trainer.run(progress: progress)
    }
}

struct GBDTTrainer {
    let p: GBDTParameters
    let n: Int
    let d: Int
    let y: [Double]
    let mapper: BinMapper
    let bins: Int  // histogram slots per feature
    var binned: [UInt8]  // column-major d × n
    var raw: [Double]
    var gh: [SIMD2<Double>]  // (gradient, hessian) per row, interleaved
    var featureGain: [Double]
    var rng: SplitMix64
    /// Counts rows per bin even where the hessian sums give the counts (tests compare the two).
    var countsRows = false

    init(data: Dataset, parameters: GBDTParameters) {
        p = parameters
        n = data.count
        d = data.x.columns
        y = data.y
        mapper = BinMapper(data.x, maxBins: parameters.maxBins, seed: parameters.seed, threads: parameters.threads)
        bins = (mapper.edges.map(\.count).max() ?? 0) + 1
        var b = [UInt8](repeating: 0, count: d * n)
        let (nn, dd) = (n, d)
        // The edges of all features in one buffer (feature f's at starts[f]..<starts[f + 1]).
        let flatEdges = mapper.edges.flatMap { $0 }
        let starts = mapper.edges.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        data.x.values.withUnsafeBufferPointer { xv in
            b.withUnsafeMutableBufferPointer { bv in
                flatEdges.withUnsafeBufferPointer { ev in
                    let xs = SharedPointer(xv.baseAddress!)
                    let out = SharedPointer(bv.baseAddress!)
                    let edges = ev.baseAddress.map { SharedPointer($0) }
                    // Rows cut among the threads, in blocks: x (row-major) is read once, in order
                    // (a feature at a time it was one cache line per value); each feature's
                    // column of bins is written in order.
                    let tasks = nn >= 1 << 14 ? max(1, parameters.threads) : 1
                    parallelChunks(tasks) { c in
                        var block = nn * c / tasks
                        let end = nn * (c + 1) / tasks
                        while block < end {
                            let blockEnd = min(block + 512, end)
                            for f in 0..<dd {
                                let e = UnsafeBufferPointer(start: edges.map { $0.base + starts[f] }, count: starts[f + 1] - starts[f])
                                BinMapper.bin(block..<blockEnd, of: xs.base + f, stride: dd, e, into: out.base + f * nn)
                            }
                            block = blockEnd
                        }
                    }
                }
            }
        }
        binned = b
        raw = [Double](repeating: 0, count: n)
        gh = [SIMD2<Double>](repeating: .zero, count: n)
        featureGain = [Double](repeating: 0, count: d)
        rng = SplitMix64(seed: parameters.seed)
    }

    var baseScore: Double {
        let mean = y.reduce(0, +) / Double(n)
        if p.loss == .squared { return mean }
        let q = min(max(mean, 1e-12), 1 - 1e-12)
        return log(q / (1 - q))
    }

    mutating func run(progress: ((BoostingProgress) -> Void)?) -> GradientBoostedTrees {
        let base = baseScore
        for i in 0..<n { raw[i] = base }
        var trees: [RegressionTree] = []
        for round in 0..<p.rounds {
            let loss = computeGradients(withLoss: progress != nil)
            var rows: [Int32]
            if p.subsample < 1 {
                rows = []
                rows.reserveCapacity(Int(Double(n) * p.subsample) + 16)
                for i in 0..<n where rng.uniform() < p.subsample { rows.append(Int32(i)) }
                if rows.count < 2 * p.minSamplesLeaf { rows = (0..<n).map { Int32($0) } }
            } else {
                rows = (0..<n).map { Int32($0) }
            }
            let tree = grow(rows: &rows, sampledAll: p.subsample >= 1)
            trees.append(tree)
            progress?(BoostingProgress(round: round + 1, rounds: p.rounds, trainingLoss: loss / Double(n)))
        }
        return GradientBoostedTrees(loss: p.loss, inputWidth: d, baseScore: base, trees: trees, featureGain: featureGain)
    }

    /// Each row's (gradient, hessian) of the loss at its raw score, and the mean loss's sum when
    /// `withLoss` (for progress reports: then one pass in row order, the sum's order as before);
    /// without it the rows are cut among the threads (each row's pair is its own) and 0 is returned.
    mutating func computeGradients(withLoss: Bool) -> Double {
        let logistic = p.loss == .logistic
        let tasks = !withLoss && n >= 1 << 16 ? max(1, p.threads) : 1
        let count = n
        var loss = 0.0
        raw.withUnsafeBufferPointer { rv in
            y.withUnsafeBufferPointer { yv in
                gh.withUnsafeMutableBufferPointer { gv in
                    withUnsafeMutablePointer(to: &loss) { total in
                        let (r, target, out, sum) = (
                            SharedPointer(rv.baseAddress!), SharedPointer(yv.baseAddress!), SharedPointer(gv.baseAddress!), SharedPointer(total)
                        )
                        parallelChunks(tasks) { c in
                            // With the loss there is one task: its sum runs in row order.
                            var part = 0.0
                            for i in (count * c / tasks)..<(count * (c + 1) / tasks) {
                                if logistic {
                                    let q = sigmoid(r.base[i])
                                    out.base[i] = SIMD2(q - target.base[i], max(q * (1 - q), 1e-16))
                                    if withLoss { part -= log(max(target.base[i] == 1 ? q : 1 - q, 1e-300)) }
                                } else {
                                    let e = r.base[i] - target.base[i]
                                    out.base[i] = SIMD2(e, 1)
                                    if withLoss { part += 0.5 * e * e }
                                }
                            }
                            if withLoss { sum.base.pointee = part }
                        }
                    }
                }
            }
        }
        return loss
    }

    struct Split {
        var gain = 0.0
        var feature = -1
        var bin = 0
        var leftG = 0.0
        var leftH = 0.0
        var leftCount = 0
    }

    /// Per feature and bin: summed (gradient, hessian) and the row count.
    struct Histogram {
        var gh: [SIMD2<Double>]  // d × bins
        var count: [UInt32]  // d × bins

        static func - (a: Histogram, b: Histogram) -> Histogram {
            var out = a
            for k in 0..<out.gh.count {
                out.gh[k] -= b.gh[k]
                out.count[k] -= b.count[k]
            }
            return out
        }
    }

    struct Leaf {
        var start: Int
        var end: Int
        var depth: Int
        var sumG: Double
        var sumH: Double
        var hist: Histogram
        var split: Split
        var node: Int  // index in the tree arrays
    }

    /// Builds a histogram of the rows `rows[start..<end]`, features split
    /// across workers (each feature's bins stay in L1 while its column streams).
    func histogram(_ rows: UnsafePointer<Int32>, _ start: Int, _ end: Int) -> Histogram {
        let (d, n, bins) = (self.d, self.n, self.bins)
        var sums = [SIMD2<Double>](repeating: .zero, count: d * bins)
        var count = [UInt32](repeating: 0, count: d * bins)
        let m = end - start
        let threads = min(p.threads, d, max(1, m / 2048))
        // The root of a tree fitted on all rows holds 0..<n in order: no index loads, no gather.
        let identity = m == n && start == 0 && rows[0] == 0 && rows[m - 1] == Int32(n - 1)
        // Otherwise gather this node's (g, h) once, in row order, so the feature loops read them sequentially.
        var og = [SIMD2<Double>]()
        if !identity {
            og = [SIMD2<Double>](repeating: .zero, count: m)
            let gatherers = max(1, min(p.threads, m / 65_536))
            gh.withUnsafeBufferPointer { src in
                og.withUnsafeMutableBufferPointer { dst in
                    let from = SharedPointer(src.baseAddress!)
                    let to = SharedPointer(dst.baseAddress!)
                    let r = SharedPointer(rows + start)
                    parallelChunks(gatherers) { c in
                        for k in (m * c / gatherers)..<(m * (c + 1) / gatherers) { to.base[k] = from.base[Int(r.base[k])] }
                    }
                }
            }
        }
        let source = identity ? gh : og
        // Squared error: every hessian is exactly 1, so a bin's hessian sum is its row count
        // (exact below 2^53) and the counts need no stores of their own in the hot loop; they
        // are read off the sums afterwards — the same integers (LightGBM's constant hessian).
        let hessianCounts = p.loss == .squared && !countsRows
        binned.withUnsafeBufferPointer { bv in
            source.withUnsafeBufferPointer { ov in
                sums.withUnsafeMutableBufferPointer { hv in
                    count.withUnsafeMutableBufferPointer { cv in
                        let b = SharedPointer(bv.baseAddress!)
                        let o = SharedPointer(ov.baseAddress!)
                        let outGH = SharedPointer(hv.baseAddress!)
                        let outCount = SharedPointer(cv.baseAddress!)
                        let r = SharedPointer(rows + start)
                        parallelChunks(threads) { c in
                            let idx = r.base
                            let grad = o.base
                            var f = d * c / threads
                            let stop = d * (c + 1) / threads
                            // Four features per pass: each row index and (g, h) is loaded once per block.
                            while f + 4 <= stop {
                                let c0 = b.base + f * n
                                let c1 = c0 + n
                                let c2 = c1 + n
                                let c3 = c2 + n
                                let h0 = outGH.base + f * bins
                                let h1 = h0 + bins
                                let h2 = h1 + bins
                                let h3 = h2 + bins
                                let n0 = outCount.base + f * bins
                                let n1 = n0 + bins
                                let n2 = n1 + bins
                                let n3 = n2 + bins
                                if hessianCounts {
                                    for k in 0..<m {
                                        let i = identity ? k : Int(idx[k])
                                        let o = grad[k]
                                        h0[Int(c0[i])] += o
                                        h1[Int(c1[i])] += o
                                        h2[Int(c2[i])] += o
                                        h3[Int(c3[i])] += o
                                    }
                                } else {
                                    for k in 0..<m {
                                        let i = identity ? k : Int(idx[k])
                                        let o = grad[k]
                                        let b0 = Int(c0[i])
                                        let b1 = Int(c1[i])
                                        let b2 = Int(c2[i])
                                        let b3 = Int(c3[i])
                                        h0[b0] += o
                                        n0[b0] &+= 1
                                        h1[b1] += o
                                        n1[b1] &+= 1
                                        h2[b2] += o
                                        n2[b2] &+= 1
                                        h3[b3] += o
                                        n3[b3] &+= 1
                                    }
                                }
                                f += 4
                            }
                            while f < stop {
                                let col = b.base + f * n
                                let hf = outGH.base + f * bins
                                let cf = outCount.base + f * bins
                                for k in 0..<m {
                                    let bin = Int(col[Int(idx[k])])
                                    hf[bin] += grad[k]
                                    if !hessianCounts { cf[bin] &+= 1 }
                                }
                                f += 1
                            }
                        }
                    }
                }
            }
        }
        if hessianCounts {
            for k in count.indices { count[k] = UInt32(sums[k].y) }
        }
        return Histogram(gh: sums, count: count)
    }

    func bestSplit(_ hist: Histogram, sumG: Double, sumH: Double, count: Int) -> Split {
        var best = Split()
        let lambda = p.l2
        let parent = sumG * sumG / (sumH + lambda)
        let minLeaf = p.minSamplesLeaf
        guard count >= 2 * minLeaf else { return best }
        hist.gh.withUnsafeBufferPointer { hv in
            for f in 0..<d {
                let hf = hv.baseAddress! + f * bins
                let cf = f * bins
                let usable = mapper.edges[f].count  // splits after bins 0..<usable
                var gl = 0.0
                var hl = 0.0
                var cl = 0
                for b in 0..<usable {
                    gl += hf[b].x
                    hl += hf[b].y
                    cl += Int(hist.count[cf + b])
                    if cl < minLeaf { continue }
                    let cr = count - cl
                    if cr < minLeaf { break }
                    let hr = sumH - hl
                    if hl < 1e-3 || hr < 1e-3 { continue }
                    let gr = sumG - gl
                    let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent
                    if gain > best.gain {
                        best = Split(gain: gain, feature: f, bin: b, leftG: gl, leftH: hl, leftCount: cl)
                    }
                }
            }
        }
        return best
    }

    /// Partitions `r[range]` stably, rows whose bin in `column` is ≤ `bin` first, and returns
    /// their count; `tmp` is scratch as long as `r`. Ranges of 65,536 rows or more are cut into
    /// one chunk per thread: each chunk writes its left rows from the front of its own part of
    /// `tmp` and its right rows from the back, then the chunks' lefts and (reversed back)
    /// rights are copied in chunk order — the order one pass would give.
    static func partition(
        _ r: UnsafeMutablePointer<Int32>,
        _ tmp: UnsafeMutablePointer<Int32>,
        _ range: Range<Int>,
        column col: UnsafePointer<UInt8>,
        bin: Int,
        threads: Int
    ) -> Int {
        let chunks = range.count >= 1 << 16 ? max(1, min(threads, 8)) : 1
        if chunks == 1 {
            var nl = 0
            var nr = 0
            for k in range {
                let i = r[k]
                if Int(col[Int(i)]) <= bin {
                    r[range.lowerBound + nl] = i
                    nl += 1
                } else {
                    tmp[nr] = i
                    nr += 1
                }
            }
            (r + range.lowerBound + nl).update(from: tmp, count: nr)
            return nl
        }
        var lefts = [Int](repeating: 0, count: chunks)
        lefts.withUnsafeMutableBufferPointer { counts in
            let (rows, scratch, column, out) = (SharedPointer(r), SharedPointer(tmp), SharedPointer(col), SharedPointer(counts.baseAddress!))
            parallelChunks(chunks) { c in
                let lo = range.lowerBound + range.count * c / chunks
                let hi = range.lowerBound + range.count * (c + 1) / chunks
                var front = lo
                var back = hi
                for k in lo..<hi {
                    let i = rows.base[k]
                    if Int(column.base[Int(i)]) <= bin {
                        scratch.base[front] = i
                        front += 1
                    } else {
                        back -= 1
                        scratch.base[back] = i
                    }
                }
                out.base[c] = front - lo
            }
        }
        let nl = lefts.reduce(0, +)
        var left = range.lowerBound
        var right = range.lowerBound + nl
        for c in 0..<chunks {
            let lo = range.lowerBound + range.count * c / chunks
            let hi = range.lowerBound + range.count * (c + 1) / chunks
            (r + left).update(from: tmp + lo, count: lefts[c])
            left += lefts[c]
            var k = hi - 1
            while k >= lo + lefts[c] {
                r[right] = tmp[k]
                right += 1
                k -= 1
            }
        }
        return nl
    }

    mutating func grow(rows: inout [Int32], sampledAll: Bool) -> RegressionTree {
        var tree = RegressionTree()
        var splitBin: [Int] = []
        func addNode() -> Int {
            tree.feature.append(-1)
            tree.threshold.append(0)
            tree.left.append(0)
            tree.right.append(0)
            tree.value.append(0)
            splitBin.append(0)
            return tree.feature.count - 1
        }
        let m = rows.count
        var scratch = [Int32](repeating: 0, count: m)
        var leaves: [Leaf] = []
        rows.withUnsafeMutableBufferPointer { rv in
            scratch.withUnsafeMutableBufferPointer { sv in
                let r = rv.baseAddress!
                let tmp = sv.baseAddress!
                var sumG = 0.0
                var sumH = 0.0
                for k in 0..<m {
                    let v = gh[Int(r[k])]
                    sumG += v.x
                    sumH += v.y
                }
                let rootHist = histogram(r, 0, m)
                let root = addNode()
                leaves.append(
                    Leaf(
                        start: 0,
                        end: m,
                        depth: 0,
                        sumG: sumG,
                        sumH: sumH,
                        hist: rootHist,
                        split: bestSplit(rootHist, sumG: sumG, sumH: sumH, count: m),
                        node: root
                    )
                )
                while leaves.count < p.maxLeaves {
                    var pick = -1
                    for (k, leaf) in leaves.enumerated() where leaf.split.feature >= 0 && leaf.split.gain > 0 {
                        if pick < 0 || leaf.split.gain > leaves[pick].split.gain { pick = k }
                    }
                    if pick < 0 { break }
                    let parent = leaves.remove(at: pick)
                    let s = parent.split
                    featureGain[s.feature] += s.gain
                    // Stable partition: rows with bin ≤ s.bin first, order kept.
                    let col = binned.withUnsafeBufferPointer { $0.baseAddress! + s.feature * n }
                    let nl = Self.partition(r, tmp, parent.start..<parent.end, column: col, bin: s.bin, threads: p.threads)
                    let nr = parent.end - parent.start - nl
                    let mid = parent.start + nl
                    let leftNode = addNode()
                    let rightNode = addNode()
                    tree.feature[parent.node] = Int32(s.feature)
                    tree.threshold[parent.node] = mapper.edges[s.feature][s.bin]
                    tree.left[parent.node] = Int32(leftNode)
                    tree.right[parent.node] = Int32(rightNode)
                    splitBin[parent.node] = s.bin
                    // Histogram subtraction: build the smaller child, derive the other.
                    let leftSmaller = nl <= nr
                    let small = leftSmaller ? histogram(r, parent.start, mid) : histogram(r, mid, parent.end)
                    let large = parent.hist - small
                    let (lh, rh) = leftSmaller ? (small, large) : (large, small)
                    let depth = parent.depth + 1
                    let canSplit = p.maxDepth == 0 || depth < p.maxDepth
                    let lG = s.leftG
                    let lH = s.leftH
                    let rG = parent.sumG - lG
                    let rH = parent.sumH - lH
                    let lSplit = canSplit ? bestSplit(lh, sumG: lG, sumH: lH, count: nl) : Split()
                    let rSplit = canSplit ? bestSplit(rh, sumG: rG, sumH: rH, count: nr) : Split()
                    leaves.append(Leaf(start: parent.start, end: mid, depth: depth, sumG: lG, sumH: lH, hist: lh, split: lSplit, node: leftNode))
                    leaves.append(Leaf(start: mid, end: parent.end, depth: depth, sumG: rG, sumH: rH, hist: rh, split: rSplit, node: rightNode))
                }
                // Leaf values, and the raw-score update of the rows each leaf holds (the leaves'
                // rows are disjoint: the row range cut among the threads, each row updated once).
                var spans: [(range: Range<Int>, value: Double)] = []
                for leaf in leaves {
                    let v = -leaf.sumG / (leaf.sumH + p.l2) * p.learningRate
                    tree.value[leaf.node] = v
                    spans.append((leaf.start..<leaf.end, v))
                }
                if sampledAll {
                    let tasks = m >= 1 << 16 ? max(1, p.threads) : 1
                    let leafSpans = spans
                    raw.withUnsafeMutableBufferPointer { rawBuffer in
                        let (rowsIn, scores) = (SharedPointer(r), SharedPointer(rawBuffer.baseAddress!))
                        parallelChunks(tasks) { c in
                            let part = (m * c / tasks)..<(m * (c + 1) / tasks)
                            for span in leafSpans {
                                for k in span.range.clamped(to: part) { scores.base[Int(rowsIn.base[k])] += span.value }
                            }
                        }
                    }
                }
            }
        }
        if !sampledAll {
            // Unsampled rows too: route every row by its bins.
            binned.withUnsafeBufferPointer { b in
                for i in 0..<n {
                    var node = 0
                    while tree.feature[node] >= 0 {
                        let f = Int(tree.feature[node])
                        node = Int(Int(b[f * n + i]) <= splitBin[node] ? tree.left[node] : tree.right[node])
                    }
                    raw[i] += tree.value[node]
                }
            }
        }
        return tree
    }
}
