import Foundation
internal import SwiftParser
internal import SwiftSyntax

/// A function the evidence points at, with why and how strongly (lower `rank` first).
public struct Suspect: Sendable, Hashable {
    /// Repository-relative path.
    public var path: String
    /// The function's name (`process`, `init`).
    public var name: String
    /// The type or extension it is declared in, if any.
    public var typeName: String?
    /// First line of the declaration (its doc comment included), 1-based.
    public var firstLine: Int
    /// Last line of the declaration.
    public var lastLine: Int
    /// Why it is a suspect (`records crocbot_tick_to_order_seconds`, `called on the measured path (depth 2)`).
    public var reason: String
    /// Lower is more suspect: 0 the logged location, 1 where a metric is recorded, 2 and 3
    /// the functions called on the measured path at depth 1 and 2; being changed by one of the newest commits on the path subtracts 3.
    public var rank: Double
    /// The most recent commits that changed it (`sha subject`), newest first.
    public var recentCommits: [String] = []

    /// `Sources/X.swift:12 name`.
    public var label: String { "\(path):\(firstLine) \(typeName.map { $0 + "." } ?? "")\(name)" }
}

/// Agentless-style localisation, in steps and from evidence: the files and then the
/// functions that the anomaly's evidence points at, ranked.
///
/// - **Logs**: the function at each logged source location; the functions whose string
///   literals build the logged error text; the functions called before the log line in
///   the logging function (depth 1), and what those call (depth 2).
/// - **Metrics**: the property a metric is created into (`tickToOrder = Timer(label:
///   "crocbot_tick_to_order_seconds")`), the functions that record into it, and the path
///   it measures: for a timer the code between its start instant (`let t = .now`, followed
///   up through callers when the instant is a parameter) and its record, with the
///   functions called there followed through the repository (depth 2), resolved by name
///   and, where a stored property or parameter declares the receiver's type, by type.
/// - **Regressions**: the top suspects' recent commits (`git log -L` over the last
///   `recentCommitWindow` commits) lift them, and their diffs join the context.
///
/// Files under `excluded` (the agent's own target and the tests) are never evidence
/// for a name: they may mention a metric or a message without producing it.
struct Localiser {
    let repository: URL
    let files: [String]
    let read: (String) -> String?
    var excluded: [String]
    var maxAmbiguity = 6
    var maxDispatch = 30
    var maxSuspects = 120
    var maxDepth = 4
    var recentCommitWindow = 30

    // MARK: Index

    /// A function or initializer of a file.
    struct Function {
        var path: String
        var name: String
        var typeName: String?
        var firstLine: Int
        var lastLine: Int
        var bodyFirstLine: Int
        var parameters: [String]
        var calls: [Call]
        var locals: [Local]
    }

    /// A call inside a function body.
    struct Call {
        var name: String
        /// The receiver's last name (`engine` for `self.engine.process(bar)`, `tickToOrder` for `metrics.tickToOrder.record(x)`).
        var receiver: String?
        var line: Int
        /// Names the arguments refer to.
        var argumentNames: [String]
    }

    /// A local `let`/`var` with an initial value.
    struct Local {
        var name: String
        var line: Int
        var names: [String]
        var readsClock: Bool
    }

    /// Names found by one pass over each searchable file: who declares a function
    /// (`func name`, `var name`, `init`), who calls it (`name(`), and what each type
    /// declares it conforms to — so a lookup never scans every file again.
    struct NameIndex {
        var declaring: [String: [String]] = [:]
        var calling: [String: [String]] = [:]
        var inherits: [String: Set<String>] = [:]

        init(paths: [String], read: (String) -> String?) {
            for path in paths {
                guard let text = read(path) else { continue }
                let bytes = Array(text.utf8)
                var declared: Set<String> = []
                var called: Set<String> = []
                var i = 0
                var previous = ""
                var beforePrevious = ""
                func isIdent(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 95 }
                while i < bytes.count {
                    guard isIdent(bytes[i]) else {
                        i += 1
                        continue
                    }
                    var j = i
                    while j < bytes.count, isIdent(bytes[j]) { j += 1 }
                    let word = String(decoding: bytes[i..<j], as: UTF8.self)
                    if previous == "func" || previous == "var" { declared.insert(word) }
                    if word == "init" { declared.insert("init") }
                    if j < bytes.count, bytes[j] == 40 { called.insert(word) }  // "("
                    if ["struct", "class", "actor", "enum", "extension", "protocol"].contains(previous) {
                        // `struct X: A, B {` — the names up to the brace.
                        var k = j
                        while k < bytes.count, bytes[k] == 32 { k += 1 }
                        if k < bytes.count, bytes[k] == 58 {  // ":"
                            var end = k
                            while end < bytes.count, bytes[end] != 123, bytes[end] != 10 { end += 1 }  // "{", newline
                            let clause = String(decoding: bytes[(k + 1)..<end], as: UTF8.self)
                            let names = clause.split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init)
                            inherits[word, default: []].formUnion(names)
                        }
                    }
                    beforePrevious = previous
                    previous = word
                    i = j
                }
                _ = beforePrevious
                for name in declared { declaring[name, default: []].append(path) }
                for name in called { calling[name, default: []].append(path) }
            }
        }
    }

    final class Cache {
        var index: NameIndex?
        var functions: [String: [Function]] = [:]
        var declarations: [String: [Function]] = [:]
        var declaredTypes: [String: String?] = [:]
        var callers: [String: [Function]] = [:]
    }
    let cache = Cache()

    /// Searchable Swift sources: under `Sources/`, not excluded.
    var searchable: [String] {
        files.filter { $0.hasSuffix(".swift") && $0.hasPrefix("Sources/") && !excluded.contains(where: $0.hasPrefix) }
    }

    /// The name index (built on first use).
    var index: NameIndex {
        if let i = cache.index { return i }
        let i = NameIndex(paths: searchable, read: read)
        cache.index = i
        return i
    }

    /// The functions of a file (parsed once).
    func functions(in path: String) -> [Function] {
        if let f = cache.functions[path] { return f }
        guard let text = read(path) else { return [] }
        let tree = Parser.parse(source: text)
        let collector = FunctionCollector(path: path, converter: SourceLocationConverter(fileName: path, tree: tree))
        collector.walk(tree)
        cache.functions[path] = collector.functions
        return collector.functions
    }

    /// The innermost function around a line.
    func function(in path: String, line: Int) -> Function? {
        functions(in: path).filter { $0.firstLine <= line && line <= $0.lastLine }.min { ($0.lastLine - $0.firstLine) < ($1.lastLine - $1.firstLine) }
    }

    /// Declarations named `name` in the searchable sources.
    func declarations(named name: String) -> [Function] {
        if let known = cache.declarations[name] { return known }
        var out: [Function] = []
        for path in index.declaring[name] ?? [] {
            out += functions(in: path).filter { $0.name == name }
        }
        cache.declarations[name] = out
        return out
    }

    /// The type a receiver is declared with in `path` (`let engine: TradingEngine`, `venue: PaperVenue?`).
    func declaredType(of receiver: String, in path: String) -> String? {
        let key = path + "\u{1}" + receiver
        if let known = cache.declaredTypes[key] { return known }
        let found = findDeclaredType(of: receiver, in: path)
        cache.declaredTypes[key] = .some(found)
        return found
    }

    private func findDeclaredType(of receiver: String, in path: String) -> String? {
        guard let text = read(path) else { return nil }
        // `engine: TradingEngine`, `client: any ExecutionClient`, `_ strategy: inout S`, `lanes: [SimulatedExchange]`.
        let pattern = "\\b\(NSRegularExpression.escapedPattern(for: receiver))\\s*:\\s*(?:inout\\s+|any\\s+|some\\s+)*\\[?([A-Z][A-Za-z0-9_]*)"
        guard let re = try? NSRegularExpression(pattern: pattern),
            let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
            let r = Range(m.range(at: 1), in: text)
        else { return nil }
        return String(text[r])
    }

    /// Whether `typeName` is declared to conform to the protocol `proto` (`struct X: Proto`,
    /// `extension X: Proto`), so that a call on an `any Proto` may reach it.
    func conforms(_ typeName: String?, to proto: String) -> Bool {
        guard let typeName else { return false }
        let key = "conforms\u{1}" + typeName + "\u{1}" + proto
        if let known = cache.declaredTypes[key] { return known != nil }
        let hit = index.inherits[typeName]?.contains(proto) ?? false
        cache.declaredTypes[key] = hit ? .some(proto) : .some(nil)
        return hit
    }

    /// The repository functions a call may reach: the receiver's declared type's methods;
    /// for a protocol, its conformers'; for a generic parameter (`inout S`), every method of
    /// that name up to `maxDispatch`; for an unknown receiver, up to `maxAmbiguity`.
    func resolve(_ call: Call, from caller: Function) -> [Function] {
        let defs = declarations(named: call.name).filter { !($0.path == caller.path && $0.firstLine == caller.firstLine) }
        guard !defs.isEmpty else { return [] }
        if let receiver = call.receiver, receiver != "self", let type = declaredType(of: receiver, in: caller.path) {
            let typed = defs.filter { $0.typeName == type }
            if !typed.isEmpty { return typed }
            let conforming = defs.filter { conforms($0.typeName, to: type) }
            if !conforming.isEmpty { return conforming.count <= maxDispatch ? conforming : [] }
            // A generic parameter (one or two capitals) dispatches to any implementation;
            // another type with no such method here is a library's (Logger.error).
            return type.count <= 2 && defs.count <= maxDispatch ? defs : []
        }
        if call.receiver == nil || call.receiver == "self" {
            let same = defs.filter { $0.typeName == caller.typeName }
            if !same.isEmpty { return same }
        }
        return defs.count <= maxAmbiguity ? defs : []
    }

    // MARK: Suspects

    /// The ranked suspects for an anomaly.
    func suspects(for anomaly: Anomaly, locations: [(path: String, line: Int)]) -> [Suspect] {
        var found: [String: Suspect] = [:]
        var order: [String] = []
        func add(_ f: Function, _ reason: String, _ rank: Double) {
            let key = "\(f.path):\(f.firstLine)"
            if let old = found[key] {
                if rank < old.rank {
                    found[key]!.rank = rank
                    found[key]!.reason = reason
                }
                return
            }
            guard found.count < maxSuspects else { return }
            found[key] = Suspect(
                path: f.path,
                name: f.name,
                typeName: f.typeName,
                firstLine: f.firstLine,
                lastLine: f.lastLine,
                reason: reason,
                rank: rank
            )
            order.append(key)
        }
        /// The calls of `f` between `from` and `to`, followed breadth-first through the
        /// repository up to `maxDepth` (rank `baseRank + depth - 1`, plus 0.01 per alternative).
        func expand(_ f: Function, from: Int, to: Int, baseRank: Double, what: String) {
            var frontier: [(Function, [Call], String)] = [(f, f.calls.filter { $0.line >= from && $0.line <= to }, f.name)]
            var seen: Set<String> = ["\(f.path):\(f.firstLine)"]
            for depth in 1...maxDepth {
                var next: [(Function, [Call], String)] = []
                for (g, calls, chain) in frontier {
                    for call in calls {
                        let targets = resolve(call, from: g)
                        for h in targets where seen.insert("\(h.path):\(h.firstLine)").inserted {
                            let how = depth == 1 ? "\(call.name) at \(g.path):\(call.line)" : "\(chain) → \(call.name)"
                            add(h, "called \(what) (depth \(depth): \(how))", baseRank + Double(depth - 1) + Double(min(targets.count, 30)) * 0.01)
                            next.append((h, h.calls, depth == 1 ? call.name : "\(chain) → \(call.name)"))
                        }
                    }
                }
                frontier = next
                if frontier.isEmpty || found.count >= maxSuspects { break }
            }
        }

        // Logs: the logged locations, then the callees before the log line.
        for (path, line) in locations {
            guard let f = function(in: path, line: line) else { continue }
            add(f, "logged at \(path):\(line)", 0)
            expand(f, from: f.bodyFirstLine, to: line, baseRank: 2, what: "before the log line in \(f.name)")
        }
        // Logs: where the logged error text is built.
        for (path, line) in literalSites(for: anomaly.logEvidence) {
            guard let f = function(in: path, line: line) else { continue }
            add(f, "builds the logged text at \(path):\(line)", 0.5)
            expand(f, from: f.bodyFirstLine, to: line, baseRank: 2.5, what: "before the logged text in \(f.name)")
        }
        // Metrics: where they are recorded, and the path a timer measures.
        for site in recordSites(for: anomaly.metricEvidence) {
            add(site.function, "records \(site.metric) at \(site.function.path):\(site.line)", 1)
            measuredPath(site.function, recordLine: site.line, call: site.call, depth: 0) { f, from, to, depth in
                if depth > 0 { add(f, "starts the \(site.metric) timer's path (caller \(depth))", 1.5) }
                expand(f, from: from, to: to, baseRank: 2, what: "on the path \(site.metric) measures")
            }
        }
        var out = order.compactMap { found[$0] }
        boostRecentlyChanged(&out)
        addNewestChanges(near: &out)
        return out.enumerated().sorted { ($0.element.rank, $0.offset) < ($1.element.rank, $1.offset) }.map(\.element)
    }

    /// A place where a metric is recorded.
    struct RecordSite {
        var metric: String
        var function: Function
        var line: Int
        var call: Call?
    }

    /// Whether `text` holds `needle`, bytes compared (`memchr` for the first byte, then
    /// `memcmp`: the generic `firstRange(of:)` on UTF-8 views was a fifth of a localisation's time).
    static func contains(_ text: String, _ needle: String) -> Bool {
        var text = text
        return text.withUTF8 { contains($0, needle) }
    }

    /// `contains(_:_:)` for a part of a text (a line of a file), read where it lies.
    static func contains(_ text: Substring, _ needle: String) -> Bool {
        var text = text
        return text.withUTF8 { contains($0, needle) }
    }

    private static func contains(_ t: UnsafeBufferPointer<UInt8>, _ needle: String) -> Bool {
        var needle = needle
        return needle.withUTF8 { n in
            guard let first = n.first else { return true }
            guard t.count >= n.count, let base = t.baseAddress else { return false }
            let last = t.count - n.count
            var i = 0
            while i <= last {
                guard let hit = memchr(base + i, Int32(first), last - i + 1) else { return false }
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(base + at, n.baseAddress!, n.count) == 0 { return true }
                i = at + 1
            }
            return false
        }
    }

    /// The functions that record the sampled metrics: calls on the property a metric is
    /// created into, or calls to a function that creates and records it in one go.
    func recordSites(for samples: [MetricSample]) -> [RecordSite] {
        var names: [String] = []
        for s in samples {
            var n = s.name
            for suffix in ["_bucket", "_count", "_sum"] where n.hasSuffix(suffix) { n = String(n.dropLast(suffix.count)) }
            if !names.contains(n) { names.append(n) }
        }
        var sites: [RecordSite] = []
        let property = try! NSRegularExpression(
            pattern: "([A-Za-z_][A-Za-z0-9_]*)\\s*=\\s*(?:Metrics\\.)?(?:Counter|Timer|Gauge|Recorder|Meter|FloatingPointCounter)\\("
        )
        for name in names {
            var properties: [String] = []
            var recorders: [String] = []
            for path in searchable {
                guard let text = read(path), Self.contains(text, "\"\(name)\"") else { continue }
                for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where Self.contains(line, "\"\(name)\"") && Self.contains(line, "label:") {
                    let s = String(line)
                    if let m = property.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)), let r = Range(m.range(at: 1), in: s) {
                        properties.append(String(s[r]))
                    } else if let f = function(in: path, line: i + 1), f.name != "init" {
                        // A factory (`func orders(_ event: String) -> Counter`): the properties assigned
                        // from it with the sampled label value (`rejected = orders("rejected")`).
                        let values = samples.filter { $0.name.hasPrefix(name) }.flatMap { $0.labels.values }
                        // The name escaped: an operator function (`static func * (…)`) would be a pattern
                        // of its own, and an invalid one.
                        guard
                            let assigned = try? NSRegularExpression(
                                pattern: "([A-Za-z_][A-Za-z0-9_]*)\\s*=\\s*\(NSRegularExpression.escapedPattern(for: f.name))\\(\"([^\"]*)\""
                            )
                        else { continue }
                        let hits = assigned.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { m -> String? in
                            guard let p = Range(m.range(at: 1), in: text), let v = Range(m.range(at: 2), in: text) else { return nil }
                            return values.isEmpty || values.contains(String(text[v])) ? String(text[p]) : nil
                        }
                        if !hits.isEmpty {
                            properties += hits
                        } else {
                            // `Counter(label: "x", ...).increment()` inside a helper: its callers record.
                            recorders.append(f.name)
                            sites.append(RecordSite(metric: name, function: f, line: i + 1, call: nil))
                        }
                    }
                }
            }
            for path in searchable {
                let callsRecorder = recorders.contains { index.calling[$0]?.contains(path) == true }
                guard let text = read(path), callsRecorder || properties.contains(where: { Self.contains(text, "." + $0) })
                else { continue }
                for f in functions(in: path) {
                    for call in f.calls where (call.receiver.map(properties.contains) ?? false) || recorders.contains(call.name) {
                        if !sites.contains(where: { $0.function.path == f.path && $0.line == call.line }) {
                            sites.append(RecordSite(metric: name, function: f, line: call.line, call: call))
                        }
                    }
                }
            }
        }
        return sites
    }

    /// Walks the path a record measures: in `f`, from the start instant (a local read from a
    /// clock) to `recordLine`; when the start is a parameter, on into each caller up to its call.
    func measuredPath(_ f: Function, recordLine: Int, call: Call?, depth: Int, visit: (Function, Int, Int, Int) -> Void) {
        var pending = call?.argumentNames ?? []
        var seen: Set<String> = []
        var start = f.bodyFirstLine
        var fromClock: [Int] = []
        var upstream: [String] = []
        while let name = pending.popLast() {
            guard seen.insert(name).inserted else { continue }
            if let local = f.locals.last(where: { $0.name == name && $0.line <= recordLine }) {
                pending += local.names
                if local.readsClock { fromClock.append(local.line) }
            } else if f.parameters.contains(name) {
                upstream.append(name)
            }
        }
        if upstream.isEmpty, let first = fromClock.min() { start = first }
        visit(f, start, recordLine, depth)
        guard depth < 3, !upstream.isEmpty else { return }
        let all = declarationsCalling(f.name).filter { !($0.path == f.path && $0.firstLine == f.firstLine) }
        let sameType = all.filter { $0.typeName == f.typeName }
        let callers = !sameType.isEmpty ? sameType : (all.count <= maxAmbiguity ? all : [])
        for caller in callers {
            for c in caller.calls where c.name == f.name {
                let passed = Call(name: c.name, receiver: nil, line: c.line, argumentNames: upstream.filter { c.argumentNames.contains($0) })
                measuredPath(caller, recordLine: c.line, call: passed, depth: depth + 1, visit: visit)
            }
        }
    }

    /// Functions of the searchable sources that call `name`.
    func declarationsCalling(_ name: String) -> [Function] {
        if let known = cache.callers[name] { return known }
        var out: [Function] = []
        for path in index.calling[name] ?? [] {
            out += functions(in: path).filter { f in f.calls.contains { $0.name == name } }
        }
        cache.callers[name] = out
        return out
    }

    /// Lines whose string literal (a stretch of at least 12 characters between
    /// interpolations) occurs in a logged error text.
    func literalSites(for records: [LogRecord]) -> [(String, Int)] {
        var texts: [String] = []
        for r in records where r.isError {
            for (k, v) in r.metadata where k.contains("error") || k.contains("reason") || k == "message" {
                if !texts.contains(v) { texts.append(v) }
            }
        }
        guard !texts.isEmpty else { return [] }
        let literal = try! NSRegularExpression(pattern: "\"((?:[^\"\\\\\\n]|\\\\.)*)\"")
        var out: [(String, Int)] = []
        for path in searchable {
            guard let text = read(path) else { continue }
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where line.utf8.contains(UInt8(ascii: "\"")) {
                let s = String(line)
                for m in literal.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                    guard let r = Range(m.range(at: 1), in: s) else { continue }
                    let segments = s[r].components(separatedBy: "\\(").map { seg -> String in
                        // Drop the interpolated expression up to its closing parenthesis.
                        guard let close = seg.firstIndex(of: ")"), seg != s[r].components(separatedBy: "\\(").first else { return seg }
                        return String(seg[seg.index(after: close)...])
                    }
                    if segments.contains(where: { seg in seg.count >= 12 && texts.contains { $0.contains(seg) } }) {
                        out.append((path, i + 1))
                        break
                    }
                }
            }
        }
        return out
    }

    /// Lifts the top suspects that the newest commits touching any of them changed (a
    /// regression usually came with the latest change on its path), and records those commits.
    /// A root commit (the initial import touches everything) is not evidence.
    func boostRecentlyChanged(_ suspects: inout [Suspect]) {
        guard FileManager.default.fileExists(atPath: repository.appendingPathComponent(".git").path) else { return }
        let listed = Self.git(["rev-list", "--max-count=\(recentCommitWindow + 1)", "HEAD"], in: repository).split(separator: "\n")
        let recent = listed.prefix(recentCommitWindow).map { String($0.prefix(12)) }
        guard !recent.isEmpty else { return }
        // Each `log -L` walks no further back than the window (older commits are dropped below
        // anyway): a walk of the whole history cost twice as much, a hundred times per anomaly.
        let revisions = listed.count > recentCommitWindow ? "\(listed[recentCommitWindow])..HEAD" : "HEAD"
        let age = Dictionary(recent.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let ranked = suspects.indices.sorted { suspects[$0].rank < suspects[$1].rank }.prefix(maxSuspects)
        var touched: [Int: [(age: Int, line: String)]] = [:]
        for i in ranked {
            let s = suspects[i]
            let out = Self.git(
                ["log", "-L", "\(s.firstLine),\(s.lastLine):\(s.path)", "--no-patch", "--format=%H%x09%P%x09%s", "--max-count=3", revisions],
                in: repository
            )
            for line in out.split(separator: "\n") {
                let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
                guard f.count == 3, !f[1].isEmpty, let a = age[String(f[0].prefix(12))] else { continue }
                touched[i, default: []].append((a, "\(f[0].prefix(10)) \(f[2])"))
            }
        }
        // The newest two commits that touched any suspect.
        let newest = Set(touched.values.flatMap { $0.map(\.age) }.sorted().prefix(2))
        for (i, commits) in touched {
            suspects[i].recentCommits = commits.map(\.line)
            guard let hit = commits.first(where: { newest.contains($0.age) }) else { continue }
            suspects[i].rank -= 3
            suspects[i].reason += "; changed by the recent commit \(hit.line)"
        }
    }

    /// Adds the functions that the newest two commits changed in the modules of the
    /// path's nearest suspects (rank below 3): a regression usually came with the latest
    /// change to the code involved, also where no call leads to it (a value it computes
    /// flows to the failing code as data).
    func addNewestChanges(near suspects: inout [Suspect]) {
        guard FileManager.default.fileExists(atPath: repository.appendingPathComponent(".git").path) else { return }
        func module(_ path: String) -> String? {
            let parts = path.split(separator: "/")
            return parts.count > 2 && parts[0] == "Sources" ? String(parts[1]) : nil
        }
        let modules = Set(suspects.filter { $0.rank < 3 }.compactMap { module($0.path) })
        guard !modules.isEmpty else { return }
        let log = Self.git(["log", "-2", "--no-merges", "--format=%H%x09%P%x09%s", "HEAD"], in: repository)
        for line in log.split(separator: "\n") {
            let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, !f[1].isEmpty else { continue }  // a root commit is not a change
            let sha = String(f[0])
            let diff = Self.git(["show", "--format=", "--unified=0", "--no-color", sha], in: repository)
            var path: String?
            for l in diff.split(separator: "\n") {
                if l.hasPrefix("+++ b/") {
                    path = String(l.dropFirst(6))
                    continue
                }
                guard l.hasPrefix("@@"), let p = path, searchable.contains(p), let m = module(p), modules.contains(m) else { continue }
                // `@@ -a,b +c,d @@`: the changed lines start at c on the new side.
                let plus = l.split(separator: " ").first { $0.hasPrefix("+") }
                guard let start = plus.flatMap({ Int($0.dropFirst().split(separator: ",").first ?? "") }),
                    let fn = function(in: p, line: max(1, start))
                else { continue }
                if let i = suspects.firstIndex(where: { $0.path == fn.path && $0.firstLine == fn.firstLine }) {
                    suspects[i].rank = min(suspects[i].rank, 0.5)
                    if !suspects[i].reason.contains(String(sha.prefix(10))) {
                        suspects[i].reason += "; changed by the newest commit \(sha.prefix(10)) \(f[2])"
                    }
                } else {
                    suspects.append(
                        Suspect(
                            path: fn.path,
                            name: fn.name,
                            typeName: fn.typeName,
                            firstLine: fn.firstLine,
                            lastLine: fn.lastLine,
                            reason: "changed by the newest commit \(sha.prefix(10)) \(f[2]), in \(m) on the path",
                            rank: 0.5,
                            recentCommits: ["\(sha.prefix(10)) \(f[2])"]
                        )
                    )
                }
            }
        }
    }

    /// The diff a commit made to a function's lines.
    func diff(of commit: String, for s: Suspect) -> String {
        let sha = String(commit.prefix { $0 != " " })
        return Self.git(["log", "-1", "-L", "\(s.firstLine),\(s.lastLine):\(s.path)", "--format=commit %h %s", sha], in: repository)
    }

    /// Runs git, returning stdout ("" on failure).
    static func git(_ arguments: [String], in repository: URL) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", repository.path] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : ""
    }
}

/// Collects the functions of a file with their calls and clock-reading locals.
final class FunctionCollector: SyntaxVisitor {
    let path: String
    let converter: SourceLocationConverter
    var functions: [Localiser.Function] = []
    private var types: [String] = []

    init(path: String, converter: SourceLocationConverter) {
        self.path = path
        self.converter = converter
        super.init(viewMode: .sourceAccurate)
    }

    private func line(_ p: AbsolutePosition) -> Int { converter.location(for: p).line }

    override func visit(_ node: StructDeclSyntax) -> SyntaxVisitorContinueKind {
        types.append(node.name.text)
        return .visitChildren
    }
    override func visitPost(_ node: StructDeclSyntax) { types.removeLast() }
    override func visit(_ node: ClassDeclSyntax) -> SyntaxVisitorContinueKind {
        types.append(node.name.text)
        return .visitChildren
    }
    override func visitPost(_ node: ClassDeclSyntax) { types.removeLast() }
    override func visit(_ node: EnumDeclSyntax) -> SyntaxVisitorContinueKind {
        types.append(node.name.text)
        return .visitChildren
    }
    override func visitPost(_ node: EnumDeclSyntax) { types.removeLast() }
    override func visit(_ node: ActorDeclSyntax) -> SyntaxVisitorContinueKind {
        types.append(node.name.text)
        return .visitChildren
    }
    override func visitPost(_ node: ActorDeclSyntax) { types.removeLast() }
    override func visit(_ node: ExtensionDeclSyntax) -> SyntaxVisitorContinueKind {
        types.append(node.extendedType.trimmedDescription.split(separator: ".").last.map(String.init) ?? node.extendedType.trimmedDescription)
        return .visitChildren
    }
    override func visitPost(_ node: ExtensionDeclSyntax) { types.removeLast() }

    override func visit(_ node: FunctionDeclSyntax) -> SyntaxVisitorContinueKind {
        if let body = node.body {
            record(name: node.name.text, node: Syntax(node), parameters: node.signature.parameterClause.parameters, body: Syntax(body))
        }
        return .visitChildren
    }
    override func visit(_ node: VariableDeclSyntax) -> SyntaxVisitorContinueKind {
        // A computed property (`var description: String { ... }`) runs code like a function.
        for binding in node.bindings {
            guard let accessors = binding.accessorBlock, let id = binding.pattern.as(IdentifierPatternSyntax.self) else { continue }
            record(name: id.identifier.text, node: Syntax(node), parameters: nil, body: Syntax(accessors))
        }
        return .visitChildren
    }
    override func visit(_ node: SubscriptDeclSyntax) -> SyntaxVisitorContinueKind {
        if let accessors = node.accessorBlock {
            record(name: "subscript", node: Syntax(node), parameters: node.parameterClause.parameters, body: Syntax(accessors))
        }
        return .visitChildren
    }
    override func visit(_ node: InitializerDeclSyntax) -> SyntaxVisitorContinueKind {
        if let body = node.body {
            record(name: "init", node: Syntax(node), parameters: node.signature.parameterClause.parameters, body: Syntax(body))
        }
        return .visitChildren
    }

    private func record(name: String, node: Syntax, parameters: FunctionParameterListSyntax?, body: Syntax) {
        let calls = CallCollector(converter: converter)
        calls.walk(body)
        let first = CodebaseInspector.piece(node, converter).firstLine
        functions.append(
            Localiser.Function(
                path: path,
                name: name,
                typeName: types.last,
                firstLine: first,
                lastLine: line(node.endPositionBeforeTrailingTrivia),
                bodyFirstLine: line(body.positionAfterSkippingLeadingTrivia),
                parameters: parameters.map { $0.map { ($0.secondName ?? $0.firstName).text } } ?? [],
                calls: calls.calls,
                locals: calls.locals
            )
        )
    }

    /// Calls and locals of one body (nested functions' too: they run on the same path).
    final class CallCollector: SyntaxVisitor {
        let converter: SourceLocationConverter
        var calls: [Localiser.Call] = []
        var locals: [Localiser.Local] = []

        init(converter: SourceLocationConverter) {
            self.converter = converter
            super.init(viewMode: .sourceAccurate)
        }

        /// The names an expression refers to.
        final class Refs: SyntaxVisitor {
            var names: [String] = []
            override func visit(_ node: DeclReferenceExprSyntax) -> SyntaxVisitorContinueKind {
                names.append(node.baseName.text)
                return .visitChildren
            }
        }

        static func names(in node: Syntax) -> [String] {
            let r = Refs(viewMode: .sourceAccurate)
            r.walk(node)
            return r.names
        }

        override func visit(_ node: FunctionCallExprSyntax) -> SyntaxVisitorContinueKind {
            var name: String?
            var receiver: String?
            if let ref = node.calledExpression.as(DeclReferenceExprSyntax.self) {
                name = ref.baseName.text
            } else if let member = node.calledExpression.as(MemberAccessExprSyntax.self), member.base != nil {
                // `.bar(let b)` and `.init(x)` with no base are enum cases and inferred types, not calls to follow.
                name = member.declName.baseName.text
                if let base = member.base {
                    if let ref = base.as(DeclReferenceExprSyntax.self) {
                        receiver = ref.baseName.text
                    } else if let inner = base.as(MemberAccessExprSyntax.self) {
                        receiver = inner.declName.baseName.text
                    } else if let sub = base.as(SubscriptCallExprSyntax.self) {
                        // `s.lanes[k].submit(...)`: the element type of `lanes`.
                        receiver =
                            sub.calledExpression.as(DeclReferenceExprSyntax.self)?.baseName.text
                            ?? sub.calledExpression.as(MemberAccessExprSyntax.self)?.declName.baseName.text
                    } else if let opt = base.as(OptionalChainingExprSyntax.self) {
                        receiver =
                            opt.expression.as(DeclReferenceExprSyntax.self)?.baseName.text
                            ?? opt.expression.as(MemberAccessExprSyntax.self)?.declName.baseName.text
                    }
                }
            }
            if let name {
                calls.append(
                    Localiser.Call(
                        name: name,
                        receiver: receiver,
                        line: converter.location(for: node.positionAfterSkippingLeadingTrivia).line,
                        argumentNames: Self.names(in: Syntax(node.arguments))
                    )
                )
            }
            return .visitChildren
        }

        override func visit(_ node: PatternBindingSyntax) -> SyntaxVisitorContinueKind {
            if let id = node.pattern.as(IdentifierPatternSyntax.self), let value = node.initializer?.value {
                let text = value.trimmedDescription
                locals.append(
                    Localiser.Local(
                        name: id.identifier.text,
                        line: converter.location(for: node.positionAfterSkippingLeadingTrivia).line,
                        names: Self.names(in: Syntax(value)),
                        readsClock: Localiser.contains(text, ".now") || Localiser.contains(text, "Date()")
                            || Localiser.contains(text, "DispatchTime.now")
                    )
                )
            }
            return .visitChildren
        }
    }
}
