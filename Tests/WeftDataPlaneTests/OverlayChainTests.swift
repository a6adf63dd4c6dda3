// End-to-end through three routers, A — hub — B (see OverlayChain): address resolution,
// forwarding with TTL / hop limit decrement at the hub, ICMP errors, OSPF as control traffic.

import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct OverlayChainTests {
    typealias O = OverlayFixture
    typealias C = OverlayChain
    typealias F = PacketFixture

    /// The inner frame of an outer packet that `link` of `node` sends, as its peer decodes it.
    static func frame(_ outer: [UInt8], sentBy node: C.Node, on link: LinkID) throws -> (VXLANFrame, [UInt8]) {
        let peer = try #require(C.peer(of: node, on: link))
        let tunnel = try #require(C.router(peer).link(link)).tunnel
        let frame = try F.decapsulate(outer, tunnel: tunnel).get()
        return (frame, Array(outer[frame.payload]))
    }

    static func mac(_ node: C.Node, _ link: LinkID) -> MACAddress {
        C.router(node).link(link)!.tunnel.localMAC
    }

    static func single(_ arrivals: [C.Arrival], sourceLocation: SourceLocation = #_sourceLocation) throws -> C.Arrival {
        try #require(arrivals.count == 1, "arrivals: \(arrivals.map { ($0.node, $0.outcome.action) })",
                     sourceLocation: sourceLocation)
        return arrivals[0]
    }

    // MARK: IPv4

    @Test func firstPacketTriggersARPThenPingsCrossTheHub() throws {
        var chain = OverlayChain()
        let ping = O.ping4(from: C.aHost, to: C.bHost)

        // A does not know the hub's MAC yet: the ping is dropped and its buffer carries an ARP
        // request for the next hop (the hub's link address) instead.
        let first = O.fromTUN(&chain.routers[0], ping)
        guard case .toLink(C.link1, _) = first.action else {
            Issue.record("expected an ARP request on link 1, got \(first.action)")
            return
        }
        let (arpFrame, arp) = try Self.frame(first.bytes!, sentBy: .a, on: C.link1)
        #expect(arpFrame.ethernet.destination == .broadcast)
        #expect(arpFrame.ethernet.source == Self.mac(.a, C.link1))
        #expect(arpFrame.ethernet.etherType == .arp)
        let request = try arp.withUnsafeBytes { bytes throws(NeighborDropReason) in try ARPPacket(parsing: bytes) }
        #expect(request.operation == .request)
        #expect(request.senderAddress == C.aLink1)
        #expect(request.targetAddress == C.hubLink1)
        #expect(chain[.a].counters(of: C.link1)?.drops[.neighborUnresolved] == 1)
        #expect(chain[.a].counters.drops[.neighborUnresolved] == 1)

        // The hub answers; A learns the hub's MAC from the reply.
        let resolved = try Self.single(chain.follow(first, from: .a))
        #expect(resolved.node == .a && resolved.outcome.action == .consumed)
        #expect(chain[.a].snapshot.links[0].peerMAC == Self.mac(.hub, C.link1))

        // The second ping reaches the hub, which resolves B the same way on link 2.
        let second = try Self.single(chain.send(ping))
        #expect(second.node == .hub && second.outcome.action == .consumed)
        #expect(second.hops == 3)
        #expect(chain[.hub].counters(of: C.link2)?.drops[.neighborUnresolved] == 1)

        // The third ping arrives at B's TUN, its TTL decremented once, by the hub.
        let third = try Self.single(chain.send(ping))
        #expect(third.node == .b)
        guard case .toTUN = third.outcome.action else {
            Issue.record("expected delivery at B, got \(third.outcome.action)")
            return
        }
        #expect(third.outcome.bytes == O.ping4(from: C.aHost, to: C.bHost, ttl: 63))
        #expect(chain[.hub].counters(of: C.link1)?.forwarded == 1)
        #expect(chain[.b].counters(of: C.link2)?.delivered == 1)
        #expect(chain[.b].counters.tunSentPackets == 1)
    }

    @Test func framesAreStandardVXLANToThePeersMAC() throws {
        var chain = OverlayChain()
        chain.announceAll()
        let ping = O.ping4(from: C.aHost, to: C.bHost)
        let sent = O.fromTUN(&chain.routers[0], ping)
        let outer = try #require(sent.bytes)
        // IPv4 outer header (172.16.1.1 → 172.16.1.2), UDP to 4789, VXLAN I flag and VNI.
        #expect(outer.count == 20 + 8 + 8 + 14 + ping.count)
        #expect(Array(outer[12..<20]) == [172, 16, 1, 1, 172, 16, 1, 2])
        #expect(F.word(outer, at: 22) == 4789)
        #expect(Array(outer[28..<36]) == [0x08, 0, 0, 0] + F.bytes(C.vni1 << 8))
        let (frame, inner) = try Self.frame(outer, sentBy: .a, on: C.link1)
        #expect(frame.ethernet.destination == Self.mac(.hub, C.link1))
        #expect(frame.ethernet.source == Self.mac(.a, C.link1))
        #expect(frame.ethernet.etherType == .ipv4)
        // A is the first hop for its own TUN's traffic: the kernel already decremented the TTL.
        #expect(inner == ping)
        #expect(sent.start! >= 16)

        // Link 2 has IPv6 outer addresses: 70 bytes of headers.
        let transit = O.fromLink(&chain.routers[1], C.link1, outer)
        let forwarded = try #require(transit.bytes)
        #expect(forwarded.count == 40 + 8 + 8 + 14 + ping.count)
        #expect(forwarded[0] >> 4 == 6)
        let (frame2, inner2) = try Self.frame(forwarded, sentBy: .hub, on: C.link2)
        #expect(frame2.ethernet.destination == Self.mac(.b, C.link2))
        #expect(inner2 == O.ping4(from: C.aHost, to: C.bHost, ttl: 63))
    }

    @Test func announcementsOnLinkUpResolveNeighborsBeforeTraffic() throws {
        var chain = OverlayChain()
        // Link 1 has one IPv4 and one IPv6 address: ARP Announcement and unsolicited NA now,
        // the second NA after 1 s, the second ARP and third NA after 2 s.
        let (frames0, next0) = O.tick(&chain.routers[0], now: 0)
        #expect(frames0.count == 2 && frames0.allSatisfy { $0.0 == C.link1 })
        #expect(next0 == 1_000_000_000)
        #expect(O.tick(&chain.routers[0], now: 500_000_000).frames.isEmpty)
        let (frames1, next1) = O.tick(&chain.routers[0], now: 1_000_000_000)
        #expect(frames1.count == 1 && next1 == 2_000_000_000)
        let (frames2, next2) = O.tick(&chain.routers[0], now: 2_000_000_000)
        #expect(frames2.count == 2 && next2 == nil)

        let (announcement, arp) = try Self.frame(frames0[0].1, sentBy: .a, on: C.link1)
        #expect(announcement.ethernet.destination == .broadcast)
        #expect(Array(arp[14..<18]) == F.bytes(C.aLink1) && Array(arp[24..<28]) == F.bytes(C.aLink1))

        chain = OverlayChain()
        chain.announceAll()
        for node in C.Node.allCases {
            for link in chain[node].snapshot.links {
                #expect(link.peerMAC == Self.mac(C.peer(of: node, on: link.link.id)!, link.link.id), "\(node)")
            }
        }
        // Nothing to resolve: the very first ping arrives.
        let arrival = try Self.single(chain.send(O.ping4(from: C.aHost, to: C.bHost)))
        #expect(arrival.node == .b && arrival.outcome.bytes == O.ping4(from: C.aHost, to: C.bHost, ttl: 63))
    }

    @Test func pingsToLinkAddressesAreDeliveredToTheOwnersTUN() throws {
        var chain = OverlayChain()
        chain.announceAll()
        let cases: [(IPv4Address, C.Node)] = [(C.hubLink1, .hub), (C.hubLink2, .hub), (C.bLink2, .b)]
        for (destination, owner) in cases {
            let ping = O.ping4(from: C.aHost, to: destination)
            let arrival = try Self.single(chain.send(ping))
            #expect(arrival.node == owner, "\(destination)")
            guard case .toTUN = arrival.outcome.action else {
                Issue.record("\(destination): \(arrival.outcome.action)")
                continue
            }
            // Delivered at the hub without decrement; through the hub to B with one.
            #expect(arrival.outcome.bytes == O.ping4(from: C.aHost, to: destination, ttl: owner == .hub ? 64 : 63))
        }
        #expect(chain[.hub].counters(of: C.link1)?.delivered == 2)
    }

    @Test func ttlOneAtTheHubReturnsTimeExceeded() throws {
        var chain = OverlayChain()
        chain.announceAll()
        let probe = O.ping4(from: C.aHost, to: C.bHost, ttl: 1)
        let arrival = try Self.single(chain.send(probe))
        // Back over link 1 to A, which routes it into its TUN toward the LAN host.
        #expect(arrival.node == .a && arrival.hops == 2)
        guard case .toTUN = arrival.outcome.action, let error = arrival.outcome.bytes else {
            Issue.record("expected an ICMP error at A's TUN, got \(arrival.outcome.action)")
            return
        }
        #expect(error[9] == 1)
        #expect(Array(error[12..<16]) == F.bytes(C.hubLink1))
        #expect(Array(error[16..<20]) == F.bytes(C.aHost))
        #expect(error[20] == 11 && error[21] == 0)
        #expect(Array(error[28...]) == probe)
        #expect(O.ipv4HeaderValid(error) && O.icmp4Valid(error))
        #expect(chain[.hub].counters.drops[.timeExceeded] == 1)
        #expect(chain[.hub].counters.icmpErrorsSent == 1)
        // The error and the first ARP + NA announcements; B saw only the announcements.
        #expect(chain[.hub].counters(of: C.link1)?.sentFrames == 1 + 2)
        #expect(chain[.b].counters(of: C.link2)?.receivedFrames == 2)

        // TTL 2 leaves the hub with 1 and reaches B.
        let ttl2 = try Self.single(chain.send(O.ping4(from: C.aHost, to: C.bHost, ttl: 2)))
        #expect(ttl2.node == .b && ttl2.outcome.bytes == O.ping4(from: C.aHost, to: C.bHost, ttl: 1))
    }

    @Test func oversizeWithDFGetsFragmentationNeededWithTheLinkMTU() throws {
        var chain = OverlayChain()
        chain.announceAll()

        // Too big for link 1 (1370) already at A: the error goes straight back into A's TUN.
        let big = O.ping4(from: C.aHost, to: C.bHost, dataLength: 1400 - 28)
        let local = O.fromTUN(&chain.routers[0], big)
        guard case .toTUN = local.action, let error = local.bytes else {
            Issue.record("expected frag needed at A's TUN, got \(local.action)")
            return
        }
        #expect(Array(error[12..<16]) == F.bytes(C.aICMPSource))
        #expect(Array(error[16..<20]) == F.bytes(C.aHost))
        #expect(error[20] == 3 && error[21] == 4)
        #expect(F.word(error, at: 26) == 1370)
        #expect(error.count == 576 && Array(error[28...]) == Array(big[0..<548]))
        #expect(O.ipv4HeaderValid(error) && O.icmp4Valid(error))
        #expect(chain[.a].counters(of: C.link1)?.drops[.packetTooBig] == 1)

        // Fits link 1 but not link 2 (1350): the hub reports its next-hop MTU back to A.
        let medium = O.ping4(from: C.aHost, to: C.bHost, dataLength: 1360 - 28)
        let arrival = try Self.single(chain.send(medium))
        #expect(arrival.node == .a)
        let hubError = try #require(arrival.outcome.bytes)
        #expect(Array(hubError[12..<16]) == F.bytes(C.hubLink1))
        #expect(hubError[20] == 3 && hubError[21] == 4 && F.word(hubError, at: 26) == 1350)
        // Quoted as received, TTL not decremented.
        #expect(Array(hubError[28...]) == Array(medium[0..<548]))
        #expect(O.icmp4Valid(hubError))

        // Exactly the MTU passes.
        let exact = O.ping4(from: C.aHost, to: C.bHost, dataLength: 1350 - 28)
        #expect(try Self.single(chain.send(exact)).node == .b)

        // Without DF this router does not fragment: dropped and counted, at A and at the hub.
        let noDF = O.fromTUN(&chain.routers[0], O.ping4(from: C.aHost, to: C.bHost, dataLength: 1400 - 28, flags: 0))
        #expect(noDF.action == .drop(.fragmentationRequired))
        let hubNoDF = try Self.single(chain.send(O.ping4(from: C.aHost, to: C.bHost, dataLength: 1360 - 28, flags: 0)))
        #expect(hubNoDF.node == .hub && hubNoDF.outcome.action == .drop(.fragmentationRequired))
    }

    @Test func noRouteAndDiscardRoutes() throws {
        var chain = OverlayChain()
        chain.announceAll()
        // A has no route: network unreachable into its own TUN.
        let nowhere = O.ping4(from: C.aHost, to: O.v4("203.0.113.9"))
        let local = O.fromTUN(&chain.routers[0], nowhere)
        #expect(local.bytes.map { Array($0[12..<16]) } == F.bytes(C.aICMPSource))
        #expect(local.bytes.map { [$0[20], $0[21]] } == [3, 0])

        // A routes 198.51.100.0/24 to the hub, which has no route: unreachable back over link 1.
        chain.routers[0].routingTable.install(C.route("198.51.100.0/24", C.link1, via: "10.255.1.2"))
        let transit = try Self.single(chain.send(O.ping4(from: C.aHost, to: O.v4("198.51.100.1"))))
        #expect(transit.node == .a)
        #expect(transit.outcome.bytes.map { Array($0[12..<16]) } == F.bytes(C.hubLink1))
        #expect(transit.outcome.bytes.map { [$0[20], $0[21]] } == [3, 0])
        #expect(chain[.hub].counters(of: C.link1)?.drops[.noRoute] == 1)

        // A discard route drops silently.
        chain.routers[0].routingTable.install(Route(prefix: O.prefix("203.0.113.0/24"), source: .static, nextHops: []))
        #expect(O.fromTUN(&chain.routers[0], nowhere).action == .drop(.discardRoute))
        #expect(chain[.a].counters.icmpErrorsSent == 1)
    }

    // MARK: IPv6

    @Test func neighborSolicitationResolvesTheIPv6NextHop() throws {
        var chain = OverlayChain()
        let ping = O.ping6(from: C.aHost6, to: C.bHost6)
        let first = O.fromTUN(&chain.routers[0], ping)
        guard case .toLink(C.link1, _) = first.action else {
            Issue.record("expected an NS on link 1, got \(first.action)")
            return
        }
        let (nsFrame, ns) = try Self.frame(first.bytes!, sentBy: .a, on: C.link1)
        // To the solicited-node group ff02::1:ff00:2 of fd10:1::2 (RFC 4291 §2.7.1), from A's
        // address on the link, with A's MAC in the Source Link-Layer Address option.
        #expect(nsFrame.ethernet.destination == MACAddress(0x3333_FF00_0002))
        #expect(nsFrame.ethernet.etherType == .ipv6)
        #expect(IPv6Address(bytes: ns, atByteOffset: 8) == C.aLink1v6)
        #expect(IPv6Address(bytes: ns, atByteOffset: 24) == O.v6("ff02::1:ff00:2"))
        #expect(ns[7] == 255 && ns[40] == 135)
        #expect(IPv6Address(bytes: ns, atByteOffset: 48) == C.hubLink1v6)
        #expect(Array(ns[64..<72]) == [1, 1] + F.bytes(Self.mac(.a, C.link1)))

        let answered = try Self.single(chain.follow(first, from: .a))
        #expect(answered.node == .a && answered.outcome.action == .consumed)
        #expect(chain[.a].snapshot.links[0].peerMAC == Self.mac(.hub, C.link1))
        #expect(chain[.hub].snapshot.links[0].neighbor.repliesSent == 1)

        let second = try Self.single(chain.send(ping))
        #expect(second.node == .hub && second.outcome.action == .consumed)
        let third = try Self.single(chain.send(ping))
        #expect(third.node == .b && third.outcome.bytes == O.ping6(from: C.aHost6, to: C.bHost6, hopLimit: 63))
    }

    @Test func ipv6PacketTooBigAndHopLimitExceeded() throws {
        var chain = OverlayChain()
        chain.announceAll()

        let big = O.ping6(from: C.aHost6, to: C.bHost6, dataLength: 1400 - 48)
        let local = O.fromTUN(&chain.routers[0], big)
        let error = try #require(local.bytes)
        #expect(IPv6Address(bytes: error, atByteOffset: 8) == C.aICMPSource6)
        #expect(IPv6Address(bytes: error, atByteOffset: 24) == C.aHost6)
        #expect(error[6] == 58 && error[40] == 2 && error[41] == 0)
        #expect(Array(error[44..<48]) == F.bytes(UInt32(1370)))
        #expect(error.count == 1280 && Array(error[48...]) == Array(big[0..<1232]))
        #expect(O.icmp6Valid(error))

        let medium = O.ping6(from: C.aHost6, to: C.bHost6, dataLength: 1360 - 48)
        let arrival = try Self.single(chain.send(medium))
        let hubError = try #require(arrival.outcome.bytes)
        #expect(arrival.node == .a)
        #expect(IPv6Address(bytes: hubError, atByteOffset: 8) == C.hubLink1v6)
        #expect(hubError[40] == 2 && Array(hubError[44..<48]) == F.bytes(UInt32(1350)))
        #expect(O.icmp6Valid(hubError))

        let probe = O.ping6(from: C.aHost6, to: C.bHost6, hopLimit: 1)
        let expired = try Self.single(chain.send(probe))
        let timeExceeded = try #require(expired.outcome.bytes)
        #expect(expired.node == .a)
        #expect(IPv6Address(bytes: timeExceeded, atByteOffset: 8) == C.hubLink1v6)
        #expect(timeExceeded[40] == 3 && timeExceeded[41] == 0)
        #expect(Array(timeExceeded[48...]) == probe)
        #expect(O.icmp6Valid(timeExceeded))
        #expect(chain[.hub].counters.drops[.timeExceeded] == 1 && chain[.hub].counters.drops[.packetTooBig] == 1)
    }

    // MARK: OSPF

    @Test func ospfPacketsSurfaceAsControl() throws {
        var chain = OverlayChain()
        // A Hello to AllSPFRouters needs no resolution: 224.0.0.5 maps to 01:00:5e:00:00:05.
        let hello = O.ospf4(from: C.aLink1)
        let sent = O.sendControl(&chain.routers[0], hello, on: C.link1)
        guard case .toLink(C.link1, _) = sent.action else {
            Issue.record("expected the hello on link 1, got \(sent.action)")
            return
        }
        let (frame, inner) = try Self.frame(sent.bytes!, sentBy: .a, on: C.link1)
        #expect(frame.ethernet.destination == MACAddress(0x0100_5E00_0005))
        #expect(inner == hello)
        let received = O.fromLink(&chain.routers[1], C.link1, sent.bytes!)
        guard case .control(C.link1, _) = received.action else {
            Issue.record("expected control traffic, got \(received.action)")
            return
        }
        #expect(received.bytes == hello)
        #expect(chain[.a].counters(of: C.link1)?.controlSent == 1)
        #expect(chain[.hub].counters(of: C.link1)?.controlReceived == 1)
        // The hello taught the hub A's MAC.
        #expect(chain[.hub].snapshot.links[0].peerMAC == Self.mac(.a, C.link1))

        // Unicast OSPF (e.g. a DD packet to the neighbour's address) is control traffic too.
        let unicast = O.ospf4(from: C.hubLink1, to: C.aLink1)
        let reply = O.sendControl(&chain.routers[1], unicast, on: C.link1)
        let atA = O.fromLink(&chain.routers[0], C.link1, try #require(reply.bytes))
        #expect(atA.action == .control(C.link1, atA.start!..<atA.start! + unicast.count))
        #expect(atA.bytes == unicast)

        // OSPFv3 to ff02::5 as well.
        var ospf3Body = [UInt8](repeating: 0, count: 36)
        ospf3Body[0] = 3
        let ospf3 = F.ipv6Packet(source: O.v6("fe80::1"), destination: O.v6("ff02::5"), nextHeader: 89, hopLimit: 1,
                                 payload: ospf3Body)
        let sent3 = O.sendControl(&chain.routers[0], ospf3, on: C.link1)
        let (frame3, _) = try Self.frame(sent3.bytes!, sentBy: .a, on: C.link1)
        #expect(frame3.ethernet.destination == MACAddress(0x3333_0000_0005))
        let received3 = O.fromLink(&chain.routers[1], C.link1, sent3.bytes!)
        #expect(received3.bytes == ospf3)

        // Too big for the link, or not IP: refused.
        let huge = F.ipv4Packet(source: C.aLink1, destination: O.v4("224.0.0.5"), protocolNumber: 89,
                                payload: [UInt8](repeating: 0, count: 1400))
        #expect(O.sendControl(&chain.routers[0], huge, on: C.link1).action == .drop(.packetTooBig))
        #expect(O.sendControl(&chain.routers[0], [0x00, 1, 2, 3], on: C.link1).action == .drop(.malformedPacket))
        #expect(O.sendControl(&chain.routers[0], hello, on: LinkID(9)).action == .drop(.unknownLink))
    }
}
