import Foundation
import OggEdgeTesting
#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP client for requests no well-behaved client library would send.
enum RawHTTP {
    /// Connects to 127.0.0.1:port, sends `bytes`, and reads until the server closes or
    /// `timeout` seconds pass. Returns what was read and whether the server closed.
    static func exchange(port: Int, bytes: [UInt8], timeout: Double = 5, readLimit: Int = 1 << 20) async -> (response: [UInt8], closed: Bool) {
        await offload { exchangeBlocking(port: port, bytes: bytes, timeout: timeout, readLimit: readLimit) }
    }

    static func exchangeBlocking(port: Int, bytes: [UInt8], timeout: Double, readLimit: Int) -> (response: [UInt8], closed: Bool) {
        let fd = connectLoopback(port: port)
        guard fd >= 0 else { return ([], true) }
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return readAllBlocking(fd: fd, timeout: timeout, readLimit: readLimit)
    }

    static func text(port: Int, _ request: String, timeout: Double = 5) async -> (response: String, closed: Bool) {
        let r = await exchange(port: port, bytes: Array(request.utf8), timeout: timeout)
        return (String(decoding: r.response, as: UTF8.self), r.closed)
    }

    /// Opens a TCP connection to loopback; -1 on failure.
    static func connectLoopback(port: Int, receiveBuffer: Int32? = nil) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        if var size = receiveBuffer {
            // Before connect, so the advertised window stays small.
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { close(fd); return -1 }
        return fd
    }

    /// Reads until EOF, error, `readLimit` bytes or `timeout` seconds.
    static func readAll(fd: Int32, timeout: Double, readLimit: Int) async -> (response: [UInt8], closed: Bool) {
        await offload { readAllBlocking(fd: fd, timeout: timeout, readLimit: readLimit) }
    }

    static func readAllBlocking(fd: Int32, timeout: Double, readLimit: Int) -> (response: [UInt8], closed: Bool) {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while out.count < readLimit, Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (out, true) }
            if n < 0 {
                if errno == EINTR { continue }
                return (out, errno != EAGAIN && errno != EWOULDBLOCK)
            }
            out.append(contentsOf: buffer[0..<n])
            if isCompleteResponse(out) { return (out, false) }
        }
        return (out, false)
    }

    /// Offset of the blank line ending the response head.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        return (0...(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == separator }
    }

    /// True when `bytes` hold a whole response head and the body its Content-Length announces.
    static func isCompleteResponse(_ bytes: [UInt8]) -> Bool {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == separator }) else {
            return false
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return false }
        return bytes.count >= end + 4 + length
    }

    /// The status code of the first response in `text`, if any.
    /// The payload of a `Transfer-Encoding: chunked` body (nil if the framing is broken or cut).
    static func dechunk(_ body: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var i = body.startIndex
        while true {
            guard let lineEnd = body[i...].firstIndex(of: 10), lineEnd > i, body[lineEnd - 1] == 13 else { return nil }
            let sizeText = String(decoding: body[i..<(lineEnd - 1)], as: UTF8.self).prefix { $0 != ";" }
            guard let size = Int(sizeText, radix: 16) else { return nil }
            let start = lineEnd + 1
            if size == 0 { return out }
            guard body.endIndex - start >= size + 2 else { return nil }
            out.append(contentsOf: body[start..<(start + size)])
            i = start + size + 2
        }
    }

    static func status(_ text: String) -> Int? {
        guard text.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }
}
