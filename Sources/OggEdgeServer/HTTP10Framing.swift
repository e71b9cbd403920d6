import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// HTTP/1.0 clients never get `Transfer-Encoding: chunked` (RFC 9112 §6.1): a body of unknown
/// length is sent as is and delimited by closing the connection.
///
/// The HTTP types the responder works with carry no protocol version, and NIO's encoder adds
/// chunked framing to any HTTP/1.1 response without a length. This handler sits on the HTTP/1
/// side of the type conversion: it remembers each request's version (in order, for pipelined
/// requests), answers an HTTP/1.0 request with an HTTP/1.0 response head, and closes the
/// connection after a response whose length was not announced.
final class HTTP10FramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var versions: CircularBuffer<HTTPVersion> = []
    private var closeAfterEnd = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { versions.append(head.version) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            let version = versions.popFirst() ?? .http1_1
            guard version.major == 1, version.minor == 0 else {
                context.write(data, promise: promise)
                return
            }
            head.version = .http1_0
            let hasLength = head.headers.contains(name: "content-length")
            let bodiless = head.status == .notModified || head.status == .noContent || head.status.code < 200
            if !hasLength && !bodiless {
                head.headers.remove(name: "transfer-encoding")
                head.headers.replaceOrAdd(name: "connection", value: "close")
                closeAfterEnd = true
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body, .end:
            let isEnd: Bool
            if case .end = unwrapOutboundIn(data) { isEnd = true } else { isEnd = false }
            guard isEnd, closeAfterEnd else {
                context.write(data, promise: promise)
                return
            }
            closeAfterEnd = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Inserts the handler just before the HTTP types conversion of `pipeline`.
    static func install(in pipeline: ChannelPipeline.SynchronousOperations) {
        guard let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) else { return }
        try? pipeline.addHandler(HTTP10FramingHandler(), position: .before(codec))
    }
}
