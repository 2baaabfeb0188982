import ArgumentParser
import CrocSupport
import Foundation

/// `--config` and `--log-format`: every command that reads an ``AppConfig`` takes them.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML or JSON configuration file (examples in Examples/).")
    var config: String?

    @Option(name: .long, help: "Log format: text or json.")
    var logFormat: String?

    /// Loads the configuration (defaults, `--config`, `CROCBOT_*` variables, then `overrides`),
    /// with `--log-format` applied and the shipped sample files found from any directory.
    /// - Throws: `ConfigError` naming the key, file and rule.
    func load(overrides: [String: ConfigValue] = [:]) throws -> AppConfig {
        var o = overrides
        if let logFormat { o["logging.format"] = .string(logFormat) }
        var cfg = try AppConfig.load(
            path: config.map(Wiring.packaged.resolve),
            environment: ProcessInfo.processInfo.environment,
            overrides: o
        )
        cfg.data = Wiring.packaged.resolve(cfg.data)
        return cfg
    }
}

/// `--strategy` and repeatable `--param key=value`.
struct StrategyOptions: ParsableArguments {
    @Option(name: .long, help: "Registered strategy name (`crocbot backtest --help` lists them).")
    var strategy: String?

    @Option(name: .long, help: ArgumentHelp("Strategy parameter, repeatable.", valueName: "key=value"))
    var param: [String] = []

    /// `strategy.name` and `strategy.params.*` overrides.
    /// - Throws: `ValidationError` for a `--param` that is not `key=value`.
    func overrides(into o: inout [String: ConfigValue]) throws {
        if let strategy { o["strategy.name"] = .string(strategy) }
        for kv in param {
            guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else {
                throw ValidationError("--param expects key=value, got '\(kv)'")
            }
            o["strategy.params.\(kv[..<eq])"] = ConfigValue(parsingScalar: String(kv[kv.index(after: eq)...]))
        }
    }
}
