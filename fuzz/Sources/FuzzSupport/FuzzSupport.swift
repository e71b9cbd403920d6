/// Helpers shared by the fuzz targets: invariant checks that crash (so libFuzzer records the
/// input) and a cursor that splits one input into several fields.
public enum Fuzz {
    /// Stops the process (`fatalError`, with `message`) when `condition` is false: libFuzzer
    /// reports a deadly signal and saves the input that broke the invariant.
    @inline(__always)
    public static func check(_ condition: Bool, _ message: @autoclosure () -> String,
                             file: StaticString = #fileID, line: UInt = #line) {
        guard !condition else { return }
        fatalError("invariant violated: \(message())", file: file, line: line)
    }

    /// The input as an array of bytes.
    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: data, count: size))
    }
}

/// Reads an input front to back: fixed-size integers, then byte fields split at a separator.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var offset = 0

    /// Wraps one fuzz input.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next byte, 0 when the input is used up.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next 8 bytes as a little-endian integer (missing bytes are 0).
    public mutating func int64() -> Int64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { value |= UInt64(byte()) << UInt64(shift) }
        return Int64(bitPattern: value)
    }

    /// Everything not read yet.
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return offset < bytes.count ? Array(bytes[offset...]) : []
    }

    /// The rest split at every `separator` byte (empty fields kept), at most `count` fields:
    /// the last one holds everything after the previous separators.
    public mutating func fields(_ count: Int, separator: UInt8 = 0x0A) -> [[UInt8]] {
        let parts = rest().split(separator: separator, maxSplits: count - 1, omittingEmptySubsequences: false)
        return parts.map(Array.init) + Array(repeating: [], count: max(0, count - parts.count))
    }
}
