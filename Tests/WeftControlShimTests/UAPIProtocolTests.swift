import Testing
import WeftCrypto
import WeftDataPlane
import WeftRouting
@testable import WeftControlShim

@Suite("UAPI protocol (wireguard.com/xplatform)")
struct UAPIProtocolTests {
    static let privateHex = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
    static let peerHex = "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
    static let pskHex = "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"

    @Test func parsesTheDocumentedExample() throws {
        let change = try UAPIProtocol.parseSet([
            "private_key=\(Self.privateHex)",
            "fwmark=0",
            "listen_port=12912",
            "replace_peers=true",
            "public_key=\(Self.peerHex)",
            "preshared_key=\(Self.pskHex)",
            "replace_allowed_ips=true",
            "allowed_ip=100.64.0.0/10",
            "allowed_ip=fd00::1/128",
            "endpoint=[fd00::2]:51820",
            "persistent_keepalive_interval=25",
            "protocol_version=1",
            "public_key=\(Self.privateHex)",
            "remove=true",
        ])
        #expect(change.listenPort == 12912)
        #expect(change.fwmark == 0)
        #expect(change.replacePeers)
        guard case .set(let key) = change.privateKey else { Issue.record("no private key"); return }
        #expect(key.withUnsafeBytes { Bytes32(copying: $0).hex } == Self.privateHex)
        #expect(change.peers.count == 2)
        let peer = change.peers[0]
        #expect(peer.publicKey.raw.hex == Self.peerHex)
        #expect(peer.presharedKey?.withUnsafeBytes { Bytes32(copying: $0).hex } == Self.pskHex)
        #expect(peer.replaceAllowedIPs)
        #expect(peer.allowedIPs.map(\.description) == ["100.64.0.0/10", "fd00::1/128"])
        #expect(peer.endpoint?.description == "[fd00::2]:51820")
        #expect(peer.persistentKeepaliveInterval == 25)
        #expect(change.peers[1].remove)
    }

    @Test func zeroPrivateKeyRemovesIt() throws {
        let change = try UAPIProtocol.parseSet(["private_key=" + String(repeating: "0", count: 64)])
        guard case .remove = change.privateKey else { Issue.record("expected .remove"); return }
    }

    @Test func allowedIPsAreMasked() throws {
        let change = try UAPIProtocol.parseSet(["public_key=\(Self.peerHex)", "allowed_ip=100.64.1.7/24"])
        #expect(change.peers[0].allowedIPs.map(\.description) == ["100.64.1.0/24"])
    }

    /// Each bad line gets -EINVAL, as wireguard-go answers (checked against Debian's
    /// wireguard-go 0.0.20220316 by hand: `listen_port=abc`, `bogus=1`, `private_key=zz`).
    @Test(arguments: [
        ["listen_port=abc"],
        ["listen_port=65536"],
        ["bogus=1"],
        ["private_key=zz"],
        ["private_key=\(String(repeating: "0", count: 63))"],
        ["replace_peers=yes"],
        ["fwmark=-1"],
        ["no equals sign"],
        ["public_key=\(peerHex)", "allowed_ip=1.2.3.4/33"],
        ["public_key=\(peerHex)", "endpoint=198.18.0.1"],
        ["public_key=\(peerHex)", "endpoint=host.example:51820"],
        ["public_key=\(peerHex)", "persistent_keepalive_interval=70000"],
        ["public_key=\(peerHex)", "protocol_version=2"],
        ["public_key=\(peerHex)", "remove=1"],
        ["public_key=\(peerHex)", "listen_port=1"],
        ["public_key=nothex"],
    ])
    func rejectsBadInput(lines: [String]) {
        #expect(throws: UAPIError.self) { try UAPIProtocol.parseSet(lines) }
        do { _ = try UAPIProtocol.parseSet(lines) } catch { #expect(error.errno == -22) }
    }

    @Test func formatsGetLikeWireguardGo() throws {
        let key = PrivateKey(rawBytes: Bytes32(hex: Self.privateHex)!)
        var peer = PeerStatus(publicKey: PublicKey(raw: Bytes32(hex: Self.peerHex)!))
        peer.endpoint = Endpoint("198.18.0.1:51820")
        peer.allowedIPs = [IPPrefix("100.64.0.0/10")!]
        peer.persistentKeepaliveInterval = 25
        peer.counters.txBytes = 148
        let status = InterfaceStatus(name: "wg0", privateKey: key, listenPort: 51820, peers: [peer])
        // The order and keys of wireguard-go's answer, recorded from a real run.
        #expect(UAPIProtocol.formatGet(status) == """
            private_key=\(Self.privateHex)
            listen_port=51820
            public_key=\(Self.peerHex)
            preshared_key=0000000000000000000000000000000000000000000000000000000000000000
            protocol_version=1
            endpoint=198.18.0.1:51820
            last_handshake_time_sec=0
            last_handshake_time_nsec=0
            tx_bytes=148
            rx_bytes=0
            persistent_keepalive_interval=25
            allowed_ip=100.64.0.0/10

            """)
    }
}
