// UDP through plain batched system calls, for hosts without io_uring: recvmmsg(MSG_DONTWAIT)
// with poll(2) to wait, sendmmsg with the same GSO trains as the io_uring driver.
import Glibc
internal import CLinux

/// A `PacketIO` over a `UDPSocket` using recvmmsg/sendmmsg.
public final class UDPSyscallIO: PacketIO, @unchecked Sendable {
    public let socket: UDPSocket
    public let pool: BufferPool
    public private(set) var statistics = IOStatistics()
    /// Whether sends still use UDP GSO (switched off for good if the kernel refuses a train).
    public private(set) var segmentationOffload: Bool

    private let vectors: MessageVectors
    private var queue: ReceiveQueue
    private let staged: UnsafeMutablePointer<BufferIndex>
    private let coalescing: Bool
    private let receiveLength: Int

    /// `batchSize` bounds the messages of one recvmmsg or sendmmsg call.
    public init(socket: UDPSocket, pool: BufferPool, batchSize: Int = 64) {
        self.socket = socket
        self.pool = pool
        let size = max(1, min(batchSize, 1024))
        vectors = MessageVectors(capacity: size)
        queue = ReceiveQueue(capacity: size)
        staged = .allocate(capacity: size)
        segmentationOffload = socket.offloads.contains(.segmentation)
        coalescing = socket.offloads.contains(.receiveCoalescing)
        receiveLength = pool.layout.payloadCapacity
    }

    deinit {
        queue.releaseAll(to: pool)
        staged.deallocate()
    }

    // MARK: Receive

    public func receive(into batch: inout PacketBatch, timeout: Duration) throws(Errno) -> Int {
        let start = batch.count
        deliver(into: &batch)
        if batch.isFull || queue.count > 0 { return batch.count - start }
        let received = try receiveMessages(limit: batch.remainingCapacity)
        if received == 0 && timeout > .zero, try waitReadable(timeout) {
            _ = try receiveMessages(limit: batch.remainingCapacity)
        }
        deliver(into: &batch)
        return batch.count - start
    }

    private func deliver(into batch: inout PacketBatch) {
        let delivery = queue.deliver(into: &batch, pool: pool)
        statistics.packetsReceived &+= UInt64(delivery.packets)
        statistics.bytesReceived &+= UInt64(delivery.bytes)
        statistics.coalescedReceives &+= UInt64(delivery.coalesced)
    }

    /// One recvmmsg into up to `limit` freshly taken slots; returns the datagrams queued.
    private func receiveMessages(limit: Int) throws(Errno) -> Int {
        var count = 0
        while count < min(limit, vectors.capacity), let buffer = pool.take() {
            staged[count] = buffer
            vectors.prepareReceive(count, into: pool.address(of: buffer) + pool.layout.headroom,
                                   length: receiveLength, control: coalescing)
            count += 1
        }
        if count == 0 {
            statistics.bufferStalls &+= 1
            return 0
        }
        statistics.systemCalls &+= 1
        let result = clinux_recvmmsg(socket.descriptor.rawValue, vectors.messages, UInt32(count),
                                     Int32(MSG_DONTWAIT))
        let received = max(0, Int(result))
        for i in 0..<received {
            let buffer = staged[i]
            let header = vectors.header(i).pointee
            let length = Int(vectors.messages[i].msg_len)
            // MSG_CTRUNC with GRO: a coalesced datagram's segment size may be lost, and
            // delivering it whole would glue several datagrams into one.
            if header.msg_flags & Int32(MSG_TRUNC) != 0 || (coalescing && header.msg_flags & Int32(MSG_CTRUNC) != 0) {
                statistics[dropped: .truncated] &+= 1
                pool.release(buffer)
                continue
            }
            guard let endpoint = Endpoint(socketAddress: vectors.address(i), length: Int(header.msg_namelen)) else {
                statistics[dropped: .malformed] &+= 1
                pool.release(buffer)
                continue
            }
            var segmentSize = 0
            if coalescing {
                let control = UnsafeRawBufferPointer(start: vectors.control(i), count: header.msg_controllen)
                segmentSize = ControlMessage.groSegmentSize(in: control) ?? 0
            }
            queue.push(ReceiveQueue.Entry(buffer: buffer, flags: [], offset: pool.layout.headroom, length: length,
                                          endpoint: endpoint, segmentSize: segmentSize))
        }
        for i in received..<count { pool.release(staged[i]) }
        if result < 0 && result != -EAGAIN && result != -EINTR { throw Errno(rawValue: -result) }
        return received
    }

    private func waitReadable(_ timeout: Duration) throws(Errno) -> Bool {
        var descriptor = pollfd(fd: socket.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        statistics.systemCalls &+= 1
        return try Syscall.retrying { poll(&descriptor, 1, timeout.pollMilliseconds) } > 0
    }

    // MARK: Send

    public func send(_ batch: inout PacketBatch) throws(Errno) {
        // sendmmsg copies the data before returning: every buffer can go back at the end.
        defer { batch.releaseAll(to: pool) }
        var next = 0
        while next < batch.count {
            var messages = 0
            while messages < vectors.capacity && next < batch.count {
                let count = segmentationOffload ? UDPSegmentation.trainLength(batch, from: next) : 1
                if vectors.prepareSend(messages, batch, from: next, count: count, pool: pool,
                                       ipv6Socket: socket.isIPv6) {
                    messages += 1
                } else {
                    statistics[dropped: .unreachableFamily] &+= UInt64(count)
                }
                next += count
            }
            try transmit(messages)
        }
    }

    /// Sends prepared messages `0..<count`. sendmmsg stops at the first message that fails and
    /// reports only that it sent fewer; the next call then returns that message's error.
    private func transmit(_ count: Int) throws(Errno) {
        var offset = 0
        var interruptions = 0
        while offset < count {
            statistics.systemCalls &+= 1
            let result = clinux_sendmmsg(socket.descriptor.rawValue, vectors.messages + offset,
                                         UInt32(count - offset), 0)
            if result > 0 {
                for message in offset..<(offset + Int(result)) {
                    let segments = vectors.header(message).pointee.msg_iovlen
                    statistics.packetsSent &+= UInt64(segments)
                    statistics.bytesSent &+= UInt64(vectors.messages[message].msg_len)
                    if segments > 1 { statistics.segmentedSends &+= 1 }
                }
                offset += Int(result)
                continue
            }
            let error = Errno(rawValue: result == 0 ? EIO : -result)
            switch error {
            case .interrupted:
                interruptions += 1
                if interruptions >= Syscall.interruptRetryLimit { throw error }
                continue
            case .badFileDescriptor, .badAddress, Errno(rawValue: ENOTSOCK):
                throw error
            default:
                break
            }
            let segments = vectors.header(offset).pointee.msg_iovlen
            var delivered = 0
            // EIO: the route's device cannot checksum GSO trains, so GSO is off for good.
            // EINVAL: a train this path cannot take (segment above the MTU). Both: resend singly.
            if segments > 1 && (error == .ioError || error == .invalidArgument) {
                if error == .ioError { segmentationOffload = false }
                let resent = vectors.sendSeparately(offset, descriptor: socket.descriptor)
                statistics.systemCalls &+= UInt64(segments)
                delivered = resent.sent
                statistics.bytesSent &+= UInt64(resent.bytes)
                if let failure = resent.error { statistics.lastSendError = failure }
            } else {
                statistics.lastSendError = error
            }
            statistics.packetsSent &+= UInt64(delivered)
            statistics[dropped: .sendFailed] &+= UInt64(segments - delivered)
            offset += 1
        }
    }
}
