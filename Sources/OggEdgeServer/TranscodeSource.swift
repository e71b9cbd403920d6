#if canImport(Glibc)
import Glibc
#endif
import OggEdgeCore
import OggEdgeTranscoder
import Synchronization

/// A rendition being transcoded, as a response sees it.
public struct LiveRendition: Sendable {
    let session: TranscodeSession
    /// `TRANSCODE` for the request that started the encode, `COALESCED` for those that joined it.
    public let outcome: CacheResult
}

/// Makes a missing rendition from the best source there is: the WAV master, else the
/// highest-bitrate rendition present. Exactly one encode runs per rendition however many
/// requests arrive; they all follow the same output.
///
/// Finished renditions are renamed into `renditionsDirectory` (under the cache directory; the
/// media directory is never written) where the file source then finds them, so from then on a
/// transcoded rendition is an ordinary object served through the chunk cache.
final class TranscodeSource: RenditionSource {
    let mediaDirectory: String
    let renditionsDirectory: String
    let scheduler: TranscodeScheduler
    /// How long a failed transcode is remembered before it is tried again.
    let negativeTTL: Duration
    private let sessions = Mutex<[String: TranscodeSession]>([:])
    private let failures = Mutex<[String: (reason: String, until: UInt64)]>([:])

    init(mediaDirectory: String, renditionsDirectory: String, scheduler: TranscodeScheduler, negativeTTL: Duration = .seconds(30)) throws {
        self.mediaDirectory = mediaDirectory.hasSuffix("/") ? mediaDirectory : mediaDirectory + "/"
        self.renditionsDirectory = renditionsDirectory.hasSuffix("/") ? renditionsDirectory : renditionsDirectory + "/"
        self.scheduler = scheduler
        self.negativeTTL = negativeTTL
        try DeliveryLog.makeDirectories(String(self.renditionsDirectory.dropLast()))
        Self.removeAbandonedParts(in: self.renditionsDirectory)
    }

    /// Partial outputs untouched this long are leftovers of a crash (a live encode writes its
    /// `.part-*` file continuously; even a long track finishes in seconds).
    static let abandonedAfterSeconds = 600

    /// Deletes `.part-*` files that no encode has written to for `abandonedAfterSeconds` (left
    /// by a process killed mid-encode). Younger ones may belong to another process sharing the
    /// cache directory (`oggedge prewarm` beside a server) and are left alone.
    static func removeAbandonedParts(in directory: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.contains(".part-") else { continue }
            let path = directory + name
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                  Int(now.tv_sec) - Int(st.st_mtim.tv_sec) >= abandonedAfterSeconds else { continue }
            unlink(path)
        }
    }

    /// Encodes started and not yet ended.
    var activeCount: Int { sessions.withLock { $0.values.filter { $0.phase == .running }.count } }

    func open(_ track: TrackPath) async throws(OriginError) -> OpenedRendition? {
        let key = track.renditionKey
        let now = MonotonicClock.nanos()
        if let failure = failures.withLock({ $0[key] }), failure.until > now {
            throw OriginError(status: 502, reason: failure.reason)
        }
        let existing = sessions.withLock { map -> TranscodeSession? in
            // Drop sessions that ended: a finished one's file is now found by the file source.
            map = map.filter { $0.value.phase == .running || $0.key == key }
            return map[key]
        }
        if let existing {
            switch existing.phase {
            case .failed(let reason): throw OriginError(status: 502, reason: reason)
            case .running, .finished: return .live(LiveRendition(session: existing, outcome: .coalesced))
            }
        }
        guard let (path, kind) = bestSource(for: track) else { return nil }
        let finalPath = renditionsDirectory + track.fileName
        let outcome = sessions.withLock { map -> (TranscodeSession, Bool)? in
            if let raced = map[key] { return (raced, false) }
            guard let session = TranscodeSession(key: key, finalPath: finalPath) else { return nil }
            map[key] = session
            return (session, true)
        }
        guard let (session, started) = outcome else { throw OriginError(status: 503, reason: "transcode_unavailable") }
        if started {
            let kbps = track.kbps
            let serial = Int32(bitPattern: UInt32(truncatingIfNeeded: key.hashValue))
            let busy = scheduler.startStorm
            scheduler.submit(TranscodeScheduler.Job(session: session) { (waiting) throws(TranscodeError) -> VorbisTranscoder in
                let options = waiting >= busy ? TranscodeOptions().underLoad() : TranscodeOptions()
                return try VorbisTranscoder(sourcePath: path, kind: kind, targetKbps: kbps, serial: serial, options: options)
            })
            watchForFailure(session, key: key)
        }
        return .live(LiveRendition(session: session, outcome: started ? .transcode : .coalesced))
    }

    /// Remembers a failure for `negativeTTL` so a corrupt master is not re-encoded on every request.
    private func watchForFailure(_ session: TranscodeSession, key: String) {
        let ttl = negativeTTL
        Task.detached { [self] in
            let (_, phase) = await session.wait(forProduced: .max, timeout: .seconds(3600))
            if case .failed(let reason) = phase {
                let nanos = UInt64(ttl.components.seconds) * 1_000_000_000
                self.failures.withLock { $0[key] = (reason, MonotonicClock.nanos() + nanos) }
                self.sessions.withLock { map in if map[key] === session { map[key] = nil } }
            }
        }
    }

    /// The master if there is one, else the highest-bitrate rendition in `tracks/`.
    func bestSource(for track: TrackPath) -> (String, TranscodeSourceKind)? {
        let master = mediaDirectory + "masters/" + track.trackId + ".wav"
        if Self.isRegularFile(master) { return (master, .wavMaster) }
        for kbps in TrackPath.supportedBitrates.sorted(by: >) where kbps != track.kbps {
            let path = mediaDirectory + "tracks/" + track.trackId + "_\(kbps)kbps.ogg"
            if Self.isRegularFile(path) { return (path, .oggRendition) }
        }
        return nil
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Deletes finished transcodes of `renditions` (a purge drops derived data too).
    func removeFinished(_ renditions: [String]) {
        for key in renditions { unlink(renditionsDirectory + key + ".ogg") }
    }
}
