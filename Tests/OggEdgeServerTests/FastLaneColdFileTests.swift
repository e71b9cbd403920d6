import CPosix
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import OggEdgeServer
import Testing

/// A hit whose bytes the fast lane would `sendfile` from the rendition's file, while that part
/// of the file is no longer in memory (reclaimed under memory pressure, or by a host that pages
/// out what has been idle for a minute): the lane must not make its event loop wait for the
/// disk, so the request goes the general way, which reads the chunk cache off the loop.
@Suite(.enabled(if: PageCacheProbe.canDropPages(), "needs cachestat(2) and a file system that drops clean pages"))
struct FastLaneColdFileTests {
    @Test func aHitOfAFileWhosePagesWereDroppedGoesTheGeneralWayByteExact() async throws {
        try await FastLaneMissTests.withBigTrack { server, path, target in
            let body = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            // The whole rendition into the chunk cache.
            let whole = try await server.fetch(target)
            #expect(whole.status == 200 && whole.body == body)
            await FastLaneMissTests.committed(server)
            let range = [("Range", "bytes=200000-299999")]
            let before = server.server.fastLaneResponses

            // Warm: a hit the lane sends from the file. (Another range than the one dropped
            // below: pages just sent with `sendfile` can stay referenced by the socket's queue for
            // a while, and such pages cannot be dropped.)
            let warm = try await server.fetch(target, headers: [("Range", "bytes=400000-499999")])
            #expect(warm.status == 206 && warm.body == Array(body[400000...499999]))
            #expect(server.server.fastLaneResponses == before + 1)
            #expect(server.server.fastLaneColdDeclines == 0)

            // Cold: the file's pages dropped. The lane declines the hit (the general way answers
            // it from the chunk cache, same bytes and headers) and asks the kernel to read the
            // range back, so later hits of it are the lane's again without anyone reading the file.
            try #require(PageCacheProbe.dropPages(path, offset: 200000, count: 100000))
            let cold = try await server.fetch(target, headers: range)
            #expect(cold.status == 206 && cold.body == Array(body[200000...299999]))
            #expect(cold.header("Content-Range") == "bytes 200000-299999/\(body.count)")
            #expect(server.server.fastLaneColdDeclines > 0)
            // The range back in memory (the kernel's read, asked for by the decline; nothing here
            // reads the file), then one more hit: the lane's again.
            let back = PageCacheProbe.waitResident(path, offset: 200000, count: 100000)
            #expect(back, "the declined range was not read back")
            let lane = server.server.fastLaneResponses
            let later = try await server.fetch(target, headers: range)
            #expect(later.status == 206 && later.body == Array(body[200000...299999]))
            #expect(server.server.fastLaneResponses == lane + 1, "answered by the lane again")
            #expect(try await CacheTests.cacheField(server) == ["MISS", "HIT", "HIT", "HIT"])
        }
    }
}

/// Whether this machine lets a test take a file's pages out of memory and see it.
enum PageCacheProbe {
    /// Drops the page cache's copy of `path` (clean pages of a file nobody maps); true once
    /// `cachestat` reports none of `count` bytes at `offset` resident. Tried for up to 5 s: a page
    /// just sent with `sendfile` stays referenced (and cannot be dropped) until the socket's
    /// queue lets go of it.
    static func dropPages(_ path: String, offset: Int = 0, count: Int = 65536) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            fdatasync(fd)
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            if oggedge_range_resident(fd, off_t(offset), count) == 0 { return true }
            usleep(10_000)
        } while ContinuousClock.now < deadline
        return false
    }

    /// Whether `count` bytes at `offset` of `path` come back into the page cache within 10 s,
    /// asked with `cachestat` only (nothing reads the file, which would bring them back itself).
    static func waitResident(_ path: String, offset: Int, count: Int) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            if oggedge_range_resident(fd, off_t(offset), count) == 1 { return true }
            usleep(10_000)
        } while ContinuousClock.now < deadline
        return false
    }

    static func canDropPages() -> Bool {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-cold-\(UUID().uuidString)").path
        defer { unlink(path) }
        guard FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: 256 * 1024)) else { return false }
        return dropPages(path)
    }
}
