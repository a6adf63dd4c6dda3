// Packet buffers: one page-aligned allocation cut into fixed-size slots, handed out by index.
// Nothing is allocated per packet. Each slot keeps headroom before the payload, where the 16-byte
// WireGuard transport data header is written in place (whitepaper §5.4.6), and tailroom after it
// for the zero padding to a multiple of 16 and the 16-byte Poly1305 tag.
import Glibc

/// The index of one slot in a `BufferPool`. 16 bits wide because io_uring provided-buffer IDs are.
public struct BufferIndex: Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
}

/// A bounded pool of fixed-size packet buffers in one contiguous allocation.
///
/// Not thread-safe: a pool belongs to one I/O thread, together with the `PacketIO` instances
/// that fill it (receive) and drain it (send). Buffers are reference counted so that one
/// received UDP GRO super-datagram can be handed out as several packets sharing a slot.
public final class BufferPool: @unchecked Sendable {
    /// How a slot is divided.
    public struct Layout: Hashable, Sendable {
        /// Bytes reserved before the payload for headers written in place.
        public var headroom: Int
        /// The largest payload a slot holds; reads are limited to this.
        public var payloadCapacity: Int
        /// Bytes reserved after the payload for padding and authentication tags.
        public var tailroom: Int

        public init(headroom: Int, payloadCapacity: Int, tailroom: Int) {
            self.headroom = headroom
            self.payloadCapacity = payloadCapacity
            self.tailroom = tailroom
        }

        /// The slot size: the three parts rounded up to a 64-byte cache line.
        public var slotSize: Int { (headroom + payloadCapacity + tailroom + 63) & ~63 }

        /// 2 KiB slots: 128 bytes of headroom (WireGuard's 16-byte header plus room for an
        /// outer IPv6/UDP/VXLAN/Ethernet stack, and for the 68-byte io_uring RECVMSG prefix),
        /// 1888 bytes of payload (any 1500-byte MTU packet with its WireGuard overhead), 32 of
        /// tailroom (15 bytes of padding and the 16-byte tag).
        public static let standard = Layout(headroom: 128, payloadCapacity: 1888, tailroom: 32)

        /// Slots for coalesced packets: UDP GRO super-datagrams and TUN TSO/USO packets
        /// (up to 64 KiB of payload).
        public static let coalescing = Layout(headroom: 128, payloadCapacity: 65_536, tailroom: 32)
    }

    /// The largest number of slots: buffer IDs are 16 bits.
    public static let maximumCapacity = Int(UInt16.max) + 1

    public let layout: Layout
    /// The number of slots.
    public let capacity: Int
    /// `layout.slotSize`, cached.
    public let slotSize: Int

    private let base: UnsafeMutableRawPointer
    private let freeList: UnsafeMutablePointer<UInt16>
    private let references: UnsafeMutablePointer<UInt16>
    private var freeCount: Int

    /// Allocates `capacity` slots (1 through 65,536) laid out as `layout`.
    public init(capacity: Int, layout: Layout = .standard) {
        precondition((1...Self.maximumCapacity).contains(capacity), "BufferPool capacity must be 1...65536")
        precondition(layout.headroom >= 0 && layout.payloadCapacity > 0 && layout.tailroom >= 0)
        self.layout = layout
        self.capacity = capacity
        self.slotSize = layout.slotSize
        // Page alignment: with 64-byte-multiple slots no packet shares a cache line with
        // another, and a 2 KiB slot never straddles a page.
        var memory: UnsafeMutableRawPointer?
        let status = posix_memalign(&memory, 4096, capacity * slotSize)
        precondition(status == 0 && memory != nil, "BufferPool: cannot allocate \(capacity * slotSize) bytes")
        base = memory!
        freeList = .allocate(capacity: capacity)
        references = .allocate(capacity: capacity)
        references.initialize(repeating: 0, count: capacity)
        // Hand out low indices first: the most recently used slots are the warmest in cache.
        for i in 0..<capacity { freeList[i] = UInt16(truncatingIfNeeded: capacity - 1 - i) }
        freeCount = capacity
    }

    deinit {
        free(base)
        freeList.deallocate()
        references.deallocate()
    }

    /// Free slots.
    public var available: Int { freeCount }

    /// Takes a free slot with one reference, or nil when all are in use.
    @inline(__always)
    public func take() -> BufferIndex? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        let index = freeList[freeCount]
        references[Int(index)] = 1
        return BufferIndex(rawValue: index)
    }

    /// Adds a reference to a slot in use (another packet shares it).
    @inline(__always)
    public func retain(_ index: BufferIndex) {
        let i = Int(index.rawValue)
        precondition(i < capacity && references[i] > 0 && references[i] < UInt16.max, "BufferPool.retain: slot not in use")
        references[i] += 1
    }

    /// Drops a reference; the slot is free again when the last one goes. Releasing a free slot
    /// is a programming error and traps (it would hand one buffer to two owners).
    @inline(__always)
    public func release(_ index: BufferIndex) {
        let i = Int(index.rawValue)
        precondition(i < capacity && references[i] > 0, "BufferPool.release: slot already free")
        references[i] -= 1
        if references[i] == 0 {
            freeList[freeCount] = index.rawValue
            freeCount += 1
        }
    }

    /// References held on a slot (0 when free).
    public func referenceCount(_ index: BufferIndex) -> Int { Int(references[Int(index.rawValue)]) }

    /// The start of a slot.
    @inline(__always)
    public func address(of index: BufferIndex) -> UnsafeMutableRawPointer {
        base + Int(index.rawValue) * slotSize
    }

    /// A whole slot, headroom and tailroom included.
    @inline(__always)
    public func slot(_ index: BufferIndex) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: address(of: index), count: slotSize)
    }

    /// The payload bytes of a packet.
    @inline(__always)
    public func payload(of packet: Packet) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: address(of: packet.buffer) + packet.offset, count: packet.length)
    }

    /// Takes a slot and copies `bytes` in at the headroom offset; nil when the pool is empty or
    /// the bytes exceed the payload capacity. For control-plane packets and tests, not bulk data.
    public func makePacket(copying bytes: UnsafeRawBufferPointer, endpoint: Endpoint = .unspecified) -> Packet? {
        guard bytes.count <= layout.payloadCapacity, let index = take() else { return nil }
        let start = address(of: index) + layout.headroom
        if let source = bytes.baseAddress { start.copyMemory(from: source, byteCount: bytes.count) }
        return Packet(buffer: index, offset: layout.headroom, length: bytes.count, endpoint: endpoint)
    }
}
