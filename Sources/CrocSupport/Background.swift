import Foundation
import Synchronization

/// A value computed on another thread while the caller goes on with other work: the backtest
/// commands compute what does not depend on the engine (the report's configuration text, the
/// equal-weight benchmark) on the core the single-threaded engine leaves idle, read the model
/// bundle while the data loads, and write the universe cache's entries. `value` waits for it
/// once and keeps it.
///
/// The body runs once, on whichever thread claims it first: a worker of the global queue, or
/// the caller of `value` when no worker has started it yet. The caller therefore never waits
/// for a worker that has not been given a thread — on a machine where the process may use one
/// core (a container pinned to one CPU, `taskset -c 0`), libdispatch's pool has one worker,
/// the caller is that worker, and waiting for the queued body stalled until libdispatch's
/// monitor added a thread, about a second later.
public final class Background<T: Sendable>: @unchecked Sendable {
    /// 0 until the body is claimed, 1 after (by the worker or by `value`).
    private let claim = Atomic<Int>(0)
    private let body: @Sendable () -> T
    // `result` is written by the worker before `done.leave()` and read only after `done.wait()`:
    // the group orders the two. `cached` is the caller's own (`value` is read from one thread).
    private let done = DispatchGroup()
    private var result: T?
    private var cached: T?

    /// Starts `body` on a global queue.
    public convenience init(_ body: @escaping @Sendable () -> T) {
        self.init(start: { DispatchQueue.global().async(execute: $0) }, body)
    }

    /// Hands the worker's job to `start` (a queue's `async`; tests pass one that runs it late or
    /// never, as a starved pool would).
    init(start: (@escaping @Sendable () -> Void) -> Void, _ body: @escaping @Sendable () -> T) {
        self.body = body
        done.enter()
        start { [self] in
            if claim.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged { result = body() }
            done.leave()
        }
    }

    /// Whether a thread has claimed the body (it is running or has returned).
    var isClaimed: Bool { claim.load(ordering: .acquiring) == 1 }

    /// The computed value: computed here when no worker has started it, else waited for.
    /// Read from one thread.
    public var value: T {
        if let cached { return cached }
        let v: T
        if claim.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
            v = body()
        } else {
            done.wait()
            v = result!
        }
        cached = v
        return v
    }
}
