import OggEdgeCore
import OggEdgeDelivery
import Synchronization

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
