import OggEdgeCore

/// What a player needs to know about an Ogg Vorbis file, read from its first and last bytes.
package struct OggFacts: Sendable, Equatable {
    /// Whether the file starts with a valid Vorbis identification page.
    package var isVorbis: Bool
    /// Duration in milliseconds from the last granule position; `nil` when unknown or absurd.
    package var durationMillis: Int64?
    /// Offset just past the first audio page.
    package var playbackOffset: Int64?

    /// Facts given directly (tests).
    package init(isVorbis: Bool, durationMillis: Int64?, playbackOffset: Int64?) {
        self.isVorbis = isVorbis
        self.durationMillis = durationMillis
        self.playbackOffset = playbackOffset
    }

    /// Longest duration reported: a day. Anything longer is a header that lies (a sample rate
    /// of 1 with a granule of 2^60 would otherwise overflow every integer conversion).
    package static let maximumDurationMillis: Int64 = 86_400_000

    /// Parses the head (first page onwards) and the tail (last pages) of a file.
    package init(head: [UInt8], tail: [UInt8]) {
        let info = head.withUnsafeBytes { VorbisStreamInfo.parseIdentification(firstPage: $0) }
        isVorbis = info != nil
        let granule = tail.withUnsafeBytes { OggScan.lastGranule(tail: $0) }
        durationMillis = nil
        if let info, let granule {
            durationMillis = Self.millis(granule: granule, sampleRate: info.sampleRate)
        }
        playbackOffset = head.withUnsafeBytes { OggScan.endOfFirstAudioPage($0) }.map(Int64.init)
    }

    /// `granule / sampleRate` in milliseconds, without overflow; `nil` when not positive or
    /// longer than ``maximumDurationMillis``.
    package static func millis(granule: Int64, sampleRate: Int) -> Int64? {
        guard granule > 0, sampleRate > 0 else { return nil }
        let seconds = granule / Int64(sampleRate)
        guard seconds <= maximumDurationMillis / 1000 else { return nil }
        let remainder = granule % Int64(sampleRate)
        return seconds * 1000 + (remainder * 1000 + Int64(sampleRate) / 2) / Int64(sampleRate)
    }
}
