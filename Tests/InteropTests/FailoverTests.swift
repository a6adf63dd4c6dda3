import Foundation
import Testing

/// Failover in a triangle of two Weft nodes and a Linux router running BIRD 2 (the dlan design's
/// reference node: wireguard-go + kernel vxlan), OSPF hello 1 s, dead 4 s on every link:
///
///                    L  (Linux: wireguard-go, kernel vxlan, BIRD; 100.64.3.0/24 on lo)
///           cost 10 /  \ cost 10
///                  /    \
///     100.64.1.0/24 A ──── B 100.64.2.0/24      (Weft nodes; the direct link costs 30)
///
/// Traffic between A's and B's LANs prefers the path through L (20 < 30). Each failure leaves the
/// direct link as the other path, and only the missing Hellos tell anyone (RFC 2328 §10.2: the
/// inactivity timer fires after RouterDeadInterval; §16: the routes are recomputed without the
/// neighbor): the A–L underlay is cut (a veth under the tunnel goes down; the WireGuard and vxlan
/// devices OSPF runs over stay up), and BIRD is killed (SIGKILL: L's kernel keeps BIRD's routes
/// and forwards on).
/// Traffic must move to the direct link within the dead interval plus a little, and back once the
/// failure heals. The measured times are printed.
@Suite(.serialized, .enabled(if: Lab.isRoot, Lab.skipReason),
       .enabled(if: Lab.which("bird") && Lab.which("wireguard-go"), "bird2 and wireguard-go are needed: run scripts/setup"))
struct FailoverTests {
    static let deadInterval = 4.0
    /// SPF delay (50 ms), flooding, and scheduling on a loaded 2-core VM, on top of the dead interval.
    static let slack = 1.5

    /// The two paths between A's and B's LANs. The echo reply's TTL tells which one a direction
    /// took: L's kernel decrements it, Weft nodes deliver their own LAN's traffic without a hop.
    enum Path: String {
        case direct = "the direct link"
        case throughL = "the Linux router"
        var ttl: Int { self == .direct ? 64 : 63 }
        var linkFromA: String { self == .direct ? "to-b" : "to-linux" }
        var linkFromB: String { self == .direct ? "to-a" : "to-linux" }
    }

    /// What one event did to the traffic, in seconds after the event.
    struct Transition {
        /// The first echo reply over the new path to a ping sent after the event (a late reply to
        /// an earlier one proves nothing): B's pings of A show the A→B direction, A's pings of B
        /// the B→A direction (nil: none within the bound).
        var aToB: Double?
        var bToA: Double?
        /// When `weft show` listed the new next hop for good, at A and at B (polled, so a little late).
        var routeA: Double?
        var routeB: Double?
        /// How often A's next hop toward B's LAN changed.
        var changesA = 0
        var sent = 0
        var received = 0
        /// Both directions on the new path.
        var rerouted: Double? { aToB.flatMap { a in bToA.map { max(a, $0) } } }

        var summary: String {
            func seconds(_ value: Double?) -> String { value.map { String(format: "%.1f s", $0) } ?? "never" }
            return "\(seconds(rerouted)) (A→B \(seconds(aToB)), B→A \(seconds(bToA)); weft show: A's route \(seconds(routeA)), "
                + "B's \(seconds(routeB))\(changesA > 1 ? ", A's next hop changed \(changesA) times" : ""); "
                + "\(sent - received) of \(sent) pings lost)"
        }
    }

    struct Triangle {
        let lab: Lab
        let nsA: String, nsB: String, nsL: String
        let tunA: String, tunB: String
        let base: String
    }

    @Test("Triangle Weft A, Weft B, Linux/BIRD L: underlay cut and BIRD killed move traffic to the direct link within the dead interval, and back")
    func triangleFailover() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let nsA = try lab.makeNamespace(), nsB = try lab.makeNamespace(), nsL = try lab.makeNamespace()
        try lab.link(nsA, "198.18.60.1/24", nsB, "198.18.60.2/24", names: ("ethb", "etha"))
        try lab.link(nsA, "198.18.61.1/24", nsL, "198.18.61.2/24", names: ("ethl", "etha"))
        try lab.link(nsB, "198.18.62.1/24", nsL, "198.18.62.2/24", names: ("ethl", "ethb"))
        for (namespace, lan) in [(nsA, "100.64.1.1/24"), (nsB, "100.64.2.1/24"), (nsL, "100.64.3.1/24")] {
            try lab.exec(in: namespace, ["ip", "addr", "add", lan, "dev", "lo"])
        }
        // L is the transit router between A and B: its kernel forwards.
        try lab.exec(in: nsL, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        let base = NSTemporaryDirectory() + "weft-failover-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        func keyPair(_ name: String) throws -> (privateKey: String, publicKey: String) {
            let key = try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
            try key.write(toFile: "\(base)/\(name).key", atomically: true, encoding: .utf8)
            return (key, try Lab.run(["wg", "pubkey"], input: key).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let a = try keyPair("a"), b = try keyPair("b"), la = try keyPair("la"), lb = try keyPair("lb")
        let triangle = Triangle(lab: lab, nsA: nsA, nsB: nsB, nsL: nsL, tunA: Lab.uniqueInterfaceName("ofa"),
                                tunB: Lab.uniqueInterfaceName("ofb"), base: base)

        // L: one wireguard-go device per link, a kernel vxlan device over each (one VNI per link).
        func linuxLink(device: String, key: String, port: Int, peer: String, peerEndpoint: String,
                       underlay: (local: String, remote: String), vni: Int, vxlan: String, address: String) throws {
            try lab.spawn(in: nsL, ["wireguard-go", device], environment: ["WG_PROCESS_FOREGROUND": "1"])
            try #require(Lab.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: "/var/run/wireguard/\(device).sock") })
            for command in [
                ["wg", "set", device, "private-key", "\(base)/\(key).key", "listen-port", "\(port)", "peer", peer,
                 "endpoint", peerEndpoint, "allowed-ips", "\(underlay.remote)/32", "persistent-keepalive", "1"],
                ["ip", "addr", "add", "\(underlay.local)/30", "dev", device],
                ["ip", "link", "set", device, "mtu", "1420", "up"],
                ["ip", "link", "add", vxlan, "type", "vxlan", "id", "\(vni)", "local", underlay.local, "remote", underlay.remote,
                 "dstport", "4789", "dev", device],
                ["ip", "addr", "add", address, "dev", vxlan],
                ["ip", "link", "set", vxlan, "up"],
            ] { try lab.exec(in: nsL, command) }
        }
        try linuxLink(device: Lab.uniqueInterfaceName("ofl"), key: "la", port: 51820, peer: a.publicKey,
                      peerEndpoint: "198.18.61.1:51820", underlay: ("100.64.200.2", "100.64.200.1"), vni: 302,
                      vxlan: "vxa", address: "100.64.100.6/30")
        try linuxLink(device: Lab.uniqueInterfaceName("ofm"), key: "lb", port: 51821, peer: b.publicKey,
                      peerEndpoint: "198.18.62.1:51820", underlay: ("100.64.200.6", "100.64.200.5"), vni: 303,
                      vxlan: "vxb", address: "100.64.100.10/30")
        try """
            router id 100.64.255.9;
            protocol device { scan time 1; }
            protocol kernel { ipv4 { export all; }; }
            protocol ospf v2 {
              ipv4 { import all; export none; };
              area 0 {
                interface "vxa" { type ptp; cost 10; hello 1; dead 4; };
                interface "vxb" { type ptp; cost 10; hello 1; dead 4; };
                interface "lo" { stub yes; };
              };
            }
            """.write(toFile: "\(base)/bird.conf", atomically: true, encoding: .utf8)
        let birdCommand = ["bird", "-f", "-c", "\(base)/bird.conf", "-s", "\(base)/bird.ctl", "-P", "\(base)/bird.pid"]
        let bird = try lab.spawn(in: nsL, birdCommand)

        let ospf = "ospf: {helloInterval: 1, deadInterval: 4}"
        try """
            node: {name: site-a, privKey: "\(a.privateKey)", tunName: \(triangle.tunA), nodeVPNIP: [100.64.255.1/32], lanInterfaces: [lo]}
            links:
              - {name: to-b, peerPubKey: "\(b.publicKey)", peerEndpoint: "198.18.60.2:51820", persistentKeepalive: 1,
                 vni: 301, linkVPNIP: 100.64.100.1/30, peerLinkVPNIP: 100.64.100.2, cost: 30, \(ospf)}
              - {name: to-linux, peerPubKey: "\(la.publicKey)", peerEndpoint: "198.18.61.2:51820", persistentKeepalive: 1,
                 vni: 302, linkVPNIP: 100.64.100.5/30, peerLinkVPNIP: 100.64.100.6,
                 underlayIP: 100.64.200.1, peerUnderlayIP: 100.64.200.2, cost: 10, \(ospf)}
            """.write(toFile: "\(base)/a.yaml", atomically: true, encoding: .utf8)
        try """
            node: {name: site-b, privKey: "\(b.privateKey)", tunName: \(triangle.tunB), nodeVPNIP: [100.64.255.2/32], lanInterfaces: [lo]}
            links:
              - {name: to-a, peerPubKey: "\(a.publicKey)", peerEndpoint: "198.18.60.1:51820", persistentKeepalive: 1,
                 vni: 301, linkVPNIP: 100.64.100.2/30, peerLinkVPNIP: 100.64.100.1, cost: 30, \(ospf)}
              - {name: to-linux, peerPubKey: "\(lb.publicKey)", peerEndpoint: "198.18.62.2:51821", persistentKeepalive: 1,
                 vni: 303, linkVPNIP: 100.64.100.9/30, peerLinkVPNIP: 100.64.100.10,
                 underlayIP: 100.64.200.5, peerUnderlayIP: 100.64.200.6, cost: 10, \(ospf)}
            """.write(toFile: "\(base)/b.yaml", atomically: true, encoding: .utf8)
        let check = try Lab.runCapturing([Lab.weftBinary, "check", "--quiet", "\(base)/a.yaml", "\(base)/b.yaml"])
        try #require(check.status == 0, "weft check: \(check.stderr)")
        let start = Date()
        for (namespace, file) in [(nsA, "a.yaml"), (nsB, "b.yaml")] {
            let up = try Lab.runCapturing(["ip", "netns", "exec", namespace, Lab.weftBinary, "up", "--config", "\(base)/\(file)"],
                                          timeout: 20)
            try #require(up.status == 0, "weft up --config \(file): \(up.stderr)")
        }

        // (a) Every adjacency Full, then the routes: through L in the overlays, and in all three kernels.
        let full = Lab.waitUntil(timeout: 20, every: 0.1) {
            Self.fullNeighbors(triangle.tunA) == 2 && Self.fullNeighbors(triangle.tunB) == 2 && Self.birdFullNeighbors(triangle) == 2
        }
        let timeToFull = Date().timeIntervalSince(start)
        try #require(full, """
            adjacencies not Full: A \(Self.fullNeighbors(triangle.tunA)), B \(Self.fullNeighbors(triangle.tunB)), \
            BIRD \(Self.birdFullNeighbors(triangle)) of 2
            """)
        let routed = Lab.waitUntil(timeout: 30, every: 0.25) {
            Self.routeLink(triangle.tunA, "100.64.2.0/24") == "to-linux" && Self.routeLink(triangle.tunB, "100.64.1.0/24") == "to-linux"
                && Self.routeLink(triangle.tunA, "100.64.3.0/24") == "to-linux" && Self.routeLink(triangle.tunB, "100.64.3.0/24") == "to-linux"
                && ((try? lab.exec(in: nsA, ["ip", "route", "show", "100.64.2.0/24"])) ?? "").contains(triangle.tunA)
                && ((try? lab.exec(in: nsB, ["ip", "route", "show", "100.64.1.0/24"])) ?? "").contains(triangle.tunB)
                && ((try? lab.exec(in: nsL, ["ip", "route", "show", "100.64.1.0/24"])) ?? "").contains("vxa")
                && ((try? lab.exec(in: nsL, ["ip", "route", "show", "100.64.2.0/24"])) ?? "").contains("vxb")
        }
        let timeToRoutes = Date().timeIntervalSince(start)
        try #require(routed, "routes not through L: A \((try? Lab.run([Lab.weftBinary, "show", triangle.tunA])) ?? "?")")
        print("failover: triangle converged: all adjacencies Full \(String(format: "%.1f", timeToFull)) s after `weft up`, "
              + "routes through L in all kernels after \(String(format: "%.1f", timeToRoutes)) s")
        let ping = try Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                                         "-I", "100.64.1.1", "100.64.2.1"])
        #expect(ping.status == 0 && ping.stdout.contains("ttl=\(Path.throughL.ttl)"), "A → B not through L: \(ping.stdout)")

        // (b) The A–L underlay is cut: no Hellos cross it any more; nobody sees a link go down.
        let cut = try observe(triangle, to: .direct) { try lab.exec(in: nsA, ["ip", "link", "set", "ethl", "down"]) }
        print("failover: underlay A–L cut → traffic rerouted over \(Path.direct.rawValue) in \(cut.summary)")
        #expect(cut.rerouted.map { $0 < Self.deadInterval + Self.slack } == true, "underlay cut: \(cut.summary)")
        #expect(cut.routeA != nil && cut.routeB != nil, "routes did not move to the direct link: \(cut.summary)")
        // L's LAN, next door to A, is reached through B meanwhile.
        #expect(Self.routeLink(triangle.tunA, "100.64.3.0/24") == "to-b", "A's route to L's LAN did not move")
        #expect(Lab.waitUntil(timeout: 5, every: 0.2) {
            (try? Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "1", "-W", "1", "-I", "100.64.1.1", "100.64.3.1"]))?
                .status == 0
        }, "A's LAN cannot reach L's LAN around the cut")
        let healed = try observe(triangle, to: .throughL) { try lab.exec(in: nsA, ["ip", "link", "set", "ethl", "up"]) }
        print("failover: underlay A–L healed → traffic back through \(Path.throughL.rawValue) in \(healed.summary)")
        #expect(healed.rerouted != nil && healed.routeA != nil && healed.routeB != nil, "no recovery: \(healed.summary)")
        #expect(healed.sent - healed.received <= 2, "recovery should lose (almost) nothing: \(healed.summary)")
        usleep(2_000_000)  // settle: every LSA of the recovery flooded

        // (c) BIRD dies. Its routes stay in L's kernel, so L forwards on until A and B move away.
        let killed = try observe(triangle, to: .direct) {
            kill(bird.pid, SIGKILL)
            #expect(bird.wait(timeout: 5) == 128 + SIGKILL)
        }
        print("failover: BIRD killed → traffic rerouted over \(Path.direct.rawValue) in \(killed.summary)")
        #expect(killed.rerouted.map { $0 < Self.deadInterval + Self.slack } == true, "BIRD killed: \(killed.summary)")
        #expect(killed.routeA != nil && killed.routeB != nil, "routes did not move to the direct link: \(killed.summary)")
        // BIRD restarts with an empty database: A and B reach Full with it first (they have nothing
        // to request) and, until BIRD re-advertises, route through it by its pre-restart
        // router-LSA while its kernel routes are gone (RFC 2328 has no remedy; RFC 3623 graceful
        // restart is one). BIRD 2.0.12 skips its own old LSA when it arrives within MinLSArrival of
        // its first origination and asks again after RxmtInterval (5 s), then MinLSInterval (5 s)
        // holds its next router-LSA: recovery takes about 11 s, with a blackhole of about 2 s.
        let restarted = try observe(triangle, to: .throughL) { try lab.spawn(in: nsL, birdCommand) }
        print("failover: BIRD restarted → traffic back through \(Path.throughL.rawValue) in \(restarted.summary)")
        #expect(restarted.rerouted != nil && restarted.routeA != nil && restarted.routeB != nil, "no recovery: \(restarted.summary)")
        #expect(Self.fullNeighbors(triangle.tunA) == 2 && Self.fullNeighbors(triangle.tunB) == 2,
                "after recovery: \((try? Lab.run([Lab.weftBinary, "show", "ospf", triangle.tunA])) ?? "?")")
    }

    /// Runs `event` while the hosts behind A and B ping each other 20 times a second, then
    /// waits (bounded) until `weft show` on both lists the next hop of `path` and the latest
    /// second of replies in both directions came over it (ping flushes every line, so its
    /// output can be read as it runs).
    func observe(_ triangle: Triangle, to path: Path, bound: Double = 30, event: () throws -> Void) throws -> Transition {
        let logA = "\(triangle.base)/ping-a.log", logB = "\(triangle.base)/ping-b.log"
        let pingDeadline = "\(Int(bound) + 10)"
        let pingA = try triangle.lab.spawn(in: triangle.nsA, ["ping", "-D", "-n", "-i", "0.05", "-W", "1", "-w", pingDeadline,
                                                              "-I", "100.64.1.1", "100.64.2.1"], stdout: logA)
        let pingB = try triangle.lab.spawn(in: triangle.nsB, ["ping", "-D", "-n", "-i", "0.05", "-W", "1", "-w", pingDeadline,
                                                              "-I", "100.64.2.1", "100.64.1.1"], stdout: logB)
        usleep(500_000)
        var transition = Transition()
        var lastLinkA = Self.routeLink(triangle.tunA, "100.64.2.0/24")
        let eventTime = Date()
        let since = eventTime.timeIntervalSince1970
        try event()
        /// Whether the replies of the latest second all came over `path`.
        func steady(_ log: String) -> Bool {
            let recent = Self.pingLog(log).replies.filter { $0.time > max(since, Date().timeIntervalSince1970 - 1) }
            return recent.count >= 10 && recent.allSatisfy { $0.ttl == path.ttl }
        }
        let deadline = eventTime.addingTimeInterval(bound)
        while Date() < deadline {
            // The last switch to `path` counts: a route may visit it and leave again (after BIRD restarts).
            let (linkA, linkB) = (Self.routeLink(triangle.tunA, "100.64.2.0/24"), Self.routeLink(triangle.tunB, "100.64.1.0/24"))
            let now = Date().timeIntervalSince(eventTime)
            if linkA != lastLinkA { transition.changesA += 1; lastLinkA = linkA }
            transition.routeA = linkA == path.linkFromA ? transition.routeA ?? now : nil
            transition.routeB = linkB == path.linkFromB ? transition.routeB ?? now : nil
            if transition.routeA != nil, transition.routeB != nil, steady(logA), steady(logB) { break }
            usleep(50_000)
        }
        for ping in [pingA, pingB] {
            kill(ping.pid, SIGINT)
            ping.wait(timeout: 5)
        }
        let a = Self.pingLog(logA), b = Self.pingLog(logB)
        transition.bToA = a.replies.first { $0.sent > since && $0.ttl == path.ttl }.map { $0.time - since }
        transition.aToB = b.replies.first { $0.sent > since && $0.ttl == path.ttl }.map { $0.time - since }
        transition.sent = a.sent + b.sent
        transition.received = a.received + b.received
        return transition
    }

    /// Replies (`ping -D`: receive time, TTL, and the send time of their ping: receive time
    /// less round-trip time) and, once ping has finished, its totals.
    static func pingLog(_ path: String) -> (replies: [(time: Double, ttl: Int, sent: Double)], sent: Int, received: Int) {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var replies: [(time: Double, ttl: Int, sent: Double)] = []
        var sent = 0, received = 0
        for line in text.split(separator: "\n") {
            // "[1732262400.123456] 64 bytes from 100.64.2.1: icmp_seq=7 ttl=63 time=0.71 ms"
            if line.hasPrefix("["), line.contains("bytes from"), let close = line.firstIndex(of: "]"),
               let time = Double(line[line.index(after: line.startIndex) ..< close]),
               let ttlField = line.split(separator: " ").first(where: { $0.hasPrefix("ttl=") }),
               let ttl = Int(ttlField.dropFirst(4)),
               let rttField = line.split(separator: " ").first(where: { $0.hasPrefix("time=") }),
               let rtt = Double(rttField.dropFirst(5)) {
                replies.append((time, ttl, time - rtt / 1000))
            } else if line.contains("packets transmitted") {
                // "40 packets transmitted, 38 received, 5% packet loss, time 1950ms"
                let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                sent = fields.first.flatMap { Int($0.split(separator: " ")[0]) } ?? 0
                received = fields.dropFirst().first.flatMap { Int($0.split(separator: " ")[0]) } ?? 0
            }
        }
        return (replies, sent, received)
    }

    /// The link a node forwards `prefix` over, from `weft show --json` (a route reads
    /// "100.64.2.0/24 [ospf/30] via 100.64.100.6 (to-linux)"); nil without a route.
    static func routeLink(_ tun: String, _ prefix: String) -> String? {
        guard let output = try? Lab.run([Lab.weftBinary, "show", tun, "--json"], timeout: 5),
              let json = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]],
              let route = (json.first?["routes"] as? [String])?.first(where: { $0.hasPrefix(prefix + " ") }),
              let open = route.lastIndex(of: "("), let close = route.lastIndex(of: ")"), open < close else { return nil }
        return String(route[route.index(after: open) ..< close])
    }

    /// How many of a Weft node's OSPF neighbors are Full (`weft show ospf`).
    static func fullNeighbors(_ tun: String) -> Int {
        let view = (try? Lab.run([Lab.weftBinary, "show", "ospf", tun], timeout: 5)) ?? ""
        let neighbors = view.components(separatedBy: "\ninterfaces:").first ?? ""
        return neighbors.split(separator: "\n").filter { $0.contains(" Full ") }.count
    }

    /// How many of BIRD's OSPF neighbors are Full.
    static func birdFullNeighbors(_ triangle: Triangle) -> Int {
        let view = (try? triangle.lab.exec(in: triangle.nsL, ["birdc", "-s", "\(triangle.base)/bird.ctl", "show", "ospf", "neighbors"],
                                          timeout: 5)) ?? ""
        return view.split(separator: "\n").filter { $0.contains("Full") }.count
    }
}
