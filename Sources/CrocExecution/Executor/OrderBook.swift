import CrocCore
import CrocEngine
import Logging

/// The executor's order bookkeeping as a value: which orders are open, what
/// they filled, the position per symbol, and every state change — with no
/// IO, no clock of its own and no concurrency. Each change returns the
/// actions it implies (store writes, events, counters, log lines) for the
/// `MarketOrderExecutor` actor to carry out in order, the way SwiftNIO and
/// Hummingbird write their state machines; tests drive it synchronously.
///
/// Venue reports are applied from their cumulative figures, so a duplicated,
/// out-of-order or stale report books nothing twice and loses nothing; a fill
/// reported after the order ended here (Binance can report a fill after a
/// cancel, as nautilus_trader's Canceled → Filled allows) is booked; a fill
/// for an order this book never had is stored and announced, never dropped.
public struct OrderBook: Sendable {
    /// What the executor must do after a change, in order.
    public enum Action: Sendable, Hashable {
        /// Book a fill and the order's new state in the store, atomically.
        case recordFill(ExecutionFill, OrderRecord)
        /// Write the order's new state to the store.
        case persist(OrderRecord)
        /// Keep a report about an order the store does not know.
        case storeUnknown(VenueOrder)
        /// Tell the listeners.
        case emit(ExecutorEvent)
        /// Count in the metrics.
        case count(Counter)
        /// A log line.
        case log(Logger.Level, String, [String: String])
    }

    /// The counters a change moves (`ExecutorMetrics`).
    public enum Counter: String, Sendable, Hashable {
        case acked, filled, partiallyFilled, canceled, expired, rejected, dropped, reportsIgnored, invalidTransition, unknownReport
    }

    /// Orders not yet terminal, by client order id.
    public private(set) var records: [String: OrderRecord] = [:]
    /// Net position per symbol: booked fills less base-asset commissions.
    public private(set) var positions: [String: Quantity] = [:]
    /// Signed unfilled quantity of the open orders, per symbol.
    public private(set) var working: [String: Quantity] = [:]
    /// The venues' trading rules by symbol (fees are booked by asset with them).
    public var rules: [String: VenueRules] = [:]
    /// The least severe log line the book writes actions for (the executor's logger level):
    /// lines below it are never built.
    public var logLevel: Logger.Level = .info

    /// An empty book.
    public init() {}

    /// A book reloaded from a store: its open orders and positions.
    public init(open: [OrderRecord], positions: [String: Quantity]) {
        for r in open where records[r.clientOrderID] == nil { add(r) }
        self.positions = positions
    }

    /// The open order with this id.
    public subscript(id: String) -> OrderRecord? { records[id] }

    /// `position + working` for a symbol: the exposure the risk checks see.
    public func exposure(_ symbol: String) -> Quantity { (positions[symbol] ?? .zero) + (working[symbol] ?? .zero) }

    /// Adds a new (or reloaded) open order.
    public mutating func add(_ r: consuming OrderRecord) {
        working[r.request.symbol, default: .zero] += Self.signedRemaining(r)
        records[r.clientOrderID] = r
    }

    /// Changes fields of an open order that are not its state (attempts, the last error).
    public mutating func update(_ id: String, _ body: (inout OrderRecord) -> Void) {
        // Through the dictionary's in-place accessor: the record is never copied.
        records[id]?.updateKeepingState(body)
    }

    /// Marks an order sent (first attempt).
    public mutating func markSubmitted(_ id: String) {
        records[id]?.markSubmitted()
    }

    /// Takes a queued order for sending: marks it `submitted` (first attempt)
    /// and returns its request, in one lookup; nil unless it is `pendingNew`.
    public mutating func startSending(_ id: String) -> OrderRequest? {
        records[id]?.startSending() ?? nil
    }

    /// Puts a sent order back to be sent again under the same id (the venue never saw it).
    public mutating func markUnsent(_ id: String) {
        guard var r = records[id], r.state == .submitted || r.state == .pendingNew, r.filledQuantity.isZero else { return }
        r.state = .pendingNew
        records[id] = r
    }

    /// Moves an order to `next` (checked), persists it, and announces a non-fill ending.
    public mutating func transition(_ id: String, to next: OrderState, reason: String? = nil, now: Timestamp) -> [Action] {
        guard var r = records[id] else { return [] }
        if let reason { r.lastError = reason }
        var out: [Action] = []
        guard r.state.canTransition(to: next) else {
            invalid(r, next, &out)
            return out
        }
        r.state = next
        r.updatedAt = now
        switch next {
        case .acked: out.append(.count(.acked))
        case .canceled: out.append(.count(.canceled))
        case .expired: out.append(.count(.expired))
        case .rejected: out.append(.count(.rejected))
        case .dropped: out.append(.count(.dropped))
        default: break
        }
        if next.isTerminal { retire(r) } else { records[id] = r }
        out.append(.persist(r))
        if next.isTerminal && next != .filled { out.append(.emit(.ended(clientOrderID: id, state: next, reason: r.lastError))) }
        return out
    }

    /// Applies the venue's view of an order.
    /// - Parameters:
    ///   - snap: The venue's snapshot (cumulative figures).
    ///   - kind: What the report announces, when it is a pushed report.
    ///   - lastFill: The execution the report announces, when the venue gives it.
    ///   - stored: Reads the store's record of the order; called only when the
    ///     order is not open here and the snapshot shows fills (a late fill, or a stranger's).
    ///   - now: The wall clock.
    public mutating func apply(
        _ snap: VenueOrder,
        kind: ExecutionReportKind? = nil,
        lastFill: VenueFill? = nil,
        stored: () -> OrderRecord? = { nil },
        now: Timestamp
    ) -> [Action] {
        var out: [Action] = []
        apply(snap, kind: kind, lastFill: lastFill, stored: stored, now: now, into: &out)
        return out
    }

    /// `apply`, appending its actions to `out` (the executor reuses one buffer: no allocation per report).
    public mutating func apply(
        _ snap: VenueOrder,
        kind: ExecutionReportKind? = nil,
        lastFill: VenueFill? = nil,
        stored: () -> OrderRecord? = { nil },
        now: Timestamp,
        into out: inout [Action]
    ) {
        var late = false
        // Taken out of the book (moved, not copied) and put back unless the report ends it.
        var found = records.removeValue(forKey: snap.clientOrderID)
        if found == nil, snap.executedQuantity.raw > 0 {
            let stored = stored()
            if let stored, stored.state.isTerminal, snap.executedQuantity > stored.filledQuantity {
                found = stored
                late = true
                if logLevel <= .warning {
                    out.append(
                        .log(
                            .warning,
                            "fill reported after the order ended; booking it",
                            ["client_order_id": stored.clientOrderID, "state": stored.state.rawValue, "venue_executed": "\(snap.executedQuantity)"]
                        )
                    )
                }
            } else if stored == nil {
                out.append(.count(.unknownReport))
                out.append(
                    .log(
                        .error,
                        "fill reported for an unknown order; stored for reconciliation",
                        [
                            "client_order_id": snap.clientOrderID, "venue_order_id": snap.venueOrderID ?? "", "symbol": snap.symbol,
                            "side": snap.side.rawValue, "executed": "\(snap.executedQuantity)",
                        ]
                    )
                )
                out.append(.storeUnknown(snap))
                out.append(.emit(.unknownFill(snap)))
                return
            }
        }
        guard var r = found else {
            out.append(.count(.reportsIgnored))
            return
        }
        if r.venueOrderID == nil, let v = snap.venueOrderID { r.venueOrderID = v }
        var target = OrderState(snap.status)
        guard snap.executedQuantity > r.filledQuantity else {
            // No new fill: a state change, a duplicate, or a stale report.
            if late { return }
            records[r.clientOrderID] = r
            if target == r.state { return }
            guard r.state.canTransition(to: target) else {
                if r.state.isTerminal || Self.isStale(from: r.state, to: target) {
                    out.append(.count(.reportsIgnored))
                } else {
                    invalid(r, target, &out)
                }
                return
            }
            if target == .rejected, let reason = snap.rejectReason { records[r.clientOrderID]?.lastError = reason }
            if target == .rejected {
                // A venue's rejection of an accepted order is an error an operator (and the agent) must see.
                out.append(.log(.error, "order rejected", Self.metadata(r).merging(["error": snap.rejectReason ?? "rejected"]) { $1 }))
            } else if logLevel <= .info {
                out.append(.log(.info, "order \(target.rawValue)", Self.metadata(r)))
            }
            out += transition(r.clientOrderID, to: target, now: now)
            return
        }
        let deltaQty = snap.executedQuantity - r.filledQuantity
        var deltaQuote = snap.cumulativeQuote - r.filledQuote
        if deltaQuote.raw <= 0 { deltaQuote = deltaQty * (snap.averagePrice ?? .zero) }
        var price = deltaQuote.divided(by: deltaQty) ?? .zero
        let fees = commissions(snap, symbol: r.request.symbol)
        var deltaFee = fees.quote > r.commission ? fees.quote - r.commission : .zero
        var deltaBase = fees.base > r.baseCommission ? fees.base - r.baseCommission : .zero
        if let last = lastFill, last.quantity == deltaQty {
            // The venue's own figures for this execution: exact, no rounding through the average.
            price = last.price
            if let asset = last.commissionAsset, let venue = rules[r.request.symbol], asset != venue.quoteAsset {
                deltaFee = .zero
                deltaBase = asset == venue.baseAsset ? last.commission : .zero
            } else {
                deltaFee = last.commission
                deltaBase = .zero
            }
        }
        for (asset, amount) in fees.other where amount.raw > 0 {
            out.append(
                .log(
                    .notice,
                    "commission paid in a third asset (not in the ledger's cash)",
                    ["client_order_id": r.clientOrderID, "asset": asset, "cumulative": "\(amount)"]
                )
            )
        }
        let baseValue = deltaBase.raw > 0 ? deltaBase * price : .zero
        r.filledQuantity = snap.executedQuantity
        r.filledQuote = snap.cumulativeQuote.raw > 0 ? snap.cumulativeQuote : r.filledQuote + deltaQuote
        r.commission += deltaFee
        r.baseCommission += deltaBase
        if target == .acked || target == .submitted { target = .partiallyFilled }
        if r.filledQuantity >= r.request.quantity { target = .filled }
        let previous = r.state
        if late {
            // Ended here, filled there: the fill counts; the order stays ended unless it is now complete.
            if target != .filled { target = previous }
        } else if !(r.state.canTransition(to: target) || r.state == target) {
            records[r.clientOrderID] = r
            invalid(r, target, &out)
            return
        }
        r.state = target
        r.updatedAt = now
        var fill = ExecutionFill(
            clientOrderID: r.clientOrderID,
            symbol: r.request.symbol,
            side: r.request.side,
            quantity: deltaQty,
            price: price,
            commission: deltaFee + baseValue,
            cumulativeQuantity: r.filledQuantity,
            time: snap.updateTime
        )
        fill.baseCommission = deltaBase
        positions[r.request.symbol, default: .zero] += fill.positionChange
        if !late {
            // The fill leaves the working exposure; so does the rest of an order that ended (retired:
            // already out of the book). One update of the symbol's entry.
            let leaving = target.isTerminal ? fill.signedQuantity + Self.signedRemaining(r) : fill.signedQuantity
            working[r.request.symbol, default: .zero] -= leaving
        }
        if previous == .submitted { out.append(.count(.acked)) }
        out.append(.count(target == .filled ? .filled : .partiallyFilled))
        if !late && !target.isTerminal { records[r.clientOrderID] = r }
        out.append(.recordFill(fill, r))  // stored before anyone hears of it
        if logLevel <= .info {
            var meta = Self.metadata(r)
            meta["fill_qty"] = "\(deltaQty)"
            meta["fill_price"] = "\(price)"
            meta["filled"] = "\(r.filledQuantity)"
            out.append(.log(.info, target == .filled ? "order filled" : "order partially filled", meta))
        }
        out.append(.emit(.filled(fill, orderComplete: target.isTerminal)))
    }

    /// Cumulative commissions of `snap` split by what they do to the account:
    /// in the quote asset (cash), in the base asset (the position), in any other asset.
    func commissions(_ snap: VenueOrder, symbol: String) -> (quote: Money, base: Quantity, other: [String: FixedPoint]) {
        guard !snap.commissionsByAsset.isEmpty, let venue = rules[symbol] else { return (snap.cumulativeCommission ?? .zero, .zero, [:]) }
        var other = snap.commissionsByAsset
        let quote = other.removeValue(forKey: venue.quoteAsset) ?? .zero
        let base = other.removeValue(forKey: venue.baseAsset) ?? .zero
        return (quote, base, other)
    }

    /// An older state arriving after a newer one (e.g. `acked` after `partially_filled`).
    static func isStale(from: OrderState, to: OrderState) -> Bool {
        func rank(_ s: OrderState) -> Int? {
            switch s {
            case .pendingNew: return 0
            case .submitted: return 1
            case .acked: return 2
            case .partiallyFilled: return 3
            case .filled, .canceled, .rejected, .expired, .dropped: return nil
            }
        }
        guard let a = rank(from), let b = rank(to) else { return false }
        return b < a
    }

    private func invalid(_ r: OrderRecord, _ target: OrderState, _ out: inout [Action]) {
        out.append(.count(.invalidTransition))
        var meta = Self.metadata(r)
        meta["error"] = "\(InvalidOrderTransition(clientOrderID: r.clientOrderID, from: r.state, to: target))"
        out.append(.log(.error, "invalid order transition refused", meta))
    }

    /// Removes a terminal order; its unfilled part stops counting as exposure.
    private mutating func retire(_ r: OrderRecord) {
        records[r.clientOrderID] = nil
        working[r.request.symbol, default: .zero] -= Self.signedRemaining(r)
    }

    static func signedRemaining(_ r: OrderRecord) -> Quantity {
        let remaining = r.request.quantity - r.filledQuantity
        return r.request.side == .buy ? remaining : -remaining
    }

    static func metadata(_ r: OrderRecord) -> [String: String] {
        [
            "client_order_id": r.clientOrderID, "symbol": r.request.symbol, "side": r.request.side.rawValue, "quantity": "\(r.request.quantity)",
            "state": r.state.rawValue,
        ]
    }
}

extension OrderRecord {
    /// `body` on the record; its state is not for `body` to change (only `OrderBook.transition` moves it).
    fileprivate mutating func updateKeepingState(_ body: (inout OrderRecord) -> Void) {
        let state = self.state
        body(&self)
        self.state = state
    }

    /// `markSubmitted` when the order is `pendingNew`, returning its request; nil (unchanged) otherwise.
    fileprivate mutating func startSending() -> OrderRequest? {
        guard state == .pendingNew else { return nil }
        state = .submitted
        if attempts < 1 { attempts = 1 }
        return request
    }

    /// Sent for the first time (or again): `submitted`, at least one attempt.
    fileprivate mutating func markSubmitted() {
        guard state == .pendingNew || state == .submitted else { return }
        state = .submitted
        if attempts < 1 { attempts = 1 }
    }
}
