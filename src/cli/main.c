/*
 * nic — command-line front end. Each command lives in its own cmd_*.c file
 * and is listed in the table below.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const cli_command commands[] = {
    {"encode", "compress an image to a .nic file (quality or byte budget)", cmd_encode,
     help_encode},
    {"decode", "decode a .nic file to PNG or PPM", cmd_decode, help_decode},
    {"compare", "print PSNR, SSIM and MS-SSIM of two images", cmd_compare, help_compare},
    {"train", "train a model on a folder of images (resumable)", cmd_train, help_train},
    {"convert", "convert between PNG, JPEG, PPM/PGM (e.g. to make a JPEG baseline)", cmd_convert,
     help_convert},
    {"info", "check a .nic file and print its header, streams and sizes", cmd_info, help_info},
    {"serve", "HTTP API and web page (encode, decode, in-browser decoding)", cmd_serve,
     help_serve},
    {"experiment", "run a reproducible experiment and write its report (mnist)", cmd_experiment,
     help_experiment},
};

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_help(FILE *out)
{
    fprintf(out,
            "nic %s — a learned image codec for tiny data budgets\n"
            "\n"
            "Usage: nic <command> [options] [arguments]\n"
            "       nic <command> --help     help for one command (with its defaults)\n"
            "       nic --version\n"
            "\n"
            "Commands:\n",
            nic_version_string());
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Images: PNG (8/16-bit, gray, palette, alpha dropped with a warning), JPEG\n"
            "(baseline, progressive, gray, CMYK; EXIF orientation applied), PPM/PGM.\n"
            "\n"
            "Exit status:\n"
            "  0  success\n"
            "  1  the operation failed (unreadable, malformed or unsupported input)\n"
            "  2  bad command line\n"
            "  3  could not write the output\n"
            "  4  out of memory or internal error\n"
            "\n"
            "Set NIC_VERBOSE=1 for informational messages. Documentation: docs/CLI.md\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return NIC_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (cli_is_help(name) || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            const cli_command *cmd = cli_find_command(argv[2]);
            if (cmd) {
                cmd->help(stdout);
                return NIC_EXIT_OK;
            }
        }
        print_help(stdout);
        return NIC_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0 ||
        strcmp(name, "version") == 0) {
        printf("nic %s (library %d.%d.%d)\n", NIC_VERSION_STRING, nic_version() >> 16,
               (nic_version() >> 8) & 0xff, nic_version() & 0xff);
        return NIC_EXIT_OK;
    }
    const cli_command *cmd = cli_find_command(name);
    if (!cmd) {
        fprintf(stderr, "nic: unknown command '%s'\nTry 'nic --help' for the list of commands.\n",
                name);
        return NIC_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (cli_is_help(argv[i])) {
            cmd->help(stdout);
            return NIC_EXIT_OK;
        }
    }
    return cmd->run(argc - 1, argv + 1);
}
