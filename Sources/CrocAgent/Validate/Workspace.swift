import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A command that validates a patch, with its time limit.
public struct ValidationCommand: Sendable, Hashable, Codable {
    /// A shell command line, run in the workspace root (`swift build`, `pytest -q`).
    public var command: String
    /// Seconds before it is killed (with everything it started).
    public var timeoutSeconds: Double

    /// Creates a command.
    public init(_ command: String, timeoutSeconds: Double = 900) {
        self.command = command
        self.timeoutSeconds = timeoutSeconds
    }

    /// `swift build` then `swift test`.
    public static let swiftDefaults = [ValidationCommand("swift build"), ValidationCommand("swift test")]
}

/// What a validation command did.
public struct CommandResult: Sendable, Hashable {
    /// The command.
    public var command: String
    /// Its exit status (nil when killed).
    public var exitCode: Int32?
    /// Whether the time limit killed it.
    public var timedOut: Bool
    /// Wall time in seconds.
    public var seconds: Double
    /// Its combined output, at most `outputLimit` characters: the first quarter
    /// and the last three quarters around an omission marker (a crash's message
    /// comes first, a compiler's summary last).
    public var output: String

    /// Exit 0 within the limit.
    public var passed: Bool { exitCode == 0 && !timedOut }
}

/// A throwaway copy of the repository in a temporary directory, where a
/// patch is applied and validated without touching the real tree.
///
/// A git repository becomes a `git worktree` of HEAD plus the uncommitted
/// changes to tracked files; anything else is copied (without `.build` and
/// `.git`). `remove()` deletes it (and prunes the worktree).
public final class Workspace: @unchecked Sendable {
    // @unchecked: used by one task at a time.
    /// The workspace root.
    public let root: URL
    /// The repository it was made from.
    public let repository: URL
    private let isWorktree: Bool
    /// Characters of output kept per command.
    public var outputLimit = 8_000

    private init(root: URL, repository: URL, isWorktree: Bool) {
        self.root = root
        self.repository = repository
        self.isWorktree = isWorktree
    }

    /// Makes a workspace from `repository`.
    /// - Throws: `AgentError(.workspace)` when it cannot be created.
    public static func create(from repository: URL) async throws(AgentError) -> Workspace {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-agent-\(UUID().uuidString)")
        let repo = repository.standardizedFileURL
        if FileManager.default.fileExists(atPath: repo.appendingPathComponent(".git").path) {
            let add = await run("git -C \(quote(repo.path)) worktree add --detach \(quote(root.path)) HEAD", in: repo, timeout: 120, limit: 4000)
            guard add.passed else { throw AgentError(.workspace, "git worktree add failed: \(add.output)") }
            // Uncommitted changes to tracked files come along.
            let carry = await run(
                "git -C \(quote(repo.path)) diff HEAD --binary > \(quote(root.path))/.crocbot-wip.patch && "
                    + "(test ! -s .crocbot-wip.patch || git apply .crocbot-wip.patch); rm -f .crocbot-wip.patch",
                in: root,
                timeout: 120,
                limit: 4000
            )
            guard carry.passed else { throw AgentError(.workspace, "carrying uncommitted changes failed: \(carry.output)") }
            return Workspace(root: root, repository: repo, isWorktree: true)
        }
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            for item in try FileManager.default.contentsOfDirectory(atPath: repo.path)
            where item != ".build" && item != ".git" && !item.hasPrefix(".build") {
                try FileManager.default.copyItem(at: repo.appendingPathComponent(item), to: root.appendingPathComponent(item))
            }
        } catch {
            throw AgentError(.workspace, "copying \(repo.path) failed: \(error)")
        }
        return Workspace(root: root, repository: repo, isWorktree: false)
    }

    /// Applies patches to the workspace's files.
    /// - Throws: `PatchError` from the applier.
    public func apply(_ patches: [FilePatch], applier: PatchApplier = PatchApplier()) throws(PatchError) {
        try Self.apply(patches, under: root, applier: applier)
    }

    /// Applies patches under `root` (the workspace or, after validation, the repository).
    ///
    /// Patches apply in order to the content the earlier ones left, so two patches to one
    /// file both take effect; a rename removes the old path. Everything is computed before
    /// anything is written: a patch that fails half-way changes nothing.
    static func apply(_ patches: [FilePatch], under root: URL, applier: PatchApplier) throws(PatchError) {
        var state: [String: String?] = [:]  // path → content after the patches so far (nil: absent)
        var order: [String] = []
        func current(_ path: String) -> String? {
            if let known = state[path] { return known }
            return try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        }
        func set(_ path: String, _ content: String?) {
            if state[path] == nil { order.append(path) }
            state[path] = .some(content)
        }
        for p in patches {
            let source = p.oldPath ?? p.path
            let updated = try applier.apply(p, to: current(source))
            if let old = p.oldPath, let new = p.newPath, old != new {
                guard current(new) == nil else { throw PatchError(.missingFile, path: new, "renaming \(old) onto an existing file") }
                set(old, nil)
            }
            set(p.path, updated)
        }
        for path in order {
            let url = root.appendingPathComponent(path)
            do {
                if let content = state[path] ?? nil {
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(content.utf8).write(to: url, options: .atomic)
                } else if FileManager.default.fileExists(atPath: url.path) {
                    try FileManager.default.removeItem(at: url)
                }
            } catch {
                throw PatchError(.missingFile, path: url.path, "cannot write: \(error)")
            }
        }
    }

    /// Runs a validation command in the workspace.
    public func run(_ command: ValidationCommand) async -> CommandResult {
        await Self.run(command.command, in: root, timeout: command.timeoutSeconds, limit: outputLimit)
    }

    /// Deletes the workspace.
    public func remove() async {
        if isWorktree {
            _ = await Self.run(
                "git -C \(Self.quote(repository.path)) worktree remove --force \(Self.quote(root.path))",
                in: repository,
                timeout: 60,
                limit: 2000
            )
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// Single-quotes a path for the shell.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs `command` through `sh -c`; Foundation starts the child in its own
    /// process group, so on timeout the whole group (the shell and whatever it
    /// started) is killed. Output (stdout + stderr) goes to a file whose tail is kept.
    /// Whether `python3 -m pytest` runs here (the blueprint's default validation command).
    public static var pytestAvailable: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "python3 -m pytest --version >/dev/null 2>&1"]
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// `text` cut to about `limit` characters: its head and tail around a marker.
    static func truncate(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        let head = limit / 4
        let tail = limit - head
        return String(text.prefix(head)) + "\n… \(text.count - limit) characters omitted …\n" + String(text.suffix(tail))
    }

    static func run(_ command: String, in directory: URL, timeout: Double, limit: Int) async -> CommandResult {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-agent-cmd-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = directory
        guard let handle = try? FileHandle(forWritingTo: log) else {
            return CommandResult(command: command, exitCode: nil, timedOut: false, seconds: 0, output: "cannot open a log file")
        }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { p in
            exited.continuation.yield(p.terminationStatus)
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            try? handle.close()
            return CommandResult(command: command, exitCode: nil, timedOut: false, seconds: 0, output: "cannot start: \(error)")
        }
        let pid = process.processIdentifier
        let fired = Mutex(false)
        let killer = Task {
            try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
            fired.withLock { $0 = true }
            kill(-pid, SIGTERM)
            kill(pid, SIGTERM)
            try await Task.sleep(for: .seconds(5))
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        var status: Int32?
        for await s in exited.stream { status = s }
        killer.cancel()
        let timedOut = fired.withLock { $0 }
        try? handle.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let tail = Self.truncate(text, limit: limit)
        return CommandResult(
            command: command,
            exitCode: timedOut ? nil : status,
            timedOut: timedOut,
            seconds: Date().timeIntervalSince(started),
            output: tail
        )
    }
}
