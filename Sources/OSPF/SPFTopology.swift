// The area's graph as the routing table calculation reads it (RFC 2328 §16.1), kept by the link
// state database and updated as LSAs are installed, aged out and removed, so that an SPF run
// reads arrays instead of decoding and walking the whole database.
//
// Every router ID and network Link State ID the area's router-LSAs and network-LSAs mention gets
// a vertex number on first sight, and keeps it: a link names its target by number, resolved once
// when the LSA is installed, whether or not the target's own LSA has arrived yet.

/// One link of a router vertex (§A.4.2), with its target resolved to a vertex number.
struct SPFLink {
    /// The router (point-to-point) or network (transit) vertex the link leads to; -1 for stub
    /// and virtual links, which lead to no vertex of the area's graph.
    var target: Int32
    var metric: UInt16
    var type: OSPFRouterLSA.LinkType
    /// For a point-to-point link: whether the target router's router-LSA links back to this
    /// router (§16.1 step 2b), kept up to date as either end's LSA changes so that the
    /// calculation reads one flag instead of searching the target's links.
    var linksBack = false
    /// As in the router-LSA: the neighbor's router ID, the DR's address, or a stub's network.
    var linkID: OSPFAddress
    /// As in the router-LSA: our interface address, or a stub's mask.
    var linkData: OSPFAddress
}

/// A vertex of §16.1's graph: a router or a transit network.
struct SPFVertex {
    /// Router ID, or a network's Link State ID (the DR's interface address).
    var id: OSPFAddress
    var isNetwork: Bool
    /// A router vertex whose router-LSA is in the database (not at MaxAge, decodable).
    var hasRouterLSA = false
    var flags: OSPFRouterLSA.Flags = []
    /// The router's links: `SPFTopology.links[firstLink..<firstLink + linkCount]`, in a
    /// reserved run of `linkCapacity` slots.
    var firstLink: Int32 = 0
    var linkCount: Int32 = 0
    var linkCapacity: Int32 = 0

    var links: Range<Int> { Int(firstLink)..<Int(firstLink + linkCount) }
}

/// One network-LSA for a network vertex, its attached routers as vertex numbers.
struct SPFNetworkLSA: Equatable {
    var advertisingRouter: OSPFAddress
    var networkMask: OSPFAddress
    var attachedRouters: [Int32]
}

/// The router-LSAs and network-LSAs of the area as vertices and links, plus the summary- and
/// AS-external-LSAs that §16.2 and §16.4 read.
struct SPFTopology {
    private(set) var vertices: [SPFVertex] = []
    /// The links of all router vertices, each vertex's in one run of slots. A router-LSA that
    /// grows beyond its run moves to the end; the array is compacted when half of it is unused.
    private(set) var links: [SPFLink] = []
    /// Slots of `links` in use.
    private var usedLinks = 0
    /// Per vertex: the network-LSAs with its Link State ID (several only while stale ones from
    /// a former DR linger), sorted by advertising router. Empty for routers.
    private(set) var networkLSAs: [[SPFNetworkLSA]] = []
    private(set) var routerVertex: [OSPFAddress: Int32] = [:]
    private(set) var networkVertex: [OSPFAddress: Int32] = [:]
    private(set) var summaries: [OSPFLSAKey: OSPFSummaryLSA] = [:]
    private(set) var externals: [OSPFLSAKey: OSPFASExternalLSA] = [:]
    /// Stub links of all routers, to size the routing table.
    private(set) var stubCount = 0
    /// Vertices with an LSA of their own (router-LSA, or at least one network-LSA).
    private var vertexLSACount = 0
    /// `vertices.count` when the topology was last built from scratch.
    private var builtVertexCount = 0
    /// Per vertex: its place in the order in which §16.1 step 3 breaks ties between candidates
    /// at equal distance: networks before routers, then lower IDs first. Ranking by this number
    /// keeps every calculation deterministic while the candidate list compares one 64-bit key.
    private(set) var tieRank: [UInt32] = []
    /// The inverse of `tieRank`: vertex numbers in tie-break order.
    private(set) var vertexByTieRank: [Int32] = []

    /// Whether vertices were added since `tieRank` was computed (`rankVertices()`).
    var needsRanking: Bool { tieRank.count != vertices.count }

    var vertexCount: Int { vertices.count }

    /// Vertices no LSA mentions any more (after router ID changes, removed networks) stay until
    /// a rebuild; the database rebuilds once they have doubled the graph.
    var needsRebuild: Bool { vertices.count > 2 * max(builtVertexCount, vertexLSACount) + 64 }

    init() {}

    /// The topology of `entries`, leaving out those at MaxAge: by their installed age, or by
    /// their age at `now` when given (§14).
    init(_ entries: some Collection<LSDBEntry>, now: OSPFInstant? = nil) {
        vertices.reserveCapacity(entries.count)
        networkLSAs.reserveCapacity(entries.count)
        links.reserveCapacity(entries.count * 4)
        for entry in entries {
            let header = entry.lsa.header
            let age = now.map { LinkStateDatabase.age(installed: header.age, at: entry.installedAt, now: $0) } ?? header.age
            guard age < OSPFConstants.maxAge else { continue }
            install(header.key, entry.decoded)
        }
        builtVertexCount = vertices.count
        rankVertices()
    }

    /// Computes `tieRank` for the current vertices. Only new vertices change the order, so a
    /// stable area never sorts again.
    mutating func rankVertices() {
        let vertices = vertices
        vertexByTieRank = (0..<Int32(vertices.count)).sorted { a, b in
            let (x, y) = (vertices[Int(a)], vertices[Int(b)])
            return x.isNetwork != y.isNetwork ? x.isNetwork : x.id < y.id
        }
        tieRank = [UInt32](repeating: 0, count: vertices.count)
        for (rank, vertex) in vertexByTieRank.enumerated() { tieRank[Int(vertex)] = UInt32(rank) }
    }

    private mutating func vertex(for id: OSPFAddress, isNetwork: Bool) -> Int32 {
        if let vertex = (isNetwork ? networkVertex : routerVertex)[id] { return vertex }
        let vertex = Int32(vertices.count)
        vertices.append(SPFVertex(id: id, isNetwork: isNetwork))
        networkLSAs.append([])
        if isNetwork { networkVertex[id] = vertex } else { routerVertex[id] = vertex }
        return vertex
    }

    /// Adds an LSA or replaces the previous instance of its key.
    mutating func install(_ key: OSPFLSAKey, _ decoded: DecodedLSABody) {
        switch decoded {
        case .router(let lsa) where key.linkStateID == key.advertisingRouter:
            setRouterLinks(of: key.advertisingRouter, lsa)
        case .network(let lsa):
            let network = Int(vertex(for: key.linkStateID, isNetwork: true))
            let entry = SPFNetworkLSA(advertisingRouter: key.advertisingRouter, networkMask: lsa.networkMask,
                                      attachedRouters: lsa.attachedRouters.map { vertex(for: $0, isNetwork: false) })
            if networkLSAs[network].isEmpty { vertexLSACount += 1 }
            networkLSAs[network].removeAll { $0.advertisingRouter == key.advertisingRouter }
            let index = networkLSAs[network].firstIndex { $0.advertisingRouter > key.advertisingRouter }
            networkLSAs[network].insert(entry, at: index ?? networkLSAs[network].count)
        case .summary(let lsa):
            summaries[key] = lsa
        case .external(let lsa):
            externals[key] = lsa
        default:
            // A malformed body, or a router-LSA whose Link State ID is not its advertising
            // router: unusable; an earlier instance of the key goes.
            remove(key)
        }
    }

    /// Removes the LSA of `key`, if present.
    mutating func remove(_ key: OSPFLSAKey) {
        switch key.type {
        case .router:
            guard key.linkStateID == key.advertisingRouter, routerVertex[key.advertisingRouter] != nil else { return }
            setRouterLinks(of: key.advertisingRouter, nil)
        case .network:
            guard let network = networkVertex[key.linkStateID].map(Int.init),
                  let index = networkLSAs[network].firstIndex(where: { $0.advertisingRouter == key.advertisingRouter })
            else { return }
            networkLSAs[network].remove(at: index)
            if networkLSAs[network].isEmpty { vertexLSACount -= 1 }
        case .summaryNetwork, .summaryASBR:
            summaries[key] = nil
        case .asExternal:
            externals[key] = nil
        }
    }

    /// Sets (or, with nil, clears) router `id`'s router-LSA.
    private mutating func setRouterLinks(of id: OSPFAddress, _ lsa: OSPFRouterLSA?) {
        let router = Int(vertex(for: id, isNetwork: false))
        var resolved: [SPFLink] = []
        for link in lsa?.links ?? [] {
            let target: Int32 = switch link.type {
            case .pointToPoint: vertex(for: link.linkID, isNetwork: false)
            case .transit: vertex(for: link.linkID, isNetwork: true)
            case .stub, .virtual: -1
            }
            resolved.append(SPFLink(target: target, metric: link.metric, type: link.type, linkID: link.linkID,
                                    linkData: link.linkData))
        }
        let old = vertices[router]
        // The routers whose point-to-point links back to this one may change meaning.
        var neighbors = Set<Int32>()
        for index in old.links where links[index].type == .pointToPoint { neighbors.insert(links[index].target) }
        for link in resolved where link.type == .pointToPoint { neighbors.insert(link.target) }
        for index in old.links where links[index].type == .stub { stubCount -= 1 }
        for link in resolved where link.type == .stub { stubCount += 1 }
        if old.hasRouterLSA != (lsa != nil) { vertexLSACount += lsa != nil ? 1 : -1 }
        usedLinks += resolved.count - Int(old.linkCount)
        vertices[router].hasRouterLSA = lsa != nil
        vertices[router].flags = lsa?.flags ?? []
        vertices[router].linkCount = Int32(resolved.count)
        if resolved.count > Int(old.linkCapacity) {
            // Outgrown its run: a new one at the end, with room to grow a little.
            vertices[router].firstLink = Int32(links.count)
            vertices[router].linkCapacity = Int32(resolved.count + resolved.count / 4)
            links.append(contentsOf: resolved)
            let unused = SPFLink(target: -1, metric: 0, type: .stub, linkID: .unspecified, linkData: .unspecified)
            links.append(contentsOf: repeatElement(unused, count: resolved.count / 4))
        } else {
            let first = Int(old.firstLink)
            links.replaceSubrange(first..<first + resolved.count, with: resolved)
        }
        if links.count > 2 * usedLinks + 64 { compactLinks() }
        updateLinksBack(of: router)
        // The neighbors' links to this router: they link back exactly when the new LSA links to
        // them (one set, so that a hub with many neighbors stays linear).
        let linkedTo = Set(resolved.lazy.filter { $0.type == .pointToPoint }.map(\.target))
        for neighbor in neighbors where Int(neighbor) != router {
            for index in vertices[Int(neighbor)].links
            where links[index].type == .pointToPoint && links[index].target == Int32(router) {
                links[index].linksBack = lsa != nil && linkedTo.contains(neighbor)
            }
        }
    }

    /// Sets `linksBack` on router vertex `router`'s point-to-point links (§16.1 step 2b).
    private mutating func updateLinksBack(of router: Int) {
        for index in vertices[router].links where links[index].type == .pointToPoint {
            let target = Int(links[index].target)
            links[index].linksBack = vertices[target].hasRouterLSA
                && link(from: target, type: .pointToPoint, to: router) != nil
        }
    }

    /// Packs every router's links to the front, each with room to grow by a quarter.
    private mutating func compactLinks() {
        var packed: [SPFLink] = []
        packed.reserveCapacity(usedLinks + usedLinks / 4)
        let unused = SPFLink(target: -1, metric: 0, type: .stub, linkID: .unspecified, linkData: .unspecified)
        for index in vertices.indices where vertices[index].linkCount > 0 {
            let run = vertices[index].links
            vertices[index].firstLink = Int32(packed.count)
            vertices[index].linkCapacity = vertices[index].linkCount + vertices[index].linkCount / 4
            packed.append(contentsOf: links[run])
            packed.append(contentsOf: repeatElement(unused, count: Int(vertices[index].linkCount / 4)))
        }
        for index in vertices.indices where vertices[index].linkCount == 0 {
            vertices[index].firstLink = 0
            vertices[index].linkCapacity = 0
        }
        links = packed
    }

    /// The first link of router vertex `router` of type `type` that leads to vertex `target`.
    func link(from router: Int, type: OSPFRouterLSA.LinkType, to target: Int) -> SPFLink? {
        for index in vertices[router].links where links[index].target == target && links[index].type == type {
            return links[index]
        }
        return nil
    }

    /// The network-LSA that describes network vertex `network` (§16.1 step 2), nil if there is
    /// none. If stale network-LSAs share its Link State ID, the one whose advertising router
    /// really is the DR: its router-LSA has a transit link whose Link Data is that address;
    /// failing that, the one with the lowest advertising router.
    func networkLSA(_ network: Int) -> SPFNetworkLSA? {
        let candidates = networkLSAs[network]
        guard candidates.count > 1 else { return candidates.first }
        let id = vertices[network].id
        return candidates.first { candidate in
            guard let router = routerVertex[candidate.advertisingRouter].map(Int.init),
                  vertices[router].hasRouterLSA else { return false }
            return link(from: router, type: .transit, to: network)?.linkData == id
        } ?? candidates[0]
    }
}
