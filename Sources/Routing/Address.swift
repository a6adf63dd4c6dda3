// IP addresses as plain values: IPv4 (RFC 791 §3.1) and IPv6 (RFC 4291 §2), with the text forms of
// RFC 4291 §2.2 on input and the canonical text form of RFC 5952 on output, raw-byte conversion,
// and allocation-free readers for the addresses in an IPv4/IPv6 packet header.

/// The two IP address families.
public enum IPFamily: Hashable, Sendable, CustomStringConvertible {
    case ipv4
    case ipv6

    /// Width of an address of this family in bits (32 or 128).
    @inlinable public var addressBitWidth: Int {
        switch self {
        case .ipv4: 32
        case .ipv6: 128
        }
    }

    public var description: String {
        switch self {
        case .ipv4: "IPv4"
        case .ipv6: "IPv6"
        }
    }
}

// MARK: - IPv4

/// An IPv4 address (RFC 791 §3.1).
///
/// `value` holds the address with *network-order semantics*: the first octet on the wire is the
/// most significant byte of the integer, whatever the host's endianness (`10.0.0.1` is
/// `0x0A00_0001`). Numeric order is therefore address order, and bit 0 of a prefix is the
/// integer's top bit. Convert to or from wire bytes with the raw-buffer initialisers and
/// `store(into:atByteOffset:)`, which do the byte swapping.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address, first wire octet in the most significant byte.
    public var value: UInt32

    /// Creates an address from its 32-bit value (first octet most significant).
    @inlinable public init(_ value: UInt32) {
        self.value = value
    }

    /// Creates an address from its four octets in wire order, e.g. `IPv4Address(192, 0, 2, 1)`.
    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-decimal text ("192.0.2.1"): exactly four decimal octets, each 0–255.
    ///
    /// Leading zeros ("010.0.0.1") are rejected because inet_aton-style parsers read them as
    /// octal, so accepting them would let the same configuration mean two different addresses.
    public init?(_ text: some StringProtocol) {
        guard let parsed = withUTF8Bytes(text, IPv4Address.parse) else { return nil }
        self = parsed
    }

    /// Creates an address from exactly 4 bytes in network order; nil for any other length.
    @inlinable public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 4 else { return nil }
        value = UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))
    }

    /// Reads 4 network-order bytes at `offset` in `buffer`; nil if they are not all inside it.
    @inlinable public init?(bytes buffer: UnsafeRawBufferPointer, atByteOffset offset: Int) {
        guard offset >= 0, buffer.count - offset >= 4 else { return nil }
        value = UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Writes the address as 4 network-order bytes at `offset`.
    ///
    /// - Precondition: `buffer` has at least 4 bytes at `offset` (the caller sized the packet).
    @inlinable public func store(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= 4, "IPv4 address does not fit")
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Calls `body` with the address's 4 network-order bytes.
    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var wire = value.bigEndian
        return try Swift.withUnsafeBytes(of: &wire, body)
    }

    /// The four octets in wire order.
    @inlinable public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value))
    }

    /// 0.0.0.0, the unspecified address (RFC 1122 §3.2.1.3).
    public static let any = IPv4Address(0)
    /// 255.255.255.255, the limited broadcast address (RFC 919 §7).
    public static let broadcast = IPv4Address(UInt32.max)
    /// 127.0.0.1.
    public static let loopback = IPv4Address(127, 0, 0, 1)

    /// True for 0.0.0.0.
    @inlinable public var isUnspecified: Bool { value == 0 }
    /// True inside 127.0.0.0/8 (RFC 1122 §3.2.1.3).
    @inlinable public var isLoopback: Bool { value >> 24 == 127 }
    /// True inside 224.0.0.0/4 (RFC 5771).
    @inlinable public var isMulticast: Bool { value >> 28 == 0xE }
    /// True inside 169.254.0.0/16 (RFC 3927).
    @inlinable public var isLinkLocal: Bool { value >> 16 == 0xA9FE }

    @inlinable public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
        lhs.value < rhs.value
    }

    /// Dotted-decimal text.
    public var description: String {
        let (a, b, c, d) = octets
        return "\(a).\(b).\(c).\(d)"
    }

    /// Strict dotted-quad parser over ASCII bytes.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> IPv4Address? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A digit after a leading "0" would be an octal-looking octet.
                if digits > 0 && octet == 0 { return nil }
                octet = octet * 10 + UInt32(byte &- UInt8(ascii: "0"))
                digits += 1
                if octet > 255 { return nil }
            case UInt8(ascii: "."):
                if digits == 0 || dots == 3 { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            default:
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        return IPv4Address(value << 8 | octet)
    }
}

// MARK: - IPv6

/// An IPv6 address (RFC 4291 §2), held as two 64-bit halves with network-order semantics:
/// `hi` holds wire bytes 0–7 (first byte most significant), `lo` bytes 8–15.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Wire bytes 0–7, first byte most significant.
    public var hi: UInt64
    /// Wire bytes 8–15, byte 8 most significant.
    public var lo: UInt64

    /// Creates an address from its two 64-bit halves.
    @inlinable public init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    /// The address as one 128-bit integer (first wire byte most significant).
    @inlinable var bits: UInt128 {
        UInt128(hi) << 64 | UInt128(lo)
    }

    @inlinable init(bits: UInt128) {
        hi = UInt64(truncatingIfNeeded: bits >> 64)
        lo = UInt64(truncatingIfNeeded: bits)
    }

    /// Parses the text forms of RFC 4291 §2.2: eight groups of 1–4 hex digits, at most one "::"
    /// standing for one or more zero groups, and optionally a dotted-quad IPv4 address as the last
    /// 32 bits ("::ffff:192.0.2.1"). Zone identifiers ("%eth0", RFC 4007 §11) are not addresses
    /// and are rejected.
    public init?(_ text: some StringProtocol) {
        guard let parsed = withUTF8Bytes(text, IPv6Address.parse) else { return nil }
        self = parsed
    }

    /// Creates an address from exactly 16 bytes in network order; nil for any other length.
    @inlinable public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 16 else { return nil }
        self.init(unsafeBytes: bytes, atByteOffset: 0)
    }

    /// Reads 16 network-order bytes at `offset` in `buffer`; nil if they are not all inside it.
    @inlinable public init?(bytes buffer: UnsafeRawBufferPointer, atByteOffset offset: Int) {
        guard offset >= 0, buffer.count - offset >= 16 else { return nil }
        self.init(unsafeBytes: buffer, atByteOffset: offset)
    }

    @inlinable init(unsafeBytes buffer: UnsafeRawBufferPointer, atByteOffset offset: Int) {
        hi = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        lo = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
    }

    /// Writes the address as 16 network-order bytes at `offset`.
    ///
    /// - Precondition: `buffer` has at least 16 bytes at `offset` (the caller sized the packet).
    @inlinable public func store(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= 16, "IPv6 address does not fit")
        buffer.storeBytes(of: hi.bigEndian, toByteOffset: offset, as: UInt64.self)
        buffer.storeBytes(of: lo.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    /// Calls `body` with the address's 16 network-order bytes.
    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var wire = (hi.bigEndian, lo.bigEndian)
        return try Swift.withUnsafeBytes(of: &wire, body)
    }

    /// The IPv4-mapped address ::ffff:a.b.c.d of `ipv4` (RFC 4291 §2.5.5.2).
    @inlinable public init(ipv4Mapped ipv4: IPv4Address) {
        hi = 0
        lo = 0xFFFF_0000_0000 | UInt64(ipv4.value)
    }

    /// The embedded IPv4 address if this is an IPv4-mapped address (::ffff:0:0/96), else nil.
    ///
    /// Routing tables never unmap implicitly: a mapped address is an IPv6 address and matches
    /// only IPv6 prefixes.
    @inlinable public var ipv4Mapped: IPv4Address? {
        guard hi == 0, lo >> 32 == 0xFFFF else { return nil }
        return IPv4Address(UInt32(truncatingIfNeeded: lo))
    }

    /// The eight 16-bit groups in wire order.
    public var groups: [UInt16] {
        (0..<8).map { index in
            let half = index < 4 ? hi : lo
            return UInt16(truncatingIfNeeded: half >> (48 - 16 * UInt64(index % 4)))
        }
    }

    /// ::, the unspecified address.
    public static let any = IPv6Address(hi: 0, lo: 0)
    /// ::1.
    public static let loopback = IPv6Address(hi: 0, lo: 1)

    /// True for ::.
    @inlinable public var isUnspecified: Bool { hi == 0 && lo == 0 }
    /// True for ::1.
    @inlinable public var isLoopback: Bool { hi == 0 && lo == 1 }
    /// True inside ff00::/8 (RFC 4291 §2.7).
    @inlinable public var isMulticast: Bool { hi >> 56 == 0xFF }
    /// True inside fe80::/10 (RFC 4291 §2.5.6).
    @inlinable public var isLinkLocal: Bool { hi >> 54 == 0xFE80 >> 6 }

    @inlinable public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        lhs.hi != rhs.hi ? lhs.hi < rhs.hi : lhs.lo < rhs.lo
    }

    /// The RFC 5952 canonical text: lowercase hex without leading zeros (§4.1, §4.3), the longest
    /// run of two or more zero groups — the first one on a tie — compressed to "::" (§4.2), and
    /// IPv4-mapped addresses in mixed notation "::ffff:a.b.c.d" (§5).
    ///
    /// Only the mapped prefix uses mixed notation: the IPv4-compatible form is deprecated
    /// (RFC 4291 §2.5.5.1), and printing "::1" as "::0.0.0.1" would mislead.
    public var description: String {
        if let ipv4 = ipv4Mapped {
            return "::ffff:" + ipv4.description
        }
        let groups = self.groups
        // Longest run of zero groups, at least 2 long (§4.2.2), first wins ties (§4.2.3).
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength {
                    bestStart = runStart
                    bestLength = index - runStart
                }
                runStart = -1
            }
        }
        var text = ""
        var index = 0
        while index < 8 {
            if index == bestStart {
                text += "::"
                index += bestLength
                continue
            }
            if index > 0 && index != bestStart + bestLength { text += ":" }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }

    /// RFC 4291 §2.2 parser over ASCII bytes.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> IPv6Address? {
        let end = text.count
        guard end > 0 else { return nil }
        // Groups before "::" accumulate in `head`, after it in `tail`; "::" fills the gap.
        var head: UInt128 = 0
        var headCount = 0
        var tail: UInt128 = 0
        var tailCount = 0
        var compressed = false
        var index = 0
        if text[0] == UInt8(ascii: ":") {
            guard end >= 2, text[1] == UInt8(ascii: ":") else { return nil }
            compressed = true
            index = 2
        }
        while index < end {
            var group: UInt32 = 0
            var cursor = index
            while cursor < end, cursor - index <= 4, let digit = hexDigitValue(text[cursor]) {
                group = group << 4 | digit
                cursor += 1
            }
            let digitCount = cursor - index
            guard digitCount > 0 else { return nil }
            if cursor < end && text[cursor] == UInt8(ascii: ".") {
                // Embedded IPv4 (§2.2 form 3): must be the final 32 bits.
                guard let ipv4 = IPv4Address.parse(UnsafeBufferPointer(rebasing: text[index..<end])),
                      headCount + tailCount <= 6 else { return nil }
                if compressed {
                    tail = tail << 32 | UInt128(ipv4.value)
                    tailCount += 2
                } else {
                    head = head << 32 | UInt128(ipv4.value)
                    headCount += 2
                }
                index = end
                break
            }
            guard digitCount <= 4, headCount + tailCount < 8 else { return nil }
            if compressed {
                tail = tail << 16 | UInt128(group)
                tailCount += 1
            } else {
                head = head << 16 | UInt128(group)
                headCount += 1
            }
            if cursor == end { index = end; break }
            guard text[cursor] == UInt8(ascii: ":") else { return nil }
            if cursor + 1 < end && text[cursor + 1] == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                index = cursor + 2
            } else {
                index = cursor + 1
                // A single trailing colon ends the text without a group.
                guard index < end else { return nil }
            }
        }
        if compressed {
            // "::" stands for at least one zero group (§2.2 form 2).
            guard headCount + tailCount <= 7 else { return nil }
            let shifted = headCount == 0 ? 0 : head << (16 * (8 - headCount))
            return IPv6Address(bits: shifted | tail)
        }
        guard headCount == 8 else { return nil }
        return IPv6Address(bits: head)
    }
}

@inline(__always)
private func hexDigitValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte &- UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte &- UInt8(ascii: "a") &+ 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte &- UInt8(ascii: "A") &+ 10)
    default: nil
    }
}

/// Runs `body` over the UTF-8 bytes of `text`, copying only if the string is not contiguous.
func withUTF8Bytes<R>(_ text: some StringProtocol, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
    return Array(text.utf8).withUnsafeBufferPointer(body)
}

// MARK: - Either family

/// An IPv4 or IPv6 address.
///
/// Ordering puts every IPv4 address before every IPv6 address. An IPv4-mapped IPv6 address is
/// a `.v6` value and is never equal to the `.v4` address it embeds.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses an IPv4 (dotted-decimal) or IPv6 (RFC 4291 §2.2) address; text containing a colon
    /// is IPv6.
    public init?(_ text: some StringProtocol) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let address = IPv6Address(text) else { return nil }
            self = .v6(address)
        } else {
            guard let address = IPv4Address(text) else { return nil }
            self = .v4(address)
        }
    }

    /// Creates an address from 4 (IPv4) or 16 (IPv6) network-order bytes; nil otherwise.
    @inlinable public init?(bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 4: self = .v4(IPv4Address(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))))
        case 16: self = .v6(IPv6Address(unsafeBytes: bytes, atByteOffset: 0))
        default: return nil
        }
    }

    /// The address family.
    @inlinable public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// Calls `body` with the address's 4 or 16 network-order bytes.
    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .v4(let address): try address.withUnsafeBytes(body)
        case .v6(let address): try address.withUnsafeBytes(body)
        }
    }

    public var description: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.description
        }
    }
}

// MARK: - Reading addresses out of packet headers

// Header layouts: IPv4 RFC 791 §3.1 (source at byte 12, destination at 16, 20-byte minimum
// header); IPv6 RFC 8200 §3 (source at byte 8, destination at 24, 40-byte fixed header). These
// read only the fixed header, never allocate, and return nil rather than trap on short buffers.

extension IPv4Address {
    /// The source address of the IPv4 packet starting at `packet[0]`; nil if the buffer holds
    /// fewer than 20 bytes or the version nibble is not 4.
    @inlinable public init?(ipv4PacketSource packet: UnsafeRawBufferPointer) {
        guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
        value = UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    }

    /// The destination address of the IPv4 packet starting at `packet[0]`; nil if the buffer
    /// holds fewer than 20 bytes or the version nibble is not 4.
    @inlinable public init?(ipv4PacketDestination packet: UnsafeRawBufferPointer) {
        guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
        value = UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    }
}

extension IPv6Address {
    /// The source address of the IPv6 packet starting at `packet[0]`; nil if the buffer holds
    /// fewer than 40 bytes or the version nibble is not 6.
    @inlinable public init?(ipv6PacketSource packet: UnsafeRawBufferPointer) {
        guard packet.count >= 40, packet[0] >> 4 == 6 else { return nil }
        self.init(unsafeBytes: packet, atByteOffset: 8)
    }

    /// The destination address of the IPv6 packet starting at `packet[0]`; nil if the buffer
    /// holds fewer than 40 bytes or the version nibble is not 6.
    @inlinable public init?(ipv6PacketDestination packet: UnsafeRawBufferPointer) {
        guard packet.count >= 40, packet[0] >> 4 == 6 else { return nil }
        self.init(unsafeBytes: packet, atByteOffset: 24)
    }
}

extension IPAddress {
    /// The source address of the IPv4 or IPv6 packet starting at `packet[0]`, chosen by its
    /// version nibble; nil if the buffer is shorter than that version's fixed header or the
    /// version is neither 4 nor 6.
    @inlinable public init?(packetSource packet: UnsafeRawBufferPointer) {
        guard !packet.isEmpty else { return nil }
        switch packet[0] >> 4 {
        case 4:
            guard let address = IPv4Address(ipv4PacketSource: packet) else { return nil }
            self = .v4(address)
        case 6:
            guard let address = IPv6Address(ipv6PacketSource: packet) else { return nil }
            self = .v6(address)
        default:
            return nil
        }
    }

    /// The destination address of the IPv4 or IPv6 packet starting at `packet[0]`, chosen by its
    /// version nibble; nil if the buffer is shorter than that version's fixed header or the
    /// version is neither 4 nor 6.
    @inlinable public init?(packetDestination packet: UnsafeRawBufferPointer) {
        guard !packet.isEmpty else { return nil }
        switch packet[0] >> 4 {
        case 4:
            guard let address = IPv4Address(ipv4PacketDestination: packet) else { return nil }
            self = .v4(address)
        case 6:
            guard let address = IPv6Address(ipv6PacketDestination: packet) else { return nil }
            self = .v6(address)
        default:
            return nil
        }
    }
}
