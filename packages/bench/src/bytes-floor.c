/*
 * The C floor of the byte workloads: the same bytes moved by a C program through the same kernel
 * objects the native engine makes (a pipe with a 1 MiB kernel buffer out of the child, a socket
 * pair into it), with poll(2) and no runtime. A warm-up run of WARMUP bytes, one of BYTES (the first
 * large run into a socket pair is slower, by half for W6a here), then the timed run.
 *
 *   capture   W3: stdout of `head -c BYTES /dev/zero` read into one growing buffer
 *   stream    W4: the same, read into one 256 KiB buffer and dropped
 *   feed-wc   W6a: BYTES from memory into `wc -c`, its answer read
 *   feed-cat  W6b: BYTES from memory into `cat`, all of its output read into one growing buffer
 *
 * Usage: bytes-floor MODE ROUND BYTES WARMUP
 * Prints the bench's result line (protocol.ts): the value is MiB/s, cpu this process's CPU time
 * in the timed run (ms). The bench (build.ts) compiles it with `cc -O2` at run time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "floor.h"
#include <unistd.h>

extern char **environ;

static void fail(const char *what) {
  fprintf(stderr, "bytes-floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* What one run moved: bytes read from the child's stdout, and what it kept of them. */
struct output {
  char *kept;
  size_t length, capacity;
  int keep; /* grow a buffer for everything (else read into `scratch` and drop it) */
};

static char scratch[256 * 1024];

/* One read of the child's stdout: what it read, 0 at EOF, -1 when there is nothing yet. */
static ssize_t take(int fd, struct output *out) {
  char *into = scratch;
  size_t room = sizeof scratch;
  if (out->keep) {
    if (out->capacity - out->length < sizeof scratch) {
      out->capacity = out->capacity == 0 ? 1 << 20 : out->capacity * 2;
      out->kept = realloc(out->kept, out->capacity);
      if (out->kept == NULL) fail("realloc");
    }
    into = out->kept + out->length;
    room = out->capacity - out->length;
  }
  ssize_t n = read(fd, into, room);
  if (n < 0 && errno != EAGAIN && errno != EINTR) fail("read");
  if (n < 0) return -1;
  out->length += (size_t)n;
  return n;
}

/* Runs argv with `input` (or /dev/null) as stdin; stdout read into `out`. */
static void run(char *const argv[], const char *input, size_t size, struct output *out) {
  int in[2] = {-1, -1}, stdout_pipe[2];
  if (pipe2(stdout_pipe, O_CLOEXEC) < 0) fail("pipe2");
  fcntl(stdout_pipe[0], F_SETPIPE_SZ, 1 << 20);
  if (input != NULL && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0) fail("socketpair");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (input != NULL) posix_spawn_file_actions_adddup2(&actions, in[1], 0);
  else posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_pipe[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int error = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
  if (error != 0) {
    errno = error;
    fail("posix_spawnp");
  }
  posix_spawn_file_actions_destroy(&actions);
  close(stdout_pipe[1]);
  if (input != NULL) {
    close(in[1]);
    fcntl(in[0], F_SETFL, O_NONBLOCK);
  }
  fcntl(stdout_pipe[0], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  int reading = 1, writing = input != NULL;
  if (writing && size == 0) {
    close(in[0]);
    writing = 0;
  }
  while (reading || writing) {
    struct pollfd fds[2] = {{stdout_pipe[0], reading ? POLLIN : 0, 0}, {writing ? in[0] : -1, POLLOUT, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) fail("poll");
    if (writing && fds[1].revents != 0) {
      ssize_t n = send(in[0], input + written, size - written, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) fail("send");
      if (n > 0) written += (size_t)n;
      if (written == size) {
        close(in[0]);
        writing = 0;
      }
    }
    if (reading && fds[0].revents != 0) {
      ssize_t n;
      while ((n = take(stdout_pipe[0], out)) > 0) {}
      if (n == 0) reading = 0;
    }
  }
  close(stdout_pipe[0]);
  int status;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "bytes-floor: %s failed\n", argv[0]);
    exit(1);
  }
}

/* One run of the mode; exits when the bytes that came out are not the ones expected. */
static void once(const char *mode, size_t size, const char *input) {
  struct output out = {NULL, 0, 0, strcmp(mode, "stream") != 0};
  char count[32];
  snprintf(count, sizeof count, "%zu", size);
  int ok;
  if (strcmp(mode, "capture") == 0 || strcmp(mode, "stream") == 0) {
    char *argv[] = {"head", "-c", count, "/dev/zero", NULL};
    run(argv, NULL, 0, &out);
    ok = out.length == size;
  } else if (strcmp(mode, "feed-wc") == 0) {
    char *argv[] = {"wc", "-c", NULL};
    run(argv, input, size, &out);
    ok = out.length > 0 && out.length < sizeof count && strtoull(out.kept, NULL, 10) == size;
  } else if (strcmp(mode, "feed-cat") == 0) {
    char *argv[] = {"cat", NULL};
    run(argv, input, size, &out);
    ok = out.length == size;
  } else {
    fprintf(stderr, "bytes-floor: no mode %s\n", mode);
    exit(2);
  }
  if (!ok) {
    fprintf(stderr, "bytes-floor: %s of %zu bytes: %zu bytes came out\n", mode, size, out.length);
    exit(1);
  }
  free(out.kept);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: bytes-floor MODE ROUND BYTES WARMUP\n");
    return 2;
  }
  const char *mode = argv[1];
  long round = atol(argv[2]);
  size_t size = strtoull(argv[3], NULL, 10), warmup = strtoull(argv[4], NULL, 10);
  char *input = NULL;
  if (strncmp(mode, "feed", 4) == 0) {
    input = malloc(size > warmup ? size : warmup);
    if (input == NULL) fail("malloc");
    memset(input, 'a', size > warmup ? size : warmup);
  }
  once(mode, warmup, input);
  once(mode, size, input);
  double cpuBefore = cpu();
  double started = now();
  once(mode, size, input);
  double seconds = now() - started;
  printf("@@result {\"samples\":[{\"round\":%ld,\"contender\":\"c\",\"value\":%.3f,\"extra\":{\"cpu\":%.3f}}],\"info\":{}}\n",
         round, (double)size / (1024.0 * 1024.0) / seconds, (cpu() - cpuBefore) / 1e3);
  return 0;
}
