import Foundation
import OggEdgeCore

/// Why a beacon body is refused: the `error` code of the `400` answer (e.g. `invalid_json`).
struct BeaconRejection: Error, Equatable, Sendable {
    /// The code sent as `{"error": ...}`.
    let reason: String

    init(_ reason: String) { self.reason = reason }
}

/// A `POST /events/playback` body checked field by field: everything the endpoint needs before
/// it verifies the audio URL. Pure (no I/O), so the fuzzer and the tests call it directly.
struct CheckedBeacon: Sendable, Equatable {
    var eventId: String
    var eventType: PlaybackEventType
    var playId: String?
    var position: Double?
    var tapToPlaying: Double?
    var stallCount: Int
    var stallMs: Double
    var player: String?
    /// The URL's request target (path and query, any scheme and host cut off).
    var target: Substring
    /// The target's path (before `?`), a valid rendition path.
    var path: Substring
    var track: TrackPath

    /// Decodes and checks a beacon body (see ``PlaybackEvents`` for the rules).
    static func check(_ body: Data) -> Result<CheckedBeacon, BeaconRejection> {
            guard let beacon = try? JSONDecoder().decode(PlaybackBeacon.self, from: body) else {
                return .failure(BeaconRejection("invalid_json"))
            }
            guard case .value(let eventId) = beacon.eventId, EventIdentifier.isValid(eventId) else {
                return .failure(BeaconRejection("invalid_event_id"))
            }
            guard case .value(let url) = beacon.url, !url.isEmpty, url.utf8.count <= 8192 else {
                return .failure(BeaconRejection("invalid_url"))
            }
            guard let typeName = beacon.eventType.value(or: "start"), let eventType = PlaybackEventType(rawValue: typeName) else {
                return .failure(BeaconRejection("invalid_event_type"))
            }
            var playId: String?
            switch beacon.playId {
            case .absent: guard eventType == .start else { return .failure(BeaconRejection("invalid_play_id")) }
            case .invalid: return .failure(BeaconRejection("invalid_play_id"))
            case .value(let id):
                guard EventIdentifier.isValid(id) else { return .failure(BeaconRejection("invalid_play_id")) }
                playId = id
            }
            var position: Double?
            switch beacon.positionMs {
            case .absent: guard eventType == .start else { return .failure(BeaconRejection("invalid_position_ms")) }
            case .invalid: return .failure(BeaconRejection("invalid_position_ms"))
            case .value(let p):
                guard p.isFinite, p >= 0, p <= 86_400_000 else { return .failure(BeaconRejection("invalid_position_ms")) }
                position = p
            }
            var tapToPlaying: Double?
            switch beacon.tapToPlayingMs {
            case .absent: guard eventType != .start else { return .failure(BeaconRejection("invalid_tap_to_playing_ms")) }
            case .invalid: return .failure(BeaconRejection("invalid_tap_to_playing_ms"))
            case .value(let tap):
                guard tap.isFinite, tap >= 0, tap <= 600_000 else { return .failure(BeaconRejection("invalid_tap_to_playing_ms")) }
                tapToPlaying = tap
            }
            guard let stallCount = beacon.stallCount.value(or: 0), let stallMs = beacon.stallMs.value(or: 0),
                  stallCount >= 0, stallMs >= 0, stallMs.isFinite
            else { return .failure(BeaconRejection("invalid_stalls")) }
            var player: String?
            if case .value(let name) = beacon.player { player = String(name.prefix(64)) }

            // The audio URL's request target and path, to be verified as that request would be.
            var target = Substring(url)
            if let scheme = target.range(of: "://") {
                let afterHost = target[scheme.upperBound...].firstIndex(of: "/") ?? target.endIndex
                target = target[afterHost...]
            }
            let path = target[..<(target.firstIndex(of: "?") ?? target.endIndex)]
            guard case .success(let track) = TrackPath.parse(path) else { return .failure(BeaconRejection("invalid_url")) }
        return .success(CheckedBeacon(
            eventId: eventId, eventType: eventType, playId: playId, position: position, tapToPlaying: tapToPlaying,
            stallCount: stallCount, stallMs: stallMs, player: player, target: target, path: path, track: track
        ))
    }
}
