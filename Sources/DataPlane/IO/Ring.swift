// A thin owner of one io_uring instance (liburing), with the setup the packet drivers want:
// the cheapest task-running mode the kernel accepts, a registered file, provided-buffer rings
// for multishot receive, and batched submission and completion.
import Glibc
internal import CURing

/// One io_uring submission/completion queue pair, owned uniquely.
///
/// Set up disabled (IORING_SETUP_R_DISABLED) and enabled by the first `enable()`, so that with
/// IORING_SETUP_SINGLE_ISSUER the ring belongs to the thread that uses it rather than the one that
/// created it. After that only that thread may submit or wait (the kernel answers EEXIST otherwise).
public struct Ring: ~Copyable {
    /// What setup obtained from the kernel.
    public struct Features: OptionSet, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// IORING_SETUP_SINGLE_ISSUER (6.0): one submitting thread, cheaper locking in the kernel.
        public static let singleIssuer = Features(rawValue: 1 << 0)
        /// IORING_SETUP_DEFER_TASKRUN (6.1): completions run only when this thread waits, never
        /// by interrupting it. Implies `singleIssuer`.
        public static let deferTaskRun = Features(rawValue: 1 << 1)
        /// IORING_SETUP_COOP_TASKRUN (5.19): completion work waits for the next kernel entry
        /// instead of an inter-processor interrupt; the fallback when DEFER_TASKRUN is refused.
        public static let coopTaskRun = Features(rawValue: 1 << 2)
        /// IORING_FEAT_EXT_ARG: a wait with timeout is one io_uring_enter.
        public static let extendedArguments = Features(rawValue: 1 << 3)
        /// IORING_FEAT_NODROP: completions are never lost to CQ overflow.
        public static let noDrop = Features(rawValue: 1 << 4)
        /// IORING_FEAT_FAST_POLL: operations on an empty socket or TUN wait by poll, not by a
        /// worker thread.
        public static let fastPoll = Features(rawValue: 1 << 5)
        /// IORING_OP_READ_MULTISHOT (6.7), probed.
        public static let multishotRead = Features(rawValue: 1 << 6)
        /// The ring descriptor is registered with the using thread (fewer fd lookups per enter).
        public static let registeredRingDescriptor = Features(rawValue: 1 << 7)

        private static let names: [(Features, String)] = [
            (.singleIssuer, "SINGLE_ISSUER"), (.deferTaskRun, "DEFER_TASKRUN"),
            (.coopTaskRun, "COOP_TASKRUN"), (.extendedArguments, "EXT_ARG"), (.noDrop, "NODROP"),
            (.fastPoll, "FAST_POLL"), (.multishotRead, "READ_MULTISHOT"),
            (.registeredRingDescriptor, "REGISTERED_RING_FD"),
        ]

        public var description: String {
            Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
        }
    }

    /// One completion, copied out of the completion queue.
    struct Completion {
        var userData: UInt64
        var result: Int32
        var flags: UInt32

        /// IORING_CQE_F_MORE: a multishot request stays armed.
        var hasMore: Bool { flags & UInt32(IORING_CQE_F_MORE) != 0 }
        /// The provided buffer used, when IORING_CQE_F_BUFFER is set.
        var bufferID: UInt16? {
            flags & UInt32(IORING_CQE_F_BUFFER) != 0 ? UInt16(truncatingIfNeeded: flags >> 16) : nil
        }
    }

    /// Features in force, after `enable()` also `registeredRingDescriptor` when it worked.
    public private(set) var features: Features
    /// Submission queue entries.
    public let submissionEntries: Int
    /// Completion queue entries.
    public let completionEntries: Int
    /// io_uring_enter calls made so far (submissions with work, waits, event fetches).
    private(set) var enterCount: UInt64 = 0

    let ring: UnsafeMutablePointer<io_uring>
    private var enabled = false
    private var closed = false
    private var bufferRings: [ProvidedBufferRing] = []
    private static let completionBatch = 64
    private let completionScratch: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>

    /// Creates a ring with `entries` submission entries and `completionEntries` completion
    /// entries (default 4 × entries: multishot requests post many completions per submission).
    /// Tries SINGLE_ISSUER+DEFER_TASKRUN, then SINGLE_ISSUER+COOP_TASKRUN, then COOP_TASKRUN,
    /// then plain, taking the first the kernel accepts.
    public init(entries: Int = 256, completionEntries: Int? = nil) throws(IOBackendError) {
        let entries = max(1, min(entries, 32_768))
        let cqEntries = max(entries, min(completionEntries ?? 4 * entries, 65_536))
        let attempts: [(UInt32, Features)] = [
            (UInt32(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN), [.singleIssuer, .deferTaskRun]),
            (UInt32(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN), [.singleIssuer, .coopTaskRun]),
            (UInt32(IORING_SETUP_COOP_TASKRUN), [.coopTaskRun]),
            (0, []),
        ]
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())
        var chosen: Features?
        var lastError: Int32 = 0
        var params = io_uring_params()
        for (flags, features) in attempts {
            params = io_uring_params()
            params.flags = flags | UInt32(IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP)
            params.cq_entries = UInt32(cqEntries)
            let result = io_uring_queue_init_params(UInt32(entries), ring, &params)
            if result == 0 {
                chosen = features
                break
            }
            lastError = -result
            // EINVAL: a flag this kernel does not know; anything else will not get better.
            if lastError != EINVAL { break }
        }
        guard var features = chosen else {
            ring.deallocate()
            throw IOBackendError.ioUringUnavailable(reason: Self.explain(setupError: lastError))
        }
        if params.features & UInt32(IORING_FEAT_EXT_ARG) != 0 { features.insert(.extendedArguments) }
        if params.features & UInt32(IORING_FEAT_NODROP) != 0 { features.insert(.noDrop) }
        if params.features & UInt32(IORING_FEAT_FAST_POLL) != 0 { features.insert(.fastPoll) }
        if let probe = io_uring_get_probe_ring(ring) {
            if io_uring_opcode_supported(probe, Int32(WEFT_IORING_OP_READ_MULTISHOT)) != 0 {
                features.insert(.multishotRead)
            }
            io_uring_free_probe(probe)
        }
        self.ring = ring
        self.features = features
        self.submissionEntries = Int(params.sq_entries)
        self.completionEntries = Int(params.cq_entries)
        self.completionScratch = .allocate(capacity: Self.completionBatch)
    }

    deinit {
        if !closed { tearDown() }
    }

    /// Whether io_uring can be used here, and with which features; for choosing a backend.
    public static func availability() -> Result<Features, IOBackendError> {
        do {
            let ring = try Ring(entries: 4)
            return .success(ring.features)
        } catch {
            return .failure(error)
        }
    }

    private static func explain(setupError error: Int32) -> String {
        let text = "io_uring_setup: \(Errno(rawValue: error))"
        switch error {
        case ENOSYS: return text + " — kernel without io_uring, or a seccomp filter answering ENOSYS"
        case EPERM: return text + " — blocked by seccomp or kernel.io_uring_disabled"
        case ENOMEM: return text + " — locked-memory limit (RLIMIT_MEMLOCK) too low for the rings"
        default: return text
        }
    }

    /// Tears the ring down now (cancelling armed requests); after this the kernel no longer
    /// touches any buffer it was given. Idempotent; `deinit` calls it too.
    mutating func shutdown() {
        guard !closed else { return }
        closed = true
        tearDown()
    }

    private func tearDown() {
        io_uring_queue_exit(ring)
        // The ring's exit unregistered the buffer rings; their memory is ours to unmap.
        for bufferRing in bufferRings {
            weft_free_buf_ring(nil, bufferRing.ring, UInt32(bufferRing.entries), bufferRing.group)
        }
        ring.deallocate()
        completionScratch.deallocate()
    }

    /// Binds the ring to the calling thread and starts it (IORING_REGISTER_ENABLE_RINGS). Called by the
    /// drivers before their first submission; later calls do nothing.
    @inline(__always)
    mutating func enable() throws(Errno) {
        if _fastPath(enabled) { return }
        _ = try Syscall.checkingNegatedErrno { weft_enable_rings(ring) }
        enabled = true
        // Registering the ring descriptor is per thread, so it is done here, by the user.
        if io_uring_register_ring_fd(ring) > 0 { features.insert(.registeredRingDescriptor) }
    }

    /// Registers `descriptor` as fixed file 0, used with IOSQE_FIXED_FILE to skip the file
    /// table lookup on every operation.
    func registerFile(_ descriptor: FileDescriptor) throws(Errno) {
        var fd = descriptor.rawValue
        _ = try Syscall.checkingNegatedErrno { io_uring_register_files(ring, &fd, 1) }
    }

    /// Maps and registers a provided-buffer ring (Linux 5.19) of `entries` (rounded up to a
    /// power of two, at most 32,768) for buffer group `group`.
    mutating func makeBufferRing(entries: Int, group: UInt16) throws(Errno) -> ProvidedBufferRing {
        var size = 1
        while size < entries && size < 32_768 { size <<= 1 }
        var error: Int32 = 0
        guard let pointer = weft_setup_buf_ring(ring, UInt32(size), group, &error) else {
            throw Errno(rawValue: -error)
        }
        let bufferRing = ProvidedBufferRing(ring: pointer, entries: size, group: group)
        bufferRings.append(bufferRing)
        return bufferRing
    }

    /// A free submission queue entry, submitting queued ones first when the queue is full.
    @inline(__always)
    mutating func nextSubmission() throws(Errno) -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        _ = try submit()
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        throw Errno.busy
    }

    /// Queues a cancellation of the request submitted with `userData` (IORING_OP_ASYNC_CANCEL).
    mutating func cancel(userData: UInt64) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_cancel64(sqe, userData, 0)
        io_uring_sqe_set_data64(sqe, Self.cancelUserData)
    }

    /// The user data of cancellation requests; drivers ignore its completions.
    static let cancelUserData: UInt64 = .max

    /// Submits queued entries; returns how many the kernel took.
    @discardableResult
    mutating func submit() throws(Errno) -> Int {
        guard io_uring_sq_ready(ring) > 0 else { return 0 }
        enterCount &+= 1
        return Int(try Syscall.checkingNegatedErrno { io_uring_submit(ring) })
    }

    /// Submits queued entries and collects finished work into the completion queue without
    /// waiting (with DEFER_TASKRUN completions appear only on such a kernel entry).
    mutating func submitAndCollect() throws(Errno) {
        enterCount &+= 1
        _ = try Syscall.checkingNegatedErrno { io_uring_submit_and_get_events(ring) }
    }

    /// Submits queued entries and waits until a completion is ready or `timeout` passes.
    /// Returns false on timeout or signal.
    mutating func submitAndWait(timeout: Duration) throws(Errno) -> Bool {
        let (seconds, nanoseconds) = timeout.timespecComponents
        var ts = __kernel_timespec(tv_sec: seconds, tv_nsec: nanoseconds)
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        enterCount &+= 1
        let result = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nil)
        if result >= 0 { return true }
        if result == -ETIME || result == -EINTR { return false }
        throw Errno(rawValue: -result)
    }

    /// Hands every ready completion to `body`, in order, and marks them consumed; returns how
    /// many there were. Bounded by the queue size: completions posted meanwhile wait for the
    /// next call.
    @inline(__always)
    func drainCompletions(_ body: (Completion) -> Void) -> Int {
        var total = 0
        while total < completionEntries {
            let count = Int(io_uring_peek_batch_cqe(ring, completionScratch, UInt32(Self.completionBatch)))
            if count == 0 { break }
            for i in 0..<count {
                let cqe = completionScratch[i]!.pointee
                body(Completion(userData: cqe.user_data, result: cqe.res, flags: cqe.flags))
            }
            io_uring_cq_advance(ring, UInt32(count))
            total += count
        }
        return total
    }
}

/// A provided-buffer ring (IORING_REGISTER_PBUF_RING): buffers the application lends the kernel
/// for multishot receives, which pick one per packet and report its ID in the completion.
/// A handle; the `Ring` that made it unmaps it.
struct ProvidedBufferRing {
    let ring: UnsafeMutablePointer<io_uring_buf_ring>
    /// Slots in the ring (a power of two): the most buffers lent at once.
    let entries: Int
    let group: UInt16
    private var queued = 0

    init(ring: UnsafeMutablePointer<io_uring_buf_ring>, entries: Int, group: UInt16) {
        self.ring = ring
        self.entries = entries
        self.group = group
    }

    /// Queues a buffer; `publish()` makes queued buffers visible to the kernel.
    @inline(__always)
    mutating func add(_ address: UnsafeMutableRawPointer, length: Int, id: UInt16) {
        weft_buf_ring_add(ring, UInt32(entries), address, UInt32(length), id, Int32(queued))
        queued += 1
    }

    /// Publishes queued buffers with one release store of the tail.
    @inline(__always)
    mutating func publish() {
        guard queued > 0 else { return }
        io_uring_buf_ring_advance(ring, Int32(queued))
        queued = 0
    }
}

/// Lends pool slots to the kernel through a provided-buffer ring for one multishot receive, and
/// keeps track of which are out, so none is lost or handed out twice.
struct BufferLender: ~Copyable {
    private(set) var bufferRing: ProvidedBufferRing
    /// The most slots lent plus received-but-not-yet-delivered at once.
    let target: Int
    /// Where in a slot the kernel may write, and how much.
    let start: Int
    let length: Int
    /// Slots the kernel holds now.
    private(set) var lent = 0
    private let marks: UnsafeMutablePointer<Bool>
    private let poolCapacity: Int
    /// Whether the multishot request is in the kernel (the driver sets it when it submits and
    /// it is cleared by the completion without IORING_CQE_F_MORE).
    var armed = false

    init(ring: inout Ring, pool: BufferPool, target: Int, group: UInt16, start: Int, length: Int) throws(Errno) {
        let target = max(1, min(target, pool.capacity, 32_768))
        bufferRing = try ring.makeBufferRing(entries: target, group: group)
        self.target = target
        self.start = start
        self.length = length
        poolCapacity = pool.capacity
        marks = .allocate(capacity: pool.capacity)
        marks.initialize(repeating: false, count: pool.capacity)
    }

    deinit { marks.deallocate() }

    /// Lends free pool slots until `lent + held` reaches the target; `held` counts received
    /// slots not yet delivered, so a slow consumer cannot drain the pool into a queue.
    /// Returns false when nothing is lent afterwards (the pool is empty).
    @inline(__always)
    mutating func lend(from pool: BufferPool, held: Int) -> Bool {
        var budget = target - held - lent
        while budget > 0, let index = pool.take() {
            bufferRing.add(pool.address(of: index) + start, length: length, id: index.rawValue)
            marks[Int(index.rawValue)] = true
            lent += 1
            budget -= 1
        }
        bufferRing.publish()
        return lent > 0
    }

    /// Takes back the slot a completion names; nil for an ID that was not lent (a kernel or
    /// bookkeeping bug: the completion is ignored rather than double-owning a buffer).
    @inline(__always)
    mutating func reclaim(_ id: UInt16) -> BufferIndex? {
        let i = Int(id)
        guard i < poolCapacity, marks[i] else { return nil }
        marks[i] = false
        lent -= 1
        return BufferIndex(rawValue: id)
    }

    /// Returns every lent slot to the pool. Only once the kernel can no longer write to them:
    /// after the multishot request ended and the ring is shut down.
    mutating func returnAll(to pool: BufferPool) {
        for i in 0..<poolCapacity where marks[i] {
            marks[i] = false
            pool.release(BufferIndex(rawValue: UInt16(i)))
        }
        lent = 0
    }
}
