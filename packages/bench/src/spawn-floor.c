/*
 * The C floor of the cold spawn workloads: W1 (concurrency 1) and W2 as a C program would run them,
 * `posix_spawn` of /bin/true and `waitpid`, at most CONCURRENCY children at once, their stdio on
 * /dev/null like raw node's "ignore". One spawn, then WARMUP - 1 more, then the timed N.
 * The bench (build.ts) compiles it with `cc -O2` at run time.
 *
 * Usage: spawn-floor ROUND N CONCURRENCY WARMUP
 * Prints the bench's result line (protocol.ts): the value is µs per spawn when CONCURRENCY is 1,
 * spawns/s otherwise; firstMs is the first spawn's latency, cpu this process's CPU time per spawn
 * in the timed run (µs).
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "floor.h"

extern char **environ;

static posix_spawn_file_actions_t devnull;

static void start(void) {
  char *argv[] = {"/bin/true", NULL};
  pid_t pid;
  int error = posix_spawn(&pid, argv[0], &devnull, NULL, argv, environ);
  if (error != 0) {
    fprintf(stderr, "spawn-floor: posix_spawn: %s\n", strerror(error));
    exit(1);
  }
}

static void reap(void) {
  int status;
  if (waitpid(-1, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "spawn-floor: /bin/true failed\n");
    exit(1);
  }
}

/* n spawn+wait, at most concurrency at once */
static void spawns(long n, long concurrency) {
  long running = 0;
  for (long i = 0; i < n; i++) {
    if (running == concurrency) {
      reap();
      running--;
    }
    start();
    running++;
  }
  for (; running > 0; running--) reap();
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: spawn-floor ROUND N CONCURRENCY WARMUP\n");
    return 2;
  }
  long round = atol(argv[1]), n = atol(argv[2]), concurrency = atol(argv[3]), warmup = atol(argv[4]);
  posix_spawn_file_actions_init(&devnull);
  for (int fd = 0; fd < 3; fd++) {
    posix_spawn_file_actions_addopen(&devnull, fd, "/dev/null", fd == 0 ? O_RDONLY : O_RDWR, 0);
  }
  double started = now();
  spawns(1, concurrency);
  double first = now() - started;
  spawns(warmup - 1, concurrency);
  double cpuBefore = cpu();
  started = now();
  spawns(n, concurrency);
  double seconds = now() - started;
  double cpuPerSpawn = (cpu() - cpuBefore) / (double)n;
  double value = concurrency == 1 ? seconds * 1e6 / (double)n : (double)n / seconds;
  printf("@@result {\"samples\":[{\"round\":%ld,\"contender\":\"c\",\"value\":%.3f,\"extra\":{\"firstMs\":%.3f,"
         "\"cpu\":%.3f}}],\"info\":{}}\n",
         round, value, first * 1e3, cpuPerSpawn);
  return 0;
}
