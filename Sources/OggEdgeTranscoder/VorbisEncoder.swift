// A thin owner of libvorbisenc's analysis state. All C structs live on the heap (libvorbis keeps
// pointers between them, so they must never move).

import CVorbis
import Synchronization

/// One libvorbis VBR encoder: PCM in, Vorbis packets out. Not thread-safe (one owner).
final class VorbisEncoder {
    let channels: Int
    let sampleRate: Int
    let quality: Float
    private let info = UnsafeMutablePointer<vorbis_info>.allocate(capacity: 1)
    private let comment = UnsafeMutablePointer<vorbis_comment>.allocate(capacity: 1)
    private let dsp = UnsafeMutablePointer<vorbis_dsp_state>.allocate(capacity: 1)
    private let block = UnsafeMutablePointer<vorbis_block>.allocate(capacity: 1)
    private let packet = UnsafeMutablePointer<ogg_packet>.allocate(capacity: 1)
    private var analysisReady = false
    /// Block sizes and the long-block phase of this encoder.
    private(set) var grid = BlockGrid(short: 256, long: 2048)
    private(set) var inputEnded = false
    /// Frames handed to the encoder so far.
    private(set) var framesWritten: Int64 = 0
    private var cachedHeaderBytes: Int?

    /// Sets up VBR at `quality` (-0.1...1.0, libvorbis scale). `nominalBitrate` (bits/s), when
    /// given, replaces the approximate figure libvorbis writes into the identification header.
    init(channels: Int, sampleRate: Int, quality: Float, nominalBitrate: Int? = nil,
         comments: [String] = []) throws(TranscodeError) {
        self.channels = channels
        self.sampleRate = sampleRate
        self.quality = quality
        vorbis_info_init(info)
        vorbis_comment_init(comment)
        let status = vorbis_encode_init_vbr(info, channels, sampleRate, quality)
        guard status == 0 else {
            vorbis_comment_clear(comment)
            vorbis_info_clear(info)
            deallocateAll()
            throw .encoderSetup("\(channels) channels, \(sampleRate) Hz, quality \(quality): error \(status)")
        }
        grid = BlockGrid(info)
        if let nominalBitrate { info.pointee.bitrate_nominal = nominalBitrate }
        for entry in comments where !entry.isEmpty { vorbis_comment_add(comment, entry) }
        vorbis_analysis_init(dsp, info)
        vorbis_block_init(dsp, block)
        analysisReady = true
    }

    deinit {
        if analysisReady {
            vorbis_block_clear(block)
            vorbis_dsp_clear(dsp)
            vorbis_comment_clear(comment)
            vorbis_info_clear(info)
            deallocateAll()
        }
    }

    private func deallocateAll() {
        info.deallocate()
        comment.deallocate()
        dsp.deallocate()
        block.deallocate()
        packet.deallocate()
    }

    /// The three header packets (identification, comment, setup), handed to `body` in order.
    /// The packet memory is only valid during the call.
    func withHeaderPackets(_ body: (UnsafeMutablePointer<ogg_packet>) -> Void) {
        let headers = UnsafeMutablePointer<ogg_packet>.allocate(capacity: 3)
        defer { headers.deallocate() }
        vorbis_analysis_headerout(dsp, comment, headers, headers + 1, headers + 2)
        for i in 0..<3 { body(headers + i) }
    }

    /// Total size of the three header packets in bytes.
    func headerBytes() -> Int {
        if let cachedHeaderBytes { return cachedHeaderBytes }
        var total = 0
        withHeaderPackets { total += $0.pointee.bytes }
        cachedHeaderBytes = total
        return total
    }

    /// Hands up to `frames` frames to the encoder: `fill` writes them into the planar buffer
    /// (one `Float` array per channel) and returns how many it wrote; 0 ends the input.
    /// Returns that count.
    @discardableResult
    func write<E: Error>(frames: Int, fill: (UnsafeMutablePointer<UnsafeMutablePointer<Float>?>) throws(E) -> Int) throws(E) -> Int {
        guard !inputEnded else { return 0 }
        guard let buffer = vorbis_analysis_buffer(dsp, Int32(frames)) else { return 0 }
        let got = try fill(buffer)
        vorbis_analysis_wrote(dsp, Int32(got))
        framesWritten += Int64(got)
        if got == 0 { inputEnded = true }
        return got
    }

    /// Ends the input (idempotent).
    func finish() {
        guard !inputEnded else { return }
        vorbis_analysis_wrote(dsp, 0)
        inputEnded = true
    }

    /// Encodes every block that is complete and hands each resulting packet to `body`
    /// (valid only during the call). The last packet of the stream has `e_o_s` set.
    func drainPackets<E: Error>(_ body: (UnsafeMutablePointer<ogg_packet>) throws(E) -> Void) throws(E) {
        while vorbis_analysis_blockout(dsp, block) == 1 {
            vorbis_analysis(block, nil)
            vorbis_bitrate_addblock(block)
            while vorbis_bitrate_flushpacket(dsp, packet) == 1 { try body(packet) }
        }
    }

    /// Like `drainPackets`, handing over only each packet's granule position and size.
    func drainPacketSizes(_ body: (_ granule: Int64, _ bytes: Int) -> Void) {
        drainPackets { packet in body(Int64(packet.pointee.granulepos), packet.pointee.bytes) }
    }

    /// The bitrate libvorbis associates with `quality` for this layout (bits/s), nil if the
    /// layout/quality is not supported.
    ///
    /// libvorbis interpolates it between its template's points, so a table sampled every 0.01 of
    /// quality and interpolated linearly gives nearly the same figure (within 0.2 %, tested)
    /// without setting up an encoder per question (calibration asks ~60 of them).
    static func nominalBitrate(channels: Int, sampleRate: Int, quality: Float) -> Int? {
        guard qualityRange.contains(quality) else { return nil }
        let table = nominalTable(channels: channels, sampleRate: sampleRate)
        guard table.count == nominalSteps + 1 else { return exactNominalBitrate(channels: channels, sampleRate: sampleRate, quality: quality) }
        let position = Double(quality - qualityRange.lowerBound) * 100
        let i = min(nominalSteps - 1, max(0, Int(position)))
        let fraction = position - Double(i)
        return Int((Double(table[i]) * (1 - fraction) + Double(table[i + 1]) * fraction).rounded())
    }

    /// Points in a nominal-bitrate table: -0.1...1.0 every 0.01.
    private static let nominalSteps = 110
    private static let nominalTables = Mutex<[Int: [Int]]>([:])

    /// The table for a layout, built on first use (empty if some point is unsupported).
    private static func nominalTable(channels: Int, sampleRate: Int) -> [Int] {
        let key = channels << 24 | sampleRate
        if let table = nominalTables.withLock({ $0[key] }) { return table }
        var table: [Int] = []
        for step in 0...nominalSteps {
            let q = qualityRange.lowerBound + Float(step) / 100
            guard let bitrate = exactNominalBitrate(channels: channels, sampleRate: sampleRate, quality: min(q, qualityRange.upperBound)) else {
                table = []
                break
            }
            table.append(bitrate)
        }
        let built = table
        nominalTables.withLock { tables in if tables.count < 64 { tables[key] = built } }
        return table
    }

    /// What libvorbis writes for `quality`, asking it directly (sets up the codec tables).
    static func exactNominalBitrate(channels: Int, sampleRate: Int, quality: Float) -> Int? {
        let vi = UnsafeMutablePointer<vorbis_info>.allocate(capacity: 1)
        defer { vi.deallocate() }
        vorbis_info_init(vi)
        defer { vorbis_info_clear(vi) }
        guard vorbis_encode_init_vbr(vi, channels, sampleRate, quality) == 0 else { return nil }
        return vi.pointee.bitrate_nominal
    }

    /// The block grid an encoder with these settings uses.
    static func blockGrid(channels: Int, sampleRate: Int, quality: Float) -> BlockGrid {
        let vi = UnsafeMutablePointer<vorbis_info>.allocate(capacity: 1)
        defer { vi.deallocate() }
        vorbis_info_init(vi)
        defer { vorbis_info_clear(vi) }
        guard vorbis_encode_init_vbr(vi, channels, sampleRate, quality) == 0 else { return BlockGrid(short: 256, long: 2048) }
        return BlockGrid(vi)
    }

    /// Lowest and highest quality libvorbis accepts.
    static let qualityRange: ClosedRange<Float> = -0.1...1.0

    /// The quality whose nominal bitrate is `bitrate` (bits/s), by bisection over the
    /// monotonic libvorbis table; clamped to `qualityRange`.
    static func quality(forNominal bitrate: Double, channels: Int, sampleRate: Int) -> Float {
        var low = qualityRange.lowerBound, high = qualityRange.upperBound
        let nominal = { (q: Float) in Double(nominalBitrate(channels: channels, sampleRate: sampleRate, quality: q) ?? 0) }
        if nominal(high) <= bitrate { return high }
        if nominal(low) >= bitrate { return low }
        for _ in 0..<18 {
            let mid = (low + high) / 2
            if nominal(mid) < bitrate { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }
}

/// Where a fresh libvorbis encoder puts its block boundaries.
///
/// An encoder starts with a short block. When its input starts smoothly (faded in, no
/// transient), the next block is long: the returned PCM ends at `long/4 + short/4` (the
/// short-to-long transition) and from there on, while only long blocks follow, every `long/2`
/// frames. So the long-block centres of such an encoder sit at `phase + k * hop` frames from its
/// first input sample. (A transient at the start inserts short blocks and shifts this by
/// multiples of `short/2`, which is why trial excerpts are faded in.)
struct BlockGrid: Equatable {
    let short: Int
    let long: Int
    var hop: Int { long / 2 }
    var phase: Int { long / 4 + short / 4 }

    init(short: Int, long: Int) {
        self.short = short
        self.long = long
    }

    init(_ info: UnsafeMutablePointer<vorbis_info>) {
        let short = Int(vorbis_info_blocksize(info, 0)), long = Int(vorbis_info_blocksize(info, 1))
        self.init(short: short > 0 ? short : 256, long: long > 0 ? long : 2048)
    }
}
