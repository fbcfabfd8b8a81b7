/*
 * test_crc32c.c -- proves crc32c.c: known vectors, both routines against a
 * bit-at-a-time reference and each other at every length and alignment, and
 * chaining at every split point.
 *
 * Every buffer handed to a routine is its own malloc of exactly the bytes
 * it covers (plus the leading alignment bytes), so a read past the end is
 * caught by AddressSanitizer rather than passing silently.
 */
#include "crc32c.h"

#include "check.h"

#include <stdint.h>

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

/* A routine under test and its name for messages. */
typedef struct impl {
  const char *name;
  crc_fn fn;
} impl;

enum { MAX_LEN = 1024, MAX_ALIGN = 16 };

/* ---- Helpers ----------------------------------------------------------- */

/* The definition, one bit at a time, sharing nothing with crc32c.c. */
static uint32_t reference_crc(uint32_t crc, const void *buf, size_t len) {
  const unsigned char *p = buf;
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; bit++)
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/* xorshift32: deterministic bytes, so a failure reproduces. */
static uint32_t rng_state = 0x2545F491u;

static unsigned char random_byte(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return (unsigned char)(rng_state >> 24);
}

/* A fresh buffer of align + len random bytes; the data starts at align. */
static unsigned char *random_buffer(size_t align, size_t len) {
  unsigned char *buf = malloc(align + len + 1); /* +1: malloc(0) may be NULL */
  REQUIRE(buf != NULL);
  for (size_t i = 0; i < align + len; i++)
    buf[i] = random_byte();
  return buf;
}

/* The routines this run can test: hardware only where the CPU has it. */
static size_t list_impls(impl out[3]) {
  size_t n = 0;
  out[n++] = (impl){"portable", cdb_crc32c_portable};
  out[n++] = (impl){"dispatch", cdb_crc32c};
  if (cdb_crc32c_hw_available())
    out[n++] = (impl){"hw", cdb_crc32c_hw};
  return n;
}

/* ---- Known vectors ----------------------------------------------------- */

static void check_rfc3720(const impl *im) {
  unsigned char buf[32];

  memset(buf, 0x00, sizeof buf);
  CHECK_EQ(im->fn(0, buf, sizeof buf), 0x8A9136AAu);

  memset(buf, 0xFF, sizeof buf);
  CHECK_EQ(im->fn(0, buf, sizeof buf), 0x62A8AB43u);

  for (int i = 0; i < 32; i++)
    buf[i] = (unsigned char)i;
  CHECK_EQ(im->fn(0, buf, sizeof buf), 0x46DD794Eu);

  for (int i = 0; i < 32; i++)
    buf[i] = (unsigned char)(31 - i);
  CHECK_EQ(im->fn(0, buf, sizeof buf), 0x113FDB5Cu);
}

static void test_known_vectors(const impl *im) {
  printf("  known vectors: %s\n", im->name);
  CHECK_EQ(im->fn(0, "123456789", 9), 0xE3069283u);
  CHECK_EQ(im->fn(0, "", 0), 0);
  CHECK_EQ(im->fn(0, NULL, 0), 0);
  CHECK_EQ(im->fn(0xE3069283u, "", 0), 0xE3069283u); /* empty extends nothing */
  check_rfc3720(im);
}

static void test_reference_vectors(void) {
  /* The reference itself must be right, or the comparisons prove little. */
  unsigned char zeros[32] = {0};
  CHECK_EQ(reference_crc(0, "123456789", 9), 0xE3069283u);
  CHECK_EQ(reference_crc(0, zeros, sizeof zeros), 0x8A9136AAu);
}

/* ---- Every length, every alignment ------------------------------------- */

/* Returns the number of routines that disagree with the reference. */
static int compare_one(const impl *impls, size_t n, size_t align, size_t len) {
  unsigned char *buf = random_buffer(align, len);
  uint32_t want = reference_crc(0, buf + align, len);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t got = impls[i].fn(0, buf + align, len);
    if (got != want && bad++ == 0)
      fprintf(stderr, "%s: len %zu align %zu: got %08x want %08x\n",
              impls[i].name, len, align, (unsigned)got, (unsigned)want);
  }
  free(buf);
  return bad;
}

static void test_all_lengths_and_alignments(const impl *impls, size_t n) {
  int mismatches = 0;
  for (size_t len = 0; len <= MAX_LEN; len++)
    for (size_t align = 0; align < MAX_ALIGN; align++)
      mismatches += compare_one(impls, n, align, len);
  CHECK_EQ(mismatches, 0);
}

/* ---- Chaining ---------------------------------------------------------- */

/* Splits one buffer at every point and checks that extending the CRC of the
 * head over the tail gives the CRC of the whole. */
static void test_chaining(const impl *im) {
  enum { LEN = MAX_LEN + 7, ALIGN = 3 }; /* odd on purpose */
  unsigned char *buf = random_buffer(ALIGN, LEN);
  const unsigned char *data = buf + ALIGN;
  uint32_t whole = reference_crc(0, data, LEN);
  int mismatches = 0;
  for (size_t split = 0; split <= LEN; split++) {
    uint32_t head = im->fn(0, data, split);
    uint32_t both = im->fn(head, data + split, LEN - split);
    if (both != whole && mismatches++ == 0)
      fprintf(stderr, "%s: split %zu: got %08x want %08x\n", im->name, split,
              (unsigned)both, (unsigned)whole);
  }
  CHECK_EQ(mismatches, 0);
  free(buf);
}

/* Three pieces, every pair of split points, on a short buffer. */
static void test_chaining_three_ways(const impl *im) {
  enum { LEN = 40 };
  unsigned char *buf = random_buffer(0, LEN);
  uint32_t whole = reference_crc(0, buf, LEN);
  int mismatches = 0;
  for (size_t a = 0; a <= LEN; a++) {
    for (size_t b = a; b <= LEN; b++) {
      uint32_t crc = im->fn(0, buf, a);
      crc = im->fn(crc, buf + a, b - a);
      crc = im->fn(crc, buf + b, LEN - b);
      mismatches += crc != whole;
    }
  }
  CHECK_EQ(mismatches, 0);
  free(buf);
}

/* ---- Main -------------------------------------------------------------- */

int main(void) {
  impl impls[3];
  size_t n = list_impls(impls);

  if (!cdb_crc32c_hw_available())
    printf("note: no SSE4.2 here; the hardware routine is not tested\n");
  else
    CHECK_EQ(cdb_crc32c_hw(0, "123456789", 9), 0xE3069283u);

  test_reference_vectors();
  for (size_t i = 0; i < n; i++)
    test_known_vectors(&impls[i]);
  test_all_lengths_and_alignments(impls, n);
  for (size_t i = 0; i < n; i++) {
    test_chaining(&impls[i]);
    test_chaining_three_ways(&impls[i]);
  }
  return check_report();
}
