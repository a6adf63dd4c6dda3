// libmnl for rtnetlink (addresses, links, routes). Macros Swift cannot import get inline wrappers.
#include <features.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>

static inline size_t cmnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }
static inline int cmnl_align(int len) { return MNL_ALIGN(len); }
