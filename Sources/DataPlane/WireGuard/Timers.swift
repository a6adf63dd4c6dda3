// The per-peer timer state machine of whitepaper §6, kept as deadlines instead of kernel timers:
// the event hooks below (named as the Linux module's timers.c) arm and cancel deadlines, and the
// device's tick fires the expired ones. Nothing here reads a clock; `now` and the random jitter
// come in from the device.

extension WireGuard {
    /// The five timers of one peer and the counters they keep.
    struct PeerTimers: Sendable {
        /// Resend the initiation if no response arrived (§6.4).
        var retransmitHandshake: Instant?
        /// Send a keepalive if we received data and sent nothing back (§6.5).
        var sendKeepalive: Instant?
        /// Start a new handshake if we sent data and heard nothing back (§6.5).
        var newHandshake: Instant?
        /// Erase all key material of a silent peer (§6.3).
        var zeroKeyMaterial: Instant?
        /// The user-configured keepalive for NAT mappings (§6.5).
        var persistentKeepalive: Instant?

        /// Retransmissions of the current handshake so far.
        var handshakeAttempts = 0
        /// Data arrived while a keepalive was already scheduled: schedule another after it.
        var needAnotherKeepalive = false
        /// The receive-side "about to expire" rekey was already requested for this session.
        var sentLastMinuteHandshake = false

        /// Should be called after an authenticated data packet is sent: expect an answer within
        /// KEEPALIVE_TIMEOUT + REKEY_TIMEOUT or start over with a new handshake.
        mutating func dataSent(now: Instant, jitter: Interval) {
            if newHandshake == nil {
                newHandshake = now + WireGuard.keepaliveTimeout + WireGuard.rekeyTimeout + jitter
            }
        }

        /// Should be called after an authenticated data packet is received: answer within
        /// KEEPALIVE_TIMEOUT, with a keepalive if nothing else goes back.
        mutating func dataReceived(now: Instant) {
            if sendKeepalive == nil {
                sendKeepalive = now + WireGuard.keepaliveTimeout
            } else {
                needAnotherKeepalive = true
            }
        }

        /// Should be called after any authenticated packet (data, keepalive, handshake) is sent:
        /// it answers the peer, so no keepalive is owed.
        mutating func anyAuthenticatedPacketSent() {
            sendKeepalive = nil
        }

        /// Should be called after any authenticated packet is received: the peer is alive.
        mutating func anyAuthenticatedPacketReceived() {
            newHandshake = nil
        }

        /// Should be called before any authenticated packet is sent and after one is received:
        /// the persistent keepalive only fills silence.
        mutating func anyAuthenticatedPacketTraversal(now: Instant, persistentInterval: Interval?) {
            if let interval = persistentInterval {
                persistentKeepalive = now + interval
            }
        }

        /// Should be called after a handshake initiation is sent.
        mutating func handshakeInitiated(now: Instant, jitter: Interval) {
            retransmitHandshake = now + WireGuard.rekeyTimeout + jitter
        }

        /// Should be called after a handshake response is consumed, or after the first data
        /// message confirms a session we responded to.
        mutating func handshakeComplete() {
            retransmitHandshake = nil
            handshakeAttempts = 0
            sentLastMinuteHandshake = false
        }

        /// Should be called when a session's keys are derived (sending a response or consuming
        /// one): its material is erased 3 × REJECT_AFTER_TIME later unless a newer one replaces it.
        mutating func sessionDerived(now: Instant) {
            zeroKeyMaterial = now + WireGuard.zeroKeyMaterialAfter
        }

        /// Cancels every timer (peer removed or its keys erased).
        mutating func stopAll() {
            self = PeerTimers()
        }

        /// The earliest armed deadline.
        var nextDeadline: Instant? {
            var earliest: Instant?
            func consider(_ deadline: Instant?) {
                guard let deadline else { return }
                if let current = earliest, current <= deadline { return }
                earliest = deadline
            }
            consider(retransmitHandshake)
            consider(sendKeepalive)
            consider(newHandshake)
            consider(zeroKeyMaterial)
            consider(persistentKeepalive)
            return earliest
        }

        /// Disarms the timers whose deadline is at or before `now` and returns them.
        mutating func takeExpired(now: Instant) -> ExpiredTimers {
            var expired: ExpiredTimers = []
            func take(_ deadline: inout Instant?, _ timer: ExpiredTimers) {
                if let due = deadline, due <= now {
                    deadline = nil
                    expired.insert(timer)
                }
            }
            take(&retransmitHandshake, .retransmitHandshake)
            take(&sendKeepalive, .sendKeepalive)
            take(&newHandshake, .newHandshake)
            take(&zeroKeyMaterial, .zeroKeyMaterial)
            take(&persistentKeepalive, .persistentKeepalive)
            return expired
        }
    }

    /// A set of peer timers that fired.
    struct ExpiredTimers: OptionSet, Sendable {
        let rawValue: UInt8
        static let retransmitHandshake = ExpiredTimers(rawValue: 1 << 0)
        static let sendKeepalive = ExpiredTimers(rawValue: 1 << 1)
        static let newHandshake = ExpiredTimers(rawValue: 1 << 2)
        static let zeroKeyMaterial = ExpiredTimers(rawValue: 1 << 3)
        static let persistentKeepalive = ExpiredTimers(rawValue: 1 << 4)
    }
}

extension WireGuard.Device {
    /// What each timer does when it fires (kernel: the wg_expired_* handlers).
    func runExpiredTimers(_ expired: WireGuard.ExpiredTimers, of peer: WireGuard.Peer<Endpoint>,
                          now: WireGuard.Instant, output: OutputHandler) {
        if expired.contains(.retransmitHandshake) {
            if peer.timers.handshakeAttempts > WireGuard.maxTimerHandshakes {
                // §6.4: give up after REKEY_ATTEMPT_TIME. Waiting packets are dropped; new
                // traffic starts a fresh series of attempts.
                peer.timers.sendKeepalive = nil
                let discarded = peer.staged.removeAll()
                peer.statistics.stagedPacketsDropped += UInt64(discarded)
                countDrops(.handshakeTimeout, discarded)
                peer.statistics.handshakesFailed += 1
                // Erase what a half-finished exchange left, unless that is already scheduled.
                if peer.timers.zeroKeyMaterial == nil {
                    peer.timers.zeroKeyMaterial = now + WireGuard.zeroKeyMaterialAfter
                }
                output(.event(.handshakeFailed(peer.id)))
            } else {
                peer.timers.handshakeAttempts += 1
                sendHandshakeInitiation(to: peer, isRetry: true, now: now, output: output)
            }
        }
        if expired.contains(.sendKeepalive) {
            sendKeepalive(to: peer, now: now, output: output)
            if peer.timers.needAnotherKeepalive {
                peer.timers.needAnotherKeepalive = false
                peer.timers.sendKeepalive = now + WireGuard.keepaliveTimeout
            }
        }
        if expired.contains(.newHandshake) {
            // §6.5: we sent data and heard nothing back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
            sendHandshakeInitiation(to: peer, isRetry: false, now: now, output: output)
        }
        if expired.contains(.zeroKeyMaterial) {
            // §6.3: nothing new for 3 × REJECT_AFTER_TIME: erase every key of this peer.
            zeroHandshake(of: peer)
            peer.keypairs.removeAll(retire: retire)
            output(.event(.sessionExpired(peer.id)))
        }
        if expired.contains(.persistentKeepalive), peer.persistentKeepalive != nil {
            sendKeepalive(to: peer, now: now, output: output)
        }
    }
}
