// The neighbor data structure (RFC 2328 §10), the neighbor state machine (§10.1–§10.3) and
// the adjacency decision (§10.4).

/// Neighbor states (RFC 2328 §10.1), ordered as the RFC's "state X or greater" comparisons need.
public enum OSPFNeighborState: Int, Hashable, Sendable, Codable, Comparable, CaseIterable, CustomStringConvertible {
    case down = 0
    /// Only used on NBMA networks; kept for completeness of the state set.
    case attempt
    case initial
    case twoWay
    case exchangeStart
    case exchange
    case loading
    case full

    public static func < (lhs: OSPFNeighborState, rhs: OSPFNeighborState) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .down: "Down"
        case .attempt: "Attempt"
        case .initial: "Init"
        case .twoWay: "2-Way"
        case .exchangeStart: "ExStart"
        case .exchange: "Exchange"
        case .loading: "Loading"
        case .full: "Full"
        }
    }
}

/// Neighbor events (RFC 2328 §10.2). Start is NBMA-only and has no source here.
enum NeighborEvent {
    case helloReceived
    case twoWayReceived
    case negotiationDone
    case exchangeDone
    case badLSRequest
    case loadingDone
    case adjacencyOK
    case sequenceNumberMismatch
    case oneWayReceived
    case killNeighbor
    case inactivityTimer
    case lowerLevelDown
}

/// An LSA on a neighbor's retransmission list (§10, "Link state retransmission list").
struct RetransmissionEntry {
    /// The instance that was sent and must be acknowledged.
    var header: OSPFLSAHeader
    /// When it was last (re)transmitted.
    var sentAt: OSPFInstant
}

/// The identity of a Database Description packet for duplicate detection (§10.6).
struct DatabaseDescriptionIdentity: Equatable {
    var flags: OSPFDatabaseDescription.Flags
    var options: OSPFOptions
    var sequenceNumber: UInt32
}

/// Per-neighbor conversation state (§10).
final class Neighbor {
    var routerID: OSPFAddress
    /// The neighbor's interface address (the IP source of its packets).
    var address: OSPFAddress
    var priority: UInt8
    var options: OSPFOptions = []
    var declaredDesignatedRouter: OSPFAddress = .unspecified
    var declaredBackupDesignatedRouter: OSPFAddress = .unspecified
    var state: OSPFNeighborState = .down
    var inactivityDeadline: OSPFInstant?

    // Database exchange (§10.6, §10.8).
    /// Whether this router is master of the exchange.
    var isMaster = false
    var ddSequenceNumber: UInt32 = 0
    var lastReceivedDD: DatabaseDescriptionIdentity?
    /// The last DD sent, re-sent on retransmission (master) or on a duplicate (slave).
    var lastSentDD: OSPFDatabaseDescription?
    var ddRetransmitDeadline: OSPFInstant?
    /// LSAs still to be described to the neighbor, in key order.
    var summaryList: [OSPFLSAKey] = []
    var summaryIndex = 0

    // Loading (§10.9).
    var requestList: [OSPFLSAKey: OSPFLSAHeader] = [:]
    /// The keys of the last Link State Request sent.
    var outstandingRequests: [OSPFLSAKey] = []
    var requestRetransmitDeadline: OSPFInstant?

    // Flooding (§13.3, §13.6).
    var retransmissionList: [OSPFLSAKey: RetransmissionEntry] = [:]
    var retransmitDeadline: OSPFInstant?

    /// Last cryptographic sequence number received (§D.4.3).
    var cryptographicSequenceNumber: UInt32?
    /// When an LSA was last sent to this neighbor in answer to an older instance (§13 step 8).
    var lastDirectResponse: [OSPFLSAKey: OSPFInstant] = [:]

    init(routerID: OSPFAddress, address: OSPFAddress, priority: UInt8) {
        self.routerID = routerID
        self.address = address
        self.priority = priority
    }

    var summaryListIsEmpty: Bool { summaryIndex >= summaryList.count }

    /// Clears the database summary, request and retransmission lists (§10.3, "clear lists").
    func clearLists() {
        summaryList.removeAll()
        summaryIndex = 0
        requestList.removeAll()
        outstandingRequests.removeAll()
        requestRetransmitDeadline = nil
        retransmissionList.removeAll()
        retransmitDeadline = nil
        lastSentDD = nil
        lastReceivedDD = nil
        ddRetransmitDeadline = nil
        lastDirectResponse.removeAll()
    }
}

extension OSPFRouter {
    /// Whether an adjacency should be formed with `neighbor` (§10.4): always on point-to-point
    /// links; on broadcast networks only between the DR or BDR and the other routers.
    func shouldBeAdjacent(_ neighbor: Neighbor, on interface: Interface) -> Bool {
        switch interface.configuration.type {
        case .pointToPoint, .loopback:
            return true
        case .broadcast:
            return interface.state == .designatedRouter || interface.state == .backup
                || neighbor.address == interface.designatedRouter
                || neighbor.address == interface.backupDesignatedRouter
        }
    }

    /// Executes the neighbor state machine (§10.3).
    func neighborEvent(_ event: NeighborEvent, _ neighbor: Neighbor, on interface: Interface, now: OSPFInstant) {
        let old = neighbor.state
        switch event {
        case .helloReceived:
            if neighbor.state <= .attempt { neighbor.state = .initial }
            neighbor.inactivityDeadline = now + interface.deadPeriod
        case .twoWayReceived:
            guard neighbor.state == .initial else { return }
            if shouldBeAdjacent(neighbor, on: interface) {
                startDatabaseExchange(neighbor, on: interface, now: now)
            } else {
                neighbor.state = .twoWay
            }
        case .negotiationDone:
            guard neighbor.state == .exchangeStart else { return }
            neighbor.state = .exchange
            buildDatabaseSummary(for: neighbor, now: now)
        case .exchangeDone:
            guard neighbor.state == .exchange else { return }
            neighbor.ddRetransmitDeadline = nil
            if neighbor.requestList.isEmpty {
                neighbor.state = .full
            } else {
                neighbor.state = .loading
                if neighbor.outstandingRequests.isEmpty { sendLinkStateRequest(to: neighbor, on: interface, now: now) }
            }
        case .loadingDone:
            guard neighbor.state == .loading else { return }
            neighbor.state = .full
            neighbor.requestRetransmitDeadline = nil
            neighbor.outstandingRequests.removeAll()
        case .adjacencyOK:
            if neighbor.state == .twoWay {
                if shouldBeAdjacent(neighbor, on: interface) { startDatabaseExchange(neighbor, on: interface, now: now) }
            } else if neighbor.state >= .exchangeStart, !shouldBeAdjacent(neighbor, on: interface) {
                neighbor.state = .twoWay
                neighbor.clearLists()
            }
        case .sequenceNumberMismatch, .badLSRequest:
            guard neighbor.state >= .exchange else { return }
            startDatabaseExchange(neighbor, on: interface, now: now)
        case .oneWayReceived:
            guard neighbor.state >= .twoWay else { return }
            neighbor.state = .initial
            neighbor.clearLists()
        case .killNeighbor, .inactivityTimer, .lowerLevelDown:
            neighbor.state = .down
            neighbor.inactivityDeadline = nil
            neighbor.clearLists()
        }
        if neighbor.state != old { neighborStateChanged(neighbor, on: interface, from: old, now: now) }
    }

    /// Side effects of a neighbor state change: logs, NeighborChange on the interface when the
    /// set of bidirectional neighbors changes (§9.2), LSA re-origination when an adjacency
    /// reaches or leaves Full (§12.4).
    func neighborStateChanged(_ neighbor: Neighbor, on interface: Interface, from old: OSPFNeighborState,
                              now: OSPFInstant) {
        let new = neighbor.state
        actions.append(.neighborStateChanged(OSPFNeighborTransition(
            interface: interface.configuration.id, routerID: neighbor.routerID, address: neighbor.address,
            from: old, to: new)))
        if (old >= .twoWay) != (new >= .twoWay), interface.configuration.type == .broadcast {
            interface.neighborChangePending = true
        }
        if (old == .full) != (new == .full) {
            origination.dirty = true
            // Next hops through this neighbor change before our router-LSA does (MinLSInterval).
            scheduleSPF(now: now)
        }
        if new < .exchange {
            // LSAs this neighbor was still owed are no longer expected (§10.3 "clear lists");
            // MaxAge LSAs that only waited for it may now be removed.
            neighbor.retransmissionList.removeAll()
            neighbor.retransmitDeadline = nil
        }
    }
}
