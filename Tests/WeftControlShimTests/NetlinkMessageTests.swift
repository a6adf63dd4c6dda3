// Message encoding and decoding without a kernel: every request the wrappers build decodes back
// to the same value (an RTM_NEWROUTE request has the layout of an RTM_NEWROUTE reply), and
// corrupted messages decode to something or nothing, never a crash. No root needed.

import CMnl
import Testing
@testable import WeftControlShim
import WeftRouting

/// A message buffer for building requests in tests.
private final class MessageBuffer {
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 * 1024, alignment: 8)

    deinit { bytes.deallocate() }

    /// Builds a message of `type` and returns a copy of its bytes.
    func build(type: Int, _ body: (inout NetlinkRequest) -> Void) -> [UInt8] {
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        var request = NetlinkRequest(in: bytes, type: UInt16(type), flags: 0, sequence: 1)
        body(&request)
        precondition(!request.overflowed)
        return Array(request.bytes)
    }
}

/// Runs `body` with `message` (whose nlmsg_len is trusted, as after mnl_nlmsg_ok) in an aligned buffer.
private func withMessage<R>(_ message: [UInt8], _ body: (NetlinkMessage) -> R) -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(message.count, 16), alignment: 8)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: message)
    return body(NetlinkMessage(header: UnsafePointer(buffer.baseAddress!.assumingMemoryBound(to: nlmsghdr.self))))
}

/// SplitMix64 (Steele, Lea, Flood 2014): a seeded generator, so a failure reproduces.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private let sampleRoutes: [KernelRoute] = [
    KernelRoute(destination: prefix("100.64.2.0/24"), gateway: address("198.18.0.2"), link: LinkID(3)),
    KernelRoute(destination: prefix("100.64.3.0/24"), link: LinkID(3), metric: 50),
    KernelRoute(destination: prefix("0.0.0.0/0"), gateway: address("198.18.0.1"), link: LinkID(2)),
    KernelRoute(destination: prefix("fd00:5::/64"),
                nextHops: [NextHop(link: LinkID(3), gateway: address("fd00:1::2")),
                           NextHop(link: LinkID(5), gateway: address("fd00:2::2"), weight: 3)],
                metric: 7),
    KernelRoute(destination: prefix("100.64.4.0/24"),
                nextHops: [NextHop(link: LinkID(3), gateway: address("198.18.0.2"), weight: 256),
                           NextHop(link: LinkID(5))]),
    KernelRoute(destination: prefix("100.64.13.0/24"), gateway: address("fd00:1::2"), link: LinkID(3)),
    KernelRoute(destination: prefix("100.64.10.0/24"), nextHops: [], type: .blackhole),
    KernelRoute(destination: prefix("::/0"), nextHops: [], type: .unreachable, metric: 4000),
    KernelRoute(destination: prefix("100.64.11.0/24"), nextHops: [NextHop(link: LinkID(7))], metric: 9,
                table: RouteTableID(1000), protocol: .ospf, preferredSource: address("198.18.0.1")),
]

private let sampleAddresses: [(IPPrefix, IPAddress?, AddressFlags)] = [
    (prefix("198.18.0.1/24"), nil, []),
    (prefix("100.64.0.1/32"), address("100.64.0.2"), []),
    (prefix("fd00:1::1/64"), nil, .noDAD),
    (prefix("fd00:1::1/64"), nil, [.noDAD, .noPrefixRoute]),
    (prefix("fd00:9::1/128"), address("fd00:9::2"), []),
]

@Suite("Netlink message encoding")
struct NetlinkMessageTests {
    @Test(arguments: sampleRoutes)
    func routeRequestsDecodeToTheSameRoute(route: KernelRoute) {
        let message = MessageBuffer().build(type: RTM_NEWROUTE) {
            NetlinkSocket.buildRouteRequest(&$0, route: route, isDeletion: false)
        }
        #expect(withMessage(message, NetlinkSocket.parseRoute) == route)
    }

    @Test func routeRequestsSendTheCanonicalDestination() {
        let route = KernelRoute(destination: prefix("100.64.1.7/24"), link: LinkID(3))
        let message = MessageBuffer().build(type: RTM_NEWROUTE) {
            NetlinkSocket.buildRouteRequest(&$0, route: route, isDeletion: false)
        }
        #expect(withMessage(message, NetlinkSocket.parseRoute)?.destination == prefix("100.64.1.0/24"))
    }

    @Test(arguments: sampleRoutes)
    func deletionsMatchByDestinationMetricTableAndProtocolOnly(route: KernelRoute) throws {
        let message = MessageBuffer().build(type: RTM_NEWROUTE) {
            NetlinkSocket.buildRouteRequest(&$0, route: route, isDeletion: true)
        }
        let decoded = try #require(withMessage(message, NetlinkSocket.parseRoute))
        #expect(decoded.destination == route.destination)
        #expect(decoded.metric == route.metric)
        #expect(decoded.table == route.table)
        #expect(decoded.protocol == route.protocol)
        #expect(decoded.nextHops.isEmpty)
        // RT_SCOPE_NOWHERE and RTN_UNSPEC are the kernel's "any" for deletions.
        #expect(decoded.scope == RouteScope.nowhere)
        #expect(decoded.type == RouteType(rawValue: 0))
    }

    @Test func addressRequestsDecodeToTheSameAddress() {
        for (configured, peer, flags) in sampleAddresses {
            let message = MessageBuffer().build(type: RTM_NEWADDR) {
                NetlinkSocket.buildAddressRequest(&$0, address: configured, link: LinkID(4), peer: peer, flags: flags)
            }
            let decoded = withMessage(message, NetlinkSocket.parseAddress)
            #expect(decoded == InterfaceAddress(link: LinkID(4), address: configured.address,
                                                prefixLength: configured.length, peer: peer, flags: flags))
        }
    }

    @Test func linkRepliesDecode() {
        let message = sampleLinkMessage()
        let link = withMessage(message, NetlinkSocket.parseLink)
        #expect(link == KernelLink(id: LinkID(3), name: "weft0", flags: [.up, .lowerUp], mtu: 1420,
                                         address: LinkLayerAddress(bytes: [2, 0, 0x5E, 0x10, 0, 1]),
                                         kind: "veth", operationalState: .up))
        #expect(link?.description == "3: weft0 <UP,LOWER_UP> mtu 1420 state UP kind veth address 02:00:5e:10:00:01")
    }

    /// Random byte changes and truncations of valid messages, decoded by every parser.
    @Test func corruptedMessagesNeverCrashTheParsers() {
        let buffer = MessageBuffer()
        var messages = sampleRoutes.map { route in
            buffer.build(type: RTM_NEWROUTE) { NetlinkSocket.buildRouteRequest(&$0, route: route, isDeletion: false) }
        }
        messages += sampleAddresses.map { configured, peer, flags in
            buffer.build(type: RTM_NEWADDR) {
                NetlinkSocket.buildAddressRequest(&$0, address: configured, link: LinkID(4), peer: peer, flags: flags)
            }
        }
        messages.append(sampleLinkMessage())
        var random = SplitMix64(state: 0x5745_4654)
        var decoded = 0
        for original in messages {
            for _ in 0..<2_000 {
                var message = original
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    message[Int.random(in: 16..<message.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
                if Bool.random(using: &random) {
                    // A shorter nlmsg_len: the parsers must stay inside it.
                    let length = UInt32(Int.random(in: 16...message.count, using: &random))
                    withUnsafeBytes(of: length) { message.replaceSubrange(0..<4, with: $0) }
                }
                withMessage(message) { parsed in
                    if NetlinkSocket.parseRoute(parsed) != nil { decoded += 1 }
                    if NetlinkSocket.parseAddress(parsed) != nil { decoded += 1 }
                    if NetlinkSocket.parseLink(parsed) != nil { decoded += 1 }
                }
            }
        }
        // Most corruptions still leave a decodable message; the point is that none crashed.
        #expect(decoded > 0)
    }

    @Test func errorsReadWell() {
        let cases: [(NetlinkError, String)] = [
            (NetlinkError(operation: "adding route 100.64.2.0/24 dev weft0", reason: .kernel(.fileExists, message: nil)),
             "adding route 100.64.2.0/24 dev weft0: File exists"),
            (NetlinkError(operation: "adding route 100.64.2.0/24 via 198.18.0.9 dev weft0",
                          reason: .kernel(.networkUnreachable, message: "Nexthop has invalid gateway")),
             "adding route 100.64.2.0/24 via 198.18.0.9 dev weft0: Network is unreachable (Nexthop has invalid gateway)"),
            (NetlinkError(operation: "listing links", reason: .timedOut),
             "listing links: no reply from the kernel (timed out)"),
            (NetlinkError(operation: "opening the rtnetlink socket", reason: .socket(.operationNotPermitted)),
             "opening the rtnetlink socket: socket error: Operation not permitted"),
            (NetlinkError(operation: "listing routes", reason: .dumpInconsistent),
             "listing routes: the table kept changing while being read (NLM_F_DUMP_INTR)"),
        ]
        for (error, text) in cases {
            #expect(error.description == text)
        }
        #expect(NetlinkError(operation: "x", reason: .timedOut).code == nil)
        #expect(NetlinkError(operation: "x", reason: .kernel(.noSuchDevice, message: "m")).kernelMessage == "m")
    }

    @Test func routeDescriptionsFollowIPRoute() {
        #expect(sampleRoutes[0].description == "100.64.2.0/24 via 198.18.0.2 dev #3 proto weft")
        #expect(sampleRoutes[3].description ==
            "fd00:5::/64 nexthop via fd00:1::2 dev #3 nexthop via fd00:2::2 dev #5 weight 3 proto weft metric 7")
        #expect(sampleRoutes[6].description == "blackhole 100.64.10.0/24 proto weft")
        #expect(sampleRoutes[8].description == "100.64.11.0/24 dev #7 table 1000 proto ospf metric 9")
    }

    @Test func defaultScopes() {
        #expect(sampleRoutes[0].scope == .universe)
        #expect(sampleRoutes[1].scope == .link)
        #expect(sampleRoutes[3].scope == .universe)
        #expect(KernelRoute(destination: prefix("fd00:3::/64"), link: LinkID(3)).scope == .universe)
        #expect(sampleRoutes[6].scope == .universe)
    }

    private func sampleLinkMessage() -> [UInt8] {
        MessageBuffer().build(type: RTM_NEWLINK) { request in
            var header = ifinfomsg()
            header.ifi_index = 3
            header.ifi_flags = LinkFlags([.up, .lowerUp]).rawValue
            request.appendHeader(header)
            request.put(UInt16(IFLA_IFNAME), string: "weft0")
            request.put(UInt16(IFLA_MTU), u32: 1420)
            [UInt8]([2, 0, 0x5E, 0x10, 0, 1]).withUnsafeBytes { request.put(UInt16(IFLA_ADDRESS), bytes: $0) }
            request.put(UInt16(IFLA_OPERSTATE), u8: 6)
            request.nest(UInt16(IFLA_LINKINFO)) { $0.put(UInt16(IFLA_INFO_KIND), string: "veth") }
        }
    }
}
