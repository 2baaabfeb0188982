import CrocSupport

/// The JSON text columns of a stored trial (`parameters`, `violations`,
/// `metrics`, `blocks`), written and read by a small codec for these four
/// shapes instead of `JSONEncoder`/`JSONDecoder`: a store writes and reads
/// every trial of a sweep, and the Codable machinery cost more per trial
/// than the backtest itself (`crocbench sweep` prints both).
///
/// The text is ordinary JSON with sorted keys, so SQL can still query it
/// (`json_extract(metrics, '$.sharpe')`, `metrics::jsonb->>'sharpe'`).
/// Non-finite numbers are the strings `"nan"`, `"inf"` and `"-inf"`, as
/// `SweepJSON` writes them. Doubles are written in their shortest
/// round-tripping form and read back exactly; integers stay integers and
/// doubles stay doubles (`3.0` is written `3.0`; JSONDecoder read an
/// integral number such as `2.9e+16` as an integer, this reader keeps any
/// number with a fraction or exponent a double). Text that this reader
/// does not take (rows written by an older version with other escapes, or
/// damaged rows) goes to `SweepJSON.decode`, whose error names the problem.
public enum TrialColumns {
    /// The four columns of `trial`.
    public static func encode(_ trial: TrialResult) -> (parameters: String, violations: String, metrics: String, blocks: String) {
        var w = Writer()
        w.object(trial.parameters)
        let parameters = w.take()
        w.strings(trial.violations)
        let violations = w.take()
        w.doubles(trial.metrics)
        let metrics = w.take()
        w.blocks(trial.blocks)
        return (parameters, violations, metrics, w.take())
    }

    /// Reads a `parameters` column.
    /// - Throws: `DecodingError` (from `SweepJSON`) when the text is not a JSON object.
    public static func parameters(_ text: String) throws -> [String: ConfigValue] {
        if let v = Reader.parse(text, { r in try r.objectValues { r in try r.value() } }) { return v }
        return try SweepJSON.decode([String: ConfigValue].self, text)
    }

    /// Reads a `violations` column.
    /// - Throws: `DecodingError` when the text is not a JSON array of strings.
    public static func violations(_ text: String) throws -> [String] {
        if let v = Reader.parse(text, { r in try r.array { r in try r.string() } }) { return v }
        return try SweepJSON.decode([String].self, text)
    }

    /// Reads a `metrics` column.
    /// - Throws: `DecodingError` when the text is not a JSON object of numbers.
    public static func metrics(_ text: String) throws -> [String: Double] {
        if let v = Reader.parse(text, { r in try r.objectValues { r in try r.double() } }) { return v }
        return try SweepJSON.decode([String: Double].self, text)
    }

    /// Reads a `blocks` column.
    /// - Throws: `DecodingError` when the text is not a JSON array of return moments.
    public static func blocks(_ text: String) throws -> [ReturnMoments] {
        let fast = Reader.parse(text) { r in
            try r.array { r -> ReturnMoments in
                var m = ReturnMoments()
                var seen = 0
                try r.object { key, r in
                    let v = try r.double()
                    switch key {
                    case "n": m.n = v
                    case "s1": m.s1 = v
                    case "s2": m.s2 = v
                    case "s3": m.s3 = v
                    case "s4": m.s4 = v
                    default: throw Reader.Failure()
                    }
                    seen += 1
                }
                guard seen == 5 else { throw Reader.Failure() }
                return m
            }
        }
        if let v = fast { return v }
        return try SweepJSON.decode([ReturnMoments].self, text)
    }

    // MARK: Writing

    struct Writer {
        private var bytes: [UInt8] = []

        init() { bytes.reserveCapacity(512) }

        mutating func take() -> String {
            defer { bytes.removeAll(keepingCapacity: true) }
            return String(decoding: bytes, as: UTF8.self)
        }

        mutating func raw(_ s: StaticString) {
            s.withUTF8Buffer { bytes.append(contentsOf: $0) }
        }

        private static let hex = Array("0123456789abcdef".utf8)

        mutating func string(_ s: String) {
            bytes.append(UInt8(ascii: "\""))
            for b in s.utf8 {
                switch b {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case UInt8(ascii: "\n"): raw("\\n")
                case UInt8(ascii: "\r"): raw("\\r")
                case UInt8(ascii: "\t"): raw("\\t")
                case 0..<0x20:
                    raw("\\u00")
                    bytes.append(Self.hex[Int(b >> 4)])
                    bytes.append(Self.hex[Int(b & 15)])
                default: bytes.append(b)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }

        mutating func double(_ d: Double) {
            if d.isNaN {
                raw("\"nan\"")
            } else if d.isInfinite {
                raw(d > 0 ? "\"inf\"" : "\"-inf\"")
            } else {
                // The shortest text that reads back as `d` (e.g. 0.1, 1e-05, 3.0): valid JSON numbers.
                bytes.append(contentsOf: d.description.utf8)
            }
        }

        mutating func value(_ v: ConfigValue) {
            switch v {
            case .null: raw("null")
            case .bool(let b): raw(b ? "true" : "false")
            case .int(let i): bytes.append(contentsOf: String(i).utf8)
            case .double(let d): double(d)
            case .string(let s): string(s)
            case .array(let a): list(a) { w, x in w.value(x) }
            case .object(let o): object(o)
            }
        }

        mutating func object(_ o: [String: ConfigValue]) {
            members(o) { w, v in w.value(v) }
        }

        mutating func doubles(_ o: [String: Double]) {
            members(o) { w, v in w.double(v) }
        }

        private mutating func members<V>(_ o: [String: V], _ body: (inout Writer, V) -> Void) {
            bytes.append(UInt8(ascii: "{"))
            for (k, key) in o.keys.sorted().enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                string(key)
                bytes.append(UInt8(ascii: ":"))
                body(&self, o[key]!)
            }
            bytes.append(UInt8(ascii: "}"))
        }

        private mutating func list<E>(_ a: [E], _ body: (inout Writer, E) -> Void) {
            bytes.append(UInt8(ascii: "["))
            for (k, x) in a.enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                body(&self, x)
            }
            bytes.append(UInt8(ascii: "]"))
        }

        mutating func strings(_ a: [String]) {
            list(a) { w, s in w.string(s) }
        }

        mutating func blocks(_ a: [ReturnMoments]) {
            list(a) { w, m in
                w.raw("{\"n\":")
                w.double(m.n)
                w.raw(",\"s1\":")
                w.double(m.s1)
                w.raw(",\"s2\":")
                w.double(m.s2)
                w.raw(",\"s3\":")
                w.double(m.s3)
                w.raw(",\"s4\":")
                w.double(m.s4)
                w.bytes.append(UInt8(ascii: "}"))
            }
        }
    }

    // MARK: Reading

    /// A JSON reader over UTF-8 bytes for the shapes above; any surprise is a
    /// `Failure`, and the caller falls back to `JSONDecoder`.
    struct Reader {
        struct Failure: Error {}

        private let b: UnsafeBufferPointer<UInt8>
        private var i = 0

        private init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

        /// Runs `body` over `text`; nil when it fails or leaves anything but whitespace.
        static func parse<T>(_ text: String, _ body: (inout Reader) throws -> T) -> T? {
            var text = text
            return text.withUTF8 { buffer -> T? in
                var r = Reader(buffer)
                guard let v = try? body(&r) else { return nil }
                r.skipSpace()
                return r.i == buffer.count ? v : nil
            }
        }

        private mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        private mutating func expect(_ c: UInt8) throws {
            skipSpace()
            guard i < b.count, b[i] == c else { throw Failure() }
            i += 1
        }

        /// Skips whitespace and consumes `c` when it comes next.
        private mutating func consume(_ c: UInt8) -> Bool {
            skipSpace()
            if i < b.count, b[i] == c {
                i += 1
                return true
            }
            return false
        }

        private mutating func literal(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard i + n <= b.count else { return false }
            let p = s.utf8Start
            for k in 0..<n where b[i + k] != p[k] { return false }
            i += n
            return true
        }

        mutating func array<T>(_ element: (inout Reader) throws -> T) throws -> [T] {
            try expect(UInt8(ascii: "["))
            var out: [T] = []
            if consume(UInt8(ascii: "]")) { return out }
            repeat { out.append(try element(&self)) } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
            return out
        }

        mutating func object(_ member: (String, inout Reader) throws -> Void) throws {
            try expect(UInt8(ascii: "{"))
            if consume(UInt8(ascii: "}")) { return }
            repeat {
                let key = try string()
                try expect(UInt8(ascii: ":"))
                try member(key, &self)
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        }

        mutating func objectValues<V>(_ value: (inout Reader) throws -> V) throws -> [String: V] {
            var out: [String: V] = [:]
            try object { key, r in
                guard out.updateValue(try value(&r), forKey: key) == nil else { throw Failure() }  // duplicate key
            }
            return out
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            let start = i
            // The common case: no escapes, one copy.
            while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { i += 1 }
            guard i < b.count else { throw Failure() }
            if b[i] == UInt8(ascii: "\"") {
                defer { i += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            }
            var out = Array(b[start..<i])
            while true {
                guard i < b.count else { throw Failure() }
                let c = b[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard i < b.count else { throw Failure() }
                    let e = b[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard literal("\\u") else { throw Failure() }
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw Failure() }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw Failure() }
                        out.append(contentsOf: String(Character(u)).utf8)
                    default: throw Failure()
                    }
                case 0..<0x20: throw Failure()
                default: out.append(c)
                }
            }
        }

        private mutating func hex4() throws -> UInt32 {
            guard i + 4 <= b.count else { throw Failure() }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                i += 1
                let d: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
                default: throw Failure()
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }

        /// A JSON number's text and whether it is an integer literal.
        private mutating func number() throws -> (text: String, isInteger: Bool) {
            skipSpace()
            let start = i
            var integer = true
            if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
            let digits = i
            while i < b.count {
                let c = b[i]
                if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                    i += 1
                } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
                    || c == UInt8(ascii: "-")
                {
                    integer = false
                    i += 1
                } else {
                    break
                }
            }
            guard i > digits, b[digits] >= UInt8(ascii: "0"), b[digits] <= UInt8(ascii: "9") else { throw Failure() }
            // JSON has no leading zeros (01); Foundation gets to refuse those.
            if b[digits] == UInt8(ascii: "0"), digits + 1 < i, b[digits + 1] >= UInt8(ascii: "0"), b[digits + 1] <= UInt8(ascii: "9") {
                throw Failure()
            }
            return (String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self), integer)
        }

        /// A number, or one of the strings "nan", "inf", "-inf".
        mutating func double() throws -> Double {
            skipSpace()
            guard i < b.count else { throw Failure() }
            if b[i] == UInt8(ascii: "\"") {
                switch try string() {
                case "nan": return .nan
                case "inf": return .infinity
                case "-inf": return -.infinity
                default: throw Failure()
                }
            }
            guard let d = Double(try number().text) else { throw Failure() }
            return d
        }

        mutating func value() throws -> ConfigValue {
            skipSpace()
            guard i < b.count else { throw Failure() }
            switch b[i] {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["): return .array(try array { r in try r.value() })
            case UInt8(ascii: "{"): return .object(try objectValues { r in try r.value() })
            case UInt8(ascii: "t"):
                guard literal("true") else { throw Failure() }
                return .bool(true)
            case UInt8(ascii: "f"):
                guard literal("false") else { throw Failure() }
                return .bool(false)
            case UInt8(ascii: "n"):
                guard literal("null") else { throw Failure() }
                return .null
            default:
                let (text, integer) = try number()
                if integer, let n = Int(text) { return .int(n) }
                guard let d = Double(text) else { throw Failure() }
                return .double(d)
            }
        }
    }
}
