// The AEAD work of one batch, collected under the engine's lock and run after it is released,
// so that the transmit and receive threads only hold the lock for bookkeeping (counters, replay
// windows, timers) and never while ChaCha20-Poly1305 runs over a whole batch. A batch's jobs
// may be split with crypto workers (other cores); packets leave in batch order whoever sealed
// them, so per-peer order is kept (the kernel's per-peer queues serve the same purpose).
internal import CLinux

/// One packet's AEAD: seal or open in place.
protocol CryptoJob {
    /// Runs the AEAD on `buffer`; false when authentication failed.
    mutating func perform(_ buffer: UnsafeMutableRawBufferPointer) -> Bool
}

extension WireGuard.SealJob: CryptoJob {
    mutating func perform(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        seal(buffer)
        return true
    }
}

extension WireGuard.OpenJob: CryptoJob {
    mutating func perform(_ buffer: UnsafeMutableRawBufferPointer) -> Bool { open(buffer) }
}

/// Work a crypto worker can be handed: a range of jobs.
protocol CryptoTask: AnyObject {
    func perform(_ range: Range<Int>)
}

/// A fixed-capacity list of crypto jobs, each with its packet's position in the batch and its
/// bytes. Allocated once per thread; nothing is allocated per packet.
final class CryptoJobs<Job: CryptoJob>: CryptoTask {
    private let jobs: UnsafeMutablePointer<Job>
    private let buffers: UnsafeMutablePointer<UnsafeMutableRawBufferPointer>
    private let positions: UnsafeMutablePointer<Int>
    private let outcomes: UnsafeMutablePointer<Bool>
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        jobs = .allocate(capacity: self.capacity)
        buffers = .allocate(capacity: self.capacity)
        positions = .allocate(capacity: self.capacity)
        outcomes = .allocate(capacity: self.capacity)
    }

    deinit {
        jobs.deinitialize(count: count)
        jobs.deallocate()
        buffers.deallocate()
        positions.deallocate()
        outcomes.deallocate()
    }

    /// Adds the job for the packet at `position`, whose bytes are `buffer`.
    func append(_ job: Job, buffer: UnsafeMutableRawBufferPointer, for position: Int) {
        precondition(count < capacity, "CryptoJobs: more jobs than capacity")
        (jobs + count).initialize(to: job)
        buffers[count] = buffer
        positions[count] = position
        count += 1
    }

    /// The `index`th job appended, its packet's position, and whether its AEAD succeeded.
    func job(at index: Int) -> Job { jobs[index] }
    func position(at index: Int) -> Int { positions[index] }
    func succeeded(at index: Int) -> Bool { outcomes[index] }

    func perform(_ range: Range<Int>) {
        for i in range { outcomes[i] = jobs[i].perform(buffers[i]) }
    }

    /// Runs every job: part on `worker` when there is one and the batch is worth splitting,
    /// the rest on this thread; returns when all are done.
    func run(with worker: CryptoWorker?) {
        guard let worker, count >= CryptoWorker.minimumSplit else {
            perform(0..<count)
            return
        }
        let half = count / 2
        worker.start(self, range: half..<count)
        perform(0..<half)
        worker.finish()
    }

    /// Forgets the jobs (after `run`, which wiped their keys).
    func removeAll() {
        jobs.deinitialize(count: count)
        count = 0
    }
}

/// A thread that runs part of a batch's crypto for one data-path thread (its owner), so that a
/// batch uses two cores. Handoff is two futex events per batch, never a lock.
final class CryptoWorker: @unchecked Sendable {
    /// Below this many jobs the handoff (a wakeup each way, microseconds) costs more than it saves.
    static let minimumSplit = 16

    private let requests = UnsafeMutablePointer<clinux_event>.allocate(capacity: 1)
    private let completions = UnsafeMutablePointer<clinux_event>.allocate(capacity: 1)
    private var task: CryptoTask?
    private var range = 0..<0
    private var stopping = false
    private var thread: OSThread?
    private var requested: UInt32 = 0

    init(name: String) {
        requests.initialize(to: clinux_event())
        completions.initialize(to: clinux_event())
        thread = OSThread(name: name) { [unowned self] in self.loop() }
    }

    deinit {
        requests.deallocate()
        completions.deallocate()
    }

    /// Stops and joins the thread (before the owner goes away).
    func stop() {
        stopping = true
        clinux_event_post(requests)
        thread?.join()
        thread = nil
    }

    /// Hands `range` of `task` to the worker (the event's release orders the writes before).
    func start(_ task: CryptoTask, range: Range<Int>) {
        self.task = task
        self.range = range
        requested &+= 1
        clinux_event_post(requests)
    }

    /// Waits for the range handed over last.
    func finish() {
        var done = clinux_event_load(completions)
        while done != requested { done = clinux_event_wait(completions, done) }
        task = nil
    }

    private func loop() {
        var seen: UInt32 = 0
        while true {
            seen = clinux_event_wait(requests, seen)
            if stopping { return }
            task?.perform(range)
            clinux_event_post(completions)
        }
    }
}

/// What the receive thread knows about one datagram between the two locked steps.
enum ReceiveStep {
    /// The core is done with it.
    case finished(WireGuard.DecapsulateResult)
    /// It went to the AEAD, which authenticated it or not.
    case opened(Bool)
}
