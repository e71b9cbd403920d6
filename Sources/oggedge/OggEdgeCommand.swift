import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import OggEdgeCore
import OggEdgeServer

@main
struct OggEdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oggedge",
        abstract: "OggEdge: an edge origin for signed Ogg Vorbis audio.",
        subcommands: [Serve.self, Sign.self, Keygen.self, Prewarm.self, Report.self]
    )
}

/// `oggedge serve`
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the origin. Flags override OGGEDGE_* environment variables, which override the config file."
    )

    @Option(help: "Address to bind (default 127.0.0.1).") var host: String?
    @Option(help: "Port to bind (default 8080; 0 picks a free port).") var port: String?
    @Option(help: "Media directory with tracks/ and masters/ (default media).") var media: String?
    @Option(name: .customLong("cache-dir"), help: "Chunk cache directory (default cache).") var cacheDir: String?
    @Option(name: .customLong("cache-max-bytes"), help: "Chunk cache bound in bytes (default 1 GiB).") var cacheMaxBytes: String?
    @Option(name: .customLong("delivery-log"), help: "Delivery log file, or 'off' (default logs/delivery.jsonl).") var deliveryLog: String?
    @Option(help: "Parent tiers, comma-separated http:// URLs: pull what nothing local can build.") var upstream: String?
    @Option(name: .customLong("upstream-revalidate"), help: "Revalidate a cached upstream rendition at most every SECONDS (default 300).") var upstreamRevalidate: String?
    @Option(name: .customLong("upstream-negative-ttl"), help: "Remember a parent's 404 for SECONDS (default 10).") var upstreamNegativeTTL: String?
    @Option(help: "JSON config file (flat object keyed by setting name).") var config: String?
    @Option(name: .customLong("max-connections"), help: "Concurrent connections (default 4096); the open-file limit is raised to match.") var maxConnections: String?
    @Flag(name: .customLong("stream-api"), help: "Serve GET /stream/{trackId} and the player at /player/ (needs OGGEDGE_REDIS_URL).")
    var streamAPI = false
    @Option(name: .customLong("public-base-url"), help: "Prefix of the URLs /stream hands out, e.g. https://cdn.example.com.")
    var publicBaseURL: String?
    @Flag(name: .customLong("demo-user"), help: "Let /player/ make demo sessions (quick start only; loopback hosts only).")
    var demoUser = false

    func run() async throws {
        var flags: [String: String] = [:]
        flags["host"] = host
        flags["port"] = port
        flags["media"] = media
        flags["cache-dir"] = cacheDir
        flags["cache-max-bytes"] = cacheMaxBytes
        flags["delivery-log"] = deliveryLog
        flags["upstream"] = upstream
        flags["max-connections"] = maxConnections
        flags["upstream-revalidate"] = upstreamRevalidate
        flags["upstream-negative-ttl"] = upstreamNegativeTTL
        if streamAPI { flags["stream-api"] = "1" }
        if demoUser { flags["demo-user"] = "1" }
        flags["public-base-url"] = publicBaseURL
        let configuration: OriginConfiguration
        do {
            configuration = try ConfigurationLoader.load(
                flags: flags, environment: ProcessInfo.processInfo.environment, configFile: config
            )
        } catch {
            fail(error.description)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.mediaDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            fail("media directory '\(configuration.mediaDirectory)' does not exist")
        }
        // As many event loops (and blocking-I/O threads) as the CPUs we may run on, not the machine's.
        NIOSingletons.groupLoopCountSuggestion = CPUAffinity.allowedCPUs()
        NIOSingletons.blockingPoolThreadCountSuggestion = max(2, CPUAffinity.allowedCPUs())
        // Swift concurrency stays on its own cooperative pool, as in the in-process tests: the
        // event loops only parse and write sockets, never run a handler's blocking work (LMDB,
        // pread, the encoder). See docs/BYTE-PATH.md.
        var logger = Logger(label: "oggedge")
        logger.logLevel = ProcessInfo.processInfo.environment["OGGEDGE_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
        // Enough descriptors for --max-connections, or a clear word on what will happen instead.
        let files = FileDescriptorLimit.raise(forConnections: configuration.limits.maxConnections, loops: CPUAffinity.allowedCPUs())
        if files.after > files.before {
            logger.info("open-file limit raised", metadata: ["from": "\(files.before)", "to": "\(files.after)"])
        }
        if !files.isEnough {
            logger.warning(
                "open-file limit too low for max-connections; connections past it wait in the accept backlog",
                metadata: ["limit": "\(files.after)", "wanted": "\(files.wanted)", "max-connections": "\(configuration.limits.maxConnections)"]
            )
        }
        let server: OriginServer
        do { server = try OriginServer(configuration: configuration, logger: logger) } catch { fail("\(error)") }
        let host = configuration.host
        let runLogger = logger
        // SIGHUP reopens the delivery log (after logrotate moved it).
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let deliveryLog = server.deliveryLog
        hangup.setEventHandler { deliveryLog.reopen() }
        hangup.resume()
        defer { hangup.cancel() }
        do {
            try await server.run { port in
                runLogger.info("listening", metadata: ["address": "\(host):\(port)"])
                // A machine-readable line for scripts and tests that start us on port 0.
                FileHandle.standardOutput.write(Data("oggedge listening on http://\(host):\(port)\n".utf8))
            }
        } catch {
            fail("cannot serve on \(host):\(configuration.port): \(error)")
        }
    }
}

/// `oggedge sign`
struct Sign: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a signed URL for PATH using the first key of OGGEDGE_SIGNING_KEYS."
    )

    @Argument(help: "Request path, e.g. /tracks/demo_160kbps.ogg") var path: String
    @Option(help: "Seconds the URL stays valid.") var ttl: Int64
    @Option(help: "Subject / user id recorded in the delivery log.") var uid: String?
    @Option(help: "What the token covers: /tracks/ (every rendition), /tracks/{trackId}_ (every rendition of one track) or one whole rendition path.") var acl: String?
    @Option(help: "Highest bitrate the token may fetch.") var maxkbps: Int?
    @Option(help: "Client address the token is bound to.") var ip: String?
    @Option(name: .customLong("base-url"), help: "Prefix, e.g. http://127.0.0.1:8080, to print an absolute URL.") var baseURL: String?

    func validate() throws {
        guard path.hasPrefix("/") else { fail("PATH must start with /") }
        guard ttl > 0, ttl <= 10 * 365 * 86_400 else { fail("--ttl must be between 1 and 315360000 seconds") }
        if let maxkbps, maxkbps <= 0 { fail("--maxkbps must be positive") }
    }

    func run() throws {
        guard let keysText = ProcessInfo.processInfo.environment["OGGEDGE_SIGNING_KEYS"], !keysText.isEmpty else {
            fail("OGGEDGE_SIGNING_KEYS is not set (see `oggedge keygen`)")
        }
        let ring: KeyRing
        do { ring = try KeyRing(parsing: keysText) } catch { fail("OGGEDGE_SIGNING_KEYS: \(error)") }
        let now = Int64(Date().timeIntervalSince1970)
        let signed = URLSigner.sign(
            path: path, key: ring.signingKey, expires: now + ttl, uid: uid, ip: ip, acl: acl, maxKbps: maxkbps
        )
        var base = baseURL ?? ""
        while base.hasSuffix("/") { base.removeLast() }
        print(base + signed)
    }
}

/// `oggedge keygen`
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a fresh signing key as kid:BASE64SECRET (32 random bytes).")

    @Option(help: "Key id (default: k + the current date and a random suffix).") var kid: String?

    func run() throws {
        var rng = SystemRandomNumberGenerator()
        let id = kid ?? "k\(Int(Date().timeIntervalSince1970) / 86_400)\(String(rng.next() & 0xffff, radix: 16))"
        let key = KeyRing.generate(kid: id)
        print("\(key.kid):\(key.base64Secret)")
    }
}

/// Prints a one-line error to standard error and exits with status 2.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("oggedge: error: \(message)\n".utf8))
    exit(2)
}
