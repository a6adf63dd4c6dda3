// A deterministic synthetic OSPF area for the SPF benchmarks, and a real `OSPFRouter` that holds
// it in its link state database.
//
// The area: `routerCount` routers joined by point-to-point links, a random connected graph of
// average degree about 4 (a random spanning tree plus as many random extra links), metrics 1–64
// per direction, and one /24 stub network per router (RFC 2328 §12.4.1.1, §12.4.1.4). Router 0
// is the calculating router, "R"; router 1, "P", is its only neighbor. Both are real routers that
// form a Full adjacency over a simulated link; the other routers' LSAs reach R the way they would
// in a network: in Link State Updates from P (§13), next to a new instance of P's router-LSA
// that links P into the graph.

import BenchmarkSupport
import WeftOSPF

struct SyntheticArea {
    /// One point-to-point link, with the metric each end advertises.
    struct Link {
        var a: Int
        var b: Int
        var metricAB: UInt16
        var metricBA: UInt16
    }

    let routerCount: Int
    private(set) var links: [Link] = []

    /// R's interface cost towards P.
    static let rootCost: UInt16 = 10
    static let stubCost: UInt16 = 1
    static let rootInterface = OSPFInterfaceID(1)
    static let rootAddress = OSPFAddress(192, 0, 2, 1)
    static let peerAddress = OSPFAddress(192, 0, 2, 2)

    init(routerCount: Int, seed: UInt64) {
        precondition(routerCount >= 3)
        self.routerCount = routerCount
        var rng = SplitMix64(state: seed)
        func metric() -> UInt16 { UInt16(1 + rng.below(64)) }
        links.append(Link(a: 0, b: 1, metricAB: Self.rootCost, metricBA: Self.rootCost))
        // Routers 1...N-1: a random spanning tree, then as many random extra links (no loops,
        // no duplicates), for an average degree of about 4.
        var seen = Set<UInt64>()
        func key(_ a: Int, _ b: Int) -> UInt64 { UInt64(min(a, b)) << 32 | UInt64(max(a, b)) }
        for router in 2..<routerCount {
            let other = 1 + rng.below(router - 1)
            seen.insert(key(router, other))
            links.append(Link(a: router, b: other, metricAB: metric(), metricBA: metric()))
        }
        var extra = 0
        for _ in 0..<(routerCount * 16) where extra < routerCount - 1 {
            let a = 1 + rng.below(routerCount - 1)
            let b = 1 + rng.below(routerCount - 1)
            guard a != b, seen.insert(key(a, b)).inserted else { continue }
            links.append(Link(a: a, b: b, metricAB: metric(), metricBA: metric()))
            extra += 1
        }
    }

    static func routerID(_ router: Int) -> OSPFAddress { OSPFAddress(rawValue: 0x0A00_0000 + UInt32(router) + 1) }

    /// Router `router`'s stub network: 20.x.y.0/24.
    static func stub(_ router: Int) -> OSPFPrefix {
        OSPFPrefix(address: OSPFAddress(rawValue: 0x1400_0000 + UInt32(router) << 8), length: 24)
    }

    /// The interface address of end `end` (0 or 1) of link `index`, in 100.64.0.0/10.
    static func linkAddress(_ index: Int, end: Int) -> OSPFAddress {
        OSPFAddress(rawValue: 0x6440_0000 + UInt32(index) << 2 + UInt32(end) + 1)
    }

    // MARK: The graph as the C baseline sees it

    /// The directed graph of router-to-router links in compressed sparse row form, as
    /// `cdijkstra_shortest_paths` takes it.
    func adjacency() -> (firstEdge: [UInt32], target: [UInt32], weight: [UInt32]) {
        var degree = [Int](repeating: 0, count: routerCount)
        for link in links {
            degree[link.a] += 1
            degree[link.b] += 1
        }
        var firstEdge = [UInt32](repeating: 0, count: routerCount + 1)
        for router in 0..<routerCount { firstEdge[router + 1] = firstEdge[router] + UInt32(degree[router]) }
        var target = [UInt32](repeating: 0, count: Int(firstEdge[routerCount]))
        var weight = target
        var next = firstEdge
        for link in links {
            for (from, to, metric) in [(link.a, link.b, link.metricAB), (link.b, link.a, link.metricBA)] {
                target[Int(next[from])] = UInt32(to)
                weight[Int(next[from])] = UInt32(metric)
                next[from] += 1
            }
        }
        return (firstEdge, target, weight)
    }

    // MARK: The area in an OSPF router

    /// The router-LSA bodies of routers 1...N-1 (§12.4.1), P's with its link to R and R's link
    /// subnet as P itself originates them.
    func routerLSALinks() -> [[OSPFRouterLSA.Link]] {
        var links = [[OSPFRouterLSA.Link]](repeating: [], count: routerCount)
        for (index, link) in self.links.enumerated() {
            links[link.a].append(.init(linkID: Self.routerID(link.b), linkData: Self.linkAddress(index, end: 0),
                                       type: .pointToPoint, metric: link.metricAB))
            links[link.b].append(.init(linkID: Self.routerID(link.a), linkData: Self.linkAddress(index, end: 1),
                                       type: .pointToPoint, metric: link.metricBA))
        }
        // P's end of the link to R carries P's real interface address.
        links[1][0].linkData = Self.peerAddress
        links[1].append(.init(linkID: OSPFAddress(192, 0, 2, 0), linkData: OSPFAddress(255, 255, 255, 252),
                              type: .stub, metric: Self.rootCost))
        for router in 1..<routerCount {
            let stub = Self.stub(router)
            links[router].append(.init(linkID: stub.address, linkData: stub.mask, type: .stub, metric: Self.stubCost))
        }
        return links
    }

    /// R with the whole area in its database: R and P form an adjacency, then P sends every
    /// LSA in updates of at most 1400 bytes. Returns R and the instant to calculate at.
    func makeRouter() -> (router: OSPFRouter, now: OSPFInstant) {
        let root = OSPFRouter(configuration: OSPFConfiguration(routerID: Self.routerID(0), interfaces: [
            OSPFInterfaceConfiguration(id: Self.rootInterface, name: "ptp", type: .pointToPoint,
                                       address: Self.rootAddress, prefixLength: 30, cost: Self.rootCost),
        ]))
        let peer = OSPFRouter(configuration: OSPFConfiguration(routerID: Self.routerID(1), interfaces: [
            OSPFInterfaceConfiguration(id: Self.rootInterface, name: "ptp", type: .pointToPoint,
                                       address: Self.peerAddress, prefixLength: 30, cost: Self.rootCost),
        ]))
        var now = OSPFInstant(nanoseconds: 1_000_000_000)
        // Packets in flight: (to the root?, bytes). Each side's timers fire when due.
        var inFlight: [(toRoot: Bool, bytes: [UInt8])] = []
        func post(_ actions: [OSPFAction], fromRoot: Bool) {
            for case .send(let packet) in actions { inFlight.append((!fromRoot, packet.bytes)) }
        }
        post(root.interfaceUp(Self.rootInterface, now: now), fromRoot: true)
        post(peer.interfaceUp(Self.rootInterface, now: now), fromRoot: false)
        for _ in 0..<10_000 {
            if root.neighborStates(on: Self.rootInterface)[Self.routerID(1)] == .full,
               peer.neighborStates(on: Self.rootInterface)[Self.routerID(0)] == .full, inFlight.isEmpty { break }
            if !inFlight.isEmpty {
                let (toRoot, bytes) = inFlight.removeFirst()
                if toRoot {
                    post(root.receive(bytes, on: Self.rootInterface, from: Self.peerAddress, to: .allSPFRouters, now: now),
                         fromRoot: true)
                } else {
                    post(peer.receive(bytes, on: Self.rootInterface, from: Self.rootAddress, to: .allSPFRouters, now: now),
                         fromRoot: false)
                }
                continue
            }
            guard let deadline = [root.nextDeadline, peer.nextDeadline].compactMap({ $0 }).min() else { break }
            now = max(now, deadline)
            post(root.tick(now: now), fromRoot: true)
            post(peer.tick(now: now), fromRoot: false)
        }
        precondition(root.neighborStates(on: Self.rootInterface)[Self.routerID(1)] == .full, "no adjacency")

        // Past MinLSArrival (§13 step 5a) for P's router-LSA, which gets a new instance.
        now = now + .seconds(2)
        let peerKey = OSPFLSAKey(type: .router, linkStateID: Self.routerID(1), advertisingRouter: Self.routerID(1))
        let peerSequence = peer.lsa(peerKey, now: now)!.header.sequenceNumber
        // (R may have dropped an instance of P's router-LSA that P re-originated too soon after
        // the previous one, §13 step 5a, during the adjacency: count only drops from here.)
        let dropsBefore = root.counters.totalDropped
        var batch: [OSPFLSA] = []
        var batchSize = 0
        func sendBatch() {
            let packet = OSPFPacket(routerID: Self.routerID(1), areaID: .backbone,
                                    body: .linkStateUpdate(OSPFLinkStateUpdate(lsas: batch)))
            _ = root.receive(packet.serialized(), on: Self.rootInterface, from: Self.peerAddress, to: .allSPFRouters, now: now)
            batch.removeAll()
            batchSize = 0
        }
        for (router, links) in routerLSALinks().enumerated() where router >= 1 {
            let lsa = OSPFLSA(type: .router, linkStateID: Self.routerID(router), advertisingRouter: Self.routerID(router),
                              sequenceNumber: router == 1 ? peerSequence &+ 1 : OSPFConstants.initialSequenceNumber,
                              options: .externalRouting, body: OSPFRouterLSA(links: links).encoded)
            if batchSize + Int(lsa.header.length) > 1400 - 28 { sendBatch() }
            batch.append(lsa)
            batchSize += Int(lsa.header.length)
        }
        if !batch.isEmpty { sendBatch() }
        let count = root.databaseSnapshot(now: now).count
        let drops = root.counters.totalDropped - dropsBefore
        precondition(count == routerCount && drops == 0, "database holds \(count) LSAs of \(routerCount), \(drops) drops")
        return (root, now)
    }
}
