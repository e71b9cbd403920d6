import Dispatch
import Foundation
import OggEdgeTranscoder
import Synchronization

/// A bounded pool of encoder threads shared by every transcode (requests and prewarm).
///
/// Work is done in small steps. A free worker first takes any encode that cannot be played yet
/// (oldest first) and runs it until its headers and first audio page are out, then the runnable
/// encode that has produced the least audio: the start of a new transcode always comes before the
/// tail of an older one, so many cold starts at once all become playable quickly.
final class TranscodeScheduler: Sendable {
    /// One encode in the pool.
    final class Job: @unchecked Sendable {
        // Invariant for @unchecked Sendable: a job is stepped by one worker at a time (it is out
        // of the runnable list while a worker holds it), so its mutable fields are never shared.
        let session: TranscodeSession
        /// Sets up the transcoder; gets the number of other encodes waiting to start.
        let make: @Sendable (_ startsWaiting: Int) throws(TranscodeError) -> VorbisTranscoder
        var transcoder: VorbisTranscoder?
        var audioSeconds: Double = 0
        var playable = false
        /// Encodes waiting to start when this one joined the queue (set by `submit`).
        var startsAhead = 0
        let sequence: UInt64
        static let counter = Atomic<UInt64>(0)

        init(session: TranscodeSession,
             make: @escaping @Sendable (_ startsWaiting: Int) throws(TranscodeError) -> VorbisTranscoder) {
            self.session = session
            self.make = make
            self.sequence = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        }

        /// Lower runs first: not yet playable (by age), then least audio produced.
        func comesBefore(_ other: Job) -> Bool {
            if playable != other.playable { return !playable }
            if !playable { return sequence < other.sequence }
            return audioSeconds < other.audioSeconds
        }
    }

    /// The process-wide pool (one per process: encoders are sized to the cores).
    static let shared = TranscodeScheduler()

    private let runnable = Mutex<[Job]>([])
    private let ready = DispatchSemaphore(value: 0)
    private let running = Atomic<Int>(0)
    let workers: Int
    /// Output asked of the encoder per step while a transcode is young, and later.
    let earlyStepBytes = 4096
    let lateStepBytes = 64 * 1024
    /// Encodes waiting to start at which a new start counts as part of a storm and calibrates
    /// with a shorter trial (`TranscodeOptions.underLoad()`): one per encoder thread, i.e. more
    /// starts queued than the pool can take at once.
    var startStorm: Int { workers }
    /// Audio seconds after which a transcode counts as past its start.
    let earlySeconds = 5.0

    init(workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.workers = max(1, workers)
        for i in 0..<self.workers {
            let thread = Thread { [self] in self.loop() }
            thread.name = "oggedge-encoder-\(i)"
            thread.start()
        }
    }

    /// Encodes in flight (being stepped) and waiting for a worker.
    var load: (inFlight: Int, queued: Int) {
        (running.load(ordering: .relaxed), runnable.withLock { $0.count })
    }

    func submit(_ job: Job) {
        runnable.withLock { jobs in
            if job.transcoder == nil { job.startsAhead = jobs.count(where: { !$0.playable }) }
            jobs.append(job)
        }
        ready.signal()
    }

    private func loop() {
        while true {
            ready.wait()
            let job = runnable.withLock { jobs -> Job? in
                guard let i = jobs.indices.min(by: { jobs[$0].comesBefore(jobs[$1]) }) else { return nil }
                return jobs.remove(at: i)
            }
            guard let job else { continue }
            running.add(1, ordering: .relaxed)
            let more = step(job)
            running.subtract(1, ordering: .relaxed)
            if more { submit(job) }
        }
    }

    /// Runs one step; returns whether the job has more to do.
    private func step(_ job: Job) -> Bool {
        do {
            if job.transcoder == nil {
                // A storm is judged by the queue both when the job joined it and now: the last
                // arrivals of a burst see an empty queue behind them, the first ones an empty
                // queue ahead.
                let waiting = runnable.withLock { jobs in jobs.count(where: { !$0.playable }) }
                job.transcoder = try job.make(max(waiting, job.startsAhead))
            }
            guard let transcoder = job.transcoder else { return false }
            if !job.playable {
                // Headers and the first audio page in one go: the player can start after this step.
                var rounds = 0
                repeat {
                    let bytes = try transcoder.next(minBytes: 1)
                    if !bytes.isEmpty { try job.session.append(bytes, firstAudioPageEnd: transcoder.firstAudioPageEnd) }
                    rounds += 1
                } while transcoder.firstAudioPageEnd == nil && !transcoder.isFinished && rounds < 64
                job.playable = true
            } else {
                let bytes = try transcoder.next(minBytes: job.audioSeconds < earlySeconds ? earlyStepBytes : lateStepBytes)
                if !bytes.isEmpty { try job.session.append(bytes, firstAudioPageEnd: transcoder.firstAudioPageEnd) }
            }
            job.audioSeconds = Double(transcoder.samplesEncoded) / Double(max(1, transcoder.probe.sampleRate))
            if transcoder.isFinished {
                job.transcoder = nil
                job.session.finish()
                return false
            }
            return true
        } catch let error as TranscodeError {
            job.transcoder = nil
            job.session.fail(error.reason)
            return false
        } catch {
            job.transcoder = nil
            job.session.fail("unreadable_source")
            return false
        }
    }
}
