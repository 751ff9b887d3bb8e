/* floor.h - what the C floors (spawn-floor.c, bytes-floor.c) share: their clocks. */
#ifndef BENCH_FLOOR_H
#define BENCH_FLOOR_H

#include <sys/resource.h>
#include <time.h>

/* A monotonic clock, seconds. */
static inline double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* user + system CPU time of this process, µs */
static inline double cpu(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

#endif
