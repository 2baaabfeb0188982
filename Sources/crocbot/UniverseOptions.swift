import ArgumentParser
import CrocStrategies
import CrocSupport

/// The options that trade a universe on one account, shared by `backtest` and `live`.
struct UniverseOptions: ParsableArguments {
    @Option(name: .long, help: "A universe traded on one account: a folder of CSVs, a wide CSV of closes, or a long CSV.")
    var universe: String?

    @Option(name: .long, help: ArgumentHelp("The universe's symbols to trade (default: all).", valueName: "A,B,C"))
    var symbols: String?

    @Flag(name: .long, help: "With --universe: run a single-instrument strategy once per symbol on the shared account.")
    var perSymbol = false

    @Option(name: .long, help: "With --per-symbol: each entry's budget, 'equal' (equity / N) or an amount of cash.")
    var stake: String = "equal"

    @Option(name: .long, help: "With --per-symbol: the most positions open at once.")
    var maxOpen: Int?

    /// `data.universe` and `data.symbols` overrides for the configuration.
    func overrides(into o: inout [String: ConfigValue]) {
        if let universe { o["data.universe"] = .string(universe) }
        if let symbols { o["data.symbols"] = .string(symbols) }
    }

    /// The `--per-symbol` stake rule (nil without the flag).
    /// - Throws: `StrategyError` naming `--stake` or `--max-open`.
    func stakeRule() throws -> StakeRule? {
        guard perSymbol else { return nil }
        return try StakeRule(parsing: stake, maxOpen: maxOpen)
    }
}
