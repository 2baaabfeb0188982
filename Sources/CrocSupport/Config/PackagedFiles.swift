import Foundation

/// Finds the files the defaults name (`Examples/data/GOOGL.csv`, `Examples/sweep-sma.yaml`, …)
/// when the command runs outside the repository.
///
/// The executable ships copies of them as package resources, under the same relative paths. A
/// path is looked up, in order: as given (relative to the working directory, so a repository
/// checkout or a user's own file of the same name always wins), then under each root, in order.
/// Only relative paths under `Examples/` are looked up in the roots; anything else is returned
/// unchanged, so the loader's error names the path the user wrote.
public struct PackagedFiles: Sendable {
    /// Folders that hold copies of the repository's `Examples/` tree, most preferred first.
    public let roots: [URL]

    /// - Parameter roots: Folders whose `Examples/…` files stand in for missing ones.
    public init(roots: [URL]) {
        self.roots = roots
    }

    /// `path` itself when it exists or is not a packaged default, else the first packaged copy
    /// that exists, else `path` unchanged.
    public func resolve(_ path: String) -> String {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: path), !path.hasPrefix("/") else { return path }
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        guard relative.hasPrefix("Examples/"), !relative.split(separator: "/").contains("..") else { return path }
        for root in roots {
            let candidate = root.appendingPathComponent(relative).path
            if fm.fileExists(atPath: candidate) { return candidate }
        }
        return path
    }

    /// `data.path` and `data.universe` resolved by `resolve(_:)` (the path form).
    public func resolve(_ data: DataConfig) -> DataConfig {
        var out = data
        out.path = resolve(data.path)
        out.universe = data.universe.map(resolve)
        return out
    }
}
