import CrocTestSupport
import Foundation
import Testing

@Suite("Test temporary folder")
struct TestTemporaryFolderTests {
    @Test("the tests' files go under one folder of this process, inside the system's temporary folder")
    func oneFolderPerProcess() throws {
        let root = testTemporaryDirectory()
        #expect(root.hasPrefix(NSTemporaryDirectory()) && root.hasSuffix("/"))
        #expect(root.contains("crocbot-tests-\(getpid())-"))
        var isFolder: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: root, isDirectory: &isFolder) && isFolder.boolValue)
        #expect(testTemporaryDirectory() == root, "the same folder for the whole process")
        let file = tempPath("x.csv")
        #expect(file.hasPrefix(root) && file.hasSuffix("/x.csv"))
        #expect(FileManager.default.fileExists(atPath: (file as NSString).deletingLastPathComponent))
        #expect(testTemporaryURL().path + "/" == root)
    }
}
