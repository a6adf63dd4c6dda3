// The handshake's denial-of-service defences (whitepaper §5.3, §5.4.4, §5.4.7), both sides:
//
// - mac1 = MAC(HASH(LABEL_MAC1 || S_pub of the receiver), msgα) proves the sender knows whom it
//   talks to, so a responder can drop junk after one BLAKE2s instead of a Curve25519 operation;
// - under load the responder also demands mac2 = MAC(cookie, msgβ), where the cookie is
//   MAC(R_m, A_m): a keyed hash of the sender's IP address and port under a secret R_m rotated
//   every two minutes. Without a valid mac2 it answers with a cookie reply, the cookie encrypted
//   with XChaCha20-Poly1305 under HASH(LABEL_COOKIE || S_pub of the responder), bound to the
//   mac1 of the message it answers (so only the real initiator can use it).
//
// `CookieChecker` is the responder side (one per device), `CookieJar` the initiator side (one per
// peer: the kernel's `latest_cookie`).

import WeftCrypto

extension WireGuard {
    /// 16 bytes inline: a MAC or a cookie.
    struct MAC16: Sendable {
        private var words: (UInt64, UInt64) = (0, 0)

        init() {}

        init(copying raw: UnsafeRawBufferPointer) {
            withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0 ..< 16])) }
        }

        func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            Swift.withUnsafeBytes(of: words, body)
        }

        mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
            Swift.withUnsafeMutableBytes(of: &words, body)
        }

        mutating func zeroize() {
            words = (0, 0)
        }
    }

    /// HASH(label || public key): the mac1 key and the cookie encryption key of `publicKey`.
    static func labelledKey(_ label: String, _ publicKey: PublicKey) -> Bytes32 {
        var label = label
        return label.withUTF8 { text in
            publicKey.raw.withUnsafeBytes { BLAKE2s.hash(UnsafeRawBufferPointer(text), $0) }
        }
    }

    /// Verifies mac1/mac2 of handshake messages sent to this device and makes cookie replies.
    struct CookieChecker {
        /// What the MACs of an incoming handshake message establish (kernel: cookie_mac_state).
        enum Verdict: Equatable {
            /// mac1 is wrong: the sender does not know our public key. Drop silently.
            case invalidMAC1
            /// mac1 is right; mac2 was not checked or is wrong.
            case validMAC1
            /// mac1 and mac2 are right, but the source exceeds its handshake rate.
            case validCookieButRateLimited
            /// mac1 and mac2 are right and the source is within its rate.
            case validCookie
        }

        /// HASH(LABEL_MAC1 || our public key).
        private var mac1Key: Bytes32
        /// HASH(LABEL_COOKIE || our public key).
        private var encryptionKey: Bytes32
        /// R_m: rotated every COOKIE_SECRET_MAX_AGE; generated on first use.
        private let secret = SecretBytes(count: WireGuard.keyLength)
        private var secretBirthdate: Instant?

        init(publicKey: PublicKey) {
            mac1Key = WireGuard.labelledKey(WireGuard.labelMAC1, publicKey)
            encryptionKey = WireGuard.labelledKey(WireGuard.labelCookie, publicKey)
        }

        /// Re-derives the keys after the device's static key changed.
        mutating func update(publicKey: PublicKey) {
            self = CookieChecker(publicKey: publicKey)
        }

        /// Checks mac1, and when `checkCookie` (the device is under load) mac2 and the rate limit.
        mutating func verify(_ message: some MACProtectedMessage, from source: SourceAddress,
                             checkCookie: Bool, now: Instant, random: RandomSource,
                             ratelimiter: inout Ratelimiter) -> Verdict {
            var computed = MAC16()
            computed.withUnsafeMutableBytes { output in
                mac1Key.withUnsafeBytes { BLAKE2s.mac16(key: $0, message.bytesBeforeMAC1, into: output) }
            }
            let mac1Valid = computed.withUnsafeBytes { ConstantTime.equal($0, UnsafeRawBufferPointer(message.mac1)) }
            guard mac1Valid else { return .invalidMAC1 }
            guard checkCookie else { return .validMAC1 }

            var cookie = makeCookie(for: source, now: now, random: random)
            defer { cookie.zeroize() }
            computed.withUnsafeMutableBytes { output in
                cookie.withUnsafeBytes { BLAKE2s.mac16(key: $0, message.bytesBeforeMAC2, into: output) }
            }
            let mac2Valid = computed.withUnsafeBytes { ConstantTime.equal($0, UnsafeRawBufferPointer(message.mac2)) }
            guard mac2Valid else { return .validMAC1 }
            guard ratelimiter.allow(source, now: now) else { return .validCookieButRateLimited }
            return .validCookie
        }

        /// Writes a cookie reply (§5.4.7) for `message` from `source` into `buffer`, addressed to
        /// the sender index of that message; returns the reply's length.
        mutating func writeCookieReply(into buffer: UnsafeMutableRawBufferPointer,
                                       answering message: some MACProtectedMessage,
                                       receiverIndex: UInt32, source: SourceAddress, now: Instant,
                                       random: RandomSource) -> Int {
            let reply = CookieReplyMessage(initializing: buffer)
            reply.receiverIndex = receiverIndex
            random.fill(reply.nonce)
            var cookie = makeCookie(for: source, now: now, random: random)
            defer { cookie.zeroize() }
            // msg.cookie = XAEAD(HASH(LABEL_COOKIE || S_pub), nonce, τ, mac1 of the message).
            cookie.withUnsafeBytes { plaintext in
                encryptionKey.withUnsafeBytes { key in
                    XChaChaPoly.seal(plaintext, into: reply.encryptedCookie,
                                     additionalData: UnsafeRawBufferPointer(message.mac1),
                                     nonce: UnsafeRawBufferPointer(reply.nonce), key: key)
                }
            }
            return CookieReplyMessage.length
        }

        /// τ = MAC(R_m, A_m), rotating R_m when it is two minutes old.
        private mutating func makeCookie(for source: SourceAddress, now: Instant, random: RandomSource) -> MAC16 {
            if secretBirthdate.map({ now.hasElapsed(WireGuard.cookieSecretMaxAge, since: $0) }) ?? true {
                secret.withUnsafeMutableBytes { random.fill($0) }
                secretBirthdate = now
            }
            var cookie = MAC16()
            cookie.withUnsafeMutableBytes { output in
                secret.withUnsafeBytes { key in
                    source.withCookieInput { BLAKE2s.mac16(key: key, $0, into: output) }
                }
            }
            return cookie
        }
    }

    /// The initiator side for one peer: adds mac1/mac2 to the handshake messages we send it and
    /// keeps the latest cookie it gave us (kernel: the peer's `latest_cookie`).
    struct CookieJar {
        /// HASH(LABEL_MAC1 || peer's public key).
        private let mac1Key: Bytes32
        /// HASH(LABEL_COOKIE || peer's public key).
        private let decryptionKey: Bytes32
        private var cookie = MAC16()
        private var cookieBirthdate: Instant?
        /// mac1 of the last handshake message we sent: a cookie reply must be bound to it.
        private var lastMAC1Sent = MAC16()
        private var hasSentMAC1 = false

        init(peerPublicKey: PublicKey) {
            mac1Key = WireGuard.labelledKey(WireGuard.labelMAC1, peerPublicKey)
            decryptionKey = WireGuard.labelledKey(WireGuard.labelCookie, peerPublicKey)
        }

        /// Whether a cookie is held that mac2 may still use at `now`: it is dropped a little
        /// before the responder would rotate the secret it came from.
        func hasValidCookie(now: Instant) -> Bool {
            guard let birthdate = cookieBirthdate else { return false }
            let lifetime = Interval(nanoseconds: WireGuard.cookieSecretMaxAge.nanoseconds
                - WireGuard.cookieSecretLatency.nanoseconds)
            return !now.hasElapsed(lifetime, since: birthdate)
        }

        /// Computes mac1, and mac2 when a fresh cookie is held (zero otherwise), into `message`.
        mutating func addMACs(to message: some MACProtectedMessage, now: Instant) {
            mac1Key.withUnsafeBytes { BLAKE2s.mac16(key: $0, message.bytesBeforeMAC1, into: message.mac1) }
            lastMAC1Sent = MAC16(copying: UnsafeRawBufferPointer(message.mac1))
            hasSentMAC1 = true
            if hasValidCookie(now: now) {
                cookie.withUnsafeBytes { BLAKE2s.mac16(key: $0, message.bytesBeforeMAC2, into: message.mac2) }
            } else {
                message.mac2.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }

        /// Decrypts a cookie reply answering our last handshake message; false if we sent none
        /// since the last cookie or the reply does not authenticate.
        mutating func consume(_ reply: CookieReplyMessage, now: Instant) -> Bool {
            guard hasSentMAC1 else { return false }
            var received = MAC16()
            let opened = received.withUnsafeMutableBytes { plaintext in
                lastMAC1Sent.withUnsafeBytes { mac1 in
                    decryptionKey.withUnsafeBytes { key in
                        XChaChaPoly.open(UnsafeRawBufferPointer(reply.encryptedCookie), into: plaintext,
                                         additionalData: mac1, nonce: UnsafeRawBufferPointer(reply.nonce), key: key)
                    }
                }
            }
            guard opened else { return false }
            cookie = received
            cookieBirthdate = now
            // One cookie per message sent: a second reply to the same message is not accepted.
            hasSentMAC1 = false
            return true
        }
    }
}
