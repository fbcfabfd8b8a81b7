/*
 * keydir.c -- the in-memory ordered index: a B+tree from key to entry.
 *
 * The idea in plain words.  Every key lives in its own heap block, a
 * cdb_entry: the record position, the key length and the key bytes right
 * after them.  The tree never moves an entry, so a pointer to one stays good
 * until the key is removed.  The tree only arranges pointers to entries:
 *
 *   - A leaf holds up to LEAF_MAX entry pointers in key order.  The leaves
 *     are linked both ways, so a cursor walks all keys in order by stepping
 *     along a leaf and then to the next one.
 *   - An inner node holds up to INNER_MAX children and, between them,
 *     separator keys: child i holds exactly the keys k with
 *     sep[i] <= k < sep[i+1] (sep[0] is "minus infinity", sep[n] "plus
 *     infinity", both within the range the parent gives the node).  A
 *     separator is its own small copy of key bytes, cut down to the shortest
 *     prefix that still separates two leaves, so a separator never points
 *     into an entry and removing entries never has to touch separators.
 *   - Every leaf is at the same depth, kd->height inner levels below the
 *     root.  With height 0 the root is the only leaf.
 *
 * Keys compare with memcmp over the shorter length, then the shorter key
 * first, so "ab" < "ab\0" < "abc" and the empty key is the smallest of all.
 *
 * Searching a node.  Looking at a key costs a cache miss (entries are all
 * over the heap), so a node also keeps a 4-byte "hint" per key: the key's
 * bytes right after the prefix that all keys of the node share (plen bytes
 * long), big-endian, zero-padded.  For keys that share that prefix, a
 * smaller hint means a smaller key, so a binary search over the hints, inside
 * the node, narrows the search to the few keys whose hint equals the
 * searched one; only those are compared in full.  Skipping the shared prefix
 * matters: canonical integer keys share their first bytes, as do keys like
 * "user:...".  A search key that does not share the prefix at all sorts
 * before or after every key of the node; a leaf checks for that only when
 * the key was not found (a found key obviously shares it).
 *
 * Inserting: find the leaf, put the pointer in.  A full leaf splits in two
 * and its parent gets the new right half plus a separator; a full parent
 * splits the same way, up to a new root.  Everything a split needs (nodes,
 * the separator) is allocated before the tree is touched, so running out of
 * memory leaves the tree exactly as it was.  A split normally halves the
 * node; at the very right edge of the tree (keys arriving in ascending
 * order) the old node stays full and the new one starts with only the new
 * key, and mirrored at the left edge, so sorted loads fill nodes completely.
 *
 * Removing: take the pointer out of its leaf.  When a leaf and a neighbour
 * under the same parent hold LEAF_MAX / 2 keys or fewer between them, the
 * right one is emptied into the left one.  A node that becomes empty is
 * removed from its parent, and so on upwards; a root with a single child is
 * replaced by that child.  Inner nodes are never merged or rebalanced: that
 * is fine, because only inserts add levels, and a new level needs the root to
 * fill up with INNER_MAX children, each of which was once split from a full
 * node, so the height stays below log(keys ever inserted) / log(INNER_MAX /
 * 2) + 2 -- about 5 for a billion inserts.  Lookups and cursors only rely
 * on the separator invariant above and on "no leaf is empty except an empty
 * root", which removal keeps, so a sparse tree is slower at worst, never
 * wrong.
 *
 * The version counter changes on every insert of a new key and every
 * removal, never on an in-place update.  A cursor remembers the version it
 * was made under; under any other version cdb_kd_cursor_entry returns NULL
 * and cdb_kd_cursor_next does nothing, so a stale cursor never reads freed
 * nodes (the caller re-seeks).
 *
 * Memory accounting (cdb_kd_bytes) does not ask the allocator: it estimates
 * what glibc's malloc takes for each block -- the request plus an 8-byte
 * header, rounded up to 16 bytes, at least 32 -- and keeps the running sum.
 * That is exact for glibc on 64-bit and independent of sanitizers.
 */
#include "keydir.h"

#include <stdlib.h>
#include <string.h>

enum {
  LEAF_MAX = 64,  /* entry pointers per leaf */
  INNER_MAX = 64, /* children per inner node */
  MAX_HEIGHT = 32 /* inner levels; unreachable in practice (see above) */
};

/* A separator key: a prefix of some key, owned by its inner node. */
typedef struct kd_sep {
  uint32_t len;
  unsigned char bytes[];
} kd_sep;

typedef struct kd_leaf {
  int n;         /* entries in use; 1..LEAF_MAX, 0 only for an empty root */
  uint32_t plen; /* the keys e[0..n) all share their first plen bytes */
  struct kd_leaf *prev, *next;
  uint32_t hint[LEAF_MAX]; /* hint[i] = key_hint(e[i], plen) */
  cdb_entry *e[LEAF_MAX];  /* e[0..n) in strictly increasing key order */
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

/* An entry is allocated with at least sizeof(cdb_entry) bytes, so that the
 * whole header is inside the block even for keys shorter than its padding. */
static size_t entry_size(size_t klen) {
  size_t size = offsetof(cdb_entry, key) + klen;
  return size < sizeof(cdb_entry) ? sizeof(cdb_entry) : size;
}

static cdb_entry *entry_new(cdb_keydir *kd, const void *key, size_t klen,
                            const cdb_loc *loc) {
  cdb_entry *e = kd_alloc(kd, entry_size(klen));
  if (!e)
    return NULL;
  e->loc = *loc;
  e->klen = (uint32_t)klen;
  if (klen)
    memcpy(e->key, key, klen);
  return e;
}

static void entry_free(cdb_keydir *kd, cdb_entry *e) {
  kd_release(kd, e, entry_size(e->klen));
}

static size_t sep_size(size_t len) { return offsetof(kd_sep, bytes) + len; }

static void sep_free(cdb_keydir *kd, kd_sep *s) {
  if (s)
    kd_release(kd, s, sep_size(s->len));
}

static kd_leaf *leaf_new(cdb_keydir *kd) {
  kd_leaf *leaf = kd_alloc(kd, sizeof *leaf);
  if (leaf) {
    leaf->n = 0;
    leaf->plen = 0;
    leaf->prev = leaf->next = NULL;
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

/* The 4 bytes of key after its first plen, big-endian, zero-padded.  For two
 * keys sharing those plen bytes, a smaller hint means a smaller key; equal
 * hints say nothing. */
static uint32_t key_hint(const unsigned char *key, size_t klen, size_t plen) {
  uint32_t hint = 0;
  for (size_t i = plen; i < plen + 4; i++)
    hint = hint << 8 | (i < klen ? key[i] : 0);
  return hint;
}

static uint32_t entry_hint(const cdb_entry *e, size_t plen) {
  return key_hint(e->key, e->klen, plen);
}

/* In the increasing hint[lo..hi), narrows [lo, hi) to the slots whose hint
 * equals h: before *lo all are smaller, from *hi on all are larger. */
static void hint_span(const uint32_t *hint, int *lo, int *hi, uint32_t h) {
  int a = *lo, b = *hi;
  while (a < b) { /* the first slot with hint >= h */
    int mid = a + (b - a) / 2;
    if (hint[mid] < h)
      a = mid + 1;
    else
      b = mid;
  }
  *lo = a;
  b = *hi;
  while (a < b) { /* the first slot with hint > h */
    int mid = a + (b - a) / 2;
    if (hint[mid] <= h)
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
  hint_span(leaf->hint, &lo, &hi, key_hint(key, klen, leaf->plen));
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    const cdb_entry *e = leaf->e[mid];
    int c = key_cmp(e->key, e->klen, key, klen);
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
  const cdb_entry *first = leaf->e[0];
  int side = prefix_cmp(key, klen, first->key, leaf->plen);
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
  hint_span(in->hint, &lo, &hi, key_hint(key, klen, in->plen));
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

/* ---- Keeping hints right ------------------------------------------------ */

/* Entries with hints, as a leaf holds them: the arrays may be a leaf's or a
 * scratch copy one slot longer during a split. */
typedef struct kd_slots {
  uint32_t *hint;
  cdb_entry **e;
  int n;
  uint32_t plen;
} kd_slots;

/* Sets plen to the longest prefix all entries share (first and last have
 * the shortest in common, the entries being sorted) and recomputes the
 * hints if it changed, or always when `force`. */
static void slots_rehint(kd_slots *s, int force) {
  uint32_t plen = 0;
  if (s->n > 0) {
    const cdb_entry *first = s->e[0], *last = s->e[s->n - 1];
    plen =
        (uint32_t)common_prefix(first->key, first->klen, last->key, last->klen);
  }
  if (plen == s->plen && !force)
    return;
  s->plen = plen;
  for (int i = 0; i < s->n; i++)
    s->hint[i] = entry_hint(s->e[i], plen);
}

/* Puts e at pos (room for it is there).  When e does not share the prefix
 * of the others, the prefix shrinks and all hints are recomputed. */
static void slots_insert(kd_slots *s, int pos, cdb_entry *e) {
  memmove(&s->e[pos + 1], &s->e[pos], (size_t)(s->n - pos) * sizeof s->e[0]);
  memmove(&s->hint[pos + 1], &s->hint[pos],
          (size_t)(s->n - pos) * sizeof s->hint[0]);
  s->e[pos] = e;
  s->n++;
  if (s->n == 1) {
    slots_rehint(s, 1);
    return;
  }
  const cdb_entry *other = s->e[pos == 0 ? 1 : 0]; /* has the prefix */
  if (prefix_cmp(e->key, e->klen, other->key, s->plen) != 0)
    slots_rehint(s, 1);
  else
    s->hint[pos] = entry_hint(e, s->plen);
}

static kd_slots leaf_slots(kd_leaf *leaf) {
  kd_slots s = {leaf->hint, leaf->e, leaf->n, leaf->plen};
  return s;
}

static void leaf_take_slots(kd_leaf *leaf, const kd_slots *s) {
  leaf->n = s->n;
  leaf->plen = s->plen;
}

static void leaf_insert_at(kd_leaf *leaf, int pos, cdb_entry *e) {
  kd_slots s = leaf_slots(leaf);
  slots_insert(&s, pos, e);
  leaf_take_slots(leaf, &s);
}

static void leaf_remove_at(kd_leaf *leaf, int pos) {
  int after = leaf->n - pos - 1;
  memmove(&leaf->e[pos], &leaf->e[pos + 1], (size_t)after * sizeof leaf->e[0]);
  memmove(&leaf->hint[pos], &leaf->hint[pos + 1],
          (size_t)after * sizeof leaf->hint[0]);
  leaf->n--; /* the rest still share the prefix */
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
    in->hint[i] = key_hint(in->sep[i]->bytes, in->sep[i]->len, in->plen);
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
  kd->root = leaf_new(kd);
  if (!kd->root) {
    free(kd);
    return NULL;
  }
  return kd;
}

static void free_subtree(cdb_keydir *kd, void *node, int levels_below) {
  if (levels_below == 0) {
    kd_leaf *leaf = node;
    for (int i = 0; i < leaf->n; i++)
      entry_free(kd, leaf->e[i]);
    kd_release(kd, leaf, sizeof *leaf);
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

cdb_entry *cdb_kd_find(const cdb_keydir *kd, const void *key, size_t klen) {
  const kd_leaf *leaf = find_leaf(kd, key, klen);
  int found;
  int pos = leaf_search(leaf, key, klen, &found);
  return found ? leaf->e[pos] : NULL;
}

size_t cdb_kd_count(const cdb_keydir *kd) { return kd->count; }

size_t cdb_kd_bytes(const cdb_keydir *kd) { return kd->bytes; }

uint64_t cdb_kd_version(const cdb_keydir *kd) { return kd->version; }

/* ---- Inserting ---------------------------------------------------------- */

/* Room for a split of the leaf and of `inner_count` inner nodes above it,
 * the last of them possibly a new root; all allocated before the tree
 * changes. */
typedef struct kd_spare {
  kd_leaf *leaf;
  kd_sep *sep;
  kd_inner *inner[MAX_HEIGHT + 1];
  int inner_count;
} kd_spare;

/* The shortest prefix of `right` that is still greater than `left`
 * (left < right), as a new separator. */
static kd_sep *sep_between(cdb_keydir *kd, const cdb_entry *left,
                           const cdb_entry *right) {
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
  kd_release(kd, spare->leaf, sizeof *spare->leaf);
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

/* Allocates all a leaf split needs; -1 (and nothing allocated) when memory
 * runs out or the tree would grow past MAX_HEIGHT. */
static int spare_alloc(cdb_keydir *kd, const kd_path *path, cdb_entry *left,
                       cdb_entry *right, kd_spare *spare) {
  int needed = inner_nodes_needed(kd, path);
  if (needed > MAX_HEIGHT)
    return -1;
  spare->inner_count = 0;
  spare->leaf = leaf_new(kd);
  spare->sep = sep_between(kd, left, right);
  for (int i = 0; i < needed; i++) {
    spare->inner[i] = inner_new(kd);
    if (!spare->inner[i])
      break;
    spare->inner_count++;
  }
  if (spare->leaf && spare->sep && spare->inner_count == needed)
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

/* Moves the upper part of the leaf's entries plus `e` (LEAF_MAX + 1 in all,
 * in `all`, sharing all->plen) into the empty leaf `right`: the left keeps
 * the first m.  Each half then keeps the shared prefix unless its own is
 * longer. */
static void leaf_split(kd_leaf *leaf, const kd_slots *all, int m,
                       kd_leaf *right) {
  kd_slots left = {leaf->hint, leaf->e, m, all->plen};
  memcpy(left.e, all->e, (size_t)m * sizeof all->e[0]);
  memcpy(left.hint, all->hint, (size_t)m * sizeof all->hint[0]);
  slots_rehint(&left, 0);
  leaf_take_slots(leaf, &left);

  kd_slots rest = {right->hint, right->e, all->n - m, all->plen};
  memcpy(rest.e, all->e + m, (size_t)rest.n * sizeof all->e[0]);
  memcpy(rest.hint, all->hint + m, (size_t)rest.n * sizeof all->hint[0]);
  slots_rehint(&rest, 0);
  leaf_take_slots(right, &rest);

  right->prev = leaf;
  right->next = leaf->next;
  if (leaf->next)
    leaf->next->prev = right;
  leaf->next = right;
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

/* Splits path->leaf, which is full, while inserting `e` at `pos`, then
 * hands the new leaf up the path.  -1 when out of memory (nothing changed
 * then). */
static int insert_with_split(cdb_keydir *kd, const kd_path *path, int pos,
                             cdb_entry *e) {
  kd_leaf *leaf = path->leaf;
  uint32_t hints[LEAF_MAX + 1];
  cdb_entry *entries[LEAF_MAX + 1];
  kd_slots all = {hints, entries, leaf->n, leaf->plen};
  memcpy(entries, leaf->e, sizeof leaf->e);
  memcpy(hints, leaf->hint, sizeof leaf->hint);
  slots_insert(&all, pos, e);

  int m = split_point(LEAF_MAX, !leaf->next && pos == LEAF_MAX,
                      !leaf->prev && pos == 0);
  kd_spare spare;
  if (spare_alloc(kd, path, entries[m - 1], entries[m], &spare) != 0)
    return -1;
  /* From here on nothing can fail. */
  leaf_split(leaf, &all, m, spare.leaf);
  insert_upwards(kd, path, &spare, leaf, spare.sep, spare.leaf);
  return 0;
}

int cdb_kd_set(cdb_keydir *kd, const void *key, size_t klen, const cdb_loc *loc,
               cdb_loc *old) {
  kd_path path;
  find_path(kd, key, klen, &path);
  kd_leaf *leaf = path.leaf;
  int found;
  int pos = leaf_search(leaf, key, klen, &found);
  if (found) {
    cdb_entry *e = leaf->e[pos];
    if (old)
      *old = e->loc;
    e->loc = *loc;
    return 0;
  }
  if (klen > UINT32_MAX)
    return -1;
  cdb_entry *e = entry_new(kd, key, klen, loc);
  if (!e)
    return -1;
  if (leaf->n < LEAF_MAX) {
    leaf_insert_at(leaf, pos, e);
  } else if (insert_with_split(kd, &path, pos, e) != 0) {
    entry_free(kd, e);
    return -1;
  }
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
  kd_release(kd, leaf, sizeof *leaf);
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
  return left->n + right->n <= LEAF_MAX / 2;
}

/* Moves every entry of `right` to the end of `left`, its neighbour. */
static void leaf_merge(kd_leaf *left, kd_leaf *right) {
  memcpy(left->e + left->n, right->e, (size_t)right->n * sizeof right->e[0]);
  kd_slots s = leaf_slots(left);
  s.n += right->n;
  slots_rehint(&s, 1);
  leaf_take_slots(left, &s);
  right->n = 0;
}

/* After a removal from path->leaf: when it and a neighbour under the same
 * parent fit in half a leaf together, moves the right one's entries into the
 * left one and removes the right one.  Keeps the invariant that neighbours
 * under one parent hold more than LEAF_MAX / 2 keys together, so leaves do
 * not thin out under deletes.  (Moving left into right would break the
 * separator between them; right into left only widens the left range.) */
static void merge_if_sparse(cdb_keydir *kd, kd_path *path) {
  if (kd->height == 0)
    return;
  kd_inner *parent = path->inner[kd->height - 1];
  int i = path->idx[kd->height - 1], right_i;
  if (leaves_sparse(parent, i))
    right_i = i;
  else if (leaves_sparse(parent, i + 1))
    right_i = i + 1;
  else
    return;
  leaf_merge(parent->child[right_i - 1], parent->child[right_i]);
  path->idx[kd->height - 1] = right_i;
  path->leaf = parent->child[right_i];
  remove_empty_leaf(kd, path);
}

int cdb_kd_del(cdb_keydir *kd, const void *key, size_t klen, cdb_loc *old) {
  kd_path path;
  find_path(kd, key, klen, &path);
  kd_leaf *leaf = path.leaf;
  int found;
  int pos = leaf_search(leaf, key, klen, &found);
  if (!found)
    return 0;
  cdb_entry *e = leaf->e[pos];
  if (old)
    *old = e->loc;
  entry_free(kd, e);
  leaf_remove_at(leaf, pos);
  kd->count--;
  kd->version++;
  if (leaf->n == 0 && kd->height > 0)
    remove_empty_leaf(kd, &path);
  else
    merge_if_sparse(kd, &path);
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

cdb_entry *cdb_kd_cursor_entry(const cdb_keydir *kd, const cdb_kd_cursor *cur) {
  if (cur->version != kd->version || !cur->node)
    return NULL;
  const kd_leaf *leaf = cur->node;
  return cur->pos < leaf->n ? leaf->e[cur->pos] : NULL;
}

void cdb_kd_cursor_next(const cdb_keydir *kd, cdb_kd_cursor *cur) {
  if (cur->version != kd->version || !cur->node)
    return;
  cursor_settle(cur->node, cur->pos + 1, cur);
}
