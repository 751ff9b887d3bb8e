/*
 * mux.c - effect-command-helper --ssh-mux: one command over an OpenSSH
 * ControlMaster, as `ssh -S SOCKET host COMMAND` runs it, without starting
 * an ssh client.
 *
 *   effect-command-helper --ssh-mux SOCKET COMMAND
 *
 * Speaks the master's mux protocol (OpenSSH's PROTOCOL.mux, version 4) on
 * SOCKET: the hello exchange, a new session (no pty, no X11 or agent
 * forwarding, no escape character) running COMMAND with this process's
 * stdin, stdout and stderr, passed to the master as they are (a closed one
 * as /dev/null, as ssh(1) does), and this process's environment, of which
 * the master forwards what its SendEnv allows, as for ssh(1)'s own clients.
 * Then it waits until the master closes the control connection, which it
 * does once the session's channel is closed and its output written, and
 * exits with the command's exit status, as a mux client of ssh(1) does.
 *
 * Exit status: the remote command's, as the master reported it; 255 when
 * the master cannot be reached, refuses the session or ends the control
 * connection without an exit status (a remote death by signal, or the
 * connection lost), with a line on stderr in the first two cases only (as
 * ssh(1), which says nothing in the last one). SIGHUP, SIGINT and SIGTERM
 * end it with 255 too, as ssh(1)'s mux client: the control connection
 * closes, and the master then closes the session.
 *
 * The master reads the session request with read(2), then takes the fds
 * with recvmsg(2): they are sent right after the request, as ssh(1) sends
 * them, after the master's hello (so that its first read takes our hello
 * alone).
 */
#include "mux.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum {
    MUX_MSG_HELLO = 0x00000001,
    MUX_C_NEW_SESSION = 0x10000002,
    MUX_S_PERMISSION_DENIED = 0x80000002,
    MUX_S_FAILURE = 0x80000003,
    MUX_S_EXIT_MESSAGE = 0x80000004,
    MUX_S_SESSION_OPENED = 0x80000006,
    MUX_VERSION = 4,
    /* The longest message taken from the master (ssh(1)'s own bound). */
    MUX_MAX_PACKET = 256 * 1024,
    /* What a failure exits with: ssh(1)'s for its own failures. */
    MUX_FAILED = 255,
    /* Room left in a request to the master (it takes 256 KiB at most) once the command is in. */
    MUX_REQUEST_ROOM = 256 * 1024 - 64,
};

extern char **environ;

/* A signal that ends the client: its control connection closes with it (async-signal-safe). */
static void terminated(int signal)
{
    (void)signal;
    _exit(MUX_FAILED);
}

/*
 * Each of fds 0, 1 and 2 that is closed gets /dev/null, so that neither the
 * control socket nor anything else opened here takes its number (and goes to
 * the master as the session's stdio).
 */
static int open_stdio(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int null = open("/dev/null", O_RDWR);
        if (null != fd) {
            if (null >= 0)
                close(null);
            return -1;
        }
    }
    return 0;
}

static int failed(const char *format, ...)
{
    va_list ap;
    fputs("effect-command-helper --ssh-mux: ", stderr);
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fputc('\n', stderr);
    return MUX_FAILED;
}

/* A message being built: a length, filled in by send_packet, then the body. */
struct packet {
    unsigned char *bytes;
    size_t len;
};

static void put(struct packet *p, const void *bytes, size_t n)
{
    unsigned char *grown = realloc(p->bytes, p->len + n);
    if (grown == NULL) {
        fputs("effect-command-helper --ssh-mux: out of memory\n", stderr);
        exit(MUX_FAILED);
    }
    p->bytes = grown;
    memcpy(p->bytes + p->len, bytes, n);
    p->len += n;
}

static void put_u32(struct packet *p, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    put(p, b, 4);
}

static void put_string(struct packet *p, const char *s)
{
    size_t n = strlen(s);
    put_u32(p, (uint32_t)n);
    put(p, s, n);
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static int write_all(int fd, const unsigned char *bytes, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, bytes, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        bytes += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 0: read all of it; 1: EOF before the first byte; -1: an error or EOF within. */
static int read_all(int fd, unsigned char *bytes, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, bytes + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && got == 0)
            return 1;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Sends the packet with its length in front; frees its body. */
static int send_packet(int sock, struct packet *p)
{
    unsigned char len[4] = {(unsigned char)(p->len >> 24), (unsigned char)(p->len >> 16),
                            (unsigned char)(p->len >> 8), (unsigned char)p->len};
    int r = write_all(sock, len, 4) == 0 && write_all(sock, p->bytes, p->len) == 0 ? 0 : -1;
    free(p->bytes);
    p->bytes = NULL;
    p->len = 0;
    return r;
}

/*
 * Reads one message into *body (malloc'd, *len bytes, at least 4: its type
 * first). 0: a message; 1: the master closed the connection; -1: an error.
 */
static int read_packet(int sock, unsigned char **body, size_t *len)
{
    unsigned char head[4];
    int r = read_all(sock, head, 4);
    if (r != 0)
        return r;
    uint32_t n = get_u32(head);
    if (n < 4 || n > MUX_MAX_PACKET) {
        errno = EPROTO;
        return -1;
    }
    *body = malloc(n);
    if (*body == NULL)
        return -1;
    if (read_all(sock, *body, n) != 0) {
        free(*body);
        errno = EPROTO;
        return -1;
    }
    *len = n;
    return 0;
}

/* One byte with `fd` attached (SCM_RIGHTS), as the master takes each fd. */
static int send_fd(int sock, int fd)
{
    char byte = 0;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                         .msg_controllen = sizeof control.space};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_len = CMSG_LEN(sizeof(int));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n;
    while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return n == 1 ? 0 : -1;
}

/* The message of a MUX_S_FAILURE or MUX_S_PERMISSION_DENIED: after type and request id. */
static const char *reason(unsigned char *body, size_t len)
{
    if (len < 12)
        return "(no reason given)";
    uint32_t n = get_u32(body + 8);
    if (n > len - 12)
        return "(no reason given)";
    /* In place of the string's length: the reason ends where the message does. */
    memmove(body + 8, body + 12, n);
    body[8 + n] = '\0';
    return (const char *)body + 8;
}

int ssh_mux_main(int argc, char **argv)
{
    if (argc != 3)
        return failed("usage: effect-command-helper --ssh-mux SOCKET COMMAND");
    const char *path = argv[1];
    const char *command = argv[2];
    if (open_stdio() != 0)
        return MUX_FAILED;
    /* The master may be gone: a write to its socket fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction ending = {.sa_handler = terminated};
    sigemptyset(&ending.sa_mask);
    sigaction(SIGHUP, &ending, NULL);
    sigaction(SIGINT, &ending, NULL);
    sigaction(SIGTERM, &ending, NULL);

    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path)
        return failed("the control socket's path is longer than %zu bytes: %s", sizeof address.sun_path - 1, path);
    memcpy(address.sun_path, path, strlen(path) + 1);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return failed("socket: %s", strerror(errno));
    int r;
    while ((r = connect(sock, (struct sockaddr *)&address, sizeof address)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return failed("cannot reach the connection's control socket %s: %s", path, strerror(errno));

    struct packet p = {0};
    put_u32(&p, MUX_MSG_HELLO);
    put_u32(&p, MUX_VERSION);
    if (send_packet(sock, &p) != 0)
        return failed("the connection's master is gone: %s", strerror(errno));
    unsigned char *body;
    size_t len;
    r = read_packet(sock, &body, &len);
    if (r != 0)
        return failed("the connection's master is gone: %s", r > 0 ? "it closed the control socket" : strerror(errno));
    int hello = get_u32(body) == MUX_MSG_HELLO && len >= 8 && get_u32(body + 4) == MUX_VERSION;
    free(body);
    if (!hello)
        return failed("the connection's master does not speak mux protocol version %d", MUX_VERSION);

    const uint32_t request = 1;
    put_u32(&p, MUX_C_NEW_SESSION);
    put_u32(&p, request);
    put_string(&p, "");   /* reserved */
    put_u32(&p, 0);       /* no pty */
    put_u32(&p, 0);       /* no X11 forwarding */
    put_u32(&p, 0);       /* no agent forwarding */
    put_u32(&p, 0);       /* a command, not a subsystem */
    put_u32(&p, 0xffffffff); /* no escape character */
    put_string(&p, "");   /* no terminal type */
    put_string(&p, command);
    /* As many of the environment's entries as the master takes: it keeps what SendEnv allows. */
    for (char **e = environ; *e != NULL && p.len + 4 + strlen(*e) <= MUX_REQUEST_ROOM; e++)
        put_string(&p, *e);
    if (send_packet(sock, &p) != 0 || send_fd(sock, STDIN_FILENO) != 0 || send_fd(sock, STDOUT_FILENO) != 0 ||
        send_fd(sock, STDERR_FILENO) != 0)
        return failed("the connection's master is gone: %s", strerror(errno));

    r = read_packet(sock, &body, &len);
    if (r != 0)
        return failed("the connection's master is gone: %s", r > 0 ? "it closed the control socket" : strerror(errno));
    uint32_t type = get_u32(body);
    if (len < 8 || get_u32(body + 4) != request)
        r = failed("the connection's master answered out of sequence");
    else if (type == MUX_S_PERMISSION_DENIED || type == MUX_S_FAILURE)
        r = failed("the connection refused the session: %s", reason(body, len));
    else if (type != MUX_S_SESSION_OPENED || len < 12)
        r = failed("the connection's master answered 0x%08x to the session request", (unsigned)type);
    uint32_t session = r == 0 ? get_u32(body + 8) : 0;
    free(body);
    if (r != 0)
        return r;

    /* Until the master closes the control connection: the exit status comes before. */
    int status = MUX_FAILED;
    while ((r = read_packet(sock, &body, &len)) == 0) {
        type = get_u32(body);
        if (type == MUX_S_EXIT_MESSAGE && len >= 12 && get_u32(body + 4) == session)
            status = (int)(get_u32(body + 8) & 0xff);
        /* Anything else (a pty's failure, when none was asked for; a newer message): nothing to do. */
        free(body);
    }
    close(sock);
    return status;
}
