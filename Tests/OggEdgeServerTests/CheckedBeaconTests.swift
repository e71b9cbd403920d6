import Foundation
import Testing
import OggEdgeCore
@testable import OggEdgeServer

/// The pure parts of request bodies and files the fuzzer calls directly: the beacon body check
/// and the config file's bytes.
struct CheckedBeaconTests {
    @Test func aStartBeaconIsCheckedWithoutAServer() throws {
        let body = #"{"event_id":"e1","url":"http://h:1/tracks/demo_160kbps.ogg?exp=1&kid=k&sig=x","tap_to_playing_ms":12}"#
        let beacon = try CheckedBeacon.check(Data(body.utf8)).get()
        #expect(beacon.eventType == .start)
        #expect(beacon.path == "/tracks/demo_160kbps.ogg")
        #expect(beacon.target == "/tracks/demo_160kbps.ogg?exp=1&kid=k&sig=x")
        #expect(beacon.track.kbps == 160 && beacon.tapToPlaying == 12 && beacon.stallCount == 0)
    }

    @Test func rejectionsNameTheFirstBadField() {
        func reason(_ body: String) -> String? {
            if case .failure(let rejection) = CheckedBeacon.check(Data(body.utf8)) { return rejection.reason }
            return nil
        }
        #expect(reason("[]") == "invalid_json")
        #expect(reason(#"{"event_id":"a b","url":"/tracks/demo_160kbps.ogg"}"#) == "invalid_event_id")
        #expect(reason(#"{"event_id":"a","url":"/tracks/demo_160kbps.ogg","tap_to_playing_ms":true}"#) == "invalid_tap_to_playing_ms")
        #expect(reason(#"{"event_id":"a","url":"/x","tap_to_playing_ms":1}"#) == "invalid_url")
        #expect(reason(#"{"event_id":"a","event_type":"seek","url":"/tracks/demo_160kbps.ogg","play_id":"p"}"#) == "invalid_position_ms")
    }

    @Test func configFileBytesParseWithoutAFile() throws {
        let settings = try ConfigurationLoader.parseFile(Data(#"{"port": 8081, "upstream": ["a", "b"]}"#.utf8), path: "x.json")
        #expect(settings == ["port": "8081", "upstream": "a,b"])
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parseFile(Data("{".utf8), path: "x.json") }
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.parseFile(Data(#"{"nope": 1}"#.utf8), path: "x.json") }
    }
}
