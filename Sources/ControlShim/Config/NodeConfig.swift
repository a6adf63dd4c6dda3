// The configuration of one Weft node: a router at one site of an overlay in the style of dlan,
// where every logical connection between two routers ("link") is one WireGuard peer carrying one
// VXLAN segment, and OSPFv2 runs over those segments to spread reachability of the sites' LANs.
//
// One YAML file describes one node; `examples/` holds a documented hub and two sites. Field names
// follow Constellation's coordinator convention: entity + interface + kind (`nodeVPNIP`,
// `peerLinkVPNIP`), and for keys the kinds `key` (symmetric), `pubKey` and `privKey`.
//
// Addressing on a link (each end's file mirrors the other's):
//
//   overlay packet  --route-->  link (VXLAN segment, VNI)  --encap-->  outer IP underlayIP -> peerUnderlayIP
//                                                                      --WireGuard peer of the link-->  UDP to peerEndpoint
//
// `linkVPNIP`/`peerLinkVPNIP` are the two ends' addresses *on* the VXLAN segment: OSPF neighbors
// and static next hops. The VXLAN *underlay* addresses are the outer header's addresses, which
// only ever travel inside that link's WireGuard tunnel.

import WeftCrypto
import WeftDataPlane
import WeftOSPF
import WeftRouting

/// A node's configuration, read from a YAML file with ``load(path:)`` or ``parse(yaml:fileName:)``.
///
/// Every value here has been validated: addresses parse, keys decode, numbers are in range, names
/// and VNIs are unique, link prefixes do not overlap, static routes point at a link's peer.
public struct NodeConfig: Sendable {
    /// The node's name, 1–32 characters of `a-z`, `0-9` and `-` (YAML `node.name`).
    public var name: String
    /// The OSPF Router ID (RFC 2328 §C.1), non-zero. Defaults to the first IPv4 `nodeVPNIP`.
    public var routerID: IPv4Address
    /// The node's WireGuard private key (YAML `node.privKey`, or read from `node.privKeyFile`).
    public var privKey: PrivateKey
    /// The WireGuard UDP port; 0 lets the kernel pick one (then peers cannot initiate). Default 51820.
    public var listenPort: UInt16
    /// The TUN device's name, at most 15 characters (IFNAMSIZ − 1). Default "weft0".
    public var tunName: String
    /// The WireGuard tunnel MTU: the largest packet WireGuard encrypts, which on a link is a whole
    /// VXLAN outer packet. Default 1420 (`LinkMTU.wireGuardMTU(underlayMTU: 1500)`).
    public var tunMTU: Int
    /// The node's own overlay addresses (loopback-like; advertised by OSPF), at least one.
    public var nodeVPNIPs: [IPPrefix]
    /// Prefixes of the LAN(s) behind this node, advertised by OSPF; may be empty (a hub).
    public var lanPrefixes: [IPPrefix]
    /// Kernel interfaces of the LAN: their address networks are LAN prefixes too, read from the
    /// kernel when the node starts (loopback and link-local addresses excluded); OSPF runs on
    /// those that have `ospf` settings.
    public var lanInterfaces: [LANInterfaceConfig] = []
    /// The links, in file order.
    public var links: [LinkConfig]
    /// Routes configured by hand, in file order.
    public var staticRoutes: [StaticRouteConfig]
    /// Router-wide OSPF settings.
    public var ospf: OSPFSettings

    public init(name: String, routerID: IPv4Address, privKey: PrivateKey, listenPort: UInt16 = NodeConfig.defaultListenPort,
                tunName: String = NodeConfig.defaultTunName, tunMTU: Int = NodeConfig.defaultTunMTU,
                nodeVPNIPs: [IPPrefix], lanPrefixes: [IPPrefix] = [], links: [LinkConfig] = [],
                staticRoutes: [StaticRouteConfig] = [], ospf: OSPFSettings = OSPFSettings()) {
        self.name = name
        self.routerID = routerID
        self.privKey = privKey
        self.listenPort = listenPort
        self.tunName = tunName
        self.tunMTU = tunMTU
        self.nodeVPNIPs = nodeVPNIPs
        self.lanPrefixes = lanPrefixes
        self.links = links
        self.staticRoutes = staticRoutes
        self.ospf = ospf
    }

    /// WireGuard's conventional port.
    public static let defaultListenPort: UInt16 = 51820
    public static let defaultTunName = "weft0"
    /// 1500 − 80: fits an IPv6 underlay path of Ethernet MTU, as the kernel and wg-quick choose.
    public static let defaultTunMTU = LinkMTU.wireGuardMTU(underlayMTU: LinkMTU.ethernetMTU)

    /// The node's WireGuard public key (what the peers put in `peerPubKey`).
    public var pubKey: PublicKey { privKey.publicKey }

    func with(lanInterfaces: [LANInterfaceConfig]) -> NodeConfig {
        var copy = self
        copy.lanInterfaces = lanInterfaces
        return copy
    }

    /// The MTU for the TUN device: the smallest link MTU, since a packet the host sends may leave
    /// over any link (and VXLAN frames are never fragmented, RFC 7348 §4.3). With no links, the
    /// VXLAN MTU of an IPv4 underlay.
    public var overlayMTU: Int {
        links.map(\.vxlanMTU).min() ?? LinkMTU.vxlanMTU(tunnelMTU: tunMTU, outer: .ipv4)
    }

    /// The link called `name`.
    public func link(named name: String) -> LinkConfig? {
        links.first { $0.name == name }
    }
}

/// One link: a WireGuard peer and the VXLAN segment it carries (YAML `links[i]`).
public struct LinkConfig: Sendable {
    /// Unique within the node, same character set as the node name.
    public var name: String
    /// The peer router's WireGuard public key; unique among the links.
    public var peerPubKey: PublicKey
    /// Where to send to the peer; nil when the peer connects to us (it is behind NAT), in
    /// which case WireGuard learns the endpoint from the peer's first packet.
    public var peerEndpoint: Endpoint?
    /// The pre-shared key (whitepaper §5.2: an extra symmetric key mixed into the handshake).
    public var psk: PresharedKey?
    /// Seconds between keepalives when otherwise idle; 0 is off. Set it on the side behind NAT.
    public var persistentKeepalive: UInt16
    /// The segment's VNI (RFC 7348 §5), 1...16777215, unique within the node; both ends agree.
    public var vni: VXLANNetworkIdentifier
    /// This end's addresses on the segment with the segment's prefix length; at most one per
    /// family (e.g. `100.64.100.1/30`).
    public var linkVPNIPs: [IPPrefix]
    /// The peer's addresses on the segment, one for each family of `linkVPNIPs`, each inside the
    /// matching prefix. The IPv4 one is the OSPF neighbor; all serve as static-route next hops.
    public var peerLinkVPNIPs: [IPAddress]
    /// The outer addresses of the VXLAN packets inside the WireGuard tunnel (YAML `underlayIP`
    /// and `peerUnderlayIP`). When not given they are the link addresses themselves: the IPv4
    /// pair if the link has one, else the IPv6 pair. That needs no extra address plan and is safe
    /// because Weft builds the outer headers itself and never hands them to the kernel; set them
    /// explicitly only to match a peer that numbers its tunnel differently (a Linux router with a
    /// wg device address and a `vxlan … local A remote B` device, whose A and B must lie outside
    /// the vxlan device's own subnet).
    public var underlay: VXLANUnderlay
    /// The OSPF interface output cost, 1...65535 (RFC 2328 §C.3). Default 10.
    public var cost: UInt16
    /// Per-link OSPF timers and authentication.
    public var ospf: LinkOSPFSettings
    /// The segment's MTU (largest inner IP packet): `tunMTU` less the VXLAN overhead of the
    /// underlay family, 50 bytes for IPv4 and 70 for IPv6 (`LinkMTU.vxlanMTU`).
    public var vxlanMTU: Int

    public init(name: String, peerPubKey: PublicKey, peerEndpoint: Endpoint? = nil, psk: PresharedKey? = nil,
                persistentKeepalive: UInt16 = 0, vni: VXLANNetworkIdentifier, linkVPNIPs: [IPPrefix],
                peerLinkVPNIPs: [IPAddress], underlay: VXLANUnderlay, cost: UInt16 = LinkConfig.defaultCost,
                ospf: LinkOSPFSettings = LinkOSPFSettings(), vxlanMTU: Int) {
        self.name = name
        self.peerPubKey = peerPubKey
        self.peerEndpoint = peerEndpoint
        self.psk = psk
        self.persistentKeepalive = persistentKeepalive
        self.vni = vni
        self.linkVPNIPs = linkVPNIPs
        self.peerLinkVPNIPs = peerLinkVPNIPs
        self.underlay = underlay
        self.cost = cost
        self.ospf = ospf
        self.vxlanMTU = vxlanMTU
    }

    public static let defaultCost: UInt16 = 10

    /// The WireGuard AllowedIPs of the link's peer: only its VXLAN underlay address, as a /32 or
    /// /128 host prefix.
    ///
    /// Cryptokey routing (whitepaper §2) admits a decrypted packet only if its source lies in the
    /// sending peer's AllowedIPs, and picks the peer for an outgoing packet by its destination.
    /// Everything a link's peer legitimately sends through the tunnel is a VXLAN packet from its
    /// underlay address; overlay traffic, transit included, travels inside those packets and is
    /// routed by OSPF and the static routes, not by AllowedIPs. A wider set (0.0.0.0/0) could
    /// belong to one peer only, and would let a peer inject unencapsulated packets.
    public var allowedIPs: [IPPrefix] {
        switch underlay {
        case .ipv4(_, let remote): [.v4(IPv4Prefix(host: remote))]
        case .ipv6(_, let remote): [.v6(IPv6Prefix(host: remote))]
        }
    }

    /// This end's address on the link in `family`, with the link prefix length.
    public func linkVPNIP(_ family: IPFamily) -> IPPrefix? {
        linkVPNIPs.first { $0.family == family }
    }

    /// The peer's address on the link in `family`.
    public func peerLinkVPNIP(_ family: IPFamily) -> IPAddress? {
        peerLinkVPNIPs.first { $0.family == family }
    }
}

/// OSPF parameters of one link (YAML `links[i].ospf`). Both ends of a link must use the same
/// HelloInterval and RouterDeadInterval, or no adjacency forms (RFC 2328 §10.5).
public struct LinkOSPFSettings: Sendable {
    /// HelloInterval in seconds, 1...65535. Default 10 (RFC 2328 §C.3, also BIRD's default).
    public var helloInterval: UInt16
    /// RouterDeadInterval in seconds, greater than `helloInterval`. Default 4 × helloInterval.
    public var deadInterval: UInt32
    /// Packet authentication (RFC 2328 Appendix D; HMAC-SHA-256 per RFC 5709). Default none:
    /// the packets travel inside WireGuard, which already authenticates the peer.
    public var authentication: OSPFAuthentication

    public init(helloInterval: UInt16 = LinkOSPFSettings.defaultHelloInterval, deadInterval: UInt32? = nil,
                authentication: OSPFAuthentication = .none) {
        self.helloInterval = helloInterval
        self.deadInterval = deadInterval ?? UInt32(helloInterval) * LinkOSPFSettings.deadIntervalFactor
        self.authentication = authentication
    }

    public static let defaultHelloInterval: UInt16 = 10
    /// RouterDeadInterval as a multiple of HelloInterval when not given (RFC 2328 §C.3 suggests 4).
    public static let deadIntervalFactor: UInt32 = 4
}

/// A kernel interface of the node's LAN (YAML `node.lanInterfaces[i]`, either just the name or
/// a mapping with `name`, `cost` and `ospf`).
public struct LANInterfaceConfig: Sendable {
    /// The kernel interface's name, 1–15 characters, unique in the list.
    public var name: String
    /// The OSPF interface output cost, 1...65535 (RFC 2328 §C.3); without `ospf`, the cost of
    /// the stub networks read from the interface. Default 10.
    public var cost: UInt16
    /// OSPF on this interface; nil advertises its networks as stub networks only.
    public var ospf: LANOSPFSettings?

    public init(name: String, cost: UInt16 = LinkConfig.defaultCost, ospf: LANOSPFSettings? = nil) {
        self.name = name
        self.cost = cost
        self.ospf = ospf
    }
}

/// OSPF on a LAN interface (YAML `node.lanInterfaces[i].ospf`). Every router on the network
/// must use the same HelloInterval and RouterDeadInterval (RFC 2328 §10.5).
public struct LANOSPFSettings: Sendable {
    /// How the interface attaches to its network (§1.2): `broadcast` (the default), with a
    /// Designated Router elected by `priority` (§9.4), or `pointToPoint` for a network with
    /// exactly one other router.
    public var type: OSPFNetworkType
    /// Router Priority, 0...255 (§C.3): the highest becomes Designated Router; 0 never does.
    /// Default 1.
    public var priority: UInt8
    /// HelloInterval in seconds, 1...65535. Default 10.
    public var helloInterval: UInt16
    /// RouterDeadInterval in seconds, greater than `helloInterval`. Default 4 × helloInterval.
    public var deadInterval: UInt32
    /// Packet authentication (RFC 2328 Appendix D; HMAC-SHA-256 per RFC 5709). Default none.
    public var authentication: OSPFAuthentication

    public init(type: OSPFNetworkType = .broadcast, priority: UInt8 = LANOSPFSettings.defaultPriority,
                helloInterval: UInt16 = LinkOSPFSettings.defaultHelloInterval, deadInterval: UInt32? = nil,
                authentication: OSPFAuthentication = .none) {
        self.type = type
        self.priority = priority
        self.helloInterval = helloInterval
        self.deadInterval = deadInterval ?? UInt32(helloInterval) * LinkOSPFSettings.deadIntervalFactor
        self.authentication = authentication
    }

    /// RFC 2328 §C.3 and BIRD's default.
    public static let defaultPriority: UInt8 = 1
}

/// Router-wide OSPF settings (YAML `ospf`).
public struct OSPFSettings: Sendable {
    /// Whether OSPF runs at all. Default true; when false, only static routes are installed.
    public var enabled: Bool
    /// The area all links belong to, as a dotted quad (RFC 2328 §3). Default 0.0.0.0, the backbone.
    public var area: IPv4Address

    public init(enabled: Bool = true, area: IPv4Address = .any) {
        self.enabled = enabled
        self.area = area
    }
}

/// A route configured by hand (YAML `staticRoutes[i]`): `prefix` is reached through the peer
/// of link `link`, at `gateway`.
public struct StaticRouteConfig: Sendable {
    /// The destination, with no host bits set.
    public var prefix: IPPrefix
    /// The name of the link whose peer is the next hop.
    public var link: String
    /// The peer's address on that link in the prefix's family (`via`, or derived from `link:`).
    public var gateway: IPAddress

    public init(prefix: IPPrefix, link: String, gateway: IPAddress) {
        self.prefix = prefix
        self.link = link
        self.gateway = gateway
    }
}
