// The batched packet interface between the data-plane engine and its devices (a TUN device, a
// UDP socket, or in-memory fakes). Like wireguard-go's conn.Bind and tun.Device it moves vectors
// of packets; unlike them the packets live in a caller-visible `BufferPool`, so receive, crypto
// and send all work in place. The engine is generic over `PacketIO`: no existential on the hot path.

/// Per-packet flags.
public struct PacketFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The 10 bytes before `offset` hold a virtio_net_hdr (TUN with IFF_VNET_HDR): written by
    /// the kernel on receive; on send, the engine wrote one (otherwise the device writes a
    /// "no offload" header there itself).
    public static let virtioNetHeader = PacketFlags(rawValue: 1 << 0)
    /// The packet is one segment of a coalesced (UDP GRO) datagram and shares its slot with the
    /// other segments: bytes outside `offset..<offset+length` may belong to a neighbouring
    /// segment, so only the packet's own bytes may be overwritten.
    public static let sharedBuffer = PacketFlags(rawValue: 1 << 1)
}

/// One packet: a slice of a `BufferPool` slot and, for UDP, the remote endpoint.
public struct Packet: Sendable {
    /// The slot holding the bytes. The packet owns one reference to it.
    public var buffer: BufferIndex
    public var flags: PacketFlags
    /// Where the packet starts inside the slot.
    public var offset: Int
    /// The packet's length in bytes.
    public var length: Int
    /// UDP: the source on receive, the destination on send. TUN: unused (`.unspecified`).
    public var endpoint: Endpoint

    public init(buffer: BufferIndex, flags: PacketFlags = [], offset: Int, length: Int,
                endpoint: Endpoint = .unspecified) {
        self.buffer = buffer
        self.flags = flags
        self.offset = offset
        self.length = length
        self.endpoint = endpoint
    }
}

/// A fixed-capacity vector of packets, allocated once and reused for every batch.
///
/// Packets in a batch own buffer references: a batch that is dropped while not empty leaks them
/// from the pool, so callers either send it or `releaseAll(to:)`.
public struct PacketBatch: ~Copyable, @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Packet>
    /// The most packets the batch holds.
    public let capacity: Int
    /// The packets held, at indices `0..<count`.
    public private(set) var count: Int

    public init(capacity: Int) {
        precondition(capacity > 0, "PacketBatch capacity must be positive")
        storage = .allocate(capacity: capacity)
        self.capacity = capacity
        count = 0
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    public var isEmpty: Bool { count == 0 }
    public var isFull: Bool { count == capacity }
    public var remainingCapacity: Int { capacity - count }

    public subscript(index: Int) -> Packet {
        @inline(__always) get {
            precondition(index >= 0 && index < count, "PacketBatch index out of range")
            return storage[index]
        }
        @inline(__always) set {
            precondition(index >= 0 && index < count, "PacketBatch index out of range")
            storage[index] = newValue
        }
    }

    /// Appends a packet; returns false (and keeps nothing) when the batch is full.
    @inline(__always) @discardableResult
    public mutating func append(_ packet: Packet) -> Bool {
        guard count < capacity else { return false }
        (storage + count).initialize(to: packet)
        count += 1
        return true
    }

    /// Forgets all packets without touching their buffers (they were handed on).
    public mutating func removeAll() {
        storage.deinitialize(count: count)
        count = 0
    }

    /// Keeps the packets for which `keep` returns true, in order, and passes the others to
    /// `discard` (which typically releases their buffers).
    public mutating func filter(keep: (Packet) -> Bool, discard: (Packet) -> Void) {
        var kept = 0
        for i in 0..<count {
            let packet = storage[i]
            if keep(packet) {
                storage[kept] = packet
                kept += 1
            } else {
                discard(packet)
            }
        }
        count = kept
    }

    /// Gives every packet's buffer back to `pool` and empties the batch.
    public mutating func releaseAll(to pool: BufferPool) {
        for i in 0..<count { pool.release(storage[i].buffer) }
        removeAll()
    }
}

/// Why a packet was dropped by an I/O driver.
public enum DropReason: CaseIterable, Hashable, Sendable {
    /// A received datagram or read was larger than the buffer.
    case truncated
    /// A received packet was malformed (unknown source address family, short read).
    case malformed
    /// The socket's family cannot reach the destination (IPv6 on an IPv4-only socket).
    case unreachableFamily
    /// No room before the packet for the virtio_net_hdr a vnet-header TUN needs.
    case noHeadroom
    /// The kernel refused the send (the error is in `IOStatistics.lastSendError`).
    case sendFailed
}

/// Counters kept by each driver instance.
public struct IOStatistics: Hashable, Sendable {
    public var packetsReceived: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var packetsSent: UInt64 = 0
    public var bytesSent: UInt64 = 0
    /// Kernel entries made for I/O (syscalls, io_uring_enter); a measure of batching.
    public var systemCalls: UInt64 = 0
    /// Received datagrams the kernel coalesced (UDP GRO) and the driver split.
    public var coalescedReceives: UInt64 = 0
    /// Sends that carried several segments at once (UDP GSO).
    public var segmentedSends: UInt64 = 0
    /// Times receive had no free pool buffer to read into (the engine held them all). Packets
    /// wait in the kernel meanwhile; the kernel drops them only when its own queue overflows.
    public var bufferStalls: UInt64 = 0
    /// The last error a send ended with, if any.
    public var lastSendError: Errno?
    private var droppedTruncated: UInt64 = 0
    private var droppedMalformed: UInt64 = 0
    private var droppedUnreachableFamily: UInt64 = 0
    private var droppedNoHeadroom: UInt64 = 0
    private var droppedSendFailed: UInt64 = 0

    public init() {}

    /// Packets dropped for `reason`.
    public subscript(dropped reason: DropReason) -> UInt64 {
        get {
            switch reason {
            case .truncated: droppedTruncated
            case .malformed: droppedMalformed
            case .unreachableFamily: droppedUnreachableFamily
            case .noHeadroom: droppedNoHeadroom
            case .sendFailed: droppedSendFailed
            }
        }
        set {
            switch reason {
            case .truncated: droppedTruncated = newValue
            case .malformed: droppedMalformed = newValue
            case .unreachableFamily: droppedUnreachableFamily = newValue
            case .noHeadroom: droppedNoHeadroom = newValue
            case .sendFailed: droppedSendFailed = newValue
            }
        }
    }

    /// All drops.
    public var packetsDropped: UInt64 { DropReason.allCases.reduce(0) { $0 + self[dropped: $1] } }
}

/// A device that moves batches of packets through a `BufferPool`.
///
/// Threading: an instance is used by one thread at a time, and with io_uring by one thread for
/// its whole life (the ring is bound to the first thread that submits). To receive on one thread
/// and send on another, open two instances over the same socket or TUN device, each with the
/// pool of its own thread. Sends release buffers to `pool`, so packets given to `send` must come
/// from that same pool.
public protocol PacketIO: AnyObject {
    /// The pool receive fills and send returns buffers to.
    var pool: BufferPool { get }

    /// Appends up to `batch.remainingCapacity` received packets to `batch` and returns how many.
    /// Waits up to `timeout` when nothing is ready (zero: never waits); may return 0 early.
    /// Each packet owns a buffer reference that the caller must send or release.
    func receive(into batch: inout PacketBatch, timeout: Duration) throws(Errno) -> Int

    /// Sends every packet in `batch` and empties it. Buffers go back to `pool` once the kernel
    /// is done with them (now, or when an asynchronous send completes). Per-packet failures are
    /// counted in `statistics`, not thrown; a thrown error means the device itself failed.
    func send(_ batch: inout PacketBatch) throws(Errno)

    /// Counters since creation.
    var statistics: IOStatistics { get }
}

/// Which kernel interface a driver uses.
public enum IOBackend: String, Hashable, Sendable {
    /// io_uring: multishot receive into provided buffer rings, batched submissions.
    case ioUring
    /// Plain batched syscalls: recvmmsg/sendmmsg for UDP, read/write for TUN, poll to wait.
    case syscalls
}

/// Why an I/O driver could not be set up.
public enum IOBackendError: Error, Hashable, Sendable, CustomStringConvertible {
    /// io_uring cannot be used here (ENOSYS: old kernel; EPERM: seccomp or
    /// kernel.io_uring_disabled; ENOMEM: locked-memory limit). Use the `.syscalls` backend.
    case ioUringUnavailable(reason: String)
    /// io_uring works but lacks an operation this driver needs (e.g. multishot READ, Linux 6.7).
    case ioUringMissingFeature(String)
    /// A system call failed while setting up the driver.
    case system(operation: String, Errno)

    public var description: String {
        switch self {
        case .ioUringUnavailable(let reason): "io_uring unavailable: \(reason)"
        case .ioUringMissingFeature(let feature): "io_uring lacks \(feature)"
        case .system(let operation, let error): "\(operation): \(error)"
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, clamped to Int32 for poll(2).
    var pollMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        if milliseconds.overflow || milliseconds.partialValue > Int64(Int32.max) { return Int32.max }
        let extra = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds.partialValue + extra)
    }

    /// Seconds and nanoseconds, never negative, for io_uring's timespec.
    var timespecComponents: (seconds: Int64, nanoseconds: Int64) {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds < 0) { return (0, 0) }
        return (seconds, attoseconds / 1_000_000_000)
    }
}
