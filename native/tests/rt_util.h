/* Small helpers shared by the rt_* tests (on top of harness.h). */
#ifndef SYNC_RT_UTIL_H
#define SYNC_RT_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Resident set size of this process in KiB, from /proc/self/statm; -1 on error. */
static inline long rt_rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static inline int rt_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Removes the per-process directory test_db_path() made (call after every engine is destroyed). */
static inline void rt_remove_test_dir(const char *any_db_path) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", any_db_path);
  char *slash = strrchr(dir, '/');
  if (!slash || strncmp(dir, "/tmp/sync-native-test-", 22) != 0) return;
  *slash = '\0';
  nftw(dir, rt_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
