// Database exchange: entering ExStart and negotiating master/slave (§10.3, §10.8), receiving
// Database Description packets (§10.6) and sending them (§10.8).

extension OSPFRouter {
    /// Enters ExStart (§10.3 "2-Way/AdjOK?", "SeqNumberMismatch", "BadLSReq"): clears the lists,
    /// advances the DD sequence number, claims mastership and sends the initial empty DD with
    /// the I, M and MS bits set, retransmitted every RxmtInterval until negotiation completes.
    func startDatabaseExchange(_ neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        neighbor.state = .exchangeStart
        neighbor.clearLists()
        if neighbor.ddSequenceNumber == 0 {
            // §10.8: the first sequence number should be unique, "like the time of day".
            neighbor.ddSequenceNumber = UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000)
                ^ routerID.rawValue ^ neighbor.routerID.rawValue.byteSwapped
            if neighbor.ddSequenceNumber == 0 { neighbor.ddSequenceNumber = 1 }
        } else {
            neighbor.ddSequenceNumber &+= 1
        }
        neighbor.isMaster = true
        let initial = OSPFDatabaseDescription(
            interfaceMTU: interface.configuration.mtu, options: advertisedOptions,
            flags: [.initial, .more, .master], sequenceNumber: neighbor.ddSequenceNumber, lsaHeaders: [])
        neighbor.lastSentDD = initial
        send(.databaseDescription(initial), on: interface, to: directDestination(neighbor, on: interface))
        neighbor.ddRetransmitDeadline = now + interface.retransmitPeriod
    }

    /// NegotiationDone (§10.3): the summary list gets every LSA in the database; LSAs already at
    /// MaxAge go onto the retransmission list instead.
    func buildDatabaseSummary(for neighbor: Neighbor, now: OSPFInstant) {
        neighbor.summaryList.removeAll()
        neighbor.summaryIndex = 0
        for key in database.sortedKeys {
            guard let header = database.currentHeader(key, now: now) else { continue }
            if header.age >= OSPFConstants.maxAge {
                neighbor.retransmissionList[key] = RetransmissionEntry(header: header, sentAt: .zero)
            } else {
                neighbor.summaryList.append(key)
            }
        }
        if !neighbor.retransmissionList.isEmpty, neighbor.retransmitDeadline == nil {
            neighbor.retransmitDeadline = now
        }
    }

    /// Master: re-sends the last DD every RxmtInterval (§10.8).
    func retransmitDatabaseDescription(_ neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        guard neighbor.isMaster, neighbor.state == .exchangeStart || neighbor.state == .exchange,
              let last = neighbor.lastSentDD else {
            neighbor.ddRetransmitDeadline = nil
            return
        }
        send(.databaseDescription(last), on: interface, to: directDestination(neighbor, on: interface))
        neighbor.ddRetransmitDeadline = now + interface.retransmitPeriod
    }

    /// Builds and sends the next DD of the exchange from the summary list (§10.8): as many LSA
    /// headers as fit the interface MTU, M set while more remain.
    func sendNextDatabaseDescription(to neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        let room = (maximumPacketLength(interface) - OSPFPacketHeader.size - 8) / OSPFLSAHeader.size
        var headers: [OSPFLSAHeader] = []
        while headers.count < room, neighbor.summaryIndex < neighbor.summaryList.count {
            let key = neighbor.summaryList[neighbor.summaryIndex]
            neighbor.summaryIndex += 1
            if let header = database.currentHeader(key, now: now) { headers.append(header) }
        }
        var flags: OSPFDatabaseDescription.Flags = neighbor.isMaster ? [.master] : []
        if !neighbor.summaryListIsEmpty { flags.insert(.more) }
        let description = OSPFDatabaseDescription(
            interfaceMTU: interface.configuration.mtu, options: advertisedOptions, flags: flags,
            sequenceNumber: neighbor.ddSequenceNumber, lsaHeaders: headers)
        neighbor.lastSentDD = description
        send(.databaseDescription(description), on: interface, to: directDestination(neighbor, on: interface))
        neighbor.ddRetransmitDeadline = neighbor.isMaster
            ? now + interface.retransmitPeriod : nil
    }

    /// Processes a received Database Description packet (§10.6).
    func receiveDatabaseDescription(_ description: OSPFDatabaseDescription, from neighbor: Neighbor,
                                    on interface: Interface, now: OSPFInstant) -> OSPFDropReason? {
        // §10.6: a DD announcing a larger MTU than we can receive unfragmented is rejected.
        guard description.interfaceMTU <= interface.configuration.mtu else { return .mtuMismatch }
        let identity = DatabaseDescriptionIdentity(flags: description.flags, options: description.options,
                                                   sequenceNumber: description.sequenceNumber)
        switch neighbor.state {
        case .down, .attempt, .twoWay:
            return .neighborStateTooLow
        case .initial:
            neighborEvent(.twoWayReceived, neighbor, on: interface, now: now)
            guard neighbor.state == .exchangeStart else { return .neighborStateTooLow }
            return negotiate(description, identity: identity, from: neighbor, on: interface, now: now)
        case .exchangeStart:
            return negotiate(description, identity: identity, from: neighbor, on: interface, now: now)
        case .exchange:
            if identity == neighbor.lastReceivedDD {
                resendAsSlave(neighbor, on: interface)
                return nil
            }
            let fromMaster = description.flags.contains(.master)
            let expected = neighbor.isMaster ? neighbor.ddSequenceNumber : neighbor.ddSequenceNumber &+ 1
            guard fromMaster != neighbor.isMaster, !description.flags.contains(.initial),
                  description.options == neighbor.options, description.sequenceNumber == expected else {
                neighborEvent(.sequenceNumberMismatch, neighbor, on: interface, now: now)
                return nil
            }
            acceptDatabaseDescription(description, identity: identity, from: neighbor, on: interface, now: now)
            return nil
        case .loading, .full:
            // §10.6: only duplicates are legal now; the slave answers them, the master drops them.
            if identity == neighbor.lastReceivedDD {
                resendAsSlave(neighbor, on: interface)
            } else {
                neighborEvent(.sequenceNumberMismatch, neighbor, on: interface, now: now)
            }
            return nil
        }
    }

    /// ExStart processing (§10.6): decides master/slave and, on agreement, generates
    /// NegotiationDone and processes the packet as the next in sequence.
    private func negotiate(_ description: OSPFDatabaseDescription, identity: DatabaseDescriptionIdentity,
                           from neighbor: Neighbor, on interface: Interface, now: OSPFInstant) -> OSPFDropReason? {
        let flags = description.flags
        if flags == [.initial, .more, .master], description.lsaHeaders.isEmpty, neighbor.routerID > routerID {
            // The neighbor is master: adopt its sequence number.
            neighbor.isMaster = false
            neighbor.ddSequenceNumber = description.sequenceNumber
        } else if !flags.contains(.initial), !flags.contains(.master),
                  description.sequenceNumber == neighbor.ddSequenceNumber, neighbor.routerID < routerID {
            // The neighbor acknowledges our mastership.
            neighbor.isMaster = true
        } else {
            return nil
        }
        neighbor.options = description.options
        neighborEvent(.negotiationDone, neighbor, on: interface, now: now)
        acceptDatabaseDescription(description, identity: identity, from: neighbor, on: interface, now: now)
        return nil
    }

    /// A slave answers a duplicate DD with its last DD; a master silently drops it (§10.6).
    private func resendAsSlave(_ neighbor: Neighbor, on interface: Interface) {
        guard !neighbor.isMaster, let last = neighbor.lastSentDD else { return }
        send(.databaseDescription(last), on: interface, to: directDestination(neighbor, on: interface))
    }

    /// Processes an accepted DD (§10.6 "accepted as next in sequence"): requests every LSA the
    /// neighbor has a newer instance of, then continues the exchange as master or slave.
    private func acceptDatabaseDescription(_ description: OSPFDatabaseDescription,
                                           identity: DatabaseDescriptionIdentity,
                                           from neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        neighbor.lastReceivedDD = identity
        for header in description.lsaHeaders {
            let key = header.key
            let current = database.currentHeader(key, now: now)
            if current == nil || OSPFLSAComparison.compare(header, current!) == .newer {
                if let listed = neighbor.requestList[key], OSPFLSAComparison.compare(header, listed) != .newer {
                    continue
                }
                neighbor.requestList[key] = header
            }
        }
        let sentEverything = neighbor.lastSentDD.map { !$0.flags.contains(.more) } ?? false
        if neighbor.isMaster {
            neighbor.ddSequenceNumber &+= 1
            if sentEverything, !description.flags.contains(.more) {
                neighbor.lastSentDD = nil
                neighbor.ddRetransmitDeadline = nil
                neighborEvent(.exchangeDone, neighbor, on: interface, now: now)
            } else {
                sendNextDatabaseDescription(to: neighbor, on: interface, now: now)
            }
        } else {
            neighbor.ddSequenceNumber = description.sequenceNumber
            sendNextDatabaseDescription(to: neighbor, on: interface, now: now)
            if !description.flags.contains(.more), neighbor.summaryListIsEmpty {
                neighborEvent(.exchangeDone, neighbor, on: interface, now: now)
            }
        }
        if neighbor.state == .exchange, !neighbor.requestList.isEmpty, neighbor.outstandingRequests.isEmpty {
            // §10.9: requests may start while the exchange is still running.
            sendLinkStateRequest(to: neighbor, on: interface, now: now)
        }
    }
}
