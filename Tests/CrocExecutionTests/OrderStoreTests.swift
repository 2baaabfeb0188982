import CrocCore
import CrocEngine
import CrocTestSupport
import Foundation
import Testing

@testable import CrocExecution

/// The in-memory store keeps the durable store's contract: an order id once, a fill
/// (order, cumulative quantity) once, whatever the order of the calls.
@Suite("Order stores agree on what is stored once")
struct OrderStoreParityTests {
    func record(_ id: String) -> OrderRecord {
        OrderRecord(
            request: OrderRequest(clientOrderID: id, symbol: "BTCUSDT", side: .buy, kind: .market, quantity: q("3")),
            createdAt: Timestamp(nanoseconds: 1)
        )
    }

    func fill(_ id: String, cumulative: String) -> ExecutionFill {
        ExecutionFill(
            clientOrderID: id,
            symbol: "BTCUSDT",
            side: .buy,
            quantity: q("1"),
            price: q("100"),
            commission: .zero,
            cumulativeQuantity: q(cumulative),
            time: Timestamp(nanoseconds: 2)
        )
    }

    /// The same calls on both stores, with what each answered.
    func script(_ store: any OrderStore) throws -> [String] {
        var out: [String] = []
        try store.insert(record("a"))
        do {
            try store.insert(record("a"))
            out.append("dup insert accepted")
        } catch {
            out.append("dup insert refused")
        }
        var a = record("a")
        for c in ["1", "1", "2", "1", "3", "2"] {
            a.filledQuantity = q(c)
            out.append("a@\(c): \(try store.record(fill: fill("a", cumulative: c), order: a))")
        }
        try store.insert(record("b"))
        out.append("b@1: \(try store.record(fill: fill("b", cumulative: "1"), order: record("b")))")
        out.append("b@1 again: \(try store.record(fill: fill("b", cumulative: "1"), order: record("b")))")
        out.append("fills: \(try store.fills(clientOrderID: nil).count), a: \(try store.fills(clientOrderID: "a").count)")
        out.append("a filled: \(try store.order("a")?.filledQuantity.description ?? "-")")
        return out
    }

    @Test func inMemoryAndSQLiteAnswerAlike() throws {
        let path = testTemporaryDirectory() + "crocbot-store-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let memory = try script(InMemoryOrderStore())
        let sqlite = try script(SQLiteOrderStore(path: path))
        #expect(memory == sqlite)
        #expect(
            memory == [
                "dup insert refused", "a@1: true", "a@1: false", "a@2: true", "a@1: false", "a@3: true", "a@2: false",
                "b@1: true", "b@1 again: false", "fills: 4, a: 3", "a filled: \(q("3"))",
            ]
        )
    }

    @Test func theInMemoryStoreKeepsAFillOfAnOrderItDoesNotHoldOnceEvenAfterTheOrderArrives() throws {
        // (The SQLite store refuses such a fill: its order row must exist.)
        let store = InMemoryOrderStore()
        #expect(try store.record(fill: fill("b", cumulative: "1"), order: record("b")))
        #expect(try !store.record(fill: fill("b", cumulative: "1"), order: record("b")))
        try store.insert(record("b"))
        #expect(try !store.record(fill: fill("b", cumulative: "1"), order: record("b")))
        #expect(try store.record(fill: fill("b", cumulative: "2"), order: record("b")))
        #expect(try store.fills(clientOrderID: "b").map(\.cumulativeQuantity) == [q("1"), q("2")])
    }
}
