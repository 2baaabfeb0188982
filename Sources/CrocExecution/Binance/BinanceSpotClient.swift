import AsyncHTTPClient
import CrocCore
import CrocEngine
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Binance spot REST trading (`/api/v3`), signed with HMAC-SHA256.
///
/// - Orders: `POST /api/v3/order` (`newOrderRespType=FULL`, our client order
///   id as `newClientOrderId`), `DELETE /api/v3/order`, `GET /api/v3/order`
///   (by `origClientOrderId`), `GET /api/v3/openOrders`; balances from
///   `GET /api/v3/account`.
/// - Signing: every signed request carries `timestamp` (local clock plus the
///   offset measured with `GET /api/v3/time`) and `recvWindow`; the query is
///   signed with the secret and the key goes in `X-MBX-APIKEY`.
/// - Rate limits: the `X-MBX-USED-WEIGHT-1M` header is tracked; a request that
///   would exceed the configured weight budget fails locally with
///   `.rateLimited` (until the next minute) instead of earning a 429 or a ban.
///   429/418 answers become `.rateLimited` with their `Retry-After`.
/// - Errors: Binance codes map to `ExecutionError` (see `mapError`); the
///   executor retries only the transient ones. A -1021 (timestamp outside
///   `recvWindow`) resynchronises the clock and is retried once here.
/// - Transport: only a failure proven to happen before the request left
///   (connect refused or timed out, DNS, TLS handshake) is "not sent"; a
///   reset, a timeout, a half-closed connection or an unreadable 2xx body
///   means the venue may have the order, so the executor looks it up.
/// - Fees: `commissionAsset` of each fill is kept (`VenueOrder.commissionsByAsset`);
///   a lookup of a filled order reads its trades (`myTrades`) for them.
///
/// The base URL defaults to the spot testnet. Fills of resting orders are
/// found by `MarketOrderExecutor.reconcile()` (the user-data WebSocket stream
/// belongs to the live runtime).
public actor BinanceSpotClient: ExecutionClient, VenueRulesProvider {
    /// Settings.
    public struct Configuration: Sendable {
        /// `https://testnet.binance.vision` (testnet) or `https://api.binance.com`.
        public var baseURL: String
        /// How long after `timestamp` the venue accepts a request.
        public var recvWindow: Duration
        /// Request weight allowed per minute (Binance spot: 6000); requests beyond it are held back.
        public var weightLimitPerMinute: Int

        /// The spot testnet.
        public static let testnetURL = "https://testnet.binance.vision"
        /// Production.
        public static let productionURL = "https://api.binance.com"

        /// Creates settings.
        public init(baseURL: String = testnetURL, recvWindow: Duration = .seconds(5), weightLimitPerMinute: Int = 6000) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.recvWindow = recvWindow
            self.weightLimitPerMinute = weightLimitPerMinute
        }
    }

    /// `binance`.
    public nonisolated let venueName = "binance"
    /// Settings.
    public nonisolated let configuration: Configuration
    private let credentials: BinanceCredentials
    private let http: HTTPClient
    private let logger: Logger
    private nonisolated let broadcaster = ReportBroadcaster()
    /// Venue clock minus local clock, in milliseconds.
    public private(set) var serverTimeOffsetMillis: Int64 = 0
    /// The weight the venue says we used in the current minute.
    public private(set) var usedWeight = 0
    private var weightMinute: Int64 = 0

    /// Creates a client.
    /// - Parameters:
    ///   - credentials: The key pair (never logged).
    ///   - configuration: Base URL, receive window, weight budget.
    ///   - httpClient: The HTTP client (the shared one by default).
    ///   - logger: Requests are logged at debug level without their query strings.
    public init(
        credentials: BinanceCredentials,
        configuration: Configuration = Configuration(),
        httpClient: HTTPClient = .shared,
        logger: Logger = Logger(label: "crocbot.binance")
    ) {
        self.credentials = credentials
        self.configuration = configuration
        self.http = httpClient
        self.logger = logger
    }

    // MARK: ExecutionClient

    public func submit(_ request: OrderRequest, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        var params: [(String, String)] = [
            ("symbol", request.symbol),
            ("side", request.side == .buy ? "BUY" : "SELL"),
            ("type", request.kind.limitPrice == nil ? "MARKET" : "LIMIT"),
            ("quantity", request.quantity.description),
            ("newClientOrderId", request.clientOrderID),
            ("newOrderRespType", "FULL"),
        ]
        if let price = request.kind.limitPrice {
            params.append(("price", price.description))
            params.append(("timeInForce", request.timeInForce == .ioc ? "IOC" : "GTC"))
        }
        let data = try await send(.POST, "/api/v3/order", params, signed: true, weight: 1, operation: "submit", deadline: deadline)
        return try Self.decodeOrder(data, operation: "submit")
    }

    public func cancel(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder {
        let data = try await send(
            .DELETE,
            "/api/v3/order",
            [("symbol", symbol), ("origClientOrderId", clientOrderID)],
            signed: true,
            weight: 1,
            operation: "cancel",
            deadline: deadline
        )
        return try Self.decodeOrder(data, operation: "cancel")
    }

    public func queryOrder(symbol: String, clientOrderID: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueOrder? {
        var order: VenueOrder
        do {
            let data = try await send(
                .GET,
                "/api/v3/order",
                [("symbol", symbol), ("origClientOrderId", clientOrderID)],
                signed: true,
                weight: 4,
                operation: "query",
                deadline: deadline
            )
            order = try Self.decodeOrder(data, operation: "query")
        } catch .orderNotFound {
            return nil
        }
        // The order endpoint gives no commissions: its trades do, with their assets.
        if order.executedQuantity.raw > 0, let venueID = order.venueOrderID {
            let data = try await send(
                .GET,
                "/api/v3/myTrades",
                [("symbol", symbol), ("orderId", venueID)],
                signed: true,
                weight: 20,
                operation: "trades",
                deadline: deadline
            )
            struct Trade: Decodable {
                let commission: String
                let commissionAsset: String
            }
            guard let trades = try? JSONDecoder().decode([Trade].self, from: data) else {
                throw .invalidResponse(operation: "trades", message: String(decoding: data.prefix(300), as: UTF8.self))
            }
            var byAsset: [String: FixedPoint] = [:]
            for t in trades {
                guard let c = FixedPoint(t.commission) else {
                    throw .invalidResponse(operation: "trades", message: "order \(clientOrderID): unreadable commission '\(t.commission)'")
                }
                byAsset[t.commissionAsset, default: .zero] += c
            }
            order.commissionsByAsset = byAsset
            order.cumulativeCommission = byAsset.values.reduce(.zero, +)
        }
        return order
    }

    /// The symbol's trading rules from `GET /api/v3/exchangeInfo?symbol=`:
    /// `PRICE_FILTER` tick size, `LOT_SIZE` step, minimum and maximum,
    /// `MIN_NOTIONAL` or `NOTIONAL` minimum value, and the base and quote assets.
    public func rules(symbol: String, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> VenueRules {
        let data = try await send(
            .GET,
            "/api/v3/exchangeInfo",
            [("symbol", symbol)],
            signed: false,
            weight: 20,
            operation: "exchange info",
            deadline: deadline
        )
        return try Self.decodeRules(data, symbol: symbol)
    }

    /// Parses an `exchangeInfo` answer for `symbol`.
    static func decodeRules(_ data: Data, symbol: String) throws(ExecutionError) -> VenueRules {
        struct Info: Decodable {
            struct Symbol: Decodable {
                let symbol: String
                let baseAsset: String
                let quoteAsset: String
                let filters: [[String: JSONValue]]
            }
            let symbols: [Symbol]
        }
        let info: Info
        do {
            info = try JSONDecoder().decode(Info.self, from: data)
        } catch {
            throw .invalidResponse(operation: "exchange info", message: "\(error)")
        }
        guard let s = info.symbols.first(where: { $0.symbol == symbol }) else {
            throw .invalidRequest("symbol \(symbol) is not listed by the venue (exchangeInfo)")
        }
        var rules = VenueRules(symbol: symbol, baseAsset: s.baseAsset, quoteAsset: s.quoteAsset)
        func number(_ f: [String: JSONValue], _ key: String) throws(ExecutionError) -> FixedPoint? {
            guard let v = f[key] else { return nil }
            guard case .string(let text) = v, let x = FixedPoint(text) else {
                throw .invalidResponse(operation: "exchange info", message: "\(symbol): unreadable filter value \(key)")
            }
            return x
        }
        for f in s.filters {
            guard case .string(let type)? = f["filterType"] else { continue }
            switch type {
            case "PRICE_FILTER":
                rules.tickSize = try number(f, "tickSize") ?? .zero
            case "LOT_SIZE":
                rules.stepSize = try number(f, "stepSize") ?? .zero
                rules.minQuantity = try number(f, "minQty") ?? .zero
                if let m = try number(f, "maxQty"), m.raw > 0 { rules.maxQuantity = m }
            case "MIN_NOTIONAL", "NOTIONAL":
                rules.minNotional = max(rules.minNotional, try number(f, "minNotional") ?? .zero)
            default:
                continue
            }
        }
        return rules
    }

    /// A JSON scalar of an `exchangeInfo` filter (strings, numbers, booleans).
    enum JSONValue: Decodable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                self = .string(s)
            } else if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else {
                self = .other
            }
        }
    }

    public func openOrders(symbol: String?, deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [VenueOrder] {
        let params = symbol.map { [("symbol", $0)] } ?? []
        let data = try await send(
            .GET,
            "/api/v3/openOrders",
            params,
            signed: true,
            weight: symbol == nil ? 80 : 6,
            operation: "open orders",
            deadline: deadline
        )
        do {
            let wire = try JSONDecoder().decode([WireOrder].self, from: data)
            var out: [VenueOrder] = []
            for w in wire { out.append(try w.venueOrder(operation: "open orders")) }
            return out
        } catch let e as ExecutionError {
            throw e
        } catch {
            throw .invalidResponse(operation: "open orders", message: "\(error)")
        }
    }

    public func balances(deadline: ContinuousClock.Instant) async throws(ExecutionError) -> [AssetBalance] {
        let data = try await send(
            .GET,
            "/api/v3/account",
            [("omitZeroBalances", "true")],
            signed: true,
            weight: 20,
            operation: "account",
            deadline: deadline
        )
        struct Account: Decodable {
            struct Balance: Decodable {
                let asset: String
                let free: String
                let locked: String
            }
            let balances: [Balance]
        }
        do {
            let account = try JSONDecoder().decode(Account.self, from: data)
            return try account.balances.map { b throws(ExecutionError) in
                guard let free = FixedPoint(b.free), let locked = FixedPoint(b.locked) else {
                    throw .invalidResponse(operation: "account", message: "unreadable balance of \(b.asset)")
                }
                return AssetBalance(asset: b.asset, free: free, locked: locked)
            }
        } catch let e as ExecutionError {
            throw e
        } catch {
            throw .invalidResponse(operation: "account", message: "\(error)")
        }
    }

    public nonisolated func executionReports() -> AsyncStream<ExecutionReport> { broadcaster.stream() }

    // MARK: Time

    /// Measures the venue's clock (`GET /api/v3/time`) and keeps the offset for `timestamp`.
    @discardableResult
    public func syncTime(deadline: ContinuousClock.Instant = .now + .seconds(5)) async throws(ExecutionError) -> Int64 {
        let before = Self.localMillis()
        let data = try await sendOnce(.GET, "/api/v3/time", [], signed: false, weight: 1, operation: "time", deadline: deadline)
        let after = Self.localMillis()
        struct ServerTime: Decodable { let serverTime: Int64 }
        guard let t = try? JSONDecoder().decode(ServerTime.self, from: data) else {
            throw .invalidResponse(operation: "time", message: String(decoding: data, as: UTF8.self))
        }
        serverTimeOffsetMillis = t.serverTime - (before + after) / 2
        logger.debug("binance clock offset", metadata: ["offset_ms": "\(serverTimeOffsetMillis)"])
        return serverTimeOffsetMillis
    }

    // MARK: Transport

    /// The signed query for `params`: `a=1&b=2&timestamp=…&recvWindow=…&signature=hex`.
    package func signedQuery(_ params: [(String, String)], timestampMillis: Int64) -> String {
        var all = params
        all.append(
            (
                "recvWindow",
                String(configuration.recvWindow.nanoseconds / 1_000_000)
            )
        )
        all.append(("timestamp", String(timestampMillis)))
        let query = Self.encode(all)
        let signature = Self.hmacHex(secret: credentials.secretKey, message: query)
        return query + "&signature=" + signature
    }

    /// HMAC-SHA256 of `message` under `secret`, lowercase hex (Binance's signature format).
    public static func hmacHex(secret: String, message: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    static func encode(_ params: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return params.map { k, v in "\(k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)" }.joined(separator: "&")
    }

    private func send(
        _ method: HTTPMethod,
        _ path: String,
        _ params: [(String, String)],
        signed: Bool,
        weight: Int,
        operation: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> Data {
        do {
            return try await sendOnce(method, path, params, signed: signed, weight: weight, operation: operation, deadline: deadline)
        } catch .clockSkew(let message) where signed {
            // The venue refused the timestamp without processing the request: measure its clock and try once more.
            logger.warning("venue clock skew; resynchronising", metadata: ["operation": "\(operation)", "message": "\(message)"])
            try await syncTime(deadline: deadline)
            return try await sendOnce(method, path, params, signed: signed, weight: weight, operation: operation, deadline: deadline)
        }
    }

    private func sendOnce(
        _ method: HTTPMethod,
        _ path: String,
        _ params: [(String, String)],
        signed: Bool,
        weight: Int,
        operation: String,
        deadline: ContinuousClock.Instant
    ) async throws(ExecutionError) -> Data {
        // Our own weight budget: never spend what the venue would punish.
        let minute = Self.localMillis() / 60_000
        if minute != weightMinute {
            weightMinute = minute
            usedWeight = 0
        }
        if usedWeight + weight > configuration.weightLimitPerMinute {
            let waitMillis = (minute + 1) * 60_000 - Self.localMillis()
            throw .rateLimited(
                operation: operation,
                retryAfter: .milliseconds(max(waitMillis, 1)),
                message: "local weight budget \(configuration.weightLimitPerMinute)/min spent"
            )
        }
        usedWeight += weight
        let query = signed ? signedQuery(params, timestampMillis: Self.localMillis() + serverTimeOffsetMillis) : Self.encode(params)
        var request = HTTPClientRequest(url: configuration.baseURL + path + (query.isEmpty ? "" : "?" + query))
        request.method = method
        request.headers.add(name: "X-MBX-APIKEY", value: credentials.apiKey)
        request.headers.add(name: "User-Agent", value: "crocbot")
        let remaining = deadline - .now
        guard remaining > .zero else { throw .timeout(operation: operation) }
        logger.debug("binance request", metadata: ["method": "\(method.rawValue)", "path": "\(path)", "operation": "\(operation)"])
        let status: Int
        let headers: HTTPHeaders
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, deadline: .now() + .nanoseconds(remaining.nanoseconds))
            status = Int(response.status.code)
            headers = response.headers
            body = try await response.body.collect(upTo: 4 << 20)
        } catch {
            throw Self.mapTransport(error, operation: operation)
        }
        if let used = headers.first(name: "X-MBX-USED-WEIGHT-1M").flatMap(Int.init) { usedWeight = used }
        let data = Data(body.readableBytesView)
        if (200..<300).contains(status) { return data }
        throw mapError(status: status, headers: headers, body: data, operation: operation, params: params)
    }

    /// Binance's error answer → a typed error.
    package func mapError(status: Int, headers: HTTPHeaders, body: Data, operation: String, params: [(String, String)]) -> ExecutionError {
        struct WireError: Decodable {
            let code: Int
            let msg: String
        }
        let wire = try? JSONDecoder().decode(WireError.self, from: body)
        let message = wire?.msg ?? String(decoding: body.prefix(300), as: UTF8.self)
        let code = wire?.code
        let clientID = params.first { $0.0 == "newClientOrderId" || $0.0 == "origClientOrderId" }?.1 ?? ""
        if status == 429 || status == 418 || code == -1003 {
            let after = headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds($0) }
            return .rateLimited(operation: operation, retryAfter: after, message: message)
        }
        if status >= 500 { return .server(operation: operation, status: status, code: code, message: message) }
        switch code {
        case -1021:
            return .clockSkew(message: message)
        case -1022, -2014, -2015, -1002:
            return .authentication(code: code, message: message)
        case -1001, -1006, -1007:
            // Disconnected / unexpected response / "send status unknown; execution status unknown".
            return .server(operation: operation, status: status, code: code, message: message)
        case -2013:
            return .orderNotFound(clientOrderID: clientID)
        case -2011 where message.localizedCaseInsensitiveContains("unknown order"):
            return .orderNotFound(clientOrderID: clientID)
        case -2010 where message.localizedCaseInsensitiveContains("duplicate"):
            return .duplicateOrder(clientOrderID: clientID)
        default:
            return .rejected(operation: operation, code: code, message: message)
        }
    }

    /// A transport failure → a typed error. `requestSent: false` only when the
    /// failure provably happened before the request could leave: the
    /// connection was never made (refused, unreachable, connect timeout, DNS)
    /// or its TLS handshake failed. Anything after the connection was up —
    /// a reset, a broken pipe, a half-close, a read timeout — may have
    /// reached the venue.
    package static func mapTransport(_ error: any Error, operation: String) -> ExecutionError {
        if let e = error as? HTTPClientError {
            switch e {
            case .deadlineExceeded, .readTimeout, .writeTimeout: return .timeout(operation: operation)
            case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout, .socksHandshakeTimeout, .httpProxyHandshakeTimeout,
                .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown:
                return .transport(operation: operation, message: "\(e)", requestSent: false)
            default: return .transport(operation: operation, message: "\(e)", requestSent: true)
            }
        }
        if let io = error as? IOError {
            // By errno: these only arise while connecting. (NIO reports socket errors found through
            // SO_ERROR as "connection reset (error set)" whatever the errno, so the text proves nothing;
            // only the connect(2) call itself, named in the reason, does.)
            let neverConnected = [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL].contains(io.errnoCode)
            let failedConnectCall = "\(io)".hasPrefix("connect(")
            return .transport(operation: operation, message: "\(io)", requestSent: !(neverConnected || failedConnectCall))
        }
        let text = "\(error)"
        // NIOPosix's NIOConnectionError ("Connection errors: ..." / "DNS error: ...") and NIOSSL's handshake
        // failures are not visible as types here: their texts name them.
        let preSend = [
            "Connection errors:", "DNS error", "NIOConnectionError", "getaddrinfo", "SocketAddressError", "handshakeFailed", "TLS handshake",
        ]
        if preSend.contains(where: { text.contains($0) }) {
            return .transport(operation: operation, message: text, requestSent: false)
        }
        return .transport(operation: operation, message: text, requestSent: true)
    }

    private static func localMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: Wire format

    struct WireOrder: Decodable {
        struct WireFill: Decodable {
            let price: String
            let qty: String
            let commission: String?
            let commissionAsset: String?
        }
        let symbol: String
        let orderId: Int64?
        let clientOrderId: String
        let origQty: String
        let executedQty: String
        let cummulativeQuoteQty: String
        let status: String
        let side: String
        let transactTime: Int64?
        let updateTime: Int64?
        let time: Int64?
        let fills: [WireFill]?

        func venueOrder(operation: String) throws(ExecutionError) -> VenueOrder {
            guard let qty = FixedPoint(origQty), let exec = FixedPoint(executedQty), let quote = FixedPoint(cummulativeQuoteQty) else {
                throw .invalidResponse(operation: operation, message: "order \(clientOrderId): unreadable quantities")
            }
            let st: VenueOrderStatus
            switch status {
            case "NEW", "PENDING_NEW": st = .new
            case "PARTIALLY_FILLED", "PENDING_CANCEL": st = exec.raw > 0 ? .partiallyFilled : .new
            case "FILLED": st = .filled
            case "CANCELED": st = .canceled
            case "REJECTED": st = .rejected
            case "EXPIRED", "EXPIRED_IN_MATCH": st = .expired
            default: throw .invalidResponse(operation: operation, message: "order \(clientOrderId): unknown status \(status)")
            }
            var commission: Money?
            var byAsset: [String: FixedPoint] = [:]
            if let fills {
                var total = Money.zero
                for f in fills {
                    guard let text = f.commission else { continue }
                    guard let c = FixedPoint(text) else {
                        throw .invalidResponse(operation: operation, message: "order \(clientOrderId): unreadable commission '\(text)'")
                    }
                    total += c
                    if let asset = f.commissionAsset { byAsset[asset, default: .zero] += c }
                }
                commission = total
            }
            let millis = transactTime ?? updateTime ?? time ?? 0
            return VenueOrder(
                clientOrderID: clientOrderId,
                venueOrderID: orderId.map(String.init),
                symbol: symbol,
                side: side == "SELL" ? .sell : .buy,
                status: st,
                quantity: qty,
                executedQuantity: exec,
                cumulativeQuote: quote,
                cumulativeCommission: commission,
                commissionsByAsset: byAsset,
                updateTime: Timestamp(nanoseconds: millis * 1_000_000)
            )
        }
    }

    static func decodeOrder(_ data: Data, operation: String) throws(ExecutionError) -> VenueOrder {
        let wire: WireOrder
        do {
            wire = try JSONDecoder().decode(WireOrder.self, from: data)
        } catch {
            throw .invalidResponse(operation: operation, message: "\(error)")
        }
        return try wire.venueOrder(operation: operation)
    }
}
