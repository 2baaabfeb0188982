import Foundation
import Logging

/// How the agent works: where it looks, what it may change, and when.
public struct AgentConfiguration: Sendable {
    /// The repository it may patch.
    public var repository: URL
    /// JSON-lines log file to tail (nil: none).
    public var logs: String?
    /// Metrics: a Prometheus text file or a `/metrics` URL (nil: none).
    public var metrics: String?
    /// The append-only decision log.
    public var decisionLog: String
    /// Apply validated patches to the repository (off: validate and log only).
    public var applyChanges: Bool
    /// Commit validated patches to a new branch `crocbot-agent/<fingerprint>` instead of the working tree (git repositories).
    public var commitToBranch: Bool
    /// Below this confidence nothing is validated or applied.
    public var confidenceThreshold: Double
    /// Further attempts after a failed validation (the failure is fed back).
    public var retries: Int
    /// Commands that must pass in the workspace, in order (tiers: the first failure stops).
    /// `{affected_tests}` in a command stands for the test targets that depend on the
    /// changed modules (`ValidationCommand.affectedTestsPlaceholder`).
    public var validation: [ValidationCommand]
    /// Where the workspace lives (persistent and warm by default) and what its commands see.
    public var workspace: WorkspaceSettings
    /// What patches may touch.
    public var policy: PatchPolicy
    /// Anomaly thresholds.
    public var detector: AnomalyDetector.Settings
    /// Context size budget (characters).
    public var contextBudget: Int
    /// Skip fingerprints decided in earlier runs (read from the decision log).
    public var rememberHandled: Bool

    /// Creates a configuration with safe defaults (nothing applied).
    public init(
        repository: URL,
        logs: String? = nil,
        metrics: String? = nil,
        decisionLog: String = "output/agent-decisions.jsonl",
        applyChanges: Bool = false,
        commitToBranch: Bool = false,
        confidenceThreshold: Double = 0.7,
        retries: Int = 2,
        validation: [ValidationCommand] = ValidationCommand.swiftTiers(),
        workspace: WorkspaceSettings = .init(),
        policy: PatchPolicy? = nil,
        detector: AnomalyDetector.Settings = .init(),
        contextBudget: Int = 24_000,
        rememberHandled: Bool = true
    ) {
        self.repository = repository
        self.logs = logs
        self.metrics = metrics
        self.decisionLog = decisionLog
        self.applyChanges = applyChanges
        self.commitToBranch = commitToBranch
        self.confidenceThreshold = confidenceThreshold
        self.retries = max(0, retries)
        self.validation = validation
        self.workspace = workspace
        self.policy = policy ?? PatchPolicy(repository: repository)
        self.detector = detector
        self.contextBudget = contextBudget
        self.rememberHandled = rememberHandled
    }
}

/// The closed loop of the blueprint: monitor logs and metrics → analyse the
/// code → ask an LLM for a unified diff → validate it in an isolated
/// workspace → apply only when allowed → log every decision.
///
/// LLM output and log text are untrusted (DESIGN rule 9): a patch is
/// refused before validation if it leaves the repository, touches `.git` or
/// the deny-list, or is too large; it is applied only when `applyChanges` is
/// on, validation passed and confidence reaches the threshold, and only if
/// the files it touches have not changed since the proposal.
public actor AICodeRefactorAgent {
    /// The configuration.
    public let configuration: AgentConfiguration
    private let llm: any LLMClient
    private let logger: Logger
    private let log: DecisionLog
    private var detector: AnomalyDetector
    private var logMonitor: LogMonitor?
    private var handled: Set<String>

    /// Creates an agent.
    public init(configuration: AgentConfiguration, llm: any LLMClient, logger: Logger = Logger(label: "crocbot.agent")) {
        self.configuration = configuration
        self.llm = llm
        self.logger = logger
        self.log = DecisionLog(path: configuration.decisionLog)
        self.detector = AnomalyDetector(settings: configuration.detector)
        self.logMonitor = configuration.logs.map { LogMonitor(path: $0) }
        self.handled = configuration.rememberHandled ? DecisionLog(path: configuration.decisionLog).decidedFingerprints() : []
    }

    /// One pass: reads what is new in the logs and metrics and handles every anomaly found.
    /// - Returns: the decision for each anomaly.
    @discardableResult
    public func runOnce() async -> [(Anomaly, DecisionEntry.Outcome)] {
        var anomalies: [Anomaly] = []
        if let m = logMonitor {
            let records = m.poll()
            anomalies += detector.observe(logs: records)
            if m.malformedLines > 0 { logger.debug("malformed log lines skipped", metadata: ["count": "\(m.malformedLines)"]) }
        }
        if let source = configuration.metrics {
            do {
                anomalies += detector.observe(metrics: try await MetricsMonitor(source: source).read())
            } catch {
                logger.error("metrics unreadable", metadata: ["source": "\(source)", "error": "\(error)"])
            }
        }
        var out: [(Anomaly, DecisionEntry.Outcome)] = []
        for a in anomalies { out.append((a, await handle(a))) }
        return out
    }

    /// Runs passes every `interval` until the task is cancelled.
    public func run(every interval: Duration) async {
        while !Task.isCancelled {
            await runOnce()
            try? await Task.sleep(for: interval)
        }
    }

    /// Handles one anomaly end to end; every step goes to the decision log.
    public func handle(_ anomaly: Anomaly) async -> DecisionEntry.Outcome {
        let fp = anomaly.fingerprint.hash
        if handled.contains(fp) {
            record(.decision, fp, .skippedDuplicate, ["summary": anomaly.summary])
            return .skippedDuplicate
        }
        handled.insert(fp)
        record(
            .anomaly,
            fp,
            nil,
            [
                "kind": anomaly.kind.rawValue, "summary": anomaly.summary, "fingerprint_key": anomaly.fingerprint.key,
                "log_evidence": "\(anomaly.logEvidence.count)", "metric_evidence": "\(anomaly.metricEvidence.count)",
                "locations": anomaly.locations.prefix(3).map(\.description).joined(separator: "; "),
            ]
        )
        let inspector = CodebaseInspector(repository: configuration.repository, budget: configuration.contextBudget)
        let context = inspector.context(for: anomaly)
        record(.context, fp, nil, ["files": context.excerpts.map(\.path).joined(separator: ", "), "characters": "\(context.size)"])
        var previous: [(diff: String, failure: String)] = []
        for attempt in 1...(configuration.retries + 1) {
            let messages = PromptBuilder.messages(anomaly: anomaly, context: context, previousAttempts: previous)
            let reply: LLMReply
            do {
                reply = try await llm.complete(messages)
            } catch {
                return decide(fp, .rejected, ["reason": "llm failed: \(error)", "attempt": "\(attempt)"])
            }
            record(
                .llm,
                fp,
                nil,
                [
                    "attempt": "\(attempt)", "client": llm.name, "model": reply.model,
                    "prompt_hash": Fingerprint.fnv(messages.map(\.content).joined(separator: "\u{1}")),
                    "reply_hash": Fingerprint.fnv(reply.text), "prompt_tokens": "\(reply.promptTokens)",
                    "completion_tokens": "\(reply.completionTokens)",
                ]
            )
            let proposal: Proposal
            do {
                proposal = try Proposal.parse(reply.text)
            } catch {
                record(.proposal, fp, nil, ["attempt": "\(attempt)", "error": "\(error)"])
                previous.append((String(reply.text.prefix(2000)), "The reply could not be read: \(error)"))
                continue
            }
            let files = proposal.patches.map(\.path)
            record(
                .proposal,
                fp,
                nil,
                [
                    "attempt": "\(attempt)", "files": files.joined(separator: ", "),
                    "changed_lines": "\(proposal.patches.reduce(0) { $0 + $1.changedLines })",
                    "confidence": "\(proposal.confidence)", "rationale": proposal.rationale, "diff_hash": Fingerprint.fnv(proposal.diff),
                ]
            )
            do {
                try configuration.policy.check(proposal.patches)
            } catch {
                return decide(fp, .rejected, ["reason": "refused before validation: \(error)", "attempt": "\(attempt)"])
            }
            guard proposal.confidence >= configuration.confidenceThreshold else {
                return decide(fp, .belowThreshold, ["confidence": "\(proposal.confidence)", "threshold": "\(configuration.confidenceThreshold)"])
            }
            // What the touched files hold now: applying later requires them unchanged.
            let snapshot = Dictionary(uniqueKeysWithValues: files.map { ($0, currentContent($0)) })
            let validation = await validate(proposal, fingerprint: fp, attempt: attempt)
            guard validation.passed else {
                previous.append((proposal.diff, validation.failure))
                continue
            }
            guard configuration.applyChanges else {
                return decide(fp, .validatedNotApplied, ["attempt": "\(attempt)", "note": "applyChanges is off"])
            }
            for (path, before) in snapshot where currentContent(path) != before {
                return decide(fp, .rejected, ["reason": "\(path) changed since the proposal; not applied", "attempt": "\(attempt)"])
            }
            if configuration.commitToBranch, let branch = validation.branch {
                return decide(fp, .branched, ["branch": branch, "attempt": "\(attempt)"])
            }
            do {
                try Workspace.apply(proposal.patches, under: configuration.repository, applier: PatchApplier())
            } catch {
                return decide(fp, .rejected, ["reason": "applying to the repository failed: \(error)", "attempt": "\(attempt)"])
            }
            logger.notice("patch applied", metadata: ["fingerprint": "\(fp)", "files": "\(files.joined(separator: ", "))"])
            return decide(fp, .applied, ["files": files.joined(separator: ", "), "attempt": "\(attempt)", "confidence": "\(proposal.confidence)"])
        }
        return decide(fp, .rejected, ["reason": "no valid patch after \(configuration.retries + 1) attempts"])
    }

    /// Validates in a fresh workspace; returns whether every command passed,
    /// a failure text for the LLM, and the review branch when one was made.
    private func validate(_ proposal: Proposal, fingerprint fp: String, attempt: Int) async -> (passed: Bool, failure: String, branch: String?) {
        let workspace: Workspace
        do {
            workspace = try await Workspace.create(
                from: configuration.repository,
                settings: configuration.workspace,
                needsFiles: configuration.commitToBranch || Self.removesFiles(proposal.patches)
            )
        } catch {
            record(.validation, fp, nil, ["attempt": "\(attempt)", "error": "\(error)"])
            return (false, "\(error)", nil)
        }
        let outcome = await validate(proposal, in: workspace, fingerprint: fp, attempt: attempt)
        await workspace.remove()
        return outcome
    }

    private func validate(
        _ proposal: Proposal,
        in workspace: Workspace,
        fingerprint fp: String,
        attempt: Int
    ) async -> (passed: Bool, failure: String, branch: String?) {
        let failure = await runValidation(proposal.patches, in: workspace, commands: configuration.validation) { step in
            switch step {
            case .applyFailed(let error):
                record(.validation, fp, nil, ["attempt": "\(attempt)", "step": "apply", "error": "\(error)"])
            case .skipped(let note):
                record(.validation, fp, nil, ["attempt": "\(attempt)", "skipped": note])
            case .ran(let r, let note):
                record(
                    .validation,
                    fp,
                    nil,
                    [
                        "attempt": "\(attempt)", "command": r.command, "exit_code": r.exitCode.map(String.init) ?? "killed",
                        "timed_out": "\(r.timedOut)", "seconds": String(format: "%.1f", r.seconds), "output_tail": String(r.output.suffix(1500)),
                        "workspace": workspace.isOverlay ? "overlay" : workspace.isPersistent ? "persistent" : "fresh",
                        "network": workspace.isolatesNetwork ? "none" : "host",
                    ].merging(note.isEmpty ? [:] : ["tests": note]) { a, _ in a }
                        .merging(r.failures.isEmpty ? [:] : ["failures": r.failures.joined(separator: "\n")]) { a, _ in a }
                )
            }
        }
        if let failure { return (false, failure, nil) }
        var branch: String?
        if configuration.commitToBranch && configuration.applyChanges {
            let name = "crocbot-agent/\(fp)"
            let r = await Workspace.run(
                "git checkout -q -b \(Workspace.quote(name)) && git add -A && git -c user.name=crocbot-agent -c user.email=agent@crocbot.invalid commit -q -m \(Workspace.quote("crocbot agent: fix \(fp)\n\n\(proposal.rationale)"))",
                in: workspace.root,
                timeout: 60,
                limit: 2000
            )
            if r.passed { branch = name } else { record(.validation, fp, nil, ["step": "branch", "error": r.output]) }
        }
        return (true, "", branch)
    }

    /// Whether patches delete or rename a file (an overlay workspace cannot).
    static func removesFiles(_ patches: [FilePatch]) -> Bool {
        patches.contains { $0.newPath == nil || ($0.oldPath != nil && $0.oldPath != $0.newPath) }
    }

    /// One step of a validation.
    enum ValidationStep {
        case applyFailed(PatchError)
        case skipped(String)
        case ran(CommandResult, String)
    }

    /// Applies `patches` in `workspace` and runs the tiers in order; returns the failure
    /// text for the LLM at the first failure, nil when everything passed.
    func runValidation(
        _ patches: [FilePatch],
        in workspace: Workspace,
        commands: [ValidationCommand],
        report: (ValidationStep) -> Void
    ) async -> String? {
        do {
            try workspace.apply(patches)
        } catch {
            report(.applyFailed(error))
            return "The patch did not apply: \(error)"
        }
        let needsGraph = commands.contains { $0.command.contains(ValidationCommand.affectedTestsPlaceholder) }
        let graph = needsGraph ? try? await PackageGraph.load(in: workspace) : nil
        for (command, note) in Self.resolve(commands, for: patches, graph: graph) {
            guard let command else {
                report(.skipped(note))
                continue
            }
            let r = await workspace.run(command)
            report(.ran(r, note))
            if !r.passed {
                let how = r.timedOut ? "timed out" : "exited \(r.exitCode ?? -1)"
                let tail = String(r.output.suffix(4000))
                return "`\(r.command)` \(how):\n\(tail)"
            }
        }
        return nil
    }

    /// Validates patches exactly as a proposal's are (same workspace, tiers, environment),
    /// without an LLM or a decision: the seeded-bug benchmark times its known fixes with it.
    /// - Returns: whether every tier passed, what each command did, and the wall time
    ///   including the workspace's reset.
    public func validate(patches: [FilePatch]) async -> (passed: Bool, results: [CommandResult], seconds: Double) {
        let started = ContinuousClock.now
        let workspace: Workspace
        do {
            workspace = try await Workspace.create(
                from: configuration.repository,
                settings: configuration.workspace,
                needsFiles: Self.removesFiles(patches)
            )
        } catch {
            return (false, [CommandResult(command: "workspace", exitCode: nil, timedOut: false, seconds: 0, output: "\(error)")], 0)
        }
        var results: [CommandResult] = []
        let failure = await runValidation(patches, in: workspace, commands: configuration.validation) { step in
            if case .ran(let r, _) = step { results.append(r) }
        }
        await workspace.remove()
        let d = ContinuousClock.now - started
        return (failure == nil, results, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    /// The validation commands with `{affected_tests}` filled in: a command whose placeholder
    /// no test target matches is nil (skipped, with the reason); one whose change lies
    /// outside every target (or whose package cannot be read) runs the whole suite.
    static func resolve(
        _ commands: [ValidationCommand],
        for patches: [FilePatch],
        in root: URL
    ) async -> [(ValidationCommand?, String)] {
        let needed = commands.contains { $0.command.contains(ValidationCommand.affectedTestsPlaceholder) }
        return resolve(commands, for: patches, graph: needed ? try? await PackageGraph.load(packageAt: root) : nil)
    }

    /// `resolve` with the package graph at hand (nil: unknown, the whole suite).
    static func resolve(_ commands: [ValidationCommand], for patches: [FilePatch], graph: PackageGraph?) -> [(ValidationCommand?, String)] {
        let placeholder = ValidationCommand.affectedTestsPlaceholder
        guard commands.contains(where: { $0.command.contains(placeholder) }) else { return commands.map { ($0, "") } }
        let paths = patches.flatMap { [$0.oldPath, $0.newPath].compactMap { $0 } }
        let affected = graph?.affectedTestTargets(changing: paths)
        return commands.map { c in
            guard c.command.contains(placeholder) else { return (c, "") }
            guard let affected else {
                var whole = c
                whole.command = c.command.replacingOccurrences(of: placeholder, with: ".")
                return (whole, "all (a changed file is outside every target)")
            }
            guard !affected.isEmpty else { return (nil, "no test target depends on \(paths.joined(separator: ", "))") }
            var some = c
            some.command = c.command.replacingOccurrences(of: placeholder, with: PackageGraph.filter(for: affected))
            return (some, affected.joined(separator: ","))
        }
    }

    /// Builds the persistent workspace once (the first validation's cold build), so the
    /// first anomaly is validated as fast as the later ones. Runs the commands before
    /// the first `{affected_tests}` one.
    /// - Returns: the results, or nil when the workspace is not persistent or could not be made.
    public func prepare() async -> [CommandResult]? {
        guard configuration.workspace.cacheDirectory != nil,
            let workspace = try? await Workspace.create(from: configuration.repository, settings: configuration.workspace)
        else { return nil }
        var results: [CommandResult] = []
        for c in configuration.validation.prefix(while: { !$0.command.contains(ValidationCommand.affectedTestsPlaceholder) }) {
            let r = await workspace.run(c)
            results.append(r)
            if !r.passed { break }
        }
        await workspace.remove()
        return results
    }

    private func currentContent(_ path: String) -> String? {
        try? String(contentsOf: configuration.repository.appendingPathComponent(path), encoding: .utf8)
    }

    private func record(_ step: DecisionEntry.Step, _ fp: String, _ outcome: DecisionEntry.Outcome?, _ detail: [String: String]) {
        do {
            try log.append(DecisionEntry(step: step, fingerprint: fp, outcome: outcome, detail: detail))
        } catch {
            logger.error("decision log unwritable", metadata: ["error": "\(error)"])
        }
    }

    private func decide(_ fp: String, _ outcome: DecisionEntry.Outcome, _ detail: [String: String]) -> DecisionEntry.Outcome {
        record(.decision, fp, outcome, detail)
        logger.info("agent decision", metadata: ["fingerprint": "\(fp)", "outcome": "\(outcome.rawValue)", "detail": "\(detail)"])
        return outcome
    }
}
