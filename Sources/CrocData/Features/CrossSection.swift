import Foundation

/// Cross-sectional transforms: each applies to one timestamp's values across
/// the symbols of a universe (one row of a time × symbol panel), in place.
/// Missing values (NaN) stay missing and are ignored by the statistics —
/// Qlib's `CSRankNorm`/`CSZScoreNorm` and alphalens' per-date grouping.
public enum CrossSection {
    /// Reusable buffers for ranking rows (one per thread): ranking a panel's rows
    /// through one scratch allocates nothing per row.
    public struct RankScratch: Sendable {
        var keys: [UInt64] = []
        var otherKeys: [UInt64] = []
        var index: [Int32] = []
        var otherIndex: [Int32] = []
        var counts = [Int](repeating: 0, count: 8 * 256)
        /// `rankPacked`'s digit counts: two copies (even and odd elements) of three digits.
        var counts32 = [UInt32](repeating: 0, count: 2 * 3 * 256)
        /// `i / (m − 1)` for i in 0..<m, the [0, 1] ranks of a row of m finite values without
        /// ties (kept for the last m: a panel's rows mostly have the same count).
        var ranks: [Double] = []

        /// Empty buffers (they grow to the longest row seen).
        public init() {}

        mutating func reserve(_ n: Int) {
            guard keys.count < n else { return }
            keys = Array(repeating: 0, count: n)
            otherKeys = keys
            index = Array(repeating: 0, count: n)
            otherIndex = index
        }
    }

    /// The bits of `x` as an unsigned integer that orders as the doubles do (negative
    /// values flipped, positive ones with the sign bit set): sorting these sorts the values.
    @inline(__always)
    static func orderedBits(_ x: Double) -> UInt64 {
        let b = x.bitPattern
        return b & (1 << 63) != 0 ? ~b : b | (1 << 63)
    }

    /// Sorts the positions of `row`'s finite values by value into `scratch.index[0..<m]`
    /// and returns m. An LSD radix sort of the values' ordered bits, byte by byte, skipping
    /// the bytes every value shares: first on the high four bytes only (sign, exponent and
    /// the top 20 bits of the mantissa), then each run of equal high halves is put in order
    /// of the whole key by insertion (runs are values within about 1e-6 of each other: short);
    /// a row with a run longer than 64 is sorted on all eight bytes instead. Either way the
    /// order is by value, ties by position (stable): the same as sorting on all eight bytes.
    /// Insertion sort for short rows.
    static func argsortFinite(_ row: UnsafeBufferPointer<Double>, _ scratch: inout RankScratch) -> Int {
        if let m = argsortFinitePacked(row, &scratch) { return m }
        let n = row.count
        scratch.reserve(n)
        return scratch.keys.withUnsafeMutableBufferPointer { keysBuffer in
            scratch.otherKeys.withUnsafeMutableBufferPointer { otherKeysBuffer in
                scratch.index.withUnsafeMutableBufferPointer { indexBuffer in
                    scratch.otherIndex.withUnsafeMutableBufferPointer { otherIndexBuffer in
                        scratch.counts.withUnsafeMutableBufferPointer { counts in
                            let keys = keysBuffer.baseAddress!
                            let index = indexBuffer.baseAddress!
                            func load() -> Int {
                                var m = 0
                                for k in 0..<n where row[k].isFinite {
                                    keys[m] = orderedBits(row[k])
                                    index[m] = Int32(truncatingIfNeeded: k)
                                    m += 1
                                }
                                return m
                            }
                            let m = load()
                            if m < 48 {
                                insertionSort(keys, index, 0..<m)
                                return m
                            }
                            // Sorts keys[0..<m] (with their positions) on `bytes`, low to high; the
                            // result is left in keys/index.
                            func radix(_ bytes: Range<Int>) {
                                let c = counts.baseAddress!
                                // Only the digits sorted on are counted, so only theirs are cleared.
                                (c + bytes.lowerBound &* 256).update(repeating: 0, count: bytes.count &* 256)
                                if bytes == 4..<8 {
                                    for i in 0..<m {
                                        let high = Int(truncatingIfNeeded: keys[i] >> 32)
                                        c[1024 &+ (high & 255)] &+= 1
                                        c[1280 &+ ((high >> 8) & 255)] &+= 1
                                        c[1536 &+ ((high >> 16) & 255)] &+= 1
                                        c[1792 &+ ((high >> 24) & 255)] &+= 1
                                    }
                                } else {
                                    for i in 0..<m {
                                        let key = keys[i]
                                        for d in bytes { c[d &* 256 &+ Int(truncatingIfNeeded: (key >> UInt64(8 &* d)) & 255)] &+= 1 }
                                    }
                                }
                                var sourceKeys = keys
                                var sourceIndex = index
                                var targetKeys = otherKeysBuffer.baseAddress!
                                var targetIndex = otherIndexBuffer.baseAddress!
                                for d in bytes {
                                    let base = d &* 256
                                    let shift = UInt64(8 &* d)
                                    // A byte every value shares orders nothing.
                                    if c[base &+ Int(truncatingIfNeeded: (sourceKeys[0] >> shift) & 255)] == m { continue }
                                    var sum = 0
                                    for b in 0..<256 {
                                        let count = c[base &+ b]
                                        c[base &+ b] = sum
                                        sum &+= count
                                    }
                                    for i in 0..<m {
                                        let key = sourceKeys[i]
                                        let bucket = base &+ Int(truncatingIfNeeded: (key >> shift) & 255)
                                        let p = c[bucket]
                                        c[bucket] = p &+ 1
                                        targetKeys[p] = key
                                        targetIndex[p] = sourceIndex[i]
                                    }
                                    swap(&sourceKeys, &targetKeys)
                                    swap(&sourceIndex, &targetIndex)
                                }
                                if sourceKeys != keys {
                                    keys.update(from: sourceKeys, count: m)
                                    index.update(from: sourceIndex, count: m)
                                }
                            }
                            radix(4..<8)
                            var i = 0
                            while i < m {
                                let high = keys[i] >> 32
                                var j = i + 1
                                while j < m && keys[j] >> 32 == high { j += 1 }
                                if j - i > 64 {
                                    _ = load()
                                    radix(0..<8)
                                    return m
                                }
                                if j - i > 1 { insertionSort(keys, index, i..<j) }
                                i = j
                            }
                            return m
                        }
                    }
                }
            }
        }
    }

    /// `argsortFinite`'s usual path, for rows of 48 values or more: each finite value's
    /// position packed under the high half of its ordered bits in one word, so the radix
    /// passes (over the high three bytes — sign, exponent and the top 12 bits of the mantissa —
    /// skipping the bytes every value shares) move one array rather than keys and positions
    /// side by side; a run of equal high three bytes (values within about 1/4096 of each other)
    /// is then put in order of the whole key by insertion (the packed positions ascend within
    /// it, so equal values stay in position order). The same order as `argsortFinite`'s other
    /// paths. Returns nil, its result unused, for rows it does not take (fewer than 48 finite
    /// values, or a run longer than 64: the caller sorts on all eight bytes).
    static func argsortFinitePacked(_ row: UnsafeBufferPointer<Double>, _ scratch: inout RankScratch) -> Int? {
        let n = row.count
        guard n >= 48 && n <= Int(Int32.max) else { return nil }
        scratch.reserve(n)
        return scratch.keys.withUnsafeMutableBufferPointer { keysBuffer -> Int? in
            scratch.otherKeys.withUnsafeMutableBufferPointer { otherBuffer -> Int? in
                scratch.index.withUnsafeMutableBufferPointer { index -> Int? in
                    scratch.counts.withUnsafeMutableBufferPointer { counts -> Int? in
                        let c = counts.baseAddress!
                        var source = keysBuffer.baseAddress!
                        var target = otherBuffer.baseAddress!
                        let highMask: UInt64 = 0xFFFF_FFFF_0000_0000
                        let lowMask: UInt64 = 0xFFFF_FFFF
                        var m = 0
                        for k in 0..<n where row[k].isFinite {
                            source[m] = orderedBits(row[k]) & highMask | UInt64(truncatingIfNeeded: k)
                            m &+= 1
                        }
                        guard m >= 48 else { return nil }
                        // The digits are bytes 5, 6 and 7 (the high three bytes); byte 4 is left to
                        // the runs' insertion below.
                        c.update(repeating: 0, count: 1024)
                        for i in 0..<m {
                            let high = Int(truncatingIfNeeded: source[i] >> 32)
                            c[256 &+ ((high >> 8) & 255)] &+= 1
                            c[512 &+ ((high >> 16) & 255)] &+= 1
                            c[768 &+ ((high >> 24) & 255)] &+= 1
                        }
                        for d in 1..<4 {
                            let base = d &* 256
                            let shift = UInt64(32 &+ 8 &* d)
                            // A byte every value shares orders nothing.
                            if c[base &+ Int(truncatingIfNeeded: (source[0] >> shift) & 255)] == m { continue }
                            var sum = 0
                            for b in 0..<256 {
                                let count = c[base &+ b]
                                c[base &+ b] = sum
                                sum &+= count
                            }
                            for i in 0..<m {
                                let word = source[i]
                                let bucket = base &+ Int(truncatingIfNeeded: (word >> shift) & 255)
                                let p = c[bucket]
                                c[bucket] = p &+ 1
                                target[p] = word
                            }
                            swap(&source, &target)
                        }
                        // Runs of equal high halves, in order of the whole key.
                        @inline(__always) func fullKey(_ word: UInt64) -> UInt64 { orderedBits(row[Int(truncatingIfNeeded: word & lowMask)]) }
                        var i = 0
                        while i < m {
                            let high = source[i] >> 40
                            var j = i &+ 1
                            while j < m && source[j] >> 40 == high { j &+= 1 }
                            if j &- i > 64 { return nil }
                            if j &- i > 1 { insertionSort(source, i..<j, by: fullKey) }
                            i = j
                        }
                        for i in 0..<m { index[i] = Int32(truncatingIfNeeded: source[i] & lowMask) }
                        return m
                    }
                }
            }
        }
    }

    /// `rank(_:scratch:)`'s usual path, for rows of 48 finite values or more: the sort of
    /// `argsortFinitePacked` with the ranks written as it ends, so the ties are found among
    /// the few values that share their high three bytes (no other two values can be equal)
    /// instead of by comparing every value with the next in sorted order. Its parts are
    /// written to run without branches on the data: a row with no missing value is packed
    /// by a loop the compiler vectorises, each digit is counted in two tables (even and odd
    /// elements: a digit most values share would otherwise make each count wait for the one
    /// before), and the runs of equal high bytes are found by a scan that lists them.
    /// Negative zero is keyed as zero, so the two are one tie, as `==` has them. The same
    /// values, bit for bit, as the general path (`forEachAverageRank`). Returns false, the
    /// row untouched, for a row it does not take (fewer than 48 finite values, or a run longer
    /// than 64).
    static func rankPacked(_ row: UnsafeMutableBufferPointer<Double>, _ scratch: inout RankScratch) -> Bool {
        let n = row.count
        guard n >= 48 && n <= Int(Int32.max) else { return false }
        scratch.reserve(n)
        return scratch.keys.withUnsafeMutableBufferPointer { keysBuffer -> Bool in
            scratch.otherKeys.withUnsafeMutableBufferPointer { otherBuffer -> Bool in
                scratch.index.withUnsafeMutableBufferPointer { groups -> Bool in
                    scratch.counts32.withUnsafeMutableBufferPointer { counts -> Bool in
                        let values = UnsafeBufferPointer(row)
                        var source = keysBuffer.baseAddress!
                        var target = otherBuffer.baseAddress!
                        let c = counts.baseAddress!
                        let highMask: UInt64 = 0xFFFF_FFFF_0000_0000
                        let lowMask: UInt64 = 0xFFFF_FFFF
                        let exponent: UInt64 = 0x7FF0_0000_0000_0000
                        // The ordered bits of x + 0 (negative zero keyed as zero), without a branch.
                        @inline(__always) func key(_ x: Double) -> UInt64 {
                            let b = (x + 0).bitPattern
                            let flip = UInt64(bitPattern: Int64(bitPattern: b) >> 63) | (1 << 63)
                            return b ^ flip
                        }
                        // Whether any value is missing (NaN or infinite: every exponent bit set), by an
                        // OR of (exponent bits + 1 << 52), whose top bit is set exactly then: a vector
                        // loop without a branch, where a search tests and branches per value.
                        var missing: UInt64 = 0
                        for k in 0..<n { missing |= (values[k].bitPattern & exponent) &+ (1 << 52) }
                        var m = 0
                        if missing >> 63 == 0 {
                            for k in 0..<n { source[k] = key(values[k]) & highMask | UInt64(truncatingIfNeeded: k) }
                            m = n
                        } else {
                            for k in 0..<n where values[k].isFinite {
                                source[m] = key(values[k]) & highMask | UInt64(truncatingIfNeeded: k)
                                m &+= 1
                            }
                            guard m >= 48 else { return false }
                        }
                        // Bytes 5, 6 and 7 of the keys, low to high (byte 4 is left to the runs below).
                        c.update(repeating: 0, count: 2 * 3 * 256)
                        var i = 0
                        while i &+ 1 < m {
                            let a = Int(truncatingIfNeeded: source[i] >> 40)
                            let b = Int(truncatingIfNeeded: source[i &+ 1] >> 40)
                            c[a & 255] &+= 1
                            c[256 &+ ((a >> 8) & 255)] &+= 1
                            c[512 &+ ((a >> 16) & 255)] &+= 1
                            c[768 &+ (b & 255)] &+= 1
                            c[1024 &+ ((b >> 8) & 255)] &+= 1
                            c[1280 &+ ((b >> 16) & 255)] &+= 1
                            i &+= 2
                        }
                        if i < m {
                            let a = Int(truncatingIfNeeded: source[i] >> 40)
                            c[a & 255] &+= 1
                            c[256 &+ ((a >> 8) & 255)] &+= 1
                            c[512 &+ ((a >> 16) & 255)] &+= 1
                        }
                        for d in 0..<3 {
                            let base = d &* 256
                            let shift = UInt64(40 &+ 8 &* d)
                            // A byte every value shares orders nothing.
                            let first = Int(truncatingIfNeeded: (source[0] >> shift) & 255)
                            if Int(c[base &+ first]) &+ Int(c[768 &+ base &+ first]) == m { continue }
                            var sum: UInt32 = 0
                            for b in 0..<256 {
                                let count = c[base &+ b] &+ c[768 &+ base &+ b]
                                c[base &+ b] = sum
                                sum &+= count
                            }
                            for i in 0..<m {
                                let word = source[i]
                                let bucket = base &+ Int(truncatingIfNeeded: (word >> shift) & 255)
                                let p = Int(c[bucket])
                                c[bucket] &+= 1
                                target[p] = word
                            }
                            swap(&source, &target)
                        }
                        // Runs of equal high bytes: listed (the positions that equal the one before) by
                        // a scan without branches into the free buffer, then each put in order of the
                        // whole key by insertion and its ties (equal whole keys) noted as groups.
                        let listed = target
                        var count = 0
                        for x in 1..<m {
                            listed[count] = UInt64(truncatingIfNeeded: x)
                            count &+= (source[x] ^ source[x &- 1]) >> 40 == 0 ? 1 : 0
                        }
                        @inline(__always) func fullKey(_ word: UInt64) -> UInt64 { key(values[Int(truncatingIfNeeded: word & lowMask)]) }
                        var groupCount = 0
                        var r = 0
                        while r < count {
                            let start = Int(truncatingIfNeeded: listed[r]) &- 1
                            var end = start &+ 2
                            r &+= 1
                            while r < count && Int(truncatingIfNeeded: listed[r]) == end {
                                end &+= 1
                                r &+= 1
                            }
                            if end &- start > 64 { return false }
                            insertionSort(source, start..<end, by: fullKey)
                            var a = start
                            while a < end {
                                let k = fullKey(source[a])
                                var b = a
                                while b &+ 1 < end && fullKey(source[b &+ 1]) == k { b &+= 1 }
                                if b > a {
                                    groups[groupCount] = Int32(truncatingIfNeeded: a)
                                    groups[groupCount &+ 1] = Int32(truncatingIfNeeded: b)
                                    groupCount &+= 2
                                }
                                a = b &+ 1
                            }
                        }
                        // (average rank − 1) / (m − 1): i / (m − 1) for a value without ties (from the
                        // table, divided once per count of values), then each tie group's mean rank.
                        let scale = Double(m &- 1)
                        if scratch.ranks.count != m { scratch.ranks = (0..<m).map { Double($0) / scale } }
                        scratch.ranks.withUnsafeBufferPointer { ranks in
                            for i in 0..<m { row[Int(truncatingIfNeeded: source[i] & lowMask)] = ranks[i] }
                        }
                        var g = 0
                        while g < groupCount {
                            let a = Int(groups[g])
                            let b = Int(groups[g &+ 1])
                            let value = (Double(a &+ b) / 2 + 1 - 1) / scale
                            for i in a...b { row[Int(truncatingIfNeeded: source[i] & lowMask)] = value }
                            g &+= 2
                        }
                        return true
                    }
                }
            }
        }
    }

    /// Stable insertion sort of the packed words `words[range]` by their whole key `key(word)`
    /// (the packed sorts' runs of equal high bytes).
    @inline(__always)
    static func insertionSort(_ words: UnsafeMutablePointer<UInt64>, _ range: Range<Int>, by key: (UInt64) -> UInt64) {
        guard range.count > 1 else { return }
        for x in (range.lowerBound &+ 1)..<range.upperBound {
            let word = words[x]
            let k = key(word)
            var y = x
            while y > range.lowerBound && key(words[y &- 1]) > k {
                words[y] = words[y &- 1]
                y &-= 1
            }
            words[y] = word
        }
    }

    /// Stable insertion sort of `keys[range]`, moving `index` along.
    @inline(__always)
    static func insertionSort(_ keys: UnsafeMutablePointer<UInt64>, _ index: UnsafeMutablePointer<Int32>, _ range: Range<Int>) {
        guard range.count > 1 else { return }
        for i in (range.lowerBound + 1)..<range.upperBound {
            let key = keys[i]
            let position = index[i]
            var j = i
            while j > range.lowerBound && keys[j - 1] > key {
                keys[j] = keys[j - 1]
                index[j] = index[j - 1]
                j -= 1
            }
            keys[j] = key
            index[j] = position
        }
    }

    /// Calls `body(position, averageRank)` for each finite value of `row`: its 1-based rank
    /// among the finite values, ties sharing the mean of their ranks. Returns how many.
    @inline(__always)
    static func forEachAverageRank(
        _ row: UnsafeBufferPointer<Double>,
        _ scratch: inout RankScratch,
        _ body: (_ position: Int, _ rank: Double, _ finiteCount: Int) -> Void
    ) -> Int {
        let m = argsortFinite(row, &scratch)
        scratch.index.withUnsafeBufferPointer { order in
            var i = 0
            while i < m {
                let value = row[Int(order[i])]
                var j = i
                while j + 1 < m && row[Int(order[j + 1])] == value { j += 1 }
                let rank = Double(i + j) / 2 + 1
                for k in i...j { body(Int(order[k]), rank, m) }
                i = j + 1
            }
        }
        return m
    }

    /// Average ranks (1-based; ties share the mean of their ranks, as
    /// `scipy.stats.rankdata(method="average")`) of the finite values; NaN elsewhere.
    public static func averageRanks(_ values: [Double]) -> [Double] {
        var out = [Double](repeating: .nan, count: values.count)
        var scratch = RankScratch()
        values.withUnsafeBufferPointer { v in
            _ = forEachAverageRank(v, &scratch) { k, rank, _ in out[k] = rank }
        }
        return out
    }

    /// Ranks mapped to [0, 1]: (average rank − 1) / (n − 1) over the n finite values
    /// (a single value maps to 0.5).
    public static func rank(_ row: inout [Double]) {
        var scratch = RankScratch()
        row.withUnsafeMutableBufferPointer { rank($0, scratch: &scratch) }
    }

    /// `rank(_:)` in place on a row of a panel, through reusable `scratch`.
    public static func rank(_ row: UnsafeMutableBufferPointer<Double>, scratch: inout RankScratch) {
        if rankPacked(row, &scratch) { return }
        // (average rank − 1) / (m − 1) over the m finite values (the sort counts them: no pass
        // of its own); each tie group's value is read before its ranks are written.
        _ = forEachAverageRank(UnsafeBufferPointer(row), &scratch) { k, rank, m in row[k] = m > 1 ? (rank - 1) / Double(m - 1) : 0.5 }
    }

    /// Subtracts the mean of the finite values.
    public static func demean(_ row: inout [Double]) { row.withUnsafeMutableBufferPointer { demean($0) } }

    /// `demean(_:)` in place on a row of a panel.
    public static func demean(_ row: UnsafeMutableBufferPointer<Double>) {
        var sum = 0.0
        var count = 0
        for x in row where x.isFinite {
            sum += x
            count += 1
        }
        guard count > 0 else { return }
        let mean = sum / Double(count)
        for k in row.indices where row[k].isFinite { row[k] -= mean }
    }

    /// (x − mean) / standard deviation of the finite values (sample, n − 1, as pandas and
    /// Qlib's `CSZScoreNorm`); NaN where fewer than two values or no spread.
    public static func zscore(_ row: inout [Double]) { row.withUnsafeMutableBufferPointer { zscore($0) } }

    /// `zscore(_:)` in place on a row of a panel.
    public static func zscore(_ row: UnsafeMutableBufferPointer<Double>) {
        let (sum, count) = finiteSum(UnsafeBufferPointer(row)) { $0 }
        guard count > 1 else {
            for k in row.indices { row[k] = .nan }
            return
        }
        let mean = sum / Double(count)
        let (squares, _) = finiteSum(UnsafeBufferPointer(row)) { ($0 - mean) * ($0 - mean) }
        let sd = (squares / Double(count - 1)).squareRoot()
        if sd > 0 && sd.isFinite && mean.isFinite {
            // Every cell at once (a loop the compiler vectorises): a finite mean and spread leave
            // NaN and ±∞ as they are ((x − mean) / sd is x for them), so nothing needs skipping.
            for k in row.indices { row[k] = (row[k] - mean) / sd }
            return
        }
        for k in row.indices where row[k].isFinite { row[k] = sd > 0 ? (row[k] - mean) / sd : .nan }
    }

    /// The sum of `term(x)` over the finite values of `row`, and how many there are, in four
    /// interleaved partial sums added pairwise at the end: one running sum made each add wait
    /// for the one before (a z-score's two sums were most of its time); the result may differ
    /// from a running sum's in the last bits, as numpy's pairwise sums do.
    @inline(__always)
    static func finiteSum(_ row: UnsafeBufferPointer<Double>, _ term: (Double) -> Double) -> (sum: Double, count: Int) {
        var s0 = 0.0
        var s1 = 0.0
        var s2 = 0.0
        var s3 = 0.0
        var count = 0
        let n = row.count
        var k = 0
        // Value k into partial sum k mod 4 (the tail into the first), when finite: a missing
        // value adds +0, which leaves a sum as it is (a sum that starts at +0 is never −0), so
        // the loop has no branch and the compiler runs the four sums as one vector.
        @inline(__always) func add(_ x: Double, to s: inout Double) {
            let finite = x.isFinite
            s += finite ? term(x) : 0
            count &+= finite ? 1 : 0
        }
        while k + 4 <= n {
            add(row[k], to: &s0)
            add(row[k + 1], to: &s1)
            add(row[k + 2], to: &s2)
            add(row[k + 3], to: &s3)
            k += 4
        }
        while k < n {
            add(row[k], to: &s0)
            k += 1
        }
        return ((s0 + s1) + (s2 + s3), count)
    }

    /// Clips the finite values to their `lower` and `upper` quantiles (linear
    /// interpolation, as `numpy.quantile`).
    /// - Precondition: 0 ≤ lower ≤ upper ≤ 1.
    public static func winsorize(_ row: inout [Double], lower: Double, upper: Double) {
        precondition(lower >= 0 && lower <= upper && upper <= 1, "quantiles in [0, 1], lower ≤ upper")
        let sorted = row.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return }
        let lo = quantile(sorted, lower)
        let hi = quantile(sorted, upper)
        for k in row.indices where row[k].isFinite { row[k] = min(max(row[k], lo), hi) }
    }

    /// The `q` quantile of ascending `sorted` values, interpolated linearly between the
    /// neighbouring order statistics (`numpy.quantile`'s default).
    public static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty, "no values")
        let position = q * Double(sorted.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, sorted.count - 1)
        let fraction = position - Double(below)
        return sorted[below] + (sorted[above] - sorted[below]) * fraction
    }
}

/// A cross-sectional transform by its config name, as training configs and
/// model bundles record it (`crossSection: rank`): applied to every feature
/// column (or to the labels) across the symbols at each timestamp, the same
/// way at training and at inference.
public enum CrossSectionTransform: String, Sendable, Hashable, Codable, CaseIterable {
    /// Values as they are.
    case none
    /// `CrossSection.rank`: ranks mapped to [0, 1].
    case rank
    /// `CrossSection.zscore`: (x − mean) / sd.
    case zscore
    /// `CrossSection.demean`: x − mean.
    case demean

    /// Applies the transform to one timestamp's row, in place.
    public func apply(_ row: inout [Double]) {
        var scratch = CrossSection.RankScratch()
        row.withUnsafeMutableBufferPointer { apply($0, scratch: &scratch) }
    }

    /// Applies the transform to a row of a panel in place, ranking through reusable `scratch`.
    public func apply(_ row: UnsafeMutableBufferPointer<Double>, scratch: inout CrossSection.RankScratch) {
        switch self {
        case .none: break
        case .rank: CrossSection.rank(row, scratch: &scratch)
        case .zscore: CrossSection.zscore(row)
        case .demean: CrossSection.demean(row)
        }
    }
}
