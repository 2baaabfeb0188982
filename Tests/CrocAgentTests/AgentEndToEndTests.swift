import CrocTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

@testable import CrocAgent

/// A chat-completions server on 127.0.0.1 that replays scripted replies in order.
final class ScriptedLLMServer: Sendable {
    private let replies: Mutex<[String]>
    private let requests = Mutex<[String]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)

    init(replies: [String]) { self.replies = Mutex(replies) }

    var requestBodies: [String] { requests.withLock { $0 } }

    func start() async -> Int {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 22)
            self.requests.withLock { $0.append(String(buffer: body)) }
            let reply = self.replies.withLock { $0.isEmpty ? "no more scripted replies" : $0.removeFirst() }
            let object: [String: Any] = [
                "model": "scripted", "choices": [["index": 0, "message": ["role": "assistant", "content": reply]]],
                "usage": ["prompt_tokens": 120, "completion_tokens": 40],
            ]
            let data = try JSONSerialization.data(withJSONObject: object)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: quietLogger
        )
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        var it = stream.makeAsyncIterator()
        return await it.next() ?? 0
    }

    func stop() { task.withLock { $0?.cancel() } }
}

/// A tiny package with a real bug that its own test catches, and the JSON log of its crash.
struct Fixture {
    let root: URL

    static let buggy = """
        /// The last price of a series.
        public func lastPrice(_ prices: [Double]) -> Double {
            return prices[prices.count]
        }

        """

    init() throws {
        root = testTemporaryURL().appendingPathComponent("crocagent-fixture-\(UUID().uuidString)")
        let fm = FileManager.default
        for dir in ["Sources/Fixture", "Tests/FixtureTests", "Checks"] {
            try fm.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        try write(
            "Package.swift",
            """
            // swift-tools-version: 6.0
            import PackageDescription
            let package = Package(
                name: "Fixture",
                targets: [.target(name: "Fixture"), .testTarget(name: "FixtureTests", dependencies: ["Fixture"])]
            )

            """
        )
        try write("Sources/Fixture/Prices.swift", Self.buggy)
        try write(
            "Tests/FixtureTests/PricesTests.swift",
            """
            import Fixture
            import XCTest

            final class PricesTests: XCTestCase {
                func testLastPrice() { XCTAssertEqual(lastPrice([1, 2, 3]), 3) }
            }

            """
        )
        // A fast stand-in for `swift test` (cases other than the one real build).
        try write(
            "Checks/main.swift",
            "@main struct Check { static func main() { precondition(lastPrice([1, 2, 3]) == 3, \"lastPrice\"); print(\"ok\") } }\n"
        )
        let lines = (0..<3).map { i in
            #"{"time":"2026-11-25T10:00:0\#(i).000Z","level":"error","label":"fixture","message":"price lookup crashed","metadata":{"error":"Fatal error: Index out of range","request":"r\#(i)"},"file":"Fixture/Prices.swift","line":3,"function":"lastPrice(_:)"}"#
        }
        try write("logs/app.jsonl", lines.joined(separator: "\n") + "\n")
    }

    func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ path: String) -> String { (try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)) ?? "" }

    var logs: String { root.appendingPathComponent("logs/app.jsonl").path }

    /// Cheap validation: typecheck, then the stand-in test.
    static let quickValidation = [
        ValidationCommand("swiftc -parse-as-library -typecheck Sources/Fixture/*.swift", timeoutSeconds: 120),
        ValidationCommand("swiftc -parse-as-library Sources/Fixture/*.swift Checks/main.swift -o .check && ./.check", timeoutSeconds: 120),
    ]

    static func reply(_ diffBody: String, confidence: Double = 0.9, path: String = "Sources/Fixture/Prices.swift") -> String {
        let diff = "--- a/\(path)\n+++ b/\(path)\n" + diffBody
        let object: [String: Any] = ["diff": diff, "rationale": "index the last element, not one past it", "confidence": confidence]
        let json = String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        return "Here is my proposal:\n```json\n\(json)\n```\n"
    }

    static let correct = reply(
        "@@ -2,3 +2,3 @@\n public func lastPrice(_ prices: [Double]) -> Double {\n-    return prices[prices.count]\n+    return prices[prices.count - 1]\n }\n"
    )
    static let doesNotCompile = reply(
        "@@ -2,3 +2,3 @@\n public func lastPrice(_ prices: [Double]) -> Double {\n-    return prices[prices.count]\n+    return prices[prices.count - 1\n }\n"
    )
    static let failsTests = reply(
        "@@ -2,3 +2,3 @@\n public func lastPrice(_ prices: [Double]) -> Double {\n-    return prices[prices.count]\n+    return prices[0]\n }\n"
    )
}

func agent(
    _ fixture: Fixture,
    port: Int,
    apply: Bool = false,
    retries: Int = 0,
    validation: [ValidationCommand] = Fixture.quickValidation,
    log: String? = nil
)
    -> AICodeRefactorAgent
{
    let configuration = AgentConfiguration(
        repository: fixture.root,
        logs: fixture.logs,
        decisionLog: log ?? fixture.root.appendingPathComponent("out/decisions.jsonl").path,
        applyChanges: apply,
        confidenceThreshold: 0.7,
        retries: retries,
        validation: validation
    )
    let llm = OpenAICompatibleClient(
        settings: LLMSettings(baseURL: "http://127.0.0.1:\(port)/v1", model: "scripted", apiKey: "sk-test-key", maxAttempts: 1)
    )
    return AICodeRefactorAgent(configuration: configuration, llm: llm, logger: quietLogger)
}

@Suite("Refactor agent end to end", .serialized)
struct AgentEndToEndTests {
    @Test("(a) a correct patch: validated with a real swift build + swift test, applied only with apply on, and the fixture's tests then pass")
    func correctPatch() async throws {
        let fixture = try Fixture()
        // The bug is real: the fixture's own check catches it.
        let buggy = await Workspace.run(Fixture.quickValidation[1].command, in: fixture.root, timeout: 120, limit: 2000)
        #expect(!buggy.passed && buggy.output.contains("Index out of range"))
        let server = ScriptedLLMServer(replies: [Fixture.correct, Fixture.correct])
        let port = await server.start()
        defer { server.stop() }
        // Without --apply: validated, not applied.
        let dry = agent(fixture, port: port, log: fixture.root.appendingPathComponent("out/dry.jsonl").path)
        let first = await dry.runOnce()
        #expect(first.map(\.1) == [.validatedNotApplied])
        #expect(fixture.read("Sources/Fixture/Prices.swift") == Fixture.buggy)
        // With --apply and the real toolchain.
        let real = agent(
            fixture,
            port: port,
            apply: true,
            validation: ValidationCommand.swiftDefaults,
            log: fixture.root.appendingPathComponent("out/apply.jsonl").path
        )
        let second = await real.runOnce()
        #expect(second.map(\.1) == [.applied])
        #expect(fixture.read("Sources/Fixture/Prices.swift").contains("prices[prices.count - 1]"))
        let entries = DecisionLog(path: fixture.root.appendingPathComponent("out/apply.jsonl").path).entries()
        #expect(entries.filter { $0.step == .validation }.map { $0.detail["command"] } == ["swift build", "swift test"])
        #expect(entries.filter { $0.step == .validation }.allSatisfy { $0.detail["exit_code"] == "0" })
        #expect(entries.contains { $0.step == .llm && $0.detail["prompt_tokens"] == "120" && $0.detail["prompt_hash"]?.count == 16 })
        #expect(entries.last { $0.step == .validation }?.detail["output_tail"]?.contains("Executed 1 test, with 0 failures") == true)
        // The applied file passes the fixture's own check, which caught the bug above (its
        // `swift test` already passed in the validation workspace: a second cold build of the
        // fixture here would only repeat it).
        let after = await Workspace.run(Fixture.quickValidation[1].command, in: fixture.root, timeout: 120, limit: 2000)
        #expect(after.passed && after.output.contains("ok"), "\(after.output)")
        // The key went to the server, never to the decision log.
        #expect(!(try String(contentsOfFile: fixture.root.appendingPathComponent("out/apply.jsonl").path, encoding: .utf8)).contains("sk-test-key"))
        #expect(server.requestBodies.first?.contains("lastPrice") == true)  // the code context was sent
    }

    @Test(
        "the blueprint's pytest as the validation command: a Python repository's fix is validated by its tests and applied",
        .enabled(if: Workspace.pytestAvailable, "needs python3 -m pytest (.ci/run installs it)")
    )
    func pytestValidation() async throws {
        let root = testTemporaryURL().appendingPathComponent("crocagent-py-\(UUID().uuidString)")
        func write(_ path: String, _ text: String) throws {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        defer { try? FileManager.default.removeItem(at: root) }
        let buggy = "def last_price(prices):\n    return prices[len(prices)]\n"
        try write("prices.py", buggy)
        try write("test_prices.py", "from prices import last_price\n\n\ndef test_last_price():\n    assert last_price([1, 2, 3]) == 3\n")
        let line =
            #"{"time":"2026-11-25T10:00:00.000Z","level":"error","message":"price lookup crashed","metadata":{"error":"IndexError: list index out of range"},"file":"prices.py","line":2,"function":"last_price"}"#
        try write("logs/app.jsonl", Array(repeating: line, count: 3).joined(separator: "\n") + "\n")
        let before = await Workspace.run("python3 -m pytest -q -p no:cacheprovider", in: root, timeout: 120, limit: 4000)
        #expect(!before.passed && before.output.contains("IndexError"))

        let fix = Fixture.reply(
            "@@ -1,2 +1,2 @@\n def last_price(prices):\n-    return prices[len(prices)]\n+    return prices[-1]\n",
            path: "prices.py"
        )
        let server = ScriptedLLMServer(replies: [fix])
        let port = await server.start()
        defer { server.stop() }
        let configuration = AgentConfiguration(
            repository: root,
            logs: root.appendingPathComponent("logs/app.jsonl").path,
            decisionLog: root.appendingPathComponent("out/decisions.jsonl").path,
            applyChanges: true,
            validation: [ValidationCommand("python3 -m pytest -q -p no:cacheprovider", timeoutSeconds: 120)]
        )
        let llm = OpenAICompatibleClient(
            settings: LLMSettings(baseURL: "http://127.0.0.1:\(port)/v1", model: "scripted", apiKey: nil, maxAttempts: 1)
        )
        let result = await AICodeRefactorAgent(
            configuration: configuration,
            llm: llm,
            logger: quietLogger
        )
        .runOnce()
        #expect(result.map(\.1) == [.applied])
        // The prompt carried the Python source around the logged line.
        #expect(server.requestBodies.first?.contains("return prices[len(prices)]") == true)
        let validation = DecisionLog(path: configuration.decisionLog).entries().filter { $0.step == .validation }
        #expect(validation.count == 1 && validation[0].detail["exit_code"] == "0")
        let after = await Workspace.run("python3 -m pytest -q -p no:cacheprovider", in: root, timeout: 120, limit: 4000)
        #expect(after.passed, "\(after.output)")
    }

    @Test("(b) a patch that does not compile is rejected and fed back; the second attempt succeeds")
    func compileFailureThenSuccess() async throws {
        let fixture = try Fixture()
        let server = ScriptedLLMServer(replies: [Fixture.doesNotCompile, Fixture.correct])
        let port = await server.start()
        defer { server.stop() }
        let result = await agent(fixture, port: port, apply: true, retries: 1).runOnce()
        #expect(result.map(\.1) == [.applied])
        let entries = DecisionLog(path: fixture.root.appendingPathComponent("out/decisions.jsonl").path).entries()
        let validations = entries.filter { $0.step == .validation }
        #expect(validations.first?.detail["exit_code"] != "0")
        #expect(validations.first?.detail["attempt"] == "1")
        #expect(validations.last?.detail["attempt"] == "2" && validations.last?.detail["exit_code"] == "0")
        #expect(server.requestBodies.count == 2)
        #expect(server.requestBodies[1].contains("failed validation"))  // the failure was fed back
    }

    @Test("(c) a patch that compiles but fails the tests is rejected")
    func testFailure() async throws {
        let fixture = try Fixture()
        let server = ScriptedLLMServer(replies: [Fixture.failsTests])
        let port = await server.start()
        defer { server.stop() }
        let result = await agent(fixture, port: port, apply: true).runOnce()
        #expect(result.map(\.1) == [.rejected])
        #expect(fixture.read("Sources/Fixture/Prices.swift") == Fixture.buggy)
        let v = DecisionLog(path: fixture.root.appendingPathComponent("out/decisions.jsonl").path).entries().filter { $0.step == .validation }
        #expect(v.count == 2 && v[0].detail["exit_code"] == "0" && v[1].detail["exit_code"] != "0")
    }

    @Test("(d) patches touching ../outside or .git/config are refused before validation", arguments: ["../outside/evil.swift", ".git/config"])
    func refused(path: String) async throws {
        let fixture = try Fixture()
        let server = ScriptedLLMServer(replies: [Fixture.reply("@@ -1 +1 @@\n-x\n+y\n", path: path)])
        let port = await server.start()
        defer { server.stop() }
        let result = await agent(fixture, port: port, apply: true).runOnce()
        #expect(result.map(\.1) == [.rejected])
        let entries = DecisionLog(path: fixture.root.appendingPathComponent("out/decisions.jsonl").path).entries()
        #expect(entries.filter { $0.step == .validation }.isEmpty)
        #expect(entries.last?.detail["reason"]?.contains("refused before validation") == true)
    }

    @Test("(e) a malformed reply is logged, never a crash")
    func malformed() async throws {
        let fixture = try Fixture()
        let server = ScriptedLLMServer(replies: ["I would look at the index. {not json", "```diff\n@@ broken\n```"])
        let port = await server.start()
        defer { server.stop() }
        let result = await agent(fixture, port: port, apply: true, retries: 1).runOnce()
        #expect(result.map(\.1) == [.rejected])
        let entries = DecisionLog(path: fixture.root.appendingPathComponent("out/decisions.jsonl").path).entries()
        #expect(entries.filter { $0.step == .proposal && $0.detail["error"] != nil }.count == 2)
        #expect(fixture.read("Sources/Fixture/Prices.swift") == Fixture.buggy)
    }

    @Test("(f) the same anomaly twice is analysed once, also after a restart")
    func duplicate() async throws {
        let fixture = try Fixture()
        let server = ScriptedLLMServer(replies: [Fixture.failsTests, Fixture.correct, Fixture.correct])
        let port = await server.start()
        defer { server.stop() }
        let a = agent(fixture, port: port)
        let first = await a.runOnce()
        #expect(first.count == 1)
        // The same error again in the log, and the same anomaly handed in directly.
        let more = (3..<6).map { i in
            #"{"time":"2026-11-25T10:00:0\#(i).000Z","level":"error","label":"fixture","message":"price lookup crashed","metadata":{"error":"Fatal error: Index out of range","request":"r\#(i)"},"file":"Fixture/Prices.swift","line":3,"function":"lastPrice(_:)"}"#
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: fixture.logs))
        try h.seekToEnd()
        try h.write(contentsOf: Data((more.joined(separator: "\n") + "\n").utf8))
        try h.close()
        _ = await a.runOnce()
        #expect(await a.handle(first[0].0) == .skippedDuplicate)
        let restarted = agent(fixture, port: port)
        #expect(await restarted.handle(first[0].0) == .skippedDuplicate)
        #expect(server.requestBodies.count == 1)
    }

    @Test("(g) a latency spike in a metrics snapshot becomes an anomaly with the metric as evidence")
    func latencySpike() async throws {
        let fixture = try Fixture()
        try fixture.write(
            "out/metrics.prom",
            """
            crocbot_tick_to_order_seconds_bucket{le="1e-05"} 1
            crocbot_tick_to_order_seconds_bucket{le="0.1"} 2
            crocbot_tick_to_order_seconds_bucket{le="1"} 100
            crocbot_tick_to_order_seconds_bucket{le="+Inf"} 100
            crocbot_tick_to_order_seconds_count 100

            """
        )
        let server = ScriptedLLMServer(replies: ["no idea"])
        let port = await server.start()
        defer { server.stop() }
        var configuration = AgentConfiguration(
            repository: fixture.root,
            metrics: fixture.root.appendingPathComponent("out/metrics.prom").path,
            decisionLog: fixture.root.appendingPathComponent("out/decisions.jsonl").path,
            retries: 0,
            validation: Fixture.quickValidation
        )
        configuration.detector.latencyThresholds = ["crocbot_tick_to_order_seconds": 0.00005]
        let llm = OpenAICompatibleClient(settings: LLMSettings(baseURL: "http://127.0.0.1:\(port)/v1", model: "scripted", maxAttempts: 1))
        let result = await AICodeRefactorAgent(
            configuration: configuration,
            llm: llm,
            logger: quietLogger
        )
        .runOnce()
        #expect(result.count == 1)
        #expect(result.first?.0.kind == .latencySpike)
        #expect(result.first?.0.metricEvidence.contains { $0.name == "crocbot_tick_to_order_seconds_bucket" } == true)
        #expect(server.requestBodies.first?.contains("crocbot_tick_to_order_seconds_bucket") == true)  // evidence sent to the LLM
        let anomaly = DecisionLog(path: fixture.root.appendingPathComponent("out/decisions.jsonl").path).entries().first
        #expect(anomaly?.step == .anomaly && anomaly?.detail["kind"] == "latency_spike")
    }
}
