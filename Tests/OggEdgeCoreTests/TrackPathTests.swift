import Testing
@testable import OggEdgeCore

@Suite struct TrackPathTests {
    static let id64 = "a" + String(repeating: "B", count: 63)
    static let id65 = id64 + "c"

    static let valid: [(String, String, Int)] = [
        ("/tracks/abc_160kbps.ogg", "abc", 160),
        ("/tracks/a_96kbps.ogg", "a", 96),
        ("/tracks/Z9_320kbps.ogg", "Z9", 320),
        ("/tracks/abc_def_96kbps.ogg", "abc_def", 96),
        ("/tracks/0-x-_160kbps.ogg", "0-x-", 160),
        ("/tracks/\(id64)_320kbps.ogg", id64, 320),
    ]

    @Test(arguments: valid)
    func parsesValidPaths(path: String, trackId: String, kbps: Int) throws {
        let track = try TrackPath.parse(Substring(path)).get()
        #expect(track.trackId == trackId)
        #expect(track.kbps == kbps)
        #expect(track.fileName == "\(trackId)_\(kbps)kbps.ogg")
        #expect(track.path == path)
        #expect(try TrackPath(trackId: trackId, kbps: kbps) == track)
    }

    static let invalid: [(String, TrackPath.ParseError)] = [
        ("/tracks/\(id65)_320kbps.ogg", .invalidTrackId),
        ("/tracks/.._160kbps.ogg", .invalidTrackId),
        ("/tracks/../etc/passwd_160kbps.ogg", .invalidTrackId),
        ("/tracks/a..b_160kbps.ogg", .invalidTrackId),
        ("/tracks/%2e%2e_160kbps.ogg", .invalidTrackId),
        ("/tracks/abc%5F_160kbps.ogg", .invalidTrackId),
        ("/tracks/a/b_160kbps.ogg", .invalidTrackId),
        ("/tracks/_abc_160kbps.ogg", .invalidTrackId),
        ("/tracks/-abc_160kbps.ogg", .invalidTrackId),
        ("/tracks/_160kbps.ogg", .invalidTrackId),
        ("/tracks/ab c_160kbps.ogg", .invalidTrackId),
        ("/tracks/abç_160kbps.ogg", .invalidTrackId),
        ("/tracks/a.b_160kbps.ogg", .invalidTrackId),
        ("/tracks/abc.ogg", .invalidTrackId),
        ("/tracks/abc_kbps.ogg", .invalidTrackId),
        ("/tracks/abc_160.ogg", .invalidTrackId),
        ("/tracks/abc160kbps.ogg", .invalidTrackId),
        ("/tracks/abc_1x0kbps.ogg", .invalidTrackId),
        ("/tracks/.ogg", .invalidTrackId),
        ("/tracks/abc_160kbps.ogg?x", .notATrackPath),
        ("/tracks/abc_160kbps", .notATrackPath),
        ("/tracks/abc_160kbps.OGG", .notATrackPath),
        ("/tracks/", .notATrackPath),
        ("/tracks", .notATrackPath),
        ("/masters/abc.wav", .notATrackPath),
        ("/Tracks/abc_160kbps.ogg", .notATrackPath),
        ("tracks/abc_160kbps.ogg", .notATrackPath),
        ("", .notATrackPath),
        ("/tracks/abc_128kbps.ogg", .unsupportedBitrate),
        ("/tracks/abc_096kbps.ogg", .unsupportedBitrate),
        ("/tracks/abc_0160kbps.ogg", .unsupportedBitrate),
        ("/tracks/abc_99999999999999999999999kbps.ogg", .unsupportedBitrate),
    ]

    @Test(arguments: invalid)
    func rejectsInvalidPaths(path: String, error: TrackPath.ParseError) {
        #expect(TrackPath.parse(Substring(path)) == .failure(error))
    }

    @Test(arguments: [("a", true), ("A-_9", true), (id64, true), (id65, false), ("", false), ("_a", false),
                      ("-a", false), ("a.b", false), ("a/b", false), ("a%2e", false), ("é", false), ("a\u{0}", false)])
    func trackIdValidation(id: String, valid: Bool) {
        #expect(TrackPath.isValidTrackId(Substring(id)) == valid)
    }

    @Test func initValidates() {
        #expect(throws: TrackPath.ParseError.invalidTrackId) { try TrackPath(trackId: "../x", kbps: 96) }
        #expect(throws: TrackPath.ParseError.unsupportedBitrate) { try TrackPath(trackId: "x", kbps: 128) }
    }

    @Test func fuzzNeverCrashesAndAcceptsOnlySafeNames() {
        var rng = SigningFuzzRNG(seed: 7)
        let alphabet = Array("/tracks_0123456789kbps.og%-aZ".utf8)
        for _ in 0..<20_000 {
            let bytes = (0..<Int(rng.next() % 40)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let path = "/tracks/" + String(decoding: bytes, as: UTF8.self)
            if case .success(let track) = TrackPath.parse(Substring(path)) {
                #expect(track.path == path)
                #expect(!track.fileName.contains("/") && !track.fileName.contains("%") && !track.fileName.contains(".."))
            }
        }
        #expect(TrackPath.parse(Substring("/tracks/" + String(repeating: "a", count: 1 << 20) + "_96kbps.ogg")) == .failure(.invalidTrackId))
    }
}
