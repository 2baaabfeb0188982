import CoreMetrics
import CrocCore
import CrocData
import CrocEngine
import CrocExecution
import CrocStrategies
import CrocSupport
import Foundation
import Logging
import Synchronization

/// A `LiveVenue` over a `MarketOrderExecutor`, optionally with the
/// in-process simulated venue it trades on (paper trading on bars).
///
/// With a simulated venue, each bar first advances the venue (resting orders
/// fill at this bar's open, exactly as in a backtest), and `settle` waits
/// until the executor has sent every order — so a replay gives the same
/// fills as `crocbot backtest`, bit for bit.
public final class ExecutorVenue: LiveVenue, Sendable {
    /// The executor.
    public let executor: MarketOrderExecutor
    /// The simulated venue, for paper trading on bars with the backtest's fill model.
    public let simulated: SimulatedExecutionClient?
    /// The paper venue, for paper trading at the last price.
    public let paper: PaperExecutionClient?
    private let inbox = EventInbox()

    /// Listens to `executor`'s events from now on.
    /// - Parameters:
    ///   - executor: The executor orders go through.
    ///   - simulated: An in-process venue advanced by each bar (fills at the next open, like a backtest).
    ///   - paper: A paper venue given each bar's close as its last price (fills market orders at once).
    public init(executor: MarketOrderExecutor, simulated: SimulatedExecutionClient? = nil, paper: PaperExecutionClient? = nil) {
        self.executor = executor
        self.simulated = simulated
        self.paper = paper
        let inbox = self.inbox
        executor.subscribe { inbox.append($0) }
    }

    /// Advances the simulated venue by the bar and books its reports.
    public func marketEvent(_ event: MarketEvent) async -> [ExecutorEvent] {
        let bar: Bar
        switch event {
        case .bar(let b):
            bar = b
        case .slice(let slice):
            return await marketSlice(slice)
        }
        if let simulated {
            let reports = simulated.process(bar: bar, broadcast: false)
            await executor.updateMarket(symbol: simulated.symbol, price: simulated.instrument.price(bar.close))
            return reports.isEmpty ? [] : await executor.ingest(reports)
        }
        // A paper venue takes the close as its last price; every venue's executor checks its
        // risk limits (an order's value, the price band) against it.
        if let symbol = symbol {
            let price = Price(unchecked: bar.close)
            if let paper { await paper.updatePrice(symbol: symbol, price: price, time: bar.timestamp) }
            await executor.updateMarket(symbol: symbol, price: price)
        }
        return []
    }

    /// A universe's slice: the simulated venue matches each symbol's resting orders against its
    /// own bar (as a portfolio backtest does); otherwise each bar's close is the symbol's last
    /// price for the executor's risk checks (and a paper venue's fills).
    private func marketSlice(_ slice: MarketSlice) async -> [ExecutorEvent] {
        let symbols = symbolsBox.withLock { $0 }
        if let simulated {
            let reports = simulated.process(slice: slice, broadcast: false)
            let instruments = simulated.instruments
            for (j, k) in slice.lanes.enumerated() where k < instruments.count {
                await executor.updateMarket(symbol: instruments[k].symbol, price: instruments[k].price(slice.bars[j].close))
            }
            return reports.isEmpty ? [] : await executor.ingest(reports)
        }
        for (j, k) in slice.lanes.enumerated() where k < symbols.count {
            let price = Price(unchecked: slice.bars[j].close)
            if let paper { await paper.updatePrice(symbol: symbols[k], price: price, time: slice.time) }
            await executor.updateMarket(symbol: symbols[k], price: price)
        }
        return []
    }

    /// The symbol bars are priced for: the first lane's (set by the loop).
    private var symbol: String? { symbolsBox.withLock { $0.first } }
    /// The symbols by lane (set by the loop).
    private let symbolsBox = Mutex<[String]>([])

    /// Tells the venue which symbol the bars are for (the loop calls this).
    public func bind(symbol: String) { bind(symbols: [symbol]) }

    /// Tells the venue the symbols of a universe's slices, by lane (the loop calls this).
    public func bind(symbols: [String]) { symbolsBox.withLock { $0 = symbols } }

    /// Events pushed by the executor since the last call.
    public func drainEvents() -> [ExecutorEvent] { inbox.drain() }

    /// With a simulated venue, waits until every order is sent and answered.
    public func settle(timeout: Duration) async {
        guard simulated != nil || paper != nil else { return }
        await executor.waitUntilIdle(timeout: timeout)
    }

    /// With a simulated venue: its orders fill at later bars (or this bar's close), as a backtest's.
    public var fillsOnBars: Bool { simulated != nil }

    /// Cancels through the executor; failures are logged by it.
    public func cancel(clientOrderID: String) async {
        try? await executor.cancel(clientOrderID: clientOrderID)
    }
}

/// A lock-protected list of events.
final class EventInbox: Sendable {
    private let events = Mutex<[ExecutorEvent]>([])
    func append(_ e: ExecutorEvent) { events.withLock { $0.append(e) } }
    func drain() -> [ExecutorEvent] {
        events.withLock { e in
            defer { e.removeAll() }
            return e
        }
    }
}
