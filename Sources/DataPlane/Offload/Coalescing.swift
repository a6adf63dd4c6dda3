// Receive coalescing done in software: what Linux GRO does for TCP (tcp_gro_receive), on the
// packets one receive batch decrypted. In-order segments of one TCP flow are merged into a
// super-packet that a vnet-header TUN takes in one write with a GSO header (virtio 1.x
// §5.1.6.2), so the receiver's TCP stack handles one packet — and acknowledges once — where it
// would have handled dozens. The rules are GRO's: only pure data segments (ACK, maybe PSH), same
// headers but for length, sequence and checksum, contiguous sequence numbers, equal sizes but a
// shorter last one, nothing after a PSH.

import Glibc

/// Merges TCP segments of a batch into super-packets, preserving the order of every flow.
///
/// Use: `add` every packet of a batch in order, then `drain` writes the result in runs. Packets
/// that cannot be merged pass through untouched (no copy); a flow's first segment is copied
/// into a coalescing slot only when a second one joins it. Allocates nothing after `init`.
public struct TCPCoalescer: ~Copyable {
    /// One output packet: a packet passed through, or a flow's super-packet being built.
    private struct Entry {
        var packet: Packet
        /// Where the packet's bytes are now (its first segment's headers are the template).
        var packetAddress: UnsafeRawPointer
        /// The packet lives in the coalescing pool (two or more segments merged).
        var merged = false
        /// Still accepting segments.
        var open = false
        var isIPv6 = false
        var ipHeaderLength = 0
        var headersLength = 0
        var segmentSize = 0
        var segments = 1
        var nextSequence: UInt32 = 0
        /// The last segment was short or carried PSH: nothing may follow it.
        var ended = false
    }

    private let entries: UnsafeMutablePointer<Entry>
    /// Entries still open, by index; linear search is fine for the few flows of one batch.
    private let openEntries: UnsafeMutablePointer<Int>
    public let capacity: Int
    private let openCapacity: Int
    private var count = 0
    private var openCount = 0
    /// Super-packets built so far (for statistics).
    public private(set) var mergedPackets: UInt64 = 0
    /// Segments that went into them.
    public private(set) var mergedSegments: UInt64 = 0

    /// Room for `capacity` packets per batch, tracking up to `flows` flows at a time.
    public init(capacity: Int, flows: Int = 16) {
        self.capacity = max(1, capacity)
        openCapacity = max(1, flows)
        entries = .allocate(capacity: self.capacity)
        openEntries = .allocate(capacity: openCapacity)
    }

    deinit {
        entries.deinitialize(count: count)
        entries.deallocate()
        openEntries.deallocate()
    }

    /// Takes `packet` (an IP packet in `pool`, owned by the coalescer from now on). Segments
    /// are merged into slots of `coalescingPool`, whose headroom must hold a virtio header.
    public mutating func add(_ packet: Packet, pool: BufferPool, coalescingPool: BufferPool) {
        precondition(count < capacity, "TCPCoalescer: more packets than capacity")
        let bytes = UnsafeRawBufferPointer(pool.payload(of: packet))
        guard let segment = Segment(bytes) else {
            closeFlow(matching: bytes)
            append(Entry(packet: packet, packetAddress: bytes.baseAddress!))
            return
        }
        if let slot = findOpen(segment, bytes) {
            if appendSegment(segment, bytes, to: slot, pool: pool, coalescingPool: coalescingPool) {
                pool.release(packet.buffer)
                return
            }
            close(slot)
        }
        var entry = Entry(packet: packet, packetAddress: bytes.baseAddress!, open: !segment.ends, isIPv6: segment.isIPv6,
                          ipHeaderLength: segment.ipHeaderLength, headersLength: segment.headersLength,
                          segmentSize: segment.payloadLength, nextSequence: segment.sequence &+ UInt32(segment.payloadLength))
        entry.ended = segment.ends
        append(entry)
        if entry.open {
            if openCount == openCapacity { close(openEntries[0]) }
            openEntries[openCount] = count - 1
            openCount += 1
        }
    }

    /// Hands the packets out in order, in runs: `write(batch, merged)` gets consecutive packets
    /// of one kind — passed-through ones (from `pool`) or super-packets (from `coalescingPool`,
    /// each with its virtio header written). Empties the coalescer.
    public mutating func drain(pool: BufferPool, coalescingPool: BufferPool, into batch: inout PacketBatch,
                               write: (inout PacketBatch, _ merged: Bool) -> Void) {
        var runMerged = false
        for index in 0..<count {
            let entry = entries[index]
            if entry.merged != runMerged || batch.isFull {
                if !batch.isEmpty { write(&batch, runMerged) }
                runMerged = entry.merged
            }
            var packet = entry.packet
            if entry.merged {
                finish(entry, &packet, in: coalescingPool)
                mergedPackets &+= 1
                mergedSegments &+= UInt64(entry.segments)
            }
            batch.append(packet)
        }
        if !batch.isEmpty { write(&batch, runMerged) }
        entries.deinitialize(count: count)
        count = 0
        openCount = 0
    }

    // MARK: Merging

    private mutating func append(_ entry: Entry) {
        (entries + count).initialize(to: entry)
        count += 1
    }

    private func findOpen(_ segment: Segment, _ bytes: UnsafeRawBufferPointer) -> Int? {
        for i in 0..<openCount {
            let index = openEntries[i]
            let entry = entries[index]
            if entry.isIPv6 == segment.isIPv6 && entry.headersLength == segment.headersLength
                && entry.ipHeaderLength == segment.ipHeaderLength && sameFlow(entries[index], bytes) {
                return index
            }
        }
        return nil
    }

    /// Addresses and ports equal (the flow), compared on the entry's stored first packet.
    private func sameFlow(_ entry: Entry, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let head = headerBytes(of: entry)
        let ports = entry.ipHeaderLength
        if entry.isIPv6 {
            return head.loadUnaligned(fromByteOffset: 8, as: (UInt64, UInt64, UInt64, UInt64).self)
                == bytes.loadUnaligned(fromByteOffset: 8, as: (UInt64, UInt64, UInt64, UInt64).self)
                && head.loadUnaligned(fromByteOffset: ports, as: UInt32.self) == bytes.loadUnaligned(fromByteOffset: ports, as: UInt32.self)
        }
        return head.loadUnaligned(fromByteOffset: 12, as: UInt64.self) == bytes.loadUnaligned(fromByteOffset: 12, as: UInt64.self)
            && head.loadUnaligned(fromByteOffset: ports, as: UInt32.self) == bytes.loadUnaligned(fromByteOffset: ports, as: UInt32.self)
    }

    /// The stored headers of an entry (its first segment's, wherever it lives now).
    private func headerBytes(of entry: Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: entry.packetAddress, count: entry.headersLength)
    }

    /// Appends a segment to an open entry if GRO's rules allow; copies the entry's first
    /// segment into a coalescing slot on the first merge.
    private mutating func appendSegment(_ segment: Segment, _ bytes: UnsafeRawBufferPointer, to index: Int,
                                        pool: BufferPool, coalescingPool: BufferPool) -> Bool {
        var entry = entries[index]
        guard !entry.ended, segment.sequence == entry.nextSequence, segment.payloadLength <= entry.segmentSize,
              entry.packet.length + segment.payloadLength <= min(65_535, coalescingPool.layout.payloadCapacity),
              Segment.sameHeaders(headerBytes(of: entry), bytes, isIPv6: entry.isIPv6,
                                  ipHeaderLength: entry.ipHeaderLength, headersLength: entry.headersLength)
        else { return false }
        if !entry.merged {
            guard let slot = coalescingPool.take() else { return false }
            let offset = coalescingPool.layout.headroom
            let target = coalescingPool.address(of: slot) + offset
            target.copyMemory(from: pool.address(of: entry.packet.buffer) + entry.packet.offset, byteCount: entry.packet.length)
            pool.release(entry.packet.buffer)
            entry.packet = Packet(buffer: slot, offset: offset, length: entry.packet.length)
            entry.packetAddress = UnsafeRawPointer(target)
            entry.merged = true
        }
        let target = coalescingPool.address(of: entry.packet.buffer) + entry.packet.offset + entry.packet.length
        target.copyMemory(from: bytes.baseAddress! + segment.headersLength, byteCount: segment.payloadLength)
        entry.packet.length += segment.payloadLength
        entry.segments += 1
        entry.nextSequence = segment.sequence &+ UInt32(segment.payloadLength)
        // A PSH on the segment now last is carried on the super-packet (tcp_gro_complete keeps
        // the flags of the last segment merged only for PSH and FIN; FIN never merges).
        if segment.push {
            let flagsOffset = entry.ipHeaderLength + 13
            let head = UnsafeMutableRawPointer(mutating: entry.packetAddress)
            head.storeBytes(of: head.load(fromByteOffset: flagsOffset, as: UInt8.self) | 0x08,
                            toByteOffset: flagsOffset, as: UInt8.self)
        }
        if segment.ends || segment.payloadLength < entry.segmentSize { entry.ended = true }
        entries[index] = entry
        if entry.ended { close(index) }
        return true
    }

    private mutating func close(_ index: Int) {
        entries[index].open = false
        for i in 0..<openCount where openEntries[i] == index {
            (openEntries + i).update(from: openEntries + i + 1, count: openCount - i - 1)
            openCount -= 1
            return
        }
    }

    /// A packet of a flow that cannot merge (a FIN, SYN, pure ACK…) closes that flow's open
    /// entry, so that nothing later is merged ahead of it.
    private mutating func closeFlow(matching bytes: UnsafeRawBufferPointer) {
        guard openCount > 0, let flow = Segment.flowHeaders(bytes) else { return }
        var i = 0
        while i < openCount {
            let entry = entries[openEntries[i]]
            if entry.isIPv6 == flow.isIPv6 && entry.ipHeaderLength == flow.ipHeaderLength && sameFlow(entry, bytes) {
                close(openEntries[i])
            } else {
                i += 1
            }
        }
    }

    /// Writes the super-packet's lengths, IPv4 header checksum, partial TCP checksum and the
    /// virtio header that tells the kernel how it was built.
    private func finish(_ entry: Entry, _ packet: inout Packet, in coalescingPool: BufferPool) {
        let bytes = coalescingPool.payload(of: packet)
        let ip = entry.ipHeaderLength
        if entry.isIPv6 {
            bytes.storeBytes(of: UInt16(truncatingIfNeeded: packet.length - 40).bigEndian, toByteOffset: 4, as: UInt16.self)
        } else {
            bytes.storeBytes(of: UInt16(truncatingIfNeeded: packet.length).bigEndian, toByteOffset: 2, as: UInt16.self)
            bytes.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
            let checksum = InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<ip]))
            bytes.storeBytes(of: checksum.bigEndian, toByteOffset: 10, as: UInt16.self)
        }
        // NEEDS_CSUM: the field holds the pseudo-header sum and the kernel treats the data as
        // verified (CHECKSUM_PARTIAL), which it is: WireGuard authenticated every segment.
        let sum = IPHeaders.pseudoHeaderSum(UnsafeRawBufferPointer(bytes), isIPv6: entry.isIPv6, protocolNumber: 6,
                                            transportLength: packet.length - ip)
        bytes.storeBytes(of: sum.sum16.bigEndian, toByteOffset: ip + 16, as: UInt16.self)
        let header = VirtioNetHeader(needsChecksum: true, segmentation: entry.isIPv6 ? .tcpIPv6 : .tcpIPv4,
                                     headerLength: UInt16(entry.headersLength), segmentSize: UInt16(entry.segmentSize),
                                     checksumStart: UInt16(ip), checksumOffset: 16)
        header.write(to: UnsafeMutableRawBufferPointer(start: bytes.baseAddress! - VirtioNetHeader.size, count: VirtioNetHeader.size))
        packet.flags.insert(.virtioNetHeader)
    }
}

/// A TCP segment as the coalescer sees it.
private struct Segment {
    let isIPv6: Bool
    let ipHeaderLength: Int
    let headersLength: Int
    let payloadLength: Int
    let sequence: UInt32
    let push: Bool
    /// Nothing may be merged after this segment.
    var ends: Bool { push }

    /// A mergeable segment: IPv4 (not a fragment) or IPv6 without extension headers, TCP with
    /// data and only ACK (and maybe PSH) set, lengths consistent. Nil for anything else.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard let flow = Segment.flowHeaders(bytes) else { return nil }
        let ip = flow.ipHeaderLength
        if flow.isIPv6 {
            guard Int(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self))) + 40 == bytes.count else { return nil }
        } else {
            guard Int(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self))) == bytes.count,
                  UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) & 0x3FFF == 0 else { return nil }
        }
        let tcpHeaderLength = Int(bytes[ip + 12] >> 4) * 4
        let flags = bytes[ip + 13]
        guard tcpHeaderLength >= 20, ip + tcpHeaderLength < bytes.count, flags & ~0x08 == 0x10 else { return nil }
        isIPv6 = flow.isIPv6
        ipHeaderLength = ip
        headersLength = ip + tcpHeaderLength
        payloadLength = bytes.count - headersLength
        sequence = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: ip + 4, as: UInt32.self))
        push = flags & 0x08 != 0
    }

    /// The IP version and header length of a TCP packet with room for a TCP header; nil otherwise.
    static func flowHeaders(_ bytes: UnsafeRawBufferPointer) -> (isIPv6: Bool, ipHeaderLength: Int)? {
        guard bytes.count >= 40 else { return nil }
        switch bytes[0] >> 4 {
        case 4:
            let ip = Int(bytes[0] & 0x0F) * 4
            guard ip >= 20, bytes[9] == 6, bytes.count >= ip + 20 else { return nil }
            return (false, ip)
        case 6:
            guard bytes[6] == 6, bytes.count >= 60 else { return nil }
            return (true, 40)
        default:
            return nil
        }
    }

    /// Every header field GRO requires to be equal is (tcp_gro_receive, inet_gro_receive):
    /// IP version, TOS/traffic class and flow label, DF, TTL/hop limit, addresses, IP options;
    /// ports, acknowledgment number, data offset, flags but PSH, window, urgent pointer, options.
    static func sameHeaders(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, isIPv6: Bool,
                            ipHeaderLength ip: Int, headersLength: Int) -> Bool {
        func equal(_ range: Range<Int>) -> Bool {
            memcmp(a.baseAddress! + range.lowerBound, b.baseAddress! + range.lowerBound, range.count) == 0
        }
        if isIPv6 {
            guard equal(0..<4), a[7] == b[7], equal(8..<40) else { return false }
        } else {
            guard a[0] == b[0], a[1] == b[1], a[6] & 0x40 == b[6] & 0x40, a[8] == b[8], equal(12..<ip) else { return false }
        }
        return equal(ip..<ip + 4) && equal(ip + 8..<ip + 13) && a[ip + 13] | 0x08 == b[ip + 13] | 0x08
            && equal(ip + 14..<ip + 16) && equal(ip + 18..<headersLength)
    }
}
