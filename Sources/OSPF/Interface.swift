// The interface data structure (RFC 2328 §9), the interface state machine (§9.1–§9.3) and
// the Designated Router election (§9.4).

/// Interface states (RFC 2328 §9.1).
public enum OSPFInterfaceState: String, Hashable, Sendable, Codable, CaseIterable {
    case down = "Down"
    case loopback = "Loopback"
    case waiting = "Waiting"
    case pointToPoint = "PointToPoint"
    case drOther = "DROther"
    case backup = "Backup"
    case designatedRouter = "DR"
}

/// Interface events (RFC 2328 §9.2). LoopInd/UnloopInd are represented by configuring an
/// interface as `.loopback`.
enum InterfaceEvent {
    case interfaceUp
    case waitTimer
    case backupSeen
    case neighborChange
    case interfaceDown
}

/// Per-interface protocol state (§9).
final class Interface {
    var configuration: OSPFInterfaceConfiguration
    var state: OSPFInterfaceState = .down
    /// Whether the lower layer reports the interface up.
    var linkUp = false
    /// The Designated Router and Backup, as interface addresses (§9, "Designated Router").
    var designatedRouter: OSPFAddress = .unspecified
    var backupDesignatedRouter: OSPFAddress = .unspecified
    var neighbors: [Neighbor] = []
    var helloDeadline: OSPFInstant?
    var waitDeadline: OSPFInstant?
    /// LSA headers waiting to be acknowledged in one delayed LSAck (§13.5).
    var delayedAcknowledgments: [OSPFLSAHeader] = []
    var delayedAckDeadline: OSPFInstant?
    /// LSAs to flood out of this interface at the end of the current input event (§13.3).
    var floodQueue: [OSPFLSAKey] = []
    var neighborChangePending = false
    var backupSeenPending = false

    init(configuration: OSPFInterfaceConfiguration) {
        self.configuration = configuration
    }

    var prefix: OSPFPrefix { configuration.prefix }
    var address: OSPFAddress { configuration.address }

    /// Whether OSPF packets are exchanged on this interface at all.
    var acceptsPackets: Bool {
        linkUp && !configuration.passive && state != .down && state != .loopback
    }

    /// The neighbor a packet belongs to: identified by Router ID on point-to-point links and by
    /// IP source address on broadcast networks (§10.5).
    func neighbor(routerID: OSPFAddress, address: OSPFAddress) -> Neighbor? {
        switch configuration.type {
        case .pointToPoint, .loopback:
            neighbors.first { $0.routerID == routerID }
        case .broadcast:
            neighbors.first { $0.address == address }
        }
    }

    // Timer periods. A zero in the configuration would make a timer fire continuously, so
    // every period is at least one second; packets still carry the configured values.
    var helloPeriod: OSPFDuration { .seconds(UInt64(max(configuration.helloInterval, 1))) }
    var deadPeriod: OSPFDuration { .seconds(UInt64(max(configuration.routerDeadInterval, 1))) }
    var retransmitPeriod: OSPFDuration { .seconds(UInt64(max(configuration.retransmitInterval, 1))) }

    /// The delay before a delayed acknowledgment goes out: well below RxmtInterval (§13.5).
    var delayedAckInterval: OSPFDuration {
        min(.seconds(1), OSPFDuration(nanoseconds: retransmitPeriod.nanoseconds / 2))
    }
}

/// One router's entry in a DR election (§9.4): itself or a neighbor in state 2-Way or higher.
public struct OSPFElectionCandidate: Hashable, Sendable {
    public var routerID: OSPFAddress
    /// The candidate's interface address on the network.
    public var address: OSPFAddress
    public var priority: UInt8
    /// The DR and BDR this candidate currently declares (interface addresses).
    public var declaredDesignatedRouter: OSPFAddress
    public var declaredBackupDesignatedRouter: OSPFAddress

    public init(routerID: OSPFAddress, address: OSPFAddress, priority: UInt8,
                declaredDesignatedRouter: OSPFAddress, declaredBackupDesignatedRouter: OSPFAddress) {
        self.routerID = routerID
        self.address = address
        self.priority = priority
        self.declaredDesignatedRouter = declaredDesignatedRouter
        self.declaredBackupDesignatedRouter = declaredBackupDesignatedRouter
    }
}

/// The Designated Router election of RFC 2328 §9.4.
public enum OSPFDesignatedRouterElection {
    /// Runs the election as seen by the calculating router `me` (whose declared DR/BDR are the
    /// interface's current values) among `neighbors` (those in state 2-Way or higher).
    /// Returns the new DR and BDR as interface addresses (0.0.0.0 for none).
    public static func elect(me: OSPFElectionCandidate, neighbors: [OSPFElectionCandidate])
        -> (designatedRouter: OSPFAddress, backupDesignatedRouter: OSPFAddress) {
        var me = me
        // Steps 2 and 3.
        var result = electOnce(candidates: [me] + neighbors)
        // Step 4: if the calculating router became or stopped being DR or BDR, repeat steps 2
        // and 3 with its own declarations updated, so it never claims both roles at once.
        let wasDR = me.declaredDesignatedRouter == me.address
        let wasBDR = me.declaredBackupDesignatedRouter == me.address
        let isDR = result.designatedRouter == me.address
        let isBDR = result.backupDesignatedRouter == me.address
        if wasDR != isDR || wasBDR != isBDR {
            me.declaredDesignatedRouter = result.designatedRouter
            me.declaredBackupDesignatedRouter = result.backupDesignatedRouter
            result = electOnce(candidates: [me] + neighbors)
        }
        return result
    }

    /// Steps 2 and 3 of §9.4.
    static func electOnce(candidates: [OSPFElectionCandidate])
        -> (designatedRouter: OSPFAddress, backupDesignatedRouter: OSPFAddress) {
        let eligible = candidates.filter { $0.priority > 0 }
        func best(_ routers: [OSPFElectionCandidate]) -> OSPFElectionCandidate? {
            routers.max { ($0.priority, $0.routerID) < ($1.priority, $1.routerID) }
        }
        // Step 2: the BDR is chosen among routers not declaring themselves DR, preferring those
        // that declare themselves BDR.
        let notDR = eligible.filter { $0.declaredDesignatedRouter != $0.address }
        let declaringBDR = notDR.filter { $0.declaredBackupDesignatedRouter == $0.address }
        let backup = best(declaringBDR.isEmpty ? notDR : declaringBDR)
        // Step 3: the DR is the best router declaring itself DR, else the new BDR.
        let declaringDR = eligible.filter { $0.declaredDesignatedRouter == $0.address }
        let designated = best(declaringDR) ?? backup
        return (designated?.address ?? .unspecified, backup?.address ?? .unspecified)
    }
}

extension OSPFRouter {
    /// Executes the interface state machine (§9.3).
    func interfaceEvent(_ event: InterfaceEvent, _ interface: Interface, now: OSPFInstant) {
        let old = interface.state
        switch event {
        case .interfaceUp:
            guard interface.state == .down else { return }
            let configuration = interface.configuration
            switch configuration.type {
            case .loopback:
                interface.state = .loopback
            case .pointToPoint:
                interface.state = .pointToPoint
            case .broadcast:
                // A passive network has no neighbors to elect with: it is advertised as a stub
                // right away instead of waiting RouterDeadInterval.
                if configuration.priority == 0 || configuration.passive {
                    interface.state = .drOther
                } else {
                    interface.state = .waiting
                    interface.waitDeadline = now + interface.deadPeriod
                }
            }
            if interface.acceptsPackets {
                // Send the first Hello right away rather than a HelloInterval from now.
                interface.helloDeadline = now
            }
        case .waitTimer, .backupSeen:
            guard interface.state == .waiting else { return }
            interface.waitDeadline = nil
            electDesignatedRouter(interface, now: now)
        case .neighborChange:
            guard [.drOther, .backup, .designatedRouter].contains(interface.state) else { return }
            electDesignatedRouter(interface, now: now)
        case .interfaceDown:
            guard interface.state != .down else { return }
            for neighbor in interface.neighbors {
                neighborEvent(.killNeighbor, neighbor, on: interface, now: now)
            }
            interface.neighbors.removeAll()
            interface.state = .down
            interface.designatedRouter = .unspecified
            interface.backupDesignatedRouter = .unspecified
            interface.helloDeadline = nil
            interface.waitDeadline = nil
            interface.delayedAcknowledgments.removeAll()
            interface.delayedAckDeadline = nil
            interface.floodQueue.removeAll()
            interface.neighborChangePending = false
            interface.backupSeenPending = false
        }
        if interface.state != old {
            actions.append(.interfaceStateChanged(interface: interface.configuration.id, from: old, to: interface.state))
            // §12.4: an interface state change changes the router-LSA (and maybe a network-LSA),
            // and next hops over the interface change at once.
            origination.dirty = true
            scheduleSPF(now: now)
        }
    }

    /// Runs §9.4 on a broadcast interface and applies the result: new interface state, AdjOK?
    /// on every neighbor in 2-Way or higher when the DR or BDR changed.
    func electDesignatedRouter(_ interface: Interface, now: OSPFInstant) {
        let me = OSPFElectionCandidate(
            routerID: routerID, address: interface.address, priority: interface.configuration.priority,
            declaredDesignatedRouter: interface.designatedRouter,
            declaredBackupDesignatedRouter: interface.backupDesignatedRouter)
        let others = interface.neighbors.filter { $0.state >= .twoWay }.map {
            OSPFElectionCandidate(routerID: $0.routerID, address: $0.address, priority: $0.priority,
                                  declaredDesignatedRouter: $0.declaredDesignatedRouter,
                                  declaredBackupDesignatedRouter: $0.declaredBackupDesignatedRouter)
        }
        let (dr, bdr) = OSPFDesignatedRouterElection.elect(me: me, neighbors: others)
        let changed = dr != interface.designatedRouter || bdr != interface.backupDesignatedRouter
        interface.designatedRouter = dr
        interface.backupDesignatedRouter = bdr
        let old = interface.state
        // The state change itself is reported by `interfaceEvent`, the only caller.
        interface.state = dr == interface.address ? .designatedRouter
            : bdr == interface.address ? .backup : .drOther
        if changed || interface.state != old {
            origination.dirty = true
            for neighbor in interface.neighbors where neighbor.state >= .twoWay {
                neighborEvent(.adjacencyOK, neighbor, on: interface, now: now)
            }
        }
    }
}
