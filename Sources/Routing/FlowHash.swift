// Flow identification for ECMP next-hop selection.
//
// Spreading packets over equal-cost paths per packet reorders TCP segments (RFC 2991 §2), so
// routers hash the fields that identify a flow — addresses, protocol and, for port-based
// transports, the ports — and keep each flow on one path. Fragments carry ports only in the
// first fragment, so ports are left out for every fragment: all fragments of a datagram then
// hash alike and take the same path.

/// The 5-tuple of a packet, as used for ECMP hashing.
public struct FlowKey: Hashable, Sendable {
    public var source: IPAddress
    public var destination: IPAddress
    /// IPv4 Protocol, or the IPv6 upper-layer Next Header after any extension headers.
    public var protocolNumber: UInt8
    /// Transport source port; 0 for protocols without ports and for fragments.
    public var sourcePort: UInt16
    /// Transport destination port; 0 for protocols without ports and for fragments.
    public var destinationPort: UInt16

    public init(source: IPAddress, destination: IPAddress, protocolNumber: UInt8,
                sourcePort: UInt16 = 0, destinationPort: UInt16 = 0) {
        self.source = source
        self.destination = destination
        self.protocolNumber = protocolNumber
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// Reads the flow of the IPv4 (RFC 791 §3.1) or IPv6 (RFC 8200 §3-4) packet at `packet[0]`.
    /// Nil if the buffer does not start with a complete IPv4 header (IHL within the buffer) or
    /// IPv6 fixed header. A truncated transport header or extension-header chain yields a key
    /// without ports rather than nil. Does not allocate.
    public init?(packet: UnsafeRawBufferPointer) {
        guard !packet.isEmpty else { return nil }
        switch packet[0] >> 4 {
        case 4:
            let headerLength = Int(packet[0] & 0x0F) * 4
            guard headerLength >= 20, packet.count >= headerLength else { return nil }
            source = .v4(IPv4Address(UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: 12, as: UInt32.self))))
            destination = .v4(IPv4Address(UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: 16, as: UInt32.self))))
            protocolNumber = packet[9]
            // More-fragments flag or a non-zero fragment offset: a fragment.
            let fragment = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) & 0x3FFF
            (sourcePort, destinationPort) = fragment == 0
                ? Self.ports(in: packet, at: headerLength, protocolNumber: protocolNumber)
                : (0, 0)
        case 6:
            guard packet.count >= 40 else { return nil }
            source = .v6(IPv6Address(unsafeBytes: packet, atByteOffset: 8))
            destination = .v6(IPv6Address(unsafeBytes: packet, atByteOffset: 24))
            var nextHeader = packet[6]
            var offset = 40
            var fragmented = false
            var reachedUpperLayer = false
            // Skip extension headers (RFC 8200 §4.1); the bound stops crafted endless chains.
            for skipped in 0...Self.maximumExtensionHeaders {
                let kind = nextHeader
                guard Self.isExtensionHeader(kind) else {
                    reachedUpperLayer = true
                    break
                }
                // Too long a chain or a truncated header: hash without ports.
                guard skipped < Self.maximumExtensionHeaders, packet.count - offset >= 8 else { break }
                nextHeader = packet[offset]
                let lengthField = Int(packet[offset + 1])
                switch kind {
                case 44:  // Fragment (§4.5): fixed 8 bytes.
                    fragmented = true
                    offset += 8
                case 51:  // Authentication Header (RFC 4302 §2.2): 4-octet units, minus 2.
                    offset += (lengthField + 2) * 4
                default:  // Hop-by-Hop, Routing, Destination Options: 8-octet units after the first 8.
                    offset += (lengthField + 1) * 8
                }
            }
            protocolNumber = nextHeader
            (sourcePort, destinationPort) = reachedUpperLayer && !fragmented
                ? Self.ports(in: packet, at: offset, protocolNumber: nextHeader)
                : (0, 0)
        default:
            return nil
        }
    }

    /// A 32-bit hash of the key for ECMP selection (`Route.nextHop(forFlowHash:)`).
    ///
    /// Deterministic for a given `seed`; routers in one network should use different seeds so
    /// that consecutive hops do not make the same choice and starve paths ("polarisation").
    /// This is a fast mixing function, not a keyed PRF: a sender can steer its own flows, which
    /// ECMP tolerates.
    public func hash(seed: UInt64 = 0) -> UInt32 {
        var state = Self.mix(seed ^ 0x9E37_79B9_7F4A_7C15)
        switch source {
        case .v4(let address): state = Self.mix(state ^ UInt64(address.value))
        case .v6(let address): state = Self.mix(Self.mix(state ^ address.hi) ^ address.lo)
        }
        switch destination {
        case .v4(let address): state = Self.mix(state ^ UInt64(address.value))
        case .v6(let address): state = Self.mix(Self.mix(state ^ address.hi) ^ address.lo)
        }
        let transport = UInt64(protocolNumber) << 32 | UInt64(sourcePort) << 16 | UInt64(destinationPort)
        state = Self.mix(state ^ transport)
        return UInt32(truncatingIfNeeded: state ^ state >> 32)
    }

    /// More extension headers than any sane packet carries; beyond it ports are not read.
    static let maximumExtensionHeaders = 8

    /// Hop-by-Hop (0), Routing (43), Fragment (44), Authentication (51), Destination Options (60).
    private static func isExtensionHeader(_ nextHeader: UInt8) -> Bool {
        switch nextHeader {
        case 0, 43, 44, 51, 60: true
        default: false
        }
    }

    /// Transports whose header starts with 16-bit source and destination ports: TCP (6),
    /// UDP (17), DCCP (33), SCTP (132), UDP-Lite (136).
    private static func ports(in packet: UnsafeRawBufferPointer, at offset: Int,
                              protocolNumber: UInt8) -> (UInt16, UInt16) {
        switch protocolNumber {
        case 6, 17, 33, 132, 136:
            guard offset >= 0, packet.count - offset >= 4 else { return (0, 0) }
            return (UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: offset, as: UInt16.self)),
                    UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)))
        default:
            return (0, 0)
        }
    }

    /// The SplitMix64 finaliser: a bijective 64-bit mix with full avalanche.
    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x = (x ^ x >> 30) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ x >> 27) &* 0x94D0_49BB_1331_11EB
        return x ^ x >> 31
    }
}

/// The ECMP flow hash of the IPv4/IPv6 packet at `packet[0]` (see `FlowKey.init(packet:)` and
/// `FlowKey.hash(seed:)`); nil if the buffer does not hold an IP header. Does not allocate.
public func flowHash(packet: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt32? {
    FlowKey(packet: packet)?.hash(seed: seed)
}
