import NIOCore
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
    private var headDeadline: Scheduled<Void>?
    private var stallDeadline: Scheduled<Void>?
    let meter = DeliveryMeter()

    init(headTimeout: TimeAmount, keepAliveTimeout: TimeAmount, stallTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.stallTimeout = stallTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // A bounded send buffer keeps `bytes_sent` close to what the client really received
        // (a client that hangs up early is noticed within 256 KiB) and bounds kernel memory per
        // connection.
        _ = context.channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: 256 * 1024)
        DeliveryMeters.shared.register(meter, for: context.channel)
        HTTP10FramingHandler.install(in: context.pipeline.syncOperations)
        if context.channel.isActive { armHead(context: context, after: headTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armHead(context: context, after: headTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        headDeadline?.cancel()
        stallDeadline?.cancel()
        meter.connectionClosed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        headDeadline?.cancel()
        stallDeadline?.cancel()
        meter.connectionClosed()
        DeliveryMeters.shared.remove(for: context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            headDeadline?.cancel()
            headDeadline = nil
        }
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
            let channel = context.channel
            stallDeadline = context.eventLoop.scheduleTask(in: stallTimeout) {
                channel.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    private func armHead(context: ChannelHandlerContext, after timeout: TimeAmount) {
        headDeadline?.cancel()
        let channel = context.channel
        headDeadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }
}
