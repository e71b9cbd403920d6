/// One HMAC signing key: a public key id (`kid`, sent in URLs) and its secret bytes.
///
/// `description` never shows the secret, so a key can be logged or printed safely.
public struct SigningKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key id, `[A-Za-z0-9_.-]{1,64}`, sent as the `kid` URL parameter.
    public let kid: String
    /// The raw secret, at least 32 bytes when it comes through a ``KeyRing``.
    public let secret: [UInt8]

    /// Makes a key from its parts without validating them (``KeyRing/init(keys:)`` validates).
    public init(kid: String, secret: [UInt8]) {
        self.kid = kid
        self.secret = secret
    }

    /// `SigningKey(kid: "k1", secret: <32 bytes redacted>)`.
    public var description: String { "SigningKey(kid: \"\(kid)\", secret: <\(secret.count) bytes redacted>)" }
    /// Same as ``description``: the secret is never shown.
    public var debugDescription: String { description }
}

/// Why a key list was refused; `description` is a one-line message naming the bad entry
/// (by position and kid) and never containing secret material.
public struct KeyRingError: Error, CustomStringConvertible, Equatable {
    /// The human-readable, single-line reason.
    public let description: String

    /// Makes an error with the given message.
    public init(_ description: String) { self.description = description }
}

/// The set of keys this node accepts (`OGGEDGE_SIGNING_KEYS`). Every key verifies; the first
/// one signs, so rotation is: add the new key second, deploy, move it first, deploy, drop the old.
public struct KeyRing: Sendable, CustomStringConvertible {
    /// The keys in configuration order; `keys[0]` signs.
    public let keys: [SigningKey]

    /// Smallest accepted secret, in bytes (HMAC-SHA256 block strength).
    public static let minimumSecretBytes = 32
    /// Longest accepted key id.
    public static let maximumKidLength = 64

    /// Validates and keeps `keys`: at least one key, kids unique and matching
    /// `[A-Za-z0-9_.-]{1,64}`, every secret at least 32 bytes.
    public init(keys: [SigningKey]) throws(KeyRingError) {
        if keys.isEmpty {
            throw KeyRingError("no signing keys configured (expected kid:BASE64SECRET[,kid:BASE64SECRET...])")
        }
        var seen = Set<String>()
        for (index, key) in keys.enumerated() {
            let entry = "key \(index + 1)"
            guard KeyRing.isValidKid(Substring(key.kid)) else {
                throw KeyRingError("\(entry): invalid key id of \(key.kid.utf8.count) bytes (expected 1-64 characters of A-Z a-z 0-9 _ . -)")
            }
            guard key.secret.count >= KeyRing.minimumSecretBytes else {
                throw KeyRingError("\(entry) (kid \"\(key.kid)\"): secret is \(key.secret.count) bytes, at least \(KeyRing.minimumSecretBytes) are required")
            }
            guard seen.insert(key.kid).inserted else {
                throw KeyRingError("\(entry): duplicate key id \"\(key.kid)\"")
            }
        }
        self.keys = keys
    }

    /// Parses `"kid1:BASE64,kid2:BASE64"`: entries separated by `,`, whitespace around entries
    /// (and around the kid and the secret) ignored, secrets in standard base64 with optional
    /// padding. Errors name the entry by position and kid; secrets are never echoed.
    public init(parsing value: String) throws(KeyRingError) {
        let text = Substring(value)
        if KeyRing.trimmed(text).isEmpty {
            throw KeyRingError("no signing keys configured (expected kid:BASE64SECRET[,kid:BASE64SECRET...])")
        }
        var keys: [SigningKey] = []
        for (index, raw) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let entry = "key \(index + 1)"
            let item = KeyRing.trimmed(raw)
            if item.isEmpty {
                throw KeyRingError("\(entry) is empty (stray comma?)")
            }
            guard let colon = item.firstIndex(of: ":") else {
                // The entry may well be a bare secret: do not echo it.
                throw KeyRingError("\(entry) is not of the form kid:BASE64SECRET (no ':')")
            }
            let kid = KeyRing.trimmed(item[..<colon])
            let secretText = KeyRing.trimmed(item[item.index(after: colon)...])
            guard KeyRing.isValidKid(kid) else {
                throw KeyRingError("\(entry): invalid key id of \(kid.utf8.count) bytes (expected 1-64 characters of A-Z a-z 0-9 _ . -)")
            }
            guard !secretText.isEmpty else {
                throw KeyRingError("\(entry) (kid \"\(kid)\"): secret is empty")
            }
            guard let secret = Base64URL.decodeStandard(secretText) else {
                throw KeyRingError("\(entry) (kid \"\(kid)\"): secret is not valid standard base64 (A-Z a-z 0-9 + /, optional = padding)")
            }
            keys.append(SigningKey(kid: String(kid), secret: secret))
        }
        try self.init(keys: keys)
    }

    /// The key that signs new URLs: the first one.
    public var signingKey: SigningKey { keys[0] }

    /// The key with this exact kid (byte-wise comparison), or nil.
    public func key(for kid: Substring) -> SigningKey? {
        keys.first { $0.kid.utf8.elementsEqual(kid.utf8) }
    }

    /// A fresh key: 32 bytes from `SystemRandomNumberGenerator`, as standard base64.
    /// `"\(kid):\(base64Secret)"` is a valid `OGGEDGE_SIGNING_KEYS` entry.
    public static func generate(kid: String) -> (kid: String, base64Secret: String) {
        var rng = SystemRandomNumberGenerator()
        let secret = (0..<minimumSecretBytes).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        return (kid, Base64URL.encodeStandard(secret))
    }

    /// A random key id such as `k3f9a0c1d` (`k` and 8 hex digits) for `oggedge keygen`.
    public static func randomKid() -> String {
        var rng = SystemRandomNumberGenerator()
        let n = UInt32.random(in: .min ... .max, using: &rng)
        let hex = String(n, radix: 16)
        return "k" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Whether `kid` matches `[A-Za-z0-9_.-]{1,64}`.
    public static func isValidKid(_ kid: Substring) -> Bool {
        guard !kid.utf8.isEmpty, kid.utf8.count <= maximumKidLength else { return false }
        return kid.utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    /// `KeyRing(kids: ["k2", "k1"], signing: "k2")`; no secrets.
    public var description: String {
        "KeyRing(kids: [\(keys.map { "\"\($0.kid)\"" }.joined(separator: ", "))], signing: \"\(signingKey.kid)\")"
    }

    // MARK: - Helpers

    private static func trimmed(_ s: Substring) -> Substring {
        guard let first = s.firstIndex(where: { !$0.isWhitespace }), let last = s.lastIndex(where: { !$0.isWhitespace }) else {
            return s[s.endIndex...]
        }
        return s[first...last]
    }
}
