import Testing
@testable import WeftOSPF

/// Drives one router against a scripted neighbor, packet by packet, through every stage of
/// the neighbor state machine (§10.3) and the database exchange (§10.6–§10.9).
final class ScriptedPeer {
    static let me = OSPFAddress(1, 1, 1, 1)
    static let peer = OSPFAddress(9, 9, 9, 9)
    static let peerAddress = OSPFAddress(10, 0, 0, 2)
    static let link = OSPFInterfaceID(1)

    let router: OSPFRouter
    var now = OSPFInstant.zero
    var sent: [OSPFPacketBody] = []
    var actions: [OSPFAction] = []

    init() {
        router = OSPFRouter(configuration: OSPFConfiguration(routerID: Self.me, interfaces: [
            testInterface(0, .loopback, Self.me, 32),
            testInterface(1, .pointToPoint, OSPFAddress(10, 0, 0, 1), 30),
        ]))
        record(router.interfaceUp(OSPFInterfaceID(0), now: now))
        record(router.interfaceUp(Self.link, now: now))
        record(router.tick(now: now))
    }

    /// While set, `advance` delivers a 2-way Hello from the peer every second.
    var keepAlive = false

    func record(_ new: [OSPFAction]) {
        actions += new
        for case .send(let packet) in new where packet.interface == Self.link {
            if let body = try? OSPFPacket.parse(packet.bytes).packet.body { sent.append(body) }
        }
    }

    /// Delivers a packet from the peer and returns what the router sent in response.
    @discardableResult
    func feed(_ body: OSPFPacketBody) -> [OSPFPacketBody] {
        let before = sent.count
        let bytes = OSPFPacket(routerID: Self.peer, areaID: .backbone, body: body).serialized()
        record(router.receive(bytes, on: Self.link, from: Self.peerAddress, to: .allSPFRouters, now: now))
        return Array(sent[before...])
    }

    /// Ticks run by `advance`, to detect timers that fire without making progress.
    var ticks = 0

    @discardableResult
    func advance(_ duration: OSPFDuration) -> [OSPFPacketBody] {
        let before = sent.count
        let end = now + duration
        var nextHello = now + .seconds(1)
        for _ in 0..<10_000 {
            let timer = router.nextDeadline ?? end
            if keepAlive, nextHello <= end, nextHello <= timer {
                now = nextHello
                nextHello = now + .seconds(1)
                _ = feed(hello(seeing: true))
                continue
            }
            guard timer <= end else { break }
            now = max(now, timer)
            ticks += 1
            record(router.tick(now: now))
        }
        now = end
        return Array(sent[before...])
    }

    func hello(seeing: Bool) -> OSPFPacketBody {
        .hello(OSPFHello(networkMask: .unspecified, helloInterval: 1, options: .externalRouting, routerPriority: 1,
                         routerDeadInterval: 4, designatedRouter: .unspecified, backupDesignatedRouter: .unspecified,
                         neighbors: seeing ? [Self.me] : []))
    }

    func dd(_ flags: OSPFDatabaseDescription.Flags, _ sequence: UInt32, _ headers: [OSPFLSAHeader] = [],
            mtu: UInt16 = 1500) -> OSPFPacketBody {
        .databaseDescription(OSPFDatabaseDescription(interfaceMTU: mtu, options: .externalRouting, flags: flags,
                                                     sequenceNumber: sequence, lsaHeaders: headers))
    }

    var state: OSPFNeighborState? { router.neighborStates(on: Self.link)[Self.peer] }

    /// The peer's router-LSA: a ptp link back to us, its side of the subnet, its loopback.
    static func peerRouterLSA(sequence: Int32) -> OSPFLSA {
        OSPFLSA(type: .router, linkStateID: peer, advertisingRouter: peer, sequenceNumber: sequence,
                options: .externalRouting, body: OSPFRouterLSA(flags: [.asBoundary, .areaBorder], links: [
                    .init(linkID: me, linkData: peerAddress, type: .pointToPoint, metric: 3),
                    .init(linkID: OSPFAddress(10, 0, 0, 0), linkData: OSPFAddress(255, 255, 255, 252), type: .stub, metric: 3),
                    .init(linkID: peer, linkData: OSPFAddress(255, 255, 255, 255), type: .stub, metric: 1),
                ]).encoded)
    }

    /// A summary-LSA body (§A.4.4): mask, then TOS 0 and a 24-bit metric.
    static func summaryBody(mask: OSPFAddress, metric: UInt32) -> [UInt8] {
        var writer = WireWriter()
        writer.address(mask)
        writer.u32(metric & 0xFF_FFFF)
        return writer.bytes
    }

    /// As an area border router the peer summarizes another area's network and its ASBR…
    static let summaryLSA = OSPFLSA(
        type: .summaryNetwork, linkStateID: OSPFAddress(198, 51, 100, 0), advertisingRouter: peer,
        sequenceNumber: OSPFConstants.initialSequenceNumber, options: .externalRouting,
        body: summaryBody(mask: OSPFAddress(255, 255, 255, 0), metric: 5))
    static let asbrSummaryLSA = OSPFLSA(
        type: .summaryASBR, linkStateID: OSPFAddress(5, 5, 5, 5), advertisingRouter: peer,
        sequenceNumber: OSPFConstants.initialSequenceNumber, options: .externalRouting,
        body: summaryBody(mask: .unspecified, metric: 4))
    /// …whose type 1 external is then reachable through the peer.
    static let remoteExternalLSA = OSPFLSA(
        type: .asExternal, linkStateID: OSPFAddress(203, 0, 113, 0), advertisingRouter: OSPFAddress(5, 5, 5, 5),
        sequenceNumber: OSPFConstants.initialSequenceNumber, options: .externalRouting,
        body: OSPFASExternalLSA(networkMask: OSPFAddress(255, 255, 255, 0), isType2: false, metric: 7,
                                forwardingAddress: .unspecified, routeTag: 0).encoded)

    static let externalLSA = OSPFLSA(
        type: .asExternal, linkStateID: OSPFAddress(172, 16, 0, 0), advertisingRouter: peer,
        sequenceNumber: OSPFConstants.initialSequenceNumber, options: .externalRouting,
        body: OSPFASExternalLSA(networkMask: OSPFAddress(255, 255, 0, 0), isType2: true, metric: 20,
                                forwardingAddress: .unspecified, routeTag: 0).encoded)
}

@Suite("Neighbor state machine (§10)")
struct NeighborTests {
    @Test("Down → Init → ExStart → Exchange (slave) → Loading → Full, then the error events")
    func fullLifecycle() throws {
        let peer = ScriptedPeer()
        #expect(peer.sent.contains { if case .hello = $0 { true } else { false } })

        // 1-way Hello: Init.
        peer.keepAlive = true
        peer.feed(peer.hello(seeing: false))
        #expect(peer.state == .initial)
        // 2-way Hello on a ptp link: an adjacency is wanted, ExStart, initial DD as master.
        let exStart = peer.feed(peer.hello(seeing: true))
        #expect(peer.state == .exchangeStart)
        guard case .databaseDescription(let initial)? = exStart.last else { Issue.record("no DD"); return }
        #expect(initial.flags == [.initial, .more, .master] && initial.lsaHeaders.isEmpty)
        #expect(initial.interfaceMTU == 1500 && initial.options == .externalRouting)

        // A DD larger than our MTU is rejected (§10.6) and changes nothing.
        peer.feed(peer.dd([.initial, .more, .master], 5000, mtu: 9000))
        #expect(peer.state == .exchangeStart && peer.router.counters[.mtuMismatch] == 1)

        // The peer has the higher Router ID: it is master; we echo its sequence number.
        let slaveReply = peer.feed(peer.dd([.initial, .more, .master], 5000))
        #expect(peer.state == .exchange)
        guard case .databaseDescription(let first)? = slaveReply.last else { Issue.record("no reply"); return }
        #expect(first.sequenceNumber == 5000 && !first.flags.contains(.master) && !first.flags.contains(.initial))
        #expect(first.lsaHeaders.map(\.key) == [OSPFLSAKey(type: .router, linkStateID: ScriptedPeer.me,
                                                           advertisingRouter: ScriptedPeer.me)])
        #expect(!first.flags.contains(.more))

        // A wrong sequence number from the master is SeqNumberMismatch… checked later; first the
        // good path: the master describes its router-LSA and the external, and stops.
        let peerLSA = ScriptedPeer.peerRouterLSA(sequence: OSPFConstants.initialSequenceNumber + 2)
        let replies = peer.feed(peer.dd([.master], 5001, [peerLSA.header, ScriptedPeer.externalLSA.header]))
        #expect(peer.state == .loading)
        let request = replies.compactMap { body -> OSPFLinkStateRequest? in
            if case .linkStateRequest(let request) = body { request } else { nil }
        }
        #expect(request.first?.requests == [peerLSA.key, ScriptedPeer.externalLSA.key])
        let echoes = replies.compactMap { body -> OSPFDatabaseDescription? in
            if case .databaseDescription(let dd) = body { dd } else { nil }
        }
        #expect(echoes.map(\.sequenceNumber) == [5001])

        // A duplicate from the master makes the slave repeat its last DD (§10.6).
        let repeated = peer.feed(peer.dd([.master], 5001, [peerLSA.header, ScriptedPeer.externalLSA.header]))
        #expect(repeated == [.databaseDescription(echoes[0])])
        #expect(peer.state == .loading)

        // The request is retransmitted after RxmtInterval if unanswered (§10.9).
        let retransmitted = peer.advance(.milliseconds(2_100))
        #expect(retransmitted.contains { if case .linkStateRequest = $0 { true } else { false } })

        // The update satisfies the request list: LoadingDone, Full. Unrequested newer LSAs in
        // the same update are simply accepted.
        peer.feed(.linkStateUpdate(OSPFLinkStateUpdate(lsas: [
            peerLSA, ScriptedPeer.externalLSA, ScriptedPeer.summaryLSA, ScriptedPeer.asbrSummaryLSA,
            ScriptedPeer.remoteExternalLSA,
        ])))
        #expect(peer.state == .full)
        // The same instance again is a duplicate not on any list: a direct ack (§13.5).
        let direct = peer.feed(.linkStateUpdate(OSPFLinkStateUpdate(lsas: [peerLSA])))
        #expect(direct == [.linkStateAcknowledgment(OSPFLinkStateAcknowledgment(lsaHeaders: [peerLSA.header]))])

        // MinLSInterval: our router-LSA listing the new adjacency comes 5 s after the first one;
        // it is flooded and retransmitted until acknowledged; the delayed ack goes out too.
        let later = peer.advance(.seconds(6))
        let updates = later.compactMap { body -> OSPFLinkStateUpdate? in
            if case .linkStateUpdate(let update) = body { update } else { nil }
        }
        let ours = try #require(updates.first?.lsas.first)
        #expect(ours.header.advertisingRouter == ScriptedPeer.me)
        #expect(ours.header.sequenceNumber == OSPFConstants.initialSequenceNumber + 1)
        #expect(ours.header.age == 1 + 5 || ours.header.age == 1)  // aged by InfTransDelay
        #expect(later.contains { if case .linkStateAcknowledgment = $0 { true } else { false } })
        #expect(updates.count >= 2, "retransmitted while unacknowledged")
        peer.feed(.linkStateAcknowledgment(OSPFLinkStateAcknowledgment(lsaHeaders: [ours.header])))
        let quiet = peer.advance(.seconds(3))
        #expect(!quiet.contains { if case .linkStateUpdate = $0 { true } else { false } })

        // Routes: the peer's loopback over the link, the external route as type 2 (§16.4).
        let routes = Dictionary(uniqueKeysWithValues: peer.router.routingTable.map { ($0.prefix, $0) })
        let hop = OSPFNextHop(interface: ScriptedPeer.link, gateway: ScriptedPeer.peerAddress)
        #expect(routes[OSPFPrefix(address: ScriptedPeer.peer, length: 32)]
                == OSPFRoute(prefix: OSPFPrefix(address: ScriptedPeer.peer, length: 32), pathType: .intraArea,
                             cost: 11, nextHops: [hop]))
        #expect(routes[OSPFPrefix(address: OSPFAddress(172, 16, 0, 0), length: 16)]
                == OSPFRoute(prefix: OSPFPrefix(address: OSPFAddress(172, 16, 0, 0), length: 16), pathType: .external2,
                             cost: 10, type2Cost: 20, nextHops: [hop]))
        // Inter-area (§16.2): 10 to the ABR + 5; external via the ASBR summary: 10 + 4 + 7.
        #expect(routes[OSPFPrefix(address: OSPFAddress(198, 51, 100, 0), length: 24)]
                == OSPFRoute(prefix: OSPFPrefix(address: OSPFAddress(198, 51, 100, 0), length: 24), pathType: .interArea,
                             cost: 15, nextHops: [hop]))
        #expect(routes[OSPFPrefix(address: OSPFAddress(203, 0, 113, 0), length: 24)]
                == OSPFRoute(prefix: OSPFPrefix(address: OSPFAddress(203, 0, 113, 0), length: 24), pathType: .external1,
                             cost: 21, nextHops: [hop]))

        // Full + a DD that is not a duplicate: SeqNumberMismatch, back to ExStart as master.
        let restart = peer.feed(peer.dd([.master], 7000))
        #expect(peer.state == .exchangeStart)
        guard case .databaseDescription(let again)? = restart.last else { Issue.record("no new DD"); return }
        // §10.3: the sequence number in the neighbor structure (the master's, 5001) is advanced.
        #expect(again.flags == [.initial, .more, .master] && again.sequenceNumber == 5002)

        // Exchange again, then a request for an LSA we do not have: BadLSReq, ExStart.
        peer.feed(peer.dd([.initial, .more, .master], 6000))
        #expect(peer.state == .exchange)
        peer.feed(.linkStateRequest(OSPFLinkStateRequest(requests: [
            OSPFLSAKey(type: .router, linkStateID: OSPFAddress(7, 7, 7, 7), advertisingRouter: OSPFAddress(7, 7, 7, 7)),
        ])))
        #expect(peer.state == .exchangeStart)

        // In Exchange, a master DD with the wrong sequence number is SeqNumberMismatch.
        peer.feed(peer.dd([.initial, .more, .master], 8000))
        #expect(peer.state == .exchange)
        peer.feed(peer.dd([.master], 8005))
        #expect(peer.state == .exchangeStart)

        // A Hello that no longer lists us: 1-WayReceived, back to Init.
        peer.keepAlive = false
        peer.feed(peer.hello(seeing: false))
        #expect(peer.state == .initial)
        // Silence for RouterDeadInterval: InactivityTimer, Down, and the neighbor is forgotten.
        peer.advance(.seconds(5))
        #expect(peer.state == nil)
        let downs = peer.actions.compactMap { action -> OSPFNeighborTransition? in
            if case .neighborStateChanged(let transition) = action { transition } else { nil }
        }
        #expect(downs.last?.to == .down)
        #expect(peer.router.routingTable.allSatisfy { $0.prefix != OSPFPrefix(address: ScriptedPeer.peer, length: 32) })
    }

    @Test("An old, aged copy of our own LSA with a higher sequence number is superseded (§13.4)")
    func staleSelfOriginated() throws {
        let peer = ScriptedPeer()
        peer.keepAlive = true
        peer.feed(peer.hello(seeing: true))
        peer.feed(peer.dd([.initial, .more, .master], 100))
        peer.feed(peer.dd([.master], 101))
        #expect(peer.state == .full)
        var stale = OSPFLSA(type: .router, linkStateID: ScriptedPeer.me, advertisingRouter: ScriptedPeer.me,
                            sequenceNumber: OSPFConstants.initialSequenceNumber + 10, options: .externalRouting,
                            body: OSPFRouterLSA(links: []).encoded)
        stale.header.age = 1_900
        peer.feed(.linkStateUpdate(OSPFLinkStateUpdate(lsas: [stale])))
        let ticksBefore = peer.ticks
        peer.advance(.seconds(8))
        let ours = try #require(peer.router.lsa(stale.key, now: peer.now))
        #expect(ours.header.sequenceNumber == OSPFConstants.initialSequenceNumber + 11)
        #expect(ours.header.age < 8)
        #expect(try #require(OSPFRouterLSA(body: ours.body)).links.count == 3)
        // The pending refresh of the received copy must not make the timer spin.
        #expect(peer.ticks - ticksBefore < 60)
    }

    @Test("As master (higher Router ID) the router drives the exchange and retransmits its DDs")
    func masterSide() {
        let peer = ScriptedPeer()
        peer.feed(peer.hello(seeing: true))
        // A peer with a lower Router ID than ours would answer our initial DD as slave.
        let lowPeer = OSPFAddress(0, 0, 0, 9)
        let router = peer.router
        let bytes = { (body: OSPFPacketBody) in
            OSPFPacket(routerID: lowPeer, areaID: .backbone, body: body).serialized()
        }
        var sent: [OSPFPacketBody] = []
        func deliver(_ body: OSPFPacketBody) {
            for case .send(let packet) in router.receive(bytes(body), on: ScriptedPeer.link, from: OSPFAddress(10, 0, 0, 2),
                                                         to: .allSPFRouters, now: peer.now) {
                if let body = try? OSPFPacket.parse(packet.bytes).packet.body { sent.append(body) }
            }
        }
        // The new Router ID replaces the old neighbor on this ptp link.
        deliver(peer.hello(seeing: true))
        #expect(router.neighborStates(on: ScriptedPeer.link) == [lowPeer: .exchangeStart])
        guard case .databaseDescription(let initial)? = sent.last else { Issue.record("no DD"); return }
        // Unanswered, the master repeats its DD every RxmtInterval (§10.8).
        let repeated = peer.advance(.milliseconds(2_100))
        #expect(repeated.contains(.databaseDescription(initial)))
        deliver(peer.dd([], initial.sequenceNumber))
        #expect(router.neighborStates(on: ScriptedPeer.link) == [lowPeer: .exchange])
        guard case .databaseDescription(let next)? = sent.last else { Issue.record("no DD"); return }
        #expect(next.flags == [.master] && next.sequenceNumber == initial.sequenceNumber + 1)
        #expect(next.lsaHeaders.count == 1)
        // The slave's final, empty answer ends the exchange: nothing to load, Full.
        deliver(peer.dd([], next.sequenceNumber))
        #expect(router.neighborStates(on: ScriptedPeer.link) == [lowPeer: .full])
    }
}
