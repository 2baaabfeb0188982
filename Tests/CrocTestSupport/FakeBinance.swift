import CrocCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import Synchronization

/// A local stand-in for Binance spot's REST API on 127.0.0.1, speaking the
/// documented request and response shapes: it checks the API key header, the
/// HMAC-SHA256 signature and the `recvWindow`, keeps an order book of its own,
/// enforces unique client order ids among open orders (as Binance does), and
/// can be told to misbehave (delay, 500 before or after processing, 429).
public final class FakeBinance: Sendable {
    public enum Fault: Sendable {
        /// Process the request, then answer only after this long (a client timeout with the order placed).
        case delayAfterProcessing(Duration)
        /// Answer 500 without processing.
        case error500BeforeProcessing
        /// Process, then answer 500 (the order exists, the client does not know).
        case error500AfterProcessing
        /// Answer 429 with `Retry-After: seconds`, without processing.
        case rateLimit(retryAfterSeconds: Int)
        /// Process, then answer 200 with a body that is not JSON (the order exists).
        case garbageAfterProcessing
        /// Answer -1021 (timestamp outside recvWindow) without processing.
        case clockSkew
    }

    public struct Order: Sendable {
        public var orderId: Int64
        public var clientOrderId: String
        public var symbol: String
        public var side: String
        public var type: String
        public var price: String
        public var origQty: FixedPoint
        public var executedQty: FixedPoint
        public var quote: FixedPoint
        public var status: String
        public var time: Int64
    }

    public struct State: Sendable {
        public var orders: [Order] = []
        public var faults: [String: [Fault]] = [:]  // by "METHOD path"
        public var slowAll: Duration = .zero
        public var requests: [String] = []
        public var usedWeight = 0
        public var fillPrice = FixedPoint(100)
        /// Fill prices of other symbols than `fillPrice`'s (by symbol).
        public var fillPrices: [String: FixedPoint] = [:]
        public var partialFills = false
        public var apiKeysSeen: Set<String> = []
        public var concurrent = 0
        public var maxConcurrent = 0
        public var rejectNextOrder: (code: Int, msg: String)?
        /// The asset fills charge their commission in (Binance: the received asset, or BNB).
        public var commissionAsset = "BNB"
        /// The asset of sells' commissions (nil: `commissionAsset`).
        public var sellCommissionAsset: String?
        /// Commission per fill, in `commissionAsset`; nil: 0.001.
        public var commissionRate: FixedPoint?
        /// Balances `GET /api/v3/account` reports (nil: the fixed sample).
        public var balances: [(asset: String, free: String, locked: String)]?
        /// Filters `exchangeInfo` reports for BTCUSDT.
        public var stepSize = "0.00001000"
        public var minQty = "0.00001000"
        public var minNotional = "5.00000000"
        public var tickSize = "0.01000000"
    }

    public let apiKey: String
    public let secret: String
    public let state = Mutex(State())
    private let portBox = Mutex<Int?>(nil)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(apiKey: String = "test-key-AAAA", secret: String = "test-secret-BBBB") {
        self.apiKey = apiKey
        self.secret = secret
    }

    public var port: Int { portBox.withLock { $0 ?? 0 } }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Orders ever created at the venue with this client order id.
    public func count(clientOrderID: String) -> Int { state.withLock { s in s.orders.filter { $0.clientOrderId == clientOrderID }.count } }
    public var orderCount: Int { state.withLock { $0.orders.count } }
    public var orders: [Order] { state.withLock { $0.orders } }
    public func inject(_ fault: Fault, on route: String, times: Int = 1) {
        state.withLock { s in s.faults[route, default: []] += Array(repeating: fault, count: times) }
    }

    /// Starts listening on an ephemeral port.
    public func start() async throws {
        let router = Router()
        router.post("/api/v3/order") { req, _ in await self.handle(req, route: "POST /api/v3/order", weight: 1) { self.newOrder($0) } }
        router.get("/api/v3/order") { req, _ in await self.handle(req, route: "GET /api/v3/order", weight: 4) { self.getOrder($0) } }
        router.delete("/api/v3/order") { req, _ in await self.handle(req, route: "DELETE /api/v3/order", weight: 1) { self.cancelOrder($0) } }
        router.get("/api/v3/openOrders") { req, _ in await self.handle(req, route: "GET /api/v3/openOrders", weight: 6) { self.openOrders($0) } }
        router.get("/api/v3/account") { req, _ in await self.handle(req, route: "GET /api/v3/account", weight: 20) { _ in self.account() } }
        router.get("/api/v3/myTrades") { req, _ in await self.handle(req, route: "GET /api/v3/myTrades", weight: 20) { self.myTrades($0) } }
        router.get("/api/v3/exchangeInfo") { _, _ in Self.json(200, self.exchangeInfo(), weight: 20) }
        router.get("/api/v3/time") { _, _ in
            Self.json(200, "{\"serverTime\":\(Self.millis() + 1500)}", weight: 1)
        }
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }
        )
        let t = Task { try await app.runService(gracefulShutdownSignals: []) }
        task.withLock { $0 = t }
        for await p in stream {
            portBox.withLock { $0 = p }
            break
        }
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    public static func millis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    public static func json(_ status: Int, _ body: String, weight: Int) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[HTTPField.Name("X-MBX-USED-WEIGHT-1M")!] = String(weight)
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    public static func error(_ status: Int, _ code: Int, _ msg: String) -> Response {
        json(status, "{\"code\":\(code),\"msg\":\"\(msg)\"}", weight: 0)
    }

    private func handle(_ req: Request, route: String, weight: Int, _ body: @Sendable ([String: String]) -> Response) async -> Response {
        state.withLock { s in
            s.concurrent += 1
            s.maxConcurrent = max(s.maxConcurrent, s.concurrent)
            s.requests.append(route)
        }
        defer { state.withLock { $0.concurrent -= 1 } }
        let (fault, slow) = state.withLock { s -> (Fault?, Duration) in
            (s.faults[route]?.isEmpty == false ? s.faults[route]!.removeFirst() : nil, s.slowAll)
        }
        if slow > .zero { try? await Task.sleep(for: slow) }
        // Authentication: key header, signature over the query without `signature`, recvWindow.
        guard let key = req.headers[HTTPField.Name("X-MBX-APIKEY")!], key == apiKey else {
            return Self.error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        }
        let query = req.uri.query ?? ""
        guard let range = query.range(of: "&signature=") else { return Self.error(400, -1102, "Mandatory parameter 'signature' was not sent.") }
        let signed = String(query[..<range.lowerBound])
        let signature = String(query[range.upperBound...])
        let expected = HMAC<SHA256>.authenticationCode(for: Data(signed.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
        guard signature == expected else { return Self.error(400, -1022, "Signature for this request is not valid.") }
        var params: [String: String] = [:]
        for pair in signed.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { params[String(kv[0])] = String(kv[1]).removingPercentEncoding }
        }
        guard let ts = params["timestamp"].flatMap(Int64.init), let window = params["recvWindow"].flatMap(Int64.init) else {
            return Self.error(400, -1102, "Mandatory parameter 'timestamp' was not sent.")
        }
        let serverNow = Self.millis() + 1500
        if ts > serverNow + 1000 || serverNow - ts > window {
            return Self.error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        }
        switch fault {
        case .error500BeforeProcessing:
            return Self.error(500, -1000, "An unknown error occurred while processing the request.")
        case .rateLimit(let after):
            var r = Self.error(429, -1003, "Too many requests.")
            r.headers[HTTPField.Name("Retry-After")!] = String(after)
            return r
        case .error500AfterProcessing:
            _ = body(params)
            return Self.error(500, -1000, "An unknown error occurred while processing the request.")
        case .garbageAfterProcessing:
            _ = body(params)
            return Self.json(200, "<html>gateway hiccup</html>", weight: 1)
        case .clockSkew:
            return Self.error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        case .delayAfterProcessing(let d):
            let response = body(params)
            try? await Task.sleep(for: d)
            return response
        case nil:
            let used = state.withLock { s in
                s.usedWeight += weight
                return s.usedWeight
            }
            var r = body(params)
            r.headers[HTTPField.Name("X-MBX-USED-WEIGHT-1M")!] = String(used)
            return r
        }
    }

    private func render(_ o: Order, fills: Bool, fee: (FixedPoint, String)? = nil) -> String {
        var s = """
            {"symbol":"\(o.symbol)","orderId":\(o.orderId),"orderListId":-1,"clientOrderId":"\(o.clientOrderId)","transactTime":\(o.time),\
            "price":"\(o.price)","origQty":"\(o.origQty.formatted(decimals: 8))","executedQty":"\(o.executedQty.formatted(decimals: 8))",\
            "cummulativeQuoteQty":"\(o.quote.formatted(decimals: 8))","status":"\(o.status)","timeInForce":"GTC","type":"\(o.type)","side":"\(o.side)",\
            "updateTime":\(o.time)
            """
        if fills {
            if o.executedQty.raw > 0 {
                let px = o.quote.divided(by: o.executedQty)!
                let (fee, asset) = fee ?? (FixedPoint("0.001")!, "BNB")
                s +=
                    ",\"fills\":[{\"price\":\"\(px)\",\"qty\":\"\(o.executedQty)\",\"commission\":\"\(fee)\",\"commissionAsset\":\"\(asset)\",\"tradeId\":\(o.orderId * 10)}]"
            } else {
                s += ",\"fills\":[]"
            }
        }
        return s + "}"
    }

    private func newOrder(_ p: [String: String]) -> Response {
        guard let symbol = p["symbol"], let side = p["side"], let type = p["type"], let q = p["quantity"].flatMap(FixedPoint.init),
            let cid = p["newClientOrderId"]
        else { return Self.error(400, -1102, "Mandatory parameter was not sent, was empty/null, or malformed.") }
        return state.withLock { s -> Response in
            if let reject = s.rejectNextOrder {
                s.rejectNextOrder = nil
                return Self.error(400, reject.code, reject.msg)
            }
            if s.orders.contains(where: { $0.clientOrderId == cid && ($0.status == "NEW" || $0.status == "PARTIALLY_FILLED") }) {
                return Self.error(400, -2010, "Duplicate order sent.")
            }
            let id = Int64(s.orders.count + 1)
            var o = Order(
                orderId: id,
                clientOrderId: cid,
                symbol: symbol,
                side: side,
                type: type,
                price: p["price"] ?? "0.00000000",
                origQty: q,
                executedQty: .zero,
                quote: .zero,
                status: "NEW",
                time: Self.millis()
            )
            if type == "MARKET" {
                o.executedQty = s.partialFills ? q.floored(toMultipleOf: FixedPoint("0.00000001")!) * FixedPoint("0.5")! : q
                o.quote = o.executedQty * (s.fillPrices[symbol] ?? s.fillPrice)
                o.status = o.executedQty == q ? "FILLED" : "PARTIALLY_FILLED"
            }
            s.orders.append(o)
            return Self.json(200, render(o, fills: true, fee: Self.commission(o, s)), weight: s.usedWeight)
        }
    }

    /// Fills the rest of a partially filled or resting order (a venue-side event).
    public func completeFill(clientOrderID: String) {
        state.withLock { s in
            guard let i = s.orders.lastIndex(where: { $0.clientOrderId == clientOrderID }) else { return }
            s.orders[i].quote =
                s.orders[i].quote + (s.orders[i].origQty - s.orders[i].executedQty) * (s.fillPrices[s.orders[i].symbol] ?? s.fillPrice)
            s.orders[i].executedQty = s.orders[i].origQty
            s.orders[i].status = "FILLED"
        }
    }

    private func find(_ p: [String: String]) -> Int? {
        state.withLock { s in s.orders.lastIndex { $0.clientOrderId == p["origClientOrderId"] } }
    }

    private func getOrder(_ p: [String: String]) -> Response {
        guard let i = find(p) else { return Self.error(400, -2013, "Order does not exist.") }
        return Self.json(200, render(state.withLock { $0.orders[i] }, fills: false), weight: 0)
    }

    private func cancelOrder(_ p: [String: String]) -> Response {
        guard let i = find(p) else { return Self.error(400, -2011, "Unknown order sent.") }
        return state.withLock { s -> Response in
            guard s.orders[i].status == "NEW" || s.orders[i].status == "PARTIALLY_FILLED" else {
                return Self.error(400, -2011, "Unknown order sent.")
            }
            s.orders[i].status = "CANCELED"
            return Self.json(200, render(s.orders[i], fills: false), weight: 0)
        }
    }

    private func openOrders(_ p: [String: String]) -> Response {
        let open = state.withLock { s in
            s.orders.filter { ($0.status == "NEW" || $0.status == "PARTIALLY_FILLED") && (p["symbol"] == nil || $0.symbol == p["symbol"]) }
        }
        return Self.json(200, "[" + open.map { render($0, fills: false) }.joined(separator: ",") + "]", weight: 0)
    }

    /// The commission of an order's fills and its asset.
    public static func commission(_ o: Order, _ s: State) -> (FixedPoint, String) {
        (
            s.commissionRate.map { o.executedQty * $0 } ?? FixedPoint("0.001")!,
            o.side == "SELL" ? s.sellCommissionAsset ?? s.commissionAsset : s.commissionAsset
        )
    }

    private func account() -> Response {
        let custom = state.withLock { $0.balances }
        guard let custom else {
            return Self.json(
                200,
                #"{"makerCommission":15,"canTrade":true,"balances":[{"asset":"BTC","free":"1.50000000","locked":"0.25000000"},{"asset":"USDT","free":"1000.00000000","locked":"0.00000000"}]}"#,
                weight: 0
            )
        }
        let list = custom.map { "{\"asset\":\"\($0.asset)\",\"free\":\"\($0.free)\",\"locked\":\"\($0.locked)\"}" }.joined(separator: ",")
        return Self.json(200, "{\"canTrade\":true,\"balances\":[\(list)]}", weight: 0)
    }

    private func myTrades(_ p: [String: String]) -> Response {
        let (matching, snapshot) = state.withLock { s in (s.orders.filter { String($0.orderId) == p["orderId"] && $0.executedQty.raw > 0 }, s) }
        let list = matching.map { o -> String in
            let (fee, asset) = Self.commission(o, snapshot)
            let px = o.quote.divided(by: o.executedQty)!
            return
                "{\"symbol\":\"\(o.symbol)\",\"id\":\(o.orderId * 10),\"orderId\":\(o.orderId),\"price\":\"\(px)\",\"qty\":\"\(o.executedQty)\",\"commission\":\"\(fee)\",\"commissionAsset\":\"\(asset)\",\"isBuyer\":\(o.side == "BUY")}"
        }
        return Self.json(200, "[" + list.joined(separator: ",") + "]", weight: 20)
    }

    private func exchangeInfo() -> String {
        let s = state.withLock { $0 }
        // BTCUSDT with the configurable filters; ETHUSDT and ETHBTC (a different quote asset) for multi-symbol runs.
        func entry(_ symbol: String, _ base: String, _ quote: String, step: String, minQty: String, tick: String) -> String {
            """
            {"symbol":"\(symbol)","status":"TRADING","baseAsset":"\(base)","quoteAsset":"\(quote)","filters":[\
            {"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"\(tick)"},\
            {"filterType":"LOT_SIZE","minQty":"\(minQty)","maxQty":"9000.00000000","stepSize":"\(step)"},\
            {"filterType":"ICEBERG_PARTS","limit":10},\
            {"filterType":"NOTIONAL","minNotional":"\(s.minNotional)","applyMinToMarket":true,"maxNotional":"9000000.00000000","avgPriceMins":5}]}
            """
        }
        let list = [
            entry("BTCUSDT", "BTC", "USDT", step: s.stepSize, minQty: s.minQty, tick: s.tickSize),
            entry("ETHUSDT", "ETH", "USDT", step: "0.00010000", minQty: "0.00010000", tick: "0.01000000"),
            entry("ETHBTC", "ETH", "BTC", step: "0.00010000", minQty: "0.00010000", tick: "0.00000100"),
        ]
        return "{\"timezone\":\"UTC\",\"symbols\":[" + list.joined(separator: ",") + "]}"
    }
}
