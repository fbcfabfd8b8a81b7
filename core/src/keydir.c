/*
 * keydir.c -- the in-memory ordered index: a B+tree from key to location
 * whose leaves hold their entries packed, inline.
 *
 * The idea in plain words.  An entry (a key and where its newest record
 * lives) is a short run of bytes, and a leaf keeps the runs of its keys one
 * after the other, in key order, in one heap block of its own, the leaf's
 * "area".  There is no heap block per key: for a 17-byte key an entry takes
 * 31 bytes, and a lookup that reaches the leaf finds the entry in that
 * leaf's area, not somewhere else on the heap.
 *
 *   - An entry is: a varint holding klen * 2 + (1 if an expiry follows);
 *     the key bytes; the location packed little-endian without padding
 *     (slot 4, offset 4, size 4, vtype 1); the expiry (8) only when it is
 *     not zero.  A key longer than KEY_INLINE_MAX bytes lives in a heap
 *     block of its own and the entry holds a pointer to it instead of the
 *     bytes, so that no entry is longer than ENTRY_MAX: then LEAF_MAX
 *     entries always fit in 64 KiB and a leaf can find its entries with
 *     16-bit offsets.  (Canonical keys go up to 65 KiB; those are rare.)
 *   - A leaf holds up to LEAF_MAX entries and, beside the area, a 4-byte
 *     slot per entry: a 2-byte hint (see below) and the 16-bit offset of the
 *     entry in the area (offsets increase with the key: the area has no
 *     holes; entry i ends where entry i + 1 starts).  Having both in one
 *     word means the search that ends on the slot has the offset in hand:
 *     from the slots a lookup goes straight to the entry.  The area grows with
 * realloc in steps of AREA_STEP bytes and shrinks when a quarter of it is free;
 * a split gives both halves new areas of their size.  A leaf also counts as
 * full when its entries pass LEAF_BYTES (a soft limit: it keeps leaves of long
 * keys from costing long memmoves).
 *   - Inserting in a leaf moves the entries after the new one up (a memmove
 *     of a few hundred bytes), removing moves them down.  Because entries
 *     move, the keydir never hands out a pointer to one: cdb_kd_find copies
 *     the location out, and the key pointer of cdb_kd_cursor_get is good
 *     only until the next change.
 *   - The leaves are linked both ways, so a cursor walks all keys in order
 *     by stepping along a leaf and then to the next one.  A leaf's header
 *     (links, hints, offsets) never moves while the leaf lives; only its
 *     area does.  So a cursor (leaf, position) stays good across updates.
 *   - An inner node holds up to INNER_MAX children and, between them,
 *     separator keys: child i holds exactly the keys k with
 *     sep[i] <= k < sep[i+1] (sep[0] is "minus infinity", sep[n] "plus
 *     infinity", both within the range the parent gives the node).  A
 *     separator is its own small copy of key bytes, cut down to the shortest
 *     prefix that still separates two leaves, so removing entries never has
 *     to touch separators.
 *   - Every leaf is at the same depth, kd->height inner levels below the
 *     root.  With height 0 the root is the only leaf.
 *
 * Keys compare with memcmp over the shorter length, then the shorter key
 * first, so "ab" < "ab\0" < "abc" and the empty key is the smallest of all.
 *
 * Searching a node.  A node keeps a "hint" per key: the key's next bytes
 * (2 in a leaf, 4 in an inner node) right after the prefix that all keys of
 * the node share (plen bytes long), big-endian, zero-padded.  For keys that
 * share that prefix, a smaller hint means a smaller key, so a binary search
 * over the hints, a compact array, narrows the search to the few keys whose
 * hint equals the searched one; only those are compared in full.  (A leaf's
 * slots sort as its hints do: within equal hints the offsets increase.)
 * Skipping the shared prefix matters: canonical integer keys share their first
 * bytes, as do keys like "user:...".  A search key that does not share the
 * prefix at all sorts before or after every key of the node; a leaf checks for
 * that only when the key was not found (a found key obviously shares it).
 *
 * Inserting: find the leaf, put the entry in.  A full leaf splits in two
 * and its parent gets the new right half plus a separator; a full parent
 * splits the same way, up to a new root.  Everything a split needs (nodes,
 * new areas for both halves, the separator, the long key's block) is
 * allocated before the tree is touched, so running out of memory leaves the
 * tree exactly as it was.  A split normally halves the node; at the very
 * right edge of the tree (keys arriving in ascending order) the old node
 * stays full and the new one starts with only the new key, and mirrored at
 * the left edge, so sorted loads fill nodes completely.  Sorted loads are
 * also spared the search: the keydir remembers its last leaf, and a key
 * greater than that leaf's last key goes straight there.
 *
 * Removing: take the entry out of its leaf.  When a leaf and a neighbour
 * under the same parent hold LEAF_MAX / 2 keys (and LEAF_BYTES / 2 bytes)
 * or fewer between them, the right one is emptied into the left one (if
 * memory for that is short, they simply stay apart).  A node that becomes
 * empty is removed from its parent, and so on upwards; a root with a single
 * child is replaced by that child.  Inner nodes are never merged or
 * rebalanced: that is fine, because only inserts add levels, and a new level
 * needs the root to fill up with INNER_MAX children, each of which was once
 * split from a full node, so the height stays below log(keys ever inserted)
 * / log(INNER_MAX / 2) + 2 -- about 5 for a billion inserts.  Lookups and
 * cursors only rely on the separator invariant above and on "no leaf is
 * empty except an empty root", which removal keeps, so a sparse tree is
 * slower at worst, never wrong.
 *
 * Updating: the new location is written over the old one.  Only when the
 * expiry appears or goes away does the entry change length (by 8 bytes);
 * then the entries after it move within the area (and the area may have to
 * grow, which is the one way an update can fail).  The leaf header stays
 * where it is and every key keeps its place in the leaf, so an update is
 * not a change of version and cursors stay good.
 *
 * The version counter changes on every insert of a new key and every
 * removal, never on an update.  A cursor remembers the version it was made
 * under; under any other version cdb_kd_cursor_get returns 0 and
 * cdb_kd_cursor_next does nothing, so a stale cursor never reads freed
 * nodes (the caller re-seeks).
 *
 * Memory accounting (cdb_kd_bytes) does not ask the allocator: it estimates
 * what glibc's malloc takes for each block -- the request plus an 8-byte
 * header, rounded up to 16 bytes, at least 32 -- and keeps the running sum.
 * That is exact for glibc on 64-bit and independent of sanitizers.  What it
 * cannot see are the holes that blocks leave in malloc's heap when they
 * move: areas move as they grow, so with keys inserted in random order the
 * process grows about 4-5 % more than the sum (giving both halves of a
 * split new areas, rather than shrinking the old one in place, keeps it
 * that low).  For 1M random 17-byte keys: about 41 bytes per key, 38 when
 * they arrive sorted (full leaves).
 */
#include "keydir.h"

#include <stdlib.h>
#include <string.h>

enum {
  LEAF_MAX = 64,        /* entries per leaf */
  LEAF_BYTES = 8192,    /* a leaf whose entries would pass this splits */
  AREA_STEP = 128,      /* a leaf's area grows and shrinks in these steps */
  KEY_INLINE_MAX = 512, /* longer keys live in a heap block of their own */
  INNER_MAX = 64,       /* children per inner node */
  MAX_HEIGHT = 32,      /* inner levels; unreachable in practice (see above) */
  LOC_BYTES = 13,       /* slot 4, offset 4, size 4, vtype 1 */
  EXPIRY_BYTES = 8,
  VARINT_MAX = 5, /* klen * 2 + 1 < 2^33 takes at most 5 bytes */
  ENTRY_MAX = VARINT_MAX + KEY_INLINE_MAX + LOC_BYTES + EXPIRY_BYTES
};

_Static_assert(LEAF_MAX *ENTRY_MAX <= UINT16_MAX,
               "a full leaf's area must be addressable with 16 bits");
_Static_assert(KEY_INLINE_MAX >= sizeof(void *),
               "a long key's pointer must not be longer than an inline key");

/* A separator key: a prefix of some key, owned by its inner node. */
typedef struct kd_sep {
  uint32_t len;
  unsigned char bytes[];
} kd_sep;

typedef struct kd_leaf {
  struct kd_leaf *prev, *next;
  unsigned char *area; /* cap bytes; the entries fill [0, used) */
  uint32_t plen;       /* the keys all share their first plen bytes */
  uint16_t n;          /* entries; 1..LEAF_MAX, 0 only for an empty root */
  uint16_t used, cap;
  uint32_t slot[LEAF_MAX]; /* entry i: its hint << 16 | its offset */
} kd_leaf;

typedef struct kd_inner {
  int n;                    /* children in use, 1..INNER_MAX */
  uint32_t plen;            /* sep[1..n) all share their first plen bytes */
  uint32_t hint[INNER_MAX]; /* hint[i] = key_hint(sep[i], plen), i >= 1 */
  kd_sep *sep[INNER_MAX];   /* sep[1..n) increasing; sep[0] is unused */
  void *child[INNER_MAX];   /* kd_inner below, or kd_leaf at the last level */
} kd_inner;

struct cdb_keydir {
  void *root;       /* a kd_leaf when height == 0, else a kd_inner */
  kd_leaf *last;    /* the rightmost leaf, where ascending keys go */
  int height;       /* inner levels above the leaves */
  size_t count;     /* entries in all leaves */
  size_t bytes;     /* estimated heap bytes of everything we allocated */
  uint64_t version; /* bumped on every insert of a new key and removal */
};

/* The way down from the root to one leaf, as a search walked it. */
typedef struct kd_path {
  kd_inner *inner[MAX_HEIGHT]; /* inner[0] is the root */
  int idx[MAX_HEIGHT];         /* which child of inner[l] the walk took */
  kd_leaf *leaf;
} kd_path;

/* ---- Allocation with accounting ----------------------------------------- */

/* What glibc's malloc really takes for a request of `size` bytes. */
static size_t alloc_cost(size_t size) {
  size_t chunk = (size + sizeof(size_t) + 15) & ~(size_t)15;
  return chunk < 32 ? 32 : chunk;
}

static void *kd_alloc(cdb_keydir *kd, size_t size) {
  void *p = malloc(size);
  if (p)
    kd->bytes += alloc_cost(size);
  return p;
}

static void kd_release(cdb_keydir *kd, void *p, size_t size) {
  if (!p)
    return;
  kd->bytes -= alloc_cost(size);
  free(p);
}

static size_t sep_size(size_t len) { return offsetof(kd_sep, bytes) + len; }

static void sep_free(cdb_keydir *kd, kd_sep *s) {
  if (s)
    kd_release(kd, s, sep_size(s->len));
}

static kd_leaf *leaf_new(cdb_keydir *kd) {
  kd_leaf *leaf = kd_alloc(kd, sizeof *leaf);
  if (leaf) {
    leaf->prev = leaf->next = NULL;
    leaf->area = NULL;
    leaf->plen = 0;
    leaf->n = leaf->used = leaf->cap = 0;
  }
  return leaf;
}

static kd_inner *inner_new(cdb_keydir *kd) {
  kd_inner *in = kd_alloc(kd, sizeof *in);
  if (in) {
    in->n = 0;
    in->plen = 0;
    in->sep[0] = NULL;
  }
  return in;
}

/* ---- A leaf's area ------------------------------------------------------ */

/* Gives the leaf's area exactly `cap` bytes (0: none); -1 (nothing changed)
 * when out of memory. */
static int area_resize(cdb_keydir *kd, kd_leaf *leaf, size_t cap) {
  if (cap == leaf->cap)
    return 0;
  if (cap == 0) {
    kd_release(kd, leaf->area, leaf->cap);
    leaf->area = NULL;
    leaf->cap = 0;
    return 0;
  }
  unsigned char *p = realloc(leaf->area, cap);
  if (!p)
    return -1;
  if (leaf->area)
    kd->bytes -= alloc_cost(leaf->cap);
  kd->bytes += alloc_cost(cap);
  leaf->area = p;
  leaf->cap = (uint16_t)cap;
  return 0;
}

/* What an area holding `need` bytes is given: `need` rounded up to
 * AREA_STEP, never past 16 bits (see the header comment). */
static size_t area_cap_for(size_t need) {
  size_t cap = (need + AREA_STEP - 1) / AREA_STEP * AREA_STEP;
  return cap > UINT16_MAX ? UINT16_MAX : cap;
}

/* Makes room for `need` bytes of entries; -1 (nothing changed) when out of
 * memory. */
static int area_reserve(cdb_keydir *kd, kd_leaf *leaf, size_t need) {
  if (need <= leaf->cap)
    return 0;
  return area_resize(kd, leaf, area_cap_for(need));
}

/* Gives back an empty area, or the free part of one that is a quarter
 * empty.  Shrinking never needs memory; should realloc still fail, the
 * area just stays as it is. */
static void area_trim(cdb_keydir *kd, kd_leaf *leaf) {
  size_t used = leaf->used, cap = leaf->cap;
  if (used == 0)
    area_resize(kd, leaf, 0);
  else if (cap - used > used / 4 + 64)
    (void)area_resize(kd, leaf, area_cap_for(used));
}

/* ---- Entries: encoding and decoding ------------------------------------- */

/* Little-endian, written out byte by byte (compilers make them single
 * loads and stores). */
static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void put_u64(unsigned char *p, uint64_t v) {
  put_u32(p, (uint32_t)v);
  put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const unsigned char *p) {
  return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static size_t varint_put(unsigned char *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (unsigned char)v;
  return n;
}

static size_t varint_get(const unsigned char *p, uint64_t *v) {
  uint64_t value = 0;
  size_t n = 0;
  int shift = 0;
  do {
    value |= (uint64_t)(p[n] & 0x7f) << shift;
    shift += 7;
  } while (p[n++] & 0x80);
  *v = value;
  return n;
}

/* An entry as read from the bytes of a leaf. */
typedef struct kd_entry {
  const unsigned char *key; /* in the entry, or a long key's own block */
  size_t klen;
  unsigned char *loc; /* the packed location, inside the entry */
  int has_expiry;
  size_t size; /* bytes of the whole entry */
} kd_entry;

static void entry_read(unsigned char *p, kd_entry *e) {
  uint64_t head;
  size_t at = varint_get(p, &head);
  e->klen = (size_t)(head >> 1);
  e->has_expiry = (int)(head & 1);
  if (e->klen > KEY_INLINE_MAX) {
    memcpy(&e->key, p + at, sizeof e->key);
    at += sizeof e->key;
  } else {
    e->key = p + at;
    at += e->klen;
  }
  e->loc = p + at;
  e->size = at + LOC_BYTES + (e->has_expiry ? EXPIRY_BYTES : 0);
}

static void loc_write(unsigned char *p, const cdb_loc *loc) {
  put_u32(p, loc->slot);
  put_u32(p + 4, loc->offset);
  put_u32(p + 8, loc->size);
  p[12] = loc->vtype;
  if (loc->expiry != 0)
    put_u64(p + LOC_BYTES, loc->expiry);
}

static void loc_read(const kd_entry *e, cdb_loc *loc) {
  const unsigned char *p = e->loc;
  loc->slot = get_u32(p);
  loc->offset = get_u32(p + 4);
  loc->size = get_u32(p + 8);
  loc->vtype = p[12];
  loc->expiry = e->has_expiry ? get_u64(p + LOC_BYTES) : 0;
}

/* Encodes an entry into p (ENTRY_MAX bytes) and returns its size.  For a
 * key longer than KEY_INLINE_MAX, `key` is the key's own block, which the
 * entry points to. */
static size_t entry_write(unsigned char *p, const unsigned char *key,
                          size_t klen, const cdb_loc *loc) {
  size_t at = varint_put(p, (uint64_t)klen * 2 + (loc->expiry != 0));
  if (klen > KEY_INLINE_MAX) {
    memcpy(p + at, &key, sizeof key);
    at += sizeof key;
  } else if (klen > 0) {
    memcpy(p + at, key, klen);
    at += klen;
  }
  loc_write(p + at, loc);
  return at + LOC_BYTES + (loc->expiry != 0 ? EXPIRY_BYTES : 0);
}

/* ---- A leaf's slots: hint and offset ------------------------------------ */

static size_t slot_off(uint32_t slot) { return slot & 0xffff; }

static uint32_t slot_make(uint32_t hint, size_t off) {
  return hint << 16 | (uint32_t)off;
}

static void leaf_entry(const kd_leaf *leaf, int i, kd_entry *e) {
  entry_read(leaf->area + slot_off(leaf->slot[i]), e);
}

/* Where entry i of the leaf starts; i == n: where the entries end. */
static size_t leaf_offset(const kd_leaf *leaf, int i) {
  return i < leaf->n ? slot_off(leaf->slot[i]) : leaf->used;
}

static void leaf_set_hint(kd_leaf *leaf, int i, uint32_t hint) {
  leaf->slot[i] = slot_make(hint, slot_off(leaf->slot[i]));
}

/* ---- Comparing keys, prefixes and hints --------------------------------- */

static int key_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
                   size_t blen) {
  size_t common = alen < blen ? alen : blen;
  int c = common ? memcmp(a, b, common) : 0;
  if (c)
    return c;
  return (alen > blen) - (alen < blen);
}

/* How many leading bytes a and b share. */
static size_t common_prefix(const unsigned char *a, size_t alen,
                            const unsigned char *b, size_t blen) {
  size_t n = 0, most = alen < blen ? alen : blen;
  while (n < most && a[n] == b[n])
    n++;
  return n;
}

/* Where key stands against every key that starts with the plen bytes p:
 * < 0 before them all, > 0 after them all, 0 when key starts with p too. */
static int prefix_cmp(const unsigned char *key, size_t klen,
                      const unsigned char *p, size_t plen) {
  size_t common = klen < plen ? klen : plen;
  int c = common ? memcmp(key, p, common) : 0;
  if (c)
    return c;
  return klen < plen ? -1 : 0;
}

/* The `bytes` bytes of key after its first plen, big-endian, zero-padded.
 * For two keys sharing those plen bytes, a smaller hint means a smaller
 * key; equal hints say nothing. */
static uint32_t key_hint(const unsigned char *key, size_t klen, size_t plen,
                         int bytes) {
  uint32_t hint = 0;
  for (size_t i = plen; i < plen + (size_t)bytes; i++)
    hint = hint << 8 | (i < klen ? key[i] : 0);
  return hint;
}

/* In the increasing v[lo..hi), narrows [lo, hi) to the values between min
 * and max: before *lo all are smaller than min, from *hi on all are larger
 * than max. */
static void span(const uint32_t *v, int *lo, int *hi, uint32_t min,
                 uint32_t max) {
  int a = *lo, b = *hi;
  while (a < b) { /* the first value >= min */
    int mid = a + (b - a) / 2;
    if (v[mid] < min)
      a = mid + 1;
    else
      b = mid;
  }
  *lo = a;
  b = *hi;
  while (a < b) { /* the first value > max */
    int mid = a + (b - a) / 2;
    if (v[mid] <= max)
      a = mid + 1;
    else
      b = mid;
  }
  *hi = a;
}

/* ---- Searching ---------------------------------------------------------- */

/* The first position in `leaf` whose key is >= key; *found tells whether it
 * is equal. */
static int leaf_search(const kd_leaf *leaf, const unsigned char *key,
                       size_t klen, int *found) {
  *found = 0;
  if (leaf->n == 0)
    return 0;
  int lo = 0, hi = leaf->n;
  kd_entry e;
  uint32_t h = key_hint(key, klen, leaf->plen, 2);
  span(leaf->slot, &lo, &hi, slot_make(h, 0), slot_make(h, 0xffff));
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    leaf_entry(leaf, mid, &e);
    int c = key_cmp(e.key, e.klen, key, klen);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  /* Not here.  The hints placed it right if it shares the leaf's prefix. */
  leaf_entry(leaf, 0, &e);
  int side = prefix_cmp(key, klen, e.key, leaf->plen);
  return side < 0 ? 0 : side > 0 ? leaf->n : lo;
}

/* The child of `in` whose range holds key: the last i with sep[i] <= key. */
static int inner_child_index(const kd_inner *in, const unsigned char *key,
                             size_t klen) {
  if (in->n <= 1)
    return 0;
  const kd_sep *first = in->sep[1];
  int side = prefix_cmp(key, klen, first->bytes, in->plen);
  if (side != 0)
    return side < 0 ? 0 : in->n - 1;
  int lo = 1, hi = in->n; /* find the first i >= 1 with sep[i] > key */
  uint32_t h = key_hint(key, klen, in->plen, 4);
  span(in->hint, &lo, &hi, h, h);
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    const kd_sep *s = in->sep[mid];
    if (key_cmp(s->bytes, s->len, key, klen) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo - 1;
}

static kd_leaf *find_leaf(const cdb_keydir *kd, const unsigned char *key,
                          size_t klen) {
  void *node = kd->root;
  for (int level = 0; level < kd->height; level++) {
    const kd_inner *in = node;
    node = in->child[inner_child_index(in, key, klen)];
  }
  return node;
}

static void find_path(const cdb_keydir *kd, const unsigned char *key,
                      size_t klen, kd_path *path) {
  void *node = kd->root;
  for (int level = 0; level < kd->height; level++) {
    kd_inner *in = node;
    int i = inner_child_index(in, key, klen);
    path->inner[level] = in;
    path->idx[level] = i;
    node = in->child[i];
  }
  path->leaf = node;
}

/* The path to the last leaf: always the last child, no comparing. */
static void last_path(const cdb_keydir *kd, kd_path *path) {
  void *node = kd->root;
  for (int level = 0; level < kd->height; level++) {
    kd_inner *in = node;
    path->inner[level] = in;
    path->idx[level] = in->n - 1;
    node = in->child[in->n - 1];
  }
  path->leaf = node;
}

/* Whether key goes after every key of the keydir (which is not empty). */
static int after_last_key(const cdb_keydir *kd, const unsigned char *key,
                          size_t klen) {
  const kd_leaf *last = kd->last;
  if (last->n == 0)
    return 0;
  kd_entry e;
  leaf_entry(last, last->n - 1, &e);
  return key_cmp(key, klen, e.key, e.klen) > 0;
}

/* ---- Keeping hints right ------------------------------------------------ */

/* Sets plen to the longest prefix all keys of the leaf share (first and
 * last have the shortest in common, the keys being sorted) and recomputes
 * the hints if it changed, or always when `force`. */
static void leaf_rehint(kd_leaf *leaf, int force) {
  uint32_t plen = 0;
  kd_entry first, e;
  if (leaf->n > 0) {
    leaf_entry(leaf, 0, &first);
    leaf_entry(leaf, leaf->n - 1, &e);
    plen = (uint32_t)common_prefix(first.key, first.klen, e.key, e.klen);
  }
  if (plen == leaf->plen && !force)
    return;
  leaf->plen = plen;
  for (int i = 0; i < leaf->n; i++) {
    leaf_entry(leaf, i, &e);
    leaf_set_hint(leaf, i, key_hint(e.key, e.klen, plen, 2));
  }
}

/* The hint of the new entry at pos; when its key does not share the prefix
 * of the others, the prefix shrinks and all hints are recomputed. */
static void leaf_hint_new(kd_leaf *leaf, int pos) {
  kd_entry e, other;
  if (leaf->n == 1) {
    leaf_rehint(leaf, 1);
    return;
  }
  leaf_entry(leaf, pos, &e);
  leaf_entry(leaf, pos == 0 ? 1 : 0, &other); /* has the prefix */
  if (prefix_cmp(e.key, e.klen, other.key, leaf->plen) != 0)
    leaf_rehint(leaf, 1);
  else
    leaf_set_hint(leaf, pos, key_hint(e.key, e.klen, leaf->plen, 2));
}

/* Inner nodes change once per leaf split at most, and their separators are
 * mostly in cache: they simply recompute every hint after a change. */
static void inner_rehint(kd_inner *in) {
  in->plen = 0;
  if (in->n > 2) { /* two separators or more: something to share */
    const kd_sep *first = in->sep[1], *last = in->sep[in->n - 1];
    in->plen = (uint32_t)common_prefix(first->bytes, first->len, last->bytes,
                                       last->len);
  }
  for (int i = 1; i < in->n; i++)
    in->hint[i] = key_hint(in->sep[i]->bytes, in->sep[i]->len, in->plen, 4);
}

/* ---- Changing a leaf ---------------------------------------------------- */

/* Adds `delta` (which may be negative, as a size difference) to the
 * offsets from entry `from` on.  Offsets stay within 16 bits, so adding to
 * the whole slot never carries into the hint. */
static void shift_offsets(kd_leaf *leaf, int from, size_t delta) {
  for (int i = from; i < leaf->n; i++)
    leaf->slot[i] = (uint32_t)(leaf->slot[i] + delta);
}

/* Puts the encoded entry (size bytes) at pos; the area has room for it and
 * the leaf has a free slot. */
static void leaf_insert_at(kd_leaf *leaf, int pos, const unsigned char *entry,
                           size_t size) {
  size_t at = leaf_offset(leaf, pos);
  int after = leaf->n - pos;
  memmove(leaf->area + at + size, leaf->area + at, leaf->used - at);
  memcpy(leaf->area + at, entry, size);
  memmove(&leaf->slot[pos + 1], &leaf->slot[pos],
          (size_t)after * sizeof leaf->slot[0]);
  leaf->slot[pos] = slot_make(0, at); /* its hint follows */
  leaf->n++;
  leaf->used = (uint16_t)(leaf->used + size);
  shift_offsets(leaf, pos + 1, size);
  leaf_hint_new(leaf, pos);
}

/* Takes entry pos out (a long key's block is the caller's to free).  The
 * rest still share the prefix. */
static void leaf_remove_at(kd_leaf *leaf, int pos) {
  size_t at = leaf_offset(leaf, pos), end = leaf_offset(leaf, pos + 1);
  int after = leaf->n - pos - 1;
  memmove(leaf->area + at, leaf->area + end, leaf->used - end);
  memmove(&leaf->slot[pos], &leaf->slot[pos + 1],
          (size_t)after * sizeof leaf->slot[0]);
  leaf->n--;
  leaf->used = (uint16_t)(leaf->used - (end - at));
  shift_offsets(leaf, pos, (size_t)0 - (end - at));
}

/* Replaces entry pos by the encoded entry (same key, size bytes); the area
 * has room for it. */
static void leaf_replace_at(kd_leaf *leaf, int pos, const unsigned char *entry,
                            size_t size) {
  size_t at = leaf_offset(leaf, pos), end = leaf_offset(leaf, pos + 1);
  memmove(leaf->area + at + size, leaf->area + end, leaf->used - end);
  memcpy(leaf->area + at, entry, size);
  leaf->used = (uint16_t)(leaf->used - (end - at) + size);
  shift_offsets(leaf, pos + 1, size - (end - at));
}

/* Moves entries [from, n) of `leaf` to the empty leaf `right`, whose area
 * has room for them.  Both keep the old prefix and hints, still right. */
static void leaf_move_tail(kd_leaf *leaf, int from, kd_leaf *right) {
  size_t at = leaf_offset(leaf, from), bytes = leaf->used - at;
  int moved = leaf->n - from;
  if (bytes > 0)
    memcpy(right->area, leaf->area + at, bytes);
  for (int i = 0; i < moved; i++)
    right->slot[i] = (uint32_t)(leaf->slot[from + i] - at);
  right->n = (uint16_t)moved;
  right->used = (uint16_t)bytes;
  right->plen = leaf->plen;
  leaf->n = (uint16_t)from;
  leaf->used = (uint16_t)at;
}

/* Frees a long key's block when the entry has one. */
static void entry_release(cdb_keydir *kd, const kd_entry *e) {
  if (e->klen > KEY_INLINE_MAX)
    kd_release(kd, (void *)e->key, e->klen);
}

/* A leaf, its area and its long keys. */
static void leaf_free(cdb_keydir *kd, kd_leaf *leaf) {
  kd_entry e;
  for (int i = 0; i < leaf->n; i++) {
    leaf_entry(leaf, i, &e);
    entry_release(kd, &e);
  }
  kd_release(kd, leaf->area, leaf->cap);
  kd_release(kd, leaf, sizeof *leaf);
}

/* ---- Creating and freeing the keydir ------------------------------------ */

cdb_keydir *cdb_kd_new(void) {
  cdb_keydir *kd = malloc(sizeof *kd);
  if (!kd)
    return NULL;
  kd->height = 0;
  kd->count = 0;
  kd->version = 0;
  kd->bytes = alloc_cost(sizeof *kd);
  kd->root = kd->last = leaf_new(kd);
  if (!kd->root) {
    free(kd);
    return NULL;
  }
  return kd;
}

static void free_subtree(cdb_keydir *kd, void *node, int levels_below) {
  if (levels_below == 0) {
    leaf_free(kd, node);
    return;
  }
  kd_inner *in = node;
  for (int i = 0; i < in->n; i++) {
    sep_free(kd, in->sep[i]);
    free_subtree(kd, in->child[i], levels_below - 1);
  }
  kd_release(kd, in, sizeof *in);
}

void cdb_kd_free(cdb_keydir *kd) {
  if (!kd)
    return;
  free_subtree(kd, kd->root, kd->height);
  free(kd);
}

/* ---- Lookups ------------------------------------------------------------ */

int cdb_kd_find(const cdb_keydir *kd, const void *key, size_t klen,
                cdb_loc *loc) {
  const kd_leaf *leaf = find_leaf(kd, key, klen);
  int found;
  int pos = leaf_search(leaf, key, klen, &found);
  if (!found)
    return 0;
  if (loc) {
    kd_entry e;
    leaf_entry(leaf, pos, &e);
    loc_read(&e, loc);
  }
  return 1;
}

size_t cdb_kd_count(const cdb_keydir *kd) { return kd->count; }

size_t cdb_kd_bytes(const cdb_keydir *kd) { return kd->bytes; }

uint64_t cdb_kd_version(const cdb_keydir *kd) { return kd->version; }

/* ---- Inserting ---------------------------------------------------------- */

/* Room for a split of the leaf and of `inner_count` inner nodes above it,
 * the last of them possibly a new root; all allocated before the tree
 * changes. */
typedef struct kd_spare {
  kd_leaf *leaf;            /* the new right leaf, with its area */
  unsigned char *left_area; /* a new area for the old leaf ... */
  size_t left_cap;          /* ... of this many bytes */
  kd_sep *sep;
  kd_inner *inner[MAX_HEIGHT + 1];
  int inner_count;
} kd_spare;

/* The shortest prefix of `right` that is still greater than `left`
 * (left < right), as a new separator. */
static kd_sep *sep_between(cdb_keydir *kd, const kd_entry *left,
                           const kd_entry *right) {
  size_t lcp = common_prefix(left->key, left->klen, right->key, right->klen);
  size_t len = lcp + 1; /* right is longer than lcp, since left < right */
  kd_sep *s = kd_alloc(kd, sep_size(len));
  if (s) {
    s->len = (uint32_t)len;
    memcpy(s->bytes, right->key, len);
  }
  return s;
}

/* Where a full node of `max` slots splits as one more slot comes in: the
 * left part keeps the first m of the max + 1 slots.  Halves, except when the
 * new slot goes after everything at the right edge of the whole tree
 * (`appending`) or before everything at its left edge (`prepending`): then
 * the old slots stay together in one full node, so sorted loads fill
 * nodes completely. */
static int split_point(int max, int appending, int prepending) {
  if (appending)
    return max;
  if (prepending)
    return 1;
  return (max + 1) / 2;
}

/* Whether the node at `level` of the path is the first of its level. */
static int at_left_edge(const kd_path *path, int level) {
  for (int up = 0; up < level; up++)
    if (path->idx[up] != 0)
      return 0;
  return 1;
}

/* Whether the node at `level` of the path is the last of its level. */
static int at_right_edge(const kd_path *path, int level) {
  for (int up = 0; up < level; up++)
    if (path->idx[up] != path->inner[up]->n - 1)
      return 0;
  return 1;
}

static void spare_free(cdb_keydir *kd, kd_spare *spare) {
  if (spare->leaf)
    leaf_free(kd, spare->leaf);
  kd_release(kd, spare->left_area, spare->left_cap);
  sep_free(kd, spare->sep);
  for (int i = 0; i < spare->inner_count; i++)
    kd_release(kd, spare->inner[i], sizeof *spare->inner[i]);
}

/* How many inner nodes a split of path->leaf makes: one for every full
 * ancestor in a row above it, and one more for a new root if all are full. */
static int inner_nodes_needed(const cdb_keydir *kd, const kd_path *path) {
  int needed = 0;
  for (int level = kd->height - 1; level >= 0; level--) {
    if (path->inner[level]->n < INNER_MAX)
      return needed;
    needed++;
  }
  return needed + 1;
}

/* Allocates all a leaf split needs: the new leaf with an area for
 * `right_bytes`, a new area for the `left_bytes` the old leaf keeps, the
 * separator between the keys `left` and `right`, the inner nodes; -1 (and
 * nothing allocated) when memory runs out or the tree would grow past
 * MAX_HEIGHT. */
static int spare_alloc(cdb_keydir *kd, const kd_path *path,
                       const kd_entry *left, const kd_entry *right,
                       size_t left_bytes, size_t right_bytes, kd_spare *spare) {
  int needed = inner_nodes_needed(kd, path);
  if (needed > MAX_HEIGHT)
    return -1;
  spare->inner_count = 0;
  spare->leaf = leaf_new(kd);
  spare->left_cap = area_cap_for(left_bytes);
  spare->left_area = kd_alloc(kd, spare->left_cap);
  spare->sep = sep_between(kd, left, right);
  for (int i = 0; i < needed; i++) {
    spare->inner[i] = inner_new(kd);
    if (!spare->inner[i])
      break;
    spare->inner_count++;
  }
  if (spare->leaf && spare->left_area && spare->sep &&
      spare->inner_count == needed &&
      area_reserve(kd, spare->leaf, right_bytes) == 0)
    return 0;
  spare_free(kd, spare);
  return -1;
}

/* Puts `child`, whose keys start at `sep`, right after child `after` of
 * the non-full node `in`. */
static void inner_insert_at(kd_inner *in, int after, kd_sep *sep, void *child) {
  int at = after + 1;
  memmove(&in->sep[at + 1], &in->sep[at], (size_t)(in->n - at) * sizeof sep);
  memmove(&in->child[at + 1], &in->child[at],
          (size_t)(in->n - at) * sizeof child);
  in->sep[at] = sep;
  in->child[at] = child;
  in->n++;
  inner_rehint(in);
}

/* Splits the full node `in` while inserting (sep, child) after child
 * `after`; the right half goes to `right`.  Returns the separator that now
 * divides `in` from `right`, for the parent. */
static kd_sep *inner_split(kd_inner *in, int after, kd_sep *sep, void *child,
                           kd_inner *right, int leftmost, int rightmost) {
  kd_sep *seps[INNER_MAX + 1];
  void *children[INNER_MAX + 1];
  int at = after + 1, total = INNER_MAX + 1;
  memcpy(seps, in->sep, (size_t)at * sizeof sep);
  memcpy(children, in->child, (size_t)at * sizeof child);
  seps[at] = sep;
  children[at] = child;
  memcpy(seps + at + 1, in->sep + at, (size_t)(INNER_MAX - at) * sizeof sep);
  memcpy(children + at + 1, in->child + at,
         (size_t)(INNER_MAX - at) * sizeof child);

  /* The new child is never first (at >= 1), so "before everything" means
   * right after the first child. */
  int m =
      split_point(INNER_MAX, rightmost && at == INNER_MAX, leftmost && at == 1);
  in->n = m;
  memcpy(in->sep, seps, (size_t)m * sizeof sep);
  memcpy(in->child, children, (size_t)m * sizeof child);
  right->n = total - m;
  right->sep[0] = NULL;
  memcpy(right->sep + 1, seps + m + 1, (size_t)(right->n - 1) * sizeof sep);
  memcpy(right->child, children + m, (size_t)right->n * sizeof child);
  inner_rehint(in);
  inner_rehint(right);
  return seps[m];
}

/* Hands the new node `new_node` (right of `left_node`, from `sep` on) up
 * the path, splitting full ancestors with the spare nodes on the way; at the
 * top, a new root. */
static void insert_upwards(cdb_keydir *kd, const kd_path *path, kd_spare *spare,
                           void *left_node, kd_sep *sep, void *new_node) {
  int used = 0;
  for (int level = kd->height - 1; level >= 0; level--) {
    kd_inner *in = path->inner[level];
    int after = path->idx[level];
    if (in->n < INNER_MAX) {
      inner_insert_at(in, after, sep, new_node);
      return;
    }
    kd_inner *split = spare->inner[used++];
    sep = inner_split(in, after, sep, new_node, split,
                      at_left_edge(path, level), at_right_edge(path, level));
    left_node = in;
    new_node = split;
  }
  kd_inner *root = spare->inner[used];
  root->n = 2;
  root->sep[1] = sep;
  root->child[0] = left_node;
  root->child[1] = new_node;
  inner_rehint(root);
  kd->root = root;
  kd->height++;
}

/* Entry i of the leaf as it will be once `entry` is in at pos. */
static void entry_with_new(const kd_leaf *leaf, int pos, unsigned char *entry,
                           int i, kd_entry *e) {
  if (i == pos)
    entry_read(entry, e);
  else
    leaf_entry(leaf, i < pos ? i : i - 1, e);
}

/* Moves the entries of the leaf into the new area `area` of `cap` bytes
 * and frees the old one. */
static void area_replace(cdb_keydir *kd, kd_leaf *leaf, unsigned char *area,
                         size_t cap) {
  if (leaf->used > 0)
    memcpy(area, leaf->area, leaf->used);
  kd_release(kd, leaf->area, leaf->cap);
  leaf->area = area;
  leaf->cap = (uint16_t)cap;
}

/* Splits path->leaf, which is full, while inserting the encoded `entry` at
 * `pos`, then hands the new leaf up the path.  -1 when out of memory
 * (nothing changed then).  Both halves get new areas of their size, and
 * the old area goes back to malloc whole: shrinking it in place would leave
 * a hole behind it that only smaller blocks can use, and such holes add up
 * to more than the slack of new areas. */
static int insert_with_split(cdb_keydir *kd, const kd_path *path, int pos,
                             unsigned char *entry, size_t size) {
  kd_leaf *leaf = path->leaf;
  int m = split_point(leaf->n, !leaf->next && pos == leaf->n,
                      !leaf->prev && pos == 0);
  int goes_left = pos < m;
  int from = goes_left ? m - 1 : m; /* the first old entry to move right */
  size_t keep = leaf_offset(leaf, from), moved = leaf->used - keep;
  kd_entry left_key, right_key;
  entry_with_new(leaf, pos, entry, m - 1, &left_key);
  entry_with_new(leaf, pos, entry, m, &right_key);
  kd_spare spare;
  if (spare_alloc(kd, path, &left_key, &right_key,
                  keep + (goes_left ? size : 0), moved + (goes_left ? 0 : size),
                  &spare) != 0)
    return -1;
  /* From here on nothing can fail. */
  kd_leaf *right = spare.leaf;
  leaf_move_tail(leaf, from, right);
  area_replace(kd, leaf, spare.left_area, spare.left_cap);
  if (goes_left)
    leaf_insert_at(leaf, pos, entry, size);
  else
    leaf_insert_at(right, pos - m, entry, size);
  leaf_rehint(leaf, 0);
  leaf_rehint(right, 0);
  right->prev = leaf;
  right->next = leaf->next;
  if (leaf->next)
    leaf->next->prev = right;
  else
    kd->last = right;
  leaf->next = right;
  insert_upwards(kd, path, &spare, leaf, spare.sep, right);
  return 0;
}

/* Whether the leaf takes one more entry of `size` bytes without a split. */
static int leaf_has_room(const kd_leaf *leaf, size_t size) {
  return leaf->n < LEAF_MAX &&
         (leaf->n == 0 || leaf->used + size <= LEAF_BYTES);
}

/* Inserts the absent key at pos of path->leaf.  -1 when out of memory
 * (nothing changed then). */
static int insert_new(cdb_keydir *kd, const kd_path *path, int pos,
                      const unsigned char *key, size_t klen,
                      const cdb_loc *loc) {
  unsigned char entry[ENTRY_MAX], *block = NULL;
  if (klen > KEY_INLINE_MAX) { /* the entry will point to a copy */
    if (klen > UINT32_MAX || !(block = kd_alloc(kd, klen)))
      return -1;
    memcpy(block, key, klen);
    key = block;
  }
  size_t size = entry_write(entry, key, klen, loc);
  kd_leaf *leaf = path->leaf;
  int rc;
  if (leaf_has_room(leaf, size)) {
    rc = area_reserve(kd, leaf, leaf->used + size);
    if (rc == 0)
      leaf_insert_at(leaf, pos, entry, size);
  } else {
    rc = insert_with_split(kd, path, pos, entry, size);
  }
  if (rc != 0)
    kd_release(kd, block, klen);
  return rc;
}

/* Writes loc over the location of entry pos.  Only when the expiry comes or
 * goes does the entry change size; then the area may need to grow: -1
 * (nothing changed) when out of memory. */
static int update_at(cdb_keydir *kd, kd_leaf *leaf, int pos, const cdb_loc *loc,
                     cdb_loc *old) {
  kd_entry e;
  leaf_entry(leaf, pos, &e);
  cdb_loc prev;
  loc_read(&e, &prev);
  if (e.has_expiry == (loc->expiry != 0)) {
    loc_write(e.loc, loc);
  } else {
    unsigned char entry[ENTRY_MAX];
    size_t size = entry_write(entry, e.key, e.klen, loc);
    if (area_reserve(kd, leaf, leaf->used - e.size + size) != 0)
      return -1;
    leaf_replace_at(leaf, pos, entry, size);
  }
  if (old)
    *old = prev;
  return 0;
}

int cdb_kd_set(cdb_keydir *kd, const void *key, size_t klen, const cdb_loc *loc,
               cdb_loc *old) {
  kd_path path;
  int found, pos;
  if (after_last_key(kd, key, klen)) { /* ascending loads: no search */
    last_path(kd, &path);
    pos = path.leaf->n;
    found = 0;
  } else {
    find_path(kd, key, klen, &path);
    pos = leaf_search(path.leaf, key, klen, &found);
  }
  if (found)
    return update_at(kd, path.leaf, pos, loc, old);
  if (insert_new(kd, &path, pos, key, klen, loc) != 0)
    return -1;
  kd->count++;
  kd->version++;
  return 1;
}

/* ---- Removing ----------------------------------------------------------- */

/* Removes child i (already freed) and one separator next to it.  Child i's
 * own sep[i] goes: child i - 1 now also covers the (empty) range up to
 * sep[i + 1].  For child 0 it is sep[1] that goes: the new first child's keys
 * are still above the lower bound the parent gives this node. */
static void inner_remove_at(cdb_keydir *kd, kd_inner *in, int i) {
  int drop = i > 0 ? i : 1;
  if (drop < in->n) {
    sep_free(kd, in->sep[drop]);
    memmove(&in->sep[drop], &in->sep[drop + 1],
            (size_t)(in->n - drop - 1) * sizeof in->sep[0]);
  }
  memmove(&in->child[i], &in->child[i + 1],
          (size_t)(in->n - i - 1) * sizeof in->child[0]);
  in->n--;
  in->sep[0] = NULL;
  inner_rehint(in);
}

/* While the root is an inner node with one child, that child is the root. */
static void collapse_root(cdb_keydir *kd) {
  while (kd->height > 0) {
    kd_inner *root = kd->root;
    if (root->n > 1)
      return;
    kd->root = root->child[0];
    kd->height--;
    kd_release(kd, root, sizeof *root);
  }
}

/* Takes the empty leaf at path->leaf out of the tree, and every ancestor
 * that it leaves empty.  Not for the root leaf. */
static void remove_empty_leaf(cdb_keydir *kd, const kd_path *path) {
  kd_leaf *leaf = path->leaf;
  if (leaf->prev)
    leaf->prev->next = leaf->next;
  if (leaf->next)
    leaf->next->prev = leaf->prev;
  else
    kd->last = leaf->prev;
  leaf_free(kd, leaf);
  for (int level = kd->height - 1; level >= 0; level--) {
    kd_inner *in = path->inner[level];
    inner_remove_at(kd, in, path->idx[level]);
    if (in->n > 0)
      break;
    kd_release(kd, in, sizeof *in); /* never the root: it has 2+ children */
  }
  collapse_root(kd);
}

/* Whether leaves `i - 1` and `i` of `parent` fit in half a leaf together. */
static int leaves_sparse(const kd_inner *parent, int i) {
  if (i < 1 || i >= parent->n)
    return 0;
  const kd_leaf *left = parent->child[i - 1], *right = parent->child[i];
  return left->n + right->n <= LEAF_MAX / 2 &&
         left->used + right->used <= LEAF_BYTES / 2;
}

/* Moves every entry of `right` to the end of `left`, its neighbour; -1
 * (nothing changed) when there is no memory to grow left's area. */
static int leaf_merge(cdb_keydir *kd, kd_leaf *left, kd_leaf *right) {
  if (area_reserve(kd, left, (size_t)left->used + right->used) != 0)
    return -1;
  memcpy(left->area + left->used, right->area, right->used);
  for (int i = 0; i < right->n; i++)
    left->slot[left->n + i] = (uint32_t)(right->slot[i] + left->used);
  left->n = (uint16_t)(left->n + right->n);
  left->used = (uint16_t)(left->used + right->used);
  leaf_rehint(left, 1);
  right->n = right->used = 0; /* its long keys are left's now */
  return 0;
}

/* After a removal from path->leaf: when it and a neighbour under the same
 * parent fit in half a leaf together, moves the right one's entries into the
 * left one and removes the right one; returns whether it did.  Keeps
 * neighbours under one parent from thinning out under deletes.  (Moving
 * left into right would break the separator between them; right into left
 * only widens the left range.) */
static int merge_if_sparse(cdb_keydir *kd, kd_path *path) {
  if (kd->height == 0)
    return 0;
  kd_inner *parent = path->inner[kd->height - 1];
  int i = path->idx[kd->height - 1], right_i;
  if (leaves_sparse(parent, i))
    right_i = i;
  else if (leaves_sparse(parent, i + 1))
    right_i = i + 1;
  else
    return 0;
  if (leaf_merge(kd, parent->child[right_i - 1], parent->child[right_i]) != 0)
    return 0;
  path->idx[kd->height - 1] = right_i;
  path->leaf = parent->child[right_i];
  remove_empty_leaf(kd, path);
  return 1;
}

int cdb_kd_del(cdb_keydir *kd, const void *key, size_t klen, cdb_loc *old) {
  kd_path path;
  find_path(kd, key, klen, &path);
  kd_leaf *leaf = path.leaf;
  int found;
  int pos = leaf_search(leaf, key, klen, &found);
  if (!found)
    return 0;
  kd_entry e;
  leaf_entry(leaf, pos, &e);
  if (old)
    loc_read(&e, old);
  entry_release(kd, &e);
  leaf_remove_at(leaf, pos);
  kd->count--;
  kd->version++;
  if (leaf->n == 0 && kd->height > 0)
    remove_empty_leaf(kd, &path);
  else if (!merge_if_sparse(kd, &path))
    area_trim(kd, leaf);
  return 1;
}

/* ---- Cursors ------------------------------------------------------------ */

/* Moves a cursor that is one past the end of its leaf to the next leaf. */
static void cursor_settle(kd_leaf *leaf, int pos, cdb_kd_cursor *cur) {
  if (leaf && pos >= leaf->n) {
    leaf = leaf->next;
    pos = 0;
  }
  cur->node = leaf;
  cur->pos = pos;
}

void cdb_kd_seek(const cdb_keydir *kd, const void *key, size_t klen,
                 cdb_kd_cursor *cur) {
  cur->version = kd->version;
  if (!key) {
    void *node = kd->root;
    for (int level = 0; level < kd->height; level++)
      node = ((kd_inner *)node)->child[0];
    cursor_settle(node, 0, cur);
    return;
  }
  kd_leaf *leaf = find_leaf(kd, key, klen);
  int found;
  int pos = leaf_search(leaf, key, klen, &found);
  cursor_settle(leaf, pos, cur);
}

int cdb_kd_cursor_get(const cdb_keydir *kd, const cdb_kd_cursor *cur,
                      const unsigned char **key, size_t *klen, cdb_loc *loc) {
  if (cur->version != kd->version || !cur->node)
    return 0;
  const kd_leaf *leaf = cur->node;
  if (cur->pos >= leaf->n)
    return 0;
  kd_entry e;
  leaf_entry(leaf, cur->pos, &e);
  if (key)
    *key = e.key;
  if (klen)
    *klen = e.klen;
  if (loc)
    loc_read(&e, loc);
  return 1;
}

void cdb_kd_cursor_next(const cdb_keydir *kd, cdb_kd_cursor *cur) {
  if (cur->version != kd->version || !cur->node)
    return;
  cursor_settle(cur->node, cur->pos + 1, cur);
}
