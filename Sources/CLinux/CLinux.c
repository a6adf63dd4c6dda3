#define _GNU_SOURCE
#include "CLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <arpa/inet.h>

_Static_assert(sizeof(struct clinux_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct clinux_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len),
               "mmsghdr layout");

int clinux_recvmmsg(int fd, struct clinux_mmsghdr *msgs, unsigned int count, int flags) {
    int n = recvmmsg(fd, (struct mmsghdr *)msgs, count, flags, NULL);
    return n < 0 ? -errno : n;
}

int clinux_sendmmsg(int fd, struct clinux_mmsghdr *msgs, unsigned int count, int flags) {
    int n = sendmmsg(fd, (struct mmsghdr *)msgs, count, flags);
    return n < 0 ? -errno : n;
}

int clinux_tun_open(const char *name, int vnetHeader, char *outName) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnetHeader ? IFF_VNET_HDR : 0);
    if (name) strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (outName) memcpy(outName, ifr.ifr_name, IFNAMSIZ);
    return fd;
}

int clinux_tun_set_offload(int fd, unsigned int flags) {
    return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0 ? -errno : 0;
}

int clinux_tun_get_features(int fd, unsigned int *features) {
    return ioctl(fd, TUNGETFEATURES, features) < 0 ? -errno : 0;
}

int clinux_tun_set_vnet_header_size(int fd, int size) {
    return ioctl(fd, TUNSETVNETHDRSZ, &size) < 0 ? -errno : 0;
}

// SIOC*IF* ioctls need some socket; a datagram socket of any family does. One per call keeps
// the wrappers stateless; they are configuration calls, never on a packet path.
static int interface_ioctl(const char *name, unsigned long request, struct ifreq *ifr) {
    if (strlen(name) >= IFNAMSIZ) return -ENAMETOOLONG;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
    int result = ioctl(fd, request, ifr) < 0 ? -errno : 0;
    close(fd);
    return result;
}

int clinux_if_get_mtu(const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int r = interface_ioctl(name, SIOCGIFMTU, &ifr);
    return r < 0 ? r : ifr.ifr_mtu;
}

int clinux_if_set_mtu(const char *name, int mtu) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = mtu;
    return interface_ioctl(name, SIOCSIFMTU, &ifr);
}

int clinux_if_get_flags(const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int r = interface_ioctl(name, SIOCGIFFLAGS, &ifr);
    return r < 0 ? r : (unsigned short)ifr.ifr_flags;
}

int clinux_if_set_flags(const char *name, int flags) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)flags;
    return interface_ioctl(name, SIOCSIFFLAGS, &ifr);
}

int clinux_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -errno : 0;
}

int clinux_unshare_network_namespace(void) {
    return unshare(CLONE_NEWNET) < 0 ? -errno : 0;
}

int clinux_gettid(void) {
    return (int)syscall(SYS_gettid);
}

#if defined(__x86_64__)
#define CLINUX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CLINUX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

int clinux_seccomp_deny_io_uring_setup(int error) {
#ifndef CLINUX_AUDIT_ARCH
    (void)error;
    return -ENOSYS;
#else
    struct sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CLINUX_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = { .len = sizeof program / sizeof program[0], .filter = program };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0) return -errno;
    return 0;
#endif
}

#include <sys/prctl.h>
void clinux_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

#include <spawn.h>
int clinux_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

// OSPF runs directly over IP (RFC 2328 §A.1); there is no <netinet/in.h> name for 89.
#define CLINUX_IPPROTO_OSPF 89

static int set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

int clinux_ospf_socket_open(const char *ifname, int ifindex, uint32_t address) {
    if (strlen(ifname) >= IFNAMSIZ) return -ENAMETOOLONG;
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, CLINUX_IPPROTO_OSPF);
    if (fd < 0) return -errno;
    int r = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0) r = -errno;
    struct ip_mreqn outgoing;
    memset(&outgoing, 0, sizeof outgoing);
    outgoing.imr_address.s_addr = htonl(address);
    outgoing.imr_ifindex = ifindex;
    if (r == 0 && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &outgoing, sizeof outgoing) < 0) r = -errno;
    // §A.1: multicast OSPF packets never leave the network (TTL 1); our own must not come
    // back to us either, or we would see our Hellos as a neighbor's.
    if (r == 0) r = set_int_option(fd, IPPROTO_IP, IP_MULTICAST_TTL, 1);
    if (r == 0) r = set_int_option(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0);
    if (r == 0) r = set_int_option(fd, IPPROTO_IP, IP_TTL, 1);
    // §A.1: IP precedence "internetwork control" (TOS 0xC0), as the overlay links send it.
    if (r == 0) r = set_int_option(fd, IPPROTO_IP, IP_TOS, 0xC0);
    if (r == 0) r = set_int_option(fd, IPPROTO_IP, IP_PKTINFO, 1);
    // Otherwise a raw socket receives every group any socket of the host joined.
    if (r == 0) r = set_int_option(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int clinux_ip_multicast_membership(int fd, int ifindex, uint32_t group, int join) {
    struct ip_mreqn request;
    memset(&request, 0, sizeof request);
    request.imr_multiaddr.s_addr = htonl(group);
    request.imr_ifindex = ifindex;
    int name = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
    return setsockopt(fd, IPPROTO_IP, name, &request, sizeof request) < 0 ? -errno : 0;
}

long clinux_ospf_receive(int fd, void *buffer, size_t length, int *ifindex, uint32_t *destination) {
    union {
        char bytes[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } control;
    struct sockaddr_in from;
    struct iovec iov = { .iov_base = buffer, .iov_len = length };
    struct msghdr msg = {
        .msg_name = &from, .msg_namelen = sizeof from,
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.bytes, .msg_controllen = sizeof control.bytes,
    };
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return -errno;
    if (msg.msg_flags & MSG_TRUNC) return -EMSGSIZE;
    *ifindex = -1;
    *destination = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof info);
            *ifindex = info.ipi_ifindex;
            *destination = ntohl(info.ipi_addr.s_addr);
        }
    }
    return (long)n;
}

long clinux_ospf_send(int fd, const void *packet, size_t length, uint32_t destination, int ifindex, uint32_t source) {
    union {
        char bytes[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(destination);
    struct iovec iov = { .iov_base = (void *)packet, .iov_len = length };
    struct msghdr msg = {
        .msg_name = &to, .msg_namelen = sizeof to,
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.bytes, .msg_controllen = sizeof control.bytes,
    };
    // The interface's own address as source even when it has several (§A.1: the source of an
    // OSPF packet is the address of the interface it goes out of).
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo info;
    memset(&info, 0, sizeof info);
    info.ipi_ifindex = ifindex;
    info.ipi_spec_dst.s_addr = htonl(source);
    memcpy(CMSG_DATA(c), &info, sizeof info);
    ssize_t n = sendmsg(fd, &msg, MSG_DONTWAIT);
    return n < 0 ? -errno : (long)n;
}

// MARK: Events (futex)

#include <linux/futex.h>
#include <sys/syscall.h>

uint32_t clinux_event_load(const clinux_event *event) {
    return __atomic_load_n(&event->value, __ATOMIC_ACQUIRE);
}

void clinux_event_post(clinux_event *event) {
    __atomic_add_fetch(&event->value, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &event->value, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

uint32_t clinux_event_wait(clinux_event *event, uint32_t seen) {
    // A batch's crypto takes tens of microseconds: spin a little first, then sleep.
    for (int i = 0; i < 2000; i++) {
        uint32_t now = __atomic_load_n(&event->value, __ATOMIC_ACQUIRE);
        if (now != seen) return now;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    }
    for (;;) {
        uint32_t now = __atomic_load_n(&event->value, __ATOMIC_ACQUIRE);
        if (now != seen) return now;
        syscall(SYS_futex, &event->value, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
    }
}
