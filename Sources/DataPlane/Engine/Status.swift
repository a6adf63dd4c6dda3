import WeftCrypto
import WeftRouting

/// A point-in-time view of an interface: what `wg show`, the UAPI `get` operation and
/// `weft show` print. Built by the engine's owner thread; plain values, safe to hand anywhere.
public struct InterfaceStatus: Sendable {
    public var name: String
    /// Present only for the UAPI `get` (which must return it); never printed by `weft show`.
    public var privateKey: PrivateKey?
    public var publicKey: PublicKey?
    public var listenPort: UInt16
    public var fwmark: UInt32
    public var peers: [PeerStatus]
    public var counters: InterfaceCounters

    public init(name: String, privateKey: PrivateKey? = nil, listenPort: UInt16 = 0, fwmark: UInt32 = 0,
                peers: [PeerStatus] = [], counters: InterfaceCounters = InterfaceCounters()) {
        self.name = name
        self.privateKey = privateKey
        self.publicKey = privateKey?.publicKey
        self.listenPort = listenPort
        self.fwmark = fwmark
        self.peers = peers
        self.counters = counters
    }
}

public struct PeerStatus: Sendable {
    public var publicKey: PublicKey
    public var presharedKey: PresharedKey
    public var endpoint: Endpoint?
    public var allowedIPs: [IPPrefix]
    public var persistentKeepaliveInterval: UInt16
    /// Wall-clock time of the last completed handshake (seconds and nanoseconds since 1970), or 0.
    public var lastHandshakeSeconds: Int64
    public var lastHandshakeNanoseconds: Int64
    public var counters: PeerCounters
    /// Ages of the current and previous keypairs in seconds (nil when absent).
    public var currentKeypairAge: Double?
    public var previousKeypairAge: Double?

    public init(publicKey: PublicKey, presharedKey: PresharedKey = .zero, endpoint: Endpoint? = nil,
                allowedIPs: [IPPrefix] = [], persistentKeepaliveInterval: UInt16 = 0,
                lastHandshakeSeconds: Int64 = 0, lastHandshakeNanoseconds: Int64 = 0,
                counters: PeerCounters = PeerCounters(), currentKeypairAge: Double? = nil,
                previousKeypairAge: Double? = nil) {
        self.publicKey = publicKey
        self.presharedKey = presharedKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.persistentKeepaliveInterval = persistentKeepaliveInterval
        self.lastHandshakeSeconds = lastHandshakeSeconds
        self.lastHandshakeNanoseconds = lastHandshakeNanoseconds
        self.counters = counters
        self.currentKeypairAge = currentKeypairAge
        self.previousKeypairAge = previousKeypairAge
    }
}

/// Per-peer traffic and handshake counters.
public struct PeerCounters: Sendable, Codable, Equatable {
    public var rxPackets: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txPackets: UInt64 = 0
    public var txBytes: UInt64 = 0
    public var handshakesInitiated: UInt64 = 0
    public var handshakesCompleted: UInt64 = 0
    public var handshakesFailed: UInt64 = 0
    public init() {}
}

/// Interface totals and drops by reason. Reasons are named as `weft show` prints them.
public struct InterfaceCounters: Sendable, Codable, Equatable {
    public var rxPackets: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txPackets: UInt64 = 0
    public var txBytes: UInt64 = 0
    /// Drop reason → count; only reasons that happened appear.
    public var drops: [String: UInt64] = [:]
    public init() {}
}
