import CHiredis
import CLMDB
import CVorbis
import Testing

/// One call into each system library, so a missing `-dev` package fails at once.
struct SystemLibraryTests {
    @Test func lmdbReportsItsVersion() {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        _ = mdb_version(&major, &minor, &patch)
        #expect(major == 0 && minor >= 9)
    }

    @Test func vorbisReportsItsVersion() {
        let version = String(cString: vorbis_version_string())
        #expect(version.contains("libVorbis"))
    }

    @Test func vorbisEncoderAcceptsAnABRSetup() {
        let info = UnsafeMutablePointer<vorbis_info>.allocate(capacity: 1)
        defer { info.deallocate() }
        vorbis_info_init(info)
        defer { vorbis_info_clear(info) }
        let rc = vorbis_encode_init(info, 2, 44_100, -1, 160_000, -1)
        #expect(rc == 0)
    }

    @Test func hiredisFormatsACommandWithoutAServer() {
        // redisReaderCreate/Free exercises the library without any socket.
        let reader = redisReaderCreate()
        #expect(reader != nil)
        redisReaderFree(reader)
    }
}
