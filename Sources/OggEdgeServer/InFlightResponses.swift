import Synchronization

/// Responses being handled: from arrival until their delivery record was submitted. Lets a caller
/// (tests, a drain) await the moment every response so far has been logged, instead of guessing.
final class InFlightResponses: Sendable {
    private let state = Mutex<(count: Int, idle: [CheckedContinuation<Void, Never>])>((0, []))

    func enter() {
        state.withLock { $0.count += 1 }
    }

    func leave() {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.count -= 1
            guard s.count == 0 else { return [] }
            defer { s.idle = [] }
            return s.idle
        }
        for c in ready { c.resume() }
    }

    /// Returns once no response is being handled.
    func settled() async {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                if s.count == 0 { return true }
                s.idle.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}
