/*
 * check.h -- the tiny test harness of the C tests.
 *
 * A test file is a main() that calls CHECK(...) and friends and ends with
 * `return check_report();`.  A failed check prints file, line and the
 * expression, and the program exits non-zero, so ctest counts it failed.
 */
#ifndef CASKDB_CHECK_H
#define CASKDB_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                            \
  do {                                                                         \
    check_count++;                                                             \
    if (!(cond)) {                                                             \
      check_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* Compare two integers and print both on failure. */
#define CHECK_EQ(a, b)                                                         \
  do {                                                                         \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);            \
    check_count++;                                                             \
    if (check_a_ != check_b_) {                                                \
      check_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n",     \
              __FILE__, __LINE__, #a, #b, check_a_, check_b_);                 \
    }                                                                          \
  } while (0)

/* Stop the test at once when a precondition fails (e.g. open failed). */
#define REQUIRE(cond)                                                          \
  do {                                                                         \
    check_count++;                                                             \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__,       \
              #cond);                                                          \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static int check_report(void) {
  printf("%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : 0;
}

#endif /* CASKDB_CHECK_H */
