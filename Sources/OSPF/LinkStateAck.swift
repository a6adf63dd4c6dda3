// Link State Acknowledgment packets: sending delayed and direct acknowledgments (RFC 2328
// §13.5) and processing received ones (§13.7).

extension OSPFRouter {
    /// Queues a delayed acknowledgment on the interface (§13.5). Delayed acks are bundled and
    /// sent after a short delay, well below RxmtInterval, or as soon as a packet fills up.
    func queueDelayedAcknowledgment(_ header: OSPFLSAHeader, on interface: Interface, now: OSPFInstant) {
        interface.delayedAcknowledgments.append(header)
        let room = (maximumPacketLength(interface) - OSPFPacketHeader.size) / OSPFLSAHeader.size
        if interface.delayedAcknowledgments.count >= room {
            flushDelayedAcknowledgments(on: interface)
        } else if interface.delayedAckDeadline == nil {
            interface.delayedAckDeadline = now + interface.delayedAckInterval
        }
    }

    /// Sends the queued delayed acknowledgments: on broadcast networks to AllSPFRouters from
    /// the DR and Backup and to AllDRouters from the others; otherwise to AllSPFRouters (§13.5).
    func flushDelayedAcknowledgments(on interface: Interface) {
        interface.delayedAckDeadline = nil
        guard !interface.delayedAcknowledgments.isEmpty else { return }
        let headers = interface.delayedAcknowledgments
        interface.delayedAcknowledgments.removeAll()
        guard interface.acceptsPackets else { return }
        sendAcknowledgments(headers, on: interface, to: floodDestination(interface))
    }

    /// Sends a direct acknowledgment to one neighbor (§13.5), for duplicates and for MaxAge
    /// LSAs not in the database.
    func sendDirectAcknowledgment(_ headers: [OSPFLSAHeader], to neighbor: Neighbor, on interface: Interface) {
        sendAcknowledgments(headers, on: interface, to: directDestination(neighbor, on: interface))
    }

    private func sendAcknowledgments(_ headers: [OSPFLSAHeader], on interface: Interface, to destination: OSPFAddress) {
        let room = max((maximumPacketLength(interface) - OSPFPacketHeader.size) / OSPFLSAHeader.size, 1)
        var start = 0
        while start < headers.count {
            let end = min(start + room, headers.count)
            let ack = OSPFLinkStateAcknowledgment(lsaHeaders: Array(headers[start..<end]))
            send(.linkStateAcknowledgment(ack), on: interface, to: destination)
            start = end
        }
    }

    /// Processes a received Link State Acknowledgment (§13.7): each acknowledged instance that
    /// matches the one on the neighbor's retransmission list is removed from it.
    func receiveLinkStateAcknowledgment(_ acknowledgment: OSPFLinkStateAcknowledgment, from neighbor: Neighbor,
                                        on interface: Interface, now: OSPFInstant) -> OSPFDropReason? {
        guard neighbor.state >= .exchange else { return .neighborStateTooLow }
        for header in acknowledgment.lsaHeaders {
            let key = header.key
            guard let entry = neighbor.retransmissionList[key] else { continue }
            if OSPFLSAComparison.compare(header, entry.header) == .same {
                neighbor.retransmissionList[key] = nil
            }
        }
        if neighbor.retransmissionList.isEmpty { neighbor.retransmitDeadline = nil }
        return nil
    }
}
