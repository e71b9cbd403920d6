import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Cuts connections that never finish a request head (slowloris) and responses whose client
/// stopped reading (the socket stays unwritable).
///
/// Sits after the HTTP codec, so it sees whole request parts: a head that is still arriving
/// produces no read, and the deadline fires. After each response the next head gets the
/// keep-alive timeout.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let headTimeout: TimeAmount
    let keepAliveTimeout: TimeAmount
    let stallTimeout: TimeAmount
    /// When the connection is cut unless a request head arrives first; nil while a request is
    /// being answered.
    private var headDeadline: NIODeadline?
    /// The one timer that enforces `headDeadline`. Moving the deadline later does not touch it:
    /// when it fires early it re-arms itself for the deadline then current, so a busy
    /// keep-alive connection schedules one timer per timeout period, not one per request.
    private var headTimer: Scheduled<Void>?
    private var headTimerAt = NIODeadline.distantFuture
    private var stallDeadline: Scheduled<Void>?
    let meter = DeliveryMeter()
    let fastLane: FastLaneShared?
    /// The connections' write high water mark (NIO's default is 64 KiB; see `handlerAdded`).
    static let writeHighWaterMark = 192 * 1024

    /// The request decoder's limits, for the decoder of the fast lane's pipeline (see ``fastLaneFront(on:)``).
    let decoderLimits: NIOHTTPDecoderLimitConfiguration
    /// Set when ``fastLaneFront(on:)`` made the front of this connection's pipeline.
    private var frontBuilt = false

    init(
        headTimeout: TimeAmount, keepAliveTimeout: TimeAmount, stallTimeout: TimeAmount, fastLane: FastLaneShared? = nil,
        decoderLimits: NIOHTTPDecoderLimitConfiguration = .init()
    ) {
        self.headTimeout = headTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.stallTimeout = stallTimeout
        self.fastLane = fastLane
        self.decoderLimits = decoderLimits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // A bounded send buffer keeps `bytes_sent` close to what the client really received
        // (a client that hangs up early is noticed within 256 KiB) and bounds kernel memory per
        // connection.
        _ = context.channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: 256 * 1024)
        // NIO's default high water mark (64 KiB) is below one 64 KiB range plus its head: every
        // such answer made the channel unwritable and writable again, two walks of the whole
        // pipeline per response (a third of the CPU of a 64 KiB range). At 192 KiB, a range of up
        // to 128 KiB leaves the channel writable; the general path's bodies still meet
        // backpressure, 128 KiB later than before (what a slow reader may hold in user space).
        _ = context.channel.setOption(
            ChannelOptions.writeBufferWaterMark, value: .init(low: 64 * 1024, high: Self.writeHighWaterMark)
        )
        DeliveryMeters.shared.register(meter, for: context.channel)
        // A connection without the lane gets the HTTP/1.0 framing here (``fastLaneFront(on:)``
        // brings its own).
        if !frontBuilt { HTTP10FramingHandler.install(in: context.pipeline.syncOperations) }
        if context.channel.isActive { armHead(context: context, after: headTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armHead(context: context, after: headTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelHeadTimer()
        stallDeadline?.cancel()
        meter.connectionClosed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelHeadTimer()
        stallDeadline?.cancel()
        meter.connectionClosed()
        DeliveryMeters.shared.remove(for: context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { headDeadline = nil }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head:
            meter.responseStarted()
            context.write(data, promise: promise)
        case .body(let buffer):
            // Count the bytes once the socket has taken them.
            let count = buffer.readableBytes
            let meter = self.meter
            let counted = promise ?? context.eventLoop.makePromise()
            counted.futureResult.whenSuccess { meter.accepted(count) }
            context.write(data, promise: counted)
        case .end:
            armHead(context: context, after: keepAliveTimeout)
            let meter = self.meter
            let ended = promise ?? context.eventLoop.makePromise()
            ended.futureResult.whenComplete { result in
                if case .failure = result { meter.responseEnded(aborted: true) } else { meter.responseEnded(aborted: false) }
            }
            context.write(data, promise: ended)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallDeadline?.cancel()
            stallDeadline = nil
        } else if stallDeadline == nil {
            armStall(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Cuts the connection if the socket accepts no byte for `stallTimeout` while the channel is
    /// unwritable. Progress, not writability, decides: a client reading steadily but slowly lets
    /// the kernel take a little at a time, which may never bring NIO's pending bytes under the low
    /// watermark (the soak's slow readers at 24 KB/s were cut after 48 s while reading).
    private func armStall(context: ChannelHandlerContext) {
        let channel = context.channel
        let meter = self.meter
        let mark = meter.acceptedBytes
        stallDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: stallTimeout) { [self] in
            stallDeadline = nil
            guard !channel.isWritable else { return }
            if meter.acceptedBytes > mark {
                armStall(context: context)
            } else {
                channel.close(promise: nil)
            }
        }
    }

    /// A request head reached the fast lane (which answers it without passing it on).
    func requestHeadArrived() { headDeadline = nil }

    /// The fast lane wrote a whole response: the next head gets the keep-alive timeout.
    func responseEnded() {
        guard let context = guardContext else { return }
        armHead(context: context, after: keepAliveTimeout)
    }

    private var guardContext: ChannelHandlerContext?

    private func armHead(context: ChannelHandlerContext, after timeout: TimeAmount) {
        guardContext = context
        let deadline = NIODeadline.now() + timeout
        headDeadline = deadline
        if headTimer == nil || deadline < headTimerAt { scheduleHeadTimer(at: deadline, context: context) }
    }

    private func scheduleHeadTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        headTimer?.cancel()
        headTimerAt = deadline
        let channel = context.channel
        let loop = context.eventLoop.assumeIsolated()
        headTimer = loop.scheduleTask(deadline: deadline) { [self] in
            headTimer = nil
            guard let current = headDeadline else { return }  // a request is being answered
            if current <= .now() {
                channel.close(promise: nil)
            } else {
                scheduleHeadTimer(at: current, context: context)
            }
        }
    }

    private func cancelHeadTimer() {
        headTimer?.cancel()
        headTimer = nil
        headDeadline = nil
        guardContext = nil
    }

    /// The handlers of the front of a fast-lane connection, front to back: the socket writer,
    /// the response encoder, the raw request reader, the request decoder, the lane itself (then
    /// come the HTTP/1.0 framing and the types conversion). Nil when the lane is off. Made once
    /// per connection by `EdgeHTTPServer.configure`, which adds the whole pipeline in one go
    /// (it used to be NIO's server pipeline rearranged in `handlerAdded`: a second decoder, five
    /// positioned insertions and a removal, 9 % of the CPU a new connection cost).
    ///
    /// The decoder is not paired with the encoder. NIO's server pipeline pairs them: the decoder
    /// queues each request's method and the encoder pops one per response head, to drop the body
    /// of a `HEAD` answer. Fast-lane answers never pass the encoder, so with that pairing each one
    /// left its method queued and the next general-path response was framed for an earlier
    /// request: after a fast `HEAD`, a `GET`'s body was silently dropped (head sent, connection
    /// left waiting). The general path never writes a body for `HEAD` itself (``PreparedResponse``).
    func fastLaneFront(on eventLoop: any EventLoop) -> [any ChannelHandler]? {
        guard let fastLane else { return nil }
        let socket = FastLaneSocketWriter()
        let lane = FastLaneHandler(lane: fastLane.lane(on: eventLoop), socket: socket, guardHandler: self)
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits))
        frontBuilt = true
        return [socket, HTTPResponseEncoder(configuration: .init()), RawFastLaneHandler(lane: lane), decoder, lane, HTTP10FramingHandler()]
    }

}
