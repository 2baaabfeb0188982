import CrocCore
import Crypto
import Foundation
import Synchronization

/// What an operator can tell a running bot (`POST /api/control/<action>`,
/// `crocbot live control <action>`), as freqtrade's REST API does.
public enum OperatorAction: String, Sendable, Hashable, CaseIterable, Codable {
    /// Refuse new entries (orders that would increase a position); exits still go.
    case pause
    /// Take new entries again.
    case resume
    /// Cancel every working order.
    case cancelAll = "cancel-all"
    /// Cancel every working order and close the position at the market.
    case flatten
    /// Shut down gracefully (as SIGTERM).
    case stop
}

/// One operator control, as logged and shown on the status page.
public struct OperatorControl: Sendable, Hashable, Codable {
    /// What was asked.
    public var action: OperatorAction
    /// When (ISO 8601, wall clock).
    public var at: String
    /// Who: a fingerprint of the bearer token presented (never the token).
    public var by: String
}

/// The operator's channel into a running live loop: the status server
/// writes controls here, the loop applies them on its own task (between
/// market events, never during one), and the runtime shuts down on `stop`.
public final class LiveControls: Sendable {
    private struct State {
        var paused = false
        var log: [OperatorControl] = []
        var pending: [OperatorAction] = []
        var waiter: CheckedContinuation<OperatorAction?, Never>?
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var stopped = false
        var released = false
        var closed = false
    }

    private let state = Mutex(State())

    /// A channel with nothing asked.
    public init() {}

    /// Whether new entries are refused.
    public var isPaused: Bool { state.withLock { $0.paused } }

    /// Every control so far, oldest first (the last 100).
    public var log: [OperatorControl] { state.withLock { $0.log } }

    /// Records and forwards a control.
    /// - Parameter by: Who asked (a token fingerprint, see `fingerprint(token:)`).
    @discardableResult
    public func submit(_ action: OperatorAction, by: String) -> OperatorControl {
        let control = OperatorControl(action: action, at: Date().formatted(.iso8601), by: by)
        let (waiter, stops) = state.withLock { s -> (CheckedContinuation<OperatorAction?, Never>?, [CheckedContinuation<Void, Never>]) in
            s.log.append(control)
            if s.log.count > 100 { s.log.removeFirst(s.log.count - 100) }
            switch action {
            case .pause: s.paused = true
            case .resume: s.paused = false
            case .stop: s.stopped = true
            case .cancelAll, .flatten: break
            }
            var stops: [CheckedContinuation<Void, Never>] = []
            if action == .stop {
                stops = s.stopWaiters
                s.stopWaiters.removeAll()
            }
            guard action == .cancelAll || action == .flatten else { return (nil, stops) }
            if let w = s.waiter {
                s.waiter = nil
                return (w, stops)
            }
            s.pending.append(action)
            return (nil, stops)
        }
        waiter?.resume(returning: action)
        for w in stops { w.resume() }
        return control
    }

    /// The next order-changing control (`cancel-all`, `flatten`) for the
    /// loop, waiting for one; nil once `close()` was called.
    func next() async -> OperatorAction? {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> (ready: Bool, value: OperatorAction?) in
                if !s.pending.isEmpty { return (true, s.pending.removeFirst()) }
                if s.closed { return (true, nil) }
                s.waiter = c
                return (false, nil)
            }
            if now.ready { c.resume(returning: now.value) }
        }
    }

    /// Ends `next()` (the loop is done).
    func close() {
        let w = state.withLock { s -> CheckedContinuation<OperatorAction?, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume(returning: nil)
    }

    /// Waits until an operator asks to stop (true), or `releaseStopWaiters()` is called (false).
    public func stopRequested() async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.stopped || s.released { return true }
                s.stopWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
        return state.withLock { $0.stopped }
    }

    /// Wakes whoever waits in `stopRequested()` without a stop (the runtime has ended).
    public func releaseStopWaiters() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.released = true
            defer { s.stopWaiters.removeAll() }
            return s.stopWaiters
        }
        for w in waiters { w.resume() }
    }

    /// `token sha256:0123abcd`: names the credential in logs without revealing it.
    public static func fingerprint(token: String?) -> String {
        guard let token, !token.isEmpty else { return "local (no token)" }
        let digest = SHA256.hash(data: Data(token.utf8))
        return "token sha256:" + digest.prefix(4).map { String(format: "%02x", $0) }.joined()
    }
}
