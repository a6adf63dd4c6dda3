// Link State Request packets: sending requests while in Exchange or Loading (§10.9) and
// answering them (§10.7).

extension OSPFRouter {
    /// Sends one Link State Request for as many entries of the request list as fit the MTU,
    /// retransmitted every RxmtInterval until answered (§10.9).
    func sendLinkStateRequest(to neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        guard neighbor.state == .exchange || neighbor.state == .loading, !neighbor.requestList.isEmpty else {
            neighbor.outstandingRequests.removeAll()
            neighbor.requestRetransmitDeadline = nil
            return
        }
        let room = (maximumPacketLength(interface) - OSPFPacketHeader.size) / 12
        let keys = Array(neighbor.requestList.keys.sorted().prefix(max(room, 1)))
        neighbor.outstandingRequests = keys
        send(.linkStateRequest(OSPFLinkStateRequest(requests: keys)), on: interface,
             to: directDestination(neighbor, on: interface))
        neighbor.requestRetransmitDeadline = now + interface.retransmitPeriod
    }

    /// Called after an update from `neighbor` was processed: once every entry of the last
    /// request has been satisfied, the next request goes out immediately (§10.9).
    func continueLoading(from neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        guard neighbor.state == .exchange || neighbor.state == .loading else { return }
        if neighbor.requestList.isEmpty {
            neighbor.outstandingRequests.removeAll()
            neighbor.requestRetransmitDeadline = nil
            return
        }
        if neighbor.outstandingRequests.allSatisfy({ neighbor.requestList[$0] == nil }) {
            sendLinkStateRequest(to: neighbor, on: interface, now: now)
        }
    }

    /// Answers a Link State Request (§10.7) with the requested LSAs, packed into as few
    /// updates as the MTU allows. A request for an LSA we do not have is BadLSReq.
    func receiveLinkStateRequest(_ request: OSPFLinkStateRequest, from neighbor: Neighbor,
                                 on interface: Interface, now: OSPFInstant) -> OSPFDropReason? {
        guard neighbor.state >= .exchange else { return .neighborStateTooLow }
        var lsas: [OSPFLSA] = []
        for key in request.requests {
            guard let lsa = database.transmissionCopy(key, now: now,
                                                      transmitDelay: interface.configuration.transmitDelay) else {
                neighborEvent(.badLSRequest, neighbor, on: interface, now: now)
                return nil
            }
            lsas.append(lsa)
        }
        // §10.7: these LSAs are not placed on the retransmission list; the request is repeated
        // if the update is lost.
        sendUpdates(lsas, on: interface, to: directDestination(neighbor, on: interface))
        return nil
    }
}
