import Foundation
import Testing

/// Which program runs one end of a tunnel.
enum Implementation: String, CustomStringConvertible, Sendable {
    case weft
    case wireguardGo = "wireguard-go"
    var description: String { rawValue }
}

/// Two network namespaces joined by a veth pair (underlay 198.18.<n>.1 and .2), each running a
/// WireGuard implementation configured only with `wg`, with overlay addresses 100.64.<n>.1/.2 and
/// fd00::<n>:1/2 on the tunnel interfaces.
final class WireGuardPair {
    struct Side {
        let namespace: String
        let interface: String
        let implementation: Implementation
        let privateKeyFile: String
        let publicKey: String
        let underlay: String
        let overlay4: String
        let overlay6: String
        let port: Int
        var process: Child?
    }

    let lab: Lab
    let subnet: Int
    var a: Side
    var b: Side

    /// Weft's I/O backend for Weft sides: io_uring where available, or plain batched syscalls.
    let backend: String
    /// More `weft up` options for Weft sides (offloads, crypto workers).
    let weftOptions: [String]

    init(lab: Lab, _ implementationA: Implementation, _ implementationB: Implementation,
         keepalive: Int? = nil, backend: String = "automatic", weftOptions: [String] = []) throws {
        self.backend = backend
        self.weftOptions = weftOptions
        self.lab = lab
        subnet = Int(getpid() % 200) + 1
        let nsA = try lab.makeNamespace(), nsB = try lab.makeNamespace()
        try lab.link(nsA, "198.18.\(subnet).1/24", nsB, "198.18.\(subnet).2/24")
        a = try Self.makeSide(lab, nsA, implementationA, underlay: "198.18.\(subnet).1", host: 1, subnet: subnet,
                              port: 51820, backend: backend, weftOptions: weftOptions)
        b = try Self.makeSide(lab, nsB, implementationB, underlay: "198.18.\(subnet).2", host: 2, subnet: subnet,
                              port: 51821, backend: backend, weftOptions: weftOptions)
        try configure(a, peer: b, keepalive: keepalive)
        try configure(b, peer: a, keepalive: nil)
        for side in [a, b] {
            try lab.exec(in: side.namespace, ["ip", "addr", "add", "\(side.overlay4)/24", "dev", side.interface])
            try lab.exec(in: side.namespace, ["ip", "addr", "add", "\(side.overlay6)/64", "dev", side.interface, "nodad"])
            try lab.exec(in: side.namespace, ["ip", "link", "set", side.interface, "up"])
        }
    }

    private static func makeSide(_ lab: Lab, _ namespace: String, _ implementation: Implementation,
                                 underlay: String, host: Int, subnet: Int, port: Int, backend: String,
                                 weftOptions: [String]) throws -> Side {
        let interface = Lab.uniqueInterfaceName(implementation == .weft ? "wft" : "wgo")
        let keyFile = NSTemporaryDirectory() + "\(interface).key"
        let privateKey = try Lab.run(["wg", "genkey"])
        try privateKey.write(toFile: keyFile, atomically: true, encoding: .utf8)
        let publicKey = try Lab.run(["wg", "pubkey"], input: privateKey).trimmingCharacters(in: .whitespacesAndNewlines)
        var side = Side(namespace: namespace, interface: interface, implementation: implementation,
                        privateKeyFile: keyFile, publicKey: publicKey, underlay: underlay,
                        overlay4: "100.64.\(subnet).\(host)", overlay6: "fd00::\(subnet):\(host)", port: port, process: nil)
        side.process = try start(lab, side, backend: backend, weftOptions: weftOptions)
        return side
    }

    /// Starts the implementation in the foreground (so we own its PID) and waits for its socket.
    static func start(_ lab: Lab, _ side: Side, backend: String = "automatic", weftOptions: [String] = []) throws -> Child {
        let process: Child
        switch side.implementation {
        case .weft:
            process = try lab.spawn(in: side.namespace,
                                    [Lab.weftBinary, "up", "--foreground", "--backend", backend] + weftOptions + [side.interface])
        case .wireguardGo:
            process = try lab.spawn(in: side.namespace, ["wireguard-go", side.interface],
                                    environment: ["WG_PROCESS_FOREGROUND": "1"])
        }
        let socket = "/var/run/wireguard/\(side.interface).sock"
        guard Lab.waitUntil(timeout: 10, { FileManager.default.fileExists(atPath: socket) }) else {
            throw Lab.CommandFailed(arguments: ["\(side.implementation) \(side.interface)"], status: -1,
                                    output: "no UAPI socket after 10 s")
        }
        return process
    }

    func configure(_ side: Side, peer: Side, keepalive: Int?) throws {
        var arguments = ["wg", "set", side.interface, "private-key", side.privateKeyFile,
                         "listen-port", "\(side.port)", "peer", peer.publicKey,
                         "endpoint", "\(peer.underlay):\(peer.port)",
                         "allowed-ips", "\(peer.overlay4)/32,\(peer.overlay6)/128"]
        if let keepalive { arguments += ["persistent-keepalive", "\(keepalive)"] }
        try lab.exec(in: side.namespace, arguments)
    }

    /// `ping` from one side to the other's overlay address; true when all replies arrived.
    func ping(from side: Side, to address: String, count: Int = 3) -> Bool {
        let result = try? Lab.runCapturing(["ip", "netns", "exec", side.namespace, "ping", "-c", "\(count)",
                                            "-i", "0.2", "-W", "2", address], timeout: 20)
        return result?.status == 0
    }

    /// `wg show IF dump` parsed: the peer line's rx and tx bytes, and latest handshake.
    func wgShowPeer(_ side: Side) throws -> (rx: UInt64, tx: UInt64, latestHandshake: Int, endpoint: String) {
        let dump = try lab.exec(in: side.namespace, ["wg", "show", side.interface, "dump"])
        let lines = dump.split(separator: "\n")
        guard lines.count >= 2 else { throw Lab.CommandFailed(arguments: ["wg show dump"], status: 0, output: dump) }
        let fields = lines[1].split(separator: "\t")
        // public-key, preshared-key, endpoint, allowed-ips, latest-handshake, rx, tx, keepalive
        return (UInt64(fields[5]) ?? 0, UInt64(fields[6]) ?? 0, Int(fields[4]) ?? 0, String(fields[2]))
    }

    /// `weft show --json` for a Weft side.
    func weftShow(_ side: Side) throws -> [String: Any] {
        let text = try Lab.run([Lab.weftBinary, "show", side.interface, "--json"])
        let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        return array?.first ?? [:]
    }

    func stop(_ side: Side) {
        side.process?.terminate()
    }

    deinit {
        for side in [a, b] { try? FileManager.default.removeItem(atPath: side.privateKeyFile) }
    }
}
