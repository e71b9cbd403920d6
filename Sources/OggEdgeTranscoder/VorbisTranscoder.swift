// The pull-based streaming transcoder: source PCM in, Ogg Vorbis pages out, a step at a time.

import CVorbis

/// Pull-based streaming encoder: decodes the source incrementally and yields encoded Ogg bytes.
///
/// Memory is bounded: the source is read `framesPerStep` frames at a time, libvorbis holds a few
/// blocks of PCM, libogg at most about one page of packets, and every page is handed to the
/// caller by the `next(minBytes:)` call that produced it (see ``bufferedBytes``). The whole
/// track is never in memory.
///
/// Encoding is libvorbis VBR at a quality calibrated for the track so that the average bitrate
/// lands near `targetKbps` (see ``calibration``); the identification header declares
/// ``nominalKbps`` (normally `targetKbps`, like `oggenc -b K`).
///
/// Thread safety: not thread-safe. One owner drives it from one thread at a time (calls to
/// `next` never overlap); it may move between threads/tasks between calls. That invariant is
/// what makes the `@unchecked Sendable` conformance sound: the libvorbis/libogg state it wraps
/// has no thread affinity, only no internal locking.
public final class VorbisTranscoder: @unchecked Sendable {
    /// What the source is (channels, rate, exact length, comments).
    public let probe: SourceProbe
    /// The bitrate the rendition is labelled with, kbit/s.
    public let targetKbps: Int
    /// How the VBR quality was chosen (trial passes and their measured bitrates).
    public let calibration: QualityCalibration
    /// The nominal bitrate written into the identification header, kbit/s: `targetKbps`,
    /// unless even the lowest quality stays more than 15 % above it (content too dense for the
    /// label; bits cannot be taken away); then what the bitrate calibration predicts. Content
    /// too simple for the label is padded up to it instead (see ``paddingBytes``).
    public let nominalKbps: Int
    /// Zero bytes appended to audio packets so far to keep the average near the label for content
    /// that cannot use it even at the highest quality (what libvorbis's hard-minimum bitrate
    /// management does; decoders ignore them). See `BitrateFloor`.
    public var paddingBytes: Int64 { floor.paddingBytes }
    /// Offset just past the first audio page in the output so far, once written.
    public private(set) var firstAudioPageEnd: Int64?
    /// Bytes returned by `next` so far.
    public private(set) var bytesProduced: Int64 = 0
    /// Samples per channel handed to the encoder so far.
    public private(set) var samplesEncoded: Int64 = 0
    /// True once the last page (end of stream) has been returned; `next` then returns `[]`.
    public private(set) var isFinished = false
    /// Encoded bytes held inside the transcoder between `next` calls (packets libogg has not
    /// yet put on a page). Bounded by about one Ogg page.
    public var bufferedBytes: Int { pending() }
    /// The largest ``bufferedBytes`` seen after any encoder step (a memory-bound check).
    public private(set) var peakBufferedBytes = 0
    /// The largest chunk `next` has returned, in bytes.
    public private(set) var largestChunk = 0

    private let source: any PCMSource
    private let encoder: VorbisEncoder
    private let stream = UnsafeMutablePointer<ogg_stream_state>.allocate(capacity: 1)
    private let page = UnsafeMutablePointer<ogg_page>.allocate(capacity: 1)
    private let options: TranscodeOptions
    private var headersWritten = false
    private var lastPageGranule: Int64 = 0
    private var failure: TranscodeError?
    private var floor: BitrateFloor
    /// Scratch space for padded packets (libogg copies a packet in, so it is reused).
    private var padded: [UInt8] = []

    /// Opens `sourcePath`, calibrates the quality with short trial encodes, and sets up the
    /// encoder for an Ogg stream with serial number `serial`. No output is produced yet.
    ///
    /// Throws `unreadable_source`, `unsupported_wav_format` / `corrupt_master` (WAV),
    /// `corrupt_rendition` (Ogg) or `encoder_setup_failed`.
    public convenience init(sourcePath: String, kind: TranscodeSourceKind, targetKbps: Int,
                            serial: Int32) throws(TranscodeError) {
        try self.init(sourcePath: sourcePath, kind: kind, targetKbps: targetKbps, serial: serial, options: TranscodeOptions())
    }

    /// Same as ``init(sourcePath:kind:targetKbps:serial:)`` with explicit tuning options.
    public init(sourcePath: String, kind: TranscodeSourceKind, targetKbps: Int, serial: Int32,
                options: TranscodeOptions) throws(TranscodeError) {
        guard targetKbps > 0 else { throw .encoderSetup("target bitrate \(targetKbps) kbps") }
        let source: any PCMSource = switch kind {
        case .wavMaster: try WAVSource(path: sourcePath)
        case .oggRendition: try OggVorbisSource(path: sourcePath)
        }
        self.source = source
        self.targetKbps = targetKbps
        self.options = options
        probe = SourceProbe(kind: kind, channels: source.channels, sampleRate: source.sampleRate,
                            totalSamples: source.totalFrames, comments: source.comments)
        calibration = try QualityCalibrator.calibrate(source: source, targetKbps: targetKbps, options: options)
        var comments = source.comments
        if options.addEncoderComment, !comments.contains(where: { $0.uppercased().hasPrefix("ENCODER=") }) {
            let q = (calibration.quality * 1000).rounded() / 100
            comments.append("ENCODER=OggEdge transcoder (libvorbis VBR q\(q), \(targetKbps) kbps target)")
        }
        nominalKbps = Self.honestNominal(targetKbps: targetKbps, calibration: calibration)
        encoder = try VorbisEncoder(channels: source.channels, sampleRate: source.sampleRate,
                                    quality: calibration.quality, nominalBitrate: nominalKbps * 1000,
                                    comments: comments)
        floor = BitrateFloor(targetBitsPerSecond: Double(targetKbps) * 1000, sampleRate: source.sampleRate,
                             totalFrames: source.totalFrames,
                             predictedBitsPerSecond: calibration.predictedKbps.map { $0 * 1000 },
                             pinnedAtTop: calibration.quality >= VorbisEncoder.qualityRange.upperBound - 0.001)
        ogg_stream_init(stream, serial)
    }

    /// `targetKbps`, or the predicted bitrate when the quality is pinned at the bottom of the
    /// range and the prediction is more than 15 % above the target.
    static func honestNominal(targetKbps: Int, calibration: QualityCalibration) -> Int {
        let range = VorbisEncoder.qualityRange
        guard let predicted = calibration.predictedKbps,
              calibration.quality <= range.lowerBound + 0.001,
              predicted / Double(targetKbps) - 1 > 0.15
        else { return targetKbps }
        return max(1, Int(predicted.rounded()))
    }

    deinit {
        ogg_stream_clear(stream)
        stream.deallocate()
        page.deallocate()
        source.close()
    }

    /// Encodes until at least `minBytes` of output are ready or the stream ends; returns the new
    /// bytes (`[]` only at the end, then `isFinished == true`).
    ///
    /// The first call returns only the three Vorbis header pages (one page per header packet,
    /// each flushed on its own) so they can go out before any audio is encoded. During the first
    /// `earlyPhaseSeconds` of audio a page is forced every `earlyPageSeconds`, so the first audio
    /// pages are small and come out within a step or two. `isFinished` becomes true with the call
    /// that returns the end-of-stream page. A failure (e.g. a corrupt Ogg source discovered
    /// mid-way) is thrown by this call and every later one.
    public func next(minBytes: Int) throws(TranscodeError) -> [UInt8] {
        if let failure { throw failure }
        guard !isFinished else { return [] }
        var out: [UInt8] = []
        if !headersWritten {
            encoder.withHeaderPackets { packet in
                floor.countHeader(bytes: packet.pointee.bytes)
                ogg_stream_packetin(stream, packet)
                flushPages(into: &out)
            }
            headersWritten = true
            return deliver(out)
        }
        do {
            while out.count < max(1, minBytes), !isFinished { try step(into: &out) }
        } catch {
            failure = error
            source.close()
            throw error
        }
        if isFinished { source.close() } // release the file as soon as it is no longer needed
        return deliver(out)
    }

    /// Reads one step of PCM (or ends the input), encodes what is complete, pages it out.
    private func step(into out: inout [UInt8]) throws(TranscodeError) {
        if !encoder.inputEnded {
            let got = try encoder.write(frames: options.framesPerStep) { (buffer) throws(TranscodeError) -> Int in
                try source.read(into: buffer, maxFrames: options.framesPerStep)
            }
            samplesEncoded += Int64(got)
        }
        let rate = Int64(source.sampleRate)
        let earlyEnd = Int64(options.earlyPhaseSeconds * Double(rate))
        let earlyPage = Int64(options.earlyPageSeconds * Double(rate))
        encoder.drainPackets { packet in
            packetIn(packet)
            let granule = Int64(packet.pointee.granulepos)
            if packet.pointee.e_o_s != 0 {
                flushPages(into: &out)
                isFinished = true
            } else if granule < earlyEnd, granule - lastPageGranule >= earlyPage {
                flushPages(into: &out)
            } else {
                while ogg_stream_pageout(stream, page) != 0 { append(page, to: &out) }
            }
        }
        if encoder.inputEnded, !isFinished { // libvorbis always ends with an e_o_s packet; be safe
            flushPages(into: &out)
            isFinished = true
        }
        peakBufferedBytes = max(peakBufferedBytes, pending())
    }

    /// Hands an audio packet to libogg, with the zero padding `BitrateFloor` asks for.
    private func packetIn(_ packet: UnsafeMutablePointer<ogg_packet>) {
        let size = packet.pointee.bytes
        let pad = floor.padding(packetBytes: size, granule: Int64(packet.pointee.granulepos))
        guard pad > 0 else {
            ogg_stream_packetin(stream, packet)
            return
        }
        if padded.count < size + pad { padded = [UInt8](repeating: 0, count: (size + pad) * 2) }
        padded.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            base.update(from: packet.pointee.packet, count: size)
            (base + size).update(repeating: 0, count: pad)
            var copy = packet.pointee
            copy.packet = base
            copy.bytes = size + pad
            ogg_stream_packetin(stream, &copy)
        }
    }

    private func flushPages(into out: inout [UInt8]) {
        while ogg_stream_flush(stream, page) != 0 { append(page, to: &out) }
    }

    private func append(_ page: UnsafeMutablePointer<ogg_page>, to out: inout [UInt8]) {
        let p = page.pointee
        out.append(contentsOf: UnsafeRawBufferPointer(start: p.header, count: p.header_len))
        out.append(contentsOf: UnsafeRawBufferPointer(start: p.body, count: p.body_len))
        let granule = Int64(ogg_page_granulepos(page))
        if headersWritten, granule >= 0 {
            lastPageGranule = granule
            if firstAudioPageEnd == nil { firstAudioPageEnd = bytesProduced + Int64(out.count) }
        }
    }

    private func deliver(_ out: [UInt8]) -> [UInt8] {
        bytesProduced += Int64(out.count)
        largestChunk = max(largestChunk, out.count)
        return out
    }

    /// Packet bytes accepted by libogg but not yet on a page.
    private func pending() -> Int {
        Int(stream.pointee.body_fill - stream.pointee.body_returned)
    }
}
