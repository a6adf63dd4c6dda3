import WeftCrypto
import WeftRouting

/// An incremental change to a WireGuard interface. Its semantics are those of the cross-platform
/// userspace API's `set` operation (wireguard.com/xplatform), so `wg set`, `wg setconf` and
/// `wg syncconf` map onto it one to one; a YAML node config or an embedder builds the same value.
public struct InterfaceChange: Sendable {
    public enum KeyChange: Sendable {
        case set(PrivateKey)
        /// An all-zero key in the UAPI: the interface has no identity and drops handshakes.
        case remove
    }

    public var privateKey: KeyChange?
    /// 0 picks a free port, as with wireguard-go.
    public var listenPort: UInt16?
    /// 0 removes the mark.
    public var fwmark: UInt32?
    /// Remove every peer not named below before applying the peer changes.
    public var replacePeers: Bool
    public var peers: [PeerChange]

    public init(privateKey: KeyChange? = nil, listenPort: UInt16? = nil, fwmark: UInt32? = nil,
                replacePeers: Bool = false, peers: [PeerChange] = []) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.replacePeers = replacePeers
        self.peers = peers
    }
}

/// A change to one peer, identified by its public key (UAPI `public_key=` and what follows it).
public struct PeerChange: Sendable {
    public var publicKey: PublicKey
    /// Remove the peer; other fields are ignored.
    public var remove: Bool
    /// Only change an existing peer; never create one.
    public var updateOnly: Bool
    /// A zero key removes the pre-shared key.
    public var presharedKey: PresharedKey?
    public var endpoint: Endpoint?
    /// Seconds; 0 turns persistent keepalive off.
    public var persistentKeepaliveInterval: UInt16?
    /// Replace the peer's AllowedIPs with `allowedIPs` instead of adding to them.
    public var replaceAllowedIPs: Bool
    public var allowedIPs: [IPPrefix]

    public init(publicKey: PublicKey, remove: Bool = false, updateOnly: Bool = false,
                presharedKey: PresharedKey? = nil, endpoint: Endpoint? = nil,
                persistentKeepaliveInterval: UInt16? = nil, replaceAllowedIPs: Bool = false,
                allowedIPs: [IPPrefix] = []) {
        self.publicKey = publicKey
        self.remove = remove
        self.updateOnly = updateOnly
        self.presharedKey = presharedKey
        self.endpoint = endpoint
        self.persistentKeepaliveInterval = persistentKeepaliveInterval
        self.replaceAllowedIPs = replaceAllowedIPs
        self.allowedIPs = allowedIPs
    }
}
