import CrocTestSupport
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

    @Test("the live section: defaults, environment overrides, key-path errors, and the token masked when encoded")
    func live() throws {
        let d = try AppConfig.load(path: nil)
        #expect(d.live.exchange == .paper && d.live.port == 8080 && d.live.host == "127.0.0.1" && d.live.token.isEmpty)
        #expect(d.live.intervalDuration == .seconds(60))
        let c = try AppConfig.load(
            path: nil,
            environment: ["CROCBOT_LIVE__TOKEN": "s3cret", "CROCBOT_LIVE__PORT": "9090", "CROCBOT_LIVE__INTERVAL": "4h"]
        )
        #expect(c.live.token == "s3cret" && c.live.port == 9090 && c.live.intervalDuration == .seconds(4 * 3600))
        let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        #expect(!json.contains("s3cret") && json.contains("\"token\":\"***\""))
        for (key, value, message) in [
            ("live.port", ConfigValue.int(70_000), "live.port"), ("live.exchange", .string("kraken"), "live.exchange"),
            ("live.stream", .string("depth"), "live.stream"), ("live.speed", .double(0), "live.speed"),
            ("live.interval", .string("7m"), "live.interval"), ("live.symbol", .string("BTC/USDT"), "live.symbol"),
        ] {
            let e = #expect(throws: ConfigError.self) { try AppConfig.load(path: nil, overrides: [key: value]) }
            #expect(e?.keyPath == message)
        }
    }

    @Test("live safety settings: text stays text from the environment, no open status server without a token, one store per venue")
    func liveSafety() throws {
        // Environment strings stay strings where the schema says string: the token 000123 is not the number 123.
        let c = try AppConfig.load(path: nil, environment: ["CROCBOT_LIVE__TOKEN": "000123", "CROCBOT_LIVE__PORT": "9091"])
        #expect(c.live.token == "000123" && c.live.port == 9091)
        // A non-loopback bind address needs a token.
        let open = #expect(throws: ConfigError.self) { try AppConfig.load(path: nil, overrides: ["live.host": .string("0.0.0.0")]) }
        #expect(open?.keyPath == "live.token")
        #expect(open?.description.contains("not a loopback address") == true)
        let guarded = try AppConfig.load(path: nil, overrides: ["live.host": .string("0.0.0.0"), "live.token": .string("t0ken")])
        #expect(guarded.live.host == "0.0.0.0")
        #expect(try AppConfig.load(path: nil, overrides: ["live.host": .string("localhost")]).live.token.isEmpty)
        // Testnet and production never share a store.
        var live = LiveConfig(exchange: .binance)
        #expect(live.storePath(paper: false) == "output/live-orders-binance-testnet.sqlite")
        live.testnet = false
        #expect(live.storePath(paper: false) == "output/live-orders-binance.sqlite")
        #expect(live.storePath(paper: true) == "output/live-orders-paper.sqlite")
        live.store = "elsewhere.sqlite"
        #expect(live.storePath(paper: false) == "elsewhere.sqlite")
        // Endpoints and the unknown-position policy come from config.
        let yaml = "live: {restURL: 'http://127.0.0.1:9999', streamURL: 'ws://127.0.0.1:9998', onUnknownPosition: adopt, resolveWithin: 10}\n"
        let e = try AppConfig(from: try AppConfig.parse(text: yaml)).live
        #expect(
            e.restURL == "http://127.0.0.1:9999" && e.streamURL == "ws://127.0.0.1:9998" && e.onUnknownPosition == .adopt && e.resolveWithin == 10
        )
        #expect(try AppConfig.load(path: nil).live.onUnknownPosition == .refuse)
        for (key, value) in [
            ("live.restURL", ConfigValue.string("ftp://x")), ("live.onUnknownPosition", .string("ignore")), ("live.resolveWithin", .int(0)),
        ] {
            let err = #expect(throws: ConfigError.self) { try AppConfig.load(path: nil, overrides: [key: value]) }
            #expect(err?.keyPath == key)
        }
    }

    @Test("live.symbols: a list or a comma-separated override; checked symbol by symbol with its index")
    func liveSymbols() throws {
        let yaml = "live: {symbols: [BTCUSDT, ETHUSDT], sliceGrace: 2}\n"
        let live = try AppConfig(from: try AppConfig.parse(text: yaml)).live
        #expect(live.tradedSymbols == ["BTCUSDT", "ETHUSDT"] && live.sliceGrace == 2)
        #expect(try AppConfig.load(path: nil).live.tradedSymbols == ["BTCUSDT"])  // `symbol` alone
        let env = try AppConfig.load(path: nil, environment: ["CROCBOT_LIVE__SYMBOLS": "BTCUSDT, BNBUSDT"])
        #expect(env.live.symbols == ["BTCUSDT", "BNBUSDT"])
        let cases: [(ConfigValue, String, String)] = [
            (.array([.string("BTCUSDT"), .string("btcusdt")]), "live.symbols[1]", "listed twice"),
            (.array([.string("BTC/USDT")]), "live.symbols[0]", "letters and digits"),
            (.array([.int(1), .object([:])]), "live.symbols[1]", "expected a string"),
        ]
        for (value, path, rule) in cases {
            let err = #expect(throws: ConfigError.self) { try AppConfig.load(path: nil, overrides: ["live.symbols": value]) }
            #expect(err?.keyPath == path)
            #expect("\(err.map { "\($0)" } ?? "")".contains(rule))
        }
    }

    @Test("the risk section: optional limits, validated with key paths")
    func risk() throws {
        #expect(try AppConfig.load(path: nil).risk.isEmpty)
        let yaml = """
            risk:
              maxOrderNotional: 5000
              maxPositionNotional: 10000
              maxPosition: 2
              maxOpenOrders: 4
              maxOrdersPerMinute: 30
              maxDrawdown: 0.2
              priceBandBps: 500
            """
        let r = try AppConfig(from: try AppConfig.parse(text: yaml), source: "r.yaml").risk
        #expect(
            r
                == RiskConfig(
                    maxOrderNotional: 5000,
                    maxPositionNotional: 10000,
                    maxPosition: 2,
                    maxOpenOrders: 4,
                    maxOrdersPerMinute: 30,
                    maxDrawdown: 0.2,
                    priceBandBps: 500
                )
        )
        for (text, path, rule) in [
            ("risk: {maxDrawdown: 1.5}", "risk.maxDrawdown", "(0, 1)"), ("risk: {maxOrderNotional: -1}", "risk.maxOrderNotional", "> 0"),
            ("risk: {maxOpenOrders: 0}", "risk.maxOpenOrders", "1...1000000"), ("risk: {maxOrder: 5}", "risk.maxOrder", "unknown key"),
            ("risk: {maxPosition: lots}", "risk.maxPosition", "expected a finite number"),
        ] {
            let e = #expect(throws: ConfigError.self) { try AppConfig(from: try AppConfig.parse(text: text), source: "r.yaml") }
            #expect(e?.keyPath == path)
            #expect(e?.description.contains(rule) == true, "\(e?.description ?? "")")
        }
        let env = try AppConfig.load(path: nil, environment: ["CROCBOT_RISK__MAXDRAWDOWN": "0.25"])
        #expect(env.risk.maxDrawdown == 0.25)
    }

    @Test("the agent section: safe defaults, YAML values, key-path errors for every rule")
    func agent() throws {
        let d = try AppConfig.load(path: nil).agent
        #expect(!d.applyChanges && d.confidenceThreshold == 0.7 && d.validation == AgentConfig.defaultValidation)
        #expect(!d.fullSuite && d.isolateNetwork && d.workspaceCache == "~/.cache/crocbot-agent" && d.keepEnvironment.isEmpty)
        #expect(d.denyList.contains(".ci/") && d.provider == "openai" && d.apiKeyEnv == "OPENAI_API_KEY")
        #expect(d.llmMaxAttempts == 3 && d.llmRequestTimeoutSeconds == 120)
        let yaml = """
            agent:
              llm: {provider: anthropic, baseURL: "https://api.anthropic.com/v1", model: claude, apiKeyEnv: ANTHROPIC_API_KEY, maxAttempts: 5, requestTimeoutSeconds: 30.5}
              applyChanges: true
              confidenceThreshold: 0.9
              retries: 1
              validation: ["pytest -q"]
              fullSuite: true
              workspaceCache: ""
              isolateNetwork: false
              keepEnvironment: [CROCBOT_TEST_POSTGRES]
              denyList: [secrets/]
              latencyThresholds: {crocbot_tick_to_order_seconds: 0.00005, other: 1}
            """
        let a = try AppConfig(from: try AppConfig.parse(text: yaml), source: "a.yaml").agent
        #expect(a.provider == "anthropic" && a.baseURL == "https://api.anthropic.com/v1" && a.apiKeyEnv == "ANTHROPIC_API_KEY")
        #expect(a.llmMaxAttempts == 5 && a.llmRequestTimeoutSeconds == 30.5)
        #expect(a.applyChanges && a.confidenceThreshold == 0.9 && a.retries == 1 && a.validation == ["pytest -q"] && a.denyList == ["secrets/"])
        #expect(a.latencyThresholds == ["crocbot_tick_to_order_seconds": 0.00005, "other": 1])
        #expect(a.fullSuite && a.workspaceCache.isEmpty && !a.isolateNetwork && a.keepEnvironment == ["CROCBOT_TEST_POSTGRES"])
        for (text, path) in [
            ("agent: {llm: {provider: gemini}}", "agent.llm.provider"), ("agent: {llm: {baseURL: ftp://x}}", "agent.llm.baseURL"),
            ("agent: {confidenceThreshold: 1.5}", "agent.confidenceThreshold"), ("agent: {retries: 11}", "agent.retries"),
            ("agent: {validation: []}", "agent.validation"), ("agent: {validation: [1]}", "agent.validation[0]"),
            ("agent: {validation: swift test}", "agent.validation"), ("agent: {timeoutSeconds: 0}", "agent.timeoutSeconds"),
            ("agent: {maxFiles: 0}", "agent.maxFiles"), ("agent: {repeatThreshold: 0}", "agent.repeatThreshold"),
            ("agent: {latencyThresholds: {x: fast}}", "agent.latencyThresholds.x"), ("agent: {apply: true}", "agent.apply"),
            ("agent: {llm: {key: abc}}", "agent.llm.key"), ("agent: {llm: {maxAttempts: 0}}", "agent.llm.maxAttempts"),
            ("agent: {llm: {maxAttempts: 11}}", "agent.llm.maxAttempts"),
            ("agent: {llm: {requestTimeoutSeconds: 0}}", "agent.llm.requestTimeoutSeconds"),
        ] {
            let e = #expect(throws: ConfigError.self) { try AppConfig(from: try AppConfig.parse(text: text), source: "a.yaml") }
            #expect(e?.keyPath == path, "\(text): \(e.map { String(describing: $0) } ?? "no error")")
        }
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
        let dir = testTemporaryURL().appendingPathComponent("croc-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("c.yaml").path
        try "backtest:\n  cash: 100\n  commission: 0.001\n".write(toFile: file, atomically: true, encoding: .utf8)
        let env = ["CROCBOT_BACKTEST__CASH": "200", "CROCBOT_STRATEGY__PARAMS__FAST": "7", "CROCBOT_API_KEY": "secret", "HOME": "/root"]
        let c = try AppConfig.load(path: file, environment: env)
        #expect(c.backtest.cash == 200)
        #expect(c.backtest.commission == 0.001)
        #expect(c.strategy.params["fast"] == .string("7"))  // environment text stays text; readers convert
        #expect(c.strategy.params["fast"]?.intValue == 7)
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
            ("instrument: {symbols: {AAPL: {quantityStep: 0}}}", "instrument.symbols.AAPL.quantityStep", "between"),
            ("instrument: {symbols: {BTCUSDT: {pricePrecision: 9}}}", "instrument.symbols.BTCUSDT.pricePrecision", "between 0 and 8"),
            ("instrument: {symbols: {AAPL: {quantitySteps: 1}}}", "instrument.symbols.AAPL.quantitySteps", "unknown key"),
            ("instrument: {symbols: {AAPL: {}}}", "instrument.symbols.AAPL", "expected a mapping"),
            ("data: [1, 2]", "data", "expected a mapping"),
        ]
    )
    func validation(yaml: String, path: String, rule: String) throws {
        let error = #expect(throws: ConfigError.self) { try AppConfig(from: try AppConfig.parse(text: yaml), source: "t.yaml") }
        #expect(error?.keyPath == path)
        #expect(error?.rule.contains(rule) == true, "\(error?.rule ?? "")")
        #expect(error?.description.contains("(in t.yaml)") == true)
    }

    @Test("data.cache: auto by default, off or a folder from a file or the environment, never empty")
    func dataCache() throws {
        #expect(try AppConfig.load(path: nil).data.cache == "auto")
        #expect(try AppConfig(from: try AppConfig.parse(text: "data: {cache: 'off'}"), source: "t.yaml").data.cache == "off")
        #expect(try AppConfig(from: try AppConfig.parse(text: "data: {cache: off}"), source: "t.yaml").data.cache == "off")
        #expect(try AppConfig(from: try AppConfig.parse(text: "data: {cache: /tmp/c}"), source: "t.yaml").data.cache == "/tmp/c")
        #expect(try AppConfig.load(path: nil, environment: ["CROCBOT_DATA__CACHE": "/var/cache/crocbot"]).data.cache == "/var/cache/crocbot")
        let e = #expect(throws: ConfigError.self) { try AppConfig.load(path: nil, overrides: ["data.cache": .string("")]) }
        #expect(e?.keyPath == "data.cache")
    }

    @Test("per-symbol instrument specs override the defaults for a universe")
    func perSymbolInstruments() throws {
        let yaml =
            "instrument: {quantityStep: 0.01, pricePrecision: 2, symbols: {AAPL: {quantityStep: 1}, BTCUSDT: {pricePrecision: 1, quantityStep: 0.00001}}}"
        let c = try AppConfig(from: try AppConfig.parse(text: yaml), source: "t.yaml")
        #expect(c.instrument.spec(for: "AAPL") == (2, 1))
        #expect(c.instrument.spec(for: "BTCUSDT") == (1, 0.00001))
        #expect(c.instrument.spec(for: "KO") == (2, 0.01))  // not listed: the defaults
        #expect(AppConfig().instrument.spec(for: "X") == (nil, 1))
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
        // Tabs and space separators around a value are trimmed (Foundation's `.whitespaces`),
        // line breaks and inner blanks are kept.
        #expect(ConfigValue(parsingScalar: " \t 5\u{00A0}\u{2003}") == .int(5))
        #expect(ConfigValue(parsingScalar: "  on ") == .bool(true))
        #expect(ConfigValue(parsingScalar: " a b ") == .string("a b"))
        #expect(ConfigValue(parsingScalar: " \t ") == .string(""))
        for text in ["", " x", "x\t", "\u{3000}é\u{0301} \n", "\n 7 \r", "\u{00A0}", " \u{1F600} "] {
            #expect(ConfigValue.trimmingBlanks(text) == text.trimmingCharacters(in: .whitespaces), "\(Array(text.unicodeScalars))")
        }
    }
}
