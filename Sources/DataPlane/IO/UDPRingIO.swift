// UDP through io_uring: one multishot RECVMSG (Linux 6.0) keeps receiving into pool slots lent
// through a provided-buffer ring; sends are SENDMSG requests, one per datagram or GSO train,
// submitted together. The socket is a registered file.
import Glibc
internal import CLinux
internal import CURing

/// A `PacketIO` over a `UDPSocket` driven by io_uring.
public final class UDPRingIO: PacketIO, @unchecked Sendable {
    public let socket: UDPSocket
    public let pool: BufferPool
    public var statistics: IOStatistics {
        var result = counters
        result.systemCalls &+= ring.enterCount
        return result
    }
    /// The io_uring features in force.
    public var ringFeatures: Ring.Features { ring.features }
    /// Whether sends still use UDP GSO (switched off for good if the kernel refuses a train).
    public private(set) var segmentationOffload: Bool

    private var counters = IOStatistics()
    private var ring: Ring
    private var lender: BufferLender?
    private let receiveBuffers: Int
    private var queue: ReceiveQueue
    // The msghdr of the multishot RECVMSG: it only fixes name and control space per buffer.
    private let receiveHeader: UnsafeMutablePointer<msghdr>
    private let controlSpace: Int
    // Each buffer the kernel fills starts with io_uring_recvmsg_out, the name and the control
    // space, then the payload: the buffer is lent so that the payload lands at `payloadOffset`.
    private let prefixLength: Int
    private let payloadOffset: Int
    private var receiveErrors = 0
    private var lastReceiveError = Errno.ioError

    // Sends in flight: message slot i of `vectors` belongs to request i; `trainBuffers` holds
    // the buffers to release when it completes.
    private let vectors: MessageVectors
    private let freeSends: UnsafeMutablePointer<UInt16>
    private var freeSendCount: Int
    private let trainBuffers: UnsafeMutablePointer<BufferIndex>
    private let trainCounts: UnsafeMutablePointer<Int>

    private static let receiveTag: UInt64 = 1 << 56
    private static let sendTag: UInt64 = 2 << 56
    private static let bufferGroup: UInt16 = 0
    /// Consecutive receive failures (other than running out of buffers) before giving up.
    private static let receiveErrorLimit = 16

    /// Sets up the driver. `receiveBuffers` slots are lent to the kernel on the first receive
    /// (none for a send-only instance); `sendsInFlight` bounds outstanding send requests.
    public init(socket: UDPSocket, pool: BufferPool, ringEntries: Int = 256, receiveBuffers: Int = 256,
                sendsInFlight: Int = 128) throws(IOBackendError) {
        self.socket = socket
        self.pool = pool
        let ring = try Ring(entries: ringEntries)
        do {
            try ring.registerFile(socket.descriptor)
        } catch {
            throw IOBackendError.system(operation: "io_uring_register_files", error)
        }
        self.ring = ring
        self.receiveBuffers = max(1, min(receiveBuffers, pool.capacity))
        queue = ReceiveQueue(capacity: self.receiveBuffers)
        segmentationOffload = socket.offloads.contains(.segmentation)

        controlSpace = socket.offloads.contains(.receiveCoalescing) ? ControlMessage.udpSpace : 0
        receiveHeader = .allocate(capacity: 1)
        receiveHeader.initialize(to: msghdr())
        receiveHeader.pointee.msg_namelen = socklen_t(Endpoint.maximumSocketAddressLength)
        receiveHeader.pointee.msg_controllen = controlSpace
        prefixLength = MemoryLayout<io_uring_recvmsg_out>.size + Endpoint.maximumSocketAddressLength + controlSpace
        payloadOffset = max(pool.layout.headroom, prefixLength)

        let sends = max(1, min(sendsInFlight, Int(UInt16.max)))
        vectors = MessageVectors(capacity: sends)
        freeSends = .allocate(capacity: sends)
        for i in 0..<sends { freeSends[i] = UInt16(sends - 1 - i) }
        freeSendCount = sends
        trainBuffers = .allocate(capacity: sends * MessageVectors.iovecsPerMessage)
        trainCounts = .allocate(capacity: sends)
        trainCounts.initialize(repeating: 0, count: sends)
    }

    deinit {
        // The kernel must be done with every lent or in-flight buffer before the pool gets
        // them back: cancel the multishot receive and wait (bounded) for the last completions.
        if !isQuiet { quiesce() }
        let quiet = isQuiet
        ring.shutdown()
        // Otherwise (the ring belonged to another thread) the buffers stay out of the pool:
        // a leak is safe, handing out memory the kernel may still use is not.
        if quiet { lender?.returnAll(to: pool) }
        queue.releaseAll(to: pool)
        receiveHeader.deallocate()
        freeSends.deallocate()
        trainBuffers.deallocate()
        trainCounts.deallocate()
    }

    // MARK: Receive

    public func receive(into batch: inout PacketBatch, timeout: Duration) throws(Errno) -> Int {
        let start = batch.count
        guard batch.remainingCapacity > 0 else { return 0 }
        try ring.enable()
        if lender == nil {
            lender = try BufferLender(ring: &ring, pool: pool, target: receiveBuffers, group: Self.bufferGroup,
                                      start: payloadOffset - prefixLength,
                                      length: prefixLength + pool.layout.payloadCapacity)
        }
        deliver(into: &batch)
        if batch.isFull { return batch.count - start }
        reap()
        deliver(into: &batch)
        if batch.count == start {
            // Nothing was waiting: lend buffers, re-arm if needed, and enter the kernel once to
            // submit and collect; then, if still empty, wait.
            try replenish()
            try ring.submitAndCollect()
            reap()
            deliver(into: &batch)
            if batch.count == start && timeout > .zero {
                try replenish()
                _ = try ring.submitAndWait(timeout: timeout)
                reap()
                deliver(into: &batch)
            }
        }
        try replenish()
        return batch.count - start
    }

    private func deliver(into batch: inout PacketBatch) {
        let delivery = queue.deliver(into: &batch, pool: pool)
        counters.packetsReceived &+= UInt64(delivery.packets)
        counters.bytesReceived &+= UInt64(delivery.bytes)
        counters.coalescedReceives &+= UInt64(delivery.coalesced)
    }

    /// Lends free slots and re-arms the multishot receive when it ended.
    private func replenish() throws(Errno) {
        guard lender != nil else { return }
        let haveBuffers = lender!.lend(from: pool, held: queue.count)
        if !haveBuffers { counters.bufferStalls &+= 1 }
        if haveBuffers && !lender!.armed {
            guard receiveErrors < Self.receiveErrorLimit else { throw lastReceiveError }
            let sqe = try ring.nextSubmission()
            weft_prep_recvmsg_multishot(sqe, 0, 1, receiveHeader, Self.bufferGroup)
            io_uring_sqe_set_data64(sqe, Self.receiveTag)
            lender!.armed = true
        }
    }

    /// Consumes every ready completion (no kernel entry).
    private func reap() {
        _ = ring.drainCompletions { completion in
            switch completion.userData & (0xFF << 56) {
            case Self.receiveTag: received(completion)
            case Self.sendTag: sent(completion)
            default: break  // cancellations
            }
        }
    }

    private func received(_ completion: Ring.Completion) {
        if !completion.hasMore { lender!.armed = false }
        guard completion.result >= 0 else {
            // ENOBUFS: every lent buffer is used; the datagram waits in the socket until
            // replenish lends more and re-arms.
            if completion.result == -ENOBUFS {
                counters.bufferStalls &+= 1
            } else {
                receiveErrors += 1
                lastReceiveError = Errno(rawValue: -completion.result)
            }
            return
        }
        guard let id = completion.bufferID, let buffer = lender!.reclaim(id) else { return }
        receiveErrors = 0
        let base = UnsafeRawPointer(pool.address(of: buffer) + payloadOffset - prefixLength)
        let header = base.loadUnaligned(as: io_uring_recvmsg_out.self)
        let written = Int(completion.result)
        guard written >= prefixLength else {
            counters[dropped: .malformed] &+= 1
            pool.release(buffer)
            return
        }
        // MSG_CTRUNC with GRO: the segment size may be lost (see UDPSyscallIO).
        if header.flags & UInt32(MSG_TRUNC) != 0 || (controlSpace > 0 && header.flags & UInt32(MSG_CTRUNC) != 0) {
            counters[dropped: .truncated] &+= 1
            pool.release(buffer)
            return
        }
        let nameStart = MemoryLayout<io_uring_recvmsg_out>.size
        let nameLength = min(Int(header.namelen), Endpoint.maximumSocketAddressLength)
        guard let endpoint = Endpoint(socketAddress: base + nameStart, length: nameLength) else {
            counters[dropped: .malformed] &+= 1
            pool.release(buffer)
            return
        }
        var segmentSize = 0
        if controlSpace > 0 {
            let control = UnsafeRawBufferPointer(start: base + nameStart + Endpoint.maximumSocketAddressLength,
                                                 count: min(Int(header.controllen), controlSpace))
            segmentSize = ControlMessage.groSegmentSize(in: control) ?? 0
        }
        queue.push(ReceiveQueue.Entry(buffer: buffer, flags: [], offset: payloadOffset,
                                      length: written - prefixLength, endpoint: endpoint, segmentSize: segmentSize))
    }

    /// No multishot receive armed and no send in flight.
    private var isQuiet: Bool { lender?.armed != true && freeSendCount == vectors.capacity }

    /// Cancels the multishot receive and waits, at most about a second, for it and the sends.
    private func quiesce() {
        do {
            try ring.enable()
            if lender?.armed == true { try ring.cancel(userData: Self.receiveTag) }
            for _ in 0..<100 {
                if isQuiet { break }
                _ = try ring.submitAndWait(timeout: .milliseconds(10))
                reap()
            }
        } catch {
            // EEXIST from a ring bound to another thread: everything stays out (see deinit).
        }
    }

    // MARK: Send

    public func send(_ batch: inout PacketBatch) throws(Errno) {
        var next = 0
        do throws(Errno) {
            try ring.enable()
            while next < batch.count {
                let count = segmentationOffload ? UDPSegmentation.trainLength(batch, from: next) : 1
                let message = try acquireSend()
                guard vectors.prepareSend(message, batch, from: next, count: count, pool: pool,
                                          ipv6Socket: socket.isIPv6) else {
                    for k in 0..<count { pool.release(batch[next + k].buffer) }
                    counters[dropped: .unreachableFamily] &+= UInt64(count)
                    freeSends[freeSendCount] = UInt16(message)
                    freeSendCount += 1
                    next += count
                    continue
                }
                let sqe: UnsafeMutablePointer<io_uring_sqe>
                do throws(Errno) {
                    sqe = try ring.nextSubmission()
                } catch {
                    freeSends[freeSendCount] = UInt16(message)
                    freeSendCount += 1
                    throw error
                }
                weft_prep_sendmsg(sqe, 0, 1, vectors.header(message))
                io_uring_sqe_set_data64(sqe, Self.sendTag | UInt64(message))
                for k in 0..<count {
                    trainBuffers[message * MessageVectors.iovecsPerMessage + k] = batch[next + k].buffer
                }
                trainCounts[message] = count
                next += count
            }
            batch.removeAll()
            try ring.submit()
            // UDP sends complete during submission; collecting them now returns their buffers.
            // Completions that went through task work (DEFER_TASKRUN) need one more entry.
            reap()
            if freeSendCount < vectors.capacity {
                try ring.submitAndCollect()
                reap()
            }
        } catch {
            // Packets not yet handed to a request go back to the pool.
            for i in next..<batch.count { pool.release(batch[i].buffer) }
            batch.removeAll()
            throw error
        }
    }

    /// A free send slot, waiting (boundedly) for completions when all are in flight.
    private func acquireSend() throws(Errno) -> Int {
        for _ in 0..<100 {
            if freeSendCount > 0 {
                freeSendCount -= 1
                return Int(freeSends[freeSendCount])
            }
            reap()
            if freeSendCount == 0 { _ = try ring.submitAndWait(timeout: .milliseconds(10)) }
        }
        throw Errno.busy
    }

    private func sent(_ completion: Ring.Completion) {
        let message = Int(completion.userData & 0xFFFF)
        let count = trainCounts[message]
        var delivered = 0
        if completion.result >= 0 {
            delivered = count
            counters.bytesSent &+= UInt64(completion.result)
            if count > 1 { counters.segmentedSends &+= 1 }
        } else {
            let error = Errno(rawValue: -completion.result)
            // EIO: the route's device cannot checksum GSO trains, so GSO is off for good.
            // EINVAL: a train this path cannot take (segment above the MTU). Both: resend singly.
            if count > 1 && (error == .ioError || error == .invalidArgument) {
                if error == .ioError { segmentationOffload = false }
                let result = vectors.sendSeparately(message, descriptor: socket.descriptor)
                delivered = result.sent
                counters.bytesSent &+= UInt64(result.bytes)
                counters.systemCalls &+= UInt64(count)
                if let failure = result.error { counters.lastSendError = failure }
            } else {
                counters.lastSendError = error
            }
            counters[dropped: .sendFailed] &+= UInt64(count - delivered)
        }
        counters.packetsSent &+= UInt64(delivered)
        for k in 0..<count { pool.release(trainBuffers[message * MessageVectors.iovecsPerMessage + k]) }
        trainCounts[message] = 0
        freeSends[freeSendCount] = UInt16(message)
        freeSendCount += 1
    }
}
