// The overlay router: the forwarding core of a Weft node. Each link is one WireGuard peer
// carrying one point-to-point VXLAN segment (RFC 7348); the TUN holds the node's own addresses
// and, through the kernel, the LAN behind it. The router forwards between the TUN and the links
// and, for transit traffic (site A → hub → site B), between links, as an IP router (RFC 1812).
//
// Sans-I/O: packets come in as ranges of caller buffers and leave as ranges of the same
// buffers (`OverlayAction`); time is the caller's monotonic clock in nanoseconds (the VXLAN
// layer's unit; pass `WireGuard.Instant.nanoseconds`). The per-packet paths allocate nothing:
// routing is `RoutingTable.lookup`, links are found through a dictionary of indices, counters
// are inline.
//
// Buffer contract. Every header is written in place, in front of the packet:
//
//   - Each input range (`fromTUN`, `fromLink`, `sendControl`) must start at least
//     `requiredHeadroom` = reservedHeadroom + 70 bytes into the buffer (86 by default): room
//     for the largest outer stack, IPv6 + UDP + VXLAN + Ethernet (70), in front of the inner
//     packet, plus `reservedHeadroom` (default 16, WireGuard's transport header; it also covers
//     a 10/12-byte virtio_net_hdr for the TUN) that every output range leaves free.
//   - The buffer must extend at least `requiredTrailingSpace` = 142 bytes past the input
//     range's start: a reply or solicitation frame of up to 86 bytes may replace a short
//     packet, starting where its Ethernet header goes (56 bytes of outer IP/UDP/VXLAN in, on
//     a received frame; an outer IPv4 header with options moves it back to end at the span's
//     end).
//   - Outputs never extend past the end of the input range or that 142-byte span. For
//     WireGuard's padding and tag the caller keeps its own tailroom after that.
//
// The engine's `BufferPool` slots (128 bytes of headroom, 2 KiB) meet this: a TUN packet at
// offset 128 is encapsulated at 58 (IPv6 outer) or 78 (IPv4 outer), ≥ 16; a decrypted
// WireGuard payload at 144 holds its inner packet at 194 or 214, which leaves room both to
// re-encapsulate it for another link and to turn it into an ICMP error (48 bytes more) sent
// back over the link it came from.
//
// Neighbour resolution. A link has one peer, so its single-entry `NeighborCache` resolves
// every unicast next hop to the peer's MAC, learned from any frame the peer sends (OSPF hellos
// first of all) and from the gratuitous ARP / unsolicited NA each side sends when a link comes
// up (`tick`). A packet for an unresolved next hop is dropped and counted (`.neighborUnresolved`)
// — there is no queue; the data slot is not held — and, at most once per second per family,
// its buffer carries the ARP request or Neighbor Solicitation instead: the action is then
// `.toLink` with that frame. `tick` resends the solicitation every second until
// `maximumSolicitations` went unanswered (RFC 4861 §7.2.2 MAX_MULTICAST_SOLICIT).
//
// TTL. The kernel decremented the TTL of what it routed into the TUN, and decrements what it
// routes from the TUN to its LAN; so does the Linux peer's kernel for its vxlan device. Each
// node is one hop: this router decrements only transit packets, link to link (RFC 1812 §5.3.1).
//
// Fragmentation. IPv4 packets without DF that exceed the outgoing link's MTU are dropped
// (`.fragmentationRequired`), not fragmented: one input cannot become several outputs here.
// Give the TUN the smallest link MTU, so that the kernel fragments what it routes into it, and
// the links equal MTUs (1370 for IPv4 outer addresses, 1350 for IPv6), so transit never needs to.

import WeftRouting

/// The forwarding core of an overlay node (see the file comment for the buffer contract).
///
/// A value owned by one thread: every entry point is `mutating`. `routingTable` is installed
/// from outside (connected link prefixes, static routes, OSPF) and consulted for every packet.
public struct OverlayRouter: Sendable {
    /// Router-wide settings.
    public struct Configuration: Hashable, Sendable {
        /// The node's own overlay addresses besides the link addresses (e.g. a loopback /32
        /// that is also the OSPF router ID). Packets from a link to any of them, or to a link
        /// address, go to the TUN — give the TUN these addresses so the kernel answers.
        public var localAddresses: [IPAddress]
        /// Source of ICMPv4 errors written toward the TUN. Linux drops IPv4 packets that arrive
        /// on an interface with one of its own addresses as source ("martian source", unless
        /// `accept_local` is set on the TUN), so this should be an address the kernel does not
        /// own. Nil: the first IPv4 local address, else the first IPv4 link address.
        public var tunICMPSourceIPv4: IPv4Address?
        /// Source of ICMPv6 errors written toward the TUN. Nil: the first IPv6 local address,
        /// else the first non-link-local IPv6 link address.
        public var tunICMPSourceIPv6: IPv6Address?
        /// Bytes every output range leaves free before it for the driver: WireGuard's 16-byte
        /// transport header (which also covers a TUN virtio_net_hdr).
        public var reservedHeadroom: Int
        /// Seed of the ECMP flow hash (`flowHash(packet:seed:)`). Nodes should differ, so that
        /// consecutive hops do not make the same choice (RFC 2991 §4, polarisation).
        public var flowHashSeed: UInt64
        /// ICMP errors allowed per second on average, shared by all errors (Linux
        /// `icmp_msgs_per_sec`).
        public var icmpMessagesPerSecond: UInt64
        /// ICMP errors allowed back to back (Linux `icmp_msgs_burst`).
        public var icmpBurst: UInt64
        /// Solicitations sent for one unresolved next hop before giving up until the next
        /// packet: MAX_MULTICAST_SOLICIT, 3 (RFC 4861 §10; Linux `mcast_solicit` for ARP too).
        public var maximumSolicitations: Int

        public init(localAddresses: [IPAddress] = [], tunICMPSourceIPv4: IPv4Address? = nil,
                    tunICMPSourceIPv6: IPv6Address? = nil, reservedHeadroom: Int = WireGuard.transportHeaderLength,
                    flowHashSeed: UInt64 = 0, icmpMessagesPerSecond: UInt64 = 1000, icmpBurst: UInt64 = 50,
                    maximumSolicitations: Int = 3) {
            self.localAddresses = localAddresses
            self.tunICMPSourceIPv4 = tunICMPSourceIPv4
            self.tunICMPSourceIPv6 = tunICMPSourceIPv6
            self.reservedHeadroom = reservedHeadroom
            self.flowHashSeed = flowHashSeed
            self.icmpMessagesPerSecond = icmpMessagesPerSecond
            self.icmpBurst = icmpBurst
            self.maximumSolicitations = maximumSolicitations
        }
    }

    /// The link ID that names the local TUN in routes: a next hop on it delivers to the TUN
    /// (the node's own addresses and the LAN behind the kernel).
    public static let tunLink = LinkID(0)

    /// Bytes from an input range's start to the end of the buffer the router may use: 56
    /// bytes of outer IP/UDP/VXLAN plus an 86-byte neighbour frame (NA with its option).
    public static let requiredTrailingSpace = 56 + maximumNeighborFrameLength

    /// The longest ARP/NS/NA frame `NeighborCache` writes: Ethernet 14 + IPv6 40 + NS/NA 24 +
    /// link-layer address option 8.
    static let maximumNeighborFrameLength = EthernetHeader.length + IPv6Header.length + 24 + 8

    /// The router-wide settings (`setLocalAddresses` changes the addresses).
    public private(set) var configuration: Configuration
    /// The routes packets are forwarded by; next hops name links by `OverlayLink.id`, or
    /// `tunLink` for the TUN. Changes take effect with the next packet.
    public var routingTable: RoutingTable
    /// Router-wide counters; per link: `counters(of:)`, `snapshot`.
    public private(set) var counters = OverlayRouterCounters()

    private var linkStates: [LinkState] = []
    /// `linkStates` index per link ID.
    private var linkIndices: [LinkID: Int] = [:]
    /// Our addresses and the directed broadcasts of our link subnets.
    private var addressRoles: [IPAddress: AddressRole] = [:]
    private var icmpRateLimiter: ICMPRateLimiter

    /// A router without links.
    public init(configuration: Configuration = Configuration(), routingTable: RoutingTable = RoutingTable()) {
        precondition(configuration.reservedHeadroom >= 0, "reservedHeadroom must not be negative")
        self.configuration = configuration
        self.routingTable = routingTable
        icmpRateLimiter = ICMPRateLimiter(messagesPerSecond: configuration.icmpMessagesPerSecond,
                                          burst: configuration.icmpBurst)
        rebuildAddressRoles()
    }

    /// Bytes every input range must leave before it: `reservedHeadroom` + 70.
    public var requiredHeadroom: Int { configuration.reservedHeadroom + VXLANTunnel.maximumHeadroom }

    /// The smallest scratch buffer `tick` accepts: `requiredHeadroom` + 72.
    public var tickBufferLength: Int { configuration.reservedHeadroom + Self.requiredTrailingSpace }

    // MARK: Links

    /// The configured links, in ID order.
    public var links: [OverlayLink] {
        linkStates.map(\.link).sorted { $0.id < $1.id }
    }

    /// The link with `id`, if configured.
    public func link(_ id: LinkID) -> OverlayLink? {
        linkIndices[id].map { linkStates[$0].link }
    }

    /// Adds a link and starts announcing our MAC on it (gratuitous ARP, unsolicited NA) from
    /// the next `tick`. Routes over it are the embedder's to install (`connectedRoutes`).
    public mutating func addLink(_ link: OverlayLink, now: UInt64) throws(OverlayConfigurationError) {
        guard link.id != Self.tunLink else { throw .reservedLinkID }
        guard linkIndices[link.id] == nil else { throw .duplicateLink(link.id) }
        guard link.mtu >= LinkMTU.minimumIPv4MTU, link.mtu + link.tunnel.headroom <= Int(UInt16.max) else {
            throw .mtuOutOfRange(link.mtu)
        }
        var state = LinkState(link: link)
        state.neighbors.linkUp(now: now)
        linkIndices[link.id] = linkStates.count
        linkStates.append(state)
        rebuildAddressRoles()
    }

    /// Removes a link and forgets its neighbour state. Routes still naming it drop their
    /// packets (`.nextHopLinkMissing`) until replaced.
    @discardableResult
    public mutating func removeLink(_ id: LinkID) -> OverlayLink? {
        guard let index = linkIndices.removeValue(forKey: id) else { return nil }
        let removed = linkStates.remove(at: index).link
        for later in index..<linkStates.count { linkIndices[linkStates[later].link.id] = later }
        rebuildAddressRoles()
        return removed
    }

    /// Replaces the node's own addresses (`Configuration.localAddresses`), e.g. after the
    /// OSPF router ID changed.
    public mutating func setLocalAddresses(_ addresses: [IPAddress]) {
        configuration.localAddresses = addresses
        rebuildAddressRoles()
    }

    /// Announces our MAC on the link again, e.g. after the WireGuard session to its peer was
    /// re-established, so that a peer whose neighbour entry went stale updates it at once.
    public mutating func announce(on id: LinkID, now: UInt64) {
        guard let index = linkIndices[id] else { return }
        linkStates[index].neighbors.linkUp(now: now)
    }

    // MARK: From the TUN

    /// Routes an IP packet the kernel wrote to the TUN.
    ///
    /// - Parameters:
    ///   - packet: the packet's range in `buffer`, with `requiredHeadroom` before it and
    ///     `requiredTrailingSpace` from its start (see the buffer contract).
    /// - Returns: `.toLink` with the encapsulated packet (or with an ARP request / NS while
    ///   the next hop is unresolved); `.toTUN` with an ICMP error about the packet (no route:
    ///   network unreachable / no route to destination; too big with DF or IPv6: fragmentation
    ///   needed / packet too big with the link MTU); or `.drop`.
    public mutating func fromTUN(_ packet: Range<Int>, in buffer: UnsafeMutableRawBufferPointer,
                                 now: UInt64) -> OverlayAction {
        precondition(packet.lowerBound >= 0 && packet.upperBound <= buffer.count, "packet outside buffer")
        counters.tunReceivedPackets &+= 1
        counters.tunReceivedBytes &+= UInt64(packet.count)
        guard fitsContract(packet, in: buffer) else { return drop(.bufferTooSmall) }
        let header: RoutedIPHeader
        do {
            header = try RoutedIPHeader(parsing: Self.bytes(packet, in: buffer), verifyingChecksum: false)
        } catch {
            return drop(error)
        }
        // Trailing bytes past the IP length are not part of the packet.
        let packet = packet.lowerBound..<packet.lowerBound + header.length
        let destination = header.destination
        let role = addressRoles[destination]
        if Self.isGroupAddress(destination) || role == .subnetBroadcast { return drop(.multicastOrBroadcast) }
        if Self.isInvalidDestination(destination) { return drop(.invalidDestination) }
        if role == .local { return drop(.destinationIsLocal) }
        if Self.isLinkLocal(destination) { return drop(.linkLocalDestination) }

        let hash = flowHash(packet: Self.bytes(packet, in: buffer), seed: configuration.flowHashSeed) ?? 0
        guard let hop = routingTable.lookup(destination, flowHash: hash) else {
            if routingTable.route(to: destination) != nil { return drop(.discardRoute) }
            return icmpErrorTowardTUN(.unreachable, about: packet, in: buffer, now: now, dropping: .noRoute, link: nil)
        }
        guard hop.link != Self.tunLink else { return drop(.routedToTUN) }
        guard let index = linkIndices[hop.link] else { return drop(.nextHopLinkMissing) }
        let mtu = linkStates[index].link.mtu
        if header.length > mtu {
            guard header.dontFragment else { return drop(.fragmentationRequired, link: index) }
            return icmpErrorTowardTUN(.tooBig(mtu: mtu), about: packet, in: buffer, now: now,
                                      dropping: .packetTooBig, link: index)
        }
        return transmit(ipPacket: packet, toward: hop.gateway ?? destination, link: index, in: buffer,
                        flowHash: hash, now: now).action
    }

    // MARK: From a link

    /// Handles a decrypted WireGuard payload from the peer of link `id`: a VXLAN packet.
    ///
    /// Neighbour frames are answered (`.toLink` on the same link with the ARP reply / NA) or
    /// learned from (`.consumed`). Of IP packets, OSPF for this node surfaces as `.control`;
    /// other packets to our addresses, and packets routed to the TUN, go `.toTUN`; packets
    /// routed over a link are forwarded with TTL / hop limit decremented (`.toLink`). ICMP
    /// errors (no route, time exceeded, too big) go back to the previous hop over this link.
    ///
    /// - Parameters:
    ///   - payload: the outer IP packet's range in `buffer` (WireGuard's zero padding after
    ///     it is ignored), with `requiredHeadroom` before it and `requiredTrailingSpace` from
    ///     its start.
    public mutating func fromLink(_ id: LinkID, payload: Range<Int>, in buffer: UnsafeMutableRawBufferPointer,
                                  now: UInt64) -> OverlayAction {
        precondition(payload.lowerBound >= 0 && payload.upperBound <= buffer.count, "payload outside buffer")
        guard let index = linkIndices[id] else { return drop(.unknownLink) }
        linkStates[index].counters.receivedFrames &+= 1
        linkStates[index].counters.receivedBytes &+= UInt64(payload.count)
        guard fitsContract(payload, in: buffer) else { return drop(.bufferTooSmall, link: index) }
        let tunnel = linkStates[index].link.tunnel
        let received = UnsafeRawBufferPointer(rebasing: buffer[payload])
        let frame: VXLANFrame
        do {
            frame = try tunnel.decapsulate(received)
        } catch {
            linkStates[index].counters.vxlanDrops.record(error)
            return drop(.vxlanInvalid, link: index)
        }

        // Neighbour traffic first; every valid frame refreshes the peer's MAC. A reply is
        // written over the request, where the inner frame starts.
        let replyOffset = neighborFrameOffset(payload.lowerBound + frame.frame.lowerBound, in: buffer)
        switch linkStates[index].neighbors.receive(frame, in: received, now: now, replyInto: buffer,
                                                   atByteOffset: replyOffset) {
        case .reply(let reply):
            return sendFrame(reply, on: index, in: buffer)
        case .consumed:
            return .consumed
        case .notNeighborTraffic:
            break
        }
        let inner = payload.lowerBound + frame.payload.lowerBound..<payload.lowerBound + frame.payload.upperBound
        return route(inner, from: index, frame: frame.ethernet, in: buffer, now: now)
    }

    /// The IP part of `fromLink`: `packet` is the inner IP packet received on link `index`
    /// in `frame`.
    private mutating func route(_ packet: Range<Int>, from index: Int, frame: EthernetHeader,
                                in buffer: UnsafeMutableRawBufferPointer, now: UInt64) -> OverlayAction {
        let header: RoutedIPHeader
        do {
            header = try RoutedIPHeader(parsing: Self.bytes(packet, in: buffer), verifyingChecksum: true)
        } catch {
            return drop(error, link: index)
        }
        let packet = packet.lowerBound..<packet.lowerBound + header.length
        guard Self.isValidSource(header.source) else { return drop(.invalidSource, link: index) }
        let destination = header.destination
        let role = addressRoles[destination]
        if header.protocolNumber == Self.ospfProtocolNumber && (Self.isGroupAddress(destination) || role == .local) {
            linkStates[index].counters.controlReceived &+= 1
            return .control(linkStates[index].link.id, packet)
        }
        if Self.isGroupAddress(destination) || role == .subnetBroadcast {
            return drop(.multicastOrBroadcast, link: index)
        }
        if Self.isInvalidDestination(destination) { return drop(.invalidDestination, link: index) }
        if role == .local { return deliver(packet, from: index) }
        // RFC 1812 §5.3.4: not forwarded when it came as a link-layer broadcast.
        if frame.destination.isMulticast { return drop(.linkLayerBroadcast, link: index) }
        if Self.isLinkLocal(destination) { return drop(.linkLocalDestination, link: index) }

        let hash = flowHash(packet: Self.bytes(packet, in: buffer), seed: configuration.flowHashSeed) ?? 0
        guard let hop = routingTable.lookup(destination, flowHash: hash) else {
            if routingTable.route(to: destination) != nil { return drop(.discardRoute, link: index) }
            return icmpErrorToPreviousHop(.unreachable, about: packet, link: index, previousHop: frame.source,
                                          in: buffer, now: now, dropping: .noRoute)
        }
        if hop.link == Self.tunLink { return deliver(packet, from: index) }
        guard let out = linkIndices[hop.link] else { return drop(.nextHopLinkMissing, link: index) }
        // RFC 1812 §5.3.1: a packet whose TTL would reach 0 is not forwarded; checked before
        // the MTU, as Linux's ip_forward does, and quoted as received.
        guard header.hopLimit > 1 else {
            return icmpErrorToPreviousHop(.timeExceeded, about: packet, link: index, previousHop: frame.source,
                                          in: buffer, now: now, dropping: .timeExceeded)
        }
        let mtu = linkStates[out].link.mtu
        if header.length > mtu {
            guard header.dontFragment else { return drop(.fragmentationRequired, link: index) }
            return icmpErrorToPreviousHop(.tooBig(mtu: mtu), about: packet, link: index, previousHop: frame.source,
                                          in: buffer, now: now, dropping: .packetTooBig)
        }
        _ = IPForwarding.decrementHopLimit(packet: UnsafeMutableRawBufferPointer(rebasing: buffer[packet]))
        let (action, transmitted) = transmit(ipPacket: packet, toward: hop.gateway ?? destination, link: out,
                                             in: buffer, flowHash: hash, now: now)
        if transmitted { linkStates[index].counters.forwarded &+= 1 }
        return action
    }

    // MARK: Control traffic

    /// Sends an IP packet of the OSPF driver (e.g. a Hello to 224.0.0.5, which goes to
    /// 01:00:5e:00:00:05 — RFC 1112 §6.4) out of link `id`. Buffer contract as for `fromTUN`.
    ///
    /// - Returns: `.toLink` with the encapsulated packet (or an ARP request / NS for an
    ///   unresolved unicast destination), or `.drop` (unknown link, malformed, larger than
    ///   the link MTU).
    public mutating func sendControl(_ packet: Range<Int>, on id: LinkID, in buffer: UnsafeMutableRawBufferPointer,
                                     now: UInt64) -> OverlayAction {
        precondition(packet.lowerBound >= 0 && packet.upperBound <= buffer.count, "packet outside buffer")
        guard let index = linkIndices[id] else { return drop(.unknownLink) }
        guard fitsContract(packet, in: buffer) else { return drop(.bufferTooSmall, link: index) }
        let header: RoutedIPHeader
        do {
            header = try RoutedIPHeader(parsing: Self.bytes(packet, in: buffer), verifyingChecksum: false)
        } catch {
            return drop(error, link: index)
        }
        guard header.length <= linkStates[index].link.mtu else { return drop(.packetTooBig, link: index) }
        let packet = packet.lowerBound..<packet.lowerBound + header.length
        let (action, transmitted) = transmit(ipPacket: packet, toward: header.destination, link: index, in: buffer,
                                             flowHash: nil, now: now)
        if transmitted { linkStates[index].counters.controlSent &+= 1 }
        return action
    }

    // MARK: Timers

    /// Sends what is due at `now`: ARP Announcements and unsolicited NAs after a link came up
    /// (RFC 5227 §2.3, RFC 4861 §7.2.6) and solicitation retries for unresolved next hops.
    ///
    /// Each frame is written into `buffer` and passed to `output` as (link, outer packet
    /// range), ready for WireGuard like a `.toLink` result; the next frame reuses the buffer,
    /// so `output` must finish with it (encrypt or copy) before returning, and must not call
    /// back into the router.
    ///
    /// - Parameter buffer: scratch space of at least `tickBufferLength` bytes.
    /// - Returns: when `tick` next has something to do; nil when nothing is pending.
    public mutating func tick(now: UInt64, buffer: UnsafeMutableRawBufferPointer,
                              output: (LinkID, Range<Int>) -> Void) -> UInt64? {
        precondition(buffer.count >= tickBufferLength, "tick buffer smaller than tickBufferLength")
        var next: UInt64?
        func consider(_ deadline: UInt64?) {
            guard let deadline else { return }
            if next.map({ deadline < $0 }) ?? true { next = deadline }
        }
        for index in linkStates.indices {
            let link = linkStates[index].link
            let frameOffset = configuration.reservedHeadroom + link.tunnel.frameHeadroom
            // Each call yields one frame; a round announces each address once.
            for _ in 0...(link.ipv4Addresses.count + link.ipv6Addresses.count) {
                guard let frame = linkStates[index].neighbors.nextAnnouncement(
                    now: now, into: buffer, atByteOffset: frameOffset) else { break }
                if case .toLink(let id, let range) = sendFrame(frame, on: index, in: buffer) { output(id, range) }
            }
            consider(linkStates[index].neighbors.nextAnnouncementDeadline)
            consider(retrySolicitation(.ipv4, link: index, now: now, buffer: buffer, frameOffset: frameOffset,
                                       output: output))
            consider(retrySolicitation(.ipv6, link: index, now: now, buffer: buffer, frameOffset: frameOffset,
                                       output: output))
        }
        return next
    }

    /// Resends the solicitation pending for `family` on link `index` if a retransmission
    /// interval passed without an answer (RFC 4861 §7.2.2); gives up after
    /// `maximumSolicitations`. Returns when to look again.
    private mutating func retrySolicitation(_ family: IPFamily, link index: Int, now: UInt64,
                                            buffer: UnsafeMutableRawBufferPointer, frameOffset: Int,
                                            output: (LinkID, Range<Int>) -> Void) -> UInt64? {
        guard let pending = linkStates[index].pending(family) else { return nil }
        guard linkStates[index].neighbors.peerMAC == nil else {
            linkStates[index].setPending(family, nil)
            return nil
        }
        let interval = linkStates[index].neighbors.configuration.solicitationInterval
        let due = pending.lastSolicitation &+ interval
        guard now >= due else { return due }
        guard pending.solicitations < configuration.maximumSolicitations else {
            linkStates[index].counters.resolutionFailures &+= 1
            linkStates[index].setPending(family, nil)
            return nil
        }
        linkStates[index].setPending(family, PendingResolution(target: pending.target,
                                                               solicitations: pending.solicitations + 1,
                                                               lastSolicitation: now))
        linkStates[index].counters.solicitationRetries &+= 1
        let frame = linkStates[index].neighbors.writeSolicitation(for: pending.target, into: buffer,
                                                                  atByteOffset: frameOffset)
        if case .toLink(let id, let range) = sendFrame(frame, on: index, in: buffer) { output(id, range) }
        return now &+ interval
    }

    // MARK: Status

    /// Counters and neighbour state of the router and every link.
    public var snapshot: OverlaySnapshot {
        let links = linkStates.sorted { $0.link.id < $1.link.id }.map { state in
            OverlayLinkSnapshot(link: state.link, peerMAC: state.neighbors.peerMAC,
                                peerLastSeen: state.neighbors.peerLastSeen, counters: state.counters,
                                neighbor: state.neighbors.counters)
        }
        return OverlaySnapshot(counters: counters, links: links)
    }

    /// The counters of link `id`, if configured.
    public func counters(of id: LinkID) -> OverlayLinkCounters? {
        linkIndices[id].map { linkStates[$0].counters }
    }

    // MARK: Sending

    /// Resolves `neighbor` on link `index` and encapsulates the IP packet for it. While the
    /// neighbour is unresolved the packet is dropped and, when a solicitation is due, the
    /// buffer carries it instead. `transmitted` tells whether the packet itself went out.
    private mutating func transmit(ipPacket packet: Range<Int>, toward neighbor: IPAddress, link index: Int,
                                   in buffer: UnsafeMutableRawBufferPointer, flowHash: UInt32?,
                                   now: UInt64) -> (action: OverlayAction, transmitted: Bool) {
        switch linkStates[index].neighbors.resolve(neighbor, now: now) {
        case .resolved(let mac):
            let outer: Range<Int>
            do {
                outer = try linkStates[index].link.tunnel.encapsulate(ipPacket: packet, in: buffer, destinationMAC: mac,
                                                                      flowHash: flowHash)
            } catch {
                return (drop(Self.dropReason(error), link: index), false)
            }
            return (send(outer, on: index), true)
        case .unresolved(let solicit):
            drop(.neighborUnresolved, link: index)
            guard solicit else { return (.drop(.neighborUnresolved), false) }
            linkStates[index].setPending(neighbor.family, PendingResolution(target: neighbor, solicitations: 1,
                                                                            lastSolicitation: now))
            // Where the packet's Ethernet header would go: the same outer headroom.
            let offset = neighborFrameOffset(packet.lowerBound - EthernetHeader.length, in: buffer)
            let frame = linkStates[index].neighbors.writeSolicitation(for: neighbor, into: buffer, atByteOffset: offset)
            return (sendFrame(frame, on: index, in: buffer), false)
        }
    }

    /// Encapsulates the Ethernet frame at `frame` for link `index`.
    private mutating func sendFrame(_ frame: Range<Int>, on index: Int,
                                    in buffer: UnsafeMutableRawBufferPointer) -> OverlayAction {
        do {
            return send(try linkStates[index].link.tunnel.encapsulate(ethernetFrame: frame, in: buffer), on: index)
        } catch {
            return drop(Self.dropReason(error), link: index)
        }
    }

    private mutating func send(_ outer: Range<Int>, on index: Int) -> OverlayAction {
        linkStates[index].counters.sentFrames &+= 1
        linkStates[index].counters.sentBytes &+= UInt64(outer.count)
        return .toLink(linkStates[index].link.id, outer)
    }

    private mutating func deliver(_ packet: Range<Int>, from index: Int) -> OverlayAction {
        linkStates[index].counters.delivered &+= 1
        return toTUN(packet)
    }

    private mutating func toTUN(_ packet: Range<Int>) -> OverlayAction {
        counters.tunSentPackets &+= 1
        counters.tunSentBytes &+= UInt64(packet.count)
        return .toTUN(packet)
    }

    /// Counts a drop for the router and, if given, the link it concerned.
    @discardableResult
    private mutating func drop(_ reason: OverlayDropReason, link index: Int? = nil) -> OverlayAction {
        counters.drops.record(reason)
        if let index { linkStates[index].counters.drops.record(reason) }
        return .drop(reason)
    }

    /// The contract: `requiredHeadroom` before, `requiredTrailingSpace` from the start.
    private func fitsContract(_ range: Range<Int>, in buffer: UnsafeMutableRawBufferPointer) -> Bool {
        range.lowerBound >= requiredHeadroom && buffer.count - range.lowerBound >= Self.requiredTrailingSpace
    }

    /// Where to write a neighbour frame meant for `offset` (the Ethernet header of the frame it
    /// replaces): there if 86 bytes fit, else ending at the buffer's end. A received outer
    /// IPv4 header with options puts the inner frame up to 20 bytes later than the trailing
    /// space allows for; the contract's headroom keeps the earlier offset clear of the
    /// outer headers' room.
    private func neighborFrameOffset(_ offset: Int, in buffer: UnsafeMutableRawBufferPointer) -> Int {
        min(offset, buffer.count - Self.maximumNeighborFrameLength)
    }

    private static func bytes(_ range: Range<Int>, in buffer: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[range])
    }

    /// Encapsulation errors cannot happen under the buffer contract and MTU checks; mapped
    /// for completeness.
    private static func dropReason(_ error: VXLANEncapsulationError) -> OverlayDropReason {
        switch error {
        case .insufficientHeadroom: .bufferTooSmall
        case .notAnIPPacket: .malformedPacket
        case .tooLong: .packetTooBig
        }
    }

    // MARK: ICMP errors

    /// The errors a router sends about packets it cannot forward.
    enum RouterError {
        /// No route: ICMPv4 network unreachable, ICMPv6 no route to destination.
        case unreachable
        /// TTL / hop limit exhausted.
        case timeExceeded
        /// Larger than the next link's MTU: fragmentation needed (RFC 1191) / packet too big.
        case tooBig(mtu: Int)
    }

    /// Drops the packet from the TUN and writes `error` about it, to go back into the TUN.
    private mutating func icmpErrorTowardTUN(_ error: RouterError, about packet: Range<Int>,
                                             in buffer: UnsafeMutableRawBufferPointer, now: UInt64,
                                             dropping reason: OverlayDropReason, link index: Int?) -> OverlayAction {
        drop(reason, link: index)
        let source: IPAddress? = buffer[packet.lowerBound] >> 4 == 4
            ? tunICMPSourceIPv4.map { .v4($0) } : tunICMPSourceIPv6.map { .v6($0) }
        guard let message = writeICMPError(error, about: packet, in: buffer, from: source, now: now) else {
            return .drop(reason)
        }
        return toTUN(message)
    }

    /// Drops the packet received on link `index` and sends `error` about it back over that
    /// link to the neighbour it came from (`previousHop`, the frame's source MAC).
    private mutating func icmpErrorToPreviousHop(_ error: RouterError, about packet: Range<Int>, link index: Int,
                                                 previousHop: MACAddress, in buffer: UnsafeMutableRawBufferPointer,
                                                 now: UInt64, dropping reason: OverlayDropReason) -> OverlayAction {
        drop(reason, link: index)
        let source = icmpSource(onLink: index, about: Self.bytes(packet, in: buffer))
        guard let message = writeICMPError(error, about: packet, in: buffer, from: source, now: now) else {
            return .drop(reason)
        }
        do {
            return send(try linkStates[index].link.tunnel.encapsulate(ipPacket: message, in: buffer,
                                                                      destinationMAC: previousHop),
                        on: index)
        } catch {
            return .drop(reason)
        }
    }

    /// Turns the packet into the ICMP error in place (RFC 1812 §4.3.2, RFC 4443 §2.4): nil
    /// and counted when the rules forbid an error about it, no source address is known, or the
    /// rate limit holds it back. Rules first, then the rate limit, as Linux's icmp_send.
    private mutating func writeICMPError(_ error: RouterError, about packet: Range<Int>,
                                         in buffer: UnsafeMutableRawBufferPointer, from source: IPAddress?,
                                         now: UInt64) -> Range<Int>? {
        let message: Range<Int>
        do throws(ICMPErrorSuppression) {
            switch source {
            case .v4(let address)? where buffer[packet.lowerBound] >> 4 == 4:
                let icmp: ICMPv4Error
                switch error {
                case .unreachable: icmp = .networkUnreachable
                case .timeExceeded: icmp = .timeExceeded
                case .tooBig(let mtu): icmp = .fragmentationNeeded(nextHopMTU: UInt16(clamping: mtu))
                }
                message = try icmp.write(aboutPacket: packet, in: buffer, routerAddress: address)
            case .v6(let address)? where buffer[packet.lowerBound] >> 4 == 6:
                let icmp: ICMPv6Error
                switch error {
                case .unreachable: icmp = .noRouteToDestination
                case .timeExceeded: icmp = .hopLimitExceeded
                case .tooBig(let mtu): icmp = .packetTooBig(mtu: UInt32(clamping: mtu))
                }
                message = try icmp.write(aboutPacket: packet, in: buffer, routerAddress: address)
            default:
                counters.icmpErrorsSuppressed &+= 1
                return nil
            }
        } catch {
            counters.icmpErrorsSuppressed &+= 1
            return nil
        }
        guard icmpRateLimiter.allow(now: now) else {
            counters.icmpErrorsRateLimited &+= 1
            return nil
        }
        counters.icmpErrorsSent &+= 1
        return message
    }

    private var tunICMPSourceIPv4: IPv4Address? {
        if let address = configuration.tunICMPSourceIPv4 { return address }
        for case .v4(let address) in configuration.localAddresses { return address }
        for state in linkStates { if let prefix = state.link.ipv4Addresses.first { return prefix.address } }
        return nil
    }

    private var tunICMPSourceIPv6: IPv6Address? {
        if let address = configuration.tunICMPSourceIPv6 { return address }
        for case .v6(let address) in configuration.localAddresses where !address.isLinkLocal { return address }
        for state in linkStates {
            if let prefix = state.link.ipv6Addresses.first(where: { !$0.address.isLinkLocal }) { return prefix.address }
        }
        return nil
    }

    /// The source of an error sent over link `index`: our address on that link, so that
    /// traceroute names the interface the probe came in on (Linux does the same with
    /// `icmp_errors_use_inbound_ifaddr`); for IPv6 a global one unless the offending source
    /// is link-local (RFC 4443 §2.2), then a local address.
    private func icmpSource(onLink index: Int, about packet: UnsafeRawBufferPointer) -> IPAddress? {
        let link = linkStates[index].link
        switch IPAddress(packetSource: packet) {
        case .v4?:
            if let prefix = link.ipv4Addresses.first { return .v4(prefix.address) }
            for case .v4(let address) in configuration.localAddresses { return .v4(address) }
        case .v6(let offender)?:
            let wantsLinkLocal = offender.isLinkLocal
            if let prefix = link.ipv6Addresses.first(where: { $0.address.isLinkLocal == wantsLinkLocal }) {
                return .v6(prefix.address)
            }
            for case .v6(let address) in configuration.localAddresses where !address.isLinkLocal {
                return .v6(address)
            }
        case nil:
            break
        }
        return nil
    }

    // MARK: Addresses

    private mutating func rebuildAddressRoles() {
        var roles: [IPAddress: AddressRole] = [:]
        for address in configuration.localAddresses { roles[address] = .local }
        for state in linkStates {
            for prefix in state.link.ipv4Addresses {
                // The all-ones host of a subnet is its directed broadcast (RFC 919); /31 and /32
                // have none (RFC 3021).
                if prefix.length < 31 {
                    let broadcast = IPAddress.v4(IPv4Address(prefix.address.value | ~prefix.netmask.value))
                    if roles[broadcast] == nil { roles[broadcast] = .subnetBroadcast }
                }
            }
        }
        // Own addresses win over a broadcast address computed for another link.
        for state in linkStates {
            for prefix in state.link.ipv4Addresses { roles[.v4(prefix.address)] = .local }
            for prefix in state.link.ipv6Addresses { roles[.v6(prefix.address)] = .local }
        }
        addressRoles = roles
    }
}

extension OverlayRouter {
    /// What a destination address is to this node.
    enum AddressRole: Sendable {
        /// One of our addresses: delivered to the TUN.
        case local
        /// The directed broadcast of one of our link subnets: not forwarded (RFC 2644).
        case subnetBroadcast
    }

    /// A next hop whose MAC is being solicited.
    struct PendingResolution: Sendable {
        var target: IPAddress
        /// Solicitations sent so far for it.
        var solicitations: Int
        var lastSolicitation: UInt64
    }

    /// The state of one link.
    struct LinkState: Sendable {
        var link: OverlayLink
        var neighbors: NeighborCache
        var counters = OverlayLinkCounters()
        var pendingIPv4: PendingResolution?
        var pendingIPv6: PendingResolution?

        init(link: OverlayLink) {
            self.link = link
            neighbors = NeighborCache(configuration: link.neighborConfiguration)
        }

        func pending(_ family: IPFamily) -> PendingResolution? {
            family == .ipv4 ? pendingIPv4 : pendingIPv6
        }

        mutating func setPending(_ family: IPFamily, _ pending: PendingResolution?) {
            if family == .ipv4 { pendingIPv4 = pending } else { pendingIPv6 = pending }
        }
    }
}
