// The AEAD work of one batch, collected under the engine's lock and run after it is released,
// so that the transmit and receive threads only hold the lock for bookkeeping (counters, replay
// windows, timers) and never while ChaCha20-Poly1305 runs over a whole batch.

/// A fixed-capacity list of crypto jobs, each tied to a packet's position in a batch.
/// Allocated once per thread; nothing is allocated per packet.
struct CryptoJobs<Job>: ~Copyable {
    private let jobs: UnsafeMutablePointer<Job>
    private let positions: UnsafeMutablePointer<Int>
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        jobs = .allocate(capacity: self.capacity)
        positions = .allocate(capacity: self.capacity)
    }

    deinit {
        jobs.deinitialize(count: count)
        jobs.deallocate()
        positions.deallocate()
    }

    /// Adds the job for the packet at `position`; the caller keeps at most `capacity` of them.
    mutating func append(_ job: Job, for position: Int) {
        precondition(count < capacity, "CryptoJobs: more jobs than capacity")
        (jobs + count).initialize(to: job)
        positions[count] = position
        count += 1
    }

    /// The `index`th job appended.
    func job(at index: Int) -> Job { jobs[index] }

    /// Runs `body` on every job in order, with the position it was appended for.
    func run(_ body: (Int, inout Job) -> Void) {
        for i in 0..<count { body(positions[i], &jobs[i]) }
    }

    /// Forgets the jobs (after `run`, which wiped their keys).
    mutating func removeAll() {
        jobs.deinitialize(count: count)
        count = 0
    }
}

/// What the receive thread knows about one datagram between the two locked steps.
enum ReceiveStep {
    /// The core is done with it.
    case finished(WireGuard.DecapsulateResult)
    /// It went to the AEAD, which authenticated it or not.
    case opened(Bool)
}
