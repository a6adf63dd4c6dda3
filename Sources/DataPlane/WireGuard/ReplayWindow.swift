// Receive-side replay protection for transport data (whitepaper §5.4.6): a sliding bitmap of the
// counters seen below the greatest one, as RFC 6479 describes and the kernel implements. The bitmap
// is a ring of 64-bit words; advancing the window clears only the words it slides over, so a jump
// costs at most one pass over the ring and a step costs nothing.

extension WireGuard {
    /// Sliding-window anti-replay filter for one receiving key.
    ///
    /// Holds 8192 bits inline (no heap), like the Linux module's COUNTER_BITS_TOTAL; one word is kept
    /// as slack for the ring, so counters up to `windowSize` (8128) below the greatest accepted one
    /// can still arrive out of order.
    public struct ReplayWindow: Sendable {
        static let wordBits = UInt64.bitWidth
        static let totalBits = 8192
        static let wordCount = totalBits / wordBits
        /// How far below the greatest accepted counter a late counter may still be accepted.
        public static let windowSize = UInt64(totalBits - wordBits)

        /// One more than the greatest counter accepted so far; zero before the first.
        private var next: UInt64 = 0
        private var bitmap = InlineArray<128, UInt64>(repeating: 0)

        public init() {
            assert(Self.wordCount == 128)
        }

        /// Whether `counter` would be accepted, without recording it. Used to reject replays
        /// before spending time on decryption; only `accept` after authentication moves the window.
        // The read-only members are inlined: called on a window stored in a keypair (a class),
        // a non-inlined call would first copy the 1 KiB bitmap.
        @inline(__always)
        public func wouldAccept(_ counter: UInt64) -> Bool {
            guard next <= WireGuard.rejectAfterMessages, counter < WireGuard.rejectAfterMessages else { return false }
            let position = counter + 1
            if position > next { return true }
            if Self.windowSize + position < next { return false }
            let (word, bit) = Self.location(of: position)
            return bitmap[word] & (1 << bit) == 0
        }

        /// Records `counter` as received; false if it was seen before, is too old for the window,
        /// or is at or past REJECT_AFTER_MESSAGES (§5.4.6). Call only for authenticated messages.
        public mutating func accept(_ counter: UInt64) -> Bool {
            guard next <= WireGuard.rejectAfterMessages, counter < WireGuard.rejectAfterMessages else { return false }
            // Positions are counter + 1 so that `next == 0` can mean "nothing received yet".
            let position = counter + 1
            if Self.windowSize + position < next { return false }
            if position > next {
                // Clear the words the window slides over: those after the current top word up to
                // the new top word, at most the whole ring.
                let currentWord = next / UInt64(Self.wordBits)
                let newWord = position / UInt64(Self.wordBits)
                let steps = min(newWord - currentWord, UInt64(Self.wordCount))
                var step: UInt64 = 1
                while step <= steps {
                    bitmap[Int((currentWord + step) % UInt64(Self.wordCount))] = 0
                    step += 1
                }
                next = position
            }
            let (word, bit) = Self.location(of: position)
            let mask: UInt64 = 1 << bit
            if bitmap[word] & mask != 0 { return false }
            bitmap[word] |= mask
            return true
        }

        /// Whether the counter reached REJECT_AFTER_MESSAGES: the key may receive no more.
        @inline(__always)
        public var isExhausted: Bool { next >= WireGuard.rejectAfterMessages }

        /// The greatest counter accepted so far, nil before the first.
        public var greatestAccepted: UInt64? { next == 0 ? nil : next - 1 }

        @inline(__always)
        private static func location(of position: UInt64) -> (word: Int, bit: UInt64) {
            (Int((position / UInt64(wordBits)) % UInt64(wordCount)), position % UInt64(wordBits))
        }
    }
}
