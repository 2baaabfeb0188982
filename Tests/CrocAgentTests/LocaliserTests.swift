import CrocTestSupport
import Foundation
import Testing

@testable import CrocAgent

@Suite("Localisation from evidence", .serialized)
struct LocaliserTests {
    /// A repository with a timed live path, an engine it calls, an unrelated `process`,
    /// and an agent file and a test that merely name the metric.
    func repository() throws -> URL {
        let root = testTemporaryURL().appendingPathComponent("crocagent-localise-\(UUID().uuidString)")
        let files: [String: String] = [
            "Sources/Live/LiveMetrics.swift": """
            struct LiveMetrics {
                let tickToOrder: Timer
                init(factory: Factory) {
                    tickToOrder = Timer(label: "app_tick_to_order_seconds", factory: factory)
                }
            }
            """,
            "Sources/Live/Loop.swift": """
            struct Loop {
                var engine: Engine
                var metrics: LiveMetrics

                mutating func handle(_ x: Int) {
                    let received = ContinuousClock.now
                    engine.process(x)
                    send(x, received: received)
                }

                func send(_ x: Int, received: ContinuousClock.Instant) {
                    let handed = ContinuousClock.now - received
                    metrics.tickToOrder.record(handed)
                }

                func unrelated() { print("nothing") }
            }
            """,
            "Sources/Engine/Engine.swift": """
            struct Engine {
                var total = 0

                mutating func process(_ x: Int) {
                    total += score(x)
                }

                func score(_ x: Int) -> Int {
                    x * 2
                }
            }

            struct Other {
                func process(_ x: Int) { print(x) }
            }
            """,
            "Sources/Risk/Margin.swift": """
            struct Margin {
                func check(_ n: Int) throws {
                    if n > 10 { throw Failure("order refused: not enough margin for \\(n) lots") }
                }
            }
            """,
            "Sources/CrocAgent/Names.swift": """
            let watched = Timer(label: "app_tick_to_order_seconds")
            func agentOwn() { watched.record(1) }
            """,
            "Tests/LiveTests/LoopTests.swift": """
            func testNames() { let t = Timer(label: "app_tick_to_order_seconds"); t.record(0) }
            """,
        ]
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root
    }

    func latency() -> Anomaly {
        Anomaly(
            kind: .latencySpike,
            fingerprint: Fingerprint(kind: "latency_spike", errorType: "app_tick_to_order_seconds", message: "p99", location: nil),
            summary: "spike",
            logEvidence: [],
            metricEvidence: [MetricSample(name: "app_tick_to_order_seconds_bucket", labels: ["le": "0.1"], value: 3)],
            locations: []
        )
    }

    @Test(
        "a timer: where it is recorded, the callers where its start instant is taken, and the functions called in between (depth 1 and 2), resolved by type"
    )
    func timerPath() throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let context = CodebaseInspector(repository: root).context(for: latency())
        let labels = context.suspects.map { "\($0.typeName ?? "").\($0.name)" }
        #expect(labels.prefix(2) == ["Loop.send", "Loop.handle"], "\(labels)")
        #expect(labels.contains("Engine.process") && labels.contains("Engine.score"), "\(labels)")
        #expect(!labels.contains("Other.process") && !labels.contains("Loop.unrelated"), "\(labels)")
        // The agent's own files and the tests name the metric; they are not evidence.
        #expect(!context.excerpts.contains { $0.path.hasPrefix("Sources/CrocAgent/") || $0.path.hasPrefix("Tests/") })
        let process = try #require(context.suspects.first { $0.name == "process" && $0.typeName == "Engine" })
        let score = try #require(context.suspects.first { $0.name == "score" })
        #expect(process.rank < score.rank)
        #expect(context.excerpts.contains { $0.path == "Sources/Engine/Engine.swift" && $0.text.contains("x * 2") })
    }

    @Test("a metric recorded inside an operator function: the operator is a suspect, its name never read as a pattern")
    func operatorRecordSite() throws {
        let root = testTemporaryURL().appendingPathComponent("crocagent-operator-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let url = root.appendingPathComponent("Sources/Money/Scale.swift")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try """
        struct Amount {
            var raw: Int
            static func * (lhs: Amount, rhs: Int) -> Amount {
                let (product, overflow) = lhs.raw.multipliedReportingOverflow(by: rhs)
                if overflow { Counter(label: "app_overflow_total", dimensions: [("op", "mul")]).increment() }
                return Amount(raw: product)
            }
        }
        """.write(to: url, atomically: true, encoding: .utf8)
        let anomaly = Anomaly(
            kind: .risingFailures,
            fingerprint: Fingerprint(kind: "rising_failures", errorType: "app_overflow_total", message: "rising", location: nil),
            summary: "overflows",
            logEvidence: [],
            metricEvidence: [MetricSample(name: "app_overflow_total", labels: ["op": "mul"], value: 7)],
            locations: []
        )
        let context = CodebaseInspector(repository: root).context(for: anomaly)
        #expect(context.suspects.contains { $0.name == "*" && $0.typeName == "Amount" }, "\(context.suspects.map(\.name))")
    }

    @Test("the byte search finds what String's own search finds, at the ends, across multi-byte text and repeats")
    func byteSearch() {
        let texts = [
            "", "a", "\"tick\"", "x.record(y)", "prefix \"crocbot_tick\" suffix", "ééé.é", "aaaab", "ab" + String(repeating: "a", count: 300) + "b",
        ]
        let needles = [
            "", "a", "\"tick\"", ".record", "é.", "aab", "aaaab", "b", "zz", String(repeating: "a", count: 301),
            "ab" + String(repeating: "a", count: 300) + "b",
        ]
        for t in texts {
            for n in needles {
                #expect(Localiser.contains(t, n) == (n.isEmpty || t.utf8.firstRange(of: n.utf8) != nil), "\(t.prefix(20)) ∋ \(n.prefix(20))")
            }
        }
        #expect(Localiser.contains("prefix \"crocbot_tick\" suffix", "\"crocbot_tick\""))
        #expect(!Localiser.contains("prefix \"crocbot_tick suffix", "\"crocbot_tick\""))
        // A line of a file (a Substring) is searched where it lies, and only within its bounds.
        let file = texts.joined(separator: "\n")
        for line in file.split(separator: "\n", omittingEmptySubsequences: false) {
            for n in needles {
                #expect(Localiser.contains(line, n) == Localiser.contains(String(line), n), "\(line.prefix(20)) ∋ \(n.prefix(20))")
            }
        }
        let part = "x.record(y)\nab".prefix(9)  // "x.record(": the bytes after its end are not searched
        #expect(Localiser.contains(part, "d(") && !Localiser.contains(part, "(y"))
    }

    @Test("a recent commit that touched a function on the path lifts it to the top, and its diff joins the context")
    func regression() async throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let git = "git -c user.name=t -c user.email=t@t"
        let first = await Workspace.run("git init -q && git add -A && \(git) commit -qm init", in: root, timeout: 60, limit: 2000)
        #expect(first.passed, "\(first.output)")
        let engine = root.appendingPathComponent("Sources/Engine/Engine.swift")
        let slow = try String(contentsOf: engine, encoding: .utf8).replacingOccurrences(
            of: "        x * 2\n",
            with: "        let copy = Array(repeating: x, count: 1000)\n        return copy.reduce(0, +) / 500\n"
        )
        try slow.write(to: engine, atomically: true, encoding: .utf8)
        let second = await Workspace.run("git add -A && \(git) commit -qm 'score: average over a window'", in: root, timeout: 60, limit: 2000)
        #expect(second.passed, "\(second.output)")
        let context = CodebaseInspector(repository: root).context(for: latency())
        let top = try #require(context.suspects.first)
        #expect(top.name == "score" && top.recentCommits.first?.hasSuffix("score: average over a window") == true, "\(context.suspects.map(\.label))")
        #expect(
            context.excerpts.contains {
                $0.reason.hasPrefix("recent change to score") && $0.text.contains("+        let copy = Array(repeating: x, count: 1000)")
            }
        )
    }

    @Test("only the newest 30 commits count: the change lifts its function as the 30th newest, not as the 31st")
    func recentWindow() async throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let git = "git -c user.name=t -c user.email=t@t"
        #expect(await Workspace.run("git init -q && git add -A && \(git) commit -qm init", in: root, timeout: 60, limit: 2000).passed)
        let engine = root.appendingPathComponent("Sources/Engine/Engine.swift")
        let slow = try String(contentsOf: engine, encoding: .utf8).replacingOccurrences(
            of: "        x * 2\n",
            with: "        let copy = Array(repeating: x, count: 1000)\n        return copy.reduce(0, +) / 500\n"
        )
        try slow.write(to: engine, atomically: true, encoding: .utf8)
        let later = (0..<29).map { "\(git) commit -q --allow-empty -m later\($0)" }.joined(separator: " && ")
        #expect(await Workspace.run("git add -A && \(git) commit -qm 'score: average' && \(later)", in: root, timeout: 120, limit: 2000).passed)
        let inside = CodebaseInspector(repository: root).context(for: latency()).suspects.first { $0.name == "score" }
        #expect(inside?.recentCommits.first?.hasSuffix("score: average") == true)
        #expect(await Workspace.run("\(git) commit -q --allow-empty -m one-more", in: root, timeout: 60, limit: 2000).passed)
        let outside = CodebaseInspector(repository: root).context(for: latency()).suspects.first { $0.name == "score" }
        #expect(outside?.recentCommits.isEmpty == true)
    }

    @Test("a logged error's text leads to the function whose string literal builds it")
    func errorText() throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let record = LogRecord(
            time: "2026-12-03T10:00:00Z",
            level: "error",
            label: "app",
            message: "order rejected",
            metadata: ["error": "risk: order refused: not enough margin for 12 lots"],
            file: nil,
            line: nil,
            function: nil
        )
        let anomaly = Anomaly(
            kind: .repeatedError,
            fingerprint: Fingerprint(kind: "repeated_error", errorType: "risk", message: "order refused", location: nil),
            summary: "rejected",
            logEvidence: [record],
            metricEvidence: [],
            locations: []
        )
        let context = CodebaseInspector(repository: root).context(for: anomaly)
        let top = try #require(context.suspects.first)
        #expect(top.typeName == "Margin" && top.name == "check" && top.rank == 0.5)
        #expect(context.excerpts.first?.text.contains("not enough margin") == true)
    }
}
