import ArgumentParser
import Foundation
import Histogram
import NIOCore
import NIOPosix

/// `oggedge-load`: an open-loop HTTP/1.1 load generator. Requests leave at fixed arrival times
/// (constant or Poisson) whatever the server does; TTFB and total latency count from each
/// request's intended send time, so a stall shows up in the percentiles instead of slowing the
/// load (no coordinated omission). Latencies go into HdrHistograms.
struct OggEdgeLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oggedge-load",
        abstract: "Open-loop load at a fixed arrival rate; TTFB from the intended send time into HdrHistogram.",
        discussion: """
            Templates (--templates FILE): one request per line, 'TARGET SIZE [SHAPE]', TARGET a request \
            target (path and query, e.g. a signed URL), SIZE the file's bytes. SHAPE: full | bytes=A-B | \
            range:SPAN (random SPAN-byte range, e.g. range:64k) | player (first 64 KiB, end probe, \
            sequential reads, seeks); a line without SHAPE takes --scenario (range-64k, range-4k, full, \
            player, or a SHAPE). Without --templates, --target and --size give one template.
            The last line of output is 'RESULT key=value …' for scripts.
            """
    )

    @Option(help: "Base URL, http://HOST:PORT.") var url: String
    @Option(help: "Arrival rate, requests per second (all threads together).") var rate: Double
    @Option(help: "Measured seconds.") var duration: Double = 10
    @Option(help: "Seconds of load before measuring (same rate, not recorded).") var warmup: Double = 2
    @Option(help: "Keep-alive connections (all threads together).") var connections: Int = 64
    @Option(help: "Event loop threads (the rate and connections are split between them).") var threads: Int = 1
    @Option(help: "Arrival process: constant or poisson.") var arrival: String = "poisson"
    @Option(help: "Template file.") var templates: String?
    @Option(help: "Single request target (with --size) instead of --templates.") var target: String?
    @Option(help: "File size in bytes for --target.") var size: Int?
    @Option(help: "Shape for template lines without one.") var scenario: String?
    @Option(help: "How templates are picked: uniform, round-robin or zipf:S (rank = line order).") var pick: String = "uniform"
    @Option(help: "Comma-separated statuses that count as success (default: 206 for a range, 200 otherwise).") var expect: String?
    @Option(help: "Write HdrHistogram percentile distributions to PREFIX.{ttfb,total,send-delay,lag}.hgrm.") var histograms: String?
    @Option(help: "Seconds to wait for answers after the last arrival.") var drain: Double = 10
    @Option(help: "Give up when this many requests wait for a connection.") var maxQueued: Int = 1_000_000
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Label printed with the result.") var label: String = ""

    func validate() throws {
        guard rate > 0 else { throw ValidationError("--rate must be > 0") }
        guard duration > 0, warmup >= 0, drain >= 0 else { throw ValidationError("--duration > 0, --warmup/--drain >= 0") }
        guard threads >= 1, connections >= threads else { throw ValidationError("need --threads >= 1 and --connections >= --threads") }
        guard arrival == "constant" || arrival == "poisson" else { throw ValidationError("--arrival constant|poisson") }
        guard templates != nil || (target != nil && size != nil) else { throw ValidationError("give --templates or --target and --size") }
    }

    func run() throws {
        guard let (host, port) = Self.parseBaseURL(url) else { throw ValidationError("--url must be http://HOST:PORT") }
        let defaultShape = try scenario.map { name in
            guard let shape = scenarioShape(name) else { throw ValidationError("unknown --scenario \(name)") }
            return shape
        }
        let list: [RequestTemplate]
        if let templates {
            list = try loadTemplates(path: templates, defaultShape: defaultShape)
        } else {
            list = [RequestTemplate(target: target!, size: size!, shape: defaultShape ?? .full)]
        }
        guard let picker = Picker.parse(pick, count: list.count) else { throw ValidationError("--pick uniform|round-robin|zipf:S") }
        let expected = try expect.map { text in
            Set(try text.split(separator: ",").map { part in
                guard let code = Int(part) else { throw ValidationError("bad --expect \(text)") }
                return code
            })
        }

        let cpu0 = LoadReport.processCPUSeconds()
        let wall0 = Date()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        defer { try? group.syncShutdownGracefully() }
        var futures: [EventLoopFuture<LoadStats>] = []
        for t in 0..<threads {
            let loop = group.next()
            let plan = LoadPlan(
                host: host, port: port, hostHeader: port == 80 ? host : "\(host):\(port)",
                templates: list, picker: picker, rate: rate / Double(threads), poisson: arrival == "poisson",
                connections: connections / threads + (t < connections % threads ? 1 : 0),
                warmupNanos: UInt64(warmup * 1e9), durationNanos: UInt64(duration * 1e9), drainNanos: UInt64(drain * 1e9),
                expect: expected, seed: seed &+ UInt64(t) &* 0x9E37_79B9, maxQueued: maxQueued / threads
            )
            futures.append(loop.submit { LoadDriver(loop: loop, plan: plan).run() }.flatMap { $0 })
        }
        var stats = LoadStats()
        for future in futures { stats.merge(try future.wait()) }

        let report = LoadReport(
            stats: stats, clientCPUSeconds: LoadReport.processCPUSeconds() - cpu0, wallSeconds: Date().timeIntervalSince(wall0),
            offeredRate: rate, duration: duration, label: label
        )
        print(report.text(), terminator: "")
        if let prefix = histograms {
            try report.writeHistograms(prefix: prefix, header: CommandLine.arguments.joined(separator: " "))
        }
        print(report.resultLine())
        if stats.completed == 0 { throw ExitCode(1) }
    }

    static func parseBaseURL(_ text: String) -> (String, Int)? {
        guard text.hasPrefix("http://") else { return nil }
        var rest = text.dropFirst(7)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { return nil }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]) else { return nil }
            return (String(rest[..<colon]), port)
        }
        return (String(rest), 80)
    }
}

OggEdgeLoad.main()
