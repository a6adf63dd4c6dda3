// Where the WireGuard core gets its randomness: ephemeral keys, receiver indices, cookie secrets
// and nonces, and the seed of the timer jitter. The system source is the kernel's CSPRNG; tests inject a seeded one
// to make handshakes reproducible.

import WeftCrypto

extension WireGuard {
    /// A source of random bytes for the core. Called only on handshake and timer paths, never
    /// per transport packet.
    public struct RandomSource {
        private let fillBytes: (UnsafeMutableRawBufferPointer) -> Void

        /// A source that fills buffers with `fill`. Deterministic sources are for tests only.
        public init(_ fill: @escaping (UnsafeMutableRawBufferPointer) -> Void) {
            fillBytes = fill
        }

        /// The operating system's CSPRNG (`getrandom(2)` through libsodium).
        public static var system: RandomSource { RandomSource(SecureRandom.fill) }

        func fill(_ buffer: UnsafeMutableRawBufferPointer) { fillBytes(buffer) }

        func uint32() -> UInt32 {
            var value: UInt32 = 0
            withUnsafeMutableBytes(of: &value) { fillBytes($0) }
            return value
        }

        func uint64() -> UInt64 {
            var value: UInt64 = 0
            withUnsafeMutableBytes(of: &value) { fillBytes($0) }
            return value
        }

        /// A fresh X25519 private key (clamped by `PrivateKey`).
        func privateKey() -> PrivateKey {
            var scalar = Bytes32()
            defer { scalar.zeroize() }
            scalar.withUnsafeMutableBytes { fillBytes($0) }
            return PrivateKey(rawBytes: scalar)
        }
    }
}
