import HummingbirdCore
import HTTPTypes
import Hummingbird
import NIOCore
import OggEdgeCore

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
    let allocator = ByteBufferAllocator()

    func emit(_ prepared: PreparedResponse, to writer: consuming ResponseWriter) async -> EmitResult {
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
                try await emitRendition(reader: reader, body: body, head: head, writer: writer, playbackOffset: prepared.log.playbackOffset, result: &result)
            case .live(let live, let start, let end):
                try await emitLive(live.session, start: start, end: end, head: head, writer: writer, result: &result)
            }
        } catch {
            result.aborted = true
        }
        return result
    }

    private func emitRendition(
        reader: any RenditionReader, body: RenditionBody, head: HTTPResponse, writer: consuming ResponseWriter,
        playbackOffset: Int64?, result: inout EmitResult
    ) async throws {
        if case .range(let range) = body, range.length <= Int64(singleWriteLimit) {
            var whole = allocator.buffer(capacity: Int(range.length))
            try await reader.read(range, appendingTo: &whole, allocator: allocator)
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
                    try await bodyWriter.write(chunk)
                    meter.wrote(chunk.readableBytes, result: &result)
                }
            }
            let trailer = allocator.buffer(bytes: plan.trailer)
            try await bodyWriter.write(trailer)
            meter.wroteFraming(trailer.readableBytes, result: &result)
        }
        try await bodyWriter.finish(nil)
    }
}

extension ResponseEmitter {
    /// Streams a rendition while it is encoded: each write carries what the encoder has produced
    /// since the last one, so the first pages reach the player within milliseconds.
    func emitLive(
        _ session: TranscodeSession, start: Int64, end: Int64?, head: HTTPResponse, writer: consuming ResponseWriter,
        result: inout EmitResult
    ) async throws {
        var bodyWriter = try await writer.writeHead(head)
        var offset = start
        while end.map({ offset <= $0 }) ?? true {
            let (produced, phase) = await session.wait(forProduced: offset + 1, timeout: .seconds(30))
            if produced <= offset {
                if case .running = phase { throw SourceReadError.truncated }  // encoder stalled
                if case .failed = phase { throw SourceReadError.truncated }
                break // finished: the end of the stream
            }
            let limit = end.map { min($0 + 1, produced) } ?? produced
            let bytes = try session.readProduced(offset: offset, count: Int(min(Int64(chunkSize), limit - offset)))
            guard !bytes.isEmpty else { throw SourceReadError.truncated }
            try await bodyWriter.write(allocator.buffer(bytes: bytes))
            offset += Int64(bytes.count)
            result.bytesSent += Int64(bytes.count)
            if result.firstByteNanos == nil { result.firstByteNanos = MonotonicClock.nanos() }
            if result.playbackStartNanos == nil, start == 0, let first = session.firstAudioPageEnd, offset >= first {
                result.playbackStartNanos = MonotonicClock.nanos()
            }
        }
        try await bodyWriter.finish(nil)
    }
}

/// Tracks bytes written, the first-byte time and when the playback offset was passed.
private struct Meter {
    let playbackOffset: Int64?
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
