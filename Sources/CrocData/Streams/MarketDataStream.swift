import CrocCore
import Foundation

/// Live market data: an asynchronous sequence of events (push model).
/// `TradingEngine` consumes the same events from a stream as from a
/// historical `MarketDataSource`.
public protocol MarketDataStream: AsyncSequence, Sendable where Element == MarketEvent {}

/// Why an `InMemoryStream` refused an event.
public enum StreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream was finished; no more events are accepted.
    case finished
    /// The sending task was cancelled while waiting for space.
    case cancelled

    /// A message for people.
    public var description: String {
        switch self {
        case .finished: return "stream finished: no more events accepted"
        case .cancelled: return "send cancelled while waiting for buffer space"
        }
    }
}

/// A stream fed by producers through a bounded buffer (the blueprint's
/// `InMemoryStream(queue)`).
///
/// Backpressure is explicit: `send` suspends while the buffer holds
/// `capacity` events and resumes when a consumer takes one; `trySend`
/// returns false instead of waiting. `finish()` lets consumers drain what is
/// buffered and then end. Events are delivered in the order sent.
public final class InMemoryStream: MarketDataStream, @unchecked Sendable {
    // @unchecked: every mutable property is touched only while `lock` is held;
    // continuations are resumed after the lock is released.
    /// The element type.
    public typealias Element = MarketEvent

    /// Events buffered at most.
    public let capacity: Int
    private let lock = NSLock()
    private var buffer: [MarketEvent?]
    private var head = 0
    private var count = 0
    private var finished = false
    private var consumers: [(id: UInt64, continuation: CheckedContinuation<MarketEvent?, Never>)] = []
    private var producers: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0

    /// Creates a stream buffering at most `capacity` events (at least 1).
    public init(capacity: Int = 1024) {
        self.capacity = Swift.max(1, capacity)
        buffer = [MarketEvent?](repeating: nil, count: self.capacity)
    }

    /// Events currently buffered.
    public var bufferedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    /// Runs `body` with the lock held (a synchronous helper, usable from async code).
    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private func push(_ e: MarketEvent) {
        buffer[(head + count) % capacity] = e
        count += 1
    }

    private func pop() -> MarketEvent {
        let e = buffer[head]!
        buffer[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return e
    }

    /// Delivers to a waiting consumer or buffers; false when full or finished.
    private func offer(_ e: MarketEvent) -> (accepted: Bool, wake: CheckedContinuation<MarketEvent?, Never>?) {
        if finished { return (false, nil) }
        if !consumers.isEmpty {
            return (true, consumers.removeFirst().continuation)
        }
        if count < capacity {
            push(e)
            return (true, nil)
        }
        return (false, nil)
    }

    /// Adds an event without waiting.
    /// - Returns: false when the buffer is full or the stream is finished.
    @discardableResult
    public func trySend(_ event: MarketEvent) -> Bool {
        lock.lock()
        let (ok, wake) = offer(event)
        lock.unlock()
        wake?.resume(returning: event)
        return ok
    }

    /// Adds an event, suspending while the buffer is full.
    /// - Throws: `StreamError.finished` after `finish()`, `.cancelled` if the
    ///   task is cancelled while waiting.
    public func send(_ event: MarketEvent) async throws(StreamError) {
        while true {
            let (ok, wake, isFinished) = locked { () -> (Bool, CheckedContinuation<MarketEvent?, Never>?, Bool) in
                let (ok, wake) = offer(event)
                return (ok, wake, finished)
            }
            if ok {
                wake?.resume(returning: event)
                return
            }
            if isFinished { throw .finished }
            do {
                try await waitForSpace()
            } catch let e as StreamError {
                throw e
            } catch {
                throw .cancelled
            }
        }
    }

    private func makeID() -> UInt64 {
        locked {
            nextID += 1
            return nextID
        }
    }

    private func waitForSpace() async throws {
        let id = makeID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                lock.lock()
                if finished {
                    lock.unlock()
                    c.resume(throwing: StreamError.finished)
                } else if count < capacity || !consumers.isEmpty {
                    lock.unlock()
                    c.resume()
                } else if Task.isCancelled {
                    lock.unlock()
                    c.resume(throwing: StreamError.cancelled)
                } else {
                    producers.append((id, c))
                    lock.unlock()
                }
            }
        } onCancel: {
            lock.lock()
            let i = producers.firstIndex { $0.id == id }
            let c = i.map { producers.remove(at: $0).continuation }
            lock.unlock()
            c?.resume(throwing: StreamError.cancelled)
        }
    }

    /// Ends the stream: consumers receive what is buffered, then nil; waiting
    /// and later senders get `StreamError.finished`.
    public func finish() {
        lock.lock()
        finished = true
        let waitingConsumers = count == 0 ? consumers.map(\.continuation) : []
        if count == 0 { consumers.removeAll() }
        let waitingProducers = producers.map(\.continuation)
        producers.removeAll()
        lock.unlock()
        for c in waitingConsumers { c.resume(returning: nil) }
        for p in waitingProducers { p.resume(throwing: StreamError.finished) }
    }

    /// Takes the next event, suspending while none is buffered; nil once
    /// finished and drained, or when the consuming task is cancelled.
    public func next() async -> MarketEvent? {
        let immediate = locked { () -> (event: MarketEvent?, producer: CheckedContinuation<Void, any Error>?, done: Bool) in
            if count > 0 {
                let e = pop()
                return (e, producers.isEmpty ? nil : producers.removeFirst().continuation, false)
            }
            return (nil, nil, finished)
        }
        if let e = immediate.event {
            immediate.producer?.resume()
            return e
        }
        if immediate.done { return nil }
        let id = makeID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<MarketEvent?, Never>) in
                lock.lock()
                if count > 0 {
                    let e = pop()
                    let producer = producers.isEmpty ? nil : producers.removeFirst().continuation
                    lock.unlock()
                    producer?.resume()
                    c.resume(returning: e)
                } else if finished || Task.isCancelled {
                    lock.unlock()
                    c.resume(returning: nil)
                } else {
                    consumers.append((id, c))
                    lock.unlock()
                }
            }
        } onCancel: {
            lock.lock()
            let i = consumers.firstIndex { $0.id == id }
            let c = i.map { consumers.remove(at: $0).continuation }
            lock.unlock()
            c?.resume(returning: nil)
        }
    }

    /// Iterates the stream (one consumer at a time is the usual pattern;
    /// several consumers share the events, each event going to one of them).
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: InMemoryStream
        /// The next event, or nil at the end.
        public mutating func next() async -> MarketEvent? { await stream.next() }
    }

    /// An iterator over the events.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
