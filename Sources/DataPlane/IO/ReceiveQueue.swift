// Received packets the caller's batch had no room for yet. Kernel completions (io_uring) and
// recvmmsg results land here first, so that no received buffer is ever dropped for lack of batch
// space, and a UDP GRO super-datagram can leave as its segments over several calls.

/// A bounded FIFO of received packets.
struct ReceiveQueue: ~Copyable {
    struct Entry {
        var buffer: BufferIndex
        var flags: PacketFlags
        var offset: Int
        var length: Int
        var endpoint: Endpoint
        /// UDP GRO segment size; 0 when the datagram was not coalesced.
        var segmentSize: Int
    }

    /// What one `deliver` handed over, for the driver's statistics.
    struct Delivery {
        var packets = 0
        var bytes = 0
        /// Coalesced datagrams whose splitting started.
        var coalesced = 0
    }

    private let storage: UnsafeMutablePointer<Entry>
    let capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit {
        storage.deallocate()
    }

    var isFull: Bool { count == capacity }

    /// Appends an entry; the queue must not be full (drivers size it to the buffers they lend).
    @inline(__always)
    mutating func push(_ entry: Entry) {
        precondition(count < capacity, "ReceiveQueue overflow")
        storage[(head + count) % capacity] = entry
        count += 1
    }

    /// Moves packets into `batch` until it is full or the queue is empty. A coalesced datagram
    /// becomes one packet per segment (the last may be shorter), each holding its own reference
    /// to the shared slot.
    @inline(__always)
    mutating func deliver(into batch: inout PacketBatch, pool: BufferPool) -> Delivery {
        var delivery = Delivery()
        while count > 0 && !batch.isFull {
            let entry = storage[head]
            if entry.segmentSize == 0 || entry.length <= entry.segmentSize {
                batch.append(Packet(buffer: entry.buffer, flags: entry.flags, offset: entry.offset,
                                    length: entry.length, endpoint: entry.endpoint))
                delivery.bytes += entry.length
                head = (head + 1) % capacity
                count -= 1
            } else {
                if !entry.flags.contains(.sharedBuffer) { delivery.coalesced += 1 }
                pool.retain(entry.buffer)
                let flags = entry.flags.union(.sharedBuffer)
                batch.append(Packet(buffer: entry.buffer, flags: flags, offset: entry.offset,
                                    length: entry.segmentSize, endpoint: entry.endpoint))
                delivery.bytes += entry.segmentSize
                storage[head].offset += entry.segmentSize
                storage[head].length -= entry.segmentSize
                storage[head].flags = flags
            }
            delivery.packets += 1
        }
        return delivery
    }

    /// Releases every queued buffer reference.
    mutating func releaseAll(to pool: BufferPool) {
        while count > 0 {
            pool.release(storage[head].buffer)
            head = (head + 1) % capacity
            count -= 1
        }
    }
}
