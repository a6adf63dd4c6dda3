import Foundation
import Testing

/// Weft's OSPF on a node's LAN, a real broadcast network (RFC 2328 §9.4), with two BIRD 2
/// routers on the same Ethernet segment (a kernel bridge in a namespace of its own):
///
///                       bridge (198.18.50.0/24)
///        ┌───────────────────┼───────────────────┐
///   bird-dr .2 (prio 100)  weft .1 (prio 50)   bird-other .3 (prio 1)
///   lo 100.64.31.1/24        │ overlay link      lo 100.64.32.1/24
///                          remote (Weft, lo 100.64.2.1/24)
///
/// Weft becomes Backup to BIRD's DR, both agree on DR and BDR, the DR's network-LSA is in
/// every database, routes go both ways (into the kernels, over the LAN and across the overlay),
/// and when the DR dies Weft takes over within RouterDeadInterval and originates the network-LSA.
@Suite(.serialized, .enabled(if: Lab.isRoot, Lab.skipReason),
       .enabled(if: Lab.which("bird") && Lab.which("wg"), "bird2 and wireguard-tools are needed: run scripts/setup"),
       .enabled(if: BridgeSupport.available, "this kernel cannot create a bridge in a network namespace"))
struct BroadcastLANTests {
    static let lanPrefix = "198.18.50"
    static let weftLAN = "198.18.50.1", drLAN = "198.18.50.2", otherLAN = "198.18.50.3"
    static let weftID = "100.64.255.1", remoteID = "100.64.255.2", drID = "100.64.255.31", otherID = "100.64.255.32"
    static let hello = 1, dead = 4

    @Test("Weft on a LAN with two BIRD routers: DR/BDR agree, network-LSA, routes both ways, DR failover")
    func broadcastLANWithBIRD() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let base = NSTemporaryDirectory() + "weft-lan-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }

        // The segment: a bridge in a namespace of its own, one port per router.
        let nsSwitch = try lab.makeNamespace()
        try lab.exec(in: nsSwitch, ["ip", "link", "add", "br0", "type", "bridge", "forward_delay", "0"])
        try lab.exec(in: nsSwitch, ["ip", "link", "set", "br0", "up"])
        let nsWeft = try lab.makeNamespace(), nsDR = try lab.makeNamespace(), nsOther = try lab.makeNamespace()
        let nsRemote = try lab.makeNamespace()
        try plug(lab, nsWeft, "lan0", "\(Self.weftLAN)/24", into: nsSwitch)
        try plug(lab, nsDR, "eth0", "\(Self.drLAN)/24", into: nsSwitch)
        try plug(lab, nsOther, "eth0", "\(Self.otherLAN)/24", into: nsSwitch)
        try lab.exec(in: nsDR, ["ip", "addr", "add", "100.64.31.1/24", "dev", "lo"])
        try lab.exec(in: nsOther, ["ip", "addr", "add", "100.64.32.1/24", "dev", "lo"])
        try lab.exec(in: nsRemote, ["ip", "addr", "add", "100.64.2.1/24", "dev", "lo"])
        // The node forwards between its LAN and the overlay.
        try lab.exec(in: nsWeft, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        // The remote Weft node's underlay.
        try lab.link(nsWeft, "198.18.51.1/24", nsRemote, "198.18.51.2/24", names: ("up0", "up0"))

        // BIRD's DR first, alone: it elects itself after its wait timer, so the roles are set.
        let dr = try startBIRD(lab, in: nsDR, name: "dr", routerID: Self.drID, priority: 100, base: base)
        let drElected = Lab.waitUntil(timeout: 15, every: 0.25) { self.birdInterface(dr)?.state == "DR" }
        try #require(drElected, "BIRD never became DR alone: \(birdc(dr, "show", "ospf", "interface"))")

        // The two Weft nodes: `weft` on the LAN (priority 50) with a link to `remote`.
        let weftKey = try Self.key(), remoteKey = try Self.key()
        let weftTun = Lab.uniqueInterfaceName("lw"), remoteTun = Lab.uniqueInterfaceName("lr")
        let timers = "helloInterval: \(Self.hello), deadInterval: \(Self.dead)"
        let weft = try startWeft(lab, in: nsWeft, tun: weftTun, base: base, yaml: """
            node: {name: weft-lan, privKey: "\(weftKey.priv)", tunName: \(weftTun), nodeVPNIP: [\(Self.weftID)/32],
                   lanInterfaces: [{name: lan0, ospf: {type: broadcast, priority: 50, \(timers)}}]}
            links:
              - {name: to-remote, peerPubKey: "\(remoteKey.pub)", peerEndpoint: "198.18.51.2:51820", persistentKeepalive: 1,
                 vni: 201, linkVPNIP: 100.64.100.1/30, peerLinkVPNIP: 100.64.100.2, ospf: {\(timers)}}
            """)
        let remote = try startWeft(lab, in: nsRemote, tun: remoteTun, base: base, yaml: """
            node: {name: remote, privKey: "\(remoteKey.priv)", tunName: \(remoteTun), nodeVPNIP: [\(Self.remoteID)/32],
                   lanInterfaces: [lo]}
            links:
              - {name: to-lan, peerPubKey: "\(weftKey.pub)", vni: 201, linkVPNIP: 100.64.100.2/30,
                 peerLinkVPNIP: 100.64.100.1, ospf: {\(timers)}}
            """)
        defer {
            for node in [weft, remote] {
                let log = (try? String(contentsOfFile: node.log, encoding: .utf8)) ?? ""
                print("--- \(node.tun) log ---\n\(log.suffix(4000))")
            }
        }

        // Weft reaches Full with the DR; it becomes Backup (no BDR yet, so BackupSeen ends its
        // Waiting state at once, §9.2).
        let full = Lab.waitUntil(timeout: 20, every: 0.1) { self.weftNeighborState(weft, Self.drID) == "Full" }
        let timeToFull = Date().timeIntervalSince(weft.started)
        print("BroadcastLAN: Weft Full with BIRD's DR \(String(format: "%.2f", timeToFull)) s after start")
        try #require(full, "Weft never reached Full with BIRD on the LAN: \(weftShow(weft))")

        // Then the third router, priority 1: DROther, adjacent to DR and BDR only (§10.4).
        let other = try startBIRD(lab, in: nsOther, name: "other", routerID: Self.otherID, priority: 1, base: base)
        let settled = Lab.waitUntil(timeout: 20, every: 0.25) {
            self.weftNeighborState(weft, Self.otherID) == "Full"
                && self.birdc(other, "show", "ospf", "neighbors").components(separatedBy: "Full/").count == 3
        }
        #expect(settled, "BIRD (DROther) not Full with DR and BDR: \(birdc(other, "show", "ospf", "neighbors")) \(weftShow(weft))")

        // Everyone agrees: BIRD's DR is DR, Weft is BDR.
        let weftLAN = weftInterface(weft)
        #expect(weftLAN?["state"] as? String == "Backup", "\(weftShow(weft))")
        #expect(weftLAN?["designatedRouter"] as? String == Self.drLAN && weftLAN?["backupDesignatedRouter"] as? String == Self.weftLAN,
                "\(weftShow(weft))")
        for (router, state) in [(dr, "DR"), (other, "DROther")] {
            let view = birdInterface(router)
            #expect(view?.state == state && view?.dr == Self.drLAN && view?.bdr == Self.weftLAN,
                    "BIRD \(router.name) disagrees: \(birdc(router, "show", "ospf", "interface"))")
        }
        #expect(birdNeighbors(dr).contains { $0.routerID == Self.weftID && $0.state == "Full/BDR" },
                "BIRD's DR does not see Weft as Full/BDR: \(birdc(dr, "show", "ospf", "neighbors"))")

        // The DR's network-LSA, listing all three routers, is in every database.
        #expect(Lab.waitUntil(timeout: 10, every: 0.25) {
            self.weftHasNetworkLSA(weft, id: Self.drLAN, from: Self.drID)
                && [dr, other].allSatisfy { self.birdHasNetworkLSA($0, id: Self.drLAN, from: Self.drID) }
        }, "network-LSA \(Self.drLAN) of \(Self.drID) missing: \(weftShow(weft)) \(birdc(other, "show", "ospf", "lsadb"))")

        // Routes: Weft's kernel reaches BIRD's prefixes via the LAN neighbors, the remote node
        // via the overlay; BIRD learns Weft's and the remote node's prefixes via Weft.
        let routed = Lab.waitUntil(timeout: 30, every: 0.5) {
            self.route(lab, nsWeft, "100.64.31.0/24").contains("via \(Self.drLAN) dev lan0")
                && self.route(lab, nsWeft, "100.64.32.0/24").contains("via \(Self.otherLAN) dev lan0")
                && self.route(lab, nsRemote, "100.64.31.0/24").contains("dev \(remoteTun)")
                && [nsDR, nsOther].allSatisfy { ns in
                    self.route(lab, ns, "\(Self.weftID)").contains("via \(Self.weftLAN)")
                        && self.route(lab, ns, "100.64.2.0/24").contains("via \(Self.weftLAN)")
                }
        }
        print("BroadcastLAN: routes in all kernels \(String(format: "%.1f", Date().timeIntervalSince(weft.started))) s after start")
        #expect(routed, "routes missing: weft \(route(lab, nsWeft, "")) remote \(route(lab, nsRemote, "")) bird \(route(lab, nsDR, ""))")

        // Traffic: BIRD to Weft's own address; the remote node to BIRD's LAN across the overlay,
        // Weft's TUN and kernel, and the LAN.
        #expect(ping(lab, nsDR, from: "100.64.31.1", to: Self.weftID), "BIRD cannot reach Weft over the LAN")
        #expect(ping(lab, nsRemote, from: "100.64.2.1", to: "100.64.31.1"), "the overlay cannot reach BIRD's prefix through Weft")

        // tshark: Weft's packets on the LAN are proper OSPF (Hellos to AllSPFRouters), TTL 1,
        // precedence internetwork control (DSCP CS6), nothing malformed.
        if Lab.which("tshark") {
            let pcap = "\(base)/lan.pcap"
            let capture = try lab.spawn(in: nsOther, ["tshark", "-q", "-i", "eth0", "-f", "ip proto 89 and src host \(Self.weftLAN)",
                                                      "-a", "duration:3", "-w", pcap])
            Lab.waitUntil(timeout: 15) { !capture.isRunning }
            let rows = try Lab.run(["tshark", "-r", pcap, "-Y", "ospf", "-T", "fields", "-e", "ospf.msg", "-e", "ip.dst",
                                    "-e", "ip.ttl", "-e", "ip.dsfield.dscp"]).split(separator: "\n").map { $0.split(separator: "\t") }
            #expect(rows.contains { $0.count == 4 && $0[0] == "1" && $0[1] == "224.0.0.5" }, "no Hello from Weft to AllSPFRouters: \(rows)")
            #expect(rows.allSatisfy { $0.count == 4 && $0[2] == "1" && $0[3] == "48" }, "OSPF packets need TTL 1 and DSCP CS6: \(rows)")
            let bad = try Lab.run(["tshark", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields",
                                   "-e", "frame.number"])
            #expect(bad.isEmpty, "tshark flagged frames \(bad)")
        }

        // The DR dies without a word: Weft (BDR) takes over once RouterDeadInterval has passed
        // (§9.4, §10.3 InactivityTimer), BIRD's DROther becomes BDR, and Weft originates the
        // network-LSA now.
        let drPID = try #require(pid_t(String(contentsOfFile: dr.pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let killed = Date()
        kill(drPID, SIGKILL)
        let tookOver = Lab.waitUntil(timeout: Double(Self.dead) * 4, every: 0.1) { self.weftInterface(weft)?["state"] as? String == "DR" }
        let takeover = Date().timeIntervalSince(killed)
        print("BroadcastLAN: Weft DR \(String(format: "%.2f", takeover)) s after BIRD's DR was killed (dead interval \(Self.dead) s)")
        #expect(tookOver, "Weft did not become DR: \(weftShow(weft))")
        #expect(takeover <= Double(Self.dead) + 2, "takeover took longer than RouterDeadInterval")
        let reelected = Lab.waitUntil(timeout: 15, every: 0.25) {
            let view = self.birdInterface(other)
            return view?.state == "Backup" && view?.dr == Self.weftLAN && view?.bdr == Self.otherLAN
                && self.weftInterface(weft)?["backupDesignatedRouter"] as? String == Self.otherLAN
        }
        #expect(reelected, "no agreement after failover: \(birdc(other, "show", "ospf", "interface")) \(weftShow(weft))")
        #expect(Lab.waitUntil(timeout: 10, every: 0.25) {
            self.weftHasNetworkLSA(weft, id: Self.weftLAN, from: Self.weftID)
                && self.birdHasNetworkLSA(other, id: Self.weftLAN, from: Self.weftID)
        }, "Weft's network-LSA missing: \(weftShow(weft)) \(birdc(other, "show", "ospf", "lsadb"))")
        // The dead router's prefix leaves Weft's kernel; the rest still works.
        #expect(Lab.waitUntil(timeout: 15, every: 0.25) { self.route(lab, nsWeft, "100.64.31.0/24").isEmpty },
                "the dead DR's prefix is still routed: \(route(lab, nsWeft, ""))")
        // BIRD recomputes its routes on its own schedule after the new network-LSA (its SPF and
        // kernel sync lag Weft's by a few seconds under load): wait for it, bounded.
        #expect(Lab.waitUntil(timeout: 20, every: 0.5) { self.ping(lab, nsOther, from: "100.64.32.1", to: "100.64.2.1") },
                "BIRD cannot reach the remote node after failover: \(birdc(other, "show", "route"))")

        // The LAN device goes down and up again: OSPF follows the kernel link (§9.3
        // InterfaceDown, InterfaceUp), and the routes over the LAN come back into the kernel.
        try lab.exec(in: nsWeft, ["ip", "link", "set", "lan0", "down"])
        #expect(Lab.waitUntil(timeout: 5, every: 0.1) { self.weftInterface(weft)?["state"] as? String == "Down" },
                "Weft's LAN interface did not go Down: \(weftShow(weft))")
        try lab.exec(in: nsWeft, ["ip", "link", "set", "lan0", "up"])
        let back = Lab.waitUntil(timeout: 30, every: 0.25) {
            self.weftNeighborState(weft, Self.otherID) == "Full"
                && self.route(lab, nsWeft, "100.64.32.0/24").contains("via \(Self.otherLAN) dev lan0")
        }
        #expect(back, "no adjacency or route after the LAN came back: \(weftShow(weft)) \(route(lab, nsWeft, ""))")
    }

    // MARK: Lab pieces

    private struct BIRD {
        let name: String
        let control: String
        let pidFile: String
        let namespace: String
    }

    private struct Weft {
        let tun: String
        let log: String
        let started: Date
    }

    private static func key() throws -> (priv: String, pub: String) {
        let priv = try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
        return (priv, try Lab.run(["wg", "pubkey"], input: priv).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Connects `namespace` to the bridge in `switchNamespace` with a veth pair; the end in
    /// `namespace` is called `name` and gets `address`.
    private func plug(_ lab: Lab, _ namespace: String, _ name: String, _ address: String, into switchNamespace: String) throws {
        let inside = Lab.uniqueInterfaceName("lp"), port = Lab.uniqueInterfaceName("lq")
        try Lab.run(["ip", "link", "add", inside, "netns", namespace, "type", "veth", "peer", "name", port, "netns", switchNamespace])
        try lab.exec(in: switchNamespace, ["ip", "link", "set", port, "master", "br0", "up"])
        try lab.exec(in: namespace, ["ip", "link", "set", inside, "name", name])
        try lab.exec(in: namespace, ["ip", "addr", "add", address, "dev", name])
        try lab.exec(in: namespace, ["ip", "link", "set", name, "up"])
    }

    private func startBIRD(_ lab: Lab, in namespace: String, name: String, routerID: String, priority: Int,
                           base: String) throws -> BIRD {
        let bird = BIRD(name: name, control: "\(base)/\(name).ctl", pidFile: "\(base)/\(name).pid", namespace: namespace)
        try """
            router id \(routerID);
            protocol device { scan time 1; }
            protocol kernel { ipv4 { export all; }; }
            protocol ospf v2 {
              ipv4 { import all; export none; };
              area 0 {
                interface "eth0" { type broadcast; priority \(priority); hello \(Self.hello); dead \(Self.dead); };
                interface "lo" { stub yes; };
              };
            }
            """.write(toFile: "\(base)/\(name).conf", atomically: true, encoding: .utf8)
        try lab.spawn(in: namespace, ["bird", "-f", "-c", "\(base)/\(name).conf", "-s", bird.control, "-P", bird.pidFile])
        try #require(Lab.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: bird.control) }, "BIRD \(name) did not start")
        return bird
    }

    /// `weft up --foreground --config` in `namespace`, standard error to a log file; ready when
    /// its UAPI socket exists.
    private func startWeft(_ lab: Lab, in namespace: String, tun: String, base: String, yaml: String) throws -> Weft {
        let config = "\(base)/\(tun).yaml", log = "\(base)/\(tun).log"
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let started = Date()
        let child = try lab.spawn(in: namespace, ["sh", "-c", "exec \"$0\" up --foreground --config \"$1\" 2>\"$2\"",
                                                  Lab.weftBinary, config, log])
        let ready = Lab.waitUntil(timeout: 15) { FileManager.default.fileExists(atPath: "/var/run/wireguard/\(tun).sock") }
        try #require(ready && child.isRunning, "weft up --config failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        return Weft(tun: tun, log: log, started: started)
    }

    // MARK: Views

    private func birdc(_ bird: BIRD, _ arguments: String...) -> String {
        (try? Lab.run(["ip", "netns", "exec", bird.namespace, "birdc", "-s", bird.control] + arguments)) ?? ""
    }

    /// `show ospf interface "eth0"`: its state and the DR and BDR addresses.
    private func birdInterface(_ bird: BIRD) -> (state: String, dr: String, bdr: String)? {
        var fields: [String: String] = [:]
        for line in birdc(bird, "show", "ospf", "interface", "\"eth0\"").split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let state = fields["State"], let dr = fields["Designated router (IP)"],
              let bdr = fields["Backup designated router (IP)"] else { return nil }
        return (state, dr, bdr)
    }

    /// `show ospf neighbors`: Router ID and state ("Full/DR") per neighbor.
    private func birdNeighbors(_ bird: BIRD) -> [(routerID: String, state: String)] {
        birdc(bird, "show", "ospf", "neighbors").split(separator: "\n").compactMap { line in
            let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard columns.count >= 3, columns[2].contains("/") else { return nil }
            return (String(columns[0]), String(columns[2]))
        }
    }

    /// Whether `show ospf lsadb` lists a network-LSA (type 0002) with this ID and advertising router.
    private func birdHasNetworkLSA(_ bird: BIRD, id: String, from router: String) -> Bool {
        birdc(bird, "show", "ospf", "lsadb").split(separator: "\n").contains { line in
            let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return columns.count >= 3 && columns[0] == "0002" && columns[1] == id && columns[2] == router
        }
    }

    private func weftShow(_ weft: Weft) -> String {
        (try? Lab.run([Lab.weftBinary, "show", "ospf", weft.tun])) ?? "(weft show failed)"
    }

    /// `weft show ospf IF --json`: the node's one OSPF snapshot.
    private func weftSnapshot(_ weft: Weft) -> [String: Any]? {
        guard let text = try? Lab.run([Lab.weftBinary, "show", "ospf", weft.tun, "--json"]),
              let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else { return nil }
        return json.first
    }

    private func weftInterface(_ weft: Weft) -> [String: Any]? {
        (weftSnapshot(weft)?["interfaces"] as? [[String: Any]])?.first { $0["name"] as? String == "lan0" }
    }

    /// The state of Weft's neighbor `routerID` as RFC 2328 names it, nil when there is none.
    private func weftNeighborState(_ weft: Weft, _ routerID: String) -> String? {
        let neighbor = (weftSnapshot(weft)?["neighbors"] as? [[String: Any]])?.first { $0["routerID"] as? String == routerID }
        // JSON carries OSPFNeighborState's raw value; Full is the last of the eight states.
        return (neighbor?["state"] as? Int).map { $0 == 7 ? "Full" : "state \($0)" }
    }

    private func weftHasNetworkLSA(_ weft: Weft, id: String, from router: String) -> Bool {
        (weftSnapshot(weft)?["database"] as? [[String: Any]])?.contains {
            $0["type"] as? Int == 2 && $0["linkStateID"] as? String == id && $0["advertisingRouter"] as? String == router
        } ?? false
    }

    /// `ip route show PREFIX` in a namespace (all routes for an empty prefix).
    private func route(_ lab: Lab, _ namespace: String, _ prefix: String) -> String {
        ((try? lab.exec(in: namespace, ["ip", "route", "show"] + (prefix.isEmpty ? [] : [prefix]))) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func ping(_ lab: Lab, _ namespace: String, from source: String, to destination: String) -> Bool {
        let result = try? Lab.runCapturing(["ip", "netns", "exec", namespace, "ping", "-c", "3", "-i", "0.2", "-W", "2",
                                            "-I", source, destination])
        return result?.status == 0
    }
}

/// Whether `ip link add type bridge` works inside a namespace (checked once, in one of its own).
private enum BridgeSupport {
    static let available: Bool = {
        guard Lab.isRoot else { return false }
        let lab = Lab()
        defer { lab.cleanUp() }
        guard let namespace = try? lab.makeNamespace() else { return false }
        return (try? lab.exec(in: namespace, ["ip", "link", "add", "br0", "type", "bridge"])) != nil
    }()
}
