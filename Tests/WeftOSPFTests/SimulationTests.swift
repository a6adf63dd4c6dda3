import Testing
@testable import WeftOSPF

/// A deterministic simulation of a large OSPF domain on the virtual network: a ring with
/// random chords (point-to-point links) plus LANs, seeded loss and delay, partitions, link
/// flaps and heals. After the final heal every router must hold the same database, and every
/// routing table must match an independent Dijkstra over the true topology.
@Suite("Deterministic simulation")
struct SimulationTests {
    struct Port {
        var router: Int
        var interface: OSPFInterfaceID
        var address: OSPFAddress
        var cost: UInt16
    }

    struct Topology {
        var routerCount: Int
        /// Per segment: its prefix, ports and kind.
        var segments: [(prefix: OSPFPrefix, ports: [Port], isLAN: Bool)] = []
        var ports: [[Port]]

        static func routerID(_ index: Int) -> OSPFAddress {
            OSPFAddress(10, 255, UInt8(index >> 8), UInt8(index & 0xFF))
        }

        /// A ring of `routers` point-to-point links, `chords` random extra links, and LANs of
        /// the given sizes over random members.
        init(routers: Int, chords: Int, lanSizes: [Int], rng: inout SplitMix64) {
            routerCount = routers
            ports = Array(repeating: [], count: routers)
            var linked = Set<[Int]>()
            var pairs: [(Int, Int)] = (0..<routers).map { ($0, ($0 + 1) % routers) }
            var attempts = 0
            while pairs.count < routers + chords, attempts < chords * 20 {
                attempts += 1
                let a = Int(rng.below(UInt64(routers))), b = Int(rng.below(UInt64(routers)))
                guard a != b, (a - b + routers) % routers != 1, (b - a + routers) % routers != 1 else { continue }
                guard linked.insert([min(a, b), max(a, b)]).inserted else { continue }
                pairs.append((a, b))
            }
            for (index, (a, b)) in pairs.enumerated() {
                let base = 0x0A01_0000 + UInt32(index) * 4
                let prefix = OSPFPrefix(address: OSPFAddress(rawValue: base), length: 30)
                var segmentPorts: [Port] = []
                for (offset, router) in [a, b].enumerated() {
                    let port = Port(router: router, interface: OSPFInterfaceID(UInt32(ports[router].count + 1)),
                                    address: OSPFAddress(rawValue: base + 1 + UInt32(offset)),
                                    cost: UInt16(1 + rng.below(10)))
                    ports[router].append(port)
                    segmentPorts.append(port)
                }
                segments.append((prefix, segmentPorts, false))
            }
            for (lan, size) in lanSizes.enumerated() {
                var members: [Int] = []
                while members.count < size {
                    let candidate = Int(rng.below(UInt64(routers)))
                    if !members.contains(candidate) { members.append(candidate) }
                }
                let prefix = OSPFPrefix(address: OSPFAddress(10, 2, UInt8(lan), 0), length: 24)
                var segmentPorts: [Port] = []
                for (position, router) in members.enumerated() {
                    let port = Port(router: router, interface: OSPFInterfaceID(UInt32(ports[router].count + 1)),
                                    address: OSPFAddress(10, 2, UInt8(lan), UInt8(position + 1)),
                                    cost: UInt16(1 + rng.below(10)))
                    ports[router].append(port)
                    segmentPorts.append(port)
                }
                segments.append((prefix, segmentPorts, true))
            }
        }

        func configuration(_ router: Int, lanPriorities: [OSPFAddress: UInt8]) -> OSPFConfiguration {
            var interfaces = [testInterface(0, .loopback, Topology.routerID(router), 32)]
            for port in ports[router] {
                let isLAN = segments.first { $0.ports.contains { $0.address == port.address } }?.isLAN ?? false
                interfaces.append(testInterface(port.interface.rawValue, isLAN ? .broadcast : .pointToPoint,
                                                port.address, isLAN ? 24 : 30, cost: port.cost,
                                                priority: lanPriorities[port.address] ?? 1,
                                                mtu: isLAN ? 1500 : 1420))
            }
            return OSPFConfiguration(routerID: Topology.routerID(router), interfaces: interfaces,
                                     spfDelay: .seconds(2))
        }
    }

    /// All-pairs shortest path costs over the true topology (plain Dijkstra per source).
    static func distances(_ topology: Topology) -> [[UInt32]] {
        let n = topology.routerCount
        var edges = Array(repeating: [(to: Int, cost: UInt32)](), count: n)
        for segment in topology.segments {
            for p in segment.ports {
                for q in segment.ports where q.router != p.router { edges[p.router].append((q.router, UInt32(p.cost))) }
            }
        }
        var result: [[UInt32]] = []
        for source in 0..<n {
            var distance = Array(repeating: UInt32.max, count: n)
            var done = Array(repeating: false, count: n)
            distance[source] = 0
            for _ in 0..<n {
                var best = -1
                for v in 0..<n where !done[v] && distance[v] != .max && (best < 0 || distance[v] < distance[best]) { best = v }
                if best < 0 { break }
                done[best] = true
                for edge in edges[best] where distance[best] + edge.cost < distance[edge.to] {
                    distance[edge.to] = distance[best] + edge.cost
                }
            }
            result.append(distance)
        }
        return result
    }

    /// Runs the scenario and returns the network and topology for verification.
    static func simulate(seed: UInt64, routers: Int, chords: Int, lanSizes: [Int],
                         disturbanceRounds: Int, observe: ((VirtualNetwork, Int) -> Void)? = nil) -> (VirtualNetwork, Topology) {
        var rng = SplitMix64(seed: seed)
        let topology = Topology(routers: routers, chords: chords, lanSizes: lanSizes, rng: &rng)
        var priorities: [OSPFAddress: UInt8] = [:]
        for segment in topology.segments where segment.isLAN {
            for (index, port) in segment.ports.enumerated() {
                // A mix of priorities, including ineligible routers, but never an ineligible LAN.
                priorities[port.address] = index == 0 ? 1 : UInt8(rng.below(3))
            }
        }
        let network = VirtualNetwork(seed: seed ^ 0x5EED)
        if let observe { network.observer = { [unowned network] in observe(network, $0) } }
        for router in 0..<routers { network.addRouter(topology.configuration(router, lanPriorities: priorities)) }
        for (index, segment) in topology.segments.enumerated() {
            network.addSegment(segment.ports.map { .init(router: $0.router, interface: $0.interface, address: $0.address) },
                               prefix: segment.prefix, isLAN: segment.isLAN)
            _ = index
        }
        // Start routers at staggered times, under 2 % loss and up to 20 ms of jitter.
        network.lossRate = 0.02
        network.jitterMilliseconds = 20
        let starts = (0..<routers).map { ($0, rng.below(2_000)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        for (router, millisecond) in starts {
            network.run(until: .zero + .milliseconds(millisecond))
            network.bringUp(router, OSPFInterfaceID(0))
            for port in topology.ports[router] { network.bringUp(router, port.interface) }
        }
        network.run(until: .seconds(30))

        for _ in 0..<disturbanceRounds {
            // Partition the ring into arcs, and cut a few random segments on top.
            let groups = 2 + Int(rng.below(2))
            let offset = Int(rng.below(UInt64(routers)))
            for router in 0..<routers { network.partition[router] = ((router + offset) % routers) * groups / routers }
            var cut: [Int] = []
            for _ in 0..<4 {
                let segment = Int(rng.below(UInt64(network.segments.count)))
                network.segments[segment].connected = false
                cut.append(segment)
            }
            network.run(for: .seconds(12))
            // Heal the partition but keep the cuts; flap a few interfaces.
            for router in 0..<routers { network.partition[router] = 0 }
            network.run(for: .seconds(6))
            var flapped: [(Int, OSPFInterfaceID)] = []
            for _ in 0..<3 {
                let router = Int(rng.below(UInt64(routers)))
                guard let port = topology.ports[router].first else { continue }
                network.bringDown(router, port.interface)
                flapped.append((router, port.interface))
            }
            network.run(for: .seconds(5))
            for (router, interface) in flapped { network.bringUp(router, interface) }
            for segment in cut { network.segments[segment].connected = true }
            network.run(for: .seconds(5))
        }
        // Final heal: no loss, everything connected; let the domain converge.
        network.lossRate = 0
        network.run(for: .seconds(60))
        return (network, topology)
    }

    static func verify(_ network: VirtualNetwork, _ topology: Topology) {
        let now = network.now
        let n = topology.routerCount
        // 1. Adjacencies: Full on every ptp link; on LANs everyone is Full with DR and BDR.
        for segment in topology.segments {
            for port in segment.ports {
                let states = network.routers[port.router].neighborStates(on: port.interface)
                let expectedNeighbors = Set(segment.ports.filter { $0.router != port.router }
                    .map { Topology.routerID($0.router) })
                #expect(Set(states.keys) == expectedNeighbors, "router \(port.router) on \(segment.prefix)")
                if !segment.isLAN {
                    #expect(states.values.allSatisfy { $0 == .full }, "router \(port.router) on \(segment.prefix)")
                }
            }
            if segment.isLAN {
                let views = segment.ports.map { network.routers[$0.router].snapshot(now: now).interfaces
                    .first { $0.id == $0.id && $0.address == $0.address && $0.prefix == segment.prefix }! }
                let dr = views[0].designatedRouter
                #expect(dr != .unspecified)
                #expect(views.allSatisfy { $0.designatedRouter == dr && $0.backupDesignatedRouter == views[0].backupDesignatedRouter })
                #expect(views.filter { $0.state == .designatedRouter }.count == 1)
            }
        }
        // 2. Interface state changes are reported once each: every report is a change, each
        //    starts where the previous one ended, and the last ends in the current state.
        for router in 0..<n {
            let states = Dictionary(uniqueKeysWithValues: network.routers[router].snapshot(now: now).interfaces.map { ($0.id, $0.state) })
            var current: [OSPFInterfaceID: OSPFInterfaceState] = [:]
            for change in network.interfaceTransitions[router] {
                #expect(change.from != change.to, "router \(router) \(change.interface): \(change.from) -> \(change.to) reported")
                #expect(change.from == current[change.interface] ?? .down,
                        "router \(router) \(change.interface): \(change.from) -> \(change.to) after \(current[change.interface] ?? .down)")
                current[change.interface] = change.to
            }
            for (interface, state) in states {
                #expect(current[interface] ?? .down == state, "router \(router) \(interface) is \(state), last reported \(current[interface] ?? .down)")
            }
        }
        // 3. Identical databases: same LSAs by key, sequence number and checksum.
        let databases = network.routers.map { router in
            router.databaseSnapshot(now: now).map { "\($0.key) \($0.sequenceNumber) \($0.checksum) \($0.age >= 3600)" }
        }
        for index in 1..<n where databases[index] != databases[0] {
            let a = Set(databases[0]), b = Set(databases[index])
            Issue.record("database of router \(index) differs: only in 0: \(a.subtracting(b)), only here: \(b.subtracting(a))")
        }
        #expect(databases[0].count >= n)

        // 4. Routes equal an independent Dijkstra; every next hop lies on a shortest path, and
        //    every shortest path's first hop is present (ECMP complete).
        let distance = Self.distances(topology)
        var owners: [OSPFPrefix: [(router: Int, cost: UInt32, port: Port?)]] = [:]
        for router in 0..<n {
            owners[OSPFPrefix(address: Topology.routerID(router), length: 32), default: []].append((router, 0, nil))
        }
        for segment in topology.segments {
            for port in segment.ports { owners[segment.prefix, default: []].append((port.router, UInt32(port.cost), port)) }
        }
        func cost(_ source: Int, _ prefix: OSPFPrefix) -> UInt32 {
            owners[prefix]!.map { distance[source][$0.router] + $0.cost }.min()!
        }
        var neighborsOf = Array(repeating: [(port: Port, peer: Port)](), count: n)
        for segment in topology.segments {
            for p in segment.ports { for q in segment.ports where q.router != p.router { neighborsOf[p.router].append((p, q)) } }
        }
        var routerOfAddress: [OSPFAddress: Int] = [:]
        for segment in topology.segments { for port in segment.ports { routerOfAddress[port.address] = port.router } }
        var mismatches = 0
        let tables = network.routers.map { router in
            Dictionary(uniqueKeysWithValues: router.routingTable.map { ($0.prefix, $0) })
        }
        var costs: [OSPFPrefix: [UInt32]] = [:]
        for prefix in owners.keys { costs[prefix] = (0..<n).map { cost($0, prefix) } }
        for source in 0..<n {
            let table = tables[source]
            #expect(table == network.tablesFromActions[source], "route actions of router \(source) disagree with its table")
            #expect(Set(table.keys) == Set(owners.keys))
            for (prefix, prefixOwners) in owners {
                guard let route = table[prefix] else { continue }
                let prefixCosts = costs[prefix]!
                let expectedCost = prefixCosts[source]
                var expectedHops = Set<OSPFNextHop>()
                let isLocal = prefixOwners.contains { $0.router == source && $0.port == nil }
                for owner in prefixOwners where owner.router == source && owner.cost == expectedCost {
                    if let port = owner.port { expectedHops.insert(OSPFNextHop(interface: port.interface, gateway: nil)) }
                }
                if !isLocal {
                    for (port, peer) in neighborsOf[source] where UInt32(port.cost) + prefixCosts[peer.router] == expectedCost {
                        expectedHops.insert(OSPFNextHop(interface: port.interface, gateway: peer.address))
                    }
                }
                if route.cost != expectedCost || Set(route.nextHops) != expectedHops {
                    mismatches += 1
                    if mismatches <= 5 {
                        Issue.record("router \(source) \(prefix): got \(route), expected cost \(expectedCost) via \(expectedHops.sorted())")
                    }
                }
                // Loop freedom: following first next hops reaches an owner with decreasing cost.
                var at = source
                var steps = 0
                while let hop = tables[at][prefix]?.nextHops.first, let gateway = hop.gateway, steps <= n {
                    guard let next = routerOfAddress[gateway] else { break }
                    #expect(prefixCosts[next] < prefixCosts[at])
                    at = next
                    steps += 1
                }
                #expect(steps <= n, "forwarding loop towards \(prefix) from router \(source)")
            }
        }
        #expect(mismatches == 0)
        // 5. Nothing malformed was ever seen.
        for router in network.routers {
            for reason in [OSPFDropReason.badChecksum, .badLength, .badLSA, .badLSAChecksum, .badVersion,
                           .authenticationFailure, .mtuMismatch, .helloIntervalMismatch, .optionsMismatch] {
                #expect(router.counters[reason] == 0, "\(router.routerID) dropped \(reason)")
            }
        }
    }

    @Test("100 routers, ring + chords + 2 LANs: loss, partitions, flaps, heal → converged and correct")
    func largeDomain() {
        let clock = ContinuousClock()
        let start = clock.now
        let (network, topology) = Self.simulate(seed: 20_240_601, routers: 100, chords: 40, lanSizes: [6, 5],
                                                disturbanceRounds: 3)
        let elapsed = clock.now - start
        Self.verify(network, topology)
        print("simulation: \(topology.routerCount) routers, \(topology.segments.count) segments, " +
              "\(network.events) events, \(network.packetsSent) packets, " +
              "\(network.routers.map(\.counters.spfRuns).reduce(0, +)) SPF runs, " +
              "\(network.routers.map(\.counters.lsasOriginated).reduce(0, +)) LSAs originated, virtual \(network.now), wall \(elapsed)")
        let sent = OSPFPacketType.allCases.map { type in
            "\(type) \(network.routers.map { $0.counters.sentCount(type) }.reduce(0, +))"
        }
        var drops: [String] = []
        for reason in OSPFDropReason.allCases {
            let total = network.routers.map { $0.counters[reason] }.reduce(0, +)
            if total > 0 { drops.append("\(reason) \(total)") }
        }
        print("sent: \(sent.joined(separator: ", ")); drops: \(drops.joined(separator: ", "))")
    }

    @Test("The simulation is deterministic: same seed, same packet trace")
    func determinism() {
        let (first, _) = Self.simulate(seed: 7, routers: 20, chords: 8, lanSizes: [4], disturbanceRounds: 1)
        let (second, topology) = Self.simulate(seed: 7, routers: 20, chords: 8, lanSizes: [4], disturbanceRounds: 1)
        #expect(first.trace == second.trace)
        #expect(first.packetsSent == second.packetsSent)
        Self.verify(second, topology)
    }
}
