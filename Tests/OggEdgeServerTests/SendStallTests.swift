import Foundation
import OggEdgeServer
import OggEdgeTesting
import Testing

/// The send deadline (issue 13 part 4): a client that stops reading is cut and its record says
/// `aborted`; a client that keeps reading, however slowly, is not.
@Suite(.serialized) struct SendStallTests {
    static let stall: Int64 = 2

    @Test func aClientThatStopsReadingIsCutAndLoggedAborted() async throws {
        _ = TestMedia.hugeTrack
        try await TestServer.with(configure: { $0.limits.sendStallTimeoutSeconds = Self.stall }) { server in
            let target = server.sign("/tracks/huge_320kbps.ogg", uid: "stalled")
            let total = TestMedia.bytes("huge_320kbps.ogg").count
            let fd = RawHTTP.connectLoopback(port: server.port, receiveBuffer: 4096)
            try #require(fd >= 0)
            defer { close(fd) }
            _ = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // Read nothing until the response is logged (the server gave up on it; bounded well
            // past the deadline), then drain: the server must have hung up.
            let stalled: @Sendable ([String: Any]) -> Bool = { $0["uid"] as? String == "stalled" }
            let logged = await eventually(timeout: .seconds(30)) { server.loggedRecords().contains(where: stalled) }
            try #require(logged, "the stalled response was never ended")
            let (bytes, closed) = await RawHTTP.readAll(fd: fd, timeout: 20, readLimit: 64 << 20)
            #expect(closed)
            #expect(bytes.count < total, "the whole body cannot have fitted in the socket buffers")
            let record = try #require(server.loggedRecords().first(where: stalled))
            #expect(record["aborted"] as? Bool == true)
            #expect((record["bytes_sent"] as? Int ?? .max) < total)
        }
    }

    /// Soak finding: a reader taking a few kilobytes at a time kept the kernel accepting bytes, but
    /// NIO's pending bytes never fell under the low watermark, so the channel stayed unwritable and
    /// the writability-based deadline cut it while it was reading.
    @Test func aClientThatKeepsReadingSlowlyIsNotCut() async throws {
        _ = TestMedia.hugeTrack
        try await TestServer.with(configure: { $0.limits.sendStallTimeoutSeconds = Self.stall }) { server in
            let target = server.sign("/tracks/huge_320kbps.ogg", uid: "slow")
            let fd = RawHTTP.connectLoopback(port: server.port, receiveBuffer: 16384)
            try #require(fd >= 0)
            defer { close(fd) }
            _ = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // 6 KiB every 250 ms (about 24 KB/s, faster than the stream plays) for four deadlines.
            let (read, cut) = await offload { () -> (Int, Bool) in
                var buffer = [UInt8](repeating: 0, count: 6144)
                var read = 0
                let end = Date().addingTimeInterval(Double(4 * Self.stall))
                while Date() < end {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { return (read, true) }
                    if n > 0 { read += n }
                    usleep(250_000)
                }
                return (read, false)
            }
            #expect(!cut, "cut after \(read) bytes while reading")
            #expect(read > 0)
        }
    }
}
