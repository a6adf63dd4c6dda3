import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct VXLANNeighborTests {
    typealias F = PacketFixture

    static let ourIPv4 = F.v4("10.255.0.1")
    static let peerIPv4 = F.v4("10.255.0.2")
    static let ourLinkLocal = F.v6("fe80::1")
    static let peerLinkLocal = F.v6("fe80::2")
    static let ourGlobal = F.v6("fd00:1::1")

    static func cache() -> NeighborCache {
        NeighborCache(configuration: .init(
            localMAC: F.localMAC, ipv4Addresses: [IPv4Prefix("10.255.0.1/30")!],
            ipv6Addresses: [IPv6Prefix("fe80::1/64")!, IPv6Prefix("fd00:1::1/64")!]))
    }

    /// Sends `frame` from the peer over a real VXLAN link and feeds what arrives to `cache`.
    /// Returns the cache's verdict and, for a reply, the reply frame's bytes.
    static func deliver(_ frame: [UInt8], to cache: inout NeighborCache, now: UInt64 = 1_000)
        throws -> (NeighborInput, [UInt8]?) {
        let ours = F.tunnel4()
        let peer = F.peerTunnel(of: ours)
        let (range, storage) = try F.withBuffer(headroom: peer.frameHeadroom, frame) { buffer, frame in
            try peer.encapsulate(ethernetFrame: frame, in: buffer)
        }
        let outer = Array(storage[range])
        let received = try F.decapsulate(outer, tunnel: ours).get()
        var reply = [UInt8](repeating: 0, count: 200)
        let input = outer.withUnsafeBytes { packet in
            reply.withUnsafeMutableBytes { cache.receive(received, in: packet, now: now, replyInto: $0, atByteOffset: 36) }
        }
        if case .reply(let replyRange) = input {
            #expect(replyRange.lowerBound == 36)
            return (input, Array(reply[replyRange]))
        }
        return (input, nil)
    }

    /// An Ethernet + ARP frame written out from RFC 826.
    static func arpFrame(destination: MACAddress, source: MACAddress, operation: UInt16, senderMAC: MACAddress,
                         senderIP: IPv4Address, targetMAC: MACAddress, targetIP: IPv4Address) -> [UInt8] {
        F.bytes(destination) + F.bytes(source) + [0x08, 0x06]
            + [0x00, 0x01, 0x08, 0x00, 6, 4] + F.bytes(operation)
            + F.bytes(senderMAC) + F.bytes(senderIP) + F.bytes(targetMAC) + F.bytes(targetIP)
    }

    /// An IPv6 NS/NA packet written out from RFC 4861 §4.3/§4.4 with a reference checksum.
    static func ndPacket(type: UInt8, code: UInt8 = 0, flags: UInt8 = 0, source: IPv6Address,
                         destination: IPv6Address, target: IPv6Address, options: [UInt8],
                         hopLimit: UInt8 = 255) -> [UInt8] {
        var icmp: [UInt8] = [type, code, 0, 0, flags, 0, 0, 0] + F.bytes(target) + options
        F.setWord(&icmp, at: 2, F.referenceChecksum(
            F.ipv6PseudoHeader(source: source, destination: destination, nextHeader: 58, length: icmp.count) + icmp))
        return F.ipv6Packet(source: source, destination: destination, nextHeader: 58, hopLimit: hopLimit, payload: icmp)
    }

    static func linkLayerOption(_ type: UInt8, _ mac: MACAddress) -> [UInt8] { [type, 1] + F.bytes(mac) }

    static func ethernet(_ destination: MACAddress, _ source: MACAddress, _ etherType: UInt16, _ payload: [UInt8]) -> [UInt8] {
        F.bytes(destination) + F.bytes(source) + F.bytes(etherType) + payload
    }

    // MARK: ARP

    @Test func answersAnARPRequestForOurAddress() throws {
        var cache = Self.cache()
        #expect(cache.peerMAC == nil)
        let request = Self.arpFrame(destination: .broadcast, source: F.peerMAC, operation: 1, senderMAC: F.peerMAC,
                                    senderIP: Self.peerIPv4, targetMAC: .zero, targetIP: Self.ourIPv4)
        let (input, reply) = try Self.deliver(request, to: &cache, now: 42)
        let expected = Self.arpFrame(destination: F.peerMAC, source: F.localMAC, operation: 2, senderMAC: F.localMAC,
                                     senderIP: Self.ourIPv4, targetMAC: F.peerMAC, targetIP: Self.peerIPv4)
        #expect(reply == expected)
        if case .reply = input {} else { Issue.record("expected a reply, got \(input)") }
        #expect(cache.peerMAC == F.peerMAC)
        #expect(cache.peerLastSeen == 42)
        #expect(cache.counters.repliesSent == 1)
    }

    @Test func learnsButDoesNotAnswerOtherTargetsAndReplies() throws {
        var cache = Self.cache()
        let otherTarget = Self.arpFrame(destination: .broadcast, source: F.peerMAC, operation: 1, senderMAC: F.peerMAC,
                                        senderIP: Self.peerIPv4, targetMAC: .zero, targetIP: F.v4("10.255.0.3"))
        #expect(try Self.deliver(otherTarget, to: &cache).0 == .consumed)
        #expect(cache.peerMAC == F.peerMAC)

        // A reply (to our request) from a re-created peer device: the new MAC wins.
        let newMAC = F.mac("02:00:00:00:00:22")
        let reply = Self.arpFrame(destination: F.localMAC, source: newMAC, operation: 2, senderMAC: newMAC,
                                  senderIP: Self.peerIPv4, targetMAC: F.localMAC, targetIP: Self.ourIPv4)
        #expect(try Self.deliver(reply, to: &cache).0 == .consumed)
        #expect(cache.peerMAC == newMAC)
        #expect(cache.counters.peerMACChanges == 1)
        #expect(cache.counters.repliesSent == 0)
    }

    @Test func answersAProbeForOurAddress() throws {
        // RFC 5227 §2.1.1: the prober learns of the conflict from our reply.
        var cache = Self.cache()
        let probe = Self.arpFrame(destination: .broadcast, source: F.peerMAC, operation: 1, senderMAC: F.peerMAC,
                                  senderIP: .any, targetMAC: .zero, targetIP: Self.ourIPv4)
        let (_, reply) = try Self.deliver(probe, to: &cache)
        #expect(reply == Self.arpFrame(destination: F.peerMAC, source: F.localMAC, operation: 2, senderMAC: F.localMAC,
                                       senderIP: Self.ourIPv4, targetMAC: F.peerMAC, targetIP: .any))
    }

    @Test func arpDropReasons() throws {
        let valid = Self.arpFrame(destination: .broadcast, source: F.peerMAC, operation: 1, senderMAC: F.peerMAC,
                                  senderIP: Self.peerIPv4, targetMAC: .zero, targetIP: Self.ourIPv4)
        let cases: [(String, (inout [UInt8]) -> Void, NeighborDropReason)] = [
            ("IEEE 802 hardware type", { $0[15] = 6 }, .unsupportedFormat),
            ("IPv6 protocol type", { $0[16] = 0x86; $0[17] = 0xDD }, .unsupportedFormat),
            ("hardware length 8", { $0[18] = 8 }, .unsupportedFormat),
            ("protocol length 16", { $0[19] = 16 }, .unsupportedFormat),
            ("RARP request", { $0[21] = 3 }, .unsupportedOperation),
            ("multicast sender", { $0[22] = 0x01 }, .linkLayerAddressInvalid),
            ("our MAC as sender", { $0.replaceSubrange(22..<28, with: F.bytes(F.localMAC)) }, .looped),
            ("our address as sender", { $0.replaceSubrange(28..<32, with: F.bytes(Self.ourIPv4)) }, .addressConflict),
        ]
        for (name, mutate, reason) in cases {
            var cache = Self.cache()
            var frame = valid
            mutate(&frame)
            #expect(try Self.deliver(frame, to: &cache).0 == .consumed, "\(name)")
            #expect(cache.counters[reason] == 1, "\(name)")
            #expect(cache.counters.repliesSent == 0, "\(name)")
        }
        // Shorter than 28 bytes never gets past decapsulation.
        let short = Array(valid[0..<41])
        let peer = F.peerTunnel(of: F.tunnel4())
        let (range, storage) = try F.withBuffer(headroom: 36, short) { buffer, frame in
            try peer.encapsulate(ethernetFrame: frame, in: buffer)
        }
        #expect(F.decapsulate(Array(storage[range]), tunnel: F.tunnel4()) == .failure(.innerPacketInvalid))
        #expect(Array(valid[14..<41]).withUnsafeBytes { bytes in
            Result { () throws(NeighborDropReason) in try ARPPacket(parsing: bytes) } }
            == .failure(.truncated))
    }

    // MARK: Neighbor Discovery

    @Test func answersANeighborSolicitationWithAdvertisement() throws {
        var cache = Self.cache()
        let solicitation = Self.ndPacket(type: 135, source: Self.peerLinkLocal,
                                         destination: Self.ourLinkLocal.solicitedNodeMulticast, target: Self.ourLinkLocal,
                                         options: Self.linkLayerOption(1, F.peerMAC))
        #expect(Array(solicitation[24..<40]) == F.bytes(F.v6("ff02::1:ff00:1")))
        let frame = Self.ethernet(F.mac("33:33:ff:00:00:01"), F.peerMAC, 0x86DD, solicitation)
        let (input, reply) = try Self.deliver(frame, to: &cache)
        if case .reply = input {} else { Issue.record("expected a reply, got \(input)") }
        // R, S and O set (0xE0), Target Link-Layer Address option with our MAC.
        let advertisement = Self.ndPacket(type: 136, flags: 0xE0, source: Self.ourLinkLocal,
                                          destination: Self.peerLinkLocal, target: Self.ourLinkLocal,
                                          options: Self.linkLayerOption(2, F.localMAC))
        #expect(reply == Self.ethernet(F.peerMAC, F.localMAC, 0x86DD, advertisement))
        #expect(cache.peerMAC == F.peerMAC)

        // The checksum of the reply, recomputed independently from its own bytes.
        let packet = try #require(reply).dropFirst(14)
        let icmp = Array(packet.dropFirst(40))
        var zeroed = icmp
        zeroed[2] = 0
        zeroed[3] = 0
        let pseudo = F.ipv6PseudoHeader(source: Self.ourLinkLocal, destination: Self.peerLinkLocal, nextHeader: 58,
                                        length: icmp.count)
        #expect(F.word(icmp, at: 2) == F.referenceChecksum(pseudo + zeroed))
        #expect(F.referenceChecksum(pseudo + icmp) == 0)
    }

    @Test func answersDuplicateAddressDetectionToAllNodes() throws {
        var cache = Self.cache()
        let solicitation = Self.ndPacket(type: 135, source: .any, destination: Self.ourGlobal.solicitedNodeMulticast,
                                         target: Self.ourGlobal, options: [])
        let (_, reply) = try Self.deliver(Self.ethernet(F.mac("33:33:ff:00:00:01"), F.peerMAC, 0x86DD, solicitation),
                                          to: &cache)
        // RFC 4861 §7.2.4: to all-nodes, S clear (R and O: 0xA0).
        let advertisement = Self.ndPacket(type: 136, flags: 0xA0, source: Self.ourGlobal, destination: F.v6("ff02::1"),
                                          target: Self.ourGlobal, options: Self.linkLayerOption(2, F.localMAC))
        #expect(reply == Self.ethernet(F.mac("33:33:00:00:00:01"), F.localMAC, 0x86DD, advertisement))
    }

    @Test func unicastSolicitationWithoutOptionIsAnsweredToTheFrameSource() throws {
        var cache = Self.cache()
        let solicitation = Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: Self.ourLinkLocal,
                                         target: Self.ourLinkLocal, options: [])
        let (_, reply) = try Self.deliver(Self.ethernet(F.localMAC, F.peerMAC, 0x86DD, solicitation), to: &cache)
        let advertisement = Self.ndPacket(type: 136, flags: 0xE0, source: Self.ourLinkLocal,
                                          destination: Self.peerLinkLocal, target: Self.ourLinkLocal,
                                          options: Self.linkLayerOption(2, F.localMAC))
        #expect(reply == Self.ethernet(F.peerMAC, F.localMAC, 0x86DD, advertisement))
    }

    @Test func learnsFromAdvertisementsAndIgnoresOtherTargets() throws {
        var cache = Self.cache()
        let newMAC = F.mac("02:00:00:00:00:33")
        let advertisement = Self.ndPacket(type: 136, flags: 0x20, source: Self.peerLinkLocal, destination: F.v6("ff02::1"),
                                          target: Self.peerLinkLocal, options: Self.linkLayerOption(2, newMAC))
        // The frame's own source is the old MAC; the option announces the new one.
        #expect(try Self.deliver(Self.ethernet(F.mac("33:33:00:00:00:01"), F.peerMAC, 0x86DD, advertisement),
                                 to: &cache).0 == .consumed)
        #expect(cache.peerMAC == newMAC)

        let otherTarget = Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: F.v6("fe80::9").solicitedNodeMulticast,
                                        target: F.v6("fe80::9"), options: Self.linkLayerOption(1, F.peerMAC))
        #expect(try Self.deliver(Self.ethernet(F.mac("33:33:ff:00:00:09"), F.peerMAC, 0x86DD, otherTarget),
                                 to: &cache).0 == .consumed)
        #expect(cache.counters.repliesSent == 0)

        // Ordinary IPv6 and IPv4 traffic is not the cache's.
        #expect(try Self.deliver(Self.ethernet(F.localMAC, F.peerMAC, 0x86DD, F.innerIPv6UDP()), to: &cache).0
                == .notNeighborTraffic)
        #expect(try Self.deliver(Self.ethernet(F.localMAC, F.peerMAC, 0x0800, F.innerIPv4Ping()), to: &cache).0
                == .notNeighborTraffic)
    }

    @Test func neighborDiscoveryValidation() {
        let target = Self.ourLinkLocal
        let group = target.solicitedNodeMulticast
        let option = Self.linkLayerOption(1, F.peerMAC)
        let cases: [(String, [UInt8], NeighborDropReason)] = [
            ("hop limit 254", Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group, target: target,
                                            options: option, hopLimit: 254), .hopLimitInvalid),
            ("bad checksum", {
                var packet = Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group, target: target,
                                           options: option)
                packet[43] ^= 0x10
                return packet
            }(), .checksumInvalid),
            ("code 1", Self.ndPacket(type: 135, code: 1, source: Self.peerLinkLocal, destination: group,
                                     target: target, options: option), .codeInvalid),
            ("multicast target", Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group,
                                               target: F.v6("ff02::1"), options: option), .targetInvalid),
            ("zero-length option", Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group,
                                                 target: target, options: [1, 0] + F.bytes(F.peerMAC)), .optionInvalid),
            ("option past the end", Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group,
                                                  target: target, options: [1, 2] + F.bytes(F.peerMAC)), .optionInvalid),
            ("option of one byte", Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group,
                                                 target: target, options: option + [1]), .optionInvalid),
            ("16-byte link-layer option", Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group,
                                                        target: target, options: [1, 2] + F.bytes(F.peerMAC) + [UInt8](repeating: 0, count: 8)),
             .optionInvalid),
            ("multicast link-layer address", Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group,
                                                           target: target, options: Self.linkLayerOption(1, .broadcast)),
             .linkLayerAddressInvalid),
            ("DAD with source option", Self.ndPacket(type: 135, source: .any, destination: group, target: target,
                                                     options: option), .addressInvalid),
            ("DAD to unicast", Self.ndPacket(type: 135, source: .any, destination: target, target: target, options: []),
             .addressInvalid),
            ("solicited NA to all nodes", Self.ndPacket(type: 136, flags: 0x40, source: Self.peerLinkLocal,
                                                        destination: F.v6("ff02::1"), target: Self.peerLinkLocal,
                                                        options: []), .addressInvalid),
            ("short message", F.ipv6Packet(source: Self.peerLinkLocal, destination: group, nextHeader: 58, hopLimit: 255,
                                           payload: [135, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 8)),
             .truncated),
            ("echo request", Self.ndPacket(type: 128, source: Self.peerLinkLocal, destination: target, target: target,
                                           options: []), .notNeighborDiscovery),
            ("payload length past the end", {
                var packet = Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group, target: target,
                                           options: option)
                F.setWord(&packet, at: 4, F.word(packet, at: 4) + 8)
                return packet
            }(), .truncated),
        ]
        for (name, packet, reason) in cases {
            let result = packet.withUnsafeBytes { bytes in
                Result { () throws(NeighborDropReason) in try NeighborDiscoveryMessage(parsing: bytes) }
            }
            #expect(result == .failure(reason), "\(name)")
        }
        // Every truncation of a valid NS fails cleanly.
        let valid = Self.ndPacket(type: 135, source: Self.peerLinkLocal, destination: group, target: target, options: option)
        for length in 0..<valid.count {
            let result = Array(valid[0..<length]).withUnsafeBytes { bytes in
                Result { () throws(NeighborDropReason) in try NeighborDiscoveryMessage(parsing: bytes) }
            }
            #expect((try? result.get()) == nil, "cut at \(length)")
        }
        #expect((try? valid.withUnsafeBytes { try NeighborDiscoveryMessage(parsing: $0) }) == .solicitation(
            NeighborSolicitation(source: Self.peerLinkLocal, destination: group, target: target,
                                 sourceLinkLayerAddress: F.peerMAC)))
    }

    @Test func solicitedNodeGroup() {
        #expect(F.v6("2001:db8::abcd:1234:5678").solicitedNodeMulticast == F.v6("ff02::1:ff34:5678"))
        #expect(F.v6("ff02::1:ff34:5678").isSolicitedNodeMulticast)
        #expect(!F.v6("ff02::1:fe34:5678").isSolicitedNodeMulticast)
    }

    // MARK: Resolution

    @Test func resolvesGroupsDirectlyAndSolicitsOncePerInterval() {
        var cache = Self.cache()
        #expect(cache.resolve(.v4(F.v4("224.0.0.5")), now: 0) == .resolved(F.mac("01:00:5e:00:00:05")))
        #expect(cache.resolve(.v6(F.v6("ff02::5")), now: 0) == .resolved(F.mac("33:33:00:00:00:05")))
        #expect(cache.resolve(.v4(.broadcast), now: 0) == .resolved(.broadcast))
        #expect(cache.resolve(.v4(F.v4("10.255.0.3")), now: 0) == .resolved(.broadcast))

        #expect(cache.resolve(.v4(Self.peerIPv4), now: 0) == .unresolved(solicit: true))
        #expect(cache.resolve(.v4(Self.peerIPv4), now: 999_999_999) == .unresolved(solicit: false))
        #expect(cache.resolve(.v6(Self.peerLinkLocal), now: 999_999_999) == .unresolved(solicit: true))
        #expect(cache.resolve(.v4(Self.peerIPv4), now: 1_000_000_000) == .unresolved(solicit: true))
        #expect(cache.counters.unresolvedDrops == 4)
        #expect(cache.counters.solicitationsSent == 3)

        cache.learn(F.peerMAC, now: 2_000_000_000)
        #expect(cache.resolve(.v4(Self.peerIPv4), now: 2_000_000_000) == .resolved(F.peerMAC))
        #expect(cache.resolve(.v6(F.v6("fd00:1::2")), now: 2_000_000_000) == .resolved(F.peerMAC))
        // Group and own MACs are never learned.
        cache.learn(.broadcast, now: 3)
        cache.learn(F.localMAC, now: 3)
        #expect(cache.peerMAC == F.peerMAC)
    }

    @Test func solicitationFrames() {
        let cache = Self.cache()
        var buffer = [UInt8](repeating: 0, count: 128)
        let arp = buffer.withUnsafeMutableBytes { cache.writeSolicitation(for: .v4(Self.peerIPv4), into: $0, atByteOffset: 36) }
        #expect(Array(buffer[arp]) == Self.arpFrame(destination: .broadcast, source: F.localMAC, operation: 1,
                                                     senderMAC: F.localMAC, senderIP: Self.ourIPv4, targetMAC: .zero,
                                                     targetIP: Self.peerIPv4))
        let ns = buffer.withUnsafeMutableBytes { cache.writeSolicitation(for: .v6(Self.peerLinkLocal), into: $0, atByteOffset: 36) }
        let expected = Self.ndPacket(type: 135, source: Self.ourLinkLocal, destination: F.v6("ff02::1:ff00:2"),
                                     target: Self.peerLinkLocal, options: Self.linkLayerOption(1, F.localMAC))
        #expect(Array(buffer[ns]) == Self.ethernet(F.mac("33:33:ff:00:00:02"), F.localMAC, 0x86DD, expected))
        #expect(ns.count == 86)
        // A global target is solicited from the global address sharing its prefix.
        let global = buffer.withUnsafeMutableBytes { cache.writeSolicitation(for: .v6(F.v6("fd00:1::2")), into: $0, atByteOffset: 0) }
        #expect(Array(buffer[global][22..<38]) == F.bytes(Self.ourGlobal))

        // With no address of the family: an ARP Probe / a DAD solicitation without option.
        let bare = NeighborCache(configuration: .init(localMAC: F.localMAC))
        let probe = buffer.withUnsafeMutableBytes { bare.writeSolicitation(for: .v4(Self.peerIPv4), into: $0, atByteOffset: 0) }
        #expect(Array(buffer[probe][28..<32]) == [0, 0, 0, 0])
        let dad = buffer.withUnsafeMutableBytes { bare.writeSolicitation(for: .v6(Self.peerLinkLocal), into: $0, atByteOffset: 0) }
        #expect(dad.count == 14 + 40 + 24)
    }

    // MARK: Announcements

    @Test func announcesOnLinkUpOnSchedule() {
        var cache = Self.cache()
        #expect(cache.nextAnnouncementDeadline == nil)
        let second: UInt64 = 1_000_000_000
        cache.linkUp(now: 5 * second)
        var buffer = [UInt8](repeating: 0, count: 128)
        func drain(at now: UInt64) -> [[UInt8]] {
            var frames: [[UInt8]] = []
            for _ in 0..<10 {
                guard let range = buffer.withUnsafeMutableBytes({ cache.nextAnnouncement(now: now, into: $0, atByteOffset: 0) })
                else { break }
                frames.append(Array(buffer[range]))
            }
            return frames
        }
        let gratuitous = Self.arpFrame(destination: .broadcast, source: F.localMAC, operation: 1, senderMAC: F.localMAC,
                                       senderIP: Self.ourIPv4, targetMAC: .zero, targetIP: Self.ourIPv4)
        let linkLocalNA = Self.ethernet(F.mac("33:33:00:00:00:01"), F.localMAC, 0x86DD, Self.ndPacket(
            type: 136, flags: 0xA0, source: Self.ourLinkLocal, destination: F.v6("ff02::1"), target: Self.ourLinkLocal,
            options: Self.linkLayerOption(2, F.localMAC)))
        let globalNA = Self.ethernet(F.mac("33:33:00:00:00:01"), F.localMAC, 0x86DD, Self.ndPacket(
            type: 136, flags: 0xA0, source: Self.ourGlobal, destination: F.v6("ff02::1"), target: Self.ourGlobal,
            options: Self.linkLayerOption(2, F.localMAC)))

        #expect(drain(at: 5 * second) == [gratuitous, linkLocalNA, globalNA])
        #expect(cache.nextAnnouncementDeadline == 6 * second)
        #expect(drain(at: 6 * second - 1) == [])
        #expect(drain(at: 6 * second) == [linkLocalNA, globalNA])
        #expect(cache.nextAnnouncementDeadline == 7 * second)
        // ARP's second announcement (2 s) and the third NA round (1 s later) fall together.
        #expect(drain(at: 7 * second) == [gratuitous, linkLocalNA, globalNA])
        #expect(cache.nextAnnouncementDeadline == nil)
        #expect(drain(at: 100 * second) == [])
        #expect(cache.counters.announcementsSent == 8)
    }
}
