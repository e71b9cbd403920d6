import Testing
@testable import OggEdgeCore

@Suite struct KeyRingTests {
    // base64 of bytes 0...31 and of 32 x 0x42 (echo -n $K | xxd -r -p | base64).
    static let b64K1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    static let b64K2 = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="

    @Test func parsesListTrimmingWhitespaceAndOptionalPadding() throws {
        let ring = try KeyRing(parsing: "  k1:\(Self.b64K1) ,\n\tk2.new-B : \(Self.b64K2.dropLast())  ")
        #expect(ring.keys.map(\.kid) == ["k1", "k2.new-B"])
        #expect(ring.signingKey.kid == "k1")
        #expect(ring.keys[0].secret == Array(0...31))
        #expect(ring.keys[1].secret == Array(repeating: 0x42, count: 32))
        #expect(ring.key(for: "k2.new-B")?.secret == ring.keys[1].secret)
        #expect(ring.key(for: "k3") == nil)
        #expect(ring.key(for: "K1") == nil)
    }

    static let shortSecret = "AAECAwQFBgcICQoLDA0ODw==" // 16 bytes
    static let badCases: [(String, String)] = [
        ("", "no signing keys"),
        (" \n ", "no signing keys"),
        ("k1:\(shortSecret)", "key 1 (kid \"k1\"): secret is 16 bytes, at least 32"),
        ("k1:\(b64K1),k2:\(shortSecret)", "key 2 (kid \"k2\"): secret is 16 bytes"),
        ("k1:!!not-base64!!", "key 1 (kid \"k1\"): secret is not valid standard base64"),
        ("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==", "not valid standard base64"),
        ("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x", "not valid standard base64"),
        ("k1:-_ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "not valid standard base64"),
        ("k1:\(b64K1),k1:\(b64K2)", "key 2: duplicate key id \"k1\""),
        ("k1:\(b64K1),", "key 2 is empty"),
        ("k1:\(b64K1),,k2:\(b64K2)", "key 2 is empty"),
        (b64K1, "key 1 is not of the form kid:BASE64SECRET"),
        ("k1:", "key 1 (kid \"k1\"): secret is empty"),
        (":\(b64K1)", "key 1: invalid key id"),
        ("bad kid!:\(b64K1)", "key 1: invalid key id"),
        (String(repeating: "k", count: 65) + ":" + b64K1, "key 1: invalid key id"),
    ]

    @Test(arguments: badCases)
    func parsingErrorsNameTheEntryAndHideTheSecret(value: String, message: String) {
        #expect(throws: KeyRingError.self) { try KeyRing(parsing: value) }
        do {
            _ = try KeyRing(parsing: value)
        } catch {
            #expect(error.description.contains(message), "got: \(error.description)")
            #expect(!error.description.contains(Self.b64K1.prefix(20)))
            #expect(!error.description.contains(Self.shortSecret.prefix(16)))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func directInitValidates() throws {
        let good = SigningKey(kid: "a", secret: Array(repeating: 1, count: 32))
        #expect(throws: KeyRingError.self) { try KeyRing(keys: []) }
        #expect(throws: KeyRingError.self) { try KeyRing(keys: [SigningKey(kid: "a", secret: Array(repeating: 1, count: 31))]) }
        #expect(throws: KeyRingError.self) { try KeyRing(keys: [good, good]) }
        #expect(throws: KeyRingError.self) { try KeyRing(keys: [SigningKey(kid: "a:b", secret: good.secret)]) }
        #expect(throws: KeyRingError.self) { try KeyRing(keys: [SigningKey(kid: "", secret: good.secret)]) }
        #expect(try KeyRing(keys: [good, SigningKey(kid: String(repeating: "z", count: 64), secret: good.secret)]).keys.count == 2)
    }

    @Test func descriptionsNeverShowSecrets() throws {
        let ring = try KeyRing(parsing: "k1:\(Self.b64K1)")
        for text in [ring.description, ring.keys[0].description, String(describing: ring.keys[0]), String(reflecting: ring.keys[0])] {
            #expect(text.contains("k1"))
            #expect(!text.contains("31"), "\(text)")
        }
    }

    @Test func generateMakesUsableDistinctKeys() throws {
        let a = KeyRing.generate(kid: "fresh")
        let b = KeyRing.generate(kid: "fresh2")
        #expect(a.kid == "fresh")
        #expect(a.base64Secret != b.base64Secret)
        #expect(Base64URL.decodeStandard(Substring(a.base64Secret))?.count == 32)
        let ring = try KeyRing(parsing: "\(a.kid):\(a.base64Secret),\(b.kid):\(b.base64Secret)")
        #expect(ring.keys.count == 2)
        let kid = KeyRing.randomKid()
        #expect(KeyRing.isValidKid(Substring(kid)) && kid.count == 9 && kid.hasPrefix("k"))
    }
}

@Suite struct Base64URLTests {
    // RFC 4648 §10 vectors, in the URL alphabet without padding.
    @Test(arguments: [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64URL.encode(plain.utf8) == encoded)
        #expect(Base64URL.decode(Substring(encoded)) == Array(plain.utf8))
        #expect(Base64URL.decodeStandard(Substring(encoded)) == Array(plain.utf8))
    }

    @Test func urlAlphabetAndStandardAlphabet() {
        // printf '\xfb\xff' | basenc --base64url  ->  -_8=
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.encodeStandard([0xFB, 0xFF]) == "+/8=")
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
        #expect(Base64URL.decodeStandard("+/8=") == [0xFB, 0xFF])
        #expect(Base64URL.decodeStandard("+/8") == [0xFB, 0xFF])
    }

    @Test(arguments: ["Zg=", "Zg==", "Z", "Zh", "Zm9", "+/8", "Zm 9v", "Zm9v\n", "é"])
    func strictDecodeRefuses(text: String) {
        #expect(Base64URL.decode(Substring(text)) == nil)
    }

    @Test(arguments: ["-_8", "Zg=", "Zg===", "Z===", "Zm9v=", "=", "Zh=="])
    func standardDecodeRefuses(text: String) {
        #expect(Base64URL.decodeStandard(Substring(text)) == nil)
    }

    @Test func randomRoundTrip() {
        var rng = SigningFuzzRNG(seed: 42)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            #expect(Base64URL.decode(Substring(Base64URL.encode(bytes))) == bytes)
            #expect(Base64URL.decodeStandard(Substring(Base64URL.encodeStandard(bytes))) == bytes)
        }
    }
}
