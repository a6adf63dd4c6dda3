// A program that embeds Weft's WireGuard engine: one interface, one peer, events printed as they
// happen, counters every few seconds. Run as root:
//   swift run weft-embed-example wgx0 <private-key-file> <peer-public-key> <peer-endpoint> <allowed-ip>
// then give wgx0 an address with `ip addr add … dev wgx0 && ip link set wgx0 up`.
import WeftCrypto
import WeftDataPlane
import WeftRouting

#if canImport(Glibc)
import Glibc
#endif

/// One line straight to standard output, so events show up at once even when piped to a file.
func say(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
}

let arguments = CommandLine.arguments
guard arguments.count == 6 else {
    say("usage: weft-embed-example IFNAME PRIVATE-KEY-FILE PEER-PUBLIC-KEY PEER-ENDPOINT ALLOWED-IP")
    exit(2)
}

func readKeyFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 128)
    guard fgets(&line, Int32(line.count), file) != nil else { return nil }
    return String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

do {
    guard let keyText = readKeyFile(arguments[2]) else { say("cannot read \(arguments[2])"); exit(1) }
    let privateKey = try PrivateKey(base64: keyText)
    let peerKey = try PublicKey(base64: arguments[3])
    guard let endpoint = Endpoint(arguments[4]) else { say("bad endpoint \(arguments[4])"); exit(1) }
    let allowedIP = try IPPrefix(parsing: arguments[5])

    // 1. Create the interface; events arrive on the engine's threads.
    let engine = try WireGuardEngine(options: .init(interfaceName: arguments[1])) { event in
        say("event: \(event)")
    }
    // 2. Configure it, exactly as a UAPI `set` (or `wg set`) would.
    try engine.apply(InterfaceChange(
        privateKey: .set(privateKey),
        peers: [PeerChange(publicKey: peerKey, endpoint: endpoint, persistentKeepaliveInterval: 25,
                           allowedIPs: [allowedIP])]))
    say("\(arguments[1]) up on UDP port \(engine.listenPort), \(engine.backendNote)")

    // 3. Read the same counters `weft show` prints, until interrupted (bounded: one hour).
    for _ in 0..<720 {
        sleep(5)
        let status = engine.status()
        for peer in status.peers {
            say("peer \(peer.publicKey): rx \(peer.counters.rxBytes) B, tx \(peer.counters.txBytes) B, "
                  + "handshakes \(peer.counters.handshakesCompleted)")
        }
    }
    engine.stop()
} catch {
    say("weft-embed-example: \(error)")
    exit(1)
}
