import Foundation
import OggEdgeCore
import OggEdgeTranscoder
import Testing

@Suite struct StreamingTests {
    /// A 60 s master, streamed in 4 KiB pulls: the transcoder never holds more than about a page
    /// of encoded output, and never hands out much more than it was asked for.
    @Test func memoryStaysBoundedOnALongSource() throws {
        let master = MasterCase(name: "long60", rate: 44100, channels: 2, seconds: 60)
        let t = try VorbisTranscoder(sourcePath: master.path, kind: .wavMaster, targetKbps: 96, serial: 5)
        var total = 0
        var calls = 0
        while !t.isFinished {
            let chunk = try t.next(minBytes: 4096)
            total += chunk.count
            calls += 1
            #expect(t.bufferedBytes <= 16_384)
        }
        #expect(total > 500_000) // ~60 s at 96 kbit/s
        #expect(calls > 100)
        #expect(t.peakBufferedBytes > 0)
        #expect(t.peakBufferedBytes <= 16_384, "peak \(t.peakBufferedBytes)")
        #expect(t.largestChunk <= 4096 + 65_536, "largest chunk \(t.largestChunk)")
        #expect(t.bytesProduced == Int64(total))
        #expect(t.samplesEncoded == master.frames)
        #expect(t.bufferedBytes == 0)
    }

    @Test func afterTheEndNextReturnsEmpty() throws {
        let t = try VorbisTranscoder(sourcePath: MasterCase.mono48.path, kind: .wavMaster, targetKbps: 96, serial: 5)
        var last: [UInt8] = []
        while !t.isFinished { last = try t.next(minBytes: 1 << 30) }
        // The call that finished returned the end-of-stream page.
        let lastPage = try #require(oggPages(last).last)
        #expect(lastPage.header.isEndOfStream)
        #expect(try t.next(minBytes: 1).isEmpty)
        #expect(try t.next(minBytes: 100).isEmpty)
        #expect(t.isFinished)
    }

    @Test func chunkingDoesNotChangeTheOutput() throws {
        let path = MasterCase.mono48.path
        let big = try TestMedia.transcode(path, kind: .wavMaster, kbps: 160, minBytes: 1 << 30, name: "chunk-big.ogg")
        let small = try TestMedia.transcode(path, kind: .wavMaster, kbps: 160, minBytes: 1, name: "chunk-small.ogg")
        let identical = big.bytes == small.bytes // (not inside #expect: it would print both outputs)
        #expect(identical, "\(big.bytes.count) vs \(small.bytes.count) bytes")
        #expect(big.chunks.count == 2) // headers, then everything
        #expect(small.chunks.count > 20)
        #expect(small.chunks.allSatisfy { !$0.isEmpty })
    }

    @Test func transcoderCanMoveBetweenTasks() async throws {
        let t = try VorbisTranscoder(sourcePath: MasterCase.mono48.path, kind: .wavMaster, targetKbps: 96, serial: 5)
        var total = 0
        while !t.isFinished {
            // Each pull runs on whatever thread the detached task gets; never two at once.
            total += try await Task.detached { try t.next(minBytes: 32_768) }.value.count
        }
        #expect(total > 10_000)
        #expect(t.samplesEncoded == MasterCase.mono48.frames)
    }
}
