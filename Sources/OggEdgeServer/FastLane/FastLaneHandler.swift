#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// Sits right after NIO's HTTP/1 decoder and answers what the ``FastLane`` can answer on the
/// spot; everything else passes on, untouched, to the general path (HTTP types conversion,
/// connection guard, Hummingbird's responder).
///
/// Responses on a connection stay in order: a request is a fast-lane candidate only while no
/// request handed to the general path is still waiting for its response's end (the handler sees
/// those ends go by on their way out). A candidate's head is held until its end arrives, then
/// either answered here or handed on together with its end. Fast answers are written at the
/// front of the pipeline (already HTTP/1 bytes) and flushed once per read batch, so pipelined
/// requests share a `writev`. While the socket is not writable nothing is answered here: the
/// general path's backpressure takes over.
final class FastLaneHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let lane: FastLane
    private let socket: FastLaneSocketWriter
    /// Held strongly (nothing holds this handler back): an `unowned` reference costs an atomic
    /// check of the referent on every use.
    private let guardHandler: ConnectionGuardHandler
    private var clientIP = "-"
    /// Requests handed to the general path whose response has not ended yet.
    private var pendingGeneral = 0
    /// The head of a candidate whose end has not arrived yet, with its arrival times.
    private var held: (head: HTTPRequestHead, request: FastRequest, arrival: UInt64, wallMs: Int64)?
    private var needsFlush = false

    init(lane: FastLane, socket: FastLaneSocketWriter, guardHandler: ConnectionGuardHandler) {
        self.lane = lane
        self.socket = socket
        self.guardHandler = guardHandler
    }

    func handlerAdded(context: ChannelHandlerContext) {
        clientIP = context.channel.remoteAddress?.ipAddress ?? "-"
    }

    func channelActive(context: ChannelHandlerContext) {
        clientIP = context.channel.remoteAddress?.ipAddress ?? "-"
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if pendingGeneral == 0, let request = Self.isCandidate(head) {
                held = (head, request, MonotonicClock.nanos(), WallClock.millis())
                guardHandler.requestHeadArrived()
                return
            }
            pendingGeneral += 1
            context.fireChannelRead(data)
        case .body:
            // A candidate announces no body; if one comes anyway, the general path takes it all.
            handOn(context: context)
            context.fireChannelRead(data)
        case .end:
            guard let candidate = held else {
                context.fireChannelRead(data)
                return
            }
            held = nil
            if !answer(
                isHead: candidate.head.method == .HEAD, target: candidate.head.uri, request: candidate.request,
                arrival: candidate.arrival, wallMs: candidate.wallMs, context: context
            ) {
                pendingGeneral += 1
                context.fireChannelRead(wrapInboundOut(.head(candidate.head)))
                context.fireChannelRead(data)
            }
        }
    }

    /// Answers a candidate read from raw bytes by ``RawFastLaneHandler`` (in front of the
    /// decoder), if nothing handed to the general path is still being answered; false to let the
    /// decoder read its bytes after all. `context` only lends its event loop.
    func answerRaw(_ raw: RawRequest, context: ChannelHandlerContext) -> Bool {
        guard pendingGeneral == 0, held == nil else { return false }
        // The head is in (a declined one reaches the guard through the decoder anyway); a fast
        // answer then arms the keep-alive timeout.
        guardHandler.requestHeadArrived()
        return answer(
            isHead: raw.isHead, target: raw.target, request: raw.request,
            arrival: MonotonicClock.nanos(), wallMs: WallClock.millis(), context: context
        )
    }

    /// Answers a candidate on the spot if the lane can; false when the general path must.
    private func answer(
        isHead: Bool, target: String, request: FastRequest, arrival: UInt64, wallMs: Int64, context: ChannelHandlerContext
    ) -> Bool {
        guard context.channel.isWritable, let (bytes, file, answer) = lane.answer(
            isHead: isHead, target: target, request: request, clientIP: clientIP, nowSeconds: wallMs / 1000, nowNanos: arrival,
            segmentSize: socket.segmentSize
        ) else { return false }
        if let file {
            sendFile(bytes, file, answer, arrival: arrival, wallMs: wallMs, isHead: isHead, context: context)
        } else {
            send(bytes, answer, arrival: arrival, wallMs: wallMs, isHead: isHead, context: context)
        }
        return true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAnswers()
        context.fireChannelReadComplete()
    }

    /// Flushes the answers written since the last flush (once per read cycle), then settles the
    /// cycle's last answer (see ``unsettled``).
    func flushAnswers() {
        guard needsFlush else { return }
        needsFlush = false
        socket.flush()
        guard unsettled else { return }
        guard let pending = socket.bufferedBytes() else {
            // The connection failed during the flush: nothing of this answer was taken for sure.
            unsettled = false
            confirm(ok: false)
            return
        }
        if pending == 0 {
            // The socket took every write, and the completions of all earlier ones ran during the
            // flush: the oldest answer still unconfirmed is this one.
            unsettled = false
            confirm(ok: true)
        } else {
            attachCompletion()
            socket.flush()
        }
    }

    /// True while the newest answer has no completion of its own: the flush at the end of its
    /// read cycle settles it by asking the channel whether anything is still queued (nothing,
    /// nearly always), and only otherwise gives it a completion (an empty write behind it). A
    /// promise, its future and a callback per answer were 7 % of the user CPU of a 64 KiB range.
    private var unsettled = false

    /// Gives the unsettled answer its completion: an empty write right behind it, whose promise
    /// completes once the socket took everything before it (writes complete in order). Called
    /// before anything else is written after it.
    private func attachCompletion() {
        guard unsettled else { return }
        unsettled = false
        guard let marker = socket.writeMarker() else {
            confirm(ok: false)
            return
        }
        marker.assumeIsolated().whenComplete { [self] result in
            if case .failure = result { confirm(ok: false) } else { confirm(ok: true) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Written but never flushed (or the flush failed before it could be settled).
        if unsettled {
            unsettled = false
            confirm(ok: false)
        }
        context.fireChannelInactive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { pendingGeneral = max(0, pendingGeneral - 1) }
        context.write(data, promise: promise)
    }

    private func handOn(context: ChannelHandlerContext) {
        guard let candidate = held else { return }
        held = nil
        pendingGeneral += 1
        context.fireChannelRead(wrapInboundOut(.head(candidate.head)))
    }

    /// A fast answer written and not yet known to have reached the socket.
    struct Unconfirmed {
        var answer: FastLane.Answer
        var arrival: UInt64
        var wallMs: Int64
        /// When the head went out ahead of a body sent from a file; nil for an answer written in
        /// one buffer, whose first byte went to the socket when the write completed (the log's
        /// clock read).
        var firstByte: UInt64?
        var isHead: Bool
        /// Request sequence (the `req_id`), taken when the answer was made, like the general path's.
        var sequence: UInt64
        /// The file a body is sent from, held until the socket took it: the write only borrows
        /// its descriptor, which the file closes when the last holder lets go (a loop's table of
        /// open files may drop it meanwhile).
        var file: DataFile? = nil
    }

    /// Answers in write order; a channel completes its writes in order, so each completion (or
    /// the settling of a read cycle's last answer) confirms the oldest one.
    private var unconfirmed: CircularBuffer<Unconfirmed> = CircularBuffer(initialCapacity: 8)

    private func send(_ bytes: ByteBuffer, _ answer: FastLane.Answer, arrival: UInt64, wallMs: Int64, isHead: Bool, context: ChannelHandlerContext) {
        let shared = lane.shared
        shared.inFlight.enter()
        shared.countAnswer()
        attachCompletion()
        socket.write(.byteBuffer(bytes), promise: nil)
        unconfirmed.append(Unconfirmed(
            answer: answer, arrival: arrival, wallMs: wallMs, firstByte: nil, isHead: isHead,
            sequence: shared.ids.next()
        ))
        unsettled = true
        needsFlush = true
        guardHandler.responseEnded()
    }

    /// Sends a head and a body from a file: one `sendfile` per run of the body, each counted
    /// when the socket took it; a pin in the data file is released and the answer logged when
    /// the last run was taken or the connection failed.
    private func sendFile(
        _ head: ByteBuffer, _ body: FileBody, _ answer: FastLane.Answer, arrival: UInt64, wallMs: Int64,
        isHead: Bool, context: ChannelHandlerContext
    ) {
        let shared = lane.shared
        shared.inFlight.enter()
        shared.countAnswer()
        var sent = Unconfirmed(
            answer: answer, arrival: arrival, wallMs: wallMs, firstByte: MonotonicClock.nanos(), isHead: isHead,
            sequence: shared.ids.next()
        )
        attachCompletion()
        socket.write(.byteBuffer(head), promise: nil)
        if body.pinned == nil, body.segments.count == 1 {
            // One run from a file (any range of up to 256 KiB): settled like a buffer answer;
            // no progress object, no promise of its own.
            let segment = body.segments[0]
            socket.write(.fileRegion(FileRegion(
                fileHandle: body.file.handle, readerIndex: Int(segment.offset), endIndex: Int(segment.offset) + segment.count
            )), promise: nil)
            sent.file = body.file
            unconfirmed.append(sent)
            unsettled = true
            needsFlush = true
            guardHandler.responseEnded()
            return
        }
        let progress = PinnedProgress(body: body, store: shared.store)
        progress.sent = sent
        for (i, segment) in body.segments.enumerated() {
            let region = FileRegion(fileHandle: body.file.handle, readerIndex: Int(segment.offset), endIndex: Int(segment.offset) + segment.count)
            let written = context.eventLoop.makePromise(of: Void.self)
            socket.write(.fileRegion(region), promise: written)
            let count = segment.count
            let isLast = i == body.segments.count - 1
            written.futureResult.assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success:
                    progress.bytes += Int64(count)
                    if isLast { finish(progress, ok: true) }
                case .failure:
                    finish(progress, ok: false)
                }
            }
        }
        needsFlush = true
        guardHandler.responseEnded()
    }

    private func finish(_ progress: PinnedProgress, ok: Bool) {
        guard !progress.done, let sent = progress.sent else { return }
        progress.done = true
        progress.release()
        log(sent, ok: ok, bytesSent: progress.bytes)
    }

    /// Logs the oldest unconfirmed answer: `bytes_sent` is its body when the socket took the
    /// write, 0 (and `aborted`) when the connection failed first.
    private func confirm(ok: Bool) {
        guard let sent = unconfirmed.popFirst() else { return }
        log(sent, ok: ok, bytesSent: ok ? sent.answer.bodyBytes : 0)
    }

    private func log(_ sent: Unconfirmed, ok: Bool, bytesSent: Int64) {
        let shared = lane.shared
        let answer = sent.answer
        let end = MonotonicClock.nanos()
        // A write that failed put no byte of this answer in the socket: no first byte to time.
        let firstByte = sent.firstByte ?? (ok ? end : nil)
        let record = DeliveryRecord(
            timestampMs: sent.wallMs, requestId: shared.ids.id(for: sent.sequence), clientIP: clientIP,
            method: sent.isHead ? "HEAD" : "GET", path: answer.handle.path,
            track: answer.handle.track.trackId, kbps: answer.handle.track.kbps, uid: answer.uid, status: answer.status,
            range: answer.rangeHeader, rangeStart: answer.rangeStart, rangeEnd: answer.rangeEnd, contentLength: answer.contentLength,
            bytesSent: bytesSent,
            ttfbMicros: answer.bodyBytes > 0 ? firstByte.map { Int64(($0 &- sent.arrival) / 1000) } : nil,
            playbackStartMicros: answer.startsPlayback ? firstByte.map { Int64(($0 &- sent.arrival) / 1000) } : nil,
            durationMicros: Int64((end &- sent.arrival) / 1000),
            cache: ok ? answer.cache : .error, auth: "ok", aborted: !ok
        )
        shared.counters.count(ok ? answer.cache : .error)
        shared.metrics.record(record)
        if !shared.unlogged.holdIfPending(answer.handle.key, record) {
            shared.log.submit(record, stamps: &lane.logStamps, scratch: lane.logLine)
        }
        shared.inFlight.leave()
    }

    /// The headers the fast lane reads if `head` may be answered here: HTTP/1.1, `GET` or
    /// `HEAD` of a `/tracks/` path, no body, no connection or protocol switching, at most one
    /// of each header it reads. Anything else: nil.
    static func isCandidate(_ head: HTTPRequestHead) -> FastRequest? {
        guard head.version.major == 1, head.version.minor == 1,
              head.method == .GET || head.method == .HEAD,
              head.uri.utf8.starts(with: tracksPrefix) else { return nil }
        var request = FastRequest()
        for (name, value) in head.headers {
            var name = name
            let field = name.withUTF8 { RawRequestScanner.Field(UnsafeRawBufferPointer($0)) }
            guard request.take(field, value) else { return nil }
        }
        return request
    }

    private static let tracksPrefix = "/tracks/".utf8
}

/// One response sent from a file, in flight: bytes the socket took so far, and the file (and
/// any pin in the data file) held until it is done.
final class PinnedProgress {
    let body: FileBody
    let store: ChunkStore
    var bytes: Int64 = 0
    var done = false
    var sent: FastLaneHandler.Unconfirmed?
    private var released = false

    init(body: FileBody, store: ChunkStore) {
        self.body = body
        self.store = store
    }

    func release() {
        guard !released else { return }
        released = true
        if let pinned = body.pinned { store.unpin(pinned) }
    }

    deinit { release() }
}

/// Holds the pipeline's front context so the fast lane can write finished HTTP/1 bytes past the
/// response encoder, straight to the socket.
final class FastLaneSocketWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData
    private var context: ChannelHandlerContext?
    /// The channel's synchronous options, asked for once: each `syncOptions` getter instantiates
    /// generic metadata and boxes a new existential (a few hundred nanoseconds per answer).
    private var options: (any NIOSynchronousChannelOptions)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        options = context.channel.syncOptions
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        options = nil
    }

    func write(_ data: IOData, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(data), promise: promise)
    }

    func flush() { context?.flush() }

    /// The connection's TCP maximum segment size as the kernel uses it to cut what is sent (0:
    /// unknown). It grows with the peer's window (bounded by half the largest window seen:
    /// 32,768 then 47,616 then 65,483 on loopback as a client's window opens), so it is asked
    /// of the socket for each of a connection's first 16 such answers, then for every 16th; a value
    /// gone stale costs a few bytes copied for nothing, never a wrong byte. Asked only for
    /// answers whose body leaves from a file in one run.
    func segmentSize() -> Int {
        segmentAnswers &+= 1
        if segmentAnswers <= 16 || segmentAnswers & 15 == 0, let options {
            let value = try? options.getOption(Self.maxSegment)
            segment = max(0, Int(value ?? 0))
        }
        return segment
    }

    private var segment = 0
    private var segmentAnswers = 0
    private static let maxSegment = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_MAXSEG))

    /// Bytes the channel holds that the socket has not taken yet; nil once it is closed.
    func bufferedBytes() -> Int? {
        try? options?.getOption(ChannelOptions.bufferedWritableBytes)
    }

    /// An empty write whose completion means every write before it reached the socket.
    func writeMarker() -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(.byteBuffer(Self.empty)), promise: promise)
        return promise.futureResult
    }

    private static let empty = ByteBuffer()
}

extension String {
    /// ASCII case-insensitive equality with a lowercase `other`, byte by byte.
    func lowercasedASCIIEquals(_ other: StaticString) -> Bool {
        let count = other.utf8CodeUnitCount
        guard utf8.count == count else { return false }
        return other.withUTF8Buffer { expected in
            var i = 0
            for byte in utf8 {
                let lower = byte >= 65 && byte <= 90 ? byte | 0x20 : byte
                guard lower == expected[i] else { return false }
                i += 1
            }
            return true
        }
    }
}
