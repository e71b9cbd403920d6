import Foundation

/// The JSON body of a playback beacon, each field read on its own so a bad one is named.
///
/// Decoded with `JSONDecoder`, where a JSON `true`/`false` never reads as a number
/// (`JSONSerialization` on Linux hands out booleans and the numbers 0 and 1 as the same
/// `NSNumber`, so `0` looked like `false`). Unknown fields are ignored.
struct PlaybackBeacon: Decodable {
    var eventId: BodyField<String>
    var url: BodyField<String>
    var tapToPlayingMs: BodyField<Double>
    var stallCount: BodyField<Int>
    var stallMs: BodyField<Double>
    var player: BodyField<String>
    var eventType: BodyField<String>
    var positionMs: BodyField<Double>
    var playId: BodyField<String>

    enum CodingKeys: String, CodingKey {
        case eventId = "event_id", url, tapToPlayingMs = "tap_to_playing_ms", stallCount = "stall_count", stallMs = "stall_ms", player
        case eventType = "event_type", positionMs = "position_ms", playId = "play_id"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventId = c.field(.eventId)
        url = c.field(.url)
        tapToPlayingMs = c.field(.tapToPlayingMs)
        stallCount = c.field(.stallCount)
        stallMs = c.field(.stallMs)
        player = c.field(.player)
        eventType = c.field(.eventType)
        positionMs = c.field(.positionMs)
        playId = c.field(.playId)
    }
}

/// One field of a JSON request body: absent (or `null`), present with the wrong type, or present.
enum BodyField<Value> {
    case absent, invalid, value(Value)

    /// The value, `fallback` when absent, nil when invalid.
    func value(or fallback: Value) -> Value? {
        switch self {
        case .absent: fallback
        case .invalid: nil
        case .value(let v): v
        }
    }
}

extension KeyedDecodingContainer {
    /// `key` read on its own: a wrong type is ``BodyField/invalid`` rather than an error for
    /// the whole body (`JSONDecoder` never reads a boolean as a number or a number as a boolean).
    func field<T: Decodable>(_ key: Key) -> BodyField<T> {
        guard contains(key), (try? decodeNil(forKey: key)) == false else { return .absent }
        return (try? decode(T.self, forKey: key)).map { .value($0) } ?? .invalid
    }
}

/// The seed's playback event types (`event_type`; `start` when absent).
enum PlaybackEventType: String, Sendable, CaseIterable {
    case start, progress, complete, skip, seek

    /// A `progress` or `complete` this far into the track counts one stream (once per play).
    static let countedStreamMs: Double = 30_000

    /// Whether an event of this type at `positionMs` counts the play as a stream.
    func countsStream(at positionMs: Double?) -> Bool {
        guard self == .progress || self == .complete, let positionMs else { return false }
        return positionMs >= Self.countedStreamMs
    }
}
