// Sending (kernel: send.c): transport data encrypted in place (whitepaper §5.4.6), the packets
// that wait for a session, keepalives (§6.5), and the handshake messages this side sends (§5.4.2,
// §5.4.3) with the rekey rules of §6.2.

import WeftCrypto
import WeftRouting

extension WireGuard.Device {
    // MARK: Sending, §5.4.6

    /// Bytes `encapsulate` needs in its buffer for a packet of `length` bytes: the 16-byte
    /// header room in front, the packet, padding to a multiple of 16 (capped at the MTU) and
    /// the 16-byte tag.
    public func bufferCapacity(forPacketLength length: Int) -> Int {
        WireGuard.transportHeaderLength + paddedLength(length) + WireGuard.tagLength
    }

    /// Encrypts an IP packet in place for the peer whose allowed IPs hold its destination
    /// (cryptokey routing, §2); `.drop(.noRoute)` when none does.
    ///
    /// - Parameters:
    ///   - packetLength: the IP packet's length; the packet sits at `buffer[16 ..< 16 + packetLength]`.
    ///   - buffer: at least `bufferCapacity(forPacketLength:)` bytes. On `.writeToNetwork` it
    ///     holds the transport message at its start.
    ///   - output: handshake initiations and packets that waited for a session, sent before
    ///     this packet's result is returned.
    public func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, now: WireGuard.Instant,
                            output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        encapsulateRouted(packetLength: packetLength, in: buffer, now: now, output: output)
    }

    /// Encrypts an IP packet in place for a given peer, bypassing the routing lookup (for
    /// drivers that route themselves, e.g. an overlay with one peer per link). Buffer layout
    /// and results as the routed variant; an unknown peer gives `.drop(.noRoute)`.
    public func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, for id: WireGuard.PeerID,
                            now: WireGuard.Instant, output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        encapsulateForPeer(packetLength: packetLength, in: buffer, id: id, now: now, output: output)
    }

    // The public entry points above forward to these, as do the overloads for the I/O layer's
    // endpoint type (Specialization.swift).

    func encapsulateRouted(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, now: WireGuard.Instant,
                           output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        guard packetLength >= 0, buffer.count >= WireGuard.transportHeaderLength + packetLength else {
            return .drop(count(.bufferTooSmall))
        }
        let packet = buffer.packet(afterTransportHeader: packetLength)
        guard let id = Self.lookup(packetDestination: packet, in: &allowedIPs), let peer = peer(id) else {
            return .drop(count(.noRoute))
        }
        return encapsulate(packetLength: packetLength, in: buffer, peer: peer, now: now, output: output)
    }

    func encapsulateForPeer(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, id: WireGuard.PeerID,
                            now: WireGuard.Instant, output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        guard let peer = peer(id) else { return .drop(count(.noRoute)) }
        return encapsulate(packetLength: packetLength, in: buffer, peer: peer, now: now, output: output)
    }

    /// Like the variants above, but leaves the encryption to the caller so that it can run
    /// outside whatever lock guards the device: on `.writeToNetwork` the header and padding
    /// are written and `job` holds the key and counter; call `job.seal` on the message before
    /// sending it. `peer` nil routes by the packet's destination.
    public func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, for id: WireGuard.PeerID?,
                            now: WireGuard.Instant, deferringSealTo job: inout WireGuard.SealJob,
                            output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        let found: WireGuard.Peer<Endpoint>?
        if let id {
            found = peer(id)
        } else {
            guard packetLength >= 0, buffer.count >= WireGuard.transportHeaderLength + packetLength else {
                return .drop(count(.bufferTooSmall))
            }
            found = Self.lookup(packetDestination: buffer.packet(afterTransportHeader: packetLength), in: &allowedIPs).flatMap { peer($0) }
        }
        guard let found else { return .drop(count(.noRoute)) }
        var deferred: WireGuard.SealJob? = WireGuard.SealJob()
        let result = encapsulate(packetLength: packetLength, in: buffer, peer: found, now: now, deferTo: &deferred,
                                 output: output)
        job = deferred.unsafelyUnwrapped
        return result
    }

    private func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, peer: WireGuard.Peer<Endpoint>,
                             now: WireGuard.Instant, output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        var job: WireGuard.SealJob? = nil
        return encapsulate(packetLength: packetLength, in: buffer, peer: peer, now: now, deferTo: &job, output: output)
    }

    private func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, peer: WireGuard.Peer<Endpoint>,
                             now: WireGuard.Instant, deferTo job: inout WireGuard.SealJob?,
                             output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        let messageLength = bufferCapacity(forPacketLength: packetLength)
        guard packetLength >= 0, buffer.count >= messageLength else { return .drop(count(.bufferTooSmall)) }
        guard let endpoint = peer.endpoint else { return .drop(count(.noEndpoint)) }
        // Packets already waiting go first, to keep the order.
        if !peer.staged.isEmpty { sendStagedPackets(of: peer, now: now, output: output) }
        guard peer.staged.isEmpty, let keypair = usableSendingKeypair(of: peer, now: now) else {
            let packet = buffer.packet(afterTransportHeader: packetLength)
            guard packet.count <= peer.staged.packetCapacity else { return .drop(count(.packetTooLarge)) }
            if peer.staged.append(packet) {
                peer.statistics.stagedPacketsDropped += 1
                count(.stagedQueueFull)
            }
            sendStagedPackets(of: peer, now: now, output: output)
            return .staged
        }
        let message = UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< messageLength])
        if job != nil {
            job!.counter = prepareSeal(message, packetLength: packetLength, with: keypair)
            job!.key = keypair.withSendingKey { WireGuard.KeyCopy($0) }
        } else {
            seal(message, packetLength: packetLength, with: keypair)
        }
        peer.statistics.sentPackets += 1
        peer.statistics.sentBytes += UInt64(messageLength)
        dataMessagesSent(to: peer, includingData: packetLength > 0, now: now, output: output)
        return .writeToNetwork(0 ..< messageLength, to: endpoint)
    }

    /// The current keypair if it may send now; an expired one is marked so (kernel: the
    /// `out_invalid` path), which keep-key-fresh then sees.
    private func usableSendingKeypair(of peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant) -> WireGuard.Keypair? {
        guard let keypair = peer.keypairs.current, keypair.sendingIsValid else { return nil }
        guard keypair.canSend(now: now) else {
            keypair.sendingIsValid = false
            return nil
        }
        return keypair
    }

    /// Payload length after padding (§5.4.6): up to a multiple of 16, but not past the MTU,
    /// as the kernel computes it (lengths beyond the MTU are padded by their remainder).
    func paddedLength(_ length: Int) -> Int {
        let mtu = configuration.mtu
        var lastUnit = length
        if lastUnit > mtu { lastUnit %= mtu }
        let aligned = (lastUnit + WireGuard.paddingMultiple - 1) & ~(WireGuard.paddingMultiple - 1)
        return length + max(min(mtu, aligned) - lastUnit, 0)
    }

    /// Writes header, padding and tag around the packet at `message[16...]` and encrypts in
    /// place with the next counter: msg.packet = AEAD(T_send, counter, P || padding, ε).
    private func seal(_ message: UnsafeMutableRawBufferPointer, packetLength: Int, with keypair: WireGuard.Keypair) {
        let counter = prepareSeal(message, packetLength: packetLength, with: keypair)
        let transport = WireGuard.TransportDataMessage(parsing: message)!
        let payload = transport.ciphertext
        keypair.withSendingKey { key in
            ChaChaPoly.sealInPlace(payload, tag: transport.tag, additionalData: WireGuard.Noise.empty,
                                   counter: counter, key: key)
        }
    }

    /// Reserves the next counter and writes the header and the zero padding around the packet
    /// at `message[16...]`; returns the counter. What remains is the AEAD.
    private func prepareSeal(_ message: UnsafeMutableRawBufferPointer, packetLength: Int,
                             with keypair: WireGuard.Keypair) -> UInt64 {
        let counter = keypair.sendingCounter
        keypair.sendingCounter += 1
        let transport = WireGuard.TransportDataMessage(initializingHeaderOf: message, receiverIndex: keypair.remoteIndex,
                                                       counter: counter)
        let payload = transport.ciphertext
        if payload.count > packetLength {
            let padding = UnsafeMutableRawBufferPointer(rebasing: payload[packetLength...])
            _ = padding.initializeMemory(as: UInt8.self, repeating: 0)
        }
        return counter
    }

    /// Timer and rekey bookkeeping after transport messages went out (kernel:
    /// wg_packet_create_data_done).
    private func dataMessagesSent(to peer: WireGuard.Peer<Endpoint>, includingData: Bool, now: WireGuard.Instant,
                                  output: OutputHandler) {
        peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
        peer.timers.anyAuthenticatedPacketSent()
        if includingData, peer.timers.newHandshake == nil {
            peer.timers.dataSent(now: now, jitter: nextJitter())
        }
        keepKeyFreshAfterSending(peer, now: now, output: output)
    }

    /// §6.2: the initiator of the current session rekeys once it is REKEY_AFTER_TIME old;
    /// either side rekeys after REKEY_AFTER_MESSAGES.
    private func keepKeyFreshAfterSending(_ peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant, output: OutputHandler) {
        guard let keypair = peer.keypairs.current, keypair.sendingIsValid else { return }
        if keypair.sendingCounter > WireGuard.rekeyAfterMessages
            || (keypair.isInitiator && now.hasElapsed(WireGuard.rekeyAfterTime, since: keypair.birthdate)) {
            sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
        }
    }

    /// Sends the packets waiting for a session if one is usable; otherwise starts a handshake.
    func sendStagedPackets(of peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant, output: OutputHandler) {
        guard !peer.staged.isEmpty else { return }
        guard let endpoint = peer.endpoint, let keypair = usableSendingKeypair(of: peer, now: now) else {
            sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
            return
        }
        var sentData = false
        var exhausted = false
        peer.staged.drain { slot, packetLength in
            // A session running out of counters mid-queue keeps the rest for the next one.
            guard keypair.sendingCounter < WireGuard.rejectAfterMessages else {
                exhausted = true
                return false
            }
            let message = UnsafeMutableRawBufferPointer(rebasing: slot[0 ..< bufferCapacity(forPacketLength: packetLength)])
            seal(message, packetLength: packetLength, with: keypair)
            output(.datagram(UnsafeRawBufferPointer(message), to: endpoint))
            peer.statistics.sentPackets += 1
            peer.statistics.sentBytes += UInt64(message.count)
            if packetLength > 0 { sentData = true }
            return true
        }
        dataMessagesSent(to: peer, includingData: sentData, now: now, output: output)
        if exhausted {
            keypair.sendingIsValid = false
            sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
        }
    }

    /// Sends a keepalive (an empty transport message, §6.5) unless packets are waiting, which
    /// then serve the purpose; without a session one is queued and a handshake started.
    func sendKeepalive(to peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant, output: OutputHandler) {
        guard let endpoint = peer.endpoint else { return }
        if peer.staged.isEmpty, let keypair = usableSendingKeypair(of: peer, now: now) {
            let message = UnsafeMutableRawBufferPointer(rebasing: scratch[0 ..< WireGuard.minimumTransportLength])
            seal(message, packetLength: 0, with: keypair)
            output(.datagram(UnsafeRawBufferPointer(message), to: endpoint))
            peer.statistics.sentPackets += 1
            peer.statistics.sentBytes += UInt64(message.count)
            dataMessagesSent(to: peer, includingData: false, now: now, output: output)
            return
        }
        if peer.staged.isEmpty {
            _ = peer.staged.append(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        sendStagedPackets(of: peer, now: now, output: output)
    }

    // MARK: Handshake sending, §5.4.2, §5.4.3

    /// Sends a handshake initiation unless one went out less than REKEY_TIMEOUT ago (§6.1).
    /// A retry keeps the attempt count; anything else starts a new series of attempts.
    func sendHandshakeInitiation(to peer: WireGuard.Peer<Endpoint>, isRetry: Bool, now: WireGuard.Instant,
                                 output: OutputHandler) {
        if !isRetry { peer.timers.handshakeAttempts = 0 }
        if let last = peer.lastSentHandshake, !now.hasElapsed(WireGuard.rekeyTimeout, since: last) { return }
        guard let endpoint = peer.endpoint else { return }
        zeroHandshake(of: peer)
        let index = indexTable.insertHandshake(for: peer.id, random: random)
        let message = WireGuard.HandshakeInitiationMessage(initializing: scratch)
        do {
            try peer.handshake.createInitiation(into: message, identity: identity, ephemeral: random.privateKey(),
                                                timestamp: timestamp(at: now), senderIndex: index)
        } catch {
            // Only a low-order peer key gets here; no handshake with it can ever succeed.
            indexTable.removeHandshake(index)
            return
        }
        peer.cookieJar.addMACs(to: message, now: now)
        peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
        peer.timers.anyAuthenticatedPacketSent()
        peer.lastSentHandshake = now
        peer.statistics.handshakesInitiated += 1
        peer.statistics.sentBytes += UInt64(message.bytes.count)
        output(.datagram(UnsafeRawBufferPointer(message.bytes), to: endpoint))
        peer.timers.handshakeInitiated(now: now, jitter: nextJitter())
    }

    /// Answers a consumed initiation and derives the (unconfirmed) session.
    func sendHandshakeResponse(to peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant, output: OutputHandler) {
        guard let endpoint = peer.endpoint else { return }
        if let old = peer.handshake.localIndex { indexTable.removeHandshake(old) }
        let index = indexTable.insertHandshake(for: peer.id, random: random)
        let message = WireGuard.HandshakeResponseMessage(initializing: scratch)
        do {
            try peer.handshake.createResponse(into: message, ephemeral: random.privateKey(), senderIndex: index)
        } catch {
            indexTable.removeHandshake(index)
            peer.handshake.localIndex = nil
            return
        }
        peer.cookieJar.addMACs(to: message, now: now)
        guard beginSession(with: peer, now: now) else { return }
        peer.timers.sessionDerived(now: now)
        peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
        peer.timers.anyAuthenticatedPacketSent()
        peer.lastSentHandshake = now
        peer.statistics.sentBytes += UInt64(message.bytes.count)
        output(.datagram(UnsafeRawBufferPointer(message.bytes), to: endpoint))
    }

    /// Turns a finished handshake into a keypair (§5.4.5) and slots it in (§5.4.6).
    func beginSession(with peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant) -> Bool {
        guard var keys = peer.handshake.deriveSession() else { return false }
        defer { keys.zeroize() }
        let keypair = WireGuard.Keypair(keys, birthdate: now)
        peer.keypairs.install(keypair, retire: retire)
        indexTable.assign(keys.localIndex, to: keypair)
        return true
    }

    /// The TAI64N for an initiation sent at `now`. As the kernel does, the label carries
    /// TAI's 10-second offset (so a key moved from another implementation keeps increasing
    /// timestamps) and the nanoseconds are rounded down to 2^24 ns, below the resolution the
    /// flood check needs, so the exact send time does not leak.
    private func timestamp(at now: WireGuard.Instant) -> TAI64N {
        let unix = wallClock.unixNanoseconds(at: now)
        let nanoseconds = UInt32(unix % 1_000_000_000) & ~UInt32((1 << 24) - 1)
        return TAI64N(unixSeconds: Int64(unix / 1_000_000_000) + 10, nanoseconds: nanoseconds)
    }
}
