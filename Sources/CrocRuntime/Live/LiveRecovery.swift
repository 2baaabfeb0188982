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
    /// Reconciles one symbol; see the type's documentation.
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
        let start = try await reconcile(
            executor: executor,
            client: client,
            rules: [rules],
            budget: budget,
            onUnknownPosition: onUnknownPosition,
            lastPrices: lastPrice.map { [rules.symbol: $0] } ?? [:],
            logger: logger
        )
        let h = start.holdings[0]
        return LiveStartState(
            position: h.position,
            averagePrice: h.averagePrice,
            cash: start.cash,
            venueBase: h.venueBase,
            storedPosition: h.storedPosition,
            venueQuoteFree: start.venueQuoteFree,
            summary: start.summary
        )
    }

    /// Reconciles every symbol of a multi-symbol run on one account: each symbol's
    /// position as for one symbol (working orders the store does not know, balances
    /// it cannot explain, balances below what it explains), and one cash figure for
    /// them all: the smaller of the budget less what the stored fills of every symbol
    /// spent, and the venue's free balance of the shared quote asset.
    /// - Parameters:
    ///   - rules: Each symbol's rules, in lane order; they must share one quote asset.
    ///   - lastPrices: Recent prices by symbol, the average price of adopted balances.
    /// - Throws: `LiveRecoveryError` when the policy refuses or the symbols' quote
    ///   assets differ; `ExecutionError` when the venue cannot be read.
    public static func reconcile(
        executor: MarketOrderExecutor,
        client: any ExecutionClient,
        rules all: [VenueRules],
        budget: Money,
        onUnknownPosition: UnknownPositionPolicy,
        lastPrices: [String: Price] = [:],
        logger: Logger
    ) async throws -> LivePortfolioStart {
        guard let quoteAsset = all.first?.quoteAsset else { throw LiveRecoveryError(description: "no symbol to reconcile") }
        if let other = all.first(where: { $0.quoteAsset != quoteAsset }) {
            throw LiveRecoveryError(
                description:
                    "\(other.symbol) is quoted in \(other.quoteAsset) but \(all[0].symbol) in \(quoteAsset): the symbols of one account "
                    + "must share a quote asset (one cash balance pays for every order)"
            )
        }
        await executor.setRules(all)
        // Working orders at the venue that the store does not know could fill and move a position unseen.
        let known = Set(await executor.openOrders.map(\.clientOrderID))
        for rules in all {
            let strangers = try await client.openOrders(symbol: rules.symbol, deadline: .now + .seconds(10)).filter {
                !known.contains($0.clientOrderID)
            }
            guard !strangers.isEmpty else { continue }
            let ids = strangers.map { "\($0.clientOrderID) (\($0.side.rawValue) \($0.quantity))" }.joined(separator: ", ")
            switch onUnknownPosition {
            case .refuse:
                throw LiveRecoveryError(
                    description:
                        "the venue has \(strangers.count) working order(s) on \(rules.symbol) that the order store does not know: \(ids). "
                        + "Refusing to start (live.onUnknownPosition: refuse): cancel them, or set live.onUnknownPosition: adopt."
                )
            case .adopt:
                logger.warning(
                    "working orders at the venue not in the order store (left as they are)",
                    metadata: ["symbol": "\(rules.symbol)", "orders": "\(ids)"]
                )
            }
        }
        let balances = try await client.balances(deadline: .now + .seconds(10))
        let quote = balances.first { $0.asset == quoteAsset }
        let venueQuoteFree = quote?.free ?? .zero
        // What the stored fills explain: replayed through the ledger from the budget, each position,
        // its average price, and the cash left (a base-asset fee comes out of the position, not the cash).
        let traded = Set(all.map(\.symbol))
        var ledger = Portfolio(cash: budget)
        for f in try executor.store.fills(clientOrderID: nil) where traded.contains(f.symbol) {
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
        let spent = budget - ledger.cash
        var holdings: [LiveStartHolding] = []
        var notes: [String] = []
        for rules in all {
            let base = balances.first { $0.asset == rules.baseAsset }
            let venueBase = (base?.free ?? .zero) + (base?.locked ?? .zero)
            let held = ledger.position(rules.symbol)
            let stored = held.quantity
            var position = stored
            var average = held.averagePrice
            let step = rules.stepSize.raw > 0 ? rules.stepSize : FixedPoint(raw: 1)
            let tolerance = max(rules.stepSize, FixedPoint(raw: 1))
            var note = "store explains \(stored) \(rules.baseAsset); venue holds \(venueBase) \(rules.baseAsset)"
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
                    position = venueBase.floored(toMultipleOf: step)
                    if let p = lastPrices[rules.symbol] { average = stored.isZero ? p : average }
                    note += " (adopted \(unexplained) \(rules.baseAsset) not in the store)"
                    logger.warning(
                        "adopting a venue balance the order store does not explain",
                        metadata: ["symbol": "\(rules.symbol)", "unexplained": "\(unexplained)"]
                    )
                }
            } else if stored - venueBase >= tolerance {
                // Sold elsewhere, or fees the store did not see: the bot holds what the venue holds.
                position = venueBase.floored(toMultipleOf: step)
                note += " (less than the store explains: trading \(position))"
                logger.warning(
                    "venue holds less than the order store explains",
                    metadata: ["symbol": "\(rules.symbol)", "stored": "\(stored)", "venue": "\(venueBase)"]
                )
            }
            if position.isZero { average = .zero }
            notes.append(note)
            holdings.append(
                LiveStartHolding(
                    symbol: rules.symbol,
                    position: position,
                    averagePrice: average,
                    venueBase: venueBase,
                    storedPosition: stored
                )
            )
        }
        let cash = max(.zero, min(ledger.cash, venueQuoteFree))
        let summary =
            notes.joined(separator: "; ") + ", \(venueQuoteFree) \(quoteAsset) free; cash \(cash) \(quoteAsset) (budget \(budget), spent \(spent))"
        logger.notice(
            "start-up reconciliation",
            metadata: [
                "positions": "\(holdings.filter { !$0.position.isZero }.map { "\($0.symbol)=\($0.position)" }.joined(separator: ","))",
                "cash": "\(cash)", "detail": "\(summary)",
            ]
        )
        return LivePortfolioStart(holdings: holdings, cash: cash, venueQuoteFree: venueQuoteFree, summary: summary)
    }
}

/// One symbol's part of a multi-symbol start (`LiveRecovery.reconcile(rules:)` with a list).
public struct LiveStartHolding: Sendable, Hashable {
    /// The symbol.
    public var symbol: String
    /// The position to start from (base units).
    public var position: Quantity
    /// Its average entry price (zero when flat or unknown).
    public var averagePrice: Price
    /// What the venue holds of the base asset (free + locked).
    public var venueBase: Quantity
    /// What the stored fills explain.
    public var storedPosition: Quantity
}

/// What a multi-symbol live run starts from after a restart: every symbol's
/// reconciled position and the one cash figure of the shared account.
public struct LivePortfolioStart: Sendable, Hashable {
    /// Each symbol's start, in the order of the rules given.
    public var holdings: [LiveStartHolding]
    /// Cash the engine trades with (see `LiveStartState.cash`).
    public var cash: Money
    /// The venue's free balance of the shared quote asset.
    public var venueQuoteFree: Money
    /// One line for the log and the status page.
    public var summary: String
    /// The positions held, by symbol (what `TradingEngine.restore(positions:cash:)` takes).
    public var positions: [String: (quantity: Quantity, averagePrice: Price)] {
        var out: [String: (quantity: Quantity, averagePrice: Price)] = [:]
        for h in holdings where !h.position.isZero { out[h.symbol] = (h.position, h.averagePrice) }
        return out
    }
}
