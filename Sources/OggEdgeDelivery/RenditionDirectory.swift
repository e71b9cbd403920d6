#if canImport(Glibc)
import Glibc
#endif
import NIOPosix
import OggEdgeCache
import OggEdgeCore
import OggEdgeTranscoder
import Synchronization

/// How a request got attached to a rendition, decided once when it attaches: the cache had it
/// (`HIT`), this request started the fill (`MISS` for a file, `TRANSCODE` for an encode), or it
/// joined a fill under way (`COALESCED`).
package struct Attachment: Sendable {
    /// The rendition key, e.g. `demo_160kbps`.
    package let key: String
    /// The session every reader of this version goes through.
    package let session: FillSession
    /// Where the bytes come from for a chunk that is not in the cache.
    package let origin: Origin
    /// Where the bytes came from, as the delivery log reports it (before reading).
    package let outcome: CacheResult
}

/// The one place that answers "which version of which rendition, filled how": the chunk cache
/// in front of every origin.
///
/// A rendition's metadata lives in LMDB keyed by what identifies its bytes; an in-memory entry
/// remembers it with the time it was last checked against its origin, so a `HIT` touches
/// neither the file system nor LMDB's metadata more than once per `revalidateInterval` (like
/// nginx's `open_file_cache_valid`). A miss starts exactly one ``FillSession`` per rendition
/// version, whatever produces the bytes; every request meanwhile joins it.
package final class RenditionDirectory: Sendable {
    struct Entry {
        var session: FillSession
        var origin: Origin
        var validatedAt: UInt64
    }

    package let store: ChunkStore?
    package let locator: OriginLocator
    let scheduler: TranscodeScheduler
    let revalidateNanos: UInt64
    let negativeNanos: UInt64
    /// Read with `entries.withLock`; changed only through ``changeEntries(_:)`` (or, for a
    /// renewed check alone, ``renewEntry(_:)``).
    let entries = Mutex<[String: Entry]>([:])
    /// Counts changes to `entries`: a caller that saw a rendition complete and fresh may trust
    /// that answer, without the lock, while this is unchanged and the check has not expired.
    /// Counts the changes to `entries` (see ``version``).
    package let changes = ChangeCount()
    private let failures = Mutex<[String: (reason: String, until: UInt64)]>([:])
    private let encodeCounts = Atomic<UInt64>(0)
    private let failedEncodeCounts = Atomic<UInt64>(0)
    private let abandonedEncodeCounts = Atomic<UInt64>(0)
    private let generations = Atomic<UInt32>(0)
    /// The parent tier, when this node is an edge (`--upstream`).
    let upstream: UpstreamSettings?
    /// Renditions a parent answered 404 for, until when (monotonic ns).
    let upstreamMisses = Mutex<[String: UInt64]>([:])
    /// First requests to parents under way, so concurrent misses of one rendition ask once.
    let upstreamOpens = Mutex<[String: Task<Result<Attachment, DeliveryError>, Never>]>([:])
    /// Background revalidations with parents under way, by id.
    let upstreamRevalidations = Mutex<(next: UInt64, tasks: [UInt64: Task<Void, Never>])>((0, [:]))

    /// - Parameters:
    ///   - store: the chunk cache (`nil`: no cache; every fill is kept in memory only while used).
    ///   - revalidateInterval: how long a rendition's origin is trusted without a `stat(2)`.
    ///   - negativeTTL: how long a failed transcode is remembered before it is tried again.
    ///   - upstream: parents to pull from when nothing local can build a rendition.
    package init(
        mediaDirectory: String, store: ChunkStore?, scheduler: TranscodeScheduler = .shared,
        revalidateInterval: Duration = .seconds(1), negativeTTL: Duration = .seconds(30), upstream: UpstreamSettings? = nil
    ) {
        self.store = store
        self.upstream = upstream
        self.locator = OriginLocator(mediaDirectory: mediaDirectory)
        self.scheduler = scheduler
        self.revalidateNanos = Self.nanos(revalidateInterval)
        self.negativeNanos = Self.nanos(negativeTTL)
        store?.onRenditionsDropped { [weak self] keys in
            self?.changeEntries { map in for key in keys { map[key] = nil } }
        }
    }

    static func nanos(_ d: Duration) -> UInt64 {
        UInt64(max(0, d.components.seconds)) * 1_000_000_000 + UInt64(max(0, d.components.attoseconds / 1_000_000_000))
    }

    /// Encodes started since start (each is one encoder run; a remembered failure starts none).
    package var encodesStarted: UInt64 { encodeCounts.load(ordering: .relaxed) }
    /// Encodes that failed since start (their reason is then remembered for the negative TTL).
    package var encodesFailed: UInt64 { failedEncodeCounts.load(ordering: .relaxed) }

    /// Encodes stopped since start because a purge detached them and their last reader left.
    package var encodesAbandoned: UInt64 { abandonedEncodeCounts.load(ordering: .relaxed) }

    /// Encodes started and not yet ended.
    package var activeTranscodes: Int {
        entries.withLock { $0.values.filter { $0.session.isSequential && $0.session.phase == .producing }.count }
    }

    /// Changes `entries` under its lock and counts the change (see ``version``).
    @discardableResult
    func changeEntries<T>(_ body: (inout [String: Entry]) -> T) -> T {
        entries.withLock { map in
            let result = body(&map)
            changes.count.add(1, ordering: .releasing)
            return result
        }
    }

    /// Moves an entry's last check forward without counting a change: its session (the
    /// version answered) stays, so every lease taken on it still holds until its own expiry.
    /// (Counted as changes, the renewals of a catalogue's renditions, each once per
    /// revalidation interval, ended every lease of every loop hundreds of times a second.)
    func renewEntry<T>(_ body: (inout [String: Entry]) -> T) -> T {
        entries.withLock { body(&$0) }
    }

    /// Changes to the directory so far. A ``Lease`` taken at one version holds while the
    /// version is the same and its time has not run out.
    package var version: UInt64 { changes.value }

    /// A count of changes, in its own object so a reader on a hot path can keep it and read it
    /// without touching the directory: the directory is weakly referenced by the sessions'
    /// callbacks, so retaining it takes the runtime's slow path.
    package final class ChangeCount: Sendable {
        let count = Atomic<UInt64>(0)
        /// The changes so far.
        package var value: UInt64 { count.load(ordering: .acquiring) }
    }

    /// How long an answer of ``freshComplete(_:key:now:)`` holds without asking again: until
    /// `until` (monotonic ns) while ``version`` is still `version`. Nil for copies pulled from a
    /// parent, whose revalidation is due on every look.
    package struct Lease: Sendable {
        package let version: UInt64
        package let until: UInt64
    }

    /// The session of rendition `key` when it is complete, known in memory and was checked
    /// against its origin less than the revalidation interval ago: what ``attach(_:)`` would
    /// answer as a `HIT` without touching anything outside memory. Nil in every other case
    /// (the caller then goes through ``attach(_:)``). Never blocks; safe on an event loop.
    package func freshComplete(_ key: String, now: UInt64) -> FillSession? {
        freshCompleteLeased(key, now: now)?.session
    }

    private func freshCompleteLeased(_ key: String, now: UInt64) -> (session: FillSession, lease: Lease?)? {
        let version = self.version
        guard let (session, origin, validatedAt) = entries.withLock({ map -> (FillSession, Origin, UInt64)? in
            guard let entry = map[key], now &- entry.validatedAt < revalidateNanos else { return nil }
            return (entry.session, entry.origin, entry.validatedAt)
        }), case .complete = session.phase, session.meta != nil else { return nil }
        // A copy pulled from a parent is served while it is revalidated behind it, as `attach` does.
        if case .upstream(let pull) = origin {
            revalidateIfDue(pull, key: key, now: now)
            return (session, nil)
        }
        return (session, Lease(version: version, until: validatedAt &+ revalidateNanos))
    }

    /// ``freshComplete(_:now:)``, and when the only thing missing is a recent check against a
    /// local origin (a file in `tracks/` or a master), that check made on the spot: the same
    /// `stat(2)` calls ``attach(_:offset:)`` makes, at most once per revalidation interval per
    /// rendition (what nginx's `open_file_cache` does on its event loop). An unchanged origin
    /// renews the entry and answers its session; anything else (changed, gone, pulled from a
    /// parent, not complete) is nil and left to ``attach(_:offset:)``.
    package func freshComplete(_ track: TrackPath, now: UInt64) -> FillSession? {
        freshComplete(track, key: track.renditionKey, now: now)?.session
    }

    /// ``freshComplete(_:now:)`` with `track.renditionKey` already at hand (no string built),
    /// and how long the answer holds (a ``Lease``; nil for a parent's copy).
    package func freshComplete(_ track: TrackPath, key: String, now: UInt64) -> (session: FillSession, lease: Lease?)? {
        if let found = freshCompleteLeased(key, now: now) { return found }
        let version = self.version
        guard let entry = entries.withLock({ $0[key] }), case .complete = entry.session.phase, entry.session.meta != nil
        else { return nil }
        switch entry.origin {
        case .file, .transcode: break
        case .upstream: return nil
        }
        guard let origin = locator.locate(track), origin.identity == entry.origin.identity, origin.kind == entry.origin.kind
        else { return nil }
        return renewEntry { map -> (session: FillSession, lease: Lease?)? in
            guard var current = map[key], current.session === entry.session else { return nil }
            current.validatedAt = now
            map[key] = current
            return (current.session, Lease(version: version, until: now &+ revalidateNanos))
        }
    }

    /// The file a rendition is served from when its origin is a file in `tracks/` (not a
    /// transcode, not a parent's copy), with the identity its cached version was made from.
    package func fileOrigin(_ key: String) -> (path: String, identity: FileIdentity)? {
        entries.withLock { map in
            guard case .file(let path, let identity) = map[key]?.origin else { return nil }
            return (path, identity)
        }
    }

    /// Attaches a request to `track`: the cached version if its origin has not changed, else a
    /// new fill (or the one under way).
    /// - Parameter offset: the first byte the request wants, when known: a pull from a parent
    ///   starts with the slice that holds it (a cold seek waits for one slice, not for byte 0).
    package func attach(_ track: TrackPath, offset: Int64? = nil) async throws(DeliveryError) -> Attachment {
        let key = track.renditionKey
        let now = MonotonicClock.nanos()
        if let fast = entries.withLock({ map -> Attachment? in
            guard let entry = map[key] else { return nil }
            if entry.session.isSequential, entry.session.phase == .producing {
                return Attachment(key: key, session: entry.session, origin: entry.origin, outcome: .coalesced)
            }
            guard now &- entry.validatedAt < revalidateNanos else { return nil }
            return Attachment(key: key, session: entry.session, origin: entry.origin, outcome: .hit)
        }) {
            if case .upstream(let pull) = fast.origin { revalidateIfDue(pull, key: key, now: now) }
            return fast
        }
        assertOffEventLoop()
        guard let origin = locator.locate(track) else {
            if upstream != nil { return try await attachUpstream(track, offset: offset, now: now) }
            changeEntries { _ = $0.removeValue(forKey: key) }
            throw .notFound
        }
        // The known entry, or the cache's record, still made from this origin: a hit.
        if let known = renewEntry({ map -> Attachment? in
            guard var entry = map[key], entry.origin.identity == origin.identity, entry.origin.kind == origin.kind,
                  case .complete = entry.session.phase else { return nil }
            entry.validatedAt = now
            map[key] = entry
            return Attachment(key: key, session: entry.session, origin: origin, outcome: .hit)
        }) {
            return known
        }
        if let meta = store?.meta(key), meta.isComplete, origin.produced(meta) {
            let session = FillSession(key: key, meta: meta, isSequential: meta.kind != .file, store: store)
            return install(key: key, session: session, origin: origin, now: now, outcome: .hit)
        }
        switch origin {
        case .file(let path, let identity):
            let facts = try await Self.facts(path: path, identity: identity)
            guard facts.isVorbis else { throw .badSource(reason: "corrupt_rendition") }
            let meta = RenditionMeta(
                generation: nextGeneration(), chunkSize: store?.chunkSize ?? ChunkStore.defaultChunkSize, length: identity.size,
                etag: identity.entityTag.opaque, lastModified: identity.mtimeSeconds,
                durationMillis: facts.durationMillis, playbackOffset: facts.playbackOffset, source: identity.source, kind: .file
            )
            let session = FillSession(key: key, meta: meta, isSequential: false, store: store)
            return install(key: key, session: session, origin: origin, now: now, outcome: .miss) { store?.putMeta(meta, for: key) }
        case .transcode(let path, let kind, let identity):
            if let failure = failures.withLock({ $0[key] }), failure.until > now { throw .badSource(reason: failure.reason) }
            let meta = RenditionMeta(
                generation: nextGeneration(), chunkSize: store?.chunkSize ?? ChunkStore.defaultChunkSize, length: 0,
                etag: "", lastModified: identity.mtimeSeconds, durationMillis: nil, playbackOffset: nil,
                source: identity.source, kind: .transcode, isComplete: false
            )
            let session = FillSession(key: key, meta: meta, isSequential: true, store: store)
            let attachment = install(key: key, session: session, origin: origin, now: now, outcome: .transcode) {
                store?.putMeta(meta, for: key)
                startEncode(session: session, meta: meta, track: track, path: path, kind: kind)
            }
            return attachment
        case .upstream:
            // The locator finds local origins only.
            throw .notFound
        }
    }

    /// Puts `session` in the directory unless another request installed one for the same origin
    /// meanwhile (then this request joins that one). `started` runs under the directory's lock
    /// only when this session was installed.
    func install(
        key: String, session: FillSession, origin: Origin, now: UInt64, outcome: CacheResult, started: () -> Void = {}
    ) -> Attachment {
        changeEntries { map in
            // Another request installed a session for the same origin meanwhile: join it.
            if let raced = map[key], raced.origin == origin {
                switch raced.session.phase {
                case .producing: return Attachment(key: key, session: raced.session, origin: origin, outcome: .coalesced)
                case .complete: return Attachment(key: key, session: raced.session, origin: origin, outcome: .hit)
                case .failed: break
                }
            }
            if let old = map[key], old.session.isSequential, old.session.phase == .producing { old.session.detach() }
            map[key] = Entry(session: session, origin: origin, validatedAt: now)
            session.onInvalid { [weak self] invalid in
                self?.changeEntries { map in if map[key]?.session === invalid { map[key] = nil } }
            }
            if store == nil, session.isSequential {
                // No cache to keep it in: once encoded, the bytes live only as long as the
                // responses reading them; the next request encodes again.
                session.onEnd { [weak self] ended in
                    self?.changeEntries { map in if map[key]?.session === ended { map[key] = nil } }
                }
            }
            started()
            return Attachment(key: key, session: session, origin: origin, outcome: outcome)
        }
    }

    private func startEncode(session: FillSession, meta: RenditionMeta, track: TrackPath, path: String, kind: TranscodeSourceKind) {
        let key = track.renditionKey
        let kbps = track.kbps
        let serial = Int32(bitPattern: UInt32(truncatingIfNeeded: key.hashValue))
        let busy = scheduler.startStorm
        encodeCounts.add(1, ordering: .relaxed)
        session.onEnd { [weak self] ended in
            guard let self, case .failed(let reason) = ended.phase else { return }
            guard reason != FillSession.abandonedReason else {
                self.abandonedEncodeCounts.add(1, ordering: .relaxed)
                return
            }
            self.failedEncodeCounts.add(1, ordering: .relaxed)
            let until = MonotonicClock.nanos() + self.negativeNanos
            self.failures.withLock { $0[key] = (reason, until) }
            self.changeEntries { map in if map[key]?.session === ended { map[key] = nil } }
        }
        scheduler.submit(TranscodeScheduler.Job(session: session, start: meta) { (waiting) throws(TranscodeError) -> VorbisTranscoder in
            // The more starts wait, the less each spends calibrating before its first page.
            let options = waiting >= busy ? TranscodeOptions().underLoad(deep: waiting >= 4 * busy) : TranscodeOptions()
            return try VorbisTranscoder(sourcePath: path, kind: kind, targetKbps: kbps, serial: serial, options: options)
        })
    }

    /// The next cache generation (unique for the cache directory when there is a cache).
    func nextGeneration() -> UInt32 {
        if let store { return store.nextGeneration() }
        return generations.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Reads the facts of a file version off the event loops.
    private static func facts(path: String, identity: FileIdentity) async throws(DeliveryError) -> OggFacts {
        let result = try? await NIOThreadPool.singleton.runIfActive { () throws -> OggFacts in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SourceReadError.io(errno: errno) }
            defer { close(fd) }
            guard FileIdentity.ofDescriptor(fd) == identity else { throw SourceReadError.changed }
            let window = 64 * 1024
            let head = try preadFully(fd, count: Int(min(Int64(window), identity.size)), offset: 0)
            let tailStart = max(0, identity.size - Int64(window))
            let tail = try preadFully(fd, count: Int(identity.size - tailStart), offset: tailStart)
            return OggFacts(head: head, tail: tail)
        }
        guard let result else { throw .badSource(reason: "unreadable_source") }
        return result
    }

    /// Forgets `renditions` (keys like `demo_160kbps`) and removes them from the cache. A fill
    /// under way keeps serving the readers attached to it, and its output is dropped when it ends.
    /// - Returns: how many renditions were known (in memory or in the cache).
    package func purge(_ renditions: [String]) async -> Int {
        let sessions = changeEntries { map -> [FillSession] in
            renditions.compactMap { map.removeValue(forKey: $0)?.session }
        }
        // A fill still producing keeps its chunks for the readers behind it; it drops them itself.
        var live: Set<String> = []
        for session in sessions {
            if session.isSequential && (session.phase == .producing || session.readerCount > 0) {
                session.detach()
                live.insert(session.key)
            } else {
                session.purgedUnread()
            }
        }
        failures.withLock { for key in renditions { $0[key] = nil } }
        upstreamMisses.withLock { for key in renditions { $0[key] = nil } }
        guard let store else { return sessions.count }
        let removed = await store.purge(renditions: renditions.filter { !live.contains($0) })
        return removed + live.count
    }
}
