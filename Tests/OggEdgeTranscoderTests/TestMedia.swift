// Test media: music-like signals made with sox (plucked chords, a melody, pink noise), Ogg
// renditions made with oggenc, and helpers to run a transcode to a file and inspect it.

import Foundation
import OggEdgeCore
import OggEdgeTranscoder
import Testing

enum TestMedia {
    /// A scratch directory for this test process, removed when the process exits.
    static let directory: String = {
        let path = NSTemporaryDirectory() + "oggedge-transcoder-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestMedia.directory) }
        return path
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    /// Tests run in parallel; fixtures are made once, under this lock.
    private static let lock = NSLock()

    /// Runs a tool; returns its exit status and combined output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Music-like audio: four plucked chords (bass, three chord tones, melody), a sine pad and
    /// a pink-noise bed, `seconds` long. Deterministic (sox -R).
    static func music(name: String, rate: Int, channels: Int, seconds: Double, bits: Int = 16) -> String {
        lock.lock()
        defer { lock.unlock() }
        let out = path(name)
        if FileManager.default.fileExists(atPath: out) { return out }
        let chords = [["C2", "C3", "E3", "G3", "E5"], ["G2", "G3", "B3", "D4", "D5"],
                      ["A2", "A3", "C4", "E4", "C5"], ["F2", "F3", "A3", "C4", "A4"]]
        let chordSeconds = seconds / Double(chords.count)
        let synthRate = (44100...48000).contains(rate) ? rate : 44100 // sox pluck needs this range
        var parts: [String] = []
        for (i, chord) in chords.enumerated() {
            let part = path("\(name).part\(i).wav")
            var args = ["-R", "-r", "\(synthRate)", "-c", "7", "-n", "-b", "16", "-c", "2", part,
                        "synth", String(format: "%.4f", chordSeconds)]
            for note in chord { args += ["pluck", note] }
            args += ["sine", chord[2], "pinknoise",
                     "remix", "1v0.28,2v0.2,3v0.1,5v0.16,6v0.035,7v0.03", "1v0.28,3v0.12,4v0.2,5v0.12,6v0.035,7v0.03"]
            let result = run("sox", args)
            precondition(result.status == 0, "sox failed: \(result.output)")
            parts.append(part)
        }
        let tmp = out + ".tmp.wav"
        let result = run("sox", ["-R"] + parts + ["-b", "\(bits)", "-c", "\(channels)", tmp, "rate", "\(rate)"])
        precondition(result.status == 0, "sox failed: \(result.output)")
        parts.forEach { try? FileManager.default.removeItem(atPath: $0) }
        try? FileManager.default.moveItem(atPath: tmp, toPath: out)
        return out
    }

    /// An Ogg Vorbis rendition of `wav` made by oggenc (managed bitrate) with tags and a serial.
    static func rendition(of wav: String, name: String, kbps: Int, tags: [String]) -> String {
        lock.lock()
        defer { lock.unlock() }
        let out = path(name)
        if FileManager.default.fileExists(atPath: out) { return out }
        var args = ["-Q", "--managed", "-b", "\(kbps)", "-s", "4242", "-o", out + ".tmp"]
        for tag in tags { args += ["-c", tag] }
        let result = run("oggenc", args + [wav])
        precondition(result.status == 0, "oggenc failed: \(result.output)")
        try? FileManager.default.moveItem(atPath: out + ".tmp", toPath: out)
        return out
    }

    static func bytes(_ path: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
    }

    static func write(_ bytes: [UInt8], to name: String) -> String {
        let out = path(name)
        _ = FileManager.default.createFile(atPath: out, contents: Data(bytes))
        return out
    }

    /// The result of running a transcode to the end.
    struct Output {
        let bytes: [UInt8]
        let chunks: [[UInt8]]
        let transcoder: VorbisTranscoder
        let file: String

        /// Average bitrate of the whole file (headers included), kbit/s.
        var kbps: Double {
            let seconds = Double(lastGranule ?? 0) / Double(transcoder.probe.sampleRate)
            return Double(bytes.count) * 8 / max(seconds, 1e-9) / 1000
        }

        var lastGranule: Int64? { OggScan.lastGranule(tail: Array(bytes.suffix(70_000))) }
    }

    /// Transcodes `source` to the end with `next(minBytes:)` and writes the result to a file.
    static func transcode(_ source: String, kind: TranscodeSourceKind, kbps: Int, minBytes: Int = 16_384,
                          name: String) throws -> Output {
        let transcoder = try VorbisTranscoder(sourcePath: source, kind: kind, targetKbps: kbps, serial: 77)
        var chunks: [[UInt8]] = []
        var all: [UInt8] = []
        var calls = 0
        while !transcoder.isFinished {
            let chunk = try transcoder.next(minBytes: minBytes)
            chunks.append(chunk)
            all += chunk
            calls += 1
            if calls > 1_000_000 { Issue.record("transcoder never finished"); break }
        }
        return Output(bytes: all, chunks: chunks, transcoder: transcoder, file: write(all, to: name))
    }

    /// `ogginfo` on a file: passes when it exits 0 and prints no warning or error.
    static func ogginfoClean(_ file: String) -> (clean: Bool, output: String) {
        let result = run("ogginfo", [file])
        let text = result.output.lowercased()
        return (result.status == 0 && !text.contains("warning") && !text.contains("error"), result.output)
    }
}
