import Foundation

/// Why a patch was refused before validation.
public struct PatchRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rule broken.
    public enum Rule: String, Sendable, Equatable {
        /// An absolute path.
        case absolutePath = "absolute_path"
        /// A `..` component, or a path that resolves (through a symlink) outside the repository.
        case outsideRepository = "outside_repository"
        /// A path inside `.git/`.
        case gitDirectory = "git_directory"
        /// A path on the configured deny-list.
        case denied
        /// More files than allowed.
        case tooManyFiles = "too_many_files"
        /// More changed lines than allowed.
        case tooManyLines = "too_many_lines"
    }

    /// The rule broken.
    public var rule: Rule
    /// The offending path, if any.
    public var path: String?
    /// A message for people.
    public var detail: String

    /// `outside_repository: ../outside/x.swift: ...`.
    public var description: String { "\(rule.rawValue): " + (path.map { "\($0): " } ?? "") + detail }
}

/// What a patch may touch (DESIGN rule 9: LLM output is untrusted).
public struct PatchPolicy: Sendable {
    /// The repository root; every path must stay inside it.
    public var repository: URL
    /// Path prefixes or `*` globs that may not be changed (e.g. `.github/`, `*.yml`, `Package.swift`).
    public var denyList: [String]
    /// Files one patch may touch.
    public var maxFiles: Int
    /// Lines (added + removed) one patch may change.
    public var maxChangedLines: Int

    /// Creates a policy.
    public init(repository: URL, denyList: [String] = [".github/", ".ci/", "Package.swift"], maxFiles: Int = 5, maxChangedLines: Int = 200) {
        self.repository = repository
        self.denyList = denyList
        self.maxFiles = maxFiles
        self.maxChangedLines = maxChangedLines
    }

    /// Checks every path and the size of the change.
    /// - Throws: the first `PatchRefusal`.
    public func check(_ patches: [FilePatch]) throws(PatchRefusal) {
        let paths = Set(patches.flatMap { [$0.oldPath, $0.newPath].compactMap { $0 } })
        guard paths.count <= maxFiles else {
            throw PatchRefusal(rule: .tooManyFiles, path: nil, detail: "\(paths.count) files, at most \(maxFiles)")
        }
        let lines = patches.reduce(0) { $0 + $1.changedLines }
        guard lines <= maxChangedLines else {
            throw PatchRefusal(rule: .tooManyLines, path: nil, detail: "\(lines) changed lines, at most \(maxChangedLines)")
        }
        for p in paths.sorted() { try check(path: p) }
    }

    /// Checks one repository-relative path.
    /// - Throws: `PatchRefusal` naming the rule.
    public func check(path: String) throws(PatchRefusal) {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.hasPrefix("~") else {
            throw PatchRefusal(rule: .absolutePath, path: path, detail: "paths must be relative to the repository")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.contains("..") else {
            throw PatchRefusal(rule: .outsideRepository, path: path, detail: "'..' leaves the repository")
        }
        guard !parts.contains(".git") else {
            throw PatchRefusal(rule: .gitDirectory, path: path, detail: "the .git directory is never changed")
        }
        for rule in denyList where Self.matches(path, rule) {
            throw PatchRefusal(rule: .denied, path: path, detail: "on the deny-list ('\(rule)')")
        }
        // Follow symlinks along the existing part of the path: it must stay inside the repository.
        let root = repository.resolvingSymlinksInPath().standardizedFileURL.path
        var probe = repository
        for part in parts {
            probe.appendPathComponent(part)
            guard
                FileManager.default.fileExists(atPath: probe.path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: probe.path)) != nil
            else { break }
            let resolved = probe.resolvingSymlinksInPath().standardizedFileURL.path
            guard resolved == root || resolved.hasPrefix(root + "/") else {
                throw PatchRefusal(rule: .outsideRepository, path: path, detail: "resolves to \(resolved), outside the repository")
            }
        }
    }

    /// `dir/` matches a prefix; `*.ext` a suffix; anything else the whole path or its last component.
    static func matches(_ path: String, _ rule: String) -> Bool {
        if rule.hasSuffix("/") { return path.hasPrefix(rule) || ("/" + path).contains("/" + rule) }
        if rule.hasPrefix("*") { return path.hasSuffix(String(rule.dropFirst())) }
        return path == rule || path.hasSuffix("/" + rule)
    }
}
