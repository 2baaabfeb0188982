import Foundation

/// Source code gathered for one anomaly, within a size budget.
public struct CodeContext: Sendable, Hashable {
    /// One excerpt of a file.
    public struct Excerpt: Sendable, Hashable {
        /// Repository-relative path.
        public var path: String
        /// First line (1-based).
        public var firstLine: Int
        /// The lines.
        public var text: String
        /// Why it was included (`enclosing declaration of line 42`, `test naming add(_:)`).
        public var reason: String
    }

    /// The excerpts, most relevant first.
    public var excerpts: [Excerpt]

    /// All excerpts as one text block with `// path:line` headers.
    public var text: String {
        excerpts.map { "// \($0.path):\($0.firstLine) — \($0.reason)\n\($0.text)" }.joined(separator: "\n\n")
    }

    /// Characters in `text`.
    public var size: Int { text.count }
}

/// Finds the code behind an anomaly: the declaration enclosing each logged
/// source location, and the tests that name its function, within a budget.
///
/// Log lines name files as swift-log records them (`Module/File.swift`);
/// they are matched against the repository's files by suffix. The enclosing
/// declaration is found by brace matching from the nearest `func`/`init`/
/// `var`/type declaration above the line; non-Swift files get a window of
/// lines around it.
public struct CodebaseInspector: Sendable {
    /// The repository root.
    public var repository: URL
    /// Characters of context at most.
    public var budget: Int
    /// Lines each side for non-Swift files (and Swift fallbacks).
    public var window: Int

    /// Creates an inspector.
    public init(repository: URL, budget: Int = 24_000, window: Int = 30) {
        self.repository = repository
        self.budget = budget
        self.window = window
    }

    /// The context for an anomaly's locations.
    public func context(for anomaly: Anomaly) -> CodeContext {
        var excerpts: [CodeContext.Excerpt] = []
        var used = 0
        let files = repositoryFiles()
        for loc in anomaly.locations.prefix(3) {
            guard let path = resolve(loc.file, in: files), let text = try? String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
            else { continue }
            let lines = text.components(separatedBy: "\n")
            let line = min(max(1, loc.line ?? 1), lines.count)
            let (start, end) = path.hasSuffix(".swift") ? enclosingDeclaration(lines, line: line - 1) : (max(0, line - 1 - window), min(lines.count - 1, line - 1 + window))
            let excerpt = CodeContext.Excerpt(
                path: path,
                firstLine: start + 1,
                text: lines[start...end].joined(separator: "\n"),
                reason: "enclosing declaration of line \(line)" + (loc.function.map { " in \($0)" } ?? "")
            )
            guard used + excerpt.text.count <= budget else { break }
            used += excerpt.text.count
            excerpts.append(excerpt)
            // Tests that name the function.
            if let function = loc.function?.split(separator: "(").first.map(String.init), !function.isEmpty {
                for test in files where test.hasPrefix("Tests/") && test.hasSuffix(".swift") {
                    guard let body = try? String(contentsOf: repository.appendingPathComponent(test), encoding: .utf8), body.contains(function + "(") else {
                        continue
                    }
                    let capped = String(body.prefix(max(0, min(budget - used, 6_000))))
                    guard !capped.isEmpty else { break }
                    used += capped.count
                    excerpts.append(CodeContext.Excerpt(path: test, firstLine: 1, text: capped, reason: "a test naming \(function)"))
                }
            }
        }
        return CodeContext(excerpts: excerpts)
    }

    /// Repository-relative paths of source files (no `.build`, `.git`).
    func repositoryFiles() -> [String] {
        guard let e = FileManager.default.enumerator(at: repository, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var out: [String] = []
        let root = repository.standardizedFileURL.path
        for case let url as URL in e {
            let name = url.lastPathComponent
            if name.hasPrefix(".") || name == "node_modules" || name == "output" {
                e.skipDescendants()
                continue
            }
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                let p = url.standardizedFileURL.path
                if p.hasPrefix(root + "/") { out.append(String(p.dropFirst(root.count + 1))) }
            }
        }
        return out.sorted()
    }

    /// The repository file a logged path names: exact, by suffix, or — for
    /// swift-log's `Module/File.swift` — the file of that name under
    /// `Sources/Module/` (any depth), preferring `Sources/`.
    func resolve(_ logged: String, in files: [String]) -> String? {
        if files.contains(logged) { return logged }
        let suffix = files.filter { $0.hasSuffix("/" + logged) }
        if let hit = suffix.first(where: { $0.hasPrefix("Sources/") }) ?? suffix.first { return hit }
        let parts = logged.split(separator: "/").map(String.init)
        guard let name = parts.last else { return nil }
        let named = files.filter { ($0 as NSString).lastPathComponent == name }
        if parts.count >= 2 {
            let module = parts[parts.count - 2]
            if let hit = named.first(where: { $0.hasPrefix("Sources/\(module)/") }) { return hit }
        }
        return named.first { $0.hasPrefix("Sources/") } ?? named.first
    }

    /// Lines (0-based, inclusive) of the declaration around `line`.
    func enclosingDeclaration(_ lines: [String], line: Int) -> (Int, Int) {
        let starters = ["func ", "init(", "init?(", "var ", "subscript", "struct ", "class ", "enum ", "actor ", "extension "]
        var start = line
        while start > 0 {
            let t = lines[start].trimmingCharacters(in: .whitespaces)
            if starters.contains(where: { t.hasPrefix($0) || t.contains(" " + $0) }) && t.contains("{") { break }
            start -= 1
        }
        // Doc comments and attributes above belong to it.
        while start > 0, lines[start - 1].trimmingCharacters(in: .whitespaces).hasPrefix("///") || lines[start - 1].trimmingCharacters(in: .whitespaces).hasPrefix("@") {
            start -= 1
        }
        var depth = 0
        var seenOpen = false
        var end = start
        for i in start..<lines.count {
            for c in lines[i] {
                if c == "{" {
                    depth += 1
                    seenOpen = true
                } else if c == "}" {
                    depth -= 1
                }
            }
            end = i
            if seenOpen && depth <= 0 { break }
        }
        if end < line || end - start > 400 { return (max(0, line - window), min(lines.count - 1, line + window)) }
        return (start, end)
    }
}
