// The deterministic setup behind the OSPF fuzz targets: the router under test ("R", 2.2.2.2)
// with two point-to-point neighbors and a LAN of its own, brought up against real in-process
// routers on a virtual clock.
//
// Every call made into R during the setup is recorded. R's state depends on nothing but its
// inputs, so replaying a prefix of the record into a fresh router rebuilds R exactly as it was
// at that point: with a neighbor in ExStart, Exchange, Loading or Full (RFC 2328 §10.1), as
// master or as slave of the database exchange (§10.8). The fuzz targets inject their packets
// into such rebuilt routers; the neighbors themselves are not needed again.

import WeftOSPF

/// The routers that talk to R, and where their packets arrive.
public enum OSPFLabPeer: String, CaseIterable, Sendable {
    /// 1.1.1.1 on R's if1 (10.0.1.0/30), unauthenticated. Its Router ID is lower than R's, so R
    /// is master of their database exchange.
    case lowerNeighbor
    /// 3.3.3.3 on R's if2 (10.0.2.0/30), HMAC-SHA-256 (RFC 5709). Its Router ID is higher, so R
    /// is slave.
    case higherNeighbor
    /// 7.7.7.7, a router R has never heard of, on R's broadcast LAN if3 (192.168.50.0/24).
    case lanStranger

    public var routerID: OSPFAddress {
        switch self {
        case .lowerNeighbor: OSPFAddress(1, 1, 1, 1)
        case .higherNeighbor: OSPFAddress(3, 3, 3, 3)
        case .lanStranger: OSPFAddress(7, 7, 7, 7)
        }
    }

    /// R's interface the peer's packets arrive on.
    public var interface: OSPFInterfaceID {
        switch self {
        case .lowerNeighbor: OSPFLab.lowerLink
        case .higherNeighbor: OSPFLab.higherLink
        case .lanStranger: OSPFLab.lan
        }
    }

    /// The IP source address of the peer's packets.
    public var address: OSPFAddress {
        switch self {
        case .lowerNeighbor: OSPFAddress(10, 0, 1, 1)
        case .higherNeighbor: OSPFAddress(10, 0, 2, 2)
        case .lanStranger: OSPFAddress(192, 168, 50, 7)
        }
    }

    /// The authentication of the network between the peer and R.
    public var authentication: OSPFAuthentication {
        self == .higherNeighbor ? OSPFLab.hmacAuthentication : .none
    }
}

/// Recorded states of R, in the order the setup reaches them.
public enum OSPFLabStage: String, CaseIterable, Sendable {
    /// R's interfaces are up; it has heard nobody yet.
    case interfacesUp
    /// The lower neighbor in ExStart: R has sent its initial DD and waits for the negotiation.
    case exStartAsMaster
    /// The lower neighbor in Exchange: R, master, waits for the answer to its DD.
    case exchangeAsMaster
    /// The lower neighbor in Loading: R waits for the LSAs it requested.
    case loadingAsMaster
    /// The lower neighbor just became Full; R's new router-LSA awaits its acknowledgment.
    case fullAsMaster
    /// The higher neighbor in ExStart.
    case exStartAsSlave
    /// The higher neighbor in Exchange: R, slave, has answered a DD and waits for the next one.
    case exchangeAsSlave
    /// Both neighbors Full, R Designated Router on its LAN, and a database that also holds
    /// another area border router's network, summary and AS-external LSAs, learned from the
    /// lower neighbor and not yet acknowledged by the higher one. SPF has run.
    case converged
}

/// The setup, run once per process.
public final class OSPFLab {
    public static let loopback = OSPFInterfaceID(0)
    public static let lowerLink = OSPFInterfaceID(1)
    public static let higherLink = OSPFInterfaceID(2)
    public static let lan = OSPFInterfaceID(3)
    public static let routerID = OSPFAddress(2, 2, 2, 2)
    public static let hmacAuthentication = OSPFAuthentication.cryptographic([
        OSPFAuthenticationKey(keyID: 1, secret: Array("weft-ospf-fuzz".utf8)),
    ])
    /// Every interface of R, for checks on next hops.
    public static let interfaces: Set<OSPFInterfaceID> = [loopback, lowerLink, higherLink, lan]

    /// One call made into R.
    enum Call {
        case interfaceUp(OSPFInterfaceID)
        case receive([UInt8], OSPFInterfaceID, from: OSPFAddress, to: OSPFAddress)
        case tick
    }

    struct Step {
        var call: Call
        var now: OSPFInstant
    }

    /// The LAN's RouterDeadInterval, also its wait timer (§9.4): short, so that R becomes its DR
    /// right after the adjacencies form, and the setup stays short to replay.
    static let lanDeadInterval: UInt32 = 12

    /// R's configuration: default RFC timers (hello 10 s, dead 40 s, RxmtInterval 5 s) except
    /// on the LAN.
    public let configuration: OSPFConfiguration
    private(set) var steps: [Step] = []
    /// For each stage, the number of steps that lead to it.
    private var stageEnds: [OSPFLabStage: Int] = [:]
    /// The packets R received from its neighbors during the setup (and a few that the neighbors
    /// sent after it), the fuzzers' seeds; `step` is the number of calls into R before it.
    public private(set) var receivedPackets: [(peer: OSPFLabPeer, type: OSPFPacketType, bytes: [UInt8], step: Int)] = []
    /// The Link State Update that brought the other area's LSAs, as the lower neighbor sent it.
    public private(set) var foreignUpdate: [UInt8] = []

    public init() {
        configuration = OSPFConfiguration(routerID: Self.routerID, interfaces: [
            OSPFInterfaceConfiguration(id: Self.loopback, name: "lo", type: .loopback,
                                       address: Self.routerID, prefixLength: 32),
            OSPFInterfaceConfiguration(id: Self.lowerLink, name: "ptp-lower", type: .pointToPoint,
                                       address: OSPFAddress(10, 0, 1, 2), prefixLength: 30, cost: 10),
            OSPFInterfaceConfiguration(id: Self.higherLink, name: "ptp-higher", type: .pointToPoint,
                                       address: OSPFAddress(10, 0, 2, 1), prefixLength: 30, cost: 20,
                                       authentication: Self.hmacAuthentication),
            OSPFInterfaceConfiguration(id: Self.lan, name: "lan", type: .broadcast,
                                       address: OSPFAddress(192, 168, 50, 1), prefixLength: 24, cost: 1,
                                       routerDeadInterval: Self.lanDeadInterval),
        ], stubNetworks: [OSPFStubNetwork(prefix: OSPFPrefix(address: OSPFAddress(100, 64, 2, 0), length: 24), cost: 1)])
        runSetup()
    }

    /// A fresh router replaying the setup up to `stage`, and the time of its last input.
    public func router(at stage: OSPFLabStage) -> (router: OSPFRouter, now: OSPFInstant)? {
        guard let end = stageEnds[stage] else { return nil }
        let router = OSPFRouter(configuration: configuration)
        for step in steps[0..<end] {
            switch step.call {
            case .interfaceUp(let id): _ = router.interfaceUp(id, now: step.now)
            case .receive(let bytes, let id, let source, let destination):
                _ = router.receive(bytes, on: id, from: source, to: destination, now: step.now)
            case .tick: _ = router.tick(now: step.now)
            }
        }
        return (router, steps[end - 1].now)
    }

    /// Whether the setup went through `stage` (Loading is skipped when the exchange happens to
    /// deliver every requested LSA before it ends).
    public func reached(_ stage: OSPFLabStage) -> Bool { stageEnds[stage] != nil }

    /// How many recorded calls lead to `stage`.
    public func steps(to stage: OSPFLabStage) -> Int? { stageEnds[stage] }

    // MARK: The setup

    /// A delivery in flight on one of the two links.
    private struct Delivery {
        var time: OSPFInstant
        var order: Int
        var target: Int
        var interface: OSPFInterfaceID
        var source: OSPFAddress
        var destination: OSPFAddress
        var bytes: [UInt8]
    }

    private func runSetup() {
        let lower = OSPFRouter(configuration: OSPFConfiguration(routerID: OSPFLabPeer.lowerNeighbor.routerID, interfaces: [
            OSPFInterfaceConfiguration(id: Self.loopback, name: "lo", type: .loopback,
                                       address: OSPFLabPeer.lowerNeighbor.routerID, prefixLength: 32),
            OSPFInterfaceConfiguration(id: Self.lowerLink, name: "ptp", type: .pointToPoint,
                                       address: OSPFLabPeer.lowerNeighbor.address, prefixLength: 30, cost: 10),
        ]))
        let higher = OSPFRouter(configuration: OSPFConfiguration(routerID: OSPFLabPeer.higherNeighbor.routerID, interfaces: [
            OSPFInterfaceConfiguration(id: Self.loopback, name: "lo", type: .loopback,
                                       address: OSPFLabPeer.higherNeighbor.routerID, prefixLength: 32),
            OSPFInterfaceConfiguration(id: Self.higherLink, name: "ptp", type: .pointToPoint,
                                       address: OSPFLabPeer.higherNeighbor.address, prefixLength: 30, cost: 20,
                                       authentication: Self.hmacAuthentication),
        ]))
        let r = OSPFRouter(configuration: configuration)
        let routers = [r, lower, higher]
        // (router, interface) → (peer router, its interface, sender's address). R's LAN has nobody.
        func wire(_ index: Int, _ interface: OSPFInterfaceID) -> (Int, OSPFInterfaceID, OSPFAddress)? {
            switch (index, interface) {
            case (0, Self.lowerLink): (1, Self.lowerLink, OSPFAddress(10, 0, 1, 2))
            case (0, Self.higherLink): (2, Self.higherLink, OSPFAddress(10, 0, 2, 1))
            case (1, Self.lowerLink): (0, Self.lowerLink, OSPFLabPeer.lowerNeighbor.address)
            case (2, Self.higherLink): (0, Self.higherLink, OSPFLabPeer.higherNeighbor.address)
            default: nil
            }
        }
        var queue: [Delivery] = []
        var order = 0
        var deadlines: [OSPFInstant?] = [nil, nil, nil]
        func handle(_ actions: [OSPFAction], from index: Int, now: OSPFInstant) {
            for case .send(let packet) in actions {
                guard let (target, interface, source) = wire(index, packet.interface) else { continue }
                order += 1
                queue.append(Delivery(time: now + .milliseconds(1), order: order, target: target,
                                      interface: interface, source: source, destination: packet.destination,
                                      bytes: packet.bytes))
            }
            deadlines[index] = routers[index].nextDeadline
        }
        // Calls into R go through here, to be recorded.
        func call(_ call: Call, now: OSPFInstant) {
            steps.append(Step(call: call, now: now))
            let actions: [OSPFAction]
            switch call {
            case .interfaceUp(let id): actions = r.interfaceUp(id, now: now)
            case .receive(let bytes, let id, let source, let destination):
                actions = r.receive(bytes, on: id, from: source, to: destination, now: now)
            case .tick: actions = r.tick(now: now)
            }
            handle(actions, from: 0, now: now)
            noteStages(r)
        }

        for id in [Self.loopback, Self.lowerLink, Self.higherLink, Self.lan] { call(.interfaceUp(id), now: .zero) }
        stageEnds[.interfacesUp] = steps.count
        for (index, id) in [(1, Self.loopback), (1, Self.lowerLink), (2, Self.loopback), (2, Self.higherLink)] {
            handle(routers[index].interfaceUp(id, now: .zero), from: index, now: .zero)
        }

        // Deliveries and timers in time order until `end`. While `recording`, packets for R are
        // its recorded input; afterwards R is left alone and they only become seeds.
        var now = OSPFInstant.zero
        func simulate(until end: OSPFInstant, recording: Bool) {
            for _ in 0..<100_000 {
                let next = queue.indices.min { (queue[$0].time, queue[$0].order) < (queue[$1].time, queue[$1].order) }
                var nextTimer: Int?
                for index in routers.indices where recording || index != 0 {
                    guard let deadline = deadlines[index] else { continue }
                    if nextTimer.map({ deadline < deadlines[$0]! }) ?? true { nextTimer = index }
                }
                if let delivery = next, queue[delivery].time <= end,
                   nextTimer.map({ queue[delivery].time <= deadlines[$0]! }) ?? true {
                    let item = queue.remove(at: delivery)
                    now = max(now, item.time)
                    if item.target == 0 {
                        if let peer = OSPFLabPeer.allCases.first(where: { $0.interface == item.interface }),
                           let header = try? OSPFPacket.parse(item.bytes).header {
                            receivedPackets.append((peer, header.type, item.bytes, steps.count))
                        }
                        if recording {
                            call(.receive(item.bytes, item.interface, from: item.source, to: item.destination), now: now)
                        }
                    } else {
                        handle(routers[item.target].receive(item.bytes, on: item.interface, from: item.source,
                                                            to: item.destination, now: now),
                               from: item.target, now: now)
                    }
                } else if let index = nextTimer, let deadline = deadlines[index], deadline <= end {
                    now = max(now, deadline)
                    if index == 0 { call(.tick, now: now) } else { handle(routers[index].tick(now: now), from: index, now: now) }
                } else {
                    break
                }
            }
            now = max(now, end)
        }
        // The adjacencies form after the second Hellos (at 10 s); R becomes DR on its LAN when
        // the wait timer fires.
        simulate(until: .zero + .milliseconds(UInt64(Self.lanDeadInterval) * 1000 + 500), recording: true)
        precondition(r.neighborStates(on: Self.lowerLink)[OSPFLabPeer.lowerNeighbor.routerID] == .full
                     && r.neighborStates(on: Self.higherLink)[OSPFLabPeer.higherNeighbor.routerID] == .full
                     && r.interfaceState(Self.lan) == .designatedRouter, "OSPF lab setup did not converge")

        // The lower neighbor now relays another area's LSAs (RFC 2328 §12.4, §A.4): its own
        // router-LSA gains a link to ABR 4.4.4.4 and a LAN behind it; the ABR, also an ASBR,
        // summarizes a network and ASBR 5.5.5.5 of its other area, and both ASBRs import externals.
        foreignUpdate = Self.foreignUpdate(lower.lsa(OSPFLSAKey(type: .router, linkStateID: OSPFLabPeer.lowerNeighbor.routerID,
                                                                advertisingRouter: OSPFLabPeer.lowerNeighbor.routerID), now: now)!)
        receivedPackets.append((.lowerNeighbor, .linkStateUpdate, foreignUpdate, steps.count))
        call(.receive(foreignUpdate, Self.lowerLink, from: OSPFLabPeer.lowerNeighbor.address, to: .allSPFRouters), now: now)
        // Past MinLSArrival (§13 step 5a), so that new instances of these LSAs are accepted, and
        // past the SPF delay.
        call(.tick, now: now + .seconds(2))
        stageEnds[.converged] = steps.count
        // What the neighbors answer (the higher one acknowledges the flooded LSAs, §13.5)
        // becomes seeds too.
        simulate(until: now + .seconds(5), recording: false)

        // A Hello from a router that just came up on R's LAN, for the Hello seeds.
        let stranger = OSPFRouter(configuration: OSPFConfiguration(routerID: OSPFLabPeer.lanStranger.routerID, interfaces: [
            OSPFInterfaceConfiguration(id: Self.lan, name: "lan", type: .broadcast,
                                       address: OSPFLabPeer.lanStranger.address, prefixLength: 24,
                                       routerDeadInterval: Self.lanDeadInterval),
        ]))
        _ = stranger.interfaceUp(Self.lan, now: now)
        for case .send(let packet) in stranger.tick(now: now) where packet.type == .hello {
            receivedPackets.append((.lanStranger, .hello, packet.bytes, steps.count))
        }
    }

    /// Records the first step after which each neighbor is in each state.
    private func noteStages(_ r: OSPFRouter) {
        let lowerState = r.neighborStates(on: Self.lowerLink)[OSPFLabPeer.lowerNeighbor.routerID]
        let higherState = r.neighborStates(on: Self.higherLink)[OSPFLabPeer.higherNeighbor.routerID]
        let reached: [(OSPFLabStage, Bool)] = [
            (.exStartAsMaster, lowerState == .exchangeStart),
            (.exchangeAsMaster, lowerState == .exchange),
            (.loadingAsMaster, lowerState == .loading),
            (.fullAsMaster, lowerState == .full),
            (.exStartAsSlave, higherState == .exchangeStart),
            (.exchangeAsSlave, higherState == .exchange),
        ]
        for (stage, isThere) in reached where isThere && stageEnds[stage] == nil { stageEnds[stage] = steps.count }
    }

    /// The Link State Update of the other area's LSAs, sent by the lower neighbor, which
    /// re-originates `lowerRouterLSA` with links towards ABR 4.4.4.4.
    static func foreignUpdate(_ lowerRouterLSA: OSPFLSA) -> [UInt8] {
        let lower = OSPFLabPeer.lowerNeighbor.routerID
        let abr = OSPFAddress(4, 4, 4, 4)
        let asbr = OSPFAddress(5, 5, 5, 5)
        let lanDR = OSPFAddress(10, 9, 0, 1)
        let options: OSPFOptions = .externalRouting
        var lowerLinks = OSPFRouterLSA(body: lowerRouterLSA.body)!.links
        lowerLinks.append(.init(linkID: abr, linkData: OSPFAddress(10, 0, 3, 1), type: .pointToPoint, metric: 5))
        lowerLinks.append(.init(linkID: lanDR, linkData: OSPFAddress(10, 9, 0, 2), type: .transit, metric: 3))
        let abrLinks: [OSPFRouterLSA.Link] = [
            .init(linkID: lower, linkData: OSPFAddress(10, 0, 3, 2), type: .pointToPoint, metric: 5),
            .init(linkID: lanDR, linkData: lanDR, type: .transit, metric: 3),
            .init(linkID: OSPFAddress(172, 16, 4, 0), linkData: OSPFAddress(255, 255, 255, 0), type: .stub, metric: 1),
        ]
        func words(_ values: [UInt32]) -> [UInt8] {
            values.flatMap { [UInt8($0 >> 24), UInt8(truncatingIfNeeded: $0 >> 16),
                              UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
        }
        let lsas = [
            OSPFLSA(type: .router, linkStateID: lower, advertisingRouter: lower,
                    sequenceNumber: lowerRouterLSA.header.sequenceNumber &+ 1, options: options,
                    body: OSPFRouterLSA(links: lowerLinks).encoded),
            OSPFLSA(type: .router, linkStateID: abr, advertisingRouter: abr, sequenceNumber: OSPFConstants.initialSequenceNumber,
                    options: options, body: OSPFRouterLSA(flags: [.areaBorder, .asBoundary], links: abrLinks).encoded),
            OSPFLSA(type: .network, linkStateID: lanDR, advertisingRouter: abr, sequenceNumber: OSPFConstants.initialSequenceNumber,
                    options: options, body: OSPFNetworkLSA(networkMask: OSPFAddress(255, 255, 255, 0),
                                                           attachedRouters: [abr, lower]).encoded),
            // §A.4.4: Network Mask, then TOS 0 and a 24-bit metric.
            OSPFLSA(type: .summaryNetwork, linkStateID: OSPFAddress(172, 20, 0, 0), advertisingRouter: abr,
                    sequenceNumber: OSPFConstants.initialSequenceNumber, options: options, body: words([0xFFFF_0000, 20])),
            OSPFLSA(type: .summaryASBR, linkStateID: asbr, advertisingRouter: abr,
                    sequenceNumber: OSPFConstants.initialSequenceNumber, options: options, body: words([0, 30])),
            OSPFLSA(type: .asExternal, linkStateID: .unspecified, advertisingRouter: asbr,
                    sequenceNumber: OSPFConstants.initialSequenceNumber, options: options,
                    body: OSPFASExternalLSA(networkMask: .unspecified, isType2: true, metric: 1,
                                            forwardingAddress: .unspecified, routeTag: 0).encoded),
            OSPFLSA(type: .asExternal, linkStateID: OSPFAddress(198, 51, 100, 0), advertisingRouter: abr,
                    sequenceNumber: OSPFConstants.initialSequenceNumber, options: options,
                    body: OSPFASExternalLSA(networkMask: OSPFAddress(255, 255, 255, 0), isType2: false, metric: 5,
                                            forwardingAddress: OSPFAddress(172, 16, 4, 9), routeTag: 7).encoded),
        ]
        return OSPFPacket(routerID: lower, areaID: .backbone,
                          body: .linkStateUpdate(OSPFLinkStateUpdate(lsas: lsas))).serialized()
    }
}
