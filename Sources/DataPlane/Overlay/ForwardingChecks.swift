// The checks a router makes on an IP packet before routing it: header validation (RFC 1812
// §5.2.2 for IPv4, RFC 8200 §3 for IPv6) and the address rules of RFC 1812 §5.3.7 and
// RFC 4291 §2.5, read straight from the caller's buffer.

import WeftRouting

extension OverlayRouter {
    /// The fields of an IPv4/IPv6 header the router decides on.
    struct RoutedIPHeader {
        var source: IPAddress
        var destination: IPAddress
        /// IPv4 Protocol, or the IPv6 Next Header of the fixed header (OSPFv3 uses 89 there too).
        var protocolNumber: UInt8
        /// The packet's own length (IPv4 Total Length, 40 + IPv6 Payload Length).
        var length: Int
        /// TTL or hop limit.
        var hopLimit: UInt8
        /// IPv4 DF set, or IPv6 (routers never fragment IPv6, RFC 8200 §5).
        var dontFragment: Bool

        /// Reads and validates the header at the start of `packet`, which may hold link padding
        /// after the packet. IPv4: version, IHL ≥ 5, header ≤ Total Length ≤ buffer, and the header
        /// checksum if `verifyingChecksum` (the kernel's TUN output needs no re-check; frames from
        /// a link do). IPv6: version, 40 + Payload Length ≤ buffer (a jumbogram's 0 is taken as is).
        init(parsing packet: UnsafeRawBufferPointer, verifyingChecksum: Bool) throws(OverlayDropReason) {
            guard !packet.isEmpty else { throw .malformedPacket }
            switch packet[0] >> 4 {
            case 4:
                guard packet.count >= IPv4Header.length else { throw .malformedPacket }
                let headerLength = Int(packet[0] & 0x0F) * 4
                let totalLength = Int(Self.load16(packet, 2))
                guard headerLength >= IPv4Header.length, totalLength >= headerLength, totalLength <= packet.count else {
                    throw .malformedPacket
                }
                if verifyingChecksum {
                    let header = UnsafeRawBufferPointer(rebasing: packet[0..<headerLength])
                    guard InternetChecksum.checksum(header) == 0 else {
                        throw .ipv4ChecksumInvalid
                    }
                }
                guard let source = IPv4Address(ipv4PacketSource: packet),
                      let destination = IPv4Address(ipv4PacketDestination: packet) else { throw .malformedPacket }
                self.source = .v4(source)
                self.destination = .v4(destination)
                protocolNumber = packet[9]
                length = totalLength
                hopLimit = packet[8]
                dontFragment = Self.load16(packet, 6) & IPv4Header.dontFragment != 0
            case 6:
                guard packet.count >= IPv6Header.length else { throw .malformedPacket }
                let totalLength = IPv6Header.length + Int(Self.load16(packet, 4))
                guard totalLength <= packet.count else { throw .malformedPacket }
                guard let source = IPv6Address(ipv6PacketSource: packet),
                      let destination = IPv6Address(ipv6PacketDestination: packet) else { throw .malformedPacket }
                self.source = .v6(source)
                self.destination = .v6(destination)
                protocolNumber = packet[6]
                length = totalLength
                hopLimit = packet[7]
                dontFragment = true
            default:
                throw .malformedPacket
            }
        }

        private static func load16(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
            UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        }
    }

    /// OSPF's IP protocol number (RFC 2328 §A.1; OSPFv3 RFC 5340 uses the same Next Header).
    static let ospfProtocolNumber: UInt8 = 89

    /// May appear as the source of a packet a router forwards or accepts: not unspecified
    /// (IPv4 0.0.0.0/8 "this network"), loopback, multicast, or IPv4 240.0.0.0/4 (class E and
    /// limited broadcast) — RFC 1812 §5.3.7, RFC 4291 §2.5.2, §2.5.3, §2.7.
    static func isValidSource(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let address):
            let first = address.value >> 24
            return first != 0 && first != 127 && first < 224
        case .v6(let address):
            return !address.isUnspecified && !address.isLoopback && !address.isMulticast
        }
    }

    /// Never a valid destination on the wire: IPv4 0.0.0.0/8, 127.0.0.0/8 and class E except
    /// the limited broadcast (which is a group address); IPv6 :: and ::1 (RFC 1812 §5.3.7).
    static func isInvalidDestination(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let address):
            let first = address.value >> 24
            return first == 0 || first == 127 || (first >= 240 && address != .broadcast)
        case .v6(let address):
            return address.isUnspecified || address.isLoopback
        }
    }

    /// Multicast, or the IPv4 limited broadcast.
    static func isGroupAddress(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let address): address.isMulticast || address == .broadcast
        case .v6(let address): address.isMulticast
        }
    }

    /// IPv4 169.254.0.0/16 (RFC 3927) or IPv6 fe80::/10 (RFC 4291 §2.5.6).
    static func isLinkLocal(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let address): address.isLinkLocal
        case .v6(let address): address.isLinkLocal
        }
    }
}
