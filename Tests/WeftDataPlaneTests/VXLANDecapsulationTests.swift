import Testing
import WeftRouting
@testable import WeftDataPlane

/// One way to break a valid outer packet, and the drop reason it must produce.
struct VXLANMalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let family: IPFamily
    /// Recompute the IPv4 header checksum and the UDP checksum after `mutate`, so that the
    /// case reaches the check it is aimed at.
    let refreshChecksums: Bool
    let mutate: @Sendable (inout [UInt8]) -> Void
    let expected: VXLANDropReason

    var testDescription: String { "\(family) \(name)" }
}

@Suite struct VXLANDecapsulationTests {
    typealias F = PacketFixture

    /// The receiving side of the links `valid(_:)` sends on.
    static func receiver(_ family: IPFamily) -> VXLANTunnel {
        F.peerTunnel(of: family == .ipv4 ? F.tunnel4(udpChecksum: true) : F.tunnel6())
    }

    /// A valid outer packet (IPv4 with UDP checksum, or IPv6) carrying an inner IPv4 ping.
    static func valid(_ family: IPFamily) -> [UInt8] {
        try! F.encapsulated(F.innerIPv4Ping(), tunnel: family == .ipv4 ? F.tunnel4(udpChecksum: true) : F.tunnel6())
    }

    static func ipHeaderLength(_ family: IPFamily) -> Int { family == .ipv4 ? 20 : 40 }

    /// Recomputes the outer IPv4 header checksum and a non-zero UDP checksum.
    static func refresh(_ packet: inout [UInt8], _ family: IPFamily) {
        let udp = ipHeaderLength(family)
        if family == .ipv4 {
            F.setWord(&packet, at: 10, 0)
            F.setWord(&packet, at: 10, F.referenceChecksum(Array(packet[0..<20])))
        }
        guard F.word(packet, at: udp + 6) != 0 else { return }
        F.setWord(&packet, at: udp + 6, 0)
        let datagram = Array(packet[udp...])
        // Pseudo-header from the packet's own addresses (RFC 768, RFC 8200 §8.1).
        let pseudo = family == .ipv4
            ? Array(packet[12..<20]) + [0, 17] + F.bytes(UInt16(datagram.count))
            : Array(packet[8..<40]) + F.bytes(UInt32(datagram.count)) + [0, 0, 0, 17]
        let sum = F.referenceChecksum(pseudo + datagram)
        F.setWord(&packet, at: udp + 6, sum == 0 ? 0xFFFF : sum)
    }

    static let cases: [VXLANMalformedCase] = {
        var cases: [VXLANMalformedCase] = []
        func add(_ name: String, _ family: IPFamily, refresh: Bool = true, _ expected: VXLANDropReason,
                 _ mutate: @escaping @Sendable (inout [UInt8]) -> Void) {
            cases.append(VXLANMalformedCase(name: name, family: family, refreshChecksums: refresh, mutate: mutate,
                                            expected: expected))
        }
        for family in [IPFamily.ipv4, .ipv6] {
            let udp = ipHeaderLength(family)
            let vxlan = udp + 8
            let ethernet = vxlan + 8
            let inner = ethernet + 14
            add("empty", family, refresh: false, .truncated) { $0 = [] }
            add("wrong IP version", family, refresh: false, .ipVersionMismatch) { $0[0] = family == .ipv4 ? 0x65 : 0x45 }
            add("version 0", family, refresh: false, .ipVersionMismatch) { $0[0] &= 0x0F }
            add("not UDP", family, .notUDP) { $0[family == .ipv4 ? 9 : 6] = 6 }
            add("fragment", family, .ipFragment) { packet in
                if family == .ipv4 { packet[6] = 0x20 } else { packet[6] = 44 }
            }
            add("source address", family, .addressMismatch) { $0[family == .ipv4 ? 15 : 23] ^= 1 }
            add("destination address", family, .addressMismatch) { $0[family == .ipv4 ? 19 : 39] ^= 1 }
            add("UDP length too long", family, .udpLengthInvalid) { F.setWord(&$0, at: udp + 4, F.word($0, at: udp + 4) + 1) }
            add("UDP length too short", family, .udpLengthInvalid) { F.setWord(&$0, at: udp + 4, F.word($0, at: udp + 4) - 1) }
            add("UDP length below 8", family, .udpLengthInvalid) { F.setWord(&$0, at: udp + 4, 7) }
            add("UDP port 8472", family, .udpPortMismatch) { F.setWord(&$0, at: udp + 2, 8472) }
            add("UDP checksum", family, refresh: false, .udpChecksumInvalid) { $0[udp + 7] ^= 0x40 }
            add("UDP payload bit flip", family, refresh: false, .udpChecksumInvalid) { $0[$0.count - 1] ^= 0x01 }
            add("VXLAN I flag clear", family, .vxlanFlagsInvalid) { $0[vxlan] = 0x00 }
            add("VXLAN extra flag", family, .vxlanFlagsInvalid) { $0[vxlan] = 0x88 }
            add("VXLAN GPE P flag", family, .vxlanFlagsInvalid) { $0[vxlan] = 0x0C }
            add("VXLAN reserved after flags", family, .vxlanReservedBitsSet) { $0[vxlan + 2] = 0x01 }
            add("VXLAN reserved last byte", family, .vxlanReservedBitsSet) { $0[vxlan + 7] = 0x80 }
            add("VNI", family, .vniMismatch) { $0[vxlan + 6] = 43 }
            add("VNI high byte", family, .vniMismatch) { $0[vxlan + 4] = 0x01 }
            add("only VXLAN header", family, .truncated) { packet in
                packet.removeSubrange((ethernet + 13)...)
                let udpLength = UInt16(packet.count - udp)
                F.setWord(&packet, at: udp + 4, udpLength)
                if family == .ipv4 { F.setWord(&packet, at: 2, UInt16(packet.count)) }
                else { F.setWord(&packet, at: 4, udpLength) }
            }
            add("multicast source MAC", family, .sourceMACInvalid) { $0[ethernet + 6] |= 0x01 }
            add("zero source MAC", family, .sourceMACInvalid) { packet in
                for index in ethernet + 6..<ethernet + 12 { packet[index] = 0 }
            }
            add("own source MAC", family, .sourceMACIsLocal) { $0[ethernet + 11] = 0x02 }
            add("other unicast destination MAC", family, .destinationMACNotLocal) { $0[ethernet + 5] = 0x09 }
            add("802.1Q tag", family, .etherTypeUnsupported) { F.setWord(&$0, at: ethernet + 12, 0x8100) }
            add("EtherType IPv6 for IPv4", family, .innerPacketInvalid) { F.setWord(&$0, at: ethernet + 12, 0x86DD) }
            add("inner total length too long", family, .innerPacketInvalid) {
                F.setWord(&$0, at: inner + 2, F.word($0, at: inner + 2) + 1)
            }
            add("inner total length below header", family, .innerPacketInvalid) { F.setWord(&$0, at: inner + 2, 19) }
        }
        add("IHL 4", .ipv4, refresh: false, .ipv4HeaderLengthInvalid) { $0[0] = 0x44 }
        add("total length below IHL", .ipv4, refresh: false, .ipv4HeaderLengthInvalid) { F.setWord(&$0, at: 2, 19) }
        add("IHL beyond total length", .ipv4, refresh: false, .ipv4HeaderLengthInvalid) { packet in
            packet[0] = 0x4F
            F.setWord(&packet, at: 2, 40)
        }
        add("header checksum", .ipv4, refresh: false, .ipv4HeaderChecksumInvalid) { $0[11] ^= 0x01 }
        add("TTL changed without checksum", .ipv4, refresh: false, .ipv4HeaderChecksumInvalid) { $0[8] = 1 }
        add("fragment offset", .ipv4, .ipFragment) { F.setWord(&$0, at: 6, 0x4001) }
        add("total length beyond buffer", .ipv4, refresh: false, .truncated) {
            F.setWord(&$0, at: 2, F.word($0, at: 2) + 1)
        }
        add("payload length beyond buffer", .ipv6, refresh: false, .truncated) {
            F.setWord(&$0, at: 4, F.word($0, at: 4) + 1)
        }
        add("zero UDP checksum", .ipv6, refresh: false, .udpChecksumMissing) { F.setWord(&$0, at: 46, 0) }
        add("extension header before UDP", .ipv6, .notUDP) { $0[6] = 0 }
        return cases
    }()

    @Test(arguments: cases)
    func malformedPacketIsDroppedWithItsReason(_ testCase: VXLANMalformedCase) {
        var packet = Self.valid(testCase.family)
        testCase.mutate(&packet)
        if testCase.refreshChecksums { Self.refresh(&packet, testCase.family) }
        let result = F.decapsulate(packet, tunnel: Self.receiver(testCase.family))
        #expect(result == .failure(testCase.expected))
    }

    @Test(arguments: [IPFamily.ipv4, .ipv6])
    func everyTruncationIsDroppedAsTruncated(_ family: IPFamily) {
        let packet = Self.valid(family)
        let receiver = Self.receiver(family)
        #expect((try? F.decapsulate(packet, tunnel: receiver).get()) != nil)
        for length in 0..<packet.count {
            let result = F.decapsulate(Array(packet[0..<length]), tunnel: receiver)
            #expect(result == .failure(.truncated), "cut at \(length)")
        }
    }

    @Test func zeroUDPChecksumIsAcceptedOverIPv4() throws {
        var packet = Self.valid(.ipv4)
        F.setWord(&packet, at: 26, 0)
        #expect(throws: Never.self) { try F.decapsulate(packet, tunnel: Self.receiver(.ipv4)).get() }
    }

    @Test func checksumOfAllOnesIsValid() throws {
        // A computed UDP checksum of 0 goes on the wire as 0xFFFF (RFC 768). Choose the last
        // payload word so that the sum over everything else is all ones, then check that the
        // sender's rule and the receiver agree.
        var packet = Self.valid(.ipv6)
        #expect(packet.count % 2 == 0)
        let last = packet.count - 2
        F.setWord(&packet, at: last, 0)
        F.setWord(&packet, at: 46, 0)
        let datagram = Array(packet[40...])
        let pseudo = Array(packet[8..<40]) + F.bytes(UInt32(datagram.count)) + [0, 0, 0, 17]
        F.setWord(&packet, at: last, F.referenceChecksum(pseudo + datagram))
        F.setWord(&packet, at: 46, 1)
        Self.refresh(&packet, .ipv6)
        #expect(F.word(packet, at: 46) == 0xFFFF)
        #expect(throws: Never.self) { try F.decapsulate(packet, tunnel: Self.receiver(.ipv6)).get() }

        // The encapsulator makes the same substitution.
        let inner = Array(packet[(40 + 8 + 8 + 14)...])
        let outer = try F.encapsulated(inner, tunnel: F.tunnel6(), flowHash: 0)
        #expect(F.word(outer, at: 46) == 0xFFFF)
    }

    @Test func dropsAreCounted() {
        let receiver = Self.receiver(.ipv4)
        var counters = VXLANDropCounters()
        var packet = Self.valid(.ipv4)
        packet.withUnsafeBytes { #expect(receiver.decapsulate($0, counters: &counters) != nil) }
        packet[11] ^= 1
        packet.withUnsafeBytes { bytes in
            for _ in 0..<3 { #expect(receiver.decapsulate(bytes, counters: &counters) == nil) }
        }
        [UInt8]().withUnsafeBytes { #expect(receiver.decapsulate($0, counters: &counters) == nil) }
        #expect(counters[.ipv4HeaderChecksumInvalid] == 3)
        #expect(counters[.truncated] == 1)
        #expect(counters[.vniMismatch] == 0)
        #expect(counters.total == 4)
    }

    @Test func randomCorruptionNeverTraps() {
        var generator = F.Generator(seed: 0xD1CE)
        for family in [IPFamily.ipv4, .ipv6] {
            let receiver = Self.receiver(family)
            let valid = Self.valid(family)
            var accepted = 0
            for round in 0..<4000 {
                var packet = valid
                if round % 4 == 0 {
                    // Pure noise of random length with a plausible first byte.
                    packet = (0..<Int.random(in: 0...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    if !packet.isEmpty { packet[0] = family == .ipv4 ? 0x45 : 0x60 }
                } else {
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        let index = Int.random(in: 0..<packet.count, using: &generator)
                        packet[index] = UInt8.random(in: 0...255, using: &generator)
                    }
                    if round % 4 == 1 { Self.refresh(&packet, family) }
                    if round % 4 == 2 { packet.removeLast(Int.random(in: 0...packet.count, using: &generator)) }
                }
                if case .success(let frame) = F.decapsulate(packet, tunnel: receiver) {
                    accepted += 1
                    #expect(frame.payload.upperBound <= packet.count)
                    #expect(frame.frame.lowerBound < frame.payload.lowerBound)
                }
            }
            // Refreshed checksums let some mutations of the inner packet through; that's fine.
            #expect(accepted < 4000)
        }
    }
}
