import NIOHTTP1
import OggEdgeServer
import Foundation
import OggEdgeCore
import Testing

/// Every refusal reason of the contract, end to end, with the JSON body and CORS headers.
@Suite(.serialized) struct RefusalTests {
    let path = "/tracks/demo_160kbps.ogg"

    func expectRefusal(_ server: TestServer, _ target: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let r = try await server.fetch(target)
        #expect(r.status == 403, "\(target)", sourceLocation: sourceLocation)
        #expect(r.bodyText == "{\"error\":\"\(reason)\"}", "\(target)", sourceLocation: sourceLocation)
        #expect(r.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
        #expect(r.header("Access-Control-Allow-Origin") == "*", sourceLocation: sourceLocation)
        let head = try await server.fetch(target, method: .HEAD)
        #expect(head.status == 403 && head.body.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func everyReason() async throws {
        try await TestServer.with { server in
            let now = Int64(Date().timeIntervalSince1970)
            let good = server.sign(path)
            #expect(try await server.fetch(good).status == 200)
            try await expectRefusal(server, path, "missing_signature")
            try await expectRefusal(server, path + "?exp=1&kid=k1", "missing_signature")
            try await expectRefusal(server, path + "?exp=abc&kid=k1&sig=AAAA", "malformed")
            let unknown = URLSigner.sign(path: path, key: SigningKey(kid: "zz", secret: TestServer.secret), expires: now + 60)
            try await expectRefusal(server, unknown, "unknown_key")
            try await expectRefusal(server, good.replacingOccurrences(of: "uid=tester", with: "uid=tester2"), "bad_signature")
            try await expectRefusal(server, server.sign(path, ttl: -120), "expired")
            try await expectRefusal(server, server.sign(path, notBefore: now + 3600), "not_yet_valid")
            try await expectRefusal(server, server.sign(path, ip: "10.1.2.3"), "ip_mismatch")
            try await expectRefusal(server, server.sign(path, acl: "/tracks/other_"), "outside_acl")
            try await expectRefusal(server, server.sign(path, maxKbps: 96), "bitrate_not_allowed")
        }
    }

    @Test func tokensThatShouldPass() async throws {
        try await TestServer.with { server in
            let now = Int64(Date().timeIntervalSince1970)
            // Within the default 30 s leeway.
            #expect(try await server.fetch(server.sign(path, ttl: -10)).status == 200)
            #expect(try await server.fetch(server.sign(path, ip: "127.0.0.1")).status == 200)
            #expect(try await server.fetch(server.sign(path, maxKbps: 160)).status == 200)
            // One ACL token covers every rendition of the track.
            let acl = server.sign("/tracks/demo_96kbps.ogg", acl: "/tracks/demo_")
            let query = acl[acl.firstIndex(of: "?")!...]
            #expect(try await server.fetch("/tracks/demo_96kbps.ogg" + query).status == 200)
            #expect(try await server.fetch("/tracks/demo_320kbps.ogg" + query).status == 200)
            #expect(try await server.fetch("/tracks/tiny_96kbps.ogg" + query).status == 403)
            // Rotation: the second key of the ring verifies too.
            let second = try #require(server.keys.key(for: "k2"))
            let rotated = URLSigner.sign(path: path, key: second, expires: now + 60)
            #expect(try await server.fetch(rotated).status == 200)
        }
    }
}
