import Foundation
import FuzzSupport
import OggEdgeCore
@testable import OggEdgeServer

/// The JSON bodies posted to the origin: the playback beacon (``CheckedBeacon/check(_:)``, the
/// whole check `POST /events/playback` runs before it verifies the URL) and the prewarm request
/// of `POST /admin/prewarm`. Invariants: an accepted beacon holds only values the endpoint's
/// rules allow (ids, finite non-negative times in range, a rendition path that is the target's).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBeaconJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(bytes: data, count: size)
    if case .success(let beacon) = CheckedBeacon.check(body) {
        Fuzz.check(EventIdentifier.isValid(beacon.eventId), "event id \(beacon.eventId.debugDescription)")
        Fuzz.check(beacon.playId.map(EventIdentifier.isValid) ?? (beacon.eventType == .start), "play id")
        if let position = beacon.position {
            Fuzz.check(position.isFinite && position >= 0 && position <= 86_400_000, "position \(position)")
        } else {
            Fuzz.check(beacon.eventType == .start, "\(beacon.eventType) without a position")
        }
        if let tap = beacon.tapToPlaying {
            Fuzz.check(tap.isFinite && tap >= 0 && tap <= 600_000, "tap to playing \(tap)")
        } else {
            Fuzz.check(beacon.eventType != .start, "start without tap_to_playing_ms")
        }
        Fuzz.check(beacon.stallCount >= 0 && beacon.stallMs >= 0 && beacon.stallMs.isFinite, "stalls")
        Fuzz.check((beacon.player?.count ?? 0) <= 64, "player of \(beacon.player!.count) characters")
        Fuzz.check(beacon.track.path == String(beacon.path), "track \(beacon.track.path) from \(beacon.path)")
        Fuzz.check(beacon.target.hasPrefix(beacon.path), "path \(beacon.path) not at the start of \(beacon.target)")
    }
    if let warm = try? JSONDecoder().decode(PrewarmRequest.self, from: body) {
        if case .value(let tracks) = warm.tracks { _ = tracks.map { TrackPath.isValidTrackId(Substring($0)) } }
    }
    return 0
}
