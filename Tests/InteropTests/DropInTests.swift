import Foundation
import Testing

/// `weft up` as a drop-in for wireguard-go: background start, clean shutdown, the whole `wg`
/// configuration surface, and `wg-quick` through WG_QUICK_USERSPACE_IMPLEMENTATION.
@Suite(.serialized, .enabled(if: Lab.isRoot, Lab.skipReason),
       .enabled(if: Lab.which("wg") && Lab.which("wireguard-go"), "wireguard-tools and wireguard-go are needed: run scripts/setup"))
struct DropInTests {
    private func socketPath(_ name: String) -> String { "/var/run/wireguard/\(name).sock" }

    private func linkExists(_ lab: Lab, _ namespace: String, _ name: String) -> Bool {
        (try? Lab.runCapturing(["ip", "-n", namespace, "link", "show", name]).status) == 0
    }

    @Test("weft up returns once ready, runs in the background, and SIGTERM removes interface and socket")
    func backgroundStartAndCleanShutdown() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let ns = try lab.makeNamespace()
        let name = Lab.uniqueInterfaceName("wfb")
        let started = try Lab.runCapturing(["ip", "netns", "exec", ns, Lab.weftBinary, "up", name], timeout: 20)
        #expect(started.status == 0, "weft up failed: \(started.stderr)")
        #expect(FileManager.default.fileExists(atPath: socketPath(name)))
        #expect(linkExists(lab, ns, name))
        // A second interface of the same name is refused with one clear line.
        let again = try Lab.runCapturing(["ip", "netns", "exec", ns, Lab.weftBinary, "up", name], timeout: 20)
        #expect(again.status != 0)
        #expect(again.stderr.split(separator: "\n").count == 1, "\(again.stderr)")
        // The daemon is the only process in our namespace: stop it by its PID.
        let pids = try Lab.run(["ip", "netns", "pids", ns]).split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 1)
        for pid in pids { kill(pid, SIGTERM) }
        #expect(Lab.waitUntil(timeout: 5) { !FileManager.default.fileExists(atPath: socketPath(name)) })
        #expect(Lab.waitUntil(timeout: 5) { !linkExists(lab, ns, name) })
    }

    @Test("wg setconf, showconf, syncconf and show drive Weft as they drive wireguard-go")
    func wgConfigurationSurface() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let ns = try lab.makeNamespace()
        let name = Lab.uniqueInterfaceName("wfc")
        try lab.spawn(in: ns, [Lab.weftBinary, "up", "--foreground", name])
        #expect(Lab.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: socketPath(name)) })
        let privateKey = try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let peers = try (0..<3).map { _ in
            try Lab.run(["wg", "pubkey"], input: Lab.run(["wg", "genkey"])).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let psk = try Lab.run(["wg", "genpsk"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let config = """
            [Interface]
            PrivateKey = \(privateKey)
            ListenPort = 51999
            FwMark = 0x1234

            [Peer]
            PublicKey = \(peers[0])
            PresharedKey = \(psk)
            AllowedIPs = 100.64.1.0/24, fd00::1:0/112
            Endpoint = 198.18.1.1:51820
            PersistentKeepalive = 25

            [Peer]
            PublicKey = \(peers[1])
            AllowedIPs = 100.64.2.0/24

            """
        let file = NSTemporaryDirectory() + "\(name).conf"
        try config.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try lab.exec(in: ns, ["wg", "setconf", name, file])
        let shown = try lab.exec(in: ns, ["wg", "showconf", name])
        for line in ["PrivateKey = \(privateKey)", "ListenPort = 51999", "FwMark = 0x1234", "PublicKey = \(peers[0])",
                     "PresharedKey = \(psk)", "AllowedIPs = 100.64.1.0/24, fd00::1:0/112", "Endpoint = 198.18.1.1:51820",
                     "PersistentKeepalive = 25", "PublicKey = \(peers[1])", "AllowedIPs = 100.64.2.0/24"] {
            #expect(shown.contains(line), "showconf lacks '\(line)':\n\(shown)")
        }
        // syncconf: drop peer 1, add peer 2, move a prefix from peer 0 to peer 2.
        let synced = config.replacingOccurrences(of: peers[1], with: peers[2])
            .replacingOccurrences(of: "AllowedIPs = 100.64.2.0/24", with: "AllowedIPs = 100.64.2.0/24, 100.64.1.128/25")
        try synced.write(toFile: file, atomically: true, encoding: .utf8)
        try lab.exec(in: ns, ["wg", "syncconf", name, file])
        let peerList = Set(try lab.exec(in: ns, ["wg", "show", name, "peers"]).split(separator: "\n").map(String.init))
        #expect(peerList == [peers[0], peers[2]])
        let allowed = try lab.exec(in: ns, ["wg", "show", name, "allowed-ips"])
        let peer2Line = allowed.split(separator: "\n").first { $0.hasPrefix(peers[2]) } ?? ""
        #expect(Set(peer2Line.split(separator: "\t").last?.split(separator: " ") ?? []) == ["100.64.2.0/24", "100.64.1.128/25"],
                "\(allowed)")
        #expect(try lab.exec(in: ns, ["wg", "show", name, "listen-port"]).trimmingCharacters(in: .whitespacesAndNewlines) == "51999")
        // wg set on a live interface: remove a peer.
        try lab.exec(in: ns, ["wg", "set", name, "peer", peers[0], "remove"])
        #expect(try lab.exec(in: ns, ["wg", "show", name, "peers"]).trimmingCharacters(in: .whitespacesAndNewlines) == peers[2])
    }

    @Test("wg-quick up and down with WG_QUICK_USERSPACE_IMPLEMENTATION pointing at scripts/weft-userspace")
    func wgQuick() throws {
        guard Lab.which("wg-quick") else { Issue.record("wg-quick missing: run scripts/setup"); return }
        let lab = Lab()
        defer { lab.cleanUp() }
        let nsA = try lab.makeNamespace(), nsB = try lab.makeNamespace()
        try lab.link(nsA, "198.18.77.1/24", nsB, "198.18.77.2/24")
        let nameA = Lab.uniqueInterfaceName("wfq"), nameB = Lab.uniqueInterfaceName("wgq")
        let keyA = try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let keyB = try Lab.run(["wg", "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let pubA = try Lab.run(["wg", "pubkey"], input: keyA).trimmingCharacters(in: .whitespacesAndNewlines)
        let pubB = try Lab.run(["wg", "pubkey"], input: keyB).trimmingCharacters(in: .whitespacesAndNewlines)
        let folder = NSTemporaryDirectory() + "weft-wgquick-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func write(_ name: String, _ key: String, _ address: String, _ port: Int, _ peer: String, _ peerNet: String, _ endpoint: String) throws -> String {
            let path = "\(folder)/\(name).conf"
            try """
                [Interface]
                PrivateKey = \(key)
                Address = \(address)
                ListenPort = \(port)
                MTU = 1380

                [Peer]
                PublicKey = \(peer)
                AllowedIPs = \(peerNet)
                Endpoint = \(endpoint)
                """.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            return path
        }
        let confA = try write(nameA, keyA, "100.64.77.1/32", 51820, pubB, "100.64.77.2/32, 100.64.78.0/24", "198.18.77.2:51821")
        let confB = try write(nameB, keyB, "100.64.77.2/32", 51821, pubA, "100.64.77.1/32", "198.18.77.1:51820")
        let weftUserspace = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/weft-userspace").path
        let upA = try Lab.runCapturing(["ip", "netns", "exec", nsA, "env", "WG_QUICK_USERSPACE_IMPLEMENTATION=\(weftUserspace)",
                                        "WEFT=\(Lab.weftBinary)", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1",
                                        "wg-quick", "up", confA], timeout: 30)
        #expect(upA.status == 0, "wg-quick up with Weft failed: \(upA.stderr)")
        let upB = try Lab.runCapturing(["ip", "netns", "exec", nsB, "env", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1",
                                        "wg-quick", "up", confB], timeout: 30)
        #expect(upB.status == 0, "wg-quick up with wireguard-go failed: \(upB.stderr)")
        // wg-quick set the MTU and a route for the peer's AllowedIPs through Weft's interface.
        #expect(try Lab.run(["ip", "-n", nsA, "link", "show", nameA]).contains("mtu 1380"))
        #expect(try Lab.run(["ip", "-n", nsA, "route", "show", "dev", nameA]).contains("100.64.78.0/24"))
        let ping = try Lab.runCapturing(["ip", "netns", "exec", nsA, "ping", "-c", "3", "-i", "0.2", "-W", "2", "100.64.77.2"])
        #expect(ping.status == 0, "ping over wg-quick tunnel: \(ping.stdout)")
        let down = try Lab.runCapturing(["ip", "netns", "exec", nsA, "wg-quick", "down", confA], timeout: 30)
        #expect(down.status == 0, "\(down.stderr)")
        // Deleting the link ends the Weft process and removes its socket, as with wireguard-go.
        #expect(Lab.waitUntil(timeout: 5) { !FileManager.default.fileExists(atPath: "/var/run/wireguard/\(nameA).sock") })
        #expect(Lab.waitUntil(timeout: 5) { ((try? Lab.run(["ip", "netns", "pids", nsA])) ?? "x").isEmpty })
    }
}
