import Foundation
internal import SwiftParser
internal import SwiftSyntax

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
    /// The ranked functions the localisation found (all of them, also those the budget left out).
    public var suspects: [Suspect] = []

    /// All excerpts as one text block with `// path:line` headers.
    public var text: String {
        excerpts.map { "// \($0.path):\($0.firstLine) — \($0.reason)\n\($0.text)" }.joined(separator: "\n\n")
    }

    /// Characters in `text`.
    public var size: Int { text.count }
}

/// Finds the code behind an anomaly, within a size budget, most relevant first:
///
/// 1. for each logged source location (at most three; for a metric anomaly,
///    the lines that name the metric), the declaration that
///    encloses the line — the innermost function, initializer, accessor,
///    subscript or closure-bearing variable, found with swift-syntax's
///    `SwiftParser` (a type, when the line is in no member; a line window
///    when the declaration is too big or the file is not Swift);
/// 2. the declarations of the repository's types that code uses, as
///    interfaces (stored properties and member signatures, bodies dropped);
/// 3. the test functions that call the logged function by name.
///
/// Log lines name files as swift-log records them (`Module/File.swift`);
/// they are matched against the repository's files exactly, by suffix, or as
/// `Sources/Module/**/File.swift`.
public struct CodebaseInspector: Sendable {
    /// The repository root.
    public var repository: URL
    /// Characters of context at most.
    public var budget: Int
    /// Lines each side for non-Swift files (and declarations over `maxDeclarationLines`).
    public var window: Int
    /// A declaration longer than this is shown as a window of lines around the location.
    public var maxDeclarationLines: Int

    /// Path prefixes that are never evidence for a name (a metric, a message): they may
    /// mention one without producing it. The agent's own target and the tests by default.
    public var excluded: [String]

    /// Creates an inspector.
    public init(
        repository: URL,
        budget: Int = 24_000,
        window: Int = 30,
        maxDeclarationLines: Int = 400,
        excluded: [String] = ["Sources/CrocAgent/", "Tests/"]
    ) {
        self.excluded = excluded
        self.repository = repository
        self.budget = budget
        self.window = window
        self.maxDeclarationLines = maxDeclarationLines
    }

    /// The context for an anomaly's locations.
    public func context(for anomaly: Anomaly) -> CodeContext {
        var collector = Collector(budget: budget)
        let files = repositoryFiles()
        // Each file is read and parsed at most once per anomaly.
        var texts: [String: String?] = [:]
        func source(_ path: String) -> String? {
            if let t = texts[path] { return t }
            let t = read(path)
            texts[path] = t
            return t
        }
        var parsed: [String: SourceFileSyntax] = [:]
        func tree(_ path: String) -> SourceFileSyntax? {
            if let t = parsed[path] { return t }
            guard let text = source(path) else { return nil }
            let t = Parser.parse(source: text)
            parsed[path] = t
            return t
        }

        var usedTypes: [String] = []
        var functions: [String] = []
        // Localisation from the evidence: the ranked functions (see `Localiser`).
        let localiser = Localiser(repository: repository, files: files, read: source, excluded: excluded)
        let logged = anomaly.locations.prefix(3).compactMap { loc -> (path: String, line: Int)? in
            guard let path = resolve(loc.file, in: files), let line = loc.line else { return nil }
            return (path, line)
        }
        let suspects = localiser.suspects(for: anomaly, locations: logged)
        // A metric anomaly whose metric is recorded nowhere that the localiser understands:
        // fall back to the lines that name the metric.
        let locations =
            anomaly.locations.isEmpty && suspects.isEmpty
            ? metricLocations(anomaly.metricEvidence, files: files, read: source) : anomaly.locations
        for loc in locations.prefix(3) {
            guard let path = resolve(loc.file, in: files), let text = source(path) else { continue }
            let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
            let line = min(max(1, loc.line ?? 1), max(1, lineCount))
            let reason = "enclosing declaration of line \(line)" + (loc.function.map { " in \($0)" } ?? "")
            if path.hasSuffix(".swift"), let file = tree(path),
                let found = Self.enclosingDeclaration(in: file, line: line, maxLines: maxDeclarationLines)
            {
                collector.add(path: path, firstLine: found.firstLine, text: found.text, reason: reason)
                for name in Self.typeNames(in: found.node) where !usedTypes.contains(name) { usedTypes.append(name) }
            } else {
                let (first, body) = Self.lineWindow(text, line: line, window: window)
                collector.add(path: path, firstLine: first, text: body, reason: reason)
            }
            if let name = loc.function?.split(separator: "(").first.map(String.init), !name.isEmpty, !functions.contains(name) {
                functions.append(name)
            }
        }

        // The ranked functions, then the recent commits that changed the top ones.
        for s in suspects {
            guard let text = source(s.path) else { continue }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard s.firstLine >= 1, s.lastLine <= lines.count, s.lastLine - s.firstLine < maxDeclarationLines else { continue }
            collector.add(path: s.path, firstLine: s.firstLine, text: lines[(s.firstLine - 1)..<s.lastLine].joined(separator: "\n"), reason: s.reason)
            if functions.count < 3, !functions.contains(s.name), s.name != "init" { functions.append(s.name) }
        }
        for s in suspects.filter({ !$0.recentCommits.isEmpty }).prefix(3) {
            guard let commit = s.recentCommits.first else { continue }
            let diff = localiser.diff(of: commit, for: s)
            guard !diff.isEmpty else { continue }
            collector.add(
                path: "\(s.path)@\(commit.prefix { $0 != " " })",
                firstLine: s.firstLine,
                text: String(diff.prefix(3000)),
                reason: "recent change to \(s.name): \(commit)"
            )
        }

        // The repository's types that the code uses, as interfaces.
        let sources = files.filter { $0.hasSuffix(".swift") && !$0.hasPrefix("Tests/") }
        for name in usedTypes {
            for path in sources {
                guard let text = source(path), Self.mightDeclare(name, in: text), let file = tree(path) else { continue }
                for decl in Self.typeDeclarations(named: name, in: file) {
                    collector.add(path: path, firstLine: decl.firstLine, text: decl.text, reason: "declaration of \(name), used there")
                }
            }
        }

        // Tests that call the function.
        for name in functions {
            for path in files where path.hasPrefix("Tests/") && path.hasSuffix(".swift") {
                guard let text = source(path), Localiser.contains(text, name + "("), let file = tree(path) else { continue }
                for test in Self.functions(calling: name, in: file) {
                    collector.add(path: path, firstLine: test.firstLine, text: test.text, reason: "a test calling \(name)")
                }
            }
        }
        return CodeContext(excerpts: collector.excerpts, suspects: suspects)
    }

    /// Lines of the repository's Swift sources (tests excluded) that name one of
    /// the metrics as a string literal (`"crocbot_tick_to_order_seconds"`), for
    /// samples `_bucket`/`_count`/`_sum`/`_total` suffixes removed too.
    func metricLocations(_ samples: [MetricSample], files: [String], read: (String) -> String?) -> [CodeLocation] {
        var names: [String] = []
        for sample in samples {
            var candidates = [sample.name]
            for suffix in ["_bucket", "_count", "_sum", "_total"] where sample.name.hasSuffix(suffix) {
                candidates.append(String(sample.name.dropLast(suffix.count)))
            }
            for c in candidates where !names.contains(c) { names.append(c) }
        }
        guard !names.isEmpty else { return [] }
        var out: [CodeLocation] = []
        for path in files where path.hasSuffix(".swift") && !path.hasPrefix("Tests/") {
            guard let text = read(path), names.contains(where: { Localiser.contains(text, "\"\($0)\"") }) else { continue }
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where names.contains(where: { Localiser.contains(line, "\"\($0)\"") }) {
                out.append(CodeLocation(file: path, line: i + 1, function: nil))
            }
        }
        return out
    }

    /// Adds excerpts while they fit the budget; a duplicate is skipped.
    struct Collector {
        let budget: Int
        var used = 0
        var excerpts: [CodeContext.Excerpt] = []

        mutating func add(path: String, firstLine: Int, text: String, reason: String) {
            guard !excerpts.contains(where: { $0.path == path && $0.firstLine == firstLine }) else { return }
            // The budget counts what is sent: the `// path:line — reason` header too.
            let cost = text.count + path.count + reason.count + 16
            guard used + cost <= budget else { return }
            used += cost
            excerpts.append(CodeContext.Excerpt(path: path, firstLine: firstLine, text: text, reason: reason))
        }
    }

    private func read(_ path: String) -> String? {
        try? String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
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

    // MARK: - Syntax

    /// A piece of a file: where it starts and its text (leading doc comments included).
    struct Piece {
        var node: Syntax
        var firstLine: Int
        var text: String
    }

    /// The innermost member-like declaration (function, initializer,
    /// deinitializer, subscript, accessor's variable) around `line`, else the
    /// innermost type or extension; nil when there is none or it is longer
    /// than `maxLines`.
    static func enclosingDeclaration(in file: SourceFileSyntax, line: Int, maxLines: Int) -> Piece? {
        let converter = SourceLocationConverter(fileName: "", tree: file)
        let finder = EnclosingFinder(line: line, converter: converter)
        finder.walk(file)
        guard let node = finder.member ?? finder.type else { return nil }
        let piece = piece(node, converter)
        let lines = piece.text.split(separator: "\n", omittingEmptySubsequences: false).count
        return lines <= maxLines ? piece : nil
    }

    static func piece(_ node: Syntax, _ converter: SourceLocationConverter) -> Piece {
        // Leading trivia holds the doc comment; start at its first non-blank line.
        let text = node.description
        let trimmedLeading = text.drop { $0 == "\n" || $0 == " " || $0 == "\t" || $0 == "\r" }
        let droppedNewlines = text[text.startIndex..<trimmedLeading.startIndex].filter { $0 == "\n" }.count
        let nodeStartLine = converter.location(for: node.position).line
        var body = String(trimmedLeading)
        while body.hasSuffix("\n") || body.hasSuffix(" ") { body.removeLast() }
        // Re-indent the first line as in the file.
        let indent = text[text.startIndex..<trimmedLeading.startIndex].split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        return Piece(node: node, firstLine: nodeStartLine + droppedNewlines, text: String(indent) + body)
    }

    /// Finds the innermost declarations around a line.
    final class EnclosingFinder: SyntaxVisitor {
        let line: Int
        let converter: SourceLocationConverter
        var member: Syntax?
        var type: Syntax?

        init(line: Int, converter: SourceLocationConverter) {
            self.line = line
            self.converter = converter
            super.init(viewMode: .sourceAccurate)
        }

        private func contains(_ node: some SyntaxProtocol) -> Bool {
            let start = converter.location(for: node.positionAfterSkippingLeadingTrivia).line
            let end = converter.location(for: node.endPositionBeforeTrailingTrivia).line
            return start <= line && line <= end
        }

        private func visitMember(_ node: some SyntaxProtocol) -> SyntaxVisitorContinueKind {
            guard contains(node) else { return .skipChildren }
            member = Syntax(node)
            return .visitChildren
        }

        private func visitType(_ node: some SyntaxProtocol) -> SyntaxVisitorContinueKind {
            guard contains(node) else { return .skipChildren }
            type = Syntax(node)
            member = nil
            return .visitChildren
        }

        override func visit(_ node: FunctionDeclSyntax) -> SyntaxVisitorContinueKind { visitMember(node) }
        override func visit(_ node: InitializerDeclSyntax) -> SyntaxVisitorContinueKind { visitMember(node) }
        override func visit(_ node: DeinitializerDeclSyntax) -> SyntaxVisitorContinueKind { visitMember(node) }
        override func visit(_ node: SubscriptDeclSyntax) -> SyntaxVisitorContinueKind { visitMember(node) }
        override func visit(_ node: VariableDeclSyntax) -> SyntaxVisitorContinueKind {
            // A member variable with a body (computed, or a multi-line initializer); a
            // one-line stored property says less than its type, and locals belong to their function.
            guard member == nil, contains(node) else { return .skipChildren }
            let start = converter.location(for: node.positionAfterSkippingLeadingTrivia).line
            let end = converter.location(for: node.endPositionBeforeTrailingTrivia).line
            return end > start ? visitMember(node) : .skipChildren
        }
        override func visit(_ node: StructDeclSyntax) -> SyntaxVisitorContinueKind { visitType(node) }
        override func visit(_ node: ClassDeclSyntax) -> SyntaxVisitorContinueKind { visitType(node) }
        override func visit(_ node: EnumDeclSyntax) -> SyntaxVisitorContinueKind { visitType(node) }
        override func visit(_ node: ActorDeclSyntax) -> SyntaxVisitorContinueKind { visitType(node) }
        override func visit(_ node: ProtocolDeclSyntax) -> SyntaxVisitorContinueKind { visitType(node) }
        override func visit(_ node: ExtensionDeclSyntax) -> SyntaxVisitorContinueKind { visitType(node) }
    }

    /// Capitalised type names a declaration mentions (in types and in expressions such as `Order(...)`).
    static func typeNames(in node: Syntax) -> [String] {
        final class Names: SyntaxVisitor {
            var names: [String] = []
            func add(_ text: String) {
                guard let first = text.first, first.isUppercase, !names.contains(text), !Self.standard.contains(text) else { return }
                names.append(text)
            }
            static let standard: Set<String> = [
                "Int", "Double", "Float", "String", "Bool", "Array", "Dictionary", "Set", "Optional", "Self", "Character",
                "UInt8", "Int64", "UInt64", "Int32", "UInt32", "Error", "Never", "Void", "Any", "AnyObject", "Result",
                "Duration", "Date", "URL", "Data", "UUID", "Task", "Sendable", "Hashable", "Codable", "Equatable",
            ]
            override func visit(_ node: IdentifierTypeSyntax) -> SyntaxVisitorContinueKind {
                add(node.name.text)
                return .visitChildren
            }
            override func visit(_ node: DeclReferenceExprSyntax) -> SyntaxVisitorContinueKind {
                add(node.baseName.text)
                return .visitChildren
            }
        }
        let visitor = Names(viewMode: .sourceAccurate)
        visitor.walk(node)
        return visitor.names
    }

    /// A cheap text test before parsing a file for a type's declaration.
    static func mightDeclare(_ name: String, in text: String) -> Bool {
        ["struct ", "class ", "enum ", "actor ", "protocol ", "typealias "].contains { text.contains($0 + name) }
    }

    /// The declarations of a type (not its extensions), as interfaces: member
    /// bodies and computed accessors dropped.
    static func typeDeclarations(named name: String, in file: SourceFileSyntax) -> [Piece] {
        final class Finder: NameFinder {
            override func visit(_ node: StructDeclSyntax) -> SyntaxVisitorContinueKind { check(node.name, node) }
            override func visit(_ node: ClassDeclSyntax) -> SyntaxVisitorContinueKind { check(node.name, node) }
            override func visit(_ node: EnumDeclSyntax) -> SyntaxVisitorContinueKind { check(node.name, node) }
            override func visit(_ node: ActorDeclSyntax) -> SyntaxVisitorContinueKind { check(node.name, node) }
            override func visit(_ node: ProtocolDeclSyntax) -> SyntaxVisitorContinueKind { check(node.name, node) }
            override func visit(_ node: TypeAliasDeclSyntax) -> SyntaxVisitorContinueKind { check(node.name, node) }
            private func check(_ token: TokenSyntax, _ node: some SyntaxProtocol) -> SyntaxVisitorContinueKind {
                if token.text == name { found.append(Syntax(node)) }
                return .visitChildren
            }
        }
        let finder = Finder(name: name)
        finder.walk(file)
        let converter = SourceLocationConverter(fileName: "", tree: file)
        return finder.found.map { node in
            let stripped = InterfaceRewriter(viewMode: .sourceAccurate).rewrite(node)
            var p = piece(stripped, converter)
            p.firstLine = piece(node, converter).firstLine
            return p
        }
    }

    /// A syntax visitor looking for one name, collecting what it finds.
    class NameFinder: SyntaxVisitor {
        let name: String
        var found: [Syntax] = []

        init(name: String) {
            self.name = name
            super.init(viewMode: .sourceAccurate)
        }
    }

    /// Drops function, initializer and accessor bodies, keeping signatures.
    final class InterfaceRewriter: SyntaxRewriter {
        override func visit(_ node: FunctionDeclSyntax) -> DeclSyntax { DeclSyntax(node.with(\.body, nil)) }
        override func visit(_ node: InitializerDeclSyntax) -> DeclSyntax { DeclSyntax(node.with(\.body, nil)) }
        override func visit(_ node: DeinitializerDeclSyntax) -> DeclSyntax { DeclSyntax(node.with(\.body, nil)) }
        override func visit(_ node: SubscriptDeclSyntax) -> DeclSyntax { DeclSyntax(node.with(\.accessorBlock, nil)) }
        override func visit(_ node: PatternBindingSyntax) -> PatternBindingSyntax {
            // Computed properties keep their type, not their getter.
            node.accessorBlock == nil ? node : node.with(\.accessorBlock, nil)
        }
    }

    /// Top-level or member functions of a test file whose body calls `name(`.
    static func functions(calling name: String, in file: SourceFileSyntax) -> [Piece] {
        final class Finder: NameFinder {
            override func visit(_ node: FunctionDeclSyntax) -> SyntaxVisitorContinueKind {
                let calls = CallFinder(name: name)
                if let body = node.body { calls.walk(body) }
                if calls.hit { found.append(Syntax(node)) }
                return .skipChildren
            }
        }
        final class CallFinder: NameFinder {
            var hit = false
            override func visit(_ node: FunctionCallExprSyntax) -> SyntaxVisitorContinueKind {
                if let ref = node.calledExpression.as(DeclReferenceExprSyntax.self), ref.baseName.text == name { hit = true }
                if let member = node.calledExpression.as(MemberAccessExprSyntax.self), member.declName.baseName.text == name { hit = true }
                return hit ? .skipChildren : .visitChildren
            }
        }
        let finder = Finder(name: name)
        finder.walk(file)
        let converter = SourceLocationConverter(fileName: "", tree: file)
        return finder.found.map { piece($0, converter) }
    }

    /// Lines around `line` (1-based): the first line's number and the text.
    static func lineWindow(_ text: String, line: Int, window: Int) -> (Int, String) {
        let lines = text.components(separatedBy: "\n")
        let first = max(0, line - 1 - window)
        let last = max(first, min(lines.count - 1, line - 1 + window))
        return (first + 1, lines[first...last].joined(separator: "\n"))
    }
}
