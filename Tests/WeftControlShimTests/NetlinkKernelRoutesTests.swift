// The kernel-route reconciler: minimal changes, retries after refusals, adoption of leftovers,
// clean-up; in a private network namespace.

import Testing
@testable import WeftControlShim
import WeftRouting

@Suite("Kernel route reconciler", .needsNetworkNamespaces)
struct NetlinkKernelRoutesTests {
    /// The reconciler's routes as the kernel has them, for comparing with `installed`.
    private func kernelRoutes(_ lab: RoutedNamespace) throws -> [KernelRoute] {
        try lab.socket.routes(protocol: .weft).map {
            var route = $0
            route.nextHops.sort()
            return route
        }
    }

    @Test func appliesOnlyTheDifference() async throws {
        let lab = try await RoutedNamespace.make()
        let routes = KernelRoutes(socket: lab.socket)
        let a = KernelRoute(destination: prefix("100.64.20.0/24"), gateway: address("198.18.0.2"), link: lab.a)
        let b = KernelRoute(destination: prefix("100.64.21.0/24"), gateway: address("198.18.0.2"), link: lab.a)
        let c = KernelRoute(destination: prefix("fd00:20::/64"), gateway: address("fd00:1::2"), link: lab.a)

        let first = routes.apply([a, b, c])
        #expect(first.added.map(\.destination) == [a, b, c].map(\.destination))
        #expect(first.replaced.isEmpty && first.removed.isEmpty && first.failures.isEmpty)
        #expect(try kernelRoutes(lab) == routes.installed)

        // b moves, c goes, d (ECMP) arrives, a stays untouched.
        let movedB = KernelRoute(destination: b.destination, gateway: address("198.18.1.2"), link: lab.c)
        let d = KernelRoute(destination: prefix("100.64.22.0/24"),
                            nextHops: [NextHop(link: lab.c, gateway: address("198.18.1.2")),
                                       NextHop(link: lab.a, gateway: address("198.18.0.2"))])
        let second = routes.apply([a, movedB, d])
        #expect(second.added.map(\.destination) == [d.destination])
        #expect(second.replaced == [movedB])
        #expect(second.removed.map(\.destination) == [c.destination])
        #expect(second.failures.isEmpty)
        #expect(try kernelRoutes(lab) == routes.installed)
        #expect(routes.installed.map(\.destination) == [a, movedB, d].map(\.destination).sorted())

        // The same set again, in another order and with unsorted next hops: nothing to do.
        var shuffledD = d
        shuffledD.nextHops.reverse()
        #expect(routes.apply([shuffledD, movedB, a]).isEmpty)

        // A metric change is a new kernel route: the old one must not stay behind.
        var cheaperA = a
        cheaperA.metric = 30
        let third = routes.apply([cheaperA, movedB, d])
        #expect(third.replaced == [cheaperA])
        #expect(third.removed == [a])
        #expect(third.failures.isEmpty)
        let toA = try lab.socket.routes(protocol: .weft).filter { $0.destination == a.destination }
        #expect(toA.map(\.metric) == [30])

        #expect(try routes.cleanup() == 3)
        #expect(try lab.socket.routes(protocol: .weft).isEmpty)
        #expect(routes.installed.isEmpty)
        // Routes of other owners survive the clean-up.
        #expect(try lab.socket.routes().contains { $0.destination == prefix("198.18.0.0/24") })
    }

    @Test func refusedChangesDoNotStopTheOthersAndAreRetried() async throws {
        let lab = try await RoutedNamespace.make()
        let routes = KernelRoutes(socket: lab.socket)
        let good = KernelRoute(destination: prefix("100.64.23.0/24"), gateway: address("198.18.0.2"), link: lab.a)
        let unreachable = KernelRoute(destination: prefix("100.64.24.0/24"), gateway: address("198.18.9.9"), link: lab.a)

        let first = routes.apply([unreachable, good])
        #expect(first.added == [good])
        #expect(first.failures.map(\.route) == [unreachable])
        #expect(first.failures.first?.error.code == .networkUnreachable)
        #expect(first.failures.first?.description ==
            "replacing route 100.64.24.0/24 via 198.18.9.9 dev weft-a proto weft: Network is unreachable (Nexthop has invalid gateway)")
        #expect(routes.installed == [good])

        // Once the gateway becomes reachable, the next apply installs the route.
        try lab.socket.addAddress(prefix("198.18.9.1/24"), to: lab.a)
        let second = routes.apply([unreachable, good])
        #expect(second.added == [unreachable])
        #expect(second.failures.isEmpty)
        #expect(try kernelRoutes(lab) == routes.installed)
    }

    @Test func refreshAdoptsLeftoversAndRepairsLosses() async throws {
        let lab = try await RoutedNamespace.make()
        // Leftovers of an earlier run: two routes to one destination with different metrics.
        let leftover = KernelRoute(destination: prefix("100.64.25.0/24"), gateway: address("198.18.0.2"), link: lab.a, metric: 20)
        var duplicate = leftover
        duplicate.metric = 40
        try lab.socket.addRoute(leftover)
        try lab.socket.addRoute(duplicate)
        try lab.socket.addRoute(KernelRoute(destination: prefix("fd00:25::/64"), link: lab.c))

        let routes = KernelRoutes(socket: lab.socket)
        try routes.refresh()
        #expect(routes.installed.count == 2)
        let cleared = routes.apply([])
        #expect(cleared.removed.map(\.metric).sorted() == [20, 40, 1024])
        #expect(cleared.failures.isEmpty)
        #expect(try lab.socket.routes(protocol: .weft).isEmpty)

        // A route someone else deleted is restored after a refresh.
        let wanted = KernelRoute(destination: prefix("100.64.26.0/24"), link: lab.c)
        #expect(routes.apply([wanted]).added == [wanted])
        try lab.namespace.ip("route", "del", "100.64.26.0/24")
        #expect(routes.apply([wanted]).isEmpty)
        try routes.refresh()
        #expect(routes.apply([wanted]).added == [wanted])
        #expect(try lab.socket.routes(protocol: .weft) == [wanted])
    }

    @Test func appliesARoutingTablesSelectedRoutes() async throws {
        let lab = try await RoutedNamespace.make()
        var table = RoutingTable()
        table.install(Route(prefix: prefix("198.18.0.0/24"), source: .connected, nextHops: [NextHop(link: lab.a)]))
        table.install(Route(prefix: prefix("100.64.30.0/24"), source: .ospf, metric: 5,
                            nextHops: [NextHop(link: lab.a, gateway: address("198.18.0.2")),
                                       NextHop(link: lab.c, gateway: address("198.18.1.2"))]))
        table.install(Route(prefix: prefix("100.64.31.0/24"), source: .static, nextHops: []))
        table.install(Route(prefix: prefix("fd00:30::/64"), source: .ospf, metric: 10,
                            nextHops: [NextHop(link: lab.c, gateway: address("fd00:2::2"))]))

        let routes = KernelRoutes(socket: lab.socket)
        let changes = routes.apply(bestRoutes: table.bestRoutes)
        // The connected prefix is the kernel's already.
        #expect(changes.added.map(\.destination) == [prefix("100.64.30.0/24"), prefix("100.64.31.0/24"), prefix("fd00:30::/64")])
        #expect(changes.failures.isEmpty)
        #expect(try kernelRoutes(lab) == routes.installed)
        #expect(try lab.namespace.ip("route", "show", "100.64.31.0/24") == "blackhole 100.64.31.0/24 proto 87 metric 20 \n")
        let multipath = try lab.namespace.ip("route", "show", "100.64.30.0/24")
        #expect(multipath.hasPrefix("100.64.30.0/24 proto 87 metric 20"))
        #expect(multipath.contains("nexthop via 198.18.0.2 dev weft-a weight 1"))
        #expect(multipath.contains("nexthop via 198.18.1.2 dev weft-c weight 1"))

        // An OSPF cost change alone changes nothing in the kernel.
        table.install(Route(prefix: prefix("fd00:30::/64"), source: .ospf, metric: 99,
                            nextHops: [NextHop(link: lab.c, gateway: address("fd00:2::2"))]))
        #expect(routes.apply(bestRoutes: table.bestRoutes).isEmpty)

        table.withdrawAll(from: .ospf)
        let withdrawn = routes.apply(bestRoutes: table.bestRoutes)
        #expect(withdrawn.removed.map(\.destination) == [prefix("100.64.30.0/24"), prefix("fd00:30::/64")])
        #expect(try lab.socket.routes(protocol: .weft).map(\.destination) == [prefix("100.64.31.0/24")])
    }
}
