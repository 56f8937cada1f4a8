// The skiff CLI: `aws ecs`- and `aws elbv2`-shaped subcommands over the skiffd gRPC API. Each
// subcommand's flags come from its request message (one flag per member, named as aws names it),
// so the CLI and the API cannot drift apart. Single-threaded; called from main.
#ifndef SKIFF_CLI_APP_H_
#define SKIFF_CLI_APP_H_

namespace skiff::cli {

// Exit codes of SPEC.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitDaemonError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

int Main(int argc, char** argv);

}  // namespace skiff::cli

#endif  // SKIFF_CLI_APP_H_
