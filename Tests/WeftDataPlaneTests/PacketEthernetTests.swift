import Testing
import WeftCrypto
import WeftRouting
@testable import WeftDataPlane

@Suite struct PacketEthernetTests {
    typealias F = PacketFixture

    @Test(arguments: [
        ("02:00:5e:10:00:01", UInt64(0x0200_5E10_0001)),
        ("FF:FF:FF:FF:FF:FF", 0xFFFF_FFFF_FFFF),
        ("00:00:00:00:00:00", 0),
        ("aA:bB:cC:dD:eE:fF", 0xAABB_CCDD_EEFF),
    ])
    func parsesText(_ text: String, _ value: UInt64) {
        #expect(MACAddress(text)?.value == value)
        #expect(MACAddress(text)?.description == text.lowercased())
    }

    @Test(arguments: ["", "02:00:5e:10:00", "02:00:5e:10:00:01:02", "2:00:5e:10:00:01", "02:00:5e:10:00:001",
                      "02-00-5e-10-00-01", "02:00:5e:10:00:0g", "02::5e:10:00:01", ":02:00:5e:10:00:01",
                      "02:00:5e:10:00:01:"])
    func rejectsMalformedText(_ text: String) {
        #expect(MACAddress(text) == nil)
    }

    @Test func addressBits() {
        #expect(MACAddress.broadcast.isBroadcast && MACAddress.broadcast.isMulticast)
        #expect(!MACAddress.zero.isUnicast)
        #expect(F.mac("01:00:5e:00:00:05").isMulticast)
        #expect(F.mac("02:00:00:00:00:01").isLocallyAdministered)
        #expect(F.mac("52:54:00:12:34:56").isLocallyAdministered)
        #expect(!F.mac("00:1b:21:3a:4f:10").isLocallyAdministered)
        #expect(F.mac("00:1b:21:3a:4f:10").isUnicast)
    }

    @Test func multicastMappings() {
        // RFC 1112 §6.4: the low 23 bits; 224.0.0.5 (OSPF AllSPFRouters) and a group whose
        // 24th bit is set, which the mapping drops.
        #expect(MACAddress(ipv4Multicast: F.v4("224.0.0.5")) == F.mac("01:00:5e:00:00:05"))
        #expect(MACAddress(ipv4Multicast: F.v4("239.129.2.3")) == F.mac("01:00:5e:01:02:03"))
        // RFC 2464 §7: 33:33 and the low 32 bits.
        #expect(MACAddress(ipv6Multicast: F.v6("ff02::1")) == F.mac("33:33:00:00:00:01"))
        #expect(MACAddress(ipv6Multicast: F.v6("ff02::1:ff12:3456")) == F.mac("33:33:ff:12:34:56"))
    }

    @Test func modifiedEUI64LinkLocal() {
        // RFC 4291 Appendix A: invert U/L, insert ff:fe.
        #expect(F.mac("52:54:00:12:34:56").ipv6LinkLocalAddress == F.v6("fe80::5054:ff:fe12:3456"))
        #expect(F.mac("02:00:00:00:00:01").ipv6LinkLocalAddress == F.v6("fe80::ff:fe00:1"))
    }

    @Test func derivedAddressIsStableLocalAndUnicast() throws {
        let key = try #require(Bytes32((0..<32).map { UInt8($0) }))
        let first = MACAddress(derivedFrom: key, vni: F.vni(42))
        #expect(first == MACAddress(derivedFrom: key, vni: F.vni(42)))
        #expect(first.isLocallyAdministered && first.isUnicast)
        #expect(first != MACAddress(derivedFrom: key, vni: F.vni(43)))
        let otherKey = try #require(Bytes32((0..<32).map { UInt8(31 - $0) }))
        #expect(first != MACAddress(derivedFrom: otherKey, vni: F.vni(42)))

        // Independently: BLAKE2s-48 of label ‖ key ‖ VNI (big-endian), then U/L set, I/G clear.
        var input = Array("weft vxlan mac v1".utf8) + Array(0..<32) + [0, 0, 0, 42]
        var digest = [UInt8](repeating: 0, count: 6)
        var hash = BLAKE2s(outputLength: 6)
        input.withUnsafeMutableBytes { hash.update(UnsafeRawBufferPointer($0)) }
        digest.withUnsafeMutableBytes { hash.finalize(into: $0) }
        digest[0] = (digest[0] | 0x02) & 0xFE
        #expect(F.bytes(first) == digest)

        // Many seeds: always individual, locally administered.
        var generator = F.Generator(seed: 48)
        for _ in 0..<200 {
            let seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let mac = seed.withUnsafeBytes { MACAddress(derivedFrom: $0, vni: F.vni(UInt32.random(in: 0...0xFF_FFFF, using: &generator))) }
            #expect(mac.isUnicast && mac.isLocallyAdministered)
        }
    }

    @Test func headerRoundTrip() {
        let header = EthernetHeader(destination: .broadcast, source: F.localMAC, etherType: .arp)
        var bytes = [UInt8](repeating: 0, count: 15)
        bytes.withUnsafeMutableBytes { header.store(into: $0, atByteOffset: 1) }
        #expect(Array(bytes[1...]) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06])
        #expect(bytes.withUnsafeBytes { EthernetHeader(bytes: $0, atByteOffset: 1) } == header)
        #expect(bytes.withUnsafeBytes { EthernetHeader(bytes: $0, atByteOffset: 2) } == nil)
        #expect(EtherType(rawValue: 0x8100).description == "0x8100")
    }
}
