import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocRuntime
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Logging
import Testing

@testable import CrocPipelines

/// A logger that drops everything (keeps test output readable).

/// The live loop's wiring for a replay through the paper venue: the
/// backtest's fill model behind the `ExecutionClient` protocol (a lane per
/// instrument), the async executor, and `runLiveLoop` over `stream`.
func paperReplay<S: MarketDataStream>(
    stream: S,
    instruments: [Instrument],
    strategy: any Strategy,
    options: BacktestOptions
) async throws -> (LiveLoopResult, MarketOrderExecutor, SimulatedExecutionClient) {
    let venue = SimulatedExecutionClient(
        instruments: instruments,
        fees: options.fees,
        fillTiming: options.fillTiming,
        allowShort: options.allowShort,
        cash: options.cash
    )
    let executor = MarketOrderExecutor(client: venue, logger: quietLogger)
    try await executor.start()
    let result = try await runLiveLoop(
        dataStream: stream,
        strategy: strategy,
        submitOrder: { await executor.onSignal($0) },
        // A long settle: on a loaded machine (the whole suite on 2 cores) the executor's tasks can
        // wait past the 5 s default, and the loop then sends a rebalance's buys before its sells
        // are booked (by design, for a slow venue), which is not what parity tests.
        settings: LiveLoopSettings(
            cash: options.cash,
            fees: options.fees,
            settleTimeout: .seconds(300),
            risk: options.risk,
            instruments: instruments,
            fillTiming: options.fillTiming,
            allowShort: options.allowShort
        ),
        venue: ExecutorVenue(executor: executor, simulated: venue),
        logger: quietLogger
    )
    return (result, executor, venue)
}

/// One series replayed on paper (`paperReplay(stream:)` with its bars).
func paperReplay(
    series: BarSeries,
    instrument: Instrument,
    strategy: any Strategy,
    options: BacktestOptions,
    speed: ReplaySpeed = .asFastAsPossible
) async throws -> (LiveLoopResult, MarketOrderExecutor) {
    let (result, executor, _) = try await paperReplay(
        stream: ReplayStream(series: series, speed: speed),
        instruments: [instrument],
        strategy: strategy,
        options: options
    )
    return (result, executor)
}

@Suite("Live loop parity with the backtest")
struct LiveParityTests {
    func load(_ file: String) throws -> (BarSeries, Instrument) {
        let series = try CSVBarLoader.load(path: repoRoot.appendingPathComponent("Examples/data/\(file)").path)
        return (series, Instrument(symbol: series.symbol, pricePrecision: series.pricePrecision, quantityStep: .one))
    }

    @Test(
        "same bars through the backtest and the live loop with the paper venue: identical fills and equity",
        arguments: ["GOOGL.csv", "EURUSD_1H_ASK.csv"]
    )
    func parity(file: String) async throws {
        let (series, instrument) = try load(file)
        var options = try BacktestOptions(AppConfig().backtest)
        options.finalize = .none  // a live loop never settles positions by itself
        let strategy = try StrategyFactory.standard.make(StrategyConfig(name: "sma_cross"))
        let backtest = try Backtester.run(series: series, instrument: instrument, strategy: strategy, options: options)
        let (live, executor) = try await paperReplay(series: series, instrument: instrument, strategy: strategy, options: options)
        #expect(backtest.fills.count > 10)
        #expect(live.engine.fills == backtest.fills)
        #expect(live.engine.equityCurve == backtest.equity)
        #expect(live.engine.portfolio.cash == backtest.portfolio.cash)
        #expect(live.events == series.count)
        #expect(live.ordersRefused == 0)
        // The executor booked the same position as the engine, from the venue's reports.
        #expect(await executor.position(instrument.symbol) == live.engine.position)
        await executor.shutdown()
    }

    @Test("risk limits refuse the same orders, with the same reasons, in a backtest and on paper")
    func riskParity() async throws {
        let (series, instrument) = try load("GOOGL.csv")
        var options = try BacktestOptions(AppConfig().backtest)
        options.finalize = .none
        // sma_cross goes all in: entries worth more than 11,000 are refused, smaller ones go through.
        options.risk = RiskLimits(maxOrderNotional: FixedPoint(11_000))
        let strategy = try StrategyFactory.standard.make(StrategyConfig(name: "sma_cross"))
        let backtest = try Backtester.run(series: series, instrument: instrument, strategy: strategy, options: options)
        let (live, executor) = try await paperReplay(series: series, instrument: instrument, strategy: strategy, options: options)
        let refusedInBacktest = backtest.rejections.map { "\($0.order.id) \($0.reason)" }
        let refusedOnPaper = live.engine.rejections.map { "\($0.order.id) \($0.reason)" }
        #expect(!refusedInBacktest.isEmpty)
        #expect(refusedInBacktest.allSatisfy { $0.contains("risk:") && $0.contains("above the limit 11000.00") })
        #expect(refusedOnPaper == refusedInBacktest)
        #expect(live.engine.fills == backtest.fills)
        #expect(backtest.fills.count >= 2)  // the first entry was small enough, and its exit is never refused
        #expect(live.engine.equityCurve == backtest.equity)
        await executor.shutdown()
    }

    @Test("a strategy that throws is counted and skipped; the loop goes on")
    func throwingStrategy() async throws {
        struct Flaky: Strategy {
            struct ModelDown: Error {}
            var name: String { "flaky" }
            var warmupBars: Int { 0 }
            var seen = 0
            mutating func onBar(_ bar: Bar, context: inout StrategyContext) throws {
                seen += 1
                if seen % 3 == 0 {
                    context.buy(.quantity(.one))  // discarded: the call failed
                    throw ModelDown()
                }
                if context.isFlat && context.workingOrders.isEmpty {
                    context.buy(.quantity(.one))
                } else if !context.isFlat {
                    context.closePosition()
                }
            }
        }
        let (series, instrument) = try load("GOOGL.csv")
        let options = try BacktestOptions(AppConfig().backtest)
        let (live, executor) = try await paperReplay(series: series.slice(0..<30), instrument: instrument, strategy: Flaky(), options: options)
        #expect(live.events == 30)
        #expect(live.engine.strategyFailureCount == 10)
        #expect(live.engine.strategyFailures.first?.barIndex == 2)
        #expect(live.engine.fills.count > 5)
        #expect(live.engine.equityCurve.count == 30)
        // The backtest refuses to hide the same failure.
        #expect(throws: BacktestError.self) {
            try Backtester.run(series: series.slice(0..<30), instrument: instrument, strategy: Flaky(), options: options)
        }
        await executor.shutdown()
    }
}
