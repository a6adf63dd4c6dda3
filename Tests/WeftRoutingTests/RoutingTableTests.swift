import Testing
@testable import WeftRouting

private let eth0 = LinkID(2)
private let eth1 = LinkID(3)
private let wg0 = LinkID(7)

private func route(_ text: String, _ source: RouteSource, metric: UInt32 = 0,
                   via hops: [NextHop] = [NextHop(link: LinkID(2))]) -> Route {
    Route(prefix: prefix(text), source: source, metric: metric, nextHops: hops)
}

@Suite struct RoutingTableTests {
    @Test func prefersLowerAdministrativeDistance() {
        var table = RoutingTable()
        let ospf = route("10.0.0.0/24", .ospf, metric: 20, via: [NextHop(link: eth0, gateway: ip("192.0.2.1"))])
        let statik = route("10.0.0.0/24", .static, metric: 500, via: [NextHop(link: eth1, gateway: ip("198.51.100.1"))])
        let connected = route("10.0.0.0/24", .connected, via: [NextHop(link: wg0)])
        #expect(table.install(ospf) == .added(ospf))
        #expect(table.install(statik) == .changed(old: ospf, new: statik))
        #expect(table.install(connected) == .changed(old: statik, new: connected))
        #expect(table.routes(for: prefix("10.0.0.0/24")).map(\.source) == [.connected, .static, .ospf])
        #expect(table.lookup(ip("10.0.0.5"), flowHash: 0) == NextHop(link: wg0))

        // Withdrawals fall back to the next source in preference order.
        #expect(table.withdraw(prefix("10.0.0.0/24"), source: .connected) == .changed(old: connected, new: statik))
        #expect(table.lookup(ip("10.0.0.5"), flowHash: 0)?.gateway == ip("198.51.100.1"))
        #expect(table.withdraw(prefix("10.0.0.0/24"), source: .static) == .changed(old: statik, new: ospf))
        #expect(table.withdraw(prefix("10.0.0.0/24"), source: .static) == nil)
        #expect(table.withdraw(prefix("10.0.0.0/24"), source: .ospf) == .removed(ospf))
        #expect(table.lookup(ip("10.0.0.5"), flowHash: 0) == nil)
        #expect(table.count == 0)
    }

    @Test func losingCandidatesChangeNothingVisible() {
        var table = RoutingTable()
        let statik = route("10.0.0.0/24", .static)
        table.install(statik)
        #expect(table.install(route("10.0.0.0/24", .ospf, metric: 10)) == nil)
        #expect(table.install(route("10.0.0.0/24", .ospf, metric: 30)) == nil)
        #expect(table.withdraw(prefix("10.0.0.0/24"), source: .ospf) == nil)
        #expect(table.install(statik) == nil)   // identical re-install
        #expect(table.routes(for: prefix("10.0.0.0/24")) == [statik])
    }

    @Test func metricBreaksTiesWithinADistance() {
        var table = RoutingTable(distances: AdministrativeDistances(static: 110, ospf: 110))
        let statik = route("10.0.0.0/24", .static, metric: 50)
        let ospf = route("10.0.0.0/24", .ospf, metric: 20)
        table.install(statik)
        #expect(table.install(ospf) == .changed(old: statik, new: ospf))
        let cheaperStatic = route("10.0.0.0/24", .static, metric: 10)
        #expect(table.install(cheaperStatic) == .changed(old: ospf, new: cheaperStatic))
        // Equal distance and metric: declaration order (static before ospf).
        let tiedOSPF = route("10.0.0.0/24", .ospf, metric: 10)
        #expect(table.install(tiedOSPF) == nil)
        #expect(table.bestRoute(for: prefix("10.0.0.0/24"))?.source == .static)
    }

    @Test func distancesAreConfigurable() {
        var table = RoutingTable(distances: AdministrativeDistances(ospf: 0))
        table.install(route("10.0.0.0/24", .static))
        table.install(route("10.0.0.0/24", .ospf, metric: 100))
        #expect(table.bestRoute(for: prefix("10.0.0.0/24"))?.source == .ospf)
        #expect(AdministrativeDistances()[.ospf] == 110 && AdministrativeDistances()[.static] == 1)
        #expect(AdministrativeDistances()[.connected] == 0 && AdministrativeDistances()[.kernel] == 0)
    }

    @Test func sameSourceReplacesItsRoute() {
        var table = RoutingTable()
        let first = route("10.0.0.0/24", .ospf, metric: 20, via: [NextHop(link: eth0)])
        let second = route("10.0.0.0/24", .ospf, metric: 30, via: [NextHop(link: eth1)])
        table.install(first)
        #expect(table.install(second) == .changed(old: first, new: second))
        #expect(table.routes(for: prefix("10.0.0.0/24")).count == 1)
    }

    @Test func longestPrefixSelectsTheRoute() {
        var table = RoutingTable()
        table.install(route("0.0.0.0/0", .static, via: [NextHop(link: eth0, gateway: ip("192.0.2.1"))]))
        table.install(route("10.0.0.0/8", .ospf, via: [NextHop(link: wg0, gateway: ip("10.255.0.1"))]))
        table.install(route("10.1.0.0/16", .connected, via: [NextHop(link: eth1)]))
        table.install(route("::/0", .static, via: [NextHop(link: eth0, gateway: ip("fe80::1"))]))
        #expect(table.lookup(ip("8.8.8.8"), flowHash: 1)?.gateway == ip("192.0.2.1"))
        #expect(table.lookup(v4("10.9.9.9"), flowHash: 1)?.link == wg0)
        #expect(table.lookup(ip("10.1.9.9"), flowHash: 1) == NextHop(link: eth1))
        #expect(table.lookup(v6("2001:db8::1"), flowHash: 1)?.gateway == ip("fe80::1"))
        #expect(table.route(to: ip("10.1.0.1"))?.prefix == prefix("10.1.0.0/16"))
        #expect(table.bestRoutes.map(\.prefix.description) == ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "::/0"])
    }

    @Test func discardRoutesDropInsteadOfFallingBack() {
        var table = RoutingTable()
        table.install(route("0.0.0.0/0", .static))
        table.install(route("10.0.0.0/8", .ospf, via: []))
        #expect(table.lookup(ip("10.1.2.3"), flowHash: 9) == nil)
        #expect(table.route(to: ip("10.1.2.3"))?.isDiscard == true)
        #expect(table.lookup(ip("11.1.2.3"), flowHash: 9) != nil)
    }

    @Test func canonicalisesPrefixesAndNextHops() {
        var table = RoutingTable()
        let hops = [NextHop(link: eth1, gateway: ip("10.0.0.2")), NextHop(link: eth0, weight: 0),
                    NextHop(link: eth1, gateway: ip("10.0.0.2"))]
        let change = table.install(route("10.1.2.3/24", .static, via: hops))
        let expected = route("10.1.2.0/24", .static, via: [NextHop(link: eth0), NextHop(link: eth1, gateway: ip("10.0.0.2"))])
        #expect(change == .added(expected))
        #expect(table.withdraw(prefix("10.1.2.99/24"), source: .static) == .removed(expected))
    }

    @Test func ecmpUsesEveryNextHopAndKeepsFlowsStable() throws {
        var table = RoutingTable()
        let hops = (1...4).map { NextHop(link: LinkID(UInt32($0)), gateway: ip("192.0.2.\($0)")) }
        table.install(route("0.0.0.0/0", .ospf, via: hops))
        var generator = SeededGenerator(seed: 42)
        var counts: [LinkID: Int] = [:]
        let flows = 8000
        for _ in 0..<flows {
            let packet = ipv4Packet(source: IPv4Address(UInt32.random(in: .min ... .max, using: &generator)),
                                    destination: v4("203.0.113.80"), protocolNumber: 6,
                                    sourcePort: UInt16.random(in: 1024 ... .max, using: &generator),
                                    destinationPort: 443)
            let hash = try #require(packet.withUnsafeBytes { flowHash(packet: $0) })
            let hop = try #require(table.lookup(v4("203.0.113.80"), flowHash: hash))
            #expect(table.lookup(v4("203.0.113.80"), flowHash: hash) == hop)
            #expect(table.route(to: ip("203.0.113.80"))?.nextHop(forFlowHash: hash) == hop)
            counts[hop.link, default: 0] += 1
        }
        #expect(counts.count == 4)
        for (link, count) in counts {
            // Expected 2000 each; a fair hash stays well inside ±15 %.
            #expect((1700...2300).contains(count), "\(link): \(count)")
        }

        // The order the next hops were given in does not change which one a flow gets.
        var reordered = RoutingTable()
        reordered.install(route("0.0.0.0/0", .ospf, via: hops.reversed()))
        for hash in stride(from: UInt32(0), to: UInt32.max - 1_000_000, by: 9_999_991) {
            #expect(reordered.lookup(v4("1.1.1.1"), flowHash: hash) == table.lookup(v4("1.1.1.1"), flowHash: hash))
        }
    }

    @Test func weightsSplitFlowsProportionally() {
        let heavy = NextHop(link: eth0, weight: 3)
        let light = NextHop(link: eth1, weight: 1)
        let weighted = Route(prefix: prefix("0.0.0.0/0"), source: .static, nextHops: [heavy, light])
        var generator = SeededGenerator(seed: 3)
        var heavyCount = 0
        for _ in 0..<4000 {
            let hash = UInt32.random(in: .min ... .max, using: &generator)
            if weighted.nextHop(forFlowHash: hash) == heavy { heavyCount += 1 }
        }
        #expect((2800...3200).contains(heavyCount))
        // Hash-threshold regions: the bottom of the hash space maps to the first hop, the top
        // to the last.
        #expect(weighted.nextHop(forFlowHash: 0) == heavy)
        #expect(weighted.nextHop(forFlowHash: .max) == light)
        #expect(weighted.nextHop(forFlowHash: 0xBFFF_FFFF) == heavy)   // just below 3/4
        #expect(weighted.nextHop(forFlowHash: 0xC000_0000) == light)   // exactly 3/4
    }

    @Test func replacingASourceReportsOnlyRealChanges() {
        var table = RoutingTable()
        table.install(route("10.9.0.0/16", .static))
        let kept = route("10.1.0.0/16", .ospf, metric: 10)
        let moved = route("10.2.0.0/16", .ospf, metric: 10)
        let dropped = route("10.3.0.0/16", .ospf, metric: 10)
        let shadowed = route("10.9.0.0/16", .ospf, metric: 10)
        #expect(table.replaceRoutes(from: .ospf, with: [kept, moved, dropped, shadowed]).count == 3)

        let movedNew = route("10.2.0.0/16", .ospf, metric: 20)
        let added = route("10.4.0.0/16", .ospf, metric: 10)
        let changes = table.replaceRoutes(from: .ospf, with: [added, movedNew, kept])
        #expect(changes == [.changed(old: moved, new: movedNew), .removed(dropped), .added(added)])
        #expect(table.routes(for: prefix("10.9.0.0/16")).map(\.source) == [.static])

        // A route handed over under another source is taken as this source's.
        let relabelled = table.replaceRoutes(from: .ospf, with: [route("10.5.0.0/16", .static)])
        #expect(relabelled.count == 4)
        #expect(table.routes(for: prefix("10.5.0.0/16")).map(\.source) == [.ospf])

        let gone = table.withdrawAll(from: .ospf)
        #expect(gone == [.removed(route("10.5.0.0/16", .ospf))])
        #expect(table.bestRoutes.map(\.prefix) == [prefix("10.9.0.0/16")])
    }

    @Test func sharesNextHopGroupsAndFreesThem() {
        var table = RoutingTable()
        let sets = (0..<5).map { index in
            [NextHop(link: LinkID(UInt32(index))), NextHop(link: LinkID(99), gateway: ip("10.0.0.\(index + 1)"))]
        }
        for index in 0..<500 {
            table.install(route("10.\(index / 256).\(index % 256).0/24", .ospf, via: sets[index % 5]))
        }
        #expect(table.nextHopGroups.liveCount == 5)
        #expect(table.nextHopGroups.hops.count == 10)

        // Moving routes between sets and to a new set keeps exactly the sets in use.
        for index in stride(from: 0, to: 500, by: 5) {
            table.install(route("10.\(index / 256).\(index % 256).0/24", .ospf, via: [NextHop(link: wg0)]))
        }
        #expect(table.nextHopGroups.liveCount == 5)   // sets[0] unused now, [wg0] added
        #expect(table.lookup(ip("10.0.5.1"), flowHash: 123) == NextHop(link: wg0))

        table.withdrawAll(from: .ospf)
        #expect(table.nextHopGroups.liveCount == 0)
        #expect(table.count == 0)

        // Churn through many short-lived sets: the pool is compacted and stays small.
        for index in 0..<300 {
            table.install(route("192.0.2.0/24", .static, via: [NextHop(link: LinkID(UInt32(1000 + index)))]))
        }
        #expect(table.nextHopGroups.liveCount == 1)
        #expect(table.nextHopGroups.hops.count <= 66)
        #expect(table.lookup(ip("192.0.2.1"), flowHash: 0) == NextHop(link: LinkID(1299)))
    }

    @Test func describesRoutesForLogs() {
        let text = route("10.0.0.0/8", .ospf, metric: 20,
                         via: [NextHop(link: eth0, gateway: ip("192.0.2.1")), NextHop(link: eth1, weight: 2)]).description
        #expect(text == "10.0.0.0/8 [ospf/20] via 192.0.2.1 dev 2, dev 3 weight 2")
        #expect(route("10.0.0.0/8", .static, via: []).description == "10.0.0.0/8 [static/0] discard")
    }
}
