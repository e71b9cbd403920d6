import Dispatch
import Foundation
import OggEdgeCache
import OggEdgeCore
import Testing
@testable import OggEdgeDelivery

/// `FillSession.queueFromFile`, what the fast lane fills the cache with on a miss of a file: the
/// cache writer reads the chunks from the file itself, checked against the version.
@Suite struct FileFillTests {
    /// A session of the rendition `x_160kbps` in a real cache, as the directory makes it.
    static func session(_ dir: String) async throws -> (RenditionDirectory, OggEdgeDelivery.Attachment, ChunkStore) {
        let store = try ChunkStore(directory: dir + "/cache", maxBytes: 64 << 20)
        let directory = RenditionDirectory(mediaDirectory: dir, store: store, revalidateInterval: .seconds(3600))
        let attachment = try await directory.attach(TrackPath(trackId: "x", kbps: 160))
        return (directory, attachment, store)
    }

    static func committed(_ store: ChunkStore) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in store.afterQueuedWrites { done.resume() } }
    }

    /// Holds the cache writer (a barrier that waits on its thread) until the gate is signalled;
    /// returns once the writer is held, so nothing queued after it is applied before the signal.
    static func holdWriter(_ store: ChunkStore) -> DispatchSemaphore {
        let gate = DispatchSemaphore(value: 0)
        let held = DispatchSemaphore(value: 0)
        store.afterQueuedWrites {
            held.signal()
            gate.wait()
        }
        held.wait()
        return gate
    }

    @Test func queuedChunksCountAsHeldAndTheWriterStoresThemByteExact() async throws {
        let (dir, bytes) = try RenditionReaderTests.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, attachment, store) = try await Self.session(dir)
        defer { store.close() }
        let path = dir + "/tracks/x_160kbps.ogg"
        let identity = try #require(FileIdentity.ofPath(path))
        let session = attachment.session
        let meta = try #require(session.meta)
        let last = Int((meta.length - 1) / Int64(meta.chunkSize))
        let gate = Self.holdWriter(store)
        #expect(session.queueFromFile([1, last], path: path, identity: identity) == 2)
        // Not stored yet, but on its way: a hit for the next request, and not queued again.
        #expect(store.presence(rendition: "x_160kbps", generation: meta.generation, first: 0, count: last + 1) == 0)
        #expect(session.notHeld([0, 1, last]) == [0])
        #expect(session.queuedChunks == 2)
        #expect(session.queueFromFile([1], path: path, identity: identity) == 0)
        gate.signal()
        await Self.committed(store)
        #expect(session.queuedChunks == 0)
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
        #expect(store.stats().droppedWrites == 0)
    }

    @Test func aFileChangedBeforeTheWriterReadsItFillsNothing() async throws {
        let (dir, _) = try RenditionReaderTests.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, attachment, store) = try await Self.session(dir)
        defer { store.close() }
        let path = dir + "/tracks/x_160kbps.ogg"
        let version = try #require(FileIdentity.ofPath(path))
        let session = attachment.session
        let meta = try #require(session.meta)
        let gate = Self.holdWriter(store)
        #expect(session.queueFromFile([1, 2], path: path, identity: version) == 2)
        // Touched after the chunks were queued: by the time the writer reads, another version.
        let mtime = try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
        try FileManager.default.setAttributes([.modificationDate: mtime.addingTimeInterval(1)], ofItemAtPath: path)
        gate.signal()
        await Self.committed(store)
        for index in [1, 2] {
            let id = ChunkID(rendition: "x_160kbps", generation: meta.generation, index: UInt32(index))
            #expect(store.withChunk(id) { _ in } == .missing)
        }
        #expect(store.stats().droppedWrites == 2)
        // Not stuck as queued: a later miss queues them again.
        #expect(session.queuedChunks == 0)
        #expect(session.notHeld([1, 2]) == [1, 2])
        #expect(session.queueFromFile([1, 2], path: path, identity: version) == 2)
        await Self.committed(store)
        #expect(store.stats().droppedWrites == 4)
    }

    @Test func chunksPastTheEndOrOfAGoneFileFillNothing() async throws {
        let (dir, _) = try RenditionReaderTests.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, attachment, store) = try await Self.session(dir)
        defer { store.close() }
        let path = dir + "/tracks/x_160kbps.ogg"
        let identity = try #require(FileIdentity.ofPath(path))
        let session = attachment.session
        #expect(session.queueFromFile([1, 10_000], path: path, identity: identity) == 0)
        #expect(session.queueFromFile([-1], path: path, identity: identity) == 0)
        #expect(session.queuedChunks == 0)
        #expect(session.queueFromFile([0], path: dir + "/tracks/gone.ogg", identity: identity) == 1)
        await Self.committed(store)
        #expect(store.stats().droppedWrites == 1)
        #expect(session.queuedChunks == 0)
    }
}
