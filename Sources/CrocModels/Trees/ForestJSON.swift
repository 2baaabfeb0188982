#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fast reader for the GBDT weights' JSON (`GradientBoostedTrees.encodeWeights()`).
///
/// A 100-tree forest is some 60,000 numbers, which `JSONDecoder` takes ~20 ms to read: most of a
/// `model_topk` backtest's start-up. This reads the same document in one pass — any JSON
/// layout, keys in any order, unknown keys ignored, numbers read by `strtod` (correctly rounded,
/// so every threshold is the double that was written). It returns nil for anything it does not
/// take (then the caller falls back to `JSONDecoder`, whose error names the problem).
enum ForestJSON {
    /// The payload, or nil when the bytes are not a complete, well-formed payload.
    static func decode(_ bytes: [UInt8]) -> GradientBoostedTrees.Payload? {
        bytes.withUnsafeBufferPointer { buffer -> GradientBoostedTrees.Payload? in
            var reader = Reader(bytes: buffer)
            guard let value = reader.value() else { return nil }
            reader.skipSpace()
            guard reader.at == buffer.count, case .object(let top) = value else { return nil }
            guard case .string(let lossName)? = top["loss"], let loss = BoostingLoss(rawValue: lossName),
                let inputWidth = top["inputWidth"]?.integer, let baseScore = top["baseScore"]?.number,
                let featureGain = top["featureGain"]?.doubles, case .array(let trees)? = top["trees"]
            else { return nil }
            var decoded: [RegressionTree] = []
            decoded.reserveCapacity(trees.count)
            for tree in trees {
                guard case .object(let t) = tree, let feature = t["feature"]?.int32s, let threshold = t["threshold"]?.doubles,
                    let left = t["left"]?.int32s, let right = t["right"]?.int32s, let value = t["value"]?.doubles
                else { return nil }
                var r = RegressionTree()
                r.feature = feature
                r.threshold = threshold
                r.left = left
                r.right = right
                r.value = value
                decoded.append(r)
            }
            return GradientBoostedTrees.Payload(
                loss: loss,
                inputWidth: inputWidth,
                baseScore: baseScore,
                trees: decoded,
                featureGain: featureGain
            )
        }
    }

    /// A parsed JSON value; arrays of numbers are kept as doubles.
    enum Value {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case numbers([Double])
        case array([Value])
        case object([String: Value])

        var number: Double? {
            if case .number(let x) = self { return x }
            return nil
        }

        /// An exact integer.
        var integer: Int? {
            guard let x = number, x == x.rounded(), abs(x) < 9.0e15 else { return nil }
            return Int(x)
        }

        var doubles: [Double]? {
            switch self {
            case .numbers(let xs): return xs
            case .array(let xs): return xs.isEmpty ? [] : nil
            default: return nil
            }
        }

        var int32s: [Int32]? {
            guard let xs = doubles else { return nil }
            var out = [Int32]()
            out.reserveCapacity(xs.count)
            for x in xs {
                guard x == x.rounded(), x >= Double(Int32.min), x <= Double(Int32.max) else { return nil }
                out.append(Int32(x))
            }
            return out
        }
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func value() -> Value? {
            skipSpace()
            guard at < bytes.count else { return nil }
            switch bytes[at] {
            case UInt8(ascii: "{"): return object()
            case UInt8(ascii: "["): return array()
            case UInt8(ascii: "\""): return string().map { .string($0) }
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number().map { .number($0) }
            }
        }

        mutating func literal(_ word: StaticString, _ v: Value) -> Value? {
            let n = word.utf8CodeUnitCount
            guard at + n <= bytes.count else { return nil }
            for i in 0..<n where bytes[at + i] != word.utf8Start[i] { return nil }
            at += n
            return v
        }

        mutating func object() -> Value? {
            at += 1
            var fields: [String: Value] = [:]
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                at += 1
                return .object(fields)
            }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\""), let key = string() else { return nil }
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { return nil }
                at += 1
                guard let v = value() else { return nil }
                fields[key] = v
                skipSpace()
                guard at < bytes.count else { return nil }
                if bytes[at] == UInt8(ascii: ",") {
                    at += 1
                    continue
                }
                guard bytes[at] == UInt8(ascii: "}") else { return nil }
                at += 1
                return .object(fields)
            }
        }

        mutating func array() -> Value? {
            at += 1
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                at += 1
                return .array([])
            }
            var numbers: [Double] = []
            var values: [Value] = []
            var allNumbers = true
            while true {
                guard let v = value() else { return nil }
                if allNumbers, case .number(let x) = v {
                    numbers.append(x)
                } else {
                    if allNumbers {
                        values = numbers.map { .number($0) }
                        allNumbers = false
                    }
                    values.append(v)
                }
                skipSpace()
                guard at < bytes.count else { return nil }
                if bytes[at] == UInt8(ascii: ",") {
                    at += 1
                    continue
                }
                guard bytes[at] == UInt8(ascii: "]") else { return nil }
                at += 1
                return allNumbers ? .numbers(numbers) : .array(values)
            }
        }

        /// A string without escapes (the payload's keys and loss name); nil otherwise.
        mutating func string() -> String? {
            at += 1
            let start = at
            while at < bytes.count, bytes[at] != UInt8(ascii: "\"") {
                if bytes[at] == UInt8(ascii: "\\") { return nil }
                at += 1
            }
            guard at < bytes.count else { return nil }
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            at += 1
            return s
        }

        /// A JSON number, read by `strtod` (correctly rounded).
        mutating func number() -> Double? {
            let start = at
            while at < bytes.count {
                let c = bytes[at]
                let isNumberByte =
                    (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                guard isNumberByte else { break }
                at += 1
            }
            let n = at - start
            guard n > 0, n < 64 else { return nil }
            // Integers (the features and children, most of the numbers) exactly, without strtod.
            let negative = bytes[start] == UInt8(ascii: "-")
            let digits = n - (negative ? 1 : 0)
            if digits > 0, digits <= 15 {
                var v: Int64 = 0
                var plain = true
                for i in (start + n - digits)..<at {
                    let d = bytes[i] &- UInt8(ascii: "0")
                    guard d < 10 else {
                        plain = false
                        break
                    }
                    v = v &* 10 &+ Int64(d)
                }
                if plain { return negative ? -Double(v) : Double(v) }
            }
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buffer -> Double? in
                for i in 0..<n { buffer[i] = CChar(bitPattern: bytes[start + i]) }
                buffer[n] = 0
                var end: UnsafeMutablePointer<CChar>? = nil
                let x = strtod(buffer.baseAddress!, &end)
                guard let end, end == buffer.baseAddress! + n, x.isFinite else { return nil }
                return x
            }
        }
    }
}
