import ArgumentParser
import CrocKernels
import CrocSupport

/// The `crocbot` command line.
@main
struct CrocBot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crocbot",
        abstract: "An async-first algorithmic trading framework: one engine for backtests and live trading.",
        discussion: """
            Start with a backtest of the default strategy on the shipped sample data:

              crocbot backtest
              crocbot backtest --data Examples/data/EURUSD_1H_ASK.csv --param fast=5 --param slow=30
              crocbot data inspect --data Examples/data/EURUSD_1H_ASK.csv
              crocbot data features --features Examples/features.yaml --output features.csv
              crocbot live --paper          # paper trading on a replay, status page at http://127.0.0.1:8080/
              crocbot sweep --config Examples/sweep-sma.yaml   # a parameter grid on all cores, HTML report
              crocbot agent run --logs Examples/agent/crocbot.jsonl --metrics Examples/agent/metrics.prom --once
            """,
        version: CrocBotVersion.current,
        subcommands: [
            BacktestCommand.self, TrainCommand.self, EvaluateCommand.self, LiveCommand.self, AgentCommand.self, ImportONNXCommand.self,
            DataCommand.self,
            SweepCommand.self,
        ]
    )

    /// Tunes the allocator (`croc_tune_allocator`: a command's large buffers reused, not faulted
    /// in again), then parses the command line and runs the command.
    static func main() async {
        _ = croc_tune_allocator()
        await main(nil)
    }
}
