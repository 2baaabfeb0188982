import Foundation

/// One seeded bug of the agent's benchmark (`Benchmarks/AgentBugs/bugs.json`): a
/// find/replace in a CrocBot source, and the evidence that running it produced.
public struct SeededBug: Sendable, Hashable, Decodable {
    /// A change that turns the bug's code into something else.
    public struct Edit: Sendable, Hashable, Decodable {
        /// Text that must occur exactly once.
        public var find: String
        /// What replaces it.
        public var replace: String
    }

    /// A short name (`engine-process-alloc`).
    public var id: String
    /// `latency`, `error` or `counter`: what kind of evidence it leaves.
    public var kind: String
    /// One line for people.
    public var title: String
    /// The repository-relative file the bug is in.
    public var file: String
    /// The type whose function is faulty.
    public var type: String?
    /// The faulty function's name.
    public var function: String
    /// The correct code, which must occur exactly once in `file`.
    public var find: String
    /// The buggy code that replaces it.
    public var replace: String
    /// Applied to the buggy text, a wrong fix (it does not build or does not pass the tests).
    public var wrong: Edit?
    /// `paper` (one replay) or `paper3` (three, so a counter is seen rising).
    public var scenario: String
    /// Extra `crocbot live` arguments of the scenario.
    public var args: [String]

    /// The file's text with the bug in, or nil when `find` does not occur exactly once.
    public func buggy(_ correct: String) -> String? {
        guard correct.components(separatedBy: find).count == 2 else { return nil }
        return correct.replacingOccurrences(of: find, with: replace)
    }

    /// The first line (1-based) where `buggy` differs from `correct`.
    public static func firstChangedLine(_ correct: String, _ buggy: String) -> Int {
        let a = correct.split(separator: "\n", omittingEmptySubsequences: false)
        let b = buggy.split(separator: "\n", omittingEmptySubsequences: false)
        var i = 0
        while i < a.count, i < b.count, a[i] == b[i] { i += 1 }
        return i + 1
    }
}

/// The benchmark's bugs and their evidence on disk.
public struct SeededBugSuite: Sendable {
    /// The folder (`Benchmarks/AgentBugs`).
    public var folder: URL
    /// The bugs, in file order.
    public var bugs: [SeededBug]

    /// Reads `bugs.json` in `folder`.
    /// - Throws: `AgentError(.config)` naming the file when it is missing or malformed.
    public init(folder: URL) throws(AgentError) {
        struct File: Decodable { var bugs: [SeededBug] }
        let url = folder.appendingPathComponent("bugs.json")
        guard let data = try? Data(contentsOf: url) else { throw AgentError(.config, "\(url.path): cannot read") }
        do {
            bugs = try JSONDecoder().decode(File.self, from: data).bugs
        } catch {
            throw AgentError(.config, "\(url.path): \(error)")
        }
        self.folder = folder
    }

    /// The JSON log records a bug's run produced.
    public func logs(_ bug: SeededBug) -> [LogRecord] {
        let path = folder.appendingPathComponent("evidence/\(bug.id)/crocbot.jsonl").path
        return LogMonitor(path: path).poll()
    }

    /// A bug's metrics snapshots in the order they were taken (`metrics-1.prom`, `metrics-2.prom`, `metrics.prom`).
    public func snapshots(_ id: String) -> [[MetricSample]] {
        ["metrics-1.prom", "metrics-2.prom", "metrics.prom"].compactMap { name in
            (try? String(contentsOf: folder.appendingPathComponent("evidence/\(id)/\(name)"), encoding: .utf8)).map(PrometheusText.parse)
        }
    }

    /// Latency thresholds from the clean run: `factor` × each histogram's p99 (at least `floor` seconds).
    public func thresholds(factor: Double = 3, floor: Double = 0.000_01) -> [String: Double] {
        guard let clean = snapshots("clean").last else { return [:] }
        var out: [String: Double] = [:]
        for name in Set(clean.filter { $0.name.hasSuffix("_bucket") }.map { String($0.name.dropLast("_bucket".count)) }) {
            if let p99 = PrometheusText.quantile(0.99, histogram: name, in: clean) { out[name] = max(floor, p99 * factor) }
        }
        return out
    }

    /// The anomalies a detector with the clean run's thresholds finds in a bug's evidence
    /// (a failure counter counts as rising after two rises in a row).
    public func anomalies(_ bug: SeededBug) -> [Anomaly] {
        var detector = AnomalyDetector(settings: .init(latencyThresholds: thresholds(), risingSnapshots: 2))
        var out: [Anomaly] = []
        for snapshot in snapshots(bug.id) { out += detector.observe(metrics: snapshot) }
        out += detector.observe(logs: logs(bug))
        return out
    }
}

/// How well the agent localised one bug.
public struct LocalisationOutcome: Sendable, Hashable, Codable {
    /// The bug.
    public var bug: String
    /// Anomalies found in its evidence.
    public var anomalies: Int
    /// Whether an excerpt of the context covers the bug's first changed line.
    public var inContext: Bool
    /// The faulty function's place among the ranked suspects (1-based), if there.
    public var suspectRank: Int?
    /// Characters of the context that was (or would be) sent.
    public var contextCharacters: Int
    /// The anomaly used (the first whose context holds the bug, else the first).
    public var anomaly: String?
}

extension SeededBugSuite {
    /// Localises `bug` in `repository` (which must hold the bug): every anomaly's context
    /// is built; the bug is found when an excerpt of its file covers its first changed line.
    public func localise(_ bug: SeededBug, in repository: URL, budget: Int = 24_000) -> LocalisationOutcome {
        let anomalies = anomalies(bug)
        let inspector = CodebaseInspector(repository: repository, budget: budget)
        let buggy = (try? String(contentsOf: repository.appendingPathComponent(bug.file), encoding: .utf8)) ?? ""
        let correct = buggy.replacingOccurrences(of: bug.replace, with: bug.find)
        let line = SeededBug.firstChangedLine(correct, buggy)
        var first: LocalisationOutcome?
        for a in anomalies {
            let context = inspector.context(for: a)
            let covers = context.excerpts.contains { e in
                e.path == bug.file && e.firstLine <= line
                    && line < e.firstLine + e.text.split(separator: "\n", omittingEmptySubsequences: false).count
            }
            let rank = context.suspects.firstIndex { $0.path == bug.file && $0.firstLine <= line && line <= $0.lastLine }.map { $0 + 1 }
            let outcome = LocalisationOutcome(
                bug: bug.id,
                anomalies: anomalies.count,
                inContext: covers,
                suspectRank: rank,
                contextCharacters: context.size,
                anomaly: a.summary
            )
            if covers { return outcome }
            if first == nil { first = outcome }
        }
        return first ?? LocalisationOutcome(bug: bug.id, anomalies: 0, inContext: false, suspectRank: nil, contextCharacters: 0, anomaly: nil)
    }
}

extension FilePatch {
    /// The patch that turns `old` into `new` (one hunk spanning the changed lines, with
    /// `context` unchanged lines each side): how the benchmark writes a known fix.
    public static func between(_ old: String, _ new: String, path: String, context: Int = 3) -> FilePatch {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var head = 0
        while head < a.count, head < b.count, a[head] == b[head] { head += 1 }
        var tail = 0
        while tail < a.count - head, tail < b.count - head, a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
        let start = max(0, head - context)
        let endA = min(a.count, a.count - tail + context)
        let endB = min(b.count, b.count - tail + context)
        var lines: [HunkLine] = a[start..<head].map { .context($0) }
        lines += a[head..<(a.count - tail)].map { .remove($0) }
        lines += b[head..<(b.count - tail)].map { .add($0) }
        lines += a[(a.count - tail)..<endA].map { .context($0) }
        let header = "@@ -\(start + 1),\(endA - start) +\(start + 1),\(endB - start) @@"
        return FilePatch(oldPath: path, newPath: path, hunks: [Hunk(oldStart: start + 1, newStart: start + 1, header: header, lines: lines)])
    }

    /// The patch as unified-diff text (`--- a/path`, `+++ b/path`, hunks).
    public var unifiedText: String {
        var out = "--- " + (oldPath.map { "a/" + $0 } ?? "/dev/null") + "\n+++ " + (newPath.map { "b/" + $0 } ?? "/dev/null") + "\n"
        for h in hunks {
            out += h.header + "\n"
            for l in h.lines {
                switch l {
                case .context(let s): out += " " + s + "\n"
                case .remove(let s): out += "-" + s + "\n"
                case .add(let s): out += "+" + s + "\n"
                }
            }
        }
        return out
    }
}
