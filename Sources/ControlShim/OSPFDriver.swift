import WeftDataPlane
import WeftOSPF
import WeftRouting

#if canImport(Glibc)
import Glibc
#endif

/// Runs the sans-I/O OSPF core over an overlay node's links: one point-to-point OSPF interface
/// per link (RFC 2328 §8.1: the packets travel inside the link's VXLAN segment, IP protocol 89,
/// TTL 1), routes it computes installed into the overlay's routing table as `.ospf` routes.
public final class OSPFDriver: OverlayControlPlane, @unchecked Sendable {
    public let router: OSPFRouter
    private let interfaceOfLink: [LinkID: OSPFInterfaceID]
    private let linkOfInterface: [OSPFInterfaceID: LinkID]
    private let addressOfInterface: [OSPFInterfaceID: IPv4Address]
    private var started = false
    private let log: @Sendable (String) -> Void

    /// `links`: each overlay link with its IPv4 address on the link (OSPFv2 needs one).
    public init(configuration: OSPFConfiguration, links: [(link: LinkID, interface: OSPFInterfaceID, address: IPv4Address)],
                log: @escaping @Sendable (String) -> Void) {
        router = OSPFRouter(configuration: configuration)
        interfaceOfLink = Dictionary(uniqueKeysWithValues: links.map { ($0.link, $0.interface) })
        linkOfInterface = Dictionary(uniqueKeysWithValues: links.map { ($0.interface, $0.link) })
        addressOfInterface = Dictionary(uniqueKeysWithValues: links.map { ($0.interface, $0.address) })
        self.log = log
    }

    public func receive(_ packet: UnsafeRawBufferPointer, on link: LinkID, now: UInt64,
                        routes: inout RoutingTable) -> [(link: LinkID, packet: [UInt8])] {
        guard let interface = interfaceOfLink[link], packet.count >= 20, packet[0] >> 4 == 4 else { return [] }
        let headerLength = Int(packet[0] & 0x0F) * 4
        let totalLength = Int(packet[2]) << 8 | Int(packet[3])
        guard packet[9] == 89, headerLength >= 20, totalLength >= headerLength, totalLength <= packet.count else { return [] }
        let source = OSPFAddress(rawValue: UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16 | UInt32(packet[14]) << 8 | UInt32(packet[15]))
        let destination = OSPFAddress(rawValue: UInt32(packet[16]) << 24 | UInt32(packet[17]) << 16 | UInt32(packet[18]) << 8 | UInt32(packet[19]))
        let body = Array(packet[headerLength ..< totalLength])
        return handle(router.receive(body, on: interface, from: source, to: destination, now: OSPFInstant(nanoseconds: now)),
                      routes: &routes)
    }

    public func tick(now: UInt64, routes: inout RoutingTable) -> (packets: [(link: LinkID, packet: [UInt8])], next: UInt64?) {
        var actions: [OSPFAction] = []
        let instant = OSPFInstant(nanoseconds: now)
        if !started {
            started = true
            for interface in linkOfInterface.keys.sorted() { actions += router.interfaceUp(interface, now: instant) }
        }
        actions += router.tick(now: instant)
        let packets = handle(actions, routes: &routes)
        return (packets, router.nextDeadline?.nanoseconds)
    }

    private func handle(_ actions: [OSPFAction], routes: inout RoutingTable) -> [(link: LinkID, packet: [UInt8])] {
        var out: [(link: LinkID, packet: [UInt8])] = []
        for action in actions {
            switch action {
            case .send(let packet):
                guard let link = linkOfInterface[packet.interface], let source = addressOfInterface[packet.interface] else { continue }
                out.append((link, Self.ipv4Packet(source: source, destination: IPv4Address(packet.destination.rawValue),
                                                  payload: packet.bytes)))
            case .installRoute(let route):
                // Our own stub networks come with no next hops: they are reached through the TUN already.
                let hops = route.nextHops.compactMap { hop -> NextHop? in
                    guard let link = linkOfInterface[hop.interface] else { return nil }
                    return NextHop(link: link, gateway: hop.gateway.map { .v4(IPv4Address($0.rawValue)) })
                }
                guard !hops.isEmpty, let prefix = IPPrefix("\(route.prefix)") else { continue }
                _ = routes.install(Route(prefix: prefix, source: .ospf, metric: route.cost, nextHops: hops))
            case .removeRoute(let prefix):
                if let prefix = IPPrefix("\(prefix)") { _ = routes.withdraw(prefix, source: .ospf) }
            case .neighborStateChanged(let transition):
                log("ospf: \(transition)")
            case .interfaceStateChanged:
                break
            }
        }
        return out
    }

    /// An IPv4 header for OSPF (RFC 2328 §A.1): protocol 89, TTL 1, precedence "internetwork control".
    static func ipv4Packet(source: IPv4Address, destination: IPv4Address, payload: [UInt8]) -> [UInt8] {
        let total = 20 + payload.count
        var header: [UInt8] = [0x45, 0xC0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0, 0, 1, 89, 0, 0]
        for address in [source.value, destination.value] {
            header += [UInt8(address >> 24), UInt8(address >> 16 & 0xFF), UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF)]
        }
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(header[i]) << 8 | UInt32(header[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xFF)
        return header + payload
    }
}
