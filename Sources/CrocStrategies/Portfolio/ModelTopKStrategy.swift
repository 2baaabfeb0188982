import CrocCore
import CrocData
import CrocModels
import CrocSupport
import Foundation
import Synchronization

/// Qlib's `TopkDropoutStrategy` selection (`method_sell="bottom"`,
/// `method_buy="top"`): keep the `top` best-scored symbols, but replace at
/// most `dropout` holdings per rebalance, so a ranking that wobbles does not
/// churn the whole book.
///
/// With `held` the current holdings and `scores` the scores of the symbols
/// that can trade now:
/// 1. `today`: the `dropout + top − |held|` best-scored symbols not held;
/// 2. the held (scored) and `today` sorted by score, best first; the held among
///    its last `dropout` entries are sold;
/// 3. the first `|sold| + top − |held|` of `today` are bought.
///
/// A held symbol without a score (no bar now, so it cannot trade) is kept. With
/// `dropout = 0` the selection is a plain top-k (every holding may be replaced).
public enum TopKDropout {
    /// The holdings after the rebalance, best score first (unscored holdings last).
    /// - Parameters:
    ///   - held: Lanes held now.
    ///   - scores: Score by lane for the lanes that can trade now (finite scores only).
    ///   - top: Holdings wanted.
    ///   - dropout: Holdings replaced at most (0: no limit).
    public static func select(held: [Int], scores: [Int: Double], top: Int, dropout: Int) -> [Int] {
        let size = max(scores.keys.max() ?? -1, held.max() ?? -1) + 1
        var byLane = [Double](repeating: .nan, count: size)
        for (k, v) in scores where !v.isNaN { byLane[k] = v }  // ±∞ rank first/last; NaN is no score
        return select(held: held, scores: byLane, top: top, dropout: dropout)
    }

    /// The same selection with the scores by lane in an array (NaN: not scored; lanes past
    /// the end are not scored): no hashing in the sorts, for a rebalance over hundreds of symbols.
    public static func select(held: [Int], scores: [Double], top: Int, dropout: Int) -> [Int] {
        return scores.withUnsafeBufferPointer { score in
            func scored(_ k: Int) -> Bool { k < score.count && !score[k].isNaN }
            // Best first; ties by lane so the result never depends on the order of the inputs.
            func better(_ a: Int, _ b: Int) -> Bool {
                let x = score[a]
                let y = score[b]
                return x != y ? x > y : a < b
            }
            let unscored = held.filter { !scored($0) }
            let last = held.filter { scored($0) }.sorted(by: better)
            var isHeld = [Bool](repeating: false, count: score.count)
            for k in held where k < score.count { isHeld[k] = true }
            let candidates = (0..<score.count).filter { scored($0) && !isHeld[$0] }
            guard dropout > 0 else {
                return (last + candidates).first(max(0, top - unscored.count), sortedBy: better) + unscored
            }
            let todayCount = max(0, dropout + top - held.count)
            let today = candidates.first(todayCount, sortedBy: better)
            let comb = (last + today).sorted(by: better)
            let worst = Set(comb.suffix(dropout))
            let sell = Set(last.filter { worst.contains($0) })
            let buyCount = max(0, sell.count + top - held.count)
            let buy = today.prefix(buyCount)
            return (last.filter { !sell.contains($0) } + buy).sorted(by: better) + unscored
        }
    }
}

/// A universe ranked by a model: every symbol that has a bar goes through the
/// bundle's feature pipeline (one stream per symbol, the same streaming form
/// as training's batch form; a symbol's bars wait in a buffer and its stream
/// catches up on them at the next rebalance — `FeatureStream.update(contentsOf:)`,
/// the same vectors bit for bit at a fraction of the per-bar cost, the symbols
/// in parallel); on a rebalance bar the warm symbols are scored
/// (the bundle's cross-sectional transform applied across them first, then
/// its scaler and model), the `top` best are held at equal weight — or in
/// proportion to their positive scores — and at most `dropout` holdings are
/// replaced per rebalance (`TopKDropout`, Qlib's TopkDropout). With `bottom > 0`
/// the `bottom` worst are shorted too: the long side then carries +½ of equity
/// and the short side −½ (the account must allow shorts).
///
/// In a sweep, the trials share their rebalances' scores (`ScoreCache`): they depend only on
/// the model, the schedule and the bars, so a trial that reaches a rebalance another has scored
/// on the same bars reads the row back, and its streams wait (they catch up, exactly, only if a
/// later rebalance is not in the cache).
///
/// Rebalances come every `rebalance` slices from the first slice at which the
/// features are warm (`warmupBars`). A symbol whose features are not warm yet
/// (a late listing, or a history shorter than the warm-up) is not scored — never
/// scored on missing values. Registered as `model_topk`; the bundle is read once
/// per factory through `BundleCache`.
public struct ModelTopKStrategy: Strategy {
    /// How holdings are weighted.
    public enum Weighting: String, Sendable, Hashable, CaseIterable {
        /// 1 / top each.
        case equal
        /// In proportion to the positive scores of the holdings (equal when none is positive).
        case score
    }

    /// The scoring function.
    public let adapter: InferenceAdapter
    /// Symbols held long.
    public let top: Int
    /// Holdings replaced at most per rebalance (0: no limit).
    public let dropout: Int
    /// Slices between rebalances.
    public let every: Int
    /// Symbols shorted (0: long only).
    public let bottom: Int
    /// Weights of the holdings.
    public let weighting: Weighting
    /// Only symbols scoring above this are bought or kept long (−∞: any); below it a
    /// holding is sold whatever the dropout. A threshold a sweep can tune.
    public let minScore: Double
    private let transform: CrossSectionTransform
    private let width: Int
    private let pipeline: FeaturePipeline
    private var streams: [FeatureStream] = []
    /// The slices since the streams last caught up (kept whole: one append per slice, not one
    /// per symbol; each lane's bars are gathered from them at the next rebalance).
    private var backlog: [MarketSlice] = []
    /// Each lane's gathered bars at a catch-up, lane after lane (reused).
    private var gathered: [Bar] = []
    private var slices = 0
    /// The scores of each rebalance: (slice, score by lane, NaN where not scored).
    public private(set) var decisions: [(slice: Int, scores: [Double])] = []
    /// The sweep's shared scores and this model's key in them (nil: none).
    private let sharedScores: (cache: ScoreCache, model: String)?
    /// Every bar seen so far (kept only with `sharedScores`).
    private var digest = BarDigest()

    /// Creates the strategy.
    /// - Parameter sharedScores: A sweep's `ScoreCache` and the key of `adapter`'s model in it
    ///   (its bundle directory): a rebalance scored by another trial on the same bars is read
    ///   back instead of computed (the same row, so the same run). Only for a model that every
    ///   trial shares, read once.
    /// - Precondition: top ≥ 1, dropout ≥ 0, every ≥ 1, bottom ≥ 0.
    public init(
        adapter: InferenceAdapter,
        top: Int,
        dropout: Int = 0,
        rebalance every: Int = 1,
        bottom: Int = 0,
        weighting: Weighting = .equal,
        minScore: Double = -.infinity,
        sharedScores: (cache: ScoreCache, model: String)? = nil
    ) {
        precondition(top >= 1 && dropout >= 0 && every >= 1 && bottom >= 0, "top ≥ 1, dropout ≥ 0, rebalance ≥ 1, bottom ≥ 0")
        self.sharedScores = sharedScores
        self.minScore = minScore
        self.adapter = adapter
        self.top = top
        self.dropout = dropout
        self.every = every
        self.bottom = bottom
        self.weighting = weighting
        self.transform = adapter.bundle.crossSection ?? .none
        self.pipeline = FeaturePipeline(adapter.bundle.features)
        self.width = pipeline.width
    }

    /// `model_topk(<bundle name>)`.
    public var name: String { "model_topk(\(adapter.bundle.metadata.name))" }

    /// The feature pipeline's warm-up: the first slice that can rebalance.
    public var warmupBars: Int { pipeline.warmup }

    /// A single-instrument run is a universe of one symbol.
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) throws {
        try onSlice(MarketSlice(time: bar.timestamp, lanes: [0], bars: [bar]), context: &context)
    }

    public mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        let n = context.symbols.count
        if streams.isEmpty { streams = Array(repeating: pipeline.makeStream(), count: n) }
        let t = slices
        slices += 1
        backlog.append(slice)
        if sharedScores != nil { digest.add(slice) }
        guard t >= warmupBars, (t - warmupBars) % every == 0 else { return }
        // The score row: read back from the sweep's cache when another trial scored this
        // rebalance on the same bars (the streams then wait: a later row not in the cache catches
        // them up on every bar since, exactly), else computed. Empty: no lane to score.
        let key = sharedScores.map { ScoreCache.Key(model: $0.model, every: every, slice: t, lanes: n, data: digest) }
        let row: [Double]
        if let key, let cached = sharedScores?.cache.row(key) {
            row = cached
            // A long wait is bounded: past 2 million waiting bars the streams catch up anyway.
            if backlog.reduce(0, { $0 + $1.bars.count }) > 2_000_000 { catchUp() }
        } else {
            row = scoreRow(slice, lanes: n)
            if let key { sharedScores?.cache.store(row, for: key) }
        }
        guard !row.isEmpty else { return }
        var scores: [Int: Double] = [:]
        decisions.append((t, row))
        var weights = [Double](repeating: 0, count: n)
        let longHeld = (0..<n).filter { ($0 == 0 ? context.position : context.positions[$0]).raw > 0 }
        var long = TopKDropout.select(held: longHeld, scores: row, top: top, dropout: dropout)
        if minScore > -.infinity { long.removeAll { !row[$0].isNaN && row[$0] <= minScore } }
        if weighting == .score || bottom > 0 {
            for k in 0..<n where row[k].isFinite { scores[k] = row[k] }
        }
        let longBudget = bottom > 0 ? 0.5 : 1.0
        assign(long, budget: longBudget, scores: scores, into: &weights, sign: 1)
        if bottom > 0 {
            let taken = Set(long)
            let worst = scores.keys.filter { !taken.contains($0) }.sorted { scores[$0]! != scores[$1]! ? scores[$0]! < scores[$1]! : $0 < $1 }
            let short = Array(worst.prefix(bottom))
            // The short side weighs the negated scores the same way.
            assign(short, budget: 0.5, scores: scores.mapValues { -$0 }, into: &weights, sign: -1, slots: bottom)
        }
        try context.rebalance(weights: weights)
    }

    /// Catches the streams up and scores the lanes of `slice` whose vector is complete: the
    /// score of each lane (NaN where not scored), or empty when no lane of the slice is warm.
    private mutating func scoreRow(_ slice: MarketSlice, lanes n: Int) -> [Double] {
        // Without a cross-sectional transform each lane's score needs only its own vector: the
        // threads that catch the lanes up score them too, in the same pass (one fork and join per
        // rebalance instead of two, and no serial step between).
        if transform == .none && adapter.bundle.metadata.kind != .onnx {
            var row = [Double](repeating: .nan, count: n)
            var any = false
            row.withUnsafeMutableBufferPointer { row in
                let address = UInt(bitPattern: row.baseAddress!)
                let adapter = adapter
                let width = width
                let scored = Mutex(false)
                catchUp(slice.lanes) { streams, lo, hi, lanes in
                    // The slice's lanes in lo..<hi whose vector is complete, scored in one batch.
                    var rows: [Int] = []
                    var x: [Double] = []
                    for k in lanes where k >= lo && k < hi && streams[k].isWarm && streams[k].vector.allSatisfy(\.isFinite) {
                        rows.append(k)
                        x.append(contentsOf: streams[k].vector)
                    }
                    guard !rows.isEmpty else { return }
                    scored.withLock { $0 = true }
                    let scores = adapter.predict(batch: Matrix(rows: rows.count, columns: width, values: x))
                    let out = UnsafeMutablePointer<Double>(bitPattern: address)!
                    for (i, k) in rows.enumerated() where scores[i].isFinite { out[k] = scores[i] }
                }
                any = scored.withLock { $0 }
            }
            return any ? row : []
        }
        catchUp()
        // Scored: the lanes with a bar in this slice (lanes ascend) whose vector is complete.
        let lanes = slice.lanes.filter { streams[$0].isWarm && streams[$0].vector.allSatisfy(\.isFinite) }
        guard !lanes.isEmpty else { return [] }
        let scored = score(lanes)
        var row = [Double](repeating: .nan, count: n)
        for (i, k) in lanes.enumerated() where scored[i].isFinite { row[k] = scored[i] }
        return row
    }

    /// Each lane of `set` gets `budget / slots` (equal) or its share of the set's positive scores.
    private func assign(_ set: [Int], budget: Double, scores: [Int: Double], into weights: inout [Double], sign: Double, slots: Int? = nil) {
        guard !set.isEmpty else { return }
        let slots = Double(slots ?? top)
        if weighting == .score {
            let positive = set.map { max(0, scores[$0] ?? 0) }
            let total = positive.reduce(0, +)
            if total > 0 {
                let invested = budget * min(1, Double(set.count) / slots)
                for (i, k) in set.enumerated() { weights[k] = sign * invested * positive[i] / total }
                return
            }
        }
        for k in set { weights[k] = sign * budget / slots }
    }

    /// Feeds every lane's waiting bars through its stream: each thread takes a contiguous range
    /// of lanes, gathers their bars from the backlog into its part of one buffer (lane after
    /// lane), and feeds them to their streams (each lane's stream is touched by one thread, so the
    /// result is the same whatever the threads).
    private mutating func catchUp() { catchUp([]) { _, _, _, _ in } }

    /// `catchUp()`, then `then(streams, lo, hi, lanes)` on the thread that caught up lanes
    /// `lo ..< hi` (`lanes`: what the caller passed), before the threads join.
    private mutating func catchUp(
        _ lanes: [Int],
        then: @Sendable (_ streams: UnsafeMutablePointer<FeatureStream>, _ lo: Int, _ hi: Int, _ lanes: [Int]) -> Void
    ) {
        let n = streams.count
        let backlog = self.backlog
        var start = [Int](repeating: 0, count: n + 1)
        start.withUnsafeMutableBufferPointer { start in
            for slice in backlog { slice.lanes.withUnsafeBufferPointer { for k in $0 { start[k + 1] += 1 } } }
            for k in 0..<n { start[k + 1] += start[k] }
        }
        let waiting = start[n]
        guard waiting > 0 else {
            streams.withUnsafeMutableBufferPointer { then($0.baseAddress!, 0, n, lanes) }
            return
        }
        if gathered.count < waiting, let any = backlog.first(where: { !$0.bars.isEmpty })?.bars[0] {
            gathered = Array(repeating: any, count: waiting)
        }
        let bounds = start
        let tasks = Self.tasks(for: waiting, minimumPerTask: 2_048, limit: n)
        streams.withUnsafeMutableBufferPointer { streams in
            gathered.withUnsafeMutableBufferPointer { gathered in
                let s = UInt(bitPattern: streams.baseAddress!)
                let g = UInt(bitPattern: gathered.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: tasks) { task in
                    let streams = UnsafeMutablePointer<FeatureStream>(bitPattern: s)!
                    let out = UnsafeMutablePointer<Bar>(bitPattern: g)!
                    let lo = task * n / tasks
                    let hi = (task + 1) * n / tasks
                    var next = Array(bounds[lo..<hi])
                    for slice in backlog {
                        slice.lanes.withUnsafeBufferPointer { lanes in
                            slice.bars.withUnsafeBufferPointer { bars in
                                // Lanes ascend: this thread's are one stretch of the slice.
                                var j = 0
                                var end = lanes.count
                                while j < end {
                                    let m = (j + end) / 2
                                    if lanes[m] < lo { j = m + 1 } else { end = m }
                                }
                                while j < lanes.count, lanes[j] < hi {
                                    let k = lanes[j] - lo
                                    out[next[k]] = bars[j]
                                    next[k] += 1
                                    j += 1
                                }
                            }
                        }
                    }
                    for k in lo..<hi where bounds[k + 1] > bounds[k] {
                        streams[k].update(contentsOf: UnsafeBufferPointer(start: out + bounds[k], count: bounds[k + 1] - bounds[k]))
                    }
                    then(streams, lo, hi, lanes)
                }
            }
        }
        self.backlog.removeAll(keepingCapacity: true)
    }

    /// Threads for `work` items: one per `minimumPerTask`, at most the cores and `limit`.
    static func tasks(for work: Int, minimumPerTask: Int, limit: Int) -> Int {
        let cores = Machine.activeCores
        return max(1, min(cores, limit, work / minimumPerTask))
    }

    /// The model's scores of `lanes` (their latest vectors, copied into one matrix), the
    /// cross-sectional transform applied across them column by column first; the predictions in
    /// parallel for a native model (each row is scored on its own, so the scores do not depend on
    /// the threads).
    private func score(_ lanes: [Int]) -> [Double] {
        let rows = lanes.count
        var values = [Double](repeating: 0, count: rows * width)
        values.withUnsafeMutableBufferPointer { v in
            for (i, k) in lanes.enumerated() {
                streams[k].vector.withUnsafeBufferPointer { (v.baseAddress! + i * width).update(from: $0.baseAddress!, count: width) }
            }
            if transform != .none {
                var column = [Double](repeating: 0, count: rows)
                for c in 0..<width {
                    for i in 0..<rows { column[i] = v[i * width + c] }
                    transform.apply(&column)
                    for i in 0..<rows { v[i * width + c] = column[i] }
                }
            }
        }
        // Rows with a missing value are not scored; the others go to the model in one batch per
        // thread (a native model's rows are scored independently, so threads change nothing).
        let finite = (0..<rows).filter { i in values[(i * width)..<((i + 1) * width)].allSatisfy(\.isFinite) }
        var scores = [Double](repeating: .nan, count: rows)
        guard !finite.isEmpty else { return scores }
        let tasks = adapter.bundle.metadata.kind == .onnx ? 1 : Self.tasks(for: finite.count, minimumPerTask: 64, limit: finite.count)
        let parts = (0..<tasks).map { task in
            let part = Array(finite[(task * finite.count / tasks)..<((task + 1) * finite.count / tasks)])
            var x = [Double]()
            x.reserveCapacity(part.count * width)
            for i in part { x.append(contentsOf: values[(i * width)..<((i + 1) * width)]) }
            return (part, Matrix(rows: part.count, columns: width, values: x))
        }
        let adapter = adapter
        let results = [[Double]](unsafeUninitializedCapacity: tasks) { out, count in
            let address = UInt(bitPattern: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: tasks) { task in
                let out = UnsafeMutablePointer<[Double]>(bitPattern: address)!
                (out + task).initialize(to: adapter.predict(batch: parts[task].1))
            }
            count = tasks
        }
        for (task, part) in parts.enumerated() {
            for (i, row) in part.0.enumerated() { scores[row] = results[task][i] }
        }
        return scores
    }
}
