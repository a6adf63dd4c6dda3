// Packet counters of the overlay router, kept inline (no heap) on the forwarding path, and the
// Sendable snapshot `weft show` prints.

import WeftRouting

/// Per-reason drop counts, stored inline.
public struct OverlayDropCounters: Sendable {
    private var counts = InlineArray<24, UInt64>(repeating: 0)

    public init() {
        precondition(OverlayDropReason.allCases.count <= counts.count, "OverlayDropCounters too small")
    }

    /// Counts one drop.
    public mutating func record(_ reason: OverlayDropReason) {
        counts[reason.rawValue] &+= 1
    }

    /// Drops counted for `reason`.
    public subscript(reason: OverlayDropReason) -> UInt64 {
        counts[reason.rawValue]
    }

    /// Drops counted for all reasons.
    public var total: UInt64 {
        var sum: UInt64 = 0
        for index in counts.indices { sum &+= counts[index] }
        return sum
    }

    /// The reasons with a non-zero count, in declaration order, for display.
    public var nonZero: [(reason: OverlayDropReason, count: UInt64)] {
        OverlayDropReason.allCases.compactMap { counts[$0.rawValue] == 0 ? nil : ($0, counts[$0.rawValue]) }
    }
}

/// Counters of one overlay link.
public struct OverlayLinkCounters: Sendable {
    /// VXLAN packets handed to `fromLink` for this link.
    public internal(set) var receivedFrames: UInt64 = 0
    /// Their bytes, outer headers included.
    public internal(set) var receivedBytes: UInt64 = 0
    /// Outer packets sent on this link: `.toLink` results (data, ARP/ND, ICMP errors) and
    /// `tick` output (announcements, solicitation retries).
    public internal(set) var sentFrames: UInt64 = 0
    /// Their bytes, outer headers included.
    public internal(set) var sentBytes: UInt64 = 0
    /// IP packets received on this link and sent out of a link (transit).
    public internal(set) var forwarded: UInt64 = 0
    /// IP packets received on this link and handed to the TUN.
    public internal(set) var delivered: UInt64 = 0
    /// OSPF packets received on this link for the OSPF driver.
    public internal(set) var controlReceived: UInt64 = 0
    /// Packets of the OSPF driver sent on this link (`sendControl`).
    public internal(set) var controlSent: UInt64 = 0
    /// ARP requests / NSs resent by `tick` while the peer's MAC stayed unknown.
    public internal(set) var solicitationRetries: UInt64 = 0
    /// Resolutions given up after `maximumSolicitations` unanswered solicitations.
    public internal(set) var resolutionFailures: UInt64 = 0
    /// Drops concerning this link: of packets received on it, and of packets bound for it
    /// that its own state stopped (neighbour unresolved; too big for its MTU from the TUN or
    /// the OSPF driver).
    public internal(set) var drops = OverlayDropCounters()
    /// Why `VXLANTunnel.decapsulate` rejected frames (the detail of `.vxlanInvalid`).
    public internal(set) var vxlanDrops = VXLANDropCounters()

    public init() {}
}

/// Counters of the whole router.
public struct OverlayRouterCounters: Sendable {
    /// Packets handed to `fromTUN`.
    public internal(set) var tunReceivedPackets: UInt64 = 0
    /// Their bytes.
    public internal(set) var tunReceivedBytes: UInt64 = 0
    /// Packets returned as `.toTUN`: deliveries and ICMP errors.
    public internal(set) var tunSentPackets: UInt64 = 0
    /// Their bytes.
    public internal(set) var tunSentBytes: UInt64 = 0
    /// ICMP errors generated (toward the TUN or back over a link).
    public internal(set) var icmpErrorsSent: UInt64 = 0
    /// ICMP errors the rate limit held back (RFC 1812 §4.3.2.8, RFC 4443 §2.4(f)).
    public internal(set) var icmpErrorsRateLimited: UInt64 = 0
    /// ICMP errors not sent because the rules forbid one about that packet (about an ICMP
    /// error, a non-initial fragment, a group destination…) or no source address is
    /// configured for the family.
    public internal(set) var icmpErrorsSuppressed: UInt64 = 0
    /// Every drop, whichever link it concerned.
    public internal(set) var drops = OverlayDropCounters()

    public init() {}
}

/// A point-in-time view of one link, for `weft show`.
public struct OverlayLinkSnapshot: Sendable {
    /// The link's configuration.
    public var link: OverlayLink
    /// The peer's MAC, once learned.
    public var peerMAC: MACAddress?
    /// When a frame from the peer was last seen (nanoseconds on the caller's clock).
    public var peerLastSeen: UInt64?
    /// The link's packet counters.
    public var counters: OverlayLinkCounters
    /// The neighbour responder's counters (replies, solicitations, announcements, ARP/ND drops).
    public var neighbor: NeighborCounters

    public init(link: OverlayLink, peerMAC: MACAddress?, peerLastSeen: UInt64?, counters: OverlayLinkCounters,
                neighbor: NeighborCounters) {
        self.link = link
        self.peerMAC = peerMAC
        self.peerLastSeen = peerLastSeen
        self.counters = counters
        self.neighbor = neighbor
    }
}

/// A point-in-time view of the router: plain values, safe to hand to any thread.
public struct OverlaySnapshot: Sendable {
    /// The router-wide counters.
    public var counters: OverlayRouterCounters
    /// Links in ID order.
    public var links: [OverlayLinkSnapshot]

    public init(counters: OverlayRouterCounters, links: [OverlayLinkSnapshot]) {
        self.counters = counters
        self.links = links
    }
}
