import Foundation
import Testing
@testable import OggEdgeRedis

/// The pure entry points the crash recovery reads through (and the fuzzer calls directly).
struct SpoolBytesTests {
    @Test func scanStopsAtATornTailAfterTheLastWholeRecord() {
        var bytes: [UInt8] = []
        SpoolCodec.append(id: StreamID(milliseconds: 5, sequence: 0), fields: [("a", "b")], to: &bytes)
        let whole = bytes.count
        SpoolCodec.append(id: StreamID(milliseconds: 5, sequence: 1), fields: [("c", "d")], to: &bytes)
        let torn = Array(bytes.dropLast(3))
        let (end, last) = torn.withUnsafeBytes { SpoolFiles.scan(bytes: $0) }
        #expect(end == Int64(whole))
        #expect(last == StreamID(milliseconds: 5, sequence: 0))
        let empty = [UInt8]().withUnsafeBytes { SpoolFiles.scan(bytes: $0) }
        #expect(empty.validEnd == 0 && empty.lastID == nil)
    }

    @Test func commitLinesParseAndGarbageDoesNot() {
        let commit = SpoolFiles.parseCommit(Data("v1 3 1024 17-2\n".utf8))
        #expect(commit?.position == SpoolPosition(segment: 3, offset: 1024))
        #expect(commit?.lastID == StreamID(milliseconds: 17, sequence: 2))
        #expect(SpoolFiles.parseCommit(Data("v1 1 0 -\n".utf8))?.lastID == nil)
        #expect(SpoolFiles.parseCommit(Data("v1 3 -1 -\n".utf8)) == nil)
        #expect(SpoolFiles.parseCommit(Data("v2 3 0 -\n".utf8)) == nil)
        #expect(SpoolFiles.parseCommit(Data([0xFF, 0xFE, 0x20])) == nil)
    }
}
