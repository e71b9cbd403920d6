import Foundation
import FuzzSupport
import OggEdgeCore
@testable import OggEdgeServer

private let key = SigningKey(kid: "fuzz", secret: Array(repeating: 0x5A, count: 32))

/// `GET /stream/{trackId}`: the track id from the path, the `session` cookie among `Cookie`
/// headers, `X-Connection-Type`, and the JSON answer (signed URL for the session's user id,
/// quality, expiry) that is kept in Redis and read back for its `expiresAt`.
/// Invariants: a session id is 1–256 cookie octets; the quality never exceeds the cap; the answer
/// is valid JSON holding exactly the URL, quality and expiry, and `expiresAt` reads back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStreamAPI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(Fuzz.bytes(data, size))
    let flags = input.byte()
    let expires = input.int64() & 0x0000_00FF_FFFF_FFFF // Unix seconds; × 1000 stays exact in a JSON double
    let fields = input.fields(4)
    let trackId = Substring(decoding: fields[0], as: UTF8.self)
    let cookies = fields[1].split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let connectionType = flags & 1 != 0 ? String(decoding: fields[2], as: UTF8.self) : nil
    let userId = String(decoding: fields[3], as: UTF8.self)

    switch SessionCookie.find(in: cookies) {
    case .id(let id):
        Fuzz.check(!id.isEmpty && id.utf8.count <= SessionCookie.maxLength, "session id of \(id.utf8.count) bytes")
        Fuzz.check(id.utf8.allSatisfy(SessionCookie.isCookieOctet), "session id \(id.debugDescription)")
    case .absent, .malformed:
        break
    }
    let cap = StreamQuality.cap(isPremium: flags & 2 != 0)
    let quality = StreamQuality.quality(cap: cap, connectionType: connectionType)
    Fuzz.check(quality <= cap && TrackPath.supportedBitrates.contains(quality), "quality \(quality) for cap \(cap)")

    guard TrackPath.isValidTrackId(trackId), let track = try? TrackPath(trackId: String(trackId), kbps: quality) else { return 0 }
    let signed = URLSigner.sign(path: track.path, key: key, expires: expires, uid: userId,
                                acl: "/tracks/\(trackId)_", maxKbps: cap)
    let base = flags & 4 != 0 ? "https://cdn.example.com" : ""
    let answer = StreamResponder.answer(url: base + signed, quality: quality, expiresAtMillis: expires * 1000)
    Fuzz.check(StreamResponder.expiresAt(inAnswer: answer) == expires * 1000, "expiresAt of \(answer)")
    let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]
    Fuzz.check(object?["url"] as? String == base + signed, "url in \(answer)")
    Fuzz.check((object?["quality"] as? NSNumber)?.intValue == quality, "quality in \(answer)")
    Fuzz.check((object?["expiresAt"] as? NSNumber)?.int64Value == expires * 1000, "expiresAt in \(answer)")
    // Any text survives JSON quoting (the url above is percent-encoded; the user id is not).
    let quoted = JSONString.quoted(userId)
    let back = try? JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed) as? String
    Fuzz.check(back == userId, "\(userId.debugDescription) quoted as \(quoted) reads back as \(String(describing: back))")
    return 0
}
