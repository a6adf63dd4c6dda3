// Drop reasons and packet counters. Every received packet that is not processed is counted
// under exactly one reason, so operators can tell a misconfigured peer from a lossy link.

/// Why a received packet (or a single LSA inside an update) was discarded.
public enum OSPFDropReason: String, Error, Sendable, Codable, CaseIterable {
    /// Shorter than its header, length field out of range, or body size inconsistent with its counts.
    case badLength
    /// Version field is not 2 (§8.2).
    case badVersion
    /// Packet checksum (§D.4.1) does not verify.
    case badChecksum
    /// Packet type outside 1...5 (§A.3.1).
    case unknownPacketType
    /// Area ID differs from the interface's area (§8.2).
    case badArea
    /// The packet carries our own Router ID: a looped-back multicast copy.
    case ownPacket
    /// Sent to AllDRouters while we are neither DR nor Backup on that interface (§8.2).
    case notDesignatedRouter
    /// Source address outside the receiving interface's subnet on a broadcast network (§8.2).
    case sourceNotOnSubnet
    /// AuType differs from the interface's configured scheme (§D.2).
    case authenticationTypeMismatch
    /// Wrong password, unknown key ID, wrong digest length, or a digest that does not verify.
    case authenticationFailure
    /// Cryptographic sequence number lower than the last one from this neighbor (§D.4.3).
    case cryptographicSequenceRegressed
    /// Hello Network Mask differs on a broadcast network (§10.5).
    case helloNetworkMaskMismatch
    /// HelloInterval differs (§10.5).
    case helloIntervalMismatch
    /// RouterDeadInterval differs (§10.5).
    case deadIntervalMismatch
    /// E-bit (or N-bit) of the Options field differs (§10.5).
    case optionsMismatch
    /// Non-Hello packet from a router that is not a known neighbor on the interface.
    case unknownNeighbor
    /// Packet type not acceptable in the neighbor's current state (§10.6, §10.7, §13, §13.7).
    case neighborStateTooLow
    /// Database Description advertising an Interface MTU larger than ours (§10.6).
    case mtuMismatch
    /// Received on an interface that is unknown, down, loopback or passive.
    case interfaceNotActive
    /// An LSA (header) with an unknown LS type or a malformed body.
    case badLSA
    /// An LSA whose LS checksum (§12.1.7) does not verify (§13 step 1).
    case badLSAChecksum
    /// A newer LSA instance that arrived within MinLSArrival of the previous one (§13 step 5a).
    case lsaArrivedTooSoon
}

/// Packet and drop counters of one OSPF router.
public struct OSPFCounters: Hashable, Sendable, Codable {
    /// Packets received and accepted past the header/authentication checks, per packet type.
    public var received: [UInt64] = Array(repeating: 0, count: OSPFPacketType.allCases.count)
    /// Packets emitted, per packet type.
    public var sent: [UInt64] = Array(repeating: 0, count: OSPFPacketType.allCases.count)
    /// Drops, indexed like `OSPFDropReason.allCases`.
    public var dropped: [UInt64] = Array(repeating: 0, count: OSPFDropReason.allCases.count)
    /// Completed SPF calculations (§16).
    public var spfRuns: UInt64 = 0
    /// LSAs originated (including refreshes and flushes) by this router.
    public var lsasOriginated: UInt64 = 0

    public init() {}

    /// Drops counted for `reason`.
    public subscript(reason: OSPFDropReason) -> UInt64 {
        dropped[OSPFCounters.index(of: reason)]
    }

    /// Packets received of `type`.
    public func receivedCount(_ type: OSPFPacketType) -> UInt64 { received[Int(type.rawValue) - 1] }
    /// Packets sent of `type`.
    public func sentCount(_ type: OSPFPacketType) -> UInt64 { sent[Int(type.rawValue) - 1] }

    /// The sum of all drop counters.
    public var totalDropped: UInt64 { dropped.reduce(0, &+) }

    mutating func countDrop(_ reason: OSPFDropReason) {
        dropped[OSPFCounters.index(of: reason)] &+= 1
    }

    mutating func countReceived(_ type: OSPFPacketType) { received[Int(type.rawValue) - 1] &+= 1 }
    mutating func countSent(_ type: OSPFPacketType) { sent[Int(type.rawValue) - 1] &+= 1 }

    private static func index(of reason: OSPFDropReason) -> Int {
        OSPFDropReason.allCases.firstIndex(of: reason) ?? 0
    }
}
