import NIOCore

/// Sits in front of NIO's HTTP/1 decoder and reads requests straight from the socket's bytes:
/// a whole `GET`/`HEAD` of a cached rendition is answered by the ``FastLaneHandler`` without the
/// decoder, its `HTTPRequestHead` or the pipeline's hops.
///
/// The decoder still reads everything else, and it only ever receives whole requests cut at
/// request boundaries, or — from the first bytes ``RawRequestScanner`` does not vouch for (a
/// partial head, a body, anything outside its strict grammar) — the rest of the connection. So
/// the decoder's state and verdicts are what they would be without this handler. Responses stay
/// in order: ``FastLaneHandler/answerRaw(_:context:)`` declines while a request handed on is
/// still being answered, and a declined request goes to the decoder like any other.
///
/// The connection reads with `autoRead` off, and this handler asks for each next read: NIO's
/// `autoRead` sends every read request from the tail of the pipeline through each outbound
/// handler to the socket, about 4 % of a cached 4 KiB range. A read cycle answered here in full
/// asks from here (one hop to the socket); any other cycle asks from the tail as `autoRead`
/// would, so the handlers behind (the async channel's backpressure) see and may hold it.
final class RawFastLaneHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Held strongly (the lane handler holds nothing back): an `unowned` reference costs an
    /// atomic check of the referent on every use.
    private let lane: FastLaneHandler
    /// Set once bytes not cut at a request boundary went to the decoder: from then on it reads all.
    private var passthrough = false
    /// Whether this read cycle handed anything on (only then does the rest of the pipeline have
    /// reads to complete).
    private var handedOn = false

    init(lane: FastLaneHandler) {
        self.lane = lane
    }

    func handlerAdded(context: ChannelHandlerContext) {
        _ = try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        // Turning `autoRead` off withdrew a pending read: ask again (from the tail, like NIO).
        if context.channel.isActive { context.pipeline.syncOperations.read() }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.pipeline.syncOperations.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !passthrough else {
            handOn(data, context: context)
            return
        }
        var buffer = unwrapInboundIn(data)
        while buffer.readableBytes > 0 {
            switch buffer.withUnsafeReadableBytes({ RawRequestScanner.scan($0) }) {
            case .candidate(let raw):
                if lane.answerRaw(raw, context: context) {
                    buffer.moveReaderIndex(forwardBy: raw.length)
                } else {
                    handOn(wrapInboundOut(buffer.readSlice(length: raw.length)!), context: context)
                }
            case .other(let length):
                handOn(wrapInboundOut(buffer.readSlice(length: length)!), context: context)
                // The general path may close the connection (`Connection: close`, an error):
                // then whatever follows is the decoder's to drop.
                guard context.channel.isActive else {
                    passthrough = true
                    if buffer.readableBytes > 0 { handOn(wrapInboundOut(buffer), context: context) }
                    return
                }
            case .unknown:
                passthrough = true
                handOn(wrapInboundOut(buffer), context: context)
                return
            }
        }
    }

    /// The read cycle's end goes down the pipeline only if something was handed on in it (the
    /// async channel handler at the end delivers its buffered reads then); a cycle answered here
    /// in full just flushes its answers.
    func channelReadComplete(context: ChannelHandlerContext) {
        if handedOn || passthrough {
            handedOn = false
            context.fireChannelReadComplete()
            if context.channel.isActive { context.pipeline.syncOperations.read() }
        } else {
            lane.flushAnswers()
            context.read()
        }
    }

    private func handOn(_ data: NIOAny, context: ChannelHandlerContext) {
        handedOn = true
        context.fireChannelRead(data)
    }
}
