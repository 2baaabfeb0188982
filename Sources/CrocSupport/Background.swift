import Foundation

/// A value computed on another thread while the caller goes on with other work: the backtest
/// commands compute what does not depend on the engine (the report's configuration text, the
/// equal-weight benchmark) on the core the single-threaded engine leaves idle. `value` waits
/// for it once and keeps it.
public final class Background<T: Sendable>: @unchecked Sendable {
    // `result` is written once, before `done.leave()`, and read only after `done.wait()`: the
    // group orders the two, so no lock is needed.
    private let done = DispatchGroup()
    private var result: T?

    /// Starts `body` on a global queue.
    public init(_ body: @escaping @Sendable () -> T) {
        done.enter()
        DispatchQueue.global().async { [self] in
            result = body()
            done.leave()
        }
    }

    /// The computed value: waits until `body` has returned.
    public var value: T {
        done.wait()
        return result!
    }
}
