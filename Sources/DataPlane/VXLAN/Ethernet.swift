// Ethernet II framing (IEEE 802.3 §3.2.6 with the Ethernet II EtherType interpretation) as it
// appears inside VXLAN (RFC 7348 §5: the inner frame carries no preamble, no FCS, no padding
// requirement), and 48-bit MAC addresses (IEEE 802 EUI-48).

import WeftCrypto
import WeftRouting

/// A 48-bit IEEE 802 MAC address.
///
/// `value` holds the six octets in its low 48 bits with the first wire octet most significant,
/// like `IPv4Address.value`, so comparison is wire order.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address in the low 48 bits, first wire octet most significant.
    public let value: UInt64

    /// Creates an address from its 48-bit value; bits above 48 are ignored.
    public init(_ value: UInt64) {
        self.value = value & 0xFFFF_FFFF_FFFF
    }

    /// Creates an address from its six octets in wire order.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        value = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
    }

    /// Parses the colon-separated text form "02:00:5e:10:00:01" (case-insensitive, exactly two
    /// hex digits per octet, as `ip link` prints and accepts).
    public init?(_ text: some StringProtocol) {
        var value: UInt64 = 0
        var octets = 0
        var digits = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ":") {
                guard digits == 2, octets < 5 else { return nil }
                octets += 1
                digits = 0
                continue
            }
            guard digits < 2, let digit = Self.hexValue(byte) else { return nil }
            value = value << 4 | UInt64(digit)
            digits += 1
        }
        guard octets == 5, digits == 2 else { return nil }
        self.value = value
    }

    /// Reads six bytes at `offset`; nil if they are not all inside `buffer`.
    public init?(bytes buffer: UnsafeRawBufferPointer, atByteOffset offset: Int) {
        guard offset >= 0, buffer.count - offset >= 6 else { return nil }
        self.init(unsafeBytes: buffer, atByteOffset: offset)
    }

    init(unsafeBytes buffer: UnsafeRawBufferPointer, atByteOffset offset: Int) {
        let high = UInt64(UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        let low = UInt64(UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt32.self)))
        value = high << 32 | low
    }

    /// Writes the six octets at `offset`.
    ///
    /// - Precondition: `buffer` has six bytes at `offset` (the caller sized the frame).
    public func store(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= 6, "MAC address does not fit")
        buffer.storeBytes(of: UInt16(truncatingIfNeeded: value >> 32).bigEndian, toByteOffset: offset, as: UInt16.self)
        buffer.storeBytes(of: UInt32(truncatingIfNeeded: value).bigEndian, toByteOffset: offset + 2, as: UInt32.self)
    }

    /// ff:ff:ff:ff:ff:ff.
    public static let broadcast = MACAddress(0xFFFF_FFFF_FFFF)
    /// 00:00:00:00:00:00, which no interface uses; ARP requests carry it as the unknown target.
    public static let zero = MACAddress(0)

    /// The I/G bit (least significant bit of the first octet): a group address. Broadcast is a
    /// group address too.
    public var isMulticast: Bool { value & 0x0100_0000_0000 != 0 }
    /// True for ff:ff:ff:ff:ff:ff.
    public var isBroadcast: Bool { value == 0xFFFF_FFFF_FFFF }
    /// The U/L bit (second least significant bit of the first octet): locally administered.
    public var isLocallyAdministered: Bool { value & 0x0200_0000_0000 != 0 }
    /// An address an interface may own: neither a group address nor all zeros.
    public var isUnicast: Bool { !isMulticast && value != 0 }

    /// The Ethernet destination of an IPv4 multicast packet: 01:00:5e followed by the low 23
    /// bits of the group address (RFC 1112 §6.4).
    public init(ipv4Multicast group: IPv4Address) {
        self.init(0x0100_5E00_0000 | UInt64(group.value & 0x7F_FFFF))
    }

    /// The Ethernet destination of an IPv6 multicast packet: 33:33 followed by the low 32 bits
    /// of the group address (RFC 2464 §7).
    public init(ipv6Multicast group: IPv6Address) {
        self.init(0x3333_0000_0000 | (group.lo & 0xFFFF_FFFF))
    }

    /// A stable, locally administered unicast address derived from `seed` (e.g. the node's
    /// WireGuard public key) and the segment's VNI.
    ///
    /// A Linux `vxlan` device gets a random MAC each time it is created; the peer then keeps
    /// sending to the old one until its neighbour entry times out (about 27 s with default
    /// `base_reachable_time`). Deriving the address instead keeps it across restarts, as
    /// systemd's `MACAddressPolicy=persistent` does for virtual interfaces. The first six bytes
    /// of BLAKE2s(label ‖ seed ‖ VNI) are taken, then the U/L bit is set and the I/G bit cleared
    /// (IEEE 802 §8.2: locally administered, individual).
    public init(derivedFrom seed: UnsafeRawBufferPointer, vni: VXLANNetworkIdentifier) {
        var hash = BLAKE2s(outputLength: 6)
        Self.derivationLabel.withUTF8Buffer { hash.update(UnsafeRawBufferPointer($0)) }
        hash.update(seed)
        var vniBytes = vni.rawValue.bigEndian
        Swift.withUnsafeBytes(of: &vniBytes) { hash.update($0) }
        var digest: UInt64 = 0
        Swift.withUnsafeMutableBytes(of: &digest) { hash.finalize(into: $0) }
        // The digest's six bytes, first byte most significant.
        let wire = UInt64(bigEndian: digest) >> 16
        self.init((wire | 0x0200_0000_0000) & ~0x0100_0000_0000)
    }

    /// `init(derivedFrom:vni:)` with a 32-byte seed such as a Curve25519 public key.
    public init(derivedFrom seed: Bytes32, vni: VXLANNetworkIdentifier) {
        self = seed.withUnsafeBytes { MACAddress(derivedFrom: $0, vni: vni) }
    }

    /// Domain separation, so the MAC is not a prefix of some other hash of the same key.
    static let derivationLabel: StaticString = "weft vxlan mac v1"

    /// The IPv6 link-local address formed from this MAC by modified EUI-64 (RFC 4291 §2.5.1 and
    /// Appendix A: insert ff:fe in the middle, invert the U/L bit). This is the address a Linux
    /// interface gives itself with the default `addrgenmode eui64`.
    public var ipv6LinkLocalAddress: IPv6Address {
        let upper = (value >> 24) ^ 0x02_0000
        let lower = value & 0xFF_FFFF
        let interfaceIdentifier = upper << 40 | 0xFF_FE00_0000 | lower
        return IPv6Address(hi: 0xFE80_0000_0000_0000, lo: interfaceIdentifier)
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }

    /// Lowercase colon-separated text, "02:00:5e:10:00:01".
    public var description: String {
        var text = ""
        text.reserveCapacity(17)
        for index in 0..<6 {
            if index > 0 { text += ":" }
            let octet = UInt8(truncatingIfNeeded: value >> (40 - 8 * UInt64(index)))
            if octet < 0x10 { text += "0" }
            text += String(octet, radix: 16)
        }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }
}

/// An EtherType (IEEE 802 numbers, values ≥ 0x0600 in the Ethernet II type field).
public struct EtherType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// IPv4 (RFC 894).
    public static let ipv4 = EtherType(rawValue: 0x0800)
    /// ARP (RFC 826).
    public static let arp = EtherType(rawValue: 0x0806)
    /// IPv6 (RFC 2464 §3).
    public static let ipv6 = EtherType(rawValue: 0x86DD)

    public var description: String {
        switch self {
        case .ipv4: "IPv4"
        case .arp: "ARP"
        case .ipv6: "IPv6"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// An Ethernet II header: destination, source, EtherType (14 bytes, no 802.1Q tag).
public struct EthernetHeader: Hashable, Sendable {
    /// Header length in bytes.
    public static let length = 14

    public var destination: MACAddress
    public var source: MACAddress
    public var etherType: EtherType

    public init(destination: MACAddress, source: MACAddress, etherType: EtherType) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
    }

    /// Reads the header at `offset`; nil if fewer than 14 bytes remain.
    public init?(bytes buffer: UnsafeRawBufferPointer, atByteOffset offset: Int = 0) {
        guard offset >= 0, buffer.count - offset >= Self.length else { return nil }
        destination = MACAddress(unsafeBytes: buffer, atByteOffset: offset)
        source = MACAddress(unsafeBytes: buffer, atByteOffset: offset + 6)
        etherType = EtherType(rawValue: UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt16.self)))
    }

    /// Writes the header at `offset`.
    ///
    /// - Precondition: `buffer` has 14 bytes at `offset`.
    public func store(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= Self.length, "Ethernet header does not fit")
        destination.store(into: buffer, atByteOffset: offset)
        source.store(into: buffer, atByteOffset: offset + 6)
        buffer.storeBytes(of: etherType.rawValue.bigEndian, toByteOffset: offset + 12, as: UInt16.self)
    }
}
