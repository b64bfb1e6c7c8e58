/* Small helpers shared by the rt_* tests (on top of harness.h). */
#ifndef SYNC_RT_UTIL_H
#define SYNC_RT_UTIL_H

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

#endif
