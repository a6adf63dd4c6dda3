// Per-hop header updates a router makes when it forwards a packet: IPv4 TTL (RFC 791 §3.1,
// RFC 1812 §5.3.1) and IPv6 Hop Limit (RFC 8200 §3).

/// The outcome of a TTL / hop limit decrement.
public enum HopLimitDecrement: Hashable, Sendable {
    /// Decremented; the packet may be forwarded.
    case forwarded
    /// The TTL or hop limit is 0 or 1 and would reach 0: the packet must not be forwarded,
    /// and a Time Exceeded error is due (RFC 1812 §5.3.1, RFC 4443 §3.3). The packet is left
    /// unchanged, ready to be quoted.
    case expired
    /// Too short for the header, or the wrong IP version; nothing was changed.
    case malformed
}

/// Header updates for forwarding, in place on the caller's packet.
public enum IPForwarding {
    /// Decrements the TTL of the IPv4 packet at the start of `packet` and updates its header
    /// checksum incrementally (RFC 1624 eqn. 3) instead of summing the header again.
    ///
    /// The checksum covers the TTL together with the Protocol byte as one 16-bit word
    /// (offset 8), which is the word replaced. A packet whose checksum was wrong stays wrong:
    /// verifying it is the receive path's job.
    public static func decrementTimeToLive(ipv4Packet packet: UnsafeMutableRawBufferPointer) -> HopLimitDecrement {
        guard packet.count >= IPv4Header.length, packet[0] >> 4 == 4 else { return .malformed }
        let oldWord = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        guard oldWord >> 8 > 1 else { return .expired }
        let newWord = oldWord - 0x0100
        let checksum = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        let updated = InternetChecksum.updated(checksum, replacing: oldWord, with: newWord)
        packet.storeBytes(of: newWord.bigEndian, toByteOffset: 8, as: UInt16.self)
        packet.storeBytes(of: updated.bigEndian, toByteOffset: 10, as: UInt16.self)
        return .forwarded
    }

    /// Decrements the Hop Limit of the IPv6 packet at the start of `packet` (no header
    /// checksum in IPv6).
    public static func decrementHopLimit(ipv6Packet packet: UnsafeMutableRawBufferPointer) -> HopLimitDecrement {
        guard packet.count >= IPv6Header.length, packet[0] >> 4 == 6 else { return .malformed }
        guard packet[7] > 1 else { return .expired }
        packet[7] -= 1
        return .forwarded
    }

    /// Decrements the TTL or hop limit of the IPv4 or IPv6 packet at the start of `packet`,
    /// by its version nibble.
    public static func decrementHopLimit(packet: UnsafeMutableRawBufferPointer) -> HopLimitDecrement {
        guard !packet.isEmpty else { return .malformed }
        switch packet[0] >> 4 {
        case 4: return decrementTimeToLive(ipv4Packet: packet)
        case 6: return decrementHopLimit(ipv6Packet: packet)
        default: return .malformed
        }
    }
}
