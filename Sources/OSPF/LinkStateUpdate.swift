// Link State Update packets and the flooding procedure: receiving updates (RFC 2328 §13),
// deciding which instance is newer (§13.1), flooding out (§13.3), and retransmitting LSAs
// until acknowledged (§13.6).

/// The result of comparing two instances of the same LSA (§13.1).
public enum OSPFLSAOrder: Sendable, Equatable {
    case newer
    case same
    case older
}

/// The "which instance is more recent" rules of RFC 2328 §13.1.
public enum OSPFLSAComparison {
    /// Compares instance `a` with instance `b` of the same LSA: the higher sequence number wins;
    /// then the larger checksum; then an instance at MaxAge; then, when the ages differ by more
    /// than MaxAgeDiff, the younger one. Otherwise the instances are the same.
    public static func compare(_ a: OSPFLSAHeader, _ b: OSPFLSAHeader) -> OSPFLSAOrder {
        if a.sequenceNumber != b.sequenceNumber { return a.sequenceNumber > b.sequenceNumber ? .newer : .older }
        if a.checksum != b.checksum { return a.checksum > b.checksum ? .newer : .older }
        let aMax = a.age >= OSPFConstants.maxAge
        let bMax = b.age >= OSPFConstants.maxAge
        if aMax != bMax { return aMax ? .newer : .older }
        let difference = a.age > b.age ? a.age - b.age : b.age - a.age
        if difference > OSPFConstants.maxAgeDiff { return a.age < b.age ? .newer : .older }
        return .same
    }
}

extension OSPFRouter {
    /// Processes a received Link State Update (§13), LSA by LSA.
    func receiveLinkStateUpdate(_ update: OSPFLinkStateUpdate, from neighbor: Neighbor,
                                on interface: Interface, now: OSPFInstant) -> OSPFDropReason? {
        guard neighbor.state >= .exchange else { return .neighborStateTooLow }
        let isBackup = interface.state == .backup
        let fromDR = neighbor.address == interface.designatedRouter
        for _ in 0..<update.skippedUnknownTypes { counters.countDrop(.badLSA) }
        for lsa in update.lsas {
            // Steps 1 and 2: LS checksum and a well-formed body of a known LS type.
            guard lsa.hasValidChecksum else {
                counters.countDrop(.badLSAChecksum)
                continue
            }
            let decoded = DecodedLSABody(lsa)
            if case .malformed = decoded {
                counters.countDrop(.badLSA)
                continue
            }
            // Step 3 (AS-external-LSAs in stub areas) cannot apply: the area is never a stub.
            let key = lsa.key
            let current = database.currentHeader(key, now: now)
            // Step 4: a MaxAge LSA we do not have is acknowledged and dropped, unless a
            // database exchange in progress may still need it.
            if lsa.header.age >= OSPFConstants.maxAge, current == nil, !anyNeighborExchangingOrLoading {
                sendDirectAcknowledgment([lsa.header], to: neighbor, on: interface)
                continue
            }
            let order = current.map { OSPFLSAComparison.compare(lsa.header, $0) } ?? .newer
            if order == .newer {
                // Step 5(a): MinLSArrival applies to instances that arrived by flooding.
                if let entry = database.entries[key], entry.receivedByFlooding,
                   now - entry.installedAt < OSPFConstants.minLSArrival {
                    counters.countDrop(.lsaArrivedTooSoon)
                    continue
                }
                // Steps 5(b)–(d): flood, forget the old instance, install. Retransmission lists
                // are keyed by LSA, so the old instance (5c) is dropped before flooding adds
                // the new one (5b).
                if current != nil { removeFromRetransmissionLists(key) }
                let floodedBack = flood(lsa, from: neighbor, receivedOn: interface, now: now)
                installLSA(lsa, now: now, receivedByFlooding: true, decoded: decoded)
                // Step 5(e): the acknowledgment table of §13.5.
                if !floodedBack, !isBackup || fromDR {
                    queueDelayedAcknowledgment(lsa.header, on: interface, now: now)
                }
                // Step 5(f): somebody holds a newer instance of one of our LSAs (§13.4).
                if isSelfOriginated(lsa.header) { receivedSelfOriginated(lsa, now: now) }
                continue
            }
            // Step 6: the neighbor offered this LSA in its DD but sends an instance that is not
            // newer than ours: the database exchange went wrong.
            if neighbor.requestList[key] != nil {
                neighborEvent(.badLSRequest, neighbor, on: interface, now: now)
                return nil
            }
            if order == .same {
                // Step 7: a duplicate is an implied acknowledgment if we were waiting for one.
                if let entry = neighbor.retransmissionList[key],
                   OSPFLSAComparison.compare(lsa.header, entry.header) == .same {
                    neighbor.retransmissionList[key] = nil
                    if isBackup, fromDR { queueDelayedAcknowledgment(lsa.header, on: interface, now: now) }
                } else {
                    sendDirectAcknowledgment([lsa.header], to: neighbor, on: interface)
                }
                continue
            }
            // Step 8: our instance is newer. A MaxAge instance at MaxSequenceNumber is being
            // flushed for a sequence wrap and is not sent back; otherwise the neighbor gets our
            // instance directly, at most once per MinLSArrival.
            guard let current else { continue }
            if current.age >= OSPFConstants.maxAge, current.sequenceNumber == OSPFConstants.maxSequenceNumber {
                continue
            }
            if let last = neighbor.lastDirectResponse[key], now - last < OSPFConstants.minLSArrival { continue }
            neighbor.lastDirectResponse[key] = now
            if let copy = database.transmissionCopy(key, now: now, transmitDelay: interface.configuration.transmitDelay) {
                sendUpdates([copy], on: interface, to: directDestination(neighbor, on: interface))
            }
        }
        continueLoading(from: neighbor, on: interface, now: now)
        return nil
    }

    /// The flooding procedure of §13.3 for a new instance received from `sender` on
    /// `receivedOn` (both nil for self-originated LSAs and aged-out LSAs). Adds the LSA to the
    /// retransmission lists of adjacent neighbors and queues it on interfaces that need it.
    /// Returns whether it will be sent back out of the receiving interface (§13.5).
    @discardableResult
    func flood(_ lsa: OSPFLSA, from sender: Neighbor?, receivedOn: Interface?, now: OSPFInstant) -> Bool {
        let key = lsa.key
        var floodedBack = false
        for id in interfaceOrder {
            guard let interface = interfaces[id], interface.acceptsPackets else { continue }
            var added = false
            for neighbor in interface.neighbors where neighbor.state >= .exchange {
                // Step 1(b): an LSA being loaded from this neighbor may satisfy its request.
                if neighbor.state == .exchange || neighbor.state == .loading,
                   let requested = neighbor.requestList[key] {
                    let order = OSPFLSAComparison.compare(lsa.header, requested)
                    if order == .older { continue }
                    neighbor.requestList[key] = nil
                    if neighbor.requestList.isEmpty, neighbor.state == .loading {
                        neighborEvent(.loadingDone, neighbor, on: interface, now: now)
                    }
                    if order == .same { continue }
                }
                // Step 1(c): never back to the sender.
                if neighbor === sender { continue }
                // Step 1(d): expect an acknowledgment.
                neighbor.retransmissionList[key] = RetransmissionEntry(header: lsa.header, sentAt: now)
                if neighbor.retransmitDeadline == nil {
                    neighbor.retransmitDeadline = now + interface.retransmitPeriod
                }
                added = true
            }
            // Step 2: nobody on this interface needs it.
            guard added else { continue }
            if interface === receivedOn, let sender {
                // Step 3: the DR or BDR that sent it has already flooded it to everybody.
                if sender.address == interface.designatedRouter || sender.address == interface.backupDesignatedRouter {
                    continue
                }
                // Step 4: the Backup leaves re-flooding on the LAN to the DR.
                if interface.state == .backup { continue }
                floodedBack = true
            }
            // Step 5: send it out (at the end of this event, batched with other LSAs).
            if !interface.floodQueue.contains(key) { interface.floodQueue.append(key) }
        }
        return floodedBack
    }

    /// Sends every queued flood, packing the LSAs of each interface into as few updates as
    /// the MTU allows (§13.3 step 5).
    func flushFloodQueues(now: OSPFInstant) {
        for id in interfaceOrder {
            guard let interface = interfaces[id], !interface.floodQueue.isEmpty else { continue }
            let keys = interface.floodQueue
            interface.floodQueue.removeAll()
            let lsas = keys.compactMap {
                database.transmissionCopy($0, now: now, transmitDelay: interface.configuration.transmitDelay)
            }
            sendUpdates(lsas, on: interface, to: floodDestination(interface))
        }
    }

    /// Sends LSAs in Link State Updates no larger than the interface allows; an LSA larger
    /// than that travels alone (and is fragmented by IP).
    func sendUpdates(_ lsas: [OSPFLSA], on interface: Interface, to destination: OSPFAddress) {
        let limit = maximumPacketLength(interface)
        var batch: [OSPFLSA] = []
        var size = OSPFPacketHeader.size + 4
        for lsa in lsas {
            let length = Int(lsa.header.length)
            if !batch.isEmpty, size + length > limit {
                send(.linkStateUpdate(OSPFLinkStateUpdate(lsas: batch)), on: interface, to: destination)
                batch.removeAll()
                size = OSPFPacketHeader.size + 4
            }
            batch.append(lsa)
            size += length
        }
        if !batch.isEmpty {
            send(.linkStateUpdate(OSPFLinkStateUpdate(lsas: batch)), on: interface, to: destination)
        }
    }

    /// Removes an LSA from every neighbor's retransmission list (§13 step 5c).
    func removeFromRetransmissionLists(_ key: OSPFLSAKey) {
        for id in interfaceOrder {
            guard let interface = interfaces[id] else { continue }
            for neighbor in interface.neighbors { neighbor.retransmissionList[key] = nil }
        }
    }

    /// Retransmits every LSA on the neighbor's list that has waited RxmtInterval (§13.6),
    /// directly to the neighbor, and re-arms the timer for the next one.
    func retransmitLSAs(to neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        let interval = interface.retransmitPeriod
        var due: [OSPFLSA] = []
        var next: OSPFInstant?
        for key in neighbor.retransmissionList.keys.sorted() {
            guard var entry = neighbor.retransmissionList[key] else { continue }
            if entry.sentAt + interval <= now {
                guard let copy = database.transmissionCopy(key, now: now,
                                                           transmitDelay: interface.configuration.transmitDelay) else {
                    neighbor.retransmissionList[key] = nil
                    continue
                }
                due.append(copy)
                entry.sentAt = now
                neighbor.retransmissionList[key] = entry
            }
            let deadline = entry.sentAt + interval
            if next.map({ deadline < $0 }) ?? true { next = deadline }
        }
        neighbor.retransmitDeadline = next
        if !due.isEmpty { sendUpdates(due, on: interface, to: directDestination(neighbor, on: interface)) }
    }
}
