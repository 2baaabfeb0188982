import CrocCore
import CrocData
import Foundation
import Testing

/// The rebalance sizing rules (`Rebalance`) against vectorbt 1.2.0 and bt 1.4.1 on the shipped
/// SP500_10_CLOSE.csv: fixtures made by `scripts/vectorbt_portfolio_reference.py` (target weights
/// on rebalance rows, orders filled at the close, one account). The loop below books each order in
/// the exact ledger (`Portfolio`) as the engine does; equity must match at every close.
@Suite("Rebalance sizing matches vectorbt and bt")
struct RebalanceReferenceTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/portfolio").path
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func rows(_ name: String) throws -> [[String]] {
        let text = try String(contentsOfFile: "\(fixtures)/\(name)", encoding: .utf8)
        return text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    struct Run {
        var equity: [Double] = []
        var orders: [(date: String, symbol: String, side: OrderSide, size: Double, fee: Double)] = []
    }

    /// Replays the weights of `case` through `Rebalance` and the ledger, filling at each close.
    static func replay(_ name: String, commission: String) throws -> Run {
        let u = try UniverseLoader.load(path: "\(repo)/Examples/data/SP500_10_CLOSE.csv")
        let weightRows = try rows("\(name).weights.csv")
        #expect(Array(weightRows[0].dropFirst()) == u.symbols)
        var weights: [String: [Double]] = [:]
        for r in weightRows.dropFirst() { weights[r[0]] = r.dropFirst().map { Double($0)! } }
        let fees = FeeModel(commissionRate: FixedPoint(commission)!)
        let step = FixedPoint(raw: 1)  // fractional shares, as vectorbt trades them
        var portfolio = Portfolio(cash: FixedPoint(100_000))
        var run = Run()
        var nextID: UInt64 = 1
        for t in u.timestamps.indices {
            let date = Timestamp(nanoseconds: u.timestamps[t]).description
            var prices: [String: Price] = [:]
            for (s, m) in u.members.enumerated() {
                let p = FixedPoint(rounding: m.close[u.barIndex(symbol: s, time: t)!])!
                prices[m.symbol] = p
                portfolio.mark(m.symbol, at: p)
            }
            if let w = weights[date] {
                let targets = zip(u.symbols, w).map { Rebalance.Target(symbol: $0, weight: $1) }
                let ordered = Rebalance.sequence(targets, equity: portfolio.equity) { portfolio.position($0).marketValue }
                for target in ordered {
                    let price = prices[target.symbol]!
                    let held = portfolio.position(target.symbol).quantity
                    // Sized now: from the equity after the earlier orders of this rebalance paid their fees.
                    guard var q = Rebalance.delta(weight: target.weight, equity: portfolio.equity, price: price, position: held, step: step),
                        !q.isZero
                    else { continue }
                    let side: OrderSide = q.raw > 0 ? .buy : .sell
                    if side == .buy { q = Rebalance.affordable(buy: q, price: price, cash: portfolio.cash, fees: fees, step: step) }
                    q = q.magnitude
                    guard !q.isZero else { continue }
                    let fee = fees.commission(notional: q * price)
                    portfolio.apply(
                        Fill(
                            orderID: OrderID(nextID),
                            symbol: target.symbol,
                            side: side,
                            quantity: q,
                            price: price,
                            commission: fee,
                            timestamp: Timestamp(nanoseconds: u.timestamps[t]),
                            barIndex: t
                        )
                    )
                    nextID += 1
                    #expect(portfolio.cash.raw >= 0, "cash never goes negative (\(date) \(target.symbol))")
                    run.orders.append((date, target.symbol, side, q.doubleValue, fee.doubleValue))
                }
            }
            run.equity.append(portfolio.equity.doubleValue)
        }
        return run
    }

    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-12) }

    @Test(arguments: [("equal_weight_21", "0.001"), ("momentum_top3_126_21", "0.001"), ("momentum_top3_126_21_nofee", "0")])
    func equityAndOrdersMatchVectorbt(name: String, commission: String) throws {
        let run = try Self.replay(name, commission: commission)
        let reference = try Self.rows("\(name).equity.csv").dropFirst().map { Double($0[1])! }
        #expect(run.equity.count == reference.count)
        let worst = zip(run.equity, reference).map { Self.relative($0, $1) }.max() ?? .infinity
        #expect(worst <= 1e-9, "largest relative difference of the equity curve: \(worst)")
        #expect(Self.relative(run.equity.last!, reference.last!) <= 1e-9)
        // The same orders, in the same sequence (sells first), of the same sizes and fees.
        let orders = try Self.rows("\(name).orders.csv").dropFirst()
        #expect(run.orders.count == orders.count)
        for (mine, theirs) in zip(run.orders, orders) {
            #expect(mine.date == theirs[0] && mine.symbol == theirs[1] && mine.side == (theirs[2] == "Buy" ? .buy : .sell))
            // Sizes agree to the ledger's resolution (1e-8 of a share) on top of 1e-7 relative.
            let size = Double(theirs[3])!
            #expect(abs(mine.size - size) <= 1e-7 * abs(size) + 1e-8, "\(theirs) vs \(mine.size)")
            #expect(abs(mine.fee - Double(theirs[5])!) <= 1e-6 * max(1, Double(theirs[5])!), "\(theirs)")
        }
    }

    @Test func btAgreesWithVectorbtAtZeroFees() throws {
        let summary = try Self.rows("summary.csv")
        let row = try #require(summary.first { $0[0] == "momentum_top3_126_21_nofee" })
        #expect(Self.relative(Double(row[4])!, Double(row[2])!) <= 1e-12)
    }

    @Test func sellsRunFirstAndABuyIsCutToTheCashLeft() {
        // 100 cash, 10 units of A at 10 (equity 200): move everything into B.
        var p = Portfolio(cash: FixedPoint(100))
        p.apply(
            Fill(
                orderID: OrderID(1),
                symbol: "A",
                side: .buy,
                quantity: FixedPoint(10),
                price: FixedPoint(10),
                commission: .zero,
                timestamp: Timestamp(nanoseconds: 0),
                barIndex: 0
            )
        )
        #expect(p.cash == FixedPoint(0))
        p = Portfolio(
            cash: FixedPoint(100),
            holding: [
                {
                    var x = Position(symbol: "A")
                    x.quantity = FixedPoint(10)
                    x.averagePrice = FixedPoint(10)
                    return x
                }()
            ]
        )
        let targets = [Rebalance.Target(symbol: "B", weight: 1), Rebalance.Target(symbol: "A", weight: 0)]
        let ordered = Rebalance.sequence(targets, equity: p.equity) { p.position($0).marketValue }
        #expect(ordered.map(\.symbol) == ["A", "B"])  // the sell of A funds the buy of B
        #expect(Rebalance.delta(weight: 0, equity: p.equity, price: FixedPoint(10), position: FixedPoint(10), step: FixedPoint(1)) == FixedPoint(-10))
        let fees = FeeModel(commissionRate: FixedPoint("0.01")!)
        // After the sell (fee 1): 199 cash; B at 1 wants 199 units, which with its 1 % fee needs 200.99.
        let want = Rebalance.delta(weight: 1, equity: FixedPoint(199), price: FixedPoint(1), position: .zero, step: FixedPoint("0.01")!)
        #expect(want == FixedPoint(199))
        let got = Rebalance.affordable(buy: want!, price: FixedPoint(1), cash: FixedPoint(199), fees: fees, step: FixedPoint("0.01")!)
        #expect(got == FixedPoint("197.02")!)  // 197.02 + 1.9702 = 198.9902 <= 199; 197.03 would need 199.0003
        #expect(
            Rebalance.affordable(buy: FixedPoint(5), price: FixedPoint(1), cash: FixedPoint(199), fees: fees, step: FixedPoint(1)) == FixedPoint(5)
        )
        #expect(Rebalance.delta(weight: 0.5, equity: FixedPoint(100), price: .zero, position: .zero, step: FixedPoint(1)) == nil)
        // Rounded toward zero to the step: never more than the target.
        #expect(Rebalance.delta(weight: 0.5, equity: FixedPoint(100), price: FixedPoint(3), position: .zero, step: FixedPoint(1)) == FixedPoint(16))
        #expect(
            Rebalance.delta(weight: 0.5, equity: FixedPoint(100), price: FixedPoint(3), position: FixedPoint(20), step: FixedPoint(1))
                == FixedPoint(-3)
        )
    }

    @Test func badTargetsAreRefusedWithTheSymbolAndTheFigures() {
        let t = { (s: String, w: Double) in Rebalance.Target(symbol: s, weight: w) }
        #expect(throws: Never.self) { try Rebalance.validate([t("A", 1.0 / 3), t("B", 1.0 / 3), t("C", 1.0 / 3)], allowShort: false) }
        #expect(throws: RebalanceError.negativeWeight(symbol: "B", weight: -0.2)) {
            try Rebalance.validate([t("A", 0.5), t("B", -0.2)], allowShort: false)
        }
        #expect(throws: Never.self) { try Rebalance.validate([t("A", 0.5), t("B", -0.2)], allowShort: true) }
        #expect(throws: RebalanceError.overweight(total: 1.2, limit: 1)) { try Rebalance.validate([t("A", 0.7), t("B", 0.5)], allowShort: false) }
        #expect(throws: Never.self) { try Rebalance.validate([t("A", 0.7), t("B", 0.5)], allowShort: false, maxGrossWeight: 2) }
        #expect(throws: RebalanceError.duplicateSymbol("A")) { try Rebalance.validate([t("A", 0.2), t("A", 0.2)], allowShort: false) }
        let nan = #expect(throws: RebalanceError.self) { try Rebalance.validate([t("A", .nan)], allowShort: false) }
        #expect(nan?.description.contains("A") == true)
    }
}
