// The Hello protocol: sending Hellos (RFC 2328 §9.5) and receiving them (§10.5).

extension OSPFRouter {
    /// The Options this router advertises: only the E-bit, required in area 0 (§A.2) and
    /// matched by peers in Hellos (§10.5).
    var advertisedOptions: OSPFOptions { [.externalRouting] }

    /// Sends a Hello on `interface` (§9.5). Point-to-point Hellos carry the interface's
    /// network mask and no DR/BDR; every Hello lists the Router IDs heard from recently.
    func sendHello(on interface: Interface) {
        guard interface.acceptsPackets else { return }
        let configuration = interface.configuration
        let isBroadcast = configuration.type == .broadcast
        let heard = interface.neighbors.filter { $0.state >= .initial }.map(\.routerID).sorted()
        let hello = OSPFHello(
            networkMask: interface.prefix.mask, helloInterval: configuration.helloInterval,
            options: advertisedOptions, routerPriority: configuration.priority,
            routerDeadInterval: configuration.routerDeadInterval,
            designatedRouter: isBroadcast ? interface.designatedRouter : .unspecified,
            backupDesignatedRouter: isBroadcast ? interface.backupDesignatedRouter : .unspecified,
            neighbors: heard)
        send(.hello(hello), on: interface, to: .allSPFRouters)
    }

    /// Processes a received Hello (§10.5). Returns a drop reason when parameters mismatch.
    func receiveHello(_ hello: OSPFHello, header: OSPFPacketHeader, from source: OSPFAddress, neighbor known: Neighbor?,
                      on interface: Interface, now: OSPFInstant) -> OSPFDropReason? {
        let configuration = interface.configuration
        let isBroadcast = configuration.type == .broadcast
        // §10.5: the Network Mask must match, except on point-to-point networks where it is
        // not checked (unnumbered links and peers such as BIRD send 0.0.0.0 or their own mask).
        if isBroadcast, hello.networkMask != interface.prefix.mask { return .helloNetworkMaskMismatch }
        guard hello.helloInterval == configuration.helloInterval else { return .helloIntervalMismatch }
        guard hello.routerDeadInterval == configuration.routerDeadInterval else { return .deadIntervalMismatch }
        // §10.5: the E-bit must match the area's ExternalRoutingCapability; RFC 3101 adds N.
        let significant: OSPFOptions = [.externalRouting, .nssa]
        guard hello.options.intersection(significant) == advertisedOptions.intersection(significant) else {
            return .optionsMismatch
        }

        var neighbor = known
        if let existing = neighbor, existing.routerID != header.routerID {
            // A different router now uses this address on the LAN: the old conversation is over.
            neighborEvent(.killNeighbor, existing, on: interface, now: now)
            interface.neighbors.removeAll { $0 === existing }
            neighbor = nil
        }
        if configuration.type == .pointToPoint, neighbor == nil,
           let stale = interface.neighbors.first(where: { $0.routerID != header.routerID }) {
            // A point-to-point link has one neighbor; a new Router ID replaces the old one.
            neighborEvent(.killNeighbor, stale, on: interface, now: now)
            interface.neighbors.removeAll { $0 === stale }
        }
        let isNew = neighbor == nil
        let current = neighbor ?? Neighbor(routerID: header.routerID, address: source, priority: hello.routerPriority)
        if isNew {
            current.declaredDesignatedRouter = hello.designatedRouter
            current.declaredBackupDesignatedRouter = hello.backupDesignatedRouter
            interface.neighbors.append(current)
        }
        if header.authenticationType == 2 { current.cryptographicSequenceNumber = header.cryptographicSequenceNumber }
        // On point-to-point links the neighbor is known by Router ID; keep its address current.
        current.address = source

        let previousPriority = current.priority
        let previousDR = current.declaredDesignatedRouter
        let previousBDR = current.declaredBackupDesignatedRouter
        current.priority = hello.routerPriority
        current.declaredDesignatedRouter = hello.designatedRouter
        current.declaredBackupDesignatedRouter = hello.backupDesignatedRouter

        neighborEvent(.helloReceived, current, on: interface, now: now)
        guard hello.neighbors.contains(routerID) else {
            // §10.5: without our Router ID in the list, the neighbor does not hear us (yet).
            neighborEvent(.oneWayReceived, current, on: interface, now: now)
            return nil
        }
        neighborEvent(.twoWayReceived, current, on: interface, now: now)
        guard isBroadcast else { return nil }

        if previousPriority != hello.routerPriority { interface.neighborChangePending = true }
        let declaresDR = hello.designatedRouter == source
        let declaresBDR = hello.backupDesignatedRouter == source
        let declaredDR = previousDR == source
        let declaredBDR = previousBDR == source
        // §10.5: a neighbor declaring itself DR (with no BDR) or BDR ends the Waiting state;
        // any change in what it declares about itself is a NeighborChange.
        if declaresDR, hello.backupDesignatedRouter == .unspecified, interface.state == .waiting {
            interface.backupSeenPending = true
        } else if isNew ? declaresDR : declaresDR != declaredDR {
            interface.neighborChangePending = true
        }
        if declaresBDR, interface.state == .waiting {
            interface.backupSeenPending = true
        } else if isNew ? declaresBDR : declaresBDR != declaredBDR {
            interface.neighborChangePending = true
        }
        return nil
    }
}
