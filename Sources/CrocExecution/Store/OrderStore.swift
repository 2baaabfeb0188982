import CrocCore
import Synchronization

/// A failure of the order store.
public struct OrderStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done.
    public var operation: String
    /// The underlying error.
    public var message: String

    /// Creates an error.
    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }

    /// A message for people.
    public var description: String { "order store \(operation): \(message)" }
}

/// Where orders and fills live so a restart loses nothing (DESIGN rule 5).
///
/// The executor writes an order before it is sent and every state change and
/// fill after it is received. `record(fill:order:)` is atomic and idempotent:
/// a fill is keyed by (client order id, cumulative quantity), so booking the
/// same venue report twice books it once.
public protocol OrderStore: Sendable {
    /// Adds a new order. Fails if the client order id exists.
    func insert(_ record: OrderRecord) throws(OrderStoreError)
    /// Replaces an order's stored state.
    func update(_ record: OrderRecord) throws(OrderStoreError)
    /// Books a fill and the order's new state in one transaction.
    /// - Returns: false when the fill was already booked (nothing changed).
    @discardableResult
    func record(fill: ExecutionFill, order: OrderRecord) throws(OrderStoreError) -> Bool
    /// One order by client order id.
    func order(_ clientOrderID: String) throws(OrderStoreError) -> OrderRecord?
    /// Orders that are not terminal, oldest first.
    func openOrders() throws(OrderStoreError) -> [OrderRecord]
    /// All orders, oldest first.
    func allOrders() throws(OrderStoreError) -> [OrderRecord]
    /// Fills, oldest first, for one order or all.
    func fills(clientOrderID: String?) throws(OrderStoreError) -> [ExecutionFill]
    /// Makes everything written so far durable (on shutdown).
    func flush() throws(OrderStoreError)
    /// Keeps a venue report about an order this store does not know (a fill
    /// of an order placed elsewhere, or by a lost process), for reconciliation.
    func recordUnknownReport(_ order: VenueOrder, receivedAt: Timestamp) throws(OrderStoreError)
    /// Reports kept by `recordUnknownReport`, oldest first.
    func unknownReports() throws(OrderStoreError) -> [VenueOrder]
}

extension OrderStore {
    /// Makes everything written so far durable and compact (a WAL
    /// checkpoint for SQLite). Default: nothing to do.
    public func flush() throws(OrderStoreError) {}

    /// Net position per symbol: the sum of booked fills.

    public func positions() throws(OrderStoreError) -> [String: Quantity] {
        var out: [String: Quantity] = [:]
        for f in try fills(clientOrderID: nil) { out[f.symbol, default: .zero] += f.positionChange }
        return out
    }
}

/// An order store in memory: for tests, benchmarks and backtests that need no durability.
public final class InMemoryOrderStore: OrderStore {
    private struct State {
        // Records in insertion order, indexed by client order id: resizing the index moves small values only.
        var records: [OrderRecord] = []
        var index: [String: Int] = [:]
        // Which fills are stored (the dedupe key is the order and its cumulative quantity, as
        // SQLite's unique key): per record, the cumulative of its first fill (`Int64.min`: none),
        // and further fills by record position, so a fill costs one lookup of its id, not two.
        var firstFill: [Int64] = []
        var moreFills: Set<PositionKey> = []
        // Fills of orders this store does not hold (moved to their record if it arrives later).
        var strayFills: Set<FillKey> = []
        var fills: [ExecutionFill] = []
        var unknown: [VenueOrder] = []

        /// Marks the fill `cumulative` of the record at `i` stored; false when it already was.
        mutating func claim(record i: Int, cumulative: Int64) -> Bool {
            if firstFill[i] == cumulative { return false }
            if firstFill[i] == .min {
                firstFill[i] = cumulative
                return true
            }
            return moreFills.insert(PositionKey(record: i, cumulative: cumulative)).inserted
        }
    }

    private struct FillKey: Hashable {
        var id: String
        var cumulative: Int64
    }

    private struct PositionKey: Hashable {
        var record: Int
        var cumulative: Int64
    }

    private let state = Mutex(State())

    /// Creates an empty store.
    public init() {}

    public func insert(_ record: OrderRecord) throws(OrderStoreError) {
        let ok = state.withLock { s -> Bool in
            // One hash of the id: the slot is claimed through the default-value subscript.
            let position = s.records.count
            var inserted = false
            func claim(_ slot: inout Int) {
                if slot < 0 {
                    slot = position
                    inserted = true
                }
            }
            claim(&s.index[record.clientOrderID, default: -1])
            guard inserted else { return false }
            s.records.append(record)
            s.firstFill.append(.min)
            if !s.strayFills.isEmpty {
                for key in s.strayFills where key.id == record.clientOrderID {
                    s.strayFills.remove(key)
                    _ = s.claim(record: position, cumulative: key.cumulative)
                }
            }
            return true
        }
        if !ok { throw OrderStoreError(operation: "insert", message: "client order id \(record.clientOrderID) exists") }
    }

    public func update(_ record: OrderRecord) throws(OrderStoreError) {
        let ok = state.withLock { s -> Bool in
            guard let i = s.index[record.clientOrderID] else { return false }
            s.records[i] = record
            return true
        }
        if !ok { throw OrderStoreError(operation: "update", message: "unknown client order id \(record.clientOrderID)") }
    }

    public func record(fill: ExecutionFill, order: OrderRecord) throws(OrderStoreError) -> Bool {
        state.withLock { s in
            let cumulative = fill.cumulativeQuantity.raw
            if let i = s.index[fill.clientOrderID] {
                guard s.claim(record: i, cumulative: cumulative) else { return false }
                s.fills.append(fill)
                if order.clientOrderID == fill.clientOrderID {
                    s.records[i] = order
                } else if let j = s.index[order.clientOrderID] {
                    s.records[j] = order
                }
            } else {
                guard s.strayFills.insert(FillKey(id: fill.clientOrderID, cumulative: cumulative)).inserted else { return false }
                s.fills.append(fill)
                if let j = s.index[order.clientOrderID] { s.records[j] = order }
            }
            return true
        }
    }

    public func order(_ clientOrderID: String) throws(OrderStoreError) -> OrderRecord? {
        state.withLock { s in s.index[clientOrderID].map { s.records[$0] } }
    }

    public func openOrders() throws(OrderStoreError) -> [OrderRecord] {
        state.withLock { s in s.records.filter { !$0.state.isTerminal } }
    }

    public func allOrders() throws(OrderStoreError) -> [OrderRecord] {
        state.withLock { $0.records }
    }

    public func fills(clientOrderID: String?) throws(OrderStoreError) -> [ExecutionFill] {
        state.withLock { s in clientOrderID.map { id in s.fills.filter { $0.clientOrderID == id } } ?? s.fills }
    }

    public func recordUnknownReport(_ order: VenueOrder, receivedAt: Timestamp) throws(OrderStoreError) {
        state.withLock { $0.unknown.append(order) }
    }

    public func unknownReports() throws(OrderStoreError) -> [VenueOrder] { state.withLock { $0.unknown } }
}
