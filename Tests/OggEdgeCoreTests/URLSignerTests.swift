import Testing
@testable import OggEdgeCore

@Suite struct URLSignerTests {
    typealias F = SigningFixtures

    @Test func signerEmitsTheOpensslVectors() {
        #expect(URLSigner.sign(path: F.path, key: F.k1, expires: F.exp) == F.basic)
        #expect(URLSigner.sign(path: F.path, key: F.k2, expires: F.exp) == F.byK2)
        #expect(URLSigner.sign(path: F.path, key: F.k1, expires: F.exp, uid: "user@example.com") == F.withUid)
        #expect(URLSigner.sign(path: F.path, key: F.k1, expires: F.exp, uid: "u1", ip: "203.0.113.7",
                               notBefore: 1_699_990_000, maxKbps: 160) == F.full)
        #expect(URLSigner.sign(path: F.path, key: F.k1, expires: F.exp, acl: "/tracks/abc_") == F.path + "?" + F.aclQuery)
    }

    @Test func signatureHelperMatchesOpenssl() {
        // printf '%s' "exp=1700000000&kid=k1&acl=%2Ftracks%2Fabc_&maxkbps=160" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K1 -binary | basenc --base64url | tr -d '='
        #expect(URLSigner.signature(message: "exp=1700000000&kid=k1&acl=%2Ftracks%2Fabc_&maxkbps=160", secret: F.k1.secret)
            == "LG-m4MzpxjEsghrrGHDY00rgMbMbsBkiJl7_ccp_drQ")
    }

    @Test func parameterOrderAndSigLast() {
        let url = URLSigner.sign(path: F.path, key: F.k1, expires: 5, uid: "u", ip: "::1", notBefore: 1, acl: "/t", maxKbps: 96)
        let names = url.split(separator: "?")[1].split(separator: "&").map { $0.split(separator: "=")[0] }
        #expect(names == ["exp", "kid", "uid", "ip", "st", "acl", "maxkbps", "sig"])
        #expect(url.contains("&ip=%3A%3A1&"))
        #expect(url.contains("&acl=%2Ft&"))
    }

    @Test(arguments: [("abc", "abc"), ("A-Z_a.z~0", "A-Z_a.z~0"), ("a b", "a%20b"), ("é", "%C3%A9"),
                      ("+&=/?#%", "%2B%26%3D%2F%3F%23%25"), ("", "")])
    func percentEncodingKeepsOnlyUnreserved(raw: String, encoded: String) {
        #expect(URLSigner.percentEncode(raw) == encoded)
    }

    @Test func pathIsEncodedOnlyWhereNeeded() {
        let url = URLSigner.sign(path: "/tracks/a b%41%zz?.ogg", key: F.k1, expires: 1)
        #expect(url.hasPrefix("/tracks/a%20b%41%25zz%3F.ogg?exp=1&kid=k1&sig="))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var uid: String?, ip: String?, notBefore: Int64?, acl: String?, maxKbps: Int?
        var testDescription: String { "uid=\(uid ?? "-") ip=\(ip ?? "-") st=\(notBefore.map(String.init) ?? "-") acl=\(acl ?? "-")" }
    }

    static let roundTrips: [Case] = [
        Case(),
        Case(uid: "ünïcødé user+1@x&y=z"),
        Case(uid: "u", ip: "2001:db8::1", notBefore: 1_699_999_000, maxKbps: 320),
        Case(ip: "198.51.100.1", acl: "/tracks/abc_", maxKbps: 160),
        Case(uid: "%41", notBefore: -5, acl: "/tracks/"),
    ]

    @Test(arguments: roundTrips)
    func signerToVerifierRoundTrip(c: Case) throws {
        let (uid, ip, notBefore, acl, maxKbps) = (c.uid, c.ip, c.notBefore, c.acl, c.maxKbps)
        for key in [F.k1, F.k2] {
            let url = URLSigner.sign(path: F.path, key: key, expires: F.exp, uid: uid, ip: ip, notBefore: notBefore,
                                     acl: acl, maxKbps: maxKbps)
            let client = ip.map { $0 == "2001:db8::1" ? "2001:DB8:0::1" : "::ffff:" + $0 } ?? "192.0.2.9"
            let grant = try F.verify(url, ip: client).get()
            #expect(grant == Grant(kid: key.kid, uid: uid, expires: F.exp, maxKbps: maxKbps, acl: acl, notBefore: notBefore, ip: ip))
            // Signed with a key the verifier does not hold under that kid: refused.
            let forged = SigningKey(kid: key.kid, secret: Array(repeating: 7, count: 32))
            let forgedURL = URLSigner.sign(path: F.path, key: forged, expires: F.exp, uid: uid, ip: ip,
                                           notBefore: notBefore, acl: acl, maxKbps: maxKbps)
            #expect(F.verify(forgedURL, ip: client) == .failure(.badSignature))
        }
    }

    @Test func aclRoundTripCoversOtherRenditions() throws {
        let url = URLSigner.sign(path: "/tracks/abc_96kbps.ogg", key: F.k1, expires: F.exp, acl: "/tracks/abc_")
        let query = url.split(separator: "?", maxSplits: 1)[1]
        let other = "/tracks/abc_320kbps.ogg"
        #expect(try F.verify(other + "?" + query, path: other, kbps: 320).get().acl == "/tracks/abc_")
        #expect(F.verify("/tracks/xyz_96kbps.ogg?" + query, path: "/tracks/xyz_96kbps.ogg") == .failure(.outsideAcl))
    }
}
