import Foundation
import Testing

/// Weft's OSPF against BIRD 2, the reference implementation, over a wireguard-go + kernel vxlan
/// link (the dlan design's Linux router). Each learns the other's prefixes; traffic follows.
@Suite(.serialized, .enabled(if: Lab.isRoot, Lab.skipReason),
       .enabled(if: Lab.which("bird") && Lab.which("wireguard-go"), "bird2 and wireguard-go are needed: run scripts/setup"))
struct BIRDInteropTests {
    @Test("Weft forms a Full adjacency with BIRD and both learn each other's LAN")
    func adjacencyAndRoutesWithBIRD() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let nsWeft = try lab.makeNamespace(), nsBird = try lab.makeNamespace()
        try lab.link(nsWeft, "198.18.40.1/24", nsBird, "198.18.40.2/24")
        try lab.exec(in: nsWeft, ["ip", "addr", "add", "100.64.1.1/24", "dev", "lo"])
        try lab.exec(in: nsBird, ["ip", "addr", "add", "100.64.3.1/24", "dev", "lo"])
        let weftKey = try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let birdKey = try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let weftPub = try Lab.run(["wg", "pubkey"], input: weftKey).trimmingCharacters(in: .whitespacesAndNewlines)
        let birdPub = try Lab.run(["wg", "pubkey"], input: birdKey).trimmingCharacters(in: .whitespacesAndNewlines)
        let tun = Lab.uniqueInterfaceName("obw"), wgIf = Lab.uniqueInterfaceName("obl")
        let base = NSTemporaryDirectory() + "weft-bird-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }

        // The Linux router: wireguard-go, kernel vxlan over it, BIRD on the vxlan device.
        try birdKey.write(toFile: "\(base)/bird.key", atomically: true, encoding: .utf8)
        try lab.spawn(in: nsBird, ["wireguard-go", wgIf], environment: ["WG_PROCESS_FOREGROUND": "1"])
        #expect(Lab.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: "/var/run/wireguard/\(wgIf).sock") })
        for command in [
            ["wg", "set", wgIf, "private-key", "\(base)/bird.key", "listen-port", "51820", "peer", weftPub,
             "allowed-ips", "100.64.200.1/32"],
            ["ip", "addr", "add", "100.64.200.2/30", "dev", wgIf],
            ["ip", "link", "set", wgIf, "mtu", "1420", "up"],
            ["ip", "link", "add", "vx0", "type", "vxlan", "id", "103", "local", "100.64.200.2", "remote", "100.64.200.1",
             "dstport", "4789", "dev", wgIf],
            ["ip", "addr", "add", "100.64.100.10/30", "dev", "vx0"],
            ["ip", "link", "set", "vx0", "up"],
        ] { try lab.exec(in: nsBird, command) }
        try """
            router id 100.64.255.9;
            protocol device { scan time 1; }
            protocol kernel { ipv4 { export all; }; }
            protocol ospf v2 {
              ipv4 { import all; export none; };
              area 0 {
                interface "vx0" { type ptp; hello 1; dead 4; };
                interface "lo" { stub yes; };
              };
            }
            """.write(toFile: "\(base)/bird.conf", atomically: true, encoding: .utf8)
        try lab.spawn(in: nsBird, ["bird", "-f", "-c", "\(base)/bird.conf", "-s", "\(base)/bird.ctl", "-P", "\(base)/bird.pid"])

        // Weft: one link to the Linux router, OSPF on it. Its LAN prefix is read from the kernel
        // (the addresses on `lo`, loopback excluded) and advertised.
        try """
            node: {name: weft, privKey: "\(weftKey)", tunName: \(tun), nodeVPNIP: [100.64.255.1/32], lanInterfaces: [lo]}
            links:
              - {name: to-linux, peerPubKey: "\(birdPub)", peerEndpoint: "198.18.40.2:51820", persistentKeepalive: 1,
                 vni: 103, linkVPNIP: 100.64.100.9/30, peerLinkVPNIP: 100.64.100.10,
                 underlayIP: 100.64.200.1, peerUnderlayIP: 100.64.200.2, ospf: {helloInterval: 1, deadInterval: 4}}
            """.write(toFile: "\(base)/weft.yaml", atomically: true, encoding: .utf8)
        let start = Date()
        let up = try Lab.runCapturing(["ip", "netns", "exec", nsWeft, Lab.weftBinary, "up", "--config", "\(base)/weft.yaml"], timeout: 20)
        try #require(up.status == 0, "weft up --config: \(up.stderr)")

        let full = Lab.waitUntil(timeout: 20, every: 0.25) {
            let neighbors = (try? lab.exec(in: nsBird, ["birdc", "-s", "\(base)/bird.ctl", "show", "ospf", "neighbors"])) ?? ""
            return neighbors.contains("Full")
        }
        print("BIRD: adjacency with Weft Full after \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        #expect(full, "BIRD never reached Full with Weft")
        let learned = Lab.waitUntil(timeout: 30, every: 0.5) {
            ((try? lab.exec(in: nsBird, ["ip", "route", "show", "100.64.1.0/24"])) ?? "").contains("vx0")
                && ((try? lab.exec(in: nsWeft, ["ip", "route", "show", "100.64.3.0/24"])) ?? "").contains(tun)
        }
        print("BIRD ↔ Weft: routes in both kernels after \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        #expect(learned, "routes not exchanged: BIRD has \((try? lab.exec(in: nsBird, ["ip", "route"])) ?? "?")")
        // weft show ospf: the BIRD neighbor Full, its LAN among the routes; the same as JSON.
        let view = try Lab.run([Lab.weftBinary, "show", "ospf", tun])
        #expect(view.contains("100.64.255.9") && view.contains("Full") && view.contains("100.64.3.0/24"), "\(view)")
        let json = try JSONSerialization.jsonObject(with: Data(try Lab.run([Lab.weftBinary, "show", "ospf", tun, "--json"]).utf8))
        let neighbors = ((json as? [[String: Any]])?.first?["neighbors"] as? [[String: Any]]) ?? []
        #expect(neighbors.count == 1, "\(json)")

        let ping = try Lab.runCapturing(["ip", "netns", "exec", nsWeft, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                                         "-I", "100.64.1.1", "100.64.3.1"])
        #expect(ping.status == 0, "traffic does not follow the OSPF routes: \(ping.stdout)")

        // tshark dissects Weft's OSPF packets (seen on the Linux router's vxlan device) without errors.
        if Lab.which("tshark") {
            let pcap = "\(base)/ospf.pcap"
            let capture = try lab.spawn(in: nsBird, ["tshark", "-q", "-i", "vx0", "-f", "ip proto 89", "-a", "duration:3", "-w", pcap])
            Lab.waitUntil(timeout: 10) { !capture.isRunning }
            let rows = try Lab.run(["tshark", "-r", pcap, "-Y", "ospf && ip.src == 100.64.100.9", "-T", "fields",
                                    "-e", "ospf.msg", "-e", "ip.ttl"]).split(separator: "\n")
            #expect(!rows.isEmpty, "no OSPF packets from Weft captured")
            #expect(rows.allSatisfy { $0.hasSuffix("\t1") }, "OSPF packets must have TTL 1: \(rows)")
            let bad = try Lab.run(["tshark", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields",
                                   "-e", "frame.number"])
            #expect(bad.isEmpty, "tshark flagged frames \(bad)")
        }
    }
}
