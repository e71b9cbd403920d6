import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The HTTP/1.1 listener: Hummingbird's `Server` running an `HTTP1Channel`, except that a
/// connection gets its async side — a `NIOAsyncChannel` and a task running Hummingbird's request
/// loop — only when a request first reaches the general path.
///
/// With Hummingbird's server every accepted connection was handed to the accept loop's task and
/// got a task of its own, which started, waited for the first request and, at the close, woke to
/// finish: about five hops between the event loop and the task threads per connection, for
/// connections whose requests the fast lane answers on the loop without any task. That made a
/// connection cost 6× what nginx spends on one (`bench/ab.sh conn`). Here a connection served
/// by the fast lane never leaves its event loop: accepted, answered and closed there.
///
/// Everything else is what Hummingbird's server does: the same child pipeline (NIO's HTTP/1
/// server pipeline, `HTTP1ToHTTPServerCodec`, the configuration's extra handlers and
/// `HTTPConnectionStateHandler`), the same request loop (`HTTP1Channel.handle`), the connection
/// limit (`AvailableConnectionsChannelHandler`) and graceful shutdown by quiescing (the listener
/// closes, idle connections close, busy ones after their response). On cancellation (the
/// shutdown grace is over) every connection is closed and the request-loop tasks cancelled.
struct EdgeHTTPServer: Service {
    let http1: HTTP1Channel
    let host: String
    let port: Int
    let backlog: Int32
    let maxConnections: Int
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    /// The server's connections (shared with ``OriginServer`` for its counters).
    let connections: ConnectionRegistry
    /// Called with the listening channel once it accepts connections.
    let onListening: @Sendable (any Channel) async -> Void

    /// Connections accepted per readiness of the listening socket.
    static let acceptsPerRead: UInt = 256

    func run() async throws {
        let quiescing = ServerQuiescingHelper(group: eventLoopGroup)
        let (http1, logger, maxConnections, connections) = (self.http1, self.logger, self.maxConnections, self.connections)
        let listener = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // NIO accepts 4 connections per readiness by default: a burst of 64 (a load
            // generator starting, or players after an outage) took 16 loop turns to accept, and
            // the last ones waited ~30 ms while the first were served again and again.
            .serverChannelOption(.maxMessagesPerRead, value: Self.acceptsPerRead)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(AvailableConnectionsChannelHandler(maxConnections: maxConnections))
                    try pipeline.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel, http1: http1, connections: connections, logger: logger)
                }
            }
            .bind(host: host, port: port)
            .get()
        logger.debug("listening", metadata: ["address": "\(listener.localAddress.map { "\($0)" } ?? "?")"])
        await onListening(listener)

        let (stopped, stop) = AsyncStream<Never>.makeStream()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                for await _ in stopped {}
            } onCancel: {
                connections.closeAll()
                listener.close(promise: nil)
                stop.finish()
            }
        } onGracefulShutdown: {
            // Made only now: a promise nobody fulfils (a stop by cancellation alone) would leak.
            let quiesced = listener.eventLoop.makePromise(of: Void.self)
            quiesced.futureResult.whenComplete { _ in stop.finish() }
            quiescing.initiateShutdown(promise: quiesced)
        }
        try? await listener.close()
        // Requests on the general path end with their connections; wait for their tasks (their
        // delivery records are submitted by then).
        await connections.tasksEnded()
    }

    /// The child pipeline of `HTTP1Channel.setup`, without the `NIOAsyncChannel`: a
    /// ``GeneralPathAttacher`` at the end adds it when the first request part or error gets that
    /// far. (A Hummingbird upgrade that changes `HTTP1Channel.setup` must be mirrored here.)
    static func configure(
        _ channel: any Channel, http1: HTTP1Channel, connections: ConnectionRegistry, logger: Logger
    ) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = http1.configuration.httpDecoder.maxHeaderFieldSize
        limits.maxHeaderListSize = http1.configuration.httpDecoder.maxHeaderListSize
        limits.maxHeaderFieldCount = http1.configuration.httpDecoder.maxHeaderFieldCount
        let pipeline = channel.pipeline.syncOperations
        let extra = http1.configuration.additionalChannelHandlers()
        let back: [any ChannelHandler] = [
            HTTPConnectionStateHandler(idleTimeout: http1.configuration.idleTimeout.map { .init($0) }, logger: logger),
            GeneralPathAttacher(http1: http1, connections: connections, logger: logger),
        ]
        if let guardHandler = extra.lazy.compactMap({ $0 as? ConnectionGuardHandler }).first,
           let front = guardHandler.fastLaneFront(on: channel.eventLoop) {
            // The fast lane's pipeline in one go (see `ConnectionGuardHandler.fastLaneFront`).
            try pipeline.addHandlers(front + [HTTP1ToHTTPServerCodec(secure: false)] + extra + back)
        } else {
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false,  // NIOAsyncChannel reads requests one at a time
                withErrorHandling: false,  // HTTP1Channel answers parse errors itself
                withOutboundHeaderValidation: false,  // HTTPTypes validated them
                withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: limits
            )
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandlers(extra + back)
        }
        connections.opened(channel)
    }
}

/// The last handler of a connection until the general path is needed: on the first request part
/// or error that reaches it, it wraps the channel in a `NIOAsyncChannel` (whose
/// handlers go after it), starts Hummingbird's request loop on it in a task, and passes the event
/// on to it. From then on it only passes events on.
final class GeneralPathAttacher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    private let http1: HTTP1Channel
    private let connections: ConnectionRegistry
    private let logger: Logger
    private var attached = false

    init(http1: HTTP1Channel, connections: ConnectionRegistry, logger: Logger) {
        self.http1 = http1
        self.connections = connections
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        attach(context: context)
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        attach(context: context)
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !attached, let event = event as? ChannelEvent, event == .inputClosed {
            // The client is done sending and nothing is on the general path: what Hummingbird's
            // request loop would do at the end of its input (finish the output once the
            // responses written are out, then the channel closes), without starting it.
            context.close(mode: .output, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func attach(context: ChannelHandlerContext) {
        guard !attached else { return }
        attached = true
        let channel = context.channel
        do {
            let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)
            )
            let (http1, logger) = (self.http1, self.logger)
            connections.start(on: channel) {
                await http1.handle(value: asyncChannel, logger: logger)
            }
        } catch {
            logger.debug("cannot attach the general path", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }
}

/// The open connections and the general-path tasks running on them: closed or cancelled all at
/// once when the server is cancelled, and awaited when it stops.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var tasks: [ObjectIdentifier: Task<Void, Never>] = [:]
        var cancelled = false
    }

    private let state = Mutex(State())
    private let attachedCount = Atomic<Int>(0)
    /// The general-path tasks still running (awaited by ``tasksEnded()``).
    private let running = InFlightResponses()

    /// Connections that needed the general path (a request or error reached it), so far.
    var generalPathConnections: Int { attachedCount.load(ordering: .relaxed) }

    func opened(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.channels[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            state.withLock { _ = $0.channels.removeValue(forKey: id) }
        }
    }

    /// Runs `body` in a task for `channel` (cancelled at once if the server already was).
    func start(on channel: any Channel, _ body: @escaping @Sendable () async -> Void) {
        attachedCount.wrappingAdd(1, ordering: .relaxed)
        running.enter()
        let id = ObjectIdentifier(channel)
        state.withLock { s in
            let task = Task { [self] in
                await body()
                state.withLock { _ = $0.tasks.removeValue(forKey: id) }
                running.leave()
            }
            s.tasks[id] = task
            if s.cancelled { task.cancel() }
        }
    }

    /// Cancels the general-path tasks and closes every connection: responses still being sent
    /// are cut (and logged `aborted`), so the tasks end without waiting for slow readers.
    func closeAll() {
        let (channels, tasks) = state.withLock { s -> ([any Channel], [Task<Void, Never>]) in
            s.cancelled = true
            return (Array(s.channels.values), Array(s.tasks.values))
        }
        for task in tasks { task.cancel() }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Returns once no general-path task is running.
    func tasksEnded() async {
        await running.settled()
    }
}
