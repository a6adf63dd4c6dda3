// A deterministic in-memory network for OSPF routers: a virtual clock, point-to-point links
// and LAN segments, with seeded loss, delay jitter and partitions. Multicast is delivered to
// every other member of a segment (routers filter AllDRouters themselves); unicast only to the
// member owning the destination address.

@testable import WeftOSPF

/// SplitMix64: a tiny seeded generator so every run is reproducible.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }
    mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }
}

final class VirtualNetwork {
    struct Attachment: Hashable {
        var router: Int
        var interface: OSPFInterfaceID
        var address: OSPFAddress
    }

    struct Segment {
        var members: [Attachment]
        var prefix: OSPFPrefix
        var isLAN: Bool
        var connected = true
    }

    struct Delivery {
        var time: OSPFInstant
        var order: UInt64
        var target: Attachment
        var source: OSPFAddress
        var destination: OSPFAddress
        var bytes: [UInt8]
    }

    var routers: [OSPFRouter] = []
    var segments: [Segment] = []
    /// Router index → interface → segment index.
    var segmentOf: [[OSPFInterfaceID: Int]] = []
    var now = OSPFInstant.zero
    var rng: SplitMix64
    var lossRate = 0.0
    /// Router index → partition group; packets only cross between routers of the same group.
    var partition: [Int] = []
    var baseDelay = OSPFDuration.milliseconds(1)
    var jitterMilliseconds: UInt64 = 0
    /// Routing tables rebuilt from the emitted route actions, to check the action stream.
    var tablesFromActions: [[OSPFPrefix: OSPFRoute]] = []
    var transitions: [[OSPFNeighborTransition]] = []
    /// Interface state changes as reported by the action stream, per router.
    var interfaceTransitions: [[(interface: OSPFInterfaceID, from: OSPFInterfaceState, to: OSPFInterfaceState)]] = []
    var deadlines: [OSPFInstant?] = []
    var events = 0
    var packetsSent = 0
    /// When non-nil, every packet sent is appended here.
    var recordedPackets: [OSPFOutboundPacket]?
    /// Called after every processed event with the index of the router that handled it.
    var observer: ((Int) -> Void)?
    /// A running hash of every packet sent, to compare runs for determinism.
    var trace: UInt64 = 0xCBF2_9CE4_8422_2325
    private var queue: [Delivery] = []
    private var order: UInt64 = 0

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    @discardableResult
    func addRouter(_ configuration: OSPFConfiguration) -> Int {
        routers.append(OSPFRouter(configuration: configuration))
        segmentOf.append([:])
        tablesFromActions.append([:])
        transitions.append([])
        interfaceTransitions.append([])
        deadlines.append(nil)
        partition.append(0)
        return routers.count - 1
    }

    @discardableResult
    func addSegment(_ members: [Attachment], prefix: OSPFPrefix, isLAN: Bool) -> Int {
        segments.append(Segment(members: members, prefix: prefix, isLAN: isLAN))
        for member in members { segmentOf[member.router][member.interface] = segments.count - 1 }
        return segments.count - 1
    }

    /// Replaces a router by a fresh instance with the same configuration (a process restart),
    /// bringing up the given interfaces.
    func restart(_ router: Int, interfaces: [OSPFInterfaceID]) {
        routers[router] = OSPFRouter(configuration: routers[router].configuration)
        tablesFromActions[router] = [:]
        interfaceTransitions[router] = []
        deadlines[router] = nil
        for interface in interfaces { bringUp(router, interface) }
    }

    func bringUp(_ router: Int, _ interface: OSPFInterfaceID) {
        handle(routers[router].interfaceUp(interface, now: now), from: router)
    }

    func bringDown(_ router: Int, _ interface: OSPFInterfaceID) {
        handle(routers[router].interfaceDown(interface, now: now), from: router)
    }

    func handle(_ actions: [OSPFAction], from router: Int) {
        for action in actions {
            switch action {
            case .send(let packet):
                packetsSent += 1
                recordedPackets?.append(packet)
                for byte in packet.bytes.prefix(64) { trace = (trace ^ UInt64(byte)) &* 0x100_0000_01B3 }
                trace = (trace ^ now.nanoseconds) &* 0x100_0000_01B3
                transmit(packet, from: router)
            case .installRoute(let route):
                tablesFromActions[router][route.prefix] = route
            case .removeRoute(let prefix):
                tablesFromActions[router][prefix] = nil
            case .neighborStateChanged(let transition):
                transitions[router].append(transition)
            case .interfaceStateChanged(let interface, let from, let to):
                interfaceTransitions[router].append((interface, from, to))
            }
        }
        deadlines[router] = routers[router].nextDeadline
    }

    private func transmit(_ packet: OSPFOutboundPacket, from router: Int) {
        guard let index = segmentOf[router][packet.interface] else { return }
        let segment = segments[index]
        guard segment.connected,
              let sender = segment.members.first(where: { $0.router == router && $0.interface == packet.interface })
        else { return }
        let multicast = packet.destination == .allSPFRouters || packet.destination == .allDRouters
        for member in segment.members where member != sender {
            guard multicast || member.address == packet.destination else { continue }
            guard partition[member.router] == partition[router] else { continue }
            if lossRate > 0, rng.chance(lossRate) { continue }
            let jitter = OSPFDuration.milliseconds(rng.below(jitterMilliseconds + 1))
            order += 1
            push(Delivery(time: now + baseDelay + jitter, order: order, target: member, source: sender.address,
                          destination: packet.destination, bytes: packet.bytes))
        }
    }

    /// Advances the virtual clock to `end`, processing deliveries and timers in time order.
    func run(until end: OSPFInstant, maxEvents: Int = 5_000_000) {
        var budget = maxEvents
        while budget > 0 {
            budget -= 1
            var nextTimer: (OSPFInstant, Int)?
            var earliest = UInt64.max
            for index in 0..<deadlines.count {
                guard let deadline = deadlines[index], deadline.nanoseconds < earliest else { continue }
                earliest = deadline.nanoseconds
                nextTimer = (deadline, index)
            }
            let nextDelivery = queue.first?.time
            if let delivery = nextDelivery, delivery <= (nextTimer?.0 ?? .init(nanoseconds: .max)), delivery <= end {
                let item = pop()
                now = max(now, item.time)
                events += 1
                let target = item.target
                handle(routers[target.router].receive(item.bytes, on: target.interface, from: item.source,
                                                      to: item.destination, now: now), from: target.router)
                observer?(target.router)
            } else if let (deadline, index) = nextTimer, deadline <= end {
                now = max(now, deadline)
                events += 1
                handle(routers[index].tick(now: now), from: index)
                observer?(index)
            } else {
                break
            }
        }
        now = max(now, end)
    }

    func run(for duration: OSPFDuration) { run(until: now + duration) }

    // Binary heap on (time, order).
    private func precedes(_ a: Delivery, _ b: Delivery) -> Bool { (a.time, a.order) < (b.time, b.order) }

    private func push(_ item: Delivery) {
        queue.append(item)
        var child = queue.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(queue[child], queue[parent]) else { break }
            queue.swapAt(child, parent)
            child = parent
        }
    }

    private func pop() -> Delivery {
        queue.swapAt(0, queue.count - 1)
        let top = queue.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < queue.count, precedes(queue[left], queue[smallest]) { smallest = left }
            if right < queue.count, precedes(queue[right], queue[smallest]) { smallest = right }
            if smallest == parent { break }
            queue.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

extension OSPFInstant {
    static func seconds(_ seconds: UInt64) -> OSPFInstant { .zero + .seconds(seconds) }
}

/// Builds an interface configuration with test-friendly timers (BIRD-like hello 1 / dead 4).
func testInterface(_ id: UInt32, _ type: OSPFNetworkType, _ address: OSPFAddress, _ length: UInt8,
                   cost: UInt16 = 10, priority: UInt8 = 1, mtu: UInt16 = 1500,
                   authentication: OSPFAuthentication = .none) -> OSPFInterfaceConfiguration {
    OSPFInterfaceConfiguration(id: OSPFInterfaceID(id), name: "if\(id)", type: type, address: address,
                               prefixLength: length, cost: cost, helloInterval: 1, routerDeadInterval: 4,
                               retransmitInterval: 2, transmitDelay: 1, priority: priority, mtu: mtu,
                               authentication: authentication)
}
