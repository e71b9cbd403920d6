import Foundation
import OggEdgeTesting
import Testing

/// The real `oggedge` binary: keygen, sign, serve, SIGTERM, bad input.
@Suite(.serialized) struct CLITests {
    /// The debug binary built next to the tests (`swift build --build-tests` builds it).
    static let binary: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/oggedge").path
    }()

    static func run(_ args: [String], env: [String: String] = [:]) async throws -> (status: Int32, out: String, err: String) {
        try await offload { try runBlocking(args, env: env) }
    }

    static func runBlocking(_ args: [String], env: [String: String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func keygenPrintsAUsableKey() async throws {
        let r = try await Self.run(["keygen", "--kid", "abc"])
        #expect(r.status == 0)
        let line = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.hasPrefix("abc:"))
        #expect(Data(base64Encoded: String(line.dropFirst(4)))?.count == 32)
    }

    @Test func signRefusesBadInputWithOneLine() async throws {
        let noKeys = try await Self.run(["sign", "/tracks/demo_160kbps.ogg", "--ttl", "60"], env: ["OGGEDGE_SIGNING_KEYS": ""])
        #expect(noKeys.status != 0)
        #expect(noKeys.err.split(separator: "\n").count == 1)
        let badKey = try await Self.run(["sign", "/tracks/demo_160kbps.ogg", "--ttl", "60"], env: ["OGGEDGE_SIGNING_KEYS": "k:c2hvcnQ="])
        #expect(badKey.status != 0)
        let serveNoMedia = try await Self.run(["serve", "--media", "/nonexistent/dir", "--port", "0", "--cache-dir", "/tmp/oggedge-cli-unused"], env: ["OGGEDGE_SIGNING_KEYS": TestServer.keysText])
        #expect(serveNoMedia.status != 0)
        #expect(serveNoMedia.err.contains("media"))
        let badPort = try await Self.run(["serve", "--port", "99999"], env: ["OGGEDGE_SIGNING_KEYS": TestServer.keysText])
        #expect(badPort.status != 0)
    }

    @Test func prewarmLocallyFillsTheCacheAndReportsFailures() async throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-pw-\(UUID().uuidString)").path
        let ok = try await Self.run(["prewarm", "--media", TestMedia.directory, "--cache-dir", cache, "--kbps", "96,320", "demo"])
        #expect(ok.status == 0)
        #expect(ok.out.contains("prewarm: 2 renditions"))
        #expect(ok.out.contains("0 failed"))
        #expect(FileManager.default.fileExists(atPath: cache + "/data.mdb"))
        let missing = try await Self.run(["prewarm", "--media", TestMedia.directory, "--cache-dir", cache, "--kbps", "96", "demo", "nosuch"])
        #expect(missing.status != 0)
        #expect(missing.out.contains("1 failed"))
        let bad = try await Self.run(["prewarm", "--cache-dir", cache, "../etc"])
        #expect(bad.status != 0)
        #expect(bad.err.split(separator: "\n").count == 1)
    }

    @Test func serveSignedURLPlaysAndSIGTERMExitsCleanly() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let env = ["OGGEDGE_SIGNING_KEYS": TestServer.keysText]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["serve", "--port", "0", "--media", TestMedia.directory, "--delivery-log", dir + "/d.jsonl", "--cache-dir", dir + "/cache"]
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Read the "listening" line to learn the port.
        let text = await offload {
            var text = ""
            while !text.contains("\n") {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        let port = try #require(text.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        let signed = try await Self.run(["sign", "/tracks/demo_320kbps.ogg", "--ttl", "120", "--uid", "cli", "--base-url", "http://127.0.0.1:\(port)"], env: env)
        #expect(signed.status == 0)
        let url = signed.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("http://127.0.0.1:\(port)/tracks/demo_320kbps.ogg?exp="))
        let saved = dir + "/got.ogg"
        #expect(await offload { TestMedia.run("/usr/bin/curl", ["-sf", "-o", saved, url]) } == 0)
        #expect(await offload { TestMedia.run("/usr/bin/ogginfo", [saved]) } == 0)
        #expect(FileManager.default.contents(atPath: saved).map(Array.init) == TestMedia.bytes("demo_320kbps.ogg"))
        kill(p.processIdentifier, SIGTERM)
        await offload { p.waitUntilExit() }
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == 0)
        let log = String(decoding: FileManager.default.contents(atPath: dir + "/d.jsonl") ?? Data(), as: UTF8.self)
        #expect(log.contains("\"uid\":\"cli\""))
    }
}
