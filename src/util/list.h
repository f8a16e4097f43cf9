/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A minimal intrusive doubly-linked list, for control-path bookkeeping
 * (a transport's connections and CQs).  Embed a struct rps_list in the
 * element and get back to it with container_of().
 */
#ifndef RPS_UTIL_LIST_H
#define RPS_UTIL_LIST_H

#include <stdbool.h>

struct rps_list {
	struct rps_list *prev, *next;
};

static inline void rps_list_init(struct rps_list *head)
{
	head->prev = head->next = head;
}

static inline bool rps_list_empty(const struct rps_list *head)
{
	return head->next == head;
}

/* inserts item right after head */
static inline void rps_list_add(struct rps_list *head, struct rps_list *item)
{
	item->next = head->next;
	item->prev = head;
	head->next->prev = item;
	head->next = item;
}

/* inserts item right before head: at the end of the list */
static inline void rps_list_add_tail(struct rps_list *head, struct rps_list *item)
{
	rps_list_add(head->prev, item);
}

/* unlinks item and leaves it pointing at itself (safe to delete twice) */
static inline void rps_list_del(struct rps_list *item)
{
	item->prev->next = item->next;
	item->next->prev = item->prev;
	item->prev = item->next = item;
}

#define rps_list_foreach(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#endif /* RPS_UTIL_LIST_H */
