import CrocCore
import CrocEngine
import CrocExecution

/// The one place the engine's order model meets the executor's (see the
/// design article of `CrocEngine`): engine `Order`s become `OrderIntent`s for
/// the executor, and the executor's `ExecutorEvent`s become engine `Fill`s and
/// order ends. A value type with no IO, tested on its own; the live loop holds one.
///
/// - Sizing: an order sized as a fraction of cash is sized at the symbol's last
///   close (slipped as a buy), never above what the cash affords with costs; an
///   order the cash cannot pay one quantity step of is refused, not sent.
/// - Booking: fills are booked from the executor's cumulative quantity per
///   client order id, so a repeated or stale fill report books nothing; a fill
///   or end for an order this bridge did not hand over is not the engine's.
public struct OrderBridge: Sendable {
    /// What an engine order becomes.
    public enum Sizing: Sendable, Hashable {
        /// Send this intent.
        case intent(OrderIntent)
        /// Not sent: the account cannot pay for it or it cannot be sized yet (counted as a refusal).
        case refused(String)
        /// Not sent: a kind of order the live executor does not send.
        case unsupported(String)
    }

    /// What an executor event means for the engine.
    public enum Booking: Sendable, Hashable {
        /// Book this fill; `complete` when the order is done.
        case fill(Fill, complete: Bool, clientOrderID: String)
        /// The order ended without (more) fills; `rejection` says why when the venue or the executor refused it.
        case ended(OrderID, rejection: String?)
        /// A venue fill for an order this run did not place (an operator decides).
        case unknownFill(clientOrderID: String)
        /// Nothing to do: a duplicate, or an order this bridge does not know.
        case ignored
    }

    private var byClientID: [String: OrderID] = [:]
    private var clientIDs: [OrderID: String] = [:]
    private var booked: [String: Quantity] = [:]

    /// An empty bridge.
    public init() {}

    /// The executor's form of `order`.
    /// - Parameters:
    ///   - lastClose: The symbol's last close (nil before its first bar).
    ///   - cash: The engine's cash now.
    ///   - quantityStep: The symbol's quantity step.
    ///   - fees: The costs the engine sizes with.
    public static func sizing(for order: Order, lastClose: Price?, cash: Money, quantityStep: Quantity, fees: FeeModel) -> Sizing {
        let kind: OrderRequest.Kind
        switch order.type {
        case .market: kind = .market
        case .limit(let p): kind = .limit(p)
        case .stop: return .unsupported("stop orders are not supported by the live executor")
        }
        let quantity: Quantity
        var fraction: FixedPoint?
        switch order.size {
        case .quantity(let q):
            quantity = q
        case .cashFraction(let f):
            fraction = f
            guard let close = lastClose else { return .refused("\(order.symbol) has no price yet: a cash-fraction order cannot be sized") }
            let price = fees.slipped(close, side: .buy)
            let budget = cash * f
            let estimate = fees.affordableQuantity(budget: budget, price: price, step: quantityStep)
            // Never more than the cash allows: an order the cash cannot pay for one step of is not sent.
            guard !estimate.isZero else {
                return .refused("cash \(budget.formatted(decimals: 2)) affords less than one step (\(quantityStep)) at \(price), costs included")
            }
            // Simulated and paper venues size the order at fill time; real venues send this quantity.
            quantity = estimate
        }
        return .intent(
            OrderIntent(
                symbol: order.symbol,
                side: order.side,
                quantity: quantity,
                kind: kind,
                timeInForce: order.timeInForce,
                tag: order.tag,
                cashFraction: fraction
            )
        )
    }

    /// Remembers that the executor took engine order `id` as `clientOrderID`.
    public mutating func accepted(_ id: OrderID, clientOrderID: String) {
        byClientID[clientOrderID] = id
        clientIDs[id] = clientOrderID
    }

    /// The client order id the executor gave engine order `id`, while it is working.
    public func clientOrderID(of id: OrderID) -> String? { clientIDs[id] }

    /// Orders handed over and not yet done.
    public var working: Int { byClientID.count }

    /// Whether the order handed over as `clientOrderID` is not done yet: no complete fill and
    /// no end (reject, cancel, expiry) has been booked for it.
    public func isWorking(clientOrderID: String) -> Bool { byClientID[clientOrderID] != nil }

    /// What `event` means for the engine; fills carry `barIndex`.
    public mutating func book(_ event: ExecutorEvent, barIndex: Int) -> Booking {
        switch event {
        case .filled(let f, let complete):
            guard let id = byClientID[f.clientOrderID] else { return .ignored }
            if let done = booked[f.clientOrderID], done >= f.cumulativeQuantity { return .ignored }
            booked[f.clientOrderID] = f.cumulativeQuantity
            // A commission paid in the base asset changes what is held (`heldQuantity`);
            // `commission` values it, so cash moves exactly by the notional.
            let fill = Fill(
                orderID: id,
                symbol: f.symbol,
                side: f.side,
                quantity: f.heldQuantity,
                price: f.price,
                commission: f.commission,
                timestamp: f.time,
                barIndex: barIndex
            )
            if complete { forget(f.clientOrderID, id) }
            return .fill(fill, complete: complete, clientOrderID: f.clientOrderID)
        case .unknownFill(let report):
            return .unknownFill(clientOrderID: report.clientOrderID)
        case .ended(let clientID, let state, let reason):
            guard let id = byClientID[clientID] else { return .ignored }
            forget(clientID, id)
            let rejected = state == .rejected || state == .dropped
            return .ended(id, rejection: rejected ? reason ?? state.rawValue : nil)
        }
    }

    private mutating func forget(_ clientID: String, _ id: OrderID) {
        byClientID[clientID] = nil
        clientIDs[id] = nil
        booked[clientID] = nil
    }
}
