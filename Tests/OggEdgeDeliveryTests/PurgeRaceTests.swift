import Dispatch
import Foundation
import OggEdgeCache
import Testing
@testable import OggEdgeDelivery

/// A purge must win against what a finished transcode still has queued.
struct PurgeRaceTests {
    /// A transcode's complete record is written only once its last chunks are stored, which can
    /// be after the purge that followed its last reader. It used to be written anyway: the purged
    /// version came back as a hit whose chunks the purge had deleted, and the next player got a
    /// 200 cut at byte 0.
    @Test func aTranscodeThatCompletedJustBeforeAPurgeDoesNotComeBack() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-purge-race-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ChunkStore(directory: dir, maxBytes: 16 << 20)
        let key = "x_160kbps"
        let source = SourceIdentity(size: 1000, mtimeNanos: 1, inode: 2, device: 3)
        let partial = RenditionMeta(
            generation: store.nextGeneration(), chunkSize: store.chunkSize, length: 0, etag: "", lastModified: 0,
            durationMillis: nil, playbackOffset: nil, source: source, kind: .transcode, isComplete: false
        )
        store.putMeta(partial, for: key)
        // Keep the writer busy, so everything below queues behind it as under load.
        let gate = DispatchSemaphore(value: 0)
        store.afterQueuedWrites { gate.wait() }
        let session = FillSession(key: key, meta: partial, isSequential: true, store: store)
        let bytes = [UInt8](repeating: 7, count: store.chunkSize + 100)
        session.append(bytes, firstAudioPageEnd: nil)
        var complete = partial
        complete.length = Int64(bytes.count)
        complete.etag = "e"
        complete.isComplete = true
        session.complete(meta: complete)
        #expect(session.readerCount == 0)
        // What `RenditionDirectory.purge` does for a session nobody reads.
        session.purgedUnread()
        let purge = Task { await store.purge(renditions: [key]) }
        gate.signal()
        _ = await purge.value
        // Let anything the session queued at the end be applied too.
        for _ in 0..<3 {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in store.afterQueuedWrites { done.resume() } }
        }
        #expect(store.meta(key) == nil)
    }
}
