import Foundation
import Testing

/// The dlan data plane: nodes run from YAML files (`weft up --config`), each link a WireGuard
/// peer carrying a VXLAN segment. A chain site-a — hub — site-b where the sites cannot reach each
/// other's underlay: a host behind site-a reaches a host behind site-b through the hub, which
/// forwards between its links itself (static routes).
@Suite(.serialized, .enabled(if: Lab.isRoot, Lab.skipReason))
struct OverlayTests {
    struct Node {
        let namespace: String
        let name: String
        let tun: String
        let privKey: String
        var pubKey: String { (try? Lab.run(["wg", "pubkey"], input: privKey).trimmingCharacters(in: .whitespacesAndNewlines)) ?? "" }
    }

    private func write(_ yaml: String, _ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "weft-\(getpid())-\(name).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("Chain site-a — hub — site-b with static routes, plus a Linux router (wireguard-go + kernel vxlan) on the hub")
    func chainThroughHub() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let nsA = try lab.makeNamespace(), nsHub = try lab.makeNamespace(), nsB = try lab.makeNamespace()
        let nsLinux = try lab.makeNamespace()
        try lab.link(nsA, "198.18.10.2/24", nsHub, "198.18.10.1/24", names: ("eth0", "eth0"))
        try lab.link(nsB, "198.18.20.2/24", nsHub, "198.18.20.1/24", names: ("eth0", "eth1"))
        try lab.link(nsLinux, "198.18.30.2/24", nsHub, "198.18.30.1/24", names: ("eth0", "eth2"))
        // Hosts "behind" the sites: LAN addresses on lo (no dummy interfaces on this kernel).
        try lab.exec(in: nsA, ["ip", "addr", "add", "100.64.1.1/24", "dev", "lo"])
        try lab.exec(in: nsB, ["ip", "addr", "add", "100.64.2.1/24", "dev", "lo"])
        func key() throws -> String { try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines) }
        let a = Node(namespace: nsA, name: "site-a", tun: Lab.uniqueInterfaceName("ova"), privKey: try key())
        let hub = Node(namespace: nsHub, name: "hub", tun: Lab.uniqueInterfaceName("ovh"), privKey: try key())
        let b = Node(namespace: nsB, name: "site-b", tun: Lab.uniqueInterfaceName("ovb"), privKey: try key())
        let linux = Node(namespace: nsLinux, name: "linux", tun: Lab.uniqueInterfaceName("wgl"), privKey: try key())

        let files = [
            try write("""
                node: {name: site-a, privKey: "\(a.privKey)", tunName: \(a.tun), nodeVPNIP: [100.64.255.1/32], lanPrefixes: [100.64.1.0/24]}
                links:
                  - {name: to-hub, peerPubKey: "\(hub.pubKey)", peerEndpoint: "198.18.10.1:51820", persistentKeepalive: 1,
                     vni: 101, linkVPNIP: 100.64.100.1/30, peerLinkVPNIP: 100.64.100.2}
                staticRoutes:
                  - {prefix: 100.64.2.0/24, via: 100.64.100.2}
                  - {prefix: 100.64.3.0/24, via: 100.64.100.2}
                ospf: {enabled: false}
                """, "a"),
            try write("""
                node: {name: hub, privKey: "\(hub.privKey)", tunName: \(hub.tun), nodeVPNIP: [100.64.255.3/32]}
                links:
                  - {name: to-a, peerPubKey: "\(a.pubKey)", vni: 101, linkVPNIP: 100.64.100.2/30, peerLinkVPNIP: 100.64.100.1}
                  - {name: to-b, peerPubKey: "\(b.pubKey)", vni: 102, linkVPNIP: 100.64.100.5/30, peerLinkVPNIP: 100.64.100.6}
                  - {name: to-linux, peerPubKey: "\(linux.pubKey)", vni: 103, linkVPNIP: 100.64.100.9/30,
                     peerLinkVPNIP: 100.64.100.10, underlayIP: 100.64.200.1, peerUnderlayIP: 100.64.200.2}
                staticRoutes:
                  - {prefix: 100.64.1.0/24, via: 100.64.100.1}
                  - {prefix: 100.64.2.0/24, via: 100.64.100.6}
                  - {prefix: 100.64.3.0/24, via: 100.64.100.10}
                ospf: {enabled: false}
                """, "hub"),
            try write("""
                node: {name: site-b, privKey: "\(b.privKey)", tunName: \(b.tun), nodeVPNIP: [100.64.255.2/32], lanPrefixes: [100.64.2.0/24]}
                links:
                  - {name: to-hub, peerPubKey: "\(hub.pubKey)", peerEndpoint: "198.18.20.1:51820", persistentKeepalive: 1,
                     vni: 102, linkVPNIP: 100.64.100.6/30, peerLinkVPNIP: 100.64.100.5}
                staticRoutes:
                  - {prefix: 100.64.1.0/24, via: 100.64.100.5}
                ospf: {enabled: false}
                """, "b"),
        ]
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        let check = try Lab.runCapturing([Lab.weftBinary, "check", "--quiet"] + files)
        #expect(check.status == 0, "weft check: \(check.stderr)")

        for (node, file) in zip([a, hub, b], files) {
            let up = try Lab.runCapturing(["ip", "netns", "exec", node.namespace, Lab.weftBinary, "up", "--config", file], timeout: 20)
            try #require(up.status == 0, "weft up --config for \(node.name): \(up.stderr)")
        }
        // The hub's kernel does not forward (a new namespace has ip_forward 0): whatever crosses
        // the hub was forwarded by Weft between its links.
        #expect(try lab.exec(in: nsHub, ["cat", "/proc/sys/net/ipv4/ip_forward"]).trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        // The sites cannot reach each other's underlay at all.
        #expect((try Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "1", "-W", "1", "198.18.20.2"])).status != 0)
        // Link announcements resolve the neighbors; give the handshakes a moment, bounded.
        let reached = Lab.waitUntil(timeout: 10, every: 0.5) {
            (try? Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "1", "-W", "1", "-I", "100.64.1.1", "100.64.2.1"]))?.status == 0
        }
        #expect(reached, "site-a's LAN never reached site-b's LAN through the hub")
        let ping = try Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                                         "-I", "100.64.1.1", "100.64.2.1"])
        #expect(ping.status == 0, "\(ping.stdout)")
        // One router hop in between: the reply's TTL is 64 − 1 (the hub) = 63.
        #expect(ping.stdout.contains("ttl=63"), "\(ping.stdout)")
        // The hub's link addresses answer too (the kernel behind its TUN).
        #expect((try Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "1", "-W", "2", "100.64.100.2"])).status == 0)

        // The Linux router: wireguard-go, and the kernel's vxlan device over it (the dlan design's
        // reference node), peering with the hub on VNI 103.
        let keyFile = NSTemporaryDirectory() + "weft-\(getpid())-linux.key"
        try linux.privKey.write(toFile: keyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        try lab.spawn(in: nsLinux, ["wireguard-go", linux.tun], environment: ["WG_PROCESS_FOREGROUND": "1"])
        #expect(Lab.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: "/var/run/wireguard/\(linux.tun).sock") })
        try lab.exec(in: nsLinux, ["wg", "set", linux.tun, "private-key", keyFile, "peer", hub.pubKey,
                                   "endpoint", "198.18.30.1:51820", "allowed-ips", "100.64.200.1/32", "persistent-keepalive", "1"])
        for command in [
            ["ip", "addr", "add", "100.64.200.2/30", "dev", linux.tun],
            ["ip", "link", "set", linux.tun, "mtu", "1420", "up"],
            ["ip", "link", "add", "vx0", "type", "vxlan", "id", "103", "local", "100.64.200.2", "remote", "100.64.200.1",
             "dstport", "4789", "dev", linux.tun],
            ["ip", "addr", "add", "100.64.100.10/30", "dev", "vx0"],
            ["ip", "link", "set", "vx0", "up"],
            ["ip", "addr", "add", "100.64.3.1/24", "dev", "lo"],
            ["ip", "route", "add", "100.64.1.0/24", "via", "100.64.100.9", "dev", "vx0"],
        ] { try lab.exec(in: nsLinux, command) }
        let viaLinux = Lab.waitUntil(timeout: 10, every: 0.5) {
            (try? Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "1", "-W", "1", "-I", "100.64.1.1", "100.64.3.1"]))?.status == 0
        }
        #expect(viaLinux, "site-a's LAN never reached the Linux router's LAN through the hub")
        let linuxPing = try Lab.runCapturing(["ip", "netns", "exec", nsLinux, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                                              "-I", "100.64.3.1", "100.64.1.1"])
        #expect(linuxPing.status == 0, "Linux router → site-a: \(linuxPing.stdout)")

        // weft show on the hub: its links, their transit counters, and the routes it forwards by.
        let shown = try Lab.run([Lab.weftBinary, "show", hub.tun])
        for expected in ["link: to-a (VNI 101)", "link: to-b (VNI 102)", "link: to-linux (VNI 103)", "routes:",
                         "100.64.3.0/24 [static/0] via 100.64.100.10 (to-linux)"] {
            #expect(shown.contains(expected), "weft show lacks '\(expected)':\n\(shown)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(try Lab.run([Lab.weftBinary, "show", hub.tun, "--json"]).utf8))
        let links = ((json as? [[String: Any]])?.first?["links"] as? [[String: Any]]) ?? []
        let forwarded = links.compactMap { ($0["forwarded"] as? NSNumber)?.intValue }.reduce(0, +)
        #expect(forwarded >= 6, "the hub should count the transit packets it forwarded, got \(forwarded)")

        if Lab.which("iperf3") {
            try lab.spawn(in: nsB, ["iperf3", "-s", "-1", "-B", "100.64.2.1"])
            usleep(300_000)
            let output = try lab.exec(in: nsA, ["iperf3", "-c", "100.64.2.1", "-B", "100.64.1.1", "-t", "3", "-J"], timeout: 30)
            let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            let bps = ((json?["end"] as? [String: Any])?["sum_received"] as? [String: Any])?["bits_per_second"] as? Double ?? 0
            print("iperf3 site-a → site-b across the hub (VXLAN in WireGuard, debug build): \(String(format: "%.0f", bps / 1e6)) Mbit/s")
            #expect(bps > 0)
            // Both ways across the link to the Linux router (kernel vxlan over wireguard-go).
            for (server, serverAddress, client, clientAddress) in [(nsLinux, "100.64.3.1", nsA, "100.64.1.1"),
                                                                    (nsA, "100.64.1.1", nsLinux, "100.64.3.1")] {
                try lab.spawn(in: server, ["iperf3", "-s", "-1", "-B", serverAddress])
                usleep(300_000)
                let run = try Lab.runCapturing(["ip", "netns", "exec", client, "iperf3", "-c", serverAddress, "-B", clientAddress,
                                                "-t", "2", "-J"], timeout: 30)
                let result = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                let rate = ((result?["end"] as? [String: Any])?["sum_received"] as? [String: Any])?["bits_per_second"] as? Double ?? 0
                print("iperf3 \(clientAddress) → \(serverAddress) via the Linux router's link: \(String(format: "%.0f", rate / 1e6)) Mbit/s")
                #expect(rate > 0, "iperf3 \(clientAddress) → \(serverAddress): \(run.stderr)")
            }
        }
    }
}

extension OverlayTests {
    @Test("OSPF over the links: site-a — hub — site-b learn each other's LANs with no static routes")
    func chainWithOSPF() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let nsA = try lab.makeNamespace(), nsHub = try lab.makeNamespace(), nsB = try lab.makeNamespace()
        try lab.link(nsA, "198.18.10.2/24", nsHub, "198.18.10.1/24", names: ("eth0", "eth0"))
        try lab.link(nsB, "198.18.20.2/24", nsHub, "198.18.20.1/24", names: ("eth0", "eth1"))
        try lab.exec(in: nsA, ["ip", "addr", "add", "100.64.1.1/24", "dev", "lo"])
        try lab.exec(in: nsB, ["ip", "addr", "add", "100.64.2.1/24", "dev", "lo"])
        func key() throws -> String { try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines) }
        let a = Node(namespace: nsA, name: "site-a", tun: Lab.uniqueInterfaceName("osa"), privKey: try key())
        let hub = Node(namespace: nsHub, name: "hub", tun: Lab.uniqueInterfaceName("osh"), privKey: try key())
        let b = Node(namespace: nsB, name: "site-b", tun: Lab.uniqueInterfaceName("osb"), privKey: try key())
        let ospf = "ospf: {helloInterval: 1, deadInterval: 4}"
        let files = [
            try write("""
                node: {name: site-a, privKey: "\(a.privKey)", tunName: \(a.tun), nodeVPNIP: [100.64.255.1/32], lanPrefixes: [100.64.1.0/24]}
                links:
                  - {name: to-hub, peerPubKey: "\(hub.pubKey)", peerEndpoint: "198.18.10.1:51820", persistentKeepalive: 1,
                     vni: 101, linkVPNIP: 100.64.100.1/30, peerLinkVPNIP: 100.64.100.2, \(ospf)}
                """, "ospf-a"),
            try write("""
                node: {name: hub, privKey: "\(hub.privKey)", tunName: \(hub.tun), nodeVPNIP: [100.64.255.3/32]}
                links:
                  - {name: to-a, peerPubKey: "\(a.pubKey)", vni: 101, linkVPNIP: 100.64.100.2/30, peerLinkVPNIP: 100.64.100.1, \(ospf)}
                  - {name: to-b, peerPubKey: "\(b.pubKey)", vni: 102, linkVPNIP: 100.64.100.5/30, peerLinkVPNIP: 100.64.100.6, \(ospf)}
                """, "ospf-hub"),
            try write("""
                node: {name: site-b, privKey: "\(b.privKey)", tunName: \(b.tun), nodeVPNIP: [100.64.255.2/32], lanPrefixes: [100.64.2.0/24]}
                links:
                  - {name: to-hub, peerPubKey: "\(hub.pubKey)", peerEndpoint: "198.18.20.1:51820", persistentKeepalive: 1,
                     vni: 102, linkVPNIP: 100.64.100.6/30, peerLinkVPNIP: 100.64.100.5, \(ospf)}
                """, "ospf-b"),
        ]
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        for (node, file) in zip([a, hub, b], files) {
            let up = try Lab.runCapturing(["ip", "netns", "exec", node.namespace, Lab.weftBinary, "up", "--config", file], timeout: 20)
            try #require(up.status == 0, "weft up --config for \(node.name): \(up.stderr)")
        }
        let start = Date()
        // Full adjacencies in about a second; the routes follow SPF (MinLSInterval 5 s), bounded.
        let reached = Lab.waitUntil(timeout: 30, every: 0.5) {
            (try? Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "1", "-W", "1", "-I", "100.64.1.1", "100.64.2.1"]))?.status == 0
        }
        print("OSPF chain: site-a's LAN reached site-b's LAN \(String(format: "%.1f", Date().timeIntervalSince(start))) s after start")
        #expect(reached, "no OSPF route from site-a to site-b")
        let routes = try Lab.run([Lab.weftBinary, "show", a.tun])
        #expect(routes.contains("100.64.2.0/24 [ospf/"), "\(routes)")
        // The kernel learned the route too (protocol weft, through the TUN).
        #expect(try lab.exec(in: nsA, ["ip", "route", "show", "100.64.2.0/24"]).contains(a.tun))
    }
}
