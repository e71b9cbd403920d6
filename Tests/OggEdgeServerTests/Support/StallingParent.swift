import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A deliberately misbehaving parent: it answers a track request like a range-capable origin
/// (206, the real validators, the real bytes), sends the first `sendBytes` bytes of the body and
/// then goes silent with the connection open. `/readyz` answers 200, so only the stall shows it.
final class StallingParent: Sendable {
    let port: Int
    private let channel: any Channel
    private let shared: Shared

    /// Track requests received.
    var requests: Int { shared.counter.load(ordering: .relaxed) }

    private init(port: Int, channel: any Channel, shared: Shared) {
        self.port = port
        self.channel = channel
        self.shared = shared
    }

    /// - Parameters:
    ///   - media: the directory whose `tracks/` it serves.
    ///   - etag: the ETag header value to send (the real parent's, so a resume's `If-Match` holds).
    static func start(media: String, etag: String, lastModified: String, sendBytes: Int) async throws -> StallingParent {
        let shared = Shared(media: media, etag: etag, lastModified: lastModified, sendBytes: sendBytes)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(shared: shared))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return StallingParent(port: channel.localAddress?.port ?? 0, channel: channel, shared: shared)
    }

    func stop() async {
        try? await channel.close()
    }

    final class Shared: Sendable {
        let media: String
        let etag: String
        let lastModified: String
        let sendBytes: Int
        let counter: Atomic<Int>

        init(media: String, etag: String, lastModified: String, sendBytes: Int) {
            self.media = media
            self.etag = etag
            self.lastModified = lastModified
            self.sendBytes = sendBytes
            self.counter = Atomic(0)
        }
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let shared: Shared

        init(shared: Shared) { self.shared = shared }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            let path = String(head.uri.prefix { $0 != "?" })
            if path == "/readyz" {
                var headers = HTTPHeaders([("Content-Length", "6")])
                headers.add(name: "Content-Type", value: "text/plain")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ready\n")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            shared.counter.add(1, ordering: .relaxed)
            // A parent that never answers at all.
            if shared.sendBytes < 0 { return }
            let file = shared.media + "/tracks/" + String(path.dropFirst("/tracks/".count))
            let bytes = Array(FileManager.default.contents(atPath: file) ?? Data())
            guard path.hasPrefix("/tracks/"), !bytes.isEmpty else {
                let headers = HTTPHeaders([("Content-Length", "0")])
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .notFound, headers: headers))), promise: nil)
                return
            }
            var start = 0
            var end = bytes.count - 1
            if let range = head.headers.first(name: "Range"), range.hasPrefix("bytes=") {
                let parts = range.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
                if parts.count == 2, let a = Int(parts[0]) {
                    start = a
                    if let b = Int(parts[1]) { end = min(b, bytes.count - 1) }
                }
            }
            let headers = HTTPHeaders([
                ("Content-Length", String(end - start + 1)),
                ("Content-Range", "bytes \(start)-\(end)/\(bytes.count)"),
                ("ETag", shared.etag),
                ("Last-Modified", shared.lastModified),
                ("Content-Type", "audio/ogg"),
            ])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .partialContent, headers: headers))), promise: nil)
            let some = bytes[start..<min(end + 1, start + shared.sendBytes)]
            // Then silence: no more bytes, no end, the connection stays open.
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: some)))), promise: nil)
        }
    }
}
