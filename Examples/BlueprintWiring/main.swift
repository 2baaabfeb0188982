// The blueprint's "Sample Wiring" (BLUEPRINT.md), translated to Swift.
// Run it: `swift run blueprint-wiring`. A test runs the same wiring
// (Tests/CrocPipelinesTests/BlueprintWiringTests.swift).
//
// Python                                   Swift
// AppConfig.from_dict({...})               AppConfig(from: .object([...]))
// configure_logging()                      CrocLogging.bootstrap(format:level:)
// ServiceContainer().register/resolve      ServiceContainer().register/resolve
// InMemoryStream(queue)                    InMemoryStream(capacity:) fed by a producer task
// asyncio.run(run_live_loop(...))          try await runLiveLoop(dataStream:strategy:submitOrder:)
import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocRuntime
import CrocStrategies
import CrocSupport
import Foundation

let config = try AppConfig(
    from: .object([
        "data": .object(["path": .string("Examples/data/EURUSD_1H_ASK.csv")]),
        "strategy": .object(["name": .string("sma_cross"), "params": .object(["fast": .int(10), "slow": .int(30)])]),
    ])
)
CrocLogging.bootstrap(format: config.logging.format, level: "warning")

let series = try CSVBarLoader.load(path: config.data.path)
let symbol = series.symbol
let fees = FeeModel(commissionRate: FixedPoint(unchecked: 0.0002))
let paper = PaperExecutionClient(cash: Money(10_000), fees: fees)

let container = ServiceContainer()
container.register(RollingFeatureStore.self) { _ in RollingFeatureStore(window: 256, width: 4) }
container.register((any Strategy).self) { _ in try StrategyFactory.standard.make(config.strategy) }
container.register(MarketOrderExecutor.self) { _ in MarketOrderExecutor(client: paper) }

let strategy = try container.resolve((any Strategy).self)
let executor = try container.resolve(MarketOrderExecutor.self)
try await executor.start()

// The queue a feed writes to; here a producer replays the sample data.
let queue = InMemoryStream(capacity: 1024)
let producer = Task {
    for i in 0..<series.count {
        try await queue.send(.bar(series[i]))
    }
    queue.finish()
}

let result = try await runLiveLoop(
    dataStream: queue,
    strategy: strategy,
    submitOrder: { intent in await executor.onSignal(intent) },
    // Beyond the blueprint's three arguments: the ledger's settings, and where fills come back from.
    settings: LiveLoopSettings(instrument: Instrument(symbol: symbol, pricePrecision: series.pricePrecision), fees: fees),
    venue: ExecutorVenue(executor: executor, paper: paper)
)
try await producer.value
await executor.shutdown()

let account = await paper.account as Portfolio
print("bars: \(result.events), orders handed to the executor: \(result.ordersSubmitted), refused: \(result.ordersRefused)")
print(
    "engine: \(result.engine.fills.count) fills, position \(result.engine.position), cash \(result.engine.portfolio.cash.formatted(decimals: 2)), equity at the last close \(String(format: "%.2f", result.engine.equityCurve.last ?? 0))"
)
print(
    "venue:  position \(await executor.position(symbol)), cash \(account.cash.formatted(decimals: 2)), equity \(account.equity.formatted(decimals: 2))"
)
