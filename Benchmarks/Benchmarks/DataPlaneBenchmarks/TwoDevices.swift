// Two WireGuard devices wired back to back through the sans-I/O API, on a manual clock: the
// fixture the data-path and handshake benchmarks drive. Nothing here touches a socket or a clock.

import WeftCrypto
import WeftDataPlane
import WeftRouting

/// The tunnel MTU and the inner packet size of the data-path benchmarks: a full-size packet, so
/// the payload needs no padding (1420 is the MTU cap of §5.4.6 padding) and the sealed message is
/// 16 + 1420 + 16 = 1452 bytes.
let innerPacketLength = 1420

/// Distance between packets in a ring: 16 + 1420 + 16 rounded up to whole cache lines, the same
/// for the Weft and the raw libsodium rings so both touch memory alike.
let ringStride = 1536

/// An IPv4/UDP packet of `length` bytes (at least 28) from `source` to `destination`, written at
/// `buffer[offset...]`.
func writeInnerPacket(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, length: Int = innerPacketLength,
                      from source: IPv4Address, to destination: IPv4Address) {
    let packet = UnsafeMutableRawBufferPointer(rebasing: buffer[offset ..< offset + length])
    for i in packet.indices { packet[i] = UInt8(truncatingIfNeeded: i &* 7) }
    packet[0] = 0x45                                    // IPv4, 20-byte header
    packet[1] = 0
    packet.storeBytes(of: UInt16(length).bigEndian, toByteOffset: 2, as: UInt16.self)
    packet[8] = 64                                      // TTL
    packet[9] = 17                                      // UDP
    source.store(into: packet, atByteOffset: 12)
    destination.store(into: packet, atByteOffset: 16)
}

/// Datagrams in flight between the two devices, in preallocated slots: carrying handshake
/// messages costs no allocation of its own, so the handshake's malloc count is the devices'.
final class Wire {
    static let slotSize = 2048
    static let capacity = 16

    private let storage: UnsafeMutableRawBufferPointer
    private var lengths = [Int](repeating: 0, count: capacity)
    private var sources = [Endpoint?](repeating: nil, count: capacity)
    private var destinations = [Endpoint?](repeating: nil, count: capacity)
    private var head = 0
    private var count = 0

    init() {
        storage = .allocate(byteCount: Self.capacity * Self.slotSize, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { storage.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// Copies a datagram the device handed to `output` (its bytes live only during that call).
    func post(_ bytes: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint) {
        precondition(count < Self.capacity && bytes.count <= Self.slotSize, "Wire: more in flight than expected")
        let slot = (head + count) % Self.capacity
        storage.baseAddress!.advanced(by: slot * Self.slotSize).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        lengths[slot] = bytes.count
        sources[slot] = source
        destinations[slot] = destination
        count += 1
    }

    /// Hands the oldest datagram to `body` (mutable, for in-place decryption), then frees its
    /// slot; `body` may post new datagrams meanwhile.
    func deliverOldest(_ body: (UnsafeMutableRawBufferPointer, Endpoint, Endpoint) -> Void) {
        precondition(count > 0)
        let slot = head
        let bytes = UnsafeMutableRawBufferPointer(rebasing: storage[slot * Self.slotSize ..< slot * Self.slotSize + lengths[slot]])
        body(bytes, sources[slot]!, destinations[slot]!)
        head = (head + 1) % Self.capacity
        count -= 1
    }
}

/// Devices a and b, each the other's only peer (allowed IPs: the other's tunnel /32), talking
/// through a `Wire`.
final class TwoDevices {
    typealias Device = WireGuard.Device<Endpoint>

    let a: Device
    let b: Device
    /// b as a's peer, and a as b's.
    let peerB: WireGuard.PeerID
    let peerA: WireGuard.PeerID
    let endpointA = Endpoint(address: .ipv4(192, 0, 2, 1), port: 51820)
    let endpointB = Endpoint(address: .ipv4(192, 0, 2, 2), port: 51820)
    let tunnelA = IPv4Address(10, 0, 0, 1)
    let tunnelB = IPv4Address(10, 0, 0, 2)
    /// The manual clock: moved only by the benchmarks.
    var now = WireGuard.Instant(nanoseconds: 1_000_000_000_000)
    let wire = Wire()
    /// Inner packets the devices delivered to their tunnels and sessions they completed.
    private(set) var delivered = 0
    private(set) var handshakesCompleted = 0

    init() {
        let keyA = PrivateKey()
        let keyB = PrivateKey()
        let wallClock = WireGuard.WallClockAnchor(unixNanoseconds: 1_700_000_000_000_000_000, at: now)
        // The system CSPRNG, as the engine uses: ephemeral keys and indices are real draws.
        a = Device(privateKey: keyA, wallClock: wallClock)
        b = Device(privateKey: keyB, wallClock: wallClock)
        do {
            peerB = try a.addPeer(WireGuard.PeerConfiguration(publicKey: keyB.publicKey, endpoint: endpointB,
                                                              allowedIPs: [.v4(IPv4Prefix(host: tunnelB))]), now: now)
            peerA = try b.addPeer(WireGuard.PeerConfiguration(publicKey: keyA.publicKey, endpoint: endpointA,
                                                              allowedIPs: [.v4(IPv4Prefix(host: tunnelA))]), now: now)
        } catch {
            fatalError("TwoDevices: adding peers failed: \(error)")
        }
    }

    /// A's first packet starts the handshake (it waits for the session); initiation, response
    /// and the waiting packet are delivered, which confirms the session on b (§5.4.6).
    func establishSession() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ringStride, alignment: 64)
        defer { buffer.deallocate() }
        writeInnerPacket(into: buffer, at: WireGuard.transportHeaderLength, from: tunnelA, to: tunnelB)
        send(from: a, buffer: buffer)
        deliverAll()
        precondition(handshakesCompleted == 2 && delivered == 1, "TwoDevices: the session did not come up")
    }

    /// Encapsulates the packet at `buffer[16...]` on `device` for its peer; a transport message
    /// goes on the wire like the datagrams the device emits through `output`.
    func send(from device: Device, buffer: UnsafeMutableRawBufferPointer, length: Int = innerPacketLength) {
        let (source, peer) = device === a ? (endpointA, peerB) : (endpointB, peerA)
        let result = device.encapsulate(packetLength: length, in: buffer, for: peer, now: now) { output in
            self.handle(output, from: source)
        }
        switch result {
        case .writeToNetwork(let range, let destination):
            wire.post(UnsafeRawBufferPointer(rebasing: buffer[range]), from: source, to: destination)
        case .staged:
            break
        case .drop(let reason):
            fatalError("TwoDevices: encapsulate dropped the packet: \(reason)")
        }
    }

    /// Delivers everything on the wire, and the replies it causes (bounded: a handshake is three
    /// messages and a confirming packet).
    func deliverAll() {
        var rounds = 0
        while !wire.isEmpty {
            rounds += 1
            precondition(rounds <= 64, "TwoDevices: the devices keep answering each other")
            wire.deliverOldest { bytes, source, destination in
                let (device, receiver) = destination == endpointA ? (a, endpointA) : (b, endpointB)
                let result = device.decapsulate(bytes, from: source, now: now) { output in
                    self.handle(output, from: receiver)
                }
                switch result {
                case .writeToTunnel: delivered += 1
                case .done: break
                case .drop(let reason): fatalError("TwoDevices: decapsulate dropped a datagram: \(reason)")
                }
            }
        }
    }

    private func handle(_ output: WireGuard.Output<Endpoint>, from source: Endpoint) {
        switch output {
        case .datagram(let bytes, let destination):
            wire.post(bytes, from: source, to: destination)
        case .event(.handshakeCompleted):
            handshakesCompleted += 1
        case .event:
            break
        }
    }
}
