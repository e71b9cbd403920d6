import FuzzSupport
import OggEdgeCore

/// The Vorbis identification header (Vorbis I §4.2.2) on a first page built around the input
/// (valid framing and CRC, so every input reaches the packet checks), compared with the
/// specification's rules written out independently: the parser must accept exactly the packets
/// the rules accept and read the same channels, rate and nominal bitrate.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVorbisIdHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(Fuzz.bytes(data, size))
    let headerType = input.byte() & 0x07
    let packet = input.rest()
    let page = OggRepair.page(headerType: headerType, granule: 0, serial: 0x0EDC_0001, sequence: 0, packet: packet)
    let parsed = VorbisStreamInfo.parseIdentification(firstPage: page)
    let expected = reference(packet: packet, headerType: headerType)
    Fuzz.check(parsed == expected, "parser says \(String(describing: parsed)), the rules \(String(describing: expected))")
    // The same page followed by more bytes reads the same (bytes after the first page are ignored).
    Fuzz.check(VorbisStreamInfo.parseIdentification(firstPage: page + packet) == parsed, "trailing bytes change the result")
    return 0
}

/// The identification header rules, straight from the specification.
private func reference(packet: [UInt8], headerType: UInt8) -> VorbisStreamInfo? {
    guard headerType & 0x02 != 0, headerType & 0x01 == 0, packet.count == 30,
          packet[0] == 1, Array(packet[1..<7]) == Array("vorbis".utf8) else { return nil }
    func le32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(packet[at + $1]) << (8 * UInt32($1)) } }
    let channels = Int(packet[11])
    let rate = Int(le32(12))
    let bs0 = Int(packet[28] & 0x0F), bs1 = Int(packet[28] >> 4)
    guard le32(7) == 0, channels > 0, rate > 0, (6...13).contains(bs0), (6...13).contains(bs1), bs0 <= bs1,
          packet[29] & 1 == 1 else { return nil }
    return VorbisStreamInfo(channels: channels, sampleRate: rate, nominalBitrate: Int(Int32(bitPattern: le32(20))))
}
