import Foundation
import OggEdgeCache
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import OggEdgeServer
import Testing

/// Misses of a rendition that is a file in `tracks/`: the fast lane answers them from the file
/// on the loop when its pages are in memory (the chunks it read go to the fill session, as a
/// general-path reader's load would). That it never waits for a disk is held by
/// `ResidentFillTests` (OggEdgeDeliveryTests).
@Suite struct FastLaneMissTests {
    /// A 0.8 MB rendition (13 chunks), made before the media is copied.
    static func mediaWithBigTracks() throws -> (media: String, name: String) {
        let name = TestMedia.bigTracks[0]
        return (try CacheTests.mediaCopy(), name)
    }

    /// A server over a copy of the media with ``mediaWithBigTracks()``'s rendition (the directory
    /// not revalidated during the test): `body` gets the server, that rendition's file path and
    /// its signed target.
    static func withBigTrack(_ body: (TestServer, _ path: String, _ target: String) async throws -> Void) async throws {
        let (media, name) = try mediaWithBigTracks()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media; $0.revalidateMilliseconds = 3_600_000 }) { server in
            try await body(server, media + "/tracks/" + name, server.sign("/tracks/" + name))
        }
    }

    static func committed(_ server: TestServer) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            guard let store = server.server.store else { return done.resume() }
            store.afterQueuedWrites { done.resume() }
        }
    }

    @Test func aMissIsAnsweredFromTheFileByteExactAndFillsTheCache() async throws {
        try await Self.withBigTrack { server, path, target in
            // Read whole first: its pages are in the page cache, as a played catalogue's are.
            let body = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(body.count > 300_000)
            // The general path learns the rendition (and caches chunk 0 only).
            #expect(try await server.fetch(target, headers: [("Range", "bytes=0-99")]).status == 206)
            await Self.committed(server)
            let before = server.server.fastLaneResponses
            // Chunk 2 (a small body, normally copied from the cache), then chunks 3 and 4 (a body
            // sent with `sendfile`): neither is cached.
            let small = try await server.fetch(target, headers: [("Range", "bytes=140000-140999")])
            let large = try await server.fetch(target, headers: [("Range", "bytes=200000-299999")])
            #expect(small.status == 206 && small.body == Array(body[140000...140999]))
            #expect(small.header("Content-Range") == "bytes 140000-140999/\(body.count)")
            #expect(large.status == 206 && large.body == Array(body[200000...299999]))
            #expect(server.server.fastLaneResponses - before == 2, "both misses answered by the fast lane")
            await Self.committed(server)
            // What they read is in the cache now: chunks 2-4 whole are a hit.
            let again = try await server.fetch(target, headers: [("Range", "bytes=140000-299999")])
            #expect(again.status == 206 && again.body == Array(body[140000...299999]))
            #expect(server.server.fastLaneResponses - before == 3)
            #expect(try await CacheTests.cacheField(server) == ["MISS", "MISS", "MISS", "HIT"])
            let records = try await server.deliveryRecords().filter { $0["track"] is String }
            #expect(records.map { $0["bytes_sent"] as? Int } == [100, 1000, 100_000, 160_000])
        }
    }

    /// A file rewritten in place after its rendition was learnt: a miss is not answered from the
    /// new bytes under the old headers, by either path.
    /// A body sent from the file leaves its first `length % MSS` bytes behind the head; on a hit
    /// they are copied from the cached chunks (also across a chunk boundary), on a miss read from
    /// the file: either way the client gets the file's bytes.
    @Test func theBytesCarriedBehindTheHeadAreTheFilesFromTheCacheOrTheFile() async throws {
        try await Self.withBigTrack { server, path, target in
            let body = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(try await server.fetch(target, headers: [("Range", "bytes=0-99")]).status == 206)
            await Self.committed(server)
            // Misses first (read from the file, runts included), then the same ranges as hits.
            // Bodies of 70,000 to 140,000 bytes leave a runt under every MSS loopback uses
            // (32,768, 47,616, 65,483); starts off the 64 KiB chunk grid put runts across a chunk
            // boundary.
            let ranges: [(Int, Int)] = [(65_000, 70_000), (131_000, 100_000), (300_000, 140_000), (400_100, 99_999)]
            let carriedBefore = server.server.fastLaneRuntsCarried
            for round in 0..<2 {
                for (start, length) in ranges {
                    let end = start + length - 1
                    let answer = try await server.fetch(target, headers: [("Range", "bytes=\(start)-\(end)")])
                    #expect(answer.status == 206 && answer.body == Array(body[start...end]), "round \(round), \(start)-\(end)")
                }
                await Self.committed(server)
            }
            #expect(try await CacheTests.cacheField(server).suffix(8) == Array(repeating: "MISS", count: 4) + Array(repeating: "HIT", count: 4))
            #expect(server.server.fastLaneRuntsCarried - carriedBefore >= 2, "runts carried")
            #expect(server.server.fastLaneRuntsFromCache >= 1, "a hit's runt came from the cache")
            #expect(server.server.fastLaneRuntsFromCache < server.server.fastLaneRuntsCarried, "a miss's runt came from the file")
        }
    }

    @Test func aMissOfAFileRewrittenInPlaceIsNotAnsweredFromTheNewBytes() async throws {
        try await Self.withBigTrack { server, path, target in
            let first = try await server.fetch(target, headers: [("Range", "bytes=0-99")])
            #expect(first.status == 206)
            await Self.committed(server)
            let other = TestMedia.bytes(TestMedia.bigTracks[1])
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(other))
            try handle.close()
            let before = server.server.fastLaneResponses
            // The general path fails such a response loudly (its connection closed) while the
            // directory still names the old version; the lane must not answer it at all.
            let r = try? await server.fetch(target, headers: [("Range", "bytes=200000-200999")])
            #expect(server.server.fastLaneResponses == before, "the lane does not answer from a changed file")
            #expect(r?.status != 500)
            // The new bytes only ever under the new version's validator.
            if let r, r.status == 206 {
                #expect(r.header("ETag") != first.header("ETag"))
                #expect(r.body == Array(other[200000...200999]))
            }
        }
    }

    /// Past a loop's bound of open files (``FastLaneShared/maxOriginFiles``, set to 16 here), a miss is sent from the
    /// file opened for that one answer; the file must stay open until the socket took the body
    /// (it is written at the end of the read cycle, after the lane let go of it). One event loop,
    /// so every rendition counts against the same bound; hard links, so the catalogue costs no
    /// disk.
    @Test func missesPastTheBoundOfOpenFilesSendEveryByte() async throws {
        let (media, name) = try Self.mediaWithBigTracks()
        defer { try? FileManager.default.removeItem(atPath: media) }
        let body = Array(try Data(contentsOf: URL(fileURLWithPath: media + "/tracks/" + name)))
        let bound = 16
        let count = bound + 44
        for i in 0..<count { #expect(link(media + "/tracks/" + name, media + "/tracks/link\(i)_320kbps.ogg") == 0) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await TestServer.start(eventLoopGroup: group) {
            $0.mediaDirectory = media
            $0.revalidateMilliseconds = 3_600_000
            $0.limits.originFilesPerLoop = bound
        }
        do {
            let before = server.server.fastLaneResponses
            var failed: [Int] = []
            for i in 0..<count {
                let target = server.sign("/tracks/link\(i)_320kbps.ogg")
                // The general path learns the rendition; the lane answers the second range, a miss.
                guard try await server.fetch(target, headers: [("Range", "bytes=0-99")]).status == 206 else { failed.append(i); continue }
                let r = try? await server.fetch(target, headers: [("Range", "bytes=200000-299999")])
                if r?.status != 206 || r?.body != Array(body[200000...299999]) { failed.append(i) }
            }
            #expect(failed.isEmpty, "ranges not answered whole: \(failed.prefix(10))")
            #expect(server.server.fastLaneResponses - before == count, "the lane answered every miss (44 of them past the bound)")
            let records = try await server.deliveryRecords().filter { ($0["range"] as? String) == "bytes=200000-299999" }
            #expect(records.count == count)
            #expect(records.allSatisfy { ($0["bytes_sent"] as? Int) == 100_000 && ($0["aborted"] as? Bool) == false })
        } catch {
            Issue.record(error)
        }
        await server.stop()
        try await group.shutdownGracefully()
    }
}
