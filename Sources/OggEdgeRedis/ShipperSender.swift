import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sender thread: spool → pipelined XADD → commit, with reconnects and backoff.
extension RedisStreamShipper {
    /// Redis' refusal of an explicit id that is not above the stream's last id.
    static let duplicateIDMarker = "equal or smaller than the target stream top item"

    private struct SendOutcome {
        /// Records of the batch (a prefix) that are now known to be in Redis.
        var acknowledged = 0
        var added = 0
        var duplicates = 0
        var conflicts = 0
        /// Error reply that stopped the batch at `acknowledged`.
        var refusal: String?
    }

    func senderMain() {
        // hiredis writes with write(2): a connection Redis closed must give EPIPE, not kill the
        // process with SIGPIPE. Blocking it for this thread is enough (SIGPIPE goes to the writer).
        var pipe = sigset_t()
        sigemptyset(&pipe)
        sigaddset(&pipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipe, nil)
        let reader = SpoolReader(directory: spoolDirectory, start: recovery.readStart, lastID: recovery.lastID)
        var connection: RedisConnection?
        var everConnected = false
        var backoff = options.initialBackoff
        var retryAt = ContinuousClock.now
        var drainDeadline: ContinuousClock.Instant?
        var failing = false

        func failed(_ message: String, dropConnection: Bool) {
            if dropConnection { connection = nil }
            let changed = state.locked { s -> Bool in
                defer { s.stats.lastError = message; s.stats.connected = connection != nil }
                return s.stats.lastError != message
            }
            if !failing || changed {
                logger.warning("delivery log shipping to Redis paused, retrying: \(message)")
            } else {
                logger.debug("delivery log shipping still failing: \(message)")
            }
            failing = true
            retryAt = .now + backoff
            backoff = min(backoff * 2, options.maxBackoff)
        }

        while true {
            let (written, stopping, flusherDone) = state.locked { s in (s.written, s.phase != .running, s.flusherDone) }
            if stopping, drainDeadline == nil { drainDeadline = .now + options.shutdownDrainTimeout }
            if let drainDeadline, ContinuousClock.now >= drainDeadline { break }
            let wakeLimit = min(ContinuousClock.now + .seconds(1), drainDeadline ?? .now + .seconds(1))

            if ContinuousClock.now < retryAt {
                let until = min(retryAt, wakeLimit)
                state.locked { s in if (s.phase == .running) == !stopping { s.wait(until: until) } }
                continue
            }
            let batch: SpoolBatch?
            do {
                batch = try reader.readBatch(written: written, maxRecords: options.batchSize)
            } catch {
                failed(error.description, dropConnection: false)
                continue
            }
            guard let batch else {
                if stopping && flusherDone { break }
                state.locked { s in
                    if s.written == written && (s.phase == .running) == !stopping && s.flusherDone == flusherDone {
                        s.wait(until: wakeLimit)
                    }
                }
                continue
            }
            if batch.records.isEmpty {
                logger.error("skipping \(batch.corruptBytes) corrupt bytes in the delivery spool at \(batch.start)")
                do { try reader.commit(batch.end, lastID: reader.lastCommittedID) } catch {
                    failed(error.description, dropConnection: false)
                    continue
                }
                state.locked { $0.stats.spooledBytes -= batch.corruptBytes }
                continue
            }
            if connection == nil {
                do {
                    connection = try RedisConnection(endpoint: endpoint, connectTimeout: options.connectTimeout,
                                                     commandTimeout: options.commandTimeout)
                } catch {
                    failed(error.description, dropConnection: true)
                    continue
                }
                if failing || everConnected { logger.info("connected to Redis, resuming delivery log shipping") }
                let reconnected = everConnected
                state.locked { s in
                    s.stats.connected = true
                    if reconnected { s.stats.reconnects += 1 }
                }
                everConnected = true
            }
            let outcome: SendOutcome
            do {
                outcome = try send(batch, on: connection!)
            } catch {
                failed(error.description, dropConnection: true)
                continue
            }
            if outcome.acknowledged > 0 {
                let last = outcome.acknowledged - 1
                do {
                    try reader.commit(batch.ends[last], lastID: batch.records[last].id)
                } catch {
                    failed(error.description, dropConnection: false)
                    continue
                }
                let bytes = batch.ends[last].offset - batch.start.offset
                state.locked { s in
                    s.stats.sent += outcome.added
                    s.stats.duplicatesSkipped += outcome.duplicates
                    s.stats.idConflicts += outcome.conflicts
                    s.stats.spooledBytes -= bytes
                }
            }
            if outcome.conflicts > 0 {
                logger.error("\(outcome.conflicts) delivery records had ids another writer overtook; re-added with new ids. Give each node its own stream key.")
            }
            if let refusal = outcome.refusal {
                failed("Redis refused XADD: \(refusal)", dropConnection: false)
            } else {
                failing = false
                backoff = options.initialBackoff
            }
        }
        state.locked { $0.stats.connected = false }
    }

    /// Sends one batch as pipelined XADDs, then sorts out refusals of already-used ids.
    private func send(_ batch: SpoolBatch, on connection: RedisConnection) throws(RedisConnectionError) -> SendOutcome {
        func fieldArguments(_ record: SpoolRecord) -> [String] {
            var arguments: [String] = []
            arguments.reserveCapacity(record.fields.count * 2)
            for (name, value) in record.fields {
                arguments.append(name)
                arguments.append(value)
            }
            return arguments
        }
        let commands = batch.records.map { ["XADD", streamKey, $0.id.description] + fieldArguments($0) }
        let replies = try connection.pipeline(commands)
        enum Kind { case added, duplicate, readded }
        var kinds: [Kind] = []
        var outcome = SendOutcome()
        var refusedIDs: [Int] = []
        for (index, reply) in replies.enumerated() {
            if let message = reply.errorMessage, !message.contains(Self.duplicateIDMarker) {
                outcome.refusal = message
                break
            }
            if reply.errorMessage != nil { refusedIDs.append(index) }
            kinds.append(reply.errorMessage == nil ? .added : .duplicate)
        }
        var acknowledged = kinds.count
        if !refusedIDs.isEmpty {
            // A refused id is a duplicate only if the entry with exactly that id is in the stream.
            let checks = refusedIDs.map { index -> [String] in
                let id = batch.records[index].id.description
                return ["XRANGE", streamKey, id, id]
            }
            let found = try connection.pipeline(checks)
            var readds: [Int] = []
            for (index, reply) in zip(refusedIDs, found) {
                if case .array(let entries) = reply, !entries.isEmpty { continue }
                if let message = reply.errorMessage {
                    acknowledged = index
                    outcome.refusal = message
                    break
                }
                readds.append(index)
            }
            readds.removeAll { $0 >= acknowledged }
            if !readds.isEmpty {
                let results = try connection.pipeline(readds.map { ["XADD", streamKey, "*"] + fieldArguments(batch.records[$0]) })
                for (index, reply) in zip(readds, results) {
                    if let message = reply.errorMessage {
                        acknowledged = min(acknowledged, index)
                        outcome.refusal = message
                        break
                    }
                    kinds[index] = .readded
                }
            }
        }
        outcome.acknowledged = acknowledged
        for kind in kinds.prefix(acknowledged) {
            switch kind {
            case .added: outcome.added += 1
            case .duplicate: outcome.duplicates += 1
            case .readded: outcome.added += 1; outcome.conflicts += 1
            }
        }
        return outcome
    }
}
