// Shared fixtures for the VXLAN/packet tests. Everything lives in `PacketFixture` so that the
// names cannot collide with other test files in this target.

import WeftRouting
@testable import WeftDataPlane

enum PacketFixture {
    /// SplitMix64: a seeded, reproducible generator for the randomized tests.
    struct Generator: RandomNumberGenerator {
        private var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func v4(_ text: String) -> IPv4Address { IPv4Address(text)! }
    static func v6(_ text: String) -> IPv6Address { IPv6Address(text)! }
    static func mac(_ text: String) -> MACAddress { MACAddress(text)! }
    static func vni(_ value: UInt32) -> VXLANNetworkIdentifier { VXLANNetworkIdentifier(rawValue: value)! }

    static let localMAC = mac("02:00:00:00:00:01")
    static let peerMAC = mac("02:00:00:00:00:02")
    static let local4 = v4("10.99.0.1")
    static let remote4 = v4("10.99.0.2")
    static let local6 = v6("fd00:99::1")
    static let remote6 = v6("fd00:99::2")

    static func tunnel4(vni: UInt32 = 42, udpChecksum: Bool = false) -> VXLANTunnel {
        VXLANTunnel(vni: Self.vni(vni), underlay: .ipv4(local: local4, remote: remote4), localMAC: localMAC,
                    computesIPv4UDPChecksum: udpChecksum)
    }

    static func tunnel6(vni: UInt32 = 42) -> VXLANTunnel {
        VXLANTunnel(vni: Self.vni(vni), underlay: .ipv6(local: local6, remote: remote6), localMAC: localMAC)
    }

    /// The peer's view of a link: addresses swapped, the peer's MAC.
    static func peerTunnel(of tunnel: VXLANTunnel) -> VXLANTunnel {
        var peer = tunnel
        switch tunnel.underlay {
        case .ipv4(let local, let remote): peer.underlay = .ipv4(local: remote, remote: local)
        case .ipv6(let local, let remote): peer.underlay = .ipv6(local: remote, remote: local)
        }
        peer.localMAC = peerMAC
        return peer
    }

    // MARK: Byte building

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    static func bytes(_ address: IPv4Address) -> [UInt8] { bytes(address.value) }
    static func bytes(_ address: IPv6Address) -> [UInt8] { bytes(address.hi) + bytes(address.lo) }
    static func bytes(_ address: MACAddress) -> [UInt8] { Array(bytes(address.value).suffix(6)) }

    static func word(_ bytes: [UInt8], at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    static func setWord(_ bytes: inout [UInt8], at offset: Int, _ value: UInt16) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(value & 0xFF)
    }

    /// The RFC 1071 checksum written the obvious way: big-endian words, 32-bit sum, folded.
    static func referenceChecksum(_ data: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index < data.count {
            let high = UInt32(data[index]) << 8
            let low = index + 1 < data.count ? UInt32(data[index + 1]) : 0
            sum += high | low
            index += 2
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func ipv4PseudoHeader(source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8,
                                 length: Int) -> [UInt8] {
        bytes(source) + bytes(destination) + [0, protocolNumber] + bytes(UInt16(length))
    }

    static func ipv6PseudoHeader(source: IPv6Address, destination: IPv6Address, nextHeader: UInt8,
                                 length: Int) -> [UInt8] {
        bytes(source) + bytes(destination) + bytes(UInt32(length)) + [0, 0, 0, nextHeader]
    }

    /// An IPv4 header by RFC 791 §3.1 with a correct checksum, followed by `payload`.
    static func ipv4Packet(source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8,
                           ttl: UInt8 = 64, tos: UInt8 = 0, identification: UInt16 = 0x1234,
                           flags: UInt16 = 0x4000, payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0x45, tos] + bytes(UInt16(20 + payload.count)) + bytes(identification)
            + bytes(flags) + [ttl, protocolNumber, 0, 0] + bytes(source) + bytes(destination)
        setWord(&header, at: 10, referenceChecksum(header))
        return header + payload
    }

    /// An IPv6 header by RFC 8200 §3 followed by `payload`.
    static func ipv6Packet(source: IPv6Address, destination: IPv6Address, nextHeader: UInt8,
                           hopLimit: UInt8 = 64, payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + bytes(UInt16(payload.count)) + [nextHeader, hopLimit] + bytes(source)
            + bytes(destination) + payload
    }

    /// An ICMPv4 echo request (RFC 792) with a correct checksum.
    static func icmpEcho(identifier: UInt16 = 0x4242, sequence: UInt16 = 1, data: [UInt8]) -> [UInt8] {
        var message: [UInt8] = [8, 0, 0, 0] + bytes(identifier) + bytes(sequence) + data
        setWord(&message, at: 2, referenceChecksum(message))
        return message
    }

    /// An inner IPv4 ping, 192.0.2.1 → 198.51.100.7.
    static func innerIPv4Ping(dataLength: Int = 16) -> [UInt8] {
        ipv4Packet(source: v4("192.0.2.1"), destination: v4("198.51.100.7"), protocolNumber: 1,
                   payload: icmpEcho(data: (0..<dataLength).map { UInt8(truncatingIfNeeded: $0) }))
    }

    /// An inner IPv6 UDP datagram 2001:db8::1 → 2001:db8:1::2 with a correct checksum.
    static func innerIPv6UDP(payloadLength: Int = 11) -> [UInt8] {
        let source = v6("2001:db8::1"), destination = v6("2001:db8:1::2")
        let data = (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var udp = bytes(UInt16(40001)) + bytes(UInt16(9)) + bytes(UInt16(8 + data.count)) + [0, 0] + data
        let sum = referenceChecksum(ipv6PseudoHeader(source: source, destination: destination, nextHeader: 17,
                                                     length: udp.count) + udp)
        setWord(&udp, at: 6, sum == 0 ? 0xFFFF : sum)
        return ipv6Packet(source: source, destination: destination, nextHeader: 17, payload: udp)
    }

    // MARK: Buffers

    /// `body` gets a mutable buffer holding `headroom` zero bytes, `content`, `tailroom` zero
    /// bytes, and the range of `content` in it; returns what `body` returns and the buffer's
    /// final bytes.
    static func withBuffer<R>(headroom: Int, _ content: [UInt8], tailroom: Int = 0,
                              _ body: (UnsafeMutableRawBufferPointer, Range<Int>) throws -> R) rethrows -> (R, [UInt8]) {
        var storage = [UInt8](repeating: 0, count: headroom) + content + [UInt8](repeating: 0, count: tailroom)
        let result = try storage.withUnsafeMutableBytes { try body($0, headroom..<headroom + content.count) }
        return (result, storage)
    }

    /// Encapsulates `inner` with `tunnel` to `peerMAC` and returns the outer packet's bytes.
    static func encapsulated(_ inner: [UInt8], tunnel: VXLANTunnel, destinationMAC: MACAddress = peerMAC,
                             flowHash: UInt32? = 0) throws -> [UInt8] {
        let (range, storage) = try withBuffer(headroom: VXLANTunnel.maximumHeadroom, inner) { buffer, packet in
            try tunnel.encapsulate(ipPacket: packet, in: buffer, destinationMAC: destinationMAC, flowHash: flowHash)
        }
        return Array(storage[range])
    }

    /// Decapsulates `packet` with `tunnel`.
    static func decapsulate(_ packet: [UInt8], tunnel: VXLANTunnel) -> Result<VXLANFrame, VXLANDropReason> {
        packet.withUnsafeBytes { bytes in
            do throws(VXLANDropReason) {
                return .success(try tunnel.decapsulate(bytes))
            } catch {
                return .failure(error)
            }
        }
    }
}
