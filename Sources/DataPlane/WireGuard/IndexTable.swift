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

        private var entries: [UInt32: Entry] = [:]

        var count: Int { entries.count }

        /// Allocates a fresh random index for a handshake of `peer`. Random (not sequential) so
        /// indices say nothing about how many sessions exist.
        mutating func insertHandshake(for peer: PeerID, random: RandomSource) -> UInt32 {
            // At most four entries per peer keep the 2^32 space sparse: a collision is rare and
            // 64 in a row is impossible short of a broken random source.
            for _ in 0 ..< 64 {
                let index = random.uint32()
                if entries[index] == nil {
                    entries[index] = Entry(peer: peer, keypair: nil)
                    return index
                }
            }
            preconditionFailure("IndexTable: no free receiver index after 64 random draws")
        }

        /// Hands a handshake's index over to the keypair derived from it.
        mutating func assign(_ index: UInt32, to keypair: Keypair) {
            entries[index]?.keypair = keypair
        }

        /// Removes a handshake's index, unless it has passed to a keypair meanwhile.
        mutating func removeHandshake(_ index: UInt32) {
            if let entry = entries[index], entry.keypair == nil { entries[index] = nil }
        }

        /// Removes a keypair's index.
        mutating func removeKeypair(_ keypair: Keypair) {
            if let entry = entries[keypair.localIndex], entry.keypair === keypair {
                entries[keypair.localIndex] = nil
            }
        }

        func lookup(_ index: UInt32) -> Entry? {
            entries[index]
        }
    }
}
