import CHiredis
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One reply from Redis, copied out of hiredis' reply tree.
public indirect enum RedisReply: Sendable, Equatable {
    /// Bulk string (`$`).
    case string(String)
    /// Simple status (`+OK`).
    case status(String)
    /// Integer (`:`).
    case integer(Int64)
    /// Nil bulk or nil array.
    case null
    /// Error reply (`-ERR ...`): the command was refused, the connection is still usable.
    case error(String)
    /// Array (`*`).
    case array([RedisReply])

    /// The error text if this is an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

/// The connection failed (refused, timed out, closed, protocol error). The connection is unusable
/// afterwards: discard it and connect again.
public struct RedisConnectionError: Error, CustomStringConvertible, Sendable {
    /// hiredis' error text, prefixed with what was being done.
    public let description: String
}

/// A blocking hiredis connection with connect and command timeouts.
///
/// Calls block the calling thread (up to the timeouts), so use it from a dedicated thread, never
/// from the cooperative pool or an event loop. `RedisStreamShipper` uses it from its own thread.
///
/// Sendable invariant: the `redisContext` pointer is owned by this object (freed in `deinit`) and is
/// only dereferenced while `lock` is held, so two threads can never use the context at once.
/// `@unchecked` because the compiler cannot see that a lock guards a raw C pointer.
public final class RedisConnection: @unchecked Sendable {
    private let context: UnsafeMutablePointer<redisContext>
    private let lock = NSLock()
    /// Set once an I/O or protocol error happened; every later call fails fast.
    private var broken = false
    /// The endpoint this connection was opened to.
    public let endpoint: RedisEndpoint

    /// Connects (bounded by `connectTimeout`), sets `commandTimeout` for every later read/write,
    /// and selects `endpoint.database` when it is not 0.
    public init(endpoint: RedisEndpoint, connectTimeout: Duration = .milliseconds(500),
                commandTimeout: Duration = .seconds(2)) throws(RedisConnectionError) {
        self.endpoint = endpoint
        guard let ctx = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), Self.makeTimeval(connectTimeout)) else {
            throw RedisConnectionError(description: "connect to \(endpoint): out of memory")
        }
        if ctx.pointee.err != 0 {
            let message = Self.errorText(ctx)
            redisFree(ctx)
            throw RedisConnectionError(description: "connect to \(endpoint): \(message)")
        }
        context = ctx
        if redisSetTimeout(ctx, Self.makeTimeval(commandTimeout)) != REDIS_OK {
            throw RedisConnectionError(description: "set timeout on \(endpoint): \(Self.errorText(ctx))")
        }
        if endpoint.database != 0 {
            let reply = try command(["SELECT", String(endpoint.database)])
            if let message = reply.errorMessage {
                throw RedisConnectionError(description: "SELECT \(endpoint.database) on \(endpoint): \(message)")
            }
        }
    }

    deinit {
        redisFree(context)
    }

    /// Sends one command (arguments are binary-safe) and waits for its reply.
    public func command(_ arguments: [String]) throws(RedisConnectionError) -> RedisReply {
        let replies = try pipeline([arguments])
        return replies[0]
    }

    /// Sends several commands in one write (pipelining) and reads their replies, in order.
    /// An error *reply* is returned as `.error`; a connection failure throws and leaves the
    /// connection broken (some of the commands may or may not have been executed).
    public func pipeline(_ commands: [[String]]) throws(RedisConnectionError) -> [RedisReply] {
        lock.lock()
        defer { lock.unlock() }
        guard !broken else { throw RedisConnectionError(description: "connection to \(endpoint) is broken") }
        for arguments in commands {
            precondition(!arguments.isEmpty, "a Redis command needs at least one argument")
            let status = Self.withArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw fail("append command") }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw fail("read reply") }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func fail(_ what: String) -> RedisConnectionError {
        broken = true
        return RedisConnectionError(description: "\(what) on \(endpoint): \(Self.errorText(context))")
    }

    private static func errorText(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: ctx.pointee.errstr) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        return text.isEmpty ? "error \(ctx.pointee.err)" : text
    }

    private static func makeTimeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return timeval(tv_sec: .init(truncatingIfNeeded: seconds),
                       tv_usec: .init(truncatingIfNeeded: attoseconds / 1_000_000_000_000))
    }

    /// Copies the arguments into one buffer and passes argc/argv/argvlen to `body`.
    private static func withArgv<R>(
        _ arguments: [String],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        let encoded = arguments.map { Array($0.utf8) }
        let total = encoded.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: max(total, 1))
        defer { storage.deallocate() }
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(encoded.count)
        lengths.reserveCapacity(encoded.count)
        var offset = 0
        for bytes in encoded {
            bytes.withUnsafeBytes { src in
                UnsafeMutableRawPointer(storage + offset).copyMemory(from: src.baseAddress ?? UnsafeRawPointer(storage), byteCount: src.count)
            }
            pointers.append(UnsafePointer(storage + offset))
            lengths.append(bytes.count)
            offset += bytes.count
        }
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in
                body(Int32(arguments.count), argv.baseAddress!, argvlen.baseAddress!)
            }
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        func text() -> String {
            guard let str = r.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self)
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element[index] { elements.append(convert(element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default: return .null
        }
    }
}
