import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OggEdgeCore
import OggEdgeServer

/// `oggedge prewarm`
struct Prewarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill the chunk cache for tracks ahead of demand, locally or through a running node."
    )

    @Option(help: "A running node (uses POST /admin/prewarm with OGGEDGE_ADMIN_TOKEN).") var server: String?
    @Option(help: "Bitrates, comma-separated (default 96,160,320).") var kbps: String = "96,160,320"
    @Flag(help: "Store only the first bytes of each rendition (enough to start playback) and its end.") var heads = false
    @Option(help: "A file with one track id per line.") var from: String?
    @Option(help: "Media directory (local mode; default media or OGGEDGE_MEDIA).") var media: String?
    @Option(name: .customLong("cache-dir"), help: "Cache directory (local mode; default cache or OGGEDGE_CACHE_DIR).") var cacheDir: String?
    @Option(name: .customLong("cache-max-bytes"), help: "Cache bound (local mode).") var cacheMaxBytes: String?
    @Argument(help: "Track ids.") var tracks: [String] = []

    func run() async throws {
        var ids = tracks
        if let from {
            guard let text = try? String(contentsOfFile: from, encoding: .utf8) else { fail("cannot read \(from)") }
            ids += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        guard !ids.isEmpty else { fail("no tracks given (TRACK... or --from FILE)") }
        for id in ids where !TrackPath.isValidTrackId(Substring(id)) { fail("invalid track id '\(id.prefix(80))'") }
        let rates = kbps.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !rates.isEmpty, rates.allSatisfy({ $0.map { TrackPath.supportedBitrates.contains($0) } ?? false }) else {
            fail("--kbps takes 96, 160 and/or 320")
        }
        let bitrates = rates.compactMap { $0 }
        if let server {
            try await remote(server: server, ids: ids, bitrates: bitrates)
        } else {
            try await local(ids: ids, bitrates: bitrates)
        }
    }

    private func local(ids: [String], bitrates: [Int]) async throws {
        var flags: [String: String] = [:]
        flags["media"] = media
        flags["cache-dir"] = cacheDir
        flags["cache-max-bytes"] = cacheMaxBytes
        var env = ProcessInfo.processInfo.environment
        if env["OGGEDGE_SIGNING_KEYS"] == nil {
            // Local prewarm verifies no URLs; a throwaway key satisfies the configuration.
            env["OGGEDGE_SIGNING_KEYS"] = "local:" + Data(repeating: 0, count: 32).base64EncodedString()
        }
        let configuration: OriginConfiguration
        do { configuration = try ConfigurationLoader.load(flags: flags, environment: env, configFile: nil) } catch { fail(error.description) }
        let warmer: OfflinePrewarm
        do { warmer = try OfflinePrewarm(configuration: configuration) } catch { fail("\(error)") }
        defer { warmer.close() }
        var progress = ProgressReporter(total: ids.count * bitrates.count)
        for id in ids {
            for rate in bitrates {
                guard case .success(let track) = TrackPath.parse(Substring("/tracks/\(id)_\(rate)kbps.ogg")) else { continue }
                let outcome = await warmer.warm(track, headsOnly: heads)
                progress.record(name: outcome.rendition, bytes: outcome.bytes, transcoded: outcome.cache == .transcode, error: outcome.error)
            }
        }
        progress.finish()
        if progress.failed > 0 { throw ExitCode(1) }
    }

    private func remote(server: String, ids: [String], bitrates: [Int]) async throws {
        guard let token = ProcessInfo.processInfo.environment["OGGEDGE_ADMIN_TOKEN"], !token.isEmpty else {
            fail("OGGEDGE_ADMIN_TOKEN is not set")
        }
        var base = server
        while base.hasSuffix("/") { base.removeLast() }
        let body = "{\"tracks\":[\(ids.map { JSONString.quoted($0) }.joined(separator: ","))],\"kbps\":[\(bitrates.map(String.init).joined(separator: ","))],\"heads\":\(heads)}"
        var request = HTTPClientRequest(url: base + "/admin/prewarm")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let client = HTTPClient.shared
        let started: [String: Any]
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let data = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .accepted,
                  let json = try? JSONSerialization.jsonObject(with: Data(data.readableBytesView)) as? [String: Any]
            else { fail("\(base) answered \(response.status.code): \(String(buffer: data).prefix(200))") }
            started = json
        } catch { fail("cannot reach \(base): \(error)") }
        guard let job = started["job"] as? String else { fail("no job id in the answer") }
        var progress = ProgressReporter(total: ids.count * bitrates.count)
        while true {
            try await Task.sleep(for: .milliseconds(250))
            let status = try await client.execute(
                { var r = HTTPClientRequest(url: base + "/admin/prewarm/" + job); r.headers.add(name: "Authorization", value: "Bearer \(token)"); return r }(),
                timeout: .seconds(30)
            )
            let data = try await status.body.collect(upTo: 1 << 20)
            guard let json = try? JSONSerialization.jsonObject(with: Data(data.readableBytesView)) as? [String: Any] else { continue }
            progress.update(done: json["done"] as? Int ?? 0, bytes: Int64(json["bytes"] as? Int ?? 0), failures: json["failed"] as? [String] ?? [])
            if json["state"] as? String == "finished" { break }
        }
        progress.finish()
        if progress.failed > 0 { throw ExitCode(1) }
    }
}

/// A progress bar on a terminal, one line per rendition otherwise, and a summary at the end.
struct ProgressReporter {
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) == 1
    var done = 0
    var bytes: Int64 = 0
    var transcoded = 0
    var failed = 0
    var failures: [String] = []

    init(total: Int) { self.total = total }

    mutating func record(name: String, bytes: Int64, transcoded: Bool, error: String?) {
        done += 1
        self.bytes += bytes
        if transcoded { self.transcoded += 1 }
        if let error {
            failed += 1
            failures.append("\(name): \(error)")
        }
        if isTerminal { bar() } else { print("\(name) \(error.map { "FAILED \($0)" } ?? "ok") \(bytes) bytes") }
    }

    mutating func update(done: Int, bytes: Int64, failures: [String]) {
        if !isTerminal { for line in failures.dropFirst(self.failures.count) { print("FAILED \(line)") } }
        self.done = done
        self.bytes = bytes
        self.failures = failures
        self.failed = failures.count
        if isTerminal { bar() }
    }

    func bar() {
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total) \(bytes / 1024) KiB"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        print("prewarm: \(total) renditions, \(bytes) bytes, \(transcoded) transcoded, \(failed) failed")
        for failure in failures where isTerminal { print("  failed: \(failure)") }
    }
}
