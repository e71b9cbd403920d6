import NIOCore

/// A request waiting for, or on, a connection.
struct PendingRequest {
    /// When the arrival schedule meant it to be sent (monotonic nanoseconds): latencies count from here.
    var intended: UInt64
    var template: Int
    var range: String?
}

/// One keep-alive connection: at most one request in flight (no pipelining), the response read by
/// `ResponseParser`. The time of the first byte of a response is when the first read of it arrived.
/// Lives on its driver's event loop only.
final class LoadConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let driver: LoadDriver
    private var context: ChannelHandlerContext?
    private var parser = ResponseParser()
    private(set) var current: PendingRequest?
    private var sentAt: UInt64 = 0
    private var firstByteAt: UInt64 = 0
    private var hostHeader: String

    init(driver: LoadDriver, hostHeader: String) {
        self.driver = driver
        self.hostHeader = hostHeader
    }

    var isOpen: Bool { context != nil }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func close() {
        context?.close(promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        driver.connectionReady(self)
    }

    /// Writes the request; the caller checked that no request is in flight.
    func send(_ request: PendingRequest, target: String, now: UInt64) {
        guard let context else { return }
        current = request
        sentAt = now
        firstByteAt = 0
        var buffer = context.channel.allocator.buffer(capacity: 64 + target.utf8.count + hostHeader.utf8.count)
        buffer.writeStaticString("GET ")
        buffer.writeString(target)
        buffer.writeStaticString(" HTTP/1.1\r\nHost: ")
        buffer.writeString(hostHeader)
        if let range = request.range {
            buffer.writeStaticString("\r\nRange: ")
            buffer.writeString(range)
        }
        buffer.writeStaticString("\r\nUser-Agent: oggedge-load\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard let request = current else {
            // Bytes nobody asked for: the framing is lost, start over.
            driver.protocolError(self, request: nil, reason: "unsolicited bytes")
            context.close(promise: nil)
            return
        }
        if firstByteAt == 0 { firstByteAt = LoadClock.now() }
        switch parser.feed(&buffer) {
        case .needMore:
            break
        case .complete(let status, let keepAlive, let bodyBytes):
            current = nil
            let leftover = buffer.readableBytes
            driver.responseComplete(
                self, request: request, sentAt: sentAt, firstByteAt: firstByteAt, end: LoadClock.now(),
                status: status, bodyBytes: bodyBytes, reusable: keepAlive && leftover == 0
            )
            if !keepAlive || leftover != 0 { context.close(promise: nil) }
        case .failed(let reason):
            current = nil
            driver.protocolError(self, request: request, reason: reason)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        if let request = current {
            current = nil
            switch parser.closed() {
            case .complete(let status, _, let bodyBytes):
                driver.responseComplete(
                    self, request: request, sentAt: sentAt, firstByteAt: firstByteAt, end: LoadClock.now(),
                    status: status, bodyBytes: bodyBytes, reusable: false
                )
            default:
                driver.protocolError(self, request: request, reason: "connection closed mid-response")
            }
        }
        parser = ResponseParser()
        driver.connectionClosed(self)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Monotonic nanoseconds, the clock of every timestamp.
enum LoadClock {
    @inline(__always) static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}
