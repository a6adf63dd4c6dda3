import Testing
@testable import WeftRouting

@Suite struct FlowHashTests {
    @Test func readsTheIPv4FiveTuple() throws {
        let packet = ipv4Packet(source: v4("192.0.2.1"), destination: v4("198.51.100.2"), protocolNumber: 6,
                                sourcePort: 40000, destinationPort: 443, payload: [1, 2, 3])
        let key = try #require(packet.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(key == FlowKey(source: ip("192.0.2.1"), destination: ip("198.51.100.2"), protocolNumber: 6,
                               sourcePort: 40000, destinationPort: 443))
    }

    @Test func hashDependsOnlyOnTheFlow() {
        let first = ipv4Packet(source: v4("192.0.2.1"), destination: v4("198.51.100.2"),
                               sourcePort: 5000, destinationPort: 53, payload: [1, 2, 3])
        let second = ipv4Packet(source: v4("192.0.2.1"), destination: v4("198.51.100.2"),
                                sourcePort: 5000, destinationPort: 53, payload: Array(repeating: 9, count: 100))
        let otherPort = ipv4Packet(source: v4("192.0.2.1"), destination: v4("198.51.100.2"),
                                   sourcePort: 5001, destinationPort: 53)
        let hash = first.withUnsafeBytes { flowHash(packet: $0) }
        #expect(hash != nil)
        #expect(second.withUnsafeBytes { flowHash(packet: $0) } == hash)
        #expect(otherPort.withUnsafeBytes { flowHash(packet: $0) } != hash)
        #expect(first.withUnsafeBytes { flowHash(packet: $0, seed: 1) } != hash)
    }

    @Test func portlessProtocolsHashOnAddresses() throws {
        let icmp = ipv4Packet(source: v4("192.0.2.1"), destination: v4("198.51.100.2"), protocolNumber: 1,
                              sourcePort: 0x0800, destinationPort: 0x1234)
        let key = try #require(icmp.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(key.protocolNumber == 1 && key.sourcePort == 0 && key.destinationPort == 0)
    }

    @Test func fragmentsOfADatagramHashAlike() throws {
        let source = v4("192.0.2.1")
        let destination = v4("198.51.100.2")
        let first = ipv4Packet(source: source, destination: destination, protocolNumber: 17,
                               sourcePort: 5000, destinationPort: 4789, flagsAndFragmentOffset: 0x2000)
        let later = ipv4Packet(source: source, destination: destination, protocolNumber: 17,
                               sourcePort: 0xABCD, destinationPort: 0xEF01, flagsAndFragmentOffset: 0x00B9)
        let firstKey = try #require(first.withUnsafeBytes { FlowKey(packet: $0) })
        let laterKey = try #require(later.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(firstKey == laterKey)
        #expect(firstKey.sourcePort == 0)
        // Don't-fragment alone is not a fragment.
        let unfragmented = ipv4Packet(source: source, destination: destination, protocolNumber: 17,
                                      sourcePort: 5000, destinationPort: 4789, flagsAndFragmentOffset: 0x4000)
        #expect(unfragmented.withUnsafeBytes { FlowKey(packet: $0) }?.sourcePort == 5000)
    }

    @Test func honoursIPv4Options() throws {
        var packet = ipv4Packet(source: v4("10.0.0.1"), destination: v4("10.0.0.2"), protocolNumber: 6)
        // IHL 6: one 4-byte option word (NOPs) before the TCP ports.
        packet[0] = 0x46
        packet.insert(contentsOf: [1, 1, 1, 1], at: 20)
        packet[24] = 0x1F; packet[25] = 0x90; packet[26] = 0x00; packet[27] = 0x50
        let key = try #require(packet.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(key.sourcePort == 8080 && key.destinationPort == 80)
    }

    @Test func readsTheIPv6FiveTupleThroughExtensionHeaders() throws {
        let hopByHop: (type: UInt8, bytes: [UInt8]) = (0, [0, 0, 1, 4, 0, 0, 0, 0])
        let destinationOptions: (type: UInt8, bytes: [UInt8]) = (60, [0, 1] + Array(repeating: 1, count: 14))
        let plain = ipv6Packet(source: v6("2001:db8::1"), destination: v6("2001:db8::2"),
                               sourcePort: 1234, destinationPort: 4789)
        let withOptions = ipv6Packet(source: v6("2001:db8::1"), destination: v6("2001:db8::2"),
                                     extensionHeaders: [hopByHop, destinationOptions],
                                     sourcePort: 1234, destinationPort: 4789)
        let plainKey = try #require(plain.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(plainKey == FlowKey(source: ip("2001:db8::1"), destination: ip("2001:db8::2"),
                                    protocolNumber: 17, sourcePort: 1234, destinationPort: 4789))
        #expect(withOptions.withUnsafeBytes { FlowKey(packet: $0) } == plainKey)
    }

    @Test func ipv6FragmentsAndBrokenChainsOmitPorts() throws {
        let fragment: (type: UInt8, bytes: [UInt8]) = (44, [0, 0, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF])
        let fragmented = ipv6Packet(source: v6("fd00::1"), destination: v6("fd00::2"),
                                    extensionHeaders: [fragment], sourcePort: 1, destinationPort: 2)
        let key = try #require(fragmented.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(key.protocolNumber == 17 && key.sourcePort == 0 && key.destinationPort == 0)

        // A chain longer than the walk allows.
        let options: (type: UInt8, bytes: [UInt8]) = (60, [0, 0, 1, 4, 0, 0, 0, 0])
        let endless = ipv6Packet(source: v6("fd00::1"), destination: v6("fd00::2"),
                                 extensionHeaders: Array(repeating: options, count: 12),
                                 sourcePort: 1, destinationPort: 2)
        let endlessKey = try #require(endless.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(endlessKey.sourcePort == 0)

        // An extension header claiming more bytes than the packet holds.
        var truncated = ipv6Packet(source: v6("fd00::1"), destination: v6("fd00::2"),
                                   extensionHeaders: [options], sourcePort: 1, destinationPort: 2)
        truncated[41] = 200
        let truncatedKey = try #require(truncated.withUnsafeBytes { FlowKey(packet: $0) })
        #expect(truncatedKey.sourcePort == 0 && truncatedKey.source == ip("fd00::1"))
    }

    @Test func rejectsNonIPBuffers() {
        let valid = ipv4Packet(source: v4("10.0.0.1"), destination: v4("10.0.0.2"))
        var badVersion = valid
        badVersion[0] = 0x55
        var shortIHL = valid
        shortIHL[0] = 0x44
        var longIHL = valid
        longIHL[0] = 0x4F   // 60-byte header in a 24-byte buffer
        for bytes in [[], badVersion, shortIHL, longIHL, Array(valid.prefix(19)),
                      Array(ipv6Packet(source: v6("::1"), destination: v6("::2")).prefix(39))] {
            #expect(bytes.withUnsafeBytes { FlowKey(packet: $0) } == nil)
            #expect(bytes.withUnsafeBytes { flowHash(packet: $0) } == nil)
        }
        // A header without room for ports still hashes.
        #expect(valid.prefix(20).withUnsafeBytes { FlowKey(packet: $0) }?.sourcePort == 0)
    }
}
