/// Everything that can go wrong talking to a venue, typed so the executor can
/// decide: retry (transient), query first (the request may have reached the
/// venue), or give up (a rejection is final and never retried).
public enum ExecutionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No answer by the deadline. The venue may or may not have acted on it.
    case timeout(operation: String)
    /// The connection failed. `requestSent` says whether bytes may have left.
    case transport(operation: String, message: String, requestSent: Bool)
    /// The venue answered with a 5xx (or Binance's "send status unknown" codes).
    case server(operation: String, status: Int, code: Int?, message: String)
    /// Too many requests (HTTP 429/418, Binance -1003, or our own weight budget). Not processed by the venue.
    case rateLimited(operation: String, retryAfter: Duration?, message: String)
    /// The venue refused the request; final, never retried.
    case rejected(operation: String, code: Int?, message: String)
    /// The client order id is already in use at the venue: the first attempt got through.
    case duplicateOrder(clientOrderID: String)
    /// The venue does not know the order.
    case orderNotFound(clientOrderID: String)
    /// Bad key, bad signature or insufficient permissions; final.
    case authentication(code: Int?, message: String)
    /// Our clock is outside the venue's `recvWindow`; retried after a time resync.
    case clockSkew(message: String)
    /// The venue's answer could not be understood.
    case invalidResponse(operation: String, message: String)
    /// The request was invalid before it left (unknown symbol, bad quantity).
    case invalidRequest(String)

    /// Whether trying again may succeed.
    public var isTransient: Bool {
        switch self {
        case .timeout, .transport, .server, .rateLimited, .clockSkew: return true
        case .rejected, .duplicateOrder, .orderNotFound, .authentication, .invalidResponse, .invalidRequest: return false
        }
    }

    /// Whether the venue may have acted on the request even though it failed
    /// (so the order must be looked up by client order id before a resend).
    public var mayHaveReachedVenue: Bool {
        switch self {
        case .timeout, .server, .invalidResponse: return true
        case .transport(_, _, let sent): return sent
        case .rateLimited, .rejected, .duplicateOrder, .orderNotFound, .authentication, .clockSkew, .invalidRequest: return false
        }
    }

    /// How long the venue asked us to wait, if it did.
    public var retryAfter: Duration? {
        if case .rateLimited(_, let d, _) = self { return d }
        return nil
    }

    /// A short machine-friendly name for metrics and logs.
    public var kind: String {
        switch self {
        case .timeout: return "timeout"
        case .transport: return "transport"
        case .server: return "server"
        case .rateLimited: return "rate_limited"
        case .rejected: return "rejected"
        case .duplicateOrder: return "duplicate_order"
        case .orderNotFound: return "order_not_found"
        case .authentication: return "authentication"
        case .clockSkew: return "clock_skew"
        case .invalidResponse: return "invalid_response"
        case .invalidRequest: return "invalid_request"
        }
    }

    /// A message for people.
    public var description: String {
        switch self {
        case .timeout(let op): return "\(op): timed out"
        case .transport(let op, let m, let sent):
            return "\(op): connection failed (\(sent ? "request may have been sent" : "request not sent")): \(m)"
        case .server(let op, let status, let code, let m): return "\(op): venue error HTTP \(status)\(code.map { " code \($0)" } ?? ""): \(m)"
        case .rateLimited(let op, let after, let m):
            return "\(op): rate limited\(after.map { ", retry after \($0)" } ?? ""): \(m)"
        case .rejected(let op, let code, let m): return "\(op): rejected\(code.map { " (code \($0))" } ?? ""): \(m)"
        case .duplicateOrder(let id): return "duplicate client order id \(id)"
        case .orderNotFound(let id): return "order \(id) not found at the venue"
        case .authentication(let code, let m): return "authentication failed\(code.map { " (code \($0))" } ?? ""): \(m)"
        case .clockSkew(let m): return "clock outside the venue's receive window: \(m)"
        case .invalidResponse(let op, let m): return "\(op): unreadable venue response: \(m)"
        case .invalidRequest(let m): return "invalid request: \(m)"
        }
    }
}
