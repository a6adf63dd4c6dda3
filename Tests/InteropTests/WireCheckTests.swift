import Foundation
import Testing

/// What Weft puts on the wire, checked by tshark (an independent dissector), and what Weft does
/// with bad datagrams: dropped, counted by reason, engine unharmed.
@Suite(.serialized, .enabled(if: Lab.isRoot, Lab.skipReason),
       .enabled(if: Lab.which("wireguard-go") && Lab.which("tshark"), "wireguard-go and tshark are needed: run scripts/setup"))
struct WireCheckTests {
    /// Captures on side b's underlay for `seconds` while `traffic` runs; returns the pcap path.
    private func capture(_ pair: WireGuardPair, seconds: Int, _ traffic: () throws -> Void) throws -> String {
        let file = NSTemporaryDirectory() + "weft-\(getpid())-\(pair.b.interface).pcap"
        let tshark = try pair.lab.spawn(in: pair.b.namespace, ["tshark", "-q", "-i", "eth0", "-f", "udp",
                                                               "-a", "duration:\(seconds)", "-w", file])
        // tshark needs a moment before it captures; wait until the file exists.
        Lab.waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: file) }
        usleep(500_000)
        try traffic()
        Lab.waitUntil(timeout: Double(seconds) + 10) { !tshark.isRunning }
        return file
    }

    private func fields(_ file: String, filter: String, _ names: [String], keys: [String] = []) throws -> [[String]] {
        var arguments = ["tshark", "-r", file, "-d", "udp.port==51820,wg", "-d", "udp.port==51821,wg", "-Y", filter, "-T", "fields"]
        for key in keys { arguments += ["-o", "uat:wg_keys:\"Private\",\"\(key)\""] }
        for name in names { arguments += ["-e", name] }
        return try Lab.run(arguments).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test("tshark dissects Weft's handshake and data as valid WireGuard, and decrypts its handshake with the responder's key")
    func tsharkDissectsWeft() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let pair = try WireGuardPair(lab: lab, .weft, .wireguardGo)
        let file = try capture(pair, seconds: 4) {
            #expect(pair.ping(from: pair.a, to: pair.b.overlay4, count: 3))
        }
        defer { try? FileManager.default.removeItem(atPath: file) }
        let malformed = try fields(file, filter: "_ws.malformed || _ws.expert.severity == error", ["frame.number"])
        #expect(malformed.isEmpty, "tshark flagged frames: \(malformed)")
        let types = Set(try fields(file, filter: "wg", ["wg.type"]).map { $0[0] })
        #expect(types.isSuperset(of: ["1", "2", "4"]), "saw message types \(types)")
        // With the responder's private key tshark decrypts Weft's initiation: the static key inside
        // (`es` step) must be Weft's public key, and the timestamp (`ss` step) must decrypt.
        let responderKey = try String(contentsOfFile: pair.b.privateKeyFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let initiations = try fields(file, filter: "wg.type == 1 && ip.src == \(pair.a.underlay)",
                                     ["wg.static", "wg.timestamp.value"], keys: [responderKey])
        #expect(!initiations.isEmpty)
        for row in initiations {
            #expect(row[0] == pair.a.publicKey)
            #expect(!row[1].isEmpty, "timestamp did not decrypt")
        }
    }

    @Test("Persistent keepalive: with interval 1, Weft's keepalives are on the wire every second")
    func persistentKeepaliveOnTheWire() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let pair = try WireGuardPair(lab: lab, .weft, .wireguardGo)
        let file = try capture(pair, seconds: 5) {
            try lab.exec(in: pair.a.namespace, ["wg", "set", pair.a.interface, "peer", pair.b.publicKey,
                                                "persistent-keepalive", "1"])
        }
        defer { try? FileManager.default.removeItem(atPath: file) }
        let keepalives = try fields(file, filter: "wg.keepalive && ip.src == \(pair.a.underlay)", ["frame.time_relative"])
        // No traffic at all: only the persistent keepalive (which first brings up a session).
        #expect(keepalives.count >= 3, "keepalives seen: \(keepalives.count)")
    }

    @Test("Truncated, oversized, wrong-type, forged and replayed datagrams are dropped and counted")
    func badDatagramsAreCounted() throws {
        let lab = Lab()
        defer { lab.cleanUp() }
        let pair = try WireGuardPair(lab: lab, .weft, .wireguardGo)
        var replay = ""
        let file = try capture(pair, seconds: 3) {
            #expect(pair.ping(from: pair.b, to: pair.a.overlay4, count: 2))
        }
        defer { try? FileManager.default.removeItem(atPath: file) }
        // A real transport packet from the peer, sent again later: a replay.
        replay = try fields(file, filter: "wg.type == 4 && ip.src == \(pair.b.underlay) && !wg.keepalive",
                            ["udp.payload"]).first?.first?.replacingOccurrences(of: ":", with: "") ?? ""
        #expect(!replay.isEmpty)
        let target = "(\"\(pair.a.underlay)\", \(pair.a.port))"
        try lab.exec(in: pair.b.namespace, ["python3", "-c", """
            import os, socket, struct
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            t = \(target)
            s.sendto(b'\\x01\\x00\\x00\\x00' + os.urandom(90), t)            # truncated initiation
            s.sendto(b'\\x01\\x00\\x00\\x00' + os.urandom(300), t)           # oversized initiation
            s.sendto(b'\\x09\\x00\\x00\\x00' + os.urandom(60), t)            # unknown type
            s.sendto(b'\\x04\\x00\\x00\\x00' + os.urandom(60), t)            # forged transport (no such index)
            s.sendto(b'\\x01\\x00\\x00\\x00' + os.urandom(144), t)           # forged initiation (bad mac1)
            s.sendto(b'', t)                                                # empty
            s.sendto(bytes.fromhex('\(replay)'), t)                         # replayed data
            """])
        usleep(300_000)
        let status = try pair.weftShow(pair.a)
        let drops = (status["counters"] as? [String: Any])?["drops"] as? [String: NSNumber] ?? [:]
        for reason in ["malformed", "unknown message type", "unknown receiver index", "invalid mac1", "replayed counter"] {
            #expect((drops[reason]?.intValue ?? 0) >= 1, "no '\(reason)' drop counted; drops: \(drops)")
        }
        #expect(pair.ping(from: pair.a, to: pair.b.overlay4), "the engine must keep running")
    }
}
