import OggEdgeCache
import OggEdgeCore
import Synchronization

/// The streaming-proxy side of the directory: a rendition nothing local can build is pulled
/// from a parent tier through one ``UpstreamPull`` per version, the random-access producer of the
/// rendition's ``FillSession``.
extension RenditionDirectory {
    /// Attaches to the upstream version of `track`: the one known, the one in the cache, or a
    /// new pull (one per rendition however many requests arrive together).
    func attachUpstream(_ track: TrackPath, offset: Int64?, now: UInt64) async throws(DeliveryError) -> Attachment {
        let key = track.renditionKey
        if let known = changeEntries({ map -> Attachment? in
            guard var entry = map[key], case .upstream = entry.origin, case .complete = entry.session.phase else { return nil }
            entry.validatedAt = now
            map[key] = entry
            return Attachment(key: key, session: entry.session, origin: entry.origin, outcome: .hit)
        }) {
            if case .upstream(let pull) = known.origin { revalidateIfDue(pull, key: key, now: now) }
            return known
        }
        if let until = upstreamMisses.withLock({ $0[key] }), until > now { throw .notFound }
        guard let upstream else { throw .notFound }
        // One decision per rendition at a time: join the open under way, or the session it
        // installed, or restore the cache's record, or start the one open.
        let (task, joined, known) = upstreamOpens.withLock { opens -> (Task<Result<Attachment, DeliveryError>, Never>?, Bool, Attachment?) in
            if let task = opens[key] { return (task, true, nil) }
            if let entry = entries.withLock({ $0[key] }), case .upstream = entry.origin, case .complete = entry.session.phase {
                return (nil, false, Attachment(key: key, session: entry.session, origin: entry.origin, outcome: .coalesced))
            }
            if let meta = store?.meta(key), meta.isComplete, meta.kind == .upstream {
                return (nil, false, restore(track, meta: meta, settings: upstream, now: now))
            }
            let task = Task { await self.openUpstream(track, offset: offset) }
            opens[key] = task
            return (task, false, nil)
        }
        if let known {
            if case .upstream(let pull) = known.origin { revalidateIfDue(pull, key: key, now: now) }
            return known
        }
        guard let task else { throw .notFound }
        let result = await task.value
        if !joined { upstreamOpens.withLock { opens in opens[key] = nil } }
        switch result {
        case .success(let attachment):
            return joined
                ? Attachment(key: key, session: attachment.session, origin: attachment.origin, outcome: .coalesced)
                : attachment
        case .failure(let error):
            throw error
        }
    }

    /// A rendition cached by an earlier run (its record is in LMDB): served as a hit, refilled
    /// from the parent chunk by chunk, revalidated on first use.
    private func restore(_ track: TrackPath, meta: RenditionMeta, settings: UpstreamSettings, now: UInt64) -> Attachment {
        let key = track.renditionKey
        let facts = UpstreamFacts(
            length: meta.length, etag: meta.etag, etagFromParent: meta.source.device == 1,
            lastModified: meta.lastModified, durationMillis: meta.durationMillis
        )
        let session = FillSession(key: key, meta: meta, isSequential: false, store: store)
        let pull = makePull(track, facts: facts, session: session, settings: settings, checkedAt: 0)
        return install(key: key, session: session, origin: .upstream(pull), now: now, outcome: .hit)
    }

    /// The first request of a pull: learns the facts from the parent's answer for the slice
    /// holding `offset`, installs the session, and lets the body flow into it.
    private func openUpstream(_ track: TrackPath, offset: Int64?) async -> Result<Attachment, DeliveryError> {
        guard let upstream else { return .failure(.notFound) }
        let key = track.renditionKey
        let chunkSize = store?.chunkSize ?? ChunkStore.defaultChunkSize
        let sliceBytes = Int64(chunkSize) * Int64(upstream.sliceChunks)
        var slice = offset.map { Int(max(0, $0) / sliceBytes) } ?? 0
        var body: UpstreamBody
        while true {
            let start = Int64(slice) * sliceBytes
            do {
                // From the slice of the wanted byte to the end: one request brings the rest.
                body = try await upstream.fetcher.fetch(track, range: ByteRange(start: start, end: Int64.max - 1), expecting: nil)
                break
            } catch .notFound {
                let until = MonotonicClock.nanos() + Self.nanos(upstream.negativeTTL)
                upstreamMisses.withLock { $0[key] = until }
                return .failure(.notFound)
            } catch .unsatisfiable where slice > 0 {
                slice = 0 // the wanted offset is past the end: start from the beginning instead
            } catch {
                return .failure(error.delivery)
            }
        }
        let facts = body.facts
        // What identifies the parent's version: its length, Last-Modified and ETag (device 1
        // records that the ETag is the parent's own, so `If-Match` can be sent after a restart).
        let source = SourceIdentity(
            size: facts.length, mtimeNanos: facts.lastModified &* 1_000_000_000,
            inode: Self.fnv1a(facts.etag), device: facts.etagFromParent ? 1 : 0
        )
        var meta = RenditionMeta(
            generation: nextGeneration(), chunkSize: chunkSize, length: facts.length, etag: facts.etag,
            lastModified: facts.lastModified, durationMillis: facts.durationMillis, playbackOffset: nil,
            source: source, kind: .upstream
        )
        let session = FillSession(key: key, meta: meta, isSequential: false, store: store)
        let pull = makePull(track, facts: facts, session: session, settings: upstream, checkedAt: MonotonicClock.nanos())
        // The record first: the cache stores only chunks of a rendition's current generation.
        store?.putMeta(meta, for: key)
        pull.adopt(slice: slice, body: body)
        if slice == 0, let head = await pull.firstChunk(),
           let offset = OggScan.endOfFirstAudioPage(head).map(Int64.init) {
            // A response from byte 0 waits for this chunk anyway: learn where playback can start
            // (the end of the first audio page) for the delivery log.
            meta.playbackOffset = offset
            session.revise(meta: meta)
            store?.putMeta(meta, for: key)
        }
        let attachment = install(key: key, session: session, origin: .upstream(pull), now: MonotonicClock.nanos(), outcome: .upstream)
        return .success(attachment)
    }

    private func makePull(_ track: TrackPath, facts: UpstreamFacts, session: FillSession, settings: UpstreamSettings, checkedAt: UInt64) -> UpstreamPull {
        let key = track.renditionKey
        let generation = session.generation
        var isCached: (@Sendable (Int) -> Bool)?
        if let store {
            isCached = { @Sendable (index: Int) -> Bool in
                let lookup: ChunkLookup = store.withChunk(ChunkID(rendition: key, generation: generation, index: UInt32(index))) { _ in }
                return lookup == .found
            }
        }
        let pull = UpstreamPull(
            track: track, facts: facts, chunkSize: session.chunkSize, sliceChunks: settings.sliceChunks,
            fetcher: settings.fetcher, session: session, isCached: isCached, checkedAt: checkedAt
        )
        // Another version upstream (a resume met another ETag): drop this copy; the next
        // request pulls the new one.
        pull.onChanged { [weak self] in
            guard let self else { return }
            Task { _ = await self.purgeUpstream(key, pull: pull) }
        }
        return pull
    }

    /// Asks the parent, in the background, whether the cached version is still current, at most
    /// once per revalidation interval; the request that noticed is served from the cache.
    func revalidateIfDue(_ pull: UpstreamPull, key: String, now: UInt64) {
        guard let upstream, pull.claimRevalidation(now: now, interval: Self.nanos(upstream.revalidateInterval)) else { return }
        upstreamRevalidations.withLock { running in
            running.next += 1
            let id = running.next
            // Created under the lock: its own removal (also under the lock) comes after this insert.
            running.tasks[id] = Task {
                await self.revalidate(pull, key: key, upstream: upstream)
                _ = self.upstreamRevalidations.withLock { $0.tasks.removeValue(forKey: id) }
            }
        }
    }

    /// Returns once every background revalidation started so far has ended (tests).
    package func upstreamRevalidationsSettled() async {
        let tasks = upstreamRevalidations.withLock { Array($0.tasks.values) }
        for task in tasks { await task.value }
    }

    private func revalidate(_ pull: UpstreamPull, key: String, upstream: UpstreamSettings) async {
        let answer = await upstream.fetcher.revalidate(pull.track, facts: pull.facts)
        pull.revalidated(at: MonotonicClock.nanos())
        switch answer {
        case .unchanged, .unknown:
            break
        case .changed:
            _ = await purgeUpstream(key, pull: pull)
        case .gone:
            let until = MonotonicClock.nanos() + Self.nanos(upstream.negativeTTL)
            _ = await purgeUpstream(key, pull: pull)
            upstreamMisses.withLock { $0[key] = until }
        }
    }

    /// Drops the copy `pull` made, unless the directory already moved on to another version.
    private func purgeUpstream(_ key: String, pull: UpstreamPull) async -> Int {
        let current = entries.withLock { map -> Bool in
            guard let entry = map[key], case .upstream(let known) = entry.origin else { return false }
            return known === pull
        }
        guard current else { return 0 }
        return await purge([key])
    }

    /// FNV-1a, 64 bits: a stable digest of an ETag for the cache record's source identity.
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
