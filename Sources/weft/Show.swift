import ArgumentParser
import Foundation
import WeftControlShim
import WeftDataPlane
import WeftOSPF

/// `weft show [IFNAME]`: packet counters of running interfaces — per peer traffic and handshakes,
/// per interface totals and drops by reason. `--json` for machines, `--watch` for rates.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show packet counters of running Weft interfaces (all, or IFNAME).")

    @Argument(help: "[ospf] [IFNAME]: `ospf` shows the OSPF view (neighbors, interfaces, LSDB, routes); IFNAME one interface (default: all).")
    var words: [String] = []

    @Flag(help: "Print JSON (one object per interface, in an array).")
    var json = false

    @Flag(help: "Refresh every --interval seconds with rates per second.")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 1

    @Option(help: "Stop after this many refreshes with --watch (default: until interrupted).")
    var count: Int?

    func validate() throws {
        let rest = words.first == "ospf" ? Array(words.dropFirst()) : words
        guard rest.count <= 1 else { throw ValidationError("usage: weft show [ospf] [IFNAME]") }
    }

    func run() throws {
        let ospfView = words.first == "ospf"
        let interfaceName = (ospfView ? Array(words.dropFirst()) : words).first
        let names = interfaceName.map { [$0] } ?? UAPIClient.interfaces()
        if names.isEmpty {
            if !json { print("no running Weft interfaces") } else { print("[]") }
            return
        }
        var previous: [String: StatusReport] = [:]
        var round = 0
        repeat {
            let reports = try names.map { try UAPIClient.status(interface: $0) }
            if ospfView {
                let views = reports.compactMap { report in report.ospf.map { (report.interface, $0) } }
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    print(String(decoding: try encoder.encode(views.map(\.1)), as: UTF8.self))
                } else if views.isEmpty {
                    print("no running interface runs OSPF")
                } else {
                    for (name, snapshot) in views { print(OSPFTable.render(name, snapshot)) }
                }
            } else if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            } else {
                if watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                for report in reports {
                    print(StatusTable.render(report, previous: watch ? previous[report.interface] : nil))
                }
            }
            for report in reports { previous[report.interface] = report }
            round += 1
            if watch, count.map({ round < $0 }) ?? true {
                Thread.sleep(forTimeInterval: max(0.1, interval))
            } else {
                break
            }
        } while true
    }
}

/// The human-readable table, modelled on `wg show` with Weft's counters added.
enum StatusTable {
    static func render(_ report: StatusReport, previous: StatusReport?) -> String {
        var lines: [String] = []
        let elapsed = previous.map { report.takenAt - $0.takenAt } ?? 0
        func rate(_ now: UInt64, _ before: UInt64?) -> String {
            guard let before, elapsed > 0 else { return "" }
            return String(format: " (%.0f/s)", Double(now &- before) / elapsed)
        }
        func byteRate(_ now: UInt64, _ before: UInt64?) -> String {
            guard let before, elapsed > 0 else { return "" }
            return " (\(bytes(UInt64(Double(now &- before) / elapsed)))/s)"
        }
        lines.append("interface: \(report.interface)")
        if let key = report.publicKey { lines.append("  public key: \(key)") }
        lines.append("  listening port: \(report.listenPort)")
        if report.fwmark != 0 { lines.append("  fwmark: 0x\(String(report.fwmark, radix: 16))") }
        lines.append("  backend: \(report.backend)")
        let c = report.counters, p = previous?.counters
        lines.append("  from tun: \(c.rxPackets) packets\(rate(c.rxPackets, p?.rxPackets)), \(bytes(c.rxBytes))\(byteRate(c.rxBytes, p?.rxBytes))")
        lines.append("  to tun:   \(c.txPackets) packets\(rate(c.txPackets, p?.txPackets)), \(bytes(c.txBytes))\(byteRate(c.txBytes, p?.txBytes))")
        if c.drops.isEmpty {
            lines.append("  drops: none")
        } else {
            lines.append("  drops:")
            let width = c.drops.keys.map(\.count).max() ?? 0
            for (reason, value) in c.drops.sorted(by: { $0.key < $1.key }) {
                lines.append("    \(reason.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)\(rate(value, p?.drops[reason]))")
            }
        }
        for link in report.links ?? [] {
            let before = previous?.links?.first { $0.id == link.id }
            lines.append("")
            lines.append("link: \(link.name) (VNI \(link.vni))")
            lines.append("  MACs: local \(link.localMAC), peer \(link.peerMAC ?? "(not yet learned)")")
            lines.append("  frames: \(link.receivedFrames) received\(rate(link.receivedFrames, before?.receivedFrames)), \(link.sentFrames) sent\(rate(link.sentFrames, before?.sentFrames))")
            lines.append("  forwarded to another link: \(link.forwarded)\(rate(link.forwarded, before?.forwarded)), delivered locally: \(link.delivered)")
            if !link.drops.isEmpty {
                lines.append("  drops: " + link.drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
        }
        if let routes = report.routes, !routes.isEmpty {
            lines.append("")
            lines.append("routes:")
            for route in routes { lines.append("  \(route)") }
        }
        for peer in report.peers {
            let before = previous?.peers.first { $0.publicKey == peer.publicKey }?.counters
            let pc = peer.counters
            lines.append("")
            lines.append("peer: \(peer.publicKey)")
            if let endpoint = peer.endpoint { lines.append("  endpoint: \(endpoint)") }
            lines.append("  allowed ips: \(peer.allowedIPs.isEmpty ? "(none)" : peer.allowedIPs.joined(separator: ", "))")
            if let latest = peer.latestHandshake {
                lines.append("  latest handshake: \(ago(report.takenAt - latest))")
            }
            lines.append("  transfer: \(bytes(pc.rxBytes)) received\(byteRate(pc.rxBytes, before?.rxBytes)), \(bytes(pc.txBytes)) sent\(byteRate(pc.txBytes, before?.txBytes))")
            lines.append("  packets: \(pc.rxPackets) received\(rate(pc.rxPackets, before?.rxPackets)), \(pc.txPackets) sent\(rate(pc.txPackets, before?.txPackets))")
            lines.append("  handshakes: \(pc.handshakesInitiated) initiated, \(pc.handshakesCompleted) completed, \(pc.handshakesFailed) failed")
            if let age = peer.keypairAgeSeconds {
                var text = "  keypair age: current \(ago(age).replacingOccurrences(of: " ago", with: ""))"
                if let previous = peer.previousKeypairAgeSeconds {
                    text += ", previous \(ago(previous).replacingOccurrences(of: " ago", with: ""))"
                }
                lines.append(text)
            }
            if peer.persistentKeepalive > 0 { lines.append("  persistent keepalive: every \(peer.persistentKeepalive) seconds") }
        }
        return lines.joined(separator: "\n")
    }

    static func bytes(_ value: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var amount = Double(value), unit = 0
        while amount >= 1024 && unit < units.count - 1 { amount /= 1024; unit += 1 }
        return unit == 0 ? "\(value) B" : String(format: "%.2f %@", amount, units[unit])
    }

    static func ago(_ seconds: Double) -> String {
        let total = max(0, Int(seconds))
        if total < 60 { return "\(total) second\(total == 1 ? "" : "s") ago" }
        if total < 3600 { return "\(total / 60) minute\(total / 60 == 1 ? "" : "s"), \(total % 60) seconds ago" }
        return "\(total / 3600) hours, \(total % 3600 / 60) minutes ago"
    }
}

/// `weft show ospf`: in the spirit of `birdc show ospf neighbors|interface|state`.
enum OSPFTable {
    static func render(_ interface: String, _ ospf: OSPFSnapshot) -> String {
        var lines = ["ospf on \(interface): router ID \(ospf.routerID), area \(ospf.areaID)", "", "neighbors:"]
        if ospf.neighbors.isEmpty { lines.append("  (none)") }
        for neighbor in ospf.neighbors {
            let interfaceName = ospf.interfaces.first { $0.id == neighbor.interface }?.name ?? "\(neighbor.interface)"
            lines.append("  \(neighbor.routerID.description.padding(toLength: 16, withPad: " ", startingAt: 0))"
                + "\(neighbor.state.description.padding(toLength: 10, withPad: " ", startingAt: 0))"
                + "\(interfaceName.padding(toLength: 14, withPad: " ", startingAt: 0))\(neighbor.address)"
                + (neighbor.deadInSeconds.map { "  dead in \($0) s" } ?? ""))
        }
        lines += ["", "interfaces:"]
        for face in ospf.interfaces {
            lines.append("  \(face.name) (\(face.type.rawValue)) \(face.prefix): \(face.state.rawValue), cost \(face.cost), "
                + "hello \(face.helloInterval) s, dead \(face.routerDeadInterval) s, MTU \(face.mtu), auth \(face.authentication), "
                + "\(face.adjacencyCount)/\(face.neighborCount) adjacent"
                + (face.type == .broadcast ? ", priority \(face.priority), DR \(face.designatedRouter), BDR \(face.backupDesignatedRouter)" : ""))
        }
        lines += ["", "database: \(ospf.database.count) LSAs"]
        for lsa in ospf.database {
            lines.append("  \(lsa.type.description.padding(toLength: 10, withPad: " ", startingAt: 0))"
                + "\(lsa.linkStateID.description.padding(toLength: 16, withPad: " ", startingAt: 0))"
                + "adv \(lsa.advertisingRouter.description.padding(toLength: 16, withPad: " ", startingAt: 0))"
                + "seq \(String(lsa.sequenceNumber, radix: 16))  age \(lsa.age)")
        }
        lines += ["", "routes:"]
        for route in ospf.routes {
            let hops = route.nextHops.map { hop in
                let name = ospf.interfaces.first { $0.id == hop.interface }?.name ?? "\(hop.interface)"
                return hop.gateway.map { "via \($0) (\(name))" } ?? name
            }
            lines.append("  \(route.prefix) cost \(route.cost): \(hops.isEmpty ? "local" : hops.joined(separator: ", "))")
        }
        if !ospf.drops.isEmpty {
            lines += ["", "dropped packets: " + ospf.drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")]
        }
        return lines.joined(separator: "\n")
    }
}
