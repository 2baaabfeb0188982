import Foundation

/// A fix the LLM proposed: a unified diff, why, and how sure it is.
public struct Proposal: Sendable, Hashable {
    /// The diff as written.
    public var diff: String
    /// The parsed patches.
    public var patches: [FilePatch]
    /// The reasoning, for people.
    public var rationale: String
    /// Confidence in [0, 1].
    public var confidence: Double

    /// Reads a reply: a JSON object `{"diff", "rationale", "confidence"}`,
    /// possibly fenced or wrapped in prose; failing that, a fenced diff
    /// block with `confidence: 0.x` somewhere in the text.
    /// - Throws: `AgentError(.proposal)` saying what is missing or wrong.
    public static func parse(_ reply: String) throws(AgentError) -> Proposal {
        var diff: String?
        var rationale = ""
        var confidence: Double?
        if let object = jsonObject(in: reply) {
            diff = object["diff"] as? String ?? object["patch"] as? String
            rationale = object["rationale"] as? String ?? object["explanation"] as? String ?? ""
            confidence = (object["confidence"] as? NSNumber)?.doubleValue ?? (object["confidence"] as? String).flatMap(Double.init)
        }
        if diff == nil, let fenced = fencedBlock(in: reply, languages: ["diff", "patch"]) { diff = fenced }
        if confidence == nil, let range = reply.range(of: #"confidence["']?\s*[:=]\s*([0-9.]+)"#, options: [.regularExpression, .caseInsensitive]) {
            let digits = reply[range].split(whereSeparator: { $0 == ":" || $0 == "=" }).last.map { $0.trimmingCharacters(in: .whitespaces) }
            confidence = digits.flatMap(Double.init)
        }
        guard let diff, !diff.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw AgentError(.proposal, "the reply has no diff (expected JSON with \"diff\", \"rationale\", \"confidence\")")
        }
        guard let confidence else { throw AgentError(.proposal, "the reply has no confidence") }
        guard confidence.isFinite, (0...1).contains(confidence) else { throw AgentError(.proposal, "confidence \(confidence) is outside [0, 1]") }
        let patches: [FilePatch]
        do {
            patches = try UnifiedDiff.parse(diff)
        } catch {
            throw AgentError(.proposal, "the diff is not a unified diff: \(error)")
        }
        return Proposal(diff: diff, patches: patches, rationale: rationale, confidence: confidence)
    }

    /// The first JSON object in the text that parses (fences and prose around it are fine).
    static func jsonObject(in text: String) -> [String: Any]? {
        var candidates: [Substring] = []
        if let fenced = fencedBlock(in: text, languages: ["json", ""]) { candidates.append(fenced[...]) }
        if let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close { candidates.append(text[open...close]) }
        for c in candidates {
            if let o = try? JSONSerialization.jsonObject(with: Data(c.utf8)) as? [String: Any] { return o }
        }
        return nil
    }

    /// The body of the first ``` block whose language is one of `languages` ("" = none).
    static func fencedBlock(in text: String, languages: [String]) -> String? {
        let lines = text.components(separatedBy: "\n")
        var i = 0
        while i < lines.count {
            let line = lines[i].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```"), languages.contains(String(line.dropFirst(3)).lowercased()) {
                var body: [String] = []
                var j = i + 1
                while j < lines.count, !lines[j].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                    body.append(lines[j])
                    j += 1
                }
                if j < lines.count { return body.joined(separator: "\n") + "\n" }
            }
            i += 1
        }
        return nil
    }
}

/// Builds the conversation that asks for a fix.
public enum PromptBuilder {
    /// The system message: the rules of the answer.
    public static let system = """
        You fix bugs in a Swift codebase. You get an anomaly seen in production logs or metrics, \
        its evidence, and the relevant source code. Answer with ONE JSON object and nothing else:
        {"diff": "<a unified diff against the repository, paths relative to its root, with ---/+++ headers and @@ hunks>", \
        "rationale": "<why this fixes the cause, for a reviewer>", "confidence": <a number in [0, 1]>}
        Change as little as possible. Never touch .git, CI files, or files outside the repository. \
        The patch will be compiled and tested before anyone applies it.
        """

    /// The conversation for one anomaly (and, on a retry, the previous attempt and why it failed).
    public static func messages(anomaly: Anomaly, context: CodeContext, previousAttempts: [(diff: String, failure: String)] = []) -> [ChatMessage] {
        var user = "Anomaly (\(anomaly.kind.rawValue)): \(anomaly.summary)\n\n"
        if !anomaly.logEvidence.isEmpty {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            user += "Log evidence (JSON lines):\n"
            for r in anomaly.logEvidence.prefix(5) {
                if let d = try? encoder.encode(r) { user += String(decoding: d, as: UTF8.self) + "\n" }
            }
            user += "\n"
        }
        if !anomaly.metricEvidence.isEmpty {
            user += "Metric evidence:\n" + anomaly.metricEvidence.prefix(20).map { "\($0.series) \($0.value)" }.joined(separator: "\n") + "\n\n"
        }
        user += "Source code:\n" + context.text
        var messages = [ChatMessage(role: "system", content: system), ChatMessage(role: "user", content: user)]
        for attempt in previousAttempts {
            messages.append(ChatMessage(role: "assistant", content: attempt.diff))
            messages.append(
                ChatMessage(role: "user", content: "That patch failed validation:\n\(attempt.failure)\nPropose a corrected patch, same JSON format.")
            )
        }
        return messages
    }
}
