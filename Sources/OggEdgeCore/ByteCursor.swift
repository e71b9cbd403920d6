/// Writes bytes straight into memory the caller lends and sized beforehand: no array growth and
/// no uniqueness or capacity check per write. The hot paths (a response head, a delivery-log
/// line) format into one span this way; the caller's bound keeps every write inside it.
public struct ByteCursor {
    private let base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far.
    public private(set) var count = 0

    /// A cursor at the start of `memory` (which must not be empty).
    public init(_ memory: UnsafeMutableRawBufferPointer) {
        base = memory.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    /// A cursor at the start of `memory` (which must not be empty).
    public init(_ memory: UnsafeMutableBufferPointer<UInt8>) {
        base = memory.baseAddress!
    }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Writes one byte.
    public mutating func byte(_ b: UInt8) {
        base[count] = b
        count += 1
    }

    /// Writes a literal's UTF-8 bytes.
    public mutating func raw(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        (base + count).update(from: s.utf8Start, count: n)
        count += n
    }

    /// Writes `bytes`.
    public mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        guard let from = bytes.baseAddress, bytes.count > 0 else { return }
        UnsafeMutableRawPointer(base + count).copyMemory(from: from, byteCount: bytes.count)
        count += bytes.count
    }

    /// Writes `bytes`.
    public mutating func raw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw($0) }
    }

    /// `value` in decimal (at most 20 bytes).
    public mutating func decimal(_ value: UInt64) {
        var width = 1
        var rest = value / 10
        while rest > 0 { width += 1; rest /= 10 }
        digits(value, width: width)
    }

    /// `value` in exactly `width` decimal digits (0 ≤ value < 10^width).
    public mutating func padded(_ value: Int64, width: Int) {
        digits(UInt64(truncatingIfNeeded: value), width: width)
    }

    /// The last `width` decimal digits of `value`, written from the end of their span.
    private mutating func digits(_ value: UInt64, width: Int) {
        var v = value
        var i = count + width
        while i > count {
            i -= 1
            base[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
        }
        count += width
    }
}
