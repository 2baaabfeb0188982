import CrocCore
import CrocExecution
import CrocSupport
import Logging

/// What live trading starts from after a restart: the position the order
/// store and the venue agree on, its average price, and the cash the bot
/// may still spend.
public struct LiveStartState: Sendable, Hashable {
    /// The position to start from (base units).
    public var position: Quantity
    /// Its average entry price (from the stored fills; zero when flat or unknown).
    public var averagePrice: Price
    /// Cash the engine trades with: the smaller of what is left of the
    /// configured budget after the stored fills, and the venue's free quote balance.
    public var cash: Money
    /// What the venue holds of the base asset (free + locked).
    public var venueBase: Quantity
    /// What the stored fills explain.
    public var storedPosition: Quantity
    /// The venue's free quote balance.
    public var venueQuoteFree: Money
    /// One line for the log and the status page.
    public var summary: String
}

/// Why live trading refused to start after reconciling with the venue.
public struct LiveRecoveryError: Error, Sendable, CustomStringConvertible {
    /// A message for people: what was found and what to do.
    public var description: String
}

/// Reconciles the bot's memory with the venue before the first bar
/// (`crocbot live` on a real venue):
/// 1. the venue's trading rules are loaded into the executor (orders are
///    rounded and checked against them from now on) and returned as the
///    engine's instrument;
/// 2. the position is what the stored fills explain (the executor has already
///    reloaded its store and looked its unfinished orders up by client id);
/// 3. a venue balance of the base asset that the store cannot explain is
///    refused (`.refuse`, the default: the message says what was found) or
///    adopted as the bot's position (`.adopt`); a venue balance below the
///    stored position (sold elsewhere, fees) means the bot holds what the venue holds;
/// 4. the cash is the smaller of the configured budget less what the stored
///    fills spent, and the venue's free quote balance — never the whole
///    account because the account holds more (freqtrade's `available_capital`).
public enum LiveRecovery {
    /// Reconciles; see the type's documentation.
    /// - Parameters:
    ///   - executor: The started executor (its store reloaded and reconciled).
    ///   - client: The venue.
    ///   - rules: The symbol's rules (from the venue's exchange information).
    ///   - budget: The configured cash (the bot's budget).
    ///   - onUnknownPosition: What to do with a venue balance the store cannot explain.
    ///   - lastPrice: A recent price, the average price of an adopted balance (nil: zero until marked).
    /// - Throws: `LiveRecoveryError` when the policy refuses; `ExecutionError` when the venue cannot be read.
    public static func reconcile(
        executor: MarketOrderExecutor,
        client: any ExecutionClient,
        rules: VenueRules,
        budget: Money,
        onUnknownPosition: UnknownPositionPolicy,
        lastPrice: Price? = nil,
        logger: Logger
    ) async throws -> LiveStartState {
        await executor.setRules([rules])
        // Working orders at the venue that the store does not know could fill and move the position unseen.
        let known = Set(await executor.openOrders.map(\.clientOrderID))
        let strangers = try await client.openOrders(symbol: rules.symbol, deadline: .now + .seconds(10)).filter { !known.contains($0.clientOrderID) }
        if !strangers.isEmpty {
            let ids = strangers.map { "\($0.clientOrderID) (\($0.side.rawValue) \($0.quantity))" }.joined(separator: ", ")
            switch onUnknownPosition {
            case .refuse:
                throw LiveRecoveryError(
                    description:
                        "the venue has \(strangers.count) working order(s) on \(rules.symbol) that the order store does not know: \(ids). "
                        + "Refusing to start (live.onUnknownPosition: refuse): cancel them, or set live.onUnknownPosition: adopt."
                )
            case .adopt:
                logger.warning("working orders at the venue not in the order store (left as they are)", metadata: ["orders": "\(ids)"])
            }
        }
        let balances = try await client.balances(deadline: .now + .seconds(10))
        let base = balances.first { $0.asset == rules.baseAsset }
        let quote = balances.first { $0.asset == rules.quoteAsset }
        let venueBase = (base?.free ?? .zero) + (base?.locked ?? .zero)
        let venueQuoteFree = quote?.free ?? .zero
        // What the stored fills explain: replayed through the ledger from the budget, the position,
        // its average price, and the cash left (a base-asset fee comes out of the position, not the cash).
        var ledger = Portfolio(cash: budget)
        for f in try executor.store.fills(clientOrderID: nil) where f.symbol == rules.symbol {
            ledger.apply(
                Fill(
                    orderID: OrderID(0),
                    symbol: f.symbol,
                    side: f.side,
                    quantity: f.heldQuantity,
                    price: f.price,
                    commission: f.commission,
                    timestamp: f.time,
                    barIndex: 0
                )
            )
        }
        let held = ledger.position(rules.symbol)
        let spent = budget - ledger.cash
        let stored = held.quantity
        var position = stored
        var average = held.averagePrice
        let tolerance = max(rules.stepSize, FixedPoint(raw: 1))
        var note = "store explains \(stored) \(rules.baseAsset); venue holds \(venueBase) \(rules.baseAsset), \(venueQuoteFree) \(rules.quoteAsset) free"
        if venueBase - stored >= tolerance {
            let unexplained = venueBase - stored
            switch onUnknownPosition {
            case .refuse:
                throw LiveRecoveryError(
                    description:
                        "the venue holds \(venueBase) \(rules.baseAsset) but the order store explains only \(stored): \(unexplained) \(rules.baseAsset) "
                        + "were bought outside this bot or its store. Refusing to start (live.onUnknownPosition: refuse). Move the balance out, "
                        + "or set live.onUnknownPosition: adopt to trade it as the bot's position."
                )
            case .adopt:
                position = venueBase.floored(toMultipleOf: rules.stepSize.raw > 0 ? rules.stepSize : FixedPoint(raw: 1))
                if let p = lastPrice { average = stored.isZero ? p : average }
                note += "; adopted \(unexplained) \(rules.baseAsset) not in the store"
                logger.warning("adopting a venue balance the order store does not explain", metadata: ["unexplained": "\(unexplained)"])
            }
        } else if stored - venueBase >= tolerance {
            // Sold elsewhere, or fees the store did not see: the bot holds what the venue holds.
            position = venueBase.floored(toMultipleOf: rules.stepSize.raw > 0 ? rules.stepSize : FixedPoint(raw: 1))
            note += "; the venue holds less than the store explains: trading \(position)"
            logger.warning("venue holds less than the order store explains", metadata: ["stored": "\(stored)", "venue": "\(venueBase)"])
        }
        if position.isZero { average = .zero }
        let cash = max(.zero, min(ledger.cash, venueQuoteFree))
        note += "; cash \(cash) \(rules.quoteAsset) (budget \(budget), spent \(spent))"
        logger.notice(
            "start-up reconciliation",
            metadata: ["position": "\(position)", "average_price": "\(average)", "cash": "\(cash)", "detail": "\(note)"]
        )
        return LiveStartState(
            position: position,
            averagePrice: average,
            cash: cash,
            venueBase: venueBase,
            storedPosition: stored,
            venueQuoteFree: venueQuoteFree,
            summary: note
        )
    }
}
