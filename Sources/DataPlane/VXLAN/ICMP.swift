// ICMP error messages a router sends about packets it cannot forward: ICMPv4 (RFC 792, with
// the router rules of RFC 1812 §4.3.2) and ICMPv6 (RFC 4443 §2.4, §3).
//
// The error is built in place: its IP and ICMP headers are written in the headroom before the
// offending packet, which becomes the quoted "as much of the invoking packet as fits" without
// being copied. Quoting then cuts the packet at the minimum MTU (576 for IPv4, RFC 1812
// §4.3.2.3; 1280 for IPv6, RFC 4443 §2.4(c)).

import WeftRouting

/// Why no ICMP error may be sent about a packet. Sending one anyway risks storms of errors
/// about errors (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e)).
public enum ICMPErrorSuppression: Error, Hashable, Sendable {
    /// The offending packet is itself an ICMP error.
    case aboutICMPError
    /// A non-initial IPv4 fragment.
    case nonInitialFragment
    /// Sent to a broadcast or multicast address (for IPv6, except Packet Too Big).
    case toGroupAddress
    /// Its source does not name a single host (unspecified, loopback, broadcast, multicast,
    /// class E), so there is nobody to tell.
    case sourceNotUnicast
    /// Too short to hold the IP header, or not the expected IP version.
    case malformed
    /// The caller left less headroom before the packet than the error headers need.
    case insufficientHeadroom
}

/// ICMPv4 errors a router generates (RFC 792).
public enum ICMPv4Error: Hashable, Sendable {
    /// Type 3 code 0.
    case networkUnreachable
    /// Type 3 code 1.
    case hostUnreachable
    /// Type 3 code 4 with the MTU of the next hop (RFC 1191 §4), for a DF packet too big.
    case fragmentationNeeded(nextHopMTU: UInt16)
    /// Type 3 code 13 (RFC 1812 §5.2.7.1).
    case administrativelyProhibited
    /// Type 11 code 0: TTL reached zero in transit.
    case timeExceeded

    var typeAndCode: (UInt8, UInt8) {
        switch self {
        case .networkUnreachable: (3, 0)
        case .hostUnreachable: (3, 1)
        case .fragmentationNeeded: (3, 4)
        case .administrativelyProhibited: (3, 13)
        case .timeExceeded: (11, 0)
        }
    }

    /// The second header word: next-hop MTU in its low 16 bits for code 4, otherwise unused.
    var headerWord: UInt32 {
        if case .fragmentationNeeded(let mtu) = self { return UInt32(mtu) }
        return 0
    }

    /// IP header (20) + ICMP header (8): the headroom `write` needs before the packet.
    public static let headroom = IPv4Header.length + 8
    /// Largest error datagram (RFC 1812 §4.3.2.3: "without the length of the ICMP datagram
    /// exceeding 576 bytes").
    public static let maximumLength = 576

    /// Turns the IPv4 packet at `buffer[packet]` into this error message, in place: writes
    /// the IPv4 and ICMP headers in the 28 bytes before it, cuts the quote at 576 bytes in
    /// all, and returns the range of the error packet. The error goes from `routerAddress`
    /// to the packet's source.
    ///
    /// The packet must be the one received (TTL not yet decremented) so the sender can match
    /// the quote. Throws instead when RFC 1812 §4.3.2.7 forbids an error about it.
    public func write(aboutPacket packet: Range<Int>, in buffer: UnsafeMutableRawBufferPointer,
                      routerAddress: IPv4Address, timeToLive: UInt8 = IPv4Header.defaultTimeToLive)
        throws(ICMPErrorSuppression) -> Range<Int> {
        precondition(packet.lowerBound >= 0 && packet.upperBound <= buffer.count, "packet outside buffer")
        let original = UnsafeRawBufferPointer(rebasing: buffer[packet])
        guard let source = IPv4Address(ipv4PacketSource: original),
              let destination = IPv4Address(ipv4PacketDestination: original) else { throw .malformed }
        let headerLength = Int(original[0] & 0x0F) * 4
        guard headerLength >= IPv4Header.length, original.count >= headerLength else { throw .malformed }
        // RFC 1812 §4.3.2.7: not about ICMP errors, non-initial fragments, or packets to or
        // from addresses that are not one host.
        if UInt16(bigEndian: original.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) & 0x1FFF != 0 {
            throw .nonInitialFragment
        }
        if original[9] == IPProtocolNumber.icmp {
            // A truncated ICMP header cannot be classified; treat it as an error message.
            guard original.count > headerLength, Self.isQuery(type: original[headerLength]) else {
                throw .aboutICMPError
            }
        }
        guard !destination.isMulticast, destination != .broadcast else { throw .toGroupAddress }
        guard !source.isUnspecified, !source.isLoopback, !source.isMulticast, source != .broadcast,
              source.value >> 28 != 0xF else { throw .sourceNotUnicast }
        guard packet.lowerBound >= Self.headroom else { throw .insufficientHeadroom }

        // Quote the packet as received, but never past its own total length (the buffer may
        // hold link padding after it).
        let totalLength = Int(UInt16(bigEndian: original.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let quoteLength = min(original.count, max(totalLength, headerLength), Self.maximumLength - Self.headroom)
        let start = packet.lowerBound - Self.headroom
        let icmpStart = start + IPv4Header.length
        let end = packet.lowerBound + quoteLength
        let (type, code) = typeAndCode
        buffer[icmpStart] = type
        buffer[icmpStart + 1] = code
        buffer.storeBytes(of: 0, toByteOffset: icmpStart + 2, as: UInt16.self)
        buffer.storeBytes(of: headerWord.bigEndian, toByteOffset: icmpStart + 4, as: UInt32.self)
        let checksum = InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: buffer[icmpStart..<end]))
        buffer.storeBytes(of: checksum.bigEndian, toByteOffset: icmpStart + 2, as: UInt16.self)
        // Precedence 6, Internetwork Control, as Linux sends its ICMP errors (RFC 1812
        // §4.3.2.5 lets a router choose); DF set with Identification 0 (RFC 6864 §4.1):
        // at most 576 bytes never needs fragmenting.
        IPv4Header(typeOfService: 0xC0, totalLength: UInt16(end - start), timeToLive: timeToLive,
                   protocolNumber: IPProtocolNumber.icmp, source: routerAddress, destination: source)
            .store(into: buffer, atByteOffset: start)
        return start..<end
    }

    /// ICMP query types (echo, timestamp, information, address mask: RFC 792, RFC 950) and
    /// their replies, about which errors may be sent; everything else counts as an error.
    static func isQuery(type: UInt8) -> Bool {
        switch type {
        case 0, 8, 13, 14, 15, 16, 17, 18: true
        default: false
        }
    }
}

/// ICMPv6 errors a router generates (RFC 4443 §3).
public enum ICMPv6Error: Hashable, Sendable {
    /// Type 1 code 0.
    case noRouteToDestination
    /// Type 1 code 1.
    case administrativelyProhibited
    /// Type 1 code 3: the neighbour did not resolve.
    case addressUnreachable
    /// Type 2 with the MTU of the next-hop link (RFC 4443 §3.2, RFC 8201).
    case packetTooBig(mtu: UInt32)
    /// Type 3 code 0: hop limit reached zero in transit.
    case hopLimitExceeded

    var typeAndCode: (UInt8, UInt8) {
        switch self {
        case .noRouteToDestination: (1, 0)
        case .administrativelyProhibited: (1, 1)
        case .addressUnreachable: (1, 3)
        case .packetTooBig: (2, 0)
        case .hopLimitExceeded: (3, 0)
        }
    }

    /// IPv6 header (40) + ICMPv6 header (8): the headroom `write` needs before the packet.
    public static let headroom = IPv6Header.length + 8
    /// Largest error packet: the IPv6 minimum MTU (RFC 4443 §2.4(c)).
    public static let maximumLength = 1280

    /// Turns the IPv6 packet at `buffer[packet]` into this error message, in place: writes
    /// the IPv6 and ICMPv6 headers in the 48 bytes before it, cuts the quote at 1280 bytes in
    /// all, and returns the range of the error packet, sent from `routerAddress` to the
    /// packet's source. Throws instead when RFC 4443 §2.4(e) forbids an error about it.
    public func write(aboutPacket packet: Range<Int>, in buffer: UnsafeMutableRawBufferPointer,
                      routerAddress: IPv6Address, hopLimit: UInt8 = IPv6Header.defaultHopLimit)
        throws(ICMPErrorSuppression) -> Range<Int> {
        precondition(packet.lowerBound >= 0 && packet.upperBound <= buffer.count, "packet outside buffer")
        let original = UnsafeRawBufferPointer(rebasing: buffer[packet])
        guard let source = IPv6Address(ipv6PacketSource: original),
              let destination = IPv6Address(ipv6PacketDestination: original) else { throw .malformed }
        if Self.isICMPv6Error(original) { throw .aboutICMPError }
        // §2.4(e.3): not for multicast destinations, except Packet Too Big (so multicast
        // senders learn the path MTU).
        if destination.isMulticast {
            guard case .packetTooBig = self else { throw .toGroupAddress }
        }
        // §2.4(e.6): not when the source does not identify a single node.
        guard !source.isUnspecified, !source.isMulticast, !source.isLoopback else { throw .sourceNotUnicast }
        guard packet.lowerBound >= Self.headroom else { throw .insufficientHeadroom }

        let ownLength = IPv6Header.length + Int(UInt16(bigEndian: original.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        let quoteLength = min(original.count, ownLength, Self.maximumLength - Self.headroom)
        let start = packet.lowerBound - Self.headroom
        let icmpStart = start + IPv6Header.length
        let end = packet.lowerBound + quoteLength
        let (type, code) = typeAndCode
        let word: UInt32
        if case .packetTooBig(let mtu) = self { word = mtu } else { word = 0 }
        buffer[icmpStart] = type
        buffer[icmpStart + 1] = code
        buffer.storeBytes(of: 0, toByteOffset: icmpStart + 2, as: UInt16.self)
        buffer.storeBytes(of: word.bigEndian, toByteOffset: icmpStart + 4, as: UInt32.self)
        var checksum = InternetChecksum()
        checksum.addPseudoHeader(source: routerAddress, destination: source, nextHeader: IPProtocolNumber.icmpv6,
                                 upperLayerLength: end - icmpStart)
        checksum.add(UnsafeRawBufferPointer(rebasing: buffer[icmpStart..<end]))
        buffer.storeBytes(of: checksum.checksum.bigEndian, toByteOffset: icmpStart + 2, as: UInt16.self)
        IPv6Header(payloadLength: UInt16(end - icmpStart), nextHeader: IPProtocolNumber.icmpv6, hopLimit: hopLimit,
                   source: routerAddress, destination: source)
            .store(into: buffer, atByteOffset: start)
        return start..<end
    }

    /// Whether the packet's upper-layer header is an ICMPv6 error (types 0–127, RFC 4443
    /// §2.1), found by walking the extension headers (RFC 8200 §4). A chain too long or cut
    /// short is not classified as an error.
    static func isICMPv6Error(_ packet: UnsafeRawBufferPointer) -> Bool {
        var nextHeader = packet[6]
        var offset = IPv6Header.length
        // Eight extension headers are more than any real packet has; the bound keeps a
        // crafted chain from looping long.
        for _ in 0..<8 {
            switch nextHeader {
            case IPProtocolNumber.icmpv6:
                return packet.count > offset && packet[offset] < 128
            case 0, 43, 60:  // Hop-by-Hop, Routing, Destination Options: 8-octet units after the first 8.
                guard packet.count - offset >= 8 else { return false }
                nextHeader = packet[offset]
                offset += (Int(packet[offset + 1]) + 1) * 8
            case IPProtocolNumber.ipv6Fragment:
                guard packet.count - offset >= 8 else { return false }
                // A non-initial fragment does not show the upper-layer header.
                let fragmentOffset = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)) >> 3
                guard fragmentOffset == 0 else { return false }
                nextHeader = packet[offset]
                offset += 8
            case 51:  // Authentication Header (RFC 4302 §2.2): 4-octet units, minus 2.
                guard packet.count - offset >= 8 else { return false }
                nextHeader = packet[offset]
                offset += (Int(packet[offset + 1]) + 2) * 4
            default:
                return false
            }
        }
        return false
    }
}

/// A token bucket for ICMP errors: RFC 1812 §4.3.2.8 (SHOULD) and RFC 4443 §2.4(f) (MUST)
/// require routers to limit the rate. Defaults follow Linux (`icmp_msgs_per_sec` 1000,
/// `icmp_msgs_burst` 50).
public struct ICMPRateLimiter: Sendable {
    /// Messages allowed per second on average.
    public let messagesPerSecond: UInt64
    /// Messages allowed back to back.
    public let burst: UInt64
    /// Tokens, in units of 1/messagesPerSecond of a second's nanoseconds, to stay in integers.
    private var tokenNanoseconds: UInt64
    private var lastRefill: UInt64?

    public init(messagesPerSecond: UInt64 = 1000, burst: UInt64 = 50) {
        precondition(messagesPerSecond > 0 && burst > 0, "ICMP rate limit must be positive")
        self.messagesPerSecond = messagesPerSecond
        self.burst = burst
        tokenNanoseconds = burst * Self.costPerMessage(messagesPerSecond)
    }

    /// Takes one token if available at `now` (monotonic nanoseconds).
    public mutating func allow(now: UInt64) -> Bool {
        let cost = Self.costPerMessage(messagesPerSecond)
        let capacity = burst * cost
        if let last = lastRefill {
            if now > last {
                let elapsed = now - last
                tokenNanoseconds = elapsed >= capacity - tokenNanoseconds ? capacity : tokenNanoseconds + elapsed
                lastRefill = now
            }
        } else {
            lastRefill = now
        }
        guard tokenNanoseconds >= cost else { return false }
        tokenNanoseconds -= cost
        return true
    }

    private static func costPerMessage(_ rate: UInt64) -> UInt64 {
        max(1, 1_000_000_000 / rate)
    }
}
