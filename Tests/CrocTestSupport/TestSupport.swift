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

/// The path of a file `name` in a fresh temporary folder (created; the file is not).
public func tempPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crocbot-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}
