/*
 * libqb-rs: qblist.h - intrusive circular doubly linked lists (header only).
 *
 * A list is a struct qb_list_head embedded in the user's structure; an empty
 * list points at itself. Source-compatible with libqb 2.0.x's <qb/qblist.h>.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QB_LIST_H_DEFINED
#define QB_LIST_H_DEFINED

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>
#include <stddef.h>
#include <qb/qbdefs.h>

struct qb_list_head {
	struct qb_list_head *next;
	struct qb_list_head *prev;
};

/* Defines and initialises an empty list head called `name`. */
#define QB_LIST_DECLARE(name) struct qb_list_head name = { &(name), &(name) }

/* Makes *ptr an empty list. */
#define QB_INIT_LIST_HEAD(ptr)                                              \
	do {                                                                \
		(ptr)->next = (ptr);                                        \
		(ptr)->prev = (ptr);                                        \
	} while (0)

static inline void qb_list_init(struct qb_list_head *head)
{
	head->next = head;
	head->prev = head;
}

/* Inserts element right after head (front of the list). */
static inline void qb_list_add(struct qb_list_head *element,
			       struct qb_list_head *head)
{
	struct qb_list_head *after = head->next;

	element->prev = head;
	element->next = after;
	after->prev = element;
	head->next = element;
}

/* Inserts element right before head (back of the list). */
static inline void qb_list_add_tail(struct qb_list_head *element,
				    struct qb_list_head *head)
{
	struct qb_list_head *before = head->prev;

	element->next = head;
	element->prev = before;
	before->next = element;
	head->prev = element;
}

/* Unlinks an element. Its own pointers are left as they were. */
static inline void qb_list_del(struct qb_list_head *_remove)
{
	struct qb_list_head *before = _remove->prev;
	struct qb_list_head *after = _remove->next;

	after->prev = before;
	before->next = after;
}

/* Puts new_one where old_one was. old_one's pointers are left as they were. */
static inline void qb_list_replace(struct qb_list_head *old_one,
				   struct qb_list_head *new_one)
{
	new_one->next = old_one->next;
	new_one->prev = old_one->prev;
	new_one->next->prev = new_one;
	new_one->prev->next = new_one;
}

/* Non-zero when list is the last element before head. */
static inline int qb_list_is_last(const struct qb_list_head *list,
				  const struct qb_list_head *head)
{
	return list->next == head;
}

static inline int32_t qb_list_empty(const struct qb_list_head *head)
{
	return head->next == head;
}

/* Moves the elements of list to the front of head. list itself is not reset. */
static inline void qb_list_splice(struct qb_list_head *list,
				  struct qb_list_head *head)
{
	struct qb_list_head *first, *last, *old_first;

	if (qb_list_empty(list))
		return;
	first = list->next;
	last = list->prev;
	old_first = head->next;
	head->next = first;
	first->prev = head;
	last->next = old_first;
	old_first->prev = last;
}

/* Moves the elements of list to the back of head. list itself is not reset. */
static inline void qb_list_splice_tail(struct qb_list_head *list,
				       struct qb_list_head *head)
{
	struct qb_list_head *first, *last, *old_last;

	if (qb_list_empty(list))
		return;
	first = list->next;
	last = list->prev;
	old_last = head->prev;
	old_last->next = first;
	first->prev = old_last;
	last->next = head;
	head->prev = last;
}

/* The structure of type `type` whose `member` is the list head at ptr. */
#define qb_list_entry(ptr, type, member)                                    \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define qb_list_first_entry(ptr, type, member)                              \
	qb_list_entry((ptr)->next, type, member)

#define qb_list_for_each(pos, head)                                         \
	for (pos = (head)->next; pos != (head); pos = pos->next)

#define qb_list_for_each_reverse(pos, head)                                 \
	for (pos = (head)->prev; pos != (head); pos = pos->prev)

/* Like qb_list_for_each, but pos may be removed inside the loop. */
#define qb_list_for_each_safe(pos, n, head)                                 \
	for (pos = (head)->next, n = pos->next; pos != (head);              \
	     pos = n, n = pos->next)

#define qb_list_for_each_entry(pos, head, member)                           \
	for (pos = qb_list_entry((head)->next, typeof(*pos), member);       \
	     &pos->member != (head);                                        \
	     pos = qb_list_entry(pos->member.next, typeof(*pos), member))

#define qb_list_for_each_entry_reverse(pos, head, member)                   \
	for (pos = qb_list_entry((head)->prev, typeof(*pos), member);       \
	     &pos->member != (head);                                        \
	     pos = qb_list_entry(pos->member.prev, typeof(*pos), member))

/* Like qb_list_for_each_entry, but pos may be removed inside the loop. */
#define qb_list_for_each_entry_safe(pos, n, head, member)                   \
	for (pos = qb_list_entry((head)->next, typeof(*pos), member),       \
	    n = qb_list_entry(pos->member.next, typeof(*pos), member);      \
	     &pos->member != (head);                                        \
	     pos = n, n = qb_list_entry(n->member.next, typeof(*n), member))

#define qb_list_for_each_entry_safe_reverse(pos, n, head, member)           \
	for (pos = qb_list_entry((head)->prev, typeof(*pos), member),       \
	    n = qb_list_entry(pos->member.prev, typeof(*pos), member);      \
	     &pos->member != (head);                                        \
	     pos = n, n = qb_list_entry(n->member.prev, typeof(*n), member))

/* Continues an entry walk from pos (inclusive). */
#define qb_list_for_each_entry_from(pos, head, member)                      \
	for (; &pos->member != (head);                                      \
	     pos = qb_list_entry(pos->member.next, typeof(*pos), member))

static inline int32_t qb_list_length(struct qb_list_head *head)
{
	struct qb_list_head *item;
	int32_t length = 0;

	qb_list_for_each(item, head)
		length++;
	return length;
}

#ifdef __cplusplus
}
#endif

#endif /* QB_LIST_H_DEFINED */
