import Foundation
import FuzzSupport
@testable import OggEdgeRedis

/// Redis spool segments as read back after a crash: ``SpoolFiles/scan(bytes:)`` (the recovery
/// scan that finds where a torn tail starts), ``SpoolCodec/decode(_:)`` and the commit file.
/// Invariants: the valid end lies within the segment, the records before it re-encode to exactly
/// those bytes' records (scan is idempotent on its own output), and every record the writer can
/// produce decodes to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpoolSegment(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(Fuzz.bytes(data, size))
    switch input.byte() % 3 {
    case 0: segment(input.rest())
    case 1: roundTrip(&input)
    default: commitFile(input.rest())
    }
    return 0
}

/// A segment file's bytes, possibly torn or corrupt.
private func segment(_ bytes: [UInt8]) {
    let (validEnd, lastID) = bytes.withUnsafeBytes { SpoolFiles.scan(bytes: $0) }
    Fuzz.check(validEnd >= 0 && validEnd <= Int64(bytes.count), "valid end \(validEnd) of \(bytes.count)")
    Fuzz.check((validEnd == 0) == (lastID == nil), "valid end \(validEnd) with last id \(String(describing: lastID))")
    // Decode the valid prefix record by record and write it again: a scan of the result keeps all of it.
    var offset = 0
    var rewritten: [UInt8] = []
    var ids: [StreamID] = []
    while offset < Int(validEnd) {
        let result = bytes.withUnsafeBytes { SpoolCodec.decode(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        guard case .record(let record, let length) = result else {
            Fuzz.check(false, "scan accepted bytes that do not decode at \(offset)")
            return
        }
        Fuzz.check(length >= SpoolCodec.headerBytes + 4 && offset + length <= Int(validEnd), "record length \(length)")
        SpoolCodec.append(id: record.id, fields: record.fields, to: &rewritten)
        ids.append(record.id)
        offset += length
    }
    Fuzz.check(ids.last == lastID, "scan's last id \(String(describing: lastID)), records end with \(String(describing: ids.last))")
    let again = rewritten.withUnsafeBytes { SpoolFiles.scan(bytes: $0) }
    Fuzz.check(again.validEnd == Int64(rewritten.count) && again.lastID == lastID, "re-encoded records do not scan back")
}

/// A record the writer could produce, torn at every length: whole decodes to itself, torn is incomplete.
private func roundTrip(_ input: inout FuzzInput) {
    let id = StreamID(milliseconds: UInt64(bitPattern: input.int64()), sequence: UInt64(bitPattern: input.int64()))
    let strings = input.fields(9, separator: 0).map { String(decoding: $0, as: UTF8.self) }
    var fields: [(String, String)] = []
    for i in stride(from: 0, to: strings.count - 1, by: 2) where !(strings[i].isEmpty && strings[i + 1].isEmpty) {
        fields.append((strings[i], strings[i + 1]))
    }
    var bytes: [UInt8] = []
    SpoolCodec.append(id: id, fields: fields, to: &bytes)
    Fuzz.check(bytes.count == SpoolCodec.encodedSize(id: id, fields: fields), "encoded size")
    guard case .record(let record, let length) = bytes.withUnsafeBytes({ SpoolCodec.decode($0) }) else {
        Fuzz.check(false, "a written record does not decode")
        return
    }
    Fuzz.check(length == bytes.count && record.id == id, "record \(record.id) of \(length) bytes")
    Fuzz.check(record.fields.map { $0.0 } == fields.map { $0.0 } && record.fields.map { $0.1 } == fields.map { $0.1 }, "fields differ")
    for cut in [0, 1, 7, 8, bytes.count / 2, bytes.count - 1] where cut >= 0 && cut < bytes.count {
        let torn = bytes.withUnsafeBytes { SpoolCodec.decode(UnsafeRawBufferPointer(rebasing: $0[..<cut])) }
        guard case .incomplete = torn else {
            Fuzz.check(false, "a record torn at \(cut) of \(bytes.count) bytes is not incomplete")
            return
        }
    }
}

/// The `committed` file.
private func commitFile(_ bytes: [UInt8]) {
    guard let (position, lastID) = SpoolFiles.parseCommit(Data(bytes)) else { return }
    Fuzz.check(position.offset >= 0, "commit offset \(position.offset)")
    let line = "v1 \(position.segment) \(position.offset) \(lastID?.description ?? "-")\n"
    let again = SpoolFiles.parseCommit(Data(line.utf8))
    Fuzz.check(again?.position == position && again?.lastID == lastID, "commit \(line) does not round-trip")
}
