import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocRuntime
import CrocStrategies
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

/// The blueprint's sample wiring, as in Examples/BlueprintWiring/main.swift
/// (less `configure_logging()`: swift-log is bootstrapped once per process).
@Suite("Blueprint sample wiring")
struct BlueprintWiringTests {
    @Test("config → container → strategy + executor → runLiveLoop(dataStream:strategy:submitOrder:) trades, and engine and venue agree")
    func wiring() async throws {
        let config = try AppConfig(
            from: .object([
                "data": .object(["path": .string(repoRoot.appendingPathComponent("Examples/data/EURUSD_1H_ASK.csv").path)]),
                "strategy": .object(["name": .string("sma_cross"), "params": .object(["fast": .int(10), "slow": .int(30)])]),
            ])
        )
        let series = try CSVBarLoader.load(path: config.data.path)
        let symbol = series.symbol
        let fees = FeeModel(commissionRate: FixedPoint(unchecked: 0.0002))
        let paper = PaperExecutionClient(cash: Money(10_000), fees: fees)

        let container = ServiceContainer()
        container.register(RollingFeatureStore.self) { _ in RollingFeatureStore(window: 256, width: 4) }
        container.register((any Strategy).self) { _ in try StrategyFactory.standard.make(config.strategy) }
        container.register(MarketOrderExecutor.self) { _ in MarketOrderExecutor(client: paper, logger: quietLogger) }

        let strategy = try container.resolve((any Strategy).self)
        let executor = try container.resolve(MarketOrderExecutor.self)
        #expect(try container.resolve(MarketOrderExecutor.self) === executor)  // a singleton
        try await executor.start()

        let queue = InMemoryStream(capacity: 1024)
        let producer = Task {
            for i in 0..<series.count { try await queue.send(.bar(series[i])) }
            queue.finish()
        }
        let result = try await runLiveLoop(
            dataStream: queue,
            strategy: strategy,
            submitOrder: { intent in await executor.onSignal(intent) },
            settings: LiveLoopSettings(instrument: Instrument(symbol: symbol, pricePrecision: series.pricePrecision), fees: fees),
            venue: ExecutorVenue(executor: executor, paper: paper),
            logger: quietLogger
        )
        try await producer.value
        await executor.shutdown()

        let account = await paper.account
        #expect(result.events == series.count)
        #expect(result.ordersSubmitted > 100)
        #expect(result.ordersRefused == 0)
        #expect(result.engine.fills.count == result.ordersSubmitted)
        #expect(await executor.position(symbol) == result.engine.position)
        #expect(account.cash == result.engine.portfolio.cash)
        #expect(result.engine.strategy.name == "sma_cross(10,30)")
    }
}
