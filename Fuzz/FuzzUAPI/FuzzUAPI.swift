// Fuzzes the UAPI `set` parser (wireguard.com/xplatform) with the body of a request, split into
// lines as the server splits it. Nothing may crash; a rejected request is -EINVAL; and an accepted
// one, applied to an empty interface and printed by `formatGet`, must read back through
// `parseSet` (minus the read-only counters) as the same configuration.

import Glibc
import WeftCrypto
import WeftControlShim
import WeftDataPlane
import WeftRouting

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkSetRequest(String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self))
    return 0
}
#else
/// Without `-DFUZZING`: runs the same check on the contents of each file named on the command
/// line, to reproduce a crash under a debugger.
@main enum Reproducer {
    static func main() {
        for path in CommandLine.arguments.dropFirst() where !path.hasPrefix("-") {
            checkSetRequest(String(decoding: readFile(path), as: UTF8.self))
            print("\(path): no failure")
        }
    }

    static func readFile(_ path: String) -> [UInt8] {
        guard let file = fopen(path, "rb") else { fatalError("cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[0 ..< count]
        }
        return bytes
    }
}
#endif

/// `get` keys that report state rather than configuration: `set` refuses them.
let readOnlyKeys: Set<Substring> = ["last_handshake_time_sec", "last_handshake_time_nsec", "tx_bytes", "rx_bytes"]

func checkSetRequest(_ text: String) {
    // The lines after `set=1` up to the empty line that ends the request.
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.isEmpty }
    let change: InterfaceChange
    do throws(UAPIError) {
        change = try UAPIProtocol.parseSet(lines)
    } catch {
        precondition(error.errno == -22, "rejected with errno \(error.errno), not -EINVAL: \(error)")
        return
    }

    let status = InterfaceStatus(change)
    let answer = UAPIProtocol.formatGet(status)
    let settable = answer.split(separator: "\n").filter { line in
        !readOnlyKeys.contains(line.prefix { $0 != "=" })
    }
    let reread: InterfaceChange
    do throws(UAPIError) {
        reread = try UAPIProtocol.parseSet(settable)
    } catch {
        preconditionFailure("formatGet wrote what parseSet refuses (\(error)):\n\(answer)")
    }
    precondition(reread.describes(status), "get does not read back as set:\n\(answer)")
}

extension InterfaceStatus {
    /// An empty interface after `change`.
    init(_ change: InterfaceChange) {
        var privateKey: PrivateKey?
        if case .set(let key) = change.privateKey { privateKey = key }
        let peers = change.peers.filter { !$0.remove }.map { peer in
            PeerStatus(publicKey: peer.publicKey, presharedKey: peer.presharedKey ?? .zero, endpoint: peer.endpoint,
                       allowedIPs: peer.allowedIPs, persistentKeepaliveInterval: peer.persistentKeepaliveInterval ?? 0)
        }
        self.init(name: "fuzz", privateKey: privateKey, listenPort: change.listenPort ?? 0, fwmark: change.fwmark ?? 0,
                  peers: peers)
    }
}

extension InterfaceChange {
    /// Whether this change, read back from `status`'s `get` answer, sets exactly its configuration.
    func describes(_ status: InterfaceStatus) -> Bool {
        let keyMatches: Bool
        switch (privateKey, status.privateKey) {
        case (.set(let key)?, let expected?): keyMatches = key.hex == expected.hex
        case (nil, nil): keyMatches = true
        default: keyMatches = false
        }
        return keyMatches && (listenPort ?? 0) == status.listenPort && (fwmark ?? 0) == status.fwmark
            && !replacePeers && peers.count == status.peers.count
            && zip(peers, status.peers).allSatisfy { read, expected in
                read.publicKey == expected.publicKey && read.presharedKey?.hex == expected.presharedKey.hex
                    && read.endpoint == expected.endpoint && read.allowedIPs == expected.allowedIPs
                    && read.persistentKeepaliveInterval == expected.persistentKeepaliveInterval
                    && !read.remove && !read.updateOnly && !read.replaceAllowedIPs
            }
    }
}

extension PrivateKey {
    var hex: String { withUnsafeBytes { Bytes32(copying: $0).hex } }
}

extension PresharedKey {
    var hex: String { withUnsafeBytes { Bytes32(copying: $0).hex } }
}
