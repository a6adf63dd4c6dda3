import Glibc
import Testing
@testable import WeftDataPlane

struct TUNCase: Sendable, CustomTestStringConvertible {
    let backend: TestBackend
    let virtioNetHeader: Bool
    var testDescription: String { "\(backend.rawValue)\(virtioNetHeader ? "+vnet" : "")" }
    static let all = TestBackend.allCases.flatMap { b in [false, true].map { TUNCase(backend: b, virtioNetHeader: $0) } }
}

@Suite("TUN drivers (own network namespace)", .enabled(if: runningAsRoot, rootRequiredReason), .timeLimit(.minutes(1)))
struct IOTUNTests {
    /// Overlay addresses (100.64.0.0/10): the TUN is 100.64.0.1/24, its "peer" 100.64.0.2.
    static let local: UInt32 = 0x6440_0001
    static let peer: UInt32 = 0x6440_0002

    @Test(arguments: TUNCase.all)
    func packetsFlowBothWays(_ test: TUNCase) async throws {
        try await withTemporaryNetworkNamespace { namespace in
            let name = uniqueInterfaceName("wtun")
            let device = try TUNDevice(name: name, options: .init(virtioNetHeader: test.virtioNetHeader))
            #expect(device.name == name)
            #expect(device.hasVirtioNetHeader == test.virtioNetHeader)
            if test.virtioNetHeader {
                #expect(device.offloads.contains([.checksum, .tcpSegmentation4, .tcpSegmentation6]))
            } else {
                #expect(device.offloads.isEmpty)
            }
            try device.setMTU(1420)
            #expect(try device.mtu() == 1420)
            try namespace.ip("addr", "add", "100.64.0.1/24", "dev", name)
            try device.setUp()
            #expect(try NetworkInterface.isUp(name))

            let tunPool = BufferPool(capacity: 128)
            let tun = try test.backend.tun(device, pool: tunPool)
            let socket = try UDPSocket()
            let udp = try test.backend.udp(socket, pool: BufferPool(capacity: 128))
            let count = 16

            // Into the kernel: IPv4/UDP packets from the peer, written to the TUN, reach the socket.
            var batch = PacketBatch(capacity: count)
            for i in 0..<count {
                let packet = ipv4UDPPacket(source: Self.peer, sourcePort: 40000, destination: Self.local,
                                           destinationPort: socket.localEndpoint.port,
                                           payload: streamPayload(i, length: 100 + i))
                batch.append(try #require(packet.withUnsafeBytes { tunPool.makePacket(copying: $0) }))
            }
            try tun.send(&batch)
            #expect(tun.statistics.packetsSent == UInt64(count))
            #expect(tun.statistics.packetsDropped == 0)
            var fromTUN = Set<Int>()
            let delivered = try receivePackets(udp, count: count) { packet, bytes in
                #expect(packet.endpoint == Endpoint(address: .ipv4(Self.peer), port: 40000))
                let index = streamIndex(UnsafeRawBufferPointer(bytes))
                #expect(Array(bytes) == streamPayload(index, length: 100 + index))
                return fromTUN.insert(index).inserted
            }
            #expect(delivered == count)

            // Out of the kernel: datagrams to the peer are routed into the TUN and read from it.
            try sendStream(udp, to: Endpoint(address: .ipv4(Self.peer), port: 40001), count: count) { 200 + $0 }
            var toTUN = Set<Int>()
            let read = try receivePackets(tun, count: count) { packet, bytes in
                // A fresh TUN also carries the kernel's own IPv6 traffic (router solicitations).
                guard let payload = udpPayload(ofIPv4: UnsafeRawBufferPointer(bytes), destination: Self.peer, port: 40001)
                else { return false }
                let index = payload.withUnsafeBytes { streamIndex($0) }
                #expect(payload == streamPayload(index, length: 200 + index))
                #expect(packet.flags.contains(.virtioNetHeader) == test.virtioNetHeader)
                if test.virtioNetHeader {
                    let header = VirtioNetHeader(of: packet, in: tunPool)
                    #expect(header?.segmentation == VirtioNetHeader.SegmentationType.none)
                }
                return toTUN.insert(index).inserted
            }
            #expect(read == count)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func readWaitsForLateArrivals(_ backend: TestBackend) async throws {
        try await withTemporaryNetworkNamespace { namespace in
            let name = uniqueInterfaceName("wtun")
            let device = try TUNDevice(name: name)
            try namespace.ip("addr", "add", "100.64.0.1/24", "dev", name)
            try device.setUp()
            let pool = BufferPool(capacity: 32)
            let tun = try backend.tun(device, pool: pool)
            let udp = try backend.udp(try UDPSocket(), pool: BufferPool(capacity: 8))
            var batch = PacketBatch(capacity: 8)
            // Drain whatever the kernel sent on link-up, then wait on an idle device.
            _ = try tun.receive(into: &batch, timeout: .milliseconds(20))
            batch.releaseAll(to: pool)
            for round in 0..<3 {
                try sendStream(udp, to: Endpoint(address: .ipv4(Self.peer), port: 40002), count: 1) { _ in 30 + round }
                let read = try receivePackets(tun, count: 1) { _, bytes in
                    udpPayload(ofIPv4: UnsafeRawBufferPointer(bytes), destination: Self.peer, port: 40002)?.count == 30 + round
                }
                #expect(read == 1)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func invalidPacketsAreDroppedNotFatal(_ backend: TestBackend) async throws {
        try await withTemporaryNetworkNamespace { _ in
            let device = try TUNDevice(name: uniqueInterfaceName("wtun"))
            try device.setUp()
            let pool = BufferPool(capacity: 8)
            let tun = try backend.tun(device, pool: pool)
            var batch = PacketBatch(capacity: 4)
            // Version nibble 0: TUN answers EINVAL. Then a valid packet still goes through.
            batch.append(try #require([0x00, 0x01, 0x02].withUnsafeBytes { pool.makePacket(copying: $0) }))
            let valid = ipv4UDPPacket(source: Self.peer, sourcePort: 1, destination: Self.local, destinationPort: 9, payload: [1])
            batch.append(try #require(valid.withUnsafeBytes { pool.makePacket(copying: $0) }))
            try tun.send(&batch)
            #expect(tun.statistics[dropped: .sendFailed] == 1)
            #expect(tun.statistics.lastSendError == .invalidArgument)
            #expect(tun.statistics.packetsSent == 1)
            #expect(pool.available == pool.capacity)
        }
    }

    @Test func vnetDeviceNeedsHeadroomForTheHeader() async throws {
        try await withTemporaryNetworkNamespace { _ in
            let device = try TUNDevice(name: uniqueInterfaceName("wtun"), options: .init(virtioNetHeader: true))
            try device.setUp()
            let pool = BufferPool(capacity: 4)
            let tun = TUNSyscallIO(device: device, pool: pool)
            var batch = PacketBatch(capacity: 2)
            let valid = ipv4UDPPacket(source: Self.peer, sourcePort: 1, destination: Self.local, destinationPort: 9, payload: [1])
            var packet = try #require(valid.withUnsafeBytes { pool.makePacket(copying: $0) })
            // Move the packet to the very start of its slot: no room for the 10-byte header.
            let slot = pool.slot(packet.buffer)
            slot.baseAddress!.copyMemory(from: slot.baseAddress! + packet.offset, byteCount: packet.length)
            packet.offset = 4
            batch.append(packet)
            try tun.send(&batch)
            #expect(tun.statistics[dropped: .noHeadroom] == 1)
            #expect(pool.available == pool.capacity)
        }
    }

    @Test func attachingByNameFindsTheKernelName() async throws {
        try await withTemporaryNetworkNamespace { _ in
            let device = try TUNDevice(name: "")
            #expect(device.name.hasPrefix("tun"))
            #expect(throws: IOBackendError.self) { _ = try TUNDevice(name: String(repeating: "x", count: 16)) }
        }
    }
}
