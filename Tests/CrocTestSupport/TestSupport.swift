import Foundation
import Logging

/// The repository root, found from this file's path (works in any clone, from any directory).
public let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The path of a shipped sample data file (`Examples/data/<name>`).
public func sampleData(_ name: String) -> String {
    repoRoot.appendingPathComponent("Examples/data/\(name)").path
}

/// A logger that drops everything: for the code under test that takes one.
public let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// This test process's temporary folder (ending in `/`): every file and folder the tests make
/// goes under it, and it is removed when the process exits, so a test run leaves nothing in
/// the system's temporary folder (a run used to leave a few dozen folders behind: order
/// stores, universes, agent workspaces).
public func testTemporaryDirectory() -> String { testTemporaryRoot.path }

/// `testTemporaryDirectory()` as a URL.
public func testTemporaryURL() -> URL { URL(fileURLWithPath: testTemporaryRoot.path, isDirectory: true) }

private struct TemporaryRoot: Sendable {
    let path: String

    init() {
        let root = NSTemporaryDirectory() + "crocbot-tests-\(getpid())-\(UUID().uuidString)/"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        path = root
        atexit { removeTestTemporaryRoot() }
    }
}

private let testTemporaryRoot = TemporaryRoot()

/// Removes the process's temporary folder (at exit).
private func removeTestTemporaryRoot() { try? FileManager.default.removeItem(atPath: testTemporaryRoot.path) }

/// The path of a file `name` in a fresh temporary folder (created; the file is not).
public func tempPath(_ name: String) -> String {
    let dir = testTemporaryURL().appendingPathComponent("crocbot-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}
