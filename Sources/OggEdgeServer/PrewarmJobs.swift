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

    private struct State {
        var next = 1
        var byId: [String: Job] = [:]
        /// Requests waiting for a job to finish (`?wait=`), by job, with a token each.
        var waiters: [String: [(token: Int, continuation: CheckedContinuation<Void, Never>)]] = [:]
    }

    private let jobs = Mutex(State())
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
            let waiters = jobs.withLock { state in
                state.byId[id]?.finished = true
                return state.waiters.removeValue(forKey: id) ?? []
            }
            for waiter in waiters { waiter.continuation.resume() }
        }
        return id
    }

    func status(_ id: Substring) -> Job? {
        jobs.withLock { $0.byId[String(id)] }
    }

    /// The job's status once it finished, or when `timeout` passed, whichever is first (a
    /// long poll: `GET /admin/prewarm/{job}?wait=SECONDS`).
    func status(_ id: Substring, waitingUpTo timeout: Duration) async -> Job? {
        let key = String(id)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let token = jobs.withLock { state -> Int? in
                guard let job = state.byId[key], !job.finished else { return nil }
                state.next += 1
                state.waiters[key, default: []].append((state.next, continuation))
                return state.next
            }
            guard let token else { return continuation.resume() }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                let expired = jobs.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard let index = state.waiters[key]?.firstIndex(where: { $0.token == token }) else { return nil }
                    return state.waiters[key]?.remove(at: index).continuation
                }
                expired?.resume()
            }
        }
        return status(id)
    }
}
