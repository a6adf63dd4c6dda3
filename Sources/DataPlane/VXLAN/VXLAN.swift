// VXLAN (RFC 7348): Ethernet frames in UDP, here one point-to-point segment per WireGuard
// tunnel, byte-compatible with a Linux `vxlan` device at the other end
// (`ip link add vx0 type vxlan id VNI local A remote B dstport 4789 dev wg0`).
//
// Transmit builds, in front of the payload in the caller's buffer,
//
//   outer IPv4/IPv6 | UDP (dst 4789) | VXLAN (I flag, VNI) | Ethernet | inner IP packet
//
// where the outer addresses are the link's addresses inside the tunnel. Receive validates every
// layer and returns where the inner frame lies, or why it was dropped.

import WeftRouting

/// A 24-bit VXLAN Network Identifier (RFC 7348 §5).
public struct VXLANNetworkIdentifier: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The VNI, 0...0xFFFFFF.
    public let rawValue: UInt32

    /// Nil unless `rawValue` fits in 24 bits.
    public init?(rawValue: UInt32) {
        guard rawValue <= Self.maximum else { return nil }
        self.rawValue = rawValue
    }

    /// Largest VNI.
    public static let maximum: UInt32 = 0xFF_FFFF

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}

/// The 8-byte VXLAN header (RFC 7348 §5):
///
///     |R|R|R|R|I|R|R|R|            Reserved                           |
///     |                VXLAN Network Identifier (VNI) |   Reserved    |
public enum VXLANHeader {
    /// Header length in bytes.
    public static let length = 8
    /// The I flag: the VNI is valid. The only flag RFC 7348 defines.
    public static let validVNIFlag: UInt8 = 0x08
    /// The IANA-assigned UDP destination port (RFC 7348 §5). Linux's default is 8472 (the port
    /// it used before the assignment), so `dstport 4789` must be given there.
    public static let udpPort: UInt16 = 4789

    /// Writes the header for `vni` at `offset`: I flag set, every reserved bit zero.
    public static func store(vni: VXLANNetworkIdentifier, into buffer: UnsafeMutableRawBufferPointer,
                             atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= length, "VXLAN header does not fit")
        buffer.storeBytes(of: (UInt32(validVNIFlag) << 24).bigEndian, toByteOffset: offset, as: UInt32.self)
        buffer.storeBytes(of: (vni.rawValue << 8).bigEndian, toByteOffset: offset + 4, as: UInt32.self)
    }
}

/// The outer (tunnel-inner) addresses of a VXLAN link. Both ends have the same family.
public enum VXLANUnderlay: Hashable, Sendable {
    case ipv4(local: IPv4Address, remote: IPv4Address)
    case ipv6(local: IPv6Address, remote: IPv6Address)

    /// The address family of the outer header.
    public var family: IPFamily {
        switch self {
        case .ipv4: .ipv4
        case .ipv6: .ipv6
        }
    }
}

/// Why an encapsulation request was refused. These are caller errors, not network input.
public enum VXLANEncapsulationError: Error, Hashable, Sendable {
    /// Fewer bytes before the payload than the headers need (`VXLANTunnel.headroom`).
    case insufficientHeadroom
    /// The payload does not start with an IPv4 or IPv6 version nibble.
    case notAnIPPacket
    /// The outer packet would exceed the 65535-byte IP length limit.
    case tooLong
}

/// Why a received VXLAN packet was dropped. Each check in `VXLANTunnel.decapsulate` has one.
public enum VXLANDropReason: Int, Error, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Shorter than the outer headers, than the IP length field claims, or than
    /// UDP + VXLAN + Ethernet.
    case truncated
    /// The IP version is not the underlay's family.
    case ipVersionMismatch
    /// IPv4 IHL below 5, or a total length shorter than the header.
    case ipv4HeaderLengthInvalid
    /// The IPv4 header checksum does not verify (RFC 791 §3.1).
    case ipv4HeaderChecksumInvalid
    /// An IPv4 fragment or an IPv6 Fragment header: the tunnel MTU leaves no reason to
    /// fragment VXLAN (RFC 7348 §4.3), and reassembly is not done here.
    case ipFragment
    /// Not UDP (including IPv6 packets with extension headers before UDP).
    case notUDP
    /// The outer source is not the link's remote address, or the destination is not local.
    case addressMismatch
    /// The UDP length is below 8 or differs from the IP payload length.
    case udpLengthInvalid
    /// The UDP destination port is not the VXLAN port configured for the link.
    case udpPortMismatch
    /// A non-zero UDP checksum does not verify.
    case udpChecksumInvalid
    /// A zero UDP checksum over IPv6, which RFC 8200 §8.1 forbids; RFC 6935/6936 allow it for
    /// tunnels only where configured, and Linux rejects it by default (`noudp6zerocsumrx`).
    case udpChecksumMissing
    /// The I flag is clear or another flag bit is set.
    case vxlanFlagsInvalid
    /// A reserved field is non-zero (see `VXLANTunnel.decapsulate`).
    case vxlanReservedBitsSet
    /// The VNI is not the link's.
    case vniMismatch
    /// The inner source MAC is a group address or all zeros.
    case sourceMACInvalid
    /// The inner source MAC is our own: a looped frame.
    case sourceMACIsLocal
    /// The inner destination is another station's unicast MAC.
    case destinationMACNotLocal
    /// The inner EtherType is not IPv4, IPv6 or ARP (802.1Q tags included).
    case etherTypeUnsupported
    /// The inner packet disagrees with its EtherType: wrong IP version, shorter than its
    /// header or its own length field, or an ARP packet under 28 bytes.
    case innerPacketInvalid

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .ipVersionMismatch: "IP version mismatch"
        case .ipv4HeaderLengthInvalid: "invalid IPv4 header length"
        case .ipv4HeaderChecksumInvalid: "bad IPv4 header checksum"
        case .ipFragment: "IP fragment"
        case .notUDP: "not UDP"
        case .addressMismatch: "outer address mismatch"
        case .udpLengthInvalid: "invalid UDP length"
        case .udpPortMismatch: "UDP port mismatch"
        case .udpChecksumInvalid: "bad UDP checksum"
        case .udpChecksumMissing: "zero UDP checksum over IPv6"
        case .vxlanFlagsInvalid: "invalid VXLAN flags"
        case .vxlanReservedBitsSet: "VXLAN reserved bits set"
        case .vniMismatch: "VNI mismatch"
        case .sourceMACInvalid: "invalid source MAC"
        case .sourceMACIsLocal: "looped frame"
        case .destinationMACNotLocal: "not addressed to us"
        case .etherTypeUnsupported: "unsupported EtherType"
        case .innerPacketInvalid: "invalid inner packet"
        }
    }
}

/// Per-reason drop counts, stored inline (no heap), for one link or one worker.
public struct VXLANDropCounters: Sendable {
    private var counts = InlineArray<24, UInt64>(repeating: 0)

    public init() {
        precondition(VXLANDropReason.allCases.count <= counts.count, "VXLANDropCounters too small")
    }

    /// Counts one drop.
    public mutating func record(_ reason: VXLANDropReason) {
        counts[reason.rawValue] &+= 1
    }

    /// Drops counted for `reason`.
    public subscript(reason: VXLANDropReason) -> UInt64 {
        counts[reason.rawValue]
    }

    /// Drops counted for all reasons.
    public var total: UInt64 {
        var sum: UInt64 = 0
        for index in counts.indices { sum &+= counts[index] }
        return sum
    }
}

/// A validated inner frame inside a received packet. Ranges index the buffer passed to
/// `decapsulate`.
public struct VXLANFrame: Hashable, Sendable {
    /// The inner Ethernet header. Its source is the peer's MAC, which `NeighborCache.receive`
    /// learns.
    public var ethernet: EthernetHeader
    /// The inner frame from its Ethernet header to the end of `payload`.
    public var frame: Range<Int>
    /// The inner IPv4/IPv6 packet or ARP packet, trimmed to its own length (a sender may pad
    /// short frames to the 60-byte Ethernet minimum).
    public var payload: Range<Int>

    public init(ethernet: EthernetHeader, frame: Range<Int>, payload: Range<Int>) {
        self.ethernet = ethernet
        self.frame = frame
        self.payload = payload
    }
}

/// One VXLAN link: a single remote VTEP reached through one WireGuard tunnel.
///
/// Configuration only: `encapsulate` and `decapsulate` touch nothing but the caller's buffer,
/// so one value can be shared by any number of threads.
public struct VXLANTunnel: Hashable, Sendable {
    /// The segment's VNI; both ends must use the same.
    public var vni: VXLANNetworkIdentifier
    /// The outer addresses: this node's and the peer's addresses inside the WireGuard tunnel.
    public var underlay: VXLANUnderlay
    /// This end's MAC, the inner source of every frame sent.
    public var localMAC: MACAddress
    /// UDP destination port sent to and accepted (Linux `dstport`).
    public var destinationPort: UInt16
    /// UDP source ports chosen by flow hash. RFC 7348 §5 recommends the dynamic range;
    /// Linux uses its local port range, 32768–60999 (`ip_local_port_range`, `srcport`).
    public var sourcePorts: ClosedRange<UInt16>
    /// Outer TTL / hop limit (Linux `ttl`; 64 by default).
    public var timeToLive: UInt8
    /// Whether to compute the UDP checksum over IPv4. RFC 7348 §5 says it SHOULD be zero, and
    /// the WireGuard tag already authenticates every byte, so the default is off. Over IPv6
    /// it is always computed (`VXLANDropReason.udpChecksumMissing`). Received checksums are
    /// verified whenever non-zero.
    public var computesIPv4UDPChecksum: Bool

    public init(vni: VXLANNetworkIdentifier, underlay: VXLANUnderlay, localMAC: MACAddress,
                destinationPort: UInt16 = VXLANHeader.udpPort, sourcePorts: ClosedRange<UInt16> = 32768...60999,
                timeToLive: UInt8 = 64, computesIPv4UDPChecksum: Bool = false) {
        self.vni = vni
        self.underlay = underlay
        self.localMAC = localMAC
        self.destinationPort = destinationPort
        self.sourcePorts = sourcePorts
        self.timeToLive = timeToLive
        self.computesIPv4UDPChecksum = computesIPv4UDPChecksum
    }

    /// Outer IP + UDP + VXLAN: bytes needed in front of an Ethernet frame (36 or 56).
    public var frameHeadroom: Int {
        LinkMTU.ipHeaderLength(underlay.family) + LinkMTU.udpHeaderLength + VXLANHeader.length
    }

    /// Outer IP + UDP + VXLAN + Ethernet: bytes needed in front of an IP packet (50 or 70).
    public var headroom: Int { frameHeadroom + EthernetHeader.length }

    /// The most headroom any tunnel needs (an IPv6 outer header): 70.
    public static let maximumHeadroom = LinkMTU.vxlanOverhead(outer: .ipv6)

    // MARK: Encapsulation

    /// Wraps the IP packet at `buffer[packet]` in Ethernet (to `destinationMAC`), VXLAN, UDP
    /// and the outer IP header, written in the `headroom` bytes before it. Returns the range of
    /// the outer packet, which ends where `packet` ends.
    ///
    /// `flowHash` picks the UDP source port (RFC 7348 §5: from a hash of the inner headers, so
    /// that flows stay apart in the underlay). Nil hashes the inner 5-tuple with
    /// `flowHash(packet:)`; a router that computed that hash for ECMP already passes it in.
    public func encapsulate(ipPacket packet: Range<Int>, in buffer: UnsafeMutableRawBufferPointer,
                            destinationMAC: MACAddress, flowHash: UInt32? = nil)
        throws(VXLANEncapsulationError) -> Range<Int> {
        precondition(packet.lowerBound >= 0 && packet.upperBound <= buffer.count, "packet outside buffer")
        guard !packet.isEmpty else { throw .notAnIPPacket }
        let etherType: EtherType
        switch buffer[packet.lowerBound] >> 4 {
        case 4: etherType = .ipv4
        case 6: etherType = .ipv6
        default: throw .notAnIPPacket
        }
        guard packet.lowerBound >= headroom else { throw .insufficientHeadroom }
        let frameStart = packet.lowerBound - EthernetHeader.length
        EthernetHeader(destination: destinationMAC, source: localMAC, etherType: etherType)
            .store(into: buffer, atByteOffset: frameStart)
        let hash = flowHash ?? Self.innerFlowHash(UnsafeRawBufferPointer(rebasing: buffer[packet]),
                                                  frame: UnsafeRawBufferPointer(rebasing: buffer[frameStart..<packet.upperBound]))
        return try encapsulate(ethernetFrame: frameStart..<packet.upperBound, in: buffer, flowHash: hash)
    }

    /// Wraps the complete Ethernet frame at `buffer[frame]` (e.g. an ARP reply from the
    /// `NeighborCache`) in VXLAN, UDP and the outer IP header, written in the `frameHeadroom`
    /// bytes before it. Returns the range of the outer packet.
    public func encapsulate(ethernetFrame frame: Range<Int>, in buffer: UnsafeMutableRawBufferPointer,
                            flowHash: UInt32? = nil) throws(VXLANEncapsulationError) -> Range<Int> {
        precondition(frame.lowerBound >= 0 && frame.upperBound <= buffer.count, "frame outside buffer")
        guard frame.lowerBound >= frameHeadroom else { throw .insufficientHeadroom }
        let start = frame.lowerBound - frameHeadroom
        let udpStart = start + LinkMTU.ipHeaderLength(underlay.family)
        let udpLength = frame.upperBound - udpStart
        let hash: UInt32
        if let flowHash {
            hash = flowHash
        } else {
            let frameBytes = UnsafeRawBufferPointer(rebasing: buffer[frame])
            let payload = frameBytes.count > EthernetHeader.length
                ? UnsafeRawBufferPointer(rebasing: frameBytes[EthernetHeader.length...])
                : UnsafeRawBufferPointer(start: nil, count: 0)
            hash = Self.innerFlowHash(payload, frame: frameBytes)
        }

        // UDP header (RFC 768), checksum filled in below once the header is complete.
        buffer.storeBytes(of: sourcePort(forFlowHash: hash).bigEndian, toByteOffset: udpStart, as: UInt16.self)
        buffer.storeBytes(of: destinationPort.bigEndian, toByteOffset: udpStart + 2, as: UInt16.self)
        buffer.storeBytes(of: UInt16(truncatingIfNeeded: udpLength).bigEndian, toByteOffset: udpStart + 4, as: UInt16.self)
        buffer.storeBytes(of: 0, toByteOffset: udpStart + 6, as: UInt16.self)
        VXLANHeader.store(vni: vni, into: buffer, atByteOffset: udpStart + LinkMTU.udpHeaderLength)
        let datagram = UnsafeRawBufferPointer(rebasing: buffer[udpStart..<frame.upperBound])

        switch underlay {
        case .ipv4(let local, let remote):
            let totalLength = frame.upperBound - start
            guard totalLength <= Int(UInt16.max) else { throw .tooLong }
            if computesIPv4UDPChecksum {
                var checksum = InternetChecksum()
                checksum.addPseudoHeader(source: local, destination: remote, protocolNumber: IPProtocolNumber.udp,
                                         upperLayerLength: udpLength)
                checksum.add(datagram)
                storeUDPChecksum(checksum.checksum, into: buffer, udpStart: udpStart)
            }
            // DF set: the tunnel MTU is sized so VXLAN never fragments (RFC 7348 §4.3). An
            // atomic datagram may carry any Identification (RFC 6864 §4.1).
            IPv4Header(totalLength: UInt16(totalLength), flagsAndFragmentOffset: IPv4Header.dontFragment,
                       timeToLive: timeToLive, protocolNumber: IPProtocolNumber.udp, source: local, destination: remote)
                .store(into: buffer, atByteOffset: start)
        case .ipv6(let local, let remote):
            guard udpLength <= Int(UInt16.max) else { throw .tooLong }
            var checksum = InternetChecksum()
            checksum.addPseudoHeader(source: local, destination: remote, nextHeader: IPProtocolNumber.udp,
                                     upperLayerLength: udpLength)
            checksum.add(datagram)
            storeUDPChecksum(checksum.checksum, into: buffer, udpStart: udpStart)
            IPv6Header(payloadLength: UInt16(udpLength), nextHeader: IPProtocolNumber.udp, hopLimit: timeToLive,
                       source: local, destination: remote)
                .store(into: buffer, atByteOffset: start)
        }
        return start..<frame.upperBound
    }

    /// The UDP source port for a flow: `hash` scaled onto `sourcePorts` by multiply-shift, as
    /// Linux's `udp_flow_src_port` does, so the ports of the range are used evenly (Linux
    /// leaves out the top port of its range; this range is closed).
    public func sourcePort(forFlowHash hash: UInt32) -> UInt16 {
        let span = UInt64(sourcePorts.upperBound - sourcePorts.lowerBound) + 1
        return sourcePorts.lowerBound + UInt16(truncatingIfNeeded: (UInt64(hash) * span) >> 32)
    }

    /// A computed UDP checksum of zero is sent as all ones: zero means "no checksum"
    /// (RFC 768; RFC 8200 §8.1).
    private func storeUDPChecksum(_ checksum: UInt16, into buffer: UnsafeMutableRawBufferPointer, udpStart: Int) {
        let wire = checksum == 0 ? 0xFFFF : checksum
        buffer.storeBytes(of: wire.bigEndian, toByteOffset: udpStart + 6, as: UInt16.self)
    }

    /// The flow hash of an inner frame: the IP 5-tuple when there is one, else the Ethernet
    /// addresses (Linux falls back the same way for non-IP frames).
    private static func innerFlowHash(_ payload: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer) -> UInt32 {
        if let hash = WeftRouting.flowHash(packet: payload) { return hash }
        guard let ethernet = EthernetHeader(bytes: frame) else { return 0 }
        // SplitMix64 finaliser over both addresses.
        var x = ethernet.destination.value << 16 ^ ethernet.source.value ^ 0x9E37_79B9_7F4A_7C15
        x = (x ^ x >> 30) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ x >> 27) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        return UInt32(truncatingIfNeeded: x ^ x >> 32)
    }

    // MARK: Decapsulation

    /// Validates the outer packet `packet` (a decrypted WireGuard payload, possibly followed by
    /// WireGuard's zero padding) and locates the inner frame in it. Never traps on any input.
    ///
    /// Checks, in order: IP version, length fields against the buffer, IPv4 header checksum,
    /// fragmentation, protocol, addresses; UDP length, port and checksum; VXLAN flags and VNI;
    /// the inner Ethernet addresses and EtherType; the inner packet's length.
    ///
    /// Reserved VXLAN bits make the packet invalid, although RFC 7348 §5 says to ignore them:
    /// Linux drops such packets too (vxlan_rcv, "unparsed" flags), because extensions such as
    /// Group Policy and GPE reuse those bits and change what follows.
    public func decapsulate(_ packet: UnsafeRawBufferPointer) throws(VXLANDropReason) -> VXLANFrame {
        guard !packet.isEmpty else { throw .truncated }
        let udpStart: Int
        let udpAvailable: Int
        var checksum = InternetChecksum()
        switch underlay {
        case .ipv4(let local, let remote):
            guard packet[0] >> 4 == 4 else { throw .ipVersionMismatch }
            guard packet.count >= IPv4Header.length else { throw .truncated }
            let headerLength = Int(packet[0] & 0x0F) * 4
            let totalLength = Int(Self.load16(packet, 2))
            guard headerLength >= IPv4Header.length, totalLength >= headerLength else {
                throw .ipv4HeaderLengthInvalid
            }
            guard totalLength <= packet.count else { throw .truncated }
            guard InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: packet[0..<headerLength])) == 0 else {
                throw .ipv4HeaderChecksumInvalid
            }
            // More Fragments set or a non-zero offset (RFC 791 §3.1).
            guard Self.load16(packet, 6) & 0x3FFF == 0 else { throw .ipFragment }
            guard packet[9] == IPProtocolNumber.udp else { throw .notUDP }
            guard IPv4Address(ipv4PacketSource: packet) == remote,
                  IPv4Address(ipv4PacketDestination: packet) == local else { throw .addressMismatch }
            udpStart = headerLength
            udpAvailable = totalLength - headerLength
            checksum.addPseudoHeader(source: remote, destination: local, protocolNumber: IPProtocolNumber.udp,
                                     upperLayerLength: udpAvailable)
        case .ipv6(let local, let remote):
            guard packet[0] >> 4 == 6 else { throw .ipVersionMismatch }
            guard packet.count >= IPv6Header.length else { throw .truncated }
            let payloadLength = Int(Self.load16(packet, 4))
            guard IPv6Header.length + payloadLength <= packet.count else { throw .truncated }
            guard packet[6] != IPProtocolNumber.ipv6Fragment else { throw .ipFragment }
            guard packet[6] == IPProtocolNumber.udp else { throw .notUDP }
            guard IPv6Address(ipv6PacketSource: packet) == remote,
                  IPv6Address(ipv6PacketDestination: packet) == local else { throw .addressMismatch }
            udpStart = IPv6Header.length
            udpAvailable = payloadLength
            checksum.addPseudoHeader(source: remote, destination: local, nextHeader: IPProtocolNumber.udp,
                                     upperLayerLength: udpAvailable)
        }

        // UDP (RFC 768).
        guard udpAvailable >= LinkMTU.udpHeaderLength else { throw .truncated }
        guard Int(Self.load16(packet, udpStart + 4)) == udpAvailable else { throw .udpLengthInvalid }
        guard Self.load16(packet, udpStart + 2) == destinationPort else { throw .udpPortMismatch }
        let udpEnd = udpStart + udpAvailable
        if Self.load16(packet, udpStart + 6) == 0 {
            if underlay.family == .ipv6 { throw .udpChecksumMissing }
        } else {
            checksum.add(UnsafeRawBufferPointer(rebasing: packet[udpStart..<udpEnd]))
            guard checksum.isValid else { throw .udpChecksumInvalid }
        }

        // VXLAN (RFC 7348 §5).
        let vxlanStart = udpStart + LinkMTU.udpHeaderLength
        let frameStart = vxlanStart + VXLANHeader.length
        guard udpEnd - frameStart >= EthernetHeader.length else { throw .truncated }
        let flagsWord = Self.load32(packet, vxlanStart)
        guard flagsWord >> 24 == UInt32(VXLANHeader.validVNIFlag) else { throw .vxlanFlagsInvalid }
        let vniWord = Self.load32(packet, vxlanStart + 4)
        guard flagsWord & 0xFF_FFFF == 0, vniWord & 0xFF == 0 else { throw .vxlanReservedBitsSet }
        guard vniWord >> 8 == vni.rawValue else { throw .vniMismatch }

        // Inner Ethernet.
        guard let ethernet = EthernetHeader(bytes: packet, atByteOffset: frameStart) else { throw .truncated }
        guard ethernet.source.isUnicast else { throw .sourceMACInvalid }
        guard ethernet.source != localMAC else { throw .sourceMACIsLocal }
        guard ethernet.destination == localMAC || ethernet.destination.isMulticast else {
            throw .destinationMACNotLocal
        }
        let payloadStart = frameStart + EthernetHeader.length
        let available = udpEnd - payloadStart
        let payloadLength: Int
        switch ethernet.etherType {
        case .ipv4:
            guard available >= IPv4Header.length, packet[payloadStart] >> 4 == 4 else { throw .innerPacketInvalid }
            payloadLength = Int(Self.load16(packet, payloadStart + 2))
            guard payloadLength >= IPv4Header.length, payloadLength <= available else { throw .innerPacketInvalid }
        case .ipv6:
            guard available >= IPv6Header.length, packet[payloadStart] >> 4 == 6 else { throw .innerPacketInvalid }
            payloadLength = IPv6Header.length + Int(Self.load16(packet, payloadStart + 4))
            guard payloadLength <= available else { throw .innerPacketInvalid }
        case .arp:
            guard available >= ARPPacket.length else { throw .innerPacketInvalid }
            payloadLength = ARPPacket.length
        default:
            throw .etherTypeUnsupported
        }
        let payloadEnd = payloadStart + payloadLength
        return VXLANFrame(ethernet: ethernet, frame: frameStart..<payloadEnd, payload: payloadStart..<payloadEnd)
    }

    /// `decapsulate(_:)` that counts a drop in `counters` and returns nil instead of throwing.
    public func decapsulate(_ packet: UnsafeRawBufferPointer, counters: inout VXLANDropCounters) -> VXLANFrame? {
        do {
            return try decapsulate(packet)
        } catch {
            counters.record(error)
            return nil
        }
    }

    private static func load16(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    private static func load32(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
