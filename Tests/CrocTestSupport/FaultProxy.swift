import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 between the client and the local venue that
/// injects transport faults the way networks produce them:
/// - `resetAfterProcessing`: the request reaches the venue, the venue answers,
///   and the client's connection is reset (RST) instead of getting the answer;
/// - `halfCloseAfterProcessing`: same, but the client sees an orderly EOF;
/// - `delay`: the answer is held back (the client times out, the order exists);
/// - `refuse(for:)`: nothing listens for a while (connection refused).
/// Faults apply to requests whose first line starts with `route`
/// (e.g. `POST /api/v3/order`), in order.
public final class FaultProxy: @unchecked Sendable {
    public enum Fault: Sendable {
        case resetAfterProcessing
        case halfCloseAfterProcessing
        case delay(seconds: Double)
    }

    private struct State {
        var faults: [(route: String, fault: Fault)] = []
        var refuseUntil: Date?
        var listener: Int32 = -1
        var port: UInt16 = 0
        var stopped = false
        var faultsFired = 0
    }

    private let upstreamPort: UInt16
    private let state = Mutex(State())

    public init(upstreamPort: Int) {
        self.upstreamPort = UInt16(upstreamPort)
    }

    public var port: Int { Int(state.withLock { $0.port }) }
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var faultsFired: Int { state.withLock { $0.faultsFired } }

    public func inject(_ fault: Fault, on route: String, times: Int = 1) {
        state.withLock { s in for _ in 0..<times { s.faults.append((route, fault)) } }
    }

    /// Closes the listening socket for `seconds`: connections are refused, then accepted again on the same port.
    public func refuse(for seconds: Double) {
        let fd = state.withLock { s -> Int32 in
            s.refuseUntil = Date().addingTimeInterval(seconds)
            defer { s.listener = -1 }
            return s.listener
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        let thread = Thread { [self] in
            Thread.sleep(forTimeInterval: seconds)
            guard !state.withLock({ $0.stopped }) else { return }
            try? listen(on: state.withLock { $0.port })
        }
        thread.start()
    }

    public func start() throws {
        try listen(on: 0)
    }

    public func stop() {
        let fd = state.withLock { s -> Int32 in
            s.stopped = true
            defer { s.listener = -1 }
            return s.listener
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    private func listen(on port: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw NSError(domain: "FaultProxy", code: Int(errno))
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        state.withLock { s in
            s.listener = fd
            s.port = UInt16(bigEndian: actual.sin_port)
            s.refuseUntil = nil
        }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.start()
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            let thread = Thread { [self] in serve(client) }
            thread.start()
        }
    }

    private func connectUpstream() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = upstreamPort.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if ok != 0 {
            close(fd)
            return -1
        }
        return fd
    }

    /// Reads one HTTP message (head + Content-Length body) from `fd`.
    private func readMessage(_ fd: Int32) -> [UInt8]? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let head = data.firstRange(of: Array("\r\n\r\n".utf8)) {
                let headText = String(decoding: data[..<head.lowerBound], as: UTF8.self).lowercased()
                var length = 0
                for line in headText.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                if data.count >= head.upperBound + length { return data }
            }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return data.isEmpty ? nil : data }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            off += n
        }
    }

    private func serve(_ client: Int32) {
        let upstream = connectUpstream()
        defer {
            if upstream >= 0 { close(upstream) }
        }
        guard upstream >= 0 else {
            close(client)
            return
        }
        while let request = readMessage(client) {
            let firstLine = String(decoding: request.prefix(80), as: UTF8.self)
            let fault = state.withLock { s -> Fault? in
                guard let i = s.faults.firstIndex(where: { firstLine.hasPrefix($0.route) }) else { return nil }
                s.faultsFired += 1
                return s.faults.remove(at: i).fault
            }
            writeAll(upstream, request)
            guard let response = readMessage(upstream) else { break }
            switch fault {
            case nil:
                writeAll(client, response)
            case .resetAfterProcessing:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                close(client)
                return
            case .halfCloseAfterProcessing:
                shutdown(client, Int32(SHUT_WR))
                Thread.sleep(forTimeInterval: 0.05)
                close(client)
                return
            case .delay(let seconds):
                Thread.sleep(forTimeInterval: seconds)
                writeAll(client, response)
            }
        }
        close(client)
    }
}
