// IPv6 Neighbor Discovery (RFC 4861) as far as address resolution needs it: Neighbor
// Solicitation (§4.3) and Neighbor Advertisement (§4.4) with the Source/Target Link-Layer
// Address options (§4.6.1), their validation (§7.1) and construction (§7.2).

import WeftRouting

extension IPv6Address {
    /// ff02::1, the link-local all-nodes group (RFC 4291 §2.7.1).
    public static let allNodesMulticast = IPv6Address(hi: 0xFF02_0000_0000_0000, lo: 1)

    /// The solicited-node multicast group of this address, ff02::1:ffXX:XXXX with the low 24
    /// bits of the address (RFC 4291 §2.7.1). Neighbor Solicitations for an unknown neighbour
    /// go there (RFC 4861 §7.2.2).
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(hi: 0xFF02_0000_0000_0000, lo: 0x0000_0001_FF00_0000 | lo & 0xFF_FFFF)
    }

    /// True inside ff02::1:ff00:0/104.
    var isSolicitedNodeMulticast: Bool {
        hi == 0xFF02_0000_0000_0000 && lo >> 24 == 0x0000_0001_FF
    }
}

/// A Neighbor Solicitation with the addresses of the IPv6 header that carried it.
public struct NeighborSolicitation: Hashable, Sendable {
    /// IPv6 source: the soliciting node's address, or :: during Duplicate Address Detection.
    public var source: IPv6Address
    /// IPv6 destination: the target's solicited-node group, or the target itself for a
    /// reachability probe.
    public var destination: IPv6Address
    /// The address whose link-layer address is asked for.
    public var target: IPv6Address
    /// The Source Link-Layer Address option; absent when `source` is :: (§4.3).
    public var sourceLinkLayerAddress: MACAddress?

    public init(source: IPv6Address, destination: IPv6Address, target: IPv6Address,
                sourceLinkLayerAddress: MACAddress?) {
        self.source = source
        self.destination = destination
        self.target = target
        self.sourceLinkLayerAddress = sourceLinkLayerAddress
    }

    /// A solicitation for `target` sent to its solicited-node group (§7.2.2).
    public init(resolving target: IPv6Address, from source: IPv6Address, localMAC: MACAddress) {
        self.init(source: source, destination: target.solicitedNodeMulticast, target: target,
                  sourceLinkLayerAddress: source.isUnspecified ? nil : localMAC)
    }

    /// Length of the IPv6 packet `write` produces.
    public var packetLength: Int {
        IPv6Header.length + NeighborDiscovery.messageLength + (sourceLinkLayerAddress == nil ? 0 : 8)
    }

    /// Writes the whole IPv6 packet (hop limit 255, checksum computed) at `offset` and
    /// returns its range.
    ///
    /// - Precondition: `buffer` has `packetLength` bytes at `offset`.
    public func write(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) -> Range<Int> {
        NeighborDiscovery.write(type: NeighborDiscovery.solicitationType, flags: 0, source: source,
                                destination: destination, target: target,
                                option: sourceLinkLayerAddress.map { (NeighborDiscovery.sourceLinkLayerOption, $0) },
                                into: buffer, atByteOffset: offset)
    }
}

/// A Neighbor Advertisement with the addresses of the IPv6 header that carried it.
public struct NeighborAdvertisement: Hashable, Sendable {
    public var source: IPv6Address
    /// The soliciting node, or all-nodes for an unsolicited advertisement.
    public var destination: IPv6Address
    /// The address whose link-layer address is advertised.
    public var target: IPv6Address
    /// R: the sender is a router (§4.4).
    public var isRouter: Bool
    /// S: sent in response to a solicitation.
    public var isSolicited: Bool
    /// O: override an existing cache entry.
    public var isOverride: Bool
    /// The Target Link-Layer Address option.
    public var targetLinkLayerAddress: MACAddress?

    public init(source: IPv6Address, destination: IPv6Address, target: IPv6Address, isRouter: Bool,
                isSolicited: Bool, isOverride: Bool, targetLinkLayerAddress: MACAddress?) {
        self.source = source
        self.destination = destination
        self.target = target
        self.isRouter = isRouter
        self.isSolicited = isSolicited
        self.isOverride = isOverride
        self.targetLinkLayerAddress = targetLinkLayerAddress
    }

    /// The answer of a router that owns `solicitation.target` (§7.2.4): sent to the solicitor,
    /// or to all-nodes with S clear if it came from ::; R set (this node forwards), O set
    /// (the address is not anycast), the Target Link-Layer Address option included.
    public init(answering solicitation: NeighborSolicitation, localMAC: MACAddress) {
        let fromUnspecified = solicitation.source.isUnspecified
        self.init(source: solicitation.target,
                  destination: fromUnspecified ? .allNodesMulticast : solicitation.source,
                  target: solicitation.target, isRouter: true, isSolicited: !fromUnspecified,
                  isOverride: true, targetLinkLayerAddress: localMAC)
    }

    /// An unsolicited advertisement of `address` to all nodes (§7.2.6), so that neighbours
    /// with a cache entry for it switch to `localMAC`.
    public init(announcing address: IPv6Address, localMAC: MACAddress) {
        self.init(source: address, destination: .allNodesMulticast, target: address, isRouter: true,
                  isSolicited: false, isOverride: true, targetLinkLayerAddress: localMAC)
    }

    /// Length of the IPv6 packet `write` produces.
    public var packetLength: Int {
        IPv6Header.length + NeighborDiscovery.messageLength + (targetLinkLayerAddress == nil ? 0 : 8)
    }

    /// Writes the whole IPv6 packet (hop limit 255, checksum computed) at `offset` and
    /// returns its range.
    ///
    /// - Precondition: `buffer` has `packetLength` bytes at `offset`.
    public func write(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) -> Range<Int> {
        let flags = (isRouter ? NeighborDiscovery.routerFlag : 0) | (isSolicited ? NeighborDiscovery.solicitedFlag : 0)
            | (isOverride ? NeighborDiscovery.overrideFlag : 0)
        return NeighborDiscovery.write(type: NeighborDiscovery.advertisementType, flags: flags, source: source,
                                       destination: destination, target: target,
                                       option: targetLinkLayerAddress.map { (NeighborDiscovery.targetLinkLayerOption, $0) },
                                       into: buffer, atByteOffset: offset)
    }
}

/// A received Neighbor Discovery message used for address resolution.
public enum NeighborDiscoveryMessage: Hashable, Sendable {
    case solicitation(NeighborSolicitation)
    case advertisement(NeighborAdvertisement)

    /// Parses and validates the IPv6 packet `packet` (starting at its IPv6 header, trimmed to
    /// its length) as an NS or NA by the rules of RFC 4861 §7.1.1 and §7.1.2.
    public init(parsing packet: UnsafeRawBufferPointer) throws(NeighborDropReason) {
        guard NeighborDiscovery.isNeighborDiscovery(packet) else { throw .notNeighborDiscovery }
        let payloadLength = Int(UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        guard IPv6Header.length + payloadLength <= packet.count else { throw .truncated }
        let icmp = UnsafeRawBufferPointer(rebasing: packet[IPv6Header.length..<IPv6Header.length + payloadLength])
        // Hop limit 255 proves the sender is on-link: a router would have decremented it.
        guard packet[7] == 255 else { throw .hopLimitInvalid }
        guard icmp.count >= NeighborDiscovery.messageLength else { throw .truncated }
        guard let source = IPv6Address(ipv6PacketSource: packet),
              let destination = IPv6Address(ipv6PacketDestination: packet),
              let target = IPv6Address(bytes: icmp, atByteOffset: 8) else { throw .truncated }
        var checksum = InternetChecksum()
        checksum.addPseudoHeader(source: source, destination: destination, nextHeader: IPProtocolNumber.icmpv6,
                                 upperLayerLength: icmp.count)
        checksum.add(icmp)
        guard checksum.isValid else { throw .checksumInvalid }
        guard icmp[1] == 0 else { throw .codeInvalid }
        guard !target.isMulticast else { throw .targetInvalid }

        // Options (§4.6): type, length in units of 8 octets (never 0), data. Each option is at
        // least 8 bytes, so the walk ends after at most count / 8 steps.
        let optionType = icmp[0] == NeighborDiscovery.solicitationType
            ? NeighborDiscovery.sourceLinkLayerOption : NeighborDiscovery.targetLinkLayerOption
        var linkLayerAddress: MACAddress?
        var offset = NeighborDiscovery.messageLength
        while offset < icmp.count {
            guard icmp.count - offset >= 2 else { throw .optionInvalid }
            let length = Int(icmp[offset + 1]) * 8
            guard length > 0, icmp.count - offset >= length else { throw .optionInvalid }
            // The link-layer address options for Ethernet are exactly 8 bytes (RFC 2464 §6);
            // the first one counts.
            if icmp[offset] == optionType && linkLayerAddress == nil {
                guard length == 8 else { throw .optionInvalid }
                let address = MACAddress(unsafeBytes: icmp, atByteOffset: offset + 2)
                guard address.isUnicast else { throw .linkLayerAddressInvalid }
                linkLayerAddress = address
            }
            offset += length
        }

        if icmp[0] == NeighborDiscovery.solicitationType {
            // From :: (Duplicate Address Detection): only to a solicited-node group, never
            // with a Source Link-Layer Address option (§7.1.1).
            if source.isUnspecified {
                guard destination.isSolicitedNodeMulticast, linkLayerAddress == nil else { throw .addressInvalid }
            }
            self = .solicitation(NeighborSolicitation(source: source, destination: destination, target: target,
                                                      sourceLinkLayerAddress: linkLayerAddress))
        } else {
            let flags = UInt32(bigEndian: icmp.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let solicited = flags & NeighborDiscovery.solicitedFlag != 0
            // A solicited advertisement answers one node, never a group (§7.1.2).
            guard !(destination.isMulticast && solicited) else { throw .addressInvalid }
            self = .advertisement(NeighborAdvertisement(
                source: source, destination: destination, target: target,
                isRouter: flags & NeighborDiscovery.routerFlag != 0, isSolicited: solicited,
                isOverride: flags & NeighborDiscovery.overrideFlag != 0, targetLinkLayerAddress: linkLayerAddress))
        }
    }
}

/// Neighbor Discovery constants and the shared packet writer.
public enum NeighborDiscovery {
    /// ICMPv6 type of a Neighbor Solicitation.
    public static let solicitationType: UInt8 = 135
    /// ICMPv6 type of a Neighbor Advertisement.
    public static let advertisementType: UInt8 = 136
    /// Type, code, checksum, 4 bytes of reserved or flags, and the target address.
    static let messageLength = 24
    static let sourceLinkLayerOption: UInt8 = 1
    static let targetLinkLayerOption: UInt8 = 2
    static let routerFlag: UInt32 = 0x8000_0000
    static let solicitedFlag: UInt32 = 0x4000_0000
    static let overrideFlag: UInt32 = 0x2000_0000

    /// True if `packet` is an IPv6 packet whose Next Header is ICMPv6 with an NS or NA type —
    /// traffic for `NeighborCache` rather than for forwarding. Only looks at fixed offsets.
    public static func isNeighborDiscovery(_ packet: UnsafeRawBufferPointer) -> Bool {
        guard packet.count > IPv6Header.length, packet[0] >> 4 == 6,
              packet[6] == IPProtocolNumber.icmpv6 else { return false }
        let type = packet[IPv6Header.length]
        return type == solicitationType || type == advertisementType
    }

    /// Writes IPv6 header + NS/NA + at most one link-layer address option.
    static func write(type: UInt8, flags: UInt32, source: IPv6Address, destination: IPv6Address,
                      target: IPv6Address, option: (UInt8, MACAddress)?,
                      into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) -> Range<Int> {
        let icmpLength = messageLength + (option == nil ? 0 : 8)
        precondition(offset >= 0 && buffer.count - offset >= IPv6Header.length + icmpLength,
                     "Neighbor Discovery packet does not fit")
        // Hop limit 255 (§7.1.1, §7.1.2: receivers drop anything else).
        IPv6Header(payloadLength: UInt16(icmpLength), nextHeader: IPProtocolNumber.icmpv6, hopLimit: 255,
                   source: source, destination: destination)
            .store(into: buffer, atByteOffset: offset)
        let icmpStart = offset + IPv6Header.length
        buffer[icmpStart] = type
        buffer[icmpStart + 1] = 0
        buffer.storeBytes(of: 0, toByteOffset: icmpStart + 2, as: UInt16.self)
        buffer.storeBytes(of: flags.bigEndian, toByteOffset: icmpStart + 4, as: UInt32.self)
        target.store(into: buffer, atByteOffset: icmpStart + 8)
        if let (optionType, address) = option {
            buffer[icmpStart + 24] = optionType
            buffer[icmpStart + 25] = 1
            address.store(into: buffer, atByteOffset: icmpStart + 26)
        }
        let end = icmpStart + icmpLength
        var checksum = InternetChecksum()
        checksum.addPseudoHeader(source: source, destination: destination, nextHeader: IPProtocolNumber.icmpv6,
                                 upperLayerLength: icmpLength)
        checksum.add(UnsafeRawBufferPointer(rebasing: buffer[icmpStart..<end]))
        buffer.storeBytes(of: checksum.checksum.bigEndian, toByteOffset: icmpStart + 2, as: UInt16.self)
        return offset..<end
    }
}
