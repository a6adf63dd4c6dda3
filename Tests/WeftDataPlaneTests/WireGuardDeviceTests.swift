import Testing
import WeftCrypto
import WeftRouting
@testable import WeftDataPlane

/// Two devices driven against each other by passing bytes, on a manual clock.
@Suite struct WireGuardDeviceTests {
    typealias Interval = WireGuard.Interval

    // MARK: Handshake and data

    @Test func handshakeThenDataBothWays() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let packet = a.packet(to: b, payload: Array(0 ..< 100))
        let first = a.send(packet, now: pair.clock.now)
        guard case .staged = first else { Issue.record("expected staged, got \(first)"); return }

        let deliveries = pair.network.run(now: pair.clock.now)
        // initiation a→b, response b→a, the staged packet a→b.
        #expect(deliveries.map(\.datagram.bytes.count) == [148, 92, 16 + 128 + 16])
        #expect(deliveries.map(\.result) == [.done, .done, .writeToTunnel(16 ..< 16 + 120, peer: pair.peerA)])
        #expect(b.takeTunnel() == [packet])
        #expect(a.takeEvents().contains { if case .handshakeCompleted(pair.peerB) = $0 { true } else { false } })
        #expect(b.takeEvents().contains { if case .handshakeCompleted(pair.peerA) = $0 { true } else { false } })

        // Both sides now send directly.
        let reply = b.packet(to: a, payload: [1, 2, 3])
        let result = b.send(reply, now: pair.clock.now)
        guard case .writeToNetwork(let range, let destination) = result else { Issue.record("\(result)"); return }
        #expect(range == 0 ..< 16 + 32 + 16)     // 23 bytes padded to 32
        #expect(destination == a.endpoint)
        pair.network.run(now: pair.clock.now)
        #expect(a.takeTunnel() == [reply])

        let again = a.packet(to: b, payload: [9])
        a.send(again, now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel() == [again])
    }

    @Test func responderCanInitiateToo() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let packet = b.packet(to: a)
        b.send(packet, now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(a.takeTunnel() == [packet])
        a.send(a.packet(to: b), now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel().count == 1)
    }

    @Test func ipv6InnerPackets() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let source = IPv6Address(hi: 0xFD00_0000_0000_0000, lo: 1)
        let destination = IPv6Address(hi: 0xFD00_0000_0000_0000, lo: 2)
        a.device.addAllowedIP(.v6(IPv6Prefix(host: destination)), to: pair.peerB)
        b.device.addAllowedIP(.v6(IPv6Prefix(host: source)), to: pair.peerA)
        let packet = ipv6Packet(from: source, to: destination, payload: Array(repeating: 7, count: 33))
        a.send(packet, now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel() == [packet])
    }
}
