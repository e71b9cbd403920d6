import Dispatch
import Foundation
import OggEdgeTesting
import OggEdgeTranscoder
import Synchronization
import Testing
import OggEdgeCache
@testable import OggEdgeDelivery

/// The encoder pool's start-storm signal: every start of a burst sees the queue it is part of.
@Suite struct TranscodeSchedulerTests {
    @Test func everyStartOfABurstSeesTheStorm() async throws {
        let seen = try await offload { () throws -> [Int] in
            let scheduler = TranscodeScheduler(workers: 1)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-sched-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let gate = DispatchSemaphore(value: 0)
            let firstMade = DispatchSemaphore(value: 0)
            let ended = DispatchGroup()
            let seen = Mutex<[Int]>([])
            var sessions: [FillSession] = []
            for i in 0..<6 {
                let meta = RenditionMeta(
                    generation: UInt32(i + 1), chunkSize: 4096, length: 0, etag: "", lastModified: 0, durationMillis: nil,
                    playbackOffset: nil, source: SourceIdentity(size: 0, mtimeNanos: 0, inode: 0, device: 0), kind: .transcode, isComplete: false
                )
                let session = FillSession(key: "k\(i)", meta: meta, isSequential: true, store: nil)
                ended.enter()
                session.onEnd { _ in ended.leave() }
                sessions.append(session)
                scheduler.submit(TranscodeScheduler.Job(session: session, start: meta) { (waiting) throws(TranscodeError) -> VorbisTranscoder in
                    seen.withLock { $0.append(waiting) }
                    if i == 0 {
                        firstMade.signal()
                        gate.wait() // hold the only worker until the burst is queued
                    }
                    // No such file: the job fails right after telling what it saw.
                    return try VorbisTranscoder(sourcePath: dir + "/missing.wav", kind: .wavMaster, targetKbps: 96, serial: 1)
                })
                if i == 0 { firstMade.wait() } // the first job is being made before the rest arrive
            }
            gate.signal()
            #expect(ended.wait(timeout: .now() + 30) == .success)
            #expect(sessions.map(\.phase) == Array(repeating: .failed(reason: "unreadable_source"), count: 6))
            return seen.withLock { $0 }
        }
        // Job 0 started alone. Jobs 1-5 were queued behind it; when each is made, the larger of
        // "starts queued now" and "starts ahead when it joined" is passed on, so the first and
        // the last of the burst both count as part of it.
        #expect(seen == [0, 4, 3, 2, 3, 4])
    }
}
