import NIOHTTP1
import OggEdgeServer
import Foundation
import Testing

/// Malformed and malicious requests: never a 5xx, never a crash or a hang.
@Suite(.serialized) struct HostileInputTests {
    @Test func malformedRequestsGetA4xxAndTheServerKeepsServing() async throws {
        try await TestServer.with { server in
            let signed = server.sign("/tracks/demo_160kbps.ogg")
            let longTarget = "/tracks/demo_160kbps.ogg?" + String(repeating: "a", count: 9000)
            let requests: [String] = [
                "GARBAGE\r\n\r\n",
                "GET\r\n\r\n",
                "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
                "GET \(longTarget) HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /tracks/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /tracks/%2e%2e%2fetc%2fpasswd_160kbps.ogg HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /tracks/demo_160kbps.ogg?sig=&sig=&exp=&kid= HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /tracks/demo_160kbps.ogg?exp=99999999999999999999999&kid=k1&sig=x HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /tracks/demo_160kbps.ogg?%ff%fe=%00&sig=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET \(signed) HTTP/1.1\r\nHost: x\r\nRange: bytes=\(Array(repeating: "0-1", count: 500).joined(separator: ","))\r\n\r\n",
                "GET \(signed) HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999999999999999999-\r\n\r\n",
                "GET \(signed) HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: yesterday\r\nIf-Range: \u{7f}\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 70_000))\r\n\r\n",
                "DELETE \(signed) HTTP/1.1\r\nHost: x\r\n\r\n",
                "BREW /tracks/demo_160kbps.ogg HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET http://evil.example/tracks/demo_160kbps.ogg HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /tracks/demo_160kbps.ogg HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                "GET /tracks/demo_160kbps.ogg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                "GET /tracks/\u{0}_160kbps.ogg HTTP/1.1\r\nHost: x\r\n\r\n",
            ]
            for request in requests {
                let (response, _) = await RawHTTP.text(port: server.port, request, timeout: 5)
                if let status = RawHTTP.status(response) {
                    #expect(status < 500, "\(request.prefix(80)) → \(status)")
                }
            }
            // The 9000-byte target is refused as too long, not as a 5xx.
            let (long, _) = await RawHTTP.text(port: server.port, "GET \(longTarget) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect([400, 414, 431].contains(RawHTTP.status(long) ?? 0))
            // Random bytes.
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<40 {
                let bytes = (0..<Int.random(in: 1...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let (response, _) = await RawHTTP.exchange(port: server.port, bytes: bytes + Array("\r\n\r\n".utf8), timeout: 2)
                let text = String(decoding: response, as: UTF8.self)
                if let status = RawHTTP.status(text) { #expect(status < 500) }
            }
            // Still serving.
            let ok = try await server.fetch(signed)
            #expect(ok.status == 200)
        }
    }

    @Test func tooManyRangesAreIgnoredNotAmplified() async throws {
        try await TestServer.with { server in
            let signed = server.sign("/tracks/demo_160kbps.ogg")
            let ranges = Array(repeating: "0-", count: 200).joined(separator: ",")
            let r = try await server.fetch(signed, headers: [("Range", "bytes=" + ranges)])
            #expect(r.status == 200)
            #expect(r.body.count == TestMedia.bytes("demo_160kbps.ogg").count)
        }
    }

    @Test func slowClientThatNeverFinishesItsHeadIsCut() async throws {
        try await TestServer.with(configure: { $0.limits.requestHeadTimeoutSeconds = 1 }) { server in
            let fd = RawHTTP.connectLoopback(port: server.port)
            #expect(fd >= 0)
            defer { close(fd) }
            let partial = Array("GET /healthz HTTP/1.1\r\nHost: x\r\n".utf8)
            _ = partial.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // readAll reports `closed` only when the server hung up, not when its own 8 s wait ran out.
            let (_, closed) = await RawHTTP.readAll(fd: fd, timeout: 8, readLimit: 1024)
            #expect(closed)
        }
    }
}
