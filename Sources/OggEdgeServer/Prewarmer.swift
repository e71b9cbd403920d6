import NIOCore
import OggEdgeCore
import Synchronization

/// Fills the cache ahead of demand: every chunk of a rendition, or with `headsOnly` just the
/// first chunks and the last one (what a player needs to start and to read the duration).
public struct Prewarmer: Sendable {
    let catalog: RenditionCatalog
    /// Bytes stored from the start of a rendition in `headsOnly` mode.
    public static let headBytes: Int64 = 128 * 1024

    /// The outcome for one rendition.
    public struct Outcome: Sendable {
        /// `trackId_kbps`.
        public var rendition: String
        /// Bytes read through the cache.
        public var bytes: Int64 = 0
        /// Where they came from.
        public var cache: CacheResult = .miss
        /// Why it failed, if it did.
        public var error: String?
    }

    /// Reads `track` through the catalog so every source fills the cache the usual way.
    public func warm(_ track: TrackPath, headsOnly: Bool) async -> Outcome {
        var outcome = Outcome(rendition: track.renditionKey)
        var transcoded = false
        let reader: any RenditionReader
        do throws(OriginError) {
            var opened = try await catalog.open(track)
            if case .live(let live) = opened {
                // Let the shared encoder pool finish it, then read the result through the cache.
                transcoded = live.outcome == .transcode
                let (_, phase) = await live.session.wait(forProduced: .max, timeout: .seconds(3600))
                if case .failed(let reason) = phase { throw OriginError(status: 502, reason: reason) }
                opened = try await catalog.open(track)
            }
            guard case .complete(let complete) = opened else { throw OriginError(status: 503, reason: "transcode_in_progress") }
            reader = complete
        } catch {
            outcome.error = error.reason
            return outcome
        }
        defer { reader.close() }
        let length = reader.info.length
        guard length > 0 else { return outcome }
        var ranges = [ByteRange(start: 0, end: length - 1)]
        if headsOnly {
            let head = ByteRange(start: 0, end: min(length, Self.headBytes) - 1)
            let tailStart = max(head.end + 1, length - 64 * 1024)
            ranges = tailStart < length ? [head, ByteRange(start: tailStart, end: length - 1)] : [head]
        }
        let allocator = ByteBufferAllocator()
        do {
            for range in ranges {
                try await reader.read(range, maxChunk: 256 * 1024, allocator: allocator) { chunk in
                    outcome.bytes += Int64(chunk.readableBytes)
                }
            }
            outcome.cache = transcoded ? .transcode : reader.outcome
        } catch {
            outcome.error = "read_failed"
        }
        return outcome
    }
}

/// Prewarm jobs started through `POST /admin/prewarm`, with their progress.
final class PrewarmJobs: Sendable {
    struct Job: Sendable {
        var total: Int
        var done = 0
        var bytes: Int64 = 0
        var failed: [String] = []
        var finished = false

        var json: String {
            let failures = failed.map { JSONString.quoted($0) }.joined(separator: ",")
            return "{\"total\":\(total),\"done\":\(done),\"bytes\":\(bytes),\"failed\":[\(failures)],"
                + "\"state\":\"\(finished ? "finished" : "running")\"}\n"
        }
    }

    private let jobs = Mutex<(next: Int, byId: [String: Job])>((1, [:]))
    let prewarmer: Prewarmer

    init(prewarmer: Prewarmer) {
        self.prewarmer = prewarmer
    }

    /// Starts a job in the background; returns its id.
    func start(_ tracks: [TrackPath], headsOnly: Bool) -> String {
        let id = jobs.withLock { state -> String in
            let id = "job-\(state.next)"
            state.next += 1
            // Keep the last 100 jobs.
            if state.byId.count >= 100, let oldest = state.byId.keys.min(by: { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }) {
                state.byId[oldest] = nil
            }
            state.byId[id] = Job(total: tracks.count)
            return id
        }
        let prewarmer = self.prewarmer
        Task.detached { [self] in
            for track in tracks {
                let outcome = await prewarmer.warm(track, headsOnly: headsOnly)
                jobs.withLock { state in
                    state.byId[id]?.done += 1
                    state.byId[id]?.bytes += outcome.bytes
                    if let error = outcome.error { state.byId[id]?.failed.append("\(outcome.rendition): \(error)") }
                }
            }
            jobs.withLock { $0.byId[id]?.finished = true }
        }
        return id
    }

    func status(_ id: Substring) -> Job? {
        jobs.withLock { $0.byId[String(id)] }
    }
}
