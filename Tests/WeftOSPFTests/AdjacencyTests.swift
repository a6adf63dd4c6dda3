import Testing
@testable import WeftOSPF

/// Small topologies on the virtual network: adjacencies, database exchange, flooding, routes.
@Suite("Adjacencies and routes")
struct AdjacencyTests {
    static let loopback = OSPFInterfaceID(0)
    static let link = OSPFInterfaceID(1)

    /// Two routers on one point-to-point link, each with a loopback.
    static func pointToPointPair(seed: UInt64 = 1, mtuA: UInt16 = 1500, mtuB: UInt16 = 1500,
                                 authenticationA: OSPFAuthentication = .none,
                                 authenticationB: OSPFAuthentication = .none) -> VirtualNetwork {
        let network = VirtualNetwork(seed: seed)
        let a = network.addRouter(OSPFConfiguration(routerID: OSPFAddress(1, 1, 1, 1), interfaces: [
            testInterface(0, .loopback, OSPFAddress(1, 1, 1, 1), 32),
            testInterface(1, .pointToPoint, OSPFAddress(10, 0, 0, 1), 30, cost: 10, mtu: mtuA,
                          authentication: authenticationA),
        ]))
        let b = network.addRouter(OSPFConfiguration(routerID: OSPFAddress(2, 2, 2, 2), interfaces: [
            testInterface(0, .loopback, OSPFAddress(2, 2, 2, 2), 32),
            testInterface(1, .pointToPoint, OSPFAddress(10, 0, 0, 2), 30, cost: 7, mtu: mtuB,
                          authentication: authenticationB),
        ]))
        network.addSegment([.init(router: a, interface: link, address: OSPFAddress(10, 0, 0, 1)),
                            .init(router: b, interface: link, address: OSPFAddress(10, 0, 0, 2))],
                           prefix: OSPFPrefix(address: OSPFAddress(10, 0, 0, 0), length: 30), isLAN: false)
        for router in [a, b] {
            network.bringUp(router, loopback)
            network.bringUp(router, link)
        }
        return network
    }

    @Test("Point-to-point: Full, identical databases, each other's prefixes as routes")
    func pointToPoint() throws {
        let network = Self.pointToPointPair()
        network.run(for: .seconds(20))
        let (a, b) = (network.routers[0], network.routers[1])
        #expect(a.neighborStates(on: Self.link) == [OSPFAddress(2, 2, 2, 2): .full])
        #expect(b.neighborStates(on: Self.link) == [OSPFAddress(1, 1, 1, 1): .full])
        #expect(a.interfaceState(Self.link) == .pointToPoint)
        let databaseA = a.databaseSnapshot(now: network.now).map { [$0.key: ($0.sequenceNumber, $0.checksum)] }
        let databaseB = b.databaseSnapshot(now: network.now).map { [$0.key: ($0.sequenceNumber, $0.checksum)] }
        #expect(databaseA.count == 2)
        #expect(databaseA.map(\.keys.first) == databaseB.map(\.keys.first))
        #expect(zip(databaseA, databaseB).allSatisfy { $0.values.first! == $1.values.first! })

        let routesA = Dictionary(uniqueKeysWithValues: a.routingTable.map { ($0.prefix, $0) })
        let loopbackB = try #require(routesA[OSPFPrefix(address: OSPFAddress(2, 2, 2, 2), length: 32)])
        #expect(loopbackB.cost == 10)
        #expect(loopbackB.nextHops == [OSPFNextHop(interface: Self.link, gateway: OSPFAddress(10, 0, 0, 2))])
        let own = try #require(routesA[OSPFPrefix(address: OSPFAddress(1, 1, 1, 1), length: 32)])
        #expect(own.cost == 0 && own.nextHops.isEmpty)
        let subnet = try #require(routesA[OSPFPrefix(address: OSPFAddress(10, 0, 0, 0), length: 30)])
        #expect(subnet.cost == 10 && subnet.nextHops == [OSPFNextHop(interface: Self.link, gateway: nil)])
        let routesB = Dictionary(uniqueKeysWithValues: b.routingTable.map { ($0.prefix, $0) })
        #expect(routesB[OSPFPrefix(address: OSPFAddress(1, 1, 1, 1), length: 32)]?.cost == 7)
        // The route actions replay to the same table.
        #expect(network.tablesFromActions[0] == routesA)
        #expect(a.counters.totalDropped == 0 && b.counters.totalDropped == 0)

        // The neighbor went through the RFC's states in order.
        let states = network.transitions[0].map(\.to)
        #expect(Array(states.prefix(4)) == [.initial, .exchangeStart, .exchange, .full]
                || Array(states.prefix(5)) == [.initial, .exchangeStart, .exchange, .loading, .full])

        // The router-LSA follows §12.4.1.1: a ptp link to the neighbor, the subnet as a stub,
        // and the loopback as a host route.
        let lsa = try #require(a.lsa(OSPFLSAKey(type: .router, linkStateID: OSPFAddress(1, 1, 1, 1),
                                                advertisingRouter: OSPFAddress(1, 1, 1, 1)), now: network.now))
        let body = try #require(OSPFRouterLSA(body: lsa.body))
        #expect(Set(body.links) == [
            .init(linkID: OSPFAddress(1, 1, 1, 1), linkData: OSPFAddress(255, 255, 255, 255), type: .stub, metric: 0),
            .init(linkID: OSPFAddress(2, 2, 2, 2), linkData: OSPFAddress(10, 0, 0, 1), type: .pointToPoint, metric: 10),
            .init(linkID: OSPFAddress(10, 0, 0, 0), linkData: OSPFAddress(255, 255, 255, 252), type: .stub, metric: 10),
        ])
        #expect(lsa.header.options == .externalRouting)
        #expect(lsa.hasValidChecksum)
    }

    @Test("Every emitted packet would satisfy a strict receiver")
    func emittedPacketsAreWellFormed() {
        let network = Self.pointToPointPair(seed: 2)
        network.recordedPackets = []
        network.run(for: .seconds(20))
        let probe = PacketProbe()
        for packet in network.recordedPackets ?? [] { probe.check(packet) }
        let types = Set((network.recordedPackets ?? []).map(\.type))
        #expect(types == Set(OSPFPacketType.allCases))
        #expect(probe.failures.isEmpty, "\(probe.failures)")
    }

    @Test("An MTU larger than ours in a DD stops the exchange in ExStart and is counted")
    func mtuMismatch() {
        let network = Self.pointToPointPair(mtuA: 1500, mtuB: 1400)
        network.run(for: .seconds(20))
        let b = network.routers[1]
        #expect(b.counters[.mtuMismatch] > 0)
        #expect(b.neighborStates(on: Self.link)[OSPFAddress(1, 1, 1, 1)] == .exchangeStart)
        #expect(network.routers[0].neighborStates(on: Self.link)[OSPFAddress(2, 2, 2, 2)] != .full)
    }

    @Test("Hello parameter mismatches are dropped and counted")
    func helloMismatch() {
        let network = Self.pointToPointPair()
        var configuration = network.routers[1].configuration
        configuration.interfaces[1].routerDeadInterval = 40
        network.handle(network.routers[1].reconfigure(configuration, now: network.now), from: 1)
        network.run(for: .seconds(10))
        #expect(network.routers[0].counters[.deadIntervalMismatch] > 0)
        #expect(network.routers[0].neighborStates(on: Self.link).isEmpty)
    }

    @Test("Simple password authentication: match forms an adjacency, mismatch is counted")
    func simplePassword() {
        let good = Self.pointToPointPair(authenticationA: .simplePassword(Array("s3cret".utf8)),
                                         authenticationB: .simplePassword(Array("s3cret".utf8)))
        good.run(for: .seconds(15))
        #expect(good.routers[0].neighborStates(on: Self.link)[OSPFAddress(2, 2, 2, 2)] == .full)
        let bad = Self.pointToPointPair(authenticationA: .simplePassword(Array("s3cret".utf8)),
                                        authenticationB: .simplePassword(Array("other".utf8)))
        bad.run(for: .seconds(15))
        #expect(bad.routers[0].neighborStates(on: Self.link).isEmpty)
        #expect(bad.routers[0].counters[.authenticationFailure] > 0)
    }

    @Test("Link loss: the neighbor dies after RouterDeadInterval and its routes are withdrawn")
    func linkLoss() {
        let network = Self.pointToPointPair()
        network.run(for: .seconds(15))
        #expect(network.routers[0].routingTable.count == 3)
        network.segments[0].connected = false
        network.run(for: .seconds(3))
        #expect(network.routers[0].neighborStates(on: Self.link)[OSPFAddress(2, 2, 2, 2)] == .full)
        network.run(for: .seconds(10))
        #expect(network.routers[0].neighborStates(on: Self.link).isEmpty)
        let prefixes = Set(network.routers[0].routingTable.map(\.prefix))
        #expect(!prefixes.contains(OSPFPrefix(address: OSPFAddress(2, 2, 2, 2), length: 32)))
        #expect(network.tablesFromActions[0].count == network.routers[0].routingTable.count)
        // B's router-LSA stays in A's database (unreachable) until it ages out.
        network.segments[0].connected = true
        network.run(for: .seconds(20))
        #expect(network.routers[0].neighborStates(on: Self.link)[OSPFAddress(2, 2, 2, 2)] == .full)
        #expect(network.routers[0].routingTable.count == 3)
    }

    @Test("Broadcast LAN of three: DR/BDR elected per §9.4, all adjacent to both, network-LSA")
    func broadcastLAN() throws {
        let network = VirtualNetwork(seed: 3)
        let lan = OSPFPrefix(address: OSPFAddress(192, 168, 1, 0), length: 24)
        var members: [VirtualNetwork.Attachment] = []
        let priorities: [UInt8] = [1, 1, 0]
        for index in 0..<3 {
            let n = UInt8(index + 1)
            let address = OSPFAddress(192, 168, 1, n)
            let router = network.addRouter(OSPFConfiguration(routerID: OSPFAddress(n, n, n, n), interfaces: [
                testInterface(0, .loopback, OSPFAddress(n, n, n, n), 32),
                testInterface(1, .broadcast, address, 24, cost: 5, priority: priorities[index]),
            ]))
            members.append(.init(router: router, interface: Self.link, address: address))
        }
        network.addSegment(members, prefix: lan, isLAN: true)
        for router in 0..<3 {
            network.bringUp(router, Self.loopback)
            network.bringUp(router, Self.link)
        }
        network.run(for: .seconds(30))
        let states = network.routers.map { $0.interfaceState(Self.link) }
        // Highest (priority, Router ID) among eligible routers: 2.2.2.2 DR, 1.1.1.1 BDR.
        #expect(states == [.backup, .designatedRouter, .drOther])
        for router in network.routers {
            #expect(router.neighborStates(on: Self.link).values.allSatisfy { $0 == .full },
                    "\(router.routerID): \(router.neighborStates(on: Self.link))")
            let snapshot = router.snapshot(now: network.now)
            #expect(snapshot.interfaces[1].designatedRouter == OSPFAddress(192, 168, 1, 2))
            #expect(snapshot.interfaces[1].backupDesignatedRouter == OSPFAddress(192, 168, 1, 1))
        }
        let dr = network.routers[1]
        let networkLSA = try #require(dr.lsa(OSPFLSAKey(type: .network, linkStateID: OSPFAddress(192, 168, 1, 2),
                                                        advertisingRouter: OSPFAddress(2, 2, 2, 2)), now: network.now))
        let body = try #require(OSPFNetworkLSA(body: networkLSA.body))
        #expect(body.networkMask == OSPFAddress(255, 255, 255, 0))
        #expect(body.attachedRouters == [OSPFAddress(2, 2, 2, 2), OSPFAddress(1, 1, 1, 1), OSPFAddress(3, 3, 3, 3)])
        // Router 3 reaches router 1's loopback across the LAN at router 1's LAN address.
        let routes = Dictionary(uniqueKeysWithValues: network.routers[2].routingTable.map { ($0.prefix, $0) })
        let toOne = try #require(routes[OSPFPrefix(address: OSPFAddress(1, 1, 1, 1), length: 32)])
        #expect(toOne.cost == 5)
        #expect(toOne.nextHops == [OSPFNextHop(interface: Self.link, gateway: OSPFAddress(192, 168, 1, 1))])
        #expect(routes[lan]?.nextHops == [OSPFNextHop(interface: Self.link, gateway: nil)])
        #expect(routes[lan]?.cost == 5)
        let databases = network.routers.map { $0.databaseSnapshot(now: network.now).map { "\($0.key) \($0.sequenceNumber) \($0.checksum)" } }
        #expect(databases[0] == databases[1] && databases[1] == databases[2])
        #expect(databases[0].count == 4)

        // The DR leaves: the BDR takes over, the DROther becomes BDR, routes survive.
        network.bringDown(1, Self.link)
        network.run(for: .seconds(30))
        #expect(network.routers[0].interfaceState(Self.link) == .designatedRouter)
        #expect(network.routers[2].interfaceState(Self.link) == .drOther)  // priority 0 never becomes BDR
        let after = Dictionary(uniqueKeysWithValues: network.routers[2].routingTable.map { ($0.prefix, $0) })
        #expect(after[OSPFPrefix(address: OSPFAddress(1, 1, 1, 1), length: 32)]?.cost == 5)
        #expect(after[OSPFPrefix(address: OSPFAddress(2, 2, 2, 2), length: 32)] == nil)
    }
}

/// Re-parses emitted packets the way a strict peer (e.g. BIRD) would.
final class PacketProbe {
    var failures: [String] = []

    func check(_ packet: OSPFOutboundPacket) {
        do {
            let (header, parsed) = try OSPFPacket.parse(packet.bytes)
            if Int(header.length) != packet.bytes.count { failures.append("length \(header.length) vs \(packet.bytes.count)") }
            if !OSPFPacketChecksum.verify(packet.bytes, length: packet.bytes.count) { failures.append("checksum") }
            if packet.bytes.count + 20 > 1500 { failures.append("exceeds MTU") }
            switch parsed.body {
            case .hello(let hello):
                if !hello.options.contains(.externalRouting) { failures.append("hello without E-bit") }
            case .databaseDescription(let dd):
                if dd.interfaceMTU != 1500 { failures.append("DD MTU \(dd.interfaceMTU)") }
                if !dd.options.contains(.externalRouting) { failures.append("DD without E-bit") }
            case .linkStateUpdate(let update):
                for lsa in update.lsas where !lsa.hasValidChecksum || !lsa.hasWellFormedBody {
                    failures.append("bad LSA \(lsa.key)")
                }
            default:
                break
            }
        } catch {
            failures.append("unparseable: \(error)")
        }
    }
}
