import Testing
import WeftCrypto
import WeftRouting
@testable import WeftDataPlane

/// SplitMix64: a tiny deterministic generator for reproducible randomized tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A clock the test moves by hand: the WireGuard core never reads time itself.
struct ManualClock {
    private(set) var now: WireGuard.Instant

    init(start: WireGuard.Instant = WireGuard.Instant(nanoseconds: 1_000_000_000_000)) { now = start }

    mutating func advance(_ interval: WireGuard.Interval) { now = now + interval }
    mutating func advance(seconds: UInt64) { advance(.seconds(seconds)) }
    mutating func advance(milliseconds: UInt64) { advance(.milliseconds(milliseconds)) }
}

// MARK: - Two devices talking over a simulated network

/// A UDP endpoint for tests: 192.0.2.host:port.
struct TestEndpoint: WireGuardEndpoint, CustomStringConvertible {
    var host: UInt8
    var port: UInt16 = 51820

    var sourceAddress: WireGuard.SourceAddress {
        WireGuard.SourceAddress(.v4(IPv4Address(192, 0, 2, host)), port: port)
    }

    var description: String { sourceAddress.description }
}

/// Random bytes from a seeded SplitMix64, so handshakes are reproducible.
final class SeededBytes {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            var word = generator.next()
            let chunk = min(8, buffer.count - offset)
            withUnsafeBytes(of: &word) { buffer.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: chunk) }
            offset += chunk
        }
    }
}

extension WireGuard.RandomSource {
    static func seeded(_ seed: UInt64) -> WireGuard.RandomSource {
        let bytes = SeededBytes(seed: seed)
        return WireGuard.RandomSource { bytes.fill($0) }
    }
}

/// A datagram in flight.
struct Datagram {
    var bytes: [UInt8]
    var from: TestEndpoint
    var to: TestEndpoint

    var type: WireGuard.MessageType? { bytes.withUnsafeBytes { WireGuard.MessageType(of: $0) } }
    var isKeepalive: Bool { type == .transportData && bytes.count == WireGuard.minimumTransportLength }
}

/// A minimal IPv4 packet: 20-byte header (no options) and payload.
func ipv4Packet(from source: IPv4Address, to destination: IPv4Address, payload: [UInt8]) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: 20 + payload.count)
    packet[0] = 0x45
    packet[2] = UInt8(packet.count >> 8)
    packet[3] = UInt8(packet.count & 0xFF)
    packet[8] = 64
    packet[9] = 17
    packet.withUnsafeMutableBytes { raw in
        source.store(into: raw, atByteOffset: 12)
        destination.store(into: raw, atByteOffset: 16)
    }
    packet.replaceSubrange(20..., with: payload)
    return packet
}

/// A minimal IPv6 packet: 40-byte header and payload.
func ipv6Packet(from source: IPv6Address, to destination: IPv6Address, payload: [UInt8]) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: 40 + payload.count)
    packet[0] = 0x60
    packet[4] = UInt8(payload.count >> 8)
    packet[5] = UInt8(payload.count & 0xFF)
    packet[6] = 17
    packet[7] = 64
    packet.withUnsafeMutableBytes { raw in
        source.store(into: raw, atByteOffset: 8)
        destination.store(into: raw, atByteOffset: 24)
    }
    packet.replaceSubrange(40..., with: payload)
    return packet
}

/// One WireGuard device with an address on the test network and a tunnel address, recording
/// everything it sends, delivers and reports.
final class Node {
    typealias Device = WireGuard.Device<TestEndpoint>

    let device: Device
    let privateKey: PrivateKey
    /// Where this node sends from.
    var endpoint: TestEndpoint
    let tunnelAddress: IPv4Address
    private(set) var outbox: [Datagram] = []
    private(set) var events: [WireGuard.Event<TestEndpoint>] = []
    /// Inner packets delivered to the tunnel, with the peer they came from.
    private(set) var tunnel: [(packet: [UInt8], peer: WireGuard.PeerID)] = []

    init(host: UInt8, seed: UInt64, clock: ManualClock, privateKey: PrivateKey? = nil,
         configuration: WireGuard.DeviceConfiguration = WireGuard.DeviceConfiguration()) {
        let random = WireGuard.RandomSource.seeded(seed)
        let key = privateKey ?? {
            var scalar = Bytes32()
            scalar.withUnsafeMutableBytes { SeededBytes(seed: seed ^ 0x5EED).fill($0) }
            return PrivateKey(rawBytes: scalar)
        }()
        self.privateKey = key
        endpoint = TestEndpoint(host: host)
        tunnelAddress = IPv4Address(10, 100, 0, host)
        // Wall clock: 2023-11-14T22:13:20Z at the clock's start.
        let wallClock = WireGuard.WallClockAnchor(unixNanoseconds: 1_700_000_000_000_000_000, at: clock.now)
        device = Device(privateKey: key, configuration: configuration, wallClock: wallClock, random: random)
    }

    var publicKey: PublicKey { privateKey.publicKey }

    /// The output handler the device calls: datagrams go to the outbox, events are recorded.
    func record(_ output: WireGuard.Output<TestEndpoint>) {
        switch output {
        case .datagram(let bytes, let destination):
            outbox.append(Datagram(bytes: Array(bytes), from: endpoint, to: destination))
        case .event(let event):
            events.append(event)
        }
    }

    /// Encapsulates `packet` (routed by destination, or for `peer`); a datagram produced in place
    /// joins the outbox.
    @discardableResult
    func send(_ packet: [UInt8], to peer: WireGuard.PeerID? = nil, now: WireGuard.Instant) -> WireGuard.EncapsulateResult<TestEndpoint> {
        var buffer = [UInt8](repeating: 0xEE, count: WireGuard.transportHeaderLength + packet.count + 32)
        buffer.replaceSubrange(16 ..< 16 + packet.count, with: packet)
        return buffer.withUnsafeMutableBytes { raw in
            let result = if let peer {
                device.encapsulate(packetLength: packet.count, in: raw, for: peer, now: now, output: record)
            } else {
                device.encapsulate(packetLength: packet.count, in: raw, now: now, output: record)
            }
            if case .writeToNetwork(let range, let destination) = result {
                outbox.append(Datagram(bytes: Array(raw[range]), from: endpoint, to: destination))
            }
            return result
        }
    }

    /// A packet from this node's tunnel address to `node`'s.
    func packet(to node: Node, payload: [UInt8] = Array("hello".utf8)) -> [UInt8] {
        ipv4Packet(from: tunnelAddress, to: node.tunnelAddress, payload: payload)
    }

    @discardableResult
    func receive(_ datagram: Datagram, now: WireGuard.Instant) -> WireGuard.DecapsulateResult {
        var bytes = datagram.bytes
        return bytes.withUnsafeMutableBytes { raw in
            let result = device.decapsulate(raw, from: datagram.from, now: now, output: record)
            if case .writeToTunnel(let range, let peer) = result {
                tunnel.append((Array(raw[range]), peer))
            }
            return result
        }
    }

    @discardableResult
    func tick(now: WireGuard.Instant) -> WireGuard.Instant? {
        device.tick(now: now, output: record)
    }

    /// Removes and returns what the node has sent so far.
    func takeOutbox() -> [Datagram] {
        defer { outbox.removeAll() }
        return outbox
    }

    func takeEvents() -> [WireGuard.Event<TestEndpoint>] {
        defer { events.removeAll() }
        return events
    }

    func takeTunnel() -> [[UInt8]] {
        defer { tunnel.removeAll() }
        return tunnel.map(\.packet)
    }

    /// Adds `node` as a peer: its public key, endpoint and tunnel address /32.
    @discardableResult
    func addPeer(_ node: Node, presharedKey: PresharedKey = .zero, endpoint: TestEndpoint?? = nil,
                 persistentKeepalive: WireGuard.Interval? = nil, now: WireGuard.Instant) throws -> WireGuard.PeerID {
        let configuration = WireGuard.PeerConfiguration<TestEndpoint>(
            publicKey: node.publicKey, presharedKey: presharedKey,
            endpoint: endpoint ?? node.endpoint,
            persistentKeepalive: persistentKeepalive,
            allowedIPs: [.v4(IPv4Prefix(host: node.tunnelAddress))])
        return try device.addPeer(configuration, now: now)
    }
}

/// Carries datagrams between nodes by destination endpoint.
struct Network {
    var nodes: [Node]

    /// What happened to one delivered datagram.
    struct Delivery {
        var datagram: Datagram
        var result: WireGuard.DecapsulateResult
    }

    /// Moves every queued datagram to its destination, and the replies they cause, until all
    /// outboxes are empty (at most `rounds` rounds). `filter` may drop (nil) or alter datagrams.
    @discardableResult
    func run(now: WireGuard.Instant, rounds: Int = 16,
             filter: (Datagram) -> Datagram? = { $0 }) -> [Delivery] {
        var deliveries: [Delivery] = []
        for _ in 0 ..< rounds {
            let inFlight = nodes.flatMap { $0.takeOutbox() }
            if inFlight.isEmpty { break }
            for datagram in inFlight {
                guard let datagram = filter(datagram),
                      let node = nodes.first(where: { $0.endpoint.sourceAddress == datagram.to.sourceAddress }) else { continue }
                deliveries.append(Delivery(datagram: datagram, result: node.receive(datagram, now: now)))
            }
        }
        return deliveries
    }
}

/// Two nodes, a and b, that know each other, on a fresh clock.
struct Pair {
    var clock = ManualClock()
    let a: Node
    let b: Node
    /// b as a's peer, and a as b's.
    let peerB: WireGuard.PeerID
    let peerA: WireGuard.PeerID
    var network: Network { Network(nodes: [a, b]) }

    init(pskA: PresharedKey = .zero, pskB: PresharedKey = .zero, keepaliveA: WireGuard.Interval? = nil,
         seed: UInt64 = 1) throws {
        a = Node(host: 1, seed: seed, clock: clock)
        b = Node(host: 2, seed: seed + 100, clock: clock)
        peerB = try a.addPeer(b, presharedKey: pskA, persistentKeepalive: keepaliveA, now: clock.now)
        peerA = try b.addPeer(a, presharedKey: pskB, now: clock.now)
    }

    /// a sends one packet, which starts the handshake; everything is delivered. Returns the
    /// deliveries (initiation, response, the staged packet).
    @discardableResult
    func establish() -> [Network.Delivery] {
        a.send(a.packet(to: b), now: clock.now)
        return network.run(now: clock.now)
    }

    /// Advances the clock in `step`s up to `duration`, ticking both nodes and delivering
    /// everything after each step (with `filter`).
    @discardableResult
    mutating func advance(_ duration: WireGuard.Interval, step: WireGuard.Interval = .milliseconds(100),
                          filter: (Datagram) -> Datagram? = { $0 }) -> [Network.Delivery] {
        var deliveries: [Network.Delivery] = []
        let end = clock.now + duration
        while clock.now < end {
            clock.advance(min(step, end.since(clock.now)))
            a.tick(now: clock.now)
            b.tick(now: clock.now)
            deliveries += network.run(now: clock.now, filter: filter)
        }
        return deliveries
    }
}
