// MTU arithmetic for a VXLAN segment carried inside a WireGuard tunnel.
//
// On the wire, one inner IP packet of the VXLAN link becomes
//
//   underlay IP | UDP | WireGuard header | tunnel IP | UDP | VXLAN | Ethernet | inner IP packet | tag
//   20 or 40      8     16                 20 or 40    8     8       14                           16
//
// WireGuard: the transport data message has a 16-byte header (type, reserved, receiver index,
// counter; whitepaper §5.4.6) and a 16-byte Poly1305 tag, so 32 bytes plus the underlay's IP
// and UDP headers: 60 over IPv4, 80 over IPv6. Its zero padding to a multiple of 16 never
// grows a packet past the tunnel MTU (the kernel caps padding at the MTU), so it adds nothing
// to the worst case. The kernel gives a new wg device 1500 − 80 = 1420, the IPv6 worst case
// (drivers/net/wireguard/device.c), so the same MTU works whichever family the peer's endpoint
// has; wg-quick does the same.
//
// VXLAN (RFC 7348 §5, §4.3): Ethernet 14 + VXLAN 8 + UDP 8 + IP 20 = 50 bytes with an IPv4
// outer header, 70 with IPv6. Linux gives a vxlan device with `dev wg0` the lower device's
// MTU minus that (VXLAN_HEADROOM / VXLAN6_HEADROOM in drivers/net/vxlan/vxlan_core.c), and the
// MTU of an Ethernet device counts the payload, not the 14-byte header. Measured on Linux 6.18
// with a 1420-byte lower device: a vxlan device with IPv4 endpoints gets 1370, with IPv6
// endpoints 1350. Both ends must agree, since VXLAN frames must not be fragmented (§4.3).

import WeftRouting

/// Header sizes and MTUs of the WireGuard + VXLAN stack.
public enum LinkMTU {
    /// IPv4 header without options (RFC 791 §3.1).
    public static let ipv4HeaderLength = 20
    /// IPv6 fixed header (RFC 8200 §3).
    public static let ipv6HeaderLength = 40
    /// UDP header (RFC 768).
    public static let udpHeaderLength = 8
    /// WireGuard transport data header (16) plus Poly1305 tag (16), whitepaper §5.4.6.
    public static let wireGuardDataOverhead = 32
    /// Ethernet II header inside VXLAN (no FCS, no 802.1Q tag).
    public static let ethernetHeaderLength = 14
    /// VXLAN header (RFC 7348 §5).
    public static let vxlanHeaderLength = 8

    /// The smallest IPv4 MTU (RFC 791 §3.2), also Linux's ETH_MIN_MTU.
    public static let minimumIPv4MTU = 68
    /// The smallest IPv6 link MTU (RFC 8200 §5).
    public static let minimumIPv6MTU = 1280
    /// The default MTU of an Ethernet underlay.
    public static let ethernetMTU = 1500

    /// The IP header length of `family`.
    public static func ipHeaderLength(_ family: IPFamily) -> Int {
        family == .ipv4 ? ipv4HeaderLength : ipv6HeaderLength
    }

    /// Bytes WireGuard adds to each inner packet: 60 over an IPv4 underlay, 80 over IPv6.
    public static func wireGuardOverhead(underlay: IPFamily) -> Int {
        ipHeaderLength(underlay) + udpHeaderLength + wireGuardDataOverhead
    }

    /// The tunnel (wg device) MTU for an underlay MTU. With `underlay` nil the IPv6 worst case
    /// is used, as the kernel and wg-quick do: 1500 → 1420.
    public static func wireGuardMTU(underlayMTU: Int, underlay: IPFamily? = nil) -> Int {
        underlayMTU - wireGuardOverhead(underlay: underlay ?? .ipv6)
    }

    /// Bytes VXLAN adds to each inner IP packet, Ethernet header included: 50 with an IPv4
    /// outer header, 70 with IPv6.
    public static func vxlanOverhead(outer: IPFamily) -> Int {
        ethernetHeaderLength + vxlanHeaderLength + udpHeaderLength + ipHeaderLength(outer)
    }

    /// The VXLAN link MTU (largest inner IP packet) over a tunnel of `tunnelMTU`: 1420 → 1370
    /// with IPv4 outer headers, 1350 with IPv6. Like Linux, never below 68.
    public static func vxlanMTU(tunnelMTU: Int, outer: IPFamily) -> Int {
        max(minimumIPv4MTU, tunnelMTU - vxlanOverhead(outer: outer))
    }
}
