import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct PacketForwardingTests {
    typealias F = PacketFixture

    static func decrement(_ packet: [UInt8]) -> (HopLimitDecrement, [UInt8]) {
        var copy = packet
        let result = copy.withUnsafeMutableBytes { IPForwarding.decrementHopLimit(packet: $0) }
        return (result, copy)
    }

    @Test(arguments: [(UInt8(64), HopLimitDecrement.forwarded), (255, .forwarded), (2, .forwarded),
                      (1, .expired), (0, .expired)])
    func ipv4TimeToLive(_ ttl: UInt8, _ expected: HopLimitDecrement) {
        let packet = F.ipv4Packet(source: F.v4("192.0.2.1"), destination: F.v4("198.51.100.1"), protocolNumber: 6,
                                  ttl: ttl, payload: [1, 2, 3, 4])
        let (result, after) = Self.decrement(packet)
        #expect(result == expected)
        if expected == .forwarded {
            let recomputed = F.ipv4Packet(source: F.v4("192.0.2.1"), destination: F.v4("198.51.100.1"),
                                          protocolNumber: 6, ttl: ttl - 1, payload: [1, 2, 3, 4])
            #expect(after == recomputed)
        } else {
            #expect(after == packet)
        }
    }

    @Test(arguments: [(UInt8(64), HopLimitDecrement.forwarded), (255, .forwarded), (2, .forwarded),
                      (1, .expired), (0, .expired)])
    func ipv6HopLimit(_ hopLimit: UInt8, _ expected: HopLimitDecrement) {
        let packet = F.ipv6Packet(source: F.v6("2001:db8::1"), destination: F.v6("2001:db8::2"), nextHeader: 59,
                                  hopLimit: hopLimit, payload: [])
        let (result, after) = Self.decrement(packet)
        #expect(result == expected)
        var expectedBytes = packet
        if expected == .forwarded { expectedBytes[7] = hopLimit - 1 }
        #expect(after == expectedBytes)
    }

    @Test func malformedHeadersAreLeftAlone() {
        for packet in [[], [0x45], [UInt8](repeating: 0x45, count: 19), [UInt8](repeating: 0x60, count: 39),
                       [UInt8](repeating: 0x55, count: 60)] {
            let (result, after) = Self.decrement(packet)
            #expect(result == .malformed)
            #expect(after == packet)
        }
    }

    @Test func incrementalChecksumEqualsFullRecomputationOnRandomHeaders() {
        var generator = F.Generator(seed: 0x1624)
        for _ in 0..<20_000 {
            var header = (0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) }
            header[0] = 0x45
            header[8] = UInt8.random(in: 2...255, using: &generator)
            F.setWord(&header, at: 10, 0)
            F.setWord(&header, at: 10, F.referenceChecksum(header))
            let (result, after) = Self.decrement(header)
            #expect(result == .forwarded)
            var recomputed = after
            F.setWord(&recomputed, at: 10, 0)
            #expect(F.word(after, at: 10) == F.referenceChecksum(recomputed), "header \(header)")
            #expect(after[8] == header[8] - 1)
        }
    }

    @Test func aCorruptChecksumStaysCorrupt() {
        var packet = F.ipv4Packet(source: F.v4("192.0.2.1"), destination: F.v4("198.51.100.1"), protocolNumber: 17,
                                  payload: [])
        packet[11] ^= 0x55
        let (_, after) = Self.decrement(packet)
        #expect(F.referenceChecksum(after) != 0)
    }
}
