// A human-readable digest of a validated configuration, for `weft check`. It shows what the
// defaults and derivations made of the file (Router ID, underlay addresses, MTUs, AllowedIPs),
// and never shows a secret: only public keys, and whether a PSK or OSPF key is set.

import WeftDataPlane
import WeftOSPF
import WeftRouting

extension NodeConfig {
    /// Several lines, one block for the node, one per link, one for static routes; each line
    /// is a label padded to one column and its values. Ends without a newline.
    public var summary: String {
        var lines: [String] = []
        func row(_ label: String, _ value: String) {
            lines.append("  " + label.padding(toLength: 14) + value)
        }
        lines.append("node \(name): router ID \(routerID), public key \(pubKey)")
        row("tun", "\(tunName), WireGuard MTU \(tunMTU), overlay MTU \(overlayMTU), listen port \(listenPort)")
        row("node VPN IPs", nodeVPNIPs.map(\.description).joined(separator: ", "))
        row("LAN prefixes", lanPrefixes.isEmpty ? "none" : lanPrefixes.map(\.description).joined(separator: ", "))
        row("OSPF", ospf.enabled ? "area \(ospf.area)" : "off (static routes only)")
        for lan in lanInterfaces {
            let what = lan.ospf.map { settings in
                "OSPF \(settings.type.rawValue), priority \(settings.priority), cost \(lan.cost), "
                    + "hello \(settings.helloInterval) s, dead \(settings.deadInterval) s, auth \(settings.authentication.schemeName)"
            } ?? "networks advertised as stubs, cost \(lan.cost)"
            row("LAN \(lan.name)", what)
        }
        if links.isEmpty { lines.append("no links") }
        for link in links {
            lines.append("link \(link.name) (VNI \(link.vni))")
            var peer = "\(link.peerPubKey) "
            peer += link.peerEndpoint.map { "at \($0)" } ?? "(endpoint learned from the peer)"
            if link.persistentKeepalive > 0 { peer += ", keepalive \(link.persistentKeepalive) s" }
            if link.psk != nil { peer += ", PSK" }
            row("peer", peer)
            let pairs = link.linkVPNIPs.map { prefix in
                let peerAddress = link.peerLinkVPNIP(prefix.family).map(\.description) ?? "?"
                return "\(prefix) -> \(peerAddress)"
            }
            row("link VPN IPs", pairs.joined(separator: ", "))
            let (local, remote): (String, String)
            switch link.underlay {
            case .ipv4(let l, let r): (local, remote) = (l.description, r.description)
            case .ipv6(let l, let r): (local, remote) = (l.description, r.description)
            }
            row("underlay", "\(local) -> \(remote) (\(link.underlay.family)), MTU \(link.vxlanMTU), "
                + "AllowedIPs \(link.allowedIPs.map(\.description).joined(separator: ", "))")
            if ospf.enabled {
                row("OSPF", "cost \(link.cost), hello \(link.ospf.helloInterval) s, dead \(link.ospf.deadInterval) s, "
                    + "auth \(link.ospf.authentication.schemeName)")
            }
        }
        if !staticRoutes.isEmpty {
            lines.append("static routes")
            for route in staticRoutes {
                lines.append("  \(route.prefix) via \(route.gateway) (\(route.link))")
            }
        }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    /// Pads with spaces to `length` characters; longer strings get one space.
    func padding(toLength length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}
