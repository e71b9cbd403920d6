import Testing
@testable import OggEdgeCore

@Suite("multipart/byteranges plan")
struct MultipartByterangesTests {
    /// Assembles the body the way the server will: header, range bytes, …, trailer.
    private func assemble(_ plan: MultipartPlan, from data: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        for part in plan.parts {
            body += part.header
            body += data[Int(part.range.start)...Int(part.range.end)]
        }
        return body + plan.trailer
    }

    @Test func exactBodyForTwoRanges() {
        let data = Array("0123456789\n".utf8)
        let plan = MultipartPlan(
            ranges: [ByteRange(start: 0, end: 1), ByteRange(start: 5, end: 8)],
            totalLength: 11, partContentType: "audio/ogg", boundary: "XyZ"
        )
        let expected = "\r\n--XyZ\r\nContent-Type: audio/ogg\r\nContent-Range: bytes 0-1/11\r\n\r\n01"
            + "\r\n--XyZ\r\nContent-Type: audio/ogg\r\nContent-Range: bytes 5-8/11\r\n\r\n5678"
            + "\r\n--XyZ--\r\n"
        let body = assemble(plan, from: data)
        #expect(String(decoding: body, as: UTF8.self) == expected)
        #expect(plan.contentLength == Int64(expected.utf8.count))
        #expect(plan.contentType == "multipart/byteranges; boundary=XyZ")
        #expect(plan.boundary == "XyZ")
        #expect(plan.parts.map(\.range) == [ByteRange(start: 0, end: 1), ByteRange(start: 5, end: 8)])
        #expect(plan.trailer == Array("\r\n--XyZ--\r\n".utf8))
    }

    @Test(arguments: [1, 2, 3, 16])
    func contentLengthMatchesAssembledBody(partCount: Int) {
        let data = (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
        let ranges = (0..<partCount).map { (index: Int) -> ByteRange in
            let start = Int64(index * 300)
            return ByteRange(start: start, end: start + Int64(17 * (index + 1)))
        }
        let plan = MultipartPlan(ranges: ranges, totalLength: 5000, partContentType: "audio/ogg", boundary: MultipartPlan.makeBoundary())
        #expect(plan.parts.count == partCount)
        #expect(plan.contentLength == Int64(assemble(plan, from: data).count))
    }

    @Test func largeRangesCountTowardLengthWithoutMaterialising() {
        let plan = MultipartPlan(
            ranges: [ByteRange(start: 0, end: 999_999_999), ByteRange(start: 2_000_000_000, end: 4_999_999_999)],
            totalLength: 5_000_000_000, partContentType: "audio/ogg", boundary: "b"
        )
        let headers = plan.parts.reduce(0) { $0 + $1.header.count }
        #expect(plan.contentLength == 4_000_000_000 + Int64(headers + plan.trailer.count))
        #expect(String(decoding: plan.parts[1].header, as: UTF8.self).hasSuffix("Content-Range: bytes 2000000000-4999999999/5000000000\r\n\r\n"))
    }

    @Test func boundariesAreRandomAlphanumericAndDeterministicPerSeed() {
        var a = RangeFuzzRNG(state: 5), b = RangeFuzzRNG(state: 5)
        let first = MultipartPlan.makeBoundary(using: &a)
        #expect(first == MultipartPlan.makeBoundary(using: &b))
        #expect(first.count == 32)
        #expect(first.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(MultipartPlan.makeBoundary() != MultipartPlan.makeBoundary())
    }

    @Test func resolverOutputFeedsThePlan() {
        guard case .multiple(let ranges) = RangeResolver.resolve("bytes=-2,0-0"[...], length: 11) else {
            Issue.record("expected multiple ranges")
            return
        }
        let plan = MultipartPlan(ranges: ranges, totalLength: 11, partContentType: "audio/ogg", boundary: "B")
        let body = String(decoding: assemble(plan, from: Array("0123456789\n".utf8)), as: UTF8.self)
        #expect(body == "\r\n--B\r\nContent-Type: audio/ogg\r\nContent-Range: bytes 0-0/11\r\n\r\n0"
            + "\r\n--B\r\nContent-Type: audio/ogg\r\nContent-Range: bytes 9-10/11\r\n\r\n9\n\r\n--B--\r\n")
    }
}
