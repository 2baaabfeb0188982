import CrocCore
import CrocEngine
import Foundation
import GRDB

/// The durable order store: SQLite through GRDB, in WAL mode.
///
/// Tables `orders` (one row per client order id) and `fills` (primary key
/// client order id + cumulative quantity, so a report booked twice is booked
/// once). Amounts are stored as the ledger's fixed-point integers, exact.
///
/// Durability: `.processCrash` (WAL, `synchronous=NORMAL`, the default)
/// survives the process dying at any point; `.powerLoss` (`synchronous=FULL`)
/// also survives the machine losing power, at an fsync per write (live
/// trading uses it). Connections wait up to `busyTimeout` for a lock instead
/// of failing at once, and `exclusive: true` takes an advisory lock on
/// `<path>.lock` for the store's lifetime, so a second process cannot trade
/// from the same store (`OrderStoreError` naming the file).
public final class SQLiteOrderStore: OrderStore {
    /// How hard each commit is pushed to disk.
    public enum Durability: String, Sendable, CaseIterable {
        /// Survives a crash of the process (WAL, `synchronous=NORMAL`).
        case processCrash
        /// Survives power loss too (`synchronous=FULL`).
        case powerLoss
    }

    /// The database file.
    public let path: String
    private let pool: DatabasePool
    private let lock: StoreLock?

    /// Opens (creating if needed) the store at `path`.
    /// - Parameters:
    ///   - durability: How hard commits are pushed to disk.
    ///   - busyTimeout: How long a connection waits for another's lock.
    ///   - exclusive: Hold `<path>.lock` so no other process opens the store exclusively.
    /// - Throws: `OrderStoreError` when the file cannot be opened or migrated, or is locked by another process.
    public init(
        path: String,
        durability: Durability = .processCrash,
        busyTimeout: Duration = .seconds(5),
        exclusive: Bool = false
    ) throws(OrderStoreError) {
        self.path = path
        lock = exclusive ? try StoreLock(path: path + ".lock") : nil
        var config = Configuration()
        let sync = durability == .powerLoss ? "FULL" : "NORMAL"
        config.busyMode = .timeout(Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) * 1e-18)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(sync)") }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS orders (
                            client_order_id TEXT PRIMARY KEY NOT NULL,
                            symbol TEXT NOT NULL,
                            side TEXT NOT NULL,
                            limit_price INTEGER,
                            quantity INTEGER NOT NULL,
                            time_in_force TEXT NOT NULL,
                            state TEXT NOT NULL,
                            venue_order_id TEXT,
                            filled_quantity INTEGER NOT NULL,
                            filled_quote INTEGER NOT NULL,
                            commission INTEGER NOT NULL,
                            attempts INTEGER NOT NULL,
                            created_at INTEGER NOT NULL,
                            updated_at INTEGER NOT NULL,
                            last_error TEXT,
                            tag TEXT
                        );
                        CREATE INDEX IF NOT EXISTS orders_state ON orders(state);
                        CREATE TABLE IF NOT EXISTS fills (
                            client_order_id TEXT NOT NULL,
                            cumulative_quantity INTEGER NOT NULL,
                            symbol TEXT NOT NULL,
                            side TEXT NOT NULL,
                            quantity INTEGER NOT NULL,
                            price INTEGER NOT NULL,
                            commission INTEGER NOT NULL,
                            time INTEGER NOT NULL,
                            PRIMARY KEY (client_order_id, cumulative_quantity)
                        );
                        CREATE TABLE IF NOT EXISTS unknown_reports (
                            client_order_id TEXT NOT NULL,
                            venue_order_id TEXT,
                            symbol TEXT NOT NULL,
                            side TEXT NOT NULL,
                            status TEXT NOT NULL,
                            quantity INTEGER NOT NULL,
                            executed_quantity INTEGER NOT NULL,
                            cumulative_quote INTEGER NOT NULL,
                            update_time INTEGER NOT NULL,
                            received_at INTEGER NOT NULL
                        );
                        """
                )
                // Columns added after the first release: stores written by older builds gain them (zero).
                for (table, column) in [("orders", "base_commission"), ("fills", "base_commission")] {
                    let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String }
                    if !columns.contains(column) {
                        try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN \(column) INTEGER NOT NULL DEFAULT 0")
                    }
                }
            }
        } catch {
            throw OrderStoreError(operation: "open \(path)", message: "\(error)")
        }
    }

    private static let orderColumns =
        "client_order_id, symbol, side, limit_price, quantity, time_in_force, state, venue_order_id, filled_quantity, filled_quote, commission, attempts, created_at, updated_at, last_error, tag, base_commission"

    private static func arguments(_ r: OrderRecord) -> StatementArguments {
        [
            r.clientOrderID, r.request.symbol, r.request.side.rawValue, r.request.kind.limitPrice?.raw, r.request.quantity.raw,
            r.request.timeInForce.rawValue, r.state.rawValue, r.venueOrderID, r.filledQuantity.raw, r.filledQuote.raw, r.commission.raw,
            r.attempts, r.createdAt.nanoseconds, r.updatedAt.nanoseconds, r.lastError, r.tag, r.baseCommission.raw,
        ]
    }

    private static func decode(_ row: Row) throws(OrderStoreError) -> OrderRecord {
        let id: String = row["client_order_id"]
        guard let side = OrderSide(rawValue: row["side"]), let tif = TimeInForce(rawValue: row["time_in_force"]),
            let state = OrderState(rawValue: row["state"])
        else { throw OrderStoreError(operation: "read", message: "order \(id): unreadable side/time_in_force/state") }
        let limit: Int64? = row["limit_price"]
        let request = OrderRequest(
            clientOrderID: id,
            symbol: row["symbol"],
            side: side,
            kind: limit.map { .limit(Price(raw: $0)) } ?? .market,
            quantity: Quantity(raw: row["quantity"]),
            timeInForce: tif
        )
        var r = OrderRecord(request: request, createdAt: Timestamp(nanoseconds: row["created_at"]), tag: row["tag"])
        r.state = state
        r.venueOrderID = row["venue_order_id"]
        r.filledQuantity = Quantity(raw: row["filled_quantity"])
        r.filledQuote = Money(raw: row["filled_quote"])
        r.commission = Money(raw: row["commission"])
        r.attempts = row["attempts"]
        r.updatedAt = Timestamp(nanoseconds: row["updated_at"])
        r.lastError = row["last_error"]
        r.baseCommission = Quantity(raw: row["base_commission"] ?? 0)
        return r
    }

    /// Checkpoints the write-ahead log into the database file (on shutdown).
    public func flush() throws(OrderStoreError) {
        do {
            try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        } catch {
            throw OrderStoreError(operation: "checkpoint \(path)", message: "\(error)")
        }
    }

    public func insert(_ record: OrderRecord) throws(OrderStoreError) {
        do {
            try pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO orders (\(Self.orderColumns)) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    arguments: Self.arguments(record)
                )
            }
        } catch {
            throw OrderStoreError(operation: "insert \(record.clientOrderID)", message: "\(error)")
        }
    }

    private static func update(_ db: Database, _ r: OrderRecord) throws {
        try db.execute(
            sql: """
                UPDATE orders SET state = ?, venue_order_id = ?, filled_quantity = ?, filled_quote = ?, commission = ?,
                attempts = ?, updated_at = ?, last_error = ?, base_commission = ? WHERE client_order_id = ?
                """,
            arguments: [
                r.state.rawValue, r.venueOrderID, r.filledQuantity.raw, r.filledQuote.raw, r.commission.raw, r.attempts,
                r.updatedAt.nanoseconds, r.lastError, r.baseCommission.raw, r.clientOrderID,
            ]
        )
        if db.changesCount == 0 { throw OrderStoreError(operation: "update", message: "unknown client order id \(r.clientOrderID)") }
    }

    public func update(_ record: OrderRecord) throws(OrderStoreError) {
        do {
            try pool.write { db in try Self.update(db, record) }
        } catch let e as OrderStoreError {
            throw e
        } catch {
            throw OrderStoreError(operation: "update \(record.clientOrderID)", message: "\(error)")
        }
    }

    public func record(fill: ExecutionFill, order: OrderRecord) throws(OrderStoreError) -> Bool {
        do {
            return try pool.write { db -> Bool in
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO fills (client_order_id, cumulative_quantity, symbol, side, quantity, price, commission, time, base_commission)
                        VALUES (?,?,?,?,?,?,?,?,?)
                        """,
                    arguments: [
                        fill.clientOrderID, fill.cumulativeQuantity.raw, fill.symbol, fill.side.rawValue, fill.quantity.raw, fill.price.raw,
                        fill.commission.raw, fill.time.nanoseconds, fill.baseCommission.raw,
                    ]
                )
                guard db.changesCount == 1 else { return false }
                try Self.update(db, order)
                return true
            }
        } catch let e as OrderStoreError {
            throw e
        } catch {
            throw OrderStoreError(operation: "record fill \(fill.clientOrderID)", message: "\(error)")
        }
    }

    private func readOrders(_ sql: String, _ args: StatementArguments = []) throws(OrderStoreError) -> [OrderRecord] {
        let rows: [Row]
        do {
            rows = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: args) }
        } catch {
            throw OrderStoreError(operation: "read orders", message: "\(error)")
        }
        var out: [OrderRecord] = []
        out.reserveCapacity(rows.count)
        for row in rows { out.append(try Self.decode(row)) }
        return out
    }

    public func order(_ clientOrderID: String) throws(OrderStoreError) -> OrderRecord? {
        try readOrders("SELECT \(Self.orderColumns) FROM orders WHERE client_order_id = ?", [clientOrderID]).first
    }

    public func openOrders() throws(OrderStoreError) -> [OrderRecord] {
        let terminal = OrderState.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(separator: ",")
        return try readOrders("SELECT \(Self.orderColumns) FROM orders WHERE state NOT IN (\(terminal)) ORDER BY rowid")
    }

    public func allOrders() throws(OrderStoreError) -> [OrderRecord] {
        try readOrders("SELECT \(Self.orderColumns) FROM orders ORDER BY rowid")
    }

    public func fills(clientOrderID: String?) throws(OrderStoreError) -> [ExecutionFill] {
        let rows: [Row]
        do {
            rows = try pool.read { db in
                if let id = clientOrderID {
                    return try Row.fetchAll(db, sql: "SELECT *, rowid FROM fills WHERE client_order_id = ? ORDER BY rowid", arguments: [id])
                }
                return try Row.fetchAll(db, sql: "SELECT *, rowid FROM fills ORDER BY rowid")
            }
        } catch {
            throw OrderStoreError(operation: "read fills", message: "\(error)")
        }
        var out: [ExecutionFill] = []
        for row in rows {
            guard let side = OrderSide(rawValue: row["side"]) else {
                throw OrderStoreError(operation: "read fills", message: "unreadable side in fill of \(row["client_order_id"] as String)")
            }
            var fill = ExecutionFill(
                clientOrderID: row["client_order_id"],
                symbol: row["symbol"],
                side: side,
                quantity: Quantity(raw: row["quantity"]),
                price: Price(raw: row["price"]),
                commission: Money(raw: row["commission"]),
                cumulativeQuantity: Quantity(raw: row["cumulative_quantity"]),
                time: Timestamp(nanoseconds: row["time"])
            )
            fill.baseCommission = Quantity(raw: row["base_commission"] ?? 0)
            out.append(fill)
        }
        return out
    }

    public func recordUnknownReport(_ order: VenueOrder, receivedAt: Timestamp) throws(OrderStoreError) {
        do {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO unknown_reports (client_order_id, venue_order_id, symbol, side, status, quantity, executed_quantity,
                            cumulative_quote, update_time, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)
                        """,
                    arguments: [
                        order.clientOrderID, order.venueOrderID, order.symbol, order.side.rawValue, order.status.rawValue, order.quantity.raw,
                        order.executedQuantity.raw, order.cumulativeQuote.raw, order.updateTime.nanoseconds, receivedAt.nanoseconds,
                    ]
                )
            }
        } catch {
            throw OrderStoreError(operation: "record unknown report \(order.clientOrderID)", message: "\(error)")
        }
    }

    public func unknownReports() throws(OrderStoreError) -> [VenueOrder] {
        let rows: [Row]
        do {
            rows = try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM unknown_reports ORDER BY rowid") }
        } catch {
            throw OrderStoreError(operation: "read unknown reports", message: "\(error)")
        }
        var out: [VenueOrder] = []
        for row in rows {
            guard let side = OrderSide(rawValue: row["side"]), let status = VenueOrderStatus(rawValue: row["status"]) else {
                throw OrderStoreError(operation: "read unknown reports", message: "unreadable side or status of \(row["client_order_id"] as String)")
            }
            out.append(
                VenueOrder(
                    clientOrderID: row["client_order_id"],
                    venueOrderID: row["venue_order_id"],
                    symbol: row["symbol"],
                    side: side,
                    status: status,
                    quantity: Quantity(raw: row["quantity"]),
                    executedQuantity: Quantity(raw: row["executed_quantity"]),
                    cumulativeQuote: Money(raw: row["cumulative_quote"]),
                    updateTime: Timestamp(nanoseconds: row["update_time"])
                )
            )
        }
        return out
    }
}

/// An advisory lock on a file (`flock`), held while the store is open: two
/// processes trading from one store would send each other's orders twice.
final class StoreLock: Sendable {
    private let fd: Int32

    init(path: String) throws(OrderStoreError) {
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw OrderStoreError(operation: "lock \(path)", message: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw OrderStoreError(
                operation: "lock \(path)",
                message: "another process holds this order store; two processes must never trade from one store"
            )
        }
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

extension SQLiteOrderStore {
    /// The database's journal mode (`wal` for this store).
    public func pragmaJournalMode() throws(OrderStoreError) -> String {
        do {
            return try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
        } catch {
            throw OrderStoreError(operation: "read journal mode", message: "\(error)")
        }
    }
}
