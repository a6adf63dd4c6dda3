// The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones' complement sum of
// the data taken as big-endian 16-bit words. IPv4 headers, UDP, ICMPv4 and ICMPv6 all use it.
//
// The sum is byte-order independent (RFC 1071 §2(B)): summing the words in host order and
// swapping the folded result gives the same value as summing them big-endian. The accumulator
// therefore adds host-order 32-bit loads into a 64-bit register (RFC 1071 §2(C), deferred
// carries) and only converts once at the end.

import WeftRouting

/// An Internet checksum (RFC 1071) under construction.
///
/// Feed it the covered bytes — a pseudo-header, a header with its checksum field zeroed, the
/// payload — in wire order, then read `checksum` (to store) or check `isValid` (after feeding a
/// received header including its checksum field). Pieces may have any length: a piece that
/// starts at an odd offset of the whole is byte-swapped into place (RFC 1071 §2(B)).
/// Does not allocate.
public struct InternetChecksum: Sendable {
    /// Host-order sum with deferred carries.
    private var sum: UInt64 = 0
    /// Whether the bytes fed so far have an odd total length.
    private var atOddOffset = false

    /// An empty sum.
    public init() {}

    /// Adds `bytes`, which follow the bytes added before.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        var partial = Self.hostOrderSum(bytes)
        if atOddOffset {
            // Every byte of this piece sits in the other half of its word than the piece's own
            // sum assumed: swap the folded piece sum (RFC 1071 §2(B)).
            partial = UInt64(Self.fold(partial).byteSwapped)
        }
        sum = Self.addWithCarry(sum, partial)
        if bytes.count & 1 == 1 { atOddOffset.toggle() }
    }

    /// Adds one big-endian 16-bit word (a header field given as a number).
    ///
    /// - Precondition: the bytes added so far have an even length, as header fields always do.
    public mutating func add(_ word: UInt16) {
        precondition(!atOddOffset, "InternetChecksum: a word must start at an even offset")
        sum = Self.addWithCarry(sum, UInt64(word.bigEndian))
    }

    /// Adds one big-endian 32-bit value as two words (a 32-bit length, an IPv4 address).
    ///
    /// - Precondition: the bytes added so far have an even length.
    public mutating func add(_ value: UInt32) {
        add(UInt16(truncatingIfNeeded: value >> 16))
        add(UInt16(truncatingIfNeeded: value))
    }

    /// Adds an IPv4 address (two words).
    public mutating func add(_ address: IPv4Address) {
        add(address.value)
    }

    /// Adds an IPv6 address (eight words).
    public mutating func add(_ address: IPv6Address) {
        add(UInt32(truncatingIfNeeded: address.hi >> 32))
        add(UInt32(truncatingIfNeeded: address.hi))
        add(UInt32(truncatingIfNeeded: address.lo >> 32))
        add(UInt32(truncatingIfNeeded: address.lo))
    }

    /// The ones' complement sum so far, folded to 16 bits (big-endian value).
    public var sum16: UInt16 {
        UInt16(bigEndian: Self.fold(sum))
    }

    /// The checksum to store: the ones' complement of the sum.
    public var checksum: UInt16 { ~sum16 }

    /// True when the bytes added include a correct checksum field: the sum over them is all ones
    /// (RFC 1071 §1, "the result should be all 1 bits").
    public var isValid: Bool { sum16 == 0xFFFF }

    /// The checksum of `bytes` alone.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var state = InternetChecksum()
        state.add(bytes)
        return state.checksum
    }

    /// A checksum stored in a header after one 16-bit word it covers changed from `old` to
    /// `new`, by RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
    ///
    /// Unlike RFC 1141's form this never turns a correct checksum into 0xFFFF ("-0"), so the
    /// result equals a full recomputation (RFC 1624 §3-§4).
    public static func updated(_ checksum: UInt16, replacing old: UInt16, with new: UInt16) -> UInt16 {
        var sum = UInt32(~checksum) + UInt32(~old) + UInt32(new)
        sum = (sum & 0xFFFF) + (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16)
        return ~UInt16(truncatingIfNeeded: sum)
    }

    // MARK: Arithmetic

    /// The host-order ones' complement sum of `bytes`, a trailing odd byte padded with a zero
    /// (RFC 1071 §1), not yet folded.
    private static func hostOrderSum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var total: UInt64 = 0
        var offset = 0
        let count = bytes.count
        // Two 32-bit halves per 8-byte load: each add is below 2^33, so the 64-bit accumulator
        // cannot overflow for any buffer shorter than 2^31 words.
        while count - offset >= 8 {
            let chunk = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            total &+= chunk & 0xFFFF_FFFF
            total &+= chunk >> 32
            offset += 8
        }
        while count - offset >= 2 {
            total &+= UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            offset += 2
        }
        if offset < count {
            // The odd byte is the first (big-endian high) byte of a word whose second is zero.
            let padded: (UInt8, UInt8) = (bytes[offset], 0)
            total &+= UInt64(Swift.withUnsafeBytes(of: padded) { $0.loadUnaligned(as: UInt16.self) })
        }
        return total
    }

    /// 64-bit ones' complement addition (end-around carry).
    @inline(__always)
    private static func addWithCarry(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (result, overflow) = a.addingReportingOverflow(b)
        return result &+ (overflow ? 1 : 0)
    }

    /// Folds a 64-bit ones' complement sum to 16 bits (host order).
    @inline(__always)
    private static func fold(_ value: UInt64) -> UInt16 {
        var sum = (value & 0xFFFF_FFFF) &+ (value >> 32)
        sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        sum = (sum & 0xFFFF) &+ (sum >> 16)
        sum = (sum & 0xFFFF) &+ (sum >> 16)
        sum = (sum & 0xFFFF) &+ (sum >> 16)
        return UInt16(truncatingIfNeeded: sum)
    }
}

// MARK: - Pseudo-headers

extension InternetChecksum {
    /// Adds the IPv4 pseudo-header that UDP (RFC 768) and TCP checksums cover: source,
    /// destination, a zero byte, the protocol and the upper-layer length.
    public mutating func addPseudoHeader(source: IPv4Address, destination: IPv4Address,
                                         protocolNumber: UInt8, upperLayerLength: Int) {
        add(source)
        add(destination)
        add(UInt16(protocolNumber))
        add(UInt16(truncatingIfNeeded: upperLayerLength))
    }

    /// Adds the IPv6 pseudo-header of RFC 8200 §8.1 (used by UDP and ICMPv6, RFC 4443 §2.3):
    /// source, destination, the 32-bit upper-layer length, three zero bytes and Next Header.
    public mutating func addPseudoHeader(source: IPv6Address, destination: IPv6Address,
                                         nextHeader: UInt8, upperLayerLength: Int) {
        add(source)
        add(destination)
        add(UInt32(truncatingIfNeeded: upperLayerLength))
        add(UInt32(nextHeader))
    }
}
