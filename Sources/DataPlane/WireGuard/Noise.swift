// The Noise_IKpsk2 handshake as WireGuard instantiates it (whitepaper §5.4): the initiation
// (§5.4.2) and response (§5.4.3) messages, both directions, and the derivation of the transport
// keys (§5.4.5). Each step is commented with its Noise token:
//
//     initiator → responder:  e, es, s, ss, {t}
//     responder → initiator:  e, ee, se, psk, {}
//
// C is the chaining key, H the running hash, κ a one-use AEAD key. The per-peer `Handshake`
// holds the state between messages; intermediate secrets are wiped as soon as they are used.

import WeftCrypto

extension WireGuard {
    /// This device's static key pair (S_priv, S_pub).
    struct StaticIdentity {
        let privateKey: PrivateKey
        var publicKey: PublicKey { privateKey.publicKey }
    }

    /// Where a peer's handshake stands (kernel: noise_handshake_state).
    enum HandshakeState: Sendable {
        case zeroed
        case createdInitiation
        case consumedInitiation
        case createdResponse
        case consumedResponse
    }

    /// Why a handshake message was refused.
    enum HandshakeError: Error, Sendable {
        /// An AEAD in the message did not authenticate (wrong keys or PSK, or tampering).
        case decryptionFailed
        /// A Diffie-Hellman result was all zero: a low-order public key.
        case weakKey
        /// The initiation came from a static key that is not one of our peers.
        case unknownPeer
        /// The initiation's TAI64N is not newer than the last one from this peer: a replay (§5.1).
        case staleTimestamp
        /// Initiations from this peer arrive faster than INITIATIONS_PER_SECOND.
        case flood
        /// The message does not fit the handshake's state (e.g. a response we did not ask for).
        case unexpected
    }

    /// The Noise symmetric-state operations, on caller-held C and H.
    enum Noise {
        /// C₀ = HASH(CONSTRUCTION).
        static let initialChainingKey: Bytes32 = {
            var construction = WireGuard.construction
            return construction.withUTF8 { BLAKE2s.hash(UnsafeRawBufferPointer($0)) }
        }()

        /// H₀ = HASH(C₀ || IDENTIFIER).
        static let initialHash: Bytes32 = {
            var identifier = WireGuard.identifier
            return identifier.withUTF8 { text in
                initialChainingKey.withUnsafeBytes { BLAKE2s.hash($0, UnsafeRawBufferPointer(text)) }
            }
        }()

        static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

        /// H = HASH(H || data).
        static func mixHash(_ hash: inout Bytes32, _ data: UnsafeRawBufferPointer) {
            hash = hash.withUnsafeBytes { BLAKE2s.hash($0, data) }
        }

        static func mixHash(_ hash: inout Bytes32, _ value: Bytes32) {
            value.withUnsafeBytes { mixHash(&hash, $0) }
        }

        /// C = KDF1(C, input).
        static func mixKey(_ chainingKey: inout Bytes32, _ input: UnsafeRawBufferPointer) {
            let next = KDF.kdf1(key: chainingKey, input: input)
            chainingKey.zeroize()
            chainingKey = next
        }

        /// (C, κ) = KDF2(C, input); returns κ.
        static func mixKeyAndDerive(_ chainingKey: inout Bytes32, _ input: UnsafeRawBufferPointer) -> Bytes32 {
            let (next, key) = KDF.kdf2(key: chainingKey, input: input)
            chainingKey.zeroize()
            chainingKey = next
            return key
        }

        /// DH(private, public), refusing the all-zero result of a low-order point.
        static func dh(_ privateKey: PrivateKey, _ publicKey: PublicKey) throws(HandshakeError) -> Bytes32 {
            do {
                return try privateKey.sharedSecret(with: publicKey)
            } catch {
                throw .weakKey
            }
        }

        /// C = KDF1(C, DH(private, public)).
        static func mixDH(_ chainingKey: inout Bytes32, _ privateKey: PrivateKey,
                          _ publicKey: PublicKey) throws(HandshakeError) {
            var shared = try dh(privateKey, publicKey)
            defer { shared.zeroize() }
            shared.withUnsafeBytes { mixKey(&chainingKey, $0) }
        }

        /// (C, κ) = KDF2(C, DH(private, public)); returns κ.
        static func mixDHAndDerive(_ chainingKey: inout Bytes32, _ privateKey: PrivateKey,
                                   _ publicKey: PublicKey) throws(HandshakeError) -> Bytes32 {
            var shared = try dh(privateKey, publicKey)
            defer { shared.zeroize() }
            return shared.withUnsafeBytes { mixKeyAndDerive(&chainingKey, $0) }
        }

        /// (C, τ, κ) = KDF3(C, Q); H = HASH(H || τ); returns κ (§5.4.3, the `psk` token).
        static func mixPresharedKey(_ chainingKey: inout Bytes32, _ hash: inout Bytes32, _ psk: PresharedKey) -> Bytes32 {
            var (next, tau, key) = psk.withUnsafeBytes { KDF.kdf3(key: chainingKey, input: $0) }
            chainingKey.zeroize()
            chainingKey = next
            mixHash(&hash, tau)
            tau.zeroize()
            next.zeroize()
            return key
        }

        /// out = AEAD(κ, 0, plaintext, H); H = HASH(H || out). `ciphertext` holds plaintext + 16.
        static func encrypt(_ plaintext: UnsafeRawBufferPointer, into ciphertext: UnsafeMutableRawBufferPointer,
                            key: Bytes32, hash: inout Bytes32) {
            key.withUnsafeBytes { key in
                hash.withUnsafeBytes { ad in
                    ChaChaPoly.seal(plaintext, into: ciphertext, additionalData: ad, counter: 0, key: key)
                }
            }
            mixHash(&hash, UnsafeRawBufferPointer(ciphertext))
        }

        /// plaintext = AEAD⁻¹(κ, 0, ciphertext, H); H = HASH(H || ciphertext). False if it does
        /// not authenticate (H is then left unchanged).
        static func decrypt(_ ciphertext: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawBufferPointer,
                            key: Bytes32, hash: inout Bytes32) -> Bool {
            let opened = key.withUnsafeBytes { key in
                hash.withUnsafeBytes { ad in
                    ChaChaPoly.open(ciphertext, into: plaintext, additionalData: ad, counter: 0, key: key)
                }
            }
            if opened { mixHash(&hash, ciphertext) }
            return opened
        }
    }

    /// An initiation decrypted up to the initiator's static key (`e`, `es`, `s`): enough to find
    /// the peer, whose handshake then finishes the job (`ss`, `{t}`).
    struct InitiationInProgress {
        var chainingKey: Bytes32
        var hash: Bytes32
        let remoteEphemeral: PublicKey
        let initiatorStatic: PublicKey
        let senderIndex: UInt32

        /// Responder side of `e`, `es`, `s` (§5.4.2) for a message sent to `identity`.
        init(decrypting message: HandshakeInitiationMessage, identity: StaticIdentity) throws(HandshakeError) {
            var chainingKey = Noise.initialChainingKey
            var hash = Noise.initialHash
            defer { chainingKey.zeroize() }
            // H = HASH(H || S_pub_r): the initiator mixed in our public key.
            Noise.mixHash(&hash, identity.publicKey.raw)

            // e: C = KDF1(C, E_pub_i); H = HASH(H || E_pub_i)
            let ephemeral = PublicKey(raw: Bytes32(copying: UnsafeRawBufferPointer(message.ephemeral)))
            Noise.mixKey(&chainingKey, UnsafeRawBufferPointer(message.ephemeral))
            Noise.mixHash(&hash, UnsafeRawBufferPointer(message.ephemeral))

            // es: (C, κ) = KDF2(C, DH(S_priv_r, E_pub_i))
            var key = try Noise.mixDHAndDerive(&chainingKey, identity.privateKey, ephemeral)
            defer { key.zeroize() }

            // s: S_pub_i = AEAD⁻¹(κ, 0, msg.static, H); H = HASH(H || msg.static)
            var initiatorStatic = Bytes32()
            let opened = initiatorStatic.withUnsafeMutableBytes {
                Noise.decrypt(UnsafeRawBufferPointer(message.encryptedStatic), into: $0, key: key, hash: &hash)
            }
            guard opened else { throw .decryptionFailed }

            self.chainingKey = chainingKey
            self.hash = hash
            self.remoteEphemeral = ephemeral
            self.initiatorStatic = PublicKey(raw: initiatorStatic)
            self.senderIndex = message.senderIndex
        }

        mutating func zeroize() {
            chainingKey.zeroize()
            hash.zeroize()
        }
    }

    /// The keys and indices of a freshly derived session (§5.4.5).
    struct SessionKeys {
        var sending: Bytes32
        var receiving: Bytes32
        let isInitiator: Bool
        let localIndex: UInt32
        let remoteIndex: UInt32

        mutating func zeroize() {
            sending.zeroize()
            receiving.zeroize()
        }
    }

    /// The per-peer handshake state between messages (kernel: noise_handshake).
    struct Handshake {
        /// S_pub of the peer.
        let remoteStatic: PublicKey
        /// Q, all zero when not configured.
        var presharedKey: PresharedKey
        /// DH(S_priv, S_pub of the peer), computed once per static key; nil when it is all zero
        /// (a low-order peer key), which makes every handshake with this peer fail.
        private(set) var precomputedStaticStatic: SecretBytes?

        private(set) var state: HandshakeState = .zeroed
        /// Our index for this handshake while it is registered in the index table; it passes to
        /// the keypair when the session is derived.
        var localIndex: UInt32?
        private(set) var remoteIndex: UInt32 = 0
        private var ephemeralPrivate: PrivateKey?
        private var remoteEphemeral = PublicKey(raw: Bytes32())
        private var hash = Bytes32()
        private var chainingKey = Bytes32()

        /// Greatest TAI64N received in an initiation from this peer (§5.1); survives zeroing.
        private(set) var latestTimestamp: TAI64N?
        /// When the last initiation from this peer was accepted, for the flood check.
        private(set) var lastInitiationConsumption: Instant?

        init(remoteStatic: PublicKey, presharedKey: PresharedKey, identity: StaticIdentity) {
            self.remoteStatic = remoteStatic
            self.presharedKey = presharedKey
            precomputeStaticStatic(identity: identity)
        }

        /// Recomputes DH(S_priv, S_pub_peer), after creation or a change of our static key.
        mutating func precomputeStaticStatic(identity: StaticIdentity) {
            if var shared = try? Noise.dh(identity.privateKey, remoteStatic) {
                precomputedStaticStatic = shared.withUnsafeBytes { SecretBytes(copying: $0) }
                shared.zeroize()
            } else {
                precomputedStaticStatic = nil
            }
        }

        /// (C, κ) = KDF2(C, DH(S_priv, S_pub_peer)) from the precomputed value: the `ss` token.
        private func mixStaticStatic(_ chainingKey: inout Bytes32) throws(HandshakeError) -> Bytes32 {
            guard let shared = precomputedStaticStatic else { throw .weakKey }
            return shared.withUnsafeBytes { Noise.mixKeyAndDerive(&chainingKey, $0) }
        }

        // MARK: Initiator, §5.4.2

        /// Writes a handshake initiation into `message` (all but the MACs) and enters
        /// `createdInitiation`.
        mutating func createInitiation(into message: HandshakeInitiationMessage, identity: StaticIdentity,
                                       ephemeral: PrivateKey, timestamp: TAI64N,
                                       senderIndex: UInt32) throws(HandshakeError) {
            var chainingKey = Noise.initialChainingKey
            var hash = Noise.initialHash
            defer { chainingKey.zeroize() }
            // H = HASH(H || S_pub_r)
            Noise.mixHash(&hash, remoteStatic.raw)

            // e: msg.ephemeral = E_pub_i; C = KDF1(C, E_pub_i); H = HASH(H || E_pub_i)
            ephemeral.publicKey.raw.withUnsafeBytes { message.ephemeral.copyMemory(from: $0) }
            Noise.mixKey(&chainingKey, UnsafeRawBufferPointer(message.ephemeral))
            Noise.mixHash(&hash, UnsafeRawBufferPointer(message.ephemeral))

            // es: (C, κ) = KDF2(C, DH(E_priv_i, S_pub_r))
            var key = try Noise.mixDHAndDerive(&chainingKey, ephemeral, remoteStatic)
            defer { key.zeroize() }

            // s: msg.static = AEAD(κ, 0, S_pub_i, H); H = HASH(H || msg.static)
            identity.publicKey.raw.withUnsafeBytes {
                Noise.encrypt($0, into: message.encryptedStatic, key: key, hash: &hash)
            }

            // ss: (C, κ) = KDF2(C, DH(S_priv_i, S_pub_r))
            key.zeroize()
            key = try mixStaticStatic(&chainingKey)

            // {t}: msg.timestamp = AEAD(κ, 0, TAI64N(), H); H = HASH(H || msg.timestamp)
            var stamp: (UInt64, UInt32) = (0, 0)
            withUnsafeMutableBytes(of: &stamp) { raw in
                let twelve = UnsafeMutableRawBufferPointer(rebasing: raw[0 ..< WireGuard.timestampLength])
                timestamp.write(to: twelve)
                Noise.encrypt(UnsafeRawBufferPointer(twelve), into: message.encryptedTimestamp, key: key, hash: &hash)
            }

            message.senderIndex = senderIndex
            self.chainingKey.zeroize()
            self.chainingKey = chainingKey
            self.hash = hash
            ephemeralPrivate = ephemeral
            localIndex = senderIndex
            state = .createdInitiation
        }

        // MARK: Responder, §5.4.2 (second half)

        /// Finishes an initiation addressed to this peer (`ss`, `{t}`), checks its timestamp
        /// against replays and floods (§5.1), and enters `consumedInitiation`.
        mutating func consumeInitiation(_ progress: inout InitiationInProgress, message: HandshakeInitiationMessage,
                                        now: Instant) throws(HandshakeError) {
            defer { progress.zeroize() }
            // ss: (C, κ) = KDF2(C, DH(S_priv_r, S_pub_i))
            var key = try mixStaticStatic(&progress.chainingKey)
            defer { key.zeroize() }

            // {t}: TAI64N = AEAD⁻¹(κ, 0, msg.timestamp, H); H = HASH(H || msg.timestamp)
            var stamp: (UInt64, UInt32) = (0, 0)
            let timestamp: TAI64N? = withUnsafeMutableBytes(of: &stamp) { raw in
                let twelve = UnsafeMutableRawBufferPointer(rebasing: raw[0 ..< WireGuard.timestampLength])
                guard Noise.decrypt(UnsafeRawBufferPointer(message.encryptedTimestamp), into: twelve,
                                    key: key, hash: &progress.hash) else { return nil }
                return TAI64N(bytes: UnsafeRawBufferPointer(twelve))
            }
            guard let timestamp else { throw .decryptionFailed }

            // An initiation is only accepted with a timestamp greater than every earlier one, so
            // a captured initiation cannot be replayed to reset the session (§5.1) ...
            if let latest = latestTimestamp, timestamp <= latest { throw .staleTimestamp }
            // ... and at most INITIATIONS_PER_SECOND are processed, so a peer (or a replayer of
            // fresh-looking messages) cannot make us do Curve25519 work at line rate.
            let floodInterval = Interval(nanoseconds: 1_000_000_000 / WireGuard.initiationsPerSecond)
            if let last = lastInitiationConsumption, !now.hasElapsed(floodInterval, since: last) { throw .flood }

            remoteEphemeral = progress.remoteEphemeral
            latestTimestamp = timestamp
            chainingKey.zeroize()
            chainingKey = progress.chainingKey
            hash = progress.hash
            remoteIndex = progress.senderIndex
            lastInitiationConsumption = now
            state = .consumedInitiation
        }

        // MARK: Responder, §5.4.3

        /// Writes the handshake response into `message` (all but the MACs) and enters
        /// `createdResponse`.
        mutating func createResponse(into message: HandshakeResponseMessage, ephemeral: PrivateKey,
                                     senderIndex: UInt32) throws(HandshakeError) {
            guard state == .consumedInitiation else { throw .unexpected }
            var chainingKey = self.chainingKey
            var hash = self.hash
            defer { chainingKey.zeroize() }

            // e: msg.ephemeral = E_pub_r; C = KDF1(C, E_pub_r); H = HASH(H || E_pub_r)
            ephemeral.publicKey.raw.withUnsafeBytes { message.ephemeral.copyMemory(from: $0) }
            Noise.mixKey(&chainingKey, UnsafeRawBufferPointer(message.ephemeral))
            Noise.mixHash(&hash, UnsafeRawBufferPointer(message.ephemeral))

            // ee: C = KDF1(C, DH(E_priv_r, E_pub_i))
            try Noise.mixDH(&chainingKey, ephemeral, remoteEphemeral)
            // se: C = KDF1(C, DH(E_priv_r, S_pub_i))
            try Noise.mixDH(&chainingKey, ephemeral, remoteStatic)

            // psk: (C, τ, κ) = KDF3(C, Q); H = HASH(H || τ)
            var key = Noise.mixPresharedKey(&chainingKey, &hash, presharedKey)
            defer { key.zeroize() }

            // {}: msg.empty = AEAD(κ, 0, ε, H); H = HASH(H || msg.empty)
            Noise.encrypt(Noise.empty, into: message.encryptedEmpty, key: key, hash: &hash)

            message.senderIndex = senderIndex
            message.receiverIndex = remoteIndex
            self.chainingKey.zeroize()
            self.chainingKey = chainingKey
            self.hash = hash
            ephemeralPrivate = ephemeral
            localIndex = senderIndex
            state = .createdResponse
        }

        // MARK: Initiator, §5.4.3

        /// Consumes the response to our initiation (`e`, `ee`, `se`, `psk`, `{}`) and enters
        /// `consumedResponse`.
        mutating func consumeResponse(_ message: HandshakeResponseMessage, identity: StaticIdentity) throws(HandshakeError) {
            guard state == .createdInitiation, let ephemeralPrivate, localIndex == message.receiverIndex else {
                throw .unexpected
            }
            var chainingKey = self.chainingKey
            var hash = self.hash
            defer { chainingKey.zeroize() }

            // e: C = KDF1(C, E_pub_r); H = HASH(H || E_pub_r)
            let ephemeral = PublicKey(raw: Bytes32(copying: UnsafeRawBufferPointer(message.ephemeral)))
            Noise.mixKey(&chainingKey, UnsafeRawBufferPointer(message.ephemeral))
            Noise.mixHash(&hash, UnsafeRawBufferPointer(message.ephemeral))

            // ee: C = KDF1(C, DH(E_priv_i, E_pub_r))
            try Noise.mixDH(&chainingKey, ephemeralPrivate, ephemeral)
            // se: C = KDF1(C, DH(S_priv_i, E_pub_r))
            try Noise.mixDH(&chainingKey, identity.privateKey, ephemeral)

            // psk: (C, τ, κ) = KDF3(C, Q); H = HASH(H || τ)
            var key = Noise.mixPresharedKey(&chainingKey, &hash, presharedKey)
            defer { key.zeroize() }

            // {}: ε = AEAD⁻¹(κ, 0, msg.empty, H); H = HASH(H || msg.empty)
            let opened = Noise.decrypt(UnsafeRawBufferPointer(message.encryptedEmpty),
                                       into: UnsafeMutableRawBufferPointer(start: nil, count: 0), key: key, hash: &hash)
            guard opened else { throw .decryptionFailed }

            remoteEphemeral = ephemeral
            self.chainingKey.zeroize()
            self.chainingKey = chainingKey
            self.hash = hash
            remoteIndex = message.senderIndex
            state = .consumedResponse
        }

        // MARK: Transport keys, §5.4.5

        /// Derives the session's keys once both messages are through, then zeroes the handshake:
        /// (T_send_i = T_recv_r, T_recv_i = T_send_r) = KDF2(C, ε). Nil in any other state.
        mutating func deriveSession() -> SessionKeys? {
            guard state == .createdResponse || state == .consumedResponse, let localIndex else { return nil }
            let isInitiator = state == .consumedResponse
            let (first, second) = KDF.kdf2(key: chainingKey, input: Noise.empty)
            let keys = SessionKeys(sending: isInitiator ? first : second, receiving: isInitiator ? second : first,
                                   isInitiator: isInitiator, localIndex: localIndex, remoteIndex: remoteIndex)
            // The index now belongs to the keypair; the handshake holds no entry any more.
            self.localIndex = nil
            zero()
            return keys
        }

        /// Forgets the handshake in progress (ephemeral keys, C, H, indices); keeps what outlives
        /// handshakes: the peer's keys, the greatest timestamp and the flood clock. The caller
        /// removes `localIndex` from the index table first.
        mutating func zero() {
            state = .zeroed
            ephemeralPrivate = nil
            remoteEphemeral = PublicKey(raw: Bytes32())
            hash.zeroize()
            chainingKey.zeroize()
            remoteIndex = 0
            localIndex = nil
        }
    }
}
