import Foundation
import NIOCore
import OggEdgeCache
import OggEdgeCore
import Testing
@testable import OggEdgeDelivery

/// Readers pin one version of a file: with the cache on or off, bytes of two versions are never
/// mixed in one response.
@Suite struct RenditionReaderTests {
    /// A media directory with one real rendition copied from the sample media.
    static func media() throws -> (dir: String, bytes: [UInt8]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-reader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/tracks", withIntermediateDirectories: true)
        let path = dir + "/tracks/x_160kbps.ogg"
        // A real 8 s rendition: several cache chunks.
        try Self.run("/usr/bin/sox", ["-n", "-r", "44100", "-c", "2", "-b", "16", dir + "/m.wav", "synth", "8", "pluck", "C3", "pinknoise", "vol", "0.4"])
        try Self.run("/usr/bin/oggenc", ["-Q", "-s", "7", "-b", "160", "-o", path, dir + "/m.wav"])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        try #require(bytes.count > 2 * ChunkStore.defaultChunkSize)
        return (dir, bytes)
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) \(arguments)")
    }

    @Test func withTheCacheOffAFileRewrittenInPlaceWithTheSameSizeFailsTheResponse() async throws {
        let (dir, bytes) = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let directory = RenditionDirectory(mediaDirectory: dir, store: nil, revalidateInterval: .zero)
        let attachment = try await directory.attach(TrackPath(trackId: "x", kbps: 160))
        #expect(attachment.outcome == .miss)
        let reader = RenditionReader(attachment, store: nil, wait: .seconds(1))
        defer { reader.close() }
        let chunk = ChunkStore.defaultChunkSize
        var first = ByteBuffer()
        try await reader.read(ByteRange(start: 0, end: Int64(chunk) - 1), appendingTo: &first)
        #expect(Array(first.readableBytesView) == Array(bytes.prefix(chunk)))
        // Same inode, same size, other bytes: only the mtime tells (set apart explicitly, so the
        // test does not depend on the clock having moved).
        let path = dir + "/tracks/x_160kbps.ogg"
        let before = try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data(bytes.reversed()))
        try handle.close()
        try FileManager.default.setAttributes([.modificationDate: before.addingTimeInterval(1)], ofItemAtPath: path)
        var second = ByteBuffer()
        await #expect(throws: SourceReadError.self) {
            try await reader.read(ByteRange(start: Int64(chunk), end: Int64(2 * chunk) - 1), appendingTo: &second)
        }
    }

    @Test func concurrentReadersOfAColdChunkLoadItOnce() async throws {
        let (dir, bytes) = try Self.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = dir + "/cache"
        let store = try ChunkStore(directory: cache, maxBytes: 64 << 20)
        defer { store.close() }
        let directory = RenditionDirectory(mediaDirectory: dir, store: store)
        let track = try TrackPath(trackId: "x", kbps: 160)
        let outcomes = try await withThrowingTaskGroup(of: (loads: Int, bytes: [UInt8]).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let reader = RenditionReader(try await directory.attach(track), store: store, wait: .seconds(5))
                    defer { reader.close() }
                    var out = ByteBuffer()
                    try await reader.read(ByteRange(start: 0, end: Int64(bytes.count) - 1), appendingTo: &out)
                    return (reader.loaded, Array(out.readableBytesView))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.allSatisfy { $0.bytes == bytes })
        // Every chunk was read from the file by exactly one reader.
        let chunks = (bytes.count + ChunkStore.defaultChunkSize - 1) / ChunkStore.defaultChunkSize
        #expect(outcomes.map(\.loads).reduce(0, +) == chunks)
    }
}
