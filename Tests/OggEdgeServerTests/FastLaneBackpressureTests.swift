#if canImport(Glibc)
import Glibc
#endif
import OggEdgeServer
import OggEdgeTesting
import Testing

/// Fast answers are logged when the socket took them: nearly always settled right after their
/// read cycle's flush; an answer followed by another in the same cycle, or still queued after
/// the flush, gets a completion behind it instead. These tests send ranges of 64 KiB one by one,
/// a millisecond apart (so the server reads them one or a few per cycle), to a client with a
/// 16 KiB receive buffer that does not read at first: the socket fills, the lane answers until
/// the channel is unwritable, the general path the rest. Every answer must be logged once, with
/// what the socket took, and none left waiting (``TestServer/deliveryRecords()`` waits for all).
@Suite struct FastLaneBackpressureTests {
    static let count = 150
    static let size = 64 * 1024

    /// Sends `count` requests for ranges of `size` at spread offsets, each in its own write;
    /// returns the ranges.
    static func sendOneByOne(_ client: KeepAliveClient, _ target: String, length: Int) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for i in 0..<count {
            let start = (i * 37_001) % (length - size)
            ranges.append(start...(start + size - 1))
            client.send(client.request("GET", target, headers: ["Range: bytes=\(start)-\(start + size - 1)"]))
            usleep(1_000)
        }
        return ranges
    }

    @Test func answersQueuedBehindAFullSocketAreLoggedWhole() async throws {
        try await TestServer.with { server in
            let target = server.sign(FastLaneTests.track)
            try await FastLaneTests.warm(server, target)
            let body = TestMedia.bytes("demo_160kbps.ogg")
            let before = server.server.fastLaneResponses
            let port = server.port
            let (responses, ranges) = await offload { () -> ([KeepAliveClient.Response], [ClosedRange<Int>]) in
                guard let client = KeepAliveClient(port: port, receiveBuffer: 16 * 1024) else { return ([], []) }
                let ranges = Self.sendOneByOne(client, target, length: body.count)
                var out: [KeepAliveClient.Response] = []
                for _ in ranges { if let r = client.readResponse() { out.append(r) } }
                return (out, ranges)
            }
            try #require(responses.count == Self.count)
            for (r, range) in zip(responses, ranges) {
                #expect(r.status == 206 && r.body == Array(body[range]))
            }
            #expect(server.server.fastLaneResponses > before, "the lane answered some of them")
            let records = try await server.deliveryRecords().filter { ($0["content_length"] as? Int) == Self.size }
            #expect(records.count == Self.count)
            #expect(records.allSatisfy { ($0["bytes_sent"] as? Int) == Self.size && ($0["aborted"] as? Bool) == false })
        }
    }

    @Test func answersToAClientThatResetAreLoggedAsFarAsTheSocketTookThem() async throws {
        try await TestServer.with { server in
            let target = server.sign(FastLaneTests.track)
            try await FastLaneTests.warm(server, target)
            let body = TestMedia.bytes("demo_160kbps.ogg")
            let port = server.port
            let read = await offload { () -> Int in
                guard let client = KeepAliveClient(port: port, receiveBuffer: 16 * 1024) else { return -1 }
                _ = Self.sendOneByOne(client, target, length: body.count)
                var read = 0
                for _ in 0..<3 where client.readResponse() != nil { read += 1 }
                client.reset()  // closed on leaving: an RST, whatever the server still had queued is lost
                return read
            }
            #expect(read == 3)
            // `deliveryRecords` waits until every answer started is logged: none is left hanging.
            let records = try await server.deliveryRecords().filter { ($0["content_length"] as? Int) == Self.size }
            #expect(records.count >= 3 && records.count <= Self.count)
            #expect(records.prefix(3).allSatisfy { ($0["bytes_sent"] as? Int) == Self.size })
            // What the socket took whole is complete; anything cut short is `aborted`, and only that.
            // (How much the kernel had taken when the reset came depends on its buffers: not checked.)
            let odd = records.filter { record in
                let sent = (record["bytes_sent"] as? Int) ?? -1
                return !(sent >= 0 && sent <= Self.size && ((record["aborted"] as? Bool) == true) == (sent < Self.size))
            }
            // (A general-path response whose head never reached the socket was logged complete with
            // 0 bytes: `OriginHandler` now logs it `aborted`.)
            #expect(odd.isEmpty, "\(odd.map { "\($0["req_id"] ?? "-"): \($0["bytes_sent"] ?? "-") bytes, aborted \($0["aborted"] ?? "-")" })")
        }
    }
}
