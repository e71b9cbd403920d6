import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OggEdgeCore
import OggEdgeDelivery
@testable import OggEdgeServer
import OggEdgeTesting
@testable import OggEdgeUpstream
import Testing

/// The streaming proxy tier with real servers on loopback: edges with no media in front of
/// parent OggEdges (and nginx when installed), plus one deliberately stalling parent.
@Suite(.serialized) struct UpstreamTests {
    /// A media directory with nothing in it: everything an edge serves comes from its parents.
    static func emptyMedia() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-edge-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir + "/tracks", withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: dir + "/masters", withIntermediateDirectories: true)
        return dir
    }

    /// An edge configuration: no media, these parents, short timeouts for the tests.
    static func edge(_ parents: [String], sliceChunks: Int = 4, stallMs: Int = 2000) -> (inout OriginConfiguration) -> Void {
        { config in
            config.mediaDirectory = emptyMedia()
            config.upstreams = parents
            config.upstreamOptions.sliceChunks = sliceChunks
            config.upstreamOptions.stallTimeout = .milliseconds(stallMs)
            config.upstreamOptions.connectTimeout = .milliseconds(500)
            config.upstreamOptions.firstByteTimeout = .seconds(5)
        }
    }

    static func records(_ server: TestServer, path: String) async throws -> [[String: Any]] {
        try await server.deliveryRecords().filter { ($0["path"] as? String) == path }
    }

    static func bytesServed(_ records: [[String: Any]]) -> Int {
        records.compactMap { $0["bytes_sent"] as? Int }.reduce(0, +)
    }

    @Test func anEdgeServesAParentsRenditionByteExactUpstreamThenHitSignedWithItsOwnKey() async throws {
        try await TestServer.with { parent in
            // The edge verifies players with k3, a key the parent does not know; it signs with k1.
            let ring = try KeyRing(parsing: "k1:" + Data(TestServer.secret).base64EncodedString() + ",k3:" + Data(repeating: 0x33, count: 32).base64EncodedString())
            try await TestServer.with(configure: { config in
                Self.edge([parent.baseURL])(&config)
                config.keys = ring
            }) { edge in
                let name = "demo_160kbps.ogg"
                let path = "/tracks/" + name
                let player = URLSigner.sign(
                    path: path, key: try #require(ring.key(for: "k3")), expires: Int64(Date().timeIntervalSince1970) + 600, uid: "player-42"
                )
                let first = try await edge.fetch(player)
                #expect(first.status == 200)
                #expect(first.body == TestMedia.bytes(name))
                let direct = try await parent.fetch(parent.sign(path))
                #expect(first.header("ETag") == direct.header("ETag"))
                #expect(first.header("Last-Modified") == direct.header("Last-Modified"))
                #expect(first.header("X-Content-Duration") == direct.header("X-Content-Duration"))
                #expect(first.header("Content-Length") == String(direct.body.count))
                let second = try await edge.fetch(player)
                #expect(second.body == first.body)
                let range = try await edge.fetch(player, headers: [("Range", "bytes=1000-1999")])
                #expect(range.status == 206)
                #expect(range.body == Array(direct.body[1000...1999]))
                let etag = try #require(first.header("ETag"))
                #expect(try await edge.fetch(player, headers: [("If-None-Match", etag)]).status == 304)
                #expect(try await CacheTests.cacheField(edge) == ["UPSTREAM", "HIT", "HIT", "HIT"])
                // Playback start is measured on the edge too, from the pull's first chunk.
                let logged = try await edge.deliveryRecords().filter { $0["track"] is String }
                #expect(logged.first?["playback_start_us"] is Int)

                // The parent saw the edge's own signature, never the player's token, which it refuses.
                let seen = try await Self.records(parent, path: path)
                let fromEdge = seen.filter { ($0["uid"] as? String) == "oggedge-edge" }
                #expect(!fromEdge.isEmpty)
                #expect(fromEdge.allSatisfy { ($0["auth"] as? String) == "ok" && ($0["status"] as? Int) == 206 })
                #expect(!seen.contains { ($0["uid"] as? String) == "player-42" })
                #expect(Self.bytesServed(fromEdge) == direct.body.count)
                let refused = try await parent.fetch(player)
                #expect(refused.status == 403)
                #expect(refused.bodyText == #"{"error":"unknown_key"}"#)
            }
        }
    }

    @Test func randomRangesOnColdEdgesAreByteExactAcrossSliceBoundaries() async throws {
        let name = TestMedia.bigTracks[0]
        let file = TestMedia.bytes(name)
        let length = file.count
        var rng = SplitMix64(seed: 0x0991_edce)
        try await TestServer.with { parent in
            for _ in 0..<3 {
                // Two 64 KiB chunks per slice: a 0.8 MB rendition has a dozen slice boundaries.
                try await TestServer.with(configure: Self.edge([parent.baseURL], sliceChunks: 2)) { edge in
                    let target = edge.sign("/tracks/" + name)
                    for _ in 0..<12 {
                        let a = Int(rng.next() % UInt64(length))
                        let span = Int(rng.next() % 300_000)
                        let header: String
                        let expected: ClosedRange<Int>
                        switch rng.next() % 4 {
                        case 0:
                            header = "bytes=\(a)-"
                            expected = a...(length - 1)
                        case 1:
                            let n = max(1, span)
                            header = "bytes=-\(n)"
                            expected = max(0, length - n)...(length - 1)
                        default:
                            let b = min(length - 1, a + span)
                            header = "bytes=\(a)-\(b)"
                            expected = a...b
                        }
                        let response = try await edge.fetch(target, headers: [("Range", header)])
                        #expect(response.status == 206, "\(header)")
                        #expect(response.header("Content-Range") == "bytes \(expected.lowerBound)-\(expected.upperBound)/\(length)", "\(header)")
                        #expect(response.body == Array(file[expected]), "\(header)")
                    }
                    let whole = try await edge.fetch(target)
                    #expect(whole.body == file)
                }
            }
            // A HEAD and a multi-range request as the first requests of cold edges.
            try await TestServer.with(configure: Self.edge([parent.baseURL], sliceChunks: 2)) { edge in
                let target = edge.sign("/tracks/" + name)
                let head = try await edge.fetch(target, method: .HEAD)
                #expect(head.status == 200)
                #expect(head.header("Content-Length") == String(length))
                #expect(head.body.isEmpty)
            }
            try await TestServer.with(configure: Self.edge([parent.baseURL], sliceChunks: 2)) { edge in
                let target = edge.sign("/tracks/" + name)
                let multi = try await edge.fetch(target, headers: [("Range", "bytes=10-19,\(length - 10)-\(length - 1)")])
                #expect(multi.status == 206)
                #expect(multi.header("Content-Type")?.hasPrefix("multipart/byteranges") == true)
                let text = String(decoding: multi.body, as: UTF8.self)
                #expect(text.contains("Content-Range: bytes 10-19/\(length)"))
                #expect(text.contains("Content-Range: bytes \(length - 10)-\(length - 1)/\(length)"))
                #expect(multi.body.count > 20)
            }
        }
    }

    @Test func concurrentPlayersOfAColdRenditionCostOneUpstreamFetchOfEachByte() async throws {
        let name = TestMedia.bigTracks[1]
        let file = TestMedia.bytes(name)
        try await TestServer.with { parent in
            try await TestServer.with(configure: Self.edge([parent.baseURL])) { edge in
                let target = edge.sign("/tracks/" + name)
                let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                    for _ in 0..<24 { group.addTask { try await edge.fetch(target).body } }
                    var all: [[UInt8]] = []
                    for try await body in group { all.append(body) }
                    return all
                }
                #expect(bodies.count == 24)
                #expect(bodies.allSatisfy { $0 == file })
                let fetched = try await Self.records(parent, path: "/tracks/" + name)
                #expect(Self.bytesServed(fetched) == file.count, "parent sent \(Self.bytesServed(fetched)) bytes in \(fetched.count) responses")
                #expect(fetched.count == 1, "\(fetched.count) upstream requests for \(file.count) bytes")
                let caches = try await CacheTests.cacheField(edge)
                #expect(caches.filter { $0 == "UPSTREAM" }.count == 1, "\(caches)")
                #expect(caches.allSatisfy { ["UPSTREAM", "COALESCED", "HIT"].contains($0) }, "\(caches)")
            }
        }
    }

    /// A parent as a real `oggedge serve` process (killed with SIGKILL, like a crash).
    struct ParentProcess {
        let running: KillRecoveryTests.Running
        var baseURL: String { "http://127.0.0.1:\(running.port)" }

        static func start() async throws -> ParentProcess {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-parent-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let running = try await KillRecoveryTests.start(cacheDir: dir + "/cache", logDir: dir)
            try #require(running.port > 0)
            return ParentProcess(running: running)
        }

        func kill9() async {
            guard running.process.isRunning else { return }
            kill(running.process.processIdentifier, SIGKILL)
            await offload { running.process.waitUntilExit() }
        }
    }

    @Test func aParentKilledMidResponseIsReplacedAndTheResponseCompletesByteExact() async throws {
        let name = TestMedia.hugeTrack
        let file = TestMedia.bytes(name)
        let first = try await ParentProcess.start()
        let second = try await ParentProcess.start()
        do {
            try await TestServer.with(configure: Self.edge([first.baseURL, second.baseURL], sliceChunks: 1)) { edge in
                let tier = try #require(edge.server.parentTier)
                let trackId = String(name.prefix { $0 != "_" })
                let primaryIndex = tier.pool.rendezvous(for: trackId)[0]
                let primary = primaryIndex == 0 ? first : second
                // A slow player: a small receive window, and it reads nothing until the parent is gone.
                let fd = RawHTTP.connectLoopback(port: edge.port, receiveBuffer: 8192)
                try #require(fd >= 0)
                let request = Array("GET \(edge.sign("/tracks/" + name)) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
                _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                let (start, _) = await RawHTTP.readAll(fd: fd, timeout: 20, readLimit: 1)
                try #require(!start.isEmpty)
                await primary.kill9()
                let rest = await Self.readToClose(fd)
                let bytes = start + rest
                let sep = try #require(RawHTTP.headEnd(bytes))
                #expect(String(decoding: bytes[..<sep], as: UTF8.self).hasPrefix("HTTP/1.1 200"))
                let body = Array(bytes[(sep + 4)...])
                #expect(body.count == file.count)
                #expect(body == file)
                // The pull runs ahead of this slow player: whether the primary died before or
                // after it sent the last byte, the player's response is whole and exact (the
                // deterministic mid-body case is the next test's parent that hangs up).
                _ = tier.answers(from: 1 - primaryIndex)
            }
        } catch {
            await first.kill9()
            await second.kill9()
            throw error
        }
        await first.kill9()
        await second.kill9()
    }

    /// A rendition the stalling parent made by `make` is asked for first (rendezvous order, with
    /// `real` as the second parent), and that parent; `make` may skip a candidate (nil).
    static func stallingParentAskedFirst(
        beside real: TestServer, make: (String) async throws -> StallingParent?
    ) async throws -> (StallingParent, String) {
        // The order depends on the parents' ports; each attempt starts the parent on a new port,
        // so a few rounds make a miss (1 in 2 per name and round) vanishingly rare.
        for _ in 0..<8 {
            for name in ["demo_160kbps.ogg", "onlyhi_320kbps.ogg"] + TestMedia.bigTracks {
                guard let parent = try await make(name) else { continue }
                let pool = ParentPool(parents: try ["http://127.0.0.1:\(parent.port)", real.baseURL].map { try ParentEndpoint(parsing: $0) }, coolDown: .seconds(1))
                if pool.rendezvous(for: String(name.prefix { $0 != "_" }))[0] == 0 { return (parent, name) }
                await parent.stop()
            }
        }
        throw StallingParentNotFirst()
    }

    struct StallingParentNotFirst: Error {}

    /// `otherCopy`: the first parent names its copy with another ETag (as two OggEdge parents with
    /// separate copies of the same file do): the resume is trusted on the bytes it repeats.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func aParentThatStallsOrHangsUpMidBodyIsReplacedAndTheBodyResumesFromTheNextParent(hangsUp: Bool, otherCopy: Bool) async throws {
        try await TestServer.with { real in
            let sendBytes = 10_000
            let (parent, name) = try await Self.stallingParentAskedFirst(beside: real) { name in
                let head = try await real.fetch(real.sign("/tracks/" + name), method: .HEAD)
                return try await StallingParent.start(
                    media: TestMedia.directory, etag: otherCopy ? "\"another-copy\"" : try #require(head.header("ETag")),
                    lastModified: try #require(head.header("Last-Modified")), sendBytes: sendBytes, thenClose: hangsUp
                )
            }
            try await TestServer.with(configure: Self.edge(["http://127.0.0.1:\(parent.port)", real.baseURL], stallMs: 300)) { edge in
                let response = try await edge.fetch(edge.sign("/tracks/" + name))
                #expect(response.status == 200)
                #expect(response.body == TestMedia.bytes(name))
                #expect(parent.requests >= 1)
                let resumed = try await Self.records(real, path: "/tracks/" + name).filter { ($0["uid"] as? String) == "oggedge-edge" }
                let resumeStart = otherCopy ? sendBytes - min(sendBytes, 16 * 1024) : sendBytes
                #expect(resumed.contains { ($0["range_start"] as? Int) == resumeStart }, "no resume from byte \(resumeStart)")
                #expect(try await CacheTests.cacheField(edge) == ["UPSTREAM"])
            }
            await parent.stop()
        }
    }

    /// A parent whose copy has other bytes (and another ETag) cannot continue a body: the
    /// response is cut rather than mixing two versions, and nothing of it is kept.
    @Test func aResumeFromACopyWithOtherBytesIsRefused() async throws {
        let altered = try CacheTests.mediaCopy()
        defer { try? FileManager.default.removeItem(atPath: altered) }
        try await TestServer.with { real in
            let (parent, name) = try await Self.stallingParentAskedFirst(beside: real) { name in
                var bytes = TestMedia.bytes(name)
                guard bytes.count > 20_000 else { return nil }
                for i in 5_000..<9_000 { bytes[i] ^= 0x5a }
                try Data(bytes).write(to: URL(fileURLWithPath: altered + "/tracks/" + name))
                return try await StallingParent.start(media: altered, etag: "\"altered\"", lastModified: "", sendBytes: 10_000)
            }
            try await TestServer.with(configure: Self.edge(["http://127.0.0.1:\(parent.port)", real.baseURL], stallMs: 300)) { edge in
                let original = TestMedia.bytes(name)
                // Cut short (an error or fewer bytes), never a whole body of mixed versions.
                let cut = try? await edge.fetch(edge.sign("/tracks/" + name))
                #expect(cut == nil || cut!.body.count < original.count)
                // The next request does not get the mixed copy.
                await parent.stop()
                let next = try? await edge.fetch(edge.sign("/tracks/" + name))
                if let next, next.status == 200 { #expect(next.body == original) }
            }
        }
    }

    @Test func everyParentDownIsACleanBadGatewayAndA404IsRemembered() async throws {
        // Ports that were just free: nothing listens there.
        let dead = try await TestServer.start()
        let deadURL = dead.baseURL
        await dead.stop()
        try await TestServer.with(configure: Self.edge([deadURL])) { edge in
            let response = try await edge.fetch(edge.sign("/tracks/demo_160kbps.ogg"))
            #expect(response.status == 502)
            #expect(response.bodyText == #"{"error":"upstream_unavailable"}"#)
            #expect(try await edge.fetch("/healthz").status == 200)
        }

        let media = try CacheTests.mediaCopy()

        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { parent in
            try await TestServer.with(configure: Self.edge([parent.baseURL])) { edge in
                let target = edge.sign("/tracks/later_160kbps.ogg")
                let missing = try await edge.fetch(target)
                #expect(missing.status == 404)
                #expect(missing.bodyText == #"{"error":"not_found"}"#)
                // The parent gets it now, but the edge remembers the 404 (negative TTL 10 s).
                try FileManager.default.copyItem(atPath: media + "/tracks/demo_160kbps.ogg", toPath: media + "/tracks/later_160kbps.ogg")
                #expect(try await edge.fetch(target).status == 404)
                #expect(try await Self.records(parent, path: "/tracks/later_160kbps.ogg").count == 1)
                // A purge forgets the 404 at once.
                let auth = [("Authorization", "Bearer test-admin-token")]
                _ = try await edge.fetch("/admin/cache/later_160kbps", method: .DELETE, headers: auth)
                let found = try await edge.fetch(target)
                #expect(found.status == 200)
                #expect(found.body == TestMedia.bytes("demo_160kbps.ogg"))
            }
        }
    }

    @Test func aKnownRenditionWhoseBytesNoParentCanDeliverIsACleanBadGatewayNotACutResponse() async throws {
        let name = TestMedia.hugeTrack
        let file = TestMedia.bytes(name)
        let parent = try await ParentProcess.start()
        do {
            try await TestServer.with(configure: Self.edge([parent.baseURL])) { edge in
                let target = edge.sign("/tracks/" + name)
                // A cold seek pulls from its slice to the end: the head stays with the parent.
                let seek = file.count - 300_000
                try #require(seek > 1 << 20)
                let tail = try await edge.fetch(target, headers: [("Range", "bytes=\(seek)-")])
                #expect(tail.body == Array(file[seek...]))
                await parent.kill9()
                let evicted = try await edge.fetch(target, headers: [("Range", "bytes=0-999")])
                #expect(evicted.status == 502)
                #expect(evicted.bodyText == #"{"error":"upstream_unavailable"}"#)
                let caches = try await CacheTests.cacheField(edge)
                #expect(caches == ["UPSTREAM", "ERROR"], "\(caches)")
            }
        } catch {
            await parent.kill9()
            throw error
        }
        await parent.kill9()
    }

    @Test func aParentThatNeverAnswersIsAGatewayTimeout() async throws {
        let silent = try await StallingParent.start(media: TestMedia.directory, etag: "\"x\"", lastModified: "", sendBytes: -1)
        try await TestServer.with(configure: { config in
            Self.edge(["http://127.0.0.1:\(silent.port)"])(&config)
            config.upstreamOptions.firstByteTimeout = .milliseconds(300)
        }) { edge in
            let response = try await edge.fetch(edge.sign("/tracks/demo_160kbps.ogg"))
            #expect(response.status == 504)
            #expect(response.bodyText == #"{"error":"upstream_timeout"}"#)
        }
        await silent.stop()
    }

    @Test func aCachedCopyIsRevalidatedInTheBackgroundAndDroppedWhenTheParentsETagChanges() async throws {
        let media = try CacheTests.mediaCopy()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media; $0.revalidateMilliseconds = 0 }) { parent in
            try await TestServer.with(configure: { config in
                Self.edge([parent.baseURL])(&config)
                config.upstreamRevalidateSeconds = 0
            }) { edge in
                let target = edge.sign("/tracks/demo_160kbps.ogg")
                let old = TestMedia.bytes("demo_160kbps.ogg")
                #expect(try await edge.fetch(target).body == old)
                // Due at once (interval 0): served from the cache, revalidated behind it (304).
                #expect(try await edge.fetch(target).body == old)
                await edge.server.directory.upstreamRevalidationsSettled()
                let asked = try await Self.records(parent, path: "/tracks/demo_160kbps.ogg")
                #expect(asked.contains { ($0["status"] as? Int) == 304 })
                // The parent's file is replaced: the next hit still serves the cached copy, and
                // its revalidation drops it, so the request after pulls the new version.
                let fresh = TestMedia.bytes("demo_96kbps.ogg")
                try Data(fresh).write(to: URL(fileURLWithPath: media + "/tracks/new.tmp"))
                #expect(rename(media + "/tracks/new.tmp", media + "/tracks/demo_160kbps.ogg") == 0)
                #expect(try await edge.fetch(target).body == old)
                await edge.server.directory.upstreamRevalidationsSettled()
                let again = try await edge.fetch(target)
                #expect(again.body == fresh)
                #expect(try await CacheTests.cacheField(edge) == ["UPSTREAM", "HIT", "HIT", "UPSTREAM"])
            }
        }
    }

    @Test func aRestartedEdgeServesItsCachedCopyWithoutPullingItAgain() async throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-edge-cache-\(UUID().uuidString)").path
        let name = TestMedia.bigTracks[4]
        try await TestServer.with { parent in
            for _ in 0..<2 {
                try await TestServer.with(configure: { config in
                    Self.edge([parent.baseURL])(&config)
                    config.cacheDirectory = cache
                }) { edge in
                    let response = try await edge.fetch(edge.sign("/tracks/" + name))
                    #expect(response.body == TestMedia.bytes(name))
                }
            }
            let pulled = try await Self.records(parent, path: "/tracks/" + name).filter { ($0["status"] as? Int) == 206 }
            #expect(Self.bytesServed(pulled) == TestMedia.bytes(name).count)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"), "nginx is not installed"))
    func anEdgeInFrontOfNginxServesItsFilesByteExact() async throws {
        let nginx = try await NginxParent.start(root: TestMedia.directory)
        defer { nginx.stop() }
        try await TestServer.with(configure: Self.edge([nginx.baseURL], sliceChunks: 2)) { edge in
            let name = TestMedia.bigTracks[2]
            let file = TestMedia.bytes(name)
            let target = edge.sign("/tracks/" + name)
            let whole = try await edge.fetch(target)
            #expect(whole.status == 200)
            #expect(whole.body == file)
            #expect(whole.header("ETag")?.hasPrefix("\"") == true)
            let seek = try await edge.fetch(target, headers: [("Range", "bytes=300000-400000")])
            #expect(seek.body == Array(file[300_000...400_000]))
            let cold = TestMedia.bigTracks[3]
            let coldSeek = try await edge.fetch(edge.sign("/tracks/" + cold), headers: [("Range", "bytes=500000-")])
            #expect(coldSeek.status == 206)
            #expect(coldSeek.body == Array(TestMedia.bytes(cold)[500_000...]))
            #expect(try await CacheTests.cacheField(edge) == ["UPSTREAM", "HIT", "UPSTREAM"])
        }
    }

    static func readToClose(_ fd: Int32) async -> [UInt8] {
        await offload { () -> [UInt8] in
            var tv = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                out.append(contentsOf: buffer[0..<n])
            }
            close(fd)
            return out
        }
    }
}

/// A seeded generator, so a failing random range can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
