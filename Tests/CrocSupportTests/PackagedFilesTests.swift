import CrocTestSupport
import Foundation
import Testing

@testable import CrocSupport

@Suite("PackagedFiles")
struct PackagedFilesTests {
    private let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file name no checkout has.
    private let shipped = "Examples/data/packaged-only-\(UUID().uuidString).csv"

    /// A temporary folder with `Examples/data/GOOGL.csv` and ``shipped`` in it.
    private func root() throws -> URL {
        let dir = testTemporaryURL().appendingPathComponent("packaged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("Examples/data"), withIntermediateDirectories: true)
        for f in ["Examples/data/GOOGL.csv", shipped] {
            try Data("date,open,high,low,close\n".utf8).write(to: dir.appendingPathComponent(f))
        }
        return dir
    }

    @Test("a missing default is found under the first root that has it; a path that exists wins")
    func resolvesDefaults() throws {
        let empty = testTemporaryURL().appendingPathComponent("packaged-empty-\(UUID().uuidString)")
        let r = try root()
        defer { try? FileManager.default.removeItem(at: r) }
        let files = PackagedFiles(roots: [empty, r])
        #expect(files.resolve(shipped) == r.appendingPathComponent(shipped).path)
        #expect(files.resolve("./" + shipped) == r.appendingPathComponent(shipped).path)
        // A file that exists where the command runs wins over the packaged copy.
        let local = testTemporaryURL().appendingPathComponent("local-\(UUID().uuidString).csv")
        try Data("x".utf8).write(to: local)
        defer { try? FileManager.default.removeItem(at: local) }
        let inRoot = PackagedFiles(roots: [r]).resolve(local.path)
        #expect(inRoot == local.path)
        let cwd = FileManager.default.currentDirectoryPath
        if FileManager.default.fileExists(atPath: (cwd as NSString).appendingPathComponent("Examples/data/GOOGL.csv")) {
            #expect(files.resolve("Examples/data/GOOGL.csv") == "Examples/data/GOOGL.csv")
        }
        // Not shipped anywhere: unchanged, so the loader's error names what the user wrote.
        #expect(files.resolve("Examples/data/NOPE.csv") == "Examples/data/NOPE.csv")
        // Only Examples/ paths are looked up, never absolute ones or ones that climb out.
        #expect(files.resolve("data/GOOGL.csv") == "data/GOOGL.csv")
        #expect(files.resolve("/nowhere/Examples/data/GOOGL.csv") == "/nowhere/Examples/data/GOOGL.csv")
        #expect(files.resolve("Examples/../Examples/data/NOPE.csv") == "Examples/../Examples/data/NOPE.csv")
    }

    @Test("roots found on demand are looked for only when a named file is missing, each time one is")
    func rootsFoundOnDemand() throws {
        let r = try root()
        defer { try? FileManager.default.removeItem(at: r) }
        final class Count: @unchecked Sendable { var calls = 0 }
        let count = Count()
        let files = PackagedFiles(findingRoots: {
            count.calls += 1
            return [r]
        })
        let local = testTemporaryURL().appendingPathComponent("local-\(UUID().uuidString).csv")
        try Data("x".utf8).write(to: local)
        defer { try? FileManager.default.removeItem(at: local) }
        #expect(files.resolve(local.path) == local.path)
        #expect(files.resolve("data/elsewhere.csv") == "data/elsewhere.csv")
        #expect(count.calls == 0)
        #expect(files.resolve(shipped) == r.appendingPathComponent(shipped).path)
        #expect(count.calls == 1)
        #expect(files.roots == [r] && count.calls == 2)
    }

    @Test("a data section's path and universe are resolved; other keys untouched")
    func resolvesDataConfig() throws {
        let r = try root()
        defer { try? FileManager.default.removeItem(at: r) }
        let files = PackagedFiles(roots: [r])
        let data = DataConfig(path: "/abs/file.csv", symbol: "X", universe: shipped)
        let out = files.resolve(data)
        #expect(out.path == "/abs/file.csv")
        #expect(out.universe == r.appendingPathComponent(shipped).path)
        #expect(out.symbol == "X")
        #expect(files.resolve(DataConfig(path: shipped)).path == r.appendingPathComponent(shipped).path)
    }

    @Test("the executable's packaged copies are byte for byte the repository's examples")
    func copiesMatchExamples() throws {
        let packaged = repo.appendingPathComponent("Sources/crocbot/Defaults")
        let files = try FileManager.default.subpathsOfDirectory(atPath: packaged.path).filter { !$0.hasSuffix("/") }
        var compared = 0
        for f in files {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: packaged.appendingPathComponent(f).path, isDirectory: &isDir), !isDir.boolValue else {
                continue
            }
            let copy = try Data(contentsOf: packaged.appendingPathComponent(f))
            let original = try Data(contentsOf: repo.appendingPathComponent(f))
            #expect(copy == original, "Sources/crocbot/Defaults/\(f) differs from \(f): copy the example again")
            compared += 1
        }
        #expect(compared >= 3)
    }
}
