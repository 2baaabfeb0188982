import Foundation
import Synchronization

/// Where formatted log lines go: standard error, standard output, a file, or
/// memory (for tests). Writes are serialised so lines never interleave.
public final class LogSink: Sendable {
    private enum Target {
        case handle(FileHandle)
        case memory
    }

    private let target: Target
    private let buffer = Mutex<[String]>([])
    private let writeLock = Mutex<Void>(())

    private init(_ target: Target) { self.target = target }

    /// Standard error (the default: keeps stdout for results).
    public static let standardError = LogSink(.handle(FileHandle.standardError))
    /// Standard output.
    public static let standardOutput = LogSink(.handle(FileHandle.standardOutput))

    /// A sink that keeps lines in memory; read them with `lines`.
    public static func inMemory() -> LogSink { LogSink(.memory) }

    /// A sink appending to a file, created if needed.
    /// - Throws: when the file cannot be opened for writing.
    public static func file(atPath path: String) throws -> LogSink {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle.seekToEndOfFile()
        return LogSink(.handle(handle))
    }

    /// Writes one line (a newline is added).
    public func write(_ line: String) {
        switch target {
        case .memory:
            buffer.withLock { $0.append(line) }
        case .handle(let h):
            // The bytes copied from the string's own storage (`Data(_: some Sequence)` asks at
            // run time which protocols the sequence conforms to: a scan of the binary's conformances).
            var text = line + "\n"
            let data = text.withUTF8 { Data(bytes: $0.baseAddress!, count: $0.count) }
            writeLock.withLock { _ in h.write(data) }
        }
    }

    /// The lines written so far (in-memory sinks only).
    public var lines: [String] { buffer.withLock { $0 } }
}
