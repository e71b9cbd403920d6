import Foundation

/// The shape of one request made from a template.
enum RequestShape: Sendable, Equatable {
    /// No `Range` header: the whole file (`200` expected).
    case full
    /// A fixed `Range` header value, e.g. `bytes=0-65535`.
    case literal(String)
    /// A random `span`-byte range inside the file (any byte offset).
    case random(span: Int)
    /// The player-like mix, drawn per request: first 64 KiB, end probe, sequential reads, seeks.
    case player

    /// Parses a shape: `full`, `bytes=…`, `range:SPAN` (`range:64k`, `range:4096`) or `player`.
    static func parse(_ text: Substring) -> RequestShape? {
        if text == "full" { return .full }
        if text == "player" { return .player }
        if text.hasPrefix("bytes=") { return .literal(String(text)) }
        if text.hasPrefix("range:"), let span = parseSize(text.dropFirst(6)), span > 0 { return .random(span: span) }
        return nil
    }
}

/// `65536`, `64k`, `64K`, `1m`.
func parseSize(_ text: Substring) -> Int? {
    let lower = text.lowercased()
    if lower.hasSuffix("k"), let n = Int(lower.dropLast()) { return n * 1024 }
    if lower.hasSuffix("m"), let n = Int(lower.dropLast()) { return n * 1024 * 1024 }
    return Int(lower)
}

/// One request template: a request target (path and query, e.g. a signed URL) and its file size.
struct RequestTemplate: Sendable {
    var target: String
    var size: Int
    var shape: RequestShape
}

struct TemplateError: Error, CustomStringConvertible {
    var description: String
}

/// Reads a template file: one request per line, `TARGET SIZE [SHAPE]`; `#` starts a comment.
/// A line without SHAPE takes `defaultShape` (the scenario). The file's order is the popularity
/// rank used by `--pick zipf:S` (the first line is the most popular).
func loadTemplates(path: String, defaultShape: RequestShape?) throws -> [RequestTemplate] {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw TemplateError(description: "cannot read \(path): \(error)")
    }
    var templates: [RequestTemplate] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = fields.first, !first.hasPrefix("#") else { continue }
        guard fields.count >= 2, let size = Int(fields[1]), size > 0 else {
            throw TemplateError(description: "\(path):\(number + 1): expected 'TARGET SIZE [SHAPE]'")
        }
        let shape: RequestShape
        if fields.count >= 3 {
            guard let s = RequestShape.parse(fields[2]) else {
                throw TemplateError(description: "\(path):\(number + 1): unknown shape '\(fields[2])'")
            }
            shape = s
        } else if let defaultShape {
            shape = defaultShape
        } else {
            throw TemplateError(description: "\(path):\(number + 1): no shape and no --scenario")
        }
        templates.append(RequestTemplate(target: String(first), size: size, shape: shape))
    }
    guard !templates.isEmpty else { throw TemplateError(description: "\(path): no templates") }
    return templates
}

/// Maps a scenario name to the shape of its requests.
func scenarioShape(_ name: String) -> RequestShape? {
    switch name {
    case "range-64k": return .random(span: 65536)
    case "range-4k": return .random(span: 4096)
    case "full": return .full
    case "player": return .player
    default: return RequestShape.parse(Substring(name))
    }
}

/// A small, fast, seedable generator (SplitMix64); one per event loop, never shared.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// How a template is picked for each request.
enum Picker: Sendable {
    case uniform(count: Int)
    case roundRobin(count: Int)
    /// Zipf(s) by rank: P(rank k) ∝ 1/k^s; `cdf` is cumulative, last element 1.
    case zipf(cdf: [Double])

    static func parse(_ text: String, count: Int) -> Picker? {
        if text == "uniform" { return .uniform(count: count) }
        if text == "round-robin" { return .roundRobin(count: count) }
        if text.hasPrefix("zipf:"), let s = Double(text.dropFirst(5)), s >= 0 {
            var cdf = [Double](repeating: 0, count: count)
            var sum = 0.0
            for k in 0..<count {
                sum += 1.0 / pow(Double(k + 1), s)
                cdf[k] = sum
            }
            for k in 0..<count { cdf[k] /= sum }
            cdf[count - 1] = 1
            return .zipf(cdf: cdf)
        }
        return nil
    }

    func pick(sequence: Int, rng: inout SplitMix64) -> Int {
        switch self {
        case .uniform(let count): return Int(rng.next() % UInt64(count))
        case .roundRobin(let count): return sequence % count
        case .zipf(let cdf):
            let u = rng.unit()
            var lo = 0
            var hi = cdf.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }
}

/// The `Range` header value for one request of a template (nil: no header, `200` expected).
///
/// The player-like mix, per request: 25 % the first 64 KiB (a start), 10 % an end probe (the last
/// 8 KiB, open-ended, as browsers ask for the duration), 45 % a sequential 64 KiB read at a chunk
/// near the start (exponentially distributed, mean 8 chunks: most listens are short), 20 % a seek
/// (64 KiB at a random offset).
func rangeHeader(for template: RequestTemplate, rng: inout SplitMix64) -> String? {
    let size = template.size
    switch template.shape {
    case .full:
        return nil
    case .literal(let value):
        return value
    case .random(let span):
        let span = min(span, size)
        let start = Int(rng.next() % UInt64(size - span + 1))
        return "bytes=\(start)-\(start + span - 1)"
    case .player:
        let chunk = 65536
        let u = rng.unit()
        if u < 0.25 || size <= chunk {
            return "bytes=0-\(min(chunk, size) - 1)"
        } else if u < 0.35 {
            return "bytes=\(max(0, size - 8192))-"
        } else if u < 0.80 {
            let chunks = (size + chunk - 1) / chunk
            let k = min(chunks - 1, 1 + Int(-log(1 - rng.unit()) * 8))
            return "bytes=\(k * chunk)-\(min(size, (k + 1) * chunk) - 1)"
        } else {
            let start = Int(rng.next() % UInt64(size - chunk + 1))
            return "bytes=\(start)-\(start + chunk - 1)"
        }
    }
}
