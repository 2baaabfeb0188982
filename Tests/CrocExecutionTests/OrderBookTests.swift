import CrocCore
import CrocEngine
import Logging
import Testing

@testable import CrocExecution

/// The executor's bookkeeping as a value type: every fault is a synchronous
/// test with an injected clock and no sleeps.
@Suite("OrderBook state machine")
struct OrderBookTests {
    let t0 = Timestamp(nanoseconds: 1_000)

    func open(_ id: String, _ side: OrderSide = .buy, _ n: String = "2", limit: String? = nil) -> OrderRecord {
        var r = OrderRecord(
            request: OrderRequest(
                clientOrderID: id,
                symbol: "BTCUSDT",
                side: side,
                kind: limit.map { .limit(FixedPoint($0)!) } ?? .market,
                quantity: q(n)
            ),
            createdAt: Timestamp(nanoseconds: 1)
        )
        r.state = .submitted
        return r
    }

    func snap(_ id: String, _ status: VenueOrderStatus, executed: String, quote: String, side: OrderSide = .buy, n: String = "2") -> VenueOrder {
        VenueOrder(
            clientOrderID: id,
            venueOrderID: "V-\(id)",
            symbol: "BTCUSDT",
            side: side,
            status: status,
            quantity: q(n),
            executedQuantity: q(executed),
            cumulativeQuote: FixedPoint(quote)!,
            updateTime: Timestamp(nanoseconds: 5)
        )
    }

    func fills(_ actions: [OrderBook.Action]) -> [ExecutionFill] {
        actions.compactMap { if case .recordFill(let f, _) = $0 { return f } else { return nil } }
    }

    @Test func duplicatedOutOfOrderAndStaleReportsBookEachFillOnce() {
        var book = OrderBook()
        book.logLevel = .critical
        book.add(open("a"))
        #expect(book.exposure("BTCUSDT") == q("2"))
        let half = snap("a", .partiallyFilled, executed: "1", quote: "100")
        let full = snap("a", .filled, executed: "2", quote: "210")
        let first = book.apply(half, now: t0)
        #expect(fills(first).map(\.quantity) == [q("1")])
        #expect(first.contains(.count(.acked)) && first.contains(.count(.partiallyFilled)))
        #expect(book["a"]?.state == .partiallyFilled)
        // The same report again: nothing.
        #expect(fills(book.apply(half, now: t0)).isEmpty)
        // A stale ack after the partial fill: counted as ignored, the state does not go back.
        #expect(book.apply(snap("a", .new, executed: "0", quote: "0"), now: t0) == [.count(.reportsIgnored)])
        #expect(book["a"]?.state == .partiallyFilled)
        // The rest: 1 more at 110 (cumulative quote 210).
        let last = book.apply(full, now: t0)
        #expect(fills(last).map(\.quantity) == [q("1")] && fills(last).first?.price == FixedPoint(110))
        #expect(last.contains(.emit(.filled(fills(last)[0], orderComplete: true))))
        #expect(book["a"] == nil)
        // The older partial fill arriving last, and the fill again: the order is no longer open, so the
        // executor passes the store's record of it (filled, 2) and nothing more is booked.
        guard case .recordFill(_, let done)? = last.first(where: { if case .recordFill = $0 { true } else { false } }) else {
            Issue.record("expected the fill to be stored")
            return
        }
        #expect(done.state == .filled)
        #expect(book.apply(half, stored: { done }, now: t0) == [.count(.reportsIgnored)])
        #expect(book.apply(full, stored: { done }, now: t0) == [.count(.reportsIgnored)])
        #expect(book.positions["BTCUSDT"] == q("2"))
        #expect(book.exposure("BTCUSDT") == q("2"))
    }

    @Test func aFillAfterACancelIsBookedAndTheOrderStaysCancelled() {
        var book = OrderBook()
        book.logLevel = .critical
        book.add(open("c", limit: "90"))
        _ = book.apply(snap("c", .new, executed: "0", quote: "0"), now: t0)
        let cancelled = book.apply(snap("c", .canceled, executed: "0", quote: "0"), now: t0)
        #expect(cancelled.contains(.count(.canceled)))
        #expect(cancelled.contains(.emit(.ended(clientOrderID: "c", state: .canceled, reason: nil))))
        #expect(book["c"] == nil && book.exposure("BTCUSDT") == .zero)
        // The venue reports 0.5 filled before the cancel took effect; the store has the cancelled record.
        var stored = open("c", limit: "90")
        stored.state = .canceled
        let late = book.apply(snap("c", .canceled, executed: "0.5", quote: "45"), stored: { stored }, now: t0)
        let f = fills(late)
        #expect(f.map(\.quantity) == [q("0.5")] && f.first?.price == FixedPoint(90))
        guard case .recordFill(_, let record)? = late.first(where: { if case .recordFill = $0 { true } else { false } }) else {
            Issue.record("expected the fill to be stored")
            return
        }
        #expect(record.state == .canceled && record.filledQuantity == q("0.5"))
        #expect(book.positions["BTCUSDT"] == q("0.5"))
        #expect(book.exposure("BTCUSDT") == q("0.5"))  // no working quantity came back to life
    }

    @Test func aFillForAnOrderThisBookNeverHadIsStoredAndAnnouncedNotBooked() {
        var book = OrderBook()
        let stranger = snap("web-1", .filled, executed: "1", quote: "100")
        let actions = book.apply(stranger, now: t0)
        #expect(actions.contains(.storeUnknown(stranger)))
        #expect(actions.contains(.emit(.unknownFill(stranger))))
        #expect(actions.contains(.count(.unknownReport)))
        #expect(
            actions.contains {
                if case .log(.error, let m, let meta) = $0 { m.contains("unknown order") && meta["client_order_id"] == "web-1" } else { false }
            }
        )
        #expect(book.positions.isEmpty)
        // A report without fills for an unknown order is only ignored.
        #expect(book.apply(snap("web-2", .new, executed: "0", quote: "0"), now: t0) == [.count(.reportsIgnored)])
    }

    @Test func commissionsAreBookedByAsset() {
        var book = OrderBook()
        book.logLevel = .critical
        book.rules["BTCUSDT"] = VenueRules(symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT")
        book.add(open("b"))
        var buy = snap("b", .filled, executed: "2", quote: "200")
        buy.commissionsByAsset = ["BTC": q("0.002"), "BNB": q("0.01")]
        let f = fills(book.apply(buy, now: t0))
        #expect(f.first?.baseCommission == q("0.002") && f.first?.commission == FixedPoint("0.2")!)
        #expect(book.positions["BTCUSDT"] == q("1.998"))
        book.add(open("s", .sell, "1.998"))
        var sell = snap("s", .filled, executed: "1.998", quote: "199.8", side: .sell, n: "1.998")
        sell.commissionsByAsset = ["USDT": FixedPoint("0.1998")!]
        let g = fills(book.apply(sell, now: t0))
        #expect(g.first?.baseCommission == .zero && g.first?.commission == FixedPoint("0.1998")!)
        #expect(book.positions["BTCUSDT"] == .zero)
    }

    @Test func impossibleTransitionsAreRefusedAndTheClockIsInjected() {
        var book = OrderBook()
        book.logLevel = .critical
        book.add(open("x"))
        let at = Timestamp(nanoseconds: 42)
        let ended = book.transition("x", to: .expired, reason: "never seen", now: at)
        guard case .persist(let r)? = ended.first(where: { if case .persist = $0 { true } else { false } }) else {
            Issue.record("expected a store write")
            return
        }
        #expect(r.updatedAt == at && r.lastError == "never seen" && r.state == .expired)
        book.add(open("y"))
        _ = book.apply(snap("y", .filled, executed: "2", quote: "200"), now: at)
        book.add(open("z"))
        #expect(book.transition("z", to: .pendingNew, now: at).contains(.count(.invalidTransition)))
        #expect(book["z"]?.state == .submitted)
    }
}
