/*
 * cache.c -- the value cache: a hash table of records plus one queue that
 * decides which record leaves when the budget is full.
 *
 * The idea in plain words.  Each cached record lives in its own heap block,
 * an `entry`: where the record lives on disk (file, offset), its length, two
 * queue links, two chain links, and the record's bytes right after them.  Two
 * structures point at the entries:
 *
 *   - a hash table of 2^n buckets, each a singly linked chain of entries
 *     whose (file, offset) hash to it -- Redis's dict.c without the
 *     incremental rehash: the table doubles, all at once, when it holds
 *     as many entries as buckets, so a chain is one entry long on average.
 *     Each entry also keeps a pointer to the link that points at it (as
 *     the Linux kernel's hlist does), so removing it -- an eviction, a
 *     drop -- walks no chain: a lookup touches the bucket and the entries
 *     of its chain, nothing else.  The table's size is bounded by the
 *     budget, so a rehash is bounded too (a few milliseconds for a 1 GiB
 *     cache of 1 KiB records);
 *   - a queue, head = newest, tail = oldest, whose order is the policy's:
 *
 *     LRU: a hit moves the entry to the head; the tail is evicted.  One
 *     pass of a scan over cold records flushes everything hot.
 *
 *     SIEVE (Zhang et al., "SIEVE is Simpler than LRU", NSDI 2024): entries
 *     enter at the head and never move.  A hit only sets the entry's
 *     `visited` bit.  A "hand" walks from the tail towards the head: an
 *     entry it finds visited loses the bit and stays; the first unvisited
 *     one is evicted, and the hand stays where it stopped for the next
 *     eviction (wrapping from the head back to the tail).  New records that
 *     are not used again -- a scan -- are evicted on the hand's first pass,
 *     while a popular record survives as long as it is used once per pass.
 *     A hit writes one byte instead of relinking four pointers.
 *
 * The budget counts every byte the cache allocates: each entry's block as
 * glibc's malloc rounds it (the header above, the record, its NUL, 8 bytes
 * of chunk header, rounded up to 16, at least 32), and the bucket array.
 * Invariant: used <= budget after every call.  A record whose entry would
 * take more than an eighth of the budget is not cached: one huge value would
 * otherwise flush many small ones.
 */
#include "cache.h"

#include "caskdb.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *chain;  /* the next entry of the same bucket */
  struct entry **pprev; /* the link that points here: a bucket or the
                           `chain` of the entry before */
  struct entry *newer;  /* queue neighbour towards the head, or NULL */
  struct entry *older;  /* queue neighbour towards the tail, or NULL */
  uint64_t file;
  uint32_t off;
  uint32_t len;
  unsigned char visited; /* SIEVE: hit since the hand last passed */
  unsigned char bytes[]; /* len bytes, then a NUL */
} entry;

struct cdb_cache {
  int policy;
  uint64_t budget;
  uint64_t used;   /* table_bytes(nbuckets) + the charge of every entry */
  entry **table;   /* nbuckets chains; NULL before the first put */
  size_t nbuckets; /* 0 or a power of two */
  size_t count;
  entry *head, *tail; /* the queue */
  entry *hand;        /* SIEVE: where the next eviction starts; NULL: tail */
  uint64_t hits, misses, evictions;
};

#define MIN_BUCKETS 16

uint64_t cdb_cache_entry_charge(uint32_t len) {
  uint64_t n = sizeof(entry) + (uint64_t)len + 1 + 8; /* + chunk header */
  n = (n + 15) & ~(uint64_t)15;
  return n < 32 ? 32 : n;
}

static uint64_t table_bytes(size_t nbuckets) {
  return nbuckets ? nbuckets * sizeof(entry *) + 16 : 0;
}

/* MurmurHash3's 64-bit finalizer over the two numbers. */
static uint64_t hash(uint64_t file, uint32_t off) {
  uint64_t x = file * 0x9E3779B97F4A7C15u ^ off;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdu;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53u;
  x ^= x >> 33;
  return x;
}

cdb_cache *cdb_cache_new(uint64_t budget, int policy) {
  cdb_cache *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->policy = policy;
  c->budget = budget;
  return c;
}

void cdb_cache_free(cdb_cache *c) {
  entry *e, *next;
  if (c == NULL)
    return;
  for (e = c->head; e != NULL; e = next) {
    next = e->older;
    free(e);
  }
  free(c->table);
  free(c);
}

/* ---- the hash table ------------------------------------------------------ */

/* The entry of (file, off), or NULL. */
static entry *find(const cdb_cache *c, uint64_t file, uint32_t off) {
  entry *e;
  if (c->nbuckets == 0)
    return NULL;
  e = c->table[hash(file, off) & (c->nbuckets - 1)];
  while (e != NULL && (e->file != file || e->off != off))
    e = e->chain;
  return e;
}

static void table_add(cdb_cache *c, entry *e) {
  entry **bucket = &c->table[hash(e->file, e->off) & (c->nbuckets - 1)];
  e->chain = *bucket;
  if (*bucket)
    (*bucket)->pprev = &e->chain;
  e->pprev = bucket;
  *bucket = e;
}

/* Take e out of its chain: no walk, thanks to pprev (the Linux kernel's
 * hlist), so evicting and dropping touch only e and its neighbours. */
static void table_unlink(entry *e) {
  *e->pprev = e->chain;
  if (e->chain)
    e->chain->pprev = e->pprev;
}

/* Double the table (or make the first one).  Failing to is not an error:
 * chains just get longer.  May leave used over the budget: the caller
 * evicts. */
static void table_grow(cdb_cache *c) {
  size_t n = c->nbuckets ? c->nbuckets * 2 : MIN_BUCKETS, i;
  entry **old = c->table, *e, *next;
  size_t oldn = c->nbuckets;
  entry **t = calloc(n, sizeof *t);
  if (t == NULL)
    return;
  c->table = t;
  c->nbuckets = n;
  for (i = 0; i < oldn; i++)
    for (e = old[i]; e != NULL; e = next) {
      next = e->chain;
      table_add(c, e);
    }
  free(old);
  c->used += table_bytes(n) - table_bytes(oldn);
}

/* ---- the queue ------------------------------------------------------------
 */

static void queue_push_head(cdb_cache *c, entry *e) {
  e->newer = NULL;
  e->older = c->head;
  if (c->head)
    c->head->newer = e;
  else
    c->tail = e;
  c->head = e;
}

static void queue_unlink(cdb_cache *c, entry *e) {
  if (c->hand == e) /* the hand goes on where it would have gone */
    c->hand = e->newer;
  if (e->newer)
    e->newer->older = e->older;
  else
    c->head = e->older;
  if (e->older)
    e->older->newer = e->newer;
  else
    c->tail = e->newer;
  e->newer = e->older = NULL;
}

/* ---- entries ------------------------------------------------------------- */

/* Remove e from table and queue, and free it. */
static void remove_entry(cdb_cache *c, entry *e) {
  table_unlink(e);
  queue_unlink(c, e);
  c->used -= cdb_cache_entry_charge(e->len);
  c->count--;
  free(e);
}

/* The entry the policy evicts next (the cache is not empty). */
static entry *victim(cdb_cache *c) {
  entry *e;
  if (c->policy == CASKDB_CACHE_LRU)
    return c->tail;
  /* SIEVE.  Ends: each step clears a bit, so within one lap of the queue
   * the hand meets an unvisited entry. */
  e = c->hand ? c->hand : c->tail;
  while (e->visited) {
    e->visited = 0;
    e = e->newer ? e->newer : c->tail;
  }
  c->hand = e; /* queue_unlink moves it on to e->newer */
  return e;
}

static void evict_one(cdb_cache *c) {
  remove_entry(c, victim(c));
  c->evictions++;
}

/* ---- the interface ------------------------------------------------------- */

const unsigned char *cdb_cache_get(cdb_cache *c, uint64_t file, uint32_t off,
                                   uint32_t *len) {
  entry *e = find(c, file, off);
  if (e == NULL) {
    c->misses++;
    return NULL;
  }
  c->hits++;
  if (c->policy == CASKDB_CACHE_LRU) {
    if (c->head != e) {
      queue_unlink(c, e);
      queue_push_head(c, e);
    }
  } else {
    e->visited = 1;
  }
  *len = e->len;
  return e->bytes;
}

int cdb_cache_put(cdb_cache *c, uint64_t file, uint32_t off,
                  const unsigned char *bytes, uint32_t len) {
  uint64_t charge = cdb_cache_entry_charge(len);
  entry *e;
  if (charge > c->budget / 8 || find(c, file, off) != NULL)
    return 0;
  if (c->count >= c->nbuckets)
    table_grow(c);
  if (c->nbuckets == 0)
    return -1; /* not even the first table could be made */
  while (c->used + charge > c->budget && c->count > 0)
    evict_one(c);
  if (c->used + charge > c->budget)
    return 0; /* the table alone leaves no room (a tiny budget) */
  e = malloc(sizeof *e + (size_t)len + 1);
  if (e == NULL)
    return -1;
  e->file = file;
  e->off = off;
  e->len = len;
  e->visited = 0;
  memcpy(e->bytes, bytes, len);
  e->bytes[len] = '\0';
  table_add(c, e);
  queue_push_head(c, e);
  c->used += charge;
  c->count++;
  return 1;
}

void cdb_cache_drop(cdb_cache *c, uint64_t file, uint32_t off) {
  entry *e = find(c, file, off);
  if (e != NULL)
    remove_entry(c, e);
}

void cdb_cache_drop_file(cdb_cache *c, uint64_t file, uint32_t from) {
  entry *e = c->head, *older;
  while (e != NULL) {
    older = e->older;
    if (e->file == file && e->off >= from)
      remove_entry(c, e);
    e = older;
  }
}

unsigned char *cdb_cache_move(cdb_cache *c, uint64_t file, uint32_t off,
                              uint64_t nfile, uint32_t noff) {
  entry *e = find(c, file, off);
  if (e == NULL)
    return NULL;
  table_unlink(e); /* out of its chain, still in the queue */
  cdb_cache_drop(c, nfile, noff);
  e->file = nfile;
  e->off = noff;
  table_add(c, e);
  return e->bytes;
}

void cdb_cache_get_stats(const cdb_cache *c, cdb_cache_stats *st) {
  memset(st, 0, sizeof *st);
  if (c == NULL)
    return;
  st->hits = c->hits;
  st->misses = c->misses;
  st->bytes = c->used;
  st->entries = c->count;
  st->evictions = c->evictions;
}
