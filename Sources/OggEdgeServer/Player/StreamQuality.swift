/// The contract's quality rule for `GET /stream/{trackId}`.
///
/// The cap is 320 kbit/s for premium users and 160 otherwise; `X-Connection-Type` lowers it:
/// `wifi`, `4g`, absent or unknown → the cap, `3g` → min(160, cap), `2g` and `slow-2g` → 96.
enum StreamQuality {
    /// The entitlement: the highest bitrate the user may fetch.
    static func cap(isPremium: Bool) -> Int { isPremium ? 320 : 160 }

    /// The bitrate to hand out for `connectionType` (the header's value, any case, trimmed).
    static func quality(cap: Int, connectionType: String?) -> Int {
        switch (connectionType ?? "").trimmingASCIIWhitespace().lowercased() {
        case "3g": min(160, cap)
        case "2g", "slow-2g": min(96, cap)
        default: cap
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
