import CLMDB
import CPosix

/// The cache's on-disk format, kept in the metadata database under a reserved key (reserved keys
/// start with a zero byte, which no rendition key does). A cache written in another format, or
/// before the mark existed, is emptied when it is opened: its chunks' checksums would not
/// verify, and every byte of a cache can be had again from the sources.
extension ChunkStore {
    /// 2: chunks checked with CRC-32C. (1, never marked: zlib's CRC-32.)
    static let format: UInt32 = 2
    static let formatKey: [UInt8] = [0, 0x66]

    /// Whether `key` of the metadata database is one of the store's own (the format mark, the
    /// generation counter), not a rendition's.
    static func isReservedMetaKey(_ key: UnsafeRawBufferPointer) -> Bool { key.first == 0 }

    /// Marks a new cache with ``format``; empties one of another format (keeping the generation
    /// counter, so generations never repeat). Returns the number of chunks dropped.
    @discardableResult
    static func settleFormat(_ env: LMDBEnvironment) throws -> Int {
        try env.write { txn -> Int in
            let stored = try txn.get(env.meta, key: formatKey) { $0.count == 4 ? $0.loadUnaligned(as: UInt32.self).littleEndian : nil }
            if stored == format { return 0 }
            var st = MDB_stat()
            try LMDBError.check(mdb_stat(txn.txn, env.chunks, &st), "mdb_stat")
            let dropped = Int(st.ms_entries)
            let counter = try txn.get(env.meta, key: ChunkWriter.generationKey) { Array($0) }
            try LMDBError.check(mdb_drop(txn.txn, env.chunks, 0), "mdb_drop chunks")
            try LMDBError.check(mdb_drop(txn.txn, env.meta, 0), "mdb_drop meta")
            if let counter { try counter.withUnsafeBytes { try txn.put(env.meta, key: ChunkWriter.generationKey, value: $0) } }
            try withUnsafeBytes(of: format.littleEndian) { try txn.put(env.meta, key: formatKey, value: $0) }
            return dropped
        }
    }

    /// CRC-32C of `bytes` (the CPU's instruction where there is one).
    static func crc(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        oggedge_crc32c(0, bytes.baseAddress, bytes.count)
    }
}
