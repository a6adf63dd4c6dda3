// Linux calls Swift cannot make directly (variadic ioctl, fcntl, _GNU_SOURCE-only functions),
// macros it cannot import (CMSG_*), and constants missing from the Glibc module.
#ifndef CLINUX_H
#define CLINUX_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

// MARK: - Constants Swift cannot see through the Glibc module

enum {
    // <netinet/udp.h> is not part of the Glibc module; values from <linux/udp.h>.
    CLINUX_SOL_UDP = 17,
    CLINUX_UDP_SEGMENT = 103,  // setsockopt/cmsg: UDP GSO segment size (u16)
    CLINUX_UDP_GRO = 104,      // setsockopt: receive coalesced datagrams; cmsg carries an int
    // <asm-generic/socket.h>: set buffer sizes past net.core.{r,w}mem_max (needs CAP_NET_ADMIN).
    CLINUX_SO_SNDBUFFORCE = 32,
    CLINUX_SO_RCVBUFFORCE = 33,
    // <linux/if_tun.h> TUNSETOFFLOAD bits.
    CLINUX_TUN_F_CSUM = 0x01,
    CLINUX_TUN_F_TSO4 = 0x02,
    CLINUX_TUN_F_TSO6 = 0x04,
    CLINUX_TUN_F_TSO_ECN = 0x08,
    CLINUX_TUN_F_UFO = 0x10,
    CLINUX_TUN_F_USO4 = 0x20,
    CLINUX_TUN_F_USO6 = 0x40,
    // <linux/if.h> interface flags used here.
    CLINUX_IFF_UP = 0x1,
    CLINUX_IFF_RUNNING = 0x40,
    CLINUX_IFNAMSIZ = 16,
    // sizeof(struct virtio_net_hdr): what IFF_VNET_HDR puts before every packet (no num_buffers).
    CLINUX_VIRTIO_NET_HDR_LEN = 10,
};

// MARK: - Control messages (CMSG_* are macros)

static inline size_t clinux_cmsg_space(size_t len) { return CMSG_SPACE(len); }
static inline size_t clinux_cmsg_len(size_t len) { return CMSG_LEN(len); }
static inline struct cmsghdr *clinux_cmsg_firsthdr(struct msghdr *msg) { return CMSG_FIRSTHDR(msg); }
static inline struct cmsghdr *clinux_cmsg_nxthdr(struct msghdr *msg, struct cmsghdr *cmsg) {
    return CMSG_NXTHDR(msg, cmsg);
}
static inline unsigned char *clinux_cmsg_data(struct cmsghdr *cmsg) { return CMSG_DATA(cmsg); }

// MARK: - Batched datagram calls

/// Layout-identical to glibc's `struct mmsghdr`, which the Glibc module hides behind _GNU_SOURCE.
struct clinux_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// recvmmsg(2) without timeout. Returns the message count, or -errno.
int clinux_recvmmsg(int fd, struct clinux_mmsghdr *msgs, unsigned int count, int flags);

/// sendmmsg(2). Returns the number of messages sent, or -errno.
int clinux_sendmmsg(int fd, struct clinux_mmsghdr *msgs, unsigned int count, int flags);

// MARK: - TUN

/// Opens /dev/net/tun and attaches to `name` with IFF_TUN|IFF_NO_PI (plus IFF_VNET_HDR when
/// `vnetHeader` is non-zero). Writes the kernel's interface name (IFNAMSIZ bytes) to `outName`.
/// Returns the file descriptor, or -errno.
int clinux_tun_open(const char *name, int vnetHeader, char *outName);

/// TUNSETOFFLOAD with the given TUN_F_* flags. Returns 0 or -errno.
int clinux_tun_set_offload(int fd, unsigned int flags);

/// TUNGETFEATURES: the IFF_* flags this kernel's TUN driver accepts. Returns 0 or -errno.
int clinux_tun_get_features(int fd, unsigned int *features);

/// TUNSETVNETHDRSZ. Returns 0 or -errno.
int clinux_tun_set_vnet_header_size(int fd, int size);

// MARK: - Interfaces (SIOC* ioctls on a throwaway AF_INET datagram socket)

/// SIOCGIFMTU. Returns the MTU, or -errno.
int clinux_if_get_mtu(const char *name);
/// SIOCSIFMTU. Returns 0 or -errno.
int clinux_if_set_mtu(const char *name, int mtu);
/// SIOCGIFFLAGS. Returns the flags (non-negative), or -errno.
int clinux_if_get_flags(const char *name);
/// SIOCSIFFLAGS. Returns 0 or -errno.
int clinux_if_set_flags(const char *name, int flags);

// MARK: - OSPF on a kernel interface (RFC 2328 §A.1: IP protocol 89, TTL 1, multicast groups)

/// Opens a raw IPv4 socket for IP protocol 89 that sends and receives OSPF packets on one
/// interface only: bound to it (SO_BINDTODEVICE), multicast sent out of it (IP_MULTICAST_IF)
/// with TTL 1 and not looped back, unicast TTL 1 too, precedence "internetwork control"
/// (TOS 0xC0), IP_PKTINFO on receive, only the groups this socket joins delivered
/// (IP_MULTICAST_ALL off), non-blocking. `address` is the interface's IPv4 address in host byte
/// order. Received datagrams start with the IP header. Returns the descriptor, or -errno.
int clinux_ospf_socket_open(const char *ifname, int ifindex, uint32_t address);

/// IP_ADD_MEMBERSHIP (`join` non-zero) or IP_DROP_MEMBERSHIP of `group` (host byte order) on
/// interface `ifindex`. Returns 0 or -errno.
int clinux_ip_multicast_membership(int fd, int ifindex, uint32_t group, int join);

/// Receives one datagram (IP header first). Writes the receiving interface and the packet's
/// destination address (host byte order) from IP_PKTINFO, or -1 and 0 when the kernel gave
/// none. Returns the length, -EMSGSIZE for a datagram longer than `length`, or -errno
/// (-EAGAIN when nothing waits).
long clinux_ospf_receive(int fd, void *buffer, size_t length, int *ifindex, uint32_t *destination);

/// Sends one OSPF packet (the IP payload; the kernel writes the header) to `destination` out of
/// interface `ifindex` with source address `source` (IP_PKTINFO), addresses in host byte
/// order. Returns the bytes sent, or -errno.
long clinux_ospf_send(int fd, const void *packet, size_t length, uint32_t destination, int ifindex, uint32_t source);

// MARK: - Files, threads and namespaces

/// Sets O_NONBLOCK. Returns 0 or -errno.
int clinux_set_nonblocking(int fd);

/// unshare(CLONE_NEWNET) for the calling thread only (_GNU_SOURCE). Returns 0 or -errno.
int clinux_unshare_network_namespace(void);

/// gettid(2): the kernel task id of the calling thread, for /proc/self/task/<tid>/ns/net.
int clinux_gettid(void);

/// Installs a seccomp filter on the calling thread only (no TSYNC) that fails io_uring_setup
/// with `error`, as container runtimes do. Irreversible for that thread: tests use a thread of
/// their own to check the io_uring-unavailable path. Returns 0 or -errno.
int clinux_seccomp_deny_io_uring_setup(int error);

/// Names the calling thread (at most 15 bytes), as `top -H` and perf show it.
void clinux_set_thread_name(const char *name);

/// A futex-backed event counter for handing work between two threads without a mutex.
/// `clinux_event_post` bumps the counter (release) and wakes a waiter; `clinux_event_wait`
/// returns once the counter differs from `seen` (acquire), spinning briefly before sleeping.
typedef struct { uint32_t value; uint32_t padding[15]; } clinux_event;  // a cache line of its own
uint32_t clinux_event_load(const clinux_event *event);
void clinux_event_post(clinux_event *event);
uint32_t clinux_event_wait(clinux_event *event, uint32_t seen);

/// Adds "close every descriptor from `lowfd` up" to spawn file actions (glibc's
/// posix_spawn_file_actions_addclosefrom_np, behind _GNU_SOURCE): a daemon must not keep its
/// parent's descriptors open, or whoever waits for the parent's pipes never sees them close.
#include <spawn.h>
int clinux_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int lowfd);

#endif
