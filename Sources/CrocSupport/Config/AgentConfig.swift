/// The refactor agent's settings (`agent:` in the configuration; `crocbot agent run`).
///
/// ```yaml
/// agent:
///   llm:
///     provider: openai           # openai (any chat-completions server: OpenAI, vLLM, Ollama, llama.cpp) or anthropic
///     baseURL: http://127.0.0.1:11434/v1
///     model: qwen2.5-coder
///     apiKeyEnv: OPENAI_API_KEY  # the key is read from this variable, never from the file
///     maxAttempts: 3             # tries per request on 429, 5xx and transport errors (1...10)
///     requestTimeoutSeconds: 120 # per request
///   applyChanges: false
///   confidenceThreshold: 0.7
///   retries: 2
///   validation: ["swift build --build-tests", "swift test --skip-build --filter '{affected_tests}'"]
///   fullSuite: false             # then also the whole suite
///   workspaceCache: ~/.cache/crocbot-agent   # "" for a fresh (cold) workspace per validation
///   isolateNetwork: true         # validation runs offline (unshare -rn) where the machine allows
///   keepEnvironment: []          # variables kept although they look like secrets
///   timeoutSeconds: 900
///   denyList: [".github/", ".ci/", "Package.swift"]
///   maxFiles: 5
///   maxChangedLines: 200
///   decisionLog: output/agent-decisions.jsonl
///   commitToBranch: false
///   repeatThreshold: 3
///   latencyThresholds: {crocbot_tick_to_order_seconds: 0.00005}
/// ```
public struct AgentConfig: Sendable, Equatable, Encodable {
    /// `openai` or `anthropic`.
    public var provider: String
    /// The LLM server's base URL.
    public var baseURL: String
    /// The model.
    public var model: String
    /// The environment variable holding the API key.
    public var apiKeyEnv: String
    /// Tries per LLM request on 429, 5xx and transport errors (1...10).
    public var llmMaxAttempts: Int = 3
    /// Time limit of one LLM request, seconds.
    public var llmRequestTimeoutSeconds: Double = 120
    /// Apply validated patches.
    public var applyChanges: Bool
    /// Minimum confidence for validation and application.
    public var confidenceThreshold: Double
    /// Further attempts after a failed validation.
    public var retries: Int
    /// Validation commands, run in order in the workspace; `{affected_tests}` stands for
    /// the test targets that depend on the changed modules.
    public var validation: [String]
    /// After `validation`, also run the whole test suite.
    public var fullSuite: Bool
    /// Where the persistent (warm) workspace lives; empty: a fresh workspace per validation.
    public var workspaceCache: String
    /// Validate without network where the machine allows it.
    public var isolateNetwork: Bool
    /// Environment variables kept in the validation environment although they look like secrets.
    public var keepEnvironment: [String]
    /// Time limit per validation command, seconds.
    public var timeoutSeconds: Double
    /// Paths patches may not touch.
    public var denyList: [String]
    /// Files per patch at most.
    public var maxFiles: Int
    /// Changed lines per patch at most.
    public var maxChangedLines: Int
    /// The decision log.
    public var decisionLog: String
    /// Commit to a review branch instead of the working tree.
    public var commitToBranch: Bool
    /// Occurrences of one error that make an anomaly.
    public var repeatThreshold: Int
    /// p99 thresholds (seconds) by histogram name.
    public var latencyThresholds: [String: Double]

    /// Build with the tests, then run the test targets that depend on what the patch changed.
    public static let defaultValidation = ["swift build --build-tests", "swift test --skip-build --filter '{affected_tests}'"]

    /// The defaults: a local OpenAI-compatible server (Ollama's port), nothing applied.
    public init(
        provider: String = "openai",
        baseURL: String = "http://127.0.0.1:11434/v1",
        model: String = "qwen2.5-coder",
        apiKeyEnv: String = "OPENAI_API_KEY",
        applyChanges: Bool = false,
        confidenceThreshold: Double = 0.7,
        retries: Int = 2,
        validation: [String] = AgentConfig.defaultValidation,
        fullSuite: Bool = false,
        workspaceCache: String = "~/.cache/crocbot-agent",
        isolateNetwork: Bool = true,
        keepEnvironment: [String] = [],
        timeoutSeconds: Double = 900,
        denyList: [String] = [".github/", ".ci/", "Package.swift"],
        maxFiles: Int = 5,
        maxChangedLines: Int = 200,
        decisionLog: String = "output/agent-decisions.jsonl",
        commitToBranch: Bool = false,
        repeatThreshold: Int = 3,
        latencyThresholds: [String: Double] = [:]
    ) {
        self.provider = provider
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnv = apiKeyEnv
        self.applyChanges = applyChanges
        self.confidenceThreshold = confidenceThreshold
        self.retries = retries
        self.validation = validation
        self.fullSuite = fullSuite
        self.workspaceCache = workspaceCache
        self.isolateNetwork = isolateNetwork
        self.keepEnvironment = keepEnvironment
        self.timeoutSeconds = timeoutSeconds
        self.denyList = denyList
        self.maxFiles = maxFiles
        self.maxChangedLines = maxChangedLines
        self.decisionLog = decisionLog
        self.commitToBranch = commitToBranch
        self.repeatThreshold = repeatThreshold
        self.latencyThresholds = latencyThresholds
    }

    /// Reads and validates the section.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys([
            "llm", "applyChanges", "confidenceThreshold", "retries", "validation", "timeoutSeconds", "denyList", "maxFiles", "maxChangedLines",
            "decisionLog", "commitToBranch", "repeatThreshold", "latencyThresholds", "fullSuite", "workspaceCache", "isolateNetwork",
            "keepEnvironment",
        ])
        let llm = try r.nested("llm")
        try llm.rejectUnknownKeys(["provider", "baseURL", "model", "apiKeyEnv", "maxAttempts", "requestTimeoutSeconds"])
        func strings(_ key: String, _ fallback: [String]) throws(ConfigError) -> [String] {
            guard let v = r.raw(key) else { return fallback }
            guard case .array(let items) = v else {
                throw ConfigError(.typeMismatch, keyPath: r.childPath(key), rule: "must be a list of strings", source: r.source)
            }
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw ConfigError(.typeMismatch, keyPath: r.childPath(key) + "[\(i)]", rule: "must be a string", source: r.source)
                }
                out.append(s)
            }
            return out
        }
        var thresholds: [String: Double] = [:]
        for (k, v) in try r.freeform("latencyThresholds") {
            switch v {
            case .double(let d): thresholds[k] = d
            case .int(let i): thresholds[k] = Double(i)
            case .string(let text) where Double(text)?.isFinite == true: thresholds[k] = Double(text)
            default:
                throw ConfigError(
                    .typeMismatch,
                    keyPath: r.childPath("latencyThresholds.\(k)"),
                    rule: "must be a number of seconds",
                    source: r.source
                )
            }
        }
        self.init(
            provider: try llm.string("provider", default: "openai"),
            baseURL: try llm.string("baseURL", default: "http://127.0.0.1:11434/v1"),
            model: try llm.string("model", default: "qwen2.5-coder"),
            apiKeyEnv: try llm.string("apiKeyEnv", default: "OPENAI_API_KEY"),
            applyChanges: try r.bool("applyChanges", default: false),
            confidenceThreshold: try r.double("confidenceThreshold", default: 0.7),
            retries: try r.int("retries", default: 2),
            validation: try strings("validation", AgentConfig.defaultValidation),
            fullSuite: try r.bool("fullSuite", default: false),
            workspaceCache: try r.string("workspaceCache", default: "~/.cache/crocbot-agent"),
            isolateNetwork: try r.bool("isolateNetwork", default: true),
            keepEnvironment: try strings("keepEnvironment", []),
            timeoutSeconds: try r.double("timeoutSeconds", default: 900),
            denyList: try strings("denyList", [".github/", ".ci/", "Package.swift"]),
            maxFiles: try r.int("maxFiles", default: 5),
            maxChangedLines: try r.int("maxChangedLines", default: 200),
            decisionLog: try r.string("decisionLog", default: "output/agent-decisions.jsonl"),
            commitToBranch: try r.bool("commitToBranch", default: false),
            repeatThreshold: try r.int("repeatThreshold", default: 3),
            latencyThresholds: thresholds
        )
        llmMaxAttempts = try llm.int("maxAttempts", default: 3)
        llmRequestTimeoutSeconds = try llm.double("requestTimeoutSeconds", default: 120)
        func fail(_ key: String, _ rule: String) -> ConfigError {
            ConfigError(.invalidValue, keyPath: r.childPath(key), rule: rule, source: r.source)
        }
        guard ["openai", "anthropic"].contains(provider) else { throw fail("llm.provider", "must be openai or anthropic, found '\(provider)'") }
        guard baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://") else { throw fail("llm.baseURL", "must be an http(s) URL") }
        guard (1...10).contains(llmMaxAttempts) else { throw fail("llm.maxAttempts", "must be in 1...10, found \(llmMaxAttempts)") }
        guard llmRequestTimeoutSeconds > 0, llmRequestTimeoutSeconds.isFinite else {
            throw fail("llm.requestTimeoutSeconds", "must be a positive number of seconds, found \(llmRequestTimeoutSeconds)")
        }
        guard (0...1).contains(confidenceThreshold) else { throw fail("confidenceThreshold", "must be in [0, 1], found \(confidenceThreshold)") }
        guard (0...10).contains(retries) else { throw fail("retries", "must be in 0...10, found \(retries)") }
        guard !validation.isEmpty else { throw fail("validation", "needs at least one command") }
        guard timeoutSeconds > 0 else { throw fail("timeoutSeconds", "must be > 0") }
        guard maxFiles >= 1, maxChangedLines >= 1 else { throw fail("maxFiles", "maxFiles and maxChangedLines must be ≥ 1") }
        guard repeatThreshold >= 1 else { throw fail("repeatThreshold", "must be ≥ 1") }
    }
}
