// The WireGuard device as a sans-I/O core (whitepaper §2–§6): our static identity, the peers, the
// receiver-index table and the cookie checker, driven by three calls:
//
// - `encapsulate`: an IP packet from the tunnel, routed to a peer by its destination
//   (cryptokey routing, §2) and encrypted in place;
// - `decapsulate`: a datagram from the network: transport data decrypted in place, handshake
//   messages consumed and answered;
// - `tick`: the timers of §6.
//
// Each call returns the fate of the packet it was given. Anything else it has to send (handshake
// messages, keepalives, packets that waited for a session) and the events it reports go through
// the `output` closure during the call. The per-packet paths allocate nothing and hold no locks:
// a device belongs to one thread at a time.

import WeftCrypto
import WeftRouting

extension WireGuard {
    /// Why a packet was dropped. Every drop is counted in `Device.drops`.
    public enum DropReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
        /// Too short, wrong length for its type, or an inconsistent inner packet length.
        case malformed
        /// Unknown message type, or non-zero reserved bytes.
        case unknownMessageType
        /// mac1 does not match our public key (§5.4.4).
        case invalidMAC1
        /// Under load and without a valid mac2: answered with a cookie reply instead (§5.4.7).
        case cookieRequired
        /// Under load, valid cookie, but the source exceeds its handshake rate (§5.3).
        case rateLimited
        /// Initiations from one peer faster than INITIATIONS_PER_SECOND.
        case handshakeFlood
        /// A handshake message's AEAD failed: wrong keys, wrong pre-shared key or tampering.
        case handshakeDecryptionFailed
        /// An initiation from a static key that is not a configured peer.
        case unknownPeer
        /// A replayed initiation: its TAI64N is not newer than the last one (§5.1).
        case staleTimestamp
        /// A cookie reply that does not decrypt or answers nothing we sent.
        case invalidCookieReply
        /// No handshake or session has this receiver index, or it is not in a state for this message.
        case unknownIndex
        /// The session's keys are past REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES (§6.1).
        case expiredSession
        /// A counter already received or older than the replay window (§5.4.6).
        case replay
        /// Transport data that does not authenticate.
        case decryptionFailed
        /// The inner packet's source address is not in the sending peer's AllowedIPs (§2.1).
        case sourceNotAllowed
        /// The decrypted packet is neither IPv4 nor IPv6.
        case invalidInnerPacket
        /// Outgoing: the peer has no endpoint yet.
        case noEndpoint
        /// Outgoing: no peer's AllowedIPs contain the destination.
        case noRoute
        /// Outgoing: the buffer lacks room for the header, padding or tag.
        case bufferTooSmall
        /// Outgoing: a packet larger than the MTU cannot wait for a session.
        case packetTooLarge
        /// Outgoing: the oldest packet waiting for a session was pushed out by a newer one.
        case stagedQueueFull
        /// Outgoing: packets waiting for a session discarded when the handshake was given up.
        case handshakeTimeout

        public var description: String {
            switch self {
            case .malformed: "malformed"
            case .unknownMessageType: "unknown message type"
            case .invalidMAC1: "invalid mac1"
            case .cookieRequired: "cookie required (under load)"
            case .rateLimited: "rate limited"
            case .handshakeFlood: "handshake flood"
            case .handshakeDecryptionFailed: "handshake decryption failed"
            case .unknownPeer: "unknown peer"
            case .staleTimestamp: "stale timestamp (replayed initiation)"
            case .invalidCookieReply: "invalid cookie reply"
            case .unknownIndex: "unknown receiver index"
            case .expiredSession: "expired session"
            case .replay: "replayed counter"
            case .decryptionFailed: "decryption failed"
            case .sourceNotAllowed: "source not in AllowedIPs"
            case .invalidInnerPacket: "inner packet not IP"
            case .noEndpoint: "no endpoint"
            case .noRoute: "no route to destination"
            case .bufferTooSmall: "buffer too small"
            case .packetTooLarge: "packet too large to queue"
            case .stagedQueueFull: "staged queue full"
            case .handshakeTimeout: "handshake timed out"
            }
        }
    }

    /// Per-reason drop counts, inline.
    public struct DropCounters: Sendable, Equatable {
        private var counts = InlineArray<32, UInt64>(repeating: 0)

        public init() {
            assert(DropReason.allCases.count <= 32)
        }

        public subscript(reason: DropReason) -> UInt64 {
            get { counts[Int(reason.rawValue)] }
            set { counts[Int(reason.rawValue)] = newValue }
        }

        /// All drops together.
        public var total: UInt64 {
            DropReason.allCases.reduce(0) { $0 + self[$1] }
        }

        public static func == (lhs: DropCounters, rhs: DropCounters) -> Bool {
            DropReason.allCases.allSatisfy { lhs[$0] == rhs[$0] }
        }
    }

    /// Something a device reports while handling a call.
    public enum Event<Endpoint: WireGuardEndpoint>: Sendable {
        /// A session with the peer was established (initiator: response consumed; responder:
        /// the first transport message confirmed it).
        case handshakeCompleted(PeerID)
        /// An authenticated packet came from a new address: replies go there now (§2.1).
        case endpointChanged(PeerID, Endpoint)
        /// The peer was silent for 3 × REJECT_AFTER_TIME and all its keys were erased (§6.3).
        case sessionExpired(PeerID)
        /// No handshake completed within REKEY_ATTEMPT_TIME: retries stopped, waiting packets
        /// dropped (§6.4) until new traffic arrives.
        case handshakeFailed(PeerID)
    }

    /// Extra output of a call: a datagram to send or an event.
    public enum Output<Endpoint: WireGuardEndpoint> {
        /// Send `bytes` as one UDP datagram to the endpoint. The bytes are valid only during the
        /// `output` call: send or copy them before returning.
        case datagram(UnsafeRawBufferPointer, to: Endpoint)
        case event(Event<Endpoint>)
    }

    /// What became of a packet given to `encapsulate`.
    public enum EncapsulateResult<Endpoint: WireGuardEndpoint> {
        /// The transport message is `buffer[range]` (range starts at 0): send it to the endpoint.
        case writeToNetwork(Range<Int>, to: Endpoint)
        /// No usable session: the packet was copied to the peer's queue and a handshake started;
        /// it goes out through `output` when the session is up.
        case staged
        case drop(DropReason)
    }

    /// What became of a datagram given to `decapsulate`.
    public enum DecapsulateResult: Equatable, Sendable {
        /// The inner IP packet is `datagram[range]`, decrypted in place, from the peer.
        case writeToTunnel(Range<Int>, peer: PeerID)
        /// Consumed: a handshake message, cookie reply or keepalive. Replies went to `output`.
        case done
        case drop(DropReason)
    }

    /// Device-wide settings.
    public struct DeviceConfiguration: Sendable {
        /// Tunnel MTU: transport payloads are padded to a multiple of 16 but not beyond it
        /// (§5.4.6), and it sizes the queue of packets waiting for a session.
        public var mtu: Int
        /// Packets kept per peer while waiting for a session.
        public var stagedPacketLimit: Int
        /// Sources the handshake rate limiter tracks at most.
        public var ratelimiterEntries: Int

        public init(mtu: Int = 1420, stagedPacketLimit: Int = WireGuard.maxStagedPackets,
                    ratelimiterEntries: Int = Ratelimiter.defaultMaximumEntries) {
            precondition(mtu > 0 && stagedPacketLimit > 0 && ratelimiterEntries > 0,
                         "DeviceConfiguration: MTU and limits must be positive")
            self.mtu = mtu
            self.stagedPacketLimit = stagedPacketLimit
            self.ratelimiterEntries = ratelimiterEntries
        }
    }

    /// Why a peer could not be added.
    public enum PeerError: Error, Equatable, Sendable {
        case duplicatePublicKey
        /// A peer with the device's own public key (the kernel refuses it too).
        case ownPublicKey
        case tooManyPeers
    }

    /// Upper bound on peers per device, as the kernel's MAX_PEERS_PER_DEVICE.
    public static let maxPeers = 1 << 20

    /// A WireGuard interface without I/O: keys, peers and protocol state.
    ///
    /// A driver feeds it:
    /// - each packet read from the tunnel, placed at offset 16 of a buffer of at least
    ///   `bufferCapacity(forPacketLength:)` bytes, to `encapsulate`; on `.writeToNetwork(range, to:)`
    ///   it sends `buffer[range]` to that endpoint;
    /// - each UDP datagram, with its source endpoint, to `decapsulate`; on
    ///   `.writeToTunnel(range, peer:)` it writes `datagram[range]` to the tunnel;
    /// - `tick` whenever the deadline the last `tick` returned has passed (ticking more often is
    ///   harmless), and after changing peers.
    ///
    /// Every call takes an `output` closure: each `.datagram` must be sent (or copied) before it
    /// returns; `.event`s are for logging and control planes. `now` comes from one monotonic
    /// clock and never goes backwards.
    ///
    /// Not thread-safe: one thread drives a device at a time. The `output` closures must not
    /// call back into the device.
    public final class Device<Endpoint: WireGuardEndpoint> {
        public typealias OutputHandler = (Output<Endpoint>) -> Void

        // `@exclusivity(unchecked)` marks state the per-packet paths touch, here and in `Peer` and
        // `Keypair`: a device is driven by one thread at a time and its output closures must not
        // call back into it, so accesses cannot overlap, and the runtime check of each access
        // (~40 instructions, about ten per packet: ~3% of a 1420-byte packet under callgrind) buys
        // nothing. The compiler still checks exclusivity statically.
        public let configuration: DeviceConfiguration
        private(set) var identity: StaticIdentity
        @exclusivity(unchecked) var peerSlots: [Peer<Endpoint>?] = []
        private var generations: [UInt32] = []
        private var freeSlots: [UInt32] = []
        var peersByKey: [PublicKey: PeerID] = [:]
        /// Cryptokey routing table: destination → peer when sending, source check when receiving.
        @exclusivity(unchecked) var allowedIPs = AllowedIPs<PeerID>()
        @exclusivity(unchecked) var indexTable = IndexTable()
        var cookieChecker: CookieChecker
        var ratelimiter: Ratelimiter
        let random: RandomSource
        /// Fast generator for timer jitter, seeded from `random`: jitter needs no secrecy and is
        /// drawn on the data path.
        @exclusivity(unchecked) private var jitterState: UInt64
        var wallClock: WallClockAnchor
        /// Handshake messages, cookie replies and keepalives are built here.
        let scratch: UnsafeMutableRawBufferPointer

        /// Per-reason counts of dropped packets.
        public internal(set) var drops = DropCounters()

        /// Set by the driver while handshake messages arrive faster than it processes them
        /// (e.g. its receive queue is backing up). While set, and for a second after it is
        /// cleared, initiations and responses need a valid mac2 (§5.3, §5.4.7).
        public var isUnderLoad = false
        var lastUnderLoad: Instant?

        /// - Parameters:
        ///   - privateKey: the static private key S_priv.
        ///   - wallClock: real time at some monotonic instant, for the TAI64N in initiations.
        ///   - random: randomness for ephemeral keys, indices and cookies; the system CSPRNG
        ///     unless a test injects a deterministic one.
        public init(privateKey: PrivateKey, configuration: DeviceConfiguration = DeviceConfiguration(),
                    wallClock: WallClockAnchor, random: RandomSource = .system) {
            self.configuration = configuration
            identity = StaticIdentity(privateKey: privateKey)
            cookieChecker = CookieChecker(publicKey: privateKey.publicKey)
            ratelimiter = Ratelimiter(maximumEntries: configuration.ratelimiterEntries)
            self.random = random
            jitterState = random.uint64()
            self.wallClock = wallClock
            scratch = .allocate(byteCount: WireGuard.handshakeInitiationLength, alignment: 16)
            scratch.initializeMemory(as: UInt8.self, repeating: 0)
        }

        deinit {
            scratch.deallocate()
        }

        // MARK: Identity and peers

        /// S_pub.
        public var publicKey: PublicKey { identity.publicKey }

        /// Replaces the static key (as `wg set private-key`): a peer with the new public key is
        /// removed, handshakes in progress are dropped and current sessions stop sending, so
        /// the next packet to each peer starts a handshake under the new key.
        public func setPrivateKey(_ privateKey: PrivateKey) {
            if let clash = peersByKey[privateKey.publicKey] { removePeer(clash) }
            identity = StaticIdentity(privateKey: privateKey)
            cookieChecker.update(publicKey: privateKey.publicKey)
            for case let peer? in peerSlots {
                peer.handshake.precomputeStaticStatic(identity: identity)
                zeroHandshake(of: peer)
                peer.keypairs.expireForSending()
            }
        }

        /// Resets the wall-clock anchor (e.g. after the driver noticed a clock step forward).
        /// Timestamps only need to increase per peer; see `WallClockAnchor`.
        public func setWallClock(_ anchor: WallClockAnchor) {
            wallClock = anchor
        }

        /// Adds a peer. With a persistent keepalive and an endpoint, the first keepalive (and so
        /// the first handshake) goes out on the next `tick`, as the kernel sends one when the
        /// interval is configured.
        @discardableResult
        public func addPeer(_ peer: PeerConfiguration<Endpoint>, now: Instant) throws(PeerError) -> PeerID {
            guard peersByKey[peer.publicKey] == nil else { throw .duplicatePublicKey }
            guard peer.publicKey != identity.publicKey else { throw .ownPublicKey }
            guard peersByKey.count < WireGuard.maxPeers else { throw .tooManyPeers }
            let id: PeerID
            if let slot = freeSlots.popLast() {
                id = PeerID(slot: slot, generation: generations[Int(slot)])
            } else {
                id = PeerID(slot: UInt32(peerSlots.count), generation: 0)
                peerSlots.append(nil)
                generations.append(0)
            }
            let state = Peer<Endpoint>(id: id, configuration: peer, identity: identity,
                                       stagedLimit: configuration.stagedPacketLimit, mtu: configuration.mtu)
            if peer.persistentKeepalive != nil { state.timers.persistentKeepalive = now }
            peerSlots[Int(id.slot)] = state
            peersByKey[peer.publicKey] = id
            for prefix in peer.allowedIPs { allowedIPs.insert(prefix, for: id) }
            return id
        }

        /// Removes a peer, erasing its keys. Its handle becomes invalid.
        public func removePeer(_ id: PeerID) {
            guard let peer = peer(id) else { return }
            zeroHandshake(of: peer)
            peer.keypairs.removeAll(retire: retire)
            peer.staged.removeAll()
            peer.timers.stopAll()
            peersByKey[peer.publicKey] = nil
            allowedIPs.remove(peer: id)
            peerSlots[Int(id.slot)] = nil
            generations[Int(id.slot)] &+= 1
            freeSlots.append(id.slot)
        }

        /// The current peers.
        public var peers: [PeerID] {
            peerSlots.compactMap { $0?.id }
        }

        public func peer(withPublicKey publicKey: PublicKey) -> PeerID? {
            peersByKey[publicKey]
        }

        public func publicKey(of id: PeerID) -> PublicKey? {
            peer(id)?.publicKey
        }

        /// The peer's current endpoint: configured, or learnt from its latest authenticated packet.
        public func endpoint(of id: PeerID) -> Endpoint? {
            peer(id)?.endpoint
        }

        public func setEndpoint(_ endpoint: Endpoint?, of id: PeerID) {
            peer(id)?.endpoint = endpoint
        }

        public func setPresharedKey(_ presharedKey: PresharedKey, of id: PeerID) {
            peer(id)?.handshake.presharedKey = presharedKey
        }

        /// Sets or clears the persistent keepalive; a new interval sends a keepalive on the next tick.
        public func setPersistentKeepalive(_ interval: Interval?, of id: PeerID, now: Instant) {
            guard let peer = peer(id) else { return }
            let wasOff = peer.persistentKeepalive == nil
            peer.persistentKeepalive = interval
            if interval == nil {
                peer.timers.persistentKeepalive = nil
            } else if wasOff {
                peer.timers.persistentKeepalive = now
            }
        }

        /// The peer's allowed IPs, sorted (IPv4 first), as `wg show` lists them.
        public func allowedIPs(of id: PeerID) -> [IPPrefix] {
            allowedIPs.prefixes(of: id)
        }

        /// Replaces the peer's allowed IPs (`wg set ... allowed-ips`); prefixes held by other
        /// peers move to this one.
        public func setAllowedIPs(_ prefixes: [IPPrefix], of id: PeerID) {
            guard peer(id) != nil else { return }
            allowedIPs.remove(peer: id)
            for prefix in prefixes { allowedIPs.insert(prefix, for: id) }
        }

        /// Adds one allowed IP to the peer, taking it from any other peer.
        public func addAllowedIP(_ prefix: IPPrefix, to id: PeerID) {
            guard peer(id) != nil else { return }
            allowedIPs.insert(prefix, for: id)
        }

        /// The peer a packet for `destination` goes to (§2), if any.
        public func peer(forDestination destination: IPAddress) -> PeerID? {
            allowedIPs.lookup(destination)
        }

        public func statistics(of id: PeerID) -> PeerStatistics? {
            peer(id)?.statistics
        }

        func peer(_ id: PeerID) -> Peer<Endpoint>? {
            guard Int(id.slot) < peerSlots.count, let peer = peerSlots[Int(id.slot)], peer.id == id else { return nil }
            return peer
        }

        // MARK: Timers, §6

        /// Runs every peer's expired timers. Returns the next instant something is due, so the
        /// driver can sleep until then (it may tick earlier; nothing happens before a deadline).
        @discardableResult
        public func tick(now: Instant, output: OutputHandler) -> Instant? {
            var earliest: Instant?
            for slot in peerSlots.indices {
                guard let peer = peerSlots[slot] else { continue }
                let expired = peer.timers.takeExpired(now: now)
                if !expired.isEmpty { runExpiredTimers(expired, of: peer, now: now, output: output) }
                if let due = peer.timers.nextDeadline, earliest.map({ due < $0 }) ?? true { earliest = due }
            }
            return earliest
        }

        // MARK: Bookkeeping

        /// Drops a keypair from the index table and wipes it.
        func retire(_ keypair: Keypair) {
            indexTable.removeKeypair(keypair)
            keypair.destroy()
        }

        /// Drops the handshake in progress and its index.
        func zeroHandshake(of peer: Peer<Endpoint>) {
            if let index = peer.handshake.localIndex { indexTable.removeHandshake(index) }
            peer.handshake.zero()
        }

        // The per-packet AllowedIPs lookups take the table `inout`. Read from a class's stored
        // property for a call that is not inlined, the table would be copied (its four buffers
        // retained and released, ~250 instructions a packet under callgrind); an inout access lends
        // it in place. The lookups do not modify it.

        /// The peer for the destination of the IP packet at `packet[0]` (sending, §2).
        @inline(__always)
        static func lookup(packetDestination packet: UnsafeRawBufferPointer, in table: inout AllowedIPs<PeerID>) -> PeerID? {
            table.lookup(packetDestination: packet)
        }

        /// Whether the source of the decrypted IP packet at `packet[0]` routes back to `peer` (§2).
        @inline(__always)
        static func allows(_ peer: PeerID, packetSource packet: UnsafeRawBufferPointer,
                           in table: inout AllowedIPs<PeerID>) -> Bool {
            table.allows(peer, packetSource: packet)
        }

        /// Counts a drop and returns the reason, for `return .drop(count(...))`.
        @discardableResult
        func count(_ reason: DropReason) -> DropReason {
            drops[reason] += 1
            return reason
        }

        /// Counts `number` drops at once.
        func countDrops(_ reason: DropReason, _ number: Int) {
            drops[reason] += UInt64(number)
        }

        /// Uniform jitter in [0, REKEY_TIMEOUT_JITTER_MAX) from a SplitMix64 stream.
        func nextJitter() -> Interval {
            jitterState &+= 0x9E37_79B9_7F4A_7C15
            var z = jitterState
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            // Multiply-shift maps 64 random bits onto the range without a division.
            let range = WireGuard.rekeyTimeoutJitterMax.nanoseconds
            return Interval(nanoseconds: UInt64((UInt128(z) * UInt128(range)) >> 64))
        }
    }
}
