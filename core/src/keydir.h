/*
 * keydir.h -- the in-memory ordered index from key to record position.
 *
 * Keys here are "canonical keys": byte strings compared with memcmp (a
 * shorter prefix first).  The engine builds them so that this one order is
 * the order users see: a kind byte first (0x00 integer, 0x01 bytes), then
 * for an integer its 8 bytes big-endian with the sign bit flipped, for bytes
 * the bytes themselves.  The keydir knows nothing of that.
 *
 * The keydir owns its keys: cdb_kd_set copies them.  Entries are packed
 * into the tree's nodes and move when the tree changes, so the keydir hands
 * out copies of locations, never pointers to its entries; a key pointer
 * from cdb_kd_cursor_get is good only until the next change of the keydir.
 */
#ifndef CASKDB_KEYDIR_H
#define CASKDB_KEYDIR_H

#include <stddef.h>
#include <stdint.h>

/* Where the newest record of a key lives. */
typedef struct cdb_loc {
  uint32_t slot;   /* the engine's number for the data file */
  uint32_t offset; /* byte offset of the record in that file */
  uint32_t size;   /* whole record size in bytes */
  uint8_t vtype;   /* the value's type tag (lists are found by it) */
  uint64_t expiry; /* ms since the epoch, 0 = never */
} cdb_loc;

typedef struct cdb_keydir cdb_keydir;

/* A position in the keydir.  Valid while cdb_kd_version() is unchanged. */
typedef struct cdb_kd_cursor {
  void *node;
  int pos;
  uint64_t version;
} cdb_kd_cursor;

/* NULL when out of memory. */
cdb_keydir *cdb_kd_new(void);
void cdb_kd_free(cdb_keydir *kd);

/* 1 and *loc filled (if loc is not NULL) when key is present, else 0. */
int cdb_kd_find(const cdb_keydir *kd, const void *key, size_t klen,
                cdb_loc *loc);

/* Insert `key` at `loc`, or move it there if present.  When it was present
 * and `old` is not NULL, *old receives the previous location.  Returns 1 if
 * the key was new, 0 if it was updated, -1 when out of memory (nothing
 * changed then).  An update needs memory only when it gives the key an
 * expiry it did not have (its entry grows), so an update that keeps the
 * expiry (zero or not) never fails. */
int cdb_kd_set(cdb_keydir *kd, const void *key, size_t klen, const cdb_loc *loc,
               cdb_loc *old);

/* Remove `key`.  Returns 1 and fills *old (if not NULL) if it was present,
 * 0 if it was not. */
int cdb_kd_del(cdb_keydir *kd, const void *key, size_t klen, cdb_loc *old);

/* Number of keys. */
size_t cdb_kd_count(const cdb_keydir *kd);

/* Heap bytes used by the keydir (nodes and entries, allocator overhead
 * estimated). */
size_t cdb_kd_bytes(const cdb_keydir *kd);

/* Changes whenever a key is inserted or removed, never when one is updated.
 * Cursors taken under another version must be re-seeked. */
uint64_t cdb_kd_version(const cdb_keydir *kd);

/* Position `cur` at the first key >= key (key NULL: the first key). */
void cdb_kd_seek(const cdb_keydir *kd, const void *key, size_t klen,
                 cdb_kd_cursor *cur);

/* The entry under the cursor: 1 with *key and *klen (valid until the next
 * change of the keydir) and *loc, or 0 at the end or when the cursor is
 * stale.  Any of key, klen and loc may be NULL. */
int cdb_kd_cursor_get(const cdb_keydir *kd, const cdb_kd_cursor *cur,
                      const unsigned char **key, size_t *klen, cdb_loc *loc);

/* Move to the next key. */
void cdb_kd_cursor_next(const cdb_keydir *kd, cdb_kd_cursor *cur);

#endif /* CASKDB_KEYDIR_H */
