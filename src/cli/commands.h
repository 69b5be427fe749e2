/* Entry points of the CLI commands, one cmd_*.c file each. */
#ifndef NIC_CLI_COMMANDS_H
#define NIC_CLI_COMMANDS_H

#include <stdio.h>

int cmd_compare(int argc, char **argv);
void help_compare(FILE *out);
int cmd_convert(int argc, char **argv);
void help_convert(FILE *out);
int cmd_info(int argc, char **argv);
void help_info(FILE *out);

int cmd_train(int argc, char **argv);
void help_train(FILE *out);

int cmd_encode(int argc, char **argv);
void help_encode(FILE *out);
int cmd_decode(int argc, char **argv);
void help_decode(FILE *out);

int cmd_serve(int argc, char **argv);
void help_serve(FILE *out);
int cmd_experiment(int argc, char **argv);
void help_experiment(FILE *out);

#endif
