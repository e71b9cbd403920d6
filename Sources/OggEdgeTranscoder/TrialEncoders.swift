// Trial encoders kept between calibrations.
//
// Setting up a libvorbis encoder costs about as much as encoding a fifth of a second of audio
// (most of it in the psychoacoustic tables, `_vp_psy_init`), and every calibration's first pass
// runs at the same guess quality for a given target, channel count and rate. So that pass's
// encoder is not thrown away: the next calibration with the same settings continues the same
// stream (the measurement counts only packets well inside its own strip, so what came before does
// not matter; see `TrialExcerpt.measure`). The main encode always gets a fresh encoder: its
// output is the stream.

import Synchronization

/// A process-wide stash of idle trial encoders, keyed by layout and quality.
final class TrialEncoders: Sendable {
    /// An encoder on the shelf. Invariant for `@unchecked Sendable`: an encoder is either on the
    /// shelf (touched by nobody) or checked out by exactly one calibration, never both.
    private struct Shelved: @unchecked Sendable {
        let encoder: VorbisEncoder
    }

    private struct Key: Hashable {
        let channels: Int
        let sampleRate: Int
        let quality: Float
    }

    static let shared = TrialEncoders()

    /// Idle encoders kept per key and in all (each holds a few hundred KB of tables).
    let perKey: Int
    let total: Int
    private let shelf = Mutex<(byKey: [Key: [Shelved]], count: Int)>(([:], 0))

    init(perKey: Int = 4, total: Int = 12) {
        self.perKey = perKey
        self.total = total
    }

    /// An idle encoder with these settings, or nil.
    func take(channels: Int, sampleRate: Int, quality: Float) -> VorbisEncoder? {
        let key = Key(channels: channels, sampleRate: sampleRate, quality: quality)
        return shelf.withLock { state in
            guard let shelved = state.byKey[key]?.popLast() else { return nil }
            state.count -= 1
            return shelved.encoder
        }
    }

    /// Puts an encoder back (or drops it when the shelf is full or its input has ended).
    func give(_ encoder: VorbisEncoder) {
        guard !encoder.inputEnded else { return }
        let key = Key(channels: encoder.channels, sampleRate: encoder.sampleRate, quality: encoder.quality)
        let shelved = Shelved(encoder: encoder)
        shelf.withLock { state in
            guard state.count < total, state.byKey[key, default: []].count < perKey else { return }
            state.byKey[key, default: []].append(shelved)
            state.count += 1
        }
    }

    /// Idle encoders on the shelf.
    var idle: Int { shelf.withLock { $0.count } }
}
