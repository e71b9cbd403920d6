import Foundation
import OggEdgeCore
import OggEdgeTesting
import Testing

/// SIGKILL the real binary while it fills the cache, restart it on the same cache directory,
/// and compare every track byte for byte.
@Suite(.serialized) struct KillRecoveryTests {
    struct Running {
        let process: Process
        let port: Int
    }

    static func start(cacheDir: String, logDir: String) async throws -> Running {
        try await offload { try startBlocking(cacheDir: cacheDir, logDir: logDir) }
    }

    static func startBlocking(cacheDir: String, logDir: String) throws -> Running {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["serve", "--port", "0", "--media", TestMedia.directory, "--cache-dir", cacheDir,
                       "--cache-max-bytes", "3145728", "--delivery-log", logDir + "/d.jsonl"]
        p.environment = ProcessInfo.processInfo.environment.merging(["OGGEDGE_SIGNING_KEYS": TestServer.keysText]) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let port = text.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        return Running(process: p, port: port)
    }

    static func fetch(port: Int, _ name: String, range: String? = nil) -> (status: Int, body: [UInt8]) {
        let target = TestServer.signStatic("/tracks/" + name)
        var request = "GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        if let range { request += "Range: \(range)\r\n" }
        request += "\r\n"
        let (bytes, _) = RawHTTP.exchangeBlocking(port: port, bytes: Array(request.utf8), timeout: 10, readLimit: 8 << 20)
        guard let sep = RawHTTP.headEnd(bytes) else { return (0, []) }
        let head = String(decoding: bytes[..<sep], as: UTF8.self)
        let status = RawHTTP.status(head) ?? 0
        // A response to an encode still running has no length yet: it comes chunked.
        if head.lowercased().contains("\r\ntransfer-encoding: chunked") {
            return (status, RawHTTP.dechunk(bytes[(sep + 4)...]) ?? [])
        }
        return (status, Array(bytes[(sep + 4)...]))
    }

    @Test func killedDuringFillsThenRestartedServesExactBytes() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-kill-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let names = ["demo_96kbps.ogg", "demo_160kbps.ogg", "demo_320kbps.ogg"] + TestMedia.bigTracks
        for round in 0..<3 {
            let server = try await Self.start(cacheDir: dir + "/cache", logDir: dir)
            #expect(server.port > 0)
            // Readers in the background while we kill the process at a different moment each round.
            let readers = Task { await offload { for name in names { _ = Self.fetch(port: server.port, name) } } }
            try await Task.sleep(for: .milliseconds(30 + round * 40))
            kill(server.process.processIdentifier, SIGKILL)
            await offload { server.process.waitUntilExit() }
            _ = await readers.value
            #expect(server.process.terminationReason == .uncaughtSignal)
        }
        let server = try await Self.start(cacheDir: dir + "/cache", logDir: dir)
        defer {
            kill(server.process.processIdentifier, SIGTERM)
            server.process.waitUntilExit()
        }
        for _ in 0..<2 {
            for name in names {
                let port = server.port
                let r = await offload { Self.fetch(port: port, name) }
                #expect(r.status == 200, "\(name)")
                #expect(r.body == TestMedia.bytes(name), "\(name)")
            }
        }
    }
}

/// SIGKILL the real binary in the middle of a transcode: the fill's cache record was marked
/// incomplete, so nothing that looks complete is left; the restarted server encodes again and
/// the result is an ordinary object.
@Suite(.serialized) struct KilledEncodeTests {
    @Test func killedMidEncodeLeavesNoRenditionAndTheNextStartEncodesAgain() async throws {
        _ = TestMedia.hugeTrack // a 120 s master: its encode takes about a second
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-killenc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "huge_96kbps.ogg"

        let first = try await KillRecoveryTests.start(cacheDir: dir + "/cache", logDir: dir)
        let port = first.port
        let target = TestServer.signStatic("/tracks/" + name)
        let request = Array("GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        let prefix = await offload { RawHTTP.exchangeBlocking(port: port, bytes: request, timeout: 10, readLimit: 16_384).0 }
        #expect(String(decoding: prefix.prefix(12), as: UTF8.self) == "HTTP/1.1 200")
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        let second = try await KillRecoveryTests.start(cacheDir: dir + "/cache", logDir: dir)
        defer {
            if second.process.isRunning {
                kill(second.process.processIdentifier, SIGTERM)
                second.process.waitUntilExit()
            }
        }
        let port2 = second.port
        // The first request streams the new encode to its end; the second gets the same bytes,
        // from the finished object or (on a slow machine) from the encode's last moments.
        let streamed = await offload { KillRecoveryTests.fetch(port: port2, name) }
        #expect(streamed.status == 200)
        let whole = await offload { KillRecoveryTests.fetch(port: port2, name) }
        #expect(whole.status == 200)
        let check = TranscodeTests.ogginfo(whole.body)
        #expect(check.ok, "\(check.output)")
        #expect(whole.body == streamed.body, "one encode, one version: \(whole.body.count) vs \(streamed.body.count) bytes")
        let tail = Array(whole.body.suffix(70_000))
        let last = tail.withUnsafeBytes { OggScan.lastGranule(tail: $0) }
        #expect(last == Int64(120 * 44100))
        kill(second.process.processIdentifier, SIGTERM) // flushes the delivery log
        second.process.waitUntilExit()
        let log = (try? String(contentsOfFile: dir + "/d.jsonl", encoding: .utf8)) ?? ""
        let caches = log.split(separator: "\n").compactMap { line -> String? in
            guard line.contains(name.replacingOccurrences(of: "_96kbps.ogg", with: "")) else { return nil }
            return line.range(of: "\"cache\":\"").map { String(line[$0.upperBound...].prefix(while: { $0 != "\"" })) }
        }
        #expect(caches.suffix(2).first == "TRANSCODE" && ["HIT", "COALESCED"].contains(caches.last ?? ""),
                "the restarted server encoded again, then served that version: \(caches)")
    }
}
