import Glibc
import Synchronization
import WeftCrypto
import WeftRouting

/// A running WireGuard interface: a TUN device, a UDP socket and the sans-I/O protocol core,
/// driven by three threads. This is the library's main entry point for embedders; the `weft up`
/// command and the UAPI server are thin clients of it.
///
/// Threads and ownership:
/// 1. *transmit*: reads batches from the TUN, encrypts them in place (cryptokey routing picks the
///    peer), sends them on the UDP socket. Owns buffer pool T and the rings that use it.
/// 2. *receive*: receives batches of datagrams, decrypts in place, writes the inner packets to
///    the TUN; handshake answers go back out on the socket. Owns buffer pool U.
/// 3. *timers*: calls the core's `tick` at its deadlines (handshake retries, keepalives, key
///    expiry) and sends what it emits through a small syscall sender.
/// The protocol core is one object; each thread holds its lock once per *batch* (up to
/// `batchSize` packets), never per packet, and does all I/O outside the lock.
public final class WireGuardEngine: @unchecked Sendable {
    public struct Options: Sendable {
        /// The TUN interface to create or attach to.
        public var interfaceName: String
        /// The TUN MTU set at creation (wireguard-go's default; wg-quick sets its own).
        public var mtu: Int
        public var backend: Backend
        /// Packets per batch in each direction.
        public var batchSize: Int
        /// Buffers per direction; bounds the engine's packet memory at 2 × this × 2 KiB.
        public var buffersPerDirection: Int
        /// UDP socket buffers, forced past net.core.rmem_max (which a namespace cannot raise).
        public var socketBufferBytes: Int
        /// TUN offloads: the kernel hands over TCP/UDP super-packets of up to 64 KiB (TSO/USO),
        /// which the engine cuts into wire-size packets before sealing, and the engine merges
        /// the TCP segments it decrypts into super-packets for the kernel (GRO). Falls back to
        /// plain packets where the kernel refuses IFF_VNET_HDR.
        public var offloads: Bool
        /// 64 KiB buffers per direction for super-packets when `offloads` is on; bounds that
        /// memory at 2 × this × 64 KiB (64: about 8.5 MiB).
        public var coalescingBuffers: Int
        /// Extra threads per direction that take half of each batch's encryption or decryption
        /// (0 or 1). Worth it only with cores to spare: the default is 1 from 4 cores up, else 0.
        public var cryptoWorkers: Int

        /// The `cryptoWorkers` default for this machine.
        public static var defaultCryptoWorkers: Int { sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 4 ? 1 : 0 }

        public init(interfaceName: String, mtu: Int = 1420, backend: Backend = .automatic, batchSize: Int = 64,
                    buffersPerDirection: Int = 1024, socketBufferBytes: Int = 8 << 20, offloads: Bool = true,
                    coalescingBuffers: Int = 64, cryptoWorkers: Int = Options.defaultCryptoWorkers) {
            self.interfaceName = interfaceName
            self.mtu = mtu
            self.backend = backend
            self.batchSize = batchSize
            self.buffersPerDirection = buffersPerDirection
            self.socketBufferBytes = socketBufferBytes
            self.offloads = offloads
            self.coalescingBuffers = coalescingBuffers
            self.cryptoWorkers = min(max(cryptoWorkers, 0), 1)
        }
    }

    public enum Backend: String, Sendable {
        /// io_uring where the kernel offers what it needs, otherwise batched syscalls.
        case automatic
        case ioUring
        case syscalls
    }

    /// What the engine reports as it runs, named by the peer's public key.
    public enum Event: Sendable {
        case handshakeCompleted(PublicKey)
        case handshakeFailed(PublicKey)
        case endpointChanged(PublicKey, Endpoint)
        case sessionExpired(PublicKey)
        /// The TUN interface was deleted (`ip link del`, `wg-quick down`): the data path has
        /// stopped, as wireguard-go exits when its interface goes away.
        case interfaceRemoved
    }

    public let options: Options
    public let tun: TUNDevice
    /// The backend actually in use, and why when it is not the one asked for.
    public private(set) var backend: IOBackend = .syscalls
    public private(set) var backendNote: String = ""

    private let lock = Mutex<Void>(())
    // Everything below is guarded by `lock`.
    private let device: WireGuard.Device<Endpoint>
    private var hasPrivateKey = false
    private var fwmark: UInt32 = 0
    private var presharedKeys: [WireGuard.PeerID: PresharedKey] = [:]
    private var keepaliveIntervals: [WireGuard.PeerID: UInt16] = [:]
    private var ioCounters = InterfaceCounters()
    /// Overlay mode (dlan): packets are routed between the TUN and VXLAN links, one link per peer,
    /// instead of by cryptokey routing alone. nil for a plain WireGuard interface.
    private var overlay: OverlayRouter?
    private var peerOfLink: [LinkID: WireGuard.PeerID] = [:]
    private var linkOfPeer: [WireGuard.PeerID: LinkID] = [:]
    private var controlPlane: OverlayControlPlane?
    /// Packets the routing protocol produced on input from outside the engine
    /// (`controlPlaneInput`), sent by the timer thread, which owns a pool and a sender.
    private var pendingControlPackets: [(link: LinkID, packet: [UInt8])] = []
    private var wallClock: WireGuard.WallClockAnchor

    private var socket: UDPSocket
    private var threads: [OSThread] = []
    private let running = Atomic<Bool>(false)
    private let timerWakeup = Wakeup()
    private let eventHandler: (@Sendable (Event) -> Void)?
    private let log: @Sendable (String) -> Void

    /// Creates the TUN device and binds the UDP socket (port 0: a free one, as wireguard-go),
    /// then starts the data path. The interface is left down, as wireguard-go leaves it.
    public init(options: Options, events: (@Sendable (Event) -> Void)? = nil,
                log: @escaping @Sendable (String) -> Void = WireGuardEngine.logToStandardError) throws(EngineError) {
        self.options = options
        self.eventHandler = events
        self.log = log
        do {
            tun = try TUNDevice(name: options.interfaceName, options: .init(virtioNetHeader: options.offloads))
        } catch {
            throw .tun(options.interfaceName, error)
        }
        do { try tun.setMTU(options.mtu) } catch { throw .system("setting MTU \(options.mtu) on \(options.interfaceName)", error) }
        wallClock = MonotonicClock.wallClockAnchor()
        // No identity until a private key is set (UAPI `private_key=`); until then the core
        // holds a throwaway key and the engine drops all traffic, as wireguard-go does.
        device = WireGuard.Device(privateKey: PrivateKey(),
                                  configuration: WireGuard.DeviceConfiguration(mtu: options.mtu),
                                  wallClock: wallClock)
        socket = try Self.bind(port: 0, bufferBytes: options.socketBufferBytes, coalescing: options.offloads)
        try start()
    }

    deinit { stop() }

    /// The default log: one line per message on standard error.
    public static let logToStandardError: @Sendable (String) -> Void = { message in
        let line = "weft: " + message + "\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    // MARK: Life cycle

    private static func bind(port: UInt16, bufferBytes: Int, coalescing: Bool) throws(EngineError) -> UDPSocket {
        do {
            return try UDPSocket(.init(port: port, receiveBufferBytes: bufferBytes, sendBufferBytes: bufferBytes,
                                       receiveCoalescing: coalescing))
        } catch {
            if case .system(_, let errno) = error, errno == .addressInUse { throw .portInUse(port) }
            throw .udp(port, error)
        }
    }

    private func start() throws(EngineError) {
        let useRing: Bool
        switch options.backend {
        case .syscalls:
            useRing = false
            backendNote = "batched syscalls (asked for)"
        case .ioUring, .automatic:
            switch Ring.availability() {
            case .success(let features) where features.contains(.multishotRead):
                useRing = true
                backendNote = "io_uring (\(features))"
            case .success:
                if options.backend == .ioUring { throw .backend(.ioUringMissingFeature("multishot READ")) }
                useRing = false
                backendNote = "batched syscalls: io_uring lacks multishot READ"
            case .failure(let error):
                if options.backend == .ioUring { throw .backend(error) }
                useRing = false
                backendNote = "batched syscalls: \(error)"
            }
        }
        backend = useRing ? .ioUring : .syscalls
        let tun = self.tun
        if tun.hasVirtioNetHeader {
            let offloads = [(TUNDevice.Offloads.tcpSegmentation4, "tso4"), (.tcpSegmentation6, "tso6"),
                            (.tcpSegmentationECN, "tso-ecn"), (.udpSegmentation4, "uso4"), (.udpSegmentation6, "uso6")]
                .filter { tun.offloads.contains($0.0) }.map(\.1)
            backendNote += "; TUN offloads \(offloads.isEmpty ? "checksum only" : offloads.joined(separator: ","))+gro"
        } else if options.offloads {
            backendNote += "; no TUN offloads (kernel refused IFF_VNET_HDR)"
        }
        if socket.offloads.contains(.segmentation) { backendNote += "; UDP GSO" }
        if socket.offloads.contains(.receiveCoalescing) { backendNote += "; UDP GRO" }
        if options.cryptoWorkers > 0 { backendNote += "; crypto workers \(options.cryptoWorkers) per direction" }
        running.store(true, ordering: .releasing)
        let socket = self.socket
        let superPackets = tun.hasVirtioNetHeader
        let superDatagrams = socket.offloads.contains(.receiveCoalescing)
        // Each direction builds its drivers on its own thread (rings belong to the thread that
        // enables them), with its own pools: wire-size slots, and 64 KiB slots for TSO/GRO
        // super-packets when the TUN has offloads.
        threads.append(OSThread(name: "weft-tx") { [unowned self] in
            let pool = BufferPool(capacity: options.buffersPerDirection)
            let superPool = superPackets ? BufferPool(capacity: options.coalescingBuffers, layout: .coalescing) : nil
            let readPool = superPool ?? pool
            do throws(IOBackendError) {
                if useRing {
                    transmitLoop(reader: try TUNRingIO(device: tun, pool: readPool, receiveBuffers: readPool.capacity * 3 / 4),
                                 sender: try UDPRingIO(socket: socket, pool: pool, receiveBuffers: 1),
                                 tunWriter: TUNSyscallIO(device: tun, pool: pool), pool: pool)
                } else {
                    transmitLoop(reader: TUNSyscallIO(device: tun, pool: readPool), sender: UDPSyscallIO(socket: socket, pool: pool),
                                 tunWriter: TUNSyscallIO(device: tun, pool: pool), pool: pool)
                }
            } catch {
                log("\(options.interfaceName): cannot start the data path: \(error)")
            }
        })
        threads.append(OSThread(name: "weft-rx") { [unowned self] in
            // With UDP GRO the kernel hands over trains of datagrams of up to 64 KiB, decrypted
            // in place where they landed: receive slots are 64 KiB then.
            let pool = superDatagrams ? BufferPool(capacity: options.coalescingBuffers, layout: .coalescing)
                                      : BufferPool(capacity: options.buffersPerDirection)
            let superPool = superPackets ? BufferPool(capacity: options.coalescingBuffers, layout: .coalescing) : nil
            do throws(IOBackendError) {
                if useRing {
                    receiveLoop(reader: try UDPRingIO(socket: socket, pool: pool,
                                                      receiveBuffers: pool.capacity * (superDatagrams ? 3 : 2) / 4),
                                tunWriter: try TUNRingIO(device: tun, pool: pool, receiveBuffers: 1),
                                superWriter: try superPool.map { pool throws(IOBackendError) in
                                    try TUNRingIO(device: tun, pool: pool, receiveBuffers: 1)
                                }, pool: pool)
                } else {
                    receiveLoop(reader: UDPSyscallIO(socket: socket, pool: pool), tunWriter: TUNSyscallIO(device: tun, pool: pool),
                                superWriter: superPool.map { TUNSyscallIO(device: tun, pool: $0) }, pool: pool)
                }
            } catch {
                log("\(options.interfaceName): cannot start the data path: \(error)")
            }
        })
        threads.append(OSThread(name: "weft-timers") { [unowned self] in self.timerLoop(socket: socket) })
    }

    /// Stops the threads and closes the socket; the TUN goes when the engine is released.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        timerWakeup.signal()
        for thread in threads { thread.join() }
        threads = []
    }

    // MARK: Transmit: TUN → encrypt → UDP

    private func transmitLoop<Reader: PacketIO, Sender: PacketIO, TUNWriter: PacketIO>(
        reader: Reader, sender: Sender, tunWriter: TUNWriter, pool: BufferPool
    ) {
        // With TUN offloads the reader fills 64 KiB slots of its own pool with super-packets,
        // which are cut into wire-size packets in `pool`; without, it reads into `pool` directly.
        let segmenting = reader.pool !== pool
        var incoming = PacketBatch(capacity: options.batchSize)
        // Wire-size packets to seal: a batch plus the segments of one more super-packet
        // (TSO segments are at least 256 bytes, so 64 KiB makes at most 256).
        var work = PacketBatch(capacity: options.batchSize + (segmenting ? 256 : 0))
        // Room for every packet plus the handshake messages a batch can trigger.
        var outgoing = PacketBatch(capacity: work.capacity * 2)
        // Overlay mode: ICMP errors and the like go back to the local host.
        var toTunnel = PacketBatch(capacity: work.capacity)
        let seals = CryptoJobs<WireGuard.SealJob>(capacity: work.capacity)
        let worker = options.cryptoWorkers > 0 ? CryptoWorker(name: "weft-tx-crypto") : nil
        defer { worker?.stop() }
        var events: [Event] = []
        events.reserveCapacity(8)
        while running.load(ordering: .relaxed) {
            let received: Int
            do { received = try reader.receive(into: &incoming, timeout: .milliseconds(100)) } catch {
                lock.withLock { _ in ioCounters.drops["tun read error", default: 0] += 1 }
                incoming.releaseAll(to: reader.pool)
                if if_nametoindex(options.interfaceName) == 0 {
                    log("\(options.interfaceName): interface removed, stopping")
                    running.store(false, ordering: .releasing)
                    eventHandler?(.interfaceRemoved)
                    break
                }
                continue
            }
            guard received > 0 else { continue }
            if !segmenting {
                swap(&incoming, &work)
                sealBatch(&work, outgoing: &outgoing, toTunnel: &toTunnel, seals: seals, worker: worker, tunWriter: tunWriter, sender: sender,
                          pool: pool, events: &events)
                continue
            }
            var failures = SegmentationFailures()
            for i in 0..<incoming.count {
                let superPacket = incoming[i]
                segment(superPacket, from: reader.pool, into: &work, pool: pool, failures: &failures)
                reader.pool.release(superPacket.buffer)
                if work.count >= options.batchSize {
                    sealBatch(&work, outgoing: &outgoing, toTunnel: &toTunnel, seals: seals, worker: worker, tunWriter: tunWriter, sender: sender,
                              pool: pool, events: &events)
                }
            }
            incoming.removeAll()
            if failures.any { lock.withLock { _ in failures.count(into: &ioCounters) } }
            if !work.isEmpty {
                sealBatch(&work, outgoing: &outgoing, toTunnel: &toTunnel, seals: seals, worker: worker, tunWriter: tunWriter, sender: sender,
                          pool: pool, events: &events)
            }
        }
        incoming.releaseAll(to: reader.pool)
    }

    /// Drops while cutting super-packets, counted after the batch (outside the per-packet path).
    private struct SegmentationFailures {
        var malformed = 0
        var unsupported = 0
        var noBuffers = 0
        var any: Bool { malformed + unsupported + noBuffers > 0 }
        mutating func record(_ failure: SegmentationOffload.Failure) {
            switch failure {
            case .malformed: malformed += 1
            case .unsupported: unsupported += 1
            case .noBuffers: noBuffers += 1
            }
        }
        func count(into counters: inout InterfaceCounters) {
            for (failure, n) in [(SegmentationOffload.Failure.malformed, malformed), (.unsupported, unsupported),
                                 (.noBuffers, noBuffers)] where n > 0 {
                counters.drops[failure.description, default: 0] += UInt64(n)
            }
        }
    }

    /// Cuts one packet read from an offloading TUN into wire-size packets appended to `work`
    /// (slots of `pool`, at its headroom, so WireGuard's header fits in front).
    private func segment(_ superPacket: Packet, from readPool: BufferPool, into work: inout PacketBatch, pool: BufferPool,
                         failures: inout SegmentationFailures) {
        let header = VirtioNetHeader(of: superPacket, in: readPool) ?? VirtioNetHeader()
        let headroom = pool.layout.headroom
        let capacity = pool.layout.payloadCapacity
        do {
            _ = try SegmentationOffload.segment(readPool.payload(of: superPacket), header: header) { length in
                guard length <= capacity, !work.isFull, let index = pool.take() else { return nil }
                work.append(Packet(buffer: index, offset: headroom, length: length))
                return UnsafeMutableRawBufferPointer(start: pool.address(of: index) + headroom, count: length)
            }
        } catch {
            failures.record(error)
        }
    }

    /// Seals a batch of wire-size packets from the TUN (under the lock, once) and sends them.
    private func sealBatch<Sender: PacketIO, TUNWriter: PacketIO>(
        _ work: inout PacketBatch, outgoing: inout PacketBatch, toTunnel: inout PacketBatch, seals: CryptoJobs<WireGuard.SealJob>,
        worker: CryptoWorker?, tunWriter: TUNWriter, sender: Sender, pool: BufferPool, events: inout [Event]
    ) {
        let now = MonotonicClock.now()
        lock.withLock { _ in
            ioCounters.rxPackets &+= UInt64(work.count)
            for i in 0..<work.count {
                var packet = work[i]
                ioCounters.rxBytes &+= UInt64(packet.length)
                guard hasPrivateKey, packet.offset >= WireGuard.transportHeaderLength else {
                    ioCounters.drops["no private key", default: 0] += 1
                    pool.release(packet.buffer)
                    continue
                }
                let slot = pool.slot(packet.buffer)
                // Plain WireGuard: the packet itself goes into the tunnel, cryptokey routing
                // picks the peer. Overlay: the router picks a link and wraps the packet in
                // VXLAN first; the link's peer is then fixed.
                var frame = packet.offset ..< packet.offset + packet.length
                var linkPeer: WireGuard.PeerID?
                if overlay != nil {
                    switch overlay!.fromTUN(frame, in: slot, now: now.nanoseconds) {
                    case .toLink(let link, let range):
                        frame = range
                        linkPeer = peerOfLink[link]
                    case .toTUN(let range):
                        packet.offset = range.lowerBound
                        packet.length = range.count
                        if !toTunnel.append(packet) { pool.release(packet.buffer) }
                        continue
                    case .control, .consumed, .drop:
                        pool.release(packet.buffer)
                        continue
                    }
                    guard linkPeer != nil else {
                        ioCounters.drops["link without peer", default: 0] += 1
                        pool.release(packet.buffer)
                        continue
                    }
                }
                // The core wants the packet 16 bytes into its buffer and room for the tag after.
                let start = frame.lowerBound - WireGuard.transportHeaderLength
                let region = UnsafeMutableRawBufferPointer(rebasing: slot[start...])
                var job = WireGuard.SealJob()
                let result = device.encapsulate(packetLength: frame.count, in: region, for: linkPeer, now: now,
                                                deferringSealTo: &job) { output in
                    self.handle(output, into: &outgoing, pool: pool, events: &events)
                }
                switch result {
                case .writeToNetwork(let range, let endpoint):
                    packet.offset = start + range.lowerBound
                    packet.length = range.count
                    packet.endpoint = endpoint
                    if outgoing.append(packet) {
                        seals.append(job, buffer: pool.payload(of: packet), for: outgoing.count - 1)
                    } else {
                        pool.release(packet.buffer)
                    }
                case .staged, .drop:
                    pool.release(packet.buffer)
                }
            }
        }
        work.removeAll()
        // The AEAD, without the lock: the receive thread may take it meanwhile.
        seals.run(with: worker)
        seals.removeAll()
        if !toTunnel.isEmpty {
            do { try tunWriter.send(&toTunnel) } catch {
                lock.withLock { _ in ioCounters.drops["tun write error", default: 0] += 1 }
            }
            toTunnel.releaseAll(to: pool)
        }
        send(&outgoing, with: sender, pool: pool)
        deliver(&events)
    }

    // MARK: Receive: UDP → decrypt → TUN

    private func receiveLoop<Reader: PacketIO, Writer: PacketIO>(reader: Reader, tunWriter: Writer, superWriter: Writer?,
                                                                 pool: BufferPool) {
        var incoming = PacketBatch(capacity: options.batchSize)
        var toTunnel = PacketBatch(capacity: options.batchSize)
        // With TUN offloads, TCP segments for the TUN are merged into super-packets (GRO).
        var coalescer = TCPCoalescer(capacity: options.batchSize)
        var writes = PacketBatch(capacity: options.batchSize)
        // Per received packet: its result, or whether its AEAD job opened it.
        let opens = CryptoJobs<WireGuard.OpenJob>(capacity: options.batchSize)
        let worker = options.cryptoWorkers > 0 ? CryptoWorker(name: "weft-rx-crypto") : nil
        defer { worker?.stop() }
        let results = UnsafeMutablePointer<ReceiveStep>.allocate(capacity: options.batchSize)
        results.initialize(repeating: .opened(false), count: options.batchSize)
        defer { results.deallocate() }
        // Handshake answers, cookie replies and packets that waited for the new session.
        var toNetwork = PacketBatch(capacity: options.batchSize * 2 + WireGuard.maxStagedPackets)
        var events: [Event] = []
        events.reserveCapacity(8)
        while running.load(ordering: .relaxed) {
            let received: Int
            do { received = try reader.receive(into: &incoming, timeout: .milliseconds(100)) } catch {
                lock.withLock { _ in ioCounters.drops["udp receive error", default: 0] += 1 }
                incoming.releaseAll(to: pool)
                continue
            }
            guard received > 0 else { continue }
            let now = MonotonicClock.now()
            lock.withLock { _ in
                // A burst of handshake initiations means someone may be flooding us: demand
                // cookies (whitepaper §5.3) while it lasts. The core keeps the flag a second.
                var initiations = 0
                for i in 0..<incoming.count where pool.payload(of: incoming[i]).first == 1 { initiations += 1 }
                device.isUnderLoad = initiations >= options.batchSize / 4
                for i in 0..<incoming.count {
                    let packet = incoming[i]
                    let step = device.beginDecapsulation(pool.payload(of: packet), from: packet.endpoint, now: now) { output in
                        self.handle(output, into: &toNetwork, pool: pool, events: &events)
                    }
                    switch step {
                    case .open(let job): opens.append(job, buffer: pool.payload(of: packet), for: i)
                    case .finished(let result): results[i] = .finished(result)
                    }
                }
            }
            // The AEAD, without the lock: the transmit thread may take it meanwhile.
            opens.run(with: worker)
            for j in 0..<opens.count { results[opens.position(at: j)] = .opened(opens.succeeded(at: j)) }
            lock.withLock { _ in
                var nextJob = 0
                for i in 0..<incoming.count {
                    var packet = incoming[i]
                    let datagram = pool.payload(of: packet)
                    var result: WireGuard.DecapsulateResult
                    switch results[i] {
                    case .finished(let finished):
                        result = finished
                    case .opened(let opened):
                        let job = opens.job(at: nextJob)
                        nextJob += 1
                        result = device.finishDecapsulation(datagram, job: job, opened: opened, from: packet.endpoint,
                                                            now: now) { output in
                            self.handle(output, into: &toNetwork, pool: pool, events: &events)
                        }
                    }
                    switch result {
                    case .writeToTunnel(let range, let peer):
                        packet.offset += range.lowerBound
                        packet.length = range.count
                        packet.endpoint = .unspecified
                        if overlay != nil {
                            // The decrypted payload is a VXLAN frame on the peer's link.
                            forwardFromLink(&packet, peer: peer, pool: pool, now: now, toTunnel: &toTunnel,
                                            toNetwork: &toNetwork, events: &events)
                            continue
                        }
                        ioCounters.txPackets &+= 1
                        ioCounters.txBytes &+= UInt64(range.count)
                        if !toTunnel.append(packet) { pool.release(packet.buffer) }
                    case .done, .drop:
                        pool.release(packet.buffer)
                    }
                }
            }
            opens.removeAll()
            incoming.removeAll()
            if let superWriter, toTunnel.count > 1 {
                for i in 0..<toTunnel.count { coalescer.add(toTunnel[i], pool: pool, coalescingPool: superWriter.pool) }
                toTunnel.removeAll()
                var failed = false
                coalescer.drain(pool: pool, coalescingPool: superWriter.pool, into: &writes) { batch, merged in
                    do { try (merged ? superWriter : tunWriter).send(&batch) } catch { failed = true }
                    batch.releaseAll(to: merged ? superWriter.pool : pool)
                }
                if failed { lock.withLock { _ in ioCounters.drops["tun write error", default: 0] += 1 } }
            } else if !toTunnel.isEmpty {
                do { try tunWriter.send(&toTunnel) } catch {
                    lock.withLock { _ in ioCounters.drops["tun write error", default: 0] += 1 }
                }
                toTunnel.releaseAll(to: pool)
            }
            send(&toNetwork, with: reader, pool: pool)
            deliver(&events)
        }
        incoming.releaseAll(to: pool)
    }

    /// Overlay receive path (under the lock): a frame from a link is delivered to the TUN,
    /// answered (ARP/ND) or forwarded into another link's tunnel (transit, site A → hub → site B).
    private func forwardFromLink(_ packet: inout Packet, peer: WireGuard.PeerID, pool: BufferPool, now: WireGuard.Instant,
                                 toTunnel: inout PacketBatch, toNetwork: inout PacketBatch, events: inout [Event]) {
        guard let link = linkOfPeer[peer] else {
            ioCounters.drops["peer without link", default: 0] += 1
            pool.release(packet.buffer)
            return
        }
        let slot = pool.slot(packet.buffer)
        let frame = packet.offset ..< packet.offset + packet.length
        switch overlay!.fromLink(link, payload: frame, in: slot, now: now.nanoseconds) {
        case .toTUN(let range):
            packet.offset = range.lowerBound
            packet.length = range.count
            ioCounters.txPackets &+= 1
            ioCounters.txBytes &+= UInt64(range.count)
            if !toTunnel.append(packet) { pool.release(packet.buffer) }
        case .toLink(let outgoing, let range):
            guard let outgoingPeer = peerOfLink[outgoing] else {
                ioCounters.drops["link without peer", default: 0] += 1
                pool.release(packet.buffer)
                return
            }
            var buffer = packet.buffer
            var frame = range
            if packet.flags.contains(.sharedBuffer) {
                // One datagram of a GRO train: sealing writes a header before the frame and a
                // tag after it, over its neighbours' bytes. Move it to a slot of its own.
                guard let own = pool.take() else {
                    ioCounters.drops["no buffer for transit packet", default: 0] += 1
                    pool.release(packet.buffer)
                    return
                }
                let start = pool.layout.headroom
                (pool.address(of: own) + start).copyMemory(from: pool.address(of: buffer) + range.lowerBound, byteCount: range.count)
                pool.release(buffer)
                buffer = own
                frame = start ..< start + range.count
            }
            sealAndQueue(buffer, frame: frame, for: outgoingPeer, pool: pool, now: now, into: &toNetwork, events: &events)
        case .control(let link, let range):
            guard let controlPlane else {
                ioCounters.drops["routing protocol packet (no routing protocol running)", default: 0] += 1
                pool.release(packet.buffer)
                return
            }
            let replies = controlPlane.receive(UnsafeRawBufferPointer(rebasing: slot[range]), on: link,
                                               now: now.nanoseconds, routes: &overlay!.routingTable)
            pool.release(packet.buffer)
            for reply in replies {
                sendControl(reply.packet, on: reply.link, pool: pool, now: now, into: &toNetwork, events: &events)
            }
            // The packet may have set a nearer deadline (an SPF run, a retransmission): the timer
            // thread must not sleep through it on the deadline it computed before.
            timerWakeup.signal()
        case .consumed, .drop:
            pool.release(packet.buffer)
        }
    }

    /// Sends a routing-protocol IP packet out on a link (under the lock): VXLAN, then WireGuard.
    private func sendControl(_ bytes: [UInt8], on link: LinkID, pool: BufferPool, now: WireGuard.Instant,
                             into batch: inout PacketBatch, events: inout [Event]) {
        guard let peer = peerOfLink[link], let index = pool.take() else { return }
        let slot = pool.slot(index)
        let start = pool.layout.headroom
        guard bytes.count <= pool.layout.payloadCapacity - 128 else { pool.release(index); return }
        bytes.withUnsafeBytes { slot.baseAddress!.advanced(by: start).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard case .toLink(_, let frame) = overlay!.sendControl(start ..< start + bytes.count, on: link, in: slot,
                                                                 now: now.nanoseconds) else {
            pool.release(index)
            return
        }
        sealAndQueue(index, frame: frame, for: peer, pool: pool, now: now, into: &batch, events: &events)
    }

    /// Seals the frame at `frame` (slot offsets) in place for `peer` and queues the datagram;
    /// the slot goes back to the pool when nothing is sent (no session yet: the core staged a copy).
    private func sealAndQueue(_ index: BufferIndex, frame: Range<Int>, for peer: WireGuard.PeerID, pool: BufferPool,
                              now: WireGuard.Instant, into batch: inout PacketBatch, events: inout [Event]) {
        let start = frame.lowerBound - WireGuard.transportHeaderLength
        let region = UnsafeMutableRawBufferPointer(rebasing: pool.slot(index)[start...])
        let result = device.encapsulate(packetLength: frame.count, in: region, for: peer, now: now) { output in
            self.handle(output, into: &batch, pool: pool, events: &events)
        }
        if case .writeToNetwork(let sealed, let endpoint) = result,
           batch.append(Packet(buffer: index, offset: start + sealed.lowerBound, length: sealed.count, endpoint: endpoint)) {
            return
        }
        pool.release(index)
    }

    /// Runs `body` with the attached routing protocol under the engine's lock (for snapshots).
    public func withControlPlane<T: Sendable>(_ body: (OverlayControlPlane) -> T) -> T? {
        var result: T?
        lock.withLock { _ in result = controlPlane.map(body) }
        return result
    }

    /// Hands the attached routing protocol input that arrives outside the engine (a packet on a
    /// socket of its own, an interface going up or down) under the engine's lock, with the
    /// overlay's routing table for the routes it changes. The packets `body` returns go out on
    /// their links from the timer thread, which is woken also to take the protocol's new
    /// deadline into account. Does nothing without a routing protocol or an overlay.
    public func controlPlaneInput(_ body: (OverlayControlPlane, inout RoutingTable) -> [(link: LinkID, packet: [UInt8])]) {
        lock.withLock { _ in
            guard let controlPlane, overlay != nil else { return }
            let packets = body(controlPlane, &overlay!.routingTable)
            // Bounded: a routing protocol answers one input with a handful of packets, and the
            // timer thread drains the queue right away.
            let room = max(Self.pendingControlPacketLimit - pendingControlPackets.count, 0)
            if packets.count > room {
                ioCounters.drops["routing protocol packet (send queue full)", default: 0] += UInt64(packets.count - room)
            }
            pendingControlPackets += packets.prefix(room)
        }
        timerWakeup.signal()
    }

    /// How many routing-protocol packets `controlPlaneInput` may leave for the timer thread:
    /// half its send batch, leaving the rest for its own timers' packets.
    static let pendingControlPacketLimit = 128

    /// Attaches a routing protocol to the overlay (call after `configureOverlay`).
    public func attachControlPlane(_ plane: OverlayControlPlane) {
        lock.withLock { _ in controlPlane = plane }
        timerWakeup.signal()
    }

    /// Turns the engine into an overlay router: `links` pairs each overlay link with the
    /// WireGuard peer that carries it (the peer must exist: apply the peers first).
    public func configureOverlay(_ router: OverlayRouter, links: [(link: LinkID, peer: PublicKey)]) throws(EngineError) {
        try lock.withLock { _ throws(EngineError) in
            var byLink: [LinkID: WireGuard.PeerID] = [:]
            for (link, key) in links {
                guard let id = device.peer(withPublicKey: key) else {
                    throw .invalidPeer(key, "no such peer for overlay link \(link.rawValue)")
                }
                byLink[link] = id
            }
            overlay = router
            peerOfLink = byLink
            linkOfPeer = Dictionary(uniqueKeysWithValues: byLink.map { ($1, $0) })
        }
        timerWakeup.signal()
    }

    /// Replaces the overlay's routing table (static routes now, OSPF's later).
    public func updateOverlayRoutes(_ body: (inout RoutingTable) -> Void) {
        lock.withLock { _ in
            guard overlay != nil else { return }
            body(&overlay!.routingTable)
        }
    }

    /// The overlay's best routes (what it forwards by), for `weft show`.
    public func overlayRoutes() -> [Route] {
        lock.withLock { _ in overlay?.routingTable.bestRoutes ?? [] }
    }

    /// The overlay's counters and links, for `weft show`; nil for a plain WireGuard interface.
    public func overlaySnapshot() -> OverlaySnapshot? {
        lock.withLock { _ in overlay?.snapshot }
    }

    // MARK: Timers

    private func timerLoop(socket: UDPSocket) {
        // Timer output is rare (handshakes, keepalives): a small pool and plain sendmmsg.
        let pool = BufferPool(capacity: 256)
        let sender = UDPSyscallIO(socket: socket, pool: pool)
        var outgoing = PacketBatch(capacity: 256)
        var events: [Event] = []
        while running.load(ordering: .relaxed) {
            let now = MonotonicClock.now()
            let deadline = lock.withLock { _ -> WireGuard.Instant? in
                guard hasPrivateKey else { return nil }
                var next = device.tick(now: now) { output in self.handle(output, into: &outgoing, pool: pool, events: &events) }
                if overlay != nil { next = tickOverlay(now: now, next: next, pool: pool, outgoing: &outgoing, events: &events) }
                if let controlPlane, overlay != nil {
                    for item in pendingControlPackets {
                        sendControl(item.packet, on: item.link, pool: pool, now: now, into: &outgoing, events: &events)
                    }
                    pendingControlPackets = []
                    let (packets, planeNext) = controlPlane.tick(now: now.nanoseconds, routes: &overlay!.routingTable)
                    for item in packets {
                        sendControl(item.packet, on: item.link, pool: pool, now: now, into: &outgoing, events: &events)
                    }
                    if let planeNext {
                        let instant = WireGuard.Instant(nanoseconds: planeNext)
                        next = next.map { min($0, instant) } ?? instant
                    }
                }
                return next
            }
            send(&outgoing, with: sender, pool: pool)
            deliver(&events)
            // Sleep until the core's next deadline, at most a second (a config change wakes us).
            let latest = now.nanoseconds + 1_000_000_000
            let wake = min(deadline.map { max($0.nanoseconds, now.nanoseconds + 1_000_000) } ?? latest, latest)
            timerWakeup.wait(until: wake)
        }
    }

    /// Link announcements and neighbor solicitations from the overlay, each sealed for its link.
    private func tickOverlay(now: WireGuard.Instant, next: WireGuard.Instant?, pool: BufferPool,
                             outgoing: inout PacketBatch, events: inout [Event]) -> WireGuard.Instant? {
        guard let scratchIndex = pool.take() else { return next }
        defer { pool.release(scratchIndex) }
        let scratch = pool.slot(scratchIndex)
        let overlayNext = overlay!.tick(now: now.nanoseconds, buffer: scratch) { link, range in
            guard let peer = peerOfLink[link], let index = pool.take() else { return }
            // Copy the frame to where the slot's headroom leaves room for WireGuard's header.
            let slot = pool.slot(index)
            let start = pool.layout.headroom
            slot.baseAddress!.advanced(by: start).copyMemory(from: scratch.baseAddress!.advanced(by: range.lowerBound),
                                                             byteCount: range.count)
            sealAndQueue(index, frame: start ..< start + range.count, for: peer, pool: pool, now: now,
                         into: &outgoing, events: &events)
        }
        guard let overlayNext else { return next }
        let overlayInstant = WireGuard.Instant(nanoseconds: overlayNext)
        return next.map { min($0, overlayInstant) } ?? overlayInstant
    }

    // MARK: Shared helpers

    /// Core output during a locked batch: datagrams are copied into the thread's pool (they are
    /// valid only during the call), events are kept for delivery after the lock is released.
    private func handle(_ output: WireGuard.Output<Endpoint>, into batch: inout PacketBatch, pool: BufferPool,
                        events: inout [Event]) {
        switch output {
        case .datagram(let bytes, let endpoint):
            if let packet = pool.makePacket(copying: bytes, endpoint: endpoint), !batch.append(packet) {
                pool.release(packet.buffer)
                ioCounters.drops["send batch full", default: 0] += 1
            }
        case .event(let event):
            switch event {
            case .handshakeCompleted(let id): device.publicKey(of: id).map { events.append(.handshakeCompleted($0)) }
            case .handshakeFailed(let id): device.publicKey(of: id).map { events.append(.handshakeFailed($0)) }
            case .sessionExpired(let id): device.publicKey(of: id).map { events.append(.sessionExpired($0)) }
            case .endpointChanged(let id, let endpoint):
                device.publicKey(of: id).map { events.append(.endpointChanged($0, endpoint)) }
            }
        }
    }

    private func send<Sender: PacketIO>(_ batch: inout PacketBatch, with sender: Sender, pool: BufferPool) {
        guard !batch.isEmpty else { return }
        do { try sender.send(&batch) } catch {
            lock.withLock { _ in ioCounters.drops["udp send error", default: 0] += 1 }
        }
        batch.releaseAll(to: pool)
    }

    private func deliver(_ events: inout [Event]) {
        guard !events.isEmpty else { return }
        if let eventHandler { for event in events { eventHandler(event) } }
        events.removeAll(keepingCapacity: true)
    }

    // MARK: Configuration (any thread)

    /// Applies a change with UAPI `set` semantics. Validation errors leave earlier parts of the
    /// change applied, as in wireguard-go.
    public func apply(_ change: InterfaceChange) throws(EngineError) {
        if let port = change.listenPort, port != socket.localEndpoint.port {
            try rebind(port: port)
        }
        let now = MonotonicClock.now()
        try lock.withLock { _ throws(EngineError) in
            switch change.privateKey {
            case .set(let key)?:
                device.setPrivateKey(key)
                hasPrivateKey = true
            case .remove?:
                hasPrivateKey = false
            case nil:
                break
            }
            if let mark = change.fwmark { try setFirewallMark(mark) }
            if change.replacePeers {
                for id in device.peers { removePeer(id) }
            }
            for peerChange in change.peers {
                try apply(peerChange, now: now)
            }
        }
        timerWakeup.signal()
    }

    private func apply(_ change: PeerChange, now: WireGuard.Instant) throws(EngineError) {
        let existing = device.peer(withPublicKey: change.publicKey)
        if change.remove {
            if let existing { removePeer(existing) }
            return
        }
        let id: WireGuard.PeerID
        if let existing {
            id = existing
        } else {
            if change.updateOnly { return }
            do {
                id = try device.addPeer(WireGuard.PeerConfiguration(publicKey: change.publicKey), now: now)
            } catch {
                throw .invalidPeer(change.publicKey, "\(error)")
            }
        }
        if let psk = change.presharedKey {
            device.setPresharedKey(psk, of: id)
            presharedKeys[id] = psk
        }
        if let endpoint = change.endpoint { device.setEndpoint(endpoint, of: id) }
        if let seconds = change.persistentKeepaliveInterval {
            device.setPersistentKeepalive(seconds == 0 ? nil : .seconds(UInt64(seconds)), of: id, now: now)
            keepaliveIntervals[id] = seconds
        }
        if change.replaceAllowedIPs {
            device.setAllowedIPs(change.allowedIPs, of: id)
        } else {
            for prefix in change.allowedIPs { device.addAllowedIP(prefix, to: id) }
        }
    }

    private func removePeer(_ id: WireGuard.PeerID) {
        device.removePeer(id)
        presharedKeys[id] = nil
        keepaliveIntervals[id] = nil
    }

    private func setFirewallMark(_ mark: UInt32) throws(EngineError) {
        var value = mark
        guard setsockopt(socket.descriptor.rawValue, SOL_SOCKET, SO_MARK, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0
        else { throw .system("setting fwmark \(mark)", Errno(rawValue: errno)) }
        fwmark = mark
    }

    /// A new listen port means a new socket: the data path restarts around it.
    private func rebind(port: UInt16) throws(EngineError) {
        let newSocket = try Self.bind(port: port, bufferBytes: options.socketBufferBytes, coalescing: options.offloads)
        stop()
        socket = newSocket
        if fwmark != 0 { try lock.withLock { _ throws(EngineError) in try setFirewallMark(fwmark) } }
        try start()
    }

    // MARK: Status (any thread)

    public var listenPort: UInt16 { socket.localEndpoint.port }

    /// Everything `wg show` and `weft show` print, read under the lock in one go.
    public func status() -> InterfaceStatus {
        let port = listenPort
        return lock.withLock { _ in
            var status = InterfaceStatus(name: options.interfaceName,
                                         privateKey: hasPrivateKey ? device.identity.privateKey : nil,
                                         listenPort: port, fwmark: fwmark, counters: ioCounters)
            for reason in WireGuard.DropReason.allCases where device.drops[reason] > 0 {
                status.counters.drops[reason.description, default: 0] += device.drops[reason]
            }
            let now = MonotonicClock.now()
            for id in device.peers {
                guard let key = device.publicKey(of: id), let stats = device.statistics(of: id) else { continue }
                var peer = PeerStatus(publicKey: key, presharedKey: presharedKeys[id] ?? .zero,
                                      endpoint: device.endpoint(of: id), allowedIPs: device.allowedIPs(of: id),
                                      persistentKeepaliveInterval: keepaliveIntervals[id] ?? 0)
                if let last = stats.lastHandshake {
                    let unix = wallClock.unixNanoseconds(at: last)
                    peer.lastHandshakeSeconds = Int64(unix / 1_000_000_000)
                    peer.lastHandshakeNanoseconds = Int64(unix % 1_000_000_000)
                }
                if let keypairs = device.peer(id)?.keypairs {
                    peer.currentKeypairAge = keypairs.current.map { Double(now.since($0.birthdate).nanoseconds) / 1e9 }
                    peer.previousKeypairAge = keypairs.previous.map { Double(now.since($0.birthdate).nanoseconds) / 1e9 }
                }
                peer.counters.rxPackets = stats.receivedPackets
                peer.counters.rxBytes = stats.receivedBytes
                peer.counters.txPackets = stats.sentPackets
                peer.counters.txBytes = stats.sentBytes
                peer.counters.handshakesInitiated = stats.handshakesInitiated
                peer.counters.handshakesCompleted = stats.handshakesCompleted
                peer.counters.handshakesFailed = stats.handshakesFailed
                status.peers.append(peer)
            }
            return status
        }
    }
}

/// A routing protocol running over the overlay's links (OSPF). The engine calls it under its
/// lock, from the receive thread for packets and the timer thread for `tick`; what it returns
/// (IPv4 packets, from the IP header on) goes out on the named links.
public protocol OverlayControlPlane: AnyObject {
    /// A routing-protocol packet arrived on `link` (the IP packet, header included).
    func receive(_ packet: UnsafeRawBufferPointer, on link: LinkID, now: UInt64,
                 routes: inout RoutingTable) -> [(link: LinkID, packet: [UInt8])]
    /// Timers; returns packets to send and the next deadline (monotonic nanoseconds).
    func tick(now: UInt64, routes: inout RoutingTable) -> (packets: [(link: LinkID, packet: [UInt8])], next: UInt64?)
}

/// Why the engine could not start or apply a change; each says what and where.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case tun(String, IOBackendError)
    case udp(UInt16, IOBackendError)
    case portInUse(UInt16)
    case backend(IOBackendError)
    case invalidPeer(PublicKey, String)
    case system(String, Errno)

    public var description: String {
        switch self {
        case .tun(let name, let error):
            if case .system(_, let errno) = error, errno == .notPermitted || errno == .permissionDenied {
                return "cannot create TUN device \(name): \(errno) (run as root or with CAP_NET_ADMIN)"
            }
            return "cannot create TUN device \(name): \(error)"
        case .udp(let port, let error): return "cannot open UDP port \(port): \(error)"
        case .portInUse(let port): return "UDP port \(port) is already in use"
        case .backend(let error): return "\(error)"
        case .invalidPeer(let key, let why): return "peer \(key): \(why)"
        case .system(let what, let errno): return "\(what): \(errno)"
        }
    }
}
