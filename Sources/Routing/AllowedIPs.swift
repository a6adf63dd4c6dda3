// WireGuard cryptokey routing (whitepaper §2, "Cryptokey Routing").
//
// Each peer is configured with a list of allowed IPs. Sending, the table acts as a routing table:
// a packet goes to the peer whose allowed IPs hold the longest prefix matching its destination.
// Receiving, it acts as an access list: a decrypted packet is accepted from a peer only if its
// source address routes back to that same peer. Because one table serves both directions, a
// prefix belongs to at most one peer; configuring it for another peer moves it.

/// The cryptokey routing table: prefixes → peer, with longest-prefix match.
///
/// Prefixes are canonicalised (host bits cleared), as the kernel implementation does. IPv4 and
/// IPv6 are separate: an IPv4-mapped IPv6 source or destination matches only IPv6 prefixes.
/// Use a plain value as `PeerID` (e.g. an index into the peer array) so that per-packet lookups
/// stay free of reference counting.
public struct AllowedIPs<PeerID: Hashable> {
    @usableFromInline var table = PrefixTable<PeerID>()
    /// Reverse index for `remove(peer:)` and `prefixes(of:)` (the `wg show` listing).
    var prefixesByPeer: [PeerID: Set<IPPrefix>] = [:]

    /// An empty table.
    public init() {}

    /// Number of prefixes across all peers.
    @inlinable public var count: Int { table.count }

    /// True when no peer has any allowed IP.
    @inlinable public var isEmpty: Bool { table.isEmpty }

    /// Assigns `prefix` to `peer`, taking it away from any peer that held it before.
    /// - Returns: the previous owner if it was a different peer, else nil.
    @discardableResult
    public mutating func insert(_ prefix: IPPrefix, for peer: PeerID) -> PeerID? {
        let prefix = prefix.canonical
        let previous = table.updateValue(peer, forPrefix: prefix)
        if let previous, previous != peer {
            detach(prefix, from: previous)
        }
        prefixesByPeer[peer, default: []].insert(prefix)
        return previous == peer ? nil : previous
    }

    /// Removes `prefix` (canonicalised) from whichever peer holds it.
    /// - Returns: the peer that held it, or nil if no peer did.
    @discardableResult
    public mutating func remove(_ prefix: IPPrefix) -> PeerID? {
        let prefix = prefix.canonical
        guard let owner = table.removeValue(forPrefix: prefix) else { return nil }
        detach(prefix, from: owner)
        return owner
    }

    /// Removes every prefix of `peer` (the peer was removed or its list is being replaced).
    /// - Returns: how many prefixes were removed.
    @discardableResult
    public mutating func remove(peer: PeerID) -> Int {
        guard let prefixes = prefixesByPeer.removeValue(forKey: peer) else { return 0 }
        for prefix in prefixes { table.removeValue(forPrefix: prefix) }
        return prefixes.count
    }

    /// Removes every prefix of every peer.
    public mutating func removeAll() {
        table.removeAll()
        prefixesByPeer.removeAll()
    }

    /// The peer to send a packet for `destination` to; nil means no route (whitepaper §3: the
    /// packet is dropped and the sender told "no route to host").
    @inlinable public func lookup(_ destination: IPAddress) -> PeerID? {
        table.lookup(destination)
    }

    /// The peer to send a packet for `destination` to; nil means no route.
    @inlinable public func lookup(_ destination: IPv4Address) -> PeerID? {
        table.lookup(destination)
    }

    /// The peer to send a packet for `destination` to; nil means no route.
    @inlinable public func lookup(_ destination: IPv6Address) -> PeerID? {
        table.lookup(destination)
    }

    /// The peer for the destination of the IPv4/IPv6 packet at `packet[0]`; nil if no peer
    /// matches or the buffer does not hold an IP header.
    @inlinable public func lookup(packetDestination packet: UnsafeRawBufferPointer) -> PeerID? {
        guard let destination = IPAddress(packetDestination: packet) else { return nil }
        return table.lookup(destination)
    }

    /// The receive-side check: true when `source` routes back to `peer`, i.e. the longest
    /// prefix containing `source` is one of `peer`'s allowed IPs. A decrypted packet failing
    /// this check is dropped (whitepaper §2, §3).
    @inlinable public func allows(_ peer: PeerID, source: IPAddress) -> Bool {
        table.lookup(source) == peer
    }

    /// The receive-side check for the source of the decrypted IPv4/IPv6 packet at `packet[0]`;
    /// false if the buffer does not hold an IP header.
    @inlinable public func allows(_ peer: PeerID, packetSource packet: UnsafeRawBufferPointer) -> Bool {
        guard let source = IPAddress(packetSource: packet) else { return false }
        return table.lookup(source) == peer
    }

    /// The prefixes assigned to `peer`, in ascending order (IPv4 first), as `wg show` lists them.
    public func prefixes(of peer: PeerID) -> [IPPrefix] {
        (prefixesByPeer[peer] ?? []).sorted()
    }

    /// Every peer that holds at least one prefix.
    public var peers: Dictionary<PeerID, Set<IPPrefix>>.Keys { prefixesByPeer.keys }

    private mutating func detach(_ prefix: IPPrefix, from peer: PeerID) {
        prefixesByPeer[peer]?.remove(prefix)
        if prefixesByPeer[peer]?.isEmpty == true { prefixesByPeer[peer] = nil }
    }
}

extension AllowedIPs: Sendable where PeerID: Sendable {}
