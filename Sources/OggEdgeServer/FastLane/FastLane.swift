import NIOCore
import NIOHTTP1
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery
import Synchronization

/// What every event loop's fast lane shares: the same verifier, directory, cache, planner policy
/// and log as the general path, so a fast answer is the answer the general path would give.
final class FastLaneShared: Sendable {
    let verifier: URLVerifier
    let directory: RenditionDirectory
    let store: ChunkStore
    let rangePolicy: RangePolicy
    /// Largest body answered in one write (bigger bodies stream on the general path).
    let bodyLimit: Int
    let log: DeliveryLog
    let metrics: OriginMetrics
    let counters: DeliveryCounters
    let inFlight: InFlightResponses
    let ids: RequestIDGenerator
    let unlogged: UnloggedResponses
    /// `data.mdb` opened for `sendfile` (nil if it cannot be opened: bodies are then copied).
    let dataFile: DataFile?
    /// Bodies at least this long are sent from the data file with `sendfile` (no copy); nil:
    /// never (the default). Experimental (see the comment in `init`).
    let sendfileThreshold: Int?
    /// Bodies at least this long of a rendition that is a file in `tracks/` are sent from that
    /// file with `sendfile` (no copy, no body limit); nil: never.
    let originSendfileThreshold: Int?
    /// Most rendition files each loop keeps open for `sendfile`; a rendition past it is opened
    /// for each miss it answers, and its hits are copied from the cache.
    let maxOriginFiles: Int
    private let lanes = Mutex<[ObjectIdentifier: NIOLoopBound<FastLane>]>([:])
    private let answeredCount = Atomic<Int>(0)

    private let runtsCarriedCount = Atomic<Int>(0)

    /// Responses answered by the fast lane so far (all loops).
    var answered: Int { answeredCount.load(ordering: .relaxed) }

    /// Answers whose body's first bytes went with the head (``FastLane``'s `carryRunt`).
    var runtsCarried: Int { runtsCarriedCount.load(ordering: .relaxed) }

    func countAnswer() { answeredCount.wrappingAdd(1, ordering: .relaxed) }

    func countRuntCarried() { runtsCarriedCount.wrappingAdd(1, ordering: .relaxed) }

    private let runtsFromCacheCount = Atomic<Int>(0)

    /// Carried runts copied from the chunk cache (the others were read from the file).
    var runtsFromCache: Int { runtsFromCacheCount.load(ordering: .relaxed) }

    func countRuntFromCache() { runtsFromCacheCount.wrappingAdd(1, ordering: .relaxed) }

    private let coldDeclinesCount = Atomic<Int>(0)

    /// Requests the lane handed to the general path because the part of a rendition's file it
    /// would have sent was not in the page cache (reading it would have blocked the loop).
    var coldDeclines: Int { coldDeclinesCount.load(ordering: .relaxed) }

    func countColdDecline() { coldDeclinesCount.wrappingAdd(1, ordering: .relaxed) }

    init(
        verifier: URLVerifier, directory: RenditionDirectory, store: ChunkStore, rangePolicy: RangePolicy, bodyLimit: Int,
        log: DeliveryLog, metrics: OriginMetrics, counters: DeliveryCounters, inFlight: InFlightResponses, ids: RequestIDGenerator,
        unlogged: UnloggedResponses, sendfileThreshold: Int? = nil, originSendfileThreshold: Int? = 32 * 1024,
        maxOriginFiles: Int = FileDescriptorLimit.originFilesPerLoop
    ) {
        self.maxOriginFiles = maxOriginFiles
        self.verifier = verifier
        self.directory = directory
        self.store = store
        self.rangePolicy = rangePolicy
        self.bodyLimit = bodyLimit
        self.log = log
        self.metrics = metrics
        self.counters = counters
        self.inFlight = inFlight
        self.ids = ids
        self.unlogged = unlogged
        // `sendfile` from `data.mdb` is off unless asked for: the pin is released when the last
        // byte is in the socket's send queue, but on loopback (and with zero-copy sends) that
        // queue holds references to the page-cache pages, not copies; once unpinned, LMDB may
        // reuse a page and the client reads the new bytes. Safe only once the pin outlives the
        // send queue (docs/BYTE-PATH.md).
        self.sendfileThreshold = sendfileThreshold
        self.originSendfileThreshold = originSendfileThreshold
        self.dataFile = sendfileThreshold == nil ? nil : DataFile(path: store.dataFilePath)
    }

    /// The lane of `eventLoop` (made on first use; one per loop, used only on that loop).
    func lane(on eventLoop: any EventLoop) -> FastLane {
        lanes.withLock { map in
            let id = ObjectIdentifier(eventLoop)
            if let bound = map[id] { return bound.value }
            let lane = FastLane(shared: self)
            map[id] = NIOLoopBound(lane, eventLoop: eventLoop)
            return lane
        }
    }
}

/// One event loop's fast lane: answers a `GET`/`HEAD` of a complete, cached rendition
/// synchronously, on the loop, from the same directory, planner and chunk cache as the general
/// path. It declines (returns nil) whenever anything would need more: an unknown or stale
/// rendition, a chunk not in the cache, a signature not yet seen, a refusal, a multi-range or
/// unsatisfiable range, a body past the single-write limit. Declined requests go the general way.
///
/// State per loop, no locks of its own: rendition handles with their header lines rendered once,
/// the verified-token table, the `Date` line, the log's formatted date of the current second.
final class FastLane {
    let shared: FastLaneShared
    private var handles: [Substring: RenditionHandle] = [:]
    /// Handles of this loop holding their file open (bounded by the shared
    /// ``FastLaneShared/maxOriginFiles``: descriptors are for connections first).
    private var originFilesOpen = 0
    private var tokens: TokenMemo
    /// The directory's change count, kept here: reading it through the directory would retain
    /// the directory on every request (see ``RenditionDirectory/ChangeCount``).
    private let directoryChanges: RenditionDirectory.ChangeCount
    private var date = DateLine()
    /// The delivery log's formatted date of the last second this loop logged in.
    var logStamps = RFC3339.SecondCache()
    /// Memory the delivery-log line of an answer is formatted in (a line of usual length fits).
    let logLine = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    /// The response buffer, reused when the socket has released the previous answer (else
    /// `clear` gives it fresh storage and the old one goes with the write).
    private var out = ByteBufferAllocator().buffer(capacity: 72 * 1024)
    /// A body's first bytes, copied from the chunk cache for ``carryRunt(_:segmentSize:)``.
    var runt = RuntCopy()

    init(shared: FastLaneShared) {
        self.shared = shared
        self.tokens = TokenMemo(leewaySeconds: shared.verifier.leewaySeconds)
        self.directoryChanges = shared.directory.changes
        handles.reserveCapacity(1024)
    }

    deinit {
        logLine.deallocate()
        runt.bytes.deallocate()
    }

    /// What the log needs of a fast answer (the bytes themselves are returned beside it).
    struct Answer {
        var handle: RenditionHandle
        var status: Int
        var uid: String?
        /// The request's `Range` header as sent.
        var rangeHeader: String?
        var rangeStart: Int64?
        var rangeEnd: Int64?
        var contentLength: Int64?
        var bodyBytes: Int64
        /// True when the body starts at 0 and covers the first audio page.
        var startsPlayback: Bool
        /// `HIT`, or `MISS` when chunks of the body were read from the rendition's file.
        var cache: CacheResult
    }

    /// The answer to a `GET` (or `HEAD`) of `target` already screened as a candidate (by
    /// ``FastLaneHandler/isCandidate(_:)`` or ``RawRequestScanner``): the response head (with the
    /// body copied in, or the body to `sendfile` from a file), and what its log needs; nil to let
    /// the general path answer it.
    /// - Parameter segmentSize: the connection's TCP maximum segment size (0: unknown), for
    ///   ``carryRunt(_:segmentSize:)``; asked only for a body sent from a file in one run.
    func answer(
        isHead: Bool, target: String, request: FastRequest, clientIP: String, nowSeconds: Int64, nowNanos: UInt64,
        segmentSize: () -> Int = { 0 }
    ) -> (bytes: ByteBuffer, file: FileBody?, answer: Answer)? {
        let pathEnd = target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        let path = target[..<pathEnd]
        guard let handle = currentHandle(path, now: nowNanos) else { return nil }

        let grant: Grant
        if let known = tokens.grant(for: target, clientIP: clientIP, now: nowSeconds) {
            grant = known
        } else {
            guard case .success(let verified) = shared.verifier.verify(
                target: target[...], path: path, clientIP: clientIP[...], kbps: handle.track.kbps, now: nowSeconds
            ) else { return nil }
            tokens.remember(target, grant: verified, clientIP: clientIP)
            grant = verified
        }

        let meta = handle.meta
        let plan = DeliveryPlanner.plan(
            DeliveryRequest(
                isGetOrHead: true, range: isHead ? nil : request.range.map { Substring($0) },
                conditionals: request.conditionals
            ),
            validators: handle.validators, length: meta.length, policy: shared.rangePolicy
        )
        let body: ByteRange?
        let status: Int
        switch plan {
        case .full:
            status = 200
            body = meta.length > 0 ? ByteRange(start: 0, end: meta.length - 1) : nil
        case .partial(let range):
            status = 206
            body = range
        case .notModified:
            status = 304
            body = nil
        default:
            return nil  // multipart, 412, 416: the general path words those
        }
        let bodyLength = body?.length ?? 0
        let sendsBody = !isHead && status != 304
        var file: FileBody?
        runt.wanted = 0
        runt.copied = 0
        // Asked of the socket at most once per answer.
        var knownSegmentSize: Int?
        func segment() -> Int {
            if let knownSegmentSize { return knownSegmentSize }
            let size = segmentSize()
            knownSegmentSize = size
            return size
        }
        var cache = CacheResult.hit
        if sendsBody, let body, let threshold = shared.originSendfileThreshold, bodyLength >= Int64(threshold),
           let origin = handle.originFile, origin.isUnchanged {
            // A hit means the cache holds the range; a range it does not hold (wholly) is a MISS,
            // whose missing chunks are read now and handed to the fill session. Either way the
            // bytes leave from the same version's file.
            // The runt `carryRunt` will move behind the head is copied from the cached chunk while
            // its presence is checked (no read of the file for it); on a miss it is read from the file.
            runt.wanted = Self.runtLength(bodyLength, segmentSize: segment())
            guard isResident(origin, body), let cached = cachedOrOffered(handle, body, origin: origin, runt: &runt) else { return nil }
            if !cached { cache = .miss }
            file = FileBody(file: origin, segments: FileBody.segments(of: body), pinned: nil)
        } else if sendsBody, let body, let threshold = shared.sendfileThreshold, bodyLength >= Int64(threshold),
                  let dataFile = shared.dataFile,
                  let pinned = shared.store.pin(
                      rendition: handle.key, generation: meta.generation, chunkSize: meta.chunkSize, start: body.start, end: body.end
                  ) {
            file = FileBody(file: dataFile, segments: pinned.segments.map { ($0.offset, $0.count) }, pinned: pinned)
        }
        guard file != nil || !sendsBody || bodyLength <= Int64(shared.bodyLimit) else { return nil }

        let dateLine = date.line(at: nowSeconds)
        var copiesBody = sendsBody && file == nil
        out.clear(minimumCapacity: 320 + handle.commonLines.count + (copiesBody ? Int(bodyLength) : 0))
        // One exclusive access to `out` for the whole response (each `out.write…` on the
        // property would be a dynamic exclusivity check of its own).
        if !Self.render(
            into: &out, status: status, dateLine: dateLine, handle: handle, body: body, bodyLength: bodyLength,
            copiesBody: copiesBody, store: shared.store
        ) {
            // A chunk is not in the cache: answered from the rendition's own file when it is one
            // (a MISS whose chunks are queued for the cache writer to read from the file, or a
            // HIT if the session holds or has queued them for their commit), else the general way.
            guard let body, let origin = originForMiss(handle), origin.isUnchanged,
                  isResident(origin, body), let cached = cachedOrOffered(handle, body, origin: origin, runt: &runt) else { return nil }
            cache = cached ? .hit : .miss
            file = FileBody(file: origin, segments: FileBody.segments(of: body), pinned: nil)
            copiesBody = false
            out.clear()
            _ = Self.render(
                into: &out, status: status, dateLine: dateLine, handle: handle, body: body, bodyLength: bodyLength,
                copiesBody: false, store: shared.store
            )
        }
        carryRunt(&file, segmentSize: segment)
        var startsPlayback = false
        if sendsBody, let body, let offset = meta.playbackOffset, body.start == 0, body.end + 1 >= offset { startsPlayback = true }
        return (out, file, Answer(
            handle: handle, status: status, uid: grant.uid, rangeHeader: request.range,
            rangeStart: body?.start, rangeEnd: body?.end,
            contentLength: status == 304 ? nil : bodyLength, bodyBytes: sendsBody ? bodyLength : 0,
            startsPlayback: startsPlayback, cache: cache
        ))
    }

    /// Whether `body` of a rendition's file is in the page cache, so that `sendfile` will not
    /// wait for the disk on the event loop. A range can be in the chunk cache while its file's
    /// pages were reclaimed (memory pressure, or a host reclaiming memory idle for a minute):
    /// such a request goes the general way, which reads off the loop. Counted in
    /// ``FastLaneShared/coldDeclines``. The kernel is asked to read the range back meanwhile
    /// (without waiting for it): a hit is answered from the chunk cache on the general path and
    /// would not bring the file's pages back, so every later hit of the range would be declined
    /// too, each costing the general path's CPU (several times the lane's).
    private func isResident(_ origin: DataFile, _ body: ByteRange) -> Bool {
        if origin.isResident(offset: body.start, count: Int(body.length)) { return true }
        shared.countColdDecline()
        origin.prefetch(offset: body.start, count: Int(body.length))
        return false
    }

    /// Most body bytes carried behind the head by ``carryRunt(_:segmentSize:)``.
    static let maxCarried = 16 * 1024

    /// How many of a body's first bytes ``carryRunt(_:segmentSize:)`` would move behind the
    /// head (`bodyLength % segmentSize`), or 0 when it moves none (unknown segment size, a body
    /// sent in more than one run, a runt past ``maxCarried`` or a body of whole segments).
    static func runtLength(_ bodyLength: Int64, segmentSize: Int) -> Int {
        guard segmentSize > 0, bodyLength > 0, bodyLength <= Int64(FileBody.run) else { return 0 }
        let runt = Int(bodyLength % Int64(segmentSize))
        return runt < bodyLength && runt <= maxCarried ? runt : 0
    }

    /// Moves the first `count % segmentSize` bytes of a body sent from a file in one run into
    /// `out`, behind the head (read from the page cache only; nothing moves if they are not
    /// there), so that the head and those bytes make one TCP segment and `sendfile` sends the
    /// rest in whole segments. Otherwise the kernel sends the head as a segment of its own and
    /// ends the body with a short one: three segments for a 64 KiB range on loopback (MSS 65,483)
    /// instead of two, and each costs a pass through both sides' TCP stacks whatever its size
    /// (bodies of 65,000 bytes cost a fifth less system time than bodies of 65,536).
    private func carryRunt(_ file: inout FileBody?, segmentSize: () -> Int) {
        guard var body = file, body.pinned == nil, body.segments.count == 1 else { return }
        let segmentSize = segmentSize()
        let run = body.segments[0]
        let runt = Self.runtLength(Int64(run.count), segmentSize: segmentSize)
        guard runt > 0, out.readableBytes + runt <= segmentSize else { return }
        let fromCache = self.runt.copied == runt
        let read = out.writeWithUnsafeMutableBytes(minimumWritableBytes: runt) { memory in
            if fromCache {
                memory.baseAddress!.copyMemory(from: self.runt.bytes.baseAddress!, byteCount: runt)
                return runt
            }
            return body.file.readResident(into: memory.baseAddress!, count: runt, offset: run.offset) == runt ? runt : 0
        }
        guard read == runt else { return }
        body.segments[0] = (run.offset + Int64(runt), run.count - runt)
        file = body
        shared.countRuntCarried()
        if fromCache { shared.countRuntFromCache() }
    }

    /// Writes a response head (and the body, when `copiesBody`, from the chunk cache) into
    /// `out`; false when a chunk of the body is no longer cached.
    private static func render(
        into out: inout ByteBuffer, status: Int, dateLine: [UInt8], handle: RenditionHandle, body: ByteRange?,
        bodyLength: Int64, copiesBody: Bool, store: ChunkStore
    ) -> Bool {
        let meta = handle.meta
        // The head in one write: every piece's length is bounded (the numbers at 20 digits), so
        // the cursor writes without a capacity check per piece.
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: 256 + dateLine.count + handle.commonLines.count) { memory in
            var w = ByteCursor(memory)
            w.raw(status == 200 ? "HTTP/1.1 200 OK\r\n" : status == 206 ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 304 Not Modified\r\n")
            w.raw(dateLine)
            w.raw("Server: OggEdge\r\n")
            if status != 304 {
                w.raw("Content-Type: audio/ogg\r\nContent-Length: ")
                w.decimal(UInt64(bodyLength))
                w.raw("\r\n")
            }
            if status == 206, let body {
                w.raw("Content-Range: bytes ")
                w.decimal(UInt64(body.start))
                w.byte(UInt8(ascii: "-"))
                w.decimal(UInt64(body.end))
                w.byte(UInt8(ascii: "/"))
                w.decimal(UInt64(meta.length))
                w.raw("\r\n")
            }
            w.raw(handle.commonLines)
            w.raw("\r\n")
            return w.count
        }
        guard copiesBody, let body else { return true }
        return store.withRange(
            rendition: handle.key, generation: meta.generation, chunkSize: meta.chunkSize, start: body.start, end: body.end
        ) { piece in
            out.writeBytes(piece)
        }
    }

    /// The handle for `path` if its rendition is complete, known and fresh in the directory;
    /// rendered again when the directory holds a different version than the one remembered.
    /// While the directory's answer for it holds (its ``RenditionDirectory/Lease``: nothing in
    /// the directory changed and the origin check has not expired), the handle is answered
    /// without asking the directory again: no lock, no lookup.
    private func currentHandle(_ path: Substring, now: UInt64) -> RenditionHandle? {
        if let handle = handles[path] {
            if let lease = handle.lease, now < lease.until, lease.version == directoryChanges.value { return handle }
            guard let (session, lease) = shared.directory.freshComplete(handle.track, key: handle.key, now: now) else { return nil }
            if session === handle.session {
                handle.lease = lease
                return handle
            }
            return render(path, track: handle.track, session: session, lease: lease)
        }
        guard case .success(let track) = TrackPath.parse(path),
              let (session, lease) = shared.directory.freshComplete(track, key: track.renditionKey, now: now) else { return nil }
        return render(path, track: track, session: session, lease: lease)
    }

    private func render(
        _ path: Substring, track: TrackPath, session: FillSession, lease: RenditionDirectory.Lease?
    ) -> RenditionHandle? {
        guard let meta = session.meta else { return nil }
        if handles.count >= 4096 {
            handles.removeAll(keepingCapacity: true)
            originFilesOpen = 0  // each closes once the responses still sending from it are done
        }
        let handle = RenditionHandle(path: String(path), track: track, session: session, meta: meta)
        handle.lease = lease
        if shared.originSendfileThreshold != nil, meta.kind == .file,
           let origin = shared.directory.fileOrigin(track.renditionKey), meta.source == origin.identity.source {
            handle.origin = origin
            if originFilesOpen < shared.maxOriginFiles { handle.originFile = DataFile(path: origin.path, identity: origin.identity) }
        }
        if handles.updateValue(handle, forKey: Substring(handle.path))?.originFile != nil { originFilesOpen -= 1 }
        if handle.originFile != nil { originFilesOpen += 1 }
        return handle
    }
}

/// A body sent with `sendfile`: runs of a file (a rendition's own file, or `data.mdb` with the
/// chunk pages pinned until the socket took them).
struct FileBody {
    let file: DataFile
    /// (offset in the file, bytes), in body order.
    var segments: [(offset: Int64, count: Int)]
    let pinned: PinnedRange?

    /// Largest run written at once: `bytes_sent` of a response cut short counts whole runs.
    static let run = 256 * 1024

    /// `body` of a rendition's own file in runs of at most ``run`` bytes.
    static func segments(of body: ByteRange) -> [(offset: Int64, count: Int)] {
        var segments: [(offset: Int64, count: Int)] = []
        var offset = body.start
        while offset <= body.end {
            let count = Int(min(Int64(run), body.end - offset + 1))
            segments.append((offset, count))
            offset += Int64(count)
        }
        return segments
    }
}

/// The request headers the fast lane reads, picked out of the head in one pass.
struct FastRequest {
    var range: String?
    var conditionals = ConditionalHeaders()

    /// Takes the value of a header the lane reads (the rules both request readers apply: at most
    /// one of each header the planner reads, a `Range` of at most 256 bytes, `Connection:
    /// keep-alive` only, no body, no protocol switch); false when the request is then not one the
    /// lane answers.
    mutating func take(_ field: RawRequestScanner.Field, _ value: String) -> Bool {
        switch field {
        case .range:
            guard range == nil, value.utf8.count <= 256 else { return false }
            range = value
        case .ifMatch: return Self.once(&conditionals.ifMatch, value)
        case .ifNoneMatch: return Self.once(&conditionals.ifNoneMatch, value)
        case .ifModifiedSince: return Self.once(&conditionals.ifModifiedSince, value)
        case .ifUnmodifiedSince: return Self.once(&conditionals.ifUnmodifiedSince, value)
        case .ifRange: return Self.once(&conditionals.ifRange, value)
        case .connection:
            return value.lowercasedASCIIEquals("keep-alive")
        case .contentLength:
            return value == "0"
        case .transferEncoding, .expect, .upgrade:
            return false
        case .other:
            break
        }
        return true
    }

    /// Sets a conditional header's slot unless the request already had that header (a second
    /// one is not the lane's to judge).
    private static func once(_ slot: inout Substring?, _ value: String) -> Bool {
        guard slot == nil else { return false }
        slot = value[...]
        return true
    }
}
