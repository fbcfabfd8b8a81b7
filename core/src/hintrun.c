/*
 * hintrun.c -- loading the hints of several files in one key-ordered pass
 * (hint.h, "loading several sorted hints").
 *
 * Each hint of the run is a source: a cursor on the hint file and the
 * canonical key of its current record.  The sources sit in a binary
 * min-heap ordered by that key, and among equal keys the newest file
 * first.  The top of the heap is therefore the next key in order, as the
 * newest file of the run has it: it goes to the keydir (a delete or an
 * expired record takes the key out, as when the files are applied one by
 * one), and the other sources on the same key, older files, step past it.
 *
 * Every step of a source checks its hint record (cursor) and that its key
 * is greater than the one before (so each file holds a key at most once and
 * the keydir sees keys in increasing order).  A hint that fails either
 * check stops the load; the caller then applies the files one by one, which
 * hint.h explains is right whatever the run had done.  The writers sort
 * every hint they can, so this happens only for hints written by older
 * versions, hints of files too big to sort, and damaged hints.
 */
#include "hint.h"
#include "key.h"

#include <stdlib.h>
#include <string.h>

/* Each hint is read through a small window: a run can have hundreds of
 * files. */
#define SOURCE_WINDOW (64 * 1024)

struct cdb_hint_source {
  cdb_hint_cursor c;
  cdb_file *f;
  uint32_t slot;
  size_t order;       /* position in the run; larger is newer */
  unsigned char *key; /* canonical key of the current record */
  size_t klen;
  unsigned char *prev; /* the key before it, for the order check */
};

static void source_free(cdb_hint_source *s) {
  cdb_hint_cursor_close(&s->c);
  free(s->key);
  free(s->prev);
  free(s);
}

int cdb_hint_run_add(caskdb *db, cdb_hint_run *run, cdb_file *f,
                     uint32_t slot) {
  cdb_hint_source *s;
  int rc;
  if (run->n == run->cap) {
    size_t cap = run->cap ? run->cap * 2 : 16;
    cdb_hint_source **src = realloc(run->src, cap * sizeof *src);
    if (src == NULL)
      return CASKDB_ENOMEM;
    run->src = src;
    run->cap = cap;
  }
  s = calloc(1, sizeof *s);
  if (s == NULL)
    return CASKDB_ENOMEM;
  s->c.fd = -1;
  s->key = malloc(CDB_CANON_MAX);
  s->prev = malloc(CDB_CANON_MAX);
  if (s->key == NULL || s->prev == NULL) {
    source_free(s);
    return CASKDB_ENOMEM;
  }
  rc = cdb_hint_cursor_open(db, f, f->size, SOURCE_WINDOW, &s->c);
  if (rc != CASKDB_OK) {
    source_free(s);
    return rc;
  }
  s->f = f;
  s->slot = slot;
  s->order = run->n;
  run->src[run->n++] = s;
  return CASKDB_OK;
}

cdb_file *cdb_hint_run_file(const cdb_hint_run *run, size_t i) {
  return run->src[i]->f;
}

uint32_t cdb_hint_run_slot(const cdb_hint_run *run, size_t i) {
  return run->src[i]->slot;
}

void cdb_hint_run_clear(cdb_hint_run *run) {
  size_t i;
  for (i = 0; i < run->n; i++)
    source_free(run->src[i]);
  run->n = 0;
}

void cdb_hint_run_free(cdb_hint_run *run) {
  cdb_hint_run_clear(run);
  free(run->src);
  memset(run, 0, sizeof *run);
}

/* Step s to its next record: 1 with its key in s->key; 0 at a sound end;
 * -1 when the hint is not sound or its keys do not increase. */
static int source_next(cdb_hint_source *s) {
  unsigned char *swap = s->prev;
  size_t prev_len = s->klen;
  int first = s->c.count == 0;
  int rc = cdb_hint_cursor_next(&s->c);
  if (rc <= 0)
    return rc;
  s->prev = s->key;
  s->key = swap;
  s->klen =
      cdb_key_canon_from_disk(s->c.r.key_kind, s->c.r.key, s->c.r.klen, s->key);
  if (!first && cdb_canon_cmp(s->prev, prev_len, s->key, s->klen) >= 0)
    return -1;
  return 1;
}

/* Does source a come out of the heap before source b? */
static int before(const cdb_hint_source *a, const cdb_hint_source *b) {
  int c = cdb_canon_cmp(a->key, a->klen, b->key, b->klen);
  return c < 0 || (c == 0 && a->order > b->order);
}

static void sift_down(cdb_hint_source **heap, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, best = i;
    cdb_hint_source *tmp;
    if (l < n && before(heap[l], heap[best]))
      best = l;
    if (r < n && before(heap[r], heap[best]))
      best = r;
    if (best == i)
      return;
    tmp = heap[i];
    heap[i] = heap[best];
    heap[best] = tmp;
    i = best;
  }
}

/* The sources with a record left, as a binary min-heap (before() above),
 * and the smaller of the top's two children: the second source in line.
 * While the top stays ahead of `second`, stepping it needs no sift; in
 * runs of merged files, whose key ranges follow each other, that is the
 * case for all but one key per file. */
typedef struct source_heap {
  cdb_hint_source **h;
  size_t live;
  cdb_hint_source *second; /* NULL when live < 2 */
} source_heap;

static void find_second(source_heap *hp) {
  hp->second = NULL;
  if (hp->live >= 2)
    hp->second = hp->h[1];
  if (hp->live >= 3 && before(hp->h[2], hp->h[1]))
    hp->second = hp->h[2];
}

/* Put every source with a first record in the heap.  0, or -1 when a hint
 * is unusable. */
static int heap_fill(cdb_hint_run *run, source_heap *hp) {
  size_t i;
  hp->live = 0;
  for (i = 0; i < run->n; i++) {
    int rc = source_next(run->src[i]);
    if (rc < 0)
      return -1;
    if (rc > 0)
      hp->h[hp->live++] = run->src[i];
  }
  for (i = hp->live / 2; i-- > 0;)
    sift_down(hp->h, hp->live, i);
  find_second(hp);
  return 0;
}

/* Step the top of the heap past its record: down the heap again, or out of
 * it at its end.  0, or -1 when its hint is unusable. */
static int advance_top(source_heap *hp) {
  int rc = source_next(hp->h[0]);
  if (rc < 0)
    return -1;
  if (rc == 0)
    hp->h[0] = hp->h[--hp->live];
  else if (hp->second == NULL || before(hp->h[0], hp->second))
    return 0; /* still first: the heap is unchanged */
  if (hp->live > 0)
    sift_down(hp->h, hp->live, 0);
  find_second(hp);
  return 0;
}

/* Apply the top's record, the newest of its key, then step every source on
 * that key (the top and older files) past it. */
static int take_top(caskdb *db, source_heap *hp, unsigned char *key) {
  cdb_hint_source *top = hp->h[0];
  size_t klen = top->klen;
  int shared =
      hp->second != NULL && cdb_canon_cmp(hp->second->key, hp->second->klen,
                                          top->key, top->klen) == 0;
  cdb_loc loc;
  int rc;
  cdb_hint_cursor_loc(&top->c, top->slot, &loc);
  rc = cdb_apply(db, top->key, top->klen, &loc, top->c.type == CDB_HINT_DELETE);
  if (rc != CASKDB_OK)
    return rc;
  if (!shared) /* no other source has the key: step the top alone */
    return advance_top(hp) < 0 ? CASKDB_ENOTFOUND : CASKDB_OK;
  memcpy(key, top->key, klen);
  do {
    if (advance_top(hp) < 0)
      return CASKDB_ENOTFOUND;
  } while (hp->live > 0 &&
           cdb_canon_cmp(hp->h[0]->key, hp->h[0]->klen, key, klen) == 0);
  return CASKDB_OK;
}

int cdb_hint_run_load(caskdb *db, cdb_hint_run *run) {
  source_heap hp = {NULL, 0, NULL};
  unsigned char *key;
  int rc = CASKDB_OK;
  if (run->n == 0)
    return CASKDB_OK;
  hp.h = malloc(run->n * sizeof *hp.h);
  key = malloc(CDB_CANON_MAX);
  if (hp.h == NULL || key == NULL)
    rc = cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory loading hints");
  else if (heap_fill(run, &hp) < 0)
    rc = CASKDB_ENOTFOUND;
  while (rc == CASKDB_OK && hp.live > 0)
    rc = take_top(db, &hp, key);
  free(hp.h);
  free(key);
  return rc;
}
