import Foundation
import Logging
import Testing

@testable import CrocSupport

@Suite("Logging")
struct LoggingTests {
    let fixedClock: @Sendable () -> Date = { Date(timeIntervalSince1970: 1_764_000_000.123) }

    @Test("JSON handler writes one object per line with the documented keys in order")
    func jsonShape() throws {
        let sink = LogSink.inMemory()
        var logger = Logger(label: "crocbot.test") { JSONLogHandler(label: $0, sink: sink, clock: fixedClock) }
        logger.logLevel = .debug
        logger.error("order \"rejected\"\nnext line", metadata: ["clientOrderId": "crocbot-7", "nested": ["a": "1"], "list": ["x", "y"]])
        let lines = sink.lines
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(!line.contains("\n"))
        #expect(line.hasPrefix(#"{"time":"2025-11-24T16:00:00.123Z","level":"error","label":"crocbot.test","message":"#))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(Set(obj.keys) == ["time", "level", "label", "message", "metadata", "file", "line", "function"])
        #expect(obj["message"] as? String == "order \"rejected\"\nnext line")
        let meta = try #require(obj["metadata"] as? [String: Any])
        #expect(meta["clientOrderId"] as? String == "crocbot-7")
        #expect((meta["nested"] as? [String: Any])?["a"] as? String == "1")
        #expect(meta["list"] as? [String] == ["x", "y"])
        #expect((obj["file"] as? String)?.hasSuffix("LoggingTests.swift") == true)
        #expect(obj["line"] as? Int ?? 0 > 0)
        #expect(obj["function"] as? String == "jsonShape()")
    }

    @Test("log times are ISO 8601 in UTC to the millisecond, as String(format:) wrote them, over years 0-9999 and before 1970")
    func logTimes() {
        func reference(_ date: Date) -> String {
            let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
            let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
            let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
            let rem = Int(secs - days * 86400)
            let (y, m, d) = CivilCalendar.date(fromDays: days)
            return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60, Int(ms - secs * 1000))
        }
        var seconds: [Double] = [0, 1_764_000_000.123, 1_764_000_000.999, -0.001, -86_400.5, 253_402_300_799.999, -62_135_596_800, 951_782_400]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 { seconds.append(Double.random(in: -62_135_596_800...253_402_300_799, using: &generator)) }
        for s in seconds {
            let date = Date(timeIntervalSince1970: s)
            #expect(LogTime.iso8601(date) == reference(date), "\(s)")
        }
        #expect(LogTime.iso8601(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
    }

    @Test("JSON strings: plain ones written as they are, quotes, backslashes, control characters and (HTML-safe) < escaped")
    func jsonStrings() {
        /// The escape rules scalar by scalar (what `appendString` wrote before it took plain strings whole).
        func reference(_ s: String, htmlSafe: Bool) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "<" where htmlSafe: out += "\\u003c"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let samples = [
            "", "S084", "2020-01-01", "plain text, with spaces & symbols: 1.5%", "caf\u{E9} \u{1F40A}", "say \"hi\"", "back\\slash", "<b>",
            "a<b", "line\nbreak", "tab\there", "cr\r", "bell\u{07}", "\u{1F}", "\u{7F}", "x\u{0}y",
        ]
        for s in samples {
            for htmlSafe in [false, true] {
                var out = "prefix"
                JSONText.appendString(s, to: &out, htmlSafe: htmlSafe)
                #expect(out == "prefix" + reference(s, htmlSafe: htmlSafe), "\(s.debugDescription) htmlSafe \(htmlSafe)")
                let escapes = reference(s, htmlSafe: htmlSafe) != "\"" + s + "\""
                #expect(JSONText.needsEscape(s, htmlSafe: htmlSafe) == escapes, "\(s.debugDescription) htmlSafe \(htmlSafe)")
            }
        }
    }

    @Test("secrets never reach the log, in either format")
    func redaction() {
        let sink = LogSink.inMemory()
        let json = Logger(label: "j") { JSONLogHandler(label: $0, sink: sink) }
        let text = Logger(label: "t") { TextLogHandler(label: $0, sink: sink) }
        for logger in [json, text] {
            logger.info(
                "connect",
                metadata: ["api_key": "AKIA-SECRET-1", "apiSecret": "s3cr3t", "headers": ["Authorization": "Bearer tok"], "symbol": "BTCUSDT"]
            )
        }
        let all = sink.lines.joined(separator: "\n")
        #expect(!all.contains("AKIA-SECRET-1"))
        #expect(!all.contains("s3cr3t"))
        #expect(!all.contains("Bearer tok"))
        #expect(all.contains("BTCUSDT"))
        #expect(all.contains(SecretRedaction.mask))
        // Which keys are secret: any casing, with or without `_`/`-`, the fragment anywhere.
        for key in [
            "X-API-KEY", "apiKey", "PRIVATE_KEY", "session-token", "passwordHash", "x-mbx-signature", "PassPhrase", "authorization", "tok_en",
        ] {
            #expect(SecretRedaction.isSecret(key: key), "\(key)")
        }
        for key in ["symbol", "api", "key", "to-k", "pass", "sign", "", "apí_key"] {
            #expect(!SecretRedaction.isSecret(key: key), "\(key)")
        }
    }

    @Test("text handler writes a readable line with sorted metadata")
    func textLine() throws {
        let sink = LogSink.inMemory()
        let logger = Logger(label: "crocbot") { TextLogHandler(label: $0, sink: sink, clock: fixedClock) }
        logger.warning("slow", metadata: ["b": "2", "a": "1"])
        #expect(sink.lines == ["2025-11-24T16:00:00.123Z warning crocbot: slow a=1 b=2"])
    }
}
