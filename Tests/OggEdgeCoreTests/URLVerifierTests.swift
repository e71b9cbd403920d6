import Testing
@testable import OggEdgeCore

/// Keys and vectors shared by the signing tests. Every expected signature below was computed
/// outside Swift with openssl:
///   K1=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f   (bytes 0...31)
///   K2=4242424242424242424242424242424242424242424242424242424242424242   (32 x 0x42)
///   printf '%s' "$MSG" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K -binary | basenc --base64url | tr -d '='
enum SigningFixtures {
    static let k1 = SigningKey(kid: "k1", secret: Array(0...31))
    static let k2 = SigningKey(kid: "k2", secret: Array(repeating: 0x42, count: 32))
    static let ring = try! KeyRing(keys: [k1, k2])
    static let verifier = URLVerifier(keys: ring)
    static let exp: Int64 = 1_700_000_000
    static let now: Int64 = 1_699_999_000
    static let path = "/tracks/abc_160kbps.ogg"
    /// The signature of ``basic``.
    static let sig = "B6ceQo4E0B2rC9za2KvaQuYWqrdn2QOyw9wW0AO5jOs"

    /// K1, MSG="/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1"
    static let basic = "/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=B6ceQo4E0B2rC9za2KvaQuYWqrdn2QOyw9wW0AO5jOs"
    /// K1, MSG="/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&uid=user%40example.com"
    static let withUid = "/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&uid=user%40example.com&sig=MLlNN47pPa4mVTcv-LQfXY_S30isnKFkOqszgciBpz0"
    /// K1, MSG="exp=1700000000&kid=k1&acl=%2Ftracks%2Fabc_"   (acl: query only)
    static let aclQuery = "exp=1700000000&kid=k1&acl=%2Ftracks%2Fabc_&sig=f2-KKaFvl5WoXHu6dDAlZYjIIZ_L-ibqBNDZl_U6oO8"
    /// K1, MSG="/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&uid=u1&ip=203.0.113.7&st=1699990000&maxkbps=160"
    static let full = "/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&uid=u1&ip=203.0.113.7&st=1699990000&maxkbps=160&sig=H3gn7BQ-ufVwYpTLX1qbRfSX6tlEVMqbkLRacPfCUkY"
    /// K1, MSG="/tracks/abc_160kbps.ogg?kid=k1&maxkbps=160&exp=1700000000"   (other order)
    static let reordered = "/tracks/abc_160kbps.ogg?kid=k1&maxkbps=160&exp=1700000000&sig=8FdoyoXRpPg7DmjTHUkwG24ZSAlY7KaezLFZerlAa5o"
    /// K2, MSG="/tracks/abc_160kbps.ogg?exp=1700000000&kid=k2"
    static let byK2 = "/tracks/abc_160kbps.ogg?exp=1700000000&kid=k2&sig=P-nyvT8irIZIJU-7DwJe9Tro1csO80gRijXpPhvQzgg"
    /// K1, MSG="/tracks/abc_96kbps.ogg?exp=1700000000&kid=k1&acl=%2Ftracks%2Fabc_"   (wrongly includes the path)
    static let aclWithPathSignature = "o_BYrp1uPOJ5Qm0p50YWJ5QqJ-qPaCuzBl34N-PAD3Y"

    static func verify(_ target: String, path: String = path, ip: String = "198.51.100.1", kbps: Int = 160,
                       now: Int64 = now, verifier: URLVerifier = verifier) -> Result<Grant, AuthRefusal> {
        verifier.verify(target: Substring(target), path: Substring(path), clientIP: Substring(ip), kbps: kbps, now: now)
    }
}

@Suite struct SignedURLVerifierTests {
    typealias F = SigningFixtures

    @Test(arguments: [F.basic, F.withUid, F.full, F.reordered, F.byK2, "/tracks/abc_96kbps.ogg?" + F.aclQuery])
    func opensslVectorsVerify(target: String) throws {
        let path = String(target.prefix { $0 != "?" })
        let grant = try F.verify(target, path: path, ip: "203.0.113.7").get()
        #expect(grant.expires == F.exp)
        // The same target with the last signature character changed must fail.
        let last = target.last!
        let tampered = String(target.dropLast()) + (last == "A" ? "Q" : "A")
        #expect(F.verify(tampered, path: path, ip: "203.0.113.7") == .failure(.badSignature))
    }

    @Test func grantCarriesDecodedFields() throws {
        let plain = try F.verify(F.withUid).get()
        #expect(plain == Grant(kid: "k1", uid: "user@example.com", expires: F.exp, maxKbps: nil, acl: nil))
        let full = try F.verify(F.full, ip: "203.0.113.7").get()
        #expect(full == Grant(kid: "k1", uid: "u1", expires: F.exp, maxKbps: 160, acl: nil, notBefore: 1699990000, ip: "203.0.113.7"))
        let acl = try F.verify("/tracks/abc_96kbps.ogg?" + F.aclQuery, path: "/tracks/abc_96kbps.ogg", kbps: 96).get()
        #expect(acl.acl == "/tracks/abc_")
    }

    static let refusals: [(String, AuthRefusal)] = [
        ("/tracks/abc_160kbps.ogg", .missingSignature),
        ("/tracks/abc_160kbps.ogg?", .missingSignature),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1", .missingSignature),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&signature=\(F.sig)", .missingSignature),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&sig=\(F.sig)&kid=k1", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=\(F.sig)&", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=\(F.sig)&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&exp=1700000000&kid=k1&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?kid=k1&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=17e8&kid=k1&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=+1700000000&kid=k1&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=99999999999999999999&kid=k1&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&uid=%zz&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&uid=%4&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&uid=%FF&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&st=soon&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&maxkbps=160k&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&flag&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&&kid=k1&sig=\(F.sig)", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=\(F.sig)=", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=\(F.sig.dropLast())", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=\(F.sig)AA", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=B6ceQo4E0B2rC9za2KvaQuYWqrdn2QOyw9wW0AO5jOt", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k1&sig=B6ceQo4E0B2rC9za2KvaQuYWqrdn2QOyw9wW0AO5jO+", .malformed),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k9&sig=\(F.sig)", .unknownKey),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=K1&sig=\(F.sig)", .unknownKey),
        ("/tracks/abc_160kbps.ogg?exp=1700000001&kid=k1&sig=\(F.sig)", .badSignature),
        ("/tracks/abc_320kbps.ogg?exp=1700000000&kid=k1&sig=\(F.sig)", .badSignature),
        ("/tracks/abc_160kbps.ogg?exp=1700000000&kid=k2&sig=\(F.sig)", .badSignature),
    ]

    @Test(arguments: refusals)
    func refusal(target: String, expected: AuthRefusal) {
        #expect(F.verify(target) == .failure(expected))
    }

    @Test func expiryHonoursLeeway() {
        #expect((try? F.verify(F.basic, now: F.exp + 30).get()) != nil)
        #expect(F.verify(F.basic, now: F.exp + 31) == .failure(.expired))
        let strict = URLVerifier(keys: F.ring, leewaySeconds: 0)
        #expect(F.verify(F.basic, now: F.exp + 1, verifier: strict) == .failure(.expired))
        #expect(F.verify(F.basic, now: .max) == .failure(.expired))
    }

    @Test func notBeforeHonoursLeeway() {
        let st: Int64 = 1_699_990_000
        #expect((try? F.verify(F.full, ip: "203.0.113.7", now: st - 30).get()) != nil)
        #expect(F.verify(F.full, ip: "203.0.113.7", now: st - 31) == .failure(.notYetValid))
    }

    @Test(arguments: [("203.0.113.7", true), ("::ffff:203.0.113.7", true), ("::FFFF:203.0.113.7", true),
                      ("[::ffff:cb00:7107]", true), ("203.0.113.8", false), ("2001:db8::7", false), ("", false)])
    func ipBinding(client: String, allowed: Bool) {
        let result = F.verify(F.full, ip: client)
        #expect(allowed ? (try? result.get()) != nil : result == .failure(.ipMismatch))
    }

    @Test(arguments: [("2001:db8::1", "2001:DB8:0:0:0:0:0:1", true), ("::1", "[::1]", true), ("::", "0:0:0:0:0:0:0:0", true),
                      ("1.2.3.4", "::ffff:1.2.3.4", true), ("1.2.3.4", "1.2.3.04", false), ("fe80::1%eth0", "fe80::1%eth0", true),
                      ("1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8", false), ("1::2::3", "1:0:0:0:0:0:2:3", false), ("::ffff:1.2.3", "1.2.3.0", false)])
    func addressComparison(a: String, b: String, same: Bool) {
        #expect(URLVerifier.sameAddress(Substring(a), Substring(b)) == same)
    }

    @Test func aclTokenCoversEveryRenditionAndOnlyThePrefix() {
        for kbps in [96, 320] {
            let path = "/tracks/abc_\(kbps)kbps.ogg"
            #expect((try? F.verify(path + "?" + F.aclQuery, path: path, kbps: kbps).get()) != nil)
        }
        let other = "/tracks/abd_96kbps.ogg"
        #expect(F.verify(other + "?" + F.aclQuery, path: other, kbps: 96) == .failure(.outsideAcl))
        // A signature over path + "?" + query is not what acl tokens sign.
        let wrong = "/tracks/abc_96kbps.ogg?exp=1700000000&kid=k1&acl=%2Ftracks%2Fabc_&sig=" + F.aclWithPathSignature
        #expect(F.verify(wrong, path: "/tracks/abc_96kbps.ogg", kbps: 96) == .failure(.badSignature))
    }

    /// A target for `path` carrying an `acl` token signed by the library's own signer with K1.
    static func aclTarget(_ path: String, acl: String) -> String {
        let signed = URLSigner.sign(path: "/tracks/abc_96kbps.ogg", key: F.k1, expires: F.exp, acl: acl)
        return path + signed[signed.firstIndex(of: "?")!...]
    }

    @Test(arguments: [
        // (acl, request path, covered)
        ("/tracks/", "/tracks/abc_96kbps.ogg", true), ("/tracks/", "/tracks/xyz-1_320kbps.ogg", true),
        ("/tracks/abc_", "/tracks/abc_96kbps.ogg", true), ("/tracks/abc_", "/tracks/abc_320kbps.ogg", true),
        ("/tracks/abc_", "/tracks/abc_x_96kbps.ogg", false), ("/tracks/abc_", "/tracks/abcd_96kbps.ogg", false),
        ("/tracks/abc_x_", "/tracks/abc_x_160kbps.ogg", true), ("/tracks/abc_x_", "/tracks/abc_160kbps.ogg", false),
        ("/tracks/abc_160kbps.ogg", "/tracks/abc_160kbps.ogg", true), ("/tracks/abc_160kbps.ogg", "/tracks/abc_96kbps.ogg", false),
    ])
    func aclFormsCoverExactlyTheirRenditions(acl: String, path: String, covered: Bool) {
        let kbps = TrackPath.supportedBitrates.first { path.hasSuffix("_\($0)kbps.ogg") } ?? 96
        let result = F.verify(Self.aclTarget(path, acl: acl), path: path, kbps: kbps)
        if covered {
            #expect((try? result.get())?.acl == acl)
        } else {
            #expect(result == .failure(.outsideAcl))
        }
    }

    @Test(arguments: ["", "/", "/tracks", "/tracks/a", "/tracks/abc", "/tracks/ab", "/tracks/_", "/tracks/-abc_", "/tracks/abc_96kbps",
                      "/tracks/abc_96kbps.og", "/tracks/abc_128kbps.ogg", "/tracks/abc_96kbps.ogg/", "/tracks//abc_", "/tracks/../abc_",
                      "/tracks/a b_", "/TRACKS/abc_", "tracks/abc_", "/tracks/abc_96kbps.ogg?x", "/other/", "/tracks/\(String(repeating: "a", count: 65))_",
                      "/tracks/\u{301}abc_", "/tracks/abc\u{600}_", "/tracks/abc\u{301}_"])
    func aclOutsideTheThreeFormsIsMalformed(acl: String) {
        let path = "/tracks/abc_96kbps.ogg"
        #expect(F.verify(Self.aclTarget(path, acl: acl), path: path, kbps: 96) == .failure(.malformed))
    }

    @Test func bitrateEntitlement() {
        #expect((try? F.verify(F.reordered, kbps: 160).get()) != nil)
        #expect((try? F.verify(F.reordered, kbps: 96).get()) != nil)
        #expect(F.verify(F.reordered, kbps: 320) == .failure(.bitrateNotAllowed))
    }

    @Test func rotationAcceptsEitherKey() throws {
        for ring in [F.ring, try KeyRing(keys: [F.k2, F.k1])] {
            let verifier = URLVerifier(keys: ring)
            #expect(try F.verify(F.basic, verifier: verifier).get().kid == "k1")
            #expect(try F.verify(F.byK2, verifier: verifier).get().kid == "k2")
        }
        let old = URLVerifier(keys: try KeyRing(keys: [F.k1]))
        #expect(F.verify(F.byK2, verifier: old) == .failure(.unknownKey))
    }

    @Test func refusalOrder() {
        // Expired, outside the acl, over the bitrate and bound to another IP: the signature speaks first.
        let bad = String(F.full.dropLast()) + "A"
        #expect(F.verify(bad, path: "/x", ip: "1.1.1.1", kbps: 320, now: .max) == .failure(.badSignature))
        #expect(F.verify(F.full, ip: "1.1.1.1", kbps: 320, now: .max) == .failure(.expired))
        #expect(F.verify(F.full, ip: "1.1.1.1", kbps: 320, now: 0) == .failure(.notYetValid))
        #expect(F.verify(F.full, ip: "1.1.1.1", kbps: 320) == .failure(.ipMismatch))
        #expect(F.verify(F.full, ip: "203.0.113.7", kbps: 320) == .failure(.bitrateNotAllowed))
    }

    @Test func everySingleByteChangeIsRefused() {
        let bytes = Array(F.full.utf8)
        for i in bytes.indices {
            for replacement: UInt8 in [0x41, 0x30, 0x26, 0x3D, 0x25, 0x00, 0xC3] where bytes[i] != replacement {
                var mutated = bytes
                mutated[i] = replacement
                let target = String(decoding: mutated, as: UTF8.self)
                #expect((try? F.verify(target, ip: "203.0.113.7").get()) == nil, "accepted \(target)")
            }
            let truncated = String(decoding: bytes[..<i], as: UTF8.self)
            #expect((try? F.verify(truncated, ip: "203.0.113.7").get()) == nil)
        }
    }

    @Test func fuzzNeverCrashes() {
        var rng = SigningFuzzRNG(seed: 0x0661_ED9E)
        let alphabet = Array("?&=%sigexpkidacl0123456789AF/_-+.:~ \u{0}".utf8)
        for round in 0..<3_000 {
            let count = Int(rng.next() % 200)
            let bytes = (0..<count).map { _ in
                round % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))]
            }
            let text = String(decoding: bytes, as: UTF8.self)
            _ = F.verify(text, path: text, ip: text, kbps: Int(truncatingIfNeeded: rng.next()), now: Int64(bitPattern: rng.next()))
            _ = F.verify("/tracks/a_96kbps.ogg?" + text + "&sig=" + F.sig, ip: text)
        }
        let huge = [
            String(repeating: "a", count: 1 << 20), "?" + String(repeating: "&", count: 1 << 18),
            "?" + String(repeating: "x=1&", count: 100_000) + "sig=" + F.sig,
            "?" + String(repeating: "%", count: 1 << 18) + "&sig=x", "?exp=" + String(repeating: "9", count: 100_000) + "&kid=k1&sig=" + F.sig,
        ]
        for target in huge {
            #expect((try? F.verify(target, ip: String(target.prefix(100_000))).get()) == nil)
        }
    }
}

/// Small deterministic generator for fuzzing (SigningFuzzRNG).
struct SigningFuzzRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
