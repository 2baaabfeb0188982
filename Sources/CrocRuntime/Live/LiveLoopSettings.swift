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

/// Settings of a live loop: the instrument(s), the engine's account and costs.
public struct LiveLoopSettings: Sendable {
    /// The traded instrument: the first of `instruments` (setting it replaces that one).
    public var instrument: Instrument {
        get { instruments[0] }
        set { instruments[0] = newValue }
    }
    /// Every traded instrument, in lane order. More than one: the loop takes `.slice`
    /// events (a universe) and runs the portfolio engine on one account.
    public var instruments: [Instrument]
    /// When the venue fills market orders: with `.close` a rebalance is planned so that
    /// fills at the decision's closes equal a backtest's (paper with `fillAt: close`).
    public var fillTiming: FillTiming
    /// Whether sells may open shorts (what the strategy's context reports).
    public var allowShort: Bool
    /// Starting cash of the engine's ledger.
    public var cash: Money
    /// The costs the strategy sizes with (the venue charges its own).
    public var fees: FeeModel
    /// Prefix of the engine's order ids.
    public var runID: String
    /// The bar interval, for gap detection (nil: no gap check).
    public var barInterval: Duration?
    /// How long to wait, after handing orders over, for the venue to have them
    /// (paper venues: keeps a replay deterministic; real venues: keep it short).
    public var settleTimeout: Duration
    /// How often the loop books the venue's answers while a rebalance's buys wait for its sells.
    public var answerPoll: Duration = .milliseconds(2)
    /// How many tick-to-order samples to keep for `LiveLoopResult` (benchmarks).
    public var latencySamples: Int
    /// The pre-trade limits the engine applies (the same checks as a backtest's).
    public var risk: RiskLimits
    /// A position held before this run (a restart, reconciled with the venue):
    /// the engine starts from it instead of flat, with `cash` as what is left to spend.
    public var startPosition: (quantity: Quantity, averagePrice: Price)?
    /// Positions held before this run, by symbol, for a multi-symbol run (a restart
    /// reconciled with the venue); `cash` is then what is left to spend.
    public var startPositions: [String: (quantity: Quantity, averagePrice: Price)] = [:]

    /// Creates settings.
    public init(
        instrument: Instrument = Instrument(symbol: "SAMPLE"),
        cash: Money = Money(10_000),
        fees: FeeModel = FeeModel(commissionRate: .zero),
        runID: String = "live",
        barInterval: Duration? = nil,
        settleTimeout: Duration = .seconds(5),
        latencySamples: Int = 0,
        risk: RiskLimits = .none,
        startPosition: (quantity: Quantity, averagePrice: Price)? = nil,
        instruments: [Instrument]? = nil,
        fillTiming: FillTiming = .nextOpen,
        allowShort: Bool = false
    ) {
        self.instruments = instruments.flatMap { $0.isEmpty ? nil : $0 } ?? [instrument]
        self.fillTiming = fillTiming
        self.allowShort = allowShort
        self.risk = risk
        self.startPosition = startPosition
        self.cash = cash
        self.fees = fees
        self.runID = runID
        self.barInterval = barInterval
        self.settleTimeout = settleTimeout
        self.latencySamples = latencySamples
    }
}
