import Foundation
#if canImport(Glibc)
import Glibc
#endif
import OggEdgeServer
import OggEdgeTesting
import Testing

/// Connections the fast lane serves stay on their event loop (no general-path task); the
/// general path is attached the moment a request needs it, and a client that stops sending
/// still gets every answer before the server closes.
@Suite struct ConnectionTests {
    static let track = "/tracks/demo_160kbps.ogg"

    /// Sends `requests` on one connection, then (if `halfClose`) shuts the client's write side,
    /// and reads until the server closes or 10 s pass. Returns the bytes and whether it closed.
    static func converse(port: Int, _ requests: [String], halfClose: Bool) async -> (bytes: [UInt8], closed: Bool) {
        await offload {
            let fd = RawHTTP.connectLoopback(port: port)
            guard fd >= 0 else { return ([], false) }
            defer { close(fd) }
            let text = Array(requests.joined().utf8)
            _ = text.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if halfClose { shutdown(fd, Int32(SHUT_WR)) }
            var tv = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n == 0 { return (out, true) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return (out, false)
                }
                out.append(contentsOf: buffer[0..<n])
            }
        }
    }

    /// The status lines of the responses in `bytes`, in order (bodies skipped by Content-Length).
    static func statuses(_ bytes: [UInt8]) -> [Int] {
        var rest = bytes[...]
        var out: [Int] = []
        while let end = RawHTTP.headEnd(Array(rest)) {
            let head = String(decoding: rest.prefix(end), as: UTF8.self)
            guard let status = Int(head.dropFirst("HTTP/1.1 ".count).prefix(3)) else { break }
            out.append(status)
            let length = head.lowercased().split(separator: "\r\n")
                .first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            rest = rest.dropFirst(end + 4 + length)
        }
        return out
    }

    /// A connection on which `target`'s bytes 0-99 were asked for and the answer read; the
    /// connection stays open (the caller closes `fd`).
    static func keptAlive(port: Int, _ target: String) async throws -> (fd: Int32, first: (response: [UInt8], closed: Bool)) {
        let fd = await offload { RawHTTP.connectLoopback(port: port) }
        try #require(fd >= 0)
        let first = await offload { () -> (response: [UInt8], closed: Bool) in
            let bytes = Array(Self.get(target, range: "0-99").utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            return RawHTTP.readAllBlocking(fd: fd, timeout: 10, readLimit: 1 << 20)
        }
        return (fd, first)
    }

    static func get(_ target: String, range: String? = nil) -> String {
        "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (range.map { "Range: bytes=\($0)\r\n" } ?? "") + "\r\n"
    }

    @Test func aConnectionTheFastLaneServesNeverStartsTheGeneralPath() async throws {
        let server = try await TestServer.start()
        let target = server.sign(Self.track)
        try await FastLaneTests.warm(server, target)
        let (fastBefore, generalBefore) = (server.server.fastLaneResponses, server.server.generalPathConnections)
        let r = await Self.converse(
            port: server.port, [Self.get(target, range: "0-99"), Self.get(target, range: "100-4195")], halfClose: true
        )
        #expect(r.closed, "the server closes once the client has stopped sending and both answers are out")
        #expect(Self.statuses(r.bytes) == [206, 206])
        #expect(r.bytes.count > 100 + 4096)
        #expect(server.server.fastLaneResponses - fastBefore == 2)
        #expect(server.server.generalPathConnections == generalBefore)
        await server.stop()
    }

    @Test func theGeneralPathIsAttachedWhenARequestNeedsItAndTheOrderHolds() async throws {
        let server = try await TestServer.start()
        let target = server.sign(Self.track)
        try await FastLaneTests.warm(server, target)
        let generalBefore = server.server.generalPathConnections
        // Fast, general (/healthz), fast again, an unsigned track (refused on the general path).
        let r = await Self.converse(
            port: server.port,
            [Self.get(target, range: "0-9"), Self.get("/healthz"), Self.get(target, range: "10-19"), Self.get(Self.track)],
            halfClose: true
        )
        #expect(r.closed)
        #expect(Self.statuses(r.bytes) == [206, 200, 206, 403])
        #expect(server.server.generalPathConnections == generalBefore + 1)
        await server.stop()
    }

    @Test func aClientThatHalfClosesAfterAMissStillGetsItsAnswer() async throws {
        let server = try await TestServer.start()
        let target = server.sign(Self.track)
        // Nothing cached yet: the general path reads the file.
        let r = await Self.converse(port: server.port, [Self.get(target, range: "0-65535")], halfClose: true)
        #expect(r.closed)
        #expect(Self.statuses(r.bytes) == [206])
        let head = try #require(RawHTTP.headEnd(r.bytes))
        #expect(r.bytes.count - head - 4 == 65536)
        await server.stop()
    }

    @Test func aMalformedFirstRequestIsAnswered400AndClosed() async throws {
        let server = try await TestServer.start()
        let generalBefore = server.server.generalPathConnections
        let r = await Self.converse(port: server.port, ["GET /tracks/x HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n"], halfClose: false)
        #expect(r.closed)
        #expect(Self.statuses(r.bytes) == [400])
        #expect(server.server.generalPathConnections == generalBefore + 1)
        await server.stop()
    }

    @Test func anIdleConnectionThatClosesCostsNoTask() async throws {
        let server = try await TestServer.start()
        let generalBefore = server.server.generalPathConnections
        let r = await Self.converse(port: server.port, [], halfClose: true)
        #expect(r.closed)
        #expect(r.bytes.isEmpty)
        #expect(server.server.generalPathConnections == generalBefore)
        await server.stop()
    }

    /// Graceful shutdown closes a kept-alive connection the fast lane served (it has no task to
    /// end it) and returns.
    @Test func gracefulShutdownClosesAnIdleFastLaneConnection() async throws {
        let server = try await TestServer.start()
        let target = server.sign(Self.track)
        try await FastLaneTests.warm(server, target)
        let fastBefore = server.server.fastLaneResponses
        let (fd, first) = try await Self.keptAlive(port: server.port, target)
        defer { close(fd) }
        #expect(Self.statuses(first.response) == [206])
        #expect(!first.closed)
        #expect(server.server.fastLaneResponses - fastBefore == 1)
        await server.stop()
        let after = await RawHTTP.readAll(fd: fd, timeout: 10, readLimit: 1 << 20)
        #expect(after.closed, "the idle connection was closed by the shutdown")
        #expect(after.response.isEmpty)
    }

    /// When the shutdown grace is over, a response still stuck on a client that stopped reading
    /// is cut (logged `aborted`) and the server stops, long before the send-stall deadline (10
    /// minutes here) would have ended it.
    @Test(.timeLimit(.minutes(1))) func theEndOfTheGraceCutsAStuckResponse() async throws {
        _ = TestMedia.hugeTrack
        let server = try await TestServer.start {
            $0.fastLane = false  // a general-path response: quiescing waits for it
            $0.limits.shutdownGraceSeconds = 1
            $0.limits.sendStallTimeoutSeconds = 600
        }
        let target = server.sign("/tracks/huge_320kbps.ogg", uid: "stuck")
        let total = TestMedia.bytes("huge_320kbps.ogg").count
        let port = server.port
        let fd = await offload { RawHTTP.connectLoopback(port: port, receiveBuffer: 4096) }
        try #require(fd >= 0)
        defer { close(fd) }
        _ = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // Wait until the response has started (its head and first bytes are in the socket).
        var head: [UInt8] = []
        while RawHTTP.headEnd(head) == nil {
            let chunk = await offload { () -> [UInt8] in
                var buffer = [UInt8](repeating: 0, count: 512)
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                return n > 0 ? Array(buffer[0..<n]) : []
            }
            try #require(!chunk.isEmpty)
            head += chunk
        }
        await server.stop()
        // Stopped (within the time limit, so not by the 10-minute stall deadline): the record
        // says the response was cut. (What the kernel had queued still trickles to the client
        // through its 4 KiB window after the close, so the client's EOF can take a while.)
        let record = try await server.deliveryRecords().first { $0["uid"] as? String == "stuck" }
        #expect((record?["bytes_sent"] as? Int ?? .max) < total)
        #expect(record?["aborted"] as? Bool == true)
    }

    /// A stop by cancellation alone (no graceful shutdown first) closes the connections and
    /// returns.
    @Test(.timeLimit(.minutes(1))) func cancellationAloneClosesTheConnections() async throws {
        let server = try await TestServer.start()
        let target = server.sign(Self.track)
        try await FastLaneTests.warm(server, target)
        let (fd, first) = try await Self.keptAlive(port: server.port, target)
        defer { close(fd) }
        #expect(Self.statuses(first.response) == [206])
        server.task.cancel()
        _ = try? await server.task.value
        let after = await RawHTTP.readAll(fd: fd, timeout: 10, readLimit: 1 << 20)
        #expect(after.closed)
    }
}
