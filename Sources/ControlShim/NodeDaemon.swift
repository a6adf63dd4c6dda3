#if canImport(Glibc)
import Glibc
#endif
import WeftCrypto
import WeftDataPlane
import WeftOSPF
import WeftRouting

/// `weft up --config FILE`: one overlay router (a dlan node) from its configuration file. The
/// WireGuard engine carries one peer per link; the overlay router wraps packets in VXLAN and
/// forwards between the TUN and the links (transit included); static routes fill its table; the
/// kernel gets the TUN's addresses, MTU and routes over rtnetlink. OSPF runs on the links and on
/// the LAN interfaces that ask for it, as one router. Everything it put into the kernel is
/// taken out again on shutdown.
public final class NodeDaemon: @unchecked Sendable {
    public let config: NodeConfig
    public let interface: InterfaceDaemon
    private let netlink: NetlinkSocket
    private let kernelRoutes: KernelRoutes
    private let tunIndex: LinkID
    private let log: @Sendable (String) -> Void
    /// The OSPF instance when the file enables it.
    public private(set) var ospf: OSPFDriver?
    /// Reads the LAN interfaces' OSPF sockets; nil when OSPF runs on no LAN interface.
    private var lanListener: OSPFLANListener?
    /// The LAN interfaces OSPF runs on, with their kernel link state as last seen (only the
    /// thread running `maintain` touches it).
    private var lanLinks: [(interface: OSPFInterfaceID, name: String, link: LinkID, up: Bool)] = []

    public init(config: NodeConfig, log: @escaping @Sendable (String) -> Void = WireGuardEngine.logToStandardError) throws {
        self.config = config
        self.log = log
        interface = try InterfaceDaemon(options: .init(interfaceName: config.tunName, mtu: config.overlayMTU), log: log)
        let engine = interface.engine
        try engine.apply(config.interfaceChange())
        netlink = try NetlinkSocket()

        // LAN prefixes: the file's, plus the networks of the addresses on `lanInterfaces`. On a
        // LAN interface that runs OSPF, the network of the address OSPF uses is the interface's
        // to advertise (a stub or transit link, RFC 2328 §12.4.1.2), not a configured stub.
        var lanPrefixes = config.lanPrefixes
        var stubCosts: [IPPrefix: UInt16] = [:]
        var ospfLANs: [(config: LANInterfaceConfig, settings: LANOSPFSettings, link: KernelLink, address: IPv4Prefix)] = []
        for lan in config.lanInterfaces {
            let link = try netlink.link(named: lan.name)
            let addresses = try netlink.addresses(of: link.id).filter { address in
                switch address.address {
                case .v4(let v4): !v4.isLoopback && !v4.isLinkLocal
                case .v6(let v6): !v6.isLoopback && !v6.isLinkLocal
                }
            }
            var ospfNetwork: IPPrefix?
            if let settings = lan.ospf, config.ospf.enabled {
                let address = try Self.ospfAddress(of: lan.name, link: link, addresses: addresses)
                ospfLANs.append((lan, settings, link, address))
                ospfNetwork = .v4(address.canonical)
            }
            for network in addresses.map(\.network) where network != ospfNetwork && !lanPrefixes.contains(network) {
                lanPrefixes.append(network)
                stubCosts[network] = lan.cost
            }
        }
        if !config.lanInterfaces.isEmpty {
            let prefixes = lanPrefixes.isEmpty ? "none" : lanPrefixes.map(\.description).joined(separator: ", ")
            log("\(config.name): LAN prefixes \(prefixes)" + ospfLANs.map { "; OSPF on \($0.config.name) (\($0.address))" }.joined())
        }

        // The overlay: one link per configured link, LinkIDs 1…n in file order.
        let localAddresses = config.nodeVPNIPs.map(\.address) + config.links.flatMap { $0.linkVPNIPs.map(\.address) }
        var router = OverlayRouter(configuration: .init(localAddresses: localAddresses))
        var pairs: [(link: LinkID, peer: PublicKey)] = []
        var linkIDs: [String: LinkID] = [:]
        let now = MonotonicClock.nowNanoseconds()
        for (index, link) in config.links.enumerated() {
            let id = LinkID(UInt32(index + 1))
            let tunnel = VXLANTunnel(vni: link.vni, underlay: link.underlay,
                                     localMAC: MACAddress(derivedFrom: config.pubKey.raw, vni: link.vni))
            let overlayLink = OverlayLink(id: id, tunnel: tunnel,
                                          ipv4Addresses: link.linkVPNIPs.compactMap { if case .v4(let p) = $0 { p } else { nil } },
                                          ipv6Addresses: link.linkVPNIPs.compactMap { if case .v6(let p) = $0 { p } else { nil } },
                                          mtu: link.vxlanMTU)
            try router.addLink(overlayLink, now: now)
            for route in overlayLink.connectedRoutes { router.routingTable.install(route) }
            pairs.append((id, link.peerPubKey))
            linkIDs[link.name] = id
        }
        // Our own addresses and LANs go to the TUN (the kernel delivers or forwards them).
        for prefix in config.nodeVPNIPs + lanPrefixes + ospfLANs.map({ IPPrefix.v4($0.address.canonical) }) {
            router.routingTable.install(Route(prefix: prefix.canonical, source: .connected,
                                              nextHops: [NextHop(link: OverlayRouter.tunLink)]))
        }
        for route in config.staticRoutes {
            guard let link = linkIDs[route.link] else { continue }
            router.routingTable.install(Route(prefix: route.prefix, source: .static,
                                              nextHops: [NextHop(link: link, gateway: route.gateway)]))
        }
        try engine.configureOverlay(router, links: pairs)
        interface.linkNames = Dictionary(uniqueKeysWithValues: linkIDs.map { ($1.rawValue, $0) })

        // OSPF over the links: one point-to-point interface per link with an IPv4 address.
        if config.ospf.enabled {
            var interfaces: [OSPFInterfaceConfiguration] = []
            var ospfLinks: [(link: LinkID, interface: OSPFInterfaceID, address: IPv4Address)] = []
            for (index, link) in config.links.enumerated() {
                guard let v4 = link.linkVPNIPs.compactMap({ if case .v4(let p) = $0 { p } else { nil } }).first else { continue }
                let interfaceID = OSPFInterfaceID(UInt32(index + 1))
                interfaces.append(OSPFInterfaceConfiguration(
                    id: interfaceID, name: link.name, type: .pointToPoint, address: OSPFAddress(rawValue: v4.address.value),
                    prefixLength: v4.length, cost: link.cost, helloInterval: link.ospf.helloInterval,
                    routerDeadInterval: link.ospf.deadInterval, mtu: UInt16(clamping: link.vxlanMTU),
                    authentication: link.ospf.authentication))
                ospfLinks.append((LinkID(UInt32(index + 1)), interfaceID, v4.address))
            }
            // LAN interfaces: broadcast (or point-to-point) interfaces on the kernel's, after the links.
            var attachments: [OSPFDriver.LANAttachment] = []
            for (index, lan) in ospfLANs.enumerated() {
                let interfaceID = OSPFInterfaceID(UInt32(config.links.count + 1 + index))
                interfaces.append(OSPFInterfaceConfiguration(
                    id: interfaceID, name: lan.config.name, type: lan.settings.type,
                    address: OSPFAddress(rawValue: lan.address.address.value), prefixLength: lan.address.length,
                    cost: lan.config.cost, helloInterval: lan.settings.helloInterval,
                    routerDeadInterval: lan.settings.deadInterval, priority: lan.settings.priority,
                    mtu: UInt16(clamping: lan.link.mtu), authentication: lan.settings.authentication))
                let socket = try OSPFRawSocket(interfaceName: lan.config.name, interface: lan.link.id, address: lan.address.address)
                attachments.append(.init(interface: interfaceID, socket: socket, linkUp: Self.isOperational(lan.link)))
                lanLinks.append((interfaceID, lan.config.name, lan.link.id, Self.isOperational(lan.link)))
            }
            // The node's own addresses and LAN prefixes are stub networks of its router-LSA (§12.4.1).
            let stubs = (config.nodeVPNIPs + lanPrefixes).compactMap { prefix -> OSPFStubNetwork? in
                guard case .v4(let v4) = prefix.canonical else { return nil }
                return OSPFStubNetwork(prefix: OSPFPrefix(address: OSPFAddress(rawValue: v4.address.value), length: v4.length),
                                       cost: v4.length == 32 ? 0 : stubCosts[prefix] ?? LinkConfig.defaultCost)
            }
            let ospfConfiguration = OSPFConfiguration(
                routerID: OSPFAddress(rawValue: config.routerID.value), areaID: OSPFAddress(rawValue: config.ospf.area.value),
                interfaces: interfaces, stubNetworks: stubs,
                // A restarted router must not reuse crypto sequence numbers its neighbors saw (RFC 5709 §3.1).
                cryptographicSequenceStart: UInt32(truncatingIfNeeded: time(nil)))
            let driver = OSPFDriver(configuration: ospfConfiguration, links: ospfLinks, lans: attachments, log: log)
            ospf = driver
            engine.attachControlPlane(driver)
            if !attachments.isEmpty {
                // Started once the node is up: should setting up the kernel fail, no thread is left.
                lanListener = try OSPFLANListener(engine: engine, attachments: attachments, log: log)
            }
            interface.ospfSnapshot = { [weak engine] in
                engine?.withControlPlane { plane in
                    (plane as? OSPFDriver)?.router.snapshot(now: OSPFInstant(nanoseconds: MonotonicClock.nowNanoseconds()))
                } ?? nil
            }
        }

        // The kernel side: addresses, MTU, link up, and routes to remote prefixes via the TUN.
        let tun = try netlink.linkID(named: config.tunName)
        try netlink.setMTU(UInt32(config.overlayMTU), of: tun)
        for prefix in config.nodeVPNIPs + config.links.flatMap(\.linkVPNIPs) {
            _ = try netlink.addAddress(prefix, to: tun, flags: prefix.address.family == .ipv6 ? [.noDAD] : [])
        }
        try netlink.setLink(tun, up: true)
        tunIndex = tun
        kernelRoutes = KernelRoutes(socket: netlink)
        reconcileKernelRoutes()
        lanListener?.start()
        log("\(config.name): overlay node up on \(config.tunName) with \(config.links.count) link(s)")
    }

    /// The kernel learns every prefix the overlay routes to a link (static or OSPF) as a route
    /// through the TUN, and every OSPF route through a LAN neighbor as a route via that neighbor
    /// on its interface (both, as a multipath route, for equal-cost paths of both kinds);
    /// KernelRoutes changes only what differs.
    public func reconcileKernelRoutes() {
        let lanNextHops: [IPPrefix: [NextHop]] = interface.engine.withControlPlane { ($0 as? OSPFDriver)?.lanNextHops ?? [:] } ?? [:]
        var desired: [KernelRoute] = []
        for route in interface.engine.overlayRoutes() where route.source != .connected {
            var hops: [NextHop] = []
            if route.nextHops.contains(where: { $0.link != OverlayRouter.tunLink }) { hops.append(NextHop(link: tunIndex)) }
            // Only while OSPF's route is the one selected (a static route would win over it), and
            // not through a LAN whose link is down: the kernel refuses that, and SPF is about to
            // drop the hop anyway.
            if route.source == .ospf, let lanHops = lanNextHops[route.prefix] {
                hops += lanHops.filter { hop in lanLinks.first { $0.link == hop.link }?.up ?? true }
            }
            if !hops.isEmpty { desired.append(KernelRoute(destination: route.prefix, nextHops: hops)) }
        }
        let changes = kernelRoutes.apply(desired)
        for failure in changes.failures { log("\(config.tunName): kernel route: \(failure)") }
    }

    /// Tells OSPF when a LAN interface's link goes down or comes back (§9.3 InterfaceDown,
    /// InterfaceUp). The kernel drops the routes through a link that goes down without a word,
    /// so the kernel routes are re-read then.
    public func watchLANLinks() {
        var changed = false
        for index in lanLinks.indices {
            let entry = lanLinks[index]
            let up = (try? netlink.link(entry.link)).map(Self.isOperational) ?? false
            guard up != entry.up else { continue }
            lanLinks[index].up = up
            changed = true
            log("\(config.name): LAN interface \(entry.name) \(up ? "up" : "down")")
            let now = MonotonicClock.nowNanoseconds()
            interface.engine.controlPlaneInput { plane, routes in
                (plane as? OSPFDriver)?.setLANLink(entry.interface, up: up, now: now, routes: &routes) ?? []
            }
        }
        if changed {
            do throws(NetlinkError) { try kernelRoutes.refresh() } catch { log("\(config.tunName): kernel routes: \(error)") }
        }
    }

    /// Once a second: LAN link changes, then the kernel's routes.
    public func maintain() {
        watchLANLinks()
        reconcileKernelRoutes()
    }

    /// Keeps the kernel's routes in step with the overlay's (once a second) until SIGINT,
    /// SIGTERM or SIGHUP; then shuts down cleanly.
    public func runUntilSignalled() {
        InterfaceDaemon.waitForTerminationSignal(everySecond: maintain)
        shutdown()
    }

    public func shutdown() {
        lanListener?.stop()
        lanListener = nil
        _ = try? kernelRoutes.cleanup()
        interface.shutdown()
    }

    // MARK: LAN interfaces

    /// Up, and with carrier (IFF_RUNNING: the kernel's operational state).
    private static func isOperational(_ link: KernelLink) -> Bool {
        link.flags.contains(.up) && link.flags.contains(.running)
    }

    /// The address OSPF uses on a LAN interface: its first primary IPv4 address (§A.1: the
    /// source of every packet and the router's identity on the network).
    private static func ospfAddress(of name: String, link: KernelLink, addresses: [InterfaceAddress]) throws(LANInterfaceError)
        -> IPv4Prefix {
        if link.flags.contains(.loopback) {
            throw LANInterfaceError(interface: name, problem: "is a loopback interface: OSPF runs on networks with neighbors "
                + "(advertise it without ospf settings)")
        }
        guard link.flags.contains(.multicast) else {
            throw LANInterfaceError(interface: name, problem: "has no multicast, which OSPF needs for AllSPFRouters (RFC 2328 §A.1)")
        }
        let primary = addresses.first { $0.family == .ipv4 && !$0.flags.contains(.secondary) } ?? addresses.first { $0.family == .ipv4 }
        guard let primary, case .v4(let prefix) = primary.prefix else {
            throw LANInterfaceError(interface: name, problem: "has no IPv4 address for OSPF (OSPFv2 is IPv4 only)")
        }
        return prefix
    }
}

/// A LAN interface cannot run OSPF as configured.
public struct LANInterfaceError: Error, Sendable, CustomStringConvertible {
    public var interface: String
    public var problem: String

    public var description: String { "LAN interface \(interface) \(problem)" }
}
