#if canImport(Glibc)
import Glibc
#endif
import CPosix
import NIOCore

/// The one `pread` loop: exactly `count` bytes at `offset` into `destination`, retrying short
/// reads and `EINTR`. A file that ends early is ``SourceReadError/truncated``. With
/// `inMemoryOnly`, each read is `preadv2(RWF_NOWAIT)`: bytes not in the page cache fail with
/// `.io(errno: EAGAIN)` instead of waiting for the disk (for callers on an event loop).
package func preadFully(
    _ fd: Int32, into destination: UnsafeMutableRawBufferPointer, count: Int, offset: Int64, inMemoryOnly: Bool = false
) throws(SourceReadError) {
    var done = 0
    while done < count {
        let at = destination.baseAddress! + done
        let n = inMemoryOnly
            ? oggedge_pread_resident(fd, at, count - done, off_t(offset) + off_t(done))
            : pread(fd, at, count - done, off_t(offset) + off_t(done))
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw .io(errno: errno) }
        if n == 0 { throw .truncated }
        done += n
    }
}

/// `count` bytes at `offset` as an array (never zero-filled first: every byte is read, or it throws).
package func preadFully(_ fd: Int32, count: Int, offset: Int64, inMemoryOnly: Bool = false) throws(SourceReadError) -> [UInt8] {
    guard count > 0 else { return [] }
    var failure: SourceReadError?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        do throws(SourceReadError) {
            try preadFully(fd, into: UnsafeMutableRawBufferPointer(buffer), count: count, offset: offset, inMemoryOnly: inMemoryOnly)
            initialized = count
        } catch {
            failure = error
            initialized = 0
        }
    }
    if let failure { throw failure }
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
