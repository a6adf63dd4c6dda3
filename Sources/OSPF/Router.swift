// The top-level OSPFv2 state machine of one router (RFC 2328): it owns the interfaces, their
// neighbors, the link state database of its single area, and the routing table.
//
// Sans-I/O: the driver feeds received packets, interface up/down events, configuration
// changes and the current time; every entry point returns the actions to perform (packets to
// send, route changes, state changes to log), and `nextDeadline` says when to call `tick`.
// The router is a non-Sendable class: the driver owns it from one isolation domain.

/// A packet the driver must send.
public struct OSPFOutboundPacket: Hashable, Sendable {
    public var interface: OSPFInterfaceID
    /// AllSPFRouters, AllDRouters or a neighbor's unicast address (§8.1).
    public var destination: OSPFAddress
    /// The sealed OSPF packet, including any cryptographic trailer; IP protocol 89, TTL 1.
    public var bytes: [UInt8]
    public var type: OSPFPacketType
}

/// A neighbor state transition, for logs.
public struct OSPFNeighborTransition: Hashable, Sendable, Codable {
    public var interface: OSPFInterfaceID
    public var routerID: OSPFAddress
    public var address: OSPFAddress
    public var from: OSPFNeighborState
    public var to: OSPFNeighborState
}

/// Something the driver must do or may log.
public enum OSPFAction: Hashable, Sendable {
    case send(OSPFOutboundPacket)
    /// Install or replace the route for `route.prefix`.
    case installRoute(OSPFRoute)
    /// Withdraw the route for this prefix.
    case removeRoute(OSPFPrefix)
    case neighborStateChanged(OSPFNeighborTransition)
    case interfaceStateChanged(interface: OSPFInterfaceID, from: OSPFInterfaceState, to: OSPFInterfaceState)
}

/// One OSPFv2 router running a single area.
public final class OSPFRouter {
    /// The configuration in effect.
    public private(set) var configuration: OSPFConfiguration
    /// Packet, drop, SPF and origination counters.
    public internal(set) var counters = OSPFCounters()

    var interfaces: [OSPFInterfaceID: Interface] = [:]
    /// Interface IDs in ascending order: every walk over interfaces uses it, so behavior never
    /// depends on dictionary iteration order.
    var interfaceOrder: [OSPFInterfaceID] = []
    var database = LinkStateDatabase()
    var origination = SelfOrigination()
    /// The routing table from the last SPF run (§11), sorted by prefix.
    var routes: [OSPFRoute] = []
    var spfDeadline: OSPFInstant?
    var actions: [OSPFAction] = []
    var cryptographicSequence: UInt32

    public var routerID: OSPFAddress { configuration.routerID }
    var areaID: OSPFAddress { configuration.areaID }

    /// Creates a router; every configured interface starts Down until `interfaceUp`. Its
    /// router-LSA is originated by the first entry point called.
    public init(configuration: OSPFConfiguration) {
        self.configuration = configuration
        cryptographicSequence = configuration.cryptographicSequenceStart
        for interfaceConfiguration in configuration.interfaces {
            interfaces[interfaceConfiguration.id] = Interface(configuration: interfaceConfiguration)
        }
        interfaceOrder = interfaces.keys.sorted()
        origination.dirty = true
    }

    // MARK: Entry points

    /// The lower layer reports the interface operational (§9.3 InterfaceUp).
    public func interfaceUp(_ id: OSPFInterfaceID, now: OSPFInstant) -> [OSPFAction] {
        if let interface = interfaces[id], !interface.linkUp {
            interface.linkUp = true
            interfaceEvent(.interfaceUp, interface, now: now)
        }
        return finish(now: now)
    }

    /// The lower layer reports the interface down (§9.3 InterfaceDown).
    public func interfaceDown(_ id: OSPFInterfaceID, now: OSPFInstant) -> [OSPFAction] {
        if let interface = interfaces[id], interface.linkUp {
            interface.linkUp = false
            interfaceEvent(.interfaceDown, interface, now: now)
        }
        return finish(now: now)
    }

    /// Processes one received OSPF packet (the IP payload, protocol 89) that arrived on
    /// `interface` from `source` addressed to `destination` (RFC 2328 §8.2).
    public func receive(_ bytes: [UInt8], on id: OSPFInterfaceID, from source: OSPFAddress,
                        to destination: OSPFAddress, now: OSPFInstant) -> [OSPFAction] {
        if let reason = process(bytes, on: id, from: source, to: destination, now: now) {
            counters.countDrop(reason)
        }
        return finish(now: now)
    }

    /// Runs every timer that is due at `now`.
    public func tick(now: OSPFInstant) -> [OSPFAction] {
        for id in interfaceOrder {
            guard let interface = interfaces[id] else { continue }
            runInterfaceTimers(interface, now: now)
        }
        runDatabaseTimers(now: now)
        if let deadline = origination.deadline, deadline <= now {
            origination.deadline = nil
            origination.dirty = true
        }
        return finish(now: now)
    }

    /// Applies a new configuration. Interfaces that disappear go down; interfaces whose type or
    /// addressing changed are restarted; other parameter changes apply in place. A Router ID or
    /// area change restarts the whole protocol, as a Router ID identifies every LSA we own.
    public func reconfigure(_ newConfiguration: OSPFConfiguration, now: OSPFInstant) -> [OSPFAction] {
        let old = configuration
        if newConfiguration.routerID != old.routerID || newConfiguration.areaID != old.areaID {
            // Flush what we originated under the old identity (§14.1), best effort: the
            // adjacencies that would retransmit it are torn down right after.
            for key in database.sortedKeys where database.entries[key]?.isSelfOriginated == true {
                prematurelyAge(key, now: now)
            }
            flushFloodQueues(now: now)
            let upInterfaces = interfaceOrder.filter { interfaces[$0]?.linkUp == true }
            for id in interfaceOrder {
                guard let interface = interfaces[id], interface.linkUp else { continue }
                interface.linkUp = false
                interfaceEvent(.interfaceDown, interface, now: now)
            }
            database = LinkStateDatabase()
            origination = SelfOrigination()
            origination.dirty = true
            configuration = newConfiguration
            interfaces = [:]
            for interfaceConfiguration in newConfiguration.interfaces {
                interfaces[interfaceConfiguration.id] = Interface(configuration: interfaceConfiguration)
            }
            interfaceOrder = interfaces.keys.sorted()
            for id in upInterfaces {
                guard let interface = interfaces[id] else { continue }
                interface.linkUp = true
                interfaceEvent(.interfaceUp, interface, now: now)
            }
            scheduleSPF(now: now)
            return finish(now: now)
        }
        configuration = newConfiguration
        let wanted = Dictionary(newConfiguration.interfaces.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for id in interfaceOrder where wanted[id] == nil {
            guard let interface = interfaces[id] else { continue }
            if interface.linkUp {
                interface.linkUp = false
                interfaceEvent(.interfaceDown, interface, now: now)
            }
            interfaces[id] = nil
        }
        for (id, interfaceConfiguration) in wanted.sorted(by: { $0.key < $1.key }) {
            guard let interface = interfaces[id] else {
                interfaces[id] = Interface(configuration: interfaceConfiguration)
                continue
            }
            let previous = interface.configuration
            guard previous != interfaceConfiguration else { continue }
            let restart = previous.type != interfaceConfiguration.type
                || previous.address != interfaceConfiguration.address
                || previous.prefixLength != interfaceConfiguration.prefixLength
                || previous.passive != interfaceConfiguration.passive
                || previous.helloInterval != interfaceConfiguration.helloInterval
                || previous.routerDeadInterval != interfaceConfiguration.routerDeadInterval
                || previous.authentication != interfaceConfiguration.authentication
            if restart && interface.linkUp {
                interfaceEvent(.interfaceDown, interface, now: now)
                interface.configuration = interfaceConfiguration
                interfaceEvent(.interfaceUp, interface, now: now)
            } else {
                interface.configuration = interfaceConfiguration
                if previous.priority != interfaceConfiguration.priority {
                    interface.neighborChangePending = true
                }
            }
        }
        interfaceOrder = interfaces.keys.sorted()
        origination.dirty = true
        scheduleSPF(now: now)
        return finish(now: now)
    }

    /// The earliest time at which `tick` has work to do, or nil when nothing is scheduled.
    public var nextDeadline: OSPFInstant? {
        var earliest: OSPFInstant?
        func consider(_ deadline: OSPFInstant?) {
            guard let deadline else { return }
            if earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
        }
        for id in interfaceOrder {
            guard let interface = interfaces[id] else { continue }
            consider(interface.helloDeadline)
            consider(interface.waitDeadline)
            consider(interface.delayedAckDeadline)
            for neighbor in interface.neighbors {
                consider(neighbor.inactivityDeadline)
                consider(neighbor.ddRetransmitDeadline)
                consider(neighbor.requestRetransmitDeadline)
                consider(neighbor.retransmitDeadline)
            }
        }
        consider(database.nextAgingEvent)
        consider(origination.deadline)
        consider(spfDeadline)
        return earliest
    }

    /// The current routing table, sorted by prefix.
    public var routingTable: [OSPFRoute] { routes }

    // MARK: Packet reception (§8.2)

    /// Validates and dispatches one packet; returns the drop reason when it is discarded.
    private func process(_ bytes: [UInt8], on id: OSPFInterfaceID, from source: OSPFAddress,
                         to destination: OSPFAddress, now: OSPFInstant) -> OSPFDropReason? {
        guard let interface = interfaces[id], interface.acceptsPackets else { return .interfaceNotActive }
        let header: OSPFPacketHeader
        do { header = try OSPFPacketHeader.parse(bytes) } catch { return error }
        guard header.routerID != routerID else { return .ownPacket }
        guard header.areaID == areaID else { return .badArea }
        // §8.2: packets to AllDRouters are only for the DR and Backup.
        if destination == .allDRouters, interface.state != .designatedRouter, interface.state != .backup {
            return .notDesignatedRouter
        }
        // §8.2: on multi-access networks the source must be on the attached network.
        if interface.configuration.type == .broadcast, !interface.prefix.contains(source) {
            return .sourceNotOnSubnet
        }
        let neighbor = interface.neighbor(routerID: header.routerID, address: source)
        if let reason = interface.configuration.authentication.verify(
            bytes, header: header, lastSequenceNumber: neighbor?.cryptographicSequenceNumber) {
            return reason
        }
        let body: OSPFPacketBody
        do { body = try OSPFPacketBody.parse(bytes, header: header) } catch { return error }

        if case .hello(let hello) = body {
            counters.countReceived(.hello)
            return receiveHello(hello, header: header, from: source, neighbor: neighbor, on: interface, now: now)
        }
        guard let neighbor else { return .unknownNeighbor }
        if header.authenticationType == 2 { neighbor.cryptographicSequenceNumber = header.cryptographicSequenceNumber }
        counters.countReceived(body.type)
        switch body {
        case .hello:
            return nil
        case .databaseDescription(let description):
            return receiveDatabaseDescription(description, from: neighbor, on: interface, now: now)
        case .linkStateRequest(let request):
            return receiveLinkStateRequest(request, from: neighbor, on: interface, now: now)
        case .linkStateUpdate(let update):
            return receiveLinkStateUpdate(update, from: neighbor, on: interface, now: now)
        case .linkStateAcknowledgment(let acknowledgment):
            return receiveLinkStateAcknowledgment(acknowledgment, from: neighbor, on: interface, now: now)
        }
    }

    // MARK: Sending

    /// The largest OSPF packet (header included, trailer excluded) that fits the interface MTU
    /// after the 20-byte IPv4 header (§A.1: OSPF packets are sent without IP options).
    func maximumPacketLength(_ interface: Interface) -> Int {
        max(Int(interface.configuration.mtu) - 20 - interface.configuration.authentication.trailerLength,
            OSPFPacketHeader.size + 8 + OSPFLSAHeader.size)
    }

    /// Seals and queues one packet for transmission.
    func send(_ body: OSPFPacketBody, on interface: Interface, to destination: OSPFAddress) {
        let packet = OSPFPacket(routerID: routerID, areaID: areaID, body: body)
        cryptographicSequence &+= 1
        let bytes = packet.serialized(authentication: interface.configuration.authentication,
                                      sequenceNumber: cryptographicSequence)
        counters.countSent(body.type)
        actions.append(.send(OSPFOutboundPacket(interface: interface.configuration.id, destination: destination,
                                                bytes: bytes, type: body.type)))
    }

    /// The destination for packets sent directly to one neighbor: on point-to-point links
    /// always AllSPFRouters (§8.1), otherwise the neighbor's address.
    func directDestination(_ neighbor: Neighbor, on interface: Interface) -> OSPFAddress {
        interface.configuration.type == .pointToPoint ? .allSPFRouters : neighbor.address
    }

    /// The destination for floods and delayed acks (§13.3 step 5, §13.5): AllSPFRouters,
    /// except AllDRouters from a DROther on a broadcast network.
    func floodDestination(_ interface: Interface) -> OSPFAddress {
        guard interface.configuration.type == .broadcast else { return .allSPFRouters }
        return interface.state == .designatedRouter || interface.state == .backup ? .allSPFRouters : .allDRouters
    }

    // MARK: Timers

    private func runInterfaceTimers(_ interface: Interface, now: OSPFInstant) {
        if let deadline = interface.helloDeadline, deadline <= now {
            interface.helloDeadline = now + interface.helloPeriod
            sendHello(on: interface)
        }
        if let deadline = interface.waitDeadline, deadline <= now {
            interface.waitDeadline = nil
            interfaceEvent(.waitTimer, interface, now: now)
        }
        for neighbor in interface.neighbors {
            if let deadline = neighbor.inactivityDeadline, deadline <= now {
                neighborEvent(.inactivityTimer, neighbor, on: interface, now: now)
                continue
            }
            if let deadline = neighbor.ddRetransmitDeadline, deadline <= now {
                retransmitDatabaseDescription(neighbor, on: interface, now: now)
            }
            if let deadline = neighbor.requestRetransmitDeadline, deadline <= now {
                neighbor.requestRetransmitDeadline = nil
                sendLinkStateRequest(to: neighbor, on: interface, now: now)
            }
            if let deadline = neighbor.retransmitDeadline, deadline <= now {
                retransmitLSAs(to: neighbor, on: interface, now: now)
            }
        }
        interface.neighbors.removeAll { $0.state == .down }
        if let deadline = interface.delayedAckDeadline, deadline <= now {
            flushDelayedAcknowledgments(on: interface)
        }
    }

    // MARK: Deferred work

    /// Completes an input event: pending interface events (BackupSeen, NeighborChange),
    /// self-originated LSA updates, queued floods, MaxAge removal and a due SPF; then hands
    /// back the accumulated actions.
    func finish(now: OSPFInstant) -> [OSPFAction] {
        // Elections can change adjacencies, which change LSAs, which never feed back into
        // elections; a few passes always settle, and the bound keeps a bug from spinning.
        for _ in 0..<8 {
            var progressed = false
            for id in interfaceOrder {
                guard let interface = interfaces[id] else { continue }
                if interface.backupSeenPending {
                    interface.backupSeenPending = false
                    if interface.state == .waiting {
                        interfaceEvent(.backupSeen, interface, now: now)
                        progressed = true
                    }
                }
                if interface.neighborChangePending {
                    interface.neighborChangePending = false
                    switch interface.state {
                    case .drOther, .backup, .designatedRouter:
                        interfaceEvent(.neighborChange, interface, now: now)
                        progressed = true
                    case .down, .loopback, .waiting, .pointToPoint:
                        break
                    }
                }
                if interface.neighbors.contains(where: { $0.state == .down }) {
                    interface.neighbors.removeAll { $0.state == .down }
                }
            }
            removeMaxAgeLSAs(now: now)
            if origination.dirty {
                updateSelfOriginatedLSAs(now: now)
                progressed = true
            }
            if !progressed { break }
        }
        flushFloodQueues(now: now)
        if let deadline = spfDeadline, deadline <= now {
            spfDeadline = nil
            runSPF(now: now)
        }
        let result = actions
        actions = []
        return result
    }

    /// Schedules an SPF run (§16) after the configured delay unless one is already pending.
    func scheduleSPF(now: OSPFInstant) {
        if spfDeadline == nil { spfDeadline = now + configuration.spfDelay }
    }

    /// Whether any neighbor is in Exchange or Loading (§13 step 4, §14).
    var anyNeighborExchangingOrLoading: Bool {
        for id in interfaceOrder {
            guard let interface = interfaces[id] else { continue }
            for neighbor in interface.neighbors where neighbor.state == .exchange || neighbor.state == .loading {
                return true
            }
        }
        return false
    }
}
