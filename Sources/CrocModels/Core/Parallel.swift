import Dispatch

/// A pointer handed to parallel workers.
///
/// @unchecked Sendable: callers guarantee each worker reads shared inputs
/// only and writes only its own disjoint slots, and that the memory outlives
/// the `concurrentPerform` call that uses it.
struct SharedPointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// Runs `body(chunk)` for `count` chunks on up to that many threads and waits.
@inline(__always)
func parallelChunks(_ count: Int, _ body: @Sendable (Int) -> Void) {
    if count <= 1 {
        body(0)
    } else {
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}
