import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One chat message.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// `system`, `user` or `assistant`.
    public var role: String
    /// The text.
    public var content: String

    /// Creates a message.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// What an LLM answered, with its token usage.
public struct LLMReply: Sendable, Hashable {
    /// The text of the answer.
    public var text: String
    /// Prompt tokens (0 when the server does not say).
    public var promptTokens: Int
    /// Completion tokens.
    public var completionTokens: Int
    /// The model that answered.
    public var model: String
}

/// A chat model behind an API.
public protocol LLMClient: Sendable {
    /// A name for logs (`openai-compatible gpt-4o-mini at http://...`), never the key.
    var name: String { get }
    /// Sends the conversation; returns the answer.
    /// - Throws: `AgentError(.llm)` after retries.
    func complete(_ messages: [ChatMessage]) async throws(AgentError) -> LLMReply
}

/// Settings shared by the HTTP clients.
public struct LLMSettings: Sendable, Hashable {
    /// The server, e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama), a vLLM or llama.cpp server.
    public var baseURL: String
    /// The model name.
    public var model: String
    /// The API key (nil for local servers); never logged.
    public var apiKey: String?
    /// Per-request timeout.
    public var timeout: Duration
    /// Attempts on 429, 5xx and transport errors.
    public var maxAttempts: Int
    /// First retry delay (doubled per attempt; Retry-After wins).
    public var retryDelay: Duration
    /// Sampling temperature.
    public var temperature: Double
    /// Answer length limit.
    public var maxTokens: Int

    /// Creates settings.
    public init(
        baseURL: String,
        model: String,
        apiKey: String? = nil,
        timeout: Duration = .seconds(120),
        maxAttempts: Int = 3,
        retryDelay: Duration = .seconds(1),
        temperature: Double = 0,
        maxTokens: Int = 4096
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.retryDelay = retryDelay
        self.temperature = temperature
        self.maxTokens = maxTokens
    }
}

/// The OpenAI chat-completions protocol (`POST {base}/chat/completions`):
/// OpenAI, vLLM, Ollama and llama.cpp servers speak it.
public struct OpenAICompatibleClient: LLMClient {
    /// The settings.
    public let settings: LLMSettings
    private let http: HTTPClient
    private let logger: Logger

    /// Creates a client.
    /// - Parameter httpClient: nil: a client that fails at once on refused connections.
    public init(settings: LLMSettings, httpClient: HTTPClient? = nil, logger: Logger = Logger(label: "crocbot.agent.llm")) {
        self.settings = settings
        self.http = httpClient ?? HTTP.client
        self.logger = logger
    }

    /// `openai-compatible <model> at <base URL>`.
    public var name: String { "openai-compatible \(settings.model) at \(settings.baseURL)" }

    /// Sends the conversation.
    public func complete(_ messages: [ChatMessage]) async throws(AgentError) -> LLMReply {
        struct Body: Encodable {
            let model: String
            let messages: [ChatMessage]
            let temperature: Double
            let max_tokens: Int
        }
        let body = Body(model: settings.model, messages: messages, temperature: settings.temperature, max_tokens: settings.maxTokens)
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        if let key = settings.apiKey, !key.isEmpty { headers.append(("Authorization", "Bearer \(key)")) }
        let data = try await LLMHTTP.post(
            url: settings.baseURL + "/chat/completions",
            headers: headers,
            json: body,
            settings: settings,
            http: http,
            logger: logger
        )
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let choices = object["choices"] as? [[String: Any]], let message = choices.first?["message"] as? [String: Any],
            let text = message["content"] as? String
        else { throw AgentError(.llm, "\(name): the answer has no choices[0].message.content") }
        let usage = object["usage"] as? [String: Any]
        return LLMReply(
            text: text,
            promptTokens: (usage?["prompt_tokens"] as? NSNumber)?.intValue ?? 0,
            completionTokens: (usage?["completion_tokens"] as? NSNumber)?.intValue ?? 0,
            model: object["model"] as? String ?? settings.model
        )
    }
}

/// The Anthropic Messages API (`POST {base}/messages`, `x-api-key`, `anthropic-version`).
public struct AnthropicClient: LLMClient {
    /// The settings (`baseURL` e.g. `https://api.anthropic.com/v1`).
    public let settings: LLMSettings
    private let http: HTTPClient
    private let logger: Logger

    /// Creates a client.
    /// - Parameter httpClient: nil: a client that fails at once on refused connections.
    public init(settings: LLMSettings, httpClient: HTTPClient? = nil, logger: Logger = Logger(label: "crocbot.agent.llm")) {
        self.settings = settings
        self.http = httpClient ?? HTTP.client
        self.logger = logger
    }

    /// `anthropic <model> at <base URL>`.
    public var name: String { "anthropic \(settings.model) at \(settings.baseURL)" }

    /// Sends the conversation (system messages become the `system` field).
    public func complete(_ messages: [ChatMessage]) async throws(AgentError) -> LLMReply {
        struct Body: Encodable {
            let model: String
            let system: String?
            let messages: [ChatMessage]
            let temperature: Double
            let max_tokens: Int
        }
        let system = messages.filter { $0.role == "system" }.map(\.content).joined(separator: "\n\n")
        let body = Body(
            model: settings.model,
            system: system.isEmpty ? nil : system,
            messages: messages.filter { $0.role != "system" },
            temperature: settings.temperature,
            max_tokens: settings.maxTokens
        )
        var headers: [(String, String)] = [("Content-Type", "application/json"), ("anthropic-version", "2023-06-01")]
        if let key = settings.apiKey, !key.isEmpty { headers.append(("x-api-key", key)) }
        let data = try await LLMHTTP.post(
            url: settings.baseURL + "/messages",
            headers: headers,
            json: body,
            settings: settings,
            http: http,
            logger: logger
        )
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let content = object["content"] as? [[String: Any]]
        else { throw AgentError(.llm, "\(name): the answer has no content blocks") }
        let text = content.compactMap { $0["type"] as? String == "text" ? $0["text"] as? String : nil }.joined()
        let usage = object["usage"] as? [String: Any]
        return LLMReply(
            text: text,
            promptTokens: (usage?["input_tokens"] as? NSNumber)?.intValue ?? 0,
            completionTokens: (usage?["output_tokens"] as? NSNumber)?.intValue ?? 0,
            model: object["model"] as? String ?? settings.model
        )
    }
}

/// POST with retries on 429, 5xx and transport errors; the key stays in the headers, never in logs.
enum LLMHTTP {
    static func post<Body: Encodable>(
        url: String,
        headers: [(String, String)],
        json body: Body,
        settings: LLMSettings,
        http: HTTPClient,
        logger: Logger
    ) async throws(AgentError) -> Data {
        let payload: Data
        do { payload = try JSONEncoder().encode(body) } catch { throw AgentError(.llm, "cannot encode the request: \(error)") }
        var attempt = 0
        var lastError = ""
        while attempt < settings.maxAttempts {
            attempt += 1
            var wait = settings.retryDelay * (1 << (attempt - 1))
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                for (k, v) in headers { request.headers.add(name: k, value: v) }
                request.body = .bytes(ByteBuffer(bytes: payload))
                let seconds = Int64(settings.timeout.components.seconds)
                let response = try await http.execute(request, timeout: .seconds(max(1, seconds)))
                let bytes = try await response.body.collect(upTo: 16 << 20)
                let code = Int(response.status.code)
                if code == 200 { return Data(bytes.readableBytesView) }
                lastError = "HTTP \(code): \(String(buffer: bytes).prefix(300))"
                guard code == 429 || code >= 500 else { throw AgentError(.llm, "\(url): \(lastError)") }
                if let retryAfter = response.headers.first(name: "retry-after").flatMap(Int.init) { wait = .seconds(retryAfter) }
            } catch let e as AgentError {
                throw e
            } catch {
                lastError = "\(error)"
            }
            logger.warning("llm request failed", metadata: ["url": "\(url)", "attempt": "\(attempt)", "error": "\(lastError)"])
            if attempt < settings.maxAttempts { try? await Task.sleep(for: wait) }
        }
        throw AgentError(.llm, "\(url): gave up after \(settings.maxAttempts) attempts: \(lastError)")
    }
}
