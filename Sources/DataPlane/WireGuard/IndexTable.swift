// Receiver indices (whitepaper §5.4.2, §5.4.6): every handshake in progress and every keypair
// has a random 32-bit index of ours that the peer puts in the messages it sends us, so incoming
// responses and transport data find their state with one lookup, without trying keys.

extension WireGuard {
    /// Maps our 32-bit receiver indices to the peer, and to the keypair once the handshake that
    /// allocated the index has become a session.
    struct IndexTable {
        struct Entry {
            let peer: PeerID
            /// Nil while the index belongs to a handshake in progress.
            var keypair: Keypair?
        }

        private var entries: [ReceiverIndex: Entry] = [:]

        var count: Int { entries.count }

        /// Allocates a fresh random index for a handshake of `peer`. Random (not sequential) so
        /// indices say nothing about how many sessions exist.
        mutating func insertHandshake(for peer: PeerID, random: RandomSource) -> UInt32 {
            // At most four entries per peer keep the 2^32 space sparse: a collision is rare and
            // 64 in a row is impossible short of a broken random source.
            for _ in 0 ..< 64 {
                let index = random.uint32()
                if entries[ReceiverIndex(index)] == nil {
                    entries[ReceiverIndex(index)] = Entry(peer: peer, keypair: nil)
                    return index
                }
            }
            preconditionFailure("IndexTable: no free receiver index after 64 random draws")
        }

        /// Hands a handshake's index over to the keypair derived from it.
        mutating func assign(_ index: UInt32, to keypair: Keypair) {
            entries[ReceiverIndex(index)]?.keypair = keypair
        }

        /// Removes a handshake's index, unless it has passed to a keypair meanwhile.
        mutating func removeHandshake(_ index: UInt32) {
            if let entry = entries[ReceiverIndex(index)], entry.keypair == nil { entries[ReceiverIndex(index)] = nil }
        }

        /// Removes a keypair's index.
        mutating func removeKeypair(_ keypair: Keypair) {
            if let entry = entries[ReceiverIndex(keypair.localIndex)], entry.keypair === keypair {
                entries[ReceiverIndex(keypair.localIndex)] = nil
            }
        }

        func lookup(_ index: UInt32) -> Entry? {
            entries[ReceiverIndex(index)]
        }
    }

    /// A receiver index as a dictionary key, hashed with one multiply instead of SipHash: every
    /// transport message costs a lookup, and the keys are our own uniformly random draws, so
    /// there is nothing for an attacker to collide (a sender can only look up, never insert).
    struct ReceiverIndex: Hashable {
        let value: UInt32

        init(_ value: UInt32) { self.value = value }

        func hash(into hasher: inout Hasher) { hasher.combine(value) }

        // Dictionary asks for this; the default would run `hash(into:)` through SipHash.
        func _rawHashValue(seed: Int) -> Int {
            Int(truncatingIfNeeded: (UInt64(value) ^ UInt64(UInt(bitPattern: seed))) &* 0x9E37_79B9_7F4A_7C15)
        }
    }
}
