// The link state database of the area (RFC 2328 §12, §13.2), LSA aging and MaxAge flushing
// (§14), and origination of this router's own LSAs (§12.4): the router-LSA and, as DR, a
// network-LSA per broadcast network, honoring MinLSInterval, LSRefreshTime and the sequence
// number wrap of §12.1.6.

/// An LSA body decoded once at installation, for SPF.
enum DecodedLSABody {
    case router(OSPFRouterLSA)
    case network(OSPFNetworkLSA)
    case external(OSPFASExternalLSA)
    case summary(OSPFSummaryLSA)
    case malformed

    init(_ lsa: OSPFLSA) {
        switch lsa.header.type {
        case .router: self = OSPFRouterLSA(body: lsa.body).map(DecodedLSABody.router) ?? .malformed
        case .network: self = OSPFNetworkLSA(body: lsa.body).map(DecodedLSABody.network) ?? .malformed
        case .summaryNetwork, .summaryASBR: self = OSPFSummaryLSA(body: lsa.body).map(DecodedLSABody.summary) ?? .malformed
        case .asExternal: self = OSPFASExternalLSA(body: lsa.body).map(DecodedLSABody.external) ?? .malformed
        }
    }
}

/// One database entry: the LSA as installed, and when.
struct LSDBEntry {
    /// The LSA; `lsa.header.age` is its age at `installedAt`.
    var lsa: OSPFLSA
    var installedAt: OSPFInstant
    /// Whether the instance arrived by flooding (MinLSArrival, §13 step 5a).
    var receivedByFlooding: Bool
    var isSelfOriginated: Bool
    var decoded: DecodedLSABody
}

/// The per-area link state database.
struct LinkStateDatabase {
    private(set) var entries: [OSPFLSAKey: LSDBEntry] = [:]
    /// Keys of entries at MaxAge, waiting for removal (§14).
    private(set) var maxAgeKeys: Set<OSPFLSAKey> = []
    /// The earliest time an entry reaches MaxAge or (self-originated) LSRefreshTime; may be
    /// early after removals, never late.
    private(set) var nextAgingEvent: OSPFInstant?
    /// The router-, network-, summary- and AS-external-LSAs not at MaxAge, as the routing table
    /// calculation reads them (§16), updated with every change to `entries`.
    private(set) var topology = SPFTopology()
    /// The earliest time an LSA in `topology` reaches MaxAge by aging (§14); may be early after
    /// removals, never late. From then on until the aging timer has flushed it, SPF builds its
    /// graph afresh rather than use `topology`.
    private(set) var topologyExpiry: OSPFInstant?

    var sortedKeys: [OSPFLSAKey] { entries.keys.sorted() }
    var count: Int { entries.count }

    /// The LS age of an entry at `now` (§12.1.1, §14): the installed age plus whole seconds
    /// since installation, capped at MaxAge.
    func age(_ entry: LSDBEntry, now: OSPFInstant) -> UInt16 {
        LinkStateDatabase.age(installed: entry.lsa.header.age, at: entry.installedAt, now: now)
    }

    /// The age at `now` of an LSA installed with age `installed` at `installedAt`.
    static func age(installed: UInt16, at installedAt: OSPFInstant, now: OSPFInstant) -> UInt16 {
        if installed >= OSPFConstants.maxAge { return OSPFConstants.maxAge }
        let elapsed = (now - installedAt).wholeSeconds
        return UInt16(min(UInt64(installed) + elapsed, UInt64(OSPFConstants.maxAge)))
    }

    /// The header of the database copy with its current age.
    func currentHeader(_ key: OSPFLSAKey, now: OSPFInstant) -> OSPFLSAHeader? {
        guard let entry = entries[key] else { return nil }
        var header = entry.lsa.header
        header.age = age(entry, now: now)
        return header
    }

    /// The database copy as it goes on the wire: aged, plus InfTransDelay (§13.3 step 5).
    func transmissionCopy(_ key: OSPFLSAKey, now: OSPFInstant, transmitDelay: UInt16) -> OSPFLSA? {
        guard let entry = entries[key] else { return nil }
        var lsa = entry.lsa
        let age = age(entry, now: now)
        lsa.header.age = age >= OSPFConstants.maxAge ? age : min(age &+ transmitDelay, OSPFConstants.maxAge)
        return lsa
    }

    /// Installs an instance (§13.2); returns whether the routing table may change: a new LSA,
    /// or a change of options, length, body, or MaxAge-ness.
    mutating func install(_ lsa: OSPFLSA, now: OSPFInstant, receivedByFlooding: Bool, isSelfOriginated: Bool,
                          decoded: DecodedLSABody? = nil) -> Bool {
        let key = lsa.key
        let old = entries[key]
        let entry = LSDBEntry(lsa: lsa, installedAt: now, receivedByFlooding: receivedByFlooding,
                              isSelfOriginated: isSelfOriginated, decoded: decoded ?? DecodedLSABody(lsa))
        entries[key] = entry
        let isMaxAge = lsa.header.age >= OSPFConstants.maxAge
        if isMaxAge {
            maxAgeKeys.insert(key)
            topology.remove(key)
        } else {
            maxAgeKeys.remove(key)
            topology.install(key, entry.decoded)
            let expiry = now + .seconds(UInt64(OSPFConstants.maxAge - lsa.header.age))
            if topologyExpiry.map({ expiry < $0 }) ?? true { topologyExpiry = expiry }
        }
        rebuildTopologyIfSparse()
        if let deadline = agingDeadline(entry), deadline > now, nextAgingEvent.map({ deadline < $0 }) ?? true {
            nextAgingEvent = deadline
        }
        guard let old else { return true }
        let wasMaxAge = age(old, now: now) >= OSPFConstants.maxAge
        return wasMaxAge != isMaxAge || old.lsa.header.options != lsa.header.options
            || old.lsa.header.length != lsa.header.length || old.lsa.body != lsa.body
    }

    /// Sets an entry's age to MaxAge (premature aging, §14.1, or natural aging, §14).
    mutating func ageOut(_ key: OSPFLSAKey, now: OSPFInstant) {
        guard var entry = entries[key] else { return }
        entry.lsa.header.age = OSPFConstants.maxAge
        entry.installedAt = now
        entry.receivedByFlooding = false
        entries[key] = entry
        maxAgeKeys.insert(key)
        topology.remove(key)
        rebuildTopologyIfSparse()
    }

    mutating func remove(_ key: OSPFLSAKey) {
        entries[key] = nil
        maxAgeKeys.remove(key)
        topology.remove(key)
        rebuildTopologyIfSparse()
    }

    private mutating func rebuildTopologyIfSparse() {
        if topology.needsRebuild { topology = SPFTopology(entries.values) }
    }

    /// The topology for a routing table calculation at `now`: `topology`, unless an LSA in it
    /// has reached MaxAge by then and not been flushed yet; then one without such LSAs.
    mutating func topology(at now: OSPFInstant) -> SPFTopology {
        guard let expiry = topologyExpiry, now >= expiry else {
            if topology.needsRanking { topology.rankVertices() }
            return topology
        }
        return SPFTopology(entries.values, now: now)
    }

    /// When an entry next needs attention: refresh of our own LSAs at LSRefreshTime (§12.4),
    /// or reaching MaxAge (§14).
    func agingDeadline(_ entry: LSDBEntry) -> OSPFInstant? {
        let age = entry.lsa.header.age
        guard age < OSPFConstants.maxAge else { return nil }
        let limit = entry.isSelfOriginated ? OSPFConstants.lsRefreshTime : OSPFConstants.maxAge
        return entry.installedAt + .seconds(UInt64(limit > age ? limit - age : 0))
    }

    /// Recomputes `nextAgingEvent` after the due entries have been handled. Deadlines already
    /// passed belong to our own LSAs whose re-origination is pending (possibly held back by
    /// MinLSInterval, which has its own timer); counting them would make the timer fire
    /// continuously.
    mutating func recomputeNextAgingEvent(now: OSPFInstant) {
        var earliest: OSPFInstant?
        var earliestExpiry: OSPFInstant?
        for entry in entries.values {
            if entry.lsa.header.age < OSPFConstants.maxAge {
                let expiry = entry.installedAt + .seconds(UInt64(OSPFConstants.maxAge - entry.lsa.header.age))
                if earliestExpiry.map({ expiry < $0 }) ?? true { earliestExpiry = expiry }
            }
            guard let deadline = agingDeadline(entry), deadline > now else { continue }
            if earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
        }
        nextAgingEvent = earliest
        topologyExpiry = earliestExpiry
    }
}

/// Bookkeeping for this router's own LSAs.
struct SelfOrigination {
    /// The desired set of self-originated LSAs may have changed.
    var dirty = false
    /// When an origination deferred by MinLSInterval becomes allowed.
    var deadline: OSPFInstant?
    var lastOriginated: [OSPFLSAKey: OSPFInstant] = [:]
    /// LSAs to re-originate even if unchanged (refresh, §12.4; newer copy received, §13.4).
    var forced: Set<OSPFLSAKey> = []
}

extension OSPFRouter {
    /// Installs an LSA and schedules SPF if the routing table may change.
    func installLSA(_ lsa: OSPFLSA, now: OSPFInstant, receivedByFlooding: Bool, decoded: DecodedLSABody? = nil) {
        let changed = database.install(lsa, now: now, receivedByFlooding: receivedByFlooding,
                                       isSelfOriginated: lsa.header.advertisingRouter == routerID, decoded: decoded)
        if changed { scheduleSPF(now: now) }
    }

    /// Whether an LSA is ours (§13.4): advertised by our Router ID, or a network-LSA whose
    /// Link State ID is one of our interface addresses (left over from a Router ID change).
    func isSelfOriginated(_ header: OSPFLSAHeader) -> Bool {
        if header.advertisingRouter == routerID { return true }
        guard header.type == .network else { return false }
        return interfaces.values.contains { $0.address == header.linkStateID }
    }

    /// §13.4: a newer instance of one of our LSAs arrived. If we still originate it, a new
    /// instance with a higher sequence number follows; otherwise it is flushed.
    func receivedSelfOriginated(_ lsa: OSPFLSA, now: OSPFInstant) {
        if lsa.header.advertisingRouter == routerID { origination.forced.insert(lsa.key) }
        origination.dirty = true
    }

    /// Handles entries that reached LSRefreshTime or MaxAge (§12.4, §14).
    func runDatabaseTimers(now: OSPFInstant) {
        guard let due = database.nextAgingEvent, due <= now else { return }
        for key in database.sortedKeys {
            guard let entry = database.entries[key], entry.lsa.header.age < OSPFConstants.maxAge else { continue }
            let age = database.age(entry, now: now)
            if entry.isSelfOriginated, age >= OSPFConstants.lsRefreshTime {
                origination.forced.insert(key)
                origination.dirty = true
            }
            if age >= OSPFConstants.maxAge {
                // §14: an LSA reaching MaxAge is re-flooded so every router drops it together.
                flush(key, now: now)
            }
        }
        database.recomputeNextAgingEvent(now: now)
    }

    /// Removes MaxAge LSAs once no neighbor still needs them (§14): not on any retransmission
    /// list, and no database exchange in progress.
    func removeMaxAgeLSAs(now: OSPFInstant) {
        guard !database.maxAgeKeys.isEmpty, !anyNeighborExchangingOrLoading else { return }
        for key in database.maxAgeKeys.sorted() {
            var pending = false
            for id in interfaceOrder {
                guard let interface = interfaces[id] else { continue }
                if interface.neighbors.contains(where: { $0.retransmissionList[key] != nil }) {
                    pending = true
                    break
                }
            }
            guard !pending else { continue }
            database.remove(key)
            // A flushed LSA of ours may be waiting to be originated afresh (§12.1.6).
            if key.advertisingRouter == routerID { origination.dirty = true }
        }
    }

    /// Flushes an LSA by premature aging (§14.1).
    func prematurelyAge(_ key: OSPFLSAKey, now: OSPFInstant) {
        guard database.entries[key] != nil else { return }
        counters.lsasOriginated &+= 1
        flush(key, now: now)
    }

    /// Sets an LSA to MaxAge and floods it (§14, §14.1); the previous instance no longer needs
    /// acknowledging, so it leaves the retransmission lists first.
    private func flush(_ key: OSPFLSAKey, now: OSPFInstant) {
        removeFromRetransmissionLists(key)
        database.ageOut(key, now: now)
        scheduleSPF(now: now)
        if let lsa = database.entries[key]?.lsa { flood(lsa, from: nil, receivedOn: nil, now: now) }
    }

    /// Brings the database in line with the LSAs this router should originate (§12.4):
    /// originates new or changed ones (rate-limited by MinLSInterval), refreshes forced ones,
    /// and flushes ours that are no longer wanted.
    func updateSelfOriginatedLSAs(now: OSPFInstant) {
        origination.dirty = false
        var desiredKeys = Set<OSPFLSAKey>()
        for (key, body) in desiredSelfOriginatedLSAs() {
            desiredKeys.insert(key)
            let entry = database.entries[key]
            let isMaxAge = entry.map { database.age($0, now: now) >= OSPFConstants.maxAge } ?? false
            if let entry, !isMaxAge, entry.lsa.body == body, entry.lsa.header.options == advertisedOptions,
               !origination.forced.contains(key) {
                continue
            }
            if let entry, entry.lsa.header.sequenceNumber == OSPFConstants.maxSequenceNumber {
                // §12.1.6: the sequence space is exhausted; flush this instance and originate
                // with InitialSequenceNumber once it has left the database.
                if !isMaxAge { prematurelyAge(key, now: now) }
                continue
            }
            if let last = origination.lastOriginated[key], now < last + OSPFConstants.minLSInterval {
                let allowed = last + OSPFConstants.minLSInterval
                if origination.deadline.map({ allowed < $0 }) ?? true { origination.deadline = allowed }
                continue
            }
            let sequence = entry.map { $0.lsa.header.sequenceNumber &+ 1 } ?? OSPFConstants.initialSequenceNumber
            let lsa = OSPFLSA(type: key.type, linkStateID: key.linkStateID, advertisingRouter: routerID,
                              sequenceNumber: sequence, options: advertisedOptions, body: body)
            origination.forced.remove(key)
            origination.lastOriginated[key] = now
            counters.lsasOriginated &+= 1
            if entry != nil { removeFromRetransmissionLists(key) }
            installLSA(lsa, now: now, receivedByFlooding: false)
            flood(lsa, from: nil, receivedOn: nil, now: now)
        }
        origination.forced.formIntersection(desiredKeys)
        let addresses = Set(interfaces.values.map(\.address))
        for key in database.sortedKeys where !desiredKeys.contains(key) {
            let ours = key.advertisingRouter == routerID
                || (key.type == .network && addresses.contains(key.linkStateID))
            guard ours, let entry = database.entries[key],
                  database.age(entry, now: now) < OSPFConstants.maxAge else { continue }
            prematurelyAge(key, now: now)
        }
    }

    /// The LSAs this router should currently originate, keyed, with their bodies.
    func desiredSelfOriginatedLSAs() -> [(OSPFLSAKey, [UInt8])] {
        var result: [(OSPFLSAKey, [UInt8])] = [
            (OSPFLSAKey(type: .router, linkStateID: routerID, advertisingRouter: routerID), routerLSA().encoded),
        ]
        for id in interfaceOrder {
            guard let interface = interfaces[id], let network = networkLSA(for: interface) else { continue }
            result.append((OSPFLSAKey(type: .network, linkStateID: interface.address, advertisingRouter: routerID),
                           network.encoded))
        }
        return result
    }

    /// The router-LSA (§12.4.1) describing every interface that is not Down.
    func routerLSA() -> OSPFRouterLSA {
        var links: [OSPFRouterLSA.Link] = []
        for id in interfaceOrder {
            guard let interface = interfaces[id] else { continue }
            let cost = interface.configuration.cost
            let prefix = interface.prefix
            let subnet = OSPFRouterLSA.Link(linkID: prefix.address, linkData: prefix.mask, type: .stub, metric: cost)
            switch interface.state {
            case .down:
                continue
            case .loopback:
                // §12.4.1.4: a host route to the interface address, cost 0.
                links.append(.init(linkID: interface.address, linkData: OSPFAddress(rawValue: .max),
                                   type: .stub, metric: 0))
            case .pointToPoint:
                // §12.4.1.1: a type 1 link per full neighbor, plus the link's addressing as a
                // stub: the subnet (option 2) or, on a /32, the neighbor's address (option 1).
                for neighbor in interface.neighbors where neighbor.state == .full {
                    links.append(.init(linkID: neighbor.routerID, linkData: interface.address,
                                       type: .pointToPoint, metric: cost))
                }
                if prefix.length < 32 {
                    links.append(subnet)
                } else if let neighbor = interface.neighbors.first(where: { $0.state >= .initial }) {
                    links.append(.init(linkID: neighbor.address, linkData: OSPFAddress(rawValue: .max),
                                       type: .stub, metric: cost))
                }
            case .waiting:
                // §12.4.1.2: no DR known yet.
                links.append(subnet)
            case .drOther, .backup, .designatedRouter:
                // §12.4.1.2: a transit link once fully adjacent to the DR (or, as DR, to anyone).
                let adjacentToDR = interface.neighbors.contains {
                    $0.state == .full && $0.address == interface.designatedRouter
                }
                let drWithAdjacency = interface.state == .designatedRouter
                    && interface.neighbors.contains { $0.state == .full }
                if adjacentToDR || drWithAdjacency {
                    links.append(.init(linkID: interface.designatedRouter, linkData: interface.address,
                                       type: .transit, metric: cost))
                } else {
                    links.append(subnet)
                }
            }
        }
        for stub in configuration.stubNetworks {
            links.append(.init(linkID: stub.prefix.address, linkData: stub.prefix.mask, type: .stub, metric: stub.cost))
        }
        return OSPFRouterLSA(flags: [], links: links)
    }

    /// The network-LSA for a broadcast interface on which we are DR with at least one full
    /// adjacency (§12.4.2), listing ourselves and every fully adjacent neighbor.
    func networkLSA(for interface: Interface) -> OSPFNetworkLSA? {
        guard interface.configuration.type == .broadcast, interface.state == .designatedRouter else { return nil }
        let adjacent = interface.neighbors.filter { $0.state == .full }.map(\.routerID)
        guard !adjacent.isEmpty else { return nil }
        return OSPFNetworkLSA(networkMask: interface.prefix.mask, attachedRouters: [routerID] + adjacent.sorted())
    }
}
