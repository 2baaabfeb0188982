import CrocTestSupport
import Foundation
import Testing

@testable import CrocAgent

func logLine(
    _ level: String,
    _ message: String,
    error: String? = nil,
    time: String = "2026-11-25T10:00:00.000Z",
    file: String = "CrocRuntime/LiveLoop.swift",
    line: Int = 42
) -> String {
    let meta = error.map { #"{"error":"\#($0)","client_order_id":"cb-mwvz\#(Int.random(in: 1000...9999))x"}"# } ?? "{}"
    return
        #"{"time":"\#(time)","level":"\#(level)","label":"crocbot.live","message":"\#(message)","metadata":\#(meta),"file":"\#(file)","line":\#(line),"function":"handle(_:)"}"#
}

@Suite("Log monitor")
struct LogMonitorTests {
    func temp() -> String { testTemporaryURL().appendingPathComponent("crocagent-log-\(UUID().uuidString).jsonl").path }

    func append(_ path: String, _ text: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
        try h.close()
    }

    @Test("reads incrementally, waits for unfinished lines, skips and counts malformed ones, survives truncation and rotation")
    func tail() throws {
        let path = temp()
        let m = LogMonitor(path: path)
        #expect(m.poll().isEmpty)  // no file yet
        try append(path, logLine("info", "a") + "\n" + "not json\n" + logLine("error", "b"))
        #expect(m.poll().map(\.message) == ["a"])  // "b" has no newline yet
        #expect(m.malformedLines == 1)
        try append(path, "\n" + logLine("info", "c") + "\n")
        #expect(m.poll().map(\.message) == ["b", "c"])
        #expect(m.poll().isEmpty)
        // Truncation: the file restarts.
        try Data((logLine("info", "d") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        #expect(m.poll().map(\.message) == ["d"])
        // Rotation: a new file (new inode) at the path, bigger than the offset.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try append(path, logLine("info", "e") + "\n" + logLine("info", "f") + "\n" + logLine("info", "g") + "\n")
        #expect(m.poll().map(\.message) == ["e", "f", "g"])
        let r = LogRecord.parse(logLine("error", "x", error: "timeout")[...])
        #expect(r?.file == "CrocRuntime/LiveLoop.swift" && r?.line == 42 && r?.metadata["error"] == "timeout" && r?.isError == true)
    }
}

@Suite("Anomalies")
struct AnomalyTests {
    @Test("fingerprints ignore numbers, ids and timestamps, but not the message or the location")
    func fingerprints() {
        let a = Fingerprint(
            kind: "repeated_error",
            errorType: "timeout",
            message: "order cb-mwvz1234x failed after 3 attempts at 2026-11-25T10:00:01Z (1.5 s)",
            location: "A.swift:f"
        )
        let b = Fingerprint(
            kind: "repeated_error",
            errorType: "timeout",
            message: "order cb-q9zz8765y failed after 12 attempts at 2026-11-26T11:30:00Z (0.25 s)",
            location: "A.swift:f"
        )
        let c = Fingerprint(
            kind: "repeated_error",
            errorType: "timeout",
            message: "order cb-mwvz1234x rejected after 3 attempts at 2026-11-25T10:00:01Z (1.5 s)",
            location: "A.swift:f"
        )
        let d = Fingerprint(
            kind: "repeated_error",
            errorType: "timeout",
            message: "order cb-mwvz1234x failed after 3 attempts at 2026-11-25T10:00:01Z (1.5 s)",
            location: "B.swift:f"
        )
        #expect(a == b && a.hash == b.hash)
        #expect(a != c && a != d)
        #expect(a.hash.count == 16)
        #expect(Fingerprint.normalise("id 550e8400-e29b-41d4-a716-446655440000 at 12.5") == "id <id> at <n>")
    }

    @Test("the same error N times in the window is one anomaly with its evidence and location")
    func repeated() {
        var d = AnomalyDetector(settings: .init(repeatThreshold: 3, repeatWindow: .seconds(60)))
        let lines = (0..<5).map { i in
            logLine("error", "order rejected", error: "insufficient cash: requires \(100 + i)", time: "2026-11-25T10:00:0\(i).000Z")
        }
        let records = lines.compactMap { LogRecord.parse($0[...]) }
        let first = d.observe(logs: Array(records[0..<2]))
        #expect(first.isEmpty)
        let found = d.observe(logs: Array(records[2...]))
        #expect(found.count == 1)
        #expect(found.first?.kind == .repeatedError)
        #expect(found.first?.logEvidence.count == 5)
        #expect(found.first?.locations.first?.file == "CrocRuntime/LiveLoop.swift")
        // Spread over more than the window: no anomaly.
        var spread = AnomalyDetector(settings: .init(repeatThreshold: 3, repeatWindow: .seconds(60)))
        let slow = (0..<3).compactMap { i in LogRecord.parse(logLine("error", "boom", error: "x", time: "2026-11-25T1\(i):00:00.000Z")[...]) }
        #expect(spread.observe(logs: slow).isEmpty)
    }

    @Test("a latency spike in a metrics snapshot is an anomaly with the metric as evidence")
    func latency() {
        let snapshot = """
            # TYPE crocbot_tick_to_order_seconds histogram
            crocbot_tick_to_order_seconds_bucket{le="1e-05"} 10
            crocbot_tick_to_order_seconds_bucket{le="5e-05"} 20
            crocbot_tick_to_order_seconds_bucket{le="0.01"} 30
            crocbot_tick_to_order_seconds_bucket{le="0.5"} 100
            crocbot_tick_to_order_seconds_bucket{le="+Inf"} 100
            crocbot_tick_to_order_seconds_sum 12.5
            crocbot_tick_to_order_seconds_count 100
            crocbot_orders_total{event="filled"} 7
            """
        let samples = PrometheusText.parse(snapshot)
        #expect(samples.count == 8)
        let p99 = PrometheusText.quantile(0.99, histogram: "crocbot_tick_to_order_seconds", in: samples)
        #expect(p99.map { abs($0 - (0.01 + 0.49 * 69 / 70)) < 1e-12 } == true)
        var d = AnomalyDetector(settings: .init(latencyThresholds: ["crocbot_tick_to_order_seconds": 0.001]))
        let found = d.observe(metrics: samples)
        #expect(found.count == 1)
        #expect(found.first?.kind == .latencySpike)
        #expect(found.first?.metricEvidence.contains { $0.name == "crocbot_tick_to_order_seconds_bucket" && $0.labels["le"] == "0.5" } == true)
        #expect(found.first?.summary.contains("crocbot_tick_to_order_seconds") == true)
    }

    @Test("a failure counter rising snapshot after snapshot is an anomaly")
    func rising() {
        var d = AnomalyDetector(settings: .init(risingSnapshots: 3))
        var found: [Anomaly] = []
        for v in [1, 2, 3, 4, 5] {
            found += d.observe(metrics: PrometheusText.parse("crocbot_strategy_errors_total \(v)\ncrocbot_bars_total{kind=\"received\"} \(v * 100)"))
        }
        #expect(found.map(\.kind) == [.risingFailures])
        #expect(found.first?.metricEvidence.first?.name == "crocbot_strategy_errors_total")
    }
}

@Suite("Decision log")
struct DecisionLogTests {
    @Test("appends JSON lines, reads them back, remembers decided fingerprints, prints a table")
    func roundTrip() throws {
        let path = testTemporaryURL().appendingPathComponent("crocagent-\(UUID().uuidString)/decisions.jsonl").path
        let log = DecisionLog(path: path)
        try log.append(DecisionEntry(step: .anomaly, fingerprint: "abc", detail: ["kind": "repeated_error"]))
        try log.append(DecisionEntry(step: .decision, fingerprint: "abc", outcome: .rejected, detail: ["reason": "patch touches .git/config"]))
        try log.append(DecisionEntry(step: .anomaly, fingerprint: "def"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 3)
        #expect(log.entries().count == 3)
        #expect(log.decidedFingerprints() == ["abc"])
        let table = DecisionLog.table(log.entries())
        #expect(table.contains("rejected") && table.contains("reason=patch touches .git/config"))
        #expect(table.split(separator: "\n").count == 4)
    }
}
