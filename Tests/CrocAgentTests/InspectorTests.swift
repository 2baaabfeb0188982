import CrocTestSupport
import Foundation
import Testing

@testable import CrocAgent

@Suite("Codebase inspector")
struct InspectorTests {
    /// A small repository: a source file with two types, a test file, a non-Swift file.
    func repository() throws -> URL {
        let root = testTemporaryURL().appendingPathComponent("crocagent-inspect-\(UUID().uuidString)")
        let files: [String: String] = [
            "Sources/Shop/Orders.swift": """
            import Foundation

            /// An order line.
            public struct Line: Sendable {
                public var sku: String
                public var quantity: Int
                /// The price.
                public var price: Double {
                    Double(quantity) * 2.5
                }
                public func describe() -> String {
                    "\\(sku) x\\(quantity)"
                }
            }

            public enum Pricing {
                /// Total of the lines; crashes on an empty cart.
                public static func total(_ lines: [Line], fee: Fee) -> Double {
                    let first = lines[0]
                    var sum = first.price
                    for line in lines.dropFirst() {
                        sum += line.price
                    }
                    return sum + fee.amount
                }

                public static func unrelated() -> Int { 42 }
            }
            """,
            "Sources/Shop/Fee.swift": """
            /// A flat fee.
            public struct Fee: Sendable {
                public var amount: Double
                public init(amount: Double) {
                    precondition(amount >= 0)
                    self.amount = amount
                }
            }
            """,
            "Tests/ShopTests/PricingTests.swift": """
            import Testing
            @testable import Shop

            @Test func totals() {
                #expect(Pricing.total([Line(sku: "a", quantity: 2)], fee: Fee(amount: 1)) == 6)
            }

            @Test func other() {
                #expect(Pricing.unrelated() == 42)
            }
            """,
            "scripts/deploy.sh": (1...80).map { "echo line \($0)" }.joined(separator: "\n"),
        ]
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root
    }

    func anomaly(_ locations: [CodeLocation]) -> Anomaly {
        Anomaly(
            kind: .repeatedError,
            fingerprint: Fingerprint(
                kind: "repeated_error",
                errorType: "Fatal error",
                message: "Index out of range",
                location: locations.first?.description
            ),
            summary: "crash",
            logEvidence: [],
            metricEvidence: [],
            locations: locations
        )
    }

    @Test("the enclosing function (with its doc comment), the interfaces of the types it uses, and the tests that call it")
    func swiftContext() throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let inspector = CodebaseInspector(repository: root)
        let context = inspector.context(for: anomaly([CodeLocation(file: "Shop/Orders.swift", line: 19, function: "total(_:fee:)")]))
        let excerpts = context.excerpts
        try #require(excerpts.count == 4, "\(excerpts.map { $0.reason })")

        let enclosing = excerpts[0]
        #expect(enclosing.path == "Sources/Shop/Orders.swift")
        #expect(enclosing.firstLine == 17)
        #expect(enclosing.text.hasPrefix("    /// Total of the lines; crashes on an empty cart.\n    public static func total("))
        #expect(enclosing.text.hasSuffix("return sum + fee.amount\n    }"))
        #expect(!enclosing.text.contains("unrelated"))

        // Types used: Line (declared in the same file) and Fee (another file), bodies dropped.
        let line = try #require(excerpts.first { $0.reason.contains("declaration of Line") })
        #expect(line.firstLine == 3 && line.text.contains("public var sku: String") && line.text.contains("public func describe() -> String"))
        #expect(!line.text.contains("2.5") && !line.text.contains("x\\("))
        let fee = try #require(excerpts.first { $0.reason.contains("declaration of Fee") })
        #expect(fee.path == "Sources/Shop/Fee.swift" && fee.text.contains("public init(amount: Double)") && !fee.text.contains("precondition"))

        // Only the test that calls total, not the whole file.
        let test = excerpts[3]
        #expect(test.path == "Tests/ShopTests/PricingTests.swift" && test.reason == "a test calling total")
        #expect(test.text.contains("func totals()") && !test.text.contains("unrelated"))
        #expect(context.text.contains("// Sources/Shop/Orders.swift:17 — enclosing declaration of line 19 in total(_:fee:)"))
    }

    @Test("a line in no member gives the enclosing type; a non-Swift file gives a line window; unknown files give nothing")
    func fallbacks() throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let inspector = CodebaseInspector(repository: root, window: 5)
        let type = inspector.context(for: anomaly([CodeLocation(file: "Orders.swift", line: 5, function: nil)]))
        #expect(type.excerpts.first?.firstLine == 3)
        #expect(type.excerpts.first?.text.hasPrefix("/// An order line.\npublic struct Line") == true)

        let script = inspector.context(for: anomaly([CodeLocation(file: "scripts/deploy.sh", line: 40, function: nil)]))
        #expect(script.excerpts.count == 1 && script.excerpts[0].firstLine == 35)
        #expect(script.excerpts[0].text == (35...45).map { "echo line \($0)" }.joined(separator: "\n"))

        #expect(inspector.context(for: anomaly([CodeLocation(file: "Nowhere/Gone.swift", line: 3, function: "f()")])).excerpts.isEmpty)
    }

    @Test("a metric anomaly without source lines gets the code that names the metric")
    func metricContext() throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let source = """
            struct ShopMetrics {
                let latency: Timer
                init(factory: Factory) {
                    latency = Timer(label: "shop_checkout_seconds", factory: factory)
                }
            }
            """
        try source.write(to: root.appendingPathComponent("Sources/Shop/ShopMetrics.swift"), atomically: true, encoding: .utf8)
        var a = anomaly([])
        a.metricEvidence = [MetricSample(name: "shop_checkout_seconds_bucket", labels: ["le": "0.1"], value: 3)]
        let context = CodebaseInspector(repository: root).context(for: a)
        let first = try #require(context.excerpts.first)
        #expect(first.path == "Sources/Shop/ShopMetrics.swift" && first.firstLine == 3 && first.text.contains("init(factory: Factory)"))
        #expect(first.reason == "enclosing declaration of line 4")
        #expect(CodebaseInspector(repository: root).context(for: anomaly([])).excerpts.isEmpty)
    }

    @Test("the budget caps the context: what does not fit is left out")
    func budget() throws {
        let root = try repository()
        defer { try? FileManager.default.removeItem(at: root) }
        let small = CodebaseInspector(repository: root, budget: 400)
        let context = small.context(for: anomaly([CodeLocation(file: "Shop/Orders.swift", line: 19, function: "total(_:fee:)")]))
        #expect(context.excerpts.count >= 1)
        #expect(context.excerpts.map({ $0.text.count }).reduce(0, +) <= 400)
        let none = CodebaseInspector(repository: root, budget: 10)
        #expect(none.context(for: anomaly([CodeLocation(file: "Shop/Orders.swift", line: 19, function: "total(_:fee:)")])).excerpts.isEmpty)
    }
}
