// Transport-data crypto taken out of the device's lock (kernel: the counter is reserved and the
// keypair referenced in wg_packet_send_staged_packets / wg_packet_receive, the AEAD runs later in
// the encrypt/decrypt workers). The core does the bookkeeping under the caller's lock — counter,
// header, replay pre-check — and hands back a job holding a copy of the one key it needs; the
// caller runs the job on any thread, without the lock, and for receive hands the result back.
// A job's key copy is wiped as soon as the AEAD has run.

import WeftCrypto

extension WireGuard {
    /// A 256-bit key copied out of a keypair, wiped after use.
    struct KeyCopy {
        private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        init() {}

        init(_ key: UnsafeRawBufferPointer) {
            Swift.withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: key) }
        }

        func withKey<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            Swift.withUnsafeBytes(of: words) { body($0) }
        }

        mutating func wipe() { words = (0, 0, 0, 0) }
    }

    /// Sealing one transport message whose header and padding `encapsulate(…, deferringSealTo:)`
    /// already wrote (§5.4.6): msg.packet = AEAD(T_send, counter, P || padding, ε).
    public struct SealJob: Sendable {
        var key = KeyCopy()
        /// The counter (nonce) reserved for the message.
        public internal(set) var counter: UInt64 = 0

        public init() {}

        /// Encrypts `message` (the whole transport message, header to tag) in place and wipes
        /// the key copy. Needs no lock: nothing of the device is touched.
        public mutating func seal(_ message: UnsafeMutableRawBufferPointer) {
            precondition(message.count >= WireGuard.minimumTransportLength, "SealJob.seal: not a transport message")
            let payload = message.bytes(at: WireGuard.transportHeaderLength,
                                        count: message.count - WireGuard.minimumTransportLength)
            let tag = message.bytes(at: message.count - WireGuard.tagLength, count: WireGuard.tagLength)
            key.withKey { key in
                ChaChaPoly.sealInPlace(payload, tag: tag, additionalData: WireGuard.Noise.empty, counter: counter, key: key)
            }
            key.wipe()
        }
    }

    /// Opening one received transport message that `beginDecapsulation` let through its
    /// index, session and replay pre-checks; `finishDecapsulation` takes the outcome.
    public struct OpenJob: @unchecked Sendable {
        var key: KeyCopy
        let counter: UInt64
        /// The session the message names; `finishDecapsulation` acts on it under the lock.
        let keypair: Keypair
        let peer: PeerID

        /// Authenticates and decrypts the datagram in place and wipes the key copy. Needs no
        /// lock. A datagram that fails is dropped, so its ciphertext may be zeroed.
        /// `datagram` is the one `beginDecapsulation` checked (a transport message, tag included).
        public mutating func open(_ datagram: UnsafeMutableRawBufferPointer) -> Bool {
            guard datagram.count >= WireGuard.minimumTransportLength else { return false }
            let ciphertext = datagram.bytes(at: WireGuard.transportHeaderLength,
                                            count: datagram.count - WireGuard.minimumTransportLength)
            let tag = UnsafeRawBufferPointer(datagram.bytes(at: datagram.count - WireGuard.tagLength, count: WireGuard.tagLength))
            let opened = key.withKey { key in
                ChaChaPoly.openInPlaceDiscardingOnFailure(ciphertext, tag: tag, additionalData: WireGuard.Noise.empty,
                                                          counter: counter, key: key)
            }
            key.wipe()
            return opened
        }
    }

    /// The first step of receiving a datagram.
    public enum DecapsulationStep: @unchecked Sendable {
        /// Transport data that passed the pre-checks: run the job, then `finishDecapsulation`.
        case open(OpenJob)
        /// Everything else (handshakes, drops) is done already.
        case finished(DecapsulateResult)
    }
}
