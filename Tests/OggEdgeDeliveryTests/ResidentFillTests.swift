import Foundation
#if canImport(Glibc)
import Glibc
#endif
import OggEdgeCache
import OggEdgeCore
import Testing
@testable import OggEdgeDelivery

/// `FillSession.offerResident`, what the fast lane fills the cache with on a miss: chunks read
/// from the page cache only, checked against the version, all or nothing.
@Suite struct ResidentFillTests {
    /// A session of the rendition `x_160kbps` in a real cache, as the directory makes it.
    static func session(_ dir: String) async throws -> (RenditionDirectory, OggEdgeDelivery.Attachment, ChunkStore) {
        let store = try ChunkStore(directory: dir + "/cache", maxBytes: 64 << 20)
        let directory = RenditionDirectory(mediaDirectory: dir, store: store, revalidateInterval: .seconds(3600))
        let attachment = try await directory.attach(TrackPath(trackId: "x", kbps: 160))
        return (directory, attachment, store)
    }

    /// The rendition's file, open read-only (closed by the caller), and its identity now.
    static func openTrack(_ dir: String) throws -> (fd: Int32, identity: FileIdentity) {
        let fd = open(dir + "/tracks/x_160kbps.ogg", O_RDONLY)
        try #require(fd >= 0)
        do {
            return (fd, try #require(FileIdentity.ofDescriptor(fd)))
        } catch {
            close(fd)
            throw error
        }
    }

    static func committed(_ store: ChunkStore) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in store.afterQueuedWrites { done.resume() } }
    }

    /// Whether the page holding `offset` of the open file `fd` is in the page cache (`mincore`:
    /// unlike a read, even one refused with `RWF_NOWAIT`, it starts no readahead).
    static func isResident(_ fd: Int32, offset: Int) -> Bool {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let map = mmap(nil, page, PROT_READ, MAP_SHARED, fd, off_t(offset / page * page)), map != MAP_FAILED else { return true }
        defer { munmap(map, page) }
        var vector: UInt8 = 0
        guard mincore(map, page, &vector) == 0 else { return true }
        return vector & 1 != 0
    }

    @Test func residentChunksAreOfferedAndStoredByteExact() async throws {
        let (dir, bytes) = try RenditionReaderTests.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, attachment, store) = try await Self.session(dir)
        defer { store.close() }
        let (fd, identity) = try Self.openTrack(dir)
        defer { close(fd) }
        let meta = try #require(attachment.session.meta)
        let last = Int((meta.length - 1) / Int64(meta.chunkSize))
        try attachment.session.offerResident([1, last], from: fd, identity: identity)
        await Self.committed(store)
        let size = meta.chunkSize
        for index in [1, last] {
            let id = ChunkID(rendition: "x_160kbps", generation: meta.generation, index: UInt32(index))
            var stored: [UInt8] = []
            #expect(store.withChunk(id) { stored = Array($0) } == .found)
            let end = min(bytes.count, (index + 1) * size)
            #expect(stored == Array(bytes[(index * size)..<end]))
        }
        let expected: UInt64 = 1 << 1 | 1 << UInt64(last)
        #expect(store.presence(rendition: "x_160kbps", generation: meta.generation, first: 0, count: last + 1) == expected)
    }

    @Test func anotherVersionOfTheFileOffersNothing() async throws {
        let (dir, _) = try RenditionReaderTests.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, attachment, store) = try await Self.session(dir)
        defer { store.close() }
        let path = dir + "/tracks/x_160kbps.ogg"
        let (fd, version) = try Self.openTrack(dir)
        defer { close(fd) }
        // Touched after the version was taken: the open file is another version now.
        let mtime = try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
        try FileManager.default.setAttributes([.modificationDate: mtime.addingTimeInterval(1)], ofItemAtPath: path)
        #expect(throws: FillSession.ResidentRefusal.changed) {
            try attachment.session.offerResident([1, 2], from: fd, identity: version)
        }
        #expect(attachment.session.heldChunks == 0)
        // Past the end of the rendition: unreadable, nothing offered.
        #expect(throws: FillSession.ResidentRefusal.unreadable) {
            try attachment.session.offerResident([1, 10_000], from: fd, identity: try #require(FileIdentity.ofDescriptor(fd)))
        }
        #expect(attachment.session.heldChunks == 0)
    }

    /// A chunk whose pages are not in memory is refused (reading it would wait for the disk on
    /// the event loop), and nothing is offered. Where the file system keeps the file's pages
    /// whatever we advise (tmpfs), there is nothing to observe and the test says so.
    @Test func aChunkNotInThePageCacheIsRefused() async throws {
        let (dir, _) = try RenditionReaderTests.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, attachment, store) = try await Self.session(dir)
        defer { store.close() }
        let (fd, identity) = try Self.openTrack(dir)
        defer { close(fd) }
        let size = try #require(attachment.session.meta).chunkSize
        _ = fdatasync(fd)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        guard !Self.isResident(fd, offset: 2 * size) else {
            print("ResidentFillTests: the file's pages stay in memory on this file system; nothing to observe")
            return
        }
        #expect(throws: FillSession.ResidentRefusal.notResident) {
            try attachment.session.offerResident([2], from: fd, identity: identity)
        }
        #expect(attachment.session.heldChunks == 0)
    }
}
