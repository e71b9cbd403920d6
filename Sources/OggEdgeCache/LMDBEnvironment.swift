import CLMDB
import Synchronization

/// An LMDB failure, with the library's own message.
public struct LMDBError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The LMDB or errno return code.
    public let code: Int32
    /// What was being done.
    public let operation: String

    public var description: String { "\(operation): \(String(cString: mdb_strerror(code))) (\(code))" }

    /// The map is full: evict and retry, or serve uncached.
    public var isMapFull: Bool { code == MDB_MAP_FULL }

    static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
        if rc != 0 { throw LMDBError(code: rc, operation: operation()) }
    }
}

/// One LMDB environment with two databases: rendition metadata and chunks.
///
/// `@unchecked Sendable`: the `MDB_env` pointer and database handles are immutable after init.
/// LMDB allows any thread to run read transactions on an `MDB_NOTLS` environment, and this
/// type's users funnel every write transaction through one writer thread (``ChunkStore``).
/// No transaction outlives the closure it was opened in, so none is held across an `await`.
final class LMDBEnvironment: @unchecked Sendable {
    let env: OpaquePointer
    let meta: MDB_dbi
    let chunks: MDB_dbi
    let pageSize: Int
    let mapSize: Int
    /// Read transactions reset after use, renewed by the next reader: `mdb_txn_begin` allocates
    /// for every read-only transaction, `mdb_txn_renew` does not. Each holds a reader slot
    /// (not a snapshot) while parked; at most `parkedLimit` are kept.
    private let parked: Mutex<[ParkedTransaction]> = {
        var list: [ParkedTransaction] = []
        list.reserveCapacity(32)
        return Mutex(list)
    }()
    private static let parkedLimit = 32

    /// Opens (creating) the environment in `directory`, mapping at most `mapSize` bytes.
    init(directory: String, mapSize: Int) throws(LMDBError) {
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(code: -1, operation: "mdb_env_create") }
        do {
            try LMDBError.check(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize")
            try LMDBError.check(mdb_env_set_maxreaders(env, 1024), "mdb_env_set_maxreaders")
            // NOTLS: Swift tasks hop threads. NOMETASYNC: a process crash never loses committed
            // data; a power loss may lose the last transaction but never corrupts the file.
            let flags = UInt32(MDB_NOTLS | MDB_NOMETASYNC | MDB_NORDAHEAD)
            try LMDBError.check(mdb_env_open(env, directory, flags, 0o644), "mdb_env_open \(directory)")
            var stat = MDB_stat()
            mdb_env_stat(env, &stat)
            self.pageSize = Int(stat.ms_psize)
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            self.mapSize = info.me_mapsize
            // Reap reader slots left by a killed process.
            var dead: Int32 = 0
            mdb_reader_check(env, &dead)
            var txn: OpaquePointer?
            try LMDBError.check(mdb_txn_begin(env, nil, 0, &txn), "open databases")
            var metaDbi: MDB_dbi = 0
            var chunkDbi: MDB_dbi = 0
            var rc = mdb_dbi_open(txn, "meta", UInt32(MDB_CREATE), &metaDbi)
            if rc == 0 { rc = mdb_dbi_open(txn, "chunks", UInt32(MDB_CREATE), &chunkDbi) }
            if rc != 0 {
                mdb_txn_abort(txn)
                throw LMDBError(code: rc, operation: "mdb_dbi_open")
            }
            try LMDBError.check(mdb_txn_commit(txn), "commit database handles")
            self.env = env
            self.meta = metaDbi
            self.chunks = chunkDbi
        } catch let error as LMDBError {
            mdb_env_close(env)
            throw error
        } catch {
            mdb_env_close(env)
            throw LMDBError(code: -1, operation: "\(error)")
        }
    }

    deinit {
        for parkedTxn in parked.withLock({ $0 }) { mdb_txn_abort(parkedTxn.txn) }
        mdb_env_close(env)
    }

    /// Runs `body` inside a read-only transaction that ends when `body` returns.
    func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        let txn = try beginRead()
        defer { endRead(txn) }
        return try body(ReadTransaction(txn: txn, env: self))
    }

    /// A parked read transaction renewed (a fresh snapshot), else a new one.
    func beginRead() throws(LMDBError) -> OpaquePointer {
        if let reused = parked.withLock({ $0.popLast() })?.txn {
            if mdb_txn_renew(reused) == 0 { return reused }
            mdb_txn_abort(reused)
        }
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "begin read")
        guard let txn else { throw LMDBError(code: -1, operation: "begin read") }
        return txn
    }

    /// Ends a read transaction: its snapshot is released at once (`mdb_txn_reset`); the handle
    /// is parked for the next reader.
    func endRead(_ txn: OpaquePointer) {
        mdb_txn_reset(txn)
        let kept = parked.withLock { list -> Bool in
            guard list.count < Self.parkedLimit else { return false }
            list.append(ParkedTransaction(txn: txn))
            return true
        }
        if !kept { mdb_txn_abort(txn) }
    }

    /// Runs `body` inside a write transaction, committed when `body` returns normally.
    /// Only the writer thread calls this.
    func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, nil, 0, &txn), "begin write")
        let result: T
        do {
            result = try body(WriteTransaction(txn: txn!, env: self))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try LMDBError.check(mdb_txn_commit(txn), "commit")
        return result
    }

    /// Bytes held by live pages of both databases (what eviction keeps under the bound).
    func liveBytes() -> Int {
        (try? read { txn in liveBytes(txn.txn) }) ?? 0
    }

    /// Live bytes as transaction `txn` sees them (a write transaction sees its own changes).
    func liveBytes(_ txn: OpaquePointer) -> Int {
        var total = 0
        for dbi in [meta, chunks] {
            var st = MDB_stat()
            if mdb_stat(txn, dbi, &st) == 0 {
                total += (Int(st.ms_branch_pages) + Int(st.ms_leaf_pages) + Int(st.ms_overflow_pages)) * Int(st.ms_psize)
            }
        }
        return total
    }

    /// Number of chunk records.
    func chunkCount() -> Int {
        (try? read { txn in
            var st = MDB_stat()
            return mdb_stat(txn.txn, chunks, &st) == 0 ? Int(st.ms_entries) : 0
        }) ?? 0
    }

    /// High-water mark of the data file in bytes (its size on disk).
    func fileBytes() -> Int {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        return (Int(info.me_last_pgno) + 1) * pageSize
    }
}

/// A reset read transaction waiting to be renewed. `@unchecked Sendable`: an `MDB_NOTLS`
/// read transaction may be renewed on any thread, and a parked one is owned by the list alone.
struct ParkedTransaction: @unchecked Sendable {
    let txn: OpaquePointer
}

/// What read and write transactions share.
protocol LMDBTransaction {
    var txn: OpaquePointer { get }
}

/// A read transaction lent to a closure.
struct ReadTransaction: LMDBTransaction {
    let txn: OpaquePointer
    let env: LMDBEnvironment
}

extension LMDBTransaction {
    /// Visits every key/value of `dbi` in key order (values lent for the call only).
    func forEach(_ dbi: MDB_dbi, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var mk = MDB_val()
        var mv = MDB_val()
        var rc = mdb_cursor_get(cursor, &mk, &mv, MDB_FIRST)
        while rc == 0 {
            try body(UnsafeRawBufferPointer(start: mk.mv_data, count: mk.mv_size), UnsafeRawBufferPointer(start: mv.mv_data, count: mv.mv_size))
            rc = mdb_cursor_get(cursor, &mk, &mv, MDB_NEXT)
        }
    }

    /// The value for `key` in `dbi`, lent to `body` while the transaction is open.
    func get<T>(_ dbi: MDB_dbi, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        try key.withUnsafeBytes { k in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var mv = MDB_val()
            let rc = mdb_get(txn, dbi, &mk, &mv)
            if rc == MDB_NOTFOUND { return nil }
            try LMDBError.check(rc, "mdb_get")
            return try body(UnsafeRawBufferPointer(start: mv.mv_data, count: mv.mv_size))
        }
    }
}

/// A write transaction lent to a closure.
struct WriteTransaction: LMDBTransaction {
    let txn: OpaquePointer
    let env: LMDBEnvironment

    func put(_ dbi: MDB_dbi, key: [UInt8], value: UnsafeRawBufferPointer) throws(LMDBError) {
        let rc = key.withUnsafeBytes { k -> Int32 in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var mv = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            return mdb_put(txn, dbi, &mk, &mv, 0)
        }
        try LMDBError.check(rc, "mdb_put")
    }

    /// Stores `count` bytes under `key` that `fill` writes in place, in the page LMDB reserved
    /// for them (`MDB_RESERVE`): no value buffer of the caller's, no copy into the page.
    func reserve(_ dbi: MDB_dbi, key: [UInt8], count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws(LMDBError) {
        var mv = MDB_val(mv_size: count, mv_data: nil)
        let rc = key.withUnsafeBytes { k -> Int32 in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_put(txn, dbi, &mk, &mv, UInt32(MDB_RESERVE))
        }
        try LMDBError.check(rc, "mdb_put reserve")
        fill(UnsafeMutableRawBufferPointer(start: mv.mv_data, count: count))
    }

    /// Deletes `key`; true if it existed.
    @discardableResult
    func delete(_ dbi: MDB_dbi, key: [UInt8]) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { k -> Int32 in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_del(txn, dbi, &mk, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try LMDBError.check(rc, "mdb_del")
        return true
    }

    /// Deletes every key in `dbi` that starts with `prefix`; returns how many.
    func deletePrefix(_ dbi: MDB_dbi, prefix: [UInt8]) throws(LMDBError) -> Int {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var count = 0
        var mk = MDB_val()
        var mv = MDB_val()
        var rc = prefix.withUnsafeBytes { p -> Int32 in
            mk = MDB_val(mv_size: p.count, mv_data: UnsafeMutableRawPointer(mutating: p.baseAddress))
            return mdb_cursor_get(cursor, &mk, &mv, MDB_SET_RANGE)
        }
        while rc == 0 {
            let key = UnsafeRawBufferPointer(start: mk.mv_data, count: mk.mv_size)
            guard key.count >= prefix.count, key.prefix(prefix.count).elementsEqual(prefix) else { break }
            try LMDBError.check(mdb_cursor_del(cursor, 0), "mdb_cursor_del")
            count += 1
            // After a delete, MDB_NEXT yields the item that followed the deleted one.
            rc = mdb_cursor_get(cursor, &mk, &mv, MDB_NEXT)
        }
        if rc != 0 && rc != MDB_NOTFOUND { throw LMDBError(code: rc, operation: "mdb_cursor_get") }
        return count
    }
}
