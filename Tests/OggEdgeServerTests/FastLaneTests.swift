import CAllocationCounter
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import OggEdgeCache
import NIOPosix
import OggEdgeServer
import OggEdgeTesting
import Testing

/// The fast lane answers cache hits on the event loop; these tests hold it to the general
/// path's answers, the connection's order, its timers and its allocation budget.
@Suite struct FastLaneTests {
    static let track = "/tracks/demo_160kbps.ogg"

    /// Fills the cache with the whole rendition and waits until the cache writer committed it.
    static func warm(_ server: TestServer, _ target: String) async throws {
        let full = try await server.fetch(target)
        #expect(full.status == 200)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            guard let store = server.server.store else { return done.resume() }
            store.afterQueuedWrites { done.resume() }
        }
    }

    static let probes: [(method: String, headers: [String])] = [
        ("GET", ["Range: bytes=0-99"]),
        ("GET", ["Range: bytes=1000-5095"]),
        ("GET", ["Range: bytes=-500"]),
        ("GET", ["Range: bytes=40000-"]),
        ("GET", ["Range:  BYTES = 7-7 "]),
        ("HEAD", []),
        ("HEAD", ["Range: bytes=0-99"]),
        ("GET", ["If-None-Match: ETAG"]),
        ("GET", ["If-None-Match: \"other\"", "Range: bytes=10-20"]),
        ("GET", ["If-Range: ETAG", "Range: bytes=10-20"]),
        ("GET", ["If-Range: \"stale\"", "Range: bytes=10-20"]),
        ("GET", ["If-Match: \"nope\"", "Range: bytes=10-20"]),
        ("GET", ["If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"]),
        ("GET", ["Range: bytes=999999999-"]),
        ("GET", ["Range: bytes=5-1"]),
        ("GET", ["Range: bytes=0-9,20-29"]),
        ("GET", ["Range: bytes=0-9", "Range: bytes=20-29"]),
    ]

    @Test func fastAnswersAreTheGeneralPathsAnswers() async throws {
        let fast = try await TestServer.start()
        let general = try await TestServer.start { $0.fastLane = false }
        let fastTarget = fast.sign(Self.track, uid: "u1")
        let generalTarget = general.sign(Self.track, uid: "u1")
        try await Self.warm(fast, fastTarget)
        try await Self.warm(general, generalTarget)
        let etag = try #require(try await fast.fetch(fastTarget, method: .HEAD).header("etag"))
        let before = fast.server.fastLaneResponses
        let (fastPort, generalPort) = (fast.port, general.port)
        let pairs = await offload { () -> [(KeepAliveClient.Response?, KeepAliveClient.Response?)] in
            guard let a = KeepAliveClient(port: fastPort), let b = KeepAliveClient(port: generalPort) else { return [] }
            return Self.probes.map { probe in
                let headers = probe.headers.map { $0.replacingOccurrences(of: "ETAG", with: etag) }
                return (a.exchange(probe.method, fastTarget, headers: headers), b.exchange(probe.method, generalTarget, headers: headers))
            }
        }
        #expect(pairs.count == Self.probes.count)
        for (probe, (a, b)) in zip(Self.probes, pairs) {
            let a = try #require(a, "fast server answered \(probe)")
            let b = try #require(b, "general server answered \(probe)")
            #expect(a.status == b.status, "\(probe)")
            let multipart = a.header("content-type")?.hasPrefix("multipart/") == true
            func comparable(_ r: KeepAliveClient.Response) -> [String] {
                r.headers.filter { $0.name != "date" && !(multipart && $0.name == "content-type") && !(multipart && $0.name == "content-length") }
                    .map { "\($0.name): \($0.value)" }.sorted()
            }
            #expect(comparable(a) == comparable(b), "\(probe)")
            if !multipart { #expect(a.body == b.body, "\(probe)") }
        }
        // The single ranges, HEADs, 304s and the If-Range answers above took the fast lane.
        #expect(fast.server.fastLaneResponses - before >= 10)
        #expect(general.server.fastLaneResponses == 0)
        let body = TestMedia.bytes("demo_160kbps.ogg")
        #expect(pairs[1].0?.body == Array(body[1000...5095]))
        await fast.stop()
        await general.stop()
    }

    /// Large bodies of a rendition that is a file leave from that file with `sendfile`, and only
    /// while the file is the version the cache holds: a file rewritten in place is not sent.
    @Test func largeBodiesLeaveFromTheFileOnlyWhileItIsTheCachedVersion() async throws {
        let media = try CacheTests.mediaCopy()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media; $0.revalidateMilliseconds = 3_600_000 }) { server in
            let target = server.sign(Self.track)
            try await Self.warm(server, target)
            let body = TestMedia.bytes("demo_160kbps.ogg")
            let before = server.server.fastLaneResponses
            let range = try await server.fetch(target, headers: [("Range", "bytes=8192-49151")])
            #expect(range.status == 206 && range.body == Array(body[8192...49151]))
            let whole = try await server.fetch(target)
            #expect(whole.status == 200 && whole.body == body)
            #expect(server.server.fastLaneResponses - before == 2, "both answered by the fast lane")
            // Rewritten in place (same inode, other bytes and size): the cached version is still
            // the one answered within the revalidation interval, never the new bytes under its headers.
            let handle = try #require(FileHandle(forWritingAtPath: media + "/tracks/demo_160kbps.ogg"))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(TestMedia.bytes("demo_96kbps.ogg")))
            try handle.close()
            let afterRewrite = try await server.fetch(target, headers: [("Range", "bytes=8192-49151")])
            #expect(afterRewrite.status == 206 && afterRewrite.body == Array(body[8192...49151]))
            let wholeAfter = try await server.fetch(target)
            #expect(wholeAfter.status == 200 && wholeAfter.body == body)
            #expect(wholeAfter.header("ETag") == whole.header("ETag"))
        }
    }

    /// Warms the test track, then sends the requests `batch` builds (given the client and the
    /// track's signed target) in one write on one keep-alive connection and reads one response per
    /// entry of `bodiless` (true: a response to `HEAD`), stopping at the first that does not come.
    static func oneWrite(
        _ server: TestServer, bodiless: [Bool], _ batch: @escaping @Sendable (KeepAliveClient, String) -> [UInt8]
    ) async throws -> [KeepAliveClient.Response] {
        let target = server.sign(Self.track)
        try await Self.warm(server, target)
        let port = server.port
        return await offload { () -> [KeepAliveClient.Response] in
            guard let client = KeepAliveClient(port: port) else { return [] }
            client.send(batch(client, target))
            var out: [KeepAliveClient.Response] = []
            for isHead in bodiless {
                guard let r = client.readResponse(bodiless: isHead) else { break }
                out.append(r)
            }
            return out
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await TestServer.with { server in
            let responses = try await Self.oneWrite(server, bodiless: [false, false, false, false, true, false]) { client, target in
                // General, fast, general, fast, fast, general: all in one write.
                var batch: [UInt8] = []
                batch += client.request("GET", "/healthz")
                batch += client.request("GET", target, headers: ["Range: bytes=0-99"])
                batch += client.request("GET", target, headers: ["Range: bytes=0-9,20-29"])
                batch += client.request("GET", target, headers: ["Range: bytes=100-199"])
                batch += client.request("HEAD", target)
                batch += client.request("GET", "/readyz")
                return batch
            }
            let body = TestMedia.bytes("demo_160kbps.ogg")
            try #require(responses.count == 6)
            #expect(responses[0].status == 200 && responses[0].body == Array("ok\n".utf8))
            #expect(responses[1].status == 206 && responses[1].body == Array(body[0...99]))
            #expect(responses[2].status == 206 && responses[2].header("content-type")?.hasPrefix("multipart/byteranges") == true)
            #expect(responses[3].status == 206 && responses[3].body == Array(body[100...199]))
            #expect(responses[4].status == 200 && responses[4].header("content-length") == String(body.count))
            #expect(responses[5].status == 200 && responses[5].body == Array("ready\n".utf8))
        }
    }

    /// Requests read straight from the socket's bytes (in front of NIO's decoder) and requests
    /// the decoder reads share a connection: a head split across writes, a body, a hand-on, in
    /// every order, and each answer is still the right one, in order.
    /// A body sent from the file whose length is not a whole number of TCP segments has its
    /// first `length % MSS` bytes carried behind the head, so the rest leaves in whole segments:
    /// every byte still arrives, in order, whether the bytes were carried or not.
    @Test func theFirstBytesOfAFileBodyGoWithTheHead() async throws {
        try await TestServer.with { server in
            let target = server.sign(Self.track)
            try await Self.warm(server, target)
            let body = TestMedia.bytes("demo_160kbps.ogg")
            try #require(body.count > 71_000)
            let port = server.port
            let before = server.server.fastLaneRuntsCarried
            // 66,000-byte bodies: a runt of 464, 2,512 or 517 bytes at the segment sizes loopback
            // goes through (32,768, 63,488, 65,483); 65,536 bytes: a runt of 53 at 65,483.
            let ranges = [(0, 65_999), (1_000, 66_999), (5_000, 70_999), (0, 65_535), (5_000, 70_535), (2_000, 67_999)]
            let responses = await offload { () -> [KeepAliveClient.Response] in
                guard let client = KeepAliveClient(port: port) else { return [] }
                return ranges.compactMap { client.exchange("GET", target, headers: ["Range: bytes=\($0.0)-\($0.1)"]) }
            }
            try #require(responses.count == ranges.count)
            for (r, (from, to)) in zip(responses, ranges) {
                #expect(r.status == 206)
                #expect(r.header("content-length") == String(to - from + 1))
                #expect(r.body == Array(body[from...to]), "bytes \(from)-\(to)")
            }
            #expect(server.server.fastLaneRuntsCarried - before >= 1)
            let records = try await server.deliveryRecords().filter { $0["range"] is String }.suffix(ranges.count)
            #expect(records.map { $0["bytes_sent"] as? Int } == ranges.map { $0.1 - $0.0 + 1 })
        }
    }

    @Test func rawAndDecodedRequestsShareAConnectionInOrder() async throws {
        try await TestServer.with { server in
            let target = server.sign(Self.track)
            try await Self.warm(server, target)
            let port = server.port
            let before = server.server.fastLaneResponses
            let responses = await offload { () -> [KeepAliveClient.Response] in
                guard let client = KeepAliveClient(port: port) else { return [] }
                var out: [KeepAliveClient.Response] = []
                // Fast first, then a general answer behind it, then fast again: one write.
                var batch: [UInt8] = []
                batch += client.request("GET", target, headers: ["Range: bytes=0-99"])
                batch += client.request("GET", "/healthz")
                batch += client.request("GET", target, headers: ["Range: bytes=200-299"])
                client.send(batch)
                for _ in 0..<3 { if let r = client.readResponse() { out.append(r) } }
                // A head split in two writes (the decoder reads the rest of this connection).
                // Should both halves still arrive in one read, the lane answers it itself: the
                // assertions below hold either way.
                let split = client.request("GET", target, headers: ["Range: bytes=300-399"])
                client.send(Array(split[..<20]))
                usleep(20_000)
                client.send(Array(split[20...]))
                if let r = client.readResponse() { out.append(r) }
                if let r = client.exchange("GET", target, headers: ["Range: bytes=400-499"]) { out.append(r) }
                return out
            }
            let body = TestMedia.bytes("demo_160kbps.ogg")
            try #require(responses.count == 5)
            #expect(responses[0].status == 206 && responses[0].body == Array(body[0...99]))
            #expect(responses[1].status == 200 && responses[1].body == Array("ok\n".utf8))
            #expect(responses[2].status == 206 && responses[2].body == Array(body[200...299]))
            #expect(responses[3].status == 206 && responses[3].body == Array(body[300...399]))
            #expect(responses[4].status == 206 && responses[4].body == Array(body[400...499]))
            // The first, and both after the split (the decoder reads them, the lane behind it answers).
            #expect(server.server.fastLaneResponses - before >= 3)
        }
    }

    /// A request with a body ahead of fast-lane candidates in one write: the decoder reads the
    /// body as the body, and the requests behind it are answered, not taken for body bytes or
    /// the other way round.
    @Test func aRequestWithABodyAheadOfCandidatesKeepsItsBody() async throws {
        try await TestServer.with { server in
            let responses = try await Self.oneWrite(server, bodiless: [false, false, false]) { client, target in
                // The body looks like a request the lane would answer.
                let smuggled = client.request("GET", target, headers: ["Range: bytes=0-0"])
                var batch: [UInt8] = []
                batch += client.request("GET", target, headers: ["Range: bytes=0-9"])
                batch += Array("POST /events/playback HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(smuggled.count)\r\n\r\n".utf8)
                batch += smuggled
                batch += client.request("GET", target, headers: ["Range: bytes=10-19"])
                return batch
            }
            let body = TestMedia.bytes("demo_160kbps.ogg")
            try #require(responses.count == 3)
            #expect(responses[0].status == 206 && responses[0].body == Array(body[0...9]))
            #expect(responses[1].status == 400)  // the body is not a beacon
            #expect(responses[2].status == 206 && responses[2].body == Array(body[10...19]))
        }
    }

    @Test func aConnectionServedByTheFastLaneIsNotCutAtTheHeadDeadline() async throws {
        try await TestServer.with(configure: { $0.limits.requestHeadTimeoutSeconds = 1 }) { server in
            let target = server.sign(Self.track)
            try await Self.warm(server, target)
            let before = server.server.fastLaneResponses
            let port = server.port
            let (first, second) = await offload { () -> (Int?, Int?) in
                guard let client = KeepAliveClient(port: port) else { return (nil, nil) }
                let first = client.exchange("GET", target, headers: ["Range: bytes=0-9"])?.status
                // Past the 1 s head deadline armed when the connection opened: only the
                // keep-alive timeout (re-armed by the fast answer) may apply now.
                Thread.sleep(forTimeInterval: 1.6)
                let second = client.exchange("GET", target, headers: ["Range: bytes=10-19"])?.status
                return (first, second)
            }
            #expect(first == 206)
            #expect(second == 206)  // on the same connection
            #expect(server.server.fastLaneResponses - before >= 1)
        }
    }

    /// Soak finding (issue 13): NIO's encoder frames each response for the method the decoder
    /// queued; fast answers never passed the encoder, so after a fast `HEAD` the next
    /// general-path answer on the connection went out as a `HEAD` answer: its head with
    /// `Content-Length`, no body, the client left waiting.
    @Test func aGeneralPathAnswerAfterFastAnswersOnTheSameConnectionKeepsItsBody() async throws {
        try await TestServer.with { server in
            let target = server.sign(Self.track)
            try await Self.warm(server, target)
            let missing = server.sign("/tracks/nothere_96kbps.ogg")
            let before = server.server.fastLaneResponses
            let port = server.port
            let answers = await offload { () -> [KeepAliveClient.Response?] in
                guard let client = KeepAliveClient(port: port, timeout: 5) else { return [] }
                return [
                    client.exchange("HEAD", target),
                    client.exchange("GET", "/healthz"),
                    client.exchange("HEAD", target),
                    client.exchange("GET", target, headers: ["Range: bytes=0-9"]),
                    client.exchange("GET", missing),
                    client.exchange("HEAD", "/healthz"),
                    client.exchange("GET", target, headers: ["Range: bytes=10-19"]),
                ]
            }
            #expect(server.server.fastLaneResponses - before >= 3)
            try #require(answers.count == 7)
            #expect(answers[0]?.status == 200)
            #expect(answers[1]?.status == 200)
            #expect(answers[1]?.body == Array("ok\n".utf8), "the general path's body after a fast HEAD")
            #expect(answers[3]?.body == Array(TestMedia.bytes("demo_160kbps.ogg")[0...9]))
            #expect(answers[4]?.status == 404)
            #expect(answers[4]?.body == Array(#"{"error":"not_found"}"#.utf8))
            #expect(answers[5]?.status == 200)
            #expect(answers[6]?.body == Array(TestMedia.bytes("demo_160kbps.ogg")[10...19]))
        }
    }

    @Test func aPurgeTakesEffectOnTheVeryNextRequest() async throws {
        try await TestServer.with { server in
            let target = server.sign(Self.track)
            try await Self.warm(server, target)
            #expect(try await server.fetch(target, headers: [("Range", "bytes=0-9")]).status == 206)
            let answered = server.server.fastLaneResponses
            #expect(answered >= 1)
            let purge = try await server.fetch("/admin/cache/demo_160kbps", method: .DELETE, headers: [("Authorization", "Bearer test-admin-token")])
            #expect(purge.status == 200 || purge.status == 204)
            let after = try await server.fetch(target, headers: [("Range", "bytes=0-9")])
            #expect(after.status == 206)
            #expect(server.server.fastLaneResponses == answered)
            let records = try await server.deliveryRecords()
            #expect(records.last?["cache"] as? String != "HIT")
        }
    }

    @Test func largeBodiesGoOutByteExact() async throws {
        try await TestServer.with(configure: { $0.revalidateMilliseconds = 3_600_000 }) { server in
            let path = "/tracks/demo_320kbps.ogg"
            let target = server.sign(path)
            try await Self.warm(server, target)
            let file = TestMedia.bytes("demo_320kbps.ogg")
            let before = server.server.fastLaneResponses
            let whole = try await server.fetch(target)
            #expect(whole.status == 200 && whole.body == file)
            let end = min(file.count - 1, 300_000)
            let range = try await server.fetch(target, headers: [("Range", "bytes=40000-\(end)")])
            #expect(range.status == 206 && range.body == Array(file[40000...end]))
            // Bodies up to one write (256 KiB) take the fast lane, bigger ones stream the general way.
            let expectedFast = (file.count <= 256 * 1024 ? 1 : 0) + (end - 40000 + 1 <= 256 * 1024 ? 1 : 0)
            #expect(server.server.fastLaneResponses - before == expectedFast)
            let records = try await server.deliveryRecords().suffix(2)
            #expect(records.map { $0["bytes_sent"] as? Int } == [file.count, end - 40000 + 1])
            #expect(records.allSatisfy { $0["cache"] as? String == "HIT" })
        }
    }

    @Test func aPurgeWhileABodyIsOnItsWayKeepsItsBytes() async throws {
        try await TestServer.with(configure: { $0.revalidateMilliseconds = 3_600_000 }) { server in
            let path = "/tracks/demo_320kbps.ogg"
            let target = server.sign(path)
            try await Self.warm(server, target)
            let file = TestMedia.bytes("demo_320kbps.ogg")
            let port = server.port
            // A client with a small window: the body waits in the socket while the purge runs.
            let fd = RawHTTP.connectLoopback(port: port, receiveBuffer: 4096)
            try #require(fd >= 0)
            defer { close(fd) }
            let request = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            let purge = try await server.fetch("/admin/cache/demo_320kbps", method: .DELETE, headers: [("Authorization", "Bearer test-admin-token")])
            #expect(purge.status == 200 || purge.status == 204)
            // Other renditions keep filling the cache meanwhile.
            #expect(try await server.fetch(server.sign("/tracks/demo_96kbps.ogg")).status == 200)
            let response = await RawHTTP.readAll(fd: fd, timeout: 20, readLimit: file.count + 4096)
            let head = try #require(RawHTTP.headEnd(response.response))
            let body = Array(response.response[(head + 4)...])
            let firstDifference = (0..<min(body.count, file.count)).first { body[$0] != file[$0] }
            #expect(body.count == file.count && firstDifference == nil, "\(body.count) of \(file.count) bytes, first difference at \(firstDifference.map(String.init) ?? "none")")

        }
    }

    /// Heap allocations are deterministic per request, so the budget is a plain count: a cached
    /// range request costs the event loop at most 20 allocations (decode, answer, log, metrics).
    @Test(.enabled(if: oggedge_allocations_counted() != 0, "a sanitizer owns malloc in this build"))
    func aCachedRangeAllocatesAtMostTwentyTimes() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Revalidation far away, so every request of the run is a fresh hit however slow the machine.
        let server = try await TestServer.start(eventLoopGroup: group) { $0.revalidateMilliseconds = 3_600_000 }
        let target = server.sign(Self.track)
        try await Self.warm(server, target)
        let loop = group.next()
        let count: @Sendable () async throws -> UInt64 = { try await loop.submit { oggedge_thread_allocations() }.get() }
        let port = server.port
        let requests = 400
        let span = TestMedia.bytes("demo_160kbps.ogg").count - 4096
        try #require(span > 0)
        let warmed = await offload { () -> KeepAliveClientBox? in
            guard let client = KeepAliveClient(port: port) else { return nil }
            for i in 0..<50 { _ = client.exchange("GET", target, headers: ["Range: bytes=\(i * 97)-\(i * 97 + 4095)"]) }
            return KeepAliveClientBox(client)
        }
        let box = try #require(warmed)
        let answeredBefore = server.server.fastLaneResponses
        let before = try await count()
        let statuses = await offload { () -> Int in
            var ok = 0
            for i in 0..<requests {
                let start = (i * 7919) % span
                if box.client.exchange("GET", target, headers: ["Range: bytes=\(start)-\(start + 4095)"])?.status == 206 { ok += 1 }
            }
            return ok
        }
        await server.server.responsesLogged()
        let after = try await count()
        #expect(statuses == requests)
        #expect(server.server.fastLaneResponses - answeredBefore == requests)
        let perRequest = Double(after - before) / Double(requests)
        print("fast lane: \(perRequest) heap allocations per cached 4 KiB range (this build)")
        #expect(perRequest <= 20, "allocations per cached range: \(perRequest)")
        await server.stop()
        try await group.shutdownGracefully()
    }
}

/// Carries a client between the blocking threads of one test.
final class KeepAliveClientBox: @unchecked Sendable {
    let client: KeepAliveClient
    init(_ client: KeepAliveClient) { self.client = client }
}
