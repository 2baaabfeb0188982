import ArgumentParser
import CrocAgent
import CrocSupport
import Foundation
import Logging

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "The AI code refactor agent: watch logs and metrics, propose fixes, validate them, apply only when allowed.",
        subcommands: [
            AgentRunCommand.self, AgentReviewCommand.self, AgentPrepareCommand.self, AgentLocaliseCommand.self, AgentBenchCommand.self,
            AgentValidateCommand.self,
        ]
    )
}

struct AgentRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Monitor → analyse → propose → validate → apply, logging every decision.",
        discussion: """
            Tails CrocBot's JSON logs and reads a metrics snapshot (a file or a /metrics URL),
            detects anomalies (repeated errors, error-rate and latency spikes, rising failure
            counters), gathers the code around them, asks an LLM (the agent: section: any
            OpenAI-compatible server, or Anthropic) for a unified diff with a rationale and a
            confidence, validates it in a throwaway workspace (swift build, swift test by
            default), and applies it only with --apply, a passing validation and enough
            confidence. Patches that leave the repository, touch .git or the deny-list are
            refused before validation. Every step goes to the decision log (crocbot agent review).

            Examples:
              crocbot agent run --logs Examples/agent/crocbot.jsonl --metrics Examples/agent/metrics.prom --once
              crocbot agent run --logs output/live.jsonl --metrics http://127.0.0.1:8080/metrics --repo . --apply
              OPENAI_API_KEY=... crocbot agent run --config agent.yaml --logs app.jsonl --once
            """
    )

    @Option(name: .long, help: "YAML or JSON configuration file (agent: section).")
    var config: String?

    @Option(name: .long, help: "JSON-lines log file to tail.")
    var logs: String?

    @Option(name: .long, help: "Metrics: a Prometheus text file or a /metrics URL.")
    var metrics: String?

    @Option(name: .long, help: "The repository the agent may patch (default: the current directory).")
    var repo: String = "."

    @Flag(name: .long, help: "Apply validated patches (default: validate and log only).")
    var apply = false

    @Flag(name: .long, help: "One pass, then exit.")
    var once = false

    @Option(name: .long, help: "Seconds between passes.")
    var interval: Double = 30

    @Option(name: .long, help: "Decision log path (default from the config: output/agent-decisions.jsonl).")
    var decisionLog: String?

    @Flag(name: .long, help: "After the affected test targets, also run the whole test suite.")
    var fullSuite = false

    func run() async throws {
        guard logs != nil || metrics != nil else { throw ValidationError("give --logs, --metrics or both") }
        let cfg = try AgentConfig.loadApp(config)
        CrocLogging.bootstrap(format: cfg.logging.format, level: cfg.logging.level)
        let configuration = makeConfiguration(cfg.agent)
        let a = cfg.agent
        let key = ProcessInfo.processInfo.environment[a.apiKeyEnv]
        let settings = LLMSettings(
            baseURL: a.baseURL,
            model: a.model,
            apiKey: key,
            timeout: .milliseconds(Int64((a.llmRequestTimeoutSeconds * 1000).rounded())),
            maxAttempts: a.llmMaxAttempts
        )
        let llm: any LLMClient = a.provider == "anthropic" ? AnthropicClient(settings: settings) : OpenAICompatibleClient(settings: settings)
        let agent = AICodeRefactorAgent(configuration: configuration, llm: llm, logger: Logger(label: "crocbot.agent"))
        if once {
            let decisions = await agent.runOnce()
            print("\(decisions.count) anomal\(decisions.count == 1 ? "y" : "ies"); decision log: \(configuration.decisionLog)")
            for (anomaly, outcome) in decisions { print("  \(anomaly.fingerprint.hash)  \(outcome.rawValue)  \(anomaly.summary)") }
        } else {
            // Warm the persistent workspace first, so the first anomaly is validated as fast as the rest.
            if let warm = await agent.prepare() {
                let seconds = warm.reduce(0) { $0 + $1.seconds }
                print("workspace ready in \(String(format: "%.0f", seconds)) s (\(warm.allSatisfy(\.passed) ? "builds" : "does not build yet"))")
            }
            await agent.run(every: .milliseconds(Int64(interval * 1000)))
        }
    }

    /// The agent's settings: the config's `agent:` section, with the flags on top.
    private func makeConfiguration(_ a: AgentConfig) -> AgentConfiguration {
        let repository = URL(fileURLWithPath: repo).standardizedFileURL
        var configuration = AgentConfiguration(
            repository: repository,
            logs: logs,
            metrics: metrics,
            decisionLog: decisionLog ?? a.decisionLog,
            applyChanges: apply || a.applyChanges,
            commitToBranch: a.commitToBranch,
            confidenceThreshold: a.confidenceThreshold,
            retries: a.retries,
            validation: a.validationCommands(fullSuite: fullSuite),
            workspace: a.workspaceSettings,
            policy: PatchPolicy(repository: repository, denyList: a.denyList, maxFiles: a.maxFiles, maxChangedLines: a.maxChangedLines)
        )
        configuration.detector.repeatThreshold = a.repeatThreshold
        configuration.detector.latencyThresholds = a.latencyThresholds
        return configuration
    }
}

struct AgentReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Print the agent's decision log as a table.",
        discussion: """
            Examples:
              crocbot agent review
              crocbot agent review --log output/agent-decisions.jsonl --fingerprint 3f2a
            """
    )

    @Option(name: .long, help: "Decision log (default output/agent-decisions.jsonl).")
    var log: String = "output/agent-decisions.jsonl"

    @Option(name: .long, help: "Only entries whose fingerprint starts with this.")
    var fingerprint: String?

    func run() throws {
        guard FileManager.default.fileExists(atPath: log) else {
            FileHandle.standardError.write(Data("error: no decision log at \(log)\n".utf8))
            throw ExitCode(1)
        }
        var entries = DecisionLog(path: log).entries()
        if let fingerprint { entries = entries.filter { $0.fingerprint.hasPrefix(fingerprint) } }
        print(DecisionLog.table(entries))
    }
}

struct AgentPrepareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Create or refresh the agent's persistent workspace and build it, so validations start warm.",
        discussion: """
            The workspace is a git worktree of the repository under the cache folder (agent.workspaceCache,
            default ~/.cache/crocbot-agent). Its first build is cold (as long as a fresh clone's); later
            validations reset it to HEAD and rebuild only what a patch changes.

            Example:
              crocbot agent prepare --repo .
            """
    )

    @Option(name: .long, help: "YAML or JSON configuration file (agent: section).")
    var config: String?

    @Option(name: .long, help: "The repository (default: the current directory).")
    var repo: String = "."

    func run() async throws {
        let cfg = try AgentConfig.loadApp(config)
        let a = cfg.agent
        let repository = URL(fileURLWithPath: repo).standardizedFileURL
        let configuration = AgentConfiguration(
            repository: repository,
            validation: a.validationCommands(fullSuite: false),
            workspace: a.workspaceSettings
        )
        let agent = AICodeRefactorAgent(
            configuration: configuration,
            llm: OpenAICompatibleClient(settings: LLMSettings(baseURL: a.baseURL, model: a.model)),
            logger: Logger(label: "crocbot.agent")
        )
        guard let results = await agent.prepare() else {
            FileHandle.standardError.write(
                Data("error: no persistent workspace (agent.workspaceCache is empty, or \(repo) is not a git repository)\n".utf8)
            )
            throw ExitCode(1)
        }
        for r in results { print("\(r.passed ? "ok" : "FAILED")  \(String(format: "%6.1f", r.seconds)) s  \(r.command)") }
        if !results.allSatisfy(\.passed) {
            if let last = results.last { FileHandle.standardError.write(Data(last.output.suffix(3000).utf8)) }
            throw ExitCode(1)
        }
    }
}

extension AgentConfig {
    /// The whole configuration file (or the defaults) for an agent subcommand, reported the one
    /// way (`Wiring.reportingErrors`: `error: …` on stderr, exit status 1) when it is invalid.
    static func loadApp(_ path: String?) throws -> AppConfig {
        try Wiring.reportingErrors { try AppConfig.load(path: path, environment: ProcessInfo.processInfo.environment) }
    }

    /// The validation tiers: the configured commands, then the whole suite when asked (here or by `--full-suite`).
    func validationCommands(fullSuite extra: Bool) -> [ValidationCommand] {
        validation.map { ValidationCommand($0, timeoutSeconds: timeoutSeconds) }
            + (fullSuite || extra ? [ValidationCommand("swift test --skip-build", timeoutSeconds: timeoutSeconds)] : [])
    }

    /// The workspace settings the configuration asks for (`~` expanded; empty cache: fresh workspaces).
    var workspaceSettings: WorkspaceSettings {
        let cache = workspaceCache.trimmingCharacters(in: .whitespaces)
        let url: URL? =
            cache.isEmpty
            ? nil
            : URL(fileURLWithPath: (cache as NSString).expandingTildeInPath).standardizedFileURL
        return WorkspaceSettings(cacheDirectory: url, isolateNetwork: isolateNetwork, keepEnvironment: keepEnvironment)
    }
}

struct AgentLocaliseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "localise",
        abstract: "Show what the agent would send the LLM for the anomalies in some logs and metrics: the ranked functions and the context.",
        discussion: """
            Nothing is sent or changed. Latency thresholds come from the config (agent.latencyThresholds).

            Examples:
              crocbot agent localise --config Examples/agent/agent.yaml --metrics Examples/agent/metrics.prom
              crocbot agent localise --logs output/live.jsonl --context
            """
    )

    @Option(name: .long, help: "YAML or JSON configuration file (agent: section).")
    var config: String?

    @Option(name: .long, help: "JSON-lines log file.")
    var logs: String?

    @Option(name: .long, help: "Metrics: a Prometheus text file or a /metrics URL.")
    var metrics: String?

    @Option(name: .long, help: "The repository (default: the current directory).")
    var repo: String = "."

    @Flag(name: .long, help: "Print the whole context, not only the ranked functions.")
    var context = false

    func run() async throws {
        guard logs != nil || metrics != nil else { throw ValidationError("give --logs, --metrics or both") }
        let cfg = try AgentConfig.loadApp(config)
        var detector = AnomalyDetector(settings: .init(repeatThreshold: cfg.agent.repeatThreshold, latencyThresholds: cfg.agent.latencyThresholds))
        var anomalies: [Anomaly] = []
        if let logs { anomalies += detector.observe(logs: LogMonitor(path: logs).poll()) }
        if let metrics {
            do {
                anomalies += detector.observe(metrics: try await MetricsMonitor(source: metrics).read())
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        let inspector = CodebaseInspector(repository: URL(fileURLWithPath: repo).standardizedFileURL, budget: 24_000)
        print("\(anomalies.count) anomal\(anomalies.count == 1 ? "y" : "ies")")
        for a in anomalies {
            let c = inspector.context(for: a)
            print("\n\(a.kind.rawValue): \(a.summary)")
            print("  context: \(c.excerpts.count) excerpts, \(c.size) characters")
            for (i, s) in c.suspects.prefix(15).enumerated() {
                print(String(format: "  %2d. %5.2f  ", i + 1, s.rank) + s.label + "  — " + s.reason)
            }
            if context { print(c.text) }
        }
    }
}

struct AgentValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate a unified diff exactly as the agent validates a proposal (workspace, tiers, scrubbed environment), without applying it.",
        discussion: """
            Prints each tier's command, result and time. The repository is never changed.

            Example:
              git diff > fix.diff && git stash && crocbot agent validate --diff fix.diff
            """
    )

    @Option(name: .long, help: "YAML or JSON configuration file (agent: section).")
    var config: String?

    @Option(name: .long, help: "The unified diff to validate.")
    var diff: String

    @Option(name: .long, help: "The repository (default: the current directory).")
    var repo: String = "."

    @Flag(name: .long, help: "After the affected test targets, also run the whole test suite.")
    var fullSuite = false

    func run() async throws {
        let cfg = try AgentConfig.loadApp(config)
        let patches: [FilePatch]
        do {
            patches = try UnifiedDiff.parse(try String(contentsOfFile: diff, encoding: .utf8))
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let a = cfg.agent
        let repository = URL(fileURLWithPath: repo).standardizedFileURL
        let configuration = AgentConfiguration(
            repository: repository,
            validation: a.validationCommands(fullSuite: fullSuite),
            workspace: a.workspaceSettings
        )
        do {
            try PatchPolicy(repository: repository, denyList: a.denyList, maxFiles: a.maxFiles, maxChangedLines: a.maxChangedLines).check(patches)
        } catch {
            FileHandle.standardError.write(Data("error: refused before validation: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let agent = AICodeRefactorAgent(
            configuration: configuration,
            llm: OpenAICompatibleClient(settings: LLMSettings(baseURL: a.baseURL, model: a.model)),
            logger: Logger(label: "crocbot.agent")
        )
        let v = await agent.validate(patches: patches)
        for r in v.results { print("\(r.passed ? "ok" : "FAILED")  \(String(format: "%6.1f", r.seconds)) s  \(r.command)") }
        print(String(format: "%@ in %.1f s", v.passed ? "validated" : "not valid", v.seconds))
        if !v.passed {
            if let last = v.results.last { FileHandle.standardError.write(Data(last.output.suffix(3000).utf8)) }
            throw ExitCode(1)
        }
    }
}
