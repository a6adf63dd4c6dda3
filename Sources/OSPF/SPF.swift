// The routing table calculation (RFC 2328 §16): Dijkstra's shortest path tree over router and
// network vertices (§16.1) with equal-cost multipath next hops (§16.1.1), the stub networks of
// the second stage (§16.1 step 2), inter-area routes from the summary-LSAs of area border
// routers in our area (§16.2), and AS-external routes (§16.4).

/// Where a route came from (§11).
public enum OSPFPathType: String, Hashable, Sendable, Codable {
    case intraArea
    /// Learned from a summary-LSA of an area border router (§16.2).
    case interArea
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
        if lhs.interface != rhs.interface { return lhs.interface < rhs.interface }
        return (lhs.gateway?.rawValue ?? 0) < (rhs.gateway?.rawValue ?? 0)
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

/// A candidate vertex of the shortest path tree (§16.1): a router (by Router ID) or a transit
/// network (by the Link State ID of its network-LSA, the DR's interface address).
struct SPFCandidate {
    var distance: UInt32
    var isNetwork: Bool
    var id: UInt32
    /// Index of the vertex in the calculation's arrays.
    var vertex: Int

    /// At equal distance networks come before routers (§16.1 step 3), then lower IDs, which
    /// makes every run deterministic.
    func precedes(_ other: SPFCandidate) -> Bool {
        if distance != other.distance { return distance < other.distance }
        if isNetwork != other.isNetwork { return isNetwork }
        return id < other.id
    }
}

/// The candidate list of §16.1 as a binary min-heap.
struct SPFCandidateList {
    private var items: [SPFCandidate] = []

    mutating func push(_ candidate: SPFCandidate) {
        items.append(candidate)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> SPFCandidate? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].precedes(items[smallest]) { smallest = left }
            if right < items.count, items[right].precedes(items[smallest]) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

/// Adds the next hops of `more` that `hops` lacks (ECMP union; the lists stay tiny).
private func merge(_ hops: inout [OSPFNextHop], _ more: [OSPFNextHop]) {
    for hop in more where !hops.contains(hop) { hops.append(hop) }
}

extension OSPFRouter {
    /// Recomputes the routing table and emits the differences as route actions.
    func runSPF(now: OSPFInstant) {
        counters.spfRuns &+= 1
        let table = calculateRoutingTable(now: now)
        var installed: [OSPFRoute] = []
        for (prefix, route) in table where routes[prefix] != route { installed.append(route) }
        var removed: [OSPFPrefix] = []
        for prefix in routes.keys where table[prefix] == nil { removed.append(prefix) }
        // Sorted so that the action stream does not depend on dictionary order.
        for route in installed.sorted(by: { $0.prefix < $1.prefix }) { actions.append(.installRoute(route)) }
        for prefix in removed.sorted() { actions.append(.removeRoute(prefix)) }
        routes = table
    }

    /// The routing table calculation of §16.1 (intra-area) and §16.4 (AS-external).
    func calculateRoutingTable(now: OSPFInstant) -> [OSPFPrefix: OSPFRoute] {
        // Usable LSAs: decoded, not at MaxAge (§16 ignores MaxAge LSAs).
        var routerLSAs: [OSPFAddress: OSPFRouterLSA] = [:]
        var networkCandidates: [OSPFAddress: [(advertisingRouter: OSPFAddress, lsa: OSPFNetworkLSA)]] = [:]
        var externals: [(key: OSPFLSAKey, lsa: OSPFASExternalLSA)] = []
        var summaries: [(key: OSPFLSAKey, lsa: OSPFSummaryLSA)] = []
        for (key, entry) in database.entries where database.age(entry, now: now) < OSPFConstants.maxAge {
            switch entry.decoded {
            case .router(let lsa) where key.linkStateID == key.advertisingRouter:
                routerLSAs[key.advertisingRouter] = lsa
            case .network(let lsa):
                networkCandidates[key.linkStateID, default: []].append((key.advertisingRouter, lsa))
            case .external(let lsa):
                externals.append((key, lsa))
            case .summary(let lsa):
                summaries.append((key, lsa))
            default:
                break
            }
        }
        guard routerLSAs[routerID] != nil else { return [:] }
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

        // Vertices are numbered: routers first, then networks, each in ID order.
        let routerIDs = routerLSAs.keys.sorted()
        let networkIDs = networks.keys.sorted()
        let routerCount = routerIDs.count
        var routerIndex: [OSPFAddress: Int] = [:]
        var networkIndex: [OSPFAddress: Int] = [:]
        for (index, id) in routerIDs.enumerated() { routerIndex[id] = index }
        for (index, id) in networkIDs.enumerated() { networkIndex[id] = routerCount + index }
        let routerLinks = routerIDs.map { routerLSAs[$0]!.links }
        let networkBodies = networkIDs.map { networks[$0]! }
        let vertexCount = routerCount + networkIDs.count
        func identifier(_ vertex: Int) -> OSPFAddress {
            vertex < routerCount ? routerIDs[vertex] : networkIDs[vertex - routerCount]
        }

        // §16.1 stage 1: the shortest path tree.
        let root = routerIndex[routerID]!
        var distance = [UInt32](repeating: .max, count: vertexCount)
        var nextHops = [[OSPFNextHop]](repeating: [], count: vertexCount)
        var settled = [Bool](repeating: false, count: vertexCount)
        var settledOrder: [Int] = []
        var candidates = SPFCandidateList()
        distance[root] = 0
        candidates.push(SPFCandidate(distance: 0, isNetwork: false, id: routerID.rawValue, vertex: root))

        func relax(_ vertex: Int, _ cost: UInt32, _ hops: [OSPFNextHop]) {
            guard !hops.isEmpty, !settled[vertex], cost <= distance[vertex] else { return }
            if cost == distance[vertex] {
                merge(&nextHops[vertex], hops)
                return
            }
            distance[vertex] = cost
            nextHops[vertex] = hops
            candidates.push(SPFCandidate(distance: cost, isNetwork: vertex >= routerCount,
                                         id: identifier(vertex).rawValue, vertex: vertex))
        }

        while let candidate = candidates.pop() {
            let vertex = candidate.vertex
            guard !settled[vertex], distance[vertex] == candidate.distance else { continue }
            settled[vertex] = true
            settledOrder.append(vertex)
            let cost = candidate.distance
            let hops = nextHops[vertex]
            let vertexID = identifier(vertex)
            if vertex >= routerCount {
                for attached in networkBodies[vertex - routerCount].attachedRouters {
                    // The router must link back to this network (§16.1 step 2b).
                    guard let target = routerIndex[attached],
                          let back = routerLinks[target].first(where: { $0.type == .transit && $0.linkID == vertexID })
                    else { continue }
                    // §16.1.1: across a network attached to the root, the next hop is the
                    // router's own address on that network; beyond, hops are inherited.
                    let routerHops = hops.map {
                        $0.gateway == nil ? OSPFNextHop(interface: $0.interface, gateway: back.linkData) : $0
                    }
                    relax(target, cost, routerHops)
                }
                continue
            }
            for link in routerLinks[vertex] {
                let linkCost = cost + UInt32(link.metric)
                switch link.type {
                case .pointToPoint:
                    guard let target = routerIndex[link.linkID],
                          routerLinks[target].contains(where: { $0.type == .pointToPoint && $0.linkID == vertexID })
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
                    relax(target, linkCost, linkHops)
                case .transit:
                    guard let target = networkIndex[link.linkID],
                          networkBodies[target - routerCount].attachedRouters.contains(vertexID) else { continue }
                    var linkHops = hops
                    if vertex == root {
                        // §16.1.1: a network attached to the root needs no gateway.
                        guard let interface = interfaceByAddress[link.linkData] else { continue }
                        linkHops = [OSPFNextHop(interface: interface.configuration.id, gateway: nil)]
                    }
                    relax(target, linkCost, linkHops)
                case .stub, .virtual:
                    continue
                }
            }
        }

        // Next hops are kept sorted so that equal tables compare equal.
        for vertex in 0..<vertexCount where nextHops[vertex].count > 1 { nextHops[vertex].sort() }
        var result: [OSPFPrefix: OSPFRoute] = [:]
        result.reserveCapacity(routerCount * 4)
        var merged: [OSPFPrefix] = []
        func add(_ prefix: OSPFPrefix, _ cost: UInt32, _ hops: [OSPFNextHop]) {
            if let existing = result[prefix] {
                if cost > existing.cost { return }
                if cost == existing.cost {
                    merge(&result[prefix]!.nextHops, hops)
                    merged.append(prefix)
                    return
                }
            }
            result[prefix] = OSPFRoute(prefix: prefix, pathType: .intraArea, cost: cost, nextHops: hops)
        }
        // Transit networks are destinations too (§16.1 step 2(d) for network vertices).
        for vertex in settledOrder where vertex >= routerCount {
            guard let prefix = OSPFPrefix(address: identifier(vertex),
                                          mask: networkBodies[vertex - routerCount].networkMask) else { continue }
            add(prefix, distance[vertex], nextHops[vertex])
        }
        // §16.1 stage 2: stub networks of every router in the tree.
        for vertex in settledOrder where vertex < routerCount {
            for link in routerLinks[vertex] where link.type == .stub {
                guard let prefix = OSPFPrefix(address: link.linkID, mask: link.linkData) else { continue }
                var hops = nextHops[vertex]
                if vertex == root {
                    // Our own stubs: directly attached through the interface on that network,
                    // or nothing to forward (loopbacks, configured stub networks).
                    hops = []
                    for id in interfaceOrder {
                        guard let interface = interfaces[id], interface.state != .down,
                              interface.state != .loopback, interface.prefix == prefix else { continue }
                        hops.append(OSPFNextHop(interface: id, gateway: nil))
                    }
                }
                add(prefix, distance[vertex] + UInt32(link.metric), hops)
            }
        }
        for prefix in merged { result[prefix]?.nextHops.sort() }

        func offer(_ candidate: OSPFRoute) {
            guard let existing = result[candidate.prefix] else {
                result[candidate.prefix] = candidate
                return
            }
            switch OSPFRouter.preference(candidate, over: existing) {
            case .newer: result[candidate.prefix] = candidate
            case .same:
                var hops = existing.nextHops
                merge(&hops, candidate.nextHops)
                result[candidate.prefix]!.nextHops = hops.sorted()
            case .older: break
            }
        }
        /// An area border router reachable inside the area (B bit set, §16.2 step 3).
        func borderRouter(_ id: OSPFAddress) -> Int? {
            guard id != routerID, let index = routerIndex[id], settled[index],
                  routerLSAs[id]?.flags.contains(.areaBorder) == true else { return nil }
            return index
        }

        // §16.2: inter-area routes, through the ABR that advertises the summary.
        summaries.sort { $0.key < $1.key }
        for (key, summary) in summaries where key.type == .summaryNetwork {
            guard summary.metric < OSPFConstants.lsInfinity, let abr = borderRouter(key.advertisingRouter),
                  let prefix = OSPFPrefix(address: key.linkStateID, mask: summary.networkMask) else { continue }
            offer(OSPFRoute(prefix: prefix, pathType: .interArea, cost: distance[abr] + summary.metric,
                            nextHops: nextHops[abr].sorted()))
        }

        // Paths to AS boundary routers (§16.4 step 3): intra-area when the ASBR is in the tree
        // with its E bit set, else through an ABR's ASBR-summary-LSA (type 4, §16.2).
        var asbrPaths: [OSPFAddress: (intra: Bool, cost: UInt32, hops: [OSPFNextHop])] = [:]
        for vertex in settledOrder where vertex < routerCount && vertex != root {
            if routerLSAs[routerIDs[vertex]]?.flags.contains(.asBoundary) == true {
                asbrPaths[routerIDs[vertex]] = (true, distance[vertex], nextHops[vertex])
            }
        }
        for (key, summary) in summaries where key.type == .summaryASBR {
            guard summary.metric < OSPFConstants.lsInfinity, let abr = borderRouter(key.advertisingRouter) else { continue }
            let cost = distance[abr] + summary.metric
            if let known = asbrPaths[key.linkStateID] {
                if known.intra || cost > known.cost { continue }
                if cost == known.cost {
                    merge(&asbrPaths[key.linkStateID]!.hops, nextHops[abr])
                    continue
                }
            }
            asbrPaths[key.linkStateID] = (false, cost, nextHops[abr])
        }

        // §16.4: AS-external routes.
        for (key, external) in externals.sorted(by: { $0.key < $1.key }) {
            guard external.metric < OSPFConstants.lsInfinity, key.advertisingRouter != routerID,
                  let prefix = OSPFPrefix(address: key.linkStateID, mask: external.networkMask),
                  let asbr = asbrPaths[key.advertisingRouter] else { continue }
            var baseCost = asbr.cost
            var hops = asbr.hops
            if external.forwardingAddress != .unspecified {
                // The forwarding address must be reachable by an intra- or inter-area route.
                guard let via = longestMatch(external.forwardingAddress, in: result) else { continue }
                baseCost = via.cost
                hops = via.nextHops.map {
                    $0.gateway == nil ? OSPFNextHop(interface: $0.interface, gateway: external.forwardingAddress) : $0
                }
                if via.nextHops.isEmpty { continue }
            }
            offer(external.isType2
                ? OSPFRoute(prefix: prefix, pathType: .external2, cost: baseCost, type2Cost: external.metric,
                            nextHops: hops.sorted())
                : OSPFRoute(prefix: prefix, pathType: .external1, cost: baseCost + external.metric,
                            nextHops: hops.sorted()))
        }
        return result
    }

    /// §11 and §16.4 step 6: intra-area beats inter-area beats type 1 beats type 2; then the
    /// lower (type 2, then path) cost. `.newer` means `candidate` is preferred, `.same` means
    /// equal cost.
    static func preference(_ candidate: OSPFRoute, over existing: OSPFRoute) -> OSPFLSAOrder {
        func rank(_ type: OSPFPathType) -> Int {
            switch type {
            case .intraArea: 0
            case .interArea: 1
            case .external1: 2
            case .external2: 3
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

    /// The most specific intra-area or inter-area route covering `address` (§16.4 step 3).
    func longestMatch(_ address: OSPFAddress, in table: [OSPFPrefix: OSPFRoute]) -> OSPFRoute? {
        var length = 32
        while length >= 0 {
            let prefix = OSPFPrefix(address: address, length: UInt8(length))
            if let route = table[prefix], route.pathType == .intraArea || route.pathType == .interArea { return route }
            length -= 1
        }
        return nil
    }
}
