// Interface addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR (rtnetlink(7)), struct ifaddrmsg
// followed by IFA_* attributes (linux/if_addr.h).
//
// IFA_LOCAL is the interface's own address and IFA_ADDRESS the prefix address — which on a
// point-to-point link is the *peer's* address (the comment at the top of linux/if_addr.h).
// Requests always carry both, as ip-address(8) does, so IPv4 and IPv6 are handled alike.

import CMnl
import Glibc
import WeftRouting

/// The reach of an address or a route (the kernel's rt_scope_t; ip-route(8) "scope").
public struct RouteScope: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// RT_SCOPE_UNIVERSE: valid everywhere ("global").
    public static let universe = RouteScope(rawValue: 0)
    /// RT_SCOPE_SITE: valid inside the site (IPv6 site-local, deprecated).
    public static let site = RouteScope(rawValue: 200)
    /// RT_SCOPE_LINK: valid on the attached link only (a directly connected destination).
    public static let link = RouteScope(rawValue: 253)
    /// RT_SCOPE_HOST: valid inside this host only.
    public static let host = RouteScope(rawValue: 254)
    /// RT_SCOPE_NOWHERE: the destination does not exist.
    public static let nowhere = RouteScope(rawValue: 255)

    public var description: String {
        switch self {
        case .universe: "global"
        case .site: "site"
        case .link: "link"
        case .host: "host"
        case .nowhere: "nowhere"
        default: "scope \(rawValue)"
        }
    }
}

/// Address flags (the IFA_F_* values of linux/if_addr.h; the full set travels in IFA_FLAGS).
public struct AddressFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// IFA_F_SECONDARY: an IPv4 address in the same prefix as an earlier (primary) one; for
    /// IPv6 the same bit means a temporary (privacy) address, RFC 8981.
    public static let secondary = AddressFlags(rawValue: UInt32(IFA_F_SECONDARY))
    /// IFA_F_NODAD: skip IPv6 duplicate address detection (RFC 4862 §5.4), so the address is
    /// usable at once instead of tentative for about a second.
    public static let noDAD = AddressFlags(rawValue: UInt32(IFA_F_NODAD))
    /// IFA_F_OPTIMISTIC: usable during DAD (RFC 4429).
    public static let optimistic = AddressFlags(rawValue: UInt32(IFA_F_OPTIMISTIC))
    /// IFA_F_DADFAILED: DAD found a duplicate; the address is unusable.
    public static let dadFailed = AddressFlags(rawValue: UInt32(IFA_F_DADFAILED))
    /// IFA_F_DEPRECATED: preferred lifetime expired (RFC 4862 §5.5.4).
    public static let deprecated = AddressFlags(rawValue: UInt32(IFA_F_DEPRECATED))
    /// IFA_F_TENTATIVE: DAD has not finished; the address is not yet usable.
    public static let tentative = AddressFlags(rawValue: UInt32(IFA_F_TENTATIVE))
    /// IFA_F_PERMANENT: configured, not learned from router advertisements.
    public static let permanent = AddressFlags(rawValue: UInt32(IFA_F_PERMANENT))
    /// IFA_F_NOPREFIXROUTE: the kernel adds no route for the address's prefix.
    public static let noPrefixRoute = AddressFlags(rawValue: UInt32(IFA_F_NOPREFIXROUTE))
}

/// An address configured on an interface.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    /// The interface.
    public var link: LinkID
    /// The interface's own address (IFA_LOCAL).
    public var address: IPAddress
    /// The prefix length configured with it (ifa_prefixlen).
    public var prefixLength: UInt8
    /// The far end of a point-to-point link, if one was configured.
    public var peer: IPAddress?
    /// The address's scope (the kernel gives 127/8 and ::1 host scope, fe80::/10 link scope).
    public var scope: RouteScope
    /// The address's flags.
    public var flags: AddressFlags
    /// The IPv4 address label (IFA_LABEL, ip-address(8) "label"); nil for IPv6.
    public var label: String?

    public init(link: LinkID, address: IPAddress, prefixLength: UInt8, peer: IPAddress? = nil,
                scope: RouteScope = .universe, flags: AddressFlags = [], label: String? = nil) {
        self.link = link
        self.address = address
        self.prefixLength = prefixLength
        self.peer = peer
        self.scope = scope
        self.flags = flags
        self.label = label
    }

    /// The address with its prefix length, as configured ("198.18.0.1/24").
    public var prefix: IPPrefix {
        IPPrefix(address: address, length: Int(prefixLength)) ?? IPPrefix(host: address)
    }

    /// The attached network, the prefix a router advertises for this address ("198.18.0.0/24"):
    /// on a point-to-point link with a peer, the peer's prefix, as the kernel's prefix route has.
    public var network: IPPrefix {
        (IPPrefix(address: peer ?? address, length: Int(prefixLength)) ?? IPPrefix(host: address)).canonical
    }

    /// The address family.
    public var family: IPFamily { address.family }

    public var description: String {
        var text = "\(address)"
        if let peer { text += " peer \(peer)" }
        return text + "/\(prefixLength) dev #\(link.rawValue) scope \(scope)"
    }
}

extension NetlinkSocket {
    /// Configures `address` (the interface address with its prefix length, e.g.
    /// 198.18.0.1/24) on `link`; idempotent.
    /// - Parameters:
    ///   - peer: the far end of a point-to-point link; the kernel then routes the peer's prefix
    ///     rather than the address's.
    ///   - flags: requested flags, e.g. `.noDAD` to make an IPv6 address usable at once.
    /// - Returns: true if the address was added, false if exactly this address (and peer) was
    ///   already configured on `link` — the kernel's EEXIST then counts as success.
    @discardableResult
    public func addAddress(_ address: IPPrefix, to link: LinkID, peer: IPAddress? = nil,
                           flags: AddressFlags = []) throws(NetlinkError) -> Bool {
        let operation = { "adding address \(address)\(peer.map { " peer \($0)" } ?? "") to dev \(self.linkLabel(link))" }
        if let peer, peer.family != address.family {
            throw NetlinkError(operation: operation(),
                               reason: .invalidRequest("peer \(peer) is not an \(address.family) address"))
        }
        do {
            try perform(operation, type: UInt16(RTM_NEWADDR), flags: UInt16(NLM_F_CREATE | NLM_F_EXCL)) { request in
                Self.buildAddressRequest(&request, address: address, link: link, peer: peer, flags: flags)
            }
            return true
        } catch let error where error.code == .fileExists {
            // EEXIST also answers an IPv6 address already present with another prefix length,
            // and an IPv4 one with another peer: only an exact match is success.
            let present = try addresses(of: link, family: address.family)
            if present.contains(where: { $0.address == address.address && $0.prefixLength == address.length && $0.peer == peer }) {
                return false
            }
            if let other = present.first(where: { $0.address == address.address }) {
                throw NetlinkError(operation: error.operation, reason: .kernel(
                    .fileExists, message: "already configured as \(other.prefix)\(other.peer.map { " peer \($0)" } ?? "")"))
            }
            throw error
        }
    }

    /// Removes `address` (with the prefix length it was configured with) from `link`.
    /// - Returns: true if it was removed, false if it was not configured (EADDRNOTAVAIL).
    @discardableResult
    public func removeAddress(_ address: IPPrefix, from link: LinkID, peer: IPAddress? = nil) throws(NetlinkError) -> Bool {
        do {
            try perform({ "removing address \(address) from dev \(self.linkLabel(link))" }, type: UInt16(RTM_DELADDR)) { request in
                Self.buildAddressRequest(&request, address: address, link: link, peer: peer, flags: [])
            }
            return true
        } catch let error where error.code == .addressNotAvailable {
            return false
        }
    }

    /// The configured addresses, ordered by interface then address; optionally only those of
    /// one interface or one family. The node's attached LAN prefixes are the `network`s of the
    /// universe-scope ones.
    public func addresses(of link: LinkID? = nil, family: IPFamily? = nil) throws(NetlinkError) -> [InterfaceAddress] {
        try dump({ "listing addresses" }, type: UInt16(RTM_GETADDR)) { request in
            var header = ifaddrmsg()
            header.ifa_family = family?.addressFamily ?? UInt8(AF_UNSPEC)
            request.appendHeader(header)
        } parse: { message in
            guard let parsed = Self.parseAddress(message), link == nil || parsed.link == link,
                  family == nil || parsed.family == family else { return nil }
            return parsed
        }
        .sorted { ($0.link, $0.address, $0.prefixLength) < ($1.link, $1.address, $1.prefixLength) }
    }

    static func buildAddressRequest(_ request: inout NetlinkRequest, address: IPPrefix, link: LinkID,
                                            peer: IPAddress?, flags: AddressFlags) {
        var header = ifaddrmsg()
        header.ifa_family = address.family.addressFamily
        header.ifa_prefixlen = address.length
        // ifa_flags holds only the low 8 bits; IFA_FLAGS (Linux 3.14) carries them all.
        header.ifa_flags = UInt8(truncatingIfNeeded: flags.rawValue)
        header.ifa_index = link.rawValue
        request.appendHeader(header)
        request.put(AddressAttribute.local, address: address.address)
        request.put(AddressAttribute.address, address: peer ?? address.address)
        if flags.rawValue > 0xFF { request.put(AddressAttribute.flags, u32: flags.rawValue) }
    }

    /// The address described by an RTM_NEWADDR message; nil for other families or malformed ones.
    static func parseAddress(_ message: NetlinkMessage) -> InterfaceAddress? {
        guard message.type == UInt16(RTM_NEWADDR), let header = message.fixedHeader(ifaddrmsg.self),
              let family = IPFamily(addressFamily: header.ifa_family),
              Int(header.ifa_prefixlen) <= family.addressBitWidth,
              let attributes = message.attributes(after: ifaddrmsg.self) else { return nil }
        var local: IPAddress?
        var prefixAddress: IPAddress?
        var label: String?
        var flags = AddressFlags(rawValue: UInt32(header.ifa_flags))
        for attribute in attributes {
            switch attribute.type {
            case AddressAttribute.local: local = attribute.address(family)
            case AddressAttribute.address: prefixAddress = attribute.address(family)
            case AddressAttribute.label: label = attribute.string
            case AddressAttribute.flags: if let value = attribute.u32 { flags = AddressFlags(rawValue: value) }
            default: break
            }
        }
        // IPv6 sends only IFA_ADDRESS unless a peer is configured.
        guard let address = local ?? prefixAddress else { return nil }
        let peer = local != nil && prefixAddress != nil && prefixAddress != local ? prefixAddress : nil
        return InterfaceAddress(link: LinkID(header.ifa_index), address: address, prefixLength: header.ifa_prefixlen,
                                peer: peer, scope: RouteScope(rawValue: header.ifa_scope), flags: flags, label: label)
    }
}

/// IFA_* attribute types (linux/if_addr.h).
private enum AddressAttribute {
    static let address = UInt16(IFA_ADDRESS)
    static let local = UInt16(IFA_LOCAL)
    static let label = UInt16(IFA_LABEL)
    static let flags = UInt16(IFA_FLAGS)
}
