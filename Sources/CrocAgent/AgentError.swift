import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A typed error of the refactor agent, naming the step that failed.
public struct AgentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step.
    public enum Step: String, Sendable, Equatable {
        /// Reading logs or metrics.
        case monitor
        /// Reading source code.
        case inspect
        /// Talking to the LLM.
        case llm
        /// Reading the LLM's reply.
        case proposal
        /// The isolated workspace.
        case workspace
        /// Applying a patch to the repository.
        case apply
        /// Configuration.
        case config
    }

    /// The step.
    public var step: Step
    /// A message for people.
    public var detail: String

    /// Creates an error.
    public init(_ step: Step, _ detail: String) {
        self.step = step
        self.detail = detail
    }

    /// `llm: HTTP 500 from http://...`.
    public var description: String { "\(step.rawValue): \(detail)" }
}

/// Small HTTP helpers over AsyncHTTPClient.
enum HTTP {
    /// A process-wide client that fails at once when a connection is refused
    /// (AsyncHTTPClient's default keeps retrying until the request's deadline):
    /// the agent's own retry policy decides what to do.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// GETs `url` as text.
    static func get(_ url: String, timeout: TimeAmount = .seconds(10)) async throws(AgentError) -> String {
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: timeout)
            let body = try await response.body.collect(upTo: 32 << 20)
            guard response.status == .ok else { throw AgentError(.monitor, "GET \(url): HTTP \(response.status.code)") }
            return String(buffer: body)
        } catch let e as AgentError {
            throw e
        } catch {
            throw AgentError(.monitor, "GET \(url): \(error)")
        }
    }
}
