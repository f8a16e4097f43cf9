/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prints the size of each struct the Python package mirrors with ctypes
 * (python/rdmaps/_lib.py) and the offset and size of every member, as
 * this compiler lays them out: python/tests/test_layout.py compares.
 */
#include <stddef.h>
#include <stdio.h>

#include <rdmaps/rdmaps.h>

#define S(T)	printf("%s - %zu %zu\n", #T, (size_t)0, sizeof(T))
#define F(T, m) printf("%s %s %zu %zu\n", #T, #m, offsetof(T, m), sizeof(((T *)0)->m))

int main(void)
{
	S(rps_transport_attr_t);
	F(rps_transport_attr_t, size);
	F(rps_transport_attr_t, provider);
	F(rps_transport_attr_t, device);
	F(rps_transport_attr_t, ofi_provider);
	F(rps_transport_attr_t, port);
	F(rps_transport_attr_t, gid_index);
	F(rps_transport_attr_t, sq_depth);
	F(rps_transport_attr_t, recv_depth);
	F(rps_transport_attr_t, max_msg_size);
	F(rps_transport_attr_t, max_inline);
	F(rps_transport_attr_t, timeout_ms);
	S(rps_worker_config_t);
	F(rps_worker_config_t, size);
	F(rps_worker_config_t, server);
	F(rps_worker_config_t, port);
	F(rps_worker_config_t, worker_id);
	F(rps_worker_config_t, num_workers);
	F(rps_worker_config_t, num_params);
	F(rps_worker_config_t, transport);
	F(rps_worker_config_t, timeout_ms);
	F(rps_worker_config_t, auth_token);
	F(rps_worker_config_t, auth_token_len);
	F(rps_worker_config_t, grad_buf);
	F(rps_worker_config_t, weights_buf);
	F(rps_worker_config_t, buf_alloc);
	F(rps_worker_config_t, buf_alloc_arg);
	S(rps_ring_attr_t);
	F(rps_ring_attr_t, size);
	F(rps_ring_attr_t, tp);
	F(rps_ring_attr_t, tp_attr);
	F(rps_ring_attr_t, rank);
	F(rps_ring_attr_t, world);
	F(rps_ring_attr_t, peers);
	F(rps_ring_attr_t, count);
	F(rps_ring_attr_t, chunk_bytes);
	F(rps_ring_attr_t, window);
	F(rps_ring_attr_t, timeout_ms);
	F(rps_ring_attr_t, progress_thread);
	F(rps_ring_attr_t, progress_cpu);
	return 0;
}
