import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization

/// The live endpoint: `/metrics` (Prometheus text), `/health` (live and
/// ready), `/api/status` (JSON), and `/`, a status page with the equity
/// curve and recent orders that refreshes itself.
///
/// With a token, every path but `/health` needs `Authorization: Bearer
/// <token>` (or `?token=<token>`, which the status page passes on to its
/// own requests); without it the answer is 401.
///
/// Operator controls: `POST /api/control/pause|resume|cancel-all|flatten|stop`
/// (see `OperatorAction`). They need the token: without one configured they
/// answer 403. Each is logged with a fingerprint of the token and the time,
/// and listed on the status page.
public struct StatusServer: Sendable {
    /// Bind address and port (0: any free port).
    public var host: String
    /// The port.
    public var port: Int
    /// The bearer token; nil or empty: no authentication.
    public var token: String?
    /// What `/metrics` exposes.
    public let registry: PrometheusCollectorRegistry
    /// What `/api/status` and `/` show.
    public let status: LiveStatusBoard
    /// Where the bound port is published once listening.
    public let boundPort = BoundPort()
    /// Where operator controls go (nil: no control endpoints).
    public let controls: LiveControls?
    /// Where controls are logged.
    public let logger: Logger

    /// Creates a server description; `makeApplication` builds the service.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        token: String? = nil,
        registry: PrometheusCollectorRegistry,
        status: LiveStatusBoard,
        controls: LiveControls? = nil,
        logger: Logger = Logger(label: "crocbot.http")
    ) {
        self.controls = controls
        self.logger = logger
        self.host = host
        self.port = port
        self.token = token
        self.registry = registry
        self.status = status
    }

    /// The routes, for the application and for tests.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        if let token, !token.isEmpty { router.add(middleware: BearerAuthMiddleware(token: token)) }
        let status = self.status
        let registry = self.registry
        router.get("/health") { _, _ -> Response in
            let ready = status.snapshot.ready
            return Self.json(["live": true, "ready": ready], status: .ok)
        }
        router.get("/health/live") { _, _ -> Response in Self.json(["live": true], status: .ok) }
        router.get("/health/ready") { _, _ -> Response in
            let ready = status.snapshot.ready
            return Self.json(["ready": ready], status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        router.get("/api/status") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = (try? encoder.encode(status.snapshot)) ?? Data("{}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        if let controls {
            let token = self.token
            let logger = self.logger
            router.post("/api/control/:action") { _, context -> Response in
                let name = context.parameters.get("action") ?? ""
                guard let action = OperatorAction(rawValue: name) else {
                    let allowed = OperatorAction.allCases.map(\.rawValue).joined(separator: ", ")
                    return Self.error(.notFound, "unknown control '\(name)'; one of: \(allowed)")
                }
                guard let token, !token.isEmpty else {
                    return Self.error(.forbidden, "operator controls need a token: set live.token (or CROCBOT_LIVE__TOKEN)")
                }
                let control = controls.submit(action, by: LiveControls.fingerprint(token: token))
                status.update { s in
                    s.paused = controls.isPaused
                    s.controls = controls.log
                }
                logger.notice("operator control", metadata: ["action": "\(action.rawValue)", "by": "\(control.by)", "at": "\(control.at)"])
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let data = (try? encoder.encode(control)) ?? Data("{}".utf8)
                return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: StatusPage.html)))
        }
        return router
    }

    /// The Hummingbird application (a swift-service-lifecycle `Service`).
    public func makeApplication(logger: Logger) -> some ApplicationProtocol {
        let bound = boundPort
        let host = self.host
        return Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(host, port: port), serverName: "crocbot"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                bound.set(port)
                logger.notice("status page at http://\(host):\(port)/", metadata: ["port": "\(port)"])
            },
            logger: logger
        )
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let escaped = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"\(escaped)\"}"))
        )
    }

    static func json(_ object: [String: Bool], status: HTTPResponse.Status) -> Response {
        let body = "{" + object.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The port a server bound, once it listens.
public final class BoundPort: Sendable {
    private let state = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    /// An unset port.
    public init() {}

    func set(_ port: Int) {
        let waiters = state.withLock { s in
            s.port = port
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume(returning: port) }
    }

    /// The port, waiting until the server listens.
    public func value() async -> Int {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Int? in
                if let p = s.port { return p }
                s.waiters.append(c)
                return nil
            }
            if let now { c.resume(returning: now) }
        }
    }
}

/// Refuses requests without the bearer token (401), except `/health`.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" || request.uri.path.hasPrefix("/health/") { return try await next(request, context) }
        var presented: String?
        if let h = request.headers[.authorization], h.hasPrefix("Bearer ") { presented = String(h.dropFirst(7)) }
        if presented == nil { presented = request.uri.queryParameters.get("token") }
        guard let presented, Self.constantTimeEqual(presented, token) else {
            return Response(
                status: .unauthorized,
                headers: [.wwwAuthenticate: "Bearer realm=\"crocbot\"", .contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"missing or wrong bearer token\"}"))
            )
        }
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = x.count ^ y.count
        for i in 0..<max(x.count, y.count) { diff |= Int((i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)) }
        return diff == 0
    }
}
