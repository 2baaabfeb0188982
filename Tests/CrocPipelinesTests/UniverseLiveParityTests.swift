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

/// A universe replayed through the live loop on paper: `paperReplay(stream:)` with the
/// universe's slices and one lane per symbol.
func paperReplay(
    universe: Universe,
    instruments: [Instrument],
    strategy: any Strategy,
    options: BacktestOptions
) async throws -> (LiveLoopResult, MarketOrderExecutor, SimulatedExecutionClient) {
    try await paperReplay(stream: UniverseReplayStream(universe: universe), instruments: instruments, strategy: strategy, options: options)
}

@Suite("Paper trading a universe through the live loop: the portfolio backtest, bit for bit")
struct UniverseLiveParityTests {
    static func shipped() throws -> Universe {
        try UniverseLoader.load(path: repoRoot.appendingPathComponent("Examples/data/SP500_10_CLOSE.csv").path)
    }

    /// Compares a paper run with the backtest of the same universe, strategy and options.
    static func expectParity(
        _ u: Universe,
        _ instruments: [Instrument],
        _ make: () throws -> any Strategy,
        _ options: BacktestOptions,
        minFills: Int
    ) async throws {
        let backtest = try Backtester.run(universe: u, instruments: instruments, strategy: try make(), options: options)
        let (live, executor, venue) = try await paperReplay(universe: u, instruments: instruments, strategy: try make(), options: options)
        #expect(backtest.fills.count >= minFills)
        #expect(live.events == u.timestamps.count)
        #expect(live.ordersRefused == 0)
        #expect(live.engine.fills.count == backtest.fills.count)
        // The same fills (order, symbol, side, quantity, price, commission, time, bar). Within one
        // bar the executor may hand orders of the same side to the venue in another sequence
        // (it sends concurrently; sells always go before buys), so they are compared by order id.
        #expect(live.engine.fills.sorted { $0.orderID < $1.orderID } == backtest.fills.sorted { $0.orderID < $1.orderID })
        #expect(live.engine.equityCurve == backtest.equity)
        #expect(live.engine.portfolio.cash == backtest.portfolio.cash)
        // The venue's account and the executor's books agree with the engine, symbol by symbol.
        #expect(venue.account.cash == live.engine.portfolio.cash)
        for i in instruments {
            #expect(live.engine.position(of: i.symbol) == backtest.portfolio.position(i.symbol).quantity)
            #expect(venue.account.position(i.symbol).quantity == live.engine.position(of: i.symbol))
            #expect(await executor.position(i.symbol) == live.engine.position(of: i.symbol))
        }
        await executor.shutdown()
    }

    @Test(
        "portfolio strategies at the close: rebalances planned by the backtest's rules fill identically on paper",
        arguments: [
            ("momentum_topk", ["top": ConfigValue.int(3), "lookback": .int(63), "rebalance": .int(21)]),
            ("inverse_volatility", ["lookback": ConfigValue.int(42), "rebalance": .int(10)]),
        ]
    )
    func rebalancesAtTheClose(name: String, params: [String: ConfigValue]) async throws {
        let u = try Self.shipped().rows(0..<1500)
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        let options = BacktestOptions(
            cash: FixedPoint(100_000),
            fees: FeeModel(commissionRate: FixedPoint("0.001")!, slippageBps: FixedPoint(5)),
            fillTiming: .close,
            finalize: .none
        )
        try await Self.expectParity(
            u,
            instruments,
            { try StrategyFactory.standard.make(StrategyConfig(name: name, params: params), symbols: u.symbols) },
            options,
            minFills: 50
        )
    }

    @Test("a single-instrument strategy per symbol at the next open: the same fills on paper as in the backtest")
    func perSymbolAtTheNextOpen() async throws {
        let u = try Self.shipped().rows(0..<1500)
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        let options = BacktestOptions(cash: FixedPoint(100_000), fees: FeeModel(commissionRate: FixedPoint("0.001")!), finalize: .none)
        let make: () -> any Strategy = {
            PerSymbolStrategy(symbols: u.count, stake: StakeRule(amount: .equalShare, maxOpen: 4)) { _ in SMACrossStrategy(fast: 10, slow: 30) }
        }
        try await Self.expectParity(u, instruments, make, options, minFills: 50)
    }

    @Test("misaligned calendars on paper: a symbol trades only on its own bars, and paper equals the backtest")
    func misalignedCalendars() async throws {
        let path = try PortfolioBacktestTests.layouts()[1]
        let u = try UniverseLoader.load(path: path, symbols: ["AAPL", "KO", "JNJ", "GE"])
        let instruments = u.symbols.map { Instrument(symbol: $0, quantityStep: FixedPoint("0.001")!) }
        var options = PortfolioBacktestTests.options(commission: "0.001")
        options.fillTiming = .close
        try await Self.expectParity(u, instruments, { EveryBarEqualWeight() }, options, minFills: 100)
        let (live, executor, _) = try await paperReplay(universe: u, instruments: instruments, strategy: EveryBarEqualWeight(), options: options)
        let ge = u.members[u.index(of: "GE")!]
        let geTimes = Set(ge.timestamps)
        #expect(live.engine.fills.contains { $0.symbol == "GE" })
        #expect(live.engine.fills.allSatisfy { $0.symbol != "GE" || geTimes.contains($0.timestamp.nanoseconds) })
        await executor.shutdown()
    }

    @Test("the replay gives one slice per union timestamp with only the symbols that have a bar; bars never reach a universe run")
    func sliceStream() async throws {
        let path = try PortfolioBacktestTests.layouts()[0]
        let u = try UniverseLoader.load(path: path, symbols: ["AAPL", "GE"])
        var slices: [MarketSlice] = []
        for try await event in UniverseReplayStream(universe: u) {
            guard case .slice(let s) = event else {
                Issue.record("not a slice: \(event)")
                continue
            }
            slices.append(s)
        }
        #expect(slices.count == u.timestamps.count)
        #expect(slices.map(\.time.nanoseconds) == u.timestamps)
        let geRows = slices.filter { $0.lanes.contains(1) }.count
        #expect(geRows == u.members[1].count)
        #expect(slices[0].lanes == [0])  // GE is listed later
        #expect(slices.allSatisfy { s in zip(s.lanes, s.bars).allSatisfy { u.members[$0.0].timestamps.contains($0.1.timestamp.nanoseconds) } })

        // A bar (no symbol) reaching a multi-symbol loop is dropped, not guessed at.
        let instruments = u.symbols.map { Instrument(symbol: $0) }
        let stream = InMemoryStream()
        #expect(stream.trySend(.bar(u.members[0][0])))
        stream.finish()
        let result = try await runLiveLoop(
            dataStream: stream,
            strategy: EveryBarEqualWeight(),
            submitOrder: { _ in .refused(.queueFull) },
            settings: LiveLoopSettings(instruments: instruments),
            logger: quietLogger
        )
        #expect(result.engine.equityCurve.isEmpty)
        #expect(result.ordersSubmitted == 0)
    }
}
