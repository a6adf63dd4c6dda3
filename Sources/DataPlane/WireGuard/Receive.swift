// Receiving (kernel: receive.c): transport data authenticated and decrypted in place, with the
// replay window, key confirmation (§5.4.6), roaming and the AllowedIPs source check (§2.1); and
// handshake messages behind their MAC and cookie checks (§5.3, §5.4.4, §5.4.7).

import WeftCrypto
import WeftRouting

extension WireGuard.Device {
    // MARK: Receiving

    /// Handles one datagram from the network.
    ///
    /// Transport data is authenticated and decrypted in place; handshake messages are
    /// consumed and answered through `output`. `source` is the datagram's sender: the peer's
    /// endpoint follows it when the datagram authenticates (§2.1).
    public func decapsulate(_ datagram: UnsafeMutableRawBufferPointer, from source: Endpoint, now: WireGuard.Instant,
                            output: OutputHandler) -> WireGuard.DecapsulateResult {
        receive(datagram, from: source, now: now, output: output)
    }

    /// The body of `decapsulate`, which the overload for the I/O layer's endpoint type
    /// (Specialization.swift) shares.
    @inline(__always)
    func receive(_ datagram: UnsafeMutableRawBufferPointer, from source: Endpoint, now: WireGuard.Instant,
                 output: OutputHandler) -> WireGuard.DecapsulateResult {
        switch beginDecapsulation(datagram, from: source, now: now, output: output) {
        case .finished(let result):
            return result
        case .open(var job):
            let opened = job.open(datagram)
            return finishDecapsulation(datagram, job: job, opened: opened, from: source, now: now, output: output)
        }
    }

    /// `decapsulate` in three steps, so that the AEAD can run outside whatever lock guards the
    /// device: this one (under the lock) handles everything but transport data, which it
    /// pre-checks (index, session, replay) and returns as a job; `OpenJob.open` (no lock)
    /// authenticates and decrypts; `finishDecapsulation` (under the lock) accepts the counter
    /// and does what an authentic message causes.
    @inline(__always)
    public func beginDecapsulation(_ datagram: UnsafeMutableRawBufferPointer, from source: Endpoint,
                                   now: WireGuard.Instant, output: OutputHandler) -> WireGuard.DecapsulationStep {
        guard let type = WireGuard.MessageType(of: UnsafeRawBufferPointer(datagram)) else {
            return .finished(.drop(count(datagram.count < WireGuard.messageTypeLength ? .malformed : .unknownMessageType)))
        }
        if type == .transportData { return beginTransportData(datagram, now: now) }
        return .finished(receiveHandshakeMessage(type, datagram, from: source, now: now, output: output))
    }

    private func receiveHandshakeMessage(_ type: WireGuard.MessageType, _ datagram: UnsafeMutableRawBufferPointer,
                                         from source: Endpoint, now: WireGuard.Instant,
                                         output: OutputHandler) -> WireGuard.DecapsulateResult {
        switch type {
        case .transportData:
            preconditionFailure("transport data is received through beginTransportData")
        case .handshakeInitiation:
            guard let message = WireGuard.HandshakeInitiationMessage(parsing: datagram) else {
                return .drop(count(.malformed))
            }
            return receiveInitiation(message, from: source, now: now, output: output)
        case .handshakeResponse:
            guard let message = WireGuard.HandshakeResponseMessage(parsing: datagram) else {
                return .drop(count(.malformed))
            }
            return receiveResponse(message, from: source, now: now, output: output)
        case .cookieReply:
            guard let message = WireGuard.CookieReplyMessage(parsing: datagram) else { return .drop(count(.malformed)) }
            return receiveCookieReply(message, now: now)
        }
    }

    @inline(__always)
    private func beginTransportData(_ datagram: UnsafeMutableRawBufferPointer,
                                    now: WireGuard.Instant) -> WireGuard.DecapsulationStep {
        guard let message = WireGuard.TransportDataMessage(parsing: datagram) else { return .finished(.drop(count(.malformed))) }
        guard let entry = indexTable.lookup(message.receiverIndex), let keypair = entry.keypair else {
            return .finished(.drop(count(.unknownIndex)))
        }
        guard keypair.canReceive(now: now), !keypair.replayWindow.isExhausted else {
            keypair.receivingIsValid = false
            return .finished(.drop(count(.expiredSession)))
        }
        let counter = message.counter
        // Cheap replay check first; the window only moves after authentication.
        guard keypair.replayWindow.wouldAccept(counter) else { return .finished(.drop(count(.replay))) }
        return .open(WireGuard.OpenJob(key: keypair.withReceivingKey { WireGuard.KeyCopy($0) }, counter: counter,
                                       keypair: keypair, peer: entry.peer))
    }

    /// The last step of `decapsulate` for transport data (see `beginDecapsulation`): `opened`
    /// is what `job.open(datagram)` returned.
    @inline(__always)
    public func finishDecapsulation(_ datagram: UnsafeMutableRawBufferPointer, job: WireGuard.OpenJob, opened: Bool,
                                    from source: Endpoint, now: WireGuard.Instant,
                                    output: OutputHandler) -> WireGuard.DecapsulateResult {
        guard opened else { return .drop(count(.decryptionFailed)) }
        let keypair = job.keypair
        // The session may have been replaced or wiped while the AEAD ran without the lock.
        guard let peer = peer(job.peer), keypair.canReceive(now: now) else { return .drop(count(.expiredSession)) }
        guard keypair.replayWindow.accept(job.counter) else { return .drop(count(.replay)) }
        guard datagram.count >= WireGuard.minimumTransportLength else { return .drop(count(.malformed)) }
        let payload = datagram.bytes(at: WireGuard.transportHeaderLength, count: datagram.count - WireGuard.minimumTransportLength)

        // The message is authentic: the peer is at `source` now (§2.1) ...
        updateEndpoint(of: peer, to: source, output: output)
        // ... and if it used the next keypair, that session is confirmed (§5.4.6).
        if peer.keypairs.confirm(receivedWith: keypair, retire: retire) {
            handshakeCompleted(with: peer, now: now, output: output)
            sendStagedPackets(of: peer, now: now, output: output)
        }
        keepKeyFreshAfterReceiving(peer, now: now, output: output)
        peer.timers.anyAuthenticatedPacketReceived()
        peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
        peer.statistics.receivedPackets += 1
        peer.statistics.receivedBytes += UInt64(datagram.count)

        if payload.isEmpty { return .done }     // a keepalive
        peer.timers.dataReceived(now: now)
        guard let length = Self.innerPacketLength(UnsafeRawBufferPointer(payload)) else {
            return .drop(count(.invalidInnerPacket))
        }
        // Cryptokey routing on receive (§2): the inner source must route back to this peer.
        guard Self.allows(peer.id, packetSource: UnsafeRawBufferPointer(payload), in: &allowedIPs) else {
            return .drop(count(.sourceNotAllowed))
        }
        return .writeToTunnel(WireGuard.transportHeaderLength ..< WireGuard.transportHeaderLength + length, peer: peer.id)
    }

    /// The length the IP header claims, if the payload is an IPv4 or IPv6 packet that fits;
    /// the rest is padding.
    static func innerPacketLength(_ payload: UnsafeRawBufferPointer) -> Int? {
        guard let first = payload.first else { return nil }
        let length: Int
        switch first >> 4 {
        case 4:
            guard payload.count >= 20 else { return nil }
            length = Int(UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            guard length >= 20 else { return nil }
        case 6:
            guard payload.count >= 40 else { return nil }
            length = 40 + Int(UInt16(bigEndian: payload.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        default:
            return nil
        }
        return length <= payload.count ? length : nil
    }

    /// Whether handshake messages must carry a cookie now: under load, or within a second
    /// of having been (kernel: last_under_load).
    private func checkUnderLoad(now: WireGuard.Instant) -> Bool {
        if isUnderLoad {
            lastUnderLoad = now
            return true
        }
        guard let last = lastUnderLoad else { return false }
        if now.hasElapsed(WireGuard.underLoadHold, since: last) {
            lastUnderLoad = nil
            return false
        }
        return true
    }

    /// mac1 always, and under load mac2 and the rate limit (§5.3); answers with a cookie
    /// reply when mac2 is missing. Nil when the message may be processed.
    private func checkMACs(_ message: some MACProtectedMessage, senderIndex: UInt32, from source: Endpoint,
                           now: WireGuard.Instant, output: OutputHandler) -> WireGuard.DropReason? {
        let underLoad = checkUnderLoad(now: now)
        let address = source.sourceAddress
        switch cookieChecker.verify(message, from: address, checkCookie: underLoad, now: now, random: random,
                                    ratelimiter: &ratelimiter) {
        case .invalidMAC1:
            return .invalidMAC1
        case .validMAC1 where !underLoad, .validCookie:
            return nil
        case .validMAC1:
            let length = cookieChecker.writeCookieReply(into: scratch, answering: message, receiverIndex: senderIndex,
                                                        source: address, now: now, random: random)
            output(.datagram(UnsafeRawBufferPointer(rebasing: scratch[0 ..< length]), to: source))
            return .cookieRequired
        case .validCookieButRateLimited:
            return .rateLimited
        }
    }

    private func receiveInitiation(_ message: WireGuard.HandshakeInitiationMessage, from source: Endpoint,
                                   now: WireGuard.Instant, output: OutputHandler) -> WireGuard.DecapsulateResult {
        if let reason = checkMACs(message, senderIndex: message.senderIndex, from: source, now: now, output: output) {
            return .drop(count(reason))
        }
        var progress: WireGuard.InitiationInProgress
        do {
            progress = try WireGuard.InitiationInProgress(decrypting: message, identity: identity)
        } catch {
            return .drop(count(.handshakeDecryptionFailed))
        }
        guard let id = peersByKey[progress.initiatorStatic], let peer = peer(id) else {
            progress.zeroize()
            return .drop(count(.unknownPeer))
        }
        do {
            try peer.handshake.consumeInitiation(&progress, message: message, now: now)
        } catch {
            return .drop(count(Self.dropReason(for: error)))
        }
        updateEndpoint(of: peer, to: source, output: output)
        peer.statistics.receivedBytes += UInt64(message.bytes.count)
        peer.timers.anyAuthenticatedPacketReceived()
        peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
        sendHandshakeResponse(to: peer, now: now, output: output)
        return .done
    }

    private func receiveResponse(_ message: WireGuard.HandshakeResponseMessage, from source: Endpoint,
                                 now: WireGuard.Instant, output: OutputHandler) -> WireGuard.DecapsulateResult {
        if let reason = checkMACs(message, senderIndex: message.senderIndex, from: source, now: now, output: output) {
            return .drop(count(reason))
        }
        guard let entry = indexTable.lookup(message.receiverIndex), entry.keypair == nil,
              let peer = peer(entry.peer) else { return .drop(count(.unknownIndex)) }
        do {
            try peer.handshake.consumeResponse(message, identity: identity)
        } catch {
            return .drop(count(Self.dropReason(for: error)))
        }
        updateEndpoint(of: peer, to: source, output: output)
        peer.statistics.receivedBytes += UInt64(message.bytes.count)
        peer.timers.anyAuthenticatedPacketReceived()
        peer.timers.anyAuthenticatedPacketTraversal(now: now, persistentInterval: peer.persistentKeepalive)
        if beginSession(with: peer, now: now) {
            peer.timers.sessionDerived(now: now)
            handshakeCompleted(with: peer, now: now, output: output)
            // Waiting packets confirm the session; without any, a keepalive does (§6.5).
            sendKeepalive(to: peer, now: now, output: output)
        }
        return .done
    }

    private func receiveCookieReply(_ message: WireGuard.CookieReplyMessage,
                                    now: WireGuard.Instant) -> WireGuard.DecapsulateResult {
        guard let entry = indexTable.lookup(message.receiverIndex), let peer = peer(entry.peer) else {
            return .drop(count(.unknownIndex))
        }
        guard peer.cookieJar.consume(message, now: now) else { return .drop(count(.invalidCookieReply)) }
        return .done
    }

    private static func dropReason(for error: WireGuard.HandshakeError) -> WireGuard.DropReason {
        switch error {
        case .decryptionFailed, .weakKey: .handshakeDecryptionFailed
        case .unknownPeer: .unknownPeer
        case .staleTimestamp: .staleTimestamp
        case .flood: .handshakeFlood
        case .unexpected: .unknownIndex
        }
    }

    /// §6.2: an initiator that keeps receiving on a session about to reach REJECT_AFTER_TIME
    /// (less a keepalive and a rekey timeout) rekeys once, even without sending.
    func keepKeyFreshAfterReceiving(_ peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant, output: OutputHandler) {
        guard !peer.timers.sentLastMinuteHandshake, let keypair = peer.keypairs.current,
              keypair.sendingIsValid, keypair.isInitiator else { return }
        let horizon = WireGuard.Interval(nanoseconds: WireGuard.rejectAfterTime.nanoseconds
            - WireGuard.keepaliveTimeout.nanoseconds - WireGuard.rekeyTimeout.nanoseconds)
        if now.hasElapsed(horizon, since: keypair.birthdate) {
            peer.timers.sentLastMinuteHandshake = true
            sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
        }
    }

    /// A session was confirmed: handshake timers stop, counters and the event follow.
    private func handshakeCompleted(with peer: WireGuard.Peer<Endpoint>, now: WireGuard.Instant, output: OutputHandler) {
        peer.timers.handshakeComplete()
        peer.statistics.lastHandshake = now
        peer.statistics.handshakesCompleted += 1
        output(.event(.handshakeCompleted(peer.id)))
    }

    /// Roaming (§2.1): the latest authenticated packet's source becomes the endpoint.
    private func updateEndpoint(of peer: WireGuard.Peer<Endpoint>, to source: Endpoint, output: OutputHandler) {
        guard peer.endpoint != source else { return }
        peer.endpoint = source
        output(.event(.endpointChanged(peer.id, source)))
    }
}
