/*
 * keydir.h -- the in-memory ordered index from key to record position.
 *
 * Keys here are "canonical keys": byte strings compared with memcmp (a
 * shorter prefix first).  The engine builds them so that this one order is
 * the order users see: a kind byte first (0x00 integer, 0x01 bytes), then
 * for an integer its 8 bytes big-endian with the sign bit flipped, for bytes
 * the bytes themselves.  The keydir knows nothing of that.
 *
 * The keydir owns its entries: cdb_kd_set copies the key.  A pointer to an
 * entry stays valid until the entry is removed or the keydir is freed;
 * updating the position of an existing key (cdb_kd_set on a present key)
 * changes the entry in place and does not move it.
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

typedef struct cdb_entry {
  cdb_loc loc;
  uint32_t klen;
  unsigned char key[]; /* klen bytes */
} cdb_entry;

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

/* The entry of `key`, or NULL. */
cdb_entry *cdb_kd_find(const cdb_keydir *kd, const void *key, size_t klen);

/* Insert `key` at `loc`, or move it there if present.  When it was present
 * and `old` is not NULL, *old receives the previous location.  Returns 1 if
 * the key was new, 0 if it was updated, -1 when out of memory (nothing
 * changed then). */
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

/* Changes whenever a key is inserted or removed (not when one is updated
 * in place).  Cursors taken under another version must be re-seeked. */
uint64_t cdb_kd_version(const cdb_keydir *kd);

/* Position `cur` at the first key >= key (key NULL: the first key). */
void cdb_kd_seek(const cdb_keydir *kd, const void *key, size_t klen,
                 cdb_kd_cursor *cur);

/* The entry under the cursor, or NULL at the end. */
cdb_entry *cdb_kd_cursor_entry(const cdb_keydir *kd, const cdb_kd_cursor *cur);

/* Move to the next key. */
void cdb_kd_cursor_next(const cdb_keydir *kd, cdb_kd_cursor *cur);

#endif /* CASKDB_KEYDIR_H */
