import CrocCore
import CrocEngine
import CrocExecution
import Testing

@testable import CrocRuntime

@Suite("Order bridge: engine orders to executor intents, executor events to engine fills")
struct OrderBridgeTests {
    private func order(_ id: UInt64, _ side: OrderSide = .buy, type: OrderType = .market, size: OrderSize) -> Order {
        Order(
            id: OrderID(id),
            clientOrderID: "e\(id)",
            symbol: "BTCUSDT",
            side: side,
            type: type,
            size: size,
            createdAt: Timestamp(nanoseconds: 0),
            createdBar: 0,
            tag: "t"
        )
    }
    private func fill(_ client: String, _ quantity: String, cumulative: String, price: Int = 100) -> ExecutorEvent {
        .filled(
            ExecutionFill(
                clientOrderID: client,
                symbol: "BTCUSDT",
                side: .buy,
                quantity: FixedPoint(quantity)!,
                price: FixedPoint(price),
                commission: FixedPoint("0.1")!,
                cumulativeQuantity: FixedPoint(cumulative)!,
                time: Timestamp(nanoseconds: 7)
            ),
            orderComplete: false
        )
    }

    @Test("a cash-fraction order is sized at the last close with costs, never above the cash; what cannot be sized is refused, stops are unsupported")
    func sizing() {
        let fees = FeeModel(commissionRate: FixedPoint("0.001")!, slippageBps: FixedPoint(10))
        // 1,000 cash at 100 slipped 10 bps to 100.1 plus 0.1 % commission: 100.2001 a unit, 9.98 in steps of 0.01.
        let sized = OrderBridge.sizing(
            for: order(1, size: .cashFraction(.one)),
            lastClose: FixedPoint(100),
            cash: FixedPoint(1000),
            quantityStep: FixedPoint("0.01")!,
            fees: fees
        )
        guard case .intent(let intent) = sized else {
            Issue.record("expected an intent, got \(sized)")
            return
        }
        #expect(intent.quantity == FixedPoint("9.98")!)
        #expect(intent.quantity * FixedPoint("100.1")! * FixedPoint("1.001")! <= FixedPoint(1000))
        #expect(intent.cashFraction == .one && intent.kind == .market && intent.tag == "t")
        // A quantity order passes as it is; a limit keeps its price.
        #expect(
            OrderBridge.sizing(
                for: order(2, type: .limit(FixedPoint(99)), size: .quantity(FixedPoint(3))),
                lastClose: nil,
                cash: .zero,
                quantityStep: .one,
                fees: fees
            )
                == .intent(OrderIntent(symbol: "BTCUSDT", side: .buy, quantity: FixedPoint(3), kind: .limit(FixedPoint(99)), tag: "t"))
        )
        #expect(
            OrderBridge.sizing(for: order(3, size: .cashFraction(.one)), lastClose: nil, cash: FixedPoint(1000), quantityStep: .one, fees: fees)
                == .refused("BTCUSDT has no price yet: a cash-fraction order cannot be sized")
        )
        guard
            case .refused(let why) = OrderBridge.sizing(
                for: order(4, size: .cashFraction(.one)),
                lastClose: FixedPoint(100),
                cash: FixedPoint(50),
                quantityStep: .one,
                fees: fees
            )
        else {
            Issue.record("expected a refusal")
            return
        }
        #expect(why.contains("affords less than one step"))
        #expect(
            OrderBridge.sizing(
                for: order(5, type: .stop(FixedPoint(90)), size: .quantity(.one)),
                lastClose: nil,
                cash: .zero,
                quantityStep: .one,
                fees: fees
            )
                == .unsupported("stop orders are not supported by the live executor")
        )
    }

    @Test("fills book from cumulative quantities: partials, then duplicates and stale reports book nothing; unknown and ended orders")
    func booking() {
        var bridge = OrderBridge()
        bridge.accepted(OrderID(7), clientOrderID: "cb-7")
        #expect(bridge.clientOrderID(of: OrderID(7)) == "cb-7" && bridge.working == 1)
        guard case .fill(let first, let complete, let client) = bridge.book(fill("cb-7", "2", cumulative: "2"), barIndex: 3) else {
            Issue.record("expected a fill")
            return
        }
        #expect(first.orderID == OrderID(7) && first.quantity == FixedPoint(2) && first.barIndex == 3 && !complete && client == "cb-7")
        #expect(bridge.book(fill("cb-7", "2", cumulative: "2"), barIndex: 4) == .ignored)  // the same report again
        #expect(bridge.book(fill("cb-7", "1", cumulative: "1"), barIndex: 4) == .ignored)  // a stale one
        guard case .fill(let second, _, _) = bridge.book(fill("cb-7", "3", cumulative: "5"), barIndex: 4) else {
            Issue.record("expected the second part")
            return
        }
        #expect(second.quantity == FixedPoint(3))
        #expect(bridge.book(fill("cb-other", "1", cumulative: "1"), barIndex: 4) == .ignored)  // not handed over here
        #expect(bridge.book(.ended(clientOrderID: "cb-7", state: .canceled, reason: nil), barIndex: 5) == .ended(OrderID(7), rejection: nil))
        #expect(bridge.working == 0 && bridge.clientOrderID(of: OrderID(7)) == nil)
        #expect(bridge.book(fill("cb-7", "1", cumulative: "6"), barIndex: 6) == .ignored)  // after its end
        bridge.accepted(OrderID(8), clientOrderID: "cb-8")
        #expect(
            bridge.book(.ended(clientOrderID: "cb-8", state: .rejected, reason: "-2010 insufficient balance"), barIndex: 6)
                == .ended(OrderID(8), rejection: "-2010 insufficient balance")
        )
        bridge.accepted(OrderID(9), clientOrderID: "cb-9")
        #expect(bridge.book(.ended(clientOrderID: "cb-9", state: .dropped, reason: nil), barIndex: 6) == .ended(OrderID(9), rejection: "dropped"))
    }
}
