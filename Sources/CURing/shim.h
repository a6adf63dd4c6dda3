// liburing. <features.h> must come first: without it clean debug builds fail at random with
// "'__fds_bits' from module 'SwiftGlibc' is not present in definition of 'fd_set'".
#include <features.h>
#include <liburing.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// Swift cannot import IOSQE_* (macros over enum bit positions), and liburing 2.3 has no helper
// for multishot READ nor io_uring_setup_buf_ring (both newer); the wrappers below fill the gaps.

enum {
    WEFT_IOSQE_FIXED_FILE = IOSQE_FIXED_FILE,
    WEFT_IOSQE_BUFFER_SELECT = IOSQE_BUFFER_SELECT,
    // IORING_OP_READ_MULTISHOT (Linux 6.7); the 2.3 headers stop before it.
    WEFT_IORING_OP_READ_MULTISHOT = 49,
    WEFT_IORING_OP_RECVMSG = IORING_OP_RECVMSG,
    WEFT_IORING_OP_SENDMSG = IORING_OP_SENDMSG,
    WEFT_IORING_OP_WRITE = IORING_OP_WRITE,
};

/// IORING_REGISTER_ENABLE_RINGS. liburing 2.3 declares io_uring_enable_rings but its shared
/// library does not export it, so the register call is made directly. Returns 0 or -errno.
static inline int weft_enable_rings(struct io_uring *ring) {
    long r = syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return r < 0 ? -errno : 0;
}

/// Multishot READ from provided buffers of group `bgid`: one SQE, one CQE per read until the
/// group runs dry or an error ends it (a CQE without IORING_CQE_F_MORE).
static inline void weft_prep_read_multishot(struct io_uring_sqe *sqe, int fd, int fixed,
                                            unsigned short bgid) {
    io_uring_prep_rw(WEFT_IORING_OP_READ_MULTISHOT, sqe, fd, NULL, 0, 0);
    sqe->buf_group = bgid;
    sqe->flags |= IOSQE_BUFFER_SELECT | (fixed ? IOSQE_FIXED_FILE : 0);
}

/// Multishot RECVMSG into provided buffers of group `bgid`. `msg` only supplies the name and
/// control lengths; each buffer receives a struct io_uring_recvmsg_out, name, control, payload.
static inline void weft_prep_recvmsg_multishot(struct io_uring_sqe *sqe, int fd, int fixed,
                                               struct msghdr *msg, unsigned short bgid) {
    io_uring_prep_recvmsg_multishot(sqe, fd, msg, 0);
    sqe->buf_group = bgid;
    sqe->flags |= IOSQE_BUFFER_SELECT | (fixed ? IOSQE_FIXED_FILE : 0);
}

static inline void weft_prep_sendmsg(struct io_uring_sqe *sqe, int fd, int fixed,
                                     const struct msghdr *msg) {
    io_uring_prep_sendmsg(sqe, fd, msg, 0);
    if (fixed) sqe->flags |= IOSQE_FIXED_FILE;
}

static inline void weft_prep_write(struct io_uring_sqe *sqe, int fd, int fixed,
                                   const void *buf, unsigned len) {
    io_uring_prep_write(sqe, fd, buf, len, 0);
    if (fixed) sqe->flags |= IOSQE_FIXED_FILE;
}

/// Maps and registers a provided-buffer ring of `entries` (a power of two) for group `bgid`,
/// like liburing 2.4's io_uring_setup_buf_ring. Returns NULL and sets *err to -errno on failure.
static inline struct io_uring_buf_ring *weft_setup_buf_ring(struct io_uring *ring,
                                                            unsigned entries,
                                                            unsigned short bgid, int *err) {
    size_t size = (size_t)entries * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    struct io_uring_buf_ring *br = (struct io_uring_buf_ring *)mem;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)(uintptr_t)br;
    reg.ring_entries = entries;
    reg.bgid = bgid;
    int r = io_uring_register_buf_ring(ring, &reg, 0);
    if (r < 0) {
        munmap(mem, size);
        *err = r;
        return NULL;
    }
    *err = 0;
    return br;
}

/// Unregisters (when `ring` is not NULL) and unmaps a ring made by weft_setup_buf_ring.
static inline void weft_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
                                      unsigned entries, unsigned short bgid) {
    if (ring) io_uring_unregister_buf_ring(ring, bgid);
    munmap(br, (size_t)entries * sizeof(struct io_uring_buf));
}

/// Queues one buffer at `offset` past the tail; io_uring_buf_ring_advance publishes them.
static inline void weft_buf_ring_add(struct io_uring_buf_ring *br, unsigned entries, void *addr,
                                     unsigned len, unsigned short bid, int offset) {
    io_uring_buf_ring_add(br, addr, len, bid, io_uring_buf_ring_mask(entries), offset);
}
