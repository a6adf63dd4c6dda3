// The IPv4 (RFC 791 §3.1) and IPv6 (RFC 8200 §3) headers this layer writes: VXLAN's outer
// header and the header of locally generated ICMP and Neighbor Discovery packets. Readers of
// received headers validate in place instead (see `VXLANTunnel.decapsulate`), because each
// check there has its own drop reason.

import WeftRouting

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers") used by this layer.
public enum IPProtocolNumber {
    /// ICMP for IPv4 (RFC 792).
    public static let icmp: UInt8 = 1
    /// UDP (RFC 768).
    public static let udp: UInt8 = 17
    /// The IPv6 Fragment extension header (RFC 8200 §4.5).
    public static let ipv6Fragment: UInt8 = 44
    /// ICMP for IPv6 (RFC 4443).
    public static let icmpv6: UInt8 = 58
}

/// An IPv4 header without options (IHL 5).
public struct IPv4Header: Hashable, Sendable {
    /// Length of a header without options.
    public static let length = 20
    /// The Don't Fragment flag in `flagsAndFragmentOffset` (RFC 791 §3.1).
    public static let dontFragment: UInt16 = 0x4000
    /// Default TTL for packets this node originates (RFC 1700 "IP TTL", Linux `ip_default_ttl`).
    public static let defaultTimeToLive: UInt8 = 64

    /// DSCP and ECN (RFC 2474, RFC 3168).
    public var typeOfService: UInt8
    /// Header plus payload, in bytes.
    public var totalLength: UInt16
    public var identification: UInt16
    /// The three flag bits and the 13-bit fragment offset.
    public var flagsAndFragmentOffset: UInt16
    public var timeToLive: UInt8
    public var protocolNumber: UInt8
    public var source: IPv4Address
    public var destination: IPv4Address

    public init(typeOfService: UInt8 = 0, totalLength: UInt16, identification: UInt16 = 0,
                flagsAndFragmentOffset: UInt16 = IPv4Header.dontFragment,
                timeToLive: UInt8 = IPv4Header.defaultTimeToLive, protocolNumber: UInt8,
                source: IPv4Address, destination: IPv4Address) {
        self.typeOfService = typeOfService
        self.totalLength = totalLength
        self.identification = identification
        self.flagsAndFragmentOffset = flagsAndFragmentOffset
        self.timeToLive = timeToLive
        self.protocolNumber = protocolNumber
        self.source = source
        self.destination = destination
    }

    /// Writes the 20-byte header at `offset`, header checksum included (RFC 791 §3.1).
    ///
    /// - Precondition: `buffer` has 20 bytes at `offset`.
    public func store(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= Self.length, "IPv4 header does not fit")
        buffer[offset] = 0x45
        buffer[offset + 1] = typeOfService
        buffer.storeBytes(of: totalLength.bigEndian, toByteOffset: offset + 2, as: UInt16.self)
        buffer.storeBytes(of: identification.bigEndian, toByteOffset: offset + 4, as: UInt16.self)
        buffer.storeBytes(of: flagsAndFragmentOffset.bigEndian, toByteOffset: offset + 6, as: UInt16.self)
        buffer[offset + 8] = timeToLive
        buffer[offset + 9] = protocolNumber
        buffer.storeBytes(of: 0, toByteOffset: offset + 10, as: UInt16.self)
        source.store(into: buffer, atByteOffset: offset + 12)
        destination.store(into: buffer, atByteOffset: offset + 16)
        let checksum = InternetChecksum.checksum(
            UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + Self.length]))
        buffer.storeBytes(of: checksum.bigEndian, toByteOffset: offset + 10, as: UInt16.self)
    }
}

/// An IPv6 fixed header (RFC 8200 §3).
public struct IPv6Header: Hashable, Sendable {
    /// Length of the fixed header.
    public static let length = 40
    /// Default hop limit for packets this node originates (Linux `hop_limit`, RFC 4861 §6.3.2
    /// CurHopLimit when no router advertises one).
    public static let defaultHopLimit: UInt8 = 64

    /// DSCP and ECN.
    public var trafficClass: UInt8
    /// The 20-bit flow label (RFC 6437); bits above 20 are ignored.
    public var flowLabel: UInt32
    /// Bytes after the fixed header.
    public var payloadLength: UInt16
    public var nextHeader: UInt8
    public var hopLimit: UInt8
    public var source: IPv6Address
    public var destination: IPv6Address

    public init(trafficClass: UInt8 = 0, flowLabel: UInt32 = 0, payloadLength: UInt16, nextHeader: UInt8,
                hopLimit: UInt8 = IPv6Header.defaultHopLimit, source: IPv6Address, destination: IPv6Address) {
        self.trafficClass = trafficClass
        self.flowLabel = flowLabel
        self.payloadLength = payloadLength
        self.nextHeader = nextHeader
        self.hopLimit = hopLimit
        self.source = source
        self.destination = destination
    }

    /// Writes the 40-byte fixed header at `offset`.
    ///
    /// - Precondition: `buffer` has 40 bytes at `offset`.
    public func store(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= Self.length, "IPv6 header does not fit")
        let firstWord = 6 << 28 | UInt32(trafficClass) << 20 | flowLabel & 0xF_FFFF
        buffer.storeBytes(of: firstWord.bigEndian, toByteOffset: offset, as: UInt32.self)
        buffer.storeBytes(of: payloadLength.bigEndian, toByteOffset: offset + 4, as: UInt16.self)
        buffer[offset + 6] = nextHeader
        buffer[offset + 7] = hopLimit
        source.store(into: buffer, atByteOffset: offset + 8)
        destination.store(into: buffer, atByteOffset: offset + 24)
    }
}
