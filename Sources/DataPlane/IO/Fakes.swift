// In-memory `PacketIO` devices for tests and simulations of the protocol core: no kernel, no
// threads, no clock. A FakeNetwork connects FakeUDP sockets by endpoint and may drop datagrams
// (loss and partitions are modelled there, since the machines have no netem). Receives never
// wait: whoever drives the simulation also drives time.

/// An in-memory UDP network between `FakeUDP` sockets. Single-threaded.
public final class FakeNetwork: @unchecked Sendable {
    /// Decides the fate of each datagram: return false to drop it.
    public var filter: ((_ source: Endpoint, _ destination: Endpoint, _ bytes: UnsafeRawBufferPointer) -> Bool)?
    /// Datagrams sent to an endpoint without a socket, or refused by a full inbox or pool.
    public private(set) var undeliverable: UInt64 = 0
    /// Datagrams the filter dropped.
    public private(set) var filtered: UInt64 = 0

    private final class Attachment {
        weak var socket: FakeUDP?
        init(_ socket: FakeUDP) { self.socket = socket }
    }
    private var sockets: [Endpoint: Attachment] = [:]

    public init() {}

    func attach(_ socket: FakeUDP) {
        sockets[socket.localEndpoint] = Attachment(socket)
    }

    /// Forgets the socket at `endpoint` once it is gone (its weak reference is nil during its
    /// deinit), leaving a newer socket at the same endpoint attached.
    func detach(_ endpoint: Endpoint) {
        if sockets[endpoint]?.socket == nil { sockets[endpoint] = nil }
    }

    func carry(from source: Endpoint, to destination: Endpoint, _ bytes: UnsafeRawBufferPointer) {
        if let filter, !filter(source, destination, bytes) {
            filtered += 1
            return
        }
        guard let socket = sockets[destination]?.socket, socket.inject(bytes, from: source) else {
            undeliverable += 1
            return
        }
    }
}

/// A UDP socket in memory: datagrams arrive by `inject` or from a `FakeNetwork`, and sent
/// datagrams are recorded and, with a network, carried to their destination.
public final class FakeUDP: PacketIO, @unchecked Sendable {
    public let pool: BufferPool
    public let localEndpoint: Endpoint
    public let network: FakeNetwork?
    public private(set) var statistics = IOStatistics()
    /// Whether `send` keeps a copy of every datagram for `takeSent()`.
    public var recordsSent: Bool

    private var inbox: ReceiveQueue
    private var sent: [(endpoint: Endpoint, bytes: [UInt8])] = []

    /// `inboxCapacity` datagrams may wait to be received; more are dropped as a full socket
    /// buffer would drop them.
    public init(pool: BufferPool, localEndpoint: Endpoint, network: FakeNetwork? = nil,
                inboxCapacity: Int = 1024, recordsSent: Bool = true) {
        self.pool = pool
        self.localEndpoint = localEndpoint
        self.network = network
        self.recordsSent = recordsSent
        inbox = ReceiveQueue(capacity: inboxCapacity)
        network?.attach(self)
    }

    deinit {
        network?.detach(localEndpoint)
        inbox.releaseAll(to: pool)
    }

    /// Queues a datagram as received from `source`; false if it was dropped (inbox full, pool
    /// empty, or larger than a slot's payload).
    @discardableResult
    public func inject(_ bytes: UnsafeRawBufferPointer, from source: Endpoint) -> Bool {
        guard !inbox.isFull, let packet = pool.makePacket(copying: bytes, endpoint: source) else { return false }
        inbox.push(ReceiveQueue.Entry(buffer: packet.buffer, flags: [], offset: packet.offset, length: packet.length,
                                      endpoint: source, segmentSize: 0))
        return true
    }

    /// `inject` for an array.
    @discardableResult
    public func inject(_ bytes: [UInt8], from source: Endpoint) -> Bool {
        bytes.withUnsafeBytes { inject($0, from: source) }
    }

    /// Datagrams waiting to be received.
    public var pendingCount: Int { inbox.count }

    public func receive(into batch: inout PacketBatch, timeout: Duration) throws(Errno) -> Int {
        let delivery = inbox.deliver(into: &batch, pool: pool)
        statistics.packetsReceived &+= UInt64(delivery.packets)
        statistics.bytesReceived &+= UInt64(delivery.bytes)
        return delivery.packets
    }

    public func send(_ batch: inout PacketBatch) throws(Errno) {
        for i in 0..<batch.count {
            let packet = batch[i]
            let bytes = UnsafeRawBufferPointer(pool.payload(of: packet))
            if recordsSent { sent.append((packet.endpoint, Array(bytes))) }
            statistics.packetsSent &+= 1
            statistics.bytesSent &+= UInt64(packet.length)
            network?.carry(from: localEndpoint, to: packet.endpoint, bytes)
        }
        batch.releaseAll(to: pool)
    }

    /// The datagrams sent since the last call, oldest first.
    public func takeSent() -> [(endpoint: Endpoint, bytes: [UInt8])] {
        defer { sent.removeAll() }
        return sent
    }
}

/// A TUN device in memory: packets "from the kernel" arrive by `inject`, packets the engine
/// writes are recorded for `takeWritten()` (and handed to `onWrite`, if set).
public final class FakeTUN: PacketIO, @unchecked Sendable {
    public let pool: BufferPool
    public private(set) var statistics = IOStatistics()
    /// Called with each written packet, e.g. to loop it into another node of a simulation.
    public var onWrite: ((UnsafeRawBufferPointer) -> Void)?
    /// Whether `send` keeps a copy of every packet for `takeWritten()`.
    public var recordsWritten: Bool

    private var inbox: ReceiveQueue
    private var written: [[UInt8]] = []

    public init(pool: BufferPool, inboxCapacity: Int = 1024, recordsWritten: Bool = true) {
        self.pool = pool
        self.recordsWritten = recordsWritten
        inbox = ReceiveQueue(capacity: inboxCapacity)
    }

    deinit {
        inbox.releaseAll(to: pool)
    }

    /// Queues an IP packet as read from the device; false if it was dropped (inbox full, pool
    /// empty, or larger than a slot's payload).
    @discardableResult
    public func inject(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !inbox.isFull, let packet = pool.makePacket(copying: bytes) else { return false }
        inbox.push(ReceiveQueue.Entry(buffer: packet.buffer, flags: [], offset: packet.offset, length: packet.length,
                                      endpoint: .unspecified, segmentSize: 0))
        return true
    }

    /// `inject` for an array.
    @discardableResult
    public func inject(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { inject($0) }
    }

    /// Packets waiting to be received.
    public var pendingCount: Int { inbox.count }

    public func receive(into batch: inout PacketBatch, timeout: Duration) throws(Errno) -> Int {
        let delivery = inbox.deliver(into: &batch, pool: pool)
        statistics.packetsReceived &+= UInt64(delivery.packets)
        statistics.bytesReceived &+= UInt64(delivery.bytes)
        return delivery.packets
    }

    public func send(_ batch: inout PacketBatch) throws(Errno) {
        for i in 0..<batch.count {
            let bytes = UnsafeRawBufferPointer(pool.payload(of: batch[i]))
            if recordsWritten { written.append(Array(bytes)) }
            onWrite?(bytes)
            statistics.packetsSent &+= 1
            statistics.bytesSent &+= UInt64(bytes.count)
        }
        batch.releaseAll(to: pool)
    }

    /// The packets written since the last call, oldest first.
    public func takeWritten() -> [[UInt8]] {
        defer { written.removeAll() }
        return written
    }
}
