import Foundation

/// The repository root, found from this file's path (works in any clone).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Path of a shipped sample data file.
func sampleData(_ name: String) -> String { repoRoot.appendingPathComponent("Examples/data/\(name)").path }
