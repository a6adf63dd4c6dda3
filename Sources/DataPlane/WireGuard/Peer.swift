// Per-peer state (whitepaper §2, §5, §6): the peer's identity and configuration, its handshake,
// keypairs and cookie, its timers, the packets waiting for a session, and its counters.

import WeftCrypto
import WeftRouting

extension WireGuard {
    /// A handle to a peer of a `Device`. Stays unique after the peer is removed (the slot's
    /// generation changes), so a stale handle never reaches a newer peer.
    public struct PeerID: Hashable, Sendable, CustomStringConvertible {
        let slot: UInt32
        let generation: UInt32

        public var description: String { "peer#\(slot).\(generation)" }
    }

    /// A peer as configured (the fields of `wg set ... peer`).
    public struct PeerConfiguration<Endpoint: WireGuardEndpoint>: Sendable {
        public var publicKey: PublicKey
        /// Q of §5.4.3; `.zero` when not used.
        public var presharedKey: PresharedKey
        /// Where to send until the peer is heard from (§2.1: later its latest authenticated
        /// source wins).
        public var endpoint: Endpoint?
        /// Send a keepalive after this much silence in either direction (§6.5), for NATs.
        public var persistentKeepalive: Interval?
        /// Cryptokey routing (§2): destinations sent to this peer, and the only sources accepted
        /// from it. A prefix held by another peer moves to this one.
        public var allowedIPs: [IPPrefix]

        public init(publicKey: PublicKey, presharedKey: PresharedKey = .zero, endpoint: Endpoint? = nil,
                    persistentKeepalive: Interval? = nil, allowedIPs: [IPPrefix] = []) {
            self.publicKey = publicKey
            self.presharedKey = presharedKey
            self.endpoint = endpoint
            self.persistentKeepalive = persistentKeepalive
            self.allowedIPs = allowedIPs
        }
    }

    /// A peer's counters.
    public struct PeerStatistics: Sendable, Equatable {
        /// Transport data messages received and authenticated (keepalives included).
        public var receivedPackets: UInt64 = 0
        /// Bytes of all authenticated datagrams received (handshakes included), as `wg show`.
        public var receivedBytes: UInt64 = 0
        /// Transport data messages sent (keepalives included).
        public var sentPackets: UInt64 = 0
        /// Bytes of all datagrams sent to the peer (handshakes included).
        public var sentBytes: UInt64 = 0
        /// Handshake initiations sent, retransmissions included.
        public var handshakesInitiated: UInt64 = 0
        /// Sessions established (as initiator on the response, as responder on confirmation).
        public var handshakesCompleted: UInt64 = 0
        /// Times the handshake was given up after REKEY_ATTEMPT_TIME.
        public var handshakesFailed: UInt64 = 0
        /// Packets dropped for this peer while waiting for a session (queue overflow or give-up).
        public var stagedPacketsDropped: UInt64 = 0
        /// When the latest session was established.
        public var lastHandshake: Instant?

        public init() {}
    }

    /// Packets waiting for a session, oldest first, in one lazily allocated arena of fixed slots.
    ///
    /// Each slot is laid out as the transport message it will become (16-byte header room, the
    /// packet, padding and tag room) so that the flush encrypts in place. The arena is freed when
    /// the queue drains, so idle peers hold no memory.
    struct StagedPackets: ~Copyable {
        let limit: Int
        /// Largest packet a slot holds: the device MTU.
        let packetCapacity: Int
        let slotSize: Int
        private var arena: UnsafeMutableRawBufferPointer?
        private var lengths: UnsafeMutableBufferPointer<Int>?
        private var head = 0
        private(set) var count = 0

        init(limit: Int, packetCapacity: Int) {
            self.limit = max(limit, 1)
            self.packetCapacity = packetCapacity
            slotSize = WireGuard.transportHeaderLength + packetCapacity + WireGuard.paddingMultiple + WireGuard.tagLength
        }

        deinit {
            arena?.deallocate()
            lengths?.deallocate()
        }

        var isEmpty: Bool { count == 0 }

        /// Appends a copy of `packet`, dropping the oldest packet when full (as the kernel does:
        /// fresher packets matter more). Returns whether a packet was dropped.
        mutating func append(_ packet: UnsafeRawBufferPointer) -> Bool {
            precondition(packet.count <= packetCapacity)
            if arena == nil {
                arena = .allocate(byteCount: limit * slotSize, alignment: 16)
                lengths = .allocate(capacity: limit)
            }
            var dropped = false
            if count == limit {
                head = (head + 1) % limit
                count -= 1
                dropped = true
            }
            let slot = (head + count) % limit
            let packetStart = slot * slotSize + WireGuard.transportHeaderLength
            if packet.count > 0 {
                arena!.baseAddress!.advanced(by: packetStart).copyMemory(from: packet.baseAddress!, byteCount: packet.count)
            }
            lengths![slot] = packet.count
            count += 1
            return dropped
        }

        /// Hands each packet, oldest first, to `body` as (slot, packet length); the slot has the
        /// packet at offset 16 and room for padding and the tag. Stops early when `body` returns
        /// false, keeping that packet and the rest. Frees the arena once empty.
        mutating func drain(_ body: (UnsafeMutableRawBufferPointer, Int) -> Bool) {
            while count > 0 {
                let slot = UnsafeMutableRawBufferPointer(rebasing: arena![head * slotSize ..< (head + 1) * slotSize])
                guard body(slot, lengths![head]) else { return }
                head = (head + 1) % limit
                count -= 1
            }
            removeAll()
        }

        /// Discards every packet and frees the arena; returns how many were discarded.
        @discardableResult
        mutating func removeAll() -> Int {
            let discarded = count
            arena?.deallocate()
            lengths?.deallocate()
            arena = nil
            lengths = nil
            head = 0
            count = 0
            return discarded
        }
    }

    /// Everything the device keeps about one peer.
    final class Peer<Endpoint: WireGuardEndpoint> {
        let id: PeerID
        let publicKey: PublicKey
        var handshake: Handshake
        // Per-packet state: unchecked exclusivity as explained in `Device`.
        @exclusivity(unchecked) var keypairs = Keypairs()
        var cookieJar: CookieJar
        @exclusivity(unchecked) var timers = PeerTimers()
        /// Latest authenticated source (§2.1), or the configured endpoint until then.
        @exclusivity(unchecked) var endpoint: Endpoint?
        @exclusivity(unchecked) var persistentKeepalive: Interval?
        @exclusivity(unchecked) var staged: StagedPackets
        @exclusivity(unchecked) var statistics = PeerStatistics()
        /// When we last sent an initiation or response: initiations are sent at most once per
        /// REKEY_TIMEOUT (§6.1).
        var lastSentHandshake: Instant?

        init(id: PeerID, configuration: PeerConfiguration<Endpoint>, identity: StaticIdentity,
             stagedLimit: Int, mtu: Int) {
            self.id = id
            publicKey = configuration.publicKey
            handshake = Handshake(remoteStatic: configuration.publicKey, presharedKey: configuration.presharedKey,
                                  identity: identity)
            cookieJar = CookieJar(peerPublicKey: configuration.publicKey)
            endpoint = configuration.endpoint
            persistentKeepalive = configuration.persistentKeepalive
            staged = StagedPackets(limit: stagedLimit, packetCapacity: mtu)
        }
    }
}
