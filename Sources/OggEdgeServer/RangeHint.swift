/// The first byte a `Range` header asks for, when it says so without knowing the length
/// (`bytes=N-…`): a pull from a parent starts with the slice that holds it.
enum RangeHint {
    static func firstOffset(_ header: String?) -> Int64? {
        guard let header else { return nil }
        var text = header.utf8[...]
        while text.first == UInt8(ascii: " ") { text = text.dropFirst() }
        guard text.starts(with: "bytes=".utf8) else { return nil }
        text = text.dropFirst(6)
        while text.first == UInt8(ascii: " ") { text = text.dropFirst() }
        var value: Int64 = 0
        var digits = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            guard digits < 18 else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}
