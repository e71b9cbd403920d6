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
        let (media, name) = try FastLaneMissTests.mediaWithBigTracks()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media; $0.revalidateMilliseconds = 3_600_000 }) { server in
            let path = media + "/tracks/" + name
            let target = server.sign("/tracks/" + name)
            let body = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            // The whole rendition into the chunk cache.
            let whole = try await server.fetch(target)
            #expect(whole.status == 200 && whole.body == body)
            await FastLaneMissTests.committed(server)
            let range = [("Range", "bytes=200000-299999")]
            let before = server.server.fastLaneResponses

            // Warm: a hit the lane sends from the file.
            let warm = try await server.fetch(target, headers: range)
            #expect(warm.status == 206 && warm.body == Array(body[200000...299999]))
            #expect(server.server.fastLaneResponses == before + 1)
            #expect(server.server.fastLaneColdDeclines == 0)

            // Cold: the file's pages dropped; the same hit is answered the general way, from the
            // chunk cache, with the same bytes and headers.
            try #require(PageCacheProbe.dropPages(path))
            let cold = try await server.fetch(target, headers: range)
            #expect(cold.status == 206 && cold.body == Array(body[200000...299999]))
            #expect(cold.header("Content-Range") == "bytes 200000-299999/\(body.count)")
            #expect(server.server.fastLaneResponses == before + 1, "not answered on the loop")
            #expect(server.server.fastLaneColdDeclines > 0)

            // The file read again (its pages back): the lane answers once more.
            _ = try Data(contentsOf: URL(fileURLWithPath: path))
            let again = try await server.fetch(target, headers: range)
            #expect(again.status == 206 && again.body == Array(body[200000...299999]))
            #expect(server.server.fastLaneResponses == before + 2)
            #expect(try await CacheTests.cacheField(server) == ["MISS", "HIT", "HIT", "HIT"])
        }
    }
}

/// Whether this machine lets a test take a file's pages out of memory and see it.
enum PageCacheProbe {
    /// Drops the page cache's copy of `path` (clean pages of a file nobody maps); true if
    /// `cachestat` then reports its first 64 KiB not resident.
    static func dropPages(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        fdatasync(fd)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        return oggedge_range_resident(fd, 0, 65536) == 0
    }

    static func canDropPages() -> Bool {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-cold-\(UUID().uuidString)").path
        defer { unlink(path) }
        guard FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: 256 * 1024)) else { return false }
        return dropPages(path)
    }
}
