// Session keys and their rotation (whitepaper §5.4.5, §5.4.6, §6.1). A peer holds up to three
// keypairs, as the kernel does:
//
// - current: used for sending, and for receiving;
// - previous: the session before, kept so that packets in flight during a rekey still decrypt;
// - next: a session we responded to and may not send on until the initiator confirms it by
//   sending the first transport message with it (§5.4.6: the responder waits for key confirmation).

import WeftCrypto

extension WireGuard {
    /// One session's transport keys, counters and indices.
    final class Keypair {
        let localIndex: UInt32
        let remoteIndex: UInt32
        /// Whether we initiated the handshake; only the initiator rekeys on age (§6.2).
        let isInitiator: Bool
        /// When the keys were derived; REKEY/REJECT_AFTER_TIME count from here.
        let birthdate: Instant
        /// T_send || T_recv, wiped on release.
        private let keys: SecretBytes
        // Per-packet state: unchecked exclusivity as explained in `Device`.
        /// The next counter (nonce) to send with.
        @exclusivity(unchecked) var sendingCounter: UInt64 = 0
        @exclusivity(unchecked) var replayWindow = ReplayWindow()
        /// Cleared when the keys run out of time or counters, or are destroyed.
        @exclusivity(unchecked) var sendingIsValid = true
        @exclusivity(unchecked) var receivingIsValid = true

        init(_ session: SessionKeys, birthdate: Instant) {
            localIndex = session.localIndex
            remoteIndex = session.remoteIndex
            isInitiator = session.isInitiator
            self.birthdate = birthdate
            keys = SecretBytes(count: 2 * WireGuard.keyLength)
            keys.withUnsafeMutableBytes { raw in
                let length = WireGuard.keyLength
                session.sending.withUnsafeBytes { raw.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: length) }
                session.receiving.withUnsafeBytes {
                    (raw.baseAddress! + length).copyMemory(from: $0.baseAddress!, byteCount: length)
                }
            }
        }

        func withSendingKey<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            keys.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0 ..< 32])) }
        }

        func withReceivingKey<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            keys.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[32 ..< 64])) }
        }

        /// Whether a message may be sent with these keys at `now` (§6.1: not past
        /// REJECT_AFTER_TIME nor REJECT_AFTER_MESSAGES).
        func canSend(now: Instant) -> Bool {
            sendingIsValid && sendingCounter < WireGuard.rejectAfterMessages
                && !now.hasElapsed(WireGuard.rejectAfterTime, since: birthdate)
        }

        /// Whether messages may still be received with these keys at `now`.
        func canReceive(now: Instant) -> Bool {
            receivingIsValid && !now.hasElapsed(WireGuard.rejectAfterTime, since: birthdate)
        }

        /// Wipes the keys and refuses any further use.
        func destroy() {
            sendingIsValid = false
            receivingIsValid = false
            keys.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) }
        }
    }

    /// A peer's previous, current and next keypairs (kernel: noise_keypairs).
    struct Keypairs {
        private(set) var previous: Keypair?
        private(set) var current: Keypair?
        private(set) var next: Keypair?

        /// Installs a freshly derived keypair; `retire` receives every keypair pushed out.
        mutating func install(_ keypair: Keypair, retire: (Keypair) -> Void) {
            if keypair.isInitiator {
                // We initiated and consumed the response: the keys are confirmed and usable now.
                if let pending = next {
                    // An unconfirmed responder session is still more recent than current: keep
                    // it as previous (its initiator may already be sending on it) and drop current.
                    next = nil
                    if let old = previous { retire(old) }
                    previous = pending
                    if let old = current { retire(old) }
                } else {
                    if let old = previous { retire(old) }
                    previous = current
                }
                current = keypair
            } else {
                // We responded: the keys wait in `next` for the initiator's first message. The
                // previous session goes, and any older unconfirmed one.
                if let old = next { retire(old) }
                next = keypair
                if let old = previous { retire(old) }
                previous = nil
            }
        }

        /// Called for every authenticated transport message: a message on `next` confirms it
        /// (§5.4.6), sliding next → current → previous. True if that happened.
        mutating func confirm(receivedWith keypair: Keypair, retire: (Keypair) -> Void) -> Bool {
            guard let pending = next, pending === keypair else { return false }
            if let old = previous { retire(old) }
            previous = current
            current = pending
            next = nil
            return true
        }

        /// Marks current and next unusable for sending (after a change of our static key), so
        /// the next packet starts a new handshake.
        mutating func expireForSending() {
            current?.sendingIsValid = false
            next?.sendingIsValid = false
        }

        /// Retires all three.
        mutating func removeAll(retire: (Keypair) -> Void) {
            if let keypair = previous { retire(keypair) }
            if let keypair = current { retire(keypair) }
            if let keypair = next { retire(keypair) }
            previous = nil
            current = nil
            next = nil
        }

        var isEmpty: Bool { previous == nil && current == nil && next == nil }
    }
}
