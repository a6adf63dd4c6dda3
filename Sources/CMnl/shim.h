// libmnl for rtnetlink (addresses, links, routes). Macros Swift cannot import get inline wrappers;
// plain integer macros (NLM_F_REQUEST, NLMSG_ERROR, IFA_F_NODAD, RTPROT_*) import as they are.
#include <features.h>
#include <stdint.h>
#include <sys/types.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>

/// MNL_ALIGN: `len` rounded up to the 4-byte netlink alignment.
static inline int cmnl_align(int len) { return MNL_ALIGN(len); }

// MARK: - Netlink message header (linux/netlink.h)

/// NLM_F_DUMP (NLM_F_ROOT | NLM_F_MATCH), a compound macro Swift does not import.
static inline uint16_t cmnl_nlm_f_dump(void) { return NLM_F_DUMP; }

/// Offset, from the start of an NLMSG_ERROR message's payload, of the extended-ACK TLVs
/// (NLMSGERR_ATTR_*), or -1 when the message carries none or is too short to hold what its
/// header claims. The TLVs follow struct nlmsgerr and, unless the kernel capped the echo
/// (NLM_F_CAPPED, always so with NETLINK_CAP_ACK), the echoed request's payload.
static inline long cmnl_nlmsgerr_tlv_offset(const struct nlmsghdr *nlh) {
	size_t payload = mnl_nlmsg_get_payload_len(nlh);
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || payload < sizeof(struct nlmsgerr))
		return -1;
	size_t offset = sizeof(struct nlmsgerr);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
		if (err->msg.nlmsg_len < sizeof(struct nlmsghdr))
			return -1;
		offset += MNL_ALIGN(err->msg.nlmsg_len - sizeof(struct nlmsghdr));
	}
	return offset <= payload ? (long)offset : -1;
}

// MARK: - Attributes

/// MNL_ATTR_HDRLEN: the aligned size of struct nlattr. (mnl_attr_for_each itself is a macro;
/// the Swift side walks attributes with the functions it expands to, mnl_attr_ok and
/// mnl_attr_next.)
static inline size_t cmnl_attr_hdrlen(void) { return MNL_ATTR_HDRLEN; }

// MARK: - RTA_MULTIPATH next hops (RTNH_* macros)

/// RTNH_OK: `rtnh` is a whole struct rtnexthop, with its attributes, inside `remaining` bytes.
static inline int cmnl_rtnh_ok(const struct rtnexthop *rtnh, int remaining) {
	return remaining >= (int)sizeof(struct rtnexthop) && RTNH_OK(rtnh, remaining);
}
/// RTNH_NEXT.
static inline const struct rtnexthop *cmnl_rtnh_next(const struct rtnexthop *rtnh) {
	return RTNH_NEXT(rtnh);
}
/// RTNH_DATA: the first attribute of a next hop.
static inline const struct nlattr *cmnl_rtnh_data(const struct rtnexthop *rtnh) {
	return (const struct nlattr *)RTNH_DATA(rtnh);
}
/// RTNH_LENGTH(0): the aligned size of struct rtnexthop.
static inline int cmnl_rtnh_hdrlen(void) { return RTNH_LENGTH(0); }
