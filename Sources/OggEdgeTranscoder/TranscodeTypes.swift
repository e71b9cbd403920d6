// Public value types of the transcoder: errors, source kinds, the probe of a source and the
// tuning knobs of the bitrate calibration.

/// Why a transcode could not start or could not finish.
///
/// `reason` is a stable machine-readable token (for logs, metrics and JSON error bodies);
/// `description` is a human-readable sentence with the details.
public struct TranscodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Machine reason, one of the static tokens below.
    public let reason: String
    /// Human-readable explanation (file, offending field, libvorbis error code, ...).
    public let description: String

    /// Creates an error from a reason token and a human-readable description.
    public init(reason: String, description: String) {
        self.reason = reason
        self.description = description
    }

    /// The master is not a WAV this transcoder accepts: not RIFF/WAVE at all, or a format other
    /// than 16-bit PCM (plain or WAVE_FORMAT_EXTENSIBLE with the PCM subtype), 1 or 2 channels,
    /// 44100 or 48000 Hz.
    public static let unsupportedWAVFormat = "unsupported_wav_format"
    /// The master is a RIFF/WAVE file but broken: truncated header, missing `fmt `/`data`
    /// chunk, data chunk shorter than declared, no audio.
    public static let corruptMaster = "corrupt_master"
    /// The Ogg source is not a readable Ogg Vorbis stream, is truncated (no end-of-stream page at
    /// the end of the file) or has a hole or bad page somewhere in it.
    public static let corruptRendition = "corrupt_rendition"
    /// The source file cannot be opened or read (missing, permissions, I/O error).
    public static let unreadableSource = "unreadable_source"
    /// libvorbisenc refused the configuration (channel count / rate / quality).
    public static let encoderSetupFailed = "encoder_setup_failed"

    static func unsupportedWAV(_ detail: String) -> TranscodeError {
        TranscodeError(reason: unsupportedWAVFormat, description: "unsupported WAV format: \(detail)")
    }

    static func corruptWAV(_ detail: String) -> TranscodeError {
        TranscodeError(reason: corruptMaster, description: "corrupt WAV master: \(detail)")
    }

    static func corruptOgg(_ detail: String) -> TranscodeError {
        TranscodeError(reason: corruptRendition, description: "corrupt Ogg Vorbis rendition: \(detail)")
    }

    static func unreadable(_ path: String, _ detail: String) -> TranscodeError {
        TranscodeError(reason: unreadableSource, description: "cannot read \(path): \(detail)")
    }

    static func encoderSetup(_ detail: String) -> TranscodeError {
        TranscodeError(reason: encoderSetupFailed, description: "libvorbisenc setup failed: \(detail)")
    }
}

/// What kind of file a transcode reads from.
public enum TranscodeSourceKind: Sendable, Equatable {
    /// A lossless PCM WAV master (`masters/{trackId}.wav`).
    case wavMaster
    /// An existing Ogg Vorbis rendition (`tracks/{trackId}_{kbps}kbps.ogg`), decoded with libvorbisfile.
    case oggRendition
}

/// What the transcoder learned about its source when it opened it.
public struct SourceProbe: Sendable, Equatable {
    /// The kind of source.
    public let kind: TranscodeSourceKind
    /// Number of audio channels.
    public let channels: Int
    /// Sample rate in Hz.
    public let sampleRate: Int
    /// Length in samples per channel, exact when known (always for a WAV master; for an Ogg
    /// source the stream's last granule position as libvorbisfile reports it). The output's
    /// last granule equals this value.
    public let totalSamples: Int64?
    /// Vorbis comments (`"TITLE=..."`, `"ARTIST=..."`, ...) found in the source: the Ogg source's
    /// comment header, or a WAV master's LIST/INFO chunk mapped to Vorbis names. They are carried
    /// over into the output's comment header.
    public let comments: [String]

    /// Creates a probe (normally the transcoder fills it in).
    public init(kind: TranscodeSourceKind, channels: Int, sampleRate: Int, totalSamples: Int64?, comments: [String]) {
        self.kind = kind
        self.channels = channels
        self.sampleRate = sampleRate
        self.totalSamples = totalSamples
        self.comments = comments
    }

    /// Duration in seconds when the length is known.
    public var durationSeconds: Double? {
        guard let totalSamples, sampleRate > 0 else { return nil }
        return Double(totalSamples) / Double(sampleRate)
    }
}

/// Tuning knobs of a transcode. The defaults are what OggEdge ships with; tests and benchmarks
/// change them.
///
/// The encoder runs libvorbis in VBR (quality) mode, which is the fastest mode, and picks the
/// quality from short trial encodes of excerpts of the source so that the average bitrate lands
/// near the target (see `QualityCalibrator`).
public struct TranscodeOptions: Sendable, Equatable {
    /// Audio (seconds, summed over all excerpts) encoded per calibration pass, as a fraction of
    /// the track length, clamped to `minTrialSeconds...maxTrialSeconds`.
    public var trialFraction: Double = 0.025
    /// Lower bound of the audio per calibration pass (the whole track if it is shorter).
    public var minTrialSeconds: Double = 0.6
    /// Lower bound for Ogg sources: their excerpts are encoded separately (see `TrialExcerpt`),
    /// each only ~0.3 s of it counts, so they need more audio for the same accuracy.
    public var minRenditionTrialSeconds: Double = 2.0
    /// Upper bound of the audio per calibration pass; bounds the delay before the first header.
    public var maxTrialSeconds: Double = 2.5
    /// Number of excerpts, spread evenly over the track, that make up a calibration pass (fewer
    /// when each would be shorter than four crossfades).
    public var trialWindows: Int = 10
    /// Crossfade between joined excerpts of a WAV master, frames.
    public var trialCrossfadeFrames: Int = 512
    /// Maximum number of calibration passes (0 = no trial: quality from the libvorbis
    /// bitrate-to-quality table alone, the mode of `oggenc -b K`).
    public var maxTrialPasses: Int = 2
    /// A pass whose bitrate is within this relative error of the target ends calibration early.
    public var acceptableError: Double = 0.04
    /// When the first pass on a WAV master misses by at most this, its correction is used
    /// without a second pass (measured residual error of such corrections: about 3 %). Ogg
    /// sources always get the second pass.
    public var unverifiedCorrection: Double = 0.12
    /// Audio per page (seconds) for the early pages of the stream, so a player can start quickly.
    public var earlyPageSeconds: Double = 0.1
    /// How long (seconds of audio from the start) pages are forced out early.
    public var earlyPhaseSeconds: Double = 1.0
    /// Encode at this libvorbis quality (-0.1...1.0) instead of calibrating (one trial pass
    /// still measures it unless `maxTrialPasses` is 0). For measurements.
    public var fixedQuality: Float?
    /// Upper bound of the audio per calibration pass while many transcodes are starting at once
    /// (see ``underLoad()``): a start storm spends less per start on calibration, trading a few
    /// percent of bitrate accuracy (the padding floor still holds the label from below).
    public var underLoadTrialSeconds: Double = 0.4
    /// Keep the first calibration pass's encoder for the next calibration with the same settings
    /// instead of setting up a new one each time (see `TrialEncoders`). Saves ~1.5 ms per start,
    /// but the measurement then depends slightly on what the encoder saw before, so the same
    /// source can calibrate a little differently: off by default (the same input gives the same
    /// bytes), on under load (``underLoad()``).
    public var reuseTrialEncoders: Bool = false
    /// Frames read from the source and handed to the encoder per step.
    public var framesPerStep: Int = 1024
    /// Add an `ENCODER=` comment naming OggEdge when the source has none.
    public var addEncoderComment: Bool = true

    /// The defaults.
    public init() {}

    /// Upper bound of the audio per calibration pass in a deep start storm (see
    /// ``underLoad(deep:)``): about 1.8 ms less CPU per start than ``underLoadTrialSeconds``.
    public var deepStormTrialSeconds: Double = 0.2

    /// These options for a start storm: the calibration trial capped at
    /// ``underLoadTrialSeconds`` (``deepStormTrialSeconds`` when `deep`) and trial encoders reused.
    public func underLoad(deep: Bool = false) -> TranscodeOptions {
        var options = self
        options.reuseTrialEncoders = true
        // Fewer, longer excerpts: cheaper to gather and join (measured: ~0.7 ms less per start).
        options.trialWindows = 5
        options.trialCrossfadeFrames = 2048
        let trial = deep ? min(underLoadTrialSeconds, deepStormTrialSeconds) : underLoadTrialSeconds
        options.maxTrialSeconds = min(maxTrialSeconds, trial)
        options.minTrialSeconds = min(minTrialSeconds, trial)
        return options
    }
}
