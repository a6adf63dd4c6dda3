// OverlayRouter checks one router at a time: drops by reason, randomized malformed input, ECMP,
// ICMP rate limiting, solicitation retries, runtime link changes and the buffer contract.

import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct OverlayRouterTests {
    typealias O = OverlayFixture
    typealias C = OverlayChain
    typealias F = PacketFixture

    static var aTunnel: VXLANTunnel { C.aLinks[0].tunnel }
    static var hubMAC: MACAddress { C.hubLinks[0].tunnel.localMAC }

    /// `inner` as A sends it to the hub on link 1.
    static func fromA(_ inner: [UInt8], destinationMAC: MACAddress = hubMAC) throws -> [UInt8] {
        try F.encapsulated(inner, tunnel: aTunnel, destinationMAC: destinationMAC)
    }

    /// An Ethernet frame as A sends it to the hub on link 1.
    static func frameFromA(_ frame: [UInt8]) throws -> [UInt8] {
        let (range, storage) = try F.withBuffer(headroom: aTunnel.frameHeadroom, frame) { buffer, frame in
            try aTunnel.encapsulate(ethernetFrame: frame, in: buffer)
        }
        return Array(storage[range])
    }

    // MARK: Drops

    @Test func malformedAndUnroutableFramesAreDroppedByReason() throws {
        let ping = O.ping4(from: C.aHost, to: C.bHost)
        let valid = try Self.fromA(ping)
        func mutated(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
            var bytes = valid
            change(&bytes)
            return bytes
        }
        func inner(source: IPv4Address = C.aHost, destination: IPv4Address, protocolNumber: UInt8 = 17) -> [UInt8] {
            F.ipv4Packet(source: source, destination: destination, protocolNumber: protocolNumber,
                         payload: [UInt8](repeating: 1, count: 12))
        }
        var badChecksum = ping
        badChecksum[10] ^= 0xFF
        var shortIHL = ping
        shortIHL[0] = 0x44
        let cases: [(String, [UInt8], OverlayDropReason, VXLANDropReason?)] = [
            ("empty", [], .vxlanInvalid, .truncated),
            ("junk", [0x45, 0, 0, 10, 1, 2, 3, 4, 5, 6], .vxlanInvalid, .truncated),
            ("outer checksum", mutated { $0[10] ^= 0xFF }, .vxlanInvalid, .ipv4HeaderChecksumInvalid),
            ("UDP port 8472", mutated { F.setWord(&$0, at: 22, 8472) }, .vxlanInvalid, .udpPortMismatch),
            ("VNI", mutated { $0[34] ^= 1 }, .vxlanInvalid, .vniMismatch),
            ("VXLAN flags", mutated { $0[28] = 0 }, .vxlanInvalid, .vxlanFlagsInvalid),
            ("other station", mutated { $0[36] = 0x02; $0[41] = 0x99 }, .vxlanInvalid, .destinationMACNotLocal),
            ("truncated", Array(valid.dropLast(10)), .vxlanInvalid, .truncated),
            ("VLAN tag", try Self.frameFromA(F.bytes(Self.hubMAC) + F.bytes(Self.aTunnel.localMAC) + [0x81, 0]
                                             + [UInt8](repeating: 0, count: 46)), .vxlanInvalid, .etherTypeUnsupported),
            ("inner IPv4 checksum", try Self.fromA(badChecksum), .ipv4ChecksumInvalid, nil),
            ("inner IHL 4", try Self.fromA(shortIHL), .malformedPacket, nil),
            ("multicast source", try Self.fromA(inner(source: O.v4("224.1.1.1"), destination: C.bHost)),
             .invalidSource, nil),
            ("loopback source", try Self.fromA(inner(source: O.v4("127.0.0.1"), destination: C.bHost)),
             .invalidSource, nil),
            ("unspecified IPv6 source", try Self.fromA(O.ping6(from: .any, to: C.bHost6)), .invalidSource, nil),
            ("multicast destination", try Self.fromA(inner(destination: O.v4("224.1.2.3")),
                                                     destinationMAC: MACAddress(ipv4Multicast: O.v4("224.1.2.3"))),
             .multicastOrBroadcast, nil),
            ("limited broadcast", try Self.fromA(inner(destination: .broadcast), destinationMAC: .broadcast),
             .multicastOrBroadcast, nil),
            ("subnet broadcast", try Self.fromA(inner(destination: O.v4("10.255.1.3"))), .multicastOrBroadcast, nil),
            ("loopback destination", try Self.fromA(inner(destination: O.v4("127.0.0.1"))), .invalidDestination, nil),
            ("class E destination", try Self.fromA(inner(destination: O.v4("240.0.0.1"))), .invalidDestination, nil),
            ("link-local destination", try Self.fromA(inner(destination: O.v4("169.254.1.1"))),
             .linkLocalDestination, nil),
            ("IPv6 link-local destination", try Self.fromA(O.ping6(from: C.aHost6, to: O.v6("fe80::99"))),
             .linkLocalDestination, nil),
            ("unicast in broadcast frame", try Self.fromA(ping, destinationMAC: .broadcast), .linkLayerBroadcast, nil),
        ]
        for (name, bytes, reason, vxlanReason) in cases {
            var hub = C.router(.hub)
            let outcome = O.fromLink(&hub, C.link1, bytes)
            #expect(outcome.action == .drop(reason), "\(name)")
            let counters = try #require(hub.counters(of: C.link1))
            #expect(counters.receivedFrames == 1 && counters.drops[reason] == 1 && counters.drops.total == 1, "\(name)")
            #expect(hub.counters.drops[reason] == 1, "\(name)")
            if let vxlanReason {
                #expect(counters.vxlanDrops[vxlanReason] == 1, "\(name)")
            }
            #expect(counters.vxlanDrops.total == (vxlanReason == nil ? 0 : 1), "\(name)")
            #expect(hub.counters.icmpErrorsSent == 0, "\(name)")
        }

        var hub = C.router(.hub)
        #expect(O.fromLink(&hub, LinkID(7), valid).action == .drop(.unknownLink))
        #expect(hub.counters.drops[.unknownLink] == 1)
    }

    @Test func tunSideDropsByReason() throws {
        let cases: [(String, [UInt8], OverlayDropReason)] = [
            ("own link address", O.ping4(from: C.aHost, to: C.aLink1), .destinationIsLocal),
            ("own local address", O.ping4(from: C.aHost, to: O.v4("10.0.0.11")), .destinationIsLocal),
            ("mDNS", O.udp4(from: C.aHost, to: O.v4("224.0.0.251"), sourcePort: 5353), .multicastOrBroadcast),
            ("limited broadcast", O.udp4(from: C.aHost, to: .broadcast, sourcePort: 68), .multicastOrBroadcast),
            ("link subnet broadcast", O.ping4(from: C.aHost, to: O.v4("10.255.1.3")), .multicastOrBroadcast),
            ("loopback", O.ping4(from: C.aHost, to: .loopback), .invalidDestination),
            ("link-local", O.ping6(from: O.v6("fe80::1"), to: O.v6("fe80::5")), .linkLocalDestination),
            ("IPv6 multicast", O.ping6(from: C.aHost6, to: O.v6("ff02::16")), .multicastOrBroadcast),
            ("back to the LAN", O.ping4(from: C.aHost, to: O.v4("192.168.1.99")), .routedToTUN),
            ("version 5", [0x50] + [UInt8](repeating: 0, count: 39), .malformedPacket),
            ("longer than given", Array(O.ping4(from: C.aHost, to: C.bHost).prefix(60)), .malformedPacket),
            ("shorter than a header", [0x45, 0, 0, 20], .malformedPacket),
        ]
        for (name, packet, reason) in cases {
            var a = C.router(.a)
            #expect(O.fromTUN(&a, packet).action == .drop(reason), "\(name)")
            #expect(a.counters.drops[reason] == 1 && a.counters.tunReceivedPackets == 1, "\(name)")
        }

        // Local addresses change at runtime.
        var a = C.router(.a)
        a.setLocalAddresses([.v4(O.v4("10.0.0.99"))])
        #expect(O.fromTUN(&a, O.ping4(from: C.aHost, to: O.v4("10.0.0.99"))).action == .drop(.destinationIsLocal))
        guard case .toTUN = O.fromTUN(&a, O.ping4(from: C.aHost, to: O.v4("10.0.0.11"))).action else {
            Issue.record("the old local address should be unreachable now")
            return
        }
    }

    @Test func randomizedMutationsNeverTrapAndEveryOutputIsWellFormed() throws {
        var chain = OverlayChain()
        chain.announceAll()
        // Valid frames of every kind A sends the hub: data, ARP, NS, OSPF, ICMP, TTL 1.
        var seeds = [
            try Self.fromA(O.ping4(from: C.aHost, to: C.bHost)),
            try Self.fromA(O.ping6(from: C.aHost6, to: C.bHost6)),
            try Self.fromA(O.ping4(from: C.aHost, to: C.bHost, ttl: 1)),
            try Self.fromA(O.ping4(from: C.aHost, to: C.hubLink1)),
            try Self.fromA(O.ospf4(from: C.aLink1), destinationMAC: MACAddress(0x0100_5E00_0005)),
        ]
        var fresh = C.router(.a)
        for packet in [O.ping4(from: C.aHost, to: C.bHost), O.ping6(from: C.aHost6, to: C.bHost6)] {
            seeds.append(try #require(O.fromTUN(&fresh, packet).bytes))  // ARP request, then NS
        }
        let receivedBefore = chain[.hub].counters(of: C.link1)!.receivedFrames
        var generator = F.Generator(seed: 0x0E7A_11)
        let iterations = 3000
        for iteration in 0..<iterations {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &generator)]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<max(bytes.count, 1), using: &generator)
                let value = UInt8.random(in: 0...255, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0 where !bytes.isEmpty:
                    bytes[position] ^= 1 << (value & 7)
                case 1 where !bytes.isEmpty:
                    bytes[position] = value
                case 2:
                    bytes = Array(bytes.prefix(position))
                default:
                    bytes += (0..<Int(value % 40) + 1).map { _ in UInt8.random(in: 0...255, using: &generator) }
                }
            }
            let outcome = O.fromLink(&chain.routers[1], C.link1, bytes, now: UInt64(iteration) * 1_000_000)
            switch outcome.action {
            case .toLink(let link, _):
                #expect(outcome.start! >= 16)
                // What the hub sends must pass the receiving end's checks (whatever MAC it
                // learned from the mutated frames).
                let peer = try #require(C.peer(of: .hub, on: link))
                var tunnel = try #require(C.router(peer).link(link)).tunnel
                let out = try #require(outcome.bytes)
                let destination = MACAddress(bytes: out.withUnsafeBytes { $0 }, atByteOffset: tunnel.frameHeadroom)
                if let destination, destination.isUnicast { tunnel.localMAC = destination }
                if case .failure(let reason) = F.decapsulate(out, tunnel: tunnel) {
                    Issue.record("hub sent an invalid frame on \(link): \(reason)")
                }
            case .toTUN:
                #expect(outcome.start! >= 16)
                #expect([4, 6].contains(outcome.bytes!.first.map { $0 >> 4 }))
            case .control:
                #expect(outcome.bytes!.first.map { $0 >> 4 } == 4 ? outcome.bytes![9] == 89 : outcome.bytes![6] == 89)
            case .consumed, .drop:
                break
            }
        }
        let counters = try #require(chain[.hub].counters(of: C.link1))
        #expect(counters.receivedFrames - receivedBefore == UInt64(iterations))
        #expect(counters.drops[.vxlanInvalid] == counters.vxlanDrops.total)
    }

    // MARK: ECMP

    @Test func ecmpSharesFlowsBetweenTwoLinksAndKeepsEachFlowOnOne() throws {
        let link3 = LinkID(3)
        var a = C.router(.a)
        var hub = C.router(.hub)
        let aEnd = O.v4("172.16.3.1"), hubEnd = O.v4("172.16.3.2")
        try a.addLink(C.link(link3, node: .a, vni: 103, underlay: .ipv4(local: aEnd, remote: hubEnd),
                             v4: "10.255.3.1/30", v6: "fd10:3::1/64"), now: 0)
        try hub.addLink(C.link(link3, node: .hub, vni: 103, underlay: .ipv4(local: hubEnd, remote: aEnd),
                               v4: "10.255.3.2/30", v6: "fd10:3::2/64"), now: 0)
        a.routingTable.install(Route(prefix: O.prefix("192.168.2.0/24"), source: .static, nextHops: [
            NextHop(link: C.link1, gateway: .v4(C.hubLink1)), NextHop(link: link3, gateway: .v4(O.v4("10.255.3.2"))),
        ]))
        // The hub's announcements teach A its MAC on both links.
        for (link, frame) in O.tick(&hub, now: 0).frames where link != C.link2 {
            #expect(O.fromLink(&a, link, frame).action == .consumed)
        }

        var linkOfFlow: [UInt16: LinkID] = [:]
        for port in UInt16(20000)..<20512 {
            let outcome = O.fromTUN(&a, O.udp4(from: C.aHost, to: C.bHost, sourcePort: port))
            guard case .toLink(let link, _) = outcome.action else {
                Issue.record("flow \(port): \(outcome.action)")
                continue
            }
            linkOfFlow[port] = link
        }
        let onLink1 = linkOfFlow.values.filter { $0 == C.link1 }.count
        let onLink3 = linkOfFlow.values.filter { $0 == link3 }.count
        #expect(onLink1 + onLink3 == 512)
        // Hash-threshold over two equal next hops: each link gets about half.
        #expect(onLink1 > 192 && onLink3 > 192)
        // Each flow stays on its link, and the hub accepts it from either.
        for port in UInt16(20000)..<20064 {
            let outcome = O.fromTUN(&a, O.udp4(from: C.aHost, to: C.bHost, sourcePort: port))
            guard case .toLink(let link, _) = outcome.action else { continue }
            #expect(link == linkOfFlow[port])
            let atHub = O.fromLink(&hub, link, outcome.bytes!)
            #expect(atHub.action != .drop(.vxlanInvalid))
        }
        #expect(a.counters(of: C.link1)!.sentFrames + a.counters(of: link3)!.sentFrames == 512 + 64)
    }

    // MARK: ICMP

    @Test func icmpErrorsAreRateLimitedAndNeverAboutErrors() throws {
        var a = C.router(.a, configuration: .init(localAddresses: [], tunICMPSourceIPv4: C.aICMPSource,
                                                   icmpMessagesPerSecond: 1, icmpBurst: 2))
        let nowhere = O.ping4(from: C.aHost, to: O.v4("203.0.113.9"))
        let results = (0..<5).map { _ in O.fromTUN(&a, nowhere, now: 1_000).action }
        #expect(results.filter { if case .toTUN = $0 { true } else { false } }.count == 2)
        #expect(results.filter { $0 == .drop(.noRoute) }.count == 3)
        #expect(a.counters.icmpErrorsSent == 2 && a.counters.icmpErrorsRateLimited == 3)
        #expect(a.counters.drops[.noRoute] == 5)
        // One token per second comes back.
        if case .toTUN = O.fromTUN(&a, nowhere, now: 1_001_000_000).action {} else {
            Issue.record("no token after 1 s")
        }

        // No error about an ICMP error (RFC 1812 §4.3.2.7): a destination unreachable to nowhere.
        let unreachable = F.ipv4Packet(source: C.aHost, destination: O.v4("203.0.113.9"), protocolNumber: 1,
                                       payload: [3, 1, 0, 0, 0, 0, 0, 0] + Array(nowhere.prefix(28)))
        #expect(O.fromTUN(&a, unreachable, now: 5_000_000_000).action == .drop(.noRoute))
        #expect(a.counters.icmpErrorsSuppressed == 1)

        // No IPv6 source for errors toward the TUN: suppressed rather than sent from ::.
        var bare = OverlayRouter()
        try bare.addLink(OverlayLink(id: C.link1, tunnel: Self.aTunnel, ipv4Addresses: [IPv4Prefix("10.255.1.1/30")!]),
                         now: 0)
        #expect(O.fromTUN(&bare, O.ping6(from: C.aHost6, to: C.bHost6)).action == .drop(.noRoute))
        #expect(bare.counters.icmpErrorsSuppressed == 1)
    }

    // MARK: Neighbour resolution

    @Test func solicitationsAreRetriedThenGivenUp() throws {
        var a = C.router(.a)
        let second: UInt64 = 1_000_000_000
        /// The ARP requests among `frames` (announcements have sender = target address).
        func arpRequests(_ frames: [(LinkID, [UInt8])]) throws -> [IPv4Address] {
            try frames.compactMap { link, bytes in
                let (frame, payload) = try OverlayChainTests.frame(bytes, sentBy: .a, on: link)
                guard frame.ethernet.etherType == .arp else { return nil }
                let arp = try payload.withUnsafeBytes { bytes throws(NeighborDropReason) in
                    try ARPPacket(parsing: bytes)
                }
                return arp.senderAddress == arp.targetAddress ? nil : arp.targetAddress
            }
        }
        let ping = O.ping4(from: C.aHost, to: C.bHost)
        guard case .toLink = O.fromTUN(&a, ping, now: 0).action else {
            Issue.record("no ARP request for the first packet")
            return
        }
        // Within the retransmission interval: neither a second request nor a retry.
        #expect(O.fromTUN(&a, ping, now: second / 2).action == .drop(.neighborUnresolved))
        #expect(try arpRequests(O.tick(&a, now: second / 2).frames).isEmpty)
        let (retry1, next1) = O.tick(&a, now: second)
        #expect(try arpRequests(retry1) == [C.hubLink1])
        // Next: the second NA round (the announcements started with the first tick, at 0.5 s);
        // the retry after that is due at 2 s.
        #expect(next1 == second + second / 2)
        #expect(try arpRequests(O.tick(&a, now: 2 * second).frames) == [C.hubLink1])
        // Three unanswered solicitations: given up one interval after the last.
        #expect(try arpRequests(O.tick(&a, now: 3 * second).frames).isEmpty)
        #expect(try arpRequests(O.tick(&a, now: 4 * second).frames).isEmpty)
        let counters = try #require(a.counters(of: C.link1))
        #expect(counters.solicitationRetries == 2 && counters.resolutionFailures == 1)
        #expect(counters.drops[.neighborUnresolved] == 2)
        #expect(a.snapshot.links[0].neighbor.unresolvedDrops == 2)
        // The next packet starts over.
        guard case .toLink = O.fromTUN(&a, ping, now: 5 * second).action else {
            Issue.record("no ARP request after giving up")
            return
        }
    }

    // MARK: Configuration

    @Test func linksAreAddedAndRemovedAtRuntime() throws {
        var chain = OverlayChain()
        chain.announceAll()
        let ping = O.ping4(from: C.aHost, to: C.bHost)
        #expect(chain.send(ping).first?.node == .b)

        let removed = chain.routers[1].removeLink(C.link2)
        #expect(removed == C.hubLinks[1])
        #expect(chain[.hub].links.map(\.id) == [C.link1])
        #expect(chain.routers[1].removeLink(C.link2) == nil)
        // The routes remain and now name a missing link; its address is no longer ours.
        #expect(chain.send(ping).first?.outcome.action == .drop(.nextHopLinkMissing))
        #expect(chain.send(O.ping4(from: C.aHost, to: C.hubLink2)).first?.outcome.action == .drop(.nextHopLinkMissing))

        #expect(throws: OverlayConfigurationError.duplicateLink(C.link1)) {
            try chain.routers[1].addLink(C.hubLinks[0], now: 0)
        }
        var zero = C.hubLinks[1]
        zero.id = OverlayRouter.tunLink
        #expect(throws: OverlayConfigurationError.reservedLinkID) { try chain.routers[1].addLink(zero, now: 0) }
        for mtu in [67, 65_500] {
            var link = C.hubLinks[1]
            link.mtu = mtu
            #expect(throws: OverlayConfigurationError.mtuOutOfRange(mtu)) { try chain.routers[1].addLink(link, now: 0) }
        }

        // Back again: a fresh neighbour cache resolves B by ARP, then traffic flows.
        try chain.routers[1].addLink(C.hubLinks[1], now: 10)
        #expect(chain[.hub].links.map(\.id) == [C.link1, C.link2])
        let resolving = chain.send(ping)
        #expect(resolving.first?.node == .hub && resolving.first?.outcome.action == .consumed)
        #expect(chain.send(ping).first?.outcome.bytes == O.ping4(from: C.aHost, to: C.bHost, ttl: 63))
    }

    @Test func connectedRoutesCoverTheLinkPrefixesOnly() {
        let link = OverlayLink(id: LinkID(4), tunnel: Self.aTunnel,
                               ipv4Addresses: [IPv4Prefix("10.255.4.1/30")!, IPv4Prefix("10.9.9.9/32")!],
                               ipv6Addresses: [IPv6Prefix("fe80::1/64")!, IPv6Prefix("fd10:4::1/64")!])
        #expect(link.connectedRoutes == [
            Route(prefix: O.prefix("10.255.4.0/30"), source: .connected, nextHops: [NextHop(link: LinkID(4))]),
            Route(prefix: O.prefix("fd10:4::/64"), source: .connected, nextHops: [NextHop(link: LinkID(4))]),
        ])
        // The defaults: Linux's vxlan MTU on a 1420-byte wg device.
        #expect(link.mtu == 1370)
        #expect(OverlayLink(id: LinkID(5), tunnel: C.bLinks[0].tunnel).mtu == 1350)
    }

    // MARK: Buffer contract

    @Test func bufferContractIsCheckedAndOutputsKeepTheReservedHeadroom() throws {
        var chain = OverlayChain()
        chain.announceAll()
        #expect(chain[.a].requiredHeadroom == 86 && OverlayRouter.requiredTrailingSpace == 142)
        #expect(chain[.a].tickBufferLength == 158)
        let ping = O.ping4(from: C.bHost, to: C.aHost)

        // B's link 2 has IPv6 outer headers: 70 bytes in front, ending exactly at the 16
        // bytes reserved for WireGuard's header.
        #expect(O.fromTUN(&chain.routers[2], ping, at: 85).action == .drop(.bufferTooSmall))
        let tight = O.fromTUN(&chain.routers[2], ping, at: 86)
        #expect(tight.start == 16)
        // Not attributed to a link: the router had not looked at the packet yet.
        #expect(chain[.b].counters.drops[.bufferTooSmall] == 1)

        // Too little room after the start (141 instead of 142 bytes).
        var slot = O.slot(with: ping, at: 128, length: 128 + 141)
        let cut = slot.withUnsafeMutableBytes { chain.routers[2].fromTUN(128..<128 + ping.count, in: $0, now: 0) }
        #expect(cut == .drop(.bufferTooSmall))

        // The tightest receive: a payload 86 bytes in on an IPv6-outer link, turned into an
        // ICMPv6 error (48 bytes of headers) and re-encapsulated (70) back over the link.
        let probe = O.ping6(from: C.bHost6, to: C.aHost6, hopLimit: 1)
        let outer = try #require(O.fromTUN(&chain.routers[2], probe).bytes)
        let expired = O.fromLink(&chain.routers[1], C.link2, outer, at: 86)
        guard case .toLink(C.link2, let range) = expired.action else {
            Issue.record("expected a time exceeded on link 2, got \(expired.action)")
            return
        }
        #expect(range.lowerBound == 86 + 70 - 48 - 70)
        #expect(O.fromLink(&chain.routers[1], C.link2, outer, at: 85).action == .drop(.bufferTooSmall))

        // An outer IPv4 header with 40 bytes of options puts the inner frame 76 bytes in, 20
        // more than the trailing span allows for; the 86-byte NA answering an NS then ends at
        // the buffer's end instead, still clear of the reserved headroom.
        let ns = VXLANNeighborTests.ndPacket(type: 135, source: C.aLink1v6, destination: C.hubLink1v6,
                                             target: C.hubLink1v6, options: [])
        let optioned = Self.withIPv4Options(try Self.fromA(ns), optionLength: 40)
        let payloadStart = 86
        let slotLength = payloadStart + OverlayRouter.requiredTrailingSpace
        var nsSlot = O.slot(with: optioned, at: payloadStart, length: slotLength)
        let answer = nsSlot.withUnsafeMutableBytes {
            chain.routers[1].fromLink(C.link1, payload: payloadStart..<payloadStart + optioned.count, in: $0, now: 0)
        }
        guard case .toLink(C.link1, let replyRange) = answer else {
            Issue.record("expected an NA on link 1, got \(answer)")
            return
        }
        #expect(replyRange.upperBound == nsSlot.count && replyRange.lowerBound >= 16)
        let (naFrame, na) = try OverlayChainTests.frame(Array(nsSlot[replyRange]), sentBy: .hub, on: C.link1)
        #expect(naFrame.ethernet.destination == Self.aTunnel.localMAC)
        #expect(na[40] == 136 && IPv6Address(bytes: na, atByteOffset: 48) == C.hubLink1v6)
    }

    /// `outer` (an IPv4 packet) with `optionLength` bytes of NOP options in its header.
    static func withIPv4Options(_ outer: [UInt8], optionLength: Int) -> [UInt8] {
        var header = Array(outer[0..<20]) + [UInt8](repeating: 1, count: optionLength)
        header[0] = 0x40 | UInt8(header.count / 4)
        F.setWord(&header, at: 2, UInt16(outer.count + optionLength))
        F.setWord(&header, at: 10, 0)
        F.setWord(&header, at: 10, F.referenceChecksum(header))
        return header + outer[20...]
    }
}
