// Kernel routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE (rtnetlink(7)), struct rtmsg followed
// by RTA_* attributes. Equal-cost multipath routes carry their next hops in RTA_MULTIPATH as a
// list of struct rtnexthop, each followed by its own attributes (ip-route(8) "nexthop").
//
// Routes Weft installs are labelled with their own protocol number (`RouteProtocol.weft`, the
// rtm_protocol field), so they can be told apart from routes of the administrator, DHCP or
// another routing daemon, and all of them removed on exit or after a crash.

import CMnl
import Glibc
import WeftRouting

/// Who installed a route (rtm_protocol; RTPROT_* in linux/rtnetlink.h, /etc/iproute2/rt_protos).
/// Values above `static` mean nothing to the kernel: they label routes for their owners.
public struct RouteProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// RTPROT_UNSPEC.
    public static let unspecified = RouteProtocol(rawValue: 0)
    /// RTPROT_REDIRECT: from an ICMP redirect.
    public static let redirect = RouteProtocol(rawValue: 1)
    /// RTPROT_KERNEL: installed by the kernel (prefix routes of addresses).
    public static let kernel = RouteProtocol(rawValue: 2)
    /// RTPROT_BOOT: the default of `ip route add`.
    public static let boot = RouteProtocol(rawValue: 3)
    /// RTPROT_STATIC: configured by the administrator.
    public static let `static` = RouteProtocol(rawValue: 4)
    /// RTPROT_RA: from IPv6 router advertisements.
    public static let routerAdvertisement = RouteProtocol(rawValue: 9)
    /// RTPROT_DHCP.
    public static let dhcp = RouteProtocol(rawValue: 16)
    /// RTPROT_OSPF: used by other OSPF daemons (FRR, BIRD with their defaults).
    public static let ospf = RouteProtocol(rawValue: 188)
    /// Weft's routes: 87, ASCII "W". Not assigned in linux/rtnetlink.h nor in iproute2's
    /// rt_protos, and distinct from `ospf` so that an FRR or BIRD on the same host never
    /// mistakes Weft's routes for its own (or the reverse) when cleaning up.
    public static let weft = RouteProtocol(rawValue: 87)

    public var description: String {
        switch self {
        case .unspecified: "unspec"
        case .redirect: "redirect"
        case .kernel: "kernel"
        case .boot: "boot"
        case .static: "static"
        case .routerAdvertisement: "ra"
        case .dhcp: "dhcp"
        case .ospf: "ospf"
        case .weft: "weft"
        default: String(rawValue)
        }
    }
}

/// A routing table ID (ip-route(8) "table"; RT_TABLE_* in linux/rtnetlink.h). IDs above 255
/// travel in RTA_TABLE, which is always sent.
public struct RouteTableID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// RT_TABLE_DEFAULT.
    public static let `default` = RouteTableID(253)
    /// RT_TABLE_MAIN: where routes go unless policy routing says otherwise.
    public static let main = RouteTableID(254)
    /// RT_TABLE_LOCAL: the kernel's local and broadcast routes.
    public static let local = RouteTableID(255)

    public var description: String {
        switch self {
        case .default: "default"
        case .main: "main"
        case .local: "local"
        default: String(rawValue)
        }
    }
}

/// What a route does with matching packets (rtm_type; RTN_* in linux/rtnetlink.h).
public struct RouteType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// RTN_UNICAST: forward through the next hops.
    public static let unicast = RouteType(rawValue: UInt8(RTN_UNICAST))
    /// RTN_LOCAL: deliver locally (the kernel's routes for the host's own addresses).
    public static let local = RouteType(rawValue: UInt8(RTN_LOCAL))
    /// RTN_BROADCAST: deliver locally as broadcast.
    public static let broadcast = RouteType(rawValue: UInt8(RTN_BROADCAST))
    /// RTN_ANYCAST: deliver locally as anycast.
    public static let anycast = RouteType(rawValue: UInt8(RTN_ANYCAST))
    /// RTN_MULTICAST.
    public static let multicast = RouteType(rawValue: UInt8(RTN_MULTICAST))
    /// RTN_BLACKHOLE: drop silently (a discard route).
    public static let blackhole = RouteType(rawValue: UInt8(RTN_BLACKHOLE))
    /// RTN_UNREACHABLE: drop with ICMP destination unreachable.
    public static let unreachable = RouteType(rawValue: UInt8(RTN_UNREACHABLE))
    /// RTN_PROHIBIT: drop with ICMP administratively prohibited.
    public static let prohibit = RouteType(rawValue: UInt8(RTN_PROHIBIT))
    /// RTN_THROW: continue the lookup in the next policy-routing rule's table.
    public static let `throw` = RouteType(rawValue: UInt8(RTN_THROW))

    /// True for the types that take no next hop: they drop packets, or (`throw`) end the
    /// lookup in this table.
    public var isReject: Bool {
        self == .blackhole || self == .unreachable || self == .prohibit || self == .throw
    }

    public var description: String {
        switch self {
        case .unicast: "unicast"
        case .local: "local"
        case .broadcast: "broadcast"
        case .anycast: "anycast"
        case .multicast: "multicast"
        case .blackhole: "blackhole"
        case .unreachable: "unreachable"
        case .prohibit: "prohibit"
        case .throw: "throw"
        default: "type \(rawValue)"
        }
    }
}

/// A route in a kernel routing table.
///
/// Within a table the kernel identifies a route by destination and metric (and, for IPv4, the
/// TOS, which Weft leaves at 0): adding a second route with the same pair fails with EEXIST,
/// replacing one changes its next hops, and a route with another metric is a separate route.
public struct KernelRoute: Hashable, Sendable, CustomStringConvertible {
    /// The destination prefix (RTA_DST / rtm_dst_len). Requests send it canonical, since the
    /// kernel refuses host bits beyond the prefix length.
    public var destination: IPPrefix
    /// What the route does; `.unicast` forwards through `nextHops`.
    public var type: RouteType
    /// Where packets go. One hop travels as RTA_OIF/RTA_GATEWAY, several as RTA_MULTIPATH
    /// (ECMP, with `weight` 1–256 per hop). A gateway of the other family than the
    /// destination (an IPv4 route via an IPv6 neighbour, RFC 8950 style) travels as RTA_VIA.
    /// Empty for the reject types (`.blackhole`, …).
    public var nextHops: [NextHop]
    /// The route's metric (RTA_PRIORITY); lower wins between routes to the same prefix. The
    /// kernel stores IPv6 metric 0 as 1024.
    public var metric: UInt32
    /// The table the route lives in.
    public var table: RouteTableID
    /// Who owns the route.
    public var `protocol`: RouteProtocol
    /// The route's scope: `.link` for a destination directly on the link (no gateway),
    /// `.universe` for one behind a gateway, `.host` for local routes. IPv6 routes are always
    /// `.universe` (the kernel keeps no scope for them).
    public var scope: RouteScope
    /// The source address the host prefers for packets it originates along this route
    /// (RTA_PREFSRC, ip-route(8) "src").
    public var preferredSource: IPAddress?

    /// Creates a route; `scope` nil picks the usual one for the type and next hops.
    public init(destination: IPPrefix, nextHops: [NextHop], type: RouteType = .unicast, metric: UInt32 = 0,
                table: RouteTableID = .main, protocol: RouteProtocol = .weft, scope: RouteScope? = nil,
                preferredSource: IPAddress? = nil) {
        self.destination = destination
        self.type = type
        self.nextHops = nextHops
        self.metric = metric
        self.table = table
        self.protocol = `protocol`
        self.scope = scope ?? Self.defaultScope(family: destination.family, type: type, nextHops: nextHops)
        self.preferredSource = preferredSource
    }

    /// A single-path route: to `destination` out of `link`, via `gateway` unless the
    /// destination is directly on the link.
    public init(destination: IPPrefix, gateway: IPAddress? = nil, link: LinkID, metric: UInt32 = 0,
                table: RouteTableID = .main, protocol: RouteProtocol = .weft) {
        self.init(destination: destination, nextHops: [NextHop(link: link, gateway: gateway)], metric: metric,
                  table: table, protocol: `protocol`)
    }

    /// The kernel form of a routing-table route: a discard route (no next hops) becomes a
    /// blackhole route. `metric` is the kernel metric, not the route's cost: the cost only
    /// ranks routes inside Weft, and using it here would make every cost change a delete and
    /// add in the kernel instead of an in-place replace.
    public init(_ route: Route, metric: UInt32, table: RouteTableID = .main, protocol: RouteProtocol = .weft) {
        self.init(destination: route.prefix.canonical, nextHops: route.nextHops,
                  type: route.isDiscard ? .blackhole : .unicast, metric: metric, table: table, protocol: `protocol`)
    }

    /// The destination's family.
    public var family: IPFamily { destination.family }

    static func defaultScope(family: IPFamily, type: RouteType, nextHops: [NextHop]) -> RouteScope {
        if family == .ipv6 { return .universe }
        if type == .local { return .host }
        if type == .unicast && !nextHops.isEmpty && nextHops.allSatisfy({ $0.gateway == nil }) { return .link }
        return .universe
    }

    /// In ip-route(8) style, with links by index.
    public var description: String {
        describe { "#\($0.rawValue)" }
    }

    /// The route in ip-route(8) style, naming links with `linkName`.
    func describe(linkName: (LinkID) -> String) -> String {
        var text = type == .unicast ? "\(destination)" : "\(type) \(destination)"
        func hop(_ hop: NextHop) -> String {
            (hop.gateway.map { "via \($0) " } ?? "") + "dev \(linkName(hop.link))"
        }
        if nextHops.count == 1 {
            text += " " + hop(nextHops[0])
        } else {
            for next in nextHops {
                text += " nexthop " + hop(next) + (next.weight > 1 ? " weight \(next.weight)" : "")
            }
        }
        if table != .main { text += " table \(table)" }
        text += " proto \(`protocol`)"
        if metric != 0 { text += " metric \(metric)" }
        return text
    }
}

extension NetlinkSocket {
    /// Adds `route`; fails with `.fileExists` if the table already has a route with the same
    /// destination and metric.
    public func addRoute(_ route: KernelRoute) throws(NetlinkError) {
        try modifyRoute(route, verb: "adding", type: UInt16(RTM_NEWROUTE), flags: UInt16(NLM_F_CREATE | NLM_F_EXCL))
    }

    /// Adds `route`, or replaces the route with the same destination and metric in its table
    /// (NLM_F_CREATE | NLM_F_REPLACE): idempotent, and atomic for traffic on that prefix.
    public func replaceRoute(_ route: KernelRoute) throws(NetlinkError) {
        try modifyRoute(route, verb: "replacing", type: UInt16(RTM_NEWROUTE), flags: UInt16(NLM_F_CREATE | NLM_F_REPLACE))
    }

    /// Removes the route of `route.protocol` to `route.destination` with `route.metric` from
    /// `route.table`, whatever its next hops; a protocol of `.unspecified` or a metric of 0
    /// match any.
    /// - Returns: true if a route was removed, false if there was none (ESRCH).
    @discardableResult
    public func removeRoute(_ route: KernelRoute) throws(NetlinkError) -> Bool {
        do {
            try modifyRoute(route, verb: "removing", type: UInt16(RTM_DELROUTE), flags: 0)
            return true
        } catch let error where error.code == .noSuchProcess {
            return false
        }
    }

    /// The routes in the kernel, optionally filtered. Cached clones (RTM_F_CLONED) and
    /// source-specific IPv6 routes are left out.
    /// - Parameters:
    ///   - family: only this family; nil for both.
    ///   - table: only this table; nil for all tables.
    ///   - protocol: only routes of this protocol; nil for any.
    public func routes(family: IPFamily? = nil, table: RouteTableID? = .main,
                       protocol: RouteProtocol? = nil) throws(NetlinkError) -> [KernelRoute] {
        var found: [KernelRoute] = []
        // One dump per family: an AF_UNSPEC dump would also walk the multicast routing tables.
        for dumped in family.map({ [$0] }) ?? [.ipv4, .ipv6] {
            found += try dump({ "listing \(dumped) routes" }, type: UInt16(RTM_GETROUTE)) { request in
                var header = rtmsg()
                header.rtm_family = dumped.addressFamily
                request.appendHeader(header)
            } parse: { message in
                guard let route = Self.parseRoute(message), table == nil || route.table == table,
                      `protocol` == nil || route.protocol == `protocol` else { return nil }
                return route
            }
        }
        return found
    }

    /// Removes every route of `protocol` (in `table`, or in all tables when nil): the clean-up
    /// after an unclean exit. Every route is tried even if one fails; the first failure is
    /// thrown afterwards.
    /// - Returns: the number of routes removed.
    @discardableResult
    public func removeAllRoutes(protocol: RouteProtocol, table: RouteTableID? = nil) throws(NetlinkError) -> Int {
        guard `protocol` != .unspecified else {
            throw NetlinkError(operation: "removing all routes of protocol \(`protocol`)",
                               reason: .invalidRequest("protocol 0 would match every route"))
        }
        var removed = 0
        var firstError: NetlinkError?
        for route in try routes(table: table, protocol: `protocol`) {
            do {
                if try removeRoute(route) { removed += 1 }
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
        return removed
    }

    private func modifyRoute(_ route: KernelRoute, verb: String, type: UInt16, flags: UInt16) throws(NetlinkError) {
        let operation = { "\(verb) route \(route.describe(linkName: self.linkLabel))" }
        let isDeletion = type == UInt16(RTM_DELROUTE)
        if !isDeletion, let problem = Self.problem(with: route) {
            throw NetlinkError(operation: operation(), reason: .invalidRequest(problem))
        }
        try perform(operation, type: type, flags: flags) { request in
            Self.buildRouteRequest(&request, route: route, isDeletion: isDeletion)
        }
    }

    /// Why the kernel would refuse `route`, found before sending so the message is precise.
    private static func problem(with route: KernelRoute) -> String? {
        if route.type.isReject {
            return route.nextHops.isEmpty ? nil : "a \(route.type) route takes no next hops"
        }
        if route.type == .unicast && route.nextHops.isEmpty {
            return "a unicast route needs at least one next hop"
        }
        if route.nextHops.count > 1, let heavy = route.nextHops.first(where: { $0.weight > 256 }) {
            return "next-hop weight \(heavy.weight) exceeds 256 (rtnh_hops is one byte)"
        }
        if route.family == .ipv6, let mixed = route.nextHops.first(where: { $0.gateway?.family == .ipv4 }) {
            return "an IPv6 route cannot use the IPv4 gateway \(mixed.gateway!)"
        }
        return nil
    }

    static func buildRouteRequest(_ request: inout NetlinkRequest, route: KernelRoute, isDeletion: Bool) {
        let destination = route.destination.canonical
        var header = rtmsg()
        header.rtm_family = route.family.addressFamily
        header.rtm_dst_len = destination.length
        header.rtm_table = route.table.rawValue < 256 ? UInt8(route.table.rawValue) : UInt8(RT_TABLE_UNSPEC.rawValue)
        header.rtm_protocol = route.protocol.rawValue
        if isDeletion {
            // RT_SCOPE_NOWHERE and RTN_UNSPEC are the kernel's wildcards for deletion.
            header.rtm_scope = RouteScope.nowhere.rawValue
            header.rtm_type = UInt8(RTN_UNSPEC)
        } else {
            header.rtm_scope = route.scope.rawValue
            header.rtm_type = route.type.rawValue
        }
        request.appendHeader(header)
        if destination.length > 0 { request.put(RouteAttribute.destination, address: destination.address) }
        request.put(RouteAttribute.table, u32: route.table.rawValue)
        if route.metric != 0 { request.put(RouteAttribute.priority, u32: route.metric) }
        // The next hops do not identify a route; a deletion without them removes the route
        // whole (for IPv6 too: with RTA_MULTIPATH it would remove only the listed hops).
        guard !isDeletion else { return }
        if let source = route.preferredSource { request.put(RouteAttribute.preferredSource, address: source) }
        if route.nextHops.count == 1 {
            let hop = route.nextHops[0]
            request.put(RouteAttribute.outputInterface, u32: hop.link.rawValue)
            if let gateway = hop.gateway { putGateway(&request, gateway, routeFamily: route.family) }
        } else if route.nextHops.count > 1 {
            request.nest(RouteAttribute.multipath) { request in
                for hop in route.nextHops {
                    let start = request.length
                    guard let area = request.appendZeroed(size: MemoryLayout<rtnexthop>.size) else { return }
                    if let gateway = hop.gateway { putGateway(&request, gateway, routeFamily: route.family) }
                    var entry = rtnexthop()
                    entry.rtnh_len = UInt16(request.length - start)
                    // rtnh_hops is the weight minus one (ip-route(8) "weight").
                    entry.rtnh_hops = UInt8(max(hop.weight, 1) - 1)
                    entry.rtnh_ifindex = Int32(bitPattern: hop.link.rawValue)
                    area.storeBytes(of: entry, as: rtnexthop.self)
                }
            }
        }
    }

    /// RTA_GATEWAY for a gateway of the route's family; RTA_VIA (struct rtvia: a 16-bit family,
    /// then the address) for an IPv6 gateway of an IPv4 route (Linux 5.2).
    private static func putGateway(_ request: inout NetlinkRequest, _ gateway: IPAddress, routeFamily: IPFamily) {
        if gateway.family == routeFamily {
            request.put(RouteAttribute.gateway, address: gateway)
            return
        }
        var via = [UInt8](repeating: 0, count: 2)
        withUnsafeBytes(of: UInt16(gateway.family.addressFamily)) { via.replaceSubrange(0..<2, with: $0) }
        gateway.withUnsafeBytes { via.append(contentsOf: $0) }
        via.withUnsafeBytes { request.put(RouteAttribute.via, bytes: $0) }
    }

    /// The route described by an RTM_NEWROUTE message; nil for other families, clones,
    /// source-specific routes and malformed messages.
    static func parseRoute(_ message: NetlinkMessage) -> KernelRoute? {
        guard message.type == UInt16(RTM_NEWROUTE), let header = message.fixedHeader(rtmsg.self),
              let family = IPFamily(addressFamily: header.rtm_family),
              header.rtm_flags & UInt32(RTM_F_CLONED) == 0, header.rtm_src_len == 0,
              let attributes = message.attributes(after: rtmsg.self) else { return nil }
        var destination: IPAddress = family == .ipv4 ? .v4(.any) : .v6(.any)
        var table = RouteTableID(UInt32(header.rtm_table))
        var metric: UInt32 = 0
        var link: LinkID?
        var gateway: IPAddress?
        var source: IPAddress?
        var multipath: [NextHop]?
        for attribute in attributes {
            switch attribute.type {
            case RouteAttribute.destination:
                guard let address = attribute.address(family) else { return nil }
                destination = address
            case RouteAttribute.table: table = attribute.u32.map { RouteTableID($0) } ?? table
            case RouteAttribute.priority: metric = attribute.u32 ?? 0
            case RouteAttribute.outputInterface: link = attribute.u32.map { LinkID($0) }
            case RouteAttribute.gateway, RouteAttribute.via: gateway = parseGateway(attribute, family: family)
            case RouteAttribute.preferredSource: source = attribute.address(family)
            case RouteAttribute.multipath:
                guard let hops = parseMultipath(attribute.payload, family: family) else { return nil }
                multipath = hops
            default: break
            }
        }
        guard let prefix = IPPrefix(address: destination, length: Int(header.rtm_dst_len)) else { return nil }
        var nextHops: [NextHop] = []
        if let multipath {
            nextHops = multipath
        } else if let link {
            nextHops = [NextHop(link: link, gateway: gateway)]
        }
        return KernelRoute(destination: prefix, nextHops: nextHops, type: RouteType(rawValue: header.rtm_type),
                           metric: metric, table: table, protocol: RouteProtocol(rawValue: header.rtm_protocol),
                           scope: RouteScope(rawValue: header.rtm_scope), preferredSource: source)
    }

    /// The next hops of an RTA_MULTIPATH payload; nil if an entry overruns it.
    private static func parseMultipath(_ payload: UnsafeRawBufferPointer, family: IPFamily) -> [NextHop]? {
        guard var cursor = payload.baseAddress else { return [] }
        let end = cursor + payload.count
        var hops: [NextHop] = []
        // Each entry is at least sizeof(struct rtnexthop) = 8 bytes, so this ends.
        while end - cursor > 0 {
            let entry = cursor.assumingMemoryBound(to: rtnexthop.self)
            guard cmnl_rtnh_ok(entry, Int32(end - cursor)) != 0 else { return nil }
            let fields = cursor.loadUnaligned(as: rtnexthop.self)
            let attributes = NetlinkAttributes(UnsafeRawBufferPointer(
                start: cmnl_rtnh_data(entry), count: Int(fields.rtnh_len) - Int(cmnl_rtnh_hdrlen())))
            let gateway = attributes.first { $0.type == RouteAttribute.gateway || $0.type == RouteAttribute.via }
                .flatMap { parseGateway($0, family: family) }
            hops.append(NextHop(link: LinkID(UInt32(bitPattern: fields.rtnh_ifindex)), gateway: gateway,
                                weight: UInt16(fields.rtnh_hops) + 1))
            cursor = UnsafeRawPointer(cmnl_rtnh_next(entry))
        }
        return hops
    }

    /// The address in RTA_GATEWAY (of the route's family) or RTA_VIA (family-tagged).
    private static func parseGateway(_ attribute: NetlinkAttribute, family: IPFamily) -> IPAddress? {
        guard attribute.type == RouteAttribute.via else { return attribute.address(family) }
        let payload = attribute.payload
        guard payload.count >= 2,
              let viaFamily = IPFamily(addressFamily: UInt8(truncatingIfNeeded: payload.loadUnaligned(as: UInt16.self))) else {
            return nil
        }
        let address = UnsafeRawBufferPointer(rebasing: payload[2...])
        guard address.count == viaFamily.addressBitWidth / 8 else { return nil }
        return IPAddress(bytes: address)
    }
}

/// RTA_* attribute types (linux/rtnetlink.h).
private enum RouteAttribute {
    static let destination = UInt16(RTA_DST.rawValue)
    static let outputInterface = UInt16(RTA_OIF.rawValue)
    static let gateway = UInt16(RTA_GATEWAY.rawValue)
    static let priority = UInt16(RTA_PRIORITY.rawValue)
    static let preferredSource = UInt16(RTA_PREFSRC.rawValue)
    static let multipath = UInt16(RTA_MULTIPATH.rawValue)
    static let table = UInt16(RTA_TABLE.rawValue)
    static let via = UInt16(RTA_VIA.rawValue)
}
