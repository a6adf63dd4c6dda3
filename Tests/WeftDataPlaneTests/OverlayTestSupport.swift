// Fixtures for the overlay router tests: buffers laid out like the engine's BufferPool slots,
// and a three-node chain A — hub — B of OverlayRouters wired back to back (a `.toLink` result of
// one router is the other end's `fromLink` input; WireGuard is left out, it only encrypts).

import Testing
import WeftRouting
@testable import WeftDataPlane

enum OverlayFixture {
    typealias F = PacketFixture

    /// A 2 KiB slot with the engine's 128 bytes of headroom: TUN packets start there, and
    /// decrypted WireGuard payloads 16 bytes later (after the transport header).
    static let slotLength = 2048
    static let tunOffset = 128
    static let linkOffset = 128 + WireGuard.transportHeaderLength

    /// What a router returned, with the bytes of its output range (nil for `.consumed` and
    /// `.drop`).
    struct Outcome {
        var action: OverlayAction
        var bytes: [UInt8]?
        /// Where the output range started in the slot.
        var start: Int?
    }

    static func outcome(_ action: OverlayAction, _ slot: [UInt8]) -> Outcome {
        switch action {
        case .toLink(_, let range), .toTUN(let range), .control(_, let range):
            Outcome(action: action, bytes: Array(slot[range]), start: range.lowerBound)
        case .consumed, .drop:
            Outcome(action: action, bytes: nil, start: nil)
        }
    }

    static func slot(with bytes: [UInt8], at offset: Int, length: Int = slotLength) -> [UInt8] {
        var slot = [UInt8](repeating: 0xEE, count: max(length, offset + bytes.count))
        slot.replaceSubrange(offset..<offset + bytes.count, with: bytes)
        return slot
    }

    static func fromTUN(_ router: inout OverlayRouter, _ packet: [UInt8], now: UInt64 = 0,
                        at offset: Int = tunOffset) -> Outcome {
        var slot = slot(with: packet, at: offset)
        let action = slot.withUnsafeMutableBytes { router.fromTUN(offset..<offset + packet.count, in: $0, now: now) }
        return outcome(action, slot)
    }

    static func fromLink(_ router: inout OverlayRouter, _ link: LinkID, _ payload: [UInt8], now: UInt64 = 0,
                         at offset: Int = linkOffset) -> Outcome {
        var slot = slot(with: payload, at: offset)
        let action = slot.withUnsafeMutableBytes {
            router.fromLink(link, payload: offset..<offset + payload.count, in: $0, now: now)
        }
        return outcome(action, slot)
    }

    static func sendControl(_ router: inout OverlayRouter, _ packet: [UInt8], on link: LinkID,
                            now: UInt64 = 0) -> Outcome {
        var slot = slot(with: packet, at: tunOffset)
        let action = slot.withUnsafeMutableBytes {
            router.sendControl(tunOffset..<tunOffset + packet.count, on: link, in: $0, now: now)
        }
        return outcome(action, slot)
    }

    /// Runs `tick` and collects every frame it emits.
    static func tick(_ router: inout OverlayRouter, now: UInt64) -> (frames: [(LinkID, [UInt8])], next: UInt64?) {
        var scratch = [UInt8](repeating: 0, count: router.tickBufferLength)
        var frames: [(LinkID, [UInt8])] = []
        let reserved = router.configuration.reservedHeadroom
        let next = scratch.withUnsafeMutableBytes { buffer in
            router.tick(now: now, buffer: buffer) { link, range in
                #expect(range.lowerBound >= reserved)
                frames.append((link, Array(buffer[range])))
            }
        }
        return (frames, next)
    }

    // MARK: Addresses

    static func v4(_ text: String) -> IPv4Address { IPv4Address(text)! }
    static func v6(_ text: String) -> IPv6Address { IPv6Address(text)! }
    static func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }
    static func vni(_ value: UInt32) -> VXLANNetworkIdentifier { VXLANNetworkIdentifier(rawValue: value)! }

    /// A MAC derived as the engine derives them: from a node's key and the VNI.
    static func mac(node: UInt8, vni: UInt32) -> MACAddress {
        let seed = [UInt8](repeating: node, count: 32)
        return seed.withUnsafeBytes { MACAddress(derivedFrom: $0, vni: Self.vni(vni)) }
    }

    // MARK: Packets

    /// An ICMPv4 echo request with `dataLength` bytes of data.
    static func ping4(from source: IPv4Address, to destination: IPv4Address, ttl: UInt8 = 64, dataLength: Int = 56,
                      flags: UInt16 = 0x4000, sequence: UInt16 = 1) -> [UInt8] {
        F.ipv4Packet(source: source, destination: destination, protocolNumber: 1, ttl: ttl, flags: flags,
                     payload: F.icmpEcho(sequence: sequence,
                                         data: (0..<dataLength).map { UInt8(truncatingIfNeeded: $0) }))
    }

    /// An ICMPv6 echo request (RFC 4443 §4.1) with a correct checksum.
    static func ping6(from source: IPv6Address, to destination: IPv6Address, hopLimit: UInt8 = 64,
                      dataLength: Int = 56) -> [UInt8] {
        var icmp: [UInt8] = [128, 0, 0, 0, 0x42, 0x42, 0, 1] + (0..<dataLength).map { UInt8(truncatingIfNeeded: $0) }
        F.setWord(&icmp, at: 2, F.referenceChecksum(
            F.ipv6PseudoHeader(source: source, destination: destination, nextHeader: 58, length: icmp.count) + icmp))
        return F.ipv6Packet(source: source, destination: destination, nextHeader: 58, hopLimit: hopLimit, payload: icmp)
    }

    /// A UDP datagram (checksum left zero: IPv4 allows it, and nothing here checks it).
    static func udp4(from source: IPv4Address, to destination: IPv4Address, sourcePort: UInt16,
                     destinationPort: UInt16 = 5001, length: Int = 100) -> [UInt8] {
        let data = [UInt8](repeating: 0x5A, count: length - 28)
        let udp = F.bytes(sourcePort) + F.bytes(destinationPort) + F.bytes(UInt16(8 + data.count)) + [0, 0] + data
        return F.ipv4Packet(source: source, destination: destination, protocolNumber: 17, payload: udp)
    }

    /// An OSPFv2 Hello-sized packet (RFC 2328 §A.3.2) in IPv4 with TTL 1, as the OSPF driver
    /// sends it. The OSPF body is opaque to the router.
    static func ospf4(from source: IPv4Address, to destination: IPv4Address = v4("224.0.0.5")) -> [UInt8] {
        let body: [UInt8] = [2, 1, 0, 44] + F.bytes(source) + [0, 0, 0, 0] + [0, 0, 0, 0]
            + [UInt8](repeating: 0, count: 8) + [255, 255, 255, 252, 0, 10, 2, 1] + [0, 0, 0, 40]
            + [0, 0, 0, 0, 0, 0, 0, 0]
        return F.ipv4Packet(source: source, destination: destination, protocolNumber: 89, ttl: 1, tos: 0xC0,
                            payload: body)
    }

    /// The IPv4 header checksum is valid.
    static func ipv4HeaderValid(_ packet: [UInt8]) -> Bool {
        F.referenceChecksum(Array(packet[0..<Int(packet[0] & 0x0F) * 4])) == 0
    }

    /// The ICMPv4 checksum over everything after a 20-byte header is valid.
    static func icmp4Valid(_ packet: [UInt8]) -> Bool {
        F.referenceChecksum(Array(packet[20...])) == 0
    }

    /// The ICMPv6 checksum (pseudo-header included) of an IPv6 packet without extension headers.
    static func icmp6Valid(_ packet: [UInt8]) -> Bool {
        let source = IPv6Address(bytes: packet, atByteOffset: 8)!
        let destination = IPv6Address(bytes: packet, atByteOffset: 24)!
        let body = Array(packet[40...])
        return F.referenceChecksum(F.ipv6PseudoHeader(source: source, destination: destination, nextHeader: 58,
                                                      length: body.count) + body) == 0
    }
}

extension IPv6Address {
    init?(bytes: [UInt8], atByteOffset offset: Int) {
        let value: IPv6Address? = bytes.withUnsafeBytes { IPv6Address(bytes: $0, atByteOffset: offset) }
        guard let value else { return nil }
        self = value
    }
}

/// Three routers: A (LAN 192.168.1.0/24, fd01::/64) — link 1, IPv4 outer — hub — link 2, IPv6
/// outer — B (LAN 192.168.2.0/24, fd02::/64). Link 1 has MTU 1370, link 2 1350 (the Linux
/// defaults on a 1420-byte wg device).
struct OverlayChain {
    typealias O = OverlayFixture

    enum Node: Int, CaseIterable, CustomStringConvertible {
        case a, hub, b
        var description: String { ["A", "hub", "B"][rawValue] }
    }

    static let link1 = LinkID(1)
    static let link2 = LinkID(2)

    // Link 1: A 10.255.1.1/30 — hub 10.255.1.2/30; outer 172.16.1.1 ↔ 172.16.1.2.
    static let aLink1 = O.v4("10.255.1.1"), hubLink1 = O.v4("10.255.1.2")
    static let aLink1v6 = O.v6("fd10:1::1"), hubLink1v6 = O.v6("fd10:1::2")
    // Link 2: hub 10.255.2.1/30 — B 10.255.2.2/30; outer fd99:2::1 ↔ fd99:2::2.
    static let hubLink2 = O.v4("10.255.2.1"), bLink2 = O.v4("10.255.2.2")
    static let hubLink2v6 = O.v6("fd10:2::1"), bLink2v6 = O.v6("fd10:2::2")

    static let aHost = O.v4("192.168.1.10"), bHost = O.v4("192.168.2.20")
    static let aHost6 = O.v6("fd01::10"), bHost6 = O.v6("fd02::20")
    /// The address A's router writes ICMP errors toward its TUN from.
    static let aICMPSource = O.v4("10.0.0.1"), aICMPSource6 = O.v6("fd00::1")

    static let vni1: UInt32 = 101, vni2: UInt32 = 102

    static func link(_ id: LinkID, node: Node, vni: UInt32, underlay: VXLANUnderlay,
                     v4: String, v6: String) -> OverlayLink {
        OverlayLink(id: id, tunnel: VXLANTunnel(vni: O.vni(vni), underlay: underlay,
                                                localMAC: O.mac(node: UInt8(node.rawValue + 1), vni: vni)),
                    ipv4Addresses: [IPv4Prefix(v4)!], ipv6Addresses: [IPv6Prefix(v6)!])
    }

    static let aLinks = [
        link(link1, node: .a, vni: vni1, underlay: .ipv4(local: O.v4("172.16.1.1"), remote: O.v4("172.16.1.2")),
             v4: "10.255.1.1/30", v6: "fd10:1::1/64"),
    ]
    static let hubLinks = [
        link(link1, node: .hub, vni: vni1, underlay: .ipv4(local: O.v4("172.16.1.2"), remote: O.v4("172.16.1.1")),
             v4: "10.255.1.2/30", v6: "fd10:1::2/64"),
        link(link2, node: .hub, vni: vni2, underlay: .ipv6(local: O.v6("fd99:2::1"), remote: O.v6("fd99:2::2")),
             v4: "10.255.2.1/30", v6: "fd10:2::1/64"),
    ]
    static let bLinks = [
        link(link2, node: .b, vni: vni2, underlay: .ipv6(local: O.v6("fd99:2::2"), remote: O.v6("fd99:2::1")),
             v4: "10.255.2.2/30", v6: "fd10:2::2/64"),
    ]

    static func route(_ prefix: String, _ link: LinkID, via gateway: String? = nil) -> Route {
        Route(prefix: O.prefix(prefix), source: .static,
              nextHops: [NextHop(link: link, gateway: gateway.map { IPAddress($0)! })])
    }

    static func router(_ node: Node, configuration: OverlayRouter.Configuration? = nil) -> OverlayRouter {
        let links: [OverlayLink]
        var routes: [Route]
        var config: OverlayRouter.Configuration
        let tun = OverlayRouter.tunLink
        switch node {
        case .a:
            links = aLinks
            config = .init(localAddresses: [.v4(O.v4("10.0.0.11"))], tunICMPSourceIPv4: aICMPSource,
                           tunICMPSourceIPv6: aICMPSource6, flowHashSeed: 1)
            routes = [route("192.168.1.0/24", tun), route("fd01::/64", tun),
                      route("192.168.2.0/24", link1, via: "10.255.1.2"), route("fd02::/64", link1, via: "fd10:1::2"),
                      route("10.255.2.0/30", link1, via: "10.255.1.2"), route("fd10:2::/64", link1, via: "fd10:1::2")]
        case .hub:
            links = hubLinks
            config = .init(localAddresses: [.v4(O.v4("10.0.0.12"))], flowHashSeed: 2)
            routes = [route("192.168.1.0/24", link1, via: "10.255.1.1"), route("fd01::/64", link1, via: "fd10:1::1"),
                      route("192.168.2.0/24", link2, via: "10.255.2.2"), route("fd02::/64", link2, via: "fd10:2::2")]
        case .b:
            links = bLinks
            config = .init(localAddresses: [.v4(O.v4("10.0.0.13"))], flowHashSeed: 3)
            routes = [route("192.168.2.0/24", tun), route("fd02::/64", tun),
                      route("192.168.1.0/24", link2, via: "10.255.2.1"), route("fd01::/64", link2, via: "fd10:2::1"),
                      route("10.255.1.0/30", link2, via: "10.255.2.1"), route("fd10:1::/64", link2, via: "fd10:2::1")]
        }
        var table = RoutingTable()
        for link in links { routes += link.connectedRoutes }
        for route in routes { table.install(route) }
        var router = OverlayRouter(configuration: configuration ?? config, routingTable: table)
        for link in links { try! router.addLink(link, now: 0) }
        return router
    }

    var routers: [OverlayRouter]

    init(configuration: OverlayRouter.Configuration? = nil) {
        routers = Node.allCases.map { Self.router($0, configuration: configuration) }
    }

    subscript(node: Node) -> OverlayRouter {
        get { routers[node.rawValue] }
        set { routers[node.rawValue] = newValue }
    }

    /// The node at the other end of `link` from `node`.
    static func peer(of node: Node, on link: LinkID) -> Node? {
        switch (node, link) {
        case (.a, link1): .hub
        case (.hub, link1): .a
        case (.hub, link2): .b
        case (.b, link2): .hub
        default: nil
        }
    }

    /// Where a packet ended up: the node and its last action (not `.toLink`), with its bytes.
    struct Arrival {
        var node: Node
        var outcome: O.Outcome
        var hops: Int
    }

    /// Follows `.toLink` outcomes across the links until every frame ends somewhere (consumed,
    /// dropped, delivered to a TUN, or handed to OSPF). Bounded: at most 16 hops.
    mutating func follow(_ outcome: O.Outcome, from node: Node, now: UInt64 = 0) -> [Arrival] {
        var arrivals: [Arrival] = []
        var pending: [(Node, O.Outcome, Int)] = [(node, outcome, 0)]
        while let (node, outcome, hops) = pending.popLast() {
            guard case .toLink(let link, _) = outcome.action, hops < 16, let bytes = outcome.bytes,
                  let peer = Self.peer(of: node, on: link) else {
                arrivals.append(Arrival(node: node, outcome: outcome, hops: hops))
                continue
            }
            let next = O.fromLink(&routers[peer.rawValue], link, bytes, now: now)
            pending.append((peer, next, hops + 1))
        }
        return arrivals
    }

    /// A writes `packet` to its TUN; where does it end up?
    mutating func send(_ packet: [UInt8], from node: Node = .a, now: UInt64 = 0) -> [Arrival] {
        let outcome = O.fromTUN(&routers[node.rawValue], packet, now: now)
        return follow(outcome, from: node, now: now)
    }

    /// Runs `tick` on every router and delivers the announcements to the peers.
    mutating func announceAll(now: UInt64 = 0) {
        for node in Node.allCases {
            let (frames, _) = O.tick(&routers[node.rawValue], now: now)
            for (link, bytes) in frames {
                let arrivals = follow(O.Outcome(action: .toLink(link, 0..<bytes.count), bytes: bytes), from: node,
                                      now: now)
                for arrival in arrivals { #expect(arrival.outcome.action == .consumed) }
            }
        }
    }
}
