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
/// kernel gets the TUN's addresses, MTU and routes over rtnetlink. Everything it put into the
/// kernel is taken out again on shutdown.
public final class NodeDaemon: @unchecked Sendable {
    public let config: NodeConfig
    public let interface: InterfaceDaemon
    private let netlink: NetlinkSocket
    private let kernelRoutes: KernelRoutes
    private let tunIndex: LinkID
    private let log: @Sendable (String) -> Void
    /// The OSPF instance when the file enables it.
    public private(set) var ospf: OSPFDriver?

    public init(config: NodeConfig, log: @escaping @Sendable (String) -> Void = WireGuardEngine.logToStandardError) throws {
        self.config = config
        self.log = log
        interface = try InterfaceDaemon(options: .init(interfaceName: config.tunName, mtu: config.overlayMTU), log: log)
        let engine = interface.engine
        try engine.apply(config.interfaceChange())
        netlink = try NetlinkSocket()

        // LAN prefixes: the file's, plus the networks of the addresses on `lanInterfaces`.
        var lanPrefixes = config.lanPrefixes
        for name in config.lanInterfaces {
            for address in try netlink.addresses(of: try netlink.linkID(named: name)) {
                let network = address.network
                let excluded: Bool
                switch network.address {
                case .v4(let v4): excluded = v4.isLoopback || v4.isLinkLocal
                case .v6(let v6): excluded = v6.isLoopback || v6.isLinkLocal
                }
                if !excluded && !lanPrefixes.contains(network) { lanPrefixes.append(network) }
            }
        }
        if !config.lanInterfaces.isEmpty {
            log("\(config.name): LAN prefixes \(lanPrefixes.map(\.description).joined(separator: ", "))")
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
        // Our own addresses and LAN go to the TUN (the kernel delivers or forwards them).
        for prefix in config.nodeVPNIPs + lanPrefixes {
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
            // The node's own addresses and LAN prefixes are stub networks of its router-LSA (§12.4.1).
            let stubs = (config.nodeVPNIPs + lanPrefixes).compactMap { prefix -> OSPFStubNetwork? in
                guard case .v4(let v4) = prefix.canonical else { return nil }
                return OSPFStubNetwork(prefix: OSPFPrefix(address: OSPFAddress(rawValue: v4.address.value), length: v4.length),
                                       cost: v4.length == 32 ? 0 : 10)
            }
            let ospfConfiguration = OSPFConfiguration(
                routerID: OSPFAddress(rawValue: config.routerID.value), areaID: OSPFAddress(rawValue: config.ospf.area.value),
                interfaces: interfaces, stubNetworks: stubs,
                // A restarted router must not reuse crypto sequence numbers its neighbors saw (RFC 5709 §3.1).
                cryptographicSequenceStart: UInt32(truncatingIfNeeded: time(nil)))
            let driver = OSPFDriver(configuration: ospfConfiguration, links: ospfLinks, log: log)
            ospf = driver
            engine.attachControlPlane(driver)
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
        log("\(config.name): overlay node up on \(config.tunName) with \(config.links.count) link(s)")
    }

    /// The kernel learns every prefix the overlay routes to a link (static or OSPF) as a route
    /// through the TUN; KernelRoutes changes only what differs.
    public func reconcileKernelRoutes() {
        let desired = interface.engine.overlayRoutes()
            .filter { route in route.source != .connected && route.nextHops.contains { $0.link != OverlayRouter.tunLink } }
            .map { KernelRoute(destination: $0.prefix, nextHops: [NextHop(link: tunIndex)]) }
        let changes = kernelRoutes.apply(desired)
        for failure in changes.failures { log("\(config.tunName): kernel route: \(failure)") }
    }

    /// Keeps the kernel's routes in step with the overlay's (once a second) until SIGINT,
    /// SIGTERM or SIGHUP; then shuts down cleanly.
    public func runUntilSignalled() {
        InterfaceDaemon.waitForTerminationSignal(everySecond: reconcileKernelRoutes)
        shutdown()
    }

    public func shutdown() {
        _ = try? kernelRoutes.cleanup()
        interface.shutdown()
    }
}
