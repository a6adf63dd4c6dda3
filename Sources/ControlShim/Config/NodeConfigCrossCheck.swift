// Checks across the configuration files of several nodes: both ends of a link are written in
// two files, and most mistakes that pass each file alone are disagreements between them (a VNI
// typed differently, addresses not mirrored, different OSPF timers, which keep the link or its
// adjacency down without any error message at run time).

import WeftCrypto
import WeftDataPlane
import WeftRouting

/// One node's configuration with the file it came from, for ``NodeConfig/crossCheck(_:)``.
public struct NamedNodeConfig: Sendable {
    public var fileName: String
    public var config: NodeConfig

    public init(fileName: String, config: NodeConfig) {
        self.fileName = fileName
        self.config = config
    }
}

extension NodeConfig {
    /// Disagreements between the given nodes' files, one line each (empty when they agree).
    ///
    /// Nodes must have distinct names, Router IDs, public keys and overlay addresses, and
    /// LAN prefixes that do not overlap. For every link whose peer is among the files, the peer
    /// must have a link back, and the two ends must agree on: VNI, mirrored link addresses
    /// (same prefix lengths) and underlay addresses, the pre-shared key, the link MTU (OSPF
    /// refuses a neighbor whose Database Description MTU is larger than its own, RFC 2328
    /// §10.6), and with OSPF on at both, area, HelloInterval, RouterDeadInterval (§10.5) and
    /// authentication. At least one end must know the other's endpoint. Links to peers whose
    /// file is not given are not checked.
    public static func crossCheck(_ nodes: [NamedNodeConfig]) -> [String] {
        var problems: [String] = []
        checkUniqueness(nodes, &problems)
        for (index, node) in nodes.enumerated() {
            for (linkIndex, link) in node.config.links.enumerated() {
                guard let peer = nodes.first(where: { $0.config.pubKey == link.peerPubKey }) else { continue }
                let here = "\(node.fileName): links[\(linkIndex)] (\(link.name))"
                guard let backIndex = peer.config.links.firstIndex(where: { $0.peerPubKey == node.config.pubKey }) else {
                    problems.append("\(here): \(peer.fileName) has no link back to node \(node.config.name)")
                    continue
                }
                // Compare each pair once, from the file listed first.
                guard let peerIndex = nodes.firstIndex(where: { $0.config.pubKey == link.peerPubKey }),
                      index < peerIndex else { continue }
                let back = peer.config.links[backIndex]
                let there = "\(peer.fileName): links[\(backIndex)] (\(back.name))"
                for problem in linkMismatches(link, node.config, back, peer.config) {
                    problems.append("\(here) and \(there): \(problem)")
                }
            }
        }
        return problems
    }

    private static func checkUniqueness(_ nodes: [NamedNodeConfig], _ problems: inout [String]) {
        for (index, node) in nodes.enumerated() {
            for earlier in nodes[..<index] {
                let pair = "\(earlier.fileName) and \(node.fileName)"
                if earlier.config.name == node.config.name {
                    problems.append("\(pair): both nodes are named \(node.config.name)")
                }
                if earlier.config.routerID == node.config.routerID {
                    problems.append("\(pair): both use Router ID \(node.config.routerID)")
                }
                if earlier.config.pubKey == node.config.pubKey {
                    problems.append("\(pair): both have the public key \(node.config.pubKey)")
                }
                for address in node.config.nodeVPNIPs.map(\.address)
                where earlier.config.nodeVPNIPs.contains(where: { $0.address == address }) {
                    problems.append("\(pair): both have nodeVPNIP \(address)")
                }
                for prefix in node.config.lanPrefixes {
                    for other in earlier.config.lanPrefixes where other.contains(prefix) || prefix.contains(other) {
                        problems.append("\(pair): lanPrefixes \(other) and \(prefix) overlap")
                    }
                }
            }
        }
    }

    /// What two ends of one link disagree on.
    private static func linkMismatches(_ a: LinkConfig, _ nodeA: NodeConfig,
                                       _ b: LinkConfig, _ nodeB: NodeConfig) -> [String] {
        var problems: [String] = []
        if a.vni != b.vni { problems.append("VNI \(a.vni) vs \(b.vni)") }
        if Set(a.peerLinkVPNIPs) != Set(b.linkVPNIPs.map(\.address))
            || Set(b.peerLinkVPNIPs) != Set(a.linkVPNIPs.map(\.address)) {
            problems.append("link addresses not mirrored: \(describe(a)) vs \(describe(b))")
        } else if Set(a.linkVPNIPs.map(\.canonical)) != Set(b.linkVPNIPs.map(\.canonical)) {
            problems.append("link prefix lengths differ: \(describe(a)) vs \(describe(b))")
        }
        switch (a.underlay, b.underlay) {
        case (.ipv4(let localA, let remoteA), .ipv4(let localB, let remoteB)) where localA == remoteB && remoteA == localB:
            break
        case (.ipv6(let localA, let remoteA), .ipv6(let localB, let remoteB)) where localA == remoteB && remoteA == localB:
            break
        default:
            problems.append("VXLAN underlay addresses not mirrored")
        }
        if !sameKey(a.psk, b.psk) { problems.append("different pre-shared keys") }
        if a.vxlanMTU != b.vxlanMTU { problems.append("link MTU \(a.vxlanMTU) vs \(b.vxlanMTU)") }
        if nodeA.ospf.enabled && nodeB.ospf.enabled {
            if nodeA.ospf.area != nodeB.ospf.area {
                problems.append("OSPF area \(nodeA.ospf.area) vs \(nodeB.ospf.area)")
            }
            if a.ospf.helloInterval != b.ospf.helloInterval || a.ospf.deadInterval != b.ospf.deadInterval {
                problems.append("OSPF hello/dead \(a.ospf.helloInterval)/\(a.ospf.deadInterval) s vs "
                    + "\(b.ospf.helloInterval)/\(b.ospf.deadInterval) s")
            }
            if a.ospf.authentication != b.ospf.authentication {
                problems.append("different OSPF authentication")
            }
        } else if nodeA.ospf.enabled != nodeB.ospf.enabled {
            problems.append("OSPF runs at one end only")
        }
        if a.peerEndpoint == nil && b.peerEndpoint == nil {
            problems.append("neither end has a peerEndpoint, so neither can start a handshake")
        }
        return problems
    }

    private static func describe(_ link: LinkConfig) -> String {
        link.linkVPNIPs.map(\.description).joined(separator: ",") + " -> "
            + link.peerLinkVPNIPs.map(\.description).joined(separator: ",")
    }

    private static func sameKey(_ a: PresharedKey?, _ b: PresharedKey?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let a?, let b?): return a.withUnsafeBytes { x in b.withUnsafeBytes { y in ConstantTime.equal(x, y) } }
        default: return false
        }
    }
}
