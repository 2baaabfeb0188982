import CrocTestSupport
import Foundation
import Testing

@testable import CrocAgent

@Suite("Seeded-bug benchmark")
struct SeededBugTests {
    @Test("a known fix written as a patch between two texts applies back through the applier, also with changes at the edges")
    func betweenRoundTrip() throws {
        let base = (1...30).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let cases = [
            base.replacingOccurrences(of: "line 15\n", with: "line 15\nextra a\nextra b\n"),
            base.replacingOccurrences(of: "line 1\n", with: "first\n"),
            base.replacingOccurrences(of: "line 30\n", with: "last\nmore\n"),
            base.replacingOccurrences(of: "line 10\nline 11\n", with: ""),
        ]
        for changed in cases {
            let forward = FilePatch.between(base, changed, path: "A.swift")
            #expect(try PatchApplier().apply(forward, to: base) == changed)
            let back = FilePatch.between(changed, base, path: "A.swift")
            #expect(try PatchApplier().apply(back, to: changed) == base)
            // The text form parses to the same patch.
            let parsed = try UnifiedDiff.parse(back.unifiedText)
            #expect(try PatchApplier().apply(parsed[0], to: changed) == base)
        }
    }

    @Test(
        "a suite reads its bugs and evidence; thresholds come from the clean run; the detector finds each bug's anomaly; a bug whose find text is not unique is refused"
    )
    func suite() throws {
        let root = testTemporaryURL().appendingPathComponent("crocagent-bugs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        func write(_ path: String, _ text: String) throws {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        try write(
            "bugs.json",
            """
            {"bugs": [
              {"id": "slow", "kind": "latency", "title": "slow", "file": "Sources/A.swift", "type": null, "function": "f",
               "find": "x\\n", "replace": "y\\n", "wrong": null, "scenario": "paper", "args": []},
              {"id": "refused", "kind": "counter", "title": "refused", "file": "Sources/A.swift", "type": null, "function": "f",
               "find": "x\\n", "replace": "y\\n", "wrong": {"find": "y", "replace": "z"}, "scenario": "paper3", "args": []}
            ]}
            """
        )
        func histogram(_ slowCount: Int) -> String {
            """
            app_seconds_bucket{le="0.001"} \(100 - slowCount)
            app_seconds_bucket{le="0.1"} 100
            app_seconds_bucket{le="+Inf"} 100
            app_seconds_sum 1
            app_seconds_count 100

            """
        }
        try write("evidence/clean/metrics.prom", histogram(0))
        try write("evidence/slow/metrics.prom", histogram(50))
        try write("evidence/slow/crocbot.jsonl", "")
        for (k, v) in [("metrics-1.prom", 1), ("metrics-2.prom", 5), ("metrics.prom", 9)] {
            try write("evidence/refused/\(k)", "app_orders_refused_total \(v)\n")
        }
        let suite = try SeededBugSuite(folder: root)
        #expect(suite.bugs.map(\.id) == ["slow", "refused"] && suite.bugs[1].wrong?.replace == "z")
        let threshold = try #require(suite.thresholds()["app_seconds"])
        #expect(threshold > 0.000_05 && threshold < 0.01)
        #expect(suite.anomalies(suite.bugs[0]).map(\.kind) == [.latencySpike])
        #expect(suite.anomalies(suite.bugs[1]).map(\.kind) == [.risingFailures])
        #expect(suite.bugs[0].buggy("a\nx\nb\n") == "a\ny\nb\n")
        #expect(suite.bugs[0].buggy("x\nx\n") == nil)
        #expect(SeededBug.firstChangedLine("a\nx\nb\n", "a\ny\nb\n") == 2)
        #expect(throws: AgentError.self) { try SeededBugSuite(folder: root.appendingPathComponent("nope")) }
    }
}
