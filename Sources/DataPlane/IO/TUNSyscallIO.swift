// TUN through plain system calls, for hosts without io_uring: read(2) on the non-blocking
// descriptor until EAGAIN, poll(2) to wait, one write(2) per packet (TUN has no batched write
// without offloads).
import Glibc

/// A `PacketIO` over a `TUNDevice` using read/write.
public final class TUNSyscallIO: PacketIO, @unchecked Sendable {
    public let device: TUNDevice
    public let pool: BufferPool
    public private(set) var statistics = IOStatistics()

    private let payloadOffset: Int
    private let headerLength: Int
    private let readLength: Int

    public init(device: TUNDevice, pool: BufferPool) {
        self.device = device
        self.pool = pool
        headerLength = device.headerLength
        payloadOffset = max(pool.layout.headroom, headerLength)
        readLength = headerLength + pool.layout.payloadCapacity
    }

    public func receive(into batch: inout PacketBatch, timeout: Duration) throws(Errno) -> Int {
        let start = batch.count
        var waited = timeout <= .zero
        var interruptions = 0
        // One read per packet, one more that finds the queue empty, and possibly one poll.
        for _ in 0..<(batch.remainingCapacity + Syscall.interruptRetryLimit + 2) {
            guard !batch.isFull else { break }
            guard let buffer = pool.take() else {
                statistics.bufferStalls &+= 1
                break
            }
            statistics.systemCalls &+= 1
            let read = Glibc.read(device.descriptor.rawValue, pool.address(of: buffer) + payloadOffset - headerLength, readLength)
            if read < 0 {
                let error = Errno.current
                pool.release(buffer)
                if error == .interrupted && interruptions < Syscall.interruptRetryLimit {
                    interruptions += 1
                    continue
                }
                guard error == .wouldBlock else { throw error }
                if batch.count > start || waited { break }
                waited = true
                if try waitReadable(timeout) { continue }
                break
            }
            if read >= readLength {
                statistics[dropped: .truncated] &+= 1
                pool.release(buffer)
                continue
            }
            guard read > headerLength else {
                statistics[dropped: .malformed] &+= 1
                pool.release(buffer)
                continue
            }
            batch.append(Packet(buffer: buffer, flags: headerLength > 0 ? .virtioNetHeader : [],
                                offset: payloadOffset, length: read - headerLength))
            statistics.packetsReceived &+= 1
            statistics.bytesReceived &+= UInt64(read - headerLength)
        }
        return batch.count - start
    }

    private func waitReadable(_ timeout: Duration) throws(Errno) -> Bool {
        var descriptor = pollfd(fd: device.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        statistics.systemCalls &+= 1
        return try Syscall.retrying { poll(&descriptor, 1, timeout.pollMilliseconds) } > 0
    }

    public func send(_ batch: inout PacketBatch) throws(Errno) {
        defer { batch.releaseAll(to: pool) }
        for i in 0..<batch.count {
            let packet = batch[i]
            guard let (start, length) = device.writeSpan(of: packet, in: pool) else {
                statistics[dropped: .noHeadroom] &+= 1
                continue
            }
            statistics.systemCalls &+= 1
            do {
                let written = try Syscall.retrying { Glibc.write(device.descriptor.rawValue, start, length) }
                statistics.packetsSent &+= 1
                statistics.bytesSent &+= UInt64(written - headerLength)
            } catch .badFileDescriptor {
                throw Errno.badFileDescriptor
            } catch {
                // EINVAL and friends: the kernel refused this packet (not valid IP), not the device.
                statistics.lastSendError = error
                statistics[dropped: .sendFailed] &+= 1
            }
        }
    }
}
