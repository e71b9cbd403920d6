import Crypto
import Dispatch
import Foundation
import OggEdgeCache
import OggEdgeTranscoder
import Synchronization

/// A bounded pool of encoder threads shared by every transcode (requests and prewarm).
///
/// Work is done in small steps. A free worker first takes any encode that cannot be played yet
/// (oldest first) and runs it until its headers and first audio page are out, then the runnable
/// encode that has produced the least audio: the start of a new transcode always comes before the
/// tail of an older one, so many cold starts at once all become playable quickly.
package final class TranscodeScheduler: Sendable {
    /// One encode in the pool: it feeds a ``FillSession`` and, at the end, completes it with the
    /// rendition's metadata (length, a strong ETag hashed from the bytes, duration).
    package final class Job: @unchecked Sendable {
        // Invariant for @unchecked Sendable: a job is stepped by one worker at a time (it is out
        // of the runnable list while a worker holds it), so its mutable fields are never shared.
        let session: FillSession
        /// The metadata the session was started with (generation, source identity).
        let start: RenditionMeta
        /// Sets up the transcoder; gets the number of other encodes waiting to start.
        let make: @Sendable (_ startsWaiting: Int) throws(TranscodeError) -> VorbisTranscoder
        var transcoder: VorbisTranscoder?
        var hash = SHA256()
        var length: Int64 = 0
        var audioSeconds: Double = 0
        var playable = false
        /// Encodes waiting to start when this one joined the queue (set by `submit`).
        var startsAhead = 0
        let sequence: UInt64
        static let counter = Atomic<UInt64>(0)

        package init(session: FillSession, start: RenditionMeta,
             make: @escaping @Sendable (_ startsWaiting: Int) throws(TranscodeError) -> VorbisTranscoder) {
            self.session = session
            self.start = start
            self.make = make
            self.sequence = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        }

        /// Lower runs first: not yet playable (by age), then least audio produced.
        func comesBefore(_ other: Job) -> Bool {
            if playable != other.playable { return !playable }
            if !playable { return sequence < other.sequence }
            return audioSeconds < other.audioSeconds
        }

        /// Hands encoder output to the session.
        func deliver(_ bytes: [UInt8], firstAudioPageEnd: Int64?) {
            guard !bytes.isEmpty else { return }
            hash.update(data: bytes)
            length += Int64(bytes.count)
            session.append(bytes, firstAudioPageEnd: firstAudioPageEnd)
        }

        /// The encode ended: complete the session with the final metadata.
        func finish(_ transcoder: VorbisTranscoder) {
            let digest = hash.finalize().prefix(12).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
            var meta = start
            meta.length = length
            meta.etag = "t" + String(length, radix: 16) + "-" + digest
            meta.isComplete = true
            meta.playbackOffset = transcoder.firstAudioPageEnd
            meta.durationMillis = OggFacts.millis(granule: transcoder.samplesEncoded, sampleRate: transcoder.probe.sampleRate)
            session.complete(meta: meta)
        }
    }

    /// The process-wide pool (one per process: encoders are sized to the cores).
    package static let shared = TranscodeScheduler()

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
    package var startStorm: Int { workers }
    /// Audio seconds after which a transcode counts as past its start.
    let earlySeconds = 5.0

    package init(workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.workers = max(1, workers)
        for i in 0..<self.workers {
            let thread = Thread { [self] in self.loop() }
            thread.name = "oggedge-encoder-\(i)"
            thread.start()
        }
    }

    /// Encodes in flight (being stepped) and waiting for a worker.
    package var load: (inFlight: Int, queued: Int) {
        (running.load(ordering: .relaxed), runnable.withLock { $0.count })
    }

    package func submit(_ job: Job) {
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
        // A purge detached this encode and its last reader has gone: stop instead of encoding
        // the rest of the track for nobody.
        if job.session.isAbandoned {
            job.transcoder = nil
            job.session.fail(FillSession.abandonedReason)
            return false
        }
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
                    job.deliver(bytes, firstAudioPageEnd: transcoder.firstAudioPageEnd)
                    rounds += 1
                } while transcoder.firstAudioPageEnd == nil && !transcoder.isFinished && rounds < 64
                job.playable = true
            } else {
                let bytes = try transcoder.next(minBytes: job.audioSeconds < earlySeconds ? earlyStepBytes : lateStepBytes)
                job.deliver(bytes, firstAudioPageEnd: transcoder.firstAudioPageEnd)
            }
            job.audioSeconds = Double(transcoder.samplesEncoded) / Double(max(1, transcoder.probe.sampleRate))
            if transcoder.isFinished {
                job.transcoder = nil
                job.finish(transcoder)
                return false
            }
            return true
        } catch {
            job.transcoder = nil
            job.session.fail(error.reason)
            return false
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
