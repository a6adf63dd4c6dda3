// Plain, Codable descriptions of the router's state for `weft show ospf` and JSON output.
// Snapshots never include key material.

/// One interface.
public struct OSPFInterfaceSnapshot: Hashable, Sendable, Codable {
    public var id: OSPFInterfaceID
    public var name: String
    public var type: OSPFNetworkType
    public var state: OSPFInterfaceState
    public var address: OSPFAddress
    public var prefix: OSPFPrefix
    public var cost: UInt16
    public var priority: UInt8
    public var mtu: UInt16
    public var helloInterval: UInt16
    public var routerDeadInterval: UInt32
    public var retransmitInterval: UInt16
    public var authentication: String
    public var passive: Bool
    public var designatedRouter: OSPFAddress
    public var backupDesignatedRouter: OSPFAddress
    public var neighborCount: Int
    public var adjacencyCount: Int
}

/// One neighbor.
public struct OSPFNeighborSnapshot: Hashable, Sendable, Codable {
    public var interface: OSPFInterfaceID
    public var routerID: OSPFAddress
    public var address: OSPFAddress
    public var state: OSPFNeighborState
    public var priority: UInt8
    public var designatedRouter: OSPFAddress
    public var backupDesignatedRouter: OSPFAddress
    /// Seconds until the inactivity timer fires.
    public var deadInSeconds: UInt64?
    /// Whether this router is master of the database exchange.
    public var isMaster: Bool
    public var requestListCount: Int
    public var retransmissionListCount: Int
    public var summaryListCount: Int
}

/// One LSA in the database.
public struct OSPFLSASnapshot: Hashable, Sendable, Codable {
    public var type: OSPFLSAType
    public var linkStateID: OSPFAddress
    public var advertisingRouter: OSPFAddress
    public var age: UInt16
    /// The LS sequence number as the customary unsigned hex value, e.g. 0x80000001.
    public var sequenceNumber: UInt32
    public var checksum: UInt16
    public var length: UInt16
    public var options: UInt8
    public var isSelfOriginated: Bool

    public var key: OSPFLSAKey {
        OSPFLSAKey(type: type, linkStateID: linkStateID, advertisingRouter: advertisingRouter)
    }
}

/// Everything `weft show ospf` prints.
public struct OSPFSnapshot: Hashable, Sendable, Codable {
    public var routerID: OSPFAddress
    public var areaID: OSPFAddress
    public var interfaces: [OSPFInterfaceSnapshot]
    public var neighbors: [OSPFNeighborSnapshot]
    public var database: [OSPFLSASnapshot]
    public var routes: [OSPFRoute]
    public var counters: OSPFCounters
    /// Drop counters by reason name, omitting zeros, for readable JSON.
    public var drops: [String: UInt64]
}

extension OSPFRouter {
    /// A consistent picture of the router at `now`.
    public func snapshot(now: OSPFInstant) -> OSPFSnapshot {
        var interfaceSnapshots: [OSPFInterfaceSnapshot] = []
        var neighborSnapshots: [OSPFNeighborSnapshot] = []
        for id in interfaceOrder {
            guard let interface = interfaces[id] else { continue }
            let configuration = interface.configuration
            interfaceSnapshots.append(OSPFInterfaceSnapshot(
                id: id, name: configuration.name, type: configuration.type, state: interface.state,
                address: configuration.address, prefix: interface.prefix, cost: configuration.cost,
                priority: configuration.priority, mtu: configuration.mtu,
                helloInterval: configuration.helloInterval, routerDeadInterval: configuration.routerDeadInterval,
                retransmitInterval: configuration.retransmitInterval,
                authentication: configuration.authentication.schemeName, passive: configuration.passive,
                designatedRouter: interface.designatedRouter, backupDesignatedRouter: interface.backupDesignatedRouter,
                neighborCount: interface.neighbors.count,
                adjacencyCount: interface.neighbors.filter { $0.state == .full }.count))
            for neighbor in interface.neighbors.sorted(by: { $0.routerID < $1.routerID }) {
                neighborSnapshots.append(OSPFNeighborSnapshot(
                    interface: id, routerID: neighbor.routerID, address: neighbor.address, state: neighbor.state,
                    priority: neighbor.priority, designatedRouter: neighbor.declaredDesignatedRouter,
                    backupDesignatedRouter: neighbor.declaredBackupDesignatedRouter,
                    deadInSeconds: neighbor.inactivityDeadline.map { ($0 - now).wholeSeconds },
                    isMaster: neighbor.isMaster, requestListCount: neighbor.requestList.count,
                    retransmissionListCount: neighbor.retransmissionList.count,
                    summaryListCount: max(neighbor.summaryList.count - neighbor.summaryIndex, 0)))
            }
        }
        var drops: [String: UInt64] = [:]
        for reason in OSPFDropReason.allCases where counters[reason] > 0 {
            drops[reason.rawValue] = counters[reason]
        }
        return OSPFSnapshot(routerID: routerID, areaID: areaID, interfaces: interfaceSnapshots,
                            neighbors: neighborSnapshots, database: databaseSnapshot(now: now),
                            routes: routingTable, counters: counters, drops: drops)
    }

    /// The link state database at `now`, sorted by key.
    public func databaseSnapshot(now: OSPFInstant) -> [OSPFLSASnapshot] {
        database.sortedKeys.compactMap { key in
            guard let entry = database.entries[key] else { return nil }
            let header = entry.lsa.header
            return OSPFLSASnapshot(type: header.type, linkStateID: header.linkStateID,
                                   advertisingRouter: header.advertisingRouter, age: database.age(entry, now: now),
                                   sequenceNumber: UInt32(bitPattern: header.sequenceNumber),
                                   checksum: header.checksum, length: header.length,
                                   options: header.options.rawValue, isSelfOriginated: entry.isSelfOriginated)
        }
    }

    /// The LSA stored under `key`, with its current age, if any.
    public func lsa(_ key: OSPFLSAKey, now: OSPFInstant) -> OSPFLSA? {
        database.transmissionCopy(key, now: now, transmitDelay: 0)
    }

    /// The state of each neighbor on `interface`, for tests and CLIs.
    public func neighborStates(on interface: OSPFInterfaceID) -> [OSPFAddress: OSPFNeighborState] {
        var result: [OSPFAddress: OSPFNeighborState] = [:]
        for neighbor in interfaces[interface]?.neighbors ?? [] { result[neighbor.routerID] = neighbor.state }
        return result
    }

    /// The current state of `interface`, or nil when it is not configured.
    public func interfaceState(_ interface: OSPFInterfaceID) -> OSPFInterfaceState? {
        interfaces[interface]?.state
    }
}
