import Foundation

/// The targets of a Swift package and their dependencies, read from
/// `swift package dump-package`: which test targets a patch can break.
public struct PackageGraph: Sendable, Hashable {
    /// One target.
    public struct Target: Sendable, Hashable {
        /// Its name.
        public var name: String
        /// `regular`, `executable`, `test`, `macro`, `plugin`…
        public var type: String
        /// Its folder, relative to the package (`Sources/<name>` or `Tests/<name>` unless the manifest says otherwise).
        public var path: String
        /// The targets of this package it depends on (products of other packages left out).
        public var dependencies: [String]
    }

    /// The targets, in manifest order.
    public var targets: [Target]

    /// Creates a graph.
    public init(targets: [Target]) { self.targets = targets }

    /// Reads `swift package dump-package` output.
    /// - Throws: `AgentError(.workspace)` when it is not the manifest's JSON.
    public init(dumpPackageJSON data: Data) throws(AgentError) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let list = object["targets"] as? [[String: Any]]
        else { throw AgentError(.workspace, "swift package dump-package: not a package description") }
        let names = Set(list.compactMap { $0["name"] as? String })
        targets = list.compactMap { t in
            guard let name = t["name"] as? String else { return nil }
            let type = t["type"] as? String ?? "regular"
            let path = (t["path"] as? String) ?? (type == "test" ? "Tests/\(name)" : "Sources/\(name)")
            var deps: [String] = []
            for d in t["dependencies"] as? [[String: Any]] ?? [] {
                // {"byName": ["X", null]} or {"target": ["X", null]}; products are other packages'.
                for key in ["byName", "target"] {
                    if let v = d[key] as? [Any], let n = v.first as? String, names.contains(n) { deps.append(n) }
                }
            }
            return Target(name: name, type: type, path: path, dependencies: deps)
        }
    }

    /// Loads the graph of the package at `root`.
    /// - Throws: `AgentError(.workspace)` when `swift package dump-package` fails.
    public static func load(packageAt root: URL) async throws(AgentError) -> PackageGraph {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-dump-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let r = await Workspace.run("swift package dump-package > \(Workspace.quote(file.path))", in: root, timeout: 300, limit: 4000)
        guard r.passed, let data = try? Data(contentsOf: file) else {
            throw AgentError(.workspace, "swift package dump-package failed: \(r.output)")
        }
        return try PackageGraph(dumpPackageJSON: data)
    }

    /// Loads the graph of the package in a workspace, through its own command runner (an
    /// overlay workspace's files exist only inside its commands).
    public static func load(in workspace: Workspace) async throws(AgentError) -> PackageGraph {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-dump-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let r = await workspace.run(ValidationCommand("swift package dump-package > \(Workspace.quote(file.path))", timeoutSeconds: 300))
        guard r.passed, let data = try? Data(contentsOf: file) else {
            throw AgentError(.workspace, "swift package dump-package failed: \(r.output)")
        }
        return try PackageGraph(dumpPackageJSON: data)
    }

    /// The target whose folder holds `path` (repository-relative), if any.
    public func target(containing path: String) -> Target? {
        targets.filter { path.hasPrefix($0.path + "/") }.max { $0.path.count < $1.path.count }
    }

    /// The test targets that a change to `paths` can break: those that are, or depend
    /// (through any chain of targets) on, a target holding a changed file. Nil when a
    /// path lies outside every target (a resource, a script): then only the whole
    /// suite says what it breaks.
    public func affectedTestTargets(changing paths: [String]) -> [String]? {
        var changed: Set<String> = []
        for p in paths {
            guard let t = target(containing: p) else { return nil }
            changed.insert(t.name)
        }
        let byName = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var memo: [String: Bool] = [:]
        func reaches(_ name: String, _ seen: Set<String>) -> Bool {
            if let m = memo[name] { return m }
            if changed.contains(name) { return true }
            guard let t = byName[name], !seen.contains(name) else { return false }
            let r = t.dependencies.contains { reaches($0, seen.union([name])) }
            memo[name] = r
            return r
        }
        return targets.filter { $0.type == "test" && reaches($0.name, []) }.map(\.name)
    }

    /// A `swift test --filter` pattern selecting every test of `targets`.
    public static func filter(for targets: [String]) -> String {
        "(" + targets.joined(separator: "|") + ")\\."
    }
}
