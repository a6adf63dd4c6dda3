// Routes through rtnetlink, in a private network namespace, cross-checked with ip-route(8).

import Testing
@testable import WeftControlShim
import WeftRouting

/// Two veth pairs: weft-a (198.18.0.1/24, fd00:1::1/64) and weft-c (198.18.1.1/24,
/// fd00:2::1/64), so gateways 198.18.0.2 / 198.18.1.2 / fd00:1::2 / fd00:2::2 are on-link.
struct RoutedNamespace {
    let namespace: TestNamespace
    let a: LinkID
    let c: LinkID
    var socket: NetlinkSocket { namespace.socket }

    static func make() async throws -> RoutedNamespace {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, _) = try namespace.upVethPair("weft-a", "weft-b")
        let (c, _) = try namespace.upVethPair("weft-c", "weft-d")
        try socket.addAddress(prefix("198.18.0.1/24"), to: a)
        try socket.addAddress(prefix("fd00:1::1/64"), to: a, flags: .noDAD)
        try socket.addAddress(prefix("198.18.1.1/24"), to: c)
        try socket.addAddress(prefix("fd00:2::1/64"), to: c, flags: .noDAD)
        return RoutedNamespace(namespace: namespace, a: a, c: c)
    }
}

@Suite("Netlink routes", .needsNetworkNamespaces)
struct NetlinkRouteTests {
    @Test func addReplaceRemoveViaGateway() async throws {
        let lab = try await RoutedNamespace.make()
        let socket = lab.socket
        let route = KernelRoute(destination: prefix("100.64.2.0/24"), gateway: address("198.18.0.2"), link: lab.a)
        try socket.addRoute(route)
        #expect(try socket.routes(protocol: .weft) == [route])
        #expect(try lab.namespace.ip("route", "show", "100.64.2.0/24")
            == "100.64.2.0/24 via 198.18.0.2 dev weft-a proto 87 \n")

        let again = #expect(throws: NetlinkError.self) { try socket.addRoute(route) }
        #expect(again?.code == .fileExists)
        #expect(again?.description == "adding route 100.64.2.0/24 via 198.18.0.2 dev weft-a proto weft: File exists")

        let moved = KernelRoute(destination: prefix("100.64.2.0/24"), gateway: address("198.18.1.2"), link: lab.c)
        try socket.replaceRoute(moved)
        try socket.replaceRoute(moved)
        #expect(try socket.routes(protocol: .weft) == [moved])

        #expect(try socket.removeRoute(moved) == true)
        #expect(try socket.removeRoute(moved) == false)
        #expect(try socket.routes(protocol: .weft).isEmpty)
    }

    @Test func directRoutesWithoutGateway() async throws {
        let lab = try await RoutedNamespace.make()
        let socket = lab.socket
        let direct = KernelRoute(destination: prefix("100.64.3.0/24"), link: lab.a, metric: 50)
        #expect(direct.scope == .link)
        try socket.addRoute(direct)
        #expect(try lab.namespace.ip("route", "show", "100.64.3.0/24")
            == "100.64.3.0/24 dev weft-a proto 87 scope link metric 50 \n")

        try socket.addRoute(KernelRoute(destination: prefix("fd00:3::/64"), link: lab.a))
        try socket.addRoute(KernelRoute(destination: prefix("fd00:4::/64"), gateway: address("fd00:1::2"), link: lab.a, metric: 10))
        let routes = try socket.routes(protocol: .weft)
        #expect(routes.map(\.destination) == [prefix("100.64.3.0/24"), prefix("fd00:3::/64"), prefix("fd00:4::/64")])
        #expect(routes[0] == direct)
        // IPv6 metric 0 is stored as 1024; IPv6 routes have no scope.
        #expect(routes[1].metric == 1024)
        #expect(routes[1].nextHops == [NextHop(link: lab.a)])
        #expect(routes[2].metric == 10)
        #expect(routes[2].nextHops == [NextHop(link: lab.a, gateway: address("fd00:1::2"))])
        #expect(routes.allSatisfy { $0.protocol == .weft && $0.table == .main })
        #expect(try lab.namespace.ip("-6", "route", "show", "fd00:4::/64")
            == "fd00:4::/64 via fd00:1::2 dev weft-a proto 87 metric 10 pref medium\n")
    }

    @Test func equalCostMultipathKeepsEveryNextHop() async throws {
        let lab = try await RoutedNamespace.make()
        let socket = lab.socket
        let hops4 = [NextHop(link: lab.a, gateway: address("198.18.0.2")),
                     NextHop(link: lab.c, gateway: address("198.18.1.2"), weight: 3)]
        try socket.addRoute(KernelRoute(destination: prefix("100.64.4.0/24"), nextHops: hops4))
        let hops6 = [NextHop(link: lab.a, gateway: address("fd00:1::2")),
                     NextHop(link: lab.c, gateway: address("fd00:2::2"))]
        try socket.addRoute(KernelRoute(destination: prefix("fd00:5::/64"), nextHops: hops6, metric: 7))

        let routes = try socket.routes(protocol: .weft)
        #expect(routes.count == 2)
        #expect(routes.first?.nextHops.sorted() == hops4.sorted())
        #expect(routes.last?.nextHops.sorted() == hops6.sorted())

        let shown4 = try lab.namespace.ip("route", "show", "100.64.4.0/24")
        #expect(shown4.contains("nexthop via 198.18.0.2 dev weft-a weight 1"))
        #expect(shown4.contains("nexthop via 198.18.1.2 dev weft-c weight 3"))
        let shown6 = try lab.namespace.ip("-6", "route", "show", "fd00:5::/64")
        #expect(shown6.contains("nexthop via fd00:1::2 dev weft-a weight 1"))
        #expect(shown6.contains("nexthop via fd00:2::2 dev weft-c weight 1"))

        // Replacing a multipath route with a single path leaves only that path.
        let single = KernelRoute(destination: prefix("100.64.4.0/24"), gateway: address("198.18.1.2"), link: lab.c)
        try socket.replaceRoute(single)
        #expect(try socket.routes(family: .ipv4, protocol: .weft) == [single])
        let single6 = KernelRoute(destination: prefix("fd00:5::/64"), gateway: address("fd00:2::2"), link: lab.c, metric: 7)
        try socket.replaceRoute(single6)
        #expect(try socket.routes(family: .ipv6, protocol: .weft) == [single6])
    }

    @Test func ipv4RouteViaIPv6Gateway() async throws {
        let lab = try await RoutedNamespace.make()
        let route = KernelRoute(destination: prefix("100.64.13.0/24"), gateway: address("fd00:1::2"), link: lab.a)
        try lab.socket.addRoute(route)
        #expect(try lab.socket.routes(protocol: .weft) == [route])
        #expect(try lab.namespace.ip("route", "show", "100.64.13.0/24").contains("via inet6 fd00:1::2 dev weft-a"))
    }

    @Test func blackholeAndOtherTables() async throws {
        let lab = try await RoutedNamespace.make()
        let socket = lab.socket
        let discard = KernelRoute(destination: prefix("100.64.10.0/24"), nextHops: [], type: .blackhole)
        try socket.addRoute(discard)
        #expect(try lab.namespace.ip("route", "show", "100.64.10.0/24") == "blackhole 100.64.10.0/24 proto 87 \n")
        // A table ID above 255 only fits in RTA_TABLE.
        let far = KernelRoute(destination: prefix("100.64.11.0/24"), link: lab.a, table: RouteTableID(1000))
        try socket.addRoute(far)
        #expect(try socket.routes(table: RouteTableID(1000)) == [far])
        #expect(try socket.routes(protocol: .weft) == [discard])
        #expect(try lab.namespace.ip("route", "show", "table", "1000") == "100.64.11.0/24 dev weft-a proto 87 scope link \n")
    }

    @Test func removeAllRemovesOnlyOurs() async throws {
        let lab = try await RoutedNamespace.make()
        let socket = lab.socket
        try socket.addRoute(KernelRoute(destination: prefix("100.64.6.0/24"), gateway: address("198.18.0.2"), link: lab.a))
        try socket.addRoute(KernelRoute(destination: prefix("fd00:6::/64"), gateway: address("fd00:2::2"), link: lab.c))
        try socket.addRoute(KernelRoute(destination: prefix("100.64.7.0/24"), link: lab.a, table: RouteTableID(100)))
        // The same destination and metric as one of ours would be the same kernel route, so
        // the foreign routes use other destinations.
        try lab.namespace.ip("route", "add", "100.64.8.0/24", "via", "198.18.0.2", "proto", "static")
        try socket.addRoute(KernelRoute(destination: prefix("100.64.9.0/24"), gateway: address("198.18.1.2"),
                                        link: lab.c, protocol: .ospf))
        let before = try socket.routes(table: nil)

        #expect(try socket.removeAllRoutes(protocol: .weft) == 3)
        #expect(try socket.routes(table: nil, protocol: .weft).isEmpty)
        let after = try socket.routes(table: nil)
        #expect(after == before.filter { $0.protocol != .weft })
        #expect(after.contains { $0.destination == prefix("100.64.8.0/24") && $0.protocol == .static })
        #expect(after.contains { $0.destination == prefix("100.64.9.0/24") && $0.protocol == .ospf })
        #expect(after.contains { $0.destination == prefix("198.18.0.0/24") && $0.protocol == .kernel })
        #expect(try socket.removeAllRoutes(protocol: .weft) == 0)

        let everything = #expect(throws: NetlinkError.self) { try socket.removeAllRoutes(protocol: .unspecified) }
        #expect(everything != nil)
    }

    @Test func unreachableGatewayIsAClearError() async throws {
        let lab = try await RoutedNamespace.make()
        let route = KernelRoute(destination: prefix("100.64.11.0/24"), gateway: address("198.18.9.9"), link: lab.a)
        let error = #expect(throws: NetlinkError.self) { try lab.socket.addRoute(route) }
        #expect(error?.code == .networkUnreachable)
        #expect(error?.kernelMessage == "Nexthop has invalid gateway")
        #expect(error?.description ==
            "adding route 100.64.11.0/24 via 198.18.9.9 dev weft-a proto weft: Network is unreachable (Nexthop has invalid gateway)")
    }

    @Test func badInterfaceIndexIsAClearError() async throws {
        let lab = try await RoutedNamespace.make()
        let route = KernelRoute(destination: prefix("100.64.12.0/24"), link: LinkID(9999))
        let error = #expect(throws: NetlinkError.self) { try lab.socket.replaceRoute(route) }
        #expect(error?.code == .noSuchDevice)
        #expect(error?.description.hasPrefix("replacing route 100.64.12.0/24 dev #9999 proto weft: No such device") == true)
    }

    @Test func malformedRoutesAreRefusedBeforeSending() async throws {
        let lab = try await RoutedNamespace.make()
        let cases: [(KernelRoute, String)] = [
            (KernelRoute(destination: prefix("100.64.14.0/24"), nextHops: []),
             "a unicast route needs at least one next hop"),
            (KernelRoute(destination: prefix("100.64.14.0/24"), nextHops: [NextHop(link: lab.a)], type: .blackhole),
             "a blackhole route takes no next hops"),
            (KernelRoute(destination: prefix("100.64.14.0/24"),
                         nextHops: [NextHop(link: lab.a, gateway: address("198.18.0.2"), weight: 300),
                                    NextHop(link: lab.c, gateway: address("198.18.1.2"))]),
             "next-hop weight 300 exceeds 256 (rtnh_hops is one byte)"),
            (KernelRoute(destination: prefix("fd00:14::/64"), gateway: address("198.18.0.2"), link: lab.a),
             "an IPv6 route cannot use the IPv4 gateway 198.18.0.2"),
            (KernelRoute(destination: prefix("100.64.14.0/24"),
                         nextHops: (1...3000).map { NextHop(link: lab.a, gateway: .v4(IPv4Address(UInt32(0xC612_0000) + UInt32($0)))) }),
             "the request does not fit in 32768 bytes"),
        ]
        for (route, problem) in cases {
            let error = #expect(throws: NetlinkError.self) { try lab.socket.addRoute(route) }
            #expect(error?.reason == .invalidRequest(problem))
        }
        #expect(try lab.socket.routes(protocol: .weft).isEmpty)
    }
}
