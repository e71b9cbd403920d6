import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import OggEdgeCache

/// The cache writer's scheduling and its backlog, against a real LMDB file.
@Suite(.serialized) struct ChunkWriterTests {
    @Test func theBacklogCountsChunkBytesUntilTheyAreApplied() async throws {
        let dir = ChunkStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ChunkStore(directory: dir, maxBytes: 64 << 20)
        defer { store.close() }
        let meta = ChunkStoreTests.meta(store, length: Int64(70 * store.chunkSize))
        store.putMeta(meta, for: "w_160kbps")
        // Hold the writer in a barrier so the chunks queue up behind it.
        let hold = DispatchSemaphore(value: 0)
        let held = DispatchSemaphore(value: 0)
        store.afterQueuedWrites {
            held.signal()
            hold.wait()
        }
        held.wait()
        #expect(store.writeBacklog == 0)
        let chunk = [UInt8](repeating: 7, count: store.chunkSize)
        for i in 0..<3 { store.putChunk(ChunkID(rendition: "w_160kbps", generation: meta.generation, index: UInt32(i)), bytes: chunk) }
        #expect(store.writeBacklog == 3 * store.chunkSize)
        #expect(!store.isWriteBacklogged)
        var i = 3
        while store.writeBacklog <= store.writeBacklogLimit {
            store.putChunk(ChunkID(rendition: "w_160kbps", generation: meta.generation, index: UInt32(i)), bytes: chunk)
            i += 1
        }
        #expect(store.isWriteBacklogged)
        hold.signal()
        await withCheckedContinuation { c in store.afterQueuedWrites { c.resume() } }
        #expect(store.writeBacklog == 0)
        #expect(!store.isWriteBacklogged)
        #expect(store.stats().chunks == Int64(i))
    }

    /// The writer runs under `SCHED_BATCH` at the lowest priority: waking it does not preempt
    /// the event loop that queued a write, and a loop waking while it runs gets the core at once.
    /// Read from `/proc` (fields 19 and 41 of a thread's `stat` are its nice value and policy).
    @Test func theWriterThreadIsBatchScheduledAtTheLowestPriority() async throws {
        let dir = ChunkStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ChunkStore(directory: dir, maxBytes: 8 << 20)
        defer { store.close() }
        await withCheckedContinuation { c in store.afterQueuedWrites { c.resume() } }
        // Every cache writer of this process (other suites may have stores open) by its name.
        var policies: [Int] = []
        var nices: [Int] = []
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  comm.hasPrefix("oggedge-cache-w"),
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let paren = stat.lastIndex(of: ")") else { continue }
            // After the ")" come fields 3, 4, ...: the policy (41) is the 39th.
            let fields = stat[stat.index(after: paren)...].split(separator: " ")
            if fields.count > 38, let policy = Int(fields[38]), let nice = Int(fields[16]) {
                policies.append(policy)
                nices.append(nice)
            }
        }
        #expect(!policies.isEmpty)
        #expect(policies.allSatisfy { $0 == Int(ChunkWriter.schedBatch) }, "\(policies)")
        #expect(nices.allSatisfy { $0 == Int(ChunkWriter.niceness) } && ChunkWriter.niceness == 19, "\(nices)")
    }
}
