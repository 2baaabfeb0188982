import CrocCore
import CrocData
import CrocExecution
import CrocModels
import CrocPipelines
import CrocRuntime
import CrocStrategies
import Foundation
import Logging

/// A seeded random walk of hourly bars.
func walkBars(_ n: Int, seed: UInt64) -> [Bar] {
    var rng = SplitMix(seed: seed)
    var price = 100.0
    return (0..<n).map { i in
        let r = (Double(rng.next() % 2_000_001) / 1_000_000 - 1) * 0.004
        let open = price
        price = max(1, price * (1 + r))
        let hi = max(open, price) * 1.0005
        let lo = min(open, price) * 0.9995
        return Bar(timestamp: Timestamp(seconds: Int64(i) * 3600), open: open, high: hi, low: lo, close: price, volume: 1000)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Tick-to-order latency inside the process: a bar enters the live loop →
/// the paper venue sees it → features → strategy → the order is handed to
/// the executor (`onSignal` returned). Events arrive at `rate` per second
/// from a producer task through an `InMemoryStream`, as a feed would send them.
func benchLive(events: Int, rate: Double) async throws {
    let bars = walkBars(events, seed: 42)
    let instrument = Instrument(symbol: "BENCH", pricePrecision: 6, quantityStep: FixedPoint(1))
    let fees = FeeModel(commissionRate: FixedPoint(unchecked: 0.0002))
    // The default strategy, and a model-driven one on the standard stationary features (GBDT trained here).
    // The training config names files from the repository root.
    let cwd = FileManager.default.currentDirectoryPath
    if !FileManager.default.fileExists(atPath: "Examples/train-gbdt-googl.yaml") { _ = FileManager.default.changeCurrentDirectoryPath("..") }
    let training = try TrainingConfig.load(path: "Examples/train-gbdt-googl.yaml")
    let trained = try TrainingPipeline.run(training)
    _ = FileManager.default.changeCurrentDirectoryPath(cwd)
    let strategies: [(String, () -> any Strategy)] = [
        ("sma_cross(10,20) — the default strategy", { SMACrossStrategy() }),
        (
            "model: GBDT on \(trained.bundle.features.features.count) stationary features",
            { ModelDrivenStrategy(adapter: InferenceAdapter(bundle: trained.bundle, recordLatency: false), rule: training.rule) }
        ),
    ]
    for (label, make) in strategies {
        for paced in [true, false] {
            var runs: [(p50: Double, p99: Double, orders: Int, eventsPerSecond: Double)] = []
            for _ in 0..<3 {
                let venue = SimulatedExecutionClient(instrument: instrument, fees: fees, fillTiming: .nextOpen, cash: Money(1_000_000))
                let executor = MarketOrderExecutor(client: venue, logger: quietLogger())
                try await executor.start()
                let stream = InMemoryStream(capacity: 4096)
                let producer = Task {
                    let start = ContinuousClock.now
                    for (i, b) in bars.enumerated() {
                        if paced {
                            let due = start + .nanoseconds(Int64(Double(i) / rate * 1e9))
                            while ContinuousClock.now < due {
                                if due - ContinuousClock.now > .microseconds(200) { try await Task.sleep(until: due - .microseconds(100)) }
                            }
                        }
                        try await stream.send(.bar(b))
                    }
                    stream.finish()
                }
                let started = ContinuousClock.now
                let result = try await runLiveLoop(
                    dataStream: stream,
                    strategy: make(),
                    submitOrder: { await executor.onSignal($0) },
                    settings: LiveLoopSettings(instrument: instrument, cash: Money(1_000_000), fees: fees, latencySamples: events),
                    venue: ExecutorVenue(executor: executor, simulated: venue),
                    logger: quietLogger()
                )
                let elapsed = seconds(ContinuousClock.now - started)
                try await producer.value
                await executor.shutdown()
                guard result.events == events, result.ordersRefused == 0, !result.tickToOrderNanos.isEmpty else {
                    print("live bench: lost events or refused orders (\(result.events) events, \(result.ordersRefused) refused)")
                    exit(1)
                }
                runs.append(
                    (
                        percentile(result.tickToOrderNanos, 0.5) / 1000, percentile(result.tickToOrderNanos, 0.99) / 1000,
                        result.tickToOrderNanos.count, Double(events) / elapsed
                    )
                )
            }
            let p50 = runs.map(\.p50).sorted()
            let p99 = runs.map(\.p99).sorted()
            let eps = runs.map(\.eventsPerSecond).sorted()
            print(
                String(
                    format: "live %@, %@: %d events, %d orders/run; tick-to-order p50 %.1f–%.1f us, p99 %.1f–%.1f us; %.0f–%.0f events/s",
                    label,
                    paced ? "paced \(Int(rate)) events/s" : "flood",
                    events,
                    runs[0].orders,
                    p50.first!,
                    p50.last!,
                    p99.first!,
                    p99.last!,
                    eps.first!,
                    eps.last!
                )
            )
        }
    }
}
