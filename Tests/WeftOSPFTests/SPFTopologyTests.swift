import Testing
@testable import WeftOSPF

/// The SPF graph the link state database keeps up to date (§16.1): after any sequence of
/// installations, flushes and removals it must describe the same area as one built from scratch.
@Suite("SPF topology")
struct SPFTopologyTests {
    /// The topology in a form that does not depend on vertex numbering or link slot placement,
    /// after checking its internal consistency.
    static func canonical(_ topology: SPFTopology) -> [String] {
        var lines: [String] = []
        var usedSlots = Set<Int>()
        for (index, vertex) in topology.vertices.enumerated() {
            let map = vertex.isNetwork ? topology.networkVertex : topology.routerVertex
            #expect(map[vertex.id] == Int32(index), "vertex \(index) not indexed by its ID")
            #expect(vertex.linkCount <= vertex.linkCapacity || vertex.linkCount == 0)
            #expect(Int(vertex.firstLink + vertex.linkCapacity) <= topology.links.count)
            for slot in vertex.links { #expect(usedSlots.insert(slot).inserted, "link slot \(slot) shared") }
            if vertex.isNetwork {
                #expect(!vertex.hasRouterLSA && vertex.linkCount == 0)
                for lsa in topology.networkLSAs[index] {
                    let attached = lsa.attachedRouters.map { topology.vertices[Int($0)] }
                    #expect(attached.allSatisfy { !$0.isNetwork })
                    lines.append("network \(vertex.id) by \(lsa.advertisingRouter) mask \(lsa.networkMask) \(attached.map(\.id))")
                }
                continue
            }
            #expect(topology.networkLSAs[index].isEmpty)
            guard vertex.hasRouterLSA else {
                #expect(vertex.linkCount == 0)
                continue
            }
            var line = "router \(vertex.id) flags \(vertex.flags.rawValue)"
            for slot in vertex.links {
                let link = topology.links[slot]
                var target = "-"
                if link.target >= 0 {
                    let vertex = topology.vertices[Int(link.target)]
                    #expect(vertex.id == link.linkID && vertex.isNetwork == (link.type == .transit))
                    target = "\(vertex.id)"
                } else {
                    #expect(link.type == .stub || link.type == .virtual)
                }
                if link.type == .pointToPoint {
                    // §16.1 step 2b, searched here the slow way.
                    let peer = topology.vertices[Int(link.target)]
                    let back = peer.hasRouterLSA && peer.links.contains {
                        topology.links[$0].type == .pointToPoint && topology.links[$0].target == Int32(index)
                    }
                    #expect(link.linksBack == back, "router \(vertex.id) link to \(peer.id): linksBack stale")
                }
                line += " [\(link.type) \(link.metric) \(link.linkID) \(link.linkData) -> \(target) back \(link.linksBack)]"
            }
            lines.append(line)
        }
        #expect(topology.routerVertex.count + topology.networkVertex.count == topology.vertexCount)
        lines += topology.summaries.map { "summary \($0.key) \($0.value.networkMask) \($0.value.metric)" }
        lines += topology.externals.map { "external \($0.key) \($0.value.encoded)" }
        lines.append("stubs \(topology.stubCount)")
        return lines.sorted()
    }

    /// §16.1 step 3's tie-break order: networks before routers, then by ID; `tieRank` and
    /// `vertexByTieRank` are each other's inverse.
    static func checkTieRanks(_ topology: SPFTopology) {
        #expect(!topology.needsRanking)
        let ordered = topology.vertexByTieRank.map { topology.vertices[Int($0)] }
        #expect(ordered.map(\.id) == topology.vertices.sorted {
            $0.isNetwork != $1.isNetwork ? $0.isNetwork : $0.id < $1.id
        }.map(\.id))
        for (rank, vertex) in topology.vertexByTieRank.enumerated() { #expect(topology.tieRank[Int(vertex)] == rank) }
    }

    @Test("After random installs, flushes and removals the topology equals a rebuild from scratch")
    func incrementalEqualsRebuild() {
        var rng = SplitMix64(seed: 0x5350_4654)
        for round in 0..<12 {
            var database = LinkStateDatabase()
            var now = OSPFInstant.zero
            // Small ID spaces make replacements and dangling references common; the wide
            // router space of some rounds makes unreferenced vertices pile up until a rebuild.
            let routerSpace: UInt64 = round % 3 == 2 ? 400 : 10
            func router() -> OSPFAddress { OSPFAddress(rawValue: 0x0A00_0001 + UInt32(rng.below(routerSpace))) }
            func network() -> OSPFAddress { OSPFAddress(rawValue: 0xC0A8_0001 + UInt32(rng.below(4))) }
            var keys: [OSPFLSAKey] = []
            for step in 0..<300 {
                now = now + .milliseconds(rng.below(3_000))
                let operation = rng.below(10)
                if operation >= 8, !keys.isEmpty {
                    let key = keys[Int(rng.below(UInt64(keys.count)))]
                    if operation == 8 { database.ageOut(key, now: now) } else { database.remove(key) }
                } else {
                    let advertisingRouter = router()
                    var type = OSPFLSAType.router
                    var linkStateID = advertisingRouter
                    var body: [UInt8]
                    switch rng.below(6) {
                    case 0, 1, 2:
                        var links: [OSPFRouterLSA.Link] = []
                        for _ in 0..<rng.below(7) {
                            let metric = UInt16(rng.below(4))
                            switch rng.below(4) {
                            case 0: links.append(.init(linkID: router(), linkData: network(), type: .pointToPoint, metric: metric))
                            case 1: links.append(.init(linkID: network(), linkData: network(), type: .transit, metric: metric))
                            case 2: links.append(.init(linkID: router(), linkData: network(), type: .virtual, metric: metric))
                            default: links.append(.init(linkID: OSPFAddress(10, UInt8(rng.below(5)), 0, 0),
                                                        linkData: OSPFAddress(255, 255, 0, 0), type: .stub, metric: metric))
                            }
                        }
                        let flags = OSPFRouterLSA.Flags(rawValue: UInt8(rng.below(4)))
                        body = OSPFRouterLSA(flags: flags, links: links).encoded
                        // Now and then a router-LSA whose Link State ID is not its router (unusable).
                        if rng.below(10) == 0 { linkStateID = router() }
                    case 3:
                        type = .network
                        linkStateID = network()
                        body = OSPFNetworkLSA(networkMask: OSPFAddress(255, 255, 255, 0),
                                              attachedRouters: (0..<rng.below(4)).map { _ in router() }).encoded
                    case 4:
                        type = rng.below(2) == 0 ? .summaryNetwork : .summaryASBR
                        linkStateID = network()
                        body = [255, 255, 255, 0, 0, 0, 0, UInt8(rng.below(9))]
                    default:
                        type = .asExternal
                        linkStateID = network()
                        body = OSPFASExternalLSA(networkMask: OSPFAddress(255, 255, 255, 0), isType2: true,
                                                 metric: UInt32(rng.below(9)), forwardingAddress: .unspecified,
                                                 routeTag: 0).encoded
                    }
                    // Malformed bodies and MaxAge instances replace what was there too.
                    if rng.below(15) == 0 { body = [1, 2, 3] }
                    var lsa = OSPFLSA(type: type, linkStateID: linkStateID, advertisingRouter: advertisingRouter,
                                      sequenceNumber: Int32(step), options: [], body: body)
                    if rng.below(15) == 0 { lsa.header.age = OSPFConstants.maxAge }
                    _ = database.install(lsa, now: now, receivedByFlooding: true, isSelfOriginated: false)
                    keys.append(lsa.key)
                }
                #expect(Self.canonical(database.topology) == Self.canonical(SPFTopology(database.entries.values)),
                        "round \(round) step \(step)")
                if rng.below(20) == 0 { Self.checkTieRanks(database.topology(at: now)) }
            }
            #expect(database.topology.vertexCount <= 2 * 400 + 64 + 20)
        }
    }

    @Test("An LSA that has aged to MaxAge but not been flushed yet is left out of the calculation (§14)")
    func agedOutLSA() {
        var database = LinkStateDatabase()
        var lsa = OSPFLSA(type: .router, linkStateID: OSPFAddress(10, 0, 0, 1), advertisingRouter: OSPFAddress(10, 0, 0, 1),
                          sequenceNumber: 1, options: [],
                          body: OSPFRouterLSA(links: [.init(linkID: OSPFAddress(10, 1, 0, 0), linkData: OSPFAddress(255, 255, 0, 0),
                                                            type: .stub, metric: 1)]).encoded)
        lsa.header.age = OSPFConstants.maxAge - 2
        _ = database.install(lsa, now: .zero, receivedByFlooding: true, isSelfOriginated: false)
        #expect(database.topology(at: .zero + .milliseconds(1_999)).stubCount == 1)
        #expect(database.topology(at: .zero + .seconds(2)).stubCount == 0)
        #expect(database.topology.stubCount == 1)
    }
}

@Suite("Routing table order")
struct RoutingTableOrderTests {
    @Test("Large tables sort by prefix (radix sort) exactly as the comparison sort does")
    func radixSortMatchesComparisonSort() {
        var rng = SplitMix64(seed: 0x5241_4458)
        for count in [256, 1_000, 20_000] {
            // Clustered addresses and repeated prefixes with several lengths, as stub networks are.
            let keys = (0..<count).map { index in
                let address = UInt64(0x0A00_0000 + UInt32(rng.below(UInt64(count / 2))) << 8)
                return address << 32 | rng.below(33) << 24 | UInt64(index)
            }
            var radix = keys
            OSPFRouter.radixSortByPrefix(&radix)
            #expect(radix == keys.sorted())
        }
        // Digits that all keys share are skipped: an odd number of passes (one varying octet),
        // an even one (two), none (one prefix repeated).
        for varyingOctets in [1, 2, 0] {
            let keys = (0..<1_000).map { index in
                let varying = rng.below(1 << (8 * UInt64(varyingOctets)))
                return UInt64(0x1400_0000 | UInt32(varying) << 8) << 32 | 24 << 24 | UInt64(index)
            }
            var radix = keys
            OSPFRouter.radixSortByPrefix(&radix)
            #expect(radix == keys.sorted(), "\(varyingOctets) varying octets")
        }
    }
}
