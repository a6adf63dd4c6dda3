// The routing table calculation (RFC 2328 §16): Dijkstra's shortest path tree over router and
// network vertices (§16.1) with equal-cost multipath next hops (§16.1.1), the stub networks of
// the second stage (§16.1 step 2), and AS-external routes (§16.4).

/// Where a route came from (§11).
public enum OSPFPathType: String, Hashable, Sendable, Codable {
    case intraArea
    case external1
    case external2
}

/// One next hop: the outgoing interface and, unless the destination is directly attached, the
/// neighbor's address to forward to.
public struct OSPFNextHop: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var interface: OSPFInterfaceID
    /// nil for a network directly attached to `interface`.
    public var gateway: OSPFAddress?

    public init(interface: OSPFInterfaceID, gateway: OSPFAddress?) {
        self.interface = interface
        self.gateway = gateway
    }

    public static func < (lhs: OSPFNextHop, rhs: OSPFNextHop) -> Bool {
        (lhs.interface, lhs.gateway?.rawValue ?? 0) < (rhs.interface, rhs.gateway?.rawValue ?? 0)
    }

    public var description: String { gateway.map { "via \($0) on \(interface)" } ?? "dev \(interface)" }
}

/// A routing table entry (§11).
public struct OSPFRoute: Hashable, Sendable, Codable, CustomStringConvertible {
    public var prefix: OSPFPrefix
    public var pathType: OSPFPathType
    /// The path cost (for type 2 externals: the cost to the ASBR or forwarding address).
    public var cost: UInt32
    /// The type 2 external metric, which dominates `cost` for external2 routes (§16.4).
    public var type2Cost: UInt32?
    /// Equal-cost next hops, sorted. Empty for prefixes this router originates without an
    /// attached interface (loopbacks, configured stub networks): nothing to forward, and the
    /// driver should not install them.
    public var nextHops: [OSPFNextHop]

    public init(prefix: OSPFPrefix, pathType: OSPFPathType, cost: UInt32, type2Cost: UInt32? = nil,
                nextHops: [OSPFNextHop]) {
        self.prefix = prefix
        self.pathType = pathType
        self.cost = cost
        self.type2Cost = type2Cost
        self.nextHops = nextHops
    }

    public var description: String {
        "\(prefix) \(pathType) cost \(cost)\(type2Cost.map { "/\($0)" } ?? "") \(nextHops)"
    }
}

/// A vertex of the shortest path tree: a router (by Router ID) or a transit network (by the
/// Link State ID of its network-LSA, the DR's interface address).
struct SPFVertex: Hashable {
    var isNetwork: Bool
    var id: OSPFAddress
}

/// A binary min-heap of candidate vertices ordered by distance; at equal distance networks
/// come before routers (§16.1 step 3) and lower IDs first, which makes runs deterministic.
struct SPFCandidateList {
    private var items: [(distance: UInt32, vertex: SPFVertex)] = []

    var isEmpty: Bool { items.isEmpty }

    private static func precedes(_ a: (distance: UInt32, vertex: SPFVertex),
                                 _ b: (distance: UInt32, vertex: SPFVertex)) -> Bool {
        (a.distance, a.vertex.isNetwork ? 0 : 1, a.vertex.id.rawValue)
            < (b.distance, b.vertex.isNetwork ? 0 : 1, b.vertex.id.rawValue)
    }

    mutating func push(_ distance: UInt32, _ vertex: SPFVertex) {
        items.append((distance, vertex))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (distance: UInt32, vertex: SPFVertex)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, Self.precedes(items[left], items[smallest]) { smallest = left }
            if right < items.count, Self.precedes(items[right], items[smallest]) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

extension OSPFRouter {
    /// Recomputes the routing table and emits the differences as route actions.
    func runSPF(now: OSPFInstant) {
        counters.spfRuns &+= 1
        let table = calculateRoutingTable(now: now)
        for prefix in table.keys.sorted() {
            guard let route = table[prefix] else { continue }
            if routes[prefix] != route { actions.append(.installRoute(route)) }
        }
        for prefix in routes.keys.sorted() where table[prefix] == nil {
            actions.append(.removeRoute(prefix))
        }
        routes = table
    }

    /// The routing table calculation of §16.1 (intra-area) and §16.4 (AS-external).
    func calculateRoutingTable(now: OSPFInstant) -> [OSPFPrefix: OSPFRoute] {
        // Usable LSAs: decoded, not at MaxAge (§16 ignores MaxAge LSAs).
        var routerLSAs: [OSPFAddress: OSPFRouterLSA] = [:]
        var networkCandidates: [OSPFAddress: [(advertisingRouter: OSPFAddress, lsa: OSPFNetworkLSA)]] = [:]
        var externals: [(key: OSPFLSAKey, lsa: OSPFASExternalLSA)] = []
        for (key, entry) in database.entries where database.age(entry, now: now) < OSPFConstants.maxAge {
            switch entry.decoded {
            case .router(let lsa) where key.linkStateID == key.advertisingRouter:
                routerLSAs[key.advertisingRouter] = lsa
            case .network(let lsa):
                networkCandidates[key.linkStateID, default: []].append((key.advertisingRouter, lsa))
            case .external(let lsa):
                externals.append((key, lsa))
            default:
                break
            }
        }
        // If stale network-LSAs share a Link State ID, use the one whose advertising router
        // really is the DR: its router-LSA has a transit link whose Link Data is that address.
        var networks: [OSPFAddress: OSPFNetworkLSA] = [:]
        for (id, candidates) in networkCandidates {
            let sorted = candidates.sorted { $0.advertisingRouter < $1.advertisingRouter }
            let genuine = sorted.first { candidate in
                routerLSAs[candidate.advertisingRouter]?.links.contains {
                    $0.type == .transit && $0.linkID == id && $0.linkData == id
                } ?? false
            }
            networks[id] = (genuine ?? sorted[0]).lsa
        }
        var interfaceByAddress: [OSPFAddress: Interface] = [:]
        for id in interfaceOrder {
            guard let interface = interfaces[id], interface.state != .down, interface.state != .loopback else { continue }
            interfaceByAddress[interface.address] = interface
        }

        // §16.1 stage 1: the shortest path tree.
        let root = SPFVertex(isNetwork: false, id: routerID)
        var table: [OSPFPrefix: (cost: UInt32, hops: Set<OSPFNextHop>)] = [:]
        guard routerLSAs[routerID] != nil else { return [:] }
        var distance: [SPFVertex: UInt32] = [root: 0]
        var nextHops: [SPFVertex: Set<OSPFNextHop>] = [root: []]
        var settled = Set<SPFVertex>()
        var settledOrder: [SPFVertex] = []
        var candidates = SPFCandidateList()
        candidates.push(0, root)

        func relax(_ vertex: SPFVertex, _ cost: UInt32, _ hops: Set<OSPFNextHop>) {
            guard !hops.isEmpty, !settled.contains(vertex) else { return }
            if let known = distance[vertex] {
                if cost > known { return }
                if cost == known {
                    nextHops[vertex, default: []].formUnion(hops)
                    return
                }
            }
            distance[vertex] = cost
            nextHops[vertex] = hops
            candidates.push(cost, vertex)
        }

        while let (cost, vertex) = candidates.pop() {
            guard !settled.contains(vertex), distance[vertex] == cost else { continue }
            settled.insert(vertex)
            settledOrder.append(vertex)
            let hops = nextHops[vertex] ?? []
            if vertex.isNetwork {
                guard let network = networks[vertex.id] else { continue }
                for attached in network.attachedRouters {
                    // The router must link back to this network (§16.1 step 2b).
                    guard let lsa = routerLSAs[attached],
                          let back = lsa.links.first(where: { $0.type == .transit && $0.linkID == vertex.id })
                    else { continue }
                    // §16.1.1: across a network attached to the root, the next hop is the
                    // router's own address on that network; beyond, hops are inherited.
                    var routerHops = Set<OSPFNextHop>()
                    for hop in hops {
                        routerHops.insert(hop.gateway == nil ? OSPFNextHop(interface: hop.interface, gateway: back.linkData) : hop)
                    }
                    relax(SPFVertex(isNetwork: false, id: attached), cost, routerHops)
                }
                continue
            }
            guard let lsa = routerLSAs[vertex.id] else { continue }
            for link in lsa.links {
                let linkCost = cost + UInt32(link.metric)
                switch link.type {
                case .pointToPoint:
                    guard let neighborLSA = routerLSAs[link.linkID],
                          neighborLSA.links.contains(where: { $0.type == .pointToPoint && $0.linkID == vertex.id })
                    else { continue }
                    var linkHops = hops
                    if vertex == root {
                        // §16.1.1: a directly connected router is reached over the interface
                        // named by Link Data, at the neighbor's address.
                        guard let interface = interfaceByAddress[link.linkData],
                              let neighbor = interface.neighbors.first(where: { $0.routerID == link.linkID })
                        else { continue }
                        linkHops = [OSPFNextHop(interface: interface.configuration.id, gateway: neighbor.address)]
                    }
                    relax(SPFVertex(isNetwork: false, id: link.linkID), linkCost, linkHops)
                case .transit:
                    guard let network = networks[link.linkID], network.attachedRouters.contains(vertex.id) else { continue }
                    var linkHops = hops
                    if vertex == root {
                        // §16.1.1: a network attached to the root needs no gateway.
                        guard let interface = interfaceByAddress[link.linkData] else { continue }
                        linkHops = [OSPFNextHop(interface: interface.configuration.id, gateway: nil)]
                    }
                    relax(SPFVertex(isNetwork: true, id: link.linkID), linkCost, linkHops)
                case .stub, .virtual:
                    continue
                }
            }
        }

        func add(_ prefix: OSPFPrefix, _ cost: UInt32, _ hops: Set<OSPFNextHop>) {
            if let existing = table[prefix] {
                if cost > existing.cost { return }
                if cost == existing.cost {
                    table[prefix]!.hops.formUnion(hops)
                    return
                }
            }
            table[prefix] = (cost, hops)
        }

        // Transit networks are destinations too (§16.1 step 2(d) for network vertices).
        for vertex in settledOrder where vertex.isNetwork {
            guard let network = networks[vertex.id],
                  let prefix = OSPFPrefix(address: vertex.id, mask: network.networkMask) else { continue }
            add(prefix, distance[vertex] ?? 0, nextHops[vertex] ?? [])
        }
        // §16.1 stage 2: stub networks of every router in the tree.
        for vertex in settledOrder where !vertex.isNetwork {
            guard let lsa = routerLSAs[vertex.id] else { continue }
            let base = distance[vertex] ?? 0
            for link in lsa.links where link.type == .stub {
                guard let prefix = OSPFPrefix(address: link.linkID, mask: link.linkData) else { continue }
                var hops = nextHops[vertex] ?? []
                if vertex == root {
                    hops = []
                    for (_, interface) in interfaceByAddress where interface.prefix == prefix {
                        hops.insert(OSPFNextHop(interface: interface.configuration.id, gateway: nil))
                    }
                }
                add(prefix, base + UInt32(link.metric), hops)
            }
        }
        var result: [OSPFPrefix: OSPFRoute] = [:]
        for (prefix, entry) in table {
            result[prefix] = OSPFRoute(prefix: prefix, pathType: .intraArea, cost: entry.cost,
                                       nextHops: entry.hops.sorted())
        }

        // §16.4: AS-external routes via ASBRs (routers whose router-LSA has the E bit).
        for (key, external) in externals.sorted(by: { $0.key < $1.key }) {
            guard external.metric < OSPFConstants.lsInfinity, key.advertisingRouter != routerID,
                  let prefix = OSPFPrefix(address: key.linkStateID, mask: external.networkMask) else { continue }
            let asbr = SPFVertex(isNetwork: false, id: key.advertisingRouter)
            guard settled.contains(asbr), routerLSAs[key.advertisingRouter]?.flags.contains(.asBoundary) == true,
                  let asbrDistance = distance[asbr] else { continue }
            var baseCost = asbrDistance
            var hops = nextHops[asbr] ?? []
            if external.forwardingAddress != .unspecified {
                // The forwarding address must be reachable by an intra-area route.
                guard let via = longestMatch(external.forwardingAddress, in: result) else { continue }
                baseCost = via.cost
                hops = Set(via.nextHops.map {
                    $0.gateway == nil ? OSPFNextHop(interface: $0.interface, gateway: external.forwardingAddress) : $0
                })
                if via.nextHops.isEmpty { continue }
            }
            let candidate = external.isType2
                ? OSPFRoute(prefix: prefix, pathType: .external2, cost: baseCost, type2Cost: external.metric,
                            nextHops: hops.sorted())
                : OSPFRoute(prefix: prefix, pathType: .external1, cost: baseCost + external.metric,
                            nextHops: hops.sorted())
            guard let existing = result[prefix] else {
                result[prefix] = candidate
                continue
            }
            switch OSPFRouter.preference(candidate, over: existing) {
            case .newer: result[prefix] = candidate
            case .same:
                result[prefix]!.nextHops = Array(Set(existing.nextHops).union(candidate.nextHops)).sorted()
            case .older: break
            }
        }
        return result
    }

    /// §16.4 step 6: intra-area beats type 1 beats type 2; then the lower (type 2, then
    /// path) cost. `.newer` means `candidate` is preferred, `.same` means equal cost.
    static func preference(_ candidate: OSPFRoute, over existing: OSPFRoute) -> OSPFLSAOrder {
        func rank(_ type: OSPFPathType) -> Int {
            switch type {
            case .intraArea: 0
            case .external1: 1
            case .external2: 2
            }
        }
        if rank(candidate.pathType) != rank(existing.pathType) {
            return rank(candidate.pathType) < rank(existing.pathType) ? .newer : .older
        }
        let a = (candidate.type2Cost ?? 0, candidate.cost)
        let b = (existing.type2Cost ?? 0, existing.cost)
        if a == b { return .same }
        return a < b ? .newer : .older
    }

    /// The most specific intra-area route covering `address`.
    func longestMatch(_ address: OSPFAddress, in table: [OSPFPrefix: OSPFRoute]) -> OSPFRoute? {
        var length = 32
        while length >= 0 {
            let prefix = OSPFPrefix(address: address, length: UInt8(length))
            if let route = table[prefix], route.pathType == .intraArea { return route }
            length -= 1
        }
        return nil
    }
}
