// Address prefixes in CIDR notation (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6).
//
// A prefix keeps the address exactly as written, host bits included, so a configuration checker
// can report "10.1.2.3/8" as non-canonical (`isCanonical`) instead of silently changing it;
// `canonical` masks the host bits, and every table in this module canonicalises its keys.

/// Why a prefix text was rejected. Each case carries the whole offending text.
public enum PrefixParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The part before "/" (or the whole text, if there is no "/") is not an IP address.
    case invalidAddress(String)
    /// The part after "/" is not a plain decimal number (empty, signed, leading zero, spaces…).
    case invalidLength(String)
    /// The length is larger than the address width (`maximum`, 32 or 128).
    case lengthOutOfRange(String, maximum: Int)
    /// The address is of the other family than the prefix type being parsed.
    case wrongFamily(String, expected: IPFamily)

    public var description: String {
        switch self {
        case .invalidAddress(let text):
            "invalid prefix \"\(text)\": not an IP address"
        case .invalidLength(let text):
            "invalid prefix \"\(text)\": the length after \"/\" must be a decimal number"
        case .lengthOutOfRange(let text, let maximum):
            "invalid prefix \"\(text)\": the length must be at most \(maximum)"
        case .wrongFamily(let text, let expected):
            "invalid prefix \"\(text)\": expected an \(expected) prefix"
        }
    }
}

// MARK: - IPv4

/// An IPv4 prefix: an address and a length of 0–32 leading bits.
public struct IPv4Prefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as given; may have host bits set (see `isCanonical`).
    public let address: IPv4Address
    /// Number of leading bits that form the network part, 0–32.
    public let length: UInt8

    /// Creates a prefix; nil unless `0 <= length <= 32`.
    @inlinable public init?(address: IPv4Address, length: Int) {
        guard (0...32).contains(length) else { return nil }
        self.init(unchecked: address, length: UInt8(length))
    }

    @inlinable init(unchecked address: IPv4Address, length: UInt8) {
        self.address = address
        self.length = length
    }

    /// The /32 host prefix of `address`.
    @inlinable public init(host address: IPv4Address) {
        self.init(unchecked: address, length: 32)
    }

    /// Parses "a.b.c.d/n"; a bare address is a /32 host prefix.
    public init(parsing text: some StringProtocol) throws(PrefixParseError) {
        switch try parsePrefixText(text) {
        case (.v4(let address), let length):
            guard length <= 32 else { throw .lengthOutOfRange(String(text), maximum: 32) }
            self.init(unchecked: address, length: UInt8(length))
        case (.v6, _):
            throw .wrongFamily(String(text), expected: .ipv4)
        }
    }

    /// Parses "a.b.c.d/n" like `init(parsing:)`, returning nil instead of an error.
    public init?(_ text: some StringProtocol) {
        guard let prefix = try? IPv4Prefix(parsing: text) else { return nil }
        self = prefix
    }

    /// The whole IPv4 space, 0.0.0.0/0.
    public static let all = IPv4Prefix(unchecked: .any, length: 0)

    /// The mask with the `length` leading bits set, e.g. 255.255.255.0 for /24.
    @inlinable public var netmask: IPv4Address {
        IPv4Address(length == 0 ? 0 : UInt32.max &<< (32 &- UInt32(length)))
    }

    /// True when no host bits are set, as WireGuard and route configuration expect.
    @inlinable public var isCanonical: Bool { address.value & ~netmask.value == 0 }

    /// The prefix with its host bits cleared.
    @inlinable public var canonical: IPv4Prefix {
        IPv4Prefix(unchecked: IPv4Address(address.value & netmask.value), length: length)
    }

    /// True when the leading `length` bits of `other` equal this prefix's.
    @inlinable public func contains(_ other: IPv4Address) -> Bool {
        (address.value ^ other.value).leadingZeroBitCount >= Int(length)
    }

    /// True when every address of `other` is inside this prefix.
    @inlinable public func contains(_ other: IPv4Prefix) -> Bool {
        other.length >= length && contains(other.address)
    }

    /// Orders by address, then shorter prefix first.
    @inlinable public static func < (lhs: IPv4Prefix, rhs: IPv4Prefix) -> Bool {
        lhs.address != rhs.address ? lhs.address < rhs.address : lhs.length < rhs.length
    }

    /// "a.b.c.d/n", always with the length.
    public var description: String { "\(address)/\(length)" }
}

// MARK: - IPv6

/// An IPv6 prefix: an address and a length of 0–128 leading bits (RFC 4291 §2.3).
public struct IPv6Prefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as given; may have host bits set (see `isCanonical`).
    public let address: IPv6Address
    /// Number of leading bits that form the network part, 0–128.
    public let length: UInt8

    /// Creates a prefix; nil unless `0 <= length <= 128`.
    @inlinable public init?(address: IPv6Address, length: Int) {
        guard (0...128).contains(length) else { return nil }
        self.init(unchecked: address, length: UInt8(length))
    }

    @inlinable init(unchecked address: IPv6Address, length: UInt8) {
        self.address = address
        self.length = length
    }

    /// The /128 host prefix of `address`.
    @inlinable public init(host address: IPv6Address) {
        self.init(unchecked: address, length: 128)
    }

    /// Parses "x:x::x/n"; a bare address is a /128 host prefix.
    public init(parsing text: some StringProtocol) throws(PrefixParseError) {
        switch try parsePrefixText(text) {
        case (.v6(let address), let length):
            guard length <= 128 else { throw .lengthOutOfRange(String(text), maximum: 128) }
            self.init(unchecked: address, length: UInt8(length))
        case (.v4, _):
            throw .wrongFamily(String(text), expected: .ipv6)
        }
    }

    /// Parses "x:x::x/n" like `init(parsing:)`, returning nil instead of an error.
    public init?(_ text: some StringProtocol) {
        guard let prefix = try? IPv6Prefix(parsing: text) else { return nil }
        self = prefix
    }

    /// The whole IPv6 space, ::/0.
    public static let all = IPv6Prefix(unchecked: .any, length: 0)

    @inlinable var maskBits: UInt128 {
        length == 0 ? 0 : UInt128.max &<< (128 &- UInt128(length))
    }

    /// True when no host bits are set.
    @inlinable public var isCanonical: Bool { address.bits & ~maskBits == 0 }

    /// The prefix with its host bits cleared.
    @inlinable public var canonical: IPv6Prefix {
        IPv6Prefix(unchecked: IPv6Address(bits: address.bits & maskBits), length: length)
    }

    /// True when the leading `length` bits of `other` equal this prefix's.
    @inlinable public func contains(_ other: IPv6Address) -> Bool {
        (address.bits ^ other.bits).leadingZeroBitCount >= Int(length)
    }

    /// True when every address of `other` is inside this prefix.
    @inlinable public func contains(_ other: IPv6Prefix) -> Bool {
        other.length >= length && contains(other.address)
    }

    /// Orders by address, then shorter prefix first.
    @inlinable public static func < (lhs: IPv6Prefix, rhs: IPv6Prefix) -> Bool {
        lhs.address != rhs.address ? lhs.address < rhs.address : lhs.length < rhs.length
    }

    /// RFC 5952 address text, "/", length.
    public var description: String { "\(address)/\(length)" }
}

// MARK: - Either family

/// An IPv4 or IPv6 prefix. Every IPv4 prefix orders before every IPv6 prefix.
public enum IPPrefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(IPv4Prefix)
    case v6(IPv6Prefix)

    /// Creates a prefix; nil unless the length fits the address's family.
    public init?(address: IPAddress, length: Int) {
        switch address {
        case .v4(let address):
            guard let prefix = IPv4Prefix(address: address, length: length) else { return nil }
            self = .v4(prefix)
        case .v6(let address):
            guard let prefix = IPv6Prefix(address: address, length: length) else { return nil }
            self = .v6(prefix)
        }
    }

    /// The host prefix (/32 or /128) of `address`.
    public init(host address: IPAddress) {
        switch address {
        case .v4(let address): self = .v4(IPv4Prefix(host: address))
        case .v6(let address): self = .v6(IPv6Prefix(host: address))
        }
    }

    /// Parses "a.b.c.d/n" or "x:x::x/n"; a bare address is a host prefix.
    public init(parsing text: some StringProtocol) throws(PrefixParseError) {
        switch try parsePrefixText(text) {
        case (.v4(let address), let length):
            guard length <= 32 else { throw .lengthOutOfRange(String(text), maximum: 32) }
            self = .v4(IPv4Prefix(unchecked: address, length: UInt8(length)))
        case (.v6(let address), let length):
            guard length <= 128 else { throw .lengthOutOfRange(String(text), maximum: 128) }
            self = .v6(IPv6Prefix(unchecked: address, length: UInt8(length)))
        }
    }

    /// Parses like `init(parsing:)`, returning nil instead of an error.
    public init?(_ text: some StringProtocol) {
        guard let prefix = try? IPPrefix(parsing: text) else { return nil }
        self = prefix
    }

    /// The address as given (host bits possibly set).
    public var address: IPAddress {
        switch self {
        case .v4(let prefix): .v4(prefix.address)
        case .v6(let prefix): .v6(prefix.address)
        }
    }

    /// The prefix length in bits.
    @inlinable public var length: UInt8 {
        switch self {
        case .v4(let prefix): prefix.length
        case .v6(let prefix): prefix.length
        }
    }

    /// The address family.
    @inlinable public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// True when no host bits are set.
    @inlinable public var isCanonical: Bool {
        switch self {
        case .v4(let prefix): prefix.isCanonical
        case .v6(let prefix): prefix.isCanonical
        }
    }

    /// The prefix with its host bits cleared.
    @inlinable public var canonical: IPPrefix {
        switch self {
        case .v4(let prefix): .v4(prefix.canonical)
        case .v6(let prefix): .v6(prefix.canonical)
        }
    }

    /// True when `address` is of the same family and inside the prefix. An IPv4-mapped IPv6
    /// address is never inside an IPv4 prefix.
    @inlinable public func contains(_ address: IPAddress) -> Bool {
        switch (self, address) {
        case (.v4(let prefix), .v4(let address)): prefix.contains(address)
        case (.v6(let prefix), .v6(let address)): prefix.contains(address)
        default: false
        }
    }

    /// True when `other` is of the same family and every address of it is inside this prefix.
    @inlinable public func contains(_ other: IPPrefix) -> Bool {
        switch (self, other) {
        case (.v4(let prefix), .v4(let other)): prefix.contains(other)
        case (.v6(let prefix), .v6(let other)): prefix.contains(other)
        default: false
        }
    }

    public var description: String {
        switch self {
        case .v4(let prefix): prefix.description
        case .v6(let prefix): prefix.description
        }
    }
}

/// Splits "address[/length]" and parses both parts; the length is checked against the family's
/// width by the caller. A missing "/length" yields the host length.
private func parsePrefixText(_ text: some StringProtocol) throws(PrefixParseError) -> (IPAddress, Int) {
    let slash = text.firstIndex(of: "/")
    let addressText = text[..<(slash ?? text.endIndex)]
    guard let address = IPAddress(addressText) else { throw .invalidAddress(String(text)) }
    guard let slash else { return (address, address.family.addressBitWidth) }
    let lengthText = text[text.index(after: slash)...].utf8
    // Plain decimal only: no sign, no spaces, no leading zeros ("/08").
    guard !lengthText.isEmpty,
          lengthText.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
          lengthText.count == 1 || lengthText.first != UInt8(ascii: "0") else {
        throw .invalidLength(String(text))
    }
    // More than 3 digits is out of range for either family; don't risk overflowing Int.
    guard lengthText.count <= 3 else { return (address, Int.max) }
    let length = lengthText.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    return (address, length)
}
