import Testing
@testable import WeftOSPF

@Suite("Robustness")
struct RobustnessTests {
    @Test("Thousands of mutated packets (checksums fixed up) never crash the router; it recovers")
    func mutatedPackets() {
        let network = AdjacencyTests.pointToPointPair(seed: 99)
        network.recordedPackets = []
        network.run(for: .seconds(15))
        let corpus = (network.recordedPackets ?? []).filter { $0.interface == AdjacencyTests.link }
        #expect(corpus.count > 20)
        var rng = SplitMix64(seed: 4242)
        let target = network.routers[1]
        for _ in 0..<4_000 {
            var bytes = corpus[Int(rng.below(UInt64(corpus.count)))].bytes
            switch rng.below(4) {
            case 0:
                // Flip a few random bytes anywhere.
                for _ in 0..<(1 + rng.below(4)) { bytes[Int(rng.below(UInt64(bytes.count)))] ^= UInt8(1 + rng.below(255)) }
            case 1:
                // Truncate, keeping the length field as it was.
                bytes = Array(bytes.prefix(Int(rng.below(UInt64(bytes.count)))))
            case 2:
                // Random body bytes after a valid header.
                for index in OSPFPacketHeader.size..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: rng.next()) }
            default:
                // Grow or shrink the declared length.
                if bytes.count >= 4 { bytes.write16(UInt16(truncatingIfNeeded: rng.below(200)), at: 2) }
            }
            // Re-seal the checksum so that the body parsers, not just the checksum, are exercised.
            if bytes.count >= OSPFPacketHeader.size {
                let length = min(Int(bytes.readU16(at: 2)), bytes.count)
                if length >= OSPFPacketHeader.size {
                    bytes.write16(0, at: 12)
                    bytes.write16(OSPFPacketChecksum.compute(bytes, length: length), at: 12)
                }
            }
            network.handle(target.receive(bytes, on: AdjacencyTests.link, from: OSPFAddress(10, 0, 0, 1),
                                          to: .allSPFRouters, now: network.now), from: 1)
        }
        #expect(target.counters.totalDropped > 0)
        // Whatever the garbage did to the adjacency, the protocol heals it.
        network.run(for: .seconds(40))
        #expect(target.neighborStates(on: AdjacencyTests.link)[OSPFAddress(1, 1, 1, 1)] == .full)
        #expect(target.routingTable.count == 3)
        let databases = network.routers.map { $0.databaseSnapshot(now: network.now).map { "\($0.key) \($0.sequenceNumber)" } }
        #expect(databases[0] == databases[1])
    }

    @Test("Zero timers in the configuration do not make the router spin")
    func zeroTimers() {
        var interface = testInterface(1, .pointToPoint, OSPFAddress(10, 0, 0, 1), 30)
        interface.helloInterval = 0
        interface.routerDeadInterval = 0
        interface.retransmitInterval = 0
        let router = OSPFRouter(configuration: OSPFConfiguration(routerID: OSPFAddress(1, 1, 1, 1), interfaces: [interface]))
        var now = OSPFInstant.zero
        _ = router.interfaceUp(OSPFInterfaceID(1), now: now)
        var ticks = 0
        while let deadline = router.nextDeadline, deadline <= .seconds(10), ticks < 1_000 {
            now = max(now, deadline)
            _ = router.tick(now: now)
            ticks += 1
        }
        #expect(ticks <= 20)
    }
}
