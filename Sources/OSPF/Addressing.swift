// Addresses, prefixes and identifiers used throughout the OSPF core.
//
// The core keeps its own small value types so that it depends on nothing but the standard
// library; the driver converts them to the Routing module's types at the boundary.

/// An IPv4 address, router ID or area ID as carried in OSPFv2 packets (RFC 2328 §A.3.1, §A.4).
///
/// Stored in host order; serialized big-endian on the wire. Encodes as a dotted-quad string in
/// Codable containers so that JSON snapshots read naturally.
public struct OSPFAddress: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Builds an address from its four dotted-quad octets.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses a dotted-quad string such as `"10.0.0.1"`; returns nil for anything else.
    public init?(_ text: String) {
        var value: UInt32 = 0
        var octets = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard octets < 4, !part.isEmpty, part.count <= 3, let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
            octets += 1
        }
        guard octets == 4 else { return nil }
        rawValue = value
    }

    /// 0.0.0.0: "no router" in DR/BDR fields, the backbone area ID.
    public static let unspecified = OSPFAddress(rawValue: 0)
    /// AllSPFRouters, 224.0.0.5 (RFC 2328 §A.1).
    public static let allSPFRouters = OSPFAddress(224, 0, 0, 5)
    /// AllDRouters, 224.0.0.6 (RFC 2328 §A.1).
    public static let allDRouters = OSPFAddress(224, 0, 0, 6)
    /// The backbone area, 0.0.0.0 (RFC 2328 §3).
    public static let backbone = OSPFAddress(rawValue: 0)

    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xFF).\(rawValue >> 8 & 0xFF).\(rawValue & 0xFF)"
    }

    public static func < (lhs: OSPFAddress, rhs: OSPFAddress) -> Bool { lhs.rawValue < rhs.rawValue }
    public static func == (lhs: OSPFAddress, rhs: OSPFAddress) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}

extension OSPFAddress: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = OSPFAddress(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a dotted quad: \(text)")
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IPv4 prefix: an address with all host bits cleared and a length of 0...32.
public struct OSPFPrefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The network address (host bits are always zero).
    public let address: OSPFAddress
    /// The prefix length in bits, 0...32.
    public let length: UInt8

    /// Builds a prefix, clearing host bits; lengths above 32 are clamped to 32.
    public init(address: OSPFAddress, length: UInt8) {
        let length = min(length, 32)
        self.length = length
        self.address = OSPFAddress(rawValue: address.rawValue & OSPFPrefix.mask(length: length).rawValue)
    }

    /// Builds a prefix from an address and a contiguous network mask (as carried in router-LSA
    /// stub links and network-LSAs); returns nil when the mask is not contiguous.
    public init?(address: OSPFAddress, mask: OSPFAddress) {
        // Contiguous: the zero bits below the ones are all ones in the complement, plus one a
        // power of two. (Bit scans, unlike population counts, need no CPU extension.)
        let hostBits = ~mask.rawValue
        guard hostBits & (hostBits &+ 1) == 0 else { return nil }
        self.init(address: address, length: UInt8(hostBits.leadingZeroBitCount))
    }

    /// The network mask with `length` leading one bits.
    public static func mask(length: UInt8) -> OSPFAddress {
        length == 0 ? .unspecified : OSPFAddress(rawValue: UInt32.max << (32 - UInt32(min(length, 32))))
    }

    /// This prefix's network mask.
    public var mask: OSPFAddress { OSPFPrefix.mask(length: length) }

    /// Whether `address` lies inside this prefix.
    public func contains(_ other: OSPFAddress) -> Bool {
        other.rawValue & mask.rawValue == address.rawValue
    }

    public var description: String { "\(address)/\(length)" }

    public static func == (lhs: OSPFPrefix, rhs: OSPFPrefix) -> Bool {
        lhs.address.rawValue == rhs.address.rawValue && lhs.length == rhs.length
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(UInt64(address.rawValue) << 8 | UInt64(length)) }

    public static func < (lhs: OSPFPrefix, rhs: OSPFPrefix) -> Bool {
        lhs.address.rawValue != rhs.address.rawValue ? lhs.address.rawValue < rhs.address.rawValue
            : lhs.length < rhs.length
    }
}

extension OSPFPrefix: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = OSPFAddress(String(parts[0])),
              let length = UInt8(parts[1]), length <= 32 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a prefix: \(text)")
        }
        self.init(address: address, length: length)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The driver's handle for one OSPF interface (for example an index into its link table).
public struct OSPFInterfaceID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public var description: String { "if\(rawValue)" }
    public static func < (lhs: OSPFInterfaceID, rhs: OSPFInterfaceID) -> Bool { lhs.rawValue < rhs.rawValue }
    public static func == (lhs: OSPFInterfaceID, rhs: OSPFInterfaceID) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}
