import CrocTestSupport
import Foundation
import Testing

@testable import CrocAgent

let source = """
    struct Ledger {
        var total = 0

        mutating func add(_ x: Int) {
            total += x
        }

        mutating func remove(_ x: Int) {
            total -= x
        }
    }

    """

@Suite("Unified diffs")
struct UnifiedDiffTests {
    @Test("a fenced diff with prose around it and wrong counts parses; the applier finds hunks by content")
    func tolerant() throws {
        let reply = """
            Here is the fix:
            ```diff
            --- a/Sources/Ledger.swift
            +++ b/Sources/Ledger.swift
            @@ -99,3 +99,3 @@
                 mutating func remove(_ x: Int) {
            -        total -= x
            +        total = max(0, total - x)
                 }
            ```
            This clamps the total.
            """
        let patches = try UnifiedDiff.parse(reply)
        #expect(patches.count == 1)
        #expect(patches[0].path == "Sources/Ledger.swift")
        #expect(patches[0].changedLines == 2)
        let out = try #require(try PatchApplier().apply(patches[0], to: source))
        #expect(out.contains("total = max(0, total - x)"))
        #expect(!out.contains("total -= x"))
        #expect(out.hasSuffix("}\n"))
    }

    @Test("missing context at the ends and empty context lines without their space still apply")
    func fuzz() throws {
        let diff = """
            --- Sources/Ledger.swift
            +++ Sources/Ledger.swift
            @@ -1,6 +1,6 @@
             struct Ledger {
                 var total = 0

                 mutating func add(_ x: Int) {
            -        total += x
            +        total &+= x
                 }
             invented context line
            """
        let p = try UnifiedDiff.parse(diff)[0]
        let out = try #require(try PatchApplier().apply(p, to: source))
        #expect(out.contains("total &+= x"))
    }

    @Test("a hunk that matches twice away from its stated line is refused as ambiguous; at its line it applies")
    func ambiguous() throws {
        let text = "a\nx\nb\na\nx\nb\n"
        let far = try UnifiedDiff.parse("--- f\n+++ f\n@@ -50,3 +50,3 @@\n a\n-x\n+y\n b\n")[0]
        let e = #expect(throws: PatchError.self) { try PatchApplier().apply(far, to: text) }
        #expect(e?.code == .ambiguous)
        let second = try UnifiedDiff.parse("--- f\n+++ f\n@@ -4,3 +4,3 @@\n a\n-x\n+y\n b\n")[0]
        #expect(try PatchApplier().apply(second, to: text) == "a\nx\nb\na\ny\nb\n")
    }

    @Test("broken diffs are typed errors, never crashes")
    func broken() {
        for (text, code) in [
            ("no diff here at all", PatchError.Code.malformed),
            ("@@ -1 +1 @@\n-a\n+b\n", .malformed),
            ("--- a/f\n+++ b/f\n@@ nonsense @@\n-a\n+b\n", .malformed),
            ("--- a/f\n+++ b/f\n@@ -1,1 +1,1 @@\n same\n", .malformed),
        ] {
            let e = #expect(throws: PatchError.self) { try UnifiedDiff.parse(text) }
            #expect(e?.code == code, "\(text)")
        }
        let p = try! UnifiedDiff.parse("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-not there\n+x\n")[0]
        let e = #expect(throws: PatchError.self) { try PatchApplier().apply(p, to: source) }
        #expect(e?.code == .noMatch)
    }

    @Test("new and deleted files")
    func newAndDeleted() throws {
        let new = try UnifiedDiff.parse("--- /dev/null\n+++ b/Sources/New.swift\n@@ -0,0 +1,2 @@\n+let a = 1\n+let b = 2\n")[0]
        #expect(new.oldPath == nil)
        #expect(try PatchApplier().apply(new, to: nil) == "let a = 1\nlet b = 2\n")
        #expect(throws: PatchError.self) { try PatchApplier().apply(new, to: "exists") }
        let gone = try UnifiedDiff.parse("--- a/Old.swift\n+++ /dev/null\n@@ -1 +0,0 @@\n-let a = 1\n")[0]
        #expect(try PatchApplier().apply(gone, to: "let a = 1\n") == nil)
    }
}

@Suite("Patch policy")
struct PatchPolicyTests {
    func repo() throws -> URL {
        let dir = testTemporaryURL().appendingPathComponent("crocagent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("Sources"), withIntermediateDirectories: true)
        return dir
    }

    @Test("paths outside the repository, in .git, or on the deny-list are refused; sizes are limited")
    func refusals() throws {
        let root = try repo()
        let outside = testTemporaryURL().appendingPathComponent("crocagent-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("Sources/escape"), withDestinationURL: outside)
        let policy = PatchPolicy(repository: root, denyList: [".github/", "Package.swift", "*.yml"], maxFiles: 2, maxChangedLines: 3)
        for (path, rule) in [
            ("/etc/passwd", PatchRefusal.Rule.absolutePath), ("../outside/x.swift", .outsideRepository),
            ("Sources/../../x.swift", .outsideRepository), (".git/config", .gitDirectory), ("Sub/.git/hooks/pre-commit", .gitDirectory),
            (".github/workflows/ci.yml", .denied), ("Package.swift", .denied), ("Examples/a.yml", .denied),
            ("Sources/escape/evil.swift", .outsideRepository),
        ] {
            let e = #expect(throws: PatchRefusal.self) { try policy.check(path: path) }
            #expect(e?.rule == rule, "\(path)")
        }
        try policy.check(path: "Sources/Ledger.swift")
        try policy.check(path: "Sources/NewDir/New.swift")
        let big = try UnifiedDiff.parse("--- a/Sources/A.swift\n+++ b/Sources/A.swift\n@@ -1,2 +1,2 @@\n-a\n-b\n+c\n+d\n")
        #expect((try? policy.check(big)) == nil)
        let many = try UnifiedDiff.parse(
            "--- a/A\n+++ b/A\n@@ -1 +1 @@\n-a\n+b\n--- a/B\n+++ b/B\n@@ -1 +1 @@\n-a\n+b\n--- a/C\n+++ b/C\n@@ -1 +1 @@\n-a\n+b\n"
        )
        let e = #expect(throws: PatchRefusal.self) { try policy.check(many) }
        #expect(e?.rule == .tooManyFiles)
    }
}

@Suite("Workspace")
struct WorkspaceTests {
    @Test("commands report their exit code and output; a command past its limit is killed with what it started")
    func commands() async throws {
        let dir = testTemporaryURL()
        let ok = await Workspace.run("echo hello; exit 0", in: dir, timeout: 30, limit: 100)
        #expect(ok.passed && ok.output == "hello\n")
        let bad = await Workspace.run("echo oops >&2; exit 3", in: dir, timeout: 30, limit: 100)
        #expect(!bad.passed && bad.exitCode == 3 && bad.output.contains("oops"))
        let marker = dir.appendingPathComponent("crocagent-orphan-\(UUID().uuidString)").path
        let started = ContinuousClock.now
        let slow = await Workspace.run("(sleep 3; touch \(marker)) & sleep 30", in: dir, timeout: 0.5, limit: 100)
        #expect(slow.timedOut && !slow.passed && slow.exitCode == nil)
        #expect(ContinuousClock.now - started < .seconds(10))
        try await Task.sleep(for: .seconds(4))
        #expect(!FileManager.default.fileExists(atPath: marker))  // the background child died with the group
        let long = await Workspace.run("echo FIRST; yes | head -c 50000; echo; echo LAST", in: dir, timeout: 30, limit: 1000)
        #expect(long.output.count <= 1100)
        // A crash message at the top and a summary at the bottom both survive the cut.
        #expect(long.output.hasPrefix("FIRST\n") && long.output.hasSuffix("LAST\n") && long.output.contains("characters omitted"))
        #expect(Workspace.truncate("short", limit: 10) == "short")
    }

    @Test("a copied workspace takes the patch; the repository does not change; removal deletes it")
    func copy() async throws {
        let repo = testTemporaryURL().appendingPathComponent("crocagent-ws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("Sources"), withIntermediateDirectories: true)
        try Data(source.utf8).write(to: repo.appendingPathComponent("Sources/Ledger.swift"))
        let ws = try await Workspace.create(from: repo)
        let patch = try UnifiedDiff.parse(
            "--- a/Sources/Ledger.swift\n+++ b/Sources/Ledger.swift\n@@ -5 +5 @@\n-        total += x\n+        total += 2 * x\n"
        )
        try ws.apply(patch)
        #expect(try String(contentsOf: ws.root.appendingPathComponent("Sources/Ledger.swift"), encoding: .utf8).contains("2 * x"))
        #expect(try String(contentsOf: repo.appendingPathComponent("Sources/Ledger.swift"), encoding: .utf8) == source)
        await ws.remove()
        #expect(!FileManager.default.fileExists(atPath: ws.root.path))
    }
}

@Suite("Patch hygiene")
struct PatchHygieneTests {
    /// A scratch folder holding `files`.
    func folder(_ files: [String: String]) throws -> URL {
        let root = testTemporaryURL().appendingPathComponent("crocagent-hygiene-\(UUID().uuidString)")
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return root
    }

    func read(_ root: URL, _ path: String) -> String? { try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) }

    @Test("a deletion must remove the file's actual lines, all of them; a stale or partial deletion is refused")
    func deletionChecked() throws {
        let root = try folder(["A.swift": "let a = 1\nlet b = 2\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let partial = try UnifiedDiff.parse("--- a/A.swift\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-let a = 1\n")
        #expect(throws: PatchError.self) { try Workspace.apply(partial, under: root, applier: PatchApplier()) }
        let stale = try UnifiedDiff.parse("--- a/A.swift\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-let a = 9\n-let b = 2\n")
        #expect(throws: PatchError.self) { try Workspace.apply(stale, under: root, applier: PatchApplier()) }
        #expect(read(root, "A.swift") != nil)
        let whole = try UnifiedDiff.parse("--- a/A.swift\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-let a = 1\n-let b = 2\n")
        // Every deleted line counts against maxChangedLines.
        #expect(whole[0].changedLines == 2)
        #expect(throws: PatchRefusal.self) {
            try PatchPolicy(repository: root, maxChangedLines: 1).check(whole)
        }
        try Workspace.apply(whole, under: root, applier: PatchApplier())
        #expect(read(root, "A.swift") == nil)
    }

    @Test("two patches to one file both take effect, in order")
    func twoPatchesOneFile() throws {
        let root = try folder(["A.swift": "let a = 1\nlet b = 2\nlet c = 3\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let diff = """
            --- a/A.swift
            +++ b/A.swift
            @@ -1,1 +1,1 @@
            -let a = 1
            +let a = 10
            --- a/A.swift
            +++ b/A.swift
            @@ -3,1 +3,1 @@
            -let c = 3
            +let c = 30
            """
        let patches = try UnifiedDiff.parse(diff)
        #expect(patches.count == 2)
        try Workspace.apply(patches, under: root, applier: PatchApplier())
        #expect(read(root, "A.swift") == "let a = 10\nlet b = 2\nlet c = 30\n")
    }

    @Test("`--- x`/`+++ y` inside a hunk are removed and added lines while the header's counts say lines remain")
    func headerLikeLinesInHunk() throws {
        let original = "/// Separator\n-- old rule\nlet x = 1\n"
        let diff = """
            --- a/Notes.swift
            +++ b/Notes.swift
            @@ -1,3 +1,3 @@
             /// Separator
            --- old rule
            +++ new rule
             let x = 1
            """
        let patches = try UnifiedDiff.parse(diff)
        #expect(patches.count == 1)
        #expect(patches[0].changedLines == 2)
        let out = try PatchApplier().apply(patches[0], to: original)
        #expect(out == "/// Separator\n++ new rule\nlet x = 1\n")
        // A real second file header after a complete hunk still starts a new file.
        let two = try UnifiedDiff.parse(diff + "\n--- a/B.swift\n+++ b/B.swift\n@@ -1 +1 @@\n-b\n+c\n")
        #expect(two.map(\.path) == ["Notes.swift", "B.swift"])
    }

    @Test("a CRLF file matches and keeps its CRLF line endings")
    func crlf() throws {
        let original = "let a = 1\r\nlet b = 2\r\nlet c = 3\r\n"
        let patches = try UnifiedDiff.parse("--- a/A.swift\n+++ b/A.swift\n@@ -2,1 +2,1 @@\n-let b = 2\n+let b = 20\n")
        let out = try PatchApplier().apply(patches[0], to: original)
        #expect(out == "let a = 1\r\nlet b = 20\r\nlet c = 3\r\n")
    }

    @Test("a rename moves the file (with or without hunks); renaming onto an existing file is refused")
    func rename() throws {
        let root = try folder(["Old.swift": "let a = 1\n", "Taken.swift": "x\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let pure = try UnifiedDiff.parse("diff --git a/Old.swift b/New.swift\nsimilarity index 100%\nrename from Old.swift\nrename to New.swift\n")
        #expect(pure.count == 1 && pure[0].oldPath == "Old.swift" && pure[0].newPath == "New.swift")
        try Workspace.apply(pure, under: root, applier: PatchApplier())
        #expect(read(root, "Old.swift") == nil)
        #expect(read(root, "New.swift") == "let a = 1\n")
        let edited = try UnifiedDiff.parse(
            "diff --git a/New.swift b/Newer.swift\nrename from New.swift\nrename to Newer.swift\n--- a/New.swift\n+++ b/Newer.swift\n@@ -1 +1 @@\n-let a = 1\n+let a = 2\n"
        )
        try Workspace.apply(edited, under: root, applier: PatchApplier())
        #expect(read(root, "New.swift") == nil)
        #expect(read(root, "Newer.swift") == "let a = 2\n")
        let onto = try UnifiedDiff.parse("diff --git a/Newer.swift b/Taken.swift\nrename from Newer.swift\nrename to Taken.swift\n")
        #expect(throws: PatchError.self) { try Workspace.apply(onto, under: root, applier: PatchApplier()) }
        #expect(read(root, "Taken.swift") == "x\n")
    }
}
