import Foundation
import Yams

/// The whole application configuration: a validated tree read from YAML or
/// JSON, with `CROCBOT_*` environment overrides.
///
/// Environment variables name a key path with `__` between levels and are
/// matched case-insensitively: `CROCBOT_BACKTEST__CASH=5000`,
/// `CROCBOT_STRATEGY__PARAMS__FAST=5`. Their values stay text (`000123`
/// is the string `000123` where the schema wants a string) and are read as
/// numbers or booleans where the schema wants those.
public struct AppConfig: Sendable, Equatable, Encodable {
    /// Where market data comes from.
    public var data: DataConfig
    /// How the traded instrument is described.
    public var instrument: InstrumentConfig
    /// Which strategy runs, by registered name, and its parameters.
    public var strategy: StrategyConfig
    /// Backtest settings (cash, costs, fills).
    public var backtest: BacktestSettings
    /// Logging settings.
    public var logging: LoggingConfig
    /// Live and paper trading settings.
    public var live: LiveConfig
    /// The refactor agent's settings.
    public var agent: AgentConfig
    /// Pre-trade risk limits for backtests, paper and live trading.
    public var risk: RiskConfig

    /// The defaults: `sma_cross` 10/20 on the shipped GOOGL data, 10,000 cash, 0.2 % commission.
    public init(
        data: DataConfig = .init(),
        instrument: InstrumentConfig = .init(),
        strategy: StrategyConfig = .init(),
        backtest: BacktestSettings = .init(),
        logging: LoggingConfig = .init(),
        live: LiveConfig = .init(),
        agent: AgentConfig = .init(),
        risk: RiskConfig = .init()
    ) {
        self.risk = risk
        self.data = data
        self.instrument = instrument
        self.strategy = strategy
        self.backtest = backtest
        self.logging = logging
        self.live = live
        self.agent = agent
    }

    /// Top-level keys the document may contain.
    public static let sections = ["data", "instrument", "strategy", "backtest", "logging", "live", "agent", "risk"]

    /// Reads and validates a configuration tree.
    /// - Throws: `ConfigError` naming the key path of the first problem.
    public init(from tree: ConfigValue, source: String? = nil) throws(ConfigError) {
        let root = try ConfigReader(tree, source: source)
        try root.rejectUnknownKeys(Self.sections)
        self.data = try DataConfig(try root.nested("data"))
        self.instrument = try InstrumentConfig(try root.nested("instrument"))
        self.strategy = try StrategyConfig(try root.nested("strategy"))
        self.backtest = try BacktestSettings(try root.nested("backtest"))
        self.logging = try LoggingConfig(try root.nested("logging"))
        self.live = try LiveConfig(try root.nested("live"))
        self.agent = try AgentConfig(try root.nested("agent"))
        self.risk = try RiskConfig(try root.nested("risk"))
    }

    /// Loads a YAML or JSON file (JSON is read as YAML), applies `CROCBOT_*`
    /// overrides from `environment`, and validates.
    /// - Parameters:
    ///   - path: The file to read, or nil for defaults plus environment.
    ///   - environment: Usually `ProcessInfo.processInfo.environment`.
    /// - Throws: `ConfigError` for an unreadable file, bad syntax or an invalid value.
    ///   - overrides: Dotted key paths set last (command-line flags), e.g. `["backtest.cash": .double(5000)]`.
    public static func load(
        path: String?,
        environment: [String: String] = [:],
        overrides: [String: ConfigValue] = [:]
    ) throws(ConfigError) -> AppConfig {
        var tree: ConfigValue = .object([:])
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigError(.unreadable, keyPath: "", rule: "cannot read file: \(error.localizedDescription)", source: path)
            }
            tree = try parse(text: text, source: path)
        }
        tree = try applyEnvironment(environment, to: tree)
        for (keyPath, value) in overrides.sorted(by: { $0.key < $1.key }) {
            let keys = keyPath.split(separator: ".").map(String.init)
            tree = try setting(value, at: keys[...], in: tree, path: "", source: "command line")
        }
        return try AppConfig(from: tree, source: path)
    }

    /// Parses YAML or JSON text into a tree.
    /// - Throws: `ConfigError` with `.syntax` and the parser's position.
    public static func parse(text: String, source: String? = nil) throws(ConfigError) -> ConfigValue {
        do {
            guard let node = try Yams.compose(yaml: text) else { return .object([:]) }
            return try YAMLDecoder().decode(ConfigValue.self, from: node)
        } catch {
            throw ConfigError(.syntax, keyPath: "", rule: "not valid YAML/JSON: \(error)", source: source)
        }
    }

    /// Merges `CROCBOT_A__B=value` variables into `tree` at `a.b`.
    /// - Throws: `ConfigError` when a variable addresses through a non-mapping value.
    public static func applyEnvironment(_ environment: [String: String], to tree: ConfigValue) throws(ConfigError) -> ConfigValue {
        var result = tree
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("CROCBOT_") {
            let keys = name.dropFirst("CROCBOT_".count).components(separatedBy: "__").map { $0.lowercased() }
            guard !keys.contains(where: \.isEmpty), let first = keys.first,
                sections.contains(where: { ConfigReader.normalise($0) == ConfigReader.normalise(first) })
            else {
                continue  // other CROCBOT_ variables (e.g. secrets read elsewhere) are not config paths
            }
            result = try setting(.string(value), at: keys[...], in: result, path: "", source: name)
        }
        return result
    }

    private static func setting(
        _ value: ConfigValue,
        at keys: ArraySlice<String>,
        in node: ConfigValue,
        path: String,
        source: String
    ) throws(ConfigError) -> ConfigValue {
        guard let key = keys.first else { return value }
        var object: [String: ConfigValue]
        switch node {
        case .object(let o): object = o
        case .null: object = [:]
        default:
            throw ConfigError(.typeMismatch, keyPath: path, rule: "cannot override inside a non-mapping value", source: source)
        }
        // Reuse the existing spelling of the key when one matches.
        let existing = object.keys.first { ConfigReader.normalise($0) == ConfigReader.normalise(key) } ?? key
        let childPath = path.isEmpty ? existing : "\(path).\(existing)"
        object[existing] = try setting(value, at: keys.dropFirst(), in: object[existing] ?? .null, path: childPath, source: source)
        return .object(object)
    }
}

/// Where market data comes from.
public struct DataConfig: Sendable, Equatable, Encodable {
    /// CSV file with OHLCV bars. Default: the shipped GOOGL daily data.
    public var path: String
    /// Symbol of the instrument; default: the file name without extension.
    public var symbol: String?
    /// Timestamp format: `auto` or a pattern such as `%d/%m/%Y %H:%M`.
    public var timestampFormat: String
    /// Field delimiter (one character).
    public var delimiter: String
    /// Only bars at or after this time (ISO-8601 date or date-time), if set.
    public var start: String?
    /// Only bars before this time (ISO-8601), if set.
    public var end: String?
    /// A universe to trade on one account instead of `path`: a folder of CSV
    /// files, a wide CSV of closes, or a long CSV with a `symbol` column.
    public var universe: String?
    /// The symbols of `universe` to trade, comma-separated (all when unset).
    public var symbols: String?
    /// Where universes and files already read are kept (`UniverseCache`): `auto` (the user's
    /// cache folder, `$XDG_CACHE_HOME/crocbot/universes` or `~/.cache/crocbot/universes`), `off`,
    /// or a folder. An entry is used only while its source's bytes are unchanged.
    public var cache: String

    /// The shipped default data set.
    public static let defaultPath = "Examples/data/GOOGL.csv"

    /// Creates a data section.
    public init(
        path: String = DataConfig.defaultPath,
        symbol: String? = nil,
        timestampFormat: String = "auto",
        delimiter: String = ",",
        start: String? = nil,
        end: String? = nil,
        universe: String? = nil,
        symbols: String? = nil,
        cache: String = "auto"
    ) {
        self.path = path
        self.symbol = symbol
        self.timestampFormat = timestampFormat
        self.delimiter = delimiter
        self.start = start
        self.end = end
        self.universe = universe
        self.symbols = symbols
        self.cache = cache
    }

    /// `cache` as written; YAML reads a bare `off` as false (and `on` as true).
    private static func cache(_ r: ConfigReader) throws(ConfigError) -> String {
        if case .bool(let on)? = r.raw("cache") { return on ? "auto" : "off" }
        return try r.string("cache", default: "auto")
    }

    /// The symbols `symbols` names, trimmed (nil when unset).
    public var symbolList: [String]? {
        symbols.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    /// Reads and validates the section from `r`.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys(["path", "symbol", "timestampFormat", "delimiter", "start", "end", "universe", "symbols", "cache"])
        self.init(
            path: try r.string("path", default: Self.defaultPath),
            symbol: try r.optionalString("symbol"),
            timestampFormat: try r.string("timestampFormat", default: "auto"),
            delimiter: try r.string("delimiter", default: ","),
            start: try r.optionalString("start"),
            end: try r.optionalString("end"),
            universe: try r.optionalString("universe"),
            symbols: try r.optionalString("symbols"),
            cache: try Self.cache(r)
        )
        if cache.isEmpty {
            throw ConfigError(.invalidValue, keyPath: r.childPath("cache"), rule: "auto, off or a folder", source: r.source)
        }
        if universe?.isEmpty == true {
            throw ConfigError(.invalidValue, keyPath: r.childPath("universe"), rule: "must not be empty", source: r.source)
        }
        if symbolList?.isEmpty == true {
            throw ConfigError(.invalidValue, keyPath: r.childPath("symbols"), rule: "names no symbol", source: r.source)
        }
        if path.isEmpty { throw ConfigError(.invalidValue, keyPath: r.childPath("path"), rule: "must not be empty", source: r.source) }
        if delimiter.utf8.count != 1 {
            throw ConfigError(.invalidValue, keyPath: r.childPath("delimiter"), rule: "must be exactly one ASCII character", source: r.source)
        }
    }
}

/// How the traded instrument is described: defaults for every symbol, and
/// per-symbol overrides for a universe (`symbols: {AAPL: {quantityStep: 1},
/// BTCUSDT: {pricePrecision: 2, quantityStep: 0.00001}}`).
public struct InstrumentConfig: Sendable, Equatable, Encodable {
    /// Decimal places of prices; nil infers them from the data.
    public var pricePrecision: Int?
    /// The smallest tradable quantity (1 = whole units, 0.001 = fractional).
    public var quantityStep: Double
    /// Per-symbol overrides: what a symbol's entry names replaces the default.
    public var symbols: [String: SymbolOverride]

    /// One symbol's overrides of the defaults.
    public struct SymbolOverride: Sendable, Equatable, Encodable {
        /// Decimal places of its prices, when not the default.
        public var pricePrecision: Int?
        /// Its quantity step, when not the default.
        public var quantityStep: Double?

        /// Creates an override.
        public init(pricePrecision: Int? = nil, quantityStep: Double? = nil) {
            self.pricePrecision = pricePrecision
            self.quantityStep = quantityStep
        }
    }

    /// Creates an instrument section.
    public init(pricePrecision: Int? = nil, quantityStep: Double = 1, symbols: [String: SymbolOverride] = [:]) {
        self.pricePrecision = pricePrecision
        self.quantityStep = quantityStep
        self.symbols = symbols
    }

    /// The price precision (nil: infer from the data) and quantity step of `symbol`:
    /// its override where it has one, else the defaults.
    public func spec(for symbol: String) -> (pricePrecision: Int?, quantityStep: Double) {
        let o = symbols[symbol]
        return (o?.pricePrecision ?? pricePrecision, o?.quantityStep ?? quantityStep)
    }

    /// Reads and validates the section from `r`.
    /// - Throws: `ConfigError` naming the key path (`instrument.symbols.AAPL.quantityStep`).
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys(["pricePrecision", "quantityStep", "symbols"])
        let (precision, step) = try Self.read(r, defaultStep: 1)
        var overrides: [String: SymbolOverride] = [:]
        let table = try r.nested("symbols")
        for symbol in table.values.keys.sorted() {
            let entry = try table.nested(symbol)
            guard !entry.values.isEmpty else {
                throw ConfigError(
                    .invalidValue,
                    keyPath: entry.path,
                    rule: "expected a mapping with pricePrecision and/or quantityStep",
                    source: r.source
                )
            }
            let (p, q) = try Self.read(entry, defaultStep: nil)
            overrides[symbol] = SymbolOverride(pricePrecision: p, quantityStep: q)
        }
        self.init(pricePrecision: precision, quantityStep: step ?? 1, symbols: overrides)
    }

    /// Reads and checks `pricePrecision` and `quantityStep` of one mapping.
    private static func read(_ r: ConfigReader, defaultStep: Double?) throws(ConfigError) -> (Int?, Double?) {
        try r.rejectUnknownKeys(defaultStep == nil ? ["pricePrecision", "quantityStep"] : ["pricePrecision", "quantityStep", "symbols"])
        let precision = r.raw("pricePrecision") == nil ? nil : try r.int("pricePrecision", default: 0)
        let step: Double? = r.raw("quantityStep") == nil ? defaultStep : try r.double("quantityStep", default: 1)
        if let p = precision, !(0...8).contains(p) {
            throw ConfigError(.invalidValue, keyPath: r.childPath("pricePrecision"), rule: "must be between 0 and 8, found \(p)", source: r.source)
        }
        if let q = step, !(q >= 1e-8 && q <= 1e9) {
            throw ConfigError(.invalidValue, keyPath: r.childPath("quantityStep"), rule: "must be between 1e-8 and 1e9, found \(q)", source: r.source)
        }
        return (precision, step)
    }
}

/// Which strategy runs and its parameters.
public struct StrategyConfig: Sendable, Equatable, Encodable {
    /// The registered name (`sma_cross`, ...).
    public var name: String
    /// Parameters, validated by the strategy's own factory entry.
    public var params: [String: ConfigValue]

    /// Creates a strategy section.
    public init(name: String = "sma_cross", params: [String: ConfigValue] = [:]) {
        self.name = name
        self.params = params
    }

    /// Reads and validates the section from `r`.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys(["name", "params"])
        self.init(name: try r.string("name", default: "sma_cross"), params: try r.freeform("params"))
        if name.isEmpty { throw ConfigError(.invalidValue, keyPath: r.childPath("name"), rule: "must not be empty", source: r.source) }
    }
}

/// When a market order placed on a bar fills.
public enum FillTiming: String, Sendable, Equatable, CaseIterable, Encodable {
    /// At the next bar's open (default; no look-ahead).
    case nextOpen = "next_open"
    /// At the close of the bar that produced the signal.
    case close
}

/// What happens to positions still open when the data ends.
public enum FinalizeMode: String, Sendable, Equatable, CaseIterable, Encodable {
    /// Close them at the last bar's open, as backtesting.py's `finalize_trades=True` does.
    case lastOpen = "last_open"
    /// Close them at the last bar's close.
    case lastClose = "last_close"
    /// Leave them open (unrealised PnL stays in the final equity).
    case none
}

/// Backtest settings.
public struct BacktestSettings: Sendable, Equatable, Encodable {
    /// Starting cash.
    public var cash: Double
    /// Commission as a fraction of traded notional (0.002 = 0.2 %).
    public var commission: Double
    /// Fixed commission per order, in cash units.
    public var commissionFixed: Double
    /// Slippage in basis points, against the trader, on market and stop fills.
    public var slippageBps: Double
    /// When market orders fill.
    public var fillAt: FillTiming
    /// How positions still open at the end are treated.
    public var finalize: FinalizeMode
    /// Whether sells may open short positions.
    public var allowShort: Bool
    /// Directory for trades.csv and equity.csv.
    public var output: String

    /// Creates backtest settings.
    public init(
        cash: Double = 10_000,
        commission: Double = 0.002,
        commissionFixed: Double = 0,
        slippageBps: Double = 0,
        fillAt: FillTiming = .nextOpen,
        finalize: FinalizeMode = .lastOpen,
        allowShort: Bool = false,
        output: String = "output"
    ) {
        self.cash = cash
        self.commission = commission
        self.commissionFixed = commissionFixed
        self.slippageBps = slippageBps
        self.fillAt = fillAt
        self.finalize = finalize
        self.allowShort = allowShort
        self.output = output
    }

    /// Reads and validates the section from `r`.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys(["cash", "commission", "commissionFixed", "slippageBps", "fillAt", "finalize", "allowShort", "output"])
        self.init(
            cash: try r.double("cash", default: 10_000),
            commission: try r.double("commission", default: 0.002),
            commissionFixed: try r.double("commissionFixed", default: 0),
            slippageBps: try r.double("slippageBps", default: 0),
            fillAt: try r.choice("fillAt", default: .nextOpen),
            finalize: try r.choice("finalize", default: .lastOpen),
            allowShort: try r.bool("allowShort", default: false),
            output: try r.string("output", default: "output")
        )
        try validate(path: r.path, source: r.source)
    }

    /// Checks the ranges of every setting.
    /// - Throws: `ConfigError` naming the key (`backtest.cash`) and the rule.
    public func validate(path: String = "backtest", source: String? = nil) throws(ConfigError) {
        func key(_ k: String) -> String { path.isEmpty ? k : "\(path).\(k)" }
        guard cash > 0, cash < 1e10 else {
            throw ConfigError(.invalidValue, keyPath: key("cash"), rule: "must be > 0 and < 1e10, found \(cash)", source: source)
        }
        guard commission >= 0, commission < 0.1 else {
            throw ConfigError(.invalidValue, keyPath: key("commission"), rule: "must be in [0, 0.1), found \(commission)", source: source)
        }
        guard commissionFixed >= 0, commissionFixed < 1e6 else {
            throw ConfigError(.invalidValue, keyPath: key("commissionFixed"), rule: "must be in [0, 1e6), found \(commissionFixed)", source: source)
        }
        guard slippageBps >= 0, slippageBps < 1000 else {
            throw ConfigError(.invalidValue, keyPath: key("slippageBps"), rule: "must be in [0, 1000), found \(slippageBps)", source: source)
        }
        guard !output.isEmpty else {
            throw ConfigError(.invalidValue, keyPath: key("output"), rule: "must not be empty", source: source)
        }
    }
}

/// Logging settings.
public struct LoggingConfig: Sendable, Equatable, Encodable {
    /// `text` for people, `json` for machines (one object per line).
    public var format: LogFormat
    /// Minimum level: trace, debug, info, notice, warning, error, critical.
    public var level: String

    /// Creates a logging section.
    public init(format: LogFormat = .text, level: String = "info") {
        self.format = format
        self.level = level
    }

    /// Accepted level names.
    public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Reads and validates the section from `r`.
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        try r.rejectUnknownKeys(["format", "level"])
        self.init(format: try r.choice("format", default: .text), level: try r.string("level", default: "info").lowercased())
        guard Self.levels.contains(level) else {
            throw ConfigError(
                .invalidValue,
                keyPath: r.childPath("level"),
                rule: "must be one of \(Self.levels.joined(separator: ", ")), found '\(level)'",
                source: r.source
            )
        }
    }
}

/// Log output format.
public enum LogFormat: String, Sendable, Equatable, CaseIterable, Encodable {
    /// Human-readable lines.
    case text
    /// One JSON object per line.
    case json
}
