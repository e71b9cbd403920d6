// Decoding an existing Ogg Vorbis rendition with libvorbisfile.

import CVorbis
import OggEdgeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes an Ogg Vorbis file (one logical stream, no chaining) to planar float PCM.
///
/// Refused with `corrupt_rendition` before anything is decoded: whatever ``OggSourceCheck``
/// refuses (bad or missing pages, chained streams, absurd granules, truncation), anything
/// libvorbisfile cannot open, and a header claiming more than 8 channels or a sample rate outside
/// 8–192 kHz (a sample rate of 1 would make a 4 s source a stream of days). While reading, a
/// decoded length that differs from the last granule position still fails the encode.
final class OggVorbisSource: PCMSource {
    /// Sample rates a source may declare.
    static let sampleRates = 8000...192_000

    /// Heap-allocated: libvorbisfile keeps pointers into it.
    private var file: UnsafeMutablePointer<OggVorbis_File>?
    private let path: String
    let channels: Int
    let sampleRate: Int
    let totalFrames: Int64?
    let comments: [String]
    var hasBlockGrid: Bool { true }
    /// Frames returned since the start, or nil after a seek away from it.
    private var decoded: Int64? = 0

    init(path: String) throws(TranscodeError) {
        self.path = path
        try OggSourceCheck.check(path: path)
        let vf = UnsafeMutablePointer<OggVorbis_File>.allocate(capacity: 1)
        let status = ov_fopen(path, vf)
        guard status == 0 else {
            vf.deallocate() // ov_fopen already cleared the state and closed the file
            if status == -1 { throw .unreadable(path, "open failed") }
            throw .corruptOgg("libvorbisfile cannot open it (\(Self.describe(status)))")
        }
        guard ov_streams(vf) == 1, let info = ov_info(vf, -1) else {
            ov_clear(vf)
            vf.deallocate()
            throw .corruptOgg("chained or empty Ogg stream")
        }
        let total = ov_pcm_total(vf, -1)
        channels = Int(info.pointee.channels)
        sampleRate = Int(info.pointee.rate)
        totalFrames = total >= 0 ? Int64(total) : nil
        var found: [String] = []
        if let vc = ov_comment(vf, -1), let list = vc.pointee.user_comments, let lengths = vc.pointee.comment_lengths {
            for i in 0..<Int(vc.pointee.comments) {
                guard let text = list[i] else { continue }
                let bytes = UnsafeRawBufferPointer(start: text, count: Int(lengths[i]))
                found.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        comments = found
        file = vf
        guard (1...8).contains(channels), Self.sampleRates.contains(sampleRate) else {
            close()
            throw .corruptOgg("\(channels) channels at \(sampleRate) Hz")
        }
    }

    deinit { close() }

    func close() {
        if let file {
            ov_clear(file)
            file.deallocate()
        }
        file = nil
    }

    func read(into dest: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>, maxFrames: Int) throws(TranscodeError) -> Int {
        guard let file else { throw .unreadable(path, "file closed") }
        var pcm: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?
        var link: Int32 = 0
        let got = Int(ov_read_float(file, &pcm, Int32(clamping: maxFrames), &link))
        if got < 0 { throw .corruptOgg("decoding failed (\(Self.describe(Int32(got))))") }
        if got == 0 {
            if let decoded, let totalFrames, decoded != totalFrames {
                throw .corruptOgg("stream ended after \(decoded) of \(totalFrames) samples")
            }
            return 0
        }
        guard let pcm else { throw .corruptOgg("decoder returned no buffers") }
        for c in 0..<channels {
            guard let from = pcm[c], let to = dest[c] else { continue }
            to.update(from: from, count: got)
        }
        if let decoded { self.decoded = decoded + Int64(got) }
        return got
    }

    func seek(toFrame frame: Int64) throws(TranscodeError) {
        guard let file else { throw .unreadable(path, "file closed") }
        let status = ov_pcm_seek(file, ogg_int64_t(frame))
        guard status == 0 else { throw .corruptOgg("seek failed (\(Self.describe(status)))") }
        decoded = nil
    }

    func seekInPhase(near frame: Int64, hop: Int, phase: Int) throws(TranscodeError) -> Int64 {
        try seek(toFrame: frame)
        guard let file, let info = ov_info(file, -1), Int(vorbis_info_blocksize(info, 1)) / 2 == hop, hop > 0 else {
            return frame
        }
        // One ov_read_float call returns at most one packet's PCM. A packet of exactly `hop`
        // frames joins two long blocks, so the position after it is a long-block centre.
        var pcm: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?
        var link: Int32 = 0
        var atCentre = false
        for _ in 0..<256 {
            let n = Int(ov_read_float(file, &pcm, 1 << 16, &link))
            guard n > 0 else { break }
            if n == hop {
                atCentre = true
                break
            }
        }
        guard atCentre else {
            try seek(toFrame: frame)
            return frame
        }
        // Skip to the first frame s >= centre with s + phase = centre (mod hop).
        var skip = ((hop - phase % hop) % hop)
        while skip > 0 {
            let n = Int(ov_read_float(file, &pcm, Int32(skip), &link))
            guard n > 0 else { break }
            skip -= n
        }
        return Int64(ov_pcm_tell(file))
    }

    func rewind() throws(TranscodeError) {
        guard let file else { throw .unreadable(path, "file closed") }
        let status = ov_pcm_seek(file, 0)
        guard status == 0 else { throw .corruptOgg("seek to start failed (\(Self.describe(status)))") }
        decoded = 0
    }

    static func describe(_ status: Int32) -> String {
        switch status {
        case OV_EREAD: "read error"
        case OV_ENOTVORBIS: "not Vorbis data"
        case OV_EVERSION: "Vorbis version mismatch"
        case OV_EBADHEADER: "invalid Vorbis header"
        case OV_EFAULT: "internal logic fault"
        case OV_HOLE: "hole in the data"
        case OV_EBADLINK: "invalid stream section"
        case OV_EINVAL: "invalid argument"
        case OV_ENOSEEK: "not seekable"
        case OV_EBADPACKET: "bad packet"
        default: "error \(status)"
        }
    }
}
