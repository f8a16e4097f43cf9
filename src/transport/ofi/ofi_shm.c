/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: shm next to tcp.  Two processes of one host that connect
 * over tcp move their data over libfabric's shm provider (memory copies
 * between the processes, no socket), chosen by the two ends themselves:
 *
 *   connector  when the address it connects to is one of this host's,
 *              opens an shm endpoint for the connection and appends an
 *              OFFER to its connect private data: magic, this host's
 *              identity, this process's, the endpoint's name;
 *   listener   takes it up when the identity is this host's but another
 *              process's, of the same user (shm's files are 0600: each end
 *              must open the other's), and the endpoint's file is there: opens
 *              its own shm endpoint, puts the connector's name in its
 *              address vector, sends the first (warm-up) write, and
 *              appends an ANSWER with its name to the accept data;
 *   connector  on FI_CONNECTED with an ANSWER, puts the listener's name
 *              in its address vector; without one, closes its endpoint.
 *
 * The tcp endpoint stays, idle, for what the event queue tells (the
 * peer's disconnect); a peer without this code ignores the trailer
 * (rps_ofi_unpack reads only what it knows), so old and new mix.
 *
 * Why not for a peer in the same process: shm hands such a peer the
 * other endpoint's own mapping (ep_name_list), which dies with that
 * endpoint while the first still uses it: a segfault when one side
 * closes first, seen in the ring's tests.  Between processes each maps
 * the other's file and the mapping outlives the peer.
 *
 * The host's identity is the kernel's boot id and the /dev/shm file
 * system (device, inode): a container with a /dev/shm of its own is
 * another host here.  The process's is a random number drawn once.
 */
#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "transport/ofi/ofi.h"
#include "util/clock.h"
#include "util/le.h"
#include "util/log.h"

#define SHM_MAGIC_OFFER	 0x4f485352u /* "RSHO" */
#define SHM_MAGIC_ANSWER 0x41485352u /* "RSHA" */
#define SHM_HOST_LEN	 24	     /* boot id hash, /dev/shm st_dev, st_ino */
#define SHM_PROC_LEN	 8
/* magic, host, process, effective uid, name length (u8) */
#define SHM_OFFER_HDR	 (4 + SHM_HOST_LEN + SHM_PROC_LEN + 4 + 1)
/* magic, name length (u8) */
#define SHM_ANSWER_HDR	 (4 + 1)
/* shm's endpoint names are ~20 bytes ("pid:index:n"); one byte of length */
#define SHM_NAME_MAX	 200
/* each endpoint's region is a file in /dev/shm (16 MiB on libfabric
 * 1.17, touched in part); one is not made where less is free than this,
 * as a container's small /dev/shm would fault (SIGBUS) when it fills */
#define SHM_FREE_MIN	 (64ull << 20)
/* how long a connector waits for the warm-up (see rps_ofi_shm_finish) */
#define SHM_WARM_MS	 500

static struct {
	pthread_once_t once;
	bool ok;
	bool force; /* RPS_OFI_SHM=force: same-process peers too (tests) */
	uint8_t host[SHM_HOST_LEN];
	uint8_t proc[SHM_PROC_LEN];
} shm_self = { .once = PTHREAD_ONCE_INIT };

static void shm_self_init(void)
{
	char boot[64] = "";
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	wcur_t host = { shm_self.host }, proc = { shm_self.proc };
	struct stat st;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	if (f) {
		if (!fgets(boot, sizeof(boot), f))
			boot[0] = 0;
		fclose(f);
	}
	/* without a boot id two hosts could look alike: no shm then */
	if (strlen(boot) < 32 || stat("/dev/shm", &st))
		return;
	for (const char *c = boot; *c && *c != '\n'; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	put_u64(&host, h);
	put_u64(&host, (uint64_t)st.st_dev);
	put_u64(&host, (uint64_t)st.st_ino);
	if (getrandom(shm_self.proc, sizeof(shm_self.proc), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(shm_self.proc))
		put_u64(&proc, rps_now_ns() ^ (uint64_t)getpid() << 32);
	shm_self.ok = true;
}

/* RPS_OFI_SHM: unset or 1 = shm for other processes of this host, 0 =
 * never, force = for this process's own peers too (a test of the shm
 * path in one process, whose peers must then close together) */
static bool shm_wanted(void)
{
	const char *env = getenv("RPS_OFI_SHM");

	if (env && strcmp(env, "0") == 0)
		return false;
	if (env && *env && strcmp(env, "1") && strcmp(env, "force"))
		rps_warn("ofi: RPS_OFI_SHM=%s: not 0, 1 or force; taken as 1", env);
	shm_self.force = env && strcmp(env, "force") == 0;
	return true;
}

static bool shm_self_ok(void)
{
	pthread_once(&shm_self.once, shm_self_init);
	return shm_self.ok;
}

/* ---- the domain ---------------------------------------------------------- */

void rps_ofi_shm_open(struct rps_ofi_transport *tp)
{
	rps_transport_attr_t shm_attr;
	struct fi_info *info = NULL;
	int ret;

	if (tp->rdm || !shm_wanted() || !shm_self_ok())
		return;
	/* the same capabilities, ordering and threading as the main domain */
	shm_attr = tp->base.attr;
	shm_attr.ofi_provider = "shm";
	shm_attr.device = NULL;
	ret = rps_ofi_getinfo(&shm_attr, FI_EP_RDM, &info);
	if (ret) {
		rps_dbg("ofi: no shm next to %s: %s", tp->base.device_name, fi_strerror(-ret));
		return;
	}
	/* one key and one address must name a region in both domains */
	if ((uint64_t)info->domain_attr->mr_mode != tp->mr_mode ||
	    info->domain_attr->cq_data_size < sizeof(uint64_t)) {
		rps_dbg("ofi: no shm next to %s: mr_mode 0x%x, not 0x%llx", tp->base.device_name,
			info->domain_attr->mr_mode, (unsigned long long)tp->mr_mode);
		fi_freeinfo(info);
		return;
	}
	tp->shm.info = fi_dupinfo(info);
	fi_freeinfo(info);
	if (!tp->shm.info)
		return;
	ret = fi_fabric(tp->shm.info->fabric_attr, &tp->shm.fabric, NULL);
	if (!ret)
		ret = fi_domain(tp->shm.fabric, tp->shm.info, &tp->shm.domain, NULL);
	if (ret) {
		rps_dbg("ofi: no shm next to %s: %s", tp->base.device_name, fi_strerror(-ret));
		rps_ofi_shm_close(tp);
		return;
	}
	tp->shm.inject_size = tp->shm.info->tx_attr->inject_size;
	/* its receive size is the depth of its command queue: see
	 * ofi_fit_queues */
	tp->shm.max_recv = (uint32_t)tp->shm.info->rx_attr->size;
	rps_dbg("ofi: %s: shm next to it for peers on this host", tp->base.device_name);
}

void rps_ofi_shm_close(struct rps_ofi_transport *tp)
{
	if (tp->shm.domain)
		fi_close(&tp->shm.domain->fid);
	if (tp->shm.fabric)
		fi_close(&tp->shm.fabric->fid);
	if (tp->shm.info)
		fi_freeinfo(tp->shm.info);
	memset(&tp->shm, 0, sizeof(tp->shm));
}

/* ---- which peers ---------------------------------------------------------- */

static bool shm_same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* Whether ss is an address of this host (loopback or an interface's). */
static bool shm_addr_is_local(const struct sockaddr_storage *ss)
{
	struct ifaddrs *ifa, *cur;
	bool local = false;

	if (ss->ss_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127)
		return true;
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr))
		return true;
	if (getifaddrs(&ifa))
		return false;
	for (cur = ifa; cur && !local; cur = cur->ifa_next)
		local = cur->ifa_addr && shm_same_addr(cur->ifa_addr, ss);
	freeifaddrs(ifa);
	return local;
}

/* Room in /dev/shm for one more endpoint's region. */
static bool shm_room(void)
{
	struct statvfs vfs;

	return statvfs("/dev/shm", &vfs) == 0 &&
	       (unsigned long long)vfs.f_bavail * vfs.f_frsize >= SHM_FREE_MIN;
}

/* Whether the file behind an shm endpoint name is here. */
static bool shm_file_here(const uint8_t *name, size_t len)
{
	char path[RPS_OFI_RDM_NAME_MAX + 16];

	return rps_ofi_shm_path(name, len, path, sizeof(path)) && access(path, F_OK) == 0;
}

/* Opens conn->shm_ep (and its AV) in the shm domain; its name in name. */
static int shm_ep_open(struct rps_ofi_conn *conn, uint8_t *name, size_t *len_p)
{
	struct rps_ofi_transport *tp = conn->tp;
	uint8_t full[RPS_OFI_RDM_NAME_MAX];
	int ret;

	ret = rps_ofi_rdm_ep_open(conn, tp->shm.domain, tp->shm.info, conn->cq->shm_cq,
				  &conn->shm_ep, full, len_p);
	if (ret) {
		conn->shm_ep = NULL;
		return ret;
	}
	/* until conn is freed: what the endpoint left in shm_cq must be
	 * read (or forgotten) before nobody reads shm_cq any more */
	if (!conn->shm_counted)
		atomic_fetch_add(&conn->cq->nshm, 1);
	conn->shm_counted = true;
	/* a name is a string: its terminating 0 is in len */
	while (*len_p && !full[*len_p - 1])
		(*len_p)--;
	if (*len_p == 0 || *len_p > SHM_NAME_MAX) {
		rps_dbg("%s: connection to %s: shm endpoint name of %zu bytes, not used",
			tp->base.device_name, conn->base.peer, *len_p);
		rps_ofi_shm_ep_close(conn);
		return -ENAMETOOLONG;
	}
	memcpy(name, full, *len_p);
	return 0;
}

/* Opens conn->shm_ep for an offer or answer of hdr bytes plus the name
 * after raw_len bytes of private data, when /dev/shm has room, the
 * receive pool fits shm's queue and the whole fits the private data. */
static int shm_ep_open_for(struct rps_ofi_conn *conn, size_t raw_len, size_t hdr, uint8_t *name,
			   size_t *len_p)
{
	if (conn->nrecv > conn->tp->shm.max_recv || !shm_room() || shm_ep_open(conn, name, len_p))
		return -1;
	if (raw_len + hdr + *len_p > RPS_OFI_CM_DATA_MAX) {
		rps_ofi_shm_ep_close(conn);
		return -1;
	}
	return 0;
}

void rps_ofi_shm_ep_close(struct rps_ofi_conn *conn)
{
	int ret;

	if (!conn->shm_ep)
		return;
	rps_ofi_cq_lock(conn->cq);
	ret = fi_close(&conn->shm_ep->fid);
	rps_ofi_cq_unlock(conn->cq);
	if (ret)
		rps_warn("%s: close shm endpoint to %s: %s", conn->tp->base.device_name,
			 conn->base.peer, fi_strerror(-ret));
	conn->shm_ep = NULL;
	if (conn->av)
		fi_close(&conn->av->fid);
	conn->av = NULL;
}

/* ---- the offer and the answer --------------------------------------------- */

size_t rps_ofi_shm_offer(struct rps_ofi_conn *conn, const struct sockaddr_storage *ss, uint8_t *raw,
			 size_t raw_len)
{
	struct rps_ofi_transport *tp = conn->tp;
	uint8_t name[SHM_NAME_MAX];
	wcur_t c = { raw + raw_len };
	size_t len;

	if (!tp->shm.domain || !shm_addr_is_local(ss) ||
	    shm_ep_open_for(conn, raw_len, SHM_OFFER_HDR, name, &len))
		return raw_len;
	put_u32(&c, SHM_MAGIC_OFFER);
	put_bytes(&c, shm_self.host, SHM_HOST_LEN);
	put_bytes(&c, shm_self.proc, SHM_PROC_LEN);
	put_u32(&c, (uint32_t)geteuid());
	put_u8(&c, (uint8_t)len);
	put_bytes(&c, name, len);
	return (size_t)(c.p - raw);
}

void rps_ofi_shm_read_offer(struct rps_ofi_conn_req *req, const uint8_t *tail, size_t len)
{
	struct rps_ofi_transport *tp = req->l->tp;
	rcur_t c = { tail };
	const uint8_t *host, *proc;
	uint32_t uid;
	size_t name_len;

	req->peer_name_len = 0;
	if (!tp->shm.domain || len < SHM_OFFER_HDR || get_u32(&c) != SHM_MAGIC_OFFER)
		return;
	host = c.p;
	proc = host + SHM_HOST_LEN;
	c.p = proc + SHM_PROC_LEN;
	uid = get_u32(&c);
	name_len = get_u8(&c);
	if (!name_len || len < SHM_OFFER_HDR + name_len)
		return;
	/* another host, or this very process (see the top of the file) */
	if (memcmp(host, shm_self.host, SHM_HOST_LEN) ||
	    (!memcmp(proc, shm_self.proc, SHM_PROC_LEN) && !shm_self.force))
		return;
	/* another user (root and one who is not, say): one of the two
	 * could not open the other's file, so the answer would fail there */
	if (uid != (uint32_t)geteuid()) {
		rps_dbg("%s: %s offers shm, but runs as another user: tcp", tp->base.device_name,
			req->base.peer);
		return;
	}
	if (!shm_file_here(c.p, name_len)) {
		rps_dbg("%s: %s offers shm, but its endpoint's file is not in /dev/shm",
			tp->base.device_name, req->base.peer);
		return;
	}
	memcpy(req->peer_name, c.p, name_len);
	req->peer_name_len = name_len;
}

size_t rps_ofi_shm_answer(struct rps_ofi_conn *conn, const struct rps_ofi_conn_req *req,
			  uint8_t *raw, size_t raw_len)
{
	uint8_t name[SHM_NAME_MAX];
	wcur_t c = { raw + raw_len };
	size_t len;
	int ret;

	if (!req->peer_name_len || shm_ep_open_for(conn, raw_len, SHM_ANSWER_HDR, name, &len))
		return raw_len;
	ret = rps_ofi_rdm_insert(conn, req->peer_name, req->peer_name_len);
	/* the first write sends our name into the connector's region: it
	 * is there before the connector hears FI_CONNECTED, so the
	 * connector's first drive maps us back (rps_ofi_shm_finish) */
	if (!ret) {
		ret = rps_ofi_rdm_warm_once(conn, conn->shm_ep);
		ret = ret == -EAGAIN ? 0 : ret;
	}
	if (ret) {
		rps_ofi_shm_ep_close(conn);
		return raw_len;
	}
	put_u32(&c, SHM_MAGIC_ANSWER);
	put_u8(&c, (uint8_t)len);
	put_bytes(&c, name, len);
	/* the acceptor's data moves over shm from now (rps_ofi_shm_finish) */
	conn->shm_peer_len = req->peer_name_len;
	return (size_t)(c.p - raw);
}

int rps_ofi_shm_read_answer(struct rps_ofi_conn *conn, const uint8_t *tail, size_t len)
{
	rcur_t c = { tail };
	size_t name_len;

	if (!conn->shm_ep || len < SHM_ANSWER_HDR || get_u32(&c) != SHM_MAGIC_ANSWER)
		return 0;
	name_len = get_u8(&c);
	if (!name_len || len < SHM_ANSWER_HDR + name_len)
		return -RPS_ERR_PROTO;
	conn->shm_peer = malloc(name_len);
	if (!conn->shm_peer)
		return -ENOMEM;
	memcpy(conn->shm_peer, c.p, name_len);
	conn->shm_peer_len = name_len;
	return 0;
}

/* ---- switching over ------------------------------------------------------- */

/* The connection's data moves on its shm endpoint from now. */
static int shm_use(struct rps_ofi_conn *conn)
{
	struct rps_ofi_transport *tp = conn->tp;
	size_t inject = tp->shm.inject_size;
	int ret = rps_ofi_conn_reg_recvs(conn, tp->shm.domain);

	if (ret)
		return ret;
	conn->data_ep = conn->shm_ep;
	conn->rdm = true;
	conn->shm = true;
	conn->base.over_shm = true;
	conn->inline_max = tp->base.attr.max_inline < inject ? tp->base.attr.max_inline : inject;
	rps_dbg("%s: connection to %s: data over shm", tp->base.device_name, conn->base.peer);
	return 0;
}

/* The warm-up, both ways: each end's first write answers -EAGAIN until
 * the other end's progress has taken its name in.  The acceptor sent its
 * own before FI_CONNECTED, so the connector's first drive, below, lets
 * the acceptor's writes through; the connector's write is taken in by
 * the acceptor as it waits here too, or by its next poll.  Neither end
 * fails for a peer slow to drive: its first posts then answer -EAGAIN
 * (a full send queue, to the caller) until it does. */
int rps_ofi_shm_finish(struct rps_ofi_conn *conn, uint64_t deadline)
{
	uint64_t warm = rps_deadline_ns(SHM_WARM_MS);
	int ret;

	if (!conn->shm_ep)
		return 0;
	if (!conn->shm_peer_len) {
		/* the peer did not take it up: another host, or old code */
		rps_ofi_shm_ep_close(conn);
		return 0;
	}
	if (conn->active) {
		ret = rps_ofi_rdm_insert(conn, conn->shm_peer, conn->shm_peer_len);
		if (ret)
			return ret;
	}
	ret = rps_ofi_rdm_warm(conn, conn->shm_ep, warm < deadline ? warm : deadline);
	if (ret == -ETIMEDOUT)
		rps_dbg("%s: connection to %s: shm warm-up not answered yet",
			conn->tp->base.device_name, conn->base.peer);
	else if (ret)
		return ret;
	else /* the peer mapped our region (see rps_ofi_rdm_unlink_own) */
		rps_ofi_rdm_unlink_own(conn, conn->shm_ep);
	/* take the peer's name in if it came after our write went through */
	rps_ofi_cq_drive(conn->cq);
	return shm_use(conn);
}
