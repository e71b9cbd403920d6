import HummingbirdCore
import Prometheus
import HTTPTypes
import Hummingbird
import NIOCore
import OggEdgeCore
import OggEdgeDelivery
import Synchronization

/// Whether the node takes new work; flipped when graceful shutdown starts.
public final class Readiness: Sendable {
    private let state = Mutex<(draining: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    /// Creates a ready state.
    public init() {}
    /// True once shutdown has begun.
    public var isDraining: Bool { state.withLock { $0.draining } }
    /// Marks the node as draining: `/readyz` answers 503 from now on.
    public func startDraining() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.draining = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
    /// Returns once the node is draining (at once if it already is).
    public func untilDraining() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { s -> Bool in
                if s.draining { return true }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// Routes every request, writes its response and logs it: the one place errors become HTTP
/// answers and every response is measured.
struct OriginHandler: Sendable {
    let tracks: TrackResponder
    let admin: AdminResponder
    let events: PlaybackEvents
    /// `/stream/`, `/player/`, `/admin/ui/` (nil answers: not a player path).
    let player: PlayerRoutes
    /// Refreshes sampled gauges before `/metrics` renders.
    let sampleGauges: @Sendable () -> Void
    let emitter: ResponseEmitter
    let log: DeliveryLog
    let metrics: OriginMetrics
    let readiness: Readiness
    let counters: DeliveryCounters
    /// Responses not yet logged.
    let inFlight: InFlightResponses
    let ids: RequestIDGenerator
    let dates: DateHeaderCache
    let limits: OriginConfiguration.Limits
    /// General-path audio responses not yet logged, by rendition (fast-lane records wait for them).
    let unlogged: UnloggedResponses

    func handle(_ request: Request, writer: consuming ResponseWriter, channel: any Channel) async {
        inFlight.enter()
        defer { inFlight.leave() }
        let arrival = MonotonicClock.nanos()
        let wallMs = WallClock.millis()
        let sequence = ids.next()
        let clientIP = channel.remoteAddress?.ipAddress ?? "-"
        let target = request.head.path ?? ""
        let pathEnd = target.firstIndex(of: "?") ?? target.endIndex
        let path = target[..<pathEnd]

        var prepared = await route(request, target: target[...], path: path, clientIP: clientIP, now: wallMs / 1000, sequence: sequence)
        // Only requests for a rendition are audio delivery; a preflight is not (cache null).
        if !path.hasPrefix("/tracks/") || request.head.method == .options { prepared.log.cache = nil }
        prepared.headers[.date] = dates.value
        prepared.headers[.server] = "OggEdge"
        let status = prepared.status.code
        let facts = prepared.log
        let contentLength = prepared.headers[.contentLength].flatMap { Int64($0) }
        var reader: RenditionReader?
        if case .rendition(let r, _) = prepared.body { reader = r }
        let ticket = reader.map { unlogged.begin($0.attachment.key) }
        let meter = DeliveryMeters.shared.meter(for: channel)
        let responseNumber = (meter?.heads ?? 0) + 1
        var result = await emitter.emit(prepared, to: writer, meter: meter)
        if result.aborted {
            // A body cut short must not look complete: close the connection so the client sees
            // a truncated response instead of waiting for bytes that will never come.
            channel.close(promise: nil)
        }
        // What the socket really accepted (a write the application made can still fail later).
        if let meter {
            if let measured = await meter.awaitResponse(number: responseNumber) {
                result.bytesSent = measured.bytes
                result.aborted = result.aborted || measured.aborted
            } else {
                // The connection closed before this response's head reached the socket: nothing
                // of it was delivered, and a response that had a body to send was cut short.
                result.bytesSent = 0
                if request.head.method != .head, contentLength.map({ $0 > 0 }) ?? true, status != 304, status != 204 {
                    result.aborted = true
                }
            }
        }
        var cache = reader?.outcome ?? facts.cache
        if result.aborted && cache != nil && cache != .denied && result.bytesSent == 0 { cache = .error }
        if let cache { counters.count(cache) }
        let end = MonotonicClock.nanos()

        let record = DeliveryRecord(
            timestampMs: wallMs, requestId: ids.id(for: sequence), clientIP: clientIP,
            method: request.head.method.rawValue, path: String(path.prefix(1024)),
            track: facts.track, kbps: facts.kbps, uid: facts.uid, status: status,
            range: request.head.headerFields[.range].map { String($0.prefix(256)) },
            rangeStart: facts.rangeStart, rangeEnd: facts.rangeEnd, contentLength: contentLength,
            bytesSent: result.bytesSent,
            ttfbMicros: result.firstByteNanos.map { Int64(($0 &- arrival) / 1000) },
            playbackStartMicros: result.playbackStartNanos.map { Int64(($0 &- arrival) / 1000) },
            durationMicros: Int64((end &- arrival) / 1000),
            cache: cache,
            auth: facts.auth, aborted: result.aborted
        )
        metrics.record(record)
        log.submit(record)
        if let reader, let ticket { unlogged.end(reader.attachment.key, ticket: ticket) { log.submit($0) } }
    }

    private func route(
        _ request: Request, target: Substring, path: Substring, clientIP: String, now: Int64, sequence: UInt64
    ) async -> PreparedResponse {
        let method = request.head.method
        let isHead = method == .head
        guard target.utf8.count <= limits.maxRequestTargetBytes else {
            return .error(.uriTooLong, isHead: isHead)
        }
        guard path.first == "/" else {
            return method == .options && target == "*"
                ? PreparedResponse(status: .noContent, headers: [.allow: "GET, HEAD, OPTIONS"])
                : .error(.badRequest("bad_request_target"), isHead: isHead)
        }
        if path.hasPrefix("/tracks/") {
            return await tracks.respond(
                method: method, target: target, path: path, headers: request.head.headerFields,
                clientIP: clientIP[...], now: now, sequence: sequence
            )
        }
        if let response = await player.respond(request, path: path, clientIP: clientIP, now: now) {
            return response
        }
        if path == "/events/playback" {
            return await events.respond(request, clientIP: clientIP, now: now)
        }
        if path == "/admin" || path.hasPrefix("/admin/") {
            return await admin.respond(request, path: path)
        }
        switch path {
        case "/healthz", "/readyz", "/metrics":
            guard method == .get || isHead else {
                return .error(.methodNotAllowed(allow: "GET, HEAD"), isHead: false)
            }
            if path == "/healthz" { return .text(.ok, "ok\n", contentType: "text/plain; charset=utf-8", isHead: isHead) }
            if path == "/readyz" {
                return readiness.isDraining
                    ? .text(.serviceUnavailable, "draining\n", contentType: "text/plain; charset=utf-8", isHead: isHead)
                    : .text(.ok, "ready\n", contentType: "text/plain; charset=utf-8", isHead: isHead)
            }
            metrics.sample(deliveryLogDropped: log.droppedRecords)
            sampleGauges()
            var text: [UInt8] = []
            metrics.registry.emit(into: &text)
            var headers: HTTPFields = [:]
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            headers[.contentLength] = String(text.count)
            headers[.cacheControl] = "no-store"
            return PreparedResponse(status: .ok, headers: headers, body: isHead ? .empty : .buffer(ByteBuffer(bytes: text)))
        default:
            return .error(.notFound, isHead: isHead)
        }
    }
}
