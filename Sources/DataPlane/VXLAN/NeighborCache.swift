// The neighbour state of one VXLAN link: answering ARP (RFC 826) and Neighbor Solicitations
// (RFC 4861 §7.2.4) for the link's own addresses, learning the peer's MAC, announcing our MAC
// when the link comes up, and soliciting the peer's MAC when it is unknown.
//
// A Weft VXLAN link is point-to-point: exactly one remote VTEP, hence one peer MAC for every
// peer address (IPv4 and IPv6). So the "cache" is a single entry, refreshed by the source MAC
// of every valid frame the peer sends and by its ARP and ND messages. It needs no aging: a peer
// that comes back with another MAC is relearned from its next frame (BIRD's hellos, the Linux
// peer's own ARP/NS when it needs our MAC). Packets sent while the MAC is unknown are dropped
// and counted, as with Linux's unresolved queue when it overflows; the first packets after link
// up are OSPF hellos, which are resent anyway.

import WeftRouting

/// Why a received ARP or Neighbor Discovery packet was not used.
public enum NeighborDropReason: Int, Error, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Shorter than its fixed part or its IPv6 length field.
    case truncated
    /// ARP for another hardware or protocol type than Ethernet/IPv4.
    case unsupportedFormat
    /// An ARP opcode other than request or reply.
    case unsupportedOperation
    /// Not an NS or NA (the caller should route it instead).
    case notNeighborDiscovery
    /// Hop limit other than 255 (RFC 4861 §7.1).
    case hopLimitInvalid
    /// The ICMPv6 checksum does not verify.
    case checksumInvalid
    /// ICMPv6 code other than 0.
    case codeInvalid
    /// A multicast target address.
    case targetInvalid
    /// An option with length 0, running past the message, or a link-layer address option
    /// of the wrong size.
    case optionInvalid
    /// A link-layer address (ARP sender, NS/NA option) that is a group address or zero.
    case linkLayerAddressInvalid
    /// Addresses break §7.1 rules: NS from :: to a non-solicited-node group or with a
    /// Source Link-Layer Address option; solicited NA to a multicast group.
    case addressInvalid
    /// Our own MAC as sender: a looped packet.
    case looped
    /// The peer claims one of our addresses (RFC 5227 §2.4 conflict); nothing is learned.
    case addressConflict

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .unsupportedFormat: "unsupported ARP format"
        case .unsupportedOperation: "unsupported ARP operation"
        case .notNeighborDiscovery: "not neighbor discovery"
        case .hopLimitInvalid: "hop limit not 255"
        case .checksumInvalid: "bad ICMPv6 checksum"
        case .codeInvalid: "bad ICMPv6 code"
        case .targetInvalid: "multicast target"
        case .optionInvalid: "invalid option"
        case .linkLayerAddressInvalid: "invalid link-layer address"
        case .addressInvalid: "invalid addresses"
        case .looped: "looped"
        case .addressConflict: "address conflict"
        }
    }
}

/// Counters of a `NeighborCache`.
public struct NeighborCounters: Sendable {
    private var drops = InlineArray<16, UInt64>(repeating: 0)
    /// ARP replies and solicited NAs produced.
    public internal(set) var repliesSent: UInt64 = 0
    /// ARP requests and NSs produced for an unknown peer MAC.
    public internal(set) var solicitationsSent: UInt64 = 0
    /// Gratuitous ARPs and unsolicited NAs produced.
    public internal(set) var announcementsSent: UInt64 = 0
    /// Packets the caller had to drop because the peer MAC was unknown.
    public internal(set) var unresolvedDrops: UInt64 = 0
    /// Times the learned peer MAC changed (the peer's device was re-created).
    public internal(set) var peerMACChanges: UInt64 = 0

    public init() {
        precondition(NeighborDropReason.allCases.count <= drops.count, "NeighborCounters too small")
    }

    /// Packets dropped for `reason`.
    public subscript(reason: NeighborDropReason) -> UInt64 {
        drops[reason.rawValue]
    }

    mutating func record(_ reason: NeighborDropReason) {
        drops[reason.rawValue] &+= 1
    }
}

/// What `NeighborCache.resolve` found for a destination.
public enum NeighborResolution: Hashable, Sendable {
    /// Send the frame to this MAC.
    case resolved(MACAddress)
    /// The peer MAC is unknown: drop the packet. If `solicit` is true, send the frame from
    /// `NeighborCache.writeSolicitation` now (at most one per `solicitationInterval` and family).
    case unresolved(solicit: Bool)
}

/// What `NeighborCache.receive` did with a frame.
public enum NeighborInput: Hashable, Sendable {
    /// Not ARP, NS or NA: forward or deliver the frame's payload as usual.
    case notNeighborTraffic
    /// Consumed (learned from, ignored, or dropped and counted); nothing to send.
    case consumed
    /// Consumed; send the Ethernet frame written at this range of the reply buffer.
    case reply(Range<Int>)
}

/// Neighbour responder and single-entry cache for one point-to-point VXLAN link.
///
/// Time is the caller's monotonic clock in nanoseconds (`now`), never read here. Frames are
/// written into caller buffers; the range returned is the Ethernet frame, ready for
/// `VXLANTunnel.encapsulate(ethernetFrame:in:)` if written at least `frameHeadroom` bytes in.
public struct NeighborCache: Sendable {
    /// The link's own identity and the protocol timers.
    public struct Configuration: Hashable, Sendable {
        /// Our MAC on the link (the `VXLANTunnel.localMAC`).
        public var localMAC: MACAddress
        /// Our IPv4 addresses on the link, with their prefix lengths.
        public var ipv4Addresses: [IPv4Prefix]
        /// Our IPv6 addresses on the link (link-local included), with their prefix lengths.
        public var ipv6Addresses: [IPv6Prefix]
        /// ARP Announcements per IPv4 address on link up: ANNOUNCE_NUM, 2 (RFC 5227 §1.1).
        public var arpAnnouncementCount: Int
        /// Nanoseconds between them: ANNOUNCE_INTERVAL, 2 s.
        public var arpAnnouncementInterval: UInt64
        /// Unsolicited NAs per IPv6 address on link up: MAX_NEIGHBOR_ADVERTISEMENT, 3
        /// (RFC 4861 §7.2.6, §10).
        public var neighborAdvertisementCount: Int
        /// Nanoseconds between them: RETRANS_TIMER, 1 s.
        public var neighborAdvertisementInterval: UInt64
        /// Least nanoseconds between two solicitations of one family: RETRANS_TIMER, 1 s
        /// (RFC 4861 §10; also Linux's `retrans_time` for ARP).
        public var solicitationInterval: UInt64

        public init(localMAC: MACAddress, ipv4Addresses: [IPv4Prefix] = [], ipv6Addresses: [IPv6Prefix] = [],
                    arpAnnouncementCount: Int = 2, arpAnnouncementInterval: UInt64 = 2_000_000_000,
                    neighborAdvertisementCount: Int = 3, neighborAdvertisementInterval: UInt64 = 1_000_000_000,
                    solicitationInterval: UInt64 = 1_000_000_000) {
            self.localMAC = localMAC
            self.ipv4Addresses = ipv4Addresses
            self.ipv6Addresses = ipv6Addresses
            self.arpAnnouncementCount = arpAnnouncementCount
            self.arpAnnouncementInterval = arpAnnouncementInterval
            self.neighborAdvertisementCount = neighborAdvertisementCount
            self.neighborAdvertisementInterval = neighborAdvertisementInterval
            self.solicitationInterval = solicitationInterval
        }
    }

    /// Rounds of announcements for one family: each round announces every address once.
    struct AnnouncementSchedule: Sendable {
        var roundsLeft = 0
        var nextRoundAt: UInt64 = 0
        /// Addresses of the current round already announced.
        var announcedInRound = 0

        mutating func start(rounds: Int, now: UInt64) {
            roundsLeft = rounds
            nextRoundAt = now
            announcedInRound = 0
        }

        /// The index of the next address to announce at `now`, advancing the schedule.
        mutating func next(now: UInt64, addressCount: Int, interval: UInt64) -> Int? {
            guard roundsLeft > 0, addressCount > 0, now >= nextRoundAt else { return nil }
            let index = announcedInRound
            announcedInRound += 1
            if announcedInRound >= addressCount {
                announcedInRound = 0
                roundsLeft -= 1
                nextRoundAt = now &+ interval
            }
            return index
        }

        var deadline: UInt64? { roundsLeft > 0 ? nextRoundAt : nil }
    }

    public let configuration: Configuration
    /// The peer's MAC, once learned.
    public private(set) var peerMAC: MACAddress?
    /// When a frame from the peer was last seen (`now` of the latest `receive` or `learn`).
    public private(set) var peerLastSeen: UInt64?
    public private(set) var counters = NeighborCounters()

    private var lastIPv4Solicitation: UInt64?
    private var lastIPv6Solicitation: UInt64?
    private var ipv4Announcements = AnnouncementSchedule()
    private var ipv6Announcements = AnnouncementSchedule()

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    private var localMAC: MACAddress { configuration.localMAC }

    // MARK: Learning and answering

    /// Records `mac` as the peer's MAC (the source of a valid frame from the peer).
    public mutating func learn(_ mac: MACAddress, now: UInt64) {
        guard mac.isUnicast, mac != localMAC else { return }
        if let known = peerMAC, known != mac { counters.peerMACChanges &+= 1 }
        peerMAC = mac
        peerLastSeen = now
    }

    /// Handles every frame `VXLANTunnel.decapsulate` accepted on this link: learns the peer
    /// MAC from its source, answers ARP requests and NSs for our addresses, learns from ARP
    /// and NA. The reply, if any, is written as an Ethernet frame at `offset` in `reply`,
    /// which may be the buffer holding `packet`: the request is fully parsed before writing.
    ///
    /// - Precondition: `reply` has room for a reply (at most 86 bytes) at `offset`.
    public mutating func receive(_ frame: VXLANFrame, in packet: UnsafeRawBufferPointer, now: UInt64,
                                 replyInto reply: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) -> NeighborInput {
        learn(frame.ethernet.source, now: now)
        let payload = UnsafeRawBufferPointer(rebasing: packet[frame.payload])
        switch frame.ethernet.etherType {
        case .arp:
            do {
                return try receiveARP(ARPPacket(parsing: payload), now: now, replyInto: reply, atByteOffset: offset)
            } catch {
                counters.record(error)
                return .consumed
            }
        case .ipv6 where NeighborDiscovery.isNeighborDiscovery(payload):
            do {
                let message = try NeighborDiscoveryMessage(parsing: payload)
                return try receiveNeighborDiscovery(message, frameSource: frame.ethernet.source, now: now,
                                                    replyInto: reply, atByteOffset: offset)
            } catch {
                counters.record(error)
                return .consumed
            }
        default:
            return .notNeighborTraffic
        }
    }

    /// RFC 826 "Packet Reception", for a link with one neighbour.
    private mutating func receiveARP(_ arp: ARPPacket, now: UInt64, replyInto reply: UnsafeMutableRawBufferPointer,
                                     atByteOffset offset: Int) throws(NeighborDropReason) -> NeighborInput {
        guard arp.senderMAC != localMAC else { throw .looped }
        guard arp.senderMAC.isUnicast else { throw .linkLayerAddressInvalid }
        if !arp.isProbe {
            // Someone else using our address: report, and keep our cache as it is.
            guard !ownsIPv4(arp.senderAddress) else { throw .addressConflict }
            learn(arp.senderMAC, now: now)
        }
        guard arp.operation == .request, ownsIPv4(arp.targetAddress) else { return .consumed }
        // A probe for our address is answered too: that is how its sender detects the conflict
        // (RFC 5227 §2.1.1).
        counters.repliesSent &+= 1
        return .reply(writeARPFrame(ARPPacket.reply(to: arp, from: localMAC), to: arp.senderMAC,
                                    into: reply, atByteOffset: offset))
    }

    /// RFC 4861 §7.2.3–§7.2.5 for NS and NA.
    private mutating func receiveNeighborDiscovery(_ message: NeighborDiscoveryMessage, frameSource: MACAddress,
                                                   now: UInt64, replyInto reply: UnsafeMutableRawBufferPointer,
                                                   atByteOffset offset: Int) throws(NeighborDropReason) -> NeighborInput {
        switch message {
        case .solicitation(let solicitation):
            guard solicitation.sourceLinkLayerAddress != localMAC else { throw .looped }
            if let mac = solicitation.sourceLinkLayerAddress {
                guard !ownsIPv6(solicitation.source) else { throw .addressConflict }
                learn(mac, now: now)
            }
            guard ownsIPv6(solicitation.target) else { return .consumed }
            let advertisement = NeighborAdvertisement(answering: solicitation, localMAC: localMAC)
            // Unicast to the solicitor's link-layer address (§7.2.4): from its option, else
            // the frame it came in.
            let destinationMAC = advertisement.destination.isMulticast
                ? MACAddress(ipv6Multicast: advertisement.destination)
                : solicitation.sourceLinkLayerAddress ?? frameSource
            counters.repliesSent &+= 1
            return .reply(writeIPv6Frame(to: destinationMAC, into: reply, atByteOffset: offset) { buffer, start in
                advertisement.write(into: buffer, atByteOffset: start)
            })
        case .advertisement(let advertisement):
            guard advertisement.targetLinkLayerAddress != localMAC else { throw .looped }
            // A neighbour advertising one of our addresses: Duplicate Address Detection's job
            // (RFC 4862 §5.4.4), not the cache's.
            guard !ownsIPv6(advertisement.target) else { throw .addressConflict }
            if let mac = advertisement.targetLinkLayerAddress { learn(mac, now: now) }
            return .consumed
        }
    }

    // MARK: Resolution

    /// The MAC to send a packet for `destination` (the next hop, or the packet's destination
    /// when it is on-link) to. Multicast and broadcast destinations map directly (RFC 1112
    /// §6.4, RFC 2464 §7); any unicast address on the link is the peer's.
    public mutating func resolve(_ destination: IPAddress, now: UInt64) -> NeighborResolution {
        switch destination {
        case .v4(let address):
            if address.isMulticast { return .resolved(MACAddress(ipv4Multicast: address)) }
            if address == .broadcast || isDirectedBroadcast(address) { return .resolved(.broadcast) }
        case .v6(let address):
            if address.isMulticast { return .resolved(MACAddress(ipv6Multicast: address)) }
        }
        if let peerMAC { return .resolved(peerMAC) }
        counters.unresolvedDrops &+= 1
        let solicit: Bool
        switch destination {
        case .v4: solicit = Self.claimSlot(&lastIPv4Solicitation, now: now, interval: configuration.solicitationInterval)
        case .v6: solicit = Self.claimSlot(&lastIPv6Solicitation, now: now, interval: configuration.solicitationInterval)
        }
        if solicit { counters.solicitationsSent &+= 1 }
        return .unresolved(solicit: solicit)
    }

    /// Writes an ARP request (IPv4) or a Neighbor Solicitation to the solicited-node group
    /// (IPv6) for `target` as an Ethernet frame at `offset`, from the local address that
    /// shares a prefix with `target` (else the first one; else 0.0.0.0 or ::, which makes it
    /// an ARP Probe or a DAD solicitation).
    ///
    /// - Precondition: `buffer` has room for the frame (at most 86 bytes) at `offset`.
    public func writeSolicitation(for target: IPAddress, into buffer: UnsafeMutableRawBufferPointer,
                                  atByteOffset offset: Int) -> Range<Int> {
        switch target {
        case .v4(let address):
            let source = configuration.ipv4Addresses.first { $0.contains(address) }?.address
                ?? configuration.ipv4Addresses.first?.address ?? .any
            return writeARPFrame(ARPPacket.request(from: localMAC, senderAddress: source, for: address),
                                 to: .broadcast, into: buffer, atByteOffset: offset)
        case .v6(let address):
            let solicitation = NeighborSolicitation(resolving: address, from: ipv6Source(toward: address),
                                                    localMAC: localMAC)
            return writeIPv6Frame(to: MACAddress(ipv6Multicast: solicitation.destination), into: buffer,
                                  atByteOffset: offset) { buffer, start in
                solicitation.write(into: buffer, atByteOffset: start)
            }
        }
    }

    // MARK: Announcements

    /// Starts announcing our MAC: ARP Announcements for each IPv4 address (RFC 5227 §2.3)
    /// and unsolicited NAs for each IPv6 address (RFC 4861 §7.2.6), the first due at `now`.
    /// A Linux peer then replaces a stale entry at once instead of waiting out its timers.
    public mutating func linkUp(now: UInt64) {
        ipv4Announcements.start(rounds: configuration.arpAnnouncementCount, now: now)
        ipv6Announcements.start(rounds: configuration.neighborAdvertisementCount, now: now)
    }

    /// When the next announcement is due; nil when none is pending.
    public var nextAnnouncementDeadline: UInt64? {
        switch (ipv4Announcements.deadline, ipv6Announcements.deadline) {
        case let (v4?, v6?): min(v4, v6)
        case let (v4?, nil): v4
        case let (nil, v6?): v6
        case (nil, nil): nil
        }
    }

    /// Writes one announcement that is due at `now` as an Ethernet frame at `offset`; nil when
    /// none is due. Call until nil: each call produces at most one frame.
    ///
    /// - Precondition: `buffer` has room for the frame (at most 86 bytes) at `offset`.
    public mutating func nextAnnouncement(now: UInt64, into buffer: UnsafeMutableRawBufferPointer,
                                          atByteOffset offset: Int) -> Range<Int>? {
        if let index = ipv4Announcements.next(now: now, addressCount: configuration.ipv4Addresses.count,
                                              interval: configuration.arpAnnouncementInterval) {
            counters.announcementsSent &+= 1
            let address = configuration.ipv4Addresses[index].address
            return writeARPFrame(ARPPacket.announcement(of: address, from: localMAC), to: .broadcast,
                                 into: buffer, atByteOffset: offset)
        }
        if let index = ipv6Announcements.next(now: now, addressCount: configuration.ipv6Addresses.count,
                                              interval: configuration.neighborAdvertisementInterval) {
            counters.announcementsSent &+= 1
            let advertisement = NeighborAdvertisement(announcing: configuration.ipv6Addresses[index].address,
                                                      localMAC: localMAC)
            return writeIPv6Frame(to: MACAddress(ipv6Multicast: .allNodesMulticast), into: buffer,
                                  atByteOffset: offset) { buffer, start in
                advertisement.write(into: buffer, atByteOffset: start)
            }
        }
        return nil
    }

    // MARK: Helpers

    private func ownsIPv4(_ address: IPv4Address) -> Bool {
        configuration.ipv4Addresses.contains { $0.address == address }
    }

    private func ownsIPv6(_ address: IPv6Address) -> Bool {
        configuration.ipv6Addresses.contains { $0.address == address }
    }

    /// The all-ones host address of one of our IPv4 subnets (RFC 919), except on /31 and /32
    /// where there is none (RFC 3021).
    private func isDirectedBroadcast(_ address: IPv4Address) -> Bool {
        configuration.ipv4Addresses.contains { prefix in
            prefix.length < 31 && prefix.contains(address) && address.value | prefix.netmask.value == UInt32.max
        }
    }

    /// Source for an NS (RFC 4861 §7.2.2 asks for an address of the interface): link-local
    /// for a link-local target, otherwise one sharing the target's prefix, otherwise any.
    private func ipv6Source(toward target: IPv6Address) -> IPv6Address {
        let addresses = configuration.ipv6Addresses
        if target.isLinkLocal, let linkLocal = addresses.first(where: { $0.address.isLinkLocal }) {
            return linkLocal.address
        }
        return addresses.first { $0.contains(target) }?.address ?? addresses.first?.address ?? .any
    }

    /// True, and `last` set to `now`, when no solicitation went out within `interval`.
    private static func claimSlot(_ last: inout UInt64?, now: UInt64, interval: UInt64) -> Bool {
        if let previous = last, now >= previous, now - previous < interval { return false }
        last = now
        return true
    }

    private func writeARPFrame(_ arp: ARPPacket, to destination: MACAddress,
                               into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) -> Range<Int> {
        EthernetHeader(destination: destination, source: localMAC, etherType: .arp)
            .store(into: buffer, atByteOffset: offset)
        arp.store(into: buffer, atByteOffset: offset + EthernetHeader.length)
        return offset..<offset + EthernetHeader.length + ARPPacket.length
    }

    private func writeIPv6Frame(to destination: MACAddress, into buffer: UnsafeMutableRawBufferPointer,
                                atByteOffset offset: Int,
                                _ writePacket: (UnsafeMutableRawBufferPointer, Int) -> Range<Int>) -> Range<Int> {
        EthernetHeader(destination: destination, source: localMAC, etherType: .ipv6)
            .store(into: buffer, atByteOffset: offset)
        let packet = writePacket(buffer, offset + EthernetHeader.length)
        return offset..<packet.upperBound
    }
}
