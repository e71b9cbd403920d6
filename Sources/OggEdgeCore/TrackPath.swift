/// A rendition request path, `/tracks/{trackId}_{kbps}kbps.ogg`, validated byte by byte so that
/// no accepted value can name a file outside the media directory.
public struct TrackPath: Sendable, Equatable, Hashable {
    /// The track id, `[A-Za-z0-9][A-Za-z0-9_-]{0,63}`.
    public let trackId: String
    /// The bitrate, one of ``supportedBitrates``.
    public let kbps: Int

    /// The bitrates a rendition can have: 96, 160, 320.
    public static let supportedBitrates: [Int] = [96, 160, 320]
    /// The longest track id, in bytes.
    public static let maximumTrackIdLength = 64

    /// Why a path is not a rendition path.
    public enum ParseError: Error, Equatable, Sendable {
        /// The path does not look like `/tracks/<name>.ogg` at all: answer 404.
        case notATrackPath
        /// Under `/tracks/` and ending in `.ogg`, but the name is not `{trackId}_{digits}kbps`
        /// with a valid track id (includes any `%`, `/` or `..`): answer 400.
        case invalidTrackId
        /// A valid track id with a bitrate outside 96/160/320 (e.g. `_128kbps`, `_096kbps`):
        /// answer 400, like any invalid name.
        case unsupportedBitrate
    }

    /// Makes a rendition after validating both parts.
    public init(trackId: String, kbps: Int) throws(ParseError) {
        guard TrackPath.isValidTrackId(Substring(trackId)) else { throw .invalidTrackId }
        guard TrackPath.supportedBitrates.contains(kbps) else { throw .unsupportedBitrate }
        self.trackId = trackId
        self.kbps = kbps
    }

    private init(unchecked trackId: String, kbps: Int) {
        self.trackId = trackId
        self.kbps = kbps
    }

    /// Parses a raw request path (no query, no percent-decoding). Checks, in order:
    /// prefix `/tracks/` and suffix `.ogg` (else ``ParseError/notATrackPath``); no `%`, `/`
    /// or `..` in the name, a `_{digits}kbps` suffix and a valid id (else
    /// ``ParseError/invalidTrackId``); digits exactly `96`, `160` or `320` (else
    /// ``ParseError/unsupportedBitrate``).
    public static func parse(_ path: Substring) -> Result<TrackPath, ParseError> {
        let bytes = path.utf8
        let prefix = "/tracks/".utf8
        let suffix = ".ogg".utf8
        guard bytes.count >= prefix.count + suffix.count,
              bytes.starts(with: prefix),
              bytes.reversed().starts(with: suffix.reversed())
        else { return .failure(.notATrackPath) }

        let name = Array(bytes.dropFirst(prefix.count).dropLast(suffix.count))
        for (i, c) in name.enumerated() {
            if c == UInt8(ascii: "%") || c == UInt8(ascii: "/") { return .failure(.invalidTrackId) }
            if c == UInt8(ascii: "."), i + 1 < name.count, name[i + 1] == UInt8(ascii: ".") {
                return .failure(.invalidTrackId)
            }
        }
        // name = {trackId} "_" {digits} "kbps"
        let kbpsWord = Array("kbps".utf8)
        guard name.count > kbpsWord.count, Array(name.suffix(kbpsWord.count)) == kbpsWord else {
            return .failure(.invalidTrackId)
        }
        let stem = name.dropLast(kbpsWord.count)
        guard let underscore = stem.lastIndex(of: UInt8(ascii: "_")) else { return .failure(.invalidTrackId) }
        let idBytes = stem[..<underscore]
        let digits = stem[(underscore + 1)...]
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return .failure(.invalidTrackId)
        }
        let id = String(decoding: idBytes, as: UTF8.self)
        guard isValidTrackId(Substring(id)) else { return .failure(.invalidTrackId) }
        let digitText = String(decoding: digits, as: UTF8.self)
        guard let kbps = supportedBitrates.first(where: { String($0) == digitText }) else {
            return .failure(.unsupportedBitrate)
        }
        return .success(TrackPath(unchecked: id, kbps: kbps))
    }

    /// The file name inside `tracks/`: `{trackId}_{kbps}kbps.ogg`.
    public var fileName: String { "\(trackId)_\(kbps)kbps.ogg" }

    /// The request path: `/tracks/{trackId}_{kbps}kbps.ogg`.
    public var path: String { "/tracks/" + fileName }

    /// The cache key of this rendition, e.g. `demo_160kbps`.
    public var renditionKey: String { "\(trackId)_\(kbps)kbps" }

    /// Whether `s` matches `[A-Za-z0-9][A-Za-z0-9_-]{0,63}` (ASCII only, checked byte by byte).
    public static func isValidTrackId(_ s: Substring) -> Bool {
        let bytes = s.utf8
        guard let first = bytes.first, bytes.count <= maximumTrackIdLength, isAlphanumeric(first) else {
            return false
        }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}
