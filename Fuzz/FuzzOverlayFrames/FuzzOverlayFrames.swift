// Fuzzes the overlay's receive path: bytes as the decrypted payload of a WireGuard packet on a
// link (outer IPv4/IPv6 + UDP + VXLAN + inner Ethernet + ARP/ND/IP), and as a packet from the
// TUN. Nothing may crash, and every range the router hands back must lie inside the buffer with
// WireGuard's header room in front of it, as the engine relies on.

import Glibc
import WeftDataPlane
import WeftRouting

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkFrame(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without `-DFUZZING`: runs the same check on each file named on the command line.
@main enum Reproducer {
    static func main() {
        for path in CommandLine.arguments.dropFirst() where !path.hasPrefix("-") {
            guard let file = fopen(path, "rb") else { fatalError("cannot open \(path)") }
            var bytes = [UInt8](repeating: 0, count: 65536)
            let count = fread(&bytes, 1, bytes.count, file)
            fclose(file)
            bytes.withUnsafeBytes { checkFrame(UnsafeRawBufferPointer(rebasing: $0[0 ..< count])) }
            print("\(path): no failure")
        }
    }
}
#endif

/// A hub with an IPv4-underlay link and an IPv6-underlay link, routes to a LAN behind each.
nonisolated(unsafe) var hub: OverlayRouter = {
    let mac = Bytes32Seed.seed.withUnsafeBytes { MACAddress(derivedFrom: $0, vni: VXLANNetworkIdentifier(rawValue: 101)!) }
    let link1 = OverlayLink(
        id: LinkID(1),
        tunnel: VXLANTunnel(vni: VXLANNetworkIdentifier(rawValue: 101)!,
                            underlay: .ipv4(local: IPv4Address("100.64.200.1")!, remote: IPv4Address("100.64.200.2")!),
                            localMAC: mac),
        ipv4Addresses: [IPv4Prefix("100.64.100.2/30")!])
    let link2 = OverlayLink(
        id: LinkID(2),
        tunnel: VXLANTunnel(vni: VXLANNetworkIdentifier(rawValue: 102)!,
                            underlay: .ipv6(local: IPv6Address("fd00::200:1")!, remote: IPv6Address("fd00::200:2")!),
                            localMAC: mac),
        ipv4Addresses: [IPv4Prefix("100.64.100.5/30")!], ipv6Addresses: [IPv6Prefix("fd00::100:5/64")!])
    var router = OverlayRouter(configuration: .init(localAddresses: [IPAddress("100.64.255.3")!]))
    for link in [link1, link2] {
        try! router.addLink(link, now: 0)
        for route in link.connectedRoutes { router.routingTable.install(route) }
    }
    router.routingTable.install(Route(prefix: IPPrefix("100.64.1.0/24")!, source: .static,
                                      nextHops: [NextHop(link: LinkID(1), gateway: IPAddress("100.64.100.1")!)]))
    router.routingTable.install(Route(prefix: IPPrefix("100.64.2.0/24")!, source: .static,
                                      nextHops: [NextHop(link: LinkID(2), gateway: IPAddress("100.64.100.6")!)]))
    router.routingTable.install(Route(prefix: IPPrefix("100.64.255.3/32")!, source: .connected,
                                      nextHops: [NextHop(link: OverlayRouter.tunLink)]))
    return router
}()

enum Bytes32Seed {
    static let seed: [UInt8] = Array(repeating: 7, count: 32)
}

nonisolated(unsafe) var clock: UInt64 = 1_000_000_000

/// Where the engine puts packets in a 2 KiB pool slot: TUN reads at 128, decrypted link
/// payloads at 144 (after the 16-byte WireGuard header).
let slotLength = 2048

func checkFrame(_ input: UnsafeRawBufferPointer) {
    clock += 1_000_000
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: slotLength, alignment: 64)
    defer { buffer.deallocate() }
    for (offset, source) in [(144, LinkID(1)), (144, LinkID(2)), (128, OverlayRouter.tunLink)] {
        let length = min(input.count, slotLength - offset - 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        if length > 0 { buffer.baseAddress!.advanced(by: offset).copyMemory(from: input.baseAddress!, byteCount: length) }
        let range = offset ..< offset + length
        let action = source == OverlayRouter.tunLink
            ? hub.fromTUN(range, in: buffer, now: clock)
            : hub.fromLink(source, payload: range, in: buffer, now: clock)
        switch action {
        case .toLink(_, let out), .toTUN(let out), .control(_, let out):
            precondition(out.lowerBound >= 16 && out.upperBound <= slotLength,
                         "output \(out) outside the slot or without WireGuard header room")
        case .consumed, .drop:
            break
        }
    }
    // The VXLAN decapsulator on its own, straight on the input.
    var counters = VXLANDropCounters()
    if let frame = hub.link(LinkID(1))?.tunnel.decapsulate(input, counters: &counters) {
        precondition(frame.frame.upperBound <= input.count && frame.payload.upperBound <= input.count)
    }
}
