import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct VXLANLinkMTUTests {
    typealias F = PacketFixture

    @Test func overheads() {
        #expect(LinkMTU.wireGuardOverhead(underlay: .ipv4) == 60)
        #expect(LinkMTU.wireGuardOverhead(underlay: .ipv6) == 80)
        #expect(LinkMTU.vxlanOverhead(outer: .ipv4) == 50)
        #expect(LinkMTU.vxlanOverhead(outer: .ipv6) == 70)
    }

    @Test func linuxDefaults() {
        // The kernel's wg device default (IPv6 worst case) and what `ip link add ... type vxlan
        // ... dev wg0` derives from it (measured on Linux 6.18: 1370 and 1350).
        let wireGuard = LinkMTU.wireGuardMTU(underlayMTU: LinkMTU.ethernetMTU)
        #expect(wireGuard == 1420)
        #expect(LinkMTU.wireGuardMTU(underlayMTU: 1500, underlay: .ipv4) == 1440)
        #expect(LinkMTU.vxlanMTU(tunnelMTU: wireGuard, outer: .ipv4) == 1370)
        #expect(LinkMTU.vxlanMTU(tunnelMTU: wireGuard, outer: .ipv6) == 1350)
        #expect(LinkMTU.vxlanMTU(tunnelMTU: 100, outer: .ipv6) == 68)
        #expect(LinkMTU.vxlanMTU(tunnelMTU: 1420, outer: .ipv6) >= LinkMTU.minimumIPv6MTU)
    }

    @Test func aLinkMTUPacketFillsTheTunnelMTUExactly() throws {
        for (tunnel, family) in [(F.tunnel4(), IPFamily.ipv4), (F.tunnel6(), .ipv6)] {
            let mtu = LinkMTU.vxlanMTU(tunnelMTU: 1420, outer: family)
            let inner = F.ipv4Packet(source: F.v4("192.0.2.1"), destination: F.v4("198.51.100.1"), protocolNumber: 17,
                                     payload: [UInt8](repeating: 0xAB, count: mtu - 20))
            let outer = try F.encapsulated(inner, tunnel: tunnel)
            #expect(outer.count == 1420)
            #expect(tunnel.headroom == LinkMTU.vxlanOverhead(outer: family))
        }
    }
}
