import Foundation

/// One line of CrocBot's JSON logs (`JSONLogHandler`'s format).
public struct LogRecord: Sendable, Hashable, Codable {
    /// ISO 8601 time.
    public var time: String
    /// `trace` … `critical`.
    public var level: String
    /// The logger label.
    public var label: String
    /// The message.
    public var message: String
    /// Metadata (values as text).
    public var metadata: [String: String]
    /// Source file.
    public var file: String?
    /// Source line.
    public var line: Int?
    /// Source function.
    public var function: String?

    /// Whether the level is `error` or `critical`.
    public var isError: Bool { level == "error" || level == "critical" }

    /// Reads one JSON line; nil when it is not a log record.
    public static func parse(_ line: Substring) -> LogRecord? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let level = object["level"] as? String, let message = object["message"] as? String
        else { return nil }
        var metadata: [String: String] = [:]
        if let m = object["metadata"] as? [String: Any] {
            for (k, v) in m { metadata[k] = v as? String ?? "\(v)" }
        }
        return LogRecord(
            time: object["time"] as? String ?? "",
            level: level,
            label: object["label"] as? String ?? "",
            message: message,
            metadata: metadata,
            file: object["file"] as? String,
            line: (object["line"] as? NSNumber)?.intValue,
            function: object["function"] as? String
        )
    }
}

/// Tails a JSON-lines log file incrementally.
///
/// Each `poll()` returns the records appended since the last one. It
/// remembers its byte offset and the file's identity: a truncated file (size
/// below the offset) or a rotated one (a new inode at the path) is read from
/// the start. A line still being written (no newline yet) waits for the next
/// poll. Lines that are not log records are skipped and counted.
public final class LogMonitor: @unchecked Sendable {
    // @unchecked: used from one task at a time (the agent's loop).
    /// The file tailed.
    public let path: String
    /// Byte offset read up to.
    public private(set) var offset: UInt64
    /// Lines skipped as malformed so far.
    public private(set) var malformedLines = 0
    private var inode: UInt64?
    private var pending = Data()

    /// Tails `path` from `offset` (0: the whole file).
    public init(path: String, offset: UInt64 = 0) {
        self.path = path
        self.offset = offset
    }

    /// Records appended since the last poll (none if the file does not exist yet).
    public func poll() -> [LogRecord] {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.uint64Value
        else { return [] }
        let identity = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value
        if let inode, let identity, inode != identity {
            offset = 0  // rotated: a new file at the path
            pending.removeAll()
        }
        inode = identity
        if size < offset {
            offset = 0  // truncated
            pending.removeAll()
        }
        guard size > offset, let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: offset)
            let data = try handle.read(upToCount: Int(size - offset)) ?? Data()
            offset += UInt64(data.count)
            pending.append(data)
        } catch {
            return []
        }
        var records: [LogRecord] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let lineData = pending[pending.startIndex..<newline]
            pending.removeSubrange(pending.startIndex...newline)
            guard !lineData.isEmpty else { continue }
            let text = String(decoding: lineData, as: UTF8.self)
            if let r = LogRecord.parse(text[...]) {
                records.append(r)
            } else {
                malformedLines += 1
            }
        }
        return records
    }
}
