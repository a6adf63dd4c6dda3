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

// MARK: The calculation's data structures

/// A candidate vertex of the shortest path tree (§16.1), in the candidate list: its distance
/// above its tie rank (`SPFTopology.tieRank`), so that the order of the key is the order of
/// §16.1 step 3: lower distance first; at equal distance networks before routers, then lower
/// IDs, which makes every run deterministic.
struct SPFCandidate {
    private var key: UInt64

    init(distance: UInt32, tieRank: UInt32) {
        key = UInt64(distance) << 32 | UInt64(tieRank)
    }

    var distance: UInt32 { UInt32(truncatingIfNeeded: key >> 32) }
    var tieRank: Int { Int(UInt32(truncatingIfNeeded: key)) }

    func precedes(_ other: SPFCandidate) -> Bool { key < other.key }
}

/// The per-vertex state of one calculation (§16.1) side by side, so that the tree's main loop
/// touches one cache line per vertex.
struct SPFVertexState {
    var distance: UInt32 = .max
    /// An index into the calculation's `SPFNextHopSets`; -1 until reached, and for the root.
    var hopSet: Int32 = -1
    /// In the shortest path tree: popped from the candidate list, distance final.
    var settled = false
}

/// The candidate list of §16.1 as an indexed binary min-heap: each vertex is in it at most once,
/// and a vertex whose distance improves moves up in place (decrease-key) instead of being pushed
/// again, so that a run pops each vertex once. `position` maps a tie rank (one per vertex) to
/// its slot in the heap. The sift loops run on the arrays' buffers: with bounds and uniqueness
/// checks on every step they took most of a large area's SPF time.
struct SPFCandidateList {
    private var items: [SPFCandidate] = []
    /// Per tie rank: the slot of its candidate in `items`, or -1 when it is not in the list.
    private var position: [Int32]

    /// A list for vertices whose tie ranks are below `vertexCount`.
    init(vertexCount: Int) {
        items.reserveCapacity(vertexCount)
        position = [Int32](repeating: -1, count: vertexCount)
    }

    /// Adds `candidate`, or, when its vertex is already in the list, lowers its key to
    /// `candidate`'s (§16.1 step 2d: a shorter path replaces the candidate's distance). The new
    /// key must not be above the one in the list.
    mutating func insertOrDecrease(_ candidate: SPFCandidate) {
        var slot = Int(position[candidate.tieRank])
        if slot < 0 {
            slot = items.count
            items.append(candidate)
        }
        items.withUnsafeMutableBufferPointer { heap in
            position.withUnsafeMutableBufferPointer { position in
                Self.siftUp(candidate, from: slot, heap, position)
            }
        }
    }

    mutating func pop() -> SPFCandidate? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else {
            position[last.tieRank] = -1
            return last
        }
        return items.withUnsafeMutableBufferPointer { heap in
            position.withUnsafeMutableBufferPointer { position in
                let top = heap[0]
                position[top.tieRank] = -1
                // Floyd's variant: move the hole the top leaves down to a leaf along the smaller
                // children (one comparison per level), then sift the last item up from there;
                // it rarely rises far. Indices stay far below Int.max: no overflow checks needed.
                var hole = 0
                while true {
                    var child = 2 &* hole &+ 1
                    guard child < heap.count else { break }
                    if child &+ 1 < heap.count, heap[child &+ 1].precedes(heap[child]) { child &+= 1 }
                    heap[hole] = heap[child]
                    position[heap[hole].tieRank] = Int32(truncatingIfNeeded: hole)
                    hole = child
                }
                Self.siftUp(last, from: hole, heap, position)
                return top
            }
        }
    }

    /// Places `candidate` at `slot` or above it, moving down the parents it precedes.
    private static func siftUp(_ candidate: SPFCandidate, from slot: Int,
                               _ heap: UnsafeMutableBufferPointer<SPFCandidate>,
                               _ position: UnsafeMutableBufferPointer<Int32>) {
        var child = slot
        while child > 0 {
            let parent = (child &- 1) / 2
            guard candidate.precedes(heap[parent]) else { break }
            heap[child] = heap[parent]
            position[heap[child].tieRank] = Int32(truncatingIfNeeded: child)
            child = parent
        }
        heap[child] = candidate
        position[candidate.tieRank] = Int32(truncatingIfNeeded: child)
    }
}

/// The equal-cost next hop sets of §16.1.1. Each vertex holds an index into `sets`: a vertex
/// reached through the same neighbors as its parent, the common case, shares its parent's set.
struct SPFNextHopSets {
    private(set) var sets: [[OSPFNextHop]] = []

    mutating func add(_ hops: [OSPFNextHop]) -> Int32 {
        sets.append(hops)
        return Int32(sets.count - 1)
    }

    subscript(index: Int32) -> [OSPFNextHop] { sets[Int(index)] }

    /// The set of next hops in `a` or `b` (one of the two when it holds the other).
    /// -1 stands for no next hops.
    mutating func union(_ a: Int32, _ b: Int32) -> Int32 {
        guard a != b, b >= 0 else { return a }
        guard a >= 0 else { return b }
        let extra = sets[Int(b)].filter { !sets[Int(a)].contains($0) }
        return extra.isEmpty ? a : add(sets[Int(a)] + extra)
    }

    /// Sorts every set, so that equal tables compare equal.
    mutating func sortAll() {
        for index in sets.indices where sets[index].count > 1 { sets[index].sort() }
    }

    /// Sorts set `index` (-1: none).
    mutating func sort(_ index: Int32) {
        if index >= 0, sets[Int(index)].count > 1 { sets[Int(index)].sort() }
    }
}

/// The intra-area and inter-area destinations of one calculation before they become routes:
/// each a 64-bit sort key (the prefix, as `OSPFPrefix` orders, above the destination's index)
/// and a small record. Sorting keys and building each route once, in order, costs a fraction of
/// building routes first and sorting or copying them.
struct SPFDestinations {
    struct Destination {
        var cost: UInt32
        /// An index into the calculation's `SPFNextHopSets`; -1 for none.
        var hopSet: Int32
        var pathType: OSPFPathType
    }

    /// Per destination: `OSPFRouter.sortKey` of its prefix, its index in the lower 24 bits.
    private var keys: [UInt64] = []
    private var destinations: [Destination] = []

    init(capacity: Int) {
        keys.reserveCapacity(capacity)
        destinations.reserveCapacity(capacity)
    }

    mutating func append(_ prefix: OSPFPrefix, _ pathType: OSPFPathType, cost: UInt32, hopSet: Int32) {
        keys.append(OSPFRouter.sortKey(prefix) | UInt64(truncatingIfNeeded: destinations.count) & 0xFF_FFFF)
        destinations.append(Destination(cost: cost, hopSet: hopSet, pathType: pathType))
    }

    /// The routing table (§11), sorted by prefix: per prefix the preferred path type, then the
    /// lowest cost; equally good destinations merge their next hops (ECMP).
    mutating func routingTable(hopSets: inout SPFNextHopSets) -> [OSPFRoute] {
        // Routes share the sets: sorted first, so that equal tables compare equal.
        hopSets.sortAll()
        var table: [OSPFRoute] = []
        table.reserveCapacity(destinations.count)
        var best: (prefix: UInt64, destination: Destination)?
        func emit() {
            guard let (prefix, destination) = best else { return }
            table.append(OSPFRoute(prefix: OSPFRouter.prefix(sortKey: prefix), pathType: destination.pathType,
                                   cost: destination.cost,
                                   nextHops: destination.hopSet < 0 ? [] : hopSets[destination.hopSet]))
        }
        func add(_ prefix: UInt64, _ candidate: Destination) {
            guard let (bestPrefix, bestDestination) = best, bestPrefix == prefix else {
                emit()
                best = (prefix, candidate)
                return
            }
            switch OSPFRouter.preference((candidate.pathType, 0, candidate.cost),
                                         over: (bestDestination.pathType, 0, bestDestination.cost)) {
            case .newer:
                best = (prefix, candidate)
            case .same:
                let union = hopSets.union(bestDestination.hopSet, candidate.hopSet)
                hopSets.sort(union)
                best?.destination.hopSet = union
            case .older:
                break
            }
        }
        let prefixBits = ~UInt64(0xFF_FFFF)
        if keys.count < 1 << 24 {
            OSPFRouter.sortByPrefix(&keys)
            for key in keys { add(key & prefixBits, destinations[Int(key & 0xFF_FFFF)]) }
        } else {
            // Too many for indices in the keys (not a real area): sort indices instead.
            let order = keys.indices.sorted { (keys[$0] & prefixBits, $0) < (keys[$1] & prefixBits, $1) }
            for index in order { add(keys[index] & prefixBits, destinations[index]) }
        }
        emit()
        return table
    }
}

/// Adds the next hops of `more` that `hops` lacks (ECMP union; the lists stay tiny).
private func merge(_ hops: inout [OSPFNextHop], _ more: [OSPFNextHop]) {
    for hop in more where !hops.contains(hop) { hops.append(hop) }
}

extension OSPFRouter {
    /// Recomputes the routing table and emits the differences as route actions: new or changed
    /// routes in prefix order, then withdrawn prefixes in prefix order.
    func runSPF(now: OSPFInstant) {
        counters.spfRuns &+= 1
        let table = calculateRoutingTable(now: now)
        // Both tables are sorted by prefix: one merge pass finds the differences.
        var old = 0
        var new = 0
        var removed: [OSPFPrefix] = []
        while old < routes.count || new < table.count {
            if new == table.count || old < routes.count && routes[old].prefix < table[new].prefix {
                removed.append(routes[old].prefix)
                old += 1
            } else if old == routes.count || table[new].prefix < routes[old].prefix {
                actions.append(.installRoute(table[new]))
                new += 1
            } else {
                if routes[old] != table[new] { actions.append(.installRoute(table[new])) }
                old += 1
                new += 1
            }
        }
        for prefix in removed { actions.append(.removeRoute(prefix)) }
        routes = table
    }

    /// The routing table calculation (§16.1 intra-area, §16.2 inter-area, §16.4 AS-external)
    /// over the current link state database at `now`, sorted by prefix. It changes nothing (it
    /// may cache the vertices' tie-break order): the router runs the same calculation when its
    /// SPF timer fires and installs the result (see `routingTable`); this entry point lets tools
    /// check or time it. The graph comes ready from the database (`SPFTopology`).
    public func calculateRoutingTable(now: OSPFInstant) -> [OSPFRoute] {
        let graph = database.topology(at: now)
        guard let root = graph.routerVertex[routerID].map(Int.init), graph.vertices[root].hasRouterLSA else { return [] }
        var interfaceByAddress: [OSPFAddress: Interface] = [:]
        for id in interfaceOrder {
            guard let interface = interfaces[id], interface.state != .down, interface.state != .loopback else { continue }
            interfaceByAddress[interface.address] = interface
        }

        // §16.1 stage 1: the shortest path tree.
        let vertexCount = graph.vertexCount
        var state = [SPFVertexState](repeating: SPFVertexState(), count: vertexCount)
        var hopSets = SPFNextHopSets()
        var candidates = SPFCandidateList(vertexCount: vertexCount)
        state[root].distance = 0
        candidates.insertOrDecrease(SPFCandidate(distance: 0, tieRank: graph.tieRank[root]))

        func relax(_ vertex: Int, _ cost: UInt32, _ hops: Int32) {
            if cost == state[vertex].distance {
                state[vertex].hopSet = hopSets.union(state[vertex].hopSet, hops)
                return
            }
            state[vertex].distance = cost
            state[vertex].hopSet = hops
            candidates.insertOrDecrease(SPFCandidate(distance: cost, tieRank: graph.tieRank[vertex]))
        }

        /// Our own stubs: directly attached through the interface on that network, or nothing
        /// to forward (loopbacks, configured stub networks).
        func ownStubHops(_ prefix: OSPFPrefix) -> Int32 {
            var attached: [OSPFNextHop] = []
            for id in interfaceOrder {
                guard let interface = interfaces[id], interface.state != .down,
                      interface.state != .loopback, interface.prefix == prefix else { continue }
                attached.append(OSPFNextHop(interface: id, gateway: nil))
            }
            return attached.isEmpty ? -1 : hopSets.add(attached)
        }

        // The tree's destinations, collected as each vertex joins the tree (its distance and
        // next hops are final then, and its links are in cache): prefix keys to sort
        // (`SPFDestinations`) and what their routes need. Routes are built once, in prefix order.
        var destinations = SPFDestinations(capacity: graph.stubCount + graph.networkVertex.count + graph.summaries.count)

        while let candidate = candidates.pop() {
            let vertex = Int(graph.vertexByTieRank[candidate.tieRank])
            let cost = candidate.distance
            // Each vertex is a candidate at most once, with its current distance.
            state[vertex].settled = true
            let hops = state[vertex].hopSet
            if graph.vertices[vertex].isNetwork {
                // Only networks with a network-LSA become candidates.
                guard let network = graph.networkLSA(vertex) else { continue }
                // Transit networks are destinations too (§16.1 step 2(d) for network vertices).
                if let prefix = OSPFPrefix(address: graph.vertices[vertex].id, mask: network.networkMask) {
                    destinations.append(prefix, .intraArea, cost: cost, hopSet: hops)
                }
                // §16.1.1: across a network attached to the root, the next hop is the router's
                // own address on that network; beyond, hops are inherited.
                let attachedToRoot = hopSets[hops].contains { $0.gateway == nil }
                for attached in network.attachedRouters {
                    let target = Int(attached)
                    guard graph.vertices[target].hasRouterLSA, !state[target].settled, cost <= state[target].distance,
                          // The router must link back to this network (§16.1 step 2b).
                          let back = graph.link(from: target, type: .transit, to: vertex)
                    else { continue }
                    let routerHops = attachedToRoot
                        ? hopSets.add(hopSets[hops].map {
                            $0.gateway == nil ? OSPFNextHop(interface: $0.interface, gateway: back.linkData) : $0
                        })
                        : hops
                    relax(target, cost, routerHops)
                }
                continue
            }
            for index in graph.vertices[vertex].links {
                let link = graph.links[index]
                let linkCost = cost + UInt32(link.metric)
                let target = Int(link.target)
                switch link.type {
                case .pointToPoint:
                    // The cheap test first: most links lead nowhere shorter. `linksBack` is
                    // §16.1 step 2b, kept by the topology (and implies the target's router-LSA).
                    guard linkCost <= state[target].distance, link.linksBack, !state[target].settled else { continue }
                    if vertex == root {
                        // §16.1.1: a directly connected router is reached over the interface
                        // named by Link Data, at the neighbor's address.
                        guard let interface = interfaceByAddress[link.linkData],
                              let neighbor = interface.neighbors.first(where: { $0.routerID == link.linkID })
                        else { continue }
                        relax(target, linkCost, hopSets.add([OSPFNextHop(interface: interface.configuration.id,
                                                                         gateway: neighbor.address)]))
                    } else {
                        relax(target, linkCost, hops)
                    }
                case .transit:
                    guard linkCost <= state[target].distance, !state[target].settled,
                          graph.networkLSA(target)?.attachedRouters.contains(Int32(vertex)) == true else { continue }
                    if vertex == root {
                        // §16.1.1: a network attached to the root needs no gateway.
                        guard let interface = interfaceByAddress[link.linkData] else { continue }
                        relax(target, linkCost, hopSets.add([OSPFNextHop(interface: interface.configuration.id, gateway: nil)]))
                    } else {
                        relax(target, linkCost, hops)
                    }
                case .stub:
                    // §16.1 stage 2: the stub networks of every router in the tree.
                    guard let prefix = OSPFPrefix(address: link.linkID, mask: link.linkData) else { continue }
                    destinations.append(prefix, .intraArea, cost: linkCost,
                                        hopSet: vertex == root ? ownStubHops(prefix) : hops)
                case .virtual:
                    continue
                }
            }
        }

        /// An area border router reachable inside the area (B bit set, §16.2 step 3).
        func borderRouter(_ id: OSPFAddress) -> Int? {
            guard id != routerID, let index = graph.routerVertex[id].map(Int.init), state[index].settled,
                  graph.vertices[index].flags.contains(.areaBorder) else { return nil }
            return index
        }

        // §16.2: inter-area routes, through the ABR that advertises the summary.
        let summaries = graph.summaries.sorted { $0.key < $1.key }
        for (key, summary) in summaries where key.type == .summaryNetwork {
            guard summary.metric < OSPFConstants.lsInfinity, let abr = borderRouter(key.advertisingRouter),
                  let prefix = OSPFPrefix(address: key.linkStateID, mask: summary.networkMask) else { continue }
            destinations.append(prefix, .interArea, cost: state[abr].distance + summary.metric, hopSet: state[abr].hopSet)
        }
        var table = destinations.routingTable(hopSets: &hopSets)
        func nextHops(_ vertex: Int) -> [OSPFNextHop] { state[vertex].hopSet < 0 ? [] : hopSets[state[vertex].hopSet] }

        // Paths to AS boundary routers (§16.4 step 3): intra-area when the ASBR is in the tree
        // with its E bit set, else through an ABR's ASBR-summary-LSA (type 4, §16.2).
        var asbrPaths: [OSPFAddress: (intra: Bool, cost: UInt32, hops: [OSPFNextHop])] = [:]
        for vertex in 0..<vertexCount where state[vertex].settled && vertex != root && !graph.vertices[vertex].isNetwork {
            if graph.vertices[vertex].flags.contains(.asBoundary) {
                asbrPaths[graph.vertices[vertex].id] = (true, state[vertex].distance, nextHops(vertex))
            }
        }
        for (key, summary) in summaries where key.type == .summaryASBR {
            guard summary.metric < OSPFConstants.lsInfinity, let abr = borderRouter(key.advertisingRouter) else { continue }
            let cost = state[abr].distance + summary.metric
            if let known = asbrPaths[key.linkStateID] {
                if known.intra || cost > known.cost { continue }
                if cost == known.cost {
                    merge(&asbrPaths[key.linkStateID]!.hops, nextHops(abr))
                    continue
                }
            }
            asbrPaths[key.linkStateID] = (false, cost, nextHops(abr))
        }

        // §16.4: AS-external routes.
        var externalRoutes: [OSPFRoute] = []
        for (key, external) in graph.externals {
            guard external.metric < OSPFConstants.lsInfinity, key.advertisingRouter != routerID,
                  let prefix = OSPFPrefix(address: key.linkStateID, mask: external.networkMask),
                  let asbr = asbrPaths[key.advertisingRouter] else { continue }
            var baseCost = asbr.cost
            var hops = asbr.hops
            if external.forwardingAddress != .unspecified {
                // The forwarding address must be reachable by an intra- or inter-area route.
                guard let via = OSPFRouter.longestMatch(external.forwardingAddress, in: table) else { continue }
                baseCost = via.cost
                hops = via.nextHops.map {
                    $0.gateway == nil ? OSPFNextHop(interface: $0.interface, gateway: external.forwardingAddress) : $0
                }
                if via.nextHops.isEmpty { continue }
            }
            externalRoutes.append(external.isType2
                ? OSPFRoute(prefix: prefix, pathType: .external2, cost: baseCost, type2Cost: external.metric,
                            nextHops: hops.sorted())
                : OSPFRoute(prefix: prefix, pathType: .external1, cost: baseCost + external.metric,
                            nextHops: hops.sorted()))
        }
        if !externalRoutes.isEmpty { table = OSPFRouter.routingTable(from: table + externalRoutes) }
        return table
    }

    /// The routing table from candidate routes (§11): per prefix the candidate `preference`
    /// ranks first; equally ranked candidates merge their next hops. Sorted by prefix; the
    /// result does not depend on the order of the candidates.
    static func routingTable(from candidates: [OSPFRoute]) -> [OSPFRoute] {
        var table: [OSPFRoute] = []
        table.reserveCapacity(candidates.count)
        for index in indicesByPrefix(candidates) {
            let candidate = candidates[index]
            guard !table.isEmpty, table[table.count - 1].prefix == candidate.prefix else {
                table.append(candidate)
                continue
            }
            let best = table[table.count - 1]
            switch preference(candidate, over: best) {
            case .newer:
                table[table.count - 1] = candidate
            case .same:
                var hops = best.nextHops
                merge(&hops, candidate.nextHops)
                if hops.count != best.nextHops.count { table[table.count - 1].nextHops = hops.sorted() }
            case .older:
                break
            }
        }
        return table
    }

    /// §11 and §16.4 step 6: intra-area beats inter-area beats type 1 beats type 2; then the
    /// lower (type 2, then path) cost. `.newer` means `candidate` is preferred, `.same` means
    /// equal cost.
    static func preference(_ candidate: OSPFRoute, over existing: OSPFRoute) -> OSPFLSAOrder {
        preference((candidate.pathType, candidate.type2Cost ?? 0, candidate.cost),
                   over: (existing.pathType, existing.type2Cost ?? 0, existing.cost))
    }

    /// The same order on the parts of a route that decide it.
    static func preference(_ candidate: (pathType: OSPFPathType, type2Cost: UInt32, cost: UInt32),
                           over existing: (pathType: OSPFPathType, type2Cost: UInt32, cost: UInt32)) -> OSPFLSAOrder {
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
        let a = (candidate.type2Cost, candidate.cost)
        let b = (existing.type2Cost, existing.cost)
        if a == b { return .same }
        return a < b ? .newer : .older
    }

    /// `prefix` as a sort key: its address, then its length (as `OSPFPrefix` orders), in the
    /// upper 40 bits; the lower 24 are left for an index.
    static func sortKey(_ prefix: OSPFPrefix) -> UInt64 {
        UInt64(prefix.address.rawValue) << 32 | UInt64(prefix.length) << 24
    }

    static func prefix(sortKey key: UInt64) -> OSPFPrefix {
        OSPFPrefix(address: OSPFAddress(rawValue: UInt32(truncatingIfNeeded: key >> 32)),
                   length: UInt8(truncatingIfNeeded: key >> 24))
    }

    /// The indices of `routes` in prefix order (equal prefixes in index order). Sorting integers
    /// is several times cheaper than sorting the routes: each key gets its route's index in its
    /// lower 24 bits, which hold it for any realistic table.
    static func indicesByPrefix(_ routes: [OSPFRoute]) -> [Int] {
        guard routes.count < 1 << 24 else {
            return routes.indices.sorted { (routes[$0].prefix, $0) < (routes[$1].prefix, $1) }
        }
        var keys = routes.indices.map { sortKey(routes[$0].prefix) | UInt64($0) }
        sortByPrefix(&keys)
        return keys.map { Int($0 & 0xFF_FFFF) }
    }

    /// Sorts keys made by `sortKey` with indices in their lower bits, arriving in index order:
    /// a comparison sort for small tables, the radix sort for the rest.
    static func sortByPrefix(_ keys: inout [UInt64]) {
        if keys.count < 256 { keys.sort() } else { radixSortByPrefix(&keys) }
    }

    /// Sorts keys made by `sortKey`, indices below, which arrive in index order, by their upper 40 bits
    /// (the prefix): a least-significant-digit radix sort in stable passes of 8 bits. One sweep
    /// counts all five digits; a digit that all keys share needs no pass, as is common in a real
    /// area (one prefix length, the host byte of /24s, one first octet): the benchmark's table of
    /// /24 stubs takes two passes over the keys.
    static func radixSortByPrefix(_ keys: inout [UInt64]) {
        guard !keys.isEmpty else { return }
        let passes = 5
        var sorted = [UInt64](repeating: 0, count: keys.count)
        var counts = [Int](repeating: 0, count: passes * 256)
        var sortedInKeys = true
        keys.withUnsafeMutableBufferPointer { keys in
            sorted.withUnsafeMutableBufferPointer { sorted in
                counts.withUnsafeMutableBufferPointer { counts in
                    for key in keys {
                        for pass in 0..<passes {
                            counts[pass &* 256 &+ Int(truncatingIfNeeded: key >> UInt64(24 &+ 8 &* pass)) & 0xFF] &+= 1
                        }
                    }
                    var source = keys
                    var target = sorted
                    for pass in 0..<passes {
                        let shift = UInt64(24 + 8 * pass)
                        let start = UnsafeMutableBufferPointer(rebasing: counts[pass * 256..<(pass + 1) * 256])
                        guard start[Int(truncatingIfNeeded: source[0] >> shift) & 0xFF] != source.count else { continue }
                        var total = 0
                        for digit in 0..<256 { (start[digit], total) = (total, total &+ start[digit]) }
                        for key in source {
                            let digit = Int(truncatingIfNeeded: key >> shift) & 0xFF
                            target[start[digit]] = key
                            start[digit] &+= 1
                        }
                        swap(&source, &target)
                        sortedInKeys.toggle()
                    }
                }
            }
        }
        if !sortedInKeys { keys = sorted }
    }

    /// The most specific intra-area or inter-area route covering `address` (§16.4 step 3) in
    /// a table sorted by prefix.
    static func longestMatch(_ address: OSPFAddress, in table: [OSPFRoute]) -> OSPFRoute? {
        var length = 32
        while length >= 0 {
            let prefix = OSPFPrefix(address: address, length: UInt8(length))
            // Binary search for the first route not below `prefix`.
            var low = 0
            var high = table.count
            while low < high {
                let middle = (low + high) / 2
                if table[middle].prefix < prefix { low = middle + 1 } else { high = middle }
            }
            if low < table.count, table[low].prefix == prefix,
               table[low].pathType == .intraArea || table[low].pathType == .interArea {
                return table[low]
            }
            length -= 1
        }
        return nil
    }
}
