import Benchmark
import CDijkstra
import WeftOSPF

// The full SPF of RFC 2328 §16 as `OSPFRouter` runs it (the shortest path tree over the router-
// LSAs, next hops, every router's stub network, the routing table), on areas of 1,000 and 10,000
// routers (`SyntheticArea`), against a plain C Dijkstra over the same router graph that computes
// distances and predecessors only. Both run on the same graph in the same process, so the
// ratio can be read off one run.

/// A built area: R with the area in its database, and the C baseline's graph.
final class SPFCase: @unchecked Sendable {
    let router: OSPFRouter
    let now: OSPFInstant
    let firstEdge: [UInt32]
    let target: [UInt32]
    let weight: [UInt32]
    let routerCount: Int

    init(routerCount: Int) {
        let area = SyntheticArea(routerCount: routerCount, seed: 0x5EED_0000 + UInt64(routerCount))
        (router, now) = area.makeRouter()
        (firstEdge, target, weight) = area.adjacency()
        self.routerCount = routerCount

        // Both compute the same shortest paths: R's route to each router's stub network costs
        // that router's distance plus the stub's cost, via P.
        var distance = [UInt32](repeating: 0, count: routerCount)
        var predecessor = distance
        precondition(cdijkstra_shortest_paths(UInt32(routerCount), firstEdge, target, weight, 0,
                                              &distance, &predecessor) == 0)
        let routes = Dictionary(uniqueKeysWithValues: router.calculateRoutingTable(now: now).map { ($0.prefix, $0) })
        let viaPeer = [OSPFNextHop(interface: SyntheticArea.rootInterface, gateway: SyntheticArea.peerAddress)]
        for router in 1..<routerCount {
            let route = routes[SyntheticArea.stub(router)]
            precondition(route?.cost == distance[router] + UInt32(SyntheticArea.stubCost) && route?.nextHops == viaPeer,
                         "router \(router): Weft \(String(describing: route)), C distance \(distance[router])")
        }
        // The stub networks of routers 1...N-1, and the subnet of R's link to P.
        precondition(routes.count == routerCount, "\(routes.count) routes")
    }
}

nonisolated(unsafe) var cases: [Int: SPFCase] = [:]

/// Built on first use, outside the measurement.
func spfCase(_ routerCount: Int) -> SPFCase {
    if let built = cases[routerCount] { return built }
    let built = SPFCase(routerCount: routerCount)
    cases[routerCount] = built
    return built
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .microseconds,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 2_000
    )

    for routerCount in [1_000, 10_000] {
        Benchmark("SPF \(routerCount) routers: WeftOSPF") { benchmark in
            let area = spfCase(routerCount)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(area.router.calculateRoutingTable(now: area.now))
            }
        }

        Benchmark("SPF \(routerCount) routers: plain C Dijkstra") { benchmark in
            let area = spfCase(routerCount)
            var distance = [UInt32](repeating: 0, count: routerCount)
            var predecessor = distance
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let result = cdijkstra_shortest_paths(UInt32(routerCount), area.firstEdge, area.target, area.weight, 0,
                                                      &distance, &predecessor)
                precondition(result == 0)
                blackHole(distance[routerCount - 1])
            }
        }
    }
}
