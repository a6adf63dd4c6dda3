// liburing. <features.h> must come first: without it clean debug builds fail at random with
// "'__fds_bits' from module 'SwiftGlibc' is not present in definition of 'fd_set'".
#include <features.h>
#include <liburing.h>
