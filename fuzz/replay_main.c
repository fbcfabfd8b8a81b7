/*
 * replay_main.c -- a main() for a fuzz target built without libFuzzer.
 *
 * Each argument is a file or a directory of files; every file is fed once to
 * LLVMFuzzerTestOneInput.  Built with any compiler, so that the seed corpora
 * and the inputs that once crashed (fuzz/regressions/<target>/) are replayed
 * by ctest in every CI build, sanitized or not.  A missing directory is
 * skipped: a target may have no regressions yet.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  long n;
  if (f == NULL)
    return -1;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return -1;
  }
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int i, files = 0;
  for (i = 1; i < argc; i++) {
    struct stat st;
    DIR *d;
    struct dirent *de;
    if (stat(argv[i], &st) != 0)
      continue;
    if (!S_ISDIR(st.st_mode)) {
      if (replay_file(argv[i]) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[i]);
        return 1;
      }
      files++;
      continue;
    }
    d = opendir(argv[i]);
    if (d == NULL)
      return 1;
    while ((de = readdir(d)) != NULL) {
      char path[4096];
      if (de->d_name[0] == '.')
        continue;
      snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
      if (replay_file(path) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        closedir(d);
        return 1;
      }
      files++;
    }
    closedir(d);
  }
  printf("replayed %d inputs\n", files);
  return 0;
}
