import Foundation

/// One step of the agent's work, as an append-only JSON line.
public struct DecisionEntry: Sendable, Hashable, Codable {
    /// What step this records.
    public enum Step: String, Sendable, Hashable, Codable {
        /// An anomaly was detected.
        case anomaly
        /// Code context was gathered.
        case context
        /// The LLM was asked (prompt hash, tokens).
        case llm
        /// A proposal was read from the reply.
        case proposal
        /// The proposal was validated in a workspace.
        case validation
        /// The final decision about the anomaly.
        case decision
    }

    /// What was decided.
    public enum Outcome: String, Sendable, Hashable, Codable {
        /// The patch was applied to the repository.
        case applied
        /// The patch was committed to a review branch.
        case branched
        /// Validated, but `applyChanges` is off.
        case validatedNotApplied = "validated_not_applied"
        /// Refused (reason in `detail`).
        case rejected
        /// The fingerprint was handled before.
        case skippedDuplicate = "skipped_duplicate"
        /// Confidence below the threshold.
        case belowThreshold = "below_threshold"
    }

    /// ISO 8601 time.
    public var time: String
    /// The step.
    public var step: Step
    /// The anomaly's fingerprint hash.
    public var fingerprint: String
    /// The outcome, for `decision` entries.
    public var outcome: Outcome?
    /// Step details (sizes, hashes, tokens, commands, reasons), as text.
    public var detail: [String: String]

    /// Creates an entry stamped now.
    public init(step: Step, fingerprint: String, outcome: Outcome? = nil, detail: [String: String] = [:], time: Date = Date()) {
        self.time = time.formatted(.iso8601)
        self.step = step
        self.fingerprint = fingerprint
        self.outcome = outcome
        self.detail = detail
    }
}

/// The append-only JSON-lines record of every step the agent takes.
public struct DecisionLog: Sendable {
    /// The file.
    public let path: String

    /// A log at `path` (created on the first append).
    public init(path: String) { self.path = path }

    /// Appends one entry (one line, sorted keys, flushed before returning).
    /// - Throws: `AgentError(.config)` when the file cannot be written.
    public func append(_ entry: DecisionEntry) throws(AgentError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            var line = try encoder.encode(entry)
            line.append(UInt8(ascii: "\n"))
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw AgentError(.config, "cannot append to the decision log \(path): \(error)")
        }
    }

    /// Every entry; unreadable lines are skipped.
    public func entries() -> [DecisionEntry] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let decoder = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? decoder.decode(DecisionEntry.self, from: Data($0.utf8)) }
    }

    /// Fingerprints that reached a decision (a restart does not redo them).
    public func decidedFingerprints() -> Set<String> {
        Set(entries().filter { $0.step == .decision }.map(\.fingerprint))
    }

    /// The entries as a table for people (`crocbot agent review`).
    public static func table(_ entries: [DecisionEntry]) -> String {
        var rows: [[String]] = [["time", "fingerprint", "step", "outcome", "detail"]]
        for e in entries {
            let detail = e.detail.keys.sorted().map { k in
                let v = e.detail[k]!.replacingOccurrences(of: "\n", with: " ")
                return "\(k)=\(v.count > 60 ? String(v.prefix(57)) + "..." : v)"
            }.joined(separator: " ")
            rows.append([String(e.time.prefix(19)), String(e.fingerprint.prefix(16)), e.step.rawValue, e.outcome?.rawValue ?? "", detail])
        }
        let widths = (0..<4).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { r in
            (0..<4).map { r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") + "  " + r[4]
        }.joined(separator: "\n")
    }
}
