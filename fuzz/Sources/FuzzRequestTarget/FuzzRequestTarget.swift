@testable import OggEdgeCore
import FuzzSupport

private let key = SigningKey(kid: "fuzz", secret: Array(repeating: 0x5A, count: 32))
private let ring = try! KeyRing(keys: [key, SigningKey(kid: "old", secret: Array(repeating: 0xA5, count: 32))])
private let verifier = URLVerifier(keys: ring, leewaySeconds: 30)
private let now: Int64 = 1_800_000_000

/// The request target and its signed query: ``TrackPath``, ``URLVerifier`` (query parsing,
/// percent-decoding, `acl` forms, client addresses) on raw targets, and a round trip through
/// ``URLSigner``: every URL the signer makes must verify, with the values it was given.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(Fuzz.bytes(data, size))
    if input.byte() & 1 == 0 {
        rawTarget(&input)
    } else {
        signedRoundTrip(&input)
    }
    return 0
}

/// A target as a client sends it (first line) and the peer address (second line).
private func rawTarget(_ input: inout FuzzInput) {
    let fields = input.fields(2)
    let target = Substring(decoding: fields[0], as: UTF8.self)
    let clientIP = Substring(decoding: fields[1], as: UTF8.self)
    let path = target[..<(target.firstIndex(of: "?") ?? target.endIndex)]
    if case .success(let track) = TrackPath.parse(path) {
        Fuzz.check(track.path == String(path), "TrackPath \(track.path) from \(path.debugDescription)")
        Fuzz.check(TrackPath.isValidTrackId(Substring(track.trackId)), "track id \(track.trackId)")
        Fuzz.check(TrackPath.parse(Substring(track.path)) == .success(track), "TrackPath round trip")
    }
    for kbps in [96, 320] {
        if case .success(let grant) = verifier.verify(target: target, path: path, clientIP: clientIP, kbps: kbps, now: now) {
            Fuzz.check(grant.maxKbps.map { kbps <= $0 } ?? true, "granted \(kbps) kbps over maxkbps")
        }
    }
    if case .success(let query) = URLVerifier.SignedQuery.parse(target) {
        Fuzz.check(query.signature.count == 32 && !query.kid.isEmpty, "signed query without kid or signature")
        Fuzz.check(query.queryStart <= query.messageEnd, "message ends before the query starts")
    }
    let address = URLVerifier.addressBytes(clientIP)
    Fuzz.check(address == nil || address!.count == 4 || address!.count == 16, "address of \(address!.count) bytes")
    Fuzz.check(URLVerifier.sameAddress(clientIP, clientIP), "\(clientIP.debugDescription) differs from itself")
}

/// Values for the signer from the input; the signed URL must verify and grant exactly them.
private func signedRoundTrip(_ input: inout FuzzInput) {
    let flags = input.byte()
    let kbps = TrackPath.supportedBitrates[Int(flags >> 4 & 3) % 3]
    let lifetime = Int64(input.byte()) + 1
    let fields = input.fields(3)
    // A valid id: an alphanumeric first byte, then up to 63 of `[A-Za-z0-9_-]`.
    let idBytes = [UInt8(ascii: "t")] + fields[0].prefix(TrackPath.maximumTrackIdLength - 1).map(trackIdByte)
    let trackId = String(decoding: idBytes, as: UTF8.self)
    guard let track = try? TrackPath(trackId: trackId, kbps: kbps) else {
        Fuzz.check(false, "track id \(trackId) refused")
        return
    }
    let uid = flags & 1 != 0 ? String(decoding: fields[1], as: UTF8.self) : nil
    let ip = flags & 2 != 0 ? String(decoding: fields[2], as: UTF8.self) : nil
    let notBefore: Int64? = flags & 4 != 0 ? now - lifetime : nil
    let acl: String? = switch flags >> 6 {
    case 1: "/tracks/"
    case 2: "/tracks/\(trackId)_"
    case 3: track.path
    default: nil
    }
    let maxKbps: Int? = flags & 8 != 0 ? kbps : nil
    let target = URLSigner.sign(path: track.path, key: key, expires: now + lifetime, uid: uid, ip: ip,
                                notBefore: notBefore, acl: acl, maxKbps: maxKbps)
    let result = verifier.verify(target: Substring(target), path: Substring(track.path),
                                 clientIP: Substring(ip ?? "192.0.2.1"), kbps: kbps, now: now)
    let expected = Grant(kid: key.kid, uid: uid, expires: now + lifetime, maxKbps: maxKbps, acl: acl,
                         notBefore: notBefore, ip: ip)
    Fuzz.check(result == .success(expected), "signed \(target.debugDescription) verifies as \(result)")
}

/// Maps any byte onto `[A-Za-z0-9_-]`.
private func trackIdByte(_ b: UInt8) -> UInt8 {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".utf8)
    return alphabet[Int(b) % alphabet.count]
}
