import OggEdgeTesting
import Testing
@testable import OggEdgeRedis

struct RedisEndpointTests {
    @Test(arguments: [
        ("redis://127.0.0.1:6380/2", "127.0.0.1", 6380, 2),
        ("redis://localhost", "localhost", 6379, 0),
        ("redis://cache.internal:7000", "cache.internal", 7000, 0),
        ("redis://cache.internal/5", "cache.internal", 6379, 5),
        ("redis://h:1/", "h", 1, 0),
        ("REDIS://h:65535/15", "h", 65535, 15),
        ("redis://[::1]:7001/1", "::1", 7001, 1),
        ("redis://[::1]", "::1", 6379, 0),
    ])
    func parsesValidURLs(url: String, host: String, port: Int, database: Int) throws {
        let endpoint = try RedisEndpoint(url: url)
        #expect(endpoint.host == host)
        #expect(endpoint.port == port)
        #expect(endpoint.database == database)
    }

    @Test(arguments: [
        ("", "expected redis://"),
        ("127.0.0.1:6379", "expected redis://"),
        ("http://h:6379", "expected redis://"),
        ("rediss://h:6379", "TLS"),
        ("redis://", "host is empty"),
        ("redis://:6379", "host is empty"),
        ("redis://h:", "port '' is not a number"),
        ("redis://h:abc", "port 'abc' is not a number"),
        ("redis://h:0", "out of range"),
        ("redis://h:65536", "out of range"),
        ("redis://h:-1", "not a number"),
        ("redis://h:6379/x", "database 'x'"),
        ("redis://h:6379/-1", "database '-1'"),
        ("redis://h:6379/1/2", "database '1/2'"),
        ("redis://user:pw@h:6379", "credentials"),
        ("redis://h:6379?db=1", "query"),
        ("redis://::1:6379", "brackets"),
        ("redis://[::1:6379", "unterminated"),
        ("redis://[::1]x", "unexpected"),
        ("redis://h h:6379", "invalid characters"),
    ])
    func rejectsBadURLs(url: String, reason: String) {
        #expect {
            try RedisEndpoint(url: url)
        } throws: { error in
            let message = (error as? RedisConfigError)?.description ?? ""
            return message.contains(reason) && message.contains("'\(url)'")
        }
    }

    @Test func descriptionRoundTrips() throws {
        for url in ["redis://10.0.0.1:6380/4", "redis://[::1]:6379/0"] {
            let endpoint = try RedisEndpoint(url: url)
            #expect(endpoint.description == url)
            #expect(try RedisEndpoint(url: endpoint.description) == endpoint)
        }
    }
}

struct SpoolFormatTests {
    @Test func idsStayIncreasingWhenTheClockStepsBack() {
        var ids = StreamIDGenerator(after: StreamID("5000-7"))
        let produced = [4000, 5000, 5000, 6000, 5500, 6000, 6001].map { ids.next(nowMilliseconds: UInt64($0)) }
        #expect(produced.map(\.description) == ["5000-8", "5000-9", "5000-10", "6000-0", "6000-1", "6000-2", "6001-0"])
        var fresh = StreamIDGenerator(after: nil)
        #expect(fresh.next(nowMilliseconds: 0).description == "1-0", "0-0 is not a valid stream id")
    }

    @Test func streamIDParsingAndOrder() {
        #expect(StreamID("12-3") == StreamID(milliseconds: 12, sequence: 3))
        #expect(StreamID("12") == nil)
        #expect(StreamID("a-1") == nil)
        #expect(StreamID("1-2-3") == nil)
        #expect(StreamID(milliseconds: 2, sequence: 0) > StreamID(milliseconds: 1, sequence: 99))
    }

    @Test func codecRoundTripsAndDetectsDamage() {
        let fields = [("path", "/tracks/é?x=1&y"), ("uid", ""), ("line", "a\nb\u{0}c")]
        let id = StreamID(milliseconds: 1_700_000_000_000, sequence: 42)
        var buffer: [UInt8] = []
        SpoolCodec.append(id: id, fields: fields, to: &buffer)
        #expect(buffer.count == SpoolCodec.encodedSize(id: id, fields: fields))

        buffer.withUnsafeBytes { raw in
            guard case .record(let record, let length) = SpoolCodec.decode(raw) else {
                Issue.record("record did not decode")
                return
            }
            #expect(length == buffer.count)
            #expect(record.id == id)
            #expect(record.fields.map(\.0) == fields.map(\.0))
            #expect(record.fields.map(\.1) == fields.map(\.1))
        }
        buffer.dropLast().withUnsafeBytes { raw in
            guard case .incomplete = SpoolCodec.decode(raw) else { Issue.record("torn record not seen as incomplete"); return }
        }
        var flipped = buffer
        flipped[flipped.count - 3] ^= 0x20
        flipped.withUnsafeBytes { raw in
            guard case .corrupt = SpoolCodec.decode(raw) else { Issue.record("damaged record not seen as corrupt"); return }
        }
    }
}
