import CrocTestSupport
import Foundation
import Testing

@testable import CrocAgent

/// A small package: A ← B (B depends on A), C alone, a test target for each, and an executable on B.
private func tieredPackage() throws -> URL {
    let root = testTemporaryURL().appendingPathComponent("crocagent-tiers-\(UUID().uuidString)")
    let files = [
        "Package.swift": """
        // swift-tools-version: 6.0
        import PackageDescription
        let package = Package(
            name: "Tiers",
            targets: [
                .target(name: "A"), .target(name: "B", dependencies: ["A"]), .target(name: "C"),
                .executableTarget(name: "tool", dependencies: ["B"]),
                .testTarget(name: "ATests", dependencies: ["A"]), .testTarget(name: "BTests", dependencies: ["B"]),
                .testTarget(name: "CTests", dependencies: ["C"]),
            ]
        )

        """,
        "Sources/A/A.swift": "public let a = 1\n", "Sources/B/B.swift": "import A\npublic let b = a + 1\n",
        "Sources/C/C.swift": "public let c = 3\n", "Sources/tool/main.swift": "import B\nprint(b)\n",
        "Tests/ATests/ATests.swift": "", "Tests/BTests/BTests.swift": "", "Tests/CTests/CTests.swift": "", "README.md": "tiers\n",
    ]
    for (path, text) in files {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
    return root
}

private func patch(_ path: String) -> FilePatch {
    FilePatch(oldPath: path, newPath: path, hunks: [Hunk(oldStart: 1, newStart: 1, header: "@@ -1 +1 @@", lines: [.remove("x"), .add("y")])])
}

@Suite("Validation tiers and the warm workspace", .serialized)
struct ValidationTierTests {
    @Test("the test targets a change can break follow the package's dependencies; outside every target means the whole suite")
    func affectedTargets() async throws {
        let root = try tieredPackage()
        defer { try? FileManager.default.removeItem(at: root) }
        let graph = try await PackageGraph.load(packageAt: root)
        #expect(graph.affectedTestTargets(changing: ["Sources/A/A.swift"]) == ["ATests", "BTests"])
        #expect(graph.affectedTestTargets(changing: ["Sources/B/B.swift"]) == ["BTests"])
        #expect(graph.affectedTestTargets(changing: ["Tests/CTests/CTests.swift"]) == ["CTests"])
        #expect(graph.affectedTestTargets(changing: ["Sources/tool/main.swift"]) == [])
        #expect(graph.affectedTestTargets(changing: ["README.md"]) == nil)

        let tiers = ValidationCommand.swiftTiers()
        let forB = await AICodeRefactorAgent.resolve(tiers, for: [patch("Sources/B/B.swift")], in: root)
        #expect(forB.map { $0.0?.command } == ["swift build --build-tests", "swift test --skip-build --filter '(BTests)\\.'"])
        let forA = await AICodeRefactorAgent.resolve(tiers, for: [patch("Sources/A/A.swift")], in: root)
        #expect(forA[1].0?.command == "swift test --skip-build --filter '(ATests|BTests)\\.'")
        let forTool = await AICodeRefactorAgent.resolve(tiers, for: [patch("Sources/tool/main.swift")], in: root)
        #expect(forTool[1].0 == nil && forTool[1].1.contains("no test target depends"))
        let forReadme = await AICodeRefactorAgent.resolve(ValidationCommand.swiftTiers(fullSuite: true), for: [patch("README.md")], in: root)
        #expect(forReadme.map { $0.0?.command } == ["swift build --build-tests", "swift test --skip-build --filter '.'", "swift test --skip-build"])
        // In release (CrocBot's README tests its release build): the same tiers with -c release.
        let release = ValidationCommand.swiftTiers(fullSuite: true, configuration: .release)
        let forBRelease = await AICodeRefactorAgent.resolve(release, for: [patch("Sources/B/B.swift")], in: root)
        #expect(
            forBRelease.map { $0.0?.command }
                == [
                    "swift build -c release --build-tests", "swift test -c release --skip-build --filter '(BTests)\\.'",
                    "swift test -c release --skip-build",
                ]
        )
    }

    @Test("a failed command keeps the lines that name its failures, even those its truncated output drops")
    func failureLinesSurviveTruncation() async throws {
        let dir = testTemporaryURL().appendingPathComponent("crocbot-failures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A long run with one failing test in the middle, past what the truncated output keeps.
        let script = """
            i=0; while [ $i -lt 400 ]; do echo "✔ Test filler$i() passed after 0.001 seconds."; i=$((i+1)); done
            echo '✘ Test theFlakyOne() recorded an issue at X.swift:12:9: Expectation failed: 1 == 2'
            echo '✘ Test theFlakyOne() failed after 0.002 seconds with 1 issue.'
            i=0; while [ $i -lt 400 ]; do echo "✔ Test more$i() passed after 0.001 seconds."; i=$((i+1)); done
            echo 'Sources/A.swift:3:1: error: cannot find x in scope'
            echo '✘ Test run with 801 tests in 1 suite failed after 1.0 seconds with 1 issue.'
            exit 1
            """
        let r = await Workspace.run(script, in: dir, timeout: 30, limit: 2_000)
        #expect(!r.passed)
        #expect(!r.output.contains("theFlakyOne"))
        #expect(
            r.failures == [
                "✘ Test theFlakyOne() recorded an issue at X.swift:12:9: Expectation failed: 1 == 2",
                "✘ Test theFlakyOne() failed after 0.002 seconds with 1 issue.",
                "Sources/A.swift:3:1: error: cannot find x in scope",
            ]
        )
        let passing = await Workspace.run("echo 'error: not a failure when the command passes'", in: dir, timeout: 30, limit: 2_000)
        #expect(passing.passed && passing.failures.isEmpty)
    }

    @Test("the validation environment has no secrets: BINANCE_*, CROCBOT_*, API keys and tokens are dropped unless kept")
    func scrubbed() {
        let env = [
            "PATH": "/usr/bin", "HOME": "/home/u", "BINANCE_API_SECRET": "s", "BINANCE_BASE": "x", "CROCBOT_LIVE__TOKEN": "t",
            "OPENAI_API_KEY": "k", "MY_SERVICE_KEY": "k", "GH_TOKEN": "t", "PGPASSWORD": "p", "CROCBOT_TEST_POSTGRES": "pg", "LANG": "C",
        ]
        let out = WorkspaceSettings.scrubbed(env, keep: ["CROCBOT_TEST_POSTGRES"])
        #expect(Set(out.keys) == ["PATH", "HOME", "LANG", "CROCBOT_TEST_POSTGRES"])
    }

    @Test(
        "a persistent workspace keeps its build state across validations, is reset to the repository each time, and runs commands scrubbed and offline"
    )
    func persistent() async throws {
        let repo = try tieredPackage()
        let cache = testTemporaryURL().appendingPathComponent("crocagent-cache-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: repo)
            try? FileManager.default.removeItem(at: cache)
        }
        let git = await Workspace.run(
            "git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm init",
            in: repo,
            timeout: 60,
            limit: 2000
        )
        #expect(git.passed, "\(git.output)")
        // An uncommitted change to a tracked file comes along.
        try Data("public let c = 30\n".utf8).write(to: repo.appendingPathComponent("Sources/C/C.swift"))
        let settings = WorkspaceSettings(cacheDirectory: cache, isolateNetwork: true)
        let first = try await Workspace.create(from: repo, settings: settings)
        #expect(first.isPersistent && first.root.path == Workspace.persistentRoot(for: repo, cache: cache).path)
        #expect((try? String(contentsOf: first.root.appendingPathComponent("Sources/C/C.swift"), encoding: .utf8)) == "public let c = 30\n")
        // Build state, and a patch, left behind by the first validation.
        try FileManager.default.createDirectory(at: first.root.appendingPathComponent(".build"), withIntermediateDirectories: true)
        try Data("warm".utf8).write(to: first.root.appendingPathComponent(".build/marker"))
        try first.apply([
            FilePatch(
                oldPath: "Sources/A/A.swift",
                newPath: "Sources/A/A.swift",
                hunks: [Hunk(oldStart: 1, newStart: 1, header: "@@", lines: [.remove("public let a = 1"), .add("public let a = 2")])]
            )
        ])
        try Data("stray".utf8).write(to: first.root.appendingPathComponent("Sources/A/Stray.swift"))
        let untouched =
            try FileManager.default.attributesOfItem(atPath: first.root.appendingPathComponent("Sources/B/B.swift").path)[.modificationDate] as? Date

        setenv("CROCBOT_AGENT_TEST_SECRET", "s3cr3t-value", 1)
        defer { unsetenv("CROCBOT_AGENT_TEST_SECRET") }
        let env = await first.run(ValidationCommand("env", timeoutSeconds: 30))
        #expect(env.passed && env.output.contains("PATH=") && !env.output.contains("s3cr3t-value"))
        if Workspace.networkIsolationAvailable {
            #expect(first.isolatesNetwork)
            let links = await first.run(ValidationCommand("ip -o link show | wc -l", timeoutSeconds: 30))
            #expect(links.passed && links.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "only the loopback: \(links.output)")
            let lo = await first.run(ValidationCommand("ip -o link show lo", timeoutSeconds: 30))
            #expect(lo.output.contains("UP"), "\(lo.output)")
        }
        await first.remove()

        let second = try await Workspace.create(from: repo, settings: settings)
        #expect(second.root.path == first.root.path)
        #expect((try? String(contentsOf: second.root.appendingPathComponent(".build/marker"), encoding: .utf8)) == "warm")
        #expect((try? String(contentsOf: second.root.appendingPathComponent("Sources/A/A.swift"), encoding: .utf8)) == "public let a = 1\n")
        #expect(!FileManager.default.fileExists(atPath: second.root.appendingPathComponent("Sources/A/Stray.swift").path))
        let still =
            try FileManager.default.attributesOfItem(atPath: second.root.appendingPathComponent("Sources/B/B.swift").path)[.modificationDate] as? Date
        #expect(still == untouched, "an unchanged file keeps its timestamp, so it is not rebuilt")
        await second.remove()
        #expect(FileManager.default.fileExists(atPath: second.root.path))
        _ = await Workspace.run("git worktree remove --force \(Workspace.quote(second.root.path))", in: repo, timeout: 60, limit: 2000)
    }

    @Test(
        "an overlay workspace shows the repository with its build state at its own path, takes the patch, and keeps every write away from the repository",
        .enabled(if: Workspace.overlayAvailable, "needs unprivileged user namespaces and overlayfs")
    )
    func overlay() async throws {
        let repo = try tieredPackage()
        let cache = testTemporaryURL().appendingPathComponent("crocagent-cache-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: repo)
            try? FileManager.default.removeItem(at: cache)
        }
        try FileManager.default.createDirectory(at: repo.appendingPathComponent(".build"), withIntermediateDirectories: true)
        try Data("state".utf8).write(to: repo.appendingPathComponent(".build/build.db"))
        let ws = try await Workspace.create(from: repo, settings: WorkspaceSettings(cacheDirectory: cache))
        #expect(ws.isOverlay && !ws.isPersistent)
        try ws.apply([
            FilePatch(
                oldPath: "Sources/A/A.swift",
                newPath: "Sources/A/A.swift",
                hunks: [Hunk(oldStart: 1, newStart: 1, header: "@@", lines: [.remove("public let a = 1"), .add("public let a = 2")])]
            )
        ])
        let seen = await ws.run(
            ValidationCommand("pwd; cat Sources/A/A.swift .build/build.db; echo out > .build/new.o; rm Sources/C/C.swift", timeoutSeconds: 60)
        )
        #expect(seen.passed, "\(seen.output)")
        #expect(seen.output.hasPrefix(repo.path) && seen.output.contains("public let a = 2") && seen.output.contains("state"), "\(seen.output)")
        let again = await ws.run(ValidationCommand("cat .build/new.o; test ! -e Sources/C/C.swift", timeoutSeconds: 60))
        #expect(again.passed && again.output.contains("out"), "writes persist across the commands of one validation: \(again.output)")
        // The repository never changed.
        #expect((try? String(contentsOf: repo.appendingPathComponent("Sources/A/A.swift"), encoding: .utf8)) == "public let a = 1\n")
        #expect(FileManager.default.fileExists(atPath: repo.appendingPathComponent("Sources/C/C.swift").path))
        #expect(!FileManager.default.fileExists(atPath: repo.appendingPathComponent(".build/new.o").path))
        // A deletion cannot go through an overlay: refused, so the agent validates it in a worktree.
        #expect(throws: PatchError.self) {
            try ws.apply([
                FilePatch(
                    oldPath: "Sources/B/B.swift",
                    newPath: nil,
                    hunks: [Hunk(oldStart: 1, newStart: 0, header: "@@", lines: [.remove("import A"), .remove("public let b = a + 1")])]
                )
            ])
        }
        #expect(AICodeRefactorAgent.removesFiles([FilePatch(oldPath: "x", newPath: nil, hunks: [])]))
        await ws.remove()
        #expect(!FileManager.default.fileExists(atPath: ws.root.path))
        let fallback = try await Workspace.create(from: repo, settings: WorkspaceSettings(cacheDirectory: cache), needsFiles: true)
        #expect(!fallback.isOverlay)
        await fallback.remove()
    }
}
