import Testing
@testable import WeftRouting

@Suite struct IPv4AddressTests {
    @Test func parsesAndFormatsDottedDecimal() {
        let cases: [(String, UInt32)] = [
            ("0.0.0.0", 0),
            ("255.255.255.255", 0xFFFF_FFFF),
            ("10.0.0.1", 0x0A00_0001),
            ("192.168.1.254", 0xC0A8_01FE),
            ("100.64.0.10", 0x6440_000A),
        ]
        for (text, value) in cases {
            let address = IPv4Address(text)
            #expect(address?.value == value, "\(text)")
            #expect(address?.description == text)
        }
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "01.2.3.4", "1.2.3.00", "1..2.3",
        ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.-4", "1234.1.1.1",
        "1.2.3.4/24", "0x1.2.3.4", "::1", "1.2.3.4%eth0", "１.2.3.4",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func parsesSubstrings() {
        let text = "x10.0.0.1x"
        #expect(IPv4Address(text.dropFirst().dropLast()) == IPv4Address(10, 0, 0, 1))
    }

    @Test func convertsToAndFromNetworkOrderBytes() {
        let address = IPv4Address(192, 0, 2, 33)
        #expect(address.value == 0xC000_0221)
        let bytes: [UInt8] = [192, 0, 2, 33]
        #expect(bytes.withUnsafeBytes { IPv4Address(bytes: $0) } == address)
        #expect(address.withUnsafeBytes { Array($0) } == bytes)
        #expect([UInt8](repeating: 0, count: 5).withUnsafeBytes { IPv4Address(bytes: $0) } == nil)
        #expect([UInt8](repeating: 0, count: 3).withUnsafeBytes { IPv4Address(bytes: $0) } == nil)

        var buffer = [UInt8](repeating: 0xEE, count: 7)
        buffer.withUnsafeMutableBytes { address.store(into: $0, atByteOffset: 2) }
        #expect(buffer == [0xEE, 0xEE, 192, 0, 2, 33, 0xEE])
        #expect(buffer.withUnsafeBytes { IPv4Address(bytes: $0, atByteOffset: 2) } == address)
        #expect(buffer.withUnsafeBytes { IPv4Address(bytes: $0, atByteOffset: 4) } == nil)
        #expect(buffer.withUnsafeBytes { IPv4Address(bytes: $0, atByteOffset: -1) } == nil)
        #expect(address.octets == (192, 0, 2, 33))
    }

    @Test func classifies() {
        #expect(v4("127.1.2.3").isLoopback)
        #expect(v4("224.0.0.5").isMulticast && v4("239.255.255.255").isMulticast)
        #expect(!v4("240.0.0.1").isMulticast)
        #expect(v4("169.254.9.9").isLinkLocal && !v4("169.253.9.9").isLinkLocal)
        #expect(IPv4Address.any.isUnspecified && IPv4Address.broadcast.value == UInt32.max)
    }

    @Test func ordersNumerically() {
        #expect(v4("9.255.255.255") < v4("10.0.0.0"))
        #expect(v4("10.0.0.2") < v4("10.0.0.10"))
    }
}

@Suite struct IPv6AddressTests {
    /// Input text → RFC 5952 canonical text. The first group are the examples of RFC 5952
    /// §4.1–§4.3 and §5.
    @Test func formatsCanonicallyPerRFC5952() {
        let cases: [(String, String)] = [
            ("2001:0db8::0001", "2001:db8::1"),                    // §4.1 leading zeros
            ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),             // §4.2.1 shortest
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),      // §4.2.2 no "::" for one group
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),               // §4.2.3 longest run
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),         // §4.2.3 first of equal runs
            ("2001:DB8::AAAA", "2001:db8::aaaa"),                  // §4.3 lowercase
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),              // §5 mapped → mixed
            ("0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("::", "::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("1::", "1::"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
            ("::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
            ("1:0:1:0:0:1:0:0", "1:0:1::1:0:0"),
            ("0:0:1:0:0:0:1:0", "0:0:1::1:0"),
            ("fe80::0202:b3ff:fe1e:8329", "fe80::202:b3ff:fe1e:8329"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("::192.0.2.1", "::c000:201"),                         // IPv4-compatible: not mixed
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
            ("::ffff:0.0.0.0", "::ffff:0.0.0.0"),
        ]
        for (input, canonical) in cases {
            let address = IPv6Address(input)
            #expect(address?.description == canonical, "\(input)")
            #expect(IPv6Address(canonical) == address, "\(canonical) round trip")
        }
    }

    @Test func parsesGroupValues() {
        let address = v6("2001:db8:1:2:3:4:5:6")
        #expect(address.hi == 0x2001_0DB8_0001_0002)
        #expect(address.lo == 0x0003_0004_0005_0006)
        #expect(address.groups == [0x2001, 0xDB8, 1, 2, 3, 4, 5, 6])
        #expect(v6("::ffff:10.1.2.3").lo == 0xFFFF_0A01_0203)
    }

    @Test(arguments: [
        "", ":", ":::", "::1::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8", "1::2:3:4:5:6:7:8", "1:2:3:4:5:6:7", "12345::", "g::", ":1::", "1::2:",
        "1:", ":1", "::1.2.3", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0",
        "::ffff:256.1.1.1", "::ffff:01.2.3.4", " ::1", "::1 ", "1.2.3.4::", "[::1]", "1.2.3.4",
        "::1/128", "1:2:3:4:5:6:7:8:", "::-1", "0x1::",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func convertsToAndFromNetworkOrderBytes() {
        let address = v6("2001:db8::8:800:200c:417a")
        let bytes: [UInt8] = [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0x08, 0x08, 0, 0x20, 0x0C, 0x41, 0x7A]
        #expect(bytes.withUnsafeBytes { IPv6Address(bytes: $0) } == address)
        #expect(address.withUnsafeBytes { Array($0) } == bytes)
        #expect(bytes.dropLast().withUnsafeBytes { IPv6Address(bytes: $0) } == nil)

        var buffer = [UInt8](repeating: 0, count: 20)
        buffer.withUnsafeMutableBytes { address.store(into: $0, atByteOffset: 3) }
        #expect(Array(buffer[3..<19]) == bytes)
        #expect(buffer.withUnsafeBytes { IPv6Address(bytes: $0, atByteOffset: 3) } == address)
        #expect(buffer.withUnsafeBytes { IPv6Address(bytes: $0, atByteOffset: 5) } == nil)
    }

    @Test func mapsIPv4() {
        let mapped = IPv6Address(ipv4Mapped: v4("192.0.2.1"))
        #expect(mapped == v6("::ffff:192.0.2.1"))
        #expect(mapped.ipv4Mapped == v4("192.0.2.1"))
        #expect(v6("::192.0.2.1").ipv4Mapped == nil)
        #expect(v6("1::ffff:192.0.2.1").ipv4Mapped == nil)
    }

    @Test func classifies() {
        #expect(IPv6Address.loopback.isLoopback && IPv6Address.any.isUnspecified)
        #expect(v6("ff02::5").isMulticast && !v6("fe80::1").isMulticast)
        #expect(v6("fe80::1").isLinkLocal && v6("febf::1").isLinkLocal && !v6("fec0::1").isLinkLocal)
    }

    @Test func ordersNumerically() {
        #expect(v6("::ffff:ffff:ffff:ffff") < v6("0:0:0:1::"))
        #expect(v6("2001:db8::1") < v6("2001:db8::2"))
    }
}

@Suite struct IPAddressTests {
    @Test func parsesEitherFamily() {
        #expect(ip("10.0.0.1") == .v4(IPv4Address(10, 0, 0, 1)))
        #expect(ip("::ffff:10.0.0.1") == .v6(IPv6Address(ipv4Mapped: IPv4Address(10, 0, 0, 1))))
        #expect(ip("::ffff:10.0.0.1") != ip("10.0.0.1"))
        #expect(IPAddress("10.0.0.1:80") == nil)
        #expect(IPAddress("") == nil)
        #expect(ip("fd00::1").family == .ipv6 && ip("1.1.1.1").family == .ipv4)
    }

    @Test func convertsBytesByLength() {
        #expect([UInt8]([1, 2, 3, 4]).withUnsafeBytes { IPAddress(bytes: $0) } == ip("1.2.3.4"))
        let sixteen = [UInt8](repeating: 0, count: 15) + [1]
        #expect(sixteen.withUnsafeBytes { IPAddress(bytes: $0) } == ip("::1"))
        #expect([UInt8](repeating: 0, count: 5).withUnsafeBytes { IPAddress(bytes: $0) } == nil)
        #expect([UInt8]().withUnsafeBytes { IPAddress(bytes: $0) } == nil)
        #expect(ip("::1").withUnsafeBytes { Array($0) } == sixteen)
    }

    @Test func ordersIPv4BeforeIPv6() {
        let sorted = [ip("::1"), ip("10.0.0.2"), ip("::"), ip("10.0.0.1")].sorted()
        #expect(sorted == [ip("10.0.0.1"), ip("10.0.0.2"), ip("::"), ip("::1")])
    }

    @Test func readsIPv4PacketHeader() {
        let packet = ipv4Packet(source: v4("192.0.2.1"), destination: v4("198.51.100.7"))
        packet.withUnsafeBytes { raw in
            #expect(IPv4Address(ipv4PacketSource: raw) == v4("192.0.2.1"))
            #expect(IPv4Address(ipv4PacketDestination: raw) == v4("198.51.100.7"))
            #expect(IPAddress(packetSource: raw) == ip("192.0.2.1"))
            #expect(IPAddress(packetDestination: raw) == ip("198.51.100.7"))
            #expect(IPv6Address(ipv6PacketSource: raw) == nil)
        }
        packet.prefix(19).withUnsafeBytes { raw in
            #expect(IPv4Address(ipv4PacketDestination: raw) == nil)
            #expect(IPAddress(packetDestination: raw) == nil)
        }
    }

    @Test func readsIPv6PacketHeader() {
        let packet = ipv6Packet(source: v6("2001:db8::1"), destination: v6("fd00::2"))
        packet.withUnsafeBytes { raw in
            #expect(IPv6Address(ipv6PacketSource: raw) == v6("2001:db8::1"))
            #expect(IPv6Address(ipv6PacketDestination: raw) == v6("fd00::2"))
            #expect(IPAddress(packetSource: raw) == ip("2001:db8::1"))
            #expect(IPAddress(packetDestination: raw) == ip("fd00::2"))
            #expect(IPv4Address(ipv4PacketSource: raw) == nil)
        }
        packet.prefix(39).withUnsafeBytes { raw in
            #expect(IPv6Address(ipv6PacketSource: raw) == nil)
            #expect(IPAddress(packetSource: raw) == nil)
        }
    }

    @Test func rejectsOtherVersionsAndEmptyBuffers() {
        var packet = ipv4Packet(source: v4("1.1.1.1"), destination: v4("2.2.2.2"))
        packet[0] = 0x55
        packet.withUnsafeBytes { raw in
            #expect(IPAddress(packetSource: raw) == nil)
            #expect(IPv4Address(ipv4PacketSource: raw) == nil)
        }
        [UInt8]().withUnsafeBytes { raw in
            #expect(IPAddress(packetDestination: raw) == nil)
        }
    }
}
