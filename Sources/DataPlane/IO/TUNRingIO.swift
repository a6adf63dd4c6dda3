// TUN through io_uring: one multishot READ (IORING_OP_READ_MULTISHOT, Linux 6.7) reads packet
// after packet into pool slots lent through a provided-buffer ring; writes are WRITE requests
// submitted together. The device is a registered file.
import Glibc
internal import CURing

/// A `PacketIO` over a `TUNDevice` driven by io_uring.
public final class TUNRingIO: PacketIO, @unchecked Sendable {
    public let device: TUNDevice
    public let pool: BufferPool
    public var statistics: IOStatistics {
        var result = counters
        result.systemCalls &+= ring.enterCount
        return result
    }
    /// The io_uring features in force.
    public var ringFeatures: Ring.Features { ring.features }

    private var counters = IOStatistics()
    private var ring: Ring
    private var lender: BufferLender?
    private let receiveBuffers: Int
    private var queue: ReceiveQueue
    /// Where packets start in a slot: the headroom, or just past the virtio header if the
    /// headroom is smaller than that.
    private let payloadOffset: Int
    private let headerLength: Int
    private let readLength: Int
    private var writesInFlight = 0
    private var receiveErrors = 0
    private var lastReceiveError = Errno.ioError

    private static let readTag: UInt64 = 3 << 56
    private static let writeTag: UInt64 = 4 << 56
    private static let bufferGroup: UInt16 = 0
    private static let receiveErrorLimit = 16

    /// Sets up the driver; throws `.ioUringMissingFeature` on kernels without multishot READ.
    /// `receiveBuffers` slots are lent to the kernel on the first receive.
    public init(device: TUNDevice, pool: BufferPool, ringEntries: Int = 256, receiveBuffers: Int = 256) throws(IOBackendError) {
        self.device = device
        self.pool = pool
        let ring = try Ring(entries: ringEntries)
        guard ring.features.contains(.multishotRead) else {
            throw IOBackendError.ioUringMissingFeature("IORING_OP_READ_MULTISHOT (Linux 6.7)")
        }
        do {
            try ring.registerFile(device.descriptor)
        } catch {
            throw IOBackendError.system(operation: "io_uring_register_files", error)
        }
        self.ring = ring
        self.receiveBuffers = max(1, min(receiveBuffers, pool.capacity))
        queue = ReceiveQueue(capacity: self.receiveBuffers)
        headerLength = device.headerLength
        payloadOffset = max(pool.layout.headroom, headerLength)
        readLength = headerLength + pool.layout.payloadCapacity
    }

    deinit {
        if lender?.armed == true || writesInFlight > 0 { quiesce() }
        let quiet = lender?.armed != true && writesInFlight == 0
        ring.shutdown()
        // Buffers the kernel may still write to are never returned (see UDPRingIO.deinit).
        if quiet { lender?.returnAll(to: pool) }
        queue.releaseAll(to: pool)
    }

    // MARK: Receive

    public func receive(into batch: inout PacketBatch, timeout: Duration) throws(Errno) -> Int {
        let start = batch.count
        guard batch.remainingCapacity > 0 else { return 0 }
        try ring.enable()
        if lender == nil {
            lender = try BufferLender(ring: &ring, pool: pool, target: receiveBuffers, group: Self.bufferGroup,
                                      start: payloadOffset - headerLength, length: readLength)
        }
        deliver(into: &batch)
        if batch.isFull { return batch.count - start }
        reap()
        deliver(into: &batch)
        if batch.count == start {
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
    }

    private func replenish() throws(Errno) {
        guard lender != nil else { return }
        let haveBuffers = lender!.lend(from: pool, held: queue.count)
        if !haveBuffers { counters.bufferStalls &+= 1 }
        if haveBuffers && !lender!.armed {
            guard receiveErrors < Self.receiveErrorLimit else { throw lastReceiveError }
            let sqe = try ring.nextSubmission()
            weft_prep_read_multishot(sqe, 0, 1, Self.bufferGroup)
            io_uring_sqe_set_data64(sqe, Self.readTag)
            lender!.armed = true
        }
    }

    private func reap() {
        _ = ring.drainCompletions { completion in
            switch completion.userData & (0xFF << 56) {
            case Self.readTag: received(completion)
            case Self.writeTag: written(completion)
            default: break
            }
        }
    }

    private func received(_ completion: Ring.Completion) {
        if !completion.hasMore { lender!.armed = false }
        guard completion.result >= 0 else {
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
        let read = Int(completion.result)
        // TUN truncates a packet larger than the read silently: a full read may be one.
        if read >= readLength {
            counters[dropped: .truncated] &+= 1
            pool.release(buffer)
            return
        }
        guard read > headerLength else {
            counters[dropped: .malformed] &+= 1
            pool.release(buffer)
            return
        }
        queue.push(ReceiveQueue.Entry(buffer: buffer, flags: headerLength > 0 ? .virtioNetHeader : [],
                                      offset: payloadOffset, length: read - headerLength,
                                      endpoint: .unspecified, segmentSize: 0))
    }

    /// Cancels the multishot read and waits, at most about a second, for it and for writes.
    private func quiesce() {
        do {
            try ring.enable()
            if lender?.armed == true { try ring.cancel(userData: Self.readTag) }
            for _ in 0..<100 {
                if lender?.armed != true && writesInFlight == 0 { break }
                _ = try ring.submitAndWait(timeout: .milliseconds(10))
                reap()
            }
        } catch {
            // EEXIST from a ring bound to another thread: the buffers stay out of the pool.
        }
    }

    // MARK: Send

    public func send(_ batch: inout PacketBatch) throws(Errno) {
        var next = 0
        do throws(Errno) {
            try ring.enable()
            while next < batch.count {
                let packet = batch[next]
                guard let (start, length) = device.writeSpan(of: packet, in: pool) else {
                    counters[dropped: .noHeadroom] &+= 1
                    pool.release(packet.buffer)
                    next += 1
                    continue
                }
                let sqe = try ring.nextSubmission()
                weft_prep_write(sqe, 0, 1, start, UInt32(length))
                io_uring_sqe_set_data64(sqe, Self.writeTag | UInt64(packet.buffer.rawValue))
                writesInFlight += 1
                next += 1
            }
            batch.removeAll()
            try ring.submit()
            // TUN writes complete during submission; collecting them returns their buffers.
            // Failed ones post their completion through task work, which with DEFER_TASKRUN
            // runs only on a kernel entry: make one if anything is still out.
            reap()
            if writesInFlight > 0 {
                try ring.submitAndCollect()
                reap()
            }
        } catch {
            for i in next..<batch.count { pool.release(batch[i].buffer) }
            batch.removeAll()
            throw error
        }
    }

    private func written(_ completion: Ring.Completion) {
        writesInFlight -= 1
        if completion.result >= 0 {
            counters.packetsSent &+= 1
            counters.bytesSent &+= UInt64(max(0, Int(completion.result) - headerLength))
        } else {
            counters.lastSendError = Errno(rawValue: -completion.result)
            counters[dropped: .sendFailed] &+= 1
        }
        pool.release(BufferIndex(rawValue: UInt16(truncatingIfNeeded: completion.userData)))
    }
}
