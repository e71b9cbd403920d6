import Foundation
import OggEdgeCore
import OggEdgeDelivery
import Synchronization

/// The playable tracks of the media directory: every id with a file in `tracks/` or a master in
/// `masters/`, with the bitrates present as files and whether a master exists. Listed at most
/// once every two seconds (a directory scan), for `GET /player/tracks.json` and the ops page.
final class TrackCatalogue: Sendable {
    struct Entry: Sendable, Equatable {
        var id: String
        var files: [Int] = []
        var master = false
    }

    let mediaDirectory: String
    private let cached = Mutex<(at: UInt64, entries: [Entry])?>(nil)

    init(mediaDirectory: String) {
        self.mediaDirectory = mediaDirectory.hasSuffix("/") ? mediaDirectory : mediaDirectory + "/"
    }

    func entries() -> [Entry] {
        let now = MonotonicClock.nanos()
        if let c = cached.withLock({ $0 }), now &- c.at < 2_000_000_000 { return c.entries }
        let entries = scan()
        cached.withLock { $0 = (now, entries) }
        return entries
    }

    private func scan() -> [Entry] {
        var byId: [String: Entry] = [:]
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: mediaDirectory + "tracks")) ?? [] {
            guard case .success(let track) = TrackPath.parse(Substring("/tracks/" + name)) else { continue }
            byId[track.trackId, default: Entry(id: track.trackId)].files.append(track.kbps)
        }
        for name in (try? fm.contentsOfDirectory(atPath: mediaDirectory + "masters")) ?? [] where name.hasSuffix(".wav") {
            let id = String(name.dropLast(4))
            guard TrackPath.isValidTrackId(Substring(id)) else { continue }
            byId[id, default: Entry(id: id)].master = true
        }
        return byId.values.map { e in var e = e; e.files.sort(); return e }.sorted { $0.id < $1.id }
    }

    /// `{"tracks":[{"id":"demo","kbps":[96,160,320],"master":true}, ...]}`.
    func json() -> String {
        let items = entries().map { e in
            "{\"id\":" + JSONString.quoted(e.id) + ",\"kbps\":[" + e.files.map(String.init).joined(separator: ",") + "],\"master\":\(e.master)}"
        }
        return "{\"tracks\":[" + items.joined(separator: ",") + "]}\n"
    }
}
