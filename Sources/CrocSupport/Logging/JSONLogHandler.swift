import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line:
/// `{"time","level","label","message","metadata","file","line","function"}`.
///
/// Keys always appear in that order; metadata keys are sorted, so the same
/// event gives the same bytes. Secret-looking metadata is masked
/// (`SecretRedaction`). The agent's `LogMonitor` reads exactly this shape.
public struct JSONLogHandler: LogHandler {
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

    /// Creates a handler.
    /// - Parameters:
    ///   - label: The logger label.
    ///   - sink: Where lines go (default standard error).
    ///   - clock: Source of timestamps (injectable for tests).
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
        sink.write(format(event: event))
    }

    /// The JSON line for an event (exposed for tests and other sinks).
    public func format(event: LogEvent) -> String {
        let merged = Logger.Metadata.merged(handler: metadata, provider: metadataProvider, event: event.metadata)
        var out = "{\"time\":"
        JSONText.appendString(LogTime.iso8601(clock()), to: &out)
        out += ",\"level\":"
        JSONText.appendString(event.level.rawValue, to: &out)
        out += ",\"label\":"
        JSONText.appendString(label, to: &out)
        out += ",\"message\":"
        JSONText.appendString(event.message.description, to: &out)
        out += ",\"metadata\":"
        JSONText.appendMetadata(merged, to: &out)
        out += ",\"file\":"
        JSONText.appendString(event.file, to: &out)
        out += ",\"line\":\(event.line),\"function\":"
        JSONText.appendString(event.function, to: &out)
        out += "}"
        return out
    }
}

/// Minimal JSON written by hand (ordered keys, exact escaping): log lines, and the reports'
/// chart data.
public enum JSONText {
    /// Appends `s` as a JSON string literal.
    /// - Parameter htmlSafe: Also escape `<` (as `\u003c`), so the text can sit inside an HTML
    ///   `<script>` element without ending it.
    public static func appendString(_ s: String, to out: inout String, htmlSafe: Bool = false) {
        // Most strings (a symbol, a date, a log message) need no escape: one scan of their bytes
        // and one append, instead of a scalar at a time.
        if !needsEscape(s, htmlSafe: htmlSafe) {
            out += "\""
            out += s
            out += "\""
            return
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "<" where htmlSafe: out += "\\u003c"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Whether `appendString` changes any of `s`'s bytes: a quote, a backslash, a control
    /// character, or `<` when `htmlSafe`. (Bytes of other characters are written as they are.)
    @inline(__always)
    public static func needsEscape(_ s: String, htmlSafe: Bool) -> Bool {
        s.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || (htmlSafe && $0 == 0x3C) }
    }

    static func appendMetadata(_ m: Logger.Metadata, to out: inout String) {
        out += "{"
        var first = true
        for key in m.keys.sorted() {
            if !first { out += "," }
            first = false
            appendString(key, to: &out)
            out += ":"
            if SecretRedaction.isSecret(key: key) {
                appendString(SecretRedaction.mask, to: &out)
            } else {
                appendValue(m[key]!, to: &out)
            }
        }
        out += "}"
    }

    static func appendValue(_ v: Logger.Metadata.Value, to out: inout String) {
        switch v {
        case .string(let s): appendString(s, to: &out)
        case .stringConvertible(let c): appendString(c.description, to: &out)
        case .array(let a):
            out += "["
            for (i, e) in a.enumerated() {
                if i > 0 { out += "," }
                appendValue(e, to: &out)
            }
            out += "]"
        case .dictionary(let d): appendMetadata(d, to: &out)
        }
    }
}

/// UTC timestamps with milliseconds, `2026-11-25T10:00:00.123Z`.
enum LogTime {
    static func iso8601(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let milli = Int(ms - secs * 1000)
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = Int(secs - days * 86400)
        let (y, m, d) = CivilCalendar.date(fromDays: days)
        guard (0...9999).contains(y) else {
            return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60, milli)
        }
        // Digits written directly: `String(format:)` costs a scan of the binary's protocol
        // conformances on its first call (a millisecond of every command's start).
        var bytes = [UInt8]()
        bytes.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(v / divisor))
                v %= divisor
                divisor /= 10
            }
        }
        digits(y, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(m, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(d, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(rem / 3600, 2)
        bytes.append(UInt8(ascii: ":"))
        digits((rem % 3600) / 60, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(rem % 60, 2)
        bytes.append(UInt8(ascii: "."))
        digits(milli, 3)
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
