// Network interfaces ("links" in rtnetlink(7)): RTM_GETLINK to read them, RTM_NEWLINK to change
// their flags and MTU or to create veth pairs, RTM_DELLINK to delete them. Message layout:
// struct ifinfomsg followed by IFLA_* attributes (linux/if_link.h).

import CMnl
import Glibc
import WeftRouting

/// Interface flags (netdevice(7); the IFF_* values of linux/if.h, which are ABI).
public struct LinkFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// IFF_UP: administratively up.
    public static let up = LinkFlags(rawValue: 1 << 0)
    /// IFF_BROADCAST: the link has a broadcast address.
    public static let broadcast = LinkFlags(rawValue: 1 << 1)
    /// IFF_LOOPBACK.
    public static let loopback = LinkFlags(rawValue: 1 << 3)
    /// IFF_POINTOPOINT: a point-to-point link (tunnels such as WireGuard).
    public static let pointToPoint = LinkFlags(rawValue: 1 << 4)
    /// IFF_RUNNING: operationally up (RFC 2863 "up").
    public static let running = LinkFlags(rawValue: 1 << 6)
    /// IFF_NOARP: no neighbour discovery on this link.
    public static let noARP = LinkFlags(rawValue: 1 << 7)
    /// IFF_PROMISC: receives all packets.
    public static let promiscuous = LinkFlags(rawValue: 1 << 8)
    /// IFF_ALLMULTI: receives all multicast packets.
    public static let allMulticast = LinkFlags(rawValue: 1 << 9)
    /// IFF_MULTICAST: supports multicast (OSPF needs it, RFC 2328 §A.1).
    public static let multicast = LinkFlags(rawValue: 1 << 12)
    /// IFF_LOWER_UP: the driver signals carrier.
    public static let lowerUp = LinkFlags(rawValue: 1 << 16)
    /// IFF_DORMANT: waiting for an external event (RFC 2863 "dormant").
    public static let dormant = LinkFlags(rawValue: 1 << 17)

    private static let names: [(LinkFlags, String)] = [
        (.up, "UP"), (.broadcast, "BROADCAST"), (.loopback, "LOOPBACK"), (.pointToPoint, "POINTOPOINT"),
        (.running, "RUNNING"), (.noARP, "NOARP"), (.promiscuous, "PROMISC"), (.allMulticast, "ALLMULTI"),
        (.multicast, "MULTICAST"), (.lowerUp, "LOWER_UP"), (.dormant, "DORMANT"),
    ]

    /// The set flags by their ip-link(8) names, e.g. "UP,LOWER_UP".
    public var description: String {
        Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}

/// A link-layer (hardware) address as IFLA_ADDRESS carries it: 6 bytes for Ethernet and veth,
/// other lengths for other link types. Layer-3 tunnels (WireGuard, TUN) have none.
public struct LinkLayerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address bytes in wire order.
    public let bytes: [UInt8]

    /// Creates an address from its bytes; nil for an empty or longer than 32-byte address
    /// (MAX_ADDR_LEN in the kernel).
    public init?(bytes: [UInt8]) {
        guard (1...32).contains(bytes.count) else { return nil }
        self.bytes = bytes
    }

    /// Lowercase hex bytes separated by colons, e.g. "02:00:5e:10:00:01".
    public var description: String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: ":")
    }
}

/// A link's operational state (RFC 2863 §3.1.14 ifOperStatus; IF_OPER_* in linux/if.h).
public struct OperationalState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static let unknown = OperationalState(rawValue: 0)
    public static let notPresent = OperationalState(rawValue: 1)
    public static let down = OperationalState(rawValue: 2)
    public static let lowerLayerDown = OperationalState(rawValue: 3)
    public static let testing = OperationalState(rawValue: 4)
    public static let dormant = OperationalState(rawValue: 5)
    public static let up = OperationalState(rawValue: 6)

    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .notPresent: "NOTPRESENT"
        case .down: "DOWN"
        case .lowerLayerDown: "LOWERLAYERDOWN"
        case .testing: "TESTING"
        case .dormant: "DORMANT"
        case .up: "UP"
        default: "state \(rawValue)"
        }
    }
}

/// A network interface (a "link" in rtnetlink terms) as the kernel reports it.
public struct KernelLink: Hashable, Sendable, CustomStringConvertible {
    /// The interface index.
    public var id: LinkID
    /// The interface name (IFLA_IFNAME).
    public var name: String
    /// Interface flags (ifi_flags).
    public var flags: LinkFlags
    /// The MTU in bytes (IFLA_MTU).
    public var mtu: UInt32
    /// The hardware address (IFLA_ADDRESS); nil for links without one.
    public var address: LinkLayerAddress?
    /// The driver kind from IFLA_LINKINFO (e.g. "veth", "wireguard", "tun", "vxlan"); nil for
    /// physical devices and loopback.
    public var kind: String?
    /// The RFC 2863 operational state (IFLA_OPERSTATE).
    public var operationalState: OperationalState

    public init(id: LinkID, name: String, flags: LinkFlags, mtu: UInt32, address: LinkLayerAddress?,
                kind: String?, operationalState: OperationalState) {
        self.id = id
        self.name = name
        self.flags = flags
        self.mtu = mtu
        self.address = address
        self.kind = kind
        self.operationalState = operationalState
    }

    /// True when the interface is administratively up.
    public var isUp: Bool { flags.contains(.up) }

    public var description: String {
        var text = "\(id.rawValue): \(name) <\(flags)> mtu \(mtu) state \(operationalState)"
        if let kind { text += " kind \(kind)" }
        if let address { text += " address \(address)" }
        return text
    }
}

extension NetlinkSocket {
    /// Every interface of the socket's network namespace, by index.
    public func links() throws(NetlinkError) -> [KernelLink] {
        try dump({ "listing links" }, type: UInt16(RTM_GETLINK)) { request in
            request.appendHeader(ifinfomsg())
            // Leave out the per-link counters nobody here reads: they are most of each reply.
            request.put(LinkAttribute.extendedMask, u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        } parse: { Self.parseLink($0) }
        .sorted { $0.id < $1.id }
    }

    /// The interface with index `id`; fails with `.noSuchDevice` if there is none.
    public func link(_ id: LinkID) throws(NetlinkError) -> KernelLink {
        let found = try get({ "looking up link #\(id.rawValue)" }, type: UInt16(RTM_GETLINK)) { request in
            request.appendHeader(ifinfomsg(index: id))
            request.put(LinkAttribute.extendedMask, u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        } parse: { Self.parseLink($0) }
        guard let found else {
            throw NetlinkError(operation: "looking up link #\(id.rawValue)",
                               reason: .malformedReply("the kernel acknowledged without describing the link"))
        }
        return found
    }

    /// The interface named `name`; fails with `.noSuchDevice` if there is none.
    public func link(named name: String) throws(NetlinkError) -> KernelLink {
        let operation = "looking up link \(name)"
        try validateLinkName(name, operation: operation)
        let found = try get({ operation }, type: UInt16(RTM_GETLINK)) { request in
            request.appendHeader(ifinfomsg())
            request.put(LinkAttribute.name, string: name)
            request.put(LinkAttribute.extendedMask, u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        } parse: { Self.parseLink($0) }
        guard let found else {
            throw NetlinkError(operation: operation,
                               reason: .malformedReply("the kernel acknowledged without describing the link"))
        }
        return found
    }

    /// The index of the interface named `name`.
    public func linkID(named name: String) throws(NetlinkError) -> LinkID {
        try link(named: name).id
    }

    /// Sets the interface administratively up or down (IFF_UP), leaving its other flags alone.
    public func setLink(_ id: LinkID, up: Bool) throws(NetlinkError) {
        try perform({ "setting link \(linkLabel(id)) \(up ? "up" : "down")" }, type: UInt16(RTM_NEWLINK)) { request in
            var header = ifinfomsg(index: id)
            // ifi_change selects the flags to change; the others keep their values.
            header.ifi_change = LinkFlags.up.rawValue
            header.ifi_flags = up ? LinkFlags.up.rawValue : 0
            request.appendHeader(header)
        }
    }

    /// Sets the interface's MTU. The kernel refuses values outside the driver's range (EINVAL).
    public func setMTU(_ mtu: UInt32, of id: LinkID) throws(NetlinkError) {
        try perform({ "setting the MTU of link \(linkLabel(id)) to \(mtu)" }, type: UInt16(RTM_NEWLINK)) { request in
            request.appendHeader(ifinfomsg(index: id))
            request.put(LinkAttribute.mtu, u32: mtu)
        }
    }

    /// Creates a veth pair (veth(4)): two linked Ethernet interfaces, `name` and `peerName`,
    /// both down. Fails with `.fileExists` if either name is taken.
    /// - Returns: the indices of `name` and `peerName`.
    @discardableResult
    public func addVethPair(named name: String, peerName: String) throws(NetlinkError) -> (LinkID, LinkID) {
        let operation = "adding veth pair \(name) / \(peerName)"
        try validateLinkName(name, operation: operation)
        try validateLinkName(peerName, operation: operation)
        try perform({ operation }, type: UInt16(RTM_NEWLINK),
                    flags: UInt16(NLM_F_CREATE | NLM_F_EXCL)) { request in
            request.appendHeader(ifinfomsg())
            request.put(LinkAttribute.name, string: name)
            request.nest(LinkAttribute.linkInfo) { info in
                info.put(LinkAttribute.infoKind, string: "veth")
                info.nest(LinkAttribute.infoData) { data in
                    // VETH_INFO_PEER holds a whole ifinfomsg and the peer's own attributes.
                    data.nest(UInt16(VETH_INFO_PEER)) { peer in
                        peer.appendHeader(ifinfomsg())
                        peer.put(LinkAttribute.name, string: peerName)
                    }
                }
            }
        }
        return (try linkID(named: name), try linkID(named: peerName))
    }

    /// Deletes the interface (for a veth, both ends go).
    public func deleteLink(_ id: LinkID) throws(NetlinkError) {
        try perform({ "deleting link \(linkLabel(id))" }, type: UInt16(RTM_DELLINK)) { request in
            request.appendHeader(ifinfomsg(index: id))
        }
    }

    /// The link's name for an error message, or "#index" if it cannot be looked up.
    func linkLabel(_ id: LinkID) -> String {
        (try? link(id).name) ?? "#\(id.rawValue)"
    }

    /// Checks a name the way the kernel's dev_valid_name does, so a bad name gets a precise
    /// message rather than a bare EINVAL.
    private func validateLinkName(_ name: String, operation: String) throws(NetlinkError) {
        let bytes = name.utf8
        // IFNAMSIZ is 16 including the terminating NUL.
        guard (1...15).contains(bytes.count), name != ".", name != "..",
              !bytes.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 }) else {
            throw NetlinkError(operation: operation, reason: .invalidRequest(
                "\"\(name)\" is not a valid interface name (1-15 bytes, no '/', ':' or whitespace)"))
        }
    }

    /// The interface described by an RTM_NEWLINK message; nil for anything else.
    static func parseLink(_ message: NetlinkMessage) -> KernelLink? {
        guard message.type == UInt16(RTM_NEWLINK), let header = message.fixedHeader(ifinfomsg.self),
              header.ifi_index > 0, let attributes = message.attributes(after: ifinfomsg.self) else { return nil }
        var name: String?
        var mtu: UInt32 = 0
        var address: LinkLayerAddress?
        var kind: String?
        var state = OperationalState.unknown
        for attribute in attributes {
            switch attribute.type {
            case LinkAttribute.name: name = attribute.string
            case LinkAttribute.mtu: mtu = attribute.u32 ?? 0
            case LinkAttribute.address: address = LinkLayerAddress(bytes: Array(attribute.payload))
            case LinkAttribute.operationalState: state = attribute.u8.map(OperationalState.init) ?? .unknown
            case LinkAttribute.linkInfo: kind = attribute.nested.first(LinkAttribute.infoKind)?.string
            default: break
            }
        }
        guard let name, !name.isEmpty else { return nil }
        return KernelLink(id: LinkID(UInt32(header.ifi_index)), name: name, flags: LinkFlags(rawValue: header.ifi_flags),
                                mtu: mtu, address: address, kind: kind, operationalState: state)
    }
}

/// IFLA_* attribute types (linux/if_link.h).
private enum LinkAttribute {
    static let address = UInt16(IFLA_ADDRESS)
    static let name = UInt16(IFLA_IFNAME)
    static let mtu = UInt16(IFLA_MTU)
    static let operationalState = UInt16(IFLA_OPERSTATE)
    static let linkInfo = UInt16(IFLA_LINKINFO)
    static let extendedMask = UInt16(IFLA_EXT_MASK)
    static let infoKind = UInt16(IFLA_INFO_KIND)
    static let infoData = UInt16(IFLA_INFO_DATA)
}

extension ifinfomsg {
    /// A header addressing interface `id` (AF_UNSPEC: links are not per address family).
    init(index id: LinkID) {
        self.init()
        ifi_index = Int32(bitPattern: id.rawValue)
    }
}
