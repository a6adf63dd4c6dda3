// The WireGuard half of a node configuration, as the engine's configuration change.

import WeftCrypto
import WeftDataPlane

extension NodeConfig {
    /// The WireGuard interface this node needs: its private key and listen port, and one peer
    /// per link with the link's endpoint, pre-shared key, keepalive and AllowedIPs (the peer's
    /// VXLAN underlay address only; see `LinkConfig.allowedIPs`).
    ///
    /// The change describes the whole interface, as `wg setconf` does: `replacePeers` drops
    /// peers that are not links, and every peer field is set explicitly (no PSK is the zero key,
    /// no keepalive is 0, AllowedIPs are replaced), so applying it twice changes nothing.
    public func interfaceChange() -> InterfaceChange {
        InterfaceChange(
            privateKey: .set(privKey),
            listenPort: listenPort,
            replacePeers: true,
            peers: links.map { link in
                PeerChange(publicKey: link.peerPubKey,
                           presharedKey: link.psk ?? .zero,
                           endpoint: link.peerEndpoint,
                           persistentKeepaliveInterval: link.persistentKeepalive,
                           replaceAllowedIPs: true,
                           allowedIPs: link.allowedIPs)
            })
    }
}
