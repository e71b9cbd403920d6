/// Client-chosen ids in player events (`event_id`, and later `play_id`): 1–128 bytes of
/// `[A-Za-z0-9._:-]` (contract "Other endpoints"). Counted in UTF-8 bytes, checked byte by byte,
/// so no Unicode trick (combining marks, look-alikes, controls) gets through.
public enum EventIdentifier {
    /// The longest id, in bytes.
    public static let maximumLength = 128

    /// Whether `id` is 1–128 bytes of `[A-Za-z0-9._:-]`.
    public static func isValid(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        return bytes.allSatisfy { c in
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: ":") || c == UInt8(ascii: "-")
        }
    }
}
