import OggEdgeCore

/// Signed targets this event loop has already verified, so a player's next range request with
/// the same URL costs a table lookup instead of a query parse and an HMAC.
///
/// Only a target whose signature verified is remembered, keyed by its exact bytes: a forged or
/// altered target is never in the table and goes through ``URLVerifier`` in full. What can change
/// between two requests with the same target is checked on every hit: the clock against `exp`
/// and `st`, and the client address when the token is bound to one (a hit needs the very address
/// the full check accepted). Scope and bitrate depend only on the target, which is the key.
/// Bounded: when full, the table starts over.
struct TokenMemo {
    struct Entry {
        let grant: Grant
        /// The client address the full check accepted, for a token with `ip`.
        let boundTo: String?
    }

    private var entries: [String: Entry] = [:]
    let capacity: Int
    let leewaySeconds: Int64

    init(capacity: Int = 4096, leewaySeconds: Int64) {
        self.capacity = capacity
        self.leewaySeconds = max(0, leewaySeconds)
        entries.reserveCapacity(capacity)
    }

    /// The grant for `target` if it was verified before and is still valid now for `clientIP`;
    /// nil when the full check must run (unknown target, or something time- or peer-dependent
    /// no longer holds: the full check then gives the precise refusal).
    func grant(for target: String, clientIP: String, now: Int64) -> Grant? {
        guard let entry = entries[target] else { return nil }
        let grant = entry.grant
        let (latest, overflow) = grant.expires.addingReportingOverflow(leewaySeconds)
        if !overflow && now > latest { return nil }
        if let notBefore = grant.notBefore, now.addingReportingOverflow(leewaySeconds).partialValue < notBefore { return nil }
        if grant.ip != nil && entry.boundTo != clientIP { return nil }
        return grant
    }

    /// Remembers a target the full check accepted for `clientIP`.
    mutating func remember(_ target: String, grant: Grant, clientIP: String) {
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[target] = Entry(grant: grant, boundTo: grant.ip == nil ? nil : clientIP)
    }
}
