// OSPF packet authentication (RFC 2328 Appendix D): null (AuType 0), simple password
// (AuType 1), and cryptographic (AuType 2) with HMAC-SHA-256 as specified by RFC 5709.

/// One cryptographic authentication key (RFC 2328 §D.3, RFC 5709 §3).
public struct OSPFAuthenticationKey: Hashable, Sendable, Codable {
    /// The Key ID carried in the Authentication field.
    public var keyID: UInt8
    /// The shared secret.
    public var secret: [UInt8]

    public init(keyID: UInt8, secret: [UInt8]) {
        self.keyID = keyID
        self.secret = secret
    }
}

/// The authentication scheme of an interface (all routers on a network must agree, §D).
public enum OSPFAuthentication: Hashable, Sendable, Codable {
    /// AuType 0: only the packet checksum protects the packet (§D.4.1).
    case none
    /// AuType 1: a clear-text password of up to 8 bytes (§D.4.2); longer input is truncated.
    case simplePassword([UInt8])

    /// The AuType value carried in the packet header.
    public var authenticationType: UInt16 {
        switch self {
        case .none: 0
        case .simplePassword: 1
        }
    }

    /// Bytes appended after the OSPF packet (not covered by its length field).
    public var trailerLength: Int {
        switch self {
        case .none, .simplePassword: 0
        }
    }

    /// A name for snapshots that never reveals key material.
    public var schemeName: String {
        switch self {
        case .none: "none"
        case .simplePassword: "simple"
        }
    }

    /// Fills the AuType, Authentication and Checksum fields of a packet produced by
    /// `OSPFPacket.unsealedBytes()`, and appends the trailer if the scheme has one.
    public func seal(_ bytes: inout [UInt8], sequenceNumber: UInt32) {
        guard bytes.count >= OSPFPacketHeader.size else { return }
        bytes.write16(authenticationType, at: 14)
        switch self {
        case .none:
            break
        case .simplePassword(let password):
            // §D.4.2: the password is placed in the Authentication field, zero-padded.
            for index in 0..<OSPFPacketHeader.authenticationSize {
                bytes[OSPFPacketHeader.authenticationOffset + index] = index < password.count ? password[index] : 0
            }
        }
        // §D.4.1/§D.4.2: checksum over the packet, excluding the Authentication field.
        bytes.write16(0, at: 12)
        bytes.write16(OSPFPacketChecksum.compute(bytes, length: bytes.count), at: 12)
    }

    /// Verifies a received packet against this scheme (§D.2, §D.4). Returns nil when the
    /// packet is authentic; `lastSequenceNumber` is ignored by the non-cryptographic schemes.
    public func verify(_ bytes: [UInt8], header: OSPFPacketHeader,
                       lastSequenceNumber: UInt32? = nil) -> OSPFDropReason? {
        guard header.authenticationType == authenticationType else { return .authenticationTypeMismatch }
        let length = Int(header.length)
        switch self {
        case .none:
            return OSPFPacketChecksum.verify(bytes, length: length) ? nil : .badChecksum
        case .simplePassword(let password):
            guard OSPFPacketChecksum.verify(bytes, length: length) else { return .badChecksum }
            var expected: UInt64 = 0
            for index in 0..<OSPFPacketHeader.authenticationSize {
                expected = expected << 8 | UInt64(index < password.count ? password[index] : 0)
            }
            return header.authentication == expected ? nil : .authenticationFailure
        }
    }
}
