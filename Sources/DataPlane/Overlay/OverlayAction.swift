// What the overlay router decided about one packet, and why it dropped one. Results name ranges
// of the caller's buffer, so handing them on costs no copy (see OverlayRouter's buffer contract).

import WeftRouting

/// The result of `OverlayRouter.fromTUN`, `fromLink` or `sendControl`.
public enum OverlayAction: Hashable, Sendable {
    /// Send the outer IP packet at this range of the buffer over the link: it is the plaintext
    /// for WireGuard's `encapsulate(…, for: peer)` of the link's peer, with at least
    /// `reservedHeadroom` bytes before it for the transport header.
    case toLink(LinkID, Range<Int>)
    /// Write the IP packet at this range to the TUN.
    case toTUN(Range<Int>)
    /// An OSPF packet (IP protocol 89) received on the link for this node: the IP packet at
    /// this range, for the OSPF driver.
    case control(LinkID, Range<Int>)
    /// A neighbour (ARP, NS, NA) frame that was used and needs no answer.
    case consumed
    /// Nothing to send; the packet was dropped and counted.
    case drop(OverlayDropReason)
}

/// Why the overlay router dropped a packet. Each check has one reason; counts are kept per
/// router and per link (`OverlayDropCounters`).
public enum OverlayDropReason: Int, Error, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// The caller's buffer leaves less than `OverlayRouter.requiredHeadroom` bytes before the
    /// packet (a caller bug, not network input).
    case bufferTooSmall
    /// `fromLink` or `sendControl` for a link ID that is not configured.
    case unknownLink
    /// The VXLAN frame failed a check of `VXLANTunnel.decapsulate`; the link's
    /// `vxlanDrops` has the reason.
    case vxlanInvalid
    /// Not an IPv4/IPv6 packet, or its header or length fields are inconsistent
    /// (RFC 1812 §5.2.2).
    case malformedPacket
    /// The inner IPv4 header checksum does not verify (RFC 1812 §5.2.2).
    case ipv4ChecksumInvalid
    /// A source that names no single host: unspecified, loopback, multicast, broadcast or
    /// reserved (RFC 1812 §5.3.7, RFC 4291 §2.5.2–2.5.3).
    case invalidSource
    /// A destination that is never valid on the wire: 0.0.0.0/8, 127.0.0.0/8, 240.0.0.0/4,
    /// ::, ::1 (RFC 1812 §5.3.7).
    case invalidDestination
    /// A unicast IP packet that arrived in a link-layer broadcast or multicast frame: not
    /// forwarded (RFC 1812 §5.3.4).
    case linkLayerBroadcast
    /// A multicast or broadcast destination other than OSPF's: the overlay routes unicast only.
    case multicastOrBroadcast
    /// A link-local destination (169.254.0.0/16, fe80::/10) that is not ours: never forwarded
    /// (RFC 3927 §2.7, RFC 4291 §2.5.6).
    case linkLocalDestination
    /// From the TUN to one of this node's own addresses: the kernel should have kept it.
    case destinationIsLocal
    /// From the TUN and routed back to the TUN (LinkID 0): a routing loop.
    case routedToTUN
    /// No route to the destination; an ICMP unreachable was sent if allowed.
    case noRoute
    /// The route is a discard route (no next hops): dropped silently.
    case discardRoute
    /// The route's next hop names a link that is not configured (removed at runtime).
    case nextHopLinkMissing
    /// TTL or hop limit would reach 0; an ICMP time exceeded was sent if allowed.
    case timeExceeded
    /// Larger than the outgoing link's MTU with DF set, or IPv6; an ICMP "fragmentation
    /// needed" / "packet too big" was sent if allowed.
    case packetTooBig
    /// An IPv4 packet without DF larger than the outgoing link's MTU: this router does not
    /// fragment (see `OverlayRouter`).
    case fragmentationRequired
    /// The next hop's MAC is not known yet; an ARP request or NS may have been sent instead.
    case neighborUnresolved

    public var description: String {
        switch self {
        case .bufferTooSmall: "buffer too small"
        case .unknownLink: "unknown link"
        case .vxlanInvalid: "invalid VXLAN frame"
        case .malformedPacket: "malformed packet"
        case .ipv4ChecksumInvalid: "bad IPv4 header checksum"
        case .invalidSource: "invalid source address"
        case .invalidDestination: "invalid destination address"
        case .linkLayerBroadcast: "unicast in link-layer broadcast"
        case .multicastOrBroadcast: "multicast or broadcast"
        case .linkLocalDestination: "link-local destination"
        case .destinationIsLocal: "local destination from TUN"
        case .routedToTUN: "routed back to TUN"
        case .noRoute: "no route"
        case .discardRoute: "discard route"
        case .nextHopLinkMissing: "next-hop link missing"
        case .timeExceeded: "time exceeded"
        case .packetTooBig: "packet too big"
        case .fragmentationRequired: "fragmentation required"
        case .neighborUnresolved: "neighbor unresolved"
        }
    }
}
