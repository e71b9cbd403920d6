#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// The one `pread` loop: exactly `count` bytes at `offset` into `destination`, retrying short
/// reads and `EINTR`. A file that ends early is ``SourceReadError/truncated``.
package func preadFully(_ fd: Int32, into destination: UnsafeMutableRawBufferPointer, count: Int, offset: Int64) throws(SourceReadError) {
    var done = 0
    while done < count {
        let n = pread(fd, destination.baseAddress! + done, count - done, off_t(offset) + off_t(done))
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw .io(errno: errno) }
        if n == 0 { throw .truncated }
        done += n
    }
}

/// `count` bytes at `offset` as an array.
package func preadFully(_ fd: Int32, count: Int, offset: Int64) throws -> [UInt8] {
    guard count > 0 else { return [] }
    var bytes = [UInt8](repeating: 0, count: count)
    try bytes.withUnsafeMutableBytes { ptr in
        try preadFully(fd, into: ptr, count: count, offset: offset)
    }
    return bytes
}

extension ByteBuffer {
    /// Appends `count` bytes read from `fd` at `offset`, without an intermediate copy.
    package mutating func writePread(_ fd: Int32, count: Int, offset: Int64) throws {
        try writeWithUnsafeMutableBytes(minimumWritableBytes: count) { ptr in
            try preadFully(fd, into: ptr, count: count, offset: offset)
            return count
        }
    }
}
