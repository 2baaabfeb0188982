import Foundation
import Logging

/// A swift-log handler for people: `2026-11-25T10:00:00.000Z info crocbot: message key=value`.
/// Secret-looking metadata is masked like in `JSONLogHandler`.
public struct TextLogHandler: LogHandler {
    /// The logger label.
    public let label: String
    /// Handler-level metadata merged into every line.
    public var metadata: Logger.Metadata = [:]
    /// Minimum level emitted.
    public var logLevel: Logger.Level = .info
    /// Optional provider of contextual metadata.
    public var metadataProvider: Logger.MetadataProvider?
    private let sink: LogSink
    private let clock: @Sendable () -> Date

    /// Creates a handler writing to `sink`.
    public init(label: String, sink: LogSink = .standardError, clock: @escaping @Sendable () -> Date = Date.init) {
        self.label = label
        self.sink = sink
        self.clock = clock
    }

    /// Metadata access by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Formats and writes one event.
    public func log(event: LogEvent) {
        let merged = Logger.Metadata.merged(handler: metadata, provider: metadataProvider, event: event.metadata)
        var line = "\(LogTime.iso8601(clock())) \(event.level.rawValue) \(label): \(event.message)"
        let safe = SecretRedaction.redact(merged)
        for key in safe.keys.sorted() {
            line += " \(key)=\(safe[key]!)"
        }
        sink.write(line)
    }
}

/// Installs CrocBot's log handlers. Only executables call this (libraries
/// accept a `Logger`); calling it twice is a programming error in swift-log.
public enum CrocLogging {
    /// Bootstraps swift-log with the chosen format and level, writing to `sink`.
    public static func bootstrap(format: LogFormat, level: String, sink: LogSink = .standardError) {
        let lvl = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            switch format {
            case .json:
                var h = JSONLogHandler(label: label, sink: sink)
                h.logLevel = lvl
                return h
            case .text:
                var h = TextLogHandler(label: label, sink: sink)
                h.logLevel = lvl
                return h
            }
        }
    }
}
