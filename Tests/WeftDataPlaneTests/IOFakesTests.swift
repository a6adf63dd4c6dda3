import Testing
@testable import WeftDataPlane

@Suite("Fake devices")
struct IOFakesTests {
    @Test func fakeNetworkCarriesDatagramsBetweenSockets() throws {
        let network = FakeNetwork()
        let poolA = BufferPool(capacity: 16), poolB = BufferPool(capacity: 16)
        let a = FakeUDP(pool: poolA, localEndpoint: Endpoint("198.18.0.1:51820")!, network: network)
        let b = FakeUDP(pool: poolB, localEndpoint: Endpoint("198.18.0.2:51820")!, network: network)

        var batch = PacketBatch(capacity: 8)
        for i in 0..<3 {
            let packet = streamPayload(i, length: 40 + i).withUnsafeBytes {
                poolA.makePacket(copying: $0, endpoint: b.localEndpoint)
            }
            batch.append(try #require(packet))
        }
        batch.append(try #require([1, 2, 3].withUnsafeBytes {
            poolA.makePacket(copying: $0, endpoint: Endpoint("198.18.0.9:1")!)
        }))
        try a.send(&batch)
        let sentAll = batch.isEmpty
        #expect(sentAll)
        #expect(poolA.available == 16)
        #expect(network.undeliverable == 1)
        #expect(a.takeSent().map(\.endpoint) == [b.localEndpoint, b.localEndpoint, b.localEndpoint, Endpoint("198.18.0.9:1")!])

        let received = try b.receive(into: &batch, timeout: .zero)
        #expect(received == 3)
        for i in 0..<3 {
            let packet = batch[i]
            #expect(packet.endpoint == a.localEndpoint)
            #expect(Array(poolB.payload(of: packet)) == streamPayload(i, length: 40 + i))
        }
        batch.releaseAll(to: poolB)
        #expect(poolB.available == 16)
        #expect(b.statistics.packetsReceived == 3)
        #expect(a.statistics.packetsSent == 4)
    }

    @Test func filterDropsDatagrams() throws {
        let network = FakeNetwork()
        network.filter = { _, _, bytes in bytes.first != 0xFF }
        let pool = BufferPool(capacity: 8)
        let a = FakeUDP(pool: pool, localEndpoint: Endpoint("[fd00::1]:1")!, network: network)
        let b = FakeUDP(pool: pool, localEndpoint: Endpoint("[fd00::2]:1")!, network: network)
        var batch = PacketBatch(capacity: 4)
        for first: UInt8 in [0xFF, 0x01] {
            batch.append(try #require([first].withUnsafeBytes { pool.makePacket(copying: $0, endpoint: b.localEndpoint) }))
        }
        try a.send(&batch)
        #expect(network.filtered == 1)
        #expect(b.pendingCount == 1)
        let received = try b.receive(into: &batch, timeout: .zero)
        #expect(received == 1)
        let packet = batch[0]
        #expect(pool.payload(of: packet).first == 0x01)
        batch.releaseAll(to: pool)
    }

    @Test func inboxIsBounded() {
        let pool = BufferPool(capacity: 8)
        let udp = FakeUDP(pool: pool, localEndpoint: .unspecified, inboxCapacity: 2)
        #expect(udp.inject([1], from: .unspecified))
        #expect(udp.inject([2], from: .unspecified))
        #expect(!udp.inject([3], from: .unspecified))
        #expect(pool.available == 6)
    }

    @Test func fakeTUNReadsInjectedPacketsAndRecordsWrites() throws {
        let pool = BufferPool(capacity: 8)
        let tun = FakeTUN(pool: pool)
        var looped: [[UInt8]] = []
        tun.onWrite = { looped.append(Array($0)) }
        let packet = ipv4UDPPacket(source: 0x6440_0002, sourcePort: 1, destination: 0x6440_0001, destinationPort: 2,
                                   payload: [9, 9])
        #expect(tun.inject(packet))
        var batch = PacketBatch(capacity: 4)
        let received = try tun.receive(into: &batch, timeout: .seconds(1))
        #expect(received == 1)
        let read = batch[0]
        #expect(Array(pool.payload(of: read)) == packet)
        try tun.send(&batch)
        #expect(tun.takeWritten() == [packet])
        #expect(tun.takeWritten().isEmpty)
        #expect(looped == [packet])
        #expect(pool.available == 8)
    }

    @Test func fakesWorkThroughTheGenericInterface() throws {
        // The engine is generic over PacketIO; this is the shape it will use.
        func echo<IO: PacketIO>(_ io: IO) throws -> Int {
            var batch = PacketBatch(capacity: 8)
            let count = try io.receive(into: &batch, timeout: .zero)
            try io.send(&batch)
            return count
        }
        let pool = BufferPool(capacity: 8)
        let tun = FakeTUN(pool: pool)
        tun.inject([0x45, 0, 0, 20])
        #expect(try echo(tun) == 1)
        #expect(tun.takeWritten() == [[0x45, 0, 0, 20]])
    }
}
