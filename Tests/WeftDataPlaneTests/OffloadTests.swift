import Testing
@testable import WeftDataPlane

/// Packets as a vnet-header TUN hands them over (TSO/USO super-packets with a partial checksum)
/// and as the engine's software GSO/GRO must cut and merge them.
enum OffloadFixture {
    static let source4: [UInt8] = [100, 64, 0, 1]
    static let destination4: [UInt8] = [100, 64, 0, 2]
    static let source6: [UInt8] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    static let destination6: [UInt8] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]

    static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    static func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    /// An IPv4 or IPv6 packet carrying a TCP segment with the timestamp option (32-byte TCP
    /// header), correct checksums unless `partial`, where the TCP field holds the pseudo-header sum.
    static func tcp(v6: Bool = false, payload: [UInt8], sequence: UInt32 = 1000, ack: UInt32 = 7,
                    flags: UInt8 = 0x10, ttl: UInt8 = 64, sourcePort: Int = 40000, identification: Int = 0x1234,
                    partial: Bool = false) -> [UInt8] {
        var tcp = be16(sourcePort) + be16(5201) + be32(sequence) + be32(ack) + [0x80, flags] + be16(502) + [0, 0, 0, 0]
        tcp += [1, 1, 8, 10] + be32(0xAABB_CCDD) + be32(0x1122_3344)
        tcp += payload
        return ip(v6: v6, protocolNumber: 6, transport: tcp, checksumOffset: 16, ttl: ttl,
                  identification: identification, partial: partial)
    }

    static func udp(v6: Bool = false, payload: [UInt8], partial: Bool = false) -> [UInt8] {
        let udp = be16(40000) + be16(5201) + be16(8 + payload.count) + [0, 0] + payload
        return ip(v6: v6, protocolNumber: 17, transport: udp, checksumOffset: 6, ttl: 64, identification: 0x4000,
                  partial: partial)
    }

    static func ip(v6: Bool, protocolNumber: UInt8, transport: [UInt8], checksumOffset: Int, ttl: UInt8,
                   identification: Int, partial: Bool) -> [UInt8] {
        var packet: [UInt8]
        if v6 {
            packet = [0x60, 0, 0, 0] + be16(transport.count) + [protocolNumber, ttl] + source6 + destination6
        } else {
            packet = [0x45, 0] + be16(20 + transport.count) + be16(identification) + [0x40, 0, ttl, protocolNumber, 0, 0]
                + source4 + destination4
            let checksum = packet.withUnsafeBytes { InternetChecksum.checksum($0) }
            packet[10] = UInt8(checksum >> 8)
            packet[11] = UInt8(checksum & 0xFF)
        }
        let start = packet.count
        packet += transport
        let pseudo = pseudoHeaderSum(packet, transportStart: start, protocolNumber: protocolNumber)
        let value: UInt16
        if partial {
            value = pseudo.sum16
        } else {
            var sum = pseudo
            packet.withUnsafeBytes { sum.add(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            value = sum.checksum
        }
        packet[start + checksumOffset] = UInt8(value >> 8)
        packet[start + checksumOffset + 1] = UInt8(value & 0xFF)
        return packet
    }

    static func pseudoHeaderSum(_ packet: [UInt8], transportStart: Int, protocolNumber: UInt8) -> InternetChecksum {
        var sum = InternetChecksum()
        let length = packet.count - transportStart
        packet.withUnsafeBytes { bytes in
            if packet[0] >> 4 == 6 {
                sum.add(UnsafeRawBufferPointer(rebasing: bytes[8..<40]))
                sum.add(UInt32(length))
                sum.add(UInt32(protocolNumber))
            } else {
                sum.add(UnsafeRawBufferPointer(rebasing: bytes[12..<20]))
                sum.add(UInt16(protocolNumber))
                sum.add(UInt16(length))
            }
        }
        return sum
    }

    /// The transport checksum of a complete packet verifies.
    static func transportChecksumValid(_ packet: [UInt8]) -> Bool {
        let start = packet[0] >> 4 == 6 ? 40 : Int(packet[0] & 0x0F) * 4
        let protocolNumber = packet[0] >> 4 == 6 ? packet[6] : packet[9]
        var sum = pseudoHeaderSum(packet, transportStart: start, protocolNumber: protocolNumber)
        packet.withUnsafeBytes { sum.add(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        return sum.isValid
    }

    static func ipv4HeaderValid(_ packet: [UInt8]) -> Bool {
        packet.withUnsafeBytes { InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<20])) } == 0
    }

    static func payload(count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } }

    /// Runs the segmenter and returns the packets it wrote.
    static func segment(_ packet: [UInt8], header: VirtioNetHeader) throws(SegmentationOffload.Failure) -> [[UInt8]] {
        var input = packet
        var outputs: [[UInt8]] = []
        var buffers: [UnsafeMutableRawBufferPointer] = []
        defer { for buffer in buffers { buffer.deallocate() } }
        let result = input.withUnsafeMutableBytes { bytes in
            Result { () throws(SegmentationOffload.Failure) in
                try SegmentationOffload.segment(bytes, header: header) { length in
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
                    buffers.append(buffer)
                    return buffer
                }
            }
        }
        let count = try result.get()
        for buffer in buffers { outputs.append(Array(buffer)) }
        #expect(count == outputs.count)
        return outputs
    }
}

@Suite("Segmentation offload (software TSO/USO)")
struct SegmentationTests {
    typealias F = OffloadFixture

    @Test(arguments: [false, true])
    func tcpSuperPacketIsCutIntoValidSegments(v6: Bool) throws {
        let payload = F.payload(count: 10_000)
        let mss = 1368
        let superPacket = F.tcp(v6: v6, payload: payload, sequence: 0xFFFF_F000, flags: 0x18 | 0x01 | 0x80, partial: true)
        let ipLength = v6 ? 40 : 20
        let header = VirtioNetHeader(needsChecksum: true, segmentation: v6 ? .tcpIPv6 : .tcpIPv4,
                                     headerLength: UInt16(ipLength + 32), segmentSize: UInt16(mss),
                                     checksumStart: UInt16(ipLength), checksumOffset: 16)
        let segments = try F.segment(superPacket, header: header)
        #expect(segments.count == (payload.count + mss - 1) / mss)
        var joined: [UInt8] = []
        for (index, segment) in segments.enumerated() {
            let last = index == segments.count - 1
            #expect(segment.count == ipLength + 32 + (last ? payload.count - mss * index : mss))
            #expect(F.transportChecksumValid(segment), "segment \(index) TCP checksum")
            if v6 {
                #expect(Int(segment[4]) << 8 | Int(segment[5]) == segment.count - 40)
            } else {
                #expect(Int(segment[2]) << 8 | Int(segment[3]) == segment.count)
                #expect(Int(segment[4]) << 8 | Int(segment[5]) == 0x1234 + index)
                #expect(F.ipv4HeaderValid(segment))
            }
            let sequence = segment[ipLength + 4 ..< ipLength + 8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(sequence == 0xFFFF_F000 &+ UInt32(index * mss))
            let flags = segment[ipLength + 13]
            #expect(flags & 0x10 != 0)
            #expect((flags & 0x09 != 0) == last, "PSH and FIN only on the last segment")
            #expect((flags & 0x80 != 0) == (index == 0), "CWR only on the first segment")
            joined += segment[(ipLength + 32)...]
        }
        #expect(joined == payload)
    }

    @Test(arguments: [false, true])
    func udpSuperPacketIsCutIntoDatagrams(v6: Bool) throws {
        let payload = F.payload(count: 4000)
        let ipLength = v6 ? 40 : 20
        let header = VirtioNetHeader(needsChecksum: true, segmentation: .udpL4, headerLength: UInt16(ipLength + 8),
                                     segmentSize: 1400, checksumStart: UInt16(ipLength), checksumOffset: 6)
        let segments = try F.segment(F.udp(v6: v6, payload: payload, partial: true), header: header)
        #expect(segments.map(\.count) == [1400, 1400, 1200].map { $0 + ipLength + 8 })
        for segment in segments {
            #expect(F.transportChecksumValid(segment))
            #expect(Int(segment[ipLength + 4]) << 8 | Int(segment[ipLength + 5]) == segment.count - ipLength)
        }
        #expect(segments.flatMap { $0[(ipLength + 8)...] } == payload)
    }

    @Test func partialChecksumOfASinglePacketIsCompleted() throws {
        let packet = F.tcp(payload: F.payload(count: 300), partial: true)
        #expect(!F.transportChecksumValid(packet))
        let header = VirtioNetHeader(needsChecksum: true, checksumStart: 20, checksumOffset: 16)
        let out = try F.segment(packet, header: header)
        #expect(out.count == 1)
        #expect(F.transportChecksumValid(out[0]))
        // Without NEEDS_CSUM the packet passes untouched.
        #expect(try F.segment(F.tcp(payload: [1, 2, 3]), header: VirtioNetHeader()) == [F.tcp(payload: [1, 2, 3])])
    }

    @Test func truncatedAndMalformedSuperPacketsAreRefused() {
        let packet = F.tcp(payload: F.payload(count: 3000), partial: true)
        let header = VirtioNetHeader(needsChecksum: true, segmentation: .tcpIPv4, headerLength: 52, segmentSize: 1000,
                                     checksumStart: 20, checksumOffset: 16)
        // Cut at every header offset: refused, never a crash.
        for length in 0...52 {
            #expect(throws: SegmentationOffload.Failure.self) { _ = try F.segment(Array(packet.prefix(length)), header: header) }
        }
        var wrongType = header
        wrongType.segmentation = .tcpIPv6
        #expect(throws: SegmentationOffload.Failure.malformed) { _ = try F.segment(packet, header: wrongType) }
        var ufo = header
        ufo.segmentation = .udp
        #expect(throws: SegmentationOffload.Failure.unsupported) { _ = try F.segment(packet, header: ufo) }
        var zeroSize = header
        zeroSize.segmentSize = 0
        #expect(throws: SegmentationOffload.Failure.malformed) { _ = try F.segment(packet, header: zeroSize) }
        // A checksum field past the end of the packet.
        let badOffset = VirtioNetHeader(needsChecksum: true, checksumStart: UInt16(packet.count - 17), checksumOffset: 16)
        #expect(throws: SegmentationOffload.Failure.malformed) { _ = try F.segment(packet, header: badOffset) }
        var fragment = packet
        fragment[6] = 0x20  // MF
        #expect(throws: SegmentationOffload.Failure.malformed) { _ = try F.segment(fragment, header: header) }
    }

    @Test func runningOutOfBuffersStopsPartWay() {
        var packet = F.tcp(payload: F.payload(count: 5000), partial: true)
        let header = VirtioNetHeader(needsChecksum: true, segmentation: .tcpIPv4, headerLength: 52, segmentSize: 1000,
                                     checksumStart: 20, checksumOffset: 16)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        defer { scratch.deallocate() }
        var given = 0
        #expect(throws: SegmentationOffload.Failure.noBuffers) {
            _ = try packet.withUnsafeMutableBytes { bytes in
                try SegmentationOffload.segment(bytes, header: header) { length in
                    given += 1
                    return given <= 2 ? UnsafeMutableRawBufferPointer(rebasing: scratch[0..<length]) : nil
                }
            }
        }
        #expect(given == 3)
    }
}

@Suite("Receive coalescing (software GRO)")
struct CoalescingTests {
    typealias F = OffloadFixture

    /// Puts packets in a pool, runs them through a coalescer, and returns what was written per run.
    static func coalesce(_ packets: [[UInt8]]) -> [(merged: Bool, packets: [(bytes: [UInt8], header: VirtioNetHeader?)])] {
        let pool = BufferPool(capacity: 64)
        let superPool = BufferPool(capacity: 8, layout: .coalescing)
        var coalescer = TCPCoalescer(capacity: 64, flows: 4)
        for bytes in packets {
            let packet = bytes.withUnsafeBytes { pool.makePacket(copying: $0)! }
            coalescer.add(packet, pool: pool, coalescingPool: superPool)
        }
        var runs: [(merged: Bool, packets: [(bytes: [UInt8], header: VirtioNetHeader?)])] = []
        var batch = PacketBatch(capacity: 64)
        coalescer.drain(pool: pool, coalescingPool: superPool, into: &batch) { batch, merged in
            let from = merged ? superPool : pool
            var run: [(bytes: [UInt8], header: VirtioNetHeader?)] = []
            for i in 0..<batch.count { run.append((Array(from.payload(of: batch[i])), VirtioNetHeader(of: batch[i], in: from))) }
            runs.append((merged, run))
            batch.releaseAll(to: from)
        }
        #expect(pool.available == pool.capacity && superPool.available == superPool.capacity, "every slot returned")
        return runs
    }

    @Test(arguments: [false, true])
    func segmentsMergeBackIntoTheSuperPacket(v6: Bool) throws {
        let payload = F.payload(count: 20_000)
        let ipLength = v6 ? 40 : 20
        let original = F.tcp(v6: v6, payload: payload, flags: 0x18, partial: true)
        let header = VirtioNetHeader(needsChecksum: true, segmentation: v6 ? .tcpIPv6 : .tcpIPv4,
                                     headerLength: UInt16(ipLength + 32), segmentSize: 1368,
                                     checksumStart: UInt16(ipLength), checksumOffset: 16)
        let segments = try F.segment(original, header: header)
        let runs = Self.coalesce(segments)
        try #require(runs.count == 1 && runs[0].merged && runs[0].packets.count == 1)
        let merged = runs[0].packets[0]
        let gso = try #require(merged.header)
        #expect(gso.segmentation == (v6 ? .tcpIPv6 : .tcpIPv4))
        #expect(gso.needsChecksum && gso.segmentSize == 1368 && gso.headerLength == UInt16(ipLength + 32))
        #expect(gso.checksumStart == UInt16(ipLength) && gso.checksumOffset == 16)
        // The same packet the kernel handed over, partial checksum and all.
        #expect(merged.bytes == original)
        if !v6 { #expect(F.ipv4HeaderValid(merged.bytes)) }
    }

    @Test func flowsAreMergedApartAndInOrder() {
        let a = (0..<4).map { F.tcp(payload: F.payload(count: 1000), sequence: UInt32(1000 * $0), sourcePort: 1) }
        let b = (0..<3).map { F.tcp(payload: F.payload(count: 1000), sequence: UInt32(1000 * $0), sourcePort: 2) }
        let udp = F.udp(payload: [1, 2, 3])
        let runs = Self.coalesce([a[0], b[0], a[1], udp, b[1], a[2], b[2], a[3]])
        // Each flow's super-packet sits where its first segment was; flows may pass each other.
        #expect(runs.map(\.merged) == [true, false])
        #expect(runs.first?.packets.map(\.bytes.count) == [20 + 32 + 4000, 20 + 32 + 3000])
        #expect(runs.last?.packets.map(\.bytes) == [udp])
    }

    @Test func whatGROWouldNotMergeStaysApart() {
        func seg(_ index: Int, count: Int = 1000, flags: UInt8 = 0x10, ttl: UInt8 = 64, ack: UInt32 = 7) -> [UInt8] {
            F.tcp(payload: F.payload(count: count), sequence: UInt32(1000 * index), ack: ack, flags: flags, ttl: ttl)
        }
        // A gap in sequence numbers.
        #expect(Self.coalesce([seg(0), seg(2)]).flatMap(\.packets).count == 2)
        // Different TTL, different acknowledgment number.
        #expect(Self.coalesce([seg(0), seg(1, ttl: 63)]).flatMap(\.packets).count == 2)
        #expect(Self.coalesce([seg(0), seg(1, ack: 8)]).flatMap(\.packets).count == 2)
        // PSH ends a super-packet (and is kept on it); nothing joins after it.
        let pushed = Self.coalesce([seg(0), seg(1, flags: 0x18), seg(2)])
        #expect(pushed.map(\.merged) == [true, false])
        #expect(pushed[0].packets[0].bytes[33] == 0x18)
        // A short segment ends one too.
        #expect(Self.coalesce([seg(0), seg(1, count: 500), seg(2)]).map(\.packets.count) == [1, 1])
        // FIN, SYN and pure ACKs pass through and close the flow: later data stays behind them.
        let fin = F.tcp(payload: F.payload(count: 10), sequence: 2000, flags: 0x11)
        let runs = Self.coalesce([seg(0), seg(1), fin, seg(3), seg(4)])
        #expect(runs.map(\.merged) == [true, false, true])
        #expect(runs[1].packets[0].bytes == fin)
        let ack = F.tcp(payload: [], sequence: 9, flags: 0x10)
        #expect(Self.coalesce([ack, ack]).map(\.merged) == [false])
        // A lone segment is written as it came, without a GSO header.
        let single = Self.coalesce([seg(0)])
        #expect(single.map(\.merged) == [false] && single[0].packets[0].bytes == seg(0))
    }

    @Test func truncatedPacketsPassThroughUntouched() {
        let packet = F.tcp(payload: F.payload(count: 200))
        for length in stride(from: 0, through: packet.count, by: 7) {
            let cut = Array(packet.prefix(length))
            let runs = Self.coalesce([cut, cut])
            #expect(runs.flatMap(\.packets).map(\.bytes) == [cut, cut] || length == packet.count)
        }
    }
}
