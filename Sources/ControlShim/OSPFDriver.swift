import WeftDataPlane
import WeftOSPF
import WeftRouting

#if canImport(Glibc)
import Glibc
#endif

/// Runs the sans-I/O OSPF core of an overlay node: one router, one link state database, one
/// SPF over two kinds of interfaces.
///
/// - Overlay links: one point-to-point interface per link (RFC 2328 §8.1); the packets travel
///   inside the link's VXLAN segment (IP protocol 89, TTL 1), sent and received by the engine.
/// - LAN interfaces: kernel interfaces of the node's site, usually broadcast networks with a
///   Designated Router (§9.4); the packets go through an `OSPFRawSocket` per interface.
///
/// Every method runs under the engine's lock: the engine calls `receive` and `tick`
/// (`OverlayControlPlane`), and LAN input comes through `WireGuardEngine.controlPlaneInput`.
/// Routes go into the overlay's routing table as `.ospf` routes; those whose next hops lie on a
/// LAN are delivered to the TUN there (the kernel forwards them to the LAN neighbor) and listed
/// in `lanNextHops` for the kernel's routing table.
public final class OSPFDriver: OverlayControlPlane, @unchecked Sendable {
    public let router: OSPFRouter
    private let interfaceOfLink: [LinkID: OSPFInterfaceID]
    private let linkOfInterface: [OSPFInterfaceID: LinkID]
    private let addressOfInterface: [OSPFInterfaceID: IPv4Address]
    private let nameOfInterface: [OSPFInterfaceID: String]
    private let lans: [OSPFInterfaceID: LANAttachment]
    /// Whether each LAN interface's kernel link is up, as last reported.
    private var lanLinkUp: [OSPFInterfaceID: Bool]
    /// The last send error per LAN interface, so that a dead link logs once, not every Hello.
    private var lanSendError: [OSPFInterfaceID: Errno] = [:]
    private var started = false
    private let log: @Sendable (String) -> Void

    /// A kernel interface OSPF runs on, with its socket.
    public struct LANAttachment: Sendable {
        /// The OSPF interface (its `OSPFInterfaceConfiguration.id`).
        public var interface: OSPFInterfaceID
        /// The socket on the kernel interface; it knows the interface's name, index and address.
        public var socket: OSPFRawSocket
        /// Whether the kernel link is up (administratively and with carrier) at start.
        public var linkUp: Bool

        public init(interface: OSPFInterfaceID, socket: OSPFRawSocket, linkUp: Bool) {
            self.interface = interface
            self.socket = socket
            self.linkUp = linkUp
        }
    }

    /// Next hops on LAN interfaces of the routes OSPF computed, by prefix: the kernel interface
    /// (`NextHop.link` is its kernel index) and the neighbor's address. Prefixes on the LANs
    /// themselves are not here (the kernel has their connected routes).
    public private(set) var lanNextHops: [IPPrefix: [NextHop]] = [:]

    /// `links`: each overlay link with its IPv4 address on the link (OSPFv2 needs one).
    /// `lans`: the kernel interfaces to run OSPF on; `configuration` holds an interface for each.
    public init(configuration: OSPFConfiguration, links: [(link: LinkID, interface: OSPFInterfaceID, address: IPv4Address)],
                lans: [LANAttachment] = [], log: @escaping @Sendable (String) -> Void) {
        router = OSPFRouter(configuration: configuration)
        interfaceOfLink = Dictionary(uniqueKeysWithValues: links.map { ($0.link, $0.interface) })
        linkOfInterface = Dictionary(uniqueKeysWithValues: links.map { ($0.interface, $0.link) })
        addressOfInterface = Dictionary(uniqueKeysWithValues: links.map { ($0.interface, $0.address) })
        nameOfInterface = Dictionary(configuration.interfaces.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        self.lans = Dictionary(uniqueKeysWithValues: lans.map { ($0.interface, $0) })
        lanLinkUp = Dictionary(uniqueKeysWithValues: lans.map { ($0.interface, $0.linkUp) })
        self.log = log
    }

    // MARK: Input

    public func receive(_ packet: UnsafeRawBufferPointer, on link: LinkID, now: UInt64,
                        routes: inout RoutingTable) -> [(link: LinkID, packet: [UInt8])] {
        guard let interface = interfaceOfLink[link], let datagram = Self.ospfDatagram(packet) else { return [] }
        return handle(router.receive(datagram.body, on: interface, from: datagram.source, to: datagram.destination,
                                     now: OSPFInstant(nanoseconds: now)),
                      routes: &routes)
    }

    /// An IP packet (header included) read from the socket of LAN interface `interface`, sent to
    /// `destination` (from IP_PKTINFO).
    public func receive(lanPacket packet: UnsafeRawBufferPointer, on interface: OSPFInterfaceID, destination: IPv4Address,
                        now: UInt64, routes: inout RoutingTable) -> [(link: LinkID, packet: [UInt8])] {
        guard lans[interface] != nil, let datagram = Self.ospfDatagram(packet) else { return [] }
        return handle(router.receive(datagram.body, on: interface, from: datagram.source,
                                     to: OSPFAddress(rawValue: destination.value), now: OSPFInstant(nanoseconds: now)),
                      routes: &routes)
    }

    /// The kernel reports a LAN interface's link up or down (§9.3 InterfaceUp, InterfaceDown).
    public func setLANLink(_ interface: OSPFInterfaceID, up: Bool, now: UInt64,
                           routes: inout RoutingTable) -> [(link: LinkID, packet: [UInt8])] {
        guard lans[interface] != nil, lanLinkUp[interface] != up else { return [] }
        lanLinkUp[interface] = up
        // Before the first tick the interfaces are not started yet; the tick starts them as
        // they are then.
        guard started else { return [] }
        let instant = OSPFInstant(nanoseconds: now)
        return handle(up ? router.interfaceUp(interface, now: instant) : router.interfaceDown(interface, now: instant),
                      routes: &routes)
    }

    public func tick(now: UInt64, routes: inout RoutingTable) -> (packets: [(link: LinkID, packet: [UInt8])], next: UInt64?) {
        var actions: [OSPFAction] = []
        let instant = OSPFInstant(nanoseconds: now)
        if !started {
            started = true
            for interface in linkOfInterface.keys.sorted() { actions += router.interfaceUp(interface, now: instant) }
            for interface in lans.keys.sorted() where lanLinkUp[interface] == true {
                actions += router.interfaceUp(interface, now: instant)
            }
        }
        actions += router.tick(now: instant)
        let packets = handle(actions, routes: &routes)
        return (packets, router.nextDeadline?.nanoseconds)
    }

    // MARK: Actions

    private func handle(_ actions: [OSPFAction], routes: inout RoutingTable) -> [(link: LinkID, packet: [UInt8])] {
        var out: [(link: LinkID, packet: [UInt8])] = []
        for action in actions {
            switch action {
            case .send(let packet):
                if let lan = lans[packet.interface] {
                    send(packet, on: lan)
                    continue
                }
                guard let link = linkOfInterface[packet.interface], let source = addressOfInterface[packet.interface] else { continue }
                out.append((link, Self.ipv4Packet(source: source, destination: IPv4Address(packet.destination.rawValue),
                                                  payload: packet.bytes)))
            case .installRoute(let route):
                install(route, routes: &routes)
            case .removeRoute(let prefix):
                guard let prefix = IPPrefix("\(prefix)") else { continue }
                _ = routes.withdraw(prefix, source: .ospf)
                lanNextHops[prefix] = nil
            case .neighborStateChanged(let change):
                log("ospf: neighbor \(change.routerID) (\(change.address)) on \(name(of: change.interface)): \(change.from) -> \(change.to)")
            case .interfaceStateChanged(let interface, let from, let to):
                guard let lan = lans[interface] else { continue }
                log("ospf: interface \(name(of: interface)): \(from.rawValue) -> \(to.rawValue)")
                updateMemberships(lan, state: to)
            }
        }
        return out
    }

    private func name(of interface: OSPFInterfaceID) -> String {
        nameOfInterface[interface] ?? "\(interface)"
    }

    /// Puts one route into the overlay's table and `lanNextHops`.
    ///
    /// Overlay next hops go into the overlay's table as they are. Next hops through a LAN
    /// neighbor are the kernel's to follow: the overlay delivers such a prefix to the TUN, and
    /// the kernel routes it to the neighbor. When a prefix has both (equal-cost paths), the
    /// overlay keeps its links only, so that a packet the kernel sent into the TUN never comes
    /// back out of it. Our own stub networks and prefixes directly on a LAN come with no
    /// gateway: the TUN's connected routes and the kernel's own reach them already.
    private func install(_ route: OSPFRoute, routes: inout RoutingTable) {
        guard let prefix = IPPrefix("\(route.prefix)") else { return }
        var overlayHops: [NextHop] = []
        var lanHops: [NextHop] = []
        for hop in route.nextHops {
            if let link = linkOfInterface[hop.interface] {
                overlayHops.append(NextHop(link: link, gateway: hop.gateway.map { .v4(IPv4Address($0.rawValue)) }))
            } else if let lan = lans[hop.interface], let gateway = hop.gateway {
                lanHops.append(NextHop(link: lan.socket.interface, gateway: .v4(IPv4Address(gateway.rawValue))))
            }
        }
        lanNextHops[prefix] = lanHops.isEmpty ? nil : lanHops
        let hops = overlayHops.isEmpty && !lanHops.isEmpty ? [NextHop(link: OverlayRouter.tunLink)] : overlayHops
        if hops.isEmpty {
            _ = routes.withdraw(prefix, source: .ospf)
        } else {
            _ = routes.install(Route(prefix: prefix, source: .ospf, metric: route.cost, nextHops: hops))
        }
    }

    private func send(_ packet: OSPFOutboundPacket, on lan: LANAttachment) {
        do throws(OSPFSocketError) {
            try lan.socket.send(packet.bytes, to: IPv4Address(packet.destination.rawValue))
            lanSendError[lan.interface] = nil
        } catch {
            // A link without carrier fails every send: say so once, and once when it recovers.
            if lanSendError[lan.interface] != error.errno { log("ospf: \(error)") }
            lanSendError[lan.interface] = error.errno
        }
    }

    /// §A.1: AllSPFRouters on every operational interface; AllDRouters only as DR or Backup,
    /// which receive what DROthers flood (§13.3).
    private func updateMemberships(_ lan: LANAttachment, state: OSPFInterfaceState) {
        let groups: [(IPv4Address, Bool)] = [
            (OSPFRawSocket.allSPFRouters, state != .down),
            (OSPFRawSocket.allDRouters, state == .designatedRouter || state == .backup),
        ]
        for (group, member) in groups {
            do throws(OSPFSocketError) {
                try lan.socket.setMembership(group, member)
            } catch {
                log("ospf: \(error)")
            }
        }
    }

    // MARK: IP

    /// The addresses and OSPF payload of an IPv4 packet of protocol 89; nil for anything else
    /// (truncated, another protocol, a bad header length).
    static func ospfDatagram(_ packet: UnsafeRawBufferPointer)
        -> (source: OSPFAddress, destination: OSPFAddress, body: [UInt8])? {
        guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
        let headerLength = Int(packet[0] & 0x0F) * 4
        let totalLength = Int(packet[2]) << 8 | Int(packet[3])
        guard packet[9] == 89, headerLength >= 20, totalLength >= headerLength, totalLength <= packet.count else { return nil }
        let source = OSPFAddress(rawValue: UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16 | UInt32(packet[14]) << 8 | UInt32(packet[15]))
        let destination = OSPFAddress(rawValue: UInt32(packet[16]) << 24 | UInt32(packet[17]) << 16 | UInt32(packet[18]) << 8 | UInt32(packet[19]))
        return (source, destination, Array(packet[headerLength ..< totalLength]))
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
