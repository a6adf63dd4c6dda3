import CSodium

/// An X25519 private key (RFC 7748), clamped as RFC 7748 §5 and `wg genkey` do.
///
/// The 32 secret bytes live once, on the heap, and are wiped when the last copy of the key is
/// released (see ``SecretBytes``). The public key is derived once at initialisation, because
/// every use of a WireGuard key pair (static or ephemeral) needs it.
public struct PrivateKey: Sendable {
    private let secret: SecretBytes

    /// The matching public key, X25519(self, 9).
    public let publicKey: PublicKey

    /// A fresh random key, clamped (like `wg genkey`).
    public init() {
        let secret = SecretBytes(count: 32)
        secret.withUnsafeMutableBytes { SecureRandom.fill($0) }
        self.init(clamping: secret)
    }

    /// The given scalar, clamped.
    public init(rawBytes: Bytes32) {
        self.init(clamping: rawBytes.withUnsafeBytes { SecretBytes(copying: $0) })
    }

    /// A key in WireGuard's base64 form (44 characters ending in `=`, as `wg genkey` prints).
    /// The decoded scalar is clamped, as `wg pubkey` and the kernel do, so ``base64`` gives
    /// back the clamped spelling for keys that were not clamped already.
    public init(base64: String) throws(CryptoError) {
        var raw = try Base64.decodeKey(base64)
        defer { raw.zeroize() }
        self.init(rawBytes: raw)
    }

    private init(clamping secret: SecretBytes) {
        secret.withUnsafeMutableBytes { scalar in
            // RFC 7748 §5: clear the three low bits (cofactor 8), clear bit 255, set bit 254.
            scalar[0] &= 248
            scalar[31] = (scalar[31] & 127) | 64
        }
        self.secret = secret
        var point = Bytes32()
        let status = secret.withUnsafeBytes { scalar in
            point.withUnsafeMutableBytes { out in
                Sodium.initialize()
                return crypto_scalarmult_curve25519_base(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    scalar.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        // A clamped scalar is 8m with 0 < m < 2^252, below the prime order of the base point, so
        // the product is never the identity; a failure here would mean a broken libsodium.
        precondition(status == 0, "crypto_scalarmult_curve25519_base failed for a clamped scalar")
        publicKey = PublicKey(raw: point)
    }

    /// The key in WireGuard's base64 form.
    public var base64: String {
        secret.withUnsafeBytes { Base64.encode($0) }
    }

    /// Calls `body` with the 32 (clamped) secret bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try secret.withUnsafeBytes(body)
    }

    /// X25519(self, peer), the Diffie-Hellman shared secret.
    ///
    /// Throws ``CryptoError/weakSharedSecret`` when the result is all zero, which happens
    /// exactly when `peer` is a low-order point; RFC 7748 §6.1 and the WireGuard whitepaper
    /// (§5.4.2, DH) require such a result to be rejected.
    public func sharedSecret(with peer: PublicKey) throws(CryptoError) -> Bytes32 {
        var shared = Bytes32()
        let status = secret.withUnsafeBytes { scalar in
            peer.raw.withUnsafeBytes { point in
                shared.withUnsafeMutableBytes { out in
                    Sodium.initialize()
                    // libsodium itself refuses known low-order inputs and all-zero outputs (-1).
                    return crypto_scalarmult_curve25519(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        scalar.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        point.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        // Check the output as well, so the guarantee does not rest on one library version.
        let isZero = shared.withUnsafeBytes { ConstantTime.isZero($0) }
        guard status == 0, !isZero else {
            shared.zeroize()
            throw .weakSharedSecret
        }
        return shared
    }
}

/// An X25519 public key: the u-coordinate, 32 bytes little-endian (RFC 7748 §5).
public struct PublicKey: Hashable, Sendable {
    /// The 32 raw bytes.
    public var raw: Bytes32

    /// The key with the given bytes. Any 32 bytes are accepted, as in WireGuard; low-order
    /// points are caught when a shared secret is computed.
    public init(raw: Bytes32) {
        self.raw = raw
    }

    /// A key in WireGuard's base64 form (44 characters ending in `=`, as `wg pubkey` prints).
    public init(base64: String) throws(CryptoError) {
        raw = try Base64.decodeKey(base64)
    }

    /// The key in WireGuard's base64 form.
    public var base64: String {
        raw.withUnsafeBytes { Base64.encode($0) }
    }
}

extension PublicKey: CustomStringConvertible {
    /// The base64 form, as `wg` shows public keys.
    public var description: String { base64 }
}

/// A WireGuard pre-shared key (32 bytes; all zero when unset, which the protocol treats as
/// "no PSK", whitepaper §5.4.3). Heap storage wiped when the last copy is released.
public struct PresharedKey: Sendable {
    private let secret: SecretBytes

    private static let zeroSecret = SecretBytes(count: 32)

    /// The all-zero key used when no pre-shared key is configured.
    public static var zero: PresharedKey { PresharedKey(secret: zeroSecret) }

    /// A fresh random key (like `wg genpsk`).
    public init() {
        let secret = SecretBytes(count: 32)
        secret.withUnsafeMutableBytes { SecureRandom.fill($0) }
        self.secret = secret
    }

    /// The given 32 bytes.
    public init(rawBytes: Bytes32) {
        secret = rawBytes.withUnsafeBytes { SecretBytes(copying: $0) }
    }

    /// A key in WireGuard's base64 form (44 characters ending in `=`, as `wg genpsk` prints).
    public init(base64: String) throws(CryptoError) {
        var raw = try Base64.decodeKey(base64)
        defer { raw.zeroize() }
        self.init(rawBytes: raw)
    }

    private init(secret: SecretBytes) {
        self.secret = secret
    }

    /// The key in WireGuard's base64 form.
    public var base64: String {
        secret.withUnsafeBytes { Base64.encode($0) }
    }

    /// True for the all-zero (unset) key.
    public var isZero: Bool {
        secret.withUnsafeBytes { ConstantTime.isZero($0) }
    }

    /// Calls `body` with the 32 secret bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try secret.withUnsafeBytes(body)
    }
}
