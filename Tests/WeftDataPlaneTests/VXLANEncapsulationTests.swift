import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct VXLANEncapsulationTests {
    typealias F = PacketFixture

    /// Outer IPv4 + UDP + VXLAN + Ethernet written out field by field from RFC 791 §3.1,
    /// RFC 768 and RFC 7348 §5.
    static func expectedIPv4Frame(inner: [UInt8], sourcePort: UInt16, vni: UInt32, etherType: UInt16,
                                  udpChecksum: Bool) -> [UInt8] {
        let udpLength = 8 + 8 + 14 + inner.count
        var ip: [UInt8] = [0x45, 0x00] + F.bytes(UInt16(20 + udpLength))
            + [0x00, 0x00, 0x40, 0x00, 64, 17, 0x00, 0x00] + F.bytes(F.local4) + F.bytes(F.remote4)
        F.setWord(&ip, at: 10, F.referenceChecksum(ip))
        var udp = F.bytes(sourcePort) + [0x12, 0xB5] + F.bytes(UInt16(udpLength)) + [0x00, 0x00]
            + [0x08, 0x00, 0x00, 0x00] + Array(F.bytes(vni << 8))
            + F.bytes(F.peerMAC) + F.bytes(F.localMAC) + F.bytes(etherType) + inner
        if udpChecksum {
            let sum = F.referenceChecksum(F.ipv4PseudoHeader(source: F.local4, destination: F.remote4,
                                                             protocolNumber: 17, length: udp.count) + udp)
            F.setWord(&udp, at: 6, sum == 0 ? 0xFFFF : sum)
        }
        return ip + udp
    }

    /// Outer IPv6 + UDP (checksum mandatory, RFC 8200 §8.1) + VXLAN + Ethernet.
    static func expectedIPv6Frame(inner: [UInt8], sourcePort: UInt16, etherType: UInt16) -> [UInt8] {
        var udp = F.bytes(sourcePort) + [0x12, 0xB5] + F.bytes(UInt16(8 + 8 + 14 + inner.count)) + [0x00, 0x00]
            + [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 42, 0x00]
            + F.bytes(F.peerMAC) + F.bytes(F.localMAC) + F.bytes(etherType) + inner
        let sum = F.referenceChecksum(F.ipv6PseudoHeader(source: F.local6, destination: F.remote6,
                                                         nextHeader: 17, length: udp.count) + udp)
        F.setWord(&udp, at: 6, sum == 0 ? 0xFFFF : sum)
        let ip: [UInt8] = [0x60, 0x00, 0x00, 0x00] + F.bytes(UInt16(udp.count)) + [17, 64]
            + F.bytes(F.local6) + F.bytes(F.remote6)
        return ip + udp
    }

    @Test func ipv4OuterGoldenFrame() throws {
        let inner = F.innerIPv4Ping()
        let outer = try F.encapsulated(inner, tunnel: F.tunnel4(), flowHash: 0)
        #expect(outer == Self.expectedIPv4Frame(inner: inner, sourcePort: 32768, vni: 42, etherType: 0x0800,
                                                 udpChecksum: false))
    }

    @Test func ipv4OuterGoldenFrameWithUDPChecksum() throws {
        let inner = F.innerIPv6UDP()
        let outer = try F.encapsulated(inner, tunnel: F.tunnel4(vni: 0xABCDEF, udpChecksum: true),
                                       flowHash: UInt32.max)
        #expect(outer == Self.expectedIPv4Frame(inner: inner, sourcePort: 60999, vni: 0xABCDEF, etherType: 0x86DD,
                                                 udpChecksum: true))
    }

    @Test func ipv6OuterGoldenFrame() throws {
        for (inner, etherType) in [(F.innerIPv4Ping(dataLength: 33), UInt16(0x0800)), (F.innerIPv6UDP(), 0x86DD)] {
            let outer = try F.encapsulated(inner, tunnel: F.tunnel6(), flowHash: 0x8000_0000)
            // 32768 + (2^31 * 28232) >> 32 = 32768 + 14116 (28232 ports in 32768...60999).
            #expect(outer == Self.expectedIPv6Frame(inner: inner, sourcePort: 46884, etherType: etherType))
        }
    }

    @Test func headersGoIntoTheHeadroomAndNothingElseMoves() throws {
        let inner = F.innerIPv4Ping()
        let tunnel = F.tunnel4()
        let (range, storage) = try F.withBuffer(headroom: 64, inner, tailroom: 16) { buffer, packet in
            try tunnel.encapsulate(ipPacket: packet, in: buffer, destinationMAC: F.peerMAC, flowHash: 7)
        }
        #expect(range == 14..<64 + inner.count)
        #expect(Array(storage[64..<64 + inner.count]) == inner)
        #expect(storage[0..<14].allSatisfy { $0 == 0 })
        #expect(storage[(64 + inner.count)...].allSatisfy { $0 == 0 })
    }

    @Test func refusesWithoutHeadroomOrIPVersion() {
        let inner = F.innerIPv4Ping()
        let tunnel6 = F.tunnel6()
        #expect(throws: VXLANEncapsulationError.insufficientHeadroom) {
            _ = try F.withBuffer(headroom: 69, inner) { buffer, packet in
                try tunnel6.encapsulate(ipPacket: packet, in: buffer, destinationMAC: F.peerMAC)
            }
        }
        #expect(throws: VXLANEncapsulationError.notAnIPPacket) {
            _ = try F.withBuffer(headroom: 70, [0x50] + inner.dropFirst()) { buffer, packet in
                try tunnel6.encapsulate(ipPacket: packet, in: buffer, destinationMAC: F.peerMAC)
            }
        }
        #expect(throws: VXLANEncapsulationError.notAnIPPacket) {
            _ = try F.withBuffer(headroom: 70, []) { buffer, packet in
                try tunnel6.encapsulate(ipPacket: packet, in: buffer, destinationMAC: F.peerMAC)
            }
        }
        let tunnel4 = F.tunnel4()
        #expect(throws: VXLANEncapsulationError.tooLong) {
            _ = try F.withBuffer(headroom: 50, [0x45] + [UInt8](repeating: 0, count: 65535 - 50)) { buffer, packet in
                try tunnel4.encapsulate(ipPacket: packet, in: buffer, destinationMAC: F.peerMAC)
            }
        }
        // One byte less fits exactly: total length 65535.
        #expect(throws: Never.self) {
            _ = try F.withBuffer(headroom: 50, [0x45] + [UInt8](repeating: 0, count: 65535 - 51)) { buffer, packet in
                try tunnel4.encapsulate(ipPacket: packet, in: buffer, destinationMAC: F.peerMAC)
            }
        }
    }

    @Test func sourcePortFollowsTheFlowHashAcrossTheRange() throws {
        let tunnel = F.tunnel4()
        #expect(tunnel.sourcePort(forFlowHash: 0) == 32768)
        #expect(tunnel.sourcePort(forFlowHash: UInt32.max) == 60999)
        var custom = tunnel
        custom.sourcePorts = 49152...65535
        #expect(custom.sourcePort(forFlowHash: UInt32.max) == 65535)
        #expect(custom.sourcePort(forFlowHash: 0) == 49152)
        custom.sourcePorts = 4789...4789
        #expect(custom.sourcePort(forFlowHash: 0x1234_5678) == 4789)

        // Without an explicit hash the inner 5-tuple decides: same flow, same port.
        let inner = F.innerIPv6UDP()
        let outer = try F.encapsulated(inner, tunnel: tunnel, flowHash: nil)
        let expected = inner.withUnsafeBytes { tunnel.sourcePort(forFlowHash: flowHash(packet: $0)!) }
        #expect(F.word(outer, at: 20) == expected)
        let longer = try F.encapsulated(F.innerIPv6UDP(payloadLength: 300), tunnel: tunnel, flowHash: nil)
        #expect(F.word(longer, at: 20) == expected)

        // Ports spread over the range for many flows.
        var generator = F.Generator(seed: 1)
        var seen = Set<UInt16>()
        for _ in 0..<1000 {
            let port = tunnel.sourcePort(forFlowHash: UInt32.random(in: 0...UInt32.max, using: &generator))
            #expect((32768...60999).contains(port))
            seen.insert(port)
        }
        #expect(seen.count > 950)
    }

    @Test func roundTripsEveryInnerAndOuterFamily() throws {
        let inners = [F.innerIPv4Ping(), F.innerIPv4Ping(dataLength: 1300), F.innerIPv6UDP(), F.innerIPv6UDP(payloadLength: 1)]
        let tunnels = [F.tunnel4(), F.tunnel4(udpChecksum: true), F.tunnel6()]
        for tunnel in tunnels {
            let peer = F.peerTunnel(of: tunnel)
            for inner in inners {
                let outer = try F.encapsulated(inner, tunnel: tunnel, flowHash: nil)
                // WireGuard pads its plaintext to a multiple of 16 with zeros.
                let padded = outer + [UInt8](repeating: 0, count: (16 - outer.count % 16) % 16)
                for received in [outer, padded] {
                    let frame = try F.decapsulate(received, tunnel: peer).get()
                    #expect(Array(received[frame.payload]) == inner)
                    #expect(frame.frame.upperBound == frame.payload.upperBound)
                    #expect(frame.payload.lowerBound - frame.frame.lowerBound == 14)
                    #expect(frame.ethernet.source == F.localMAC)
                    #expect(frame.ethernet.destination == F.peerMAC)
                    #expect(frame.ethernet.etherType == (inner[0] >> 4 == 4 ? .ipv4 : .ipv6))
                }
            }
        }
    }

    @Test func ethernetFramesRoundTripAndPaddingIsTrimmed() throws {
        let tunnel = F.tunnel4()
        let arp = ARPPacket.request(from: F.localMAC, senderAddress: F.v4("10.0.0.1"), for: F.v4("10.0.0.2"))
        // A 60-byte minimum Ethernet frame: 14 + 28 + 18 bytes of padding.
        var frameBytes = [UInt8](repeating: 0, count: 60)
        frameBytes.withUnsafeMutableBytes { buffer in
            EthernetHeader(destination: .broadcast, source: F.localMAC, etherType: .arp).store(into: buffer, atByteOffset: 0)
            arp.store(into: buffer, atByteOffset: 14)
        }
        let (range, storage) = try F.withBuffer(headroom: tunnel.frameHeadroom, frameBytes) { buffer, frame in
            try tunnel.encapsulate(ethernetFrame: frame, in: buffer)
        }
        let outer = Array(storage[range])
        #expect(outer.count == 36 + 60)
        let frame = try F.decapsulate(outer, tunnel: F.peerTunnel(of: tunnel)).get()
        #expect(frame.payload.count == 28)
        let parsed = try outer[frame.payload].withUnsafeBytes { try ARPPacket(parsing: $0) }
        #expect(parsed == arp)

        // An inner IPv4 packet padded by its sender is trimmed to its total length too.
        let ping = F.innerIPv4Ping(dataLength: 0)
        var padded = [UInt8](repeating: 0, count: 14) + ping + [UInt8](repeating: 0xEE, count: 18)
        padded.withUnsafeMutableBytes { buffer in
            EthernetHeader(destination: F.peerMAC, source: F.localMAC, etherType: .ipv4).store(into: buffer, atByteOffset: 0)
        }
        let (pingRange, pingStorage) = try F.withBuffer(headroom: tunnel.frameHeadroom, padded) { buffer, frame in
            try tunnel.encapsulate(ethernetFrame: frame, in: buffer)
        }
        let received = Array(pingStorage[pingRange])
        let pingFrame = try F.decapsulate(received, tunnel: F.peerTunnel(of: tunnel)).get()
        #expect(Array(received[pingFrame.payload]) == ping)
    }

    @Test func multicastAndBroadcastDestinationsAreAccepted() throws {
        let tunnel = F.tunnel4()
        for destination in [MACAddress.broadcast, MACAddress(ipv4Multicast: F.v4("224.0.0.5")),
                            MACAddress(ipv6Multicast: F.v6("ff02::1"))] {
            let outer = try F.encapsulated(F.innerIPv4Ping(), tunnel: tunnel, destinationMAC: destination)
            let frame = try F.decapsulate(outer, tunnel: F.peerTunnel(of: tunnel)).get()
            #expect(frame.ethernet.destination == destination)
        }
    }

    @Test func vniIsTwentyFourBits() {
        #expect(VXLANNetworkIdentifier(rawValue: 0xFF_FFFF)?.rawValue == 0xFF_FFFF)
        #expect(VXLANNetworkIdentifier(rawValue: 0x100_0000) == nil)
        #expect(VXLANNetworkIdentifier(rawValue: 0) != nil)
    }

    @Test func headroomConstants() {
        #expect(F.tunnel4().headroom == 50)
        #expect(F.tunnel4().frameHeadroom == 36)
        #expect(F.tunnel6().headroom == 70)
        #expect(F.tunnel6().frameHeadroom == 56)
        #expect(VXLANTunnel.maximumHeadroom == 70)
    }
}
