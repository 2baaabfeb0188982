extension Collection {
    /// The first `k` elements of `sorted(by: better)` without sorting them all: a sorted run of
    /// at most `k` that an element enters only when it beats the run's last (O(n log k) — a
    /// rebalance wants a handful of hundreds of candidates).
    /// - Precondition: `better` is a strict total order on the elements (ties broken), so the
    ///   result is the same elements in the same order as the full sort's prefix.
    func first(_ k: Int, sortedBy better: (Element, Element) -> Bool) -> [Element] {
        var kept: [Element] = []
        guard k > 0 else { return kept }
        kept.reserveCapacity(k + 1)
        for x in self {
            if kept.count == k, let last = kept.last, !better(x, last) { continue }
            var lo = 0
            var hi = kept.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if better(kept[mid], x) { lo = mid + 1 } else { hi = mid }
            }
            kept.insert(x, at: lo)
            if kept.count > k { kept.removeLast() }
        }
        return kept
    }
}
