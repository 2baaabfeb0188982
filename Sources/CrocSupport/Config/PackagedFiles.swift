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
    /// Finds the folders, asked only when a path needs a stand-in (see `init(findingRoots:)`).
    private let findRoots: @Sendable () -> [URL]

    /// Folders that hold copies of the repository's `Examples/` tree, most preferred first.
    public var roots: [URL] { findRoots() }

    /// - Parameter roots: Folders whose `Examples/…` files stand in for missing ones.
    public init(roots: [URL]) {
        self.findRoots = { roots }
    }

    /// Folders found only when a path is missing and needs a stand-in: finding them can cost
    /// more than the command (an executable's bundle is a few milliseconds to locate), and the
    /// common case — the file exists where it is named — never asks.
    /// - Parameter findingRoots: Returns the folders, most preferred first (called per fallback).
    public init(findingRoots: @escaping @Sendable () -> [URL]) {
        self.findRoots = findingRoots
    }

    /// `path` itself when it exists or is not a packaged default, else the first packaged copy
    /// that exists, else `path` unchanged.
    public func resolve(_ path: String) -> String {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: path), !path.hasPrefix("/") else { return path }
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        guard relative.hasPrefix("Examples/"), !relative.split(separator: "/").contains("..") else { return path }
        for root in findRoots() {
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
