import Glibc
import Testing
@testable import WeftDataPlane

@Suite("BufferPool and batches")
struct IOBufferPoolTests {
    @Test func standardLayoutIsTwoKilobyteSlots() {
        let layout = BufferPool.Layout.standard
        #expect(layout.slotSize == 2048)
        // WireGuard: 16-byte header before, padding (≤ 15) and 16-byte tag after a 1500-byte packet.
        #expect(layout.headroom >= 16 && layout.tailroom >= 31 && layout.payloadCapacity >= 1500)
        #expect(BufferPool.Layout(headroom: 1, payloadCapacity: 1, tailroom: 1).slotSize == 64)
        #expect(BufferPool.Layout.coalescing.payloadCapacity >= 65_535)
    }

    @Test func takesEverySlotOnceThenRunsDry() {
        let pool = BufferPool(capacity: 64)
        var seen = Set<UInt16>()
        for _ in 0..<64 {
            let index = pool.take()!
            #expect(seen.insert(index.rawValue).inserted)
            #expect(pool.referenceCount(index) == 1)
        }
        #expect(pool.available == 0)
        #expect(pool.take() == nil)
        for index in seen { pool.release(BufferIndex(rawValue: index)) }
        #expect(pool.available == 64)
    }

    @Test func slotsAreDisjointAndAligned() {
        let pool = BufferPool(capacity: 8)
        var starts: [Int] = []
        for _ in 0..<8 { starts.append(Int(bitPattern: pool.address(of: pool.take()!))) }
        starts.sort()
        #expect(starts.first! % 4096 == 0)
        for i in 1..<starts.count { #expect(starts[i] - starts[i - 1] == pool.slotSize) }
    }

    @Test func releasedSlotIsReusedFirst() {
        let pool = BufferPool(capacity: 4)
        let a = pool.take()!
        _ = pool.take()!
        pool.release(a)
        #expect(pool.take() == a)
    }

    @Test func referencesKeepASlotUntilTheLastRelease() {
        let pool = BufferPool(capacity: 2)
        let index = pool.take()!
        pool.retain(index)
        pool.retain(index)
        #expect(pool.referenceCount(index) == 3)
        pool.release(index)
        pool.release(index)
        #expect(pool.available == 1)
        pool.release(index)
        #expect(pool.available == 2)
        #expect(pool.referenceCount(index) == 0)
    }

    @Test func makePacketCopiesIntoTheHeadroomOffset() {
        let pool = BufferPool(capacity: 2)
        let bytes: [UInt8] = [1, 2, 3, 4, 5]
        let endpoint = Endpoint("198.18.0.2:9")!
        let packet = bytes.withUnsafeBytes { pool.makePacket(copying: $0, endpoint: endpoint) }!
        #expect(packet.offset == pool.layout.headroom)
        #expect(packet.length == 5)
        #expect(packet.endpoint == endpoint)
        #expect(Array(pool.payload(of: packet)) == bytes)
        let tooLarge = [UInt8](repeating: 0, count: pool.layout.payloadCapacity + 1)
        #expect(tooLarge.withUnsafeBytes { pool.makePacket(copying: $0) } == nil)
        #expect(pool.available == 1)
    }

    @Test func batchAppendsUpToCapacityAndFilters() {
        let pool = BufferPool(capacity: 8)
        var batch = PacketBatch(capacity: 4)
        for i in 0..<4 {
            let appended = batch.append(Packet(buffer: pool.take()!, offset: 0, length: i))
            #expect(appended)
        }
        let full = batch.isFull
        #expect(full)
        let spare = pool.take()!
        let appendedToFull = batch.append(Packet(buffer: spare, offset: 0, length: 9))
        #expect(!appendedToFull)
        pool.release(spare)
        batch.filter(keep: { $0.length % 2 == 0 }, discard: { pool.release($0.buffer) })
        let (count, first, second) = (batch.count, batch[0], batch[1])
        #expect(count == 2)
        #expect(first.length == 0 && second.length == 2)
        batch.releaseAll(to: pool)
        let empty = batch.isEmpty
        #expect(empty)
        #expect(pool.available == 8)
    }

    @Test func coalescedDatagramLeavesAsSegmentsAcrossBatches() {
        let pool = BufferPool(capacity: 4, layout: .coalescing)
        var queue = ReceiveQueue(capacity: 4)
        let source = Endpoint("198.18.0.1:51820")!
        let buffer = pool.take()!
        queue.push(.init(buffer: buffer, flags: [], offset: 128, length: 3000, endpoint: source, segmentSize: 1200))
        queue.push(.init(buffer: pool.take()!, flags: [], offset: 128, length: 100, endpoint: source, segmentSize: 0))

        var batch = PacketBatch(capacity: 2)
        let first = queue.deliver(into: &batch, pool: pool)
        #expect(first.packets == 2 && first.coalesced == 1 && first.bytes == 2400)
        let (a, b) = (batch[0], batch[1])
        #expect(a.offset == 128 && a.length == 1200 && a.flags.contains(.sharedBuffer))
        #expect(b.offset == 1328 && b.length == 1200)
        #expect(pool.referenceCount(buffer) == 3)
        batch.releaseAll(to: pool)

        let second = queue.deliver(into: &batch, pool: pool)
        #expect(second.packets == 2 && second.coalesced == 0)
        let (c, d) = (batch[0], batch[1])
        #expect(c.offset == 2528 && c.length == 600 && c.endpoint == source)
        #expect(d.length == 100 && !d.flags.contains(.sharedBuffer))
        batch.releaseAll(to: pool)
        #expect(queue.count == 0)
        #expect(pool.available == 4)
    }

    struct TrainCase: Sendable {
        let lengths: [Int]
        let endpoints: [Int]
        let expected: [Int]  // train lengths from the start, in order
    }

    static let trains: [TrainCase] = [
        TrainCase(lengths: [1200, 1200, 1200], endpoints: [0, 0, 0], expected: [3]),
        TrainCase(lengths: [1200, 1200, 800, 1200], endpoints: [0, 0, 0, 0], expected: [3, 1]),
        TrainCase(lengths: [1200, 1300, 1200], endpoints: [0, 0, 0], expected: [1, 2]),
        TrainCase(lengths: [1200, 1300, 1300], endpoints: [0, 0, 0], expected: [1, 2]),
        TrainCase(lengths: [800, 1200, 800, 800], endpoints: [0, 0, 0, 0], expected: [1, 2, 1]),
        TrainCase(lengths: [1200, 1200, 1200], endpoints: [0, 1, 1], expected: [1, 2]),
        TrainCase(lengths: [100], endpoints: [0], expected: [1]),
        TrainCase(lengths: [0, 0], endpoints: [0, 0], expected: [1, 1]),
        TrainCase(lengths: Array(repeating: 100, count: 70), endpoints: Array(repeating: 0, count: 70), expected: [64, 6]),
        // 65,507 bytes at most: 54 × 1200 = 64,800; a 55th would exceed it.
        TrainCase(lengths: Array(repeating: 1200, count: 60), endpoints: Array(repeating: 0, count: 60), expected: [54, 6]),
    ]

    @Test(arguments: trains)
    func segmentationTrains(_ test: TrainCase) {
        let pool = BufferPool(capacity: 128)
        var batch = PacketBatch(capacity: 128)
        let endpoints = [Endpoint("198.18.0.1:1")!, Endpoint("198.18.0.2:1")!]
        for (length, endpoint) in zip(test.lengths, test.endpoints) {
            batch.append(Packet(buffer: pool.take()!, offset: 0, length: length, endpoint: endpoints[endpoint]))
        }
        var found: [Int] = []
        var start = 0
        while start < batch.count {
            let length = UDPSegmentation.trainLength(batch, from: start)
            found.append(length)
            start += length
        }
        #expect(found == test.expected)
        batch.releaseAll(to: pool)
    }

    @Test func groControlMessageParsing() {
        var control = [UInt8](repeating: 0, count: 64)
        control.withUnsafeMutableBytes { raw in
            // An unrelated message first, then UDP_GRO with 1200.
            raw.storeBytes(of: 16 + 4, toByteOffset: 0, as: Int.self)
            raw.storeBytes(of: Int32(SOL_IP), toByteOffset: 8, as: Int32.self)
            raw.storeBytes(of: Int32(8), toByteOffset: 12, as: Int32.self)
            raw.storeBytes(of: 16 + 4, toByteOffset: 24, as: Int.self)
            raw.storeBytes(of: Int32(17), toByteOffset: 32, as: Int32.self)
            raw.storeBytes(of: Int32(104), toByteOffset: 36, as: Int32.self)
            raw.storeBytes(of: Int32(1200), toByteOffset: 40, as: Int32.self)
        }
        control.withUnsafeBytes { raw in
            #expect(ControlMessage.groSegmentSize(in: raw) == 1200)
            #expect(ControlMessage.groSegmentSize(in: UnsafeRawBufferPointer(rebasing: raw[0..<24])) == nil)
            #expect(ControlMessage.groSegmentSize(in: UnsafeRawBufferPointer(rebasing: raw[0..<10])) == nil)
        }
        // A length running past the buffer, or shorter than a header, is malformed.
        for badLength in [0, 8, 65, Int.max] {
            var bad = control
            bad.withUnsafeMutableBytes { $0.storeBytes(of: badLength, toByteOffset: 0, as: Int.self) }
            #expect(bad.withUnsafeBytes { ControlMessage.groSegmentSize(in: $0) } == nil)
        }
    }

    @Test func segmentControlMessageLayout() {
        var control = [UInt8](repeating: 0xEE, count: ControlMessage.udpSpace)
        let length = control.withUnsafeMutableBytes { ControlMessage.writeSegmentSize(1380, into: $0.baseAddress!) }
        #expect(length == ControlMessage.udpSpace)
        control.withUnsafeBytes { raw in
            #expect(raw.load(fromByteOffset: 0, as: Int.self) == 18)  // CMSG_LEN(sizeof(u16))
            #expect(raw.load(fromByteOffset: 8, as: Int32.self) == 17)  // SOL_UDP
            #expect(raw.load(fromByteOffset: 12, as: Int32.self) == 103)  // UDP_SEGMENT
            #expect(raw.load(fromByteOffset: 16, as: UInt16.self) == 1380)
        }
    }

    @Test func virtioHeaderRoundTrip() {
        let header = VirtioNetHeader(needsChecksum: true, segmentation: .tcpIPv4, explicitCongestionNotification: true,
                                     headerLength: 52, segmentSize: 1368, checksumStart: 20, checksumOffset: 16)
        var bytes = [UInt8](repeating: 0, count: VirtioNetHeader.size)
        bytes.withUnsafeMutableBytes { header.write(to: $0) }
        #expect(bytes == [0x01, 0x81, 52, 0, 0x58, 0x05, 20, 0, 16, 0])
        #expect(bytes.withUnsafeBytes { VirtioNetHeader($0) } == header)
        #expect([UInt8](repeating: 0, count: 9).withUnsafeBytes { VirtioNetHeader($0) } == nil)
        #expect([UInt8]([0, 2, 0, 0, 0, 0, 0, 0, 0, 0]).withUnsafeBytes { VirtioNetHeader($0) } == nil)
    }

    @Test func durationConversions() {
        #expect(Duration.zero.pollMilliseconds == 0)
        #expect(Duration.nanoseconds(1).pollMilliseconds == 1)
        #expect(Duration.milliseconds(250).pollMilliseconds == 250)
        #expect(Duration.seconds(-3).pollMilliseconds == 0)
        #expect(Duration.seconds(Int64.max / 2).pollMilliseconds == Int32.max)
        #expect(Duration.milliseconds(1500).timespecComponents == (1, 500_000_000))
    }
}
