/*
 * cache.h -- the value cache: whole records kept in memory under a byte
 * budget, found by where they live on disk.
 *
 * The engine asks the cache before reading a record from a data file and
 * offers it every record it had to read.  A record is known by (file, offset)
 * where `file` is a number the handle never gives to two files (cdb_file's
 * serial), so a file deleted by a merge and a slot reused by another file
 * can never make an old entry answer for new bytes.  Records never change in
 * place, with one exception the engine reports: the active file cut back
 * after a failed write (cdb_cache_drop_file with the cut offset).
 *
 * The cache knows nothing of records: it stores bytes the caller has
 * already verified (CRC-checked) and gives them back.
 */
#ifndef CASKDB_CACHE_H
#define CASKDB_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cdb_cache cdb_cache;

/* A cache of at most `budget` bytes (every byte it allocates counted: the
 * entries, their bytes, the hash table) evicting by `policy`
 * (CASKDB_CACHE_LRU or CASKDB_CACHE_SIEVE).  NULL when out of memory. */
cdb_cache *cdb_cache_new(uint64_t budget, int policy);

/* Free the cache and every entry.  NULL is allowed. */
void cdb_cache_free(cdb_cache *c);

/* The bytes cached for (file, off), or NULL.  *len receives their length.
 * A hit counts as a use for the policy and in the figures; so does a miss.
 * The bytes stay valid until the next call that adds, moves or drops
 * entries; they are followed by a NUL byte not counted in *len. */
const unsigned char *cdb_cache_get(cdb_cache *c, uint64_t file, uint32_t off,
                                   uint32_t *len);

/* Copy `len` bytes as the entry of (file, off), evicting others as the
 * policy says to stay within the budget.  Returns 1 when cached; 0 when the
 * record is refused (over an eighth of the budget, or already cached); -1
 * when out of memory (nothing changed). */
int cdb_cache_put(cdb_cache *c, uint64_t file, uint32_t off,
                  const unsigned char *bytes, uint32_t len);

/* Forget the entry of (file, off), if any. */
void cdb_cache_drop(cdb_cache *c, uint64_t file, uint32_t off);

/* Forget every entry of `file` at offset `from` or beyond (0: the whole
 * file).  A walk of the whole cache: for rare events (a file deleted, a
 * write undone). */
void cdb_cache_drop_file(cdb_cache *c, uint64_t file, uint32_t from);

/* Give the entry of (file, off), if any, the new place (nfile, noff) -- a
 * merge copied the record -- keeping its standing with the policy.  Returns
 * its bytes, which the caller may rewrite in place (same length: a merge
 * rewrites the header), or NULL when there was no entry.  Not counted as a
 * hit or a miss. */
unsigned char *cdb_cache_move(cdb_cache *c, uint64_t file, uint32_t off,
                              uint64_t nfile, uint32_t noff);

/* Figures. */
typedef struct cdb_cache_stats {
  uint64_t hits, misses;
  uint64_t bytes;   /* memory used, the same count the budget limits */
  uint64_t entries; /* records cached */
  uint64_t evictions;
} cdb_cache_stats;

void cdb_cache_get_stats(const cdb_cache *c, cdb_cache_stats *st);

/* For the tests: the memory one entry of `len` bytes is charged. */
uint64_t cdb_cache_entry_charge(uint32_t len);

#endif /* CASKDB_CACHE_H */
