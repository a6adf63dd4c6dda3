// Lets Wireshark's dissectors judge the packets this layer builds: a capture of encapsulated
// frames, ARP/ND replies and ICMP errors must dissect as VXLAN/ARP/ICMPv6/ICMP with good
// checksums and nothing malformed.

import Foundation
import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct VXLANTsharkTests {
    typealias F = PacketFixture

    static let tshark = "/usr/bin/tshark"

    /// A classic pcap file (LINKTYPE_RAW: each record starts with an IPv4 or IPv6 header).
    static func pcap(_ packets: [[UInt8]]) -> [UInt8] {
        func little<T: FixedWidthInteger>(_ value: T) -> [UInt8] { F.bytes(value.byteSwapped) }
        var file = little(UInt32(0xA1B2_C3D4)) + little(UInt16(2)) + little(UInt16(4)) + little(Int32(0))
            + little(UInt32(0)) + little(UInt32(65535)) + little(UInt32(101))
        for (index, packet) in packets.enumerated() {
            file += little(UInt32(1_700_000_000 + index)) + little(UInt32(0))
                + little(UInt32(packet.count)) + little(UInt32(packet.count)) + packet
        }
        return file
    }

    /// Encapsulates an Ethernet frame written by `write` at the tunnel's frame headroom.
    static func encapsulatedFrame(tunnel: VXLANTunnel,
                                  _ write: (UnsafeMutableRawBufferPointer, Int) -> Range<Int>) throws -> [UInt8] {
        var storage = [UInt8](repeating: 0, count: 256)
        let range = try storage.withUnsafeMutableBytes { buffer throws(VXLANEncapsulationError) in
            let frame = write(buffer, tunnel.frameHeadroom)
            return try tunnel.encapsulate(ethernetFrame: frame, in: buffer)
        }
        return Array(storage[range])
    }

    static func capture() throws -> [[UInt8]] {
        let tunnel = F.tunnel4(udpChecksum: true)
        var cache = NeighborCache(configuration: .init(localMAC: F.localMAC, ipv4Addresses: [IPv4Prefix("10.255.0.1/30")!],
                                                       ipv6Addresses: [IPv6Prefix("fe80::1/64")!]))
        var packets: [[UInt8]] = []
        packets.append(try F.encapsulated(F.innerIPv4Ping(), tunnel: tunnel, flowHash: nil))
        packets.append(try F.encapsulated(F.innerIPv6UDP(), tunnel: F.tunnel6(), flowHash: nil))
        packets.append(try F.encapsulated(F.innerIPv4Ping(dataLength: 1300), tunnel: F.tunnel6(), flowHash: nil))
        // ARP request and NS for the peer, the announcements.
        packets.append(try Self.encapsulatedFrame(tunnel: tunnel) { buffer, offset in
            cache.writeSolicitation(for: .v4(F.v4("10.255.0.2")), into: buffer, atByteOffset: offset)
        })
        packets.append(try Self.encapsulatedFrame(tunnel: tunnel) { buffer, offset in
            cache.writeSolicitation(for: .v6(F.v6("fe80::2")), into: buffer, atByteOffset: offset)
        })
        cache.linkUp(now: 0)
        for _ in 0..<2 {
            packets.append(try Self.encapsulatedFrame(tunnel: tunnel) { buffer, offset in
                cache.nextAnnouncement(now: 0, into: buffer, atByteOffset: offset)!
            })
        }
        // An ARP reply and an NA, as produced for a peer's request.
        packets.append(try Self.encapsulatedFrame(tunnel: tunnel) { buffer, offset in
            let request = ARPPacket.request(from: F.peerMAC, senderAddress: F.v4("10.255.0.2"), for: F.v4("10.255.0.1"))
            EthernetHeader(destination: F.peerMAC, source: F.localMAC, etherType: .arp).store(into: buffer, atByteOffset: offset)
            ARPPacket.reply(to: request, from: F.localMAC).store(into: buffer, atByteOffset: offset + 14)
            return offset..<offset + 42
        })
        packets.append(try Self.encapsulatedFrame(tunnel: tunnel) { buffer, offset in
            let solicitation = NeighborSolicitation(resolving: F.v6("fe80::1"), from: F.v6("fe80::2"), localMAC: F.peerMAC)
            EthernetHeader(destination: F.peerMAC, source: F.localMAC, etherType: .ipv6).store(into: buffer, atByteOffset: offset)
            return offset..<NeighborAdvertisement(answering: solicitation, localMAC: F.localMAC)
                .write(into: buffer, atByteOffset: offset + 14).upperBound
        })
        // ICMP errors, bare.
        let big4 = F.ipv4Packet(source: F.v4("192.0.2.10"), destination: F.v4("198.51.100.20"), protocolNumber: 17,
                                payload: F.bytes(UInt16(40000)) + F.bytes(UInt16(53)) + F.bytes(UInt16(1380)) + [0, 0]
                                    + [UInt8](repeating: 0x61, count: 1372))
        let (fragmentationNeeded, storage4) = F.withBuffer(headroom: 28, big4) { buffer, range in
            try? ICMPv4Error.fragmentationNeeded(nextHopMTU: 1370)
                .write(aboutPacket: range, in: buffer, routerAddress: F.v4("10.255.0.1"))
        }
        packets.append(Array(storage4[try #require(fragmentationNeeded)]))
        let big6 = F.innerIPv6UDP(payloadLength: 1452)
        for error in [ICMPv6Error.packetTooBig(mtu: 1350), .hopLimitExceeded, .addressUnreachable] {
            let (message, storage6) = F.withBuffer(headroom: 48, big6) { buffer, range in
                try? error.write(aboutPacket: range, in: buffer, routerAddress: F.v6("fd00:1::1"))
            }
            packets.append(Array(storage6[try #require(message)]))
        }
        return packets
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: tshark), "tshark is not installed at /usr/bin/tshark"))
    func wiresharkDissectsEverythingCleanly() throws {
        let packets = try Self.capture()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("weft-vxlan-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // WEFT_KEEP_PCAP=path keeps a copy of the capture for a look in Wireshark.
        defer {
            if let keep = ProcessInfo.processInfo.environment["WEFT_KEEP_PCAP"] {
                try? FileManager.default.copyItem(at: directory.appendingPathComponent("vxlan.pcap"),
                                                  to: URL(fileURLWithPath: keep))
            }
        }
        let file = directory.appendingPathComponent("vxlan.pcap")
        try Data(Self.pcap(packets)).write(to: file)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.tshark)
        process.arguments = ["-r", file.path, "-V", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        let frames = text.components(separatedBy: "\nFrame ").count
        #expect(frames == packets.count, "tshark read \(frames) of \(packets.count) packets")
        for problem in ["Malformed", "Checksum Status: Bad", "Expert Info (Error", "Expert Info (Warning"] {
            #expect(!text.contains(problem), "tshark reports \(problem)")
        }
        func count(_ needle: String) -> Int { text.components(separatedBy: needle).count - 1 }
        #expect(count("Virtual eXtensible Local Area Network") == 9)
        #expect(count("VXLAN Network Identifier (VNI): 42") == 9)
        #expect(count("Address Resolution Protocol (ARP Announcement)") == 1)
        #expect(count("Address Resolution Protocol (request)") == 1)
        #expect(count("Address Resolution Protocol (reply)") == 1)
        #expect(count("Type: Neighbor Solicitation (135)") == 1)
        #expect(count("Type: Neighbor Advertisement (136)") == 2)
        #expect(count("Type: 3 (Destination unreachable)") == 1)
        #expect(count("Code: 4 (Fragmentation needed)") == 1)
        #expect(count("MTU of next hop: 1370") == 1)
        #expect(count("Type: Packet Too Big (2)") == 1)
        #expect(count("MTU: 1350") == 1)
        #expect(count("Type: Time Exceeded (3)") == 1)
        #expect(count("Code: 3 (Address unreachable)") == 1)
        // UDP (6 outer VXLAN over IPv4, 3 over IPv6, 1 inner) and ICMP/ICMPv6 checksums all verified.
        #expect(count("[Checksum Status: Good]") >= 9 + 6)
    }
}
