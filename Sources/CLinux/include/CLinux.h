// Linux calls Swift cannot make directly (variadic ioctl, fcntl) and structures it imports badly.
#ifndef CLINUX_H
#define CLINUX_H
#include <stdint.h>

/// Opens /dev/net/tun and attaches to `name` with IFF_TUN|IFF_NO_PI (plus IFF_VNET_HDR when
/// `vnetHeader` is non-zero). Writes the kernel's interface name (IFNAMSIZ bytes) to `outName`.
/// Returns the file descriptor, or -errno.
int clinux_tun_open(const char *name, int vnetHeader, char *outName);

/// TUNSETOFFLOAD with the given TUN_F_* flags. Returns 0 or -errno.
int clinux_tun_set_offload(int fd, unsigned int flags);

/// Sets O_NONBLOCK. Returns 0 or -errno.
int clinux_set_nonblocking(int fd);

#endif
