/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: the ops table, probe/open/close of fabric + domain + EQ,
 * memory registration, completion queues, and connection tokens.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "transport/ofi/ofi.h"
#include "util/clock.h"
#include "util/log.h"

#define OFI_DEFAULT_PROVIDER "tcp"

static const char *ofi_prov_name(const rps_transport_attr_t *attr)
{
	return attr->ofi_provider ? attr->ofi_provider : OFI_DEFAULT_PROVIDER;
}

/* hints for an endpoint (FI_EP_MSG, or FI_EP_RDM: ofi_rdm.c) with RMA and
 * remote CQ data; ep_type FI_EP_UNSPEC asks only whether the provider
 * exists at all */
static struct fi_info *ofi_hints(const rps_transport_attr_t *attr, enum fi_ep_type ep_type)
{
	struct fi_info *hints = fi_allocinfo();

	if (!hints)
		return NULL;
	hints->fabric_attr->prov_name = strdup(ofi_prov_name(attr));
	if (attr->device)
		hints->domain_attr->name = strdup(attr->device);
	if (!hints->fabric_attr->prov_name || (attr->device && !hints->domain_attr->name)) {
		fi_freeinfo(hints);
		return NULL;
	}
	if (ep_type == FI_EP_UNSPEC)
		return hints;
	hints->ep_attr->type = ep_type;
	hints->caps = FI_MSG | FI_RMA | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE;
	hints->mode = FI_CONTEXT;
	/* every mode we know how to honour: we pass descriptors, use
	 * virtual addresses or offsets as told, and read back keys */
	hints->domain_attr->mr_mode =
		FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
	/* engine threads share the domain, each with its own CQ */
	hints->domain_attr->threading = FI_THREAD_SAFE;
	hints->domain_attr->cq_data_size = sizeof(uint64_t);
	/* what verbs' RC gives and the callers build on: data WRITTEN
	 * before a WRITE_WITH_IMM or SEND is there when it is seen, a READ
	 * after a WRITE reads it.  FI_EP_MSG on tcp keeps them anyway; shm
	 * would otherwise let a large operation (copied at once by the
	 * initiator) pass a small one still queued for the target. */
	hints->tx_attr->msg_order = FI_ORDER_RAR | FI_ORDER_RAW | FI_ORDER_WAW | FI_ORDER_SAW |
				    FI_ORDER_SAS | FI_ORDER_WAS | FI_ORDER_RAS;
	hints->rx_attr->msg_order = hints->tx_attr->msg_order;
	/* no queue sizes: tcp offers at most 256 and would match nothing;
	 * open() fits what it can (see there) */
	return hints;
}

int rps_ofi_getinfo(const rps_transport_attr_t *attr, enum fi_ep_type ep_type,
		    struct fi_info **info_p)
{
	struct fi_info *hints = ofi_hints(attr, ep_type);
	int ret;

	if (!hints)
		return -ENOMEM;
	ret = fi_getinfo(RPS_OFI_API_VERSION, NULL, NULL, 0, hints, info_p);
	fi_freeinfo(hints);
	return ret;
}

/* Says why no endpoint info matched. */
static void ofi_explain_nodata(const rps_transport_attr_t *attr)
{
	rps_transport_attr_t any = *attr;
	const char *prov = ofi_prov_name(attr);
	struct fi_info *info;

	any.device = NULL;
	if (rps_ofi_getinfo(&any, FI_EP_UNSPEC, &info) == 0) {
		fi_freeinfo(info);
		rps_err("ofi: libfabric provider '%s' has no FI_EP_MSG or FI_EP_RDM endpoint "
			"with ordered RMA and 8 bytes of remote CQ data (use tcp or shm)",
			prov);
		return;
	}
	rps_err("ofi: libfabric provider '%s' not found (see fi_info -l)", prov);
}

static void ofi_explain_domain(const struct fi_info *list, const char *device)
{
	char names[128] = "";
	size_t off = 0;

	for (const struct fi_info *cur = list; cur && off < sizeof(names); cur = cur->next) {
		const struct fi_info *seen = list;

		/* one info per address family: name each domain once */
		while (seen != cur && strcmp(seen->domain_attr->name, cur->domain_attr->name))
			seen = seen->next;
		if (seen != cur)
			continue;
		off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", off ? ", " : "",
					cur->domain_attr->name);
	}
	rps_err("ofi: %s has no domain '%s' (domains: %s)", list->fabric_attr->prov_name, device,
		names);
}

/* The info to open: the first FI_EP_MSG one, else (a provider without
 * connected endpoints, as shm) the first FI_EP_RDM one, on domain
 * attr->device when set (not every provider filters on the hint).  0 or
 * -ENODEV/-ENOMEM. */
static int ofi_select(const rps_transport_attr_t *attr, bool quiet, struct fi_info **info_p)
{
	struct fi_info *list, *cur;
	int ret = rps_ofi_getinfo(attr, FI_EP_MSG, &list);

	if (ret == -FI_ENODATA)
		ret = rps_ofi_getinfo(attr, FI_EP_RDM, &list);

	if (ret) {
		if (quiet)
			return -ENODEV;
		if (ret == -FI_ENODATA)
			ofi_explain_nodata(attr);
		else
			rps_err("ofi: fi_getinfo(%s): %s", ofi_prov_name(attr), fi_strerror(-ret));
		return ret == -FI_ENOMEM ? -ENOMEM : -ENODEV;
	}
	for (cur = list; cur && attr->device; cur = cur->next) {
		if (strcmp(cur->domain_attr->name, attr->device) == 0)
			break;
	}
	if (!cur) {
		if (!quiet)
			ofi_explain_domain(list, attr->device);
		fi_freeinfo(list);
		return -ENODEV;
	}
	*info_p = fi_dupinfo(cur);
	fi_freeinfo(list);
	return *info_p ? 0 : -ENOMEM;
}

static int rps_ofi_probe(const rps_transport_attr_t *attr)
{
	struct fi_info *info;

	if (ofi_select(attr, true, &info))
		return 0;
	fi_freeinfo(info);
	return 1;
}

static int ofi_open_objects(struct rps_ofi_transport *tp)
{
	struct fi_eq_attr eq_attr = { .wait_obj = FI_WAIT_NONE };
	const char *dev = tp->info->domain_attr->name;
	int ret;

	ret = fi_fabric(tp->info->fabric_attr, &tp->fabric, NULL);
	if (ret) {
		rps_err("ofi: fi_fabric(%s): %s", dev, fi_strerror(-ret));
		return ret;
	}
	ret = fi_domain(tp->fabric, tp->info, &tp->domain, NULL);
	if (ret) {
		rps_err("ofi: fi_domain(%s): %s", dev, fi_strerror(-ret));
		return ret;
	}
	ret = fi_eq_open(tp->fabric, &eq_attr, &tp->eq, NULL);
	if (ret) {
		rps_err("ofi: fi_eq_open(%s): %s", dev, fi_strerror(-ret));
		return ret;
	}
	return 0;
}

static void ofi_close_objects(struct rps_ofi_transport *tp)
{
	if (tp->eq)
		fi_close(&tp->eq->fid);
	if (tp->domain)
		fi_close(&tp->domain->fid);
	if (tp->fabric)
		fi_close(&tp->fabric->fid);
}

static void ofi_tp_free(struct rps_ofi_transport *tp)
{
	for (uint32_t i = 0; i < RPS_OFI_TOKEN_NCHUNKS; i++)
		free(atomic_load(&tp->token_chunk[i]));
	free(tp->token_free);
	if (tp->info)
		fi_freeinfo(tp->info);
	pthread_mutex_destroy(&tp->lock);
	free(tp);
}

/* Asks for the queue sizes attr wants, within what the provider offers.
 * A send queue smaller than sq_depth only makes posts return -EAGAIN
 * sooner; receive buffers beyond the provider's queue are not posted. */
static void ofi_fit_queues(struct rps_ofi_transport *tp, const rps_transport_attr_t *attr)
{
	struct fi_tx_attr *tx = tp->info->tx_attr;
	struct fi_rx_attr *rx = tp->info->rx_attr;

	/* RDM (shm): the receive size is also the depth of the queue the
	 * peers' commands of every kind (WRITEs, READs, messages not yet
	 * matched) wait in until the endpoint's progress takes them, so it
	 * stays as large as the provider makes it */
	if (tp->info->ep_attr->type == FI_EP_RDM) {
		if (rx->size < attr->recv_depth)
			rps_warn("ofi: %s posts at most %zu receives per connection: "
				 "recv_depth %u is cut to that",
				 tp->base.device_name, rx->size, attr->recv_depth);
		tp->max_recv = (uint32_t)rx->size;
		return;
	}
	if (tx->size >= attr->sq_depth)
		tx->size = attr->sq_depth;
	else
		rps_info("ofi: %s queues %zu sends per connection, fewer than "
			 "sq_depth %u: posts past it return -EAGAIN",
			 tp->base.device_name, tx->size, attr->sq_depth);
	if (rx->size >= attr->recv_depth)
		rx->size = attr->recv_depth;
	else
		rps_warn("ofi: %s posts at most %zu receives per connection: "
			 "recv_depth %u is cut to that",
			 tp->base.device_name, rx->size, attr->recv_depth);
	tp->max_recv = (uint32_t)rx->size;
}

static int rps_ofi_open(const rps_transport_attr_t *attr, rps_transport_t **tp_p)
{
	struct rps_ofi_transport *tp;
	int ret;

	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	pthread_mutex_init(&tp->lock, NULL);
	rps_list_init(&tp->cqs);
	rps_list_init(&tp->conns);
	atomic_init(&tp->next_key, 1);

	ret = ofi_select(attr, false, &tp->info);
	if (ret) {
		tp->info = NULL;
		goto err_free;
	}
	if (tp->info->domain_attr->cq_data_size < sizeof(uint64_t)) {
		rps_err("ofi: %s/%s carries %zu bytes of remote CQ data, need 8",
			tp->info->fabric_attr->prov_name, tp->info->domain_attr->name,
			tp->info->domain_attr->cq_data_size);
		ret = -ENODEV;
		goto err_free;
	}
	tp->rdm = tp->info->ep_attr->type == FI_EP_RDM;
	tp->mr_mode = (uint64_t)tp->info->domain_attr->mr_mode;
	tp->key_size = tp->info->domain_attr->mr_key_size;
	if (!tp->key_size || tp->key_size > sizeof(uint64_t))
		tp->key_size = sizeof(uint64_t);
	if (getrandom(&tp->key_seed, sizeof(tp->key_seed), GRND_NONBLOCK) != sizeof(tp->key_seed))
		tp->key_seed = rps_now_ns() ^ (uintptr_t)tp;
	tp->inject_size = tp->info->tx_attr->inject_size;
	snprintf(tp->base.device_name, sizeof(tp->base.device_name), "%s/%s",
		 tp->info->fabric_attr->prov_name, tp->info->domain_attr->name);
	ofi_fit_queues(tp, attr);

	ret = ofi_open_objects(tp);
	if (ret) {
		ret = -ENODEV;
		goto err_close;
	}
	rps_ofi_shm_open(tp);
	tp->base.pd = &tp->pd;
	rps_dbg("ofi: opened %s (fabric %s, %s, mr_mode 0x%llx, inject %zu)", tp->base.device_name,
		tp->info->fabric_attr->name, tp->rdm ? "FI_EP_RDM" : "FI_EP_MSG",
		(unsigned long long)tp->mr_mode, tp->inject_size);
	*tp_p = &tp->base;
	return 0;

err_close:
	ofi_close_objects(tp);
err_free:
	ofi_tp_free(tp);
	return ret;
}

static void rps_ofi_close(rps_transport_t *btp)
{
	struct rps_ofi_transport *tp = rps_ofi_tp(btp);

	if (!rps_list_empty(&tp->conns) || !rps_list_empty(&tp->cqs))
		rps_warn("%s: closed with connections or CQs still open", btp->device_name);
	rps_ofi_shm_close(tp);
	ofi_close_objects(tp);
	ofi_tp_free(tp);
}

/* ---- memory ---------------------------------------------------------- */

/* A bijective 64-bit mix (the splitmix64 finalizer): distinct counters
 * give distinct keys, yet neighbouring regions do not get neighbouring
 * keys, so a peer's off-by-one or stale key misses instead of landing in
 * another region (every region of the domain shares one key space). */
static uint64_t ofi_key_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t ofi_next_key(struct rps_ofi_transport *tp)
{
	uint64_t key = ofi_key_mix(atomic_fetch_add(&tp->next_key, 1) ^ tp->key_seed);

	if (tp->key_size < sizeof(key))
		key &= (1ull << (8 * tp->key_size)) - 1;
	return key;
}

int rps_ofi_mr_reg_raw(struct rps_ofi_transport *tp, struct fid_domain *domain, void *addr,
		       size_t len, uint64_t access, struct fid_mr **mr_p, uint64_t *key_p)
{
	uint64_t key;
	int ret, tries = 0;

	do { /* a key truncated to a short mr_key_size may collide */
		key = ofi_next_key(tp);
		ret = fi_mr_reg(domain, addr, len, access, 0, key, 0, mr_p, NULL);
	} while (ret == -FI_ENOKEY && ++tries < 16);
	if (ret) {
		rps_err("%s: register %p+%zu: fi_mr_reg: %s", tp->base.device_name, addr, len,
			fi_strerror(-ret));
		return ret == -FI_ENOMEM ? -ENOMEM : -EINVAL;
	}
	*key_p = (tp->mr_mode & FI_MR_PROV_KEY) ? fi_mr_key(*mr_p) : key;
	return 0;
}

/* Every PD is the domain here (ofi_pd.c). */
int rps_ofi_mr_reg(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p)
{
	struct rps_ofi_transport *tp = rps_ofi_tp(pd->tp);
	/* any region may be the source of a WRITE or SEND */
	uint64_t fi_access = FI_SEND | FI_WRITE;
	struct rps_ofi_mr *mr;
	uint64_t key;
	int ret;

	if (access & RPS_ACCESS_LOCAL_WRITE)
		fi_access |= FI_RECV | FI_READ;
	if (access & RPS_ACCESS_REMOTE_WRITE)
		fi_access |= FI_REMOTE_WRITE;
	if (access & RPS_ACCESS_REMOTE_READ)
		fi_access |= FI_REMOTE_READ;

	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return -ENOMEM;
	ret = rps_ofi_mr_reg_raw(tp, tp->domain, addr, len, fi_access, &mr->mr, &key);
	if (ret) {
		free(mr);
		return ret;
	}
	mr->desc = fi_mr_desc(mr->mr);
	/* the same key in shm's domain: a peer's rkey is good on either
	 * path (mr_mode is the same, rps_ofi_shm_open) */
	if (tp->shm.domain) {
		ret = fi_mr_reg(tp->shm.domain, addr, len, fi_access, 0, key, 0, &mr->shm_mr, NULL);
		if (ret) {
			rps_err("%s: register %p+%zu with shm: fi_mr_reg: %s", tp->base.device_name,
				addr, len, fi_strerror(-ret));
			fi_close(&mr->mr->fid);
			free(mr);
			return ret == -FI_ENOMEM ? -ENOMEM : -EINVAL;
		}
		mr->shm_desc = fi_mr_desc(mr->shm_mr);
	}
	/* tcp (mr_mode 0) addresses a region by offset; FI_MR_VIRT_ADDR and
	 * the old FI_MR_BASIC by virtual address */
	mr->base.remote.addr = ((tp->mr_mode & FI_MR_VIRT_ADDR) || tp->mr_mode == FI_MR_BASIC)
				       ? (uintptr_t)addr
				       : 0;
	mr->base.remote.key = key;
	mr->base.remote.len = len;
	*mr_p = &mr->base;
	return 0;
}

static void rps_ofi_mr_dereg(rps_mr_t *bmr)
{
	struct rps_ofi_mr *mr = rps_ofi_mr(bmr);
	int ret = mr->shm_mr ? fi_close(&mr->shm_mr->fid) : 0;

	if (!ret)
		ret = fi_close(&mr->mr->fid);
	else
		(void)fi_close(&mr->mr->fid);

	if (ret)
		rps_warn("%s: deregister %p+%zu: %s", bmr->tp->device_name, bmr->addr, bmr->len,
			 fi_strerror(-ret));
	free(mr);
}

/* ---- completion queues ------------------------------------------------ */

static int rps_ofi_cq_create(rps_transport_t *btp, uint32_t depth, rps_cq_t **cq_p)
{
	struct rps_ofi_transport *tp = rps_ofi_tp(btp);
	struct fi_cq_attr attr = {
		.size = depth,
		.format = FI_CQ_FORMAT_DATA,
		.wait_obj = FI_WAIT_NONE,
	};
	struct rps_ofi_cq *cq;
	int ret;

	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	cq->tp = tp;
	rps_list_init(&cq->link);
	rps_list_init(&cq->graves);
	pthread_mutex_init(&cq->grave_lock, NULL);
	pthread_mutex_init(&cq->rdm_lock, NULL);
	cq->repost_cap = depth;
	cq->repost = calloc(depth, sizeof(*cq->repost));
	/* see struct rps_ofi_cq for why twice the depth */
	cq->parked_cap = 2 * depth;
	cq->parked = calloc(cq->parked_cap, sizeof(*cq->parked));
	if (!cq->repost || !cq->parked) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = fi_cq_open(tp->domain, &attr, &cq->cq, cq);
	if (!ret && tp->shm.domain) {
		ret = fi_cq_open(tp->shm.domain, &attr, &cq->shm_cq, cq);
		if (ret) {
			fi_close(&cq->cq->fid);
			cq->shm_cq = NULL;
		}
	}
	if (ret) {
		rps_err("%s: fi_cq_open(%u entries): %s", btp->device_name, depth,
			fi_strerror(-ret));
		ret = ret == -FI_ENOMEM ? -ENOMEM : -EINVAL;
		goto err_free;
	}
	pthread_mutex_lock(&tp->lock);
	rps_list_add_tail(&tp->cqs, &cq->link);
	pthread_mutex_unlock(&tp->lock);
	*cq_p = &cq->base;
	return 0;

err_free:
	pthread_mutex_destroy(&cq->rdm_lock);
	pthread_mutex_destroy(&cq->grave_lock);
	free(cq->parked);
	free(cq->repost);
	free(cq);
	return ret;
}

static void rps_ofi_cq_destroy(rps_cq_t *bcq)
{
	struct rps_ofi_cq *cq = rps_ofi_cq(bcq);
	int ret;

	pthread_mutex_lock(&cq->tp->lock);
	rps_list_del(&cq->link);
	pthread_mutex_unlock(&cq->tp->lock);
	ret = fi_close(&cq->cq->fid);
	if (!ret && cq->shm_cq)
		ret = fi_close(&cq->shm_cq->fid);
	if (ret)
		rps_warn("%s: destroy CQ: %s (connections still bound?)", bcq->tp->device_name,
			 fi_strerror(-ret));
	/* the CQ is gone: nothing can name a grave any more */
	while (!rps_list_empty(&cq->graves)) {
		struct rps_ofi_conn *conn =
			container_of(cq->graves.next, struct rps_ofi_conn, link);

		rps_list_del(&conn->link);
		rps_ofi_conn_free(conn);
	}
	pthread_mutex_destroy(&cq->rdm_lock);
	pthread_mutex_destroy(&cq->grave_lock);
	free(cq->parked);
	free(cq->repost);
	free(cq);
}

/* ---- connection tokens ------------------------------------------------ */

/* tp->lock held.  Publishes conn under a fresh token. */
int rps_ofi_token_alloc(struct rps_ofi_transport *tp, struct rps_ofi_conn *conn)
{
	struct rps_ofi_token_chunk *chunk;
	uint32_t idx;

	if (tp->token_nfree) {
		idx = tp->token_free[--tp->token_nfree];
	} else {
		if (tp->token_next > RPS_OFI_TOKEN_IDX_MASK)
			return -EMFILE;
		idx = tp->token_next;
		if (idx % RPS_OFI_TOKEN_CHUNK == 0) {
			chunk = calloc(1, sizeof(*chunk));
			if (!chunk)
				return -ENOMEM;
			atomic_store(&tp->token_chunk[idx / RPS_OFI_TOKEN_CHUNK], chunk);
		}
		tp->token_next++;
	}
	/* generation 0 is never used, so no token is 0 */
	tp->token_gen = tp->token_gen % ((1u << (32 - RPS_OFI_TOKEN_IDX_BITS)) - 1) + 1;
	conn->token = tp->token_gen << RPS_OFI_TOKEN_IDX_BITS | idx;
	chunk = atomic_load(&tp->token_chunk[idx / RPS_OFI_TOKEN_CHUNK]);
	atomic_store(&chunk->conn[idx % RPS_OFI_TOKEN_CHUNK], conn);
	return 0;
}

/* tp->lock held. */
void rps_ofi_token_free(struct rps_ofi_transport *tp, struct rps_ofi_conn *conn)
{
	uint32_t idx = conn->token & RPS_OFI_TOKEN_IDX_MASK;
	struct rps_ofi_token_chunk *chunk;
	uint32_t *grown;

	if (!conn->token)
		return;
	chunk = atomic_load(&tp->token_chunk[idx / RPS_OFI_TOKEN_CHUNK]);
	atomic_store(&chunk->conn[idx % RPS_OFI_TOKEN_CHUNK], NULL);
	conn->token = 0;
	if (tp->token_nfree == tp->token_free_cap) {
		uint32_t cap = tp->token_free_cap ? 2 * tp->token_free_cap : 64;

		grown = realloc(tp->token_free, cap * sizeof(*grown));
		if (!grown)
			return; /* the index leaks; harmless */
		tp->token_free = grown;
		tp->token_free_cap = cap;
	}
	tp->token_free[tp->token_nfree++] = idx;
}

/* Data path, lock-free: chunks never move and entries are atomic. */
struct rps_ofi_conn *rps_ofi_token_lookup(struct rps_ofi_transport *tp, uint32_t token)
{
	uint32_t idx = token & RPS_OFI_TOKEN_IDX_MASK;
	struct rps_ofi_token_chunk *chunk;
	struct rps_ofi_conn *conn;

	chunk = atomic_load_explicit(&tp->token_chunk[idx / RPS_OFI_TOKEN_CHUNK],
				     memory_order_acquire);
	if (!chunk)
		return NULL;
	conn = atomic_load_explicit(&chunk->conn[idx % RPS_OFI_TOKEN_CHUNK], memory_order_acquire);
	return conn && conn->token == token ? conn : NULL;
}

/* ---- errors ------------------------------------------------------------ */

int rps_ofi_comp_errno(int fi_err)
{
	/* libfabric errors below FI_ERRNO_OFFSET are errno values */
	switch (fi_err) {
	case 0:
		return 0;
	case ECANCELED:
		return -RPS_ERR_FLUSHED;
	case EACCES:
	case EPERM:
	case EKEYREJECTED:
	case FI_ENOKEY:
		return -RPS_ERR_REMOTE_ACCESS;
	case FI_ETRUNC:
	case EMSGSIZE:
		return -RPS_ERR_TRUNCATED;
	case ETIMEDOUT:
	case EHOSTUNREACH:
		return -RPS_ERR_RETRY_EXCEEDED;
	case EREMOTEIO:
		return -RPS_ERR_REMOTE_OP;
	case ECONNRESET:
	case ECONNABORTED:
	case ENOTCONN:
	case EPIPE:
	case ESHUTDOWN:
		return -ECONNRESET;
	default:
		return fi_err > 0 && fi_err < FI_ERRNO_OFFSET ? -fi_err : -EIO;
	}
}

/* ---- the ops table ------------------------------------------------------ */

static const struct rps_transport_ops rps_ofi_ops = {
	.size = sizeof(struct rps_transport_ops),
	.name = "ofi",
	.probe = rps_ofi_probe,
	.open = rps_ofi_open,
	.close = rps_ofi_close,
	.progress = rps_ofi_progress,
	.pd_alloc = rps_ofi_pd_alloc,
	.pd_free = rps_ofi_pd_free,
	.mr_reg = rps_ofi_mr_reg,
	.mr_dereg = rps_ofi_mr_dereg,
	.cq_create = rps_ofi_cq_create,
	.cq_destroy = rps_ofi_cq_destroy,
	.cq_poll = rps_ofi_cq_poll,
	.cq_progress = rps_ofi_cq_progress,
	.listen = rps_ofi_listen,
	.listener_close = rps_ofi_listener_close,
	.get_request = rps_ofi_get_request,
	.accept = rps_ofi_accept,
	.reject = rps_ofi_reject,
	.connect = rps_ofi_connect,
	.conn_close = rps_ofi_conn_close,
	.post = rps_ofi_post,
};

RPS_PROVIDER_INI(ofi)
{
	return &rps_ofi_ops;
}
