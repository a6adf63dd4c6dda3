// WireGuard protocol constants: the whitepaper's §6.1 values, the wire sizes of §5.4 derived from
// their fields, and the implementation limits the Linux kernel module uses (messages.h).

/// Namespace for the sans-I/O WireGuard core (whitepaper: https://www.wireguard.com/papers/wireguard.pdf).
public enum WireGuard {}

extension WireGuard {
    // MARK: §6.1 protocol constants

    /// After this many messages on one session the initiator starts a new handshake (2^60).
    public static let rekeyAfterMessages: UInt64 = 1 << 60
    /// No message may use a counter at or above this value: 2^64 − 2^13 − 1. The 2^13 margin
    /// keeps the counter clear of the replay window's wraparound.
    public static let rejectAfterMessages: UInt64 = UInt64.max - (1 << 13)
    /// The initiator of the current session rekeys when sending on a session this old.
    public static let rekeyAfterTime = Interval.seconds(120)
    /// A session this old is not used for sending or receiving any more.
    public static let rejectAfterTime = Interval.seconds(180)
    /// How long handshake initiations are retried before the peer is given up on.
    public static let rekeyAttemptTime = Interval.seconds(90)
    /// Minimum time between handshake initiations to one peer, and the retransmission interval.
    public static let rekeyTimeout = Interval.seconds(5)
    /// A peer that received data and sent nothing back for this long sends a keepalive.
    public static let keepaliveTimeout = Interval.seconds(10)

    // MARK: Implementation values (as the Linux module)

    /// Up to this much random delay is added to handshake retransmissions (§6.4), so that two
    /// peers do not keep initiating in lockstep.
    public static let rekeyTimeoutJitterMax = Interval.milliseconds(333)
    /// Retransmissions before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT (§6.4).
    public static let maxTimerHandshakes = Int(rekeyAttemptTime.nanoseconds / rekeyTimeout.nanoseconds)
    /// Residual key material of a silent peer is erased after 3 × REJECT_AFTER_TIME (§6.3).
    public static let zeroKeyMaterialAfter = Interval.nanoseconds(3 * rejectAfterTime.nanoseconds)
    /// The cookie secret rotates this often; a received cookie is usable for this long (§5.4.7).
    public static let cookieSecretMaxAge = Interval.seconds(120)
    /// A received cookie is dropped this much earlier than the secret it came from, so that a
    /// mac2 computed just before the responder rotates its secret still verifies.
    public static let cookieSecretLatency = Interval.seconds(5)
    /// Accepted handshake initiations per second from one peer; faster ones are a flood (§5.1).
    public static let initiationsPerSecond: UInt64 = 50
    /// Packets held per peer while no session exists (the kernel's MAX_STAGED_PACKETS).
    public static let maxStagedPackets = 128
    /// Once under load, the device stays so for this long after the load indicator clears.
    public static let underLoadHold = Interval.seconds(1)

    // MARK: Primitive sizes (§5.4)

    /// Curve25519 public keys, BLAKE2s hashes and ChaCha20-Poly1305 keys.
    public static let keyLength = 32
    /// Poly1305 authentication tag.
    public static let tagLength = 16
    /// TAI64N timestamp (§5.4.2).
    public static let timestampLength = 12
    /// mac1, mac2 and cookies are 16-byte keyed BLAKE2s outputs (§5.4.4).
    public static let macLength = 16
    /// XChaCha20-Poly1305 nonce of a cookie reply (§5.4.7).
    public static let cookieNonceLength = 24
    /// Transport data is padded to a multiple of this (§5.4.6).
    public static let paddingMultiple = 16

    // MARK: Wire sizes (§5.4), derived from the fields

    /// One byte of type and three reserved zero bytes.
    public static let messageTypeLength = 4
    /// Sender or receiver index.
    public static let indexLength = 4
    /// Handshake initiation: type, sender, ephemeral, static{}, timestamp{}, mac1, mac2 = 148.
    public static let handshakeInitiationLength =
        messageTypeLength + indexLength + keyLength + (keyLength + tagLength)
        + (timestampLength + tagLength) + 2 * macLength
    /// Handshake response: type, sender, receiver, ephemeral, empty{}, mac1, mac2 = 92.
    public static let handshakeResponseLength =
        messageTypeLength + 2 * indexLength + keyLength + tagLength + 2 * macLength
    /// Cookie reply: type, receiver, nonce, cookie{} = 64.
    public static let cookieReplyLength =
        messageTypeLength + indexLength + cookieNonceLength + (macLength + tagLength)
    /// Transport data header: type, receiver, 64-bit counter = 16.
    public static let transportHeaderLength = messageTypeLength + indexLength + 8
    /// Smallest transport message: a keepalive, header and tag over an empty payload = 32.
    public static let minimumTransportLength = transportHeaderLength + tagLength

    // MARK: Noise labels (§5.4)

    /// Noise protocol name, hashed into the initial chaining key.
    public static let construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
    /// WireGuard's Noise prologue.
    public static let identifier = "WireGuard v1 zx2c4 Jason@zx2c4.com"
    /// Prefix of the mac1 key derivation: HASH(LABEL_MAC1 || public key).
    public static let labelMAC1 = "mac1----"
    /// Prefix of the cookie key derivation: HASH(LABEL_COOKIE || public key).
    public static let labelCookie = "cookie--"
}
