import Foundation
import Testing

@testable import CrocSupport

@Suite("AppConfig")
struct AppConfigTests {
    @Test("defaults describe the shipped backtest")
    func defaults() throws {
        let c = try AppConfig.load(path: nil)
        #expect(c.data.path == "Examples/data/GOOGL.csv")
        #expect(c.strategy.name == "sma_cross")
        #expect(c.backtest.cash == 10_000)
        #expect(c.backtest.commission == 0.002)
        #expect(c.backtest.fillAt == .nextOpen)
        #expect(c.logging.format == .text)
    }

    @Test("reads YAML and JSON with snake_case or camelCase keys")
    func files() throws {
        let yaml = """
            data:
              path: Examples/data/EURUSD_1H_ASK.csv
            strategy:
              name: sma_cross
              params: {fast: 5, slow: 30}
            backtest:
              cash: 50000
              slippage_bps: 2.5
              fill_at: close
            logging: {format: json, level: debug}
            """
        let c = try AppConfig(from: try AppConfig.parse(text: yaml))
        #expect(c.data.path == "Examples/data/EURUSD_1H_ASK.csv")
        #expect(c.strategy.params["fast"] == .int(5))
        #expect(c.backtest.cash == 50_000)
        #expect(c.backtest.slippageBps == 2.5)
        #expect(c.backtest.fillAt == .close)
        #expect(c.logging.format == .json)
        let json = #"{"backtest": {"cash": 1234.5, "commission": 0}, "strategy": {"name": "sma_cross"}}"#
        let j = try AppConfig(from: try AppConfig.parse(text: json))
        #expect(j.backtest.cash == 1234.5)
        #expect(j.backtest.commission == 0)
    }

    @Test("CROCBOT_ environment variables override the file, flags override both")
    func overrides() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("croc-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("c.yaml").path
        try "backtest:\n  cash: 100\n  commission: 0.001\n".write(toFile: file, atomically: true, encoding: .utf8)
        let env = ["CROCBOT_BACKTEST__CASH": "200", "CROCBOT_STRATEGY__PARAMS__FAST": "7", "CROCBOT_API_KEY": "secret", "HOME": "/root"]
        let c = try AppConfig.load(path: file, environment: env)
        #expect(c.backtest.cash == 200)
        #expect(c.backtest.commission == 0.001)
        #expect(c.strategy.params["fast"] == .int(7))
        let f = try AppConfig.load(path: file, environment: env, overrides: ["backtest.cash": .double(300)])
        #expect(f.backtest.cash == 300)
    }

    @Test(
        "validation errors name the key path and the rule",
        arguments: [
            ("backtest: {cash: -5}", "backtest.cash", "must be > 0"),
            ("backtest: {commission: 0.5}", "backtest.commission", "[0, 0.1)"),
            ("backtest: {cash: lots}", "backtest.cash", "expected a finite number"),
            ("backtest: {fillAt: tomorrow}", "backtest.fillAt", "must be one of next_open, close"),
            ("backtest: {cahs: 5}", "backtest.cahs", "unknown key"),
            ("strategi: {name: x}", "strategi", "unknown key"),
            ("logging: {level: loud}", "logging.level", "must be one of"),
            ("data: {delimiter: ';;'}", "data.delimiter", "exactly one"),
            ("instrument: {quantityStep: 0}", "instrument.quantityStep", "between"),
            ("data: [1, 2]", "data", "expected a mapping"),
        ]
    )
    func validation(yaml: String, path: String, rule: String) throws {
        let error = #expect(throws: ConfigError.self) { try AppConfig(from: try AppConfig.parse(text: yaml), source: "t.yaml") }
        #expect(error?.keyPath == path)
        #expect(error?.rule.contains(rule) == true, "\(error?.rule ?? "")")
        #expect(error?.description.contains("(in t.yaml)") == true)
    }

    @Test("syntax errors and unreadable files are typed")
    func badFiles() {
        let syntax = #expect(throws: ConfigError.self) { try AppConfig.parse(text: "a: [1, 2", source: "bad.yaml") }
        #expect(syntax?.code == .syntax)
        let missing = #expect(throws: ConfigError.self) { try AppConfig.load(path: "/nonexistent/crocbot.yaml") }
        #expect(missing?.code == .unreadable)
        #expect(missing?.source == "/nonexistent/crocbot.yaml")
    }

    @Test("scalars from the command line parse to their natural type")
    func scalars() {
        #expect(ConfigValue(parsingScalar: "5") == .int(5))
        #expect(ConfigValue(parsingScalar: "2.5") == .double(2.5))
        #expect(ConfigValue(parsingScalar: "true") == .bool(true))
        #expect(ConfigValue(parsingScalar: "abc") == .string("abc"))
        #expect(ConfigValue(parsingScalar: "nan") == .string("nan"))
    }
}
