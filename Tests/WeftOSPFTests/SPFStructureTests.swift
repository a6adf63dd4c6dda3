import Testing
@testable import WeftOSPF

/// The data structures behind the routing table calculation (§16), each checked against a naive
/// reference on random input.
@Suite("SPF data structures")
struct SPFStructureTests {
    @Test("The candidate list pops in §16.1 order: distance, then tie rank, with decrease-key")
    func candidateOrder() {
        var rng = SplitMix64(seed: 16)
        for round in 0..<20 {
            let vertexCount = 50 + round * 20
            var list = SPFCandidateList(vertexCount: vertexCount)
            // The naive reference: the current key per vertex in the list, searched for the
            // least; a decrease replaces the vertex's key.
            var naive: [Int: UInt32] = [:]
            var popped = Set<Int>()
            func popNaive() -> (rank: Int, distance: UInt32)? {
                guard let least = naive.min(by: { ($0.value, $0.key) < ($1.value, $1.key) }) else { return nil }
                naive[least.key] = nil
                return (least.key, least.value)
            }
            // Inserts, decreases and pops interleaved, as in the calculation; few distinct
            // distances, so that ties are common. Tie ranks are unique per vertex, as the
            // topology's are, and a popped vertex is never offered again (it is settled).
            for _ in 0..<(vertexCount * 3) {
                let rank = Int(rng.below(UInt64(vertexCount)))
                guard !popped.contains(rank) else { continue }
                let current = naive[rank] ?? 16
                guard current > 0 else { continue }
                let distance = UInt32(rng.below(UInt64(current)))
                naive[rank] = distance
                list.insertOrDecrease(SPFCandidate(distance: distance, tieRank: UInt32(rank)))
                if rng.below(3) == 0 {
                    let expected = popNaive()
                    if let expected { popped.insert(expected.rank) }
                    let top = list.pop()
                    #expect(top?.tieRank == expected?.rank && top?.distance == expected?.distance)
                }
            }
            while let expected = popNaive() {
                let top = list.pop()
                #expect(top?.tieRank == expected.rank && top?.distance == expected.distance)
            }
            #expect(list.pop() == nil)
        }
    }

    @Test("The candidate list sorts like the reference when everything is inserted first")
    func candidateSort() {
        var rng = SplitMix64(seed: 17)
        var list = SPFCandidateList(vertexCount: 1000)
        var reference: [(UInt32, Int)] = []
        for rank in 0..<1000 {
            let distance = UInt32(rng.below(50))
            reference.append((distance, rank))
            list.insertOrDecrease(SPFCandidate(distance: distance, tieRank: UInt32(rank)))
        }
        reference.sort { $0 < $1 }
        var popped: [Int] = []
        while let top = list.pop() { popped.append(top.tieRank) }
        #expect(popped == reference.map(\.1))
    }

    @Test("The routing table from candidates does not depend on their order (§11, §16.4 step 6)")
    func routingTableFromCandidates() {
        var rng = SplitMix64(seed: 19)
        let types: [OSPFPathType] = [.intraArea, .interArea, .external1, .external2]
        for _ in 0..<50 {
            // A few prefixes with several candidates each, ties included.
            var candidates: [OSPFRoute] = []
            for _ in 0..<40 {
                let prefix = OSPFPrefix(address: OSPFAddress(10, 0, UInt8(rng.below(6)), 0), length: 24)
                let type = types[Int(rng.below(4))]
                candidates.append(OSPFRoute(
                    prefix: prefix, pathType: type, cost: UInt32(rng.below(3)),
                    type2Cost: type == .external2 ? UInt32(rng.below(2)) : nil,
                    nextHops: [OSPFNextHop(interface: OSPFInterfaceID(UInt32(rng.below(3))),
                                           gateway: OSPFAddress(192, 0, 2, UInt8(rng.below(4))))]))
            }
            let table = OSPFRouter.routingTable(from: candidates)
            var shuffled = candidates
            for index in shuffled.indices.reversed() { shuffled.swapAt(index, Int(rng.below(UInt64(index + 1)))) }
            #expect(OSPFRouter.routingTable(from: shuffled) == table)
            // The reference: per prefix, the best by (type, type 2 cost, cost), next hops of all
            // the best merged and sorted.
            #expect(table.map(\.prefix) == Set(candidates.map(\.prefix)).sorted())
            for route in table {
                let forPrefix = candidates.filter { $0.prefix == route.prefix }
                func rank(_ route: OSPFRoute) -> (Int, UInt32, UInt32) {
                    (types.firstIndex(of: route.pathType)!, route.type2Cost ?? 0, route.cost)
                }
                let best = forPrefix.map(rank).min { $0 < $1 }!
                let winners = forPrefix.filter { rank($0) == best }
                #expect(rank(route) == best)
                #expect(route.nextHops == Set(winners.flatMap(\.nextHops)).sorted())
            }
        }
    }

    @Test("Longest match in a sorted table skips external routes (§16.4 step 3)")
    func longestMatch() {
        let hops = [OSPFNextHop(interface: OSPFInterfaceID(1), gateway: nil)]
        let table = OSPFRouter.routingTable(from: [
            OSPFRoute(prefix: OSPFPrefix(address: OSPFAddress(10, 0, 0, 0), length: 8), pathType: .intraArea, cost: 1, nextHops: hops),
            OSPFRoute(prefix: OSPFPrefix(address: OSPFAddress(10, 1, 0, 0), length: 16), pathType: .interArea, cost: 2, nextHops: hops),
            OSPFRoute(prefix: OSPFPrefix(address: OSPFAddress(10, 1, 2, 0), length: 24), pathType: .external1, cost: 3, nextHops: hops),
        ])
        #expect(OSPFRouter.longestMatch(OSPFAddress(10, 1, 2, 3), in: table)?.cost == 2)
        #expect(OSPFRouter.longestMatch(OSPFAddress(10, 2, 0, 1), in: table)?.cost == 1)
        #expect(OSPFRouter.longestMatch(OSPFAddress(11, 0, 0, 1), in: table) == nil)
    }
}
