#if canImport(Glibc)
import Glibc
#endif
import WeftCrypto
import WeftDataPlane
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

    public init(config: NodeConfig, log: @escaping @Sendable (String) -> Void = WireGuardEngine.logToStandardError) throws {
        self.config = config
        interface = try InterfaceDaemon(options: .init(interfaceName: config.tunName, mtu: config.overlayMTU), log: log)
        let engine = interface.engine
        try engine.apply(config.interfaceChange())

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
        for prefix in config.nodeVPNIPs + config.lanPrefixes {
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

        // The kernel side: addresses, MTU, link up, and routes to remote prefixes via the TUN.
        netlink = try NetlinkSocket()
        let tun = try netlink.linkID(named: config.tunName)
        try netlink.setMTU(UInt32(config.overlayMTU), of: tun)
        for prefix in config.nodeVPNIPs + config.links.flatMap(\.linkVPNIPs) {
            _ = try netlink.addAddress(prefix, to: tun, flags: prefix.address.family == .ipv6 ? [.noDAD] : [])
        }
        try netlink.setLink(tun, up: true)
        kernelRoutes = KernelRoutes(socket: netlink)
        let remote = config.staticRoutes.map { KernelRoute(destination: $0.prefix, nextHops: [NextHop(link: tun)]) }
        let changes = kernelRoutes.apply(remote)
        for failure in changes.failures { log("\(config.tunName): kernel route: \(failure)") }
        log("\(config.name): overlay node up on \(config.tunName) with \(config.links.count) link(s)")
    }

    public func runUntilSignalled() {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        var received: Int32 = 0
        sigwait(&signals, &received)
        shutdown()
    }

    public func shutdown() {
        _ = try? kernelRoutes.cleanup()
        interface.shutdown()
    }
}
