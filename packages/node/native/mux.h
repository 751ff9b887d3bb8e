/* mux.h - the helper's second role: a mux client of an OpenSSH ControlMaster (mux.c). */
#ifndef EC_MUX_H
#define EC_MUX_H

/* `effect-command-helper --ssh-mux SOCKET COMMAND`: argv[0] is "--ssh-mux". Returns the exit status. */
int ssh_mux_main(int argc, char **argv);

#endif
