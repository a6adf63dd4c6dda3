// One link of the routed overlay: a WireGuard peer carrying one point-to-point VXLAN segment
// (RFC 7348) whose outer addresses are the two ends' addresses inside the tunnel. A Linux peer
// builds the same with `ip link add vx0 type vxlan id VNI local A remote B dstport 4789 dev wg0`
// and an address from the link prefix on vx0.

import WeftRouting

/// The configuration of one overlay link.
public struct OverlayLink: Hashable, Sendable {
    /// The link's identity in routes (`NextHop.link`). Never 0: `LinkID(0)` is the local TUN.
    public var id: LinkID
    /// The VXLAN segment: VNI, outer (underlay-in-tunnel) addresses, this end's MAC.
    public var tunnel: VXLANTunnel
    /// Our IPv4 addresses on the link, with the link prefix length (e.g. 10.255.1.1/30).
    /// ARP requests for them are answered; they are local destinations; ICMP errors sent over
    /// this link come from the first one.
    public var ipv4Addresses: [IPv4Prefix]
    /// Our IPv6 addresses on the link, link-local ones included, with their prefix lengths.
    public var ipv6Addresses: [IPv6Prefix]
    /// The largest inner IP packet the link carries (the MTU of the peer's `vxlan` device).
    /// Larger packets get ICMP "fragmentation needed" / "packet too big" (RFC 1191, RFC 8201).
    public var mtu: Int

    /// The MTU of a kernel `wg` device on a 1500-byte underlay (1500 − 80), which a Linux peer
    /// has unless configured otherwise.
    public static let defaultTunnelMTU = LinkMTU.wireGuardMTU(underlayMTU: LinkMTU.ethernetMTU)

    /// Creates a link. `mtu` defaults to what Linux gives a `vxlan` device on a 1420-byte
    /// `wg` device: 1370 with IPv4 outer addresses, 1350 with IPv6 (see `LinkMTU`). Both ends
    /// must agree, since VXLAN frames are never fragmented (RFC 7348 §4.3).
    public init(id: LinkID, tunnel: VXLANTunnel, ipv4Addresses: [IPv4Prefix] = [],
                ipv6Addresses: [IPv6Prefix] = [], mtu: Int? = nil) {
        self.id = id
        self.tunnel = tunnel
        self.ipv4Addresses = ipv4Addresses
        self.ipv6Addresses = ipv6Addresses
        self.mtu = mtu ?? LinkMTU.vxlanMTU(tunnelMTU: Self.defaultTunnelMTU, outer: tunnel.underlay.family)
    }

    /// The routes of the link prefixes (source `.connected`, directly attached to this link),
    /// for the embedder to install in the router's `RoutingTable`. Host prefixes (/32, /128)
    /// and link-local prefixes give none: there is nothing on the link to route to.
    public var connectedRoutes: [Route] {
        var routes: [Route] = []
        for prefix in ipv4Addresses where prefix.length < 32 && !prefix.address.isLinkLocal {
            routes.append(Route(prefix: .v4(prefix.canonical), source: .connected, nextHops: [NextHop(link: id)]))
        }
        for prefix in ipv6Addresses where prefix.length < 128 && !prefix.address.isLinkLocal {
            routes.append(Route(prefix: .v6(prefix.canonical), source: .connected, nextHops: [NextHop(link: id)]))
        }
        return routes
    }

    /// The neighbour responder's configuration: our MAC and addresses, default timers.
    var neighborConfiguration: NeighborCache.Configuration {
        NeighborCache.Configuration(localMAC: tunnel.localMAC, ipv4Addresses: ipv4Addresses,
                                    ipv6Addresses: ipv6Addresses)
    }
}

/// Why `OverlayRouter.addLink` refused a link.
public enum OverlayConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `LinkID(0)` names the local TUN in routes and cannot be a link.
    case reservedLinkID
    /// A link with this ID exists already (remove it first).
    case duplicateLink(LinkID)
    /// The MTU is below the IPv4 minimum of 68 (RFC 791 §3.2), or so large that an
    /// encapsulated packet would pass the 65535-byte IP length limit.
    case mtuOutOfRange(Int)

    public var description: String {
        switch self {
        case .reservedLinkID: "link ID 0 is reserved for the local TUN"
        case .duplicateLink(let id): "\(id) already exists"
        case .mtuOutOfRange(let mtu): "link MTU \(mtu) out of range"
        }
    }
}
