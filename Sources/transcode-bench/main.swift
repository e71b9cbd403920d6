// transcode-bench SOURCE KBPS OUT [--q QUALITY] [--passes N] [--max-trial S] [--min-trial S] [--windows N]
//                 [--fraction F] [--chunk BYTES] [--serial N] [--starts N]
//                 [--early-page S] [--reuse] [--under-load] [--crossfade FRAMES]
// Transcodes SOURCE (.wav master or .ogg rendition) with VorbisTranscoder to OUT and prints one
// line: wall time, time to the headers and to the first audio page, bytes, average bitrate,
// calibrated quality and trial passes. With --starts N it instead starts the transcode N times
// (open, calibrate, headers, first audio page; what a cold request waits for) and prints the mean
// and minimum thread CPU time of one start.
import OggEdgeCore
import OggEdgeTranscoder

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func threadCPU() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func fail(_ message: String) -> Never {
    print("transcode-bench: \(message)")
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
var options = TranscodeOptions()
var chunk = 65_536
var serial: Int32 = 12345
var starts = 0
var positional: [String] = []
while !args.isEmpty {
    let arg = args.removeFirst()
    func value() -> String {
        if args.isEmpty { fail("\(arg) needs a value") }
        return args.removeFirst()
    }
    switch arg {
    case "--passes": options.maxTrialPasses = Int(value()) ?? 2
    case "--max-trial": options.maxTrialSeconds = Double(value()) ?? 3
    case "--min-trial": options.minTrialSeconds = Double(value()) ?? 1
    case "--windows": options.trialWindows = Int(value()) ?? 4
    case "--crossfade": options.trialCrossfadeFrames = Int(value()) ?? options.trialCrossfadeFrames
    case "--fraction": options.trialFraction = Double(value()) ?? 0.04
    case "--q": options.fixedQuality = Float(value())
    case "--chunk": chunk = Int(value()) ?? chunk
    case "--serial": serial = Int32(value()) ?? serial
    case "--starts": starts = Int(value()) ?? 0
    case "--early-page": options.earlyPageSeconds = Double(value()) ?? options.earlyPageSeconds
    case "--reuse": options.reuseTrialEncoders = true
    case "--under-load": options = options.underLoad()
    default: positional.append(arg)
    }
}
guard positional.count == 3, let kbps = Int(positional[1]) else {
    fail("usage: transcode-bench SOURCE KBPS OUT [--passes N] [--max-trial S] [--windows N] [--fraction F]")
}
let (sourcePath, outPath) = (positional[0], positional[2])
let kind: TranscodeSourceKind = sourcePath.lowercased().hasSuffix(".ogg") ? .oggRendition : .wavMaster

if starts > 0 {
    var costs: [Double] = []
    var calibration: QualityCalibration?
    for _ in 0..<starts {
        let cpu = threadCPU()
        do {
            let t = try VorbisTranscoder(sourcePath: sourcePath, kind: kind, targetKbps: kbps, serial: serial, options: options)
            while t.firstAudioPageEnd == nil, !t.isFinished { _ = try t.next(minBytes: 1) }
            calibration = t.calibration
        } catch {
            fail("\(error.reason) \(error.description)")
        }
        costs.append((threadCPU() - cpu) * 1000)
    }
    let mean = costs.reduce(0, +) / Double(costs.count)
    let q = calibration.map { ($0.quality * 1000).rounded() / 100 } ?? 0
    print("starts=\(starts) cpu_ms_mean=\((mean * 100).rounded() / 100) cpu_ms_min=\(((costs.min() ?? 0) * 100).rounded() / 100) "
          + "p1=\((calibration?.passes.first?.kbps ?? 0) * 100 / 100) q=\(q) trial=\(((calibration?.trialSeconds ?? 0) * 100).rounded() / 100)s passes=\(calibration?.passes.count ?? 0)")
    exit(0)
}

let start = now()
let transcoder: VorbisTranscoder
do {
    transcoder = try VorbisTranscoder(sourcePath: sourcePath, kind: kind, targetKbps: kbps, serial: serial, options: options)
} catch {
    print("error reason=\(error.reason) \(error.description)")
    exit(1)
}
guard let out = fopen(outPath, "wb") else { fail("cannot write \(outPath)") }
var headersAt = 0.0, firstAudioAt = 0.0, total = 0
do {
    while !transcoder.isFinished {
        let bytes = try transcoder.next(minBytes: chunk)
        if headersAt == 0 { headersAt = now() - start }
        if firstAudioAt == 0, transcoder.firstAudioPageEnd != nil { firstAudioAt = now() - start }
        total += bytes.count
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, out) }
    }
} catch {
    print("error reason=\(error.reason) \(error.description)")
    exit(1)
}
fclose(out)
let elapsed = now() - start
let seconds = Double(transcoder.samplesEncoded) / Double(transcoder.probe.sampleRate)
let kbpsOut = Double(total) * 8 / seconds / 1000
let c = transcoder.calibration
let passes = c.passes.map { "q\(($0.quality * 1000).rounded() / 100)=\(Int($0.kbps.rounded()))" }.joined(separator: ",")
print("""
wall=\(String(Int(elapsed * 1000))) ms headers=\(Int(headersAt * 1000)) ms first_audio=\(Int(firstAudioAt * 1000)) ms \
bytes=\(total) dur=\(seconds) kbps=\((kbpsOut * 10).rounded() / 10) target=\(kbps) \
err=\(((kbpsOut / Double(kbps) - 1) * 1000).rounded() / 10)% q=\((c.quality * 1000).rounded() / 100) \
trial=\((c.trialSeconds * 100).rounded() / 100)s passes=[\(passes)] peak_buffered=\(transcoder.peakBufferedBytes) \
first_page_end=\(transcoder.firstAudioPageEnd ?? -1) padding=\(transcoder.paddingBytes) nominal=\(transcoder.nominalKbps)
""")
