// OSPF packet authentication (RFC 2328 Appendix D): null (AuType 0), simple password
// (AuType 1), and cryptographic (AuType 2) with HMAC-SHA-256 as specified by RFC 5709.

import WeftCrypto

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
    /// AuType 2 with HMAC-SHA-256 (RFC 5709): packets are sent with the first key and
    /// accepted with any listed key, which allows key rollover. An empty list fails closed:
    /// nothing is accepted.
    ///
    /// The HMAC key is prepared as in RFC 2104 (hashed only when longer than the 64-byte block),
    /// as BIRD 2 does. RFC 5709 §3.3 hashes keys longer than 32 bytes; for keys of up to 32
    /// bytes, the recommended size, both are identical.
    case cryptographic([OSPFAuthenticationKey])

    /// The AuType value carried in the packet header.
    public var authenticationType: UInt16 {
        switch self {
        case .none: 0
        case .simplePassword: 1
        case .cryptographic: 2
        }
    }

    /// Apad (RFC 5709 §3.3): the trailer's content while the digest is computed.
    static let apad: UInt32 = 0x878F_E1F3
    /// HMAC-SHA-256 digest length, the Auth Data Len of every packet we send (RFC 5709 §3.2).
    static let digestLength = 32

    /// Bytes appended after the OSPF packet (not covered by its length field).
    public var trailerLength: Int {
        switch self {
        case .none, .simplePassword: 0
        case .cryptographic: OSPFAuthentication.digestLength
        }
    }

    /// A name for snapshots that never reveals key material.
    public var schemeName: String {
        switch self {
        case .none: "none"
        case .simplePassword: "simple"
        case .cryptographic(let keys): "hmac-sha256 key-ids \(keys.map(\.keyID))"
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
        case .cryptographic(let keys):
            guard let key = keys.first else { return }
            // §D.4.3: no checksum; the Authentication field carries 0, Key ID, Auth Data Len and
            // the cryptographic sequence number; the digest follows the packet.
            bytes.write16(0, at: 12)
            bytes.write16(0, at: OSPFPacketHeader.authenticationOffset)
            bytes[OSPFPacketHeader.authenticationOffset + 2] = key.keyID
            bytes[OSPFPacketHeader.authenticationOffset + 3] = UInt8(OSPFAuthentication.digestLength)
            bytes.write32(sequenceNumber, at: OSPFPacketHeader.authenticationOffset + 4)
            let length = bytes.count
            bytes.append(contentsOf: OSPFAuthentication.digest(bytes, length: length, key: key.secret))
            return
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
        case .cryptographic(let keys):
            // §D.4.3 / RFC 5709 §3.4: known Key ID, a 32-byte trailer present, a sequence number
            // that did not go backwards, and a digest that verifies.
            guard let key = keys.first(where: { $0.keyID == header.keyID }),
                  Int(header.authenticationDataLength) == OSPFAuthentication.digestLength,
                  bytes.count >= length + OSPFAuthentication.digestLength else { return .authenticationFailure }
            if let last = lastSequenceNumber, header.cryptographicSequenceNumber < last {
                return .cryptographicSequenceRegressed
            }
            let expected = OSPFAuthentication.digest(bytes, length: length, key: key.secret)
            let matches = expected.withUnsafeBytes { expectedBytes in
                bytes.withUnsafeBytes { received in
                    ConstantTime.equal(expectedBytes, UnsafeRawBufferPointer(
                        rebasing: received[length..<length + OSPFAuthentication.digestLength]))
                }
            }
            return matches ? nil : .authenticationFailure
        }
    }

    /// HMAC-SHA-256 over the first `length` bytes of the packet followed by Apad (RFC 5709 §3.3).
    static func digest(_ bytes: [UInt8], length: Int, key: [UInt8]) -> [UInt8] {
        var message = Array(bytes[0..<length])
        message.reserveCapacity(length + digestLength)
        for _ in 0..<(digestLength / 4) {
            message.append(UInt8(apad >> 24))
            message.append(UInt8(truncatingIfNeeded: apad >> 16))
            message.append(UInt8(truncatingIfNeeded: apad >> 8))
            message.append(UInt8(truncatingIfNeeded: apad))
        }
        var output = [UInt8](repeating: 0, count: digestLength)
        key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { data in
                output.withUnsafeMutableBytes { HMACSHA256.authenticate(key: keyBytes, data, into: $0) }
            }
        }
        return output
    }
}
