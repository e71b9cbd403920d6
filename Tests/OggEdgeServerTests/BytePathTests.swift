import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OggEdgeCore
import OggEdgeServer
import OggEdgeTesting
import Testing

/// Regression tests for the one byte path: hostile requests against renditions that are still
/// being encoded, hostile media files, purges during and after transcodes, and a finished
/// transcode answered as an ordinary object.
@Suite(.serialized) struct BytePathTests {
    /// A copy of the test media with the 120 s master, so each test has a cold rendition to encode.
    static func media() throws -> String {
        _ = TestMedia.hugeTrack
        return try CacheTests.mediaCopy()
    }

    @Test func hostileRangesAndConditionalsOnALiveRenditionNeverCrashTheProcess() async throws {
        let media = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media; $0.limits.liveRangeWaitSeconds = 1 }) { server in
            let target = server.sign("/tracks/huge_160kbps.ogg")
            // Start the encode (a browser's first request) and wait for its head: the encode is under way.
            let first = try await LiveRequest.start(port: server.port, target: target, headers: "Range: bytes=0-\r\n")
            let huge = try await server.fetch(target, headers: [("Range", "bytes=0-9223372036854775807")])
            #expect([200, 206, 503].contains(huge.status), "\(huge.status)")
            let beyond = try await server.fetch(target, headers: [("Range", "bytes=9223372036854775807-")])
            #expect([416, 503].contains(beyond.status), "\(beyond.status)")
            let nearMax = try await server.fetch(target, headers: [("Range", "bytes=9223372036854775806-9223372036854775807")])
            #expect([416, 503].contains(nearMax.status), "\(nearMax.status)")
            let ifMatch = try await server.fetch(target, headers: [("Range", "bytes=0-99"), ("If-Match", "\"nope\"")])
            #expect(ifMatch.status == 412)
            let ifRange = try await server.fetch(target, headers: [("Range", "bytes=0-99"), ("If-Range", "\"bogus\"")])
            #expect(ifRange.status == 200)
            let two = try await server.fetch(target, headers: [("Range", "bytes=0-9,20-29")])
            #expect(two.status == 206)
            #expect(two.header("Content-Type")?.hasPrefix("multipart/byteranges; boundary=") == true)
            let whole = await first.finish()
            #expect(whole.head.hasPrefix("HTTP/1.0 200"))
            let complete = try await server.fetch(target)
            #expect(complete.status == 200)
            #expect(complete.header("ETag") != nil)
            // The multipart body carries exactly the bytes of the finished rendition.
            let text = String(decoding: two.body, as: UTF8.self)
            #expect(text.contains("Content-Range: bytes 0-9/"))
            #expect(text.contains("Content-Range: bytes 20-29/"))
            #expect(try await server.fetch("/healthz").status == 200)
        }
    }

    @Test func aFinishedTranscodeIsAnOrdinaryObjectAtOnceAndAfterAPurgeIsEncodedAgain() async throws {
        let media = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { server in
            let target = server.sign("/tracks/solo_160kbps.ogg")
            let live = try await server.fetch(target)
            #expect(live.status == 200)
            let done = try await server.fetch(target, headers: [("Range", "bytes=0-")])
            #expect(done.status == 206)
            #expect(done.body == live.body)
            #expect(done.header("Content-Range") == "bytes 0-\(live.body.count - 1)/\(live.body.count)")
            let etag = try #require(done.header("ETag"))
            #expect(done.header("Last-Modified") != nil)
            #expect(done.header("X-Content-Duration") == "6")
            #expect(done.header("Cache-Control") == nil)
            let notModified = try await server.fetch(target, headers: [("If-None-Match", etag)])
            #expect(notModified.status == 304)
            let multi = try await server.fetch(target, headers: [("Range", "bytes=0-1,10-11")])
            #expect(multi.header("Content-Type")?.hasPrefix("multipart/byteranges") == true)

            let auth = [("Authorization", "Bearer test-admin-token")]
            let purge = try await server.fetch("/admin/cache/solo_160kbps", method: .DELETE, headers: auth)
            #expect(purge.status == 200)
            #expect(purge.bodyText.contains("\"purged\":1"))
            let again = try await server.fetch(target)
            #expect(again.status == 200)
            #expect(again.body == live.body) // outside a start storm an encode is repeatable
            let caches = try await CacheTests.cacheField(server).filter { _ in true }
            #expect(caches == ["TRANSCODE", "HIT", "HIT", "HIT", "TRANSCODE"], "\(caches)")
        }
    }

    @Test func aPurgeDuringATranscodeKeepsTheStreamingResponseExact() async throws {
        let media = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { server in
            let target = server.sign("/tracks/huge_96kbps.ogg")
            // The response head is out, so the encode is under way: purge it now.
            let streaming = try await LiveRequest.start(port: server.port, target: target)
            let auth = [("Authorization", "Bearer test-admin-token")]
            #expect(try await server.fetch("/admin/cache/huge", method: .DELETE, headers: auth).status == 200)
            let first = await streaming.finish()
            #expect(first.head.hasPrefix("HTTP/1.0 200"))
            let check = TranscodeTests.ogginfo(first.body)
            #expect(check.ok, "\(check.output)")
            let tail = Array(first.body.suffix(70_000))
            #expect(tail.withUnsafeBytes { OggScan.lastGranule(tail: $0) } == Int64(120 * 44100))
            // The purge took effect: the next request is not a hit of the purged fill.
            _ = try await server.fetch(target)
            let caches = try await CacheTests.cacheField(server)
            #expect(caches.last != "HIT", "\(caches)")
        }
    }

    /// A purge detaches an encode under way; once its only listener hangs up, nobody can read
    /// the rest, so the encoder stops instead of encoding the whole track for nobody, and the
    /// stop is not remembered as a failure of the source.
    @Test func aPurgedEncodeWithNobodyListeningStopsAndIsNotAFailure() async throws {
        let media = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { server in
            let target = server.sign("/tracks/huge_96kbps.ogg")
            let auth = [("Authorization", "Bearer test-admin-token")]
            func stats() async throws -> [String: Any] {
                let body = try await server.fetch("/admin/stats", headers: auth).body
                return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
            }
            let streaming = try await LiveRequest.start(port: server.port, target: target)
            #expect(try await server.fetch("/admin/cache/huge", method: .DELETE, headers: auth).status == 200)
            close(streaming.fd)  // the only listener leaves
            // The encoder sees it at its next step (the 120 s track is far from encoded by then).
            var current = try await stats()
            for _ in 0..<200 where (current["encodes_abandoned"] as? Int ?? 0) == 0 {
                try await Task.sleep(for: .milliseconds(50))
                current = try await stats()
            }
            #expect(current["encodes_abandoned"] as? Int == 1, "\(current)")
            #expect(current["encodes_failed"] as? Int == 0, "\(current)")
            // Not remembered as a failure: the next request starts a fresh encode.
            let again = try await server.fetch(target, headers: [("Range", "bytes=0-999")])
            #expect([200, 206].contains(again.status), "\(again.status)")
            #expect(try await stats()["encodes_started"] as? Int == 2)
        }
    }

    @Test func anHTTP10ClientNeverGetsChunkedEncoding() async throws {
        let media = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { server in
            let target = server.sign("/tracks/solo_96kbps.ogg")
            let port = server.port
            let (bytes, closed) = await RawHTTP.exchange(
                port: port, bytes: Array("GET \(target) HTTP/1.0\r\nHost: x\r\n\r\n".utf8), timeout: 20, readLimit: 8 << 20
            )
            let sep = try #require(RawHTTP.headEnd(bytes))
            let head = String(decoding: bytes[..<sep], as: UTF8.self).lowercased()
            #expect(head.hasPrefix("http/1.0 200"))
            #expect(!head.contains("transfer-encoding"))
            #expect(closed)
            let body = Array(bytes[(sep + 4)...])
            let check = TranscodeTests.ogginfo(body)
            #expect(check.ok, "a close-delimited body is the whole rendition: \(check.output)")
        }
    }

    @Test func hostileMediaFilesGetAClearAnswerAndTheProcessLives() async throws {
        let media = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: media) }
        let tracks = media + "/tracks/"
        // A zero-byte file.
        _ = FileManager.default.createFile(atPath: tracks + "empty_96kbps.ogg", contents: Data())
        // Sample rate 1 and a last granule of 2^60: a duration no integer holds.
        var absurd = TestMedia.bytes("tiny_96kbps.ogg")
        Self.patch(&absurd, sampleRate: 1, lastGranule: 1 << 60)
        _ = FileManager.default.createFile(atPath: tracks + "absurd_96kbps.ogg", contents: Data(absurd))
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { server in
            let empty = try await server.fetch(server.sign("/tracks/empty_96kbps.ogg"))
            #expect(empty.status == 502)
            #expect(empty.bodyText == #"{"error":"corrupt_rendition"}"#)
            for _ in 0..<2 {
                let r = try await server.fetch(server.sign("/tracks/absurd_96kbps.ogg"))
                #expect(r.status == 200)
                #expect(r.body == absurd)
                #expect(r.header("X-Content-Duration") == nil)
            }
            #expect(try await server.fetch(server.sign("/tracks/demo_96kbps.ogg")).status == 200)
        }
    }

    /// An HTTP/1.0 request on a raw socket whose response head has arrived; the close-delimited
    /// body is read to its end by ``finish()``.
    struct LiveRequest {
        let fd: Int32
        let start: [UInt8]

        static func start(port: Int, target: String, headers: String = "") async throws -> LiveRequest {
            let fd = RawHTTP.connectLoopback(port: port)
            try #require(fd >= 0)
            let request = Array("GET \(target) HTTP/1.0\r\nHost: x\r\n\(headers)\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            let (start, _) = await RawHTTP.readAll(fd: fd, timeout: 20, readLimit: 1)
            try #require(!start.isEmpty, "no response head")
            return LiveRequest(fd: fd, start: start)
        }

        func finish() async -> (head: String, body: [UInt8]) {
            // Read to the close that ends the body (no per-read parsing: the body is megabytes).
            let rest = await offload { () -> [UInt8] in
                var tv = timeval(tv_sec: 60, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var out: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { return out }
                    out.append(contentsOf: buffer[0..<n])
                }
            }
            close(fd)
            let bytes = start + rest
            guard let sep = RawHTTP.headEnd(bytes) else { return (String(decoding: bytes, as: UTF8.self), []) }
            return (String(decoding: bytes[..<sep], as: UTF8.self), Array(bytes[(sep + 4)...]))
        }
    }

    /// Rewrites the identification header's sample rate and the last page's granule position,
    /// with valid page checksums.
    static func patch(_ bytes: inout [UInt8], sampleRate: UInt32, lastGranule: Int64) {
        guard let first = OggPageHeader.parse(bytes) else { return }
        let rateAt = first.headerLength + 12
        for i in 0..<4 { bytes[rateAt + i] = UInt8(truncatingIfNeeded: sampleRate >> (8 * UInt32(i))) }
        reseal(&bytes, at: 0)
        var offset = 0
        var last = 0
        while offset < bytes.count, let header = bytes.withUnsafeBytes({ OggPageHeader.parse(UnsafeRawBufferPointer(rebasing: $0[offset...])) }) {
            last = offset
            offset += header.totalLength
        }
        for i in 0..<8 { bytes[last + 6 + i] = UInt8(truncatingIfNeeded: lastGranule >> (8 * Int64(i))) }
        reseal(&bytes, at: last)
    }

    private static func reseal(_ bytes: inout [UInt8], at offset: Int) {
        for i in 22..<26 { bytes[offset + i] = 0 }
        let crc = bytes.withUnsafeBytes { OggCRC.pageChecksum(UnsafeRawBufferPointer(rebasing: $0[offset...])) } ?? 0
        for i in 0..<4 { bytes[offset + 22 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }
}
