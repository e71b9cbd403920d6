import Foundation
import Testing

/// Real Ogg Vorbis media for end-to-end tests, made once per test process with sox and oggenc.
enum TestMedia {
    /// A media directory with `tracks/demo_{96,160,320}kbps.ogg` (4 s stereo) and `tracks/tiny_96kbps.ogg`.
    static let directory: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-test-media-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir + "/tracks", withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: dir + "/masters", withIntermediateDirectories: true)
        let wav = dir + "/masters/demo.wav"
        run("/usr/bin/sox", ["-n", "-r", "44100", "-c", "2", "-b", "16", wav, "synth", "4", "pluck", "C4", "pluck", "E4", "fade", "0", "4", "0.5"])
        for kbps in [96, 160, 320] {
            run("/usr/bin/oggenc", ["-Q", "-s", "1234", "-b", String(kbps), "-t", "Demo", "-a", "OggEdge Tests", "-o", dir + "/tracks/demo_\(kbps)kbps.ogg", wav])
        }
        let tiny = dir + "/masters/tiny.wav"
        run("/usr/bin/sox", ["-n", "-r", "44100", "-c", "1", "-b", "16", tiny, "synth", "0.5", "sine", "440"])
        run("/usr/bin/oggenc", ["-Q", "-s", "99", "-b", "96", "-o", dir + "/tracks/tiny_96kbps.ogg", tiny])
        // Transcode sources: a WAV master only (48 kHz), a 320 kbps rendition only, and corrupt ones.
        run("/usr/bin/sox", ["-n", "-r", "48000", "-c", "2", "-b", "16", dir + "/masters/solo.wav", "synth", "6", "pluck", "G3", "pluck", "D4", "pinknoise", "vol", "0.4"])
        run("/usr/bin/oggenc", ["-Q", "-s", "77", "-b", "320", "-t", "Only High", "-a", "OggEdge Tests", "-o", dir + "/tracks/onlyhi_320kbps.ogg", wav])
        let garbage = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        _ = FileManager.default.createFile(atPath: dir + "/masters/broken.wav", contents: Data(Array("RIFF".utf8) + garbage))
        _ = FileManager.default.createFile(atPath: dir + "/tracks/brokenr_320kbps.ogg", contents: Data(Array("OggS".utf8) + garbage))
        return dir
    }()

    /// A 2-minute 320 kbps rendition (about 5 MB, more than socket buffers hold) for abort tests.
    static let hugeTrack: String = {
        let dir = directory
        let wav = dir + "/masters/huge.wav"
        run("/usr/bin/sox", ["-n", "-r", "44100", "-c", "2", "-b", "16", wav, "synth", "120", "pinknoise", "vol", "0.5"])
        run("/usr/bin/oggenc", ["-Q", "-s", "900", "-b", "320", "-o", dir + "/tracks/huge_320kbps.ogg", wav])
        return "huge_320kbps.ogg"
    }()

    /// Names of larger renditions (20 s at 320 kbps, about 0.8 MB each) for cache-pressure tests,
    /// made on first use in ``directory``.
    static let bigTracks: [String] = {
        let dir = directory
        let wav = dir + "/masters/big.wav"
        run("/usr/bin/sox", ["-n", "-r", "44100", "-c", "2", "-b", "16", wav, "synth", "20", "pluck", "A2", "pluck", "E3", "whitenoise", "vol", "0.3"])
        return (0..<6).map { i in
            let name = "big\(i)_320kbps.ogg"
            run("/usr/bin/oggenc", ["-Q", "-s", String(500 + i), "-b", "320", "-t", "Big \(i)", "-o", dir + "/tracks/" + name, wav])
            return name
        }
    }()

    /// The bytes of a rendition file.
    static func bytes(_ name: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: directory + "/tracks/" + name) ?? Data())
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
