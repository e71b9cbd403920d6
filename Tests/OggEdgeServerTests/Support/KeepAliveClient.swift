import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client on one keep-alive connection, reading exactly one response per
/// request (by `Content-Length`), for tests that care which connection carries what.
final class KeepAliveClient {
    struct Response {
        var status: Int
        /// Header names lowercased, in order.
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
    }

    let fd: Int32
    private var pending: [UInt8] = []
    private var buffer = [UInt8](repeating: 0, count: 1 << 17)

    init?(port: Int, timeout: Double = 10, receiveBuffer: Int32? = nil) {
        fd = RawHTTP.connectLoopback(port: port, receiveBuffer: receiveBuffer)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Makes the connection end with a reset (`SO_LINGER` 0) when it closes: data the server has
    /// queued is dropped rather than delivered.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// Sends raw request bytes (one or several pipelined requests).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// `GET`/`HEAD` of `target` with extra header lines.
    func request(_ method: String = "GET", _ target: String, headers: [String] = []) -> [UInt8] {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for line in headers { text += line + "\r\n" }
        return Array((text + "\r\n").utf8)
    }

    /// Reads the next response; nil when the connection closed or timed out first.
    /// `bodiless`: the response to a `HEAD` (its `Content-Length` announces no body bytes).
    func readResponse(bodiless: Bool = false) -> Response? {
        while true {
            if let end = RawHTTP.headEnd(pending) {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst()
                guard let status = RawHTTP.status(statusLine) else { return nil }
                let headers = lines.compactMap { line -> (name: String, value: String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                }
                let length = bodiless || status == 304 ? 0 : (headers.first { $0.name == "content-length" }.flatMap { Int($0.value) } ?? 0)
                if pending.count >= end + 4 + length {
                    let body = Array(pending[(end + 4)..<(end + 4 + length)])
                    pending.removeFirst(end + 4 + length)
                    return Response(status: status, headers: headers, body: body)
                }
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            pending.append(contentsOf: buffer[0..<n])
        }
    }

    /// Sends one request and reads its response.
    func exchange(_ method: String = "GET", _ target: String, headers: [String] = []) -> Response? {
        guard send(request(method, target, headers: headers)) else { return nil }
        return readResponse(bodiless: method == "HEAD")
    }
}
