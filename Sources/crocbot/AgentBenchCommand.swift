import ArgumentParser
import CrocAgent
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A chat-completions server on 127.0.0.1 that answers with scripted replies, in order:
/// the benchmark's stand-in for an LLM that proposes a bug's known (or a wrong) fix.
final class ScriptedLLMServer: Sendable {
    private let replies: Mutex<[String]>
    private let task = Mutex<Task<Void, any Error>?>(nil)
    /// Requests served.
    let served = Atomic<Int>(0)

    init(replies: [String] = []) { self.replies = Mutex(replies) }

    /// Replaces the replies still to come.
    func script(_ next: [String]) { replies.withLock { $0 = next } }

    /// Starts serving; returns the port.
    func start() async -> Int {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 24)
            self.served.add(1, ordering: .relaxed)
            let reply = self.replies.withLock { $0.isEmpty ? "no more scripted replies" : $0.removeFirst() }
            let object: [String: Any] = [
                "model": "scripted", "choices": [["index": 0, "message": ["role": "assistant", "content": reply]]],
                "usage": ["prompt_tokens": 0, "completion_tokens": 0],
            ]
            let data = try JSONSerialization.data(withJSONObject: object)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: Logger(label: "crocbot.bench.llm", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        var it = stream.makeAsyncIterator()
        return await it.next() ?? 0
    }

    func stop() { task.withLock { $0?.cancel() } }

    /// A proposal as an LLM would write it: JSON with the diff, a rationale and a confidence.
    static func proposal(_ diff: String, rationale: String, confidence: Double = 0.9) -> String {
        let object: [String: Any] = ["diff": diff, "rationale": rationale, "confidence": confidence]
        let json = String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self)
        return "Here is the fix.\n```json\n\(json)\n```\n"
    }
}

/// The commit the bugs are seeded on (the repository's HEAD), each time on a detached HEAD.
private let benchBase = Mutex("HEAD")

struct AgentBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "The seeded-bug benchmark: does the agent find each bug's function, how fast is a fix validated, and does it apply the right fix?",
        discussion: """
            Each bug of Benchmarks/AgentBugs/bugs.json is applied to a clone of the repository and
            committed (as a regression would be); the anomalies of its recorded evidence (the JSON logs
            and metrics that running it produced: scripts/agent_bugs_evidence.py) are localised, and the
            bug counts as found when the context holds its first changed line. Also reported without
            the commit (the bug as an uncommitted change, so no history points at it).

            --validate times the validation of each bug's known fix in the agent's warm workspace.
            --end-to-end runs the agent against a scripted LLM server on 127.0.0.1 that answers with
            the bug's wrong fix first (where one is given) and then the known fix: the agent must
            reject the wrong one and validate and apply the right one.

            Examples:
              crocbot agent bench
              crocbot agent bench --validate --end-to-end --only paper-submit-spin,risk-notional-sign
            """
    )

    @Option(name: .long, help: "The benchmark folder.")
    var bugs: String = "Benchmarks/AgentBugs"

    @Option(name: .long, help: "The repository (default: the current directory; its HEAD is cloned).")
    var repo: String = "."

    @Option(name: .long, help: "Comma-separated bug ids (default: all).")
    var only: String?

    @Flag(name: .long, help: "Time the validation of each bug's known fix.")
    var validate = false

    @Flag(name: .long, help: "Run the agent end to end against a scripted LLM server.")
    var endToEnd = false

    @Option(name: .long, help: "Where the benchmark's clone lives (default: <agent cache>/bench).")
    var work: String?

    @Flag(
        name: .long,
        help:
            "Seed the bugs into the repository itself (detached HEAD, restored at the end) instead of a clone: validation then starts from the repository's own build. For CI's throwaway clones; refused with uncommitted changes."
    )
    var inPlace = false

    @Option(name: .long, help: "Write the results as JSON here.")
    var report: String = "output/agent-bench.json"

    @Option(
        name: .long,
        help:
            "Validate in this build configuration: release (the README's test command, on the build the main command made) or debug (swift test's default)."
    )
    var buildConfiguration: ValidationCommand.BuildConfiguration = .release

    @Option(name: .long, help: "Fail (exit 1) when fewer bugs than this share are found with history.")
    var minRecall: Double = 0.9

    /// One bug's results (a row of the table and of the JSON report).
    struct Row: Encodable {
        var bug: String
        var kind: String
        var withHistory: LocalisationOutcome
        var withoutHistory: LocalisationOutcome
        var validationSeconds: Double?
        var validationPassed: Bool?
        var endToEnd: String?
        var endToEndSeconds: Double?
    }

    func run() async throws {
        let suite = try Wiring.reportingErrors { try SeededBugSuite(folder: URL(fileURLWithPath: bugs).standardizedFileURL) }
        let selected = try select(from: suite)
        let settings = WorkspaceSettings()
        let base =
            work.map { URL(fileURLWithPath: $0) }
            ?? (settings.cacheDirectory ?? FileManager.default.temporaryDirectory).appendingPathComponent("bench")
        let source = URL(fileURLWithPath: repo).standardizedFileURL
        let clone = inPlace ? source : base.appendingPathComponent("crocbot")
        let restore = try await prepareWorkspace(clone, from: source)
        defer { if let restore { restoreRepository(source, to: restore) } }
        let server: ScriptedLLMServer? = endToEnd ? ScriptedLLMServer() : nil
        let port = await server?.start() ?? 0
        defer { server?.stop() }
        var rows: [Row] = []
        print("bug                            kind     found  rank  context   no-history  validate      end-to-end")
        for bug in selected {
            let row = try await measure(bug, suite: suite, clone: clone, base: base, server: server, port: port)
            rows.append(row)
            print(Self.line(row, bug))
        }
        if try summarise(rows) { throw ExitCode(1) }
    }

    /// The bugs `--only` names (all without it).
    /// - Throws: `ValidationError` naming an id the suite does not have.
    func select(from suite: SeededBugSuite) throws -> [SeededBug] {
        guard let only else { return suite.bugs }
        let ids = only.split(separator: ",").map(String.init)
        if let unknown = ids.first(where: { id in !suite.bugs.contains { $0.id == id } }) {
            throw ValidationError("--only: no bug '\(unknown)' in \(bugs)/bugs.json")
        }
        return suite.bugs.filter { ids.contains($0.id) }
    }

    /// Makes the clone ready (or, with `--in-place`, detaches the repository's HEAD); returns
    /// what to restore the repository to afterwards (nil for a clone).
    func prepareWorkspace(_ clone: URL, from source: URL) async throws -> String? {
        guard inPlace else {
            try await prepareClone(clone, from: source)
            return nil
        }
        guard try await git("status --porcelain --untracked-files=no", in: source).isEmpty else {
            throw ValidationError("--in-place: \(source.path) has uncommitted changes; commit or stash them first")
        }
        let branch = try? await git("symbolic-ref -q --short HEAD", in: source).trimmingCharacters(in: .whitespacesAndNewlines)
        let head = try await git("rev-parse HEAD", in: source).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try await git("checkout -q --detach", in: source)
        benchBase.withLock { $0 = head }
        return (branch?.isEmpty == false ? branch : nil) ?? head
    }

    /// Back to where the repository was: its branch (or commit), its files.
    func restoreRepository(_ source: URL, to restore: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "git reset -q --hard \(benchBase.withLock { $0 }) && git checkout -q \(quote(restore))"]
        p.currentDirectoryURL = source
        try? p.run()
        p.waitUntilExit()
    }

    /// One bug: localised with and without history, then (as asked) its known fix validated and
    /// the agent run end to end against the scripted server.
    func measure(_ bug: SeededBug, suite: SeededBugSuite, clone: URL, base: URL, server: ScriptedLLMServer?, port: Int) async throws -> Row {
        // The bug as the newest commit (a regression arrives with a change).
        let (correct, buggy) = try await applyBug(bug, in: clone, commit: true)
        let found = suite.localise(bug, in: clone)
        // The same bug with no history pointing at it.
        _ = try await applyBug(bug, in: clone, commit: false)
        let blind = suite.localise(bug, in: clone)
        _ = try await applyBug(bug, in: clone, commit: true)
        var row = Row(bug: bug.id, kind: bug.kind, withHistory: found, withoutHistory: blind)
        let fix = FilePatch.between(buggy, correct, path: bug.file)
        if validate {
            let agent = makeAgent(clone: clone, port: 1, decisionLog: base.appendingPathComponent("decisions-\(bug.id).jsonl").path, apply: false)
            let v = await agent.validate(patches: [fix])
            row.validationSeconds = v.seconds
            row.validationPassed = v.passed
            if !v.passed, let last = v.results.last {
                FileHandle.standardError.write(Data("\(bug.id): validation failed:\n\(last.output.suffix(2000))\n".utf8))
            }
        }
        if let server {
            let (outcome, seconds) = await runEndToEnd(
                bug,
                suite: suite,
                clone: clone,
                server: server,
                port: port,
                base: base,
                fix: fix,
                buggy: buggy,
                correct: correct
            )
            row.endToEnd = outcome
            row.endToEndSeconds = seconds
        }
        return row
    }

    /// A row of the printed table.
    static func line(_ row: Row, _ bug: SeededBug) -> String {
        let (found, blind) = (row.withHistory, row.withoutHistory)
        let validation = row.validationSeconds.map { String(format: "%5.0f s %@", $0, row.validationPassed == true ? "ok" : "FAIL") } ?? "-"
        let e2e = row.endToEnd.map { "\($0) " + String(format: "%.0f s", row.endToEndSeconds ?? 0) } ?? "-"
        return bug.id.padding(toLength: 31, withPad: " ", startingAt: 0) + bug.kind.padding(toLength: 9, withPad: " ", startingAt: 0)
            + (found.inContext ? "yes  " : "NO   ") + "  " + (found.suspectRank.map { String(format: "%4d", $0) } ?? "   -")
            + String(format: "  %7d", found.contextCharacters) + "   " + (blind.inContext ? "yes" : "no ") + "        "
            + validation.padding(toLength: 14, withPad: " ", startingAt: 0) + e2e
    }

    /// Prints the totals and writes the JSON report; true when the run failed (recall below
    /// `--min-recall`, a known fix that did not validate, or an end-to-end run not applied).
    func summarise(_ rows: [Row]) throws -> Bool {
        let recall = Double(rows.filter(\.withHistory.inContext).count) / Double(max(1, rows.count))
        let blindRecall = Double(rows.filter(\.withoutHistory.inContext).count) / Double(max(1, rows.count))
        let sizes = rows.map(\.withHistory.contextCharacters).sorted()
        print(
            String(
                format: "\nfound in the context: %.0f %% (%d of %d); without history %.0f %%; context median %d characters",
                recall * 100,
                rows.filter(\.withHistory.inContext).count,
                rows.count,
                blindRecall * 100,
                sizes.isEmpty ? 0 : sizes[sizes.count / 2]
            )
        )
        let times = rows.compactMap(\.validationSeconds).sorted()
        if !times.isEmpty { print(String(format: "validation of the known fix: median %.0f s, max %.0f s", times[times.count / 2], times.last ?? 0)) }
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: report).deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(rows).write(to: URL(fileURLWithPath: report))
        print("report: \(report)")
        return recall < minRecall || rows.contains { $0.validationPassed == false }
            || rows.contains { $0.endToEnd != nil && $0.endToEnd != "applied" }
    }

    /// A clone of the repository's HEAD at `clone` (made once, then reset to HEAD each run).
    func prepareClone(_ clone: URL, from source: URL) async throws {
        let head = try await git("rev-parse HEAD", in: source).trimmingCharacters(in: .whitespacesAndNewlines)
        if FileManager.default.fileExists(atPath: clone.appendingPathComponent(".git").path) {
            _ = try await git("fetch -q \(quote(source.path)) \(head)", in: clone)
        } else {
            try FileManager.default.createDirectory(at: clone.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = try await git("clone -q \(quote(source.path)) \(quote(clone.path))", in: clone.deletingLastPathComponent())
        }
        _ = try await git("checkout -q -f --detach \(head)", in: clone)
        benchBase.withLock { $0 = head }
        _ = try await git("clean -qfd", in: clone)
        let pins = source.appendingPathComponent("Package.resolved")
        if let data = try? Data(contentsOf: pins) { try data.write(to: clone.appendingPathComponent("Package.resolved")) }
    }

    /// Resets the clone to its base and applies the bug (committed, or left uncommitted).
    func applyBug(_ bug: SeededBug, in clone: URL, commit: Bool) async throws -> (correct: String, buggy: String) {
        _ = try await git("reset -q --hard \(benchBase.withLock { $0 })", in: clone)
        let url = clone.appendingPathComponent(bug.file)
        let correct = try String(contentsOf: url, encoding: .utf8)
        guard let buggy = bug.buggy(correct) else {
            throw ValidationError("\(bug.id): its find text does not occur exactly once in \(bug.file) at this commit; update bugs.json")
        }
        try Data(buggy.utf8).write(to: url)
        if commit {
            _ = try await git("-c user.name=crocbot-bench -c user.email=bench@crocbot.invalid commit -qam \(quote(bug.title))", in: clone)
        }
        return (correct, buggy)
    }

    func makeAgent(clone: URL, port: Int, decisionLog: String, apply: Bool) -> AICodeRefactorAgent {
        var configuration = AgentConfiguration(
            repository: clone,
            decisionLog: decisionLog,
            applyChanges: apply,
            confidenceThreshold: 0.7,
            retries: 1,
            validation: ValidationCommand.swiftTiers(configuration: buildConfiguration),
            rememberHandled: false
        )
        configuration.policy = PatchPolicy(repository: clone)
        let llm = OpenAICompatibleClient(settings: LLMSettings(baseURL: "http://127.0.0.1:\(port)/v1", model: "scripted", maxAttempts: 1))
        return AICodeRefactorAgent(
            configuration: configuration,
            llm: llm,
            logger: Logger(label: "crocbot.bench", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// The agent against the scripted server: the wrong fix (if any) must be rejected by
    /// validation, the known fix validated and applied; the file must then hold the fix.
    func runEndToEnd(
        _ bug: SeededBug,
        suite: SeededBugSuite,
        clone: URL,
        server: ScriptedLLMServer,
        port: Int,
        base: URL,
        fix: FilePatch,
        buggy: String,
        correct: String
    ) async -> (String, Double) {
        let started = ContinuousClock.now
        let anomalies = suite.anomalies(bug)
        guard let anomaly = anomalies.first else { return ("no anomaly", 0) }
        var replies: [String] = []
        if let wrong = bug.wrong {
            let wrongText = buggy.replacingOccurrences(of: wrong.find, with: wrong.replace)
            replies.append(ScriptedLLMServer.proposal(FilePatch.between(buggy, wrongText, path: bug.file).unifiedText, rationale: "a first guess"))
        }
        replies.append(ScriptedLLMServer.proposal(fix.unifiedText, rationale: "undo the regression in \(bug.function)"))
        server.script(replies)
        let log = base.appendingPathComponent("decisions-\(bug.id).jsonl").path
        try? FileManager.default.removeItem(atPath: log)
        let agent = makeAgent(clone: clone, port: port, decisionLog: log, apply: true)
        let outcome = await agent.handle(anomaly)
        let d = ContinuousClock.now - started
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        let now = (try? String(contentsOf: clone.appendingPathComponent(bug.file), encoding: .utf8)) ?? ""
        let entries = DecisionLog(path: log).entries()
        let failedValidations = entries.filter { $0.step == .validation && $0.detail["exit_code"].map { $0 != "0" } == true }.count
        if bug.wrong != nil && failedValidations == 0 { return ("wrong fix not rejected", seconds) }
        guard outcome == .applied else { return (outcome.rawValue, seconds) }
        return (now == correct ? "applied" : "applied, but the file differs from the fix", seconds)
    }

    func git(_ arguments: String, in directory: URL) async throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "git " + arguments]
        p.currentDirectoryURL = directory
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ValidationError("git \(arguments): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// `--build-configuration debug|release` (CrocAgent's enum, parsed by its raw value).
extension ValidationCommand.BuildConfiguration: ExpressibleByArgument {}
