import WeftDataPlane
import WeftOSPF

/// The packet-counters view of a running interface, as `weft show` prints it and as JSON.
/// Built from the engine's `InterfaceStatus`; never carries the private key.
public struct StatusReport: Codable, Sendable {
    public struct Peer: Codable, Sendable {
        public var publicKey: String
        public var endpoint: String?
        public var allowedIPs: [String]
        /// Unix seconds of the latest handshake; nil if none.
        public var latestHandshake: Double?
        public var persistentKeepalive: Int
        public var counters: PeerCounters
        public var keypairAgeSeconds: Double?
        public var previousKeypairAgeSeconds: Double?
    }

    /// One overlay link (a WireGuard peer carrying a VXLAN segment), for overlay nodes.
    public struct Link: Codable, Sendable {
        public var id: Int
        public var name: String
        public var vni: Int
        public var localMAC: String
        public var peerMAC: String?
        public var receivedFrames: UInt64
        public var receivedBytes: UInt64
        public var sentFrames: UInt64
        public var sentBytes: UInt64
        /// Packets this node forwarded from this link onto another (transit).
        public var forwarded: UInt64
        /// Packets from this link delivered to the local TUN.
        public var delivered: UInt64
        public var drops: [String: UInt64]
    }

    public var interface: String
    public var publicKey: String?
    public var listenPort: Int
    public var fwmark: Int
    /// The I/O backend in use and why.
    public var backend: String
    public var counters: InterfaceCounters
    public var peers: [Peer]
    /// Overlay nodes only: links and the routes the node forwards by ("prefix [source/metric] next hops").
    public var links: [Link]?
    public var routes: [String]?
    /// Overlay nodes running OSPF: neighbors, interfaces, LSDB and routes (`weft show ospf`).
    public var ospf: OSPFSnapshot?
    /// Unix seconds when the report was taken (rates in `--watch` divide by its difference).
    public var takenAt: Double

    public init(_ status: InterfaceStatus, backend: String, takenAt: Double) {
        interface = status.name
        publicKey = status.publicKey?.base64
        listenPort = Int(status.listenPort)
        fwmark = Int(status.fwmark)
        self.backend = backend
        counters = status.counters
        self.takenAt = takenAt
        peers = status.peers.map { peer in
            Peer(publicKey: peer.publicKey.base64,
                 endpoint: peer.endpoint?.description,
                 allowedIPs: peer.allowedIPs.map(\.description),
                 latestHandshake: peer.lastHandshakeSeconds == 0 ? nil
                     : Double(peer.lastHandshakeSeconds) + Double(peer.lastHandshakeNanoseconds) / 1e9,
                 persistentKeepalive: Int(peer.persistentKeepaliveInterval),
                 counters: peer.counters,
                 keypairAgeSeconds: peer.currentKeypairAge,
                 previousKeypairAgeSeconds: peer.previousKeypairAge)
        }
    }
}
