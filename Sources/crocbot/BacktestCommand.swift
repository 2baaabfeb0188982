import ArgumentParser
import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocPipelines
import CrocStrategies
import CrocSupport
import Foundation
import Logging

/// `crocbot backtest`: runs a strategy over historical data and reports.
struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest a strategy on historical OHLCV data.",
        discussion: """
            With no flags: sma_cross 10/20 on the shipped GOOGL daily data, 10,000 cash,
            0.2 % commission, market orders filled at the next bar's open. Prints the
            statistics and writes trades.csv and equity.csv to the output directory.

            Settings are merged in this order (later wins): defaults, --config file,
            CROCBOT_* environment variables (e.g. CROCBOT_BACKTEST__CASH=5000), flags.

            Examples:
              crocbot backtest
              crocbot backtest --strategy sma_cross --param fast=5 --param slow=40
              crocbot backtest --data Examples/data/EURUSD_1H_ASK.csv --cash 100000 --commission 0.0001
              crocbot backtest --config Examples/backtest.yaml --log-format json
              crocbot backtest --strategy model --param model=models/googl-gbdt --from 2016-12-01
              crocbot backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy momentum_topk --param top=3
              crocbot backtest --config Examples/portfolio-backtest.yaml

            With --universe (a folder of CSV files, a wide CSV of closes, or a long CSV with a
            symbol column) every symbol trades on one account: portfolio strategies
            (equal_weight, inverse_volatility, momentum_topk, min_variance) rebalance it, and
            the output adds fills.csv, weights.csv and per-symbol figures.
            """
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: "CSV file with date/open/high/low/close[/volume] columns.")
    var data: String?

    @OptionGroup var portfolio: UniverseOptions

    @Option(name: .long, help: "Only bars from this date (ISO-8601), e.g. a model's held-out years.")
    var from: String?

    @Option(name: .long, help: "Only bars before this date (ISO-8601).")
    var to: String?

    @OptionGroup var strategyOptions: StrategyOptions

    @Option(name: .long, help: "Starting cash.")
    var cash: Double?

    @Option(name: .long, help: "Commission as a fraction of notional (0.002 = 0.2 %).")
    var commission: Double?

    @Option(name: .long, help: "Slippage in basis points on market and stop fills.")
    var slippageBps: Double?

    @Option(name: .long, help: "When market orders fill: next_open or close.")
    var fillAt: String?

    @Flag(name: .long, help: "Allow short positions (rl policies trained with shorts enable this themselves).")
    var allowShort = false

    @Option(name: .long, help: "Directory for trades.csv and equity.csv.")
    var output: String?

    @Option(name: .long, help: "HTML report path (default: report.html in the output directory).")
    var report: String?

    func run() throws {
        try Wiring.reportingErrors {
            let cfg = try common.load(overrides: try overrides())
            CrocLogging.bootstrap(format: cfg.logging.format, level: cfg.logging.level)
            let logger = Logger(label: "crocbot.backtest")
            if cfg.data.universe != nil {
                try runUniverse(cfg, logger: logger)
            } else {
                try runSeries(cfg, logger: logger)
            }
        }
    }

    private func overrides() throws -> [String: ConfigValue] {
        var o: [String: ConfigValue] = [:]
        if let data { o["data.path"] = .string(data) }
        portfolio.overrides(into: &o)
        try strategyOptions.overrides(into: &o)
        if let from { o["data.start"] = .string(from) }
        if let to { o["data.end"] = .string(to) }
        if let cash { o["backtest.cash"] = .double(cash) }
        if let commission { o["backtest.commission"] = .double(commission) }
        if let slippageBps { o["backtest.slippageBps"] = .double(slippageBps) }
        if let fillAt { o["backtest.fillAt"] = .string(fillAt) }
        if allowShort { o["backtest.allowShort"] = .bool(true) }
        if let output { o["backtest.output"] = .string(output) }
        return o
    }

    /// A single-instrument backtest.
    private func runSeries(_ cfg: AppConfig, logger: Logger) throws {
        let factory = StrategyFactory.standard
        if StrategyFactory.isPortfolio(cfg.strategy.name) {
            throw ValidationError("strategy \(cfg.strategy.name) trades a universe: give one with --universe PATH (or data.universe)")
        }
        let strategy = try factory.make(cfg.strategy)
        var options = try BacktestOptions(cfg.backtest)
        options.risk = try RiskLimits(config: cfg.risk)
        if let rl = strategy as? RLPolicyStrategy, rl.bundle.environment.actions != .flatLong, !options.allowShort {
            // The policy was trained in an environment that allows shorts; backtest it under the same rules.
            options.allowShort = true
            logger.info("shorting enabled: the rl policy was trained with shorts", metadata: ["actions": "\(rl.bundle.environment.actions.rawValue)"])
        }
        // The report's configuration text, encoded on the other core while the data loads.
        let settings = Background { Wiring.settingsJSON(cfg) }
        let started = ContinuousClock.now
        let (series, cache) = try TrainingPipeline.loadSeriesNoting(cfg.data, background: true)
        let loaded = ContinuousClock.now
        let instrument = try Backtester.instrument(for: series, config: cfg.instrument)
        logger.info(
            "data loaded",
            metadata: [
                "file": "\(cfg.data.path)", "bars": "\(series.count)", "symbol": "\(series.symbol)", "elapsed": "\(loaded - started)",
                "cache": "\(cache?.description ?? "off")",
            ]
        )
        let bar = series.count >= 1 << 19 ? ProgressReporter("backtest") : nil
        let result = try Backtester.run(series: series, instrument: instrument, strategy: strategy, options: options) { done, total in
            bar?.update(step: done, total: total, detail: "bars")
        }
        logger.info(
            "backtest finished",
            metadata: [
                "strategy": "\(result.strategyName)", "trades": "\(result.trades.count)", "rejections": "\(result.rejections.count)",
                "elapsed": "\(ContinuousClock.now - loaded)",
            ]
        )
        for r in result.rejections.prefix(5) {
            logger.warning("order rejected", metadata: ["order": "\(r.order.clientOrderID)", "reason": "\(r.reason)"])
        }
        print(BacktestReport.table(result))
        let reportPath = report ?? (cfg.backtest.output as NSString).appendingPathComponent("report.html")
        let files = try BacktestReport.writeAll(result, to: cfg.backtest.output, report: reportPath, configuration: settings.value)
        for outcome in UniverseCache.waitForWrites() {
            if case .notStored(let why) = outcome { logger.warning("data not cached", metadata: ["file": "\(cfg.data.path)", "reason": "\(why)"]) }
        }
        print("\nwrote \(files.trades), \(files.equity) and \(files.report)")
    }

    /// A portfolio backtest: every symbol of the universe on one account.
    private func runUniverse(_ cfg: AppConfig, logger: Logger) throws {
        // A model bundle is read while the universe loads (the factory then takes it from the cache).
        let bundles = BundleCache()
        if cfg.strategy.name == "model_topk", case .string(let path)? = cfg.strategy.params["model"] {
            bundles.prefetchModel(at: path)
        }
        // The report's configuration text, encoded on the other core while the universe loads.
        let settings = Background { Wiring.settingsJSON(cfg) }
        let started = ContinuousClock.now
        // A new cache entry is written while the backtest runs (on the core the engine leaves idle).
        let (universe, cache) = try TrainingPipeline.loadUniverseNoting(cfg.data, background: true)
        let loaded = ContinuousClock.now
        logger.info(
            "universe loaded",
            metadata: [
                "path": "\(cfg.data.universe ?? "")", "symbols": "\(universe.count)", "timestamps": "\(universe.timestamps.count)",
                "layout": "\(universe.layout.rawValue)", "elapsed": "\(loaded - started)", "cache": "\(cache?.description ?? "off")",
            ]
        )
        let instruments = try Backtester.instruments(for: universe, config: cfg.instrument)
        let strategy = try Backtester.universeStrategy(
            cfg.strategy,
            symbols: universe.symbols,
            perSymbol: try portfolio.stakeRule(),
            factory: .standard(bundles: bundles)
        )
        var options = try BacktestOptions(cfg.backtest)
        options.risk = try RiskLimits(config: cfg.risk)
        let result = try Backtester.run(universe: universe, instruments: instruments, strategy: strategy, options: options)
        logger.info(
            "backtest finished",
            metadata: [
                "strategy": "\(result.strategyName)", "symbols": "\(universe.count)", "fills": "\(result.fills.count)",
                "rebalances": "\(result.weights.count)", "rejections": "\(result.rejections.count)", "elapsed": "\(ContinuousClock.now - loaded)",
            ]
        )
        for r in result.rejections.prefix(5) {
            logger.warning("order rejected", metadata: ["order": "\(r.order.clientOrderID)", "symbol": "\(r.order.symbol)", "reason": "\(r.reason)"])
        }
        print(BacktestReport.table(result))
        print("")
        print(BacktestReport.symbolTable(result))
        let reportPath = report ?? (cfg.backtest.output as NSString).appendingPathComponent("report.html")
        let files = try BacktestReport.writeAll(result, to: cfg.backtest.output, report: reportPath, configuration: settings.value)
        for outcome in UniverseCache.waitForWrites() {
            if case .notStored(let why) = outcome {
                logger.warning("universe not cached", metadata: ["path": "\(cfg.data.universe ?? "")", "reason": "\(why)"])
            }
        }
        let dir = cfg.backtest.output as NSString
        print(
            "\nwrote \(files.trades), \(files.equity), \(dir.appendingPathComponent("fills.csv"))"
                + (result.weights.isEmpty ? "" : ", \(dir.appendingPathComponent("weights.csv"))") + " and \(files.report)"
        )
    }
}
