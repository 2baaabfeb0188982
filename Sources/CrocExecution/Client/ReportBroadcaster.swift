import Synchronization

/// Fans execution reports out to every open `executionReports()` stream.
typealias ReportBroadcaster = EventBroadcaster<ExecutionReport>

/// Fans events out to every open stream.
/// Thread-safe, so subscribing can be nonisolated and synchronous.
final class EventBroadcaster<Element: Sendable>: Sendable {
    private struct State {
        var continuations: [Int: AsyncStream<Element>.Continuation] = [:]
        var nextKey = 0
    }

    private let state = Mutex(State())

    /// A new stream that receives every report sent from now on.
    func stream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream<Element>.makeStream(bufferingPolicy: .bufferingNewest(65_536))
        let key = state.withLock { s in
            let k = s.nextKey
            s.nextKey += 1
            s.continuations[k] = continuation
            return k
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.continuations.removeValue(forKey: key) }
        }
        return stream
    }

    /// Sends an event to every subscriber.
    func send(_ report: Element) {
        let targets = state.withLock { Array($0.continuations.values) }
        for c in targets { c.yield(report) }
    }

    /// Ends every stream.
    func finish() {
        let targets = state.withLock { s in
            let t = Array(s.continuations.values)
            s.continuations.removeAll()
            return t
        }
        for c in targets { c.finish() }
    }
}
