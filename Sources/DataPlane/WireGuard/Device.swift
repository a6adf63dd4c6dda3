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
    /// Not thread-safe: one thread drives a device at a time. The `output` closures must not
    /// call back into the device.
    public final class Device<Endpoint: WireGuardEndpoint> {
        public typealias OutputHandler = (Output<Endpoint>) -> Void

        public let configuration: DeviceConfiguration
        private(set) var identity: StaticIdentity
        private var peerSlots: [Peer<Endpoint>?] = []
        private var generations: [UInt32] = []
        private var freeSlots: [UInt32] = []
        private var peersByKey: [PublicKey: PeerID] = [:]
        /// Cryptokey routing table: destination → peer when sending, source check when receiving.
        private var allowedIPs = AllowedIPs<PeerID>()
        private(set) var indexTable = IndexTable()
        private var cookieChecker: CookieChecker
        private var ratelimiter: Ratelimiter
        private let random: RandomSource
        /// Fast generator for timer jitter, seeded from `random`: jitter needs no secrecy and is
        /// drawn on the data path.
        private var jitterState: UInt64
        private var wallClock: WallClockAnchor
        /// Handshake messages, cookie replies and keepalives are built here.
        private let scratch: UnsafeMutableRawBufferPointer

        /// Per-reason counts of dropped packets.
        public private(set) var drops = DropCounters()

        /// Set by the driver while handshake messages arrive faster than it processes them
        /// (e.g. its receive queue is backing up). While set, and for a second after it is
        /// cleared, initiations and responses need a valid mac2 (§5.3, §5.4.7).
        public var isUnderLoad = false
        private var lastUnderLoad: Instant?

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

        // MARK: Sending, §5.4.6

        /// Bytes `encapsulate` needs in its buffer for a packet of `length` bytes: the 16-byte
        /// header room in front, the packet, padding to a multiple of 16 (capped at the MTU) and
        /// the 16-byte tag.
        public func bufferCapacity(forPacketLength length: Int) -> Int {
            WireGuard.transportHeaderLength + paddedLength(length) + WireGuard.tagLength
        }

        /// Encrypts an IP packet in place for the peer whose allowed IPs hold its destination
        /// (cryptokey routing, §2); `.drop(.noRoute)` when none does.
        ///
        /// - Parameters:
        ///   - packetLength: the IP packet's length; the packet sits at `buffer[16 ..< 16 + packetLength]`.
        ///   - buffer: at least `bufferCapacity(forPacketLength:)` bytes. On `.writeToNetwork` it
        ///     holds the transport message at its start.
        ///   - output: handshake initiations and packets that waited for a session, sent before
        ///     this packet's result is returned.
        public func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, now: Instant,
                                output: OutputHandler) -> EncapsulateResult<Endpoint> {
            guard packetLength >= 0, buffer.count >= WireGuard.transportHeaderLength + packetLength else {
                return .drop(count(.bufferTooSmall))
            }
            let packet = UnsafeRawBufferPointer(rebasing: buffer[WireGuard.transportHeaderLength ..< WireGuard.transportHeaderLength + packetLength])
            guard let id = allowedIPs.lookup(packetDestination: packet), let peer = peer(id) else {
                return .drop(count(.noRoute))
            }
            return encapsulate(packetLength: packetLength, in: buffer, peer: peer, now: now, output: output)
        }

        /// Encrypts an IP packet in place for a given peer, bypassing the routing lookup (for
        /// drivers that route themselves, e.g. an overlay with one peer per link). Buffer layout
        /// and results as the routed variant; an unknown peer gives `.drop(.noRoute)`.
        public func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, for id: PeerID,
                                now: Instant, output: OutputHandler) -> EncapsulateResult<Endpoint> {
            guard let peer = peer(id) else { return .drop(count(.noRoute)) }
            return encapsulate(packetLength: packetLength, in: buffer, peer: peer, now: now, output: output)
        }

        private func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, peer: Peer<Endpoint>,
                                 now: Instant, output: OutputHandler) -> EncapsulateResult<Endpoint> {
            let messageLength = bufferCapacity(forPacketLength: packetLength)
            guard packetLength >= 0, buffer.count >= messageLength else { return .drop(count(.bufferTooSmall)) }
            guard let endpoint = peer.endpoint else { return .drop(count(.noEndpoint)) }
            // Packets already waiting go first, to keep the order.
            if !peer.staged.isEmpty { sendStagedPackets(of: peer, now: now, output: output) }
            guard peer.staged.isEmpty, let keypair = usableSendingKeypair(of: peer, now: now) else {
                let packet = UnsafeRawBufferPointer(rebasing: buffer[WireGuard.transportHeaderLength ..< WireGuard.transportHeaderLength + packetLength])
                guard packet.count <= peer.staged.packetCapacity else { return .drop(count(.packetTooLarge)) }
                if peer.staged.append(packet) {
                    peer.statistics.stagedPacketsDropped += 1
                    count(.stagedQueueFull)
                }
                sendStagedPackets(of: peer, now: now, output: output)
                return .staged
            }
            let message = UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< messageLength])
            seal(message, packetLength: packetLength, with: keypair)
            peer.statistics.sentPackets += 1
            peer.statistics.sentBytes += UInt64(messageLength)
            dataMessagesSent(to: peer, includingData: packetLength > 0, now: now, output: output)
            return .writeToNetwork(0 ..< messageLength, to: endpoint)
        }

        /// The current keypair if it may send now; an expired one is marked so (kernel: the
        /// `out_invalid` path), which keep-key-fresh then sees.
        private func usableSendingKeypair(of peer: Peer<Endpoint>, now: Instant) -> Keypair? {
            guard let keypair = peer.keypairs.current, keypair.sendingIsValid else { return nil }
            guard keypair.canSend(now: now) else {
                keypair.sendingIsValid = false
                return nil
            }
            return keypair
        }

        /// Payload length after padding (§5.4.6): up to a multiple of 16, but not past the MTU,
        /// as the kernel computes it (lengths beyond the MTU are padded by their remainder).
        func paddedLength(_ length: Int) -> Int {
            let mtu = configuration.mtu
            var lastUnit = length
            if lastUnit > mtu { lastUnit %= mtu }
            let aligned = (lastUnit + WireGuard.paddingMultiple - 1) & ~(WireGuard.paddingMultiple - 1)
            return length + max(min(mtu, aligned) - lastUnit, 0)
        }

        /// Writes header, padding and tag around the packet at `message[16...]` and encrypts in
        /// place with the next counter: msg.packet = AEAD(T_send, counter, P || padding, ε).
        private func seal(_ message: UnsafeMutableRawBufferPointer, packetLength: Int, with keypair: Keypair) {
            let counter = keypair.sendingCounter
            keypair.sendingCounter += 1
            let transport = TransportDataMessage(initializingHeaderOf: message, receiverIndex: keypair.remoteIndex,
                                                 counter: counter)
            let payload = transport.ciphertext
            if payload.count > packetLength {
                _ = UnsafeMutableRawBufferPointer(rebasing: payload[packetLength...]).initializeMemory(as: UInt8.self, repeating: 0)
            }
            keypair.withSendingKey { key in
                ChaChaPoly.sealInPlace(payload, tag: transport.tag, additionalData: Noise.empty, counter: counter, key: key)
            }
        }

        /// Timer and rekey bookkeeping after transport messages went out (kernel:
        /// wg_packet_create_data_done).
        private func dataMessagesSent(to peer: Peer<Endpoint>, includingData: Bool, now: Instant, output: OutputHandler) {
            peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
            peer.timers.anyAuthenticatedPacketSent()
            if includingData, peer.timers.newHandshake == nil {
                peer.timers.dataSent(now: now, jitter: nextJitter())
            }
            keepKeyFreshAfterSending(peer, now: now, output: output)
        }

        /// §6.2: the initiator of the current session rekeys once it is REKEY_AFTER_TIME old;
        /// either side rekeys after REKEY_AFTER_MESSAGES.
        private func keepKeyFreshAfterSending(_ peer: Peer<Endpoint>, now: Instant, output: OutputHandler) {
            guard let keypair = peer.keypairs.current, keypair.sendingIsValid else { return }
            if keypair.sendingCounter > WireGuard.rekeyAfterMessages
                || (keypair.isInitiator && now.hasElapsed(WireGuard.rekeyAfterTime, since: keypair.birthdate)) {
                sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
            }
        }

        /// §6.2: an initiator that keeps receiving on a session about to reach REJECT_AFTER_TIME
        /// (less a keepalive and a rekey timeout) rekeys once, even without sending.
        private func keepKeyFreshAfterReceiving(_ peer: Peer<Endpoint>, now: Instant, output: OutputHandler) {
            guard !peer.timers.sentLastMinuteHandshake, let keypair = peer.keypairs.current,
                  keypair.sendingIsValid, keypair.isInitiator else { return }
            let horizon = Interval(nanoseconds: WireGuard.rejectAfterTime.nanoseconds
                - WireGuard.keepaliveTimeout.nanoseconds - WireGuard.rekeyTimeout.nanoseconds)
            if now.hasElapsed(horizon, since: keypair.birthdate) {
                peer.timers.sentLastMinuteHandshake = true
                sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
            }
        }

        /// Sends the packets waiting for a session if one is usable; otherwise starts a handshake.
        func sendStagedPackets(of peer: Peer<Endpoint>, now: Instant, output: OutputHandler) {
            guard !peer.staged.isEmpty else { return }
            guard let endpoint = peer.endpoint, let keypair = usableSendingKeypair(of: peer, now: now) else {
                sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
                return
            }
            var sentData = false
            var exhausted = false
            peer.staged.drain { slot, packetLength in
                // A session running out of counters mid-queue keeps the rest for the next one.
                guard keypair.sendingCounter < WireGuard.rejectAfterMessages else {
                    exhausted = true
                    return false
                }
                let message = UnsafeMutableRawBufferPointer(rebasing: slot[0 ..< bufferCapacity(forPacketLength: packetLength)])
                seal(message, packetLength: packetLength, with: keypair)
                output(.datagram(UnsafeRawBufferPointer(message), to: endpoint))
                peer.statistics.sentPackets += 1
                peer.statistics.sentBytes += UInt64(message.count)
                if packetLength > 0 { sentData = true }
                return true
            }
            dataMessagesSent(to: peer, includingData: sentData, now: now, output: output)
            if exhausted {
                keypair.sendingIsValid = false
                sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
            }
        }

        /// Sends a keepalive (an empty transport message, §6.5) unless packets are waiting, which
        /// then serve the purpose; without a session one is queued and a handshake started.
        func sendKeepalive(to peer: Peer<Endpoint>, now: Instant, output: OutputHandler) {
            guard let endpoint = peer.endpoint else { return }
            if peer.staged.isEmpty, let keypair = usableSendingKeypair(of: peer, now: now) {
                let message = UnsafeMutableRawBufferPointer(rebasing: scratch[0 ..< WireGuard.minimumTransportLength])
                seal(message, packetLength: 0, with: keypair)
                output(.datagram(UnsafeRawBufferPointer(message), to: endpoint))
                peer.statistics.sentPackets += 1
                peer.statistics.sentBytes += UInt64(message.count)
                dataMessagesSent(to: peer, includingData: false, now: now, output: output)
                return
            }
            if peer.staged.isEmpty {
                _ = peer.staged.append(UnsafeRawBufferPointer(start: nil, count: 0))
            }
            sendStagedPackets(of: peer, now: now, output: output)
        }

        // MARK: Handshake sending, §5.4.2, §5.4.3

        /// Sends a handshake initiation unless one went out less than REKEY_TIMEOUT ago (§6.1).
        /// A retry keeps the attempt count; anything else starts a new series of attempts.
        func sendHandshakeInitiation(to peer: Peer<Endpoint>, isRetry: Bool, now: Instant, output: OutputHandler) {
            if !isRetry { peer.timers.handshakeAttempts = 0 }
            if let last = peer.lastSentHandshake, !now.hasElapsed(WireGuard.rekeyTimeout, since: last) { return }
            guard let endpoint = peer.endpoint else { return }
            zeroHandshake(of: peer)
            let index = indexTable.insertHandshake(for: peer.id, random: random)
            let message = HandshakeInitiationMessage(initializing: scratch)
            do {
                try peer.handshake.createInitiation(into: message, identity: identity, ephemeral: random.privateKey(),
                                                    timestamp: timestamp(at: now), senderIndex: index)
            } catch {
                // Only a low-order peer key gets here; no handshake with it can ever succeed.
                indexTable.removeHandshake(index)
                return
            }
            peer.cookieJar.addMACs(to: message, now: now)
            peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
            peer.timers.anyAuthenticatedPacketSent()
            peer.lastSentHandshake = now
            peer.statistics.handshakesInitiated += 1
            peer.statistics.sentBytes += UInt64(message.bytes.count)
            output(.datagram(UnsafeRawBufferPointer(message.bytes), to: endpoint))
            peer.timers.handshakeInitiated(now: now, jitter: nextJitter())
        }

        /// Answers a consumed initiation and derives the (unconfirmed) session.
        private func sendHandshakeResponse(to peer: Peer<Endpoint>, now: Instant, output: OutputHandler) {
            guard let endpoint = peer.endpoint else { return }
            if let old = peer.handshake.localIndex { indexTable.removeHandshake(old) }
            let index = indexTable.insertHandshake(for: peer.id, random: random)
            let message = HandshakeResponseMessage(initializing: scratch)
            do {
                try peer.handshake.createResponse(into: message, ephemeral: random.privateKey(), senderIndex: index)
            } catch {
                indexTable.removeHandshake(index)
                peer.handshake.localIndex = nil
                return
            }
            peer.cookieJar.addMACs(to: message, now: now)
            guard beginSession(with: peer, now: now) else { return }
            peer.timers.sessionDerived(now: now)
            peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
            peer.timers.anyAuthenticatedPacketSent()
            peer.lastSentHandshake = now
            peer.statistics.sentBytes += UInt64(message.bytes.count)
            output(.datagram(UnsafeRawBufferPointer(message.bytes), to: endpoint))
        }

        /// Turns a finished handshake into a keypair (§5.4.5) and slots it in (§5.4.6).
        private func beginSession(with peer: Peer<Endpoint>, now: Instant) -> Bool {
            guard var keys = peer.handshake.deriveSession() else { return false }
            defer { keys.zeroize() }
            let keypair = Keypair(keys, birthdate: now)
            peer.keypairs.install(keypair, retire: retire)
            indexTable.assign(keys.localIndex, to: keypair)
            return true
        }

        /// A session was confirmed: handshake timers stop, counters and the event follow.
        private func handshakeCompleted(with peer: Peer<Endpoint>, now: Instant, output: OutputHandler) {
            peer.timers.handshakeComplete()
            peer.statistics.lastHandshake = now
            peer.statistics.handshakesCompleted += 1
            output(.event(.handshakeCompleted(peer.id)))
        }

        /// The TAI64N for an initiation sent at `now`. As the kernel does, the label carries
        /// TAI's 10-second offset (so a key moved from another implementation keeps increasing
        /// timestamps) and the nanoseconds are rounded down to 2^24 ns, below the resolution the
        /// flood check needs, so the exact send time does not leak.
        private func timestamp(at now: Instant) -> TAI64N {
            let unix = wallClock.unixNanoseconds(at: now)
            let nanoseconds = UInt32(unix % 1_000_000_000) & ~UInt32((1 << 24) - 1)
            return TAI64N(unixSeconds: Int64(unix / 1_000_000_000) + 10, nanoseconds: nanoseconds)
        }

        // MARK: Receiving

        /// Handles one datagram from the network.
        ///
        /// Transport data is authenticated and decrypted in place; handshake messages are
        /// consumed and answered through `output`. `source` is the datagram's sender: the peer's
        /// endpoint follows it when the datagram authenticates (§2.1).
        public func decapsulate(_ datagram: UnsafeMutableRawBufferPointer, from source: Endpoint, now: Instant,
                                output: OutputHandler) -> DecapsulateResult {
            guard let type = MessageType(of: UnsafeRawBufferPointer(datagram)) else {
                return .drop(count(datagram.count < WireGuard.messageTypeLength ? .malformed : .unknownMessageType))
            }
            switch type {
            case .transportData:
                return receiveTransportData(datagram, from: source, now: now, output: output)
            case .handshakeInitiation:
                guard let message = HandshakeInitiationMessage(parsing: datagram) else { return .drop(count(.malformed)) }
                return receiveInitiation(message, from: source, now: now, output: output)
            case .handshakeResponse:
                guard let message = HandshakeResponseMessage(parsing: datagram) else { return .drop(count(.malformed)) }
                return receiveResponse(message, from: source, now: now, output: output)
            case .cookieReply:
                guard let message = CookieReplyMessage(parsing: datagram) else { return .drop(count(.malformed)) }
                return receiveCookieReply(message, now: now)
            }
        }

        private func receiveTransportData(_ datagram: UnsafeMutableRawBufferPointer, from source: Endpoint, now: Instant,
                                          output: OutputHandler) -> DecapsulateResult {
            guard let message = TransportDataMessage(parsing: datagram) else { return .drop(count(.malformed)) }
            guard let entry = indexTable.lookup(message.receiverIndex), let keypair = entry.keypair,
                  let peer = peer(entry.peer) else { return .drop(count(.unknownIndex)) }
            guard keypair.canReceive(now: now), !keypair.replayWindow.isExhausted else {
                keypair.receivingIsValid = false
                return .drop(count(.expiredSession))
            }
            let counter = message.counter
            // Cheap replay check first; the window only moves after authentication.
            guard keypair.replayWindow.wouldAccept(counter) else { return .drop(count(.replay)) }
            let payload = message.ciphertext
            let opened = keypair.withReceivingKey { key in
                ChaChaPoly.openInPlace(payload, tag: UnsafeRawBufferPointer(message.tag), additionalData: Noise.empty,
                                       counter: counter, key: key)
            }
            guard opened else { return .drop(count(.decryptionFailed)) }
            guard keypair.replayWindow.accept(counter) else { return .drop(count(.replay)) }

            // The message is authentic: the peer is at `source` now (§2.1) ...
            updateEndpoint(of: peer, to: source, output: output)
            // ... and if it used the next keypair, that session is confirmed (§5.4.6).
            if peer.keypairs.confirm(receivedWith: keypair, retire: retire) {
                handshakeCompleted(with: peer, now: now, output: output)
                sendStagedPackets(of: peer, now: now, output: output)
            }
            keepKeyFreshAfterReceiving(peer, now: now, output: output)
            peer.timers.anyAuthenticatedPacketReceived()
            peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
            peer.statistics.receivedPackets += 1
            peer.statistics.receivedBytes += UInt64(datagram.count)

            if payload.isEmpty { return .done }     // a keepalive
            peer.timers.dataReceived(now: now)
            guard let length = Self.innerPacketLength(UnsafeRawBufferPointer(payload)) else {
                return .drop(count(.invalidInnerPacket))
            }
            // Cryptokey routing on receive (§2): the inner source must route back to this peer.
            guard allowedIPs.allows(peer.id, packetSource: UnsafeRawBufferPointer(payload)) else {
                return .drop(count(.sourceNotAllowed))
            }
            return .writeToTunnel(WireGuard.transportHeaderLength ..< WireGuard.transportHeaderLength + length, peer: peer.id)
        }

        /// The length the IP header claims, if the payload is an IPv4 or IPv6 packet that fits;
        /// the rest is padding.
        static func innerPacketLength(_ payload: UnsafeRawBufferPointer) -> Int? {
            guard let first = payload.first else { return nil }
            let length: Int
            switch first >> 4 {
            case 4:
                guard payload.count >= 20 else { return nil }
                length = Int(UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                guard length >= 20 else { return nil }
            case 6:
                guard payload.count >= 40 else { return nil }
                length = 40 + Int(UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
            default:
                return nil
            }
            return length <= payload.count ? length : nil
        }

        /// Whether handshake messages must carry a cookie now: under load, or within a second
        /// of having been (kernel: last_under_load).
        private func checkUnderLoad(now: Instant) -> Bool {
            if isUnderLoad {
                lastUnderLoad = now
                return true
            }
            guard let last = lastUnderLoad else { return false }
            if now.hasElapsed(WireGuard.underLoadHold, since: last) {
                lastUnderLoad = nil
                return false
            }
            return true
        }

        /// mac1 always, and under load mac2 and the rate limit (§5.3); answers with a cookie
        /// reply when mac2 is missing. Nil when the message may be processed.
        private func checkMACs(_ message: some MACProtectedMessage, senderIndex: UInt32, from source: Endpoint,
                               now: Instant, output: OutputHandler) -> DropReason? {
            let underLoad = checkUnderLoad(now: now)
            let address = source.sourceAddress
            switch cookieChecker.verify(message, from: address, checkCookie: underLoad, now: now, random: random,
                                        ratelimiter: &ratelimiter) {
            case .invalidMAC1:
                return .invalidMAC1
            case .validMAC1 where !underLoad, .validCookie:
                return nil
            case .validMAC1:
                let length = cookieChecker.writeCookieReply(into: scratch, answering: message, receiverIndex: senderIndex,
                                                            source: address, now: now, random: random)
                output(.datagram(UnsafeRawBufferPointer(rebasing: scratch[0 ..< length]), to: source))
                return .cookieRequired
            case .validCookieButRateLimited:
                return .rateLimited
            }
        }

        private func receiveInitiation(_ message: HandshakeInitiationMessage, from source: Endpoint, now: Instant,
                                       output: OutputHandler) -> DecapsulateResult {
            if let reason = checkMACs(message, senderIndex: message.senderIndex, from: source, now: now, output: output) {
                return .drop(count(reason))
            }
            var progress: InitiationInProgress
            do {
                progress = try InitiationInProgress(decrypting: message, identity: identity)
            } catch {
                return .drop(count(.handshakeDecryptionFailed))
            }
            guard let id = peersByKey[progress.initiatorStatic], let peer = peer(id) else {
                progress.zeroize()
                return .drop(count(.unknownPeer))
            }
            do {
                try peer.handshake.consumeInitiation(&progress, message: message, now: now)
            } catch {
                return .drop(count(Self.dropReason(for: error)))
            }
            updateEndpoint(of: peer, to: source, output: output)
            peer.statistics.receivedBytes += UInt64(message.bytes.count)
            peer.timers.anyAuthenticatedPacketReceived()
            peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
            sendHandshakeResponse(to: peer, now: now, output: output)
            return .done
        }

        private func receiveResponse(_ message: HandshakeResponseMessage, from source: Endpoint, now: Instant,
                                     output: OutputHandler) -> DecapsulateResult {
            if let reason = checkMACs(message, senderIndex: message.senderIndex, from: source, now: now, output: output) {
                return .drop(count(reason))
            }
            guard let entry = indexTable.lookup(message.receiverIndex), entry.keypair == nil,
                  let peer = peer(entry.peer) else { return .drop(count(.unknownIndex)) }
            do {
                try peer.handshake.consumeResponse(message, identity: identity)
            } catch {
                return .drop(count(Self.dropReason(for: error)))
            }
            updateEndpoint(of: peer, to: source, output: output)
            peer.statistics.receivedBytes += UInt64(message.bytes.count)
            peer.timers.anyAuthenticatedPacketReceived()
            peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
            if beginSession(with: peer, now: now) {
                peer.timers.sessionDerived(now: now)
                handshakeCompleted(with: peer, now: now, output: output)
                // Waiting packets confirm the session; without any, a keepalive does (§6.5).
                sendKeepalive(to: peer, now: now, output: output)
            }
            return .done
        }

        private func receiveCookieReply(_ message: CookieReplyMessage, now: Instant) -> DecapsulateResult {
            guard let entry = indexTable.lookup(message.receiverIndex), let peer = peer(entry.peer) else {
                return .drop(count(.unknownIndex))
            }
            guard peer.cookieJar.consume(message, now: now) else { return .drop(count(.invalidCookieReply)) }
            return .done
        }

        private static func dropReason(for error: HandshakeError) -> DropReason {
            switch error {
            case .decryptionFailed, .weakKey: .handshakeDecryptionFailed
            case .unknownPeer: .unknownPeer
            case .staleTimestamp: .staleTimestamp
            case .flood: .handshakeFlood
            case .unexpected: .unknownIndex
            }
        }

        /// Roaming (§2.1): the latest authenticated packet's source becomes the endpoint.
        private func updateEndpoint(of peer: Peer<Endpoint>, to source: Endpoint, output: OutputHandler) {
            guard peer.endpoint != source else { return }
            peer.endpoint = source
            output(.event(.endpointChanged(peer.id, source)))
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
        private func nextJitter() -> Interval {
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
