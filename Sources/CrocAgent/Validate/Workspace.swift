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

    /// `swift build` then `swift test` (cold and whole: what a fresh clone would run).
    public static let swiftDefaults = [ValidationCommand("swift build"), ValidationCommand("swift test")]

    /// Stands for the test targets that depend on the modules a patch changes, as a
    /// `swift test --filter` pattern (`(CrocExecutionTests|CrocRuntimeTests)\.`); a command
    /// holding it is skipped when no test target depends on the change.
    public static let affectedTestsPlaceholder = "{affected_tests}"

    /// The build configuration validation builds and tests in.
    public enum BuildConfiguration: String, Sendable, CaseIterable {
        /// `swift build`'s default: every module testable, nothing optimised.
        case debug
        /// `-c release`: for a package whose own modules are compiled testable in release
        /// (CrocBot's are, so its tests run on the release build its main command made);
        /// SwiftPM does not make a release build testable by itself.
        case release
    }

    /// The tiers for a Swift package: build (tests included), then only the test targets
    /// that depend on the changed modules, then — when `fullSuite` — every test; in
    /// `configuration`, so validation starts from the build state the repository has.
    public static func swiftTiers(
        fullSuite: Bool = false,
        timeoutSeconds: Double = 900,
        configuration: BuildConfiguration = .debug
    ) -> [ValidationCommand] {
        let c = configuration == .release ? " -c release" : ""
        var tiers = [
            ValidationCommand("swift build\(c) --build-tests", timeoutSeconds: timeoutSeconds),
            ValidationCommand("swift test\(c) --skip-build --filter '\(affectedTestsPlaceholder)'", timeoutSeconds: timeoutSeconds),
        ]
        if fullSuite { tiers.append(ValidationCommand("swift test\(c) --skip-build", timeoutSeconds: timeoutSeconds)) }
        return tiers
    }
}

/// Where validation workspaces live and what their commands may see.
public struct WorkspaceSettings: Sendable, Hashable {
    /// One workspace per repository is kept under this folder and reused, so its `.build`
    /// stays warm and a one-file patch rebuilds only what depends on it (nil: a fresh
    /// throwaway workspace per validation, built from nothing).
    public var cacheDirectory: URL?
    /// Run validation commands without network (`unshare -rn`, loopback up) where the
    /// machine allows unprivileged user namespaces; elsewhere they run with the network.
    public var isolateNetwork: Bool
    /// Variables kept although they look like secrets (e.g. a test database URL).
    public var keepEnvironment: [String]
    /// Validate in an overlay of the repository itself where the machine allows it
    /// (`unshare -rm`, overlayfs) and the repository has build state (`.build/build.db`):
    /// commands see the repository at its own path with its `.build`, every write lands in
    /// a scratch layer that is discarded, so even the first validation is incremental.
    public var overlay: Bool

    /// Creates settings.
    public init(
        cacheDirectory: URL? = WorkspaceSettings.defaultCache,
        isolateNetwork: Bool = true,
        keepEnvironment: [String] = [],
        overlay: Bool = true
    ) {
        self.cacheDirectory = cacheDirectory
        self.isolateNetwork = isolateNetwork
        self.keepEnvironment = keepEnvironment
        self.overlay = overlay
    }

    /// `$XDG_CACHE_HOME/crocbot-agent`, else `~/.cache/crocbot-agent`.
    public static var defaultCache: URL {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("crocbot-agent") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/crocbot-agent")
    }

    /// A fresh workspace per validation, with the network and the full environment
    /// minus secrets (what tests of small fixtures use).
    public static let throwaway = WorkspaceSettings(cacheDirectory: nil, isolateNetwork: false, overlay: false)

    /// `environment` without what may hold a secret: `BINANCE_*`, `CROCBOT_*`, `OPENAI_*`,
    /// `ANTHROPIC_*`, `AWS_*`, and any name containing `KEY`, `SECRET`, `TOKEN`,
    /// `PASSWORD` or `CREDENTIAL` — except the names in `keep`.
    public static func scrubbed(_ environment: [String: String], keep: [String] = []) -> [String: String] {
        let prefixes = ["BINANCE_", "CROCBOT_", "OPENAI_", "ANTHROPIC_", "AWS_", "GITHUB_TOKEN", "HF_"]
        let parts = ["KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH"]
        return environment.filter { name, _ in
            if keep.contains(name) { return true }
            let upper = name.uppercased()
            return !prefixes.contains(where: upper.hasPrefix) && !parts.contains(where: upper.contains)
        }
    }
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
    /// The lines of the whole output (before truncation) that name a failure: a failed test or
    /// issue (swift-testing's ✘ and "recorded an issue", XCTest's "failed") or a compiler error;
    /// at most 20, each at most 300 characters. A failure in the middle of a long test run is
    /// otherwise lost to the truncation of `output`.
    public var failures: [String] = []

    /// Exit 0 within the limit.
    public var passed: Bool { exitCode == 0 && !timedOut }
}

/// A copy of the repository where a patch is applied and validated without
/// touching the real tree.
///
/// Where the machine allows it and the repository has build state, the workspace is
/// an overlay of the repository (`WorkspaceSettings.overlay`): each command runs in a
/// private mount namespace where an overlayfs — the repository below, a scratch layer
/// above — is mounted at the repository's own path, so the build sees the same paths
/// and files as the repository's last build and rebuilds only what the patch changed;
/// the patch and every build output land in the scratch layer, which `remove()` deletes.
///
/// Otherwise, with a cache directory (the default), a git repository gets one persistent
/// `git worktree` per repository: each validation resets it to HEAD plus the
/// uncommitted changes to tracked files (`git reset --hard` rewrites only the files
/// that differ, so unchanged files keep their timestamps) and keeps its `.build`,
/// so a one-file patch rebuilds only what depends on it. A lock file serialises
/// validations of one repository. Without one (or outside git), a fresh worktree
/// (or copy, without `.build` and `.git`) is made in a temporary directory and
/// `remove()` deletes it.
///
/// Commands run with a scrubbed environment (`WorkspaceSettings.scrubbed`) and,
/// where the machine allows, without network.
public final class Workspace: @unchecked Sendable {
    // @unchecked: used by one task at a time.
    /// The workspace root.
    public let root: URL
    /// The repository it was made from.
    public let repository: URL
    /// Whether it is kept between validations (its `.build` stays warm).
    public let isPersistent: Bool
    /// Whether it is an overlay of the repository (`root` is then its scratch layer).
    public var isOverlay: Bool { overlayWork != nil }
    private let isWorktree: Bool
    private let settings: WorkspaceSettings
    private var lock: Int32 = -1
    private var overlayWork: URL?
    /// Characters of output kept per command.
    public var outputLimit = 8_000

    private init(
        root: URL,
        repository: URL,
        isWorktree: Bool,
        isPersistent: Bool,
        settings: WorkspaceSettings,
        lock: Int32 = -1,
        overlayWork: URL? = nil
    ) {
        self.overlayWork = overlayWork
        self.root = root
        self.repository = repository
        self.isWorktree = isWorktree
        self.isPersistent = isPersistent
        self.settings = settings
        self.lock = lock
    }

    deinit { if lock >= 0 { close(lock) } }

    /// The persistent workspace's folder for `repository` under `cache`.
    public static func persistentRoot(for repository: URL, cache: URL) -> URL {
        let path = repository.standardizedFileURL.path
        return cache.appendingPathComponent("\(repository.lastPathComponent)-\(Fingerprint.fnv(path))", isDirectory: true)
            .appendingPathComponent("workspace", isDirectory: true)
    }

    /// Makes (or, when persistent, resets) a workspace from `repository`.
    /// - Parameter needsFiles: the caller must see the workspace's files as a directory of
    ///   their own (a review branch is committed there, or a patch deletes or renames a
    ///   file): no overlay then.
    /// - Throws: `AgentError(.workspace)` when it cannot be created.
    public static func create(
        from repository: URL,
        settings: WorkspaceSettings = .init(),
        needsFiles: Bool = false
    ) async throws(AgentError) -> Workspace {
        let repo = repository.standardizedFileURL
        let isGit = FileManager.default.fileExists(atPath: repo.appendingPathComponent(".git").path)
        if settings.overlay, !needsFiles, let cache = settings.cacheDirectory, overlayAvailable,
            FileManager.default.fileExists(atPath: repo.appendingPathComponent(".build/build.db").path)
        {
            return try overlay(of: repo, cache: cache, settings: settings)
        }
        if isGit, let cache = settings.cacheDirectory {
            return try await persistent(from: repo, cache: cache, settings: settings)
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-agent-\(UUID().uuidString)")
        if isGit {
            let add = await run("git -C \(quote(repo.path)) worktree add --detach \(quote(root.path)) HEAD", in: repo, timeout: 120, limit: 4000)
            guard add.passed else { throw AgentError(.workspace, "git worktree add failed: \(add.output)") }
            try await carryUncommitted(from: repo, to: root)
            return Workspace(root: root, repository: repo, isWorktree: true, isPersistent: false, settings: settings)
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
        return Workspace(root: root, repository: repo, isWorktree: false, isPersistent: false, settings: settings)
    }

    /// The persistent worktree, locked and reset to the repository's state.
    private static func persistent(from repo: URL, cache: URL, settings: WorkspaceSettings) async throws(AgentError) -> Workspace {
        let root = persistentRoot(for: repo, cache: cache)
        let base = root.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        } catch {
            throw AgentError(.workspace, "cannot create \(base.path): \(error)")
        }
        let fd = open(base.appendingPathComponent("lock").path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw AgentError(.workspace, "cannot open the lock file under \(base.path)") }
        // Another validation of this repository holds it: wait (off the cooperative pool's threads is not needed; it is one call).
        guard flock(fd, LOCK_EX) == 0 else {
            close(fd)
            throw AgentError(.workspace, "cannot lock \(base.path)/lock")
        }
        let head = await run("git -C \(quote(repo.path)) rev-parse HEAD", in: repo, timeout: 60, limit: 2000)
        guard head.passed else {
            close(fd)
            throw AgentError(.workspace, "git rev-parse HEAD failed: \(head.output)")
        }
        let sha = head.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let valid = FileManager.default.fileExists(atPath: root.appendingPathComponent(".git").path)
        let isNew = !valid
        if valid {
            // Only files that differ are rewritten; untracked non-ignored files go; .build stays.
            let reset = await run("git reset -q --hard \(sha) && git clean -qfd -e .build -e Package.resolved", in: root, timeout: 120, limit: 4000)
            guard reset.passed else {
                close(fd)
                throw AgentError(.workspace, "resetting the workspace failed: \(reset.output)")
            }
        } else {
            try? FileManager.default.removeItem(at: root)
            _ = await run("git -C \(quote(repo.path)) worktree prune", in: repo, timeout: 60, limit: 2000)
            let add = await run("git -C \(quote(repo.path)) worktree add --detach \(quote(root.path)) \(sha)", in: repo, timeout: 120, limit: 4000)
            guard add.passed else {
                close(fd)
                throw AgentError(.workspace, "git worktree add failed: \(add.output)")
            }
        }
        do {
            try await carryUncommitted(from: repo, to: root)
        } catch {
            close(fd)
            throw error
        }
        // Package.resolved is ignored (not in the worktree): the workspace pins what the repository pins,
        // and resolves (with the network, before any untrusted code runs) when that changes.
        let resolved = repo.appendingPathComponent("Package.resolved")
        let copy = root.appendingPathComponent("Package.resolved")
        if let pins = try? Data(contentsOf: resolved) {
            let changed = (try? Data(contentsOf: copy)) != pins
            if changed { try? pins.write(to: copy) }
            if changed || isNew || !FileManager.default.fileExists(atPath: root.appendingPathComponent(".build/checkouts").path) {
                _ = await run("swift package resolve", in: root, timeout: 600, limit: 4000)
            }
        }
        return Workspace(root: root, repository: repo, isWorktree: true, isPersistent: true, settings: settings, lock: fd)
    }

    /// An overlay workspace: a fresh scratch layer under the cache, locked.
    private static func overlay(of repo: URL, cache: URL, settings: WorkspaceSettings) throws(AgentError) -> Workspace {
        let base = persistentRoot(for: repo, cache: cache).deletingLastPathComponent()
        let upper = base.appendingPathComponent("overlay/upper", isDirectory: true)
        let work = base.appendingPathComponent("overlay/work", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        } catch {
            throw AgentError(.workspace, "cannot create \(base.path): \(error)")
        }
        let fd = open(base.appendingPathComponent("lock").path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else {
            if fd >= 0 { close(fd) }
            throw AgentError(.workspace, "cannot lock \(base.path)/lock")
        }
        removeTree(upper)
        removeTree(work)
        do {
            try FileManager.default.createDirectory(at: upper, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        } catch {
            close(fd)
            throw AgentError(.workspace, "cannot create the overlay's layers under \(base.path): \(error)")
        }
        return Workspace(root: upper, repository: repo, isWorktree: false, isPersistent: false, settings: settings, lock: fd, overlayWork: work)
    }

    /// Deletes a folder the overlay wrote (its work folder holds entries without permissions).
    private static func removeTree(_ url: URL) {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "chmod -R u+rwx \(quote(url.path)) 2>/dev/null; rm -rf \(quote(url.path))"]
        try? p.run()
        p.waitUntilExit()
    }

    /// Whether unprivileged overlay mounts work here (`unshare -rm`, overlayfs in a user namespace).
    public static let overlayAvailable: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-overlay-probe-\(UUID().uuidString)").path
        defer { removeTree(URL(fileURLWithPath: dir)) }
        let script =
            "mkdir -p \(dir)/l \(dir)/u \(dir)/w \(dir)/m && echo x > \(dir)/l/f && unshare -rm sh -c "
            + quote("mount -t overlay overlay -o lowerdir=\(dir)/l,upperdir=\(dir)/u,workdir=\(dir)/w \(dir)/m && test -f \(dir)/m/f")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// Applies the repository's uncommitted changes to tracked files in `root`.
    private static func carryUncommitted(from repo: URL, to root: URL) async throws(AgentError) {
        let carry = await run(
            "git -C \(quote(repo.path)) diff HEAD --binary > \(quote(root.path))/.crocbot-wip.patch && "
                + "(test ! -s .crocbot-wip.patch || git apply .crocbot-wip.patch); rm -f .crocbot-wip.patch",
            in: root,
            timeout: 120,
            limit: 4000
        )
        guard carry.passed else { throw AgentError(.workspace, "carrying uncommitted changes failed: \(carry.output)") }
    }

    /// Applies patches to the workspace's files.
    /// - Throws: `PatchError` from the applier.
    public func apply(_ patches: [FilePatch], applier: PatchApplier = PatchApplier()) throws(PatchError) {
        try Self.apply(patches, under: root, lower: isOverlay ? repository : nil, applier: applier)
    }

    /// Applies patches under `root` (the workspace or, after validation, the repository).
    ///
    /// Patches apply in order to the content the earlier ones left, so two patches to one
    /// file both take effect; a rename removes the old path. Everything is computed before
    /// anything is written: a patch that fails half-way changes nothing.
    /// With `lower`, `root` is an overlay's scratch layer: files are read from it, else from
    /// `lower`, and written to it; removing a file there is refused (it would need a whiteout).
    static func apply(_ patches: [FilePatch], under root: URL, lower: URL? = nil, applier: PatchApplier) throws(PatchError) {
        var state: [String: String?] = [:]  // path → content after the patches so far (nil: absent)
        var order: [String] = []
        func current(_ path: String) -> String? {
            if let known = state[path] { return known }
            if let text = try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) { return text }
            return lower.flatMap { try? String(contentsOf: $0.appendingPathComponent(path), encoding: .utf8) }
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
                } else if lower != nil {
                    throw PatchError(.missingFile, path: path, "an overlay workspace cannot remove files; validate it in a worktree")
                } else if FileManager.default.fileExists(atPath: url.path) {
                    try FileManager.default.removeItem(at: url)
                }
            } catch {
                throw PatchError(.missingFile, path: url.path, "cannot write: \(error)")
            }
        }
    }

    /// Runs a validation command in the workspace: scrubbed environment, and no network
    /// when the settings ask for it and the machine allows it.
    public func run(_ command: ValidationCommand) async -> CommandResult {
        let environment = WorkspaceSettings.scrubbed(ProcessInfo.processInfo.environment, keep: settings.keepEnvironment)
        let line: String
        if let work = overlayWork {
            // A private mount namespace (and, when asked, network namespace) per command; the
            // overlay is mounted at the repository's path there, and the command runs in it.
            let mount =
                "mount -t overlay overlay -o lowerdir=\(Self.quote(repository.path)),upperdir=\(Self.quote(root.path)),workdir=\(Self.quote(work.path)) \(Self.quote(repository.path))"
            let lo = isolatesNetwork ? "(ip link set lo up || ifconfig lo up) >/dev/null 2>&1; " : ""
            line =
                "unshare -rm\(isolatesNetwork ? "n" : "") sh -c "
                + Self.quote("\(mount) && \(lo)cd \(Self.quote(repository.path)) && \(command.command)")
        } else {
            line = isolatesNetwork ? Self.withoutNetwork(command.command) : command.command
        }
        var r = await Self.run(line, in: root, timeout: command.timeoutSeconds, limit: outputLimit, environment: environment)
        r.command = command.command
        return r
    }

    /// Whether the commands run without network here.
    public var isolatesNetwork: Bool { settings.isolateNetwork && Self.networkIsolationAvailable }

    /// Whether `unshare -rn` works here (unprivileged user and network namespaces).
    public static let networkIsolationAvailable: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "command -v unshare >/dev/null 2>&1 && unshare -rn true >/dev/null 2>&1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// `command` in a new network namespace with only the loopback interface up (tests may
    /// still serve and call 127.0.0.1).
    static func withoutNetwork(_ command: String) -> String {
        "unshare -rn sh -c \(quote("(ip link set lo up || ifconfig lo up) >/dev/null 2>&1; " + command))"
    }

    /// Releases the workspace: a persistent one is unlocked and kept (the next validation
    /// resets it); a throwaway one is deleted.
    public func remove() async {
        if let work = overlayWork {
            Self.removeTree(root)
            Self.removeTree(work)
            overlayWork = nil
            if lock >= 0 {
                close(lock)
                lock = -1
            }
            return
        }
        if isPersistent {
            if lock >= 0 {
                close(lock)
                lock = -1
            }
            return
        }
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

    static func run(_ command: String, in directory: URL, timeout: Double, limit: Int, environment: [String: String]? = nil) async -> CommandResult {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-agent-cmd-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = directory
        if let environment { process.environment = environment }
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
            output: tail,
            failures: status == 0 && !timedOut ? [] : Self.failureLines(text)
        )
    }

    /// The lines of `text` that name a failure (see `CommandResult.failures`): failed tests and
    /// issues first, then compiler errors while there is room.
    static func failureLines(_ text: String, limit: Int = 20) -> [String] {
        var tests: [String] = []
        var errors: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("✘ ") || line.contains(" recorded an issue") || (line.hasPrefix("Test Case ") && line.contains(" failed")) {
                if !line.hasPrefix("✘ Test run with"), tests.count < limit { tests.append(String(line.prefix(300))) }
            } else if line.contains("error: "), errors.count < limit {
                errors.append(String(line.prefix(300)))
            }
        }
        return Array((tests + errors).prefix(limit))
    }
}
