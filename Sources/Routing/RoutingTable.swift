// The router's routing table: a RIB holding every source's candidate route per prefix, and the
// FIB of selected ("best") routes that forwarding looks up.
//
// Selection follows the usual router model: among routes for the same prefix from different
// sources, the lowest administrative distance wins, then the lowest metric. Each change of a
// selected route is reported as a `RouteChange`, which is what a kernel FIB programmer (netlink
// RTM_NEWROUTE / RTM_DELROUTE) needs and nothing more. Forwarding picks one of the selected
// route's next hops by a per-flow hash (ECMP, RFC 2991/2992), so a flow keeps one path.

/// Where a route came from. Declaration order breaks ties between equal distances.
public enum RouteSource: UInt8, Hashable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// The prefix of an address configured on a local link.
    case connected
    /// Learned from the kernel's table (installed by someone else).
    case kernel
    /// Configured by the operator.
    case `static`
    /// Computed by OSPFv2 (RFC 2328 §16).
    case ospf

    public static func < (lhs: RouteSource, rhs: RouteSource) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .connected: "connected"
        case .kernel: "kernel"
        case .static: "static"
        case .ospf: "ospf"
        }
    }
}

/// Administrative distance (preference) per source; lower is preferred. The defaults are the
/// conventional ones (FRR zebra; Cisco uses the same for connected, static and OSPF):
/// connected 0, kernel 0, static 1, OSPF 110.
public struct AdministrativeDistances: Hashable, Sendable {
    public var connected: UInt8
    public var kernel: UInt8
    public var `static`: UInt8
    public var ospf: UInt8

    public init(connected: UInt8 = 0, kernel: UInt8 = 0, static: UInt8 = 1, ospf: UInt8 = 110) {
        self.connected = connected
        self.kernel = kernel
        self.static = `static`
        self.ospf = ospf
    }

    /// The distance of `source`.
    public subscript(source: RouteSource) -> UInt8 {
        switch source {
        case .connected: connected
        case .kernel: kernel
        case .static: self.static
        case .ospf: ospf
        }
    }
}

/// A route: a prefix reachable through a set of next hops, as offered by one source.
public struct Route: Hashable, Sendable, CustomStringConvertible {
    public var prefix: IPPrefix
    public var source: RouteSource
    /// Cost within the source (e.g. the OSPF path cost); compared only between routes of equal
    /// administrative distance.
    public var metric: UInt32
    /// Equal-cost next hops. Empty makes a discard route: matching packets are dropped rather
    /// than forwarded along a less specific route (how a router advertising a summary avoids
    /// looping traffic for unused parts of it back along its own default route).
    public var nextHops: [NextHop]

    public init(prefix: IPPrefix, source: RouteSource, metric: UInt32 = 0, nextHops: [NextHop]) {
        self.prefix = prefix
        self.source = source
        self.metric = metric
        self.nextHops = nextHops
    }

    /// True for a route without next hops.
    public var isDiscard: Bool { nextHops.isEmpty }

    /// The next hop for a flow with hash `flowHash`, by the hash-threshold method of RFC 2992
    /// (see `NextHop.select`); nil for a discard route. The routing table's `lookup` makes the
    /// same choice for the selected route.
    public func nextHop(forFlowHash flowHash: UInt32) -> NextHop? {
        var total: UInt64 = 0
        for hop in nextHops { total += UInt64(max(hop.weight, 1)) }
        return nextHops.withUnsafeBufferPointer { NextHop.select(from: $0, totalWeight: total, flowHash: flowHash) }
    }

    public var description: String {
        let hops = nextHops.isEmpty ? "discard" : nextHops.map(\.description).joined(separator: ", ")
        return "\(prefix) [\(source)/\(metric)] \(hops)"
    }

    /// The form stored in the table: canonical prefix, next hops sorted, duplicates dropped,
    /// weights at least 1.
    var normalized: Route {
        var route = self
        route.prefix = prefix.canonical
        var hops = nextHops.map { NextHop(link: $0.link, gateway: $0.gateway, weight: max($0.weight, 1)) }
        hops.sort()
        var unique: [NextHop] = []
        unique.reserveCapacity(hops.count)
        for hop in hops where unique.last != hop { unique.append(hop) }
        route.nextHops = unique
        return route
    }
}

/// A change of the selected route for one prefix.
public enum RouteChange: Hashable, Sendable, CustomStringConvertible {
    /// The prefix had no route and now has `Route`.
    case added(Route)
    /// The selected route for the prefix was replaced (another source won, or the same source
    /// changed its metric or next hops).
    case changed(old: Route, new: Route)
    /// The prefix no longer has any route.
    case removed(Route)

    /// The prefix concerned.
    public var prefix: IPPrefix {
        switch self {
        case .added(let route), .removed(let route), .changed(_, let route): route.prefix
        }
    }

    public var description: String {
        switch self {
        case .added(let route): "+ \(route)"
        case .changed(let old, let new): "~ \(old) -> \(new)"
        case .removed(let route): "- \(route)"
        }
    }
}

/// Routes from several sources, the best one selected per prefix, and the forwarding lookup.
public struct RoutingTable: Sendable {
    /// The administrative distances used for selection.
    public let distances: AdministrativeDistances
    /// Every source's route per (canonical) prefix, best first; at most one per source.
    private var candidates: [IPPrefix: [Route]] = [:]
    /// The prefixes each source currently has a route for.
    private var prefixesBySource: [RouteSource: Set<IPPrefix>] = [:]
    /// The FIB that `lookup` searches: per prefix with a selected route, the next-hop group of
    /// that route. Plain integers, so a lookup never retains or releases anything.
    private var forwarding = PrefixTable<Int32>()
    /// The next-hop sets of the selected routes.
    private(set) var nextHopGroups = NextHopGroups()

    /// An empty table selecting routes by `distances`.
    public init(distances: AdministrativeDistances = AdministrativeDistances()) {
        self.distances = distances
    }

    /// Number of prefixes that have a selected route.
    public var count: Int { forwarding.count }

    /// Adds or replaces `route.source`'s route for `route.prefix` (canonicalised).
    /// - Returns: the change of the selected route for that prefix, or nil if it did not change.
    @discardableResult
    public mutating func install(_ route: Route) -> RouteChange? {
        let route = route.normalized
        var routes = candidates[route.prefix] ?? []
        let previousBest = routes.first
        if let index = routes.firstIndex(where: { $0.source == route.source }) {
            routes[index] = route
        } else {
            routes.append(route)
        }
        routes.sort(by: isPreferred)
        candidates[route.prefix] = routes
        prefixesBySource[route.source, default: []].insert(route.prefix)
        return select(route.prefix, previous: previousBest, next: routes.first)
    }

    /// Removes `source`'s route for `prefix` (canonicalised); the next best source, if any,
    /// takes over.
    /// - Returns: the change of the selected route, or nil if it did not change.
    @discardableResult
    public mutating func withdraw(_ prefix: IPPrefix, source: RouteSource) -> RouteChange? {
        let prefix = prefix.canonical
        guard var routes = candidates[prefix],
              let index = routes.firstIndex(where: { $0.source == source }) else { return nil }
        let previousBest = routes.first
        routes.remove(at: index)
        candidates[prefix] = routes.isEmpty ? nil : routes
        prefixesBySource[source]?.remove(prefix)
        return select(prefix, previous: previousBest, next: routes.first)
    }

    /// Makes `routes` the complete set of `source`'s routes: prefixes it no longer lists are
    /// withdrawn, the others installed — how a protocol hands over the result of a full
    /// recomputation (an OSPF SPF run). Each route's `source` is taken to be `source`; if a
    /// prefix appears more than once, the last route wins.
    /// - Returns: the selected-route changes, at most one per prefix, in prefix order.
    @discardableResult
    public mutating func replaceRoutes(from source: RouteSource, with routes: [Route]) -> [RouteChange] {
        var incoming: [IPPrefix: Route] = [:]
        for var route in routes {
            route.source = source
            let normalized = route.normalized
            incoming[normalized.prefix] = normalized
        }
        var changes: [RouteChange] = []
        for prefix in prefixesBySource[source] ?? [] where incoming[prefix] == nil {
            if let change = withdraw(prefix, source: source) { changes.append(change) }
        }
        for route in incoming.values {
            if let change = install(route) { changes.append(change) }
        }
        changes.sort { $0.prefix < $1.prefix }
        return changes
    }

    /// Withdraws every route of `source` (the protocol went down).
    /// - Returns: the selected-route changes in prefix order.
    @discardableResult
    public mutating func withdrawAll(from source: RouteSource) -> [RouteChange] {
        replaceRoutes(from: source, with: [])
    }

    /// Every source's route for exactly `prefix` (canonicalised), best first.
    public func routes(for prefix: IPPrefix) -> [Route] {
        candidates[prefix.canonical] ?? []
    }

    /// The selected route for exactly `prefix` (canonicalised).
    public func bestRoute(for prefix: IPPrefix) -> Route? {
        candidates[prefix.canonical]?.first
    }

    /// All selected routes in prefix order (IPv4 first): the FIB contents.
    public var bestRoutes: [Route] {
        forwarding.entries.compactMap { candidates[$0.prefix]?.first }
    }

    /// The selected route of the longest prefix containing `destination`.
    public func route(to destination: IPAddress) -> Route? {
        guard let (prefix, _) = forwarding.longestMatch(destination) else { return nil }
        return candidates[prefix]?.first
    }

    /// The next hop for a packet to `destination` whose flow hashes to `flowHash` (see
    /// `flowHash(packet:seed:)`); nil when no route matches or the matching route is a discard
    /// route. The same flow hash always yields the same next hop while the route's next hops
    /// are unchanged (it is the choice `Route.nextHop(forFlowHash:)` makes). Does not allocate
    /// and only reads memory, so several threads may look up in one table concurrently.
    public func lookup(_ destination: IPAddress, flowHash: UInt32) -> NextHop? {
        guard let group = forwarding.lookup(destination) else { return nil }
        return nextHopGroups.select(group, flowHash: flowHash)
    }

    /// IPv4 form of `lookup(_:flowHash:)`.
    public func lookup(_ destination: IPv4Address, flowHash: UInt32) -> NextHop? {
        guard let group = forwarding.lookup(destination) else { return nil }
        return nextHopGroups.select(group, flowHash: flowHash)
    }

    /// IPv6 form of `lookup(_:flowHash:)`.
    public func lookup(_ destination: IPv6Address, flowHash: UInt32) -> NextHop? {
        guard let group = forwarding.lookup(destination) else { return nil }
        return nextHopGroups.select(group, flowHash: flowHash)
    }

    /// Selection order: administrative distance, then metric, then source declaration order.
    private func isPreferred(_ lhs: Route, _ rhs: Route) -> Bool {
        let left = (distances[lhs.source], lhs.metric, lhs.source.rawValue)
        let right = (distances[rhs.source], rhs.metric, rhs.source.rawValue)
        return left < right
    }

    /// Updates the FIB entry for `prefix` from `previous` to `next` and describes the change.
    private mutating func select(_ prefix: IPPrefix, previous: Route?, next: Route?) -> RouteChange? {
        switch (previous, next) {
        case (nil, nil):
            return nil
        case (let previous?, nil):
            if let group = forwarding.removeValue(forPrefix: prefix) { nextHopGroups.release(group) }
            return .removed(previous)
        case (nil, let next?):
            forwarding.updateValue(nextHopGroups.acquire(next.nextHops), forPrefix: prefix)
            return .added(next)
        case (let previous?, let next?):
            guard previous != next else { return nil }
            if previous.nextHops != next.nextHops {
                // Acquire before releasing, so a shared group is never freed in between.
                let group = nextHopGroups.acquire(next.nextHops)
                if let old = forwarding.updateValue(group, forPrefix: prefix) { nextHopGroups.release(old) }
            }
            return .changed(old: previous, new: next)
        }
    }
}
