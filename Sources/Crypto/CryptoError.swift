/// Errors from parsing keys and from the cryptographic primitives.
public enum CryptoError: Error, Equatable, CustomStringConvertible {
    /// The base64 text was well formed but did not decode to 32 bytes (the decoded count).
    case invalidKeyLength(Int)
    /// Not standard padded base64: bad character, bad padding, wrong length or trailing garbage.
    case invalidBase64
    /// X25519 produced the all-zero value, i.e. the peer sent a low-order point (RFC 7748 §6.1).
    case weakSharedSecret
    /// An AEAD tag did not verify.
    case authenticationFailed

    public var description: String {
        switch self {
        case .invalidKeyLength(let count):
            return "invalid key: decodes to \(count) bytes, a WireGuard key is 32 bytes"
        case .invalidBase64:
            return "invalid key: not a 44-character base64 string ending in '=' (as printed by `wg genkey`)"
        case .weakSharedSecret:
            return "X25519 shared secret is all zero: the peer public key is a low-order point"
        case .authenticationFailed:
            return "authentication failed: the AEAD tag does not match"
        }
    }
}
