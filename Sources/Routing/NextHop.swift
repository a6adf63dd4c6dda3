// Next hops, their equal-cost multipath (ECMP) selection, and the next-hop groups the forwarding
// table refers to (the same idea as Linux nexthop groups, RTM_NEWNEXTHOP with NHA_GROUP).

/// A network interface, identified by its kernel interface index (netlink RTA_OIF).
public struct LinkID: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public static func < (lhs: LinkID, rhs: LinkID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "link \(rawValue)" }
}

/// One way out for a route: a link and, unless the destination is on that link, a gateway.
public struct NextHop: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The outgoing interface.
    public var link: LinkID
    /// The neighbour to forward to; nil when the destination is directly attached to `link`.
    public var gateway: IPAddress?
    /// Relative share of flows for weighted ECMP (the Linux `rtnh_hops + 1`); 0 counts as 1.
    public var weight: UInt16

    public init(link: LinkID, gateway: IPAddress? = nil, weight: UInt16 = 1) {
        self.link = link
        self.gateway = gateway
        self.weight = weight
    }

    /// A fixed order (link, then gateway with "none" first, then weight), used to store next
    /// hops canonically so that the same set always hashes flows the same way.
    public static func < (lhs: NextHop, rhs: NextHop) -> Bool {
        if lhs.link != rhs.link { return lhs.link < rhs.link }
        if lhs.gateway != rhs.gateway {
            guard let left = lhs.gateway else { return true }
            guard let right = rhs.gateway else { return false }
            return left < right
        }
        return lhs.weight < rhs.weight
    }

    public var description: String {
        var text = gateway.map { "via \($0) dev \(link.rawValue)" } ?? "dev \(link.rawValue)"
        if weight > 1 { text += " weight \(weight)" }
        return text
    }

    /// Picks the next hop for a flow by the hash-threshold method of RFC 2992: the 32-bit hash
    /// space is cut into consecutive regions sized by weight, and the flow takes the region its
    /// hash falls in. Adding or removing one next hop moves only flows near region boundaries,
    /// where hash-mod-N would reshuffle almost every flow. `totalWeight` is the sum of the
    /// weights (each at least 1). Nil for an empty set. Does not allocate.
    static func select(from hops: UnsafeBufferPointer<NextHop>, totalWeight: UInt64,
                       flowHash: UInt32) -> NextHop? {
        guard hops.count > 1 else { return hops.first }
        // (flowHash * totalWeight) / 2^32, in [0, totalWeight), without overflow.
        let point = (UInt64(flowHash) << 32).multipliedFullWidth(by: totalWeight).high
        var boundary: UInt64 = 0
        for hop in hops {
            boundary += UInt64(max(hop.weight, 1))
            if point < boundary { return hop }
        }
        return hops[hops.count - 1]
    }
}

/// Interned, reference-counted next-hop sets, stored back to back in one flat array.
///
/// The forwarding table maps prefixes to a group ID (a plain integer) rather than to a route
/// holding an array: a lookup then only reads memory — no reference-count traffic on shared
/// cache lines between forwarding threads. Routes share few distinct next-hop sets, so
/// interning keeps the pool small and makes "same next hops" an integer comparison.
struct NextHopGroups: Sendable {
    struct Group: Sendable {
        /// Index of the first hop in `hops`.
        var start: Int32
        var count: Int32
        var totalWeight: UInt64
        /// Number of forwarding entries using the group; 0 for a free ID.
        var references: Int32
    }

    /// Every live group's hops, back to back, plus garbage from released groups.
    private(set) var hops: [NextHop] = []
    private(set) var groups: [Group] = []
    private var idsByHops: [[NextHop]: Int32] = [:]
    private var freeIDs: [Int32] = []
    /// Hops in `hops` that belong to no live group.
    private(set) var garbage = 0

    /// Number of live groups.
    var liveCount: Int { idsByHops.count }

    /// The ID of the group for `set` (normalised: sorted, weights at least 1), creating it if
    /// needed, with one more reference.
    mutating func acquire(_ set: [NextHop]) -> Int32 {
        if let id = idsByHops[set] {
            groups[Int(id)].references += 1
            return id
        }
        var total: UInt64 = 0
        for hop in set { total += UInt64(hop.weight) }
        precondition(hops.count + set.count < Int(Int32.max), "next-hop pool exceeds Int32 indices")
        let group = Group(start: Int32(hops.count), count: Int32(set.count), totalWeight: total, references: 1)
        hops.append(contentsOf: set)
        let id: Int32
        if let reused = freeIDs.popLast() {
            id = reused
            groups[Int(id)] = group
        } else {
            id = Int32(groups.count)
            groups.append(group)
        }
        idsByHops[set] = id
        return id
    }

    /// Drops one reference to group `id`, freeing it when none remain.
    mutating func release(_ id: Int32) {
        groups[Int(id)].references -= 1
        let group = groups[Int(id)]
        guard group.references == 0 else { return }
        idsByHops[members(of: id)] = nil
        freeIDs.append(id)
        garbage += Int(group.count)
        // Compact once garbage dominates, so the pool stays proportional to the live groups.
        if garbage > 64 && garbage * 2 > hops.count { compact() }
    }

    /// The hops of group `id`.
    func members(of id: Int32) -> [NextHop] {
        let group = groups[Int(id)]
        return Array(hops[Int(group.start)..<Int(group.start + group.count)])
    }

    /// The next hop of group `id` for a flow with hash `flowHash`; nil for the empty group of a
    /// discard route. Does not allocate or touch reference counts.
    func select(_ id: Int32, flowHash: UInt32) -> NextHop? {
        let group = groups[Int(id)]
        return hops.withUnsafeBufferPointer { all in
            let members = UnsafeBufferPointer(rebasing: all[Int(group.start)..<Int(group.start + group.count)])
            return NextHop.select(from: members, totalWeight: group.totalWeight, flowHash: flowHash)
        }
    }

    private mutating func compact() {
        var compacted: [NextHop] = []
        compacted.reserveCapacity(hops.count - garbage)
        for id in groups.indices where groups[id].references > 0 {
            let group = groups[id]
            groups[id].start = Int32(compacted.count)
            compacted.append(contentsOf: hops[Int(group.start)..<Int(group.start + group.count)])
        }
        hops = compacted
        garbage = 0
    }
}
