import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import OggEdgeCore
import OggEdgeServer
import ServiceLifecycle
import Synchronization

/// A real OggEdge server on an ephemeral loopback port, with a known key and its own delivery log.
final class TestServer: Sendable {
    static let secret: [UInt8] = Array(0..<32).map { UInt8($0 &* 7 &+ 1) }
    static let otherSecret: [UInt8] = Array(repeating: 0x5a, count: 40)
    static var keysText: String {
        "k1:" + Data(secret).base64EncodedString() + ",k2:" + Data(otherSecret).base64EncodedString()
    }

    let port: Int
    let logPath: String
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let keys: KeyRing
    let server: OriginServer

    private init(port: Int, logPath: String, group: ServiceGroup, task: Task<Void, any Error>, keys: KeyRing, server: OriginServer) {
        self.port = port
        self.logPath = logPath
        self.group = group
        self.task = task
        self.keys = keys
        self.server = server
    }

    /// Starts a server; `configure` may adjust the configuration first.
    static func start(
        adminToken: String? = "test-admin-token",
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        configure: (inout OriginConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let keys = try KeyRing(parsing: keysText)
        var config = OriginConfiguration(keys: keys)
        config.port = 0
        config.mediaDirectory = TestMedia.directory
        let logDir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-log-\(UUID().uuidString)").path
        config.deliveryLogPath = logDir + "/delivery.jsonl"
        config.cacheDirectory = logDir + "/cache"
        config.adminToken = adminToken
        config.limits.drainDelayMilliseconds = 0
        // What `serve` derives from the open-file limit would depend on the machine's limit
        // (0 where the soft limit is below max-connections): the tests fix it.
        config.limits.originFilesPerLoop = 256
        configure(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let server = try OriginServer(configuration: config, logger: logger, eventLoopGroup: eventLoopGroup)
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let group = try server.makeServiceGroup(handlingSignals: false) { port in
            continuation.yield(port)
            continuation.finish()
        }
        let task = Task { try await group.run() }
        var port = 0
        for await p in stream { port = p }
        return TestServer(port: port, logPath: config.deliveryLogPath ?? "", group: group, task: task, keys: keys, server: server)
    }

    /// Runs `body` against a fresh server and stops the server afterwards, also on failure.
    static func with<T>(
        adminToken: String? = "test-admin-token",
        configure: (inout OriginConfiguration) -> Void = { _ in },
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let server = try await start(adminToken: adminToken, configure: configure)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Stops the server gracefully and waits for it.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// A signed target for `path` with the first key.
    func sign(_ path: String, ttl: Int64 = 600, uid: String? = "tester", acl: String? = nil, maxKbps: Int? = nil, ip: String? = nil, notBefore: Int64? = nil) -> String {
        URLSigner.sign(
            path: path, key: keys.signingKey, expires: Int64(Date().timeIntervalSince1970) + ttl,
            uid: uid, ip: ip, notBefore: notBefore, acl: acl, maxKbps: maxKbps
        )
    }

    /// A signed target with the test key ring's first key, for servers started as processes.
    static func signStatic(_ path: String, ttl: Int64 = 600) -> String {
        let ring = try! KeyRing(parsing: keysText)
        return URLSigner.sign(path: path, key: ring.signingKey, expires: Int64(Date().timeIntervalSince1970) + ttl)
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Sends a request with AsyncHTTPClient and collects the whole response.
    func fetch(_ target: String, method: HTTPMethod = .GET, headers: [(String, String)] = []) async throws -> TestResponse {
        var request = HTTPClientRequest(url: baseURL + target)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var body = try await response.body.collect(upTo: 64 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: body.readBytes(length: body.readableBytes) ?? [])
    }

    /// The delivery log's records parsed as JSON objects (after the writer flushed).
    func deliveryRecords() async throws -> [[String: Any]] {
        await server.responsesLogged()
        return loggedRecords()
    }

    /// The records logged so far, without waiting for responses in flight: for polling with
    /// `eventually` while a response is still open.
    func loggedRecords() -> [[String: Any]] {
        server.deliveryLog.flush()
        guard let data = FileManager.default.contents(atPath: logPath) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// A collected response.
struct TestResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]

    func header(_ name: String) -> String? { headers.first(name: name) }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A request with a body, sent with AsyncHTTPClient.
struct HTTPClientRequestBuilder {
    var request: HTTPClientRequest

    static func post(_ url: String, body: String, headers: [(String, String)]) -> HTTPClientRequestBuilder {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        return HTTPClientRequestBuilder(request: request)
    }

    mutating func send() async throws -> TestResponse {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var body = try await response.body.collect(upTo: 1 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: body.readBytes(length: body.readableBytes) ?? [])
    }
}
