import HummingbirdCore
import HTTPTypes
import Hummingbird
import NIOCore
import OggEdgeCore
import OggEdgeDelivery

/// What writing a response measured: the delivery log's byte and timing fields.
struct EmitResult: Sendable {
    var bytesSent: Int64 = 0
    var firstByteNanos: UInt64?
    var playbackStartNanos: UInt64?
    var aborted = false
}

/// Writes a ``PreparedResponse`` to the connection and measures it.
///
/// Small bodies (a player's 8 KiB probe, a 64 KiB range) are read into one buffer and sent with
/// the head in a single write; larger ones stream in bounded chunks, so a 10-minute track never
/// sits whole in memory.
struct ResponseEmitter: Sendable {
    /// Bodies up to this size go out in one write together with the head.
    let singleWriteLimit: Int
    /// Streaming chunk size.
    let chunkSize: Int
    /// How long a streamed body waits for its producer before the response is cut.
    let stallTimeout: Duration
    let allocator = ByteBufferAllocator()

    /// Bytes a streaming response may have handed to the channel beyond what the kernel took.
    /// Above the connection's write high water mark (``ConnectionGuardHandler/writeHighWaterMark``),
    /// so a client that stops reading makes the channel unwritable and meets the send deadline.
    static let sendWindow = ConnectionGuardHandler.writeHighWaterMark + 128 * 1024

    func emit(_ prepared: PreparedResponse, to writer: consuming ResponseWriter, meter: DeliveryMeter? = nil) async -> EmitResult {
        var result = EmitResult()
        let head = HTTPResponse(status: prepared.status, headerFields: prepared.headers)
        do {
            switch prepared.body {
            case .empty:
                try await writer.writeResponse(head)
            case .buffer(let buffer):
                try await writer.write(response: head, body: .init(byteBuffer: buffer))
                result.bytesSent = Int64(buffer.readableBytes)
                result.firstByteNanos = MonotonicClock.nanos()
            case .rendition(let reader, let body):
                defer { reader.close() }
                try await emitRendition(
                    reader: reader, body: body, head: head, writer: writer, playbackOffset: prepared.log.playbackOffset, meter: meter,
                    result: &result
                )
            }
        } catch {
            result.aborted = true
        }
        return result
    }

    private func emitRendition(
        reader: RenditionReader, body: RenditionBody, head: HTTPResponse, writer: consuming ResponseWriter,
        playbackOffset: Int64?, meter socketMeter: DeliveryMeter?, result: inout EmitResult
    ) async throws {
        if case .range(let range) = body, range.length <= Int64(singleWriteLimit) {
            var whole = allocator.buffer(capacity: Int(range.length))
            try await reader.read(range, appendingTo: &whole)
            try await writer.write(response: head, body: .init(byteBuffer: whole))
            let now = MonotonicClock.nanos()
            result.bytesSent = Int64(whole.readableBytes)
            result.firstByteNanos = now
            if let playbackOffset, range.start == 0, range.end + 1 >= playbackOffset { result.playbackStartNanos = now }
            return
        }
        var bodyWriter = try await writer.writeHead(head)
        var meter = Meter(playbackOffset: playbackOffset)
        switch body {
        case .range(let range):
            meter.position = range.start
            try await reader.read(range, maxChunk: chunkSize, allocator: allocator) { chunk in
                await Self.window(socketMeter, handed: result.bytesSent + Int64(chunk.readableBytes))
                try await bodyWriter.write(chunk)
                meter.wrote(chunk.readableBytes, result: &result)
            }
        case .multipart(let plan):
            for part in plan.parts {
                let header = allocator.buffer(bytes: part.header)
                try await bodyWriter.write(header)
                meter.wroteFraming(header.readableBytes, result: &result)
                meter.position = part.range.start
                try await reader.read(part.range, maxChunk: chunkSize, allocator: allocator) { chunk in
                    await Self.window(socketMeter, handed: result.bytesSent + Int64(chunk.readableBytes))
                    try await bodyWriter.write(chunk)
                    meter.wrote(chunk.readableBytes, result: &result)
                }
            }
            let trailer = allocator.buffer(bytes: plan.trailer)
            try await bodyWriter.write(trailer)
            meter.wroteFraming(trailer.readableBytes, result: &result)
        case .stream(let start):
            // A rendition still being produced: each write carries what exists since the last
            // one, so the first pages reach the player within milliseconds of being made.
            let session = reader.attachment.session
            var offset = start
            meter.position = start
            while true {
                let (produced, phase) = await session.wait(forProduced: offset + 1, timeout: stallTimeout)
                if produced <= offset {
                    if case .complete = phase { break }
                    throw SourceReadError.stalled
                }
                if meter.playbackOffset == nil { meter.playbackOffset = session.firstAudioPageEnd }
                let end = min(produced, (offset / Int64(chunkSize) + 1) * Int64(chunkSize)) - 1
                try await reader.read(ByteRange(start: offset, end: end), maxChunk: chunkSize, allocator: allocator) { chunk in
                    await Self.window(socketMeter, handed: result.bytesSent + Int64(chunk.readableBytes))
                    try await bodyWriter.write(chunk)
                    meter.wrote(chunk.readableBytes, result: &result)
                }
                offset = end + 1
            }
        }
        try await bodyWriter.finish(nil)
    }
}

extension ResponseEmitter {
    /// Waits, before handing the channel bytes up to `handed`, until the socket took all but
    /// ``sendWindow`` of them.
    static func window(_ meter: DeliveryMeter?, handed: Int64) async {
        guard let meter, handed > Int64(sendWindow) else { return }
        await meter.awaitAccepted(handed - Int64(sendWindow))
    }
}

/// Tracks bytes written, the first-byte time and when the playback offset was passed.
private struct Meter {
    var playbackOffset: Int64?
    /// Offset in the representation of the next rendition byte written.
    var position: Int64 = 0
    var startedAtZero: Bool?

    init(playbackOffset: Int64?) {
        self.playbackOffset = playbackOffset
    }

    mutating func wrote(_ count: Int, result: inout EmitResult) {
        if startedAtZero == nil { startedAtZero = position == 0 }
        position += Int64(count)
        wroteFraming(count, result: &result)
        if result.playbackStartNanos == nil, startedAtZero == true, let playbackOffset, position >= playbackOffset {
            result.playbackStartNanos = MonotonicClock.nanos()
        }
    }

    mutating func wroteFraming(_ count: Int, result: inout EmitResult) {
        result.bytesSent += Int64(count)
        if result.firstByteNanos == nil { result.firstByteNanos = MonotonicClock.nanos() }
    }
}
