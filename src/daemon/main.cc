// skiffd: see SPEC.md. Parses flags, sets up logging and signal handling, runs the daemon.
#include <signal.h>

#include <variant>

#include "skiff/base/logging.h"
#include "skiff/daemon/daemon.h"
#include "skiff/daemon/options.h"

int main(int argc, char** argv) {
  skiff::daemon::ParseResult parsed = skiff::daemon::ParseOptions(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const auto& options = std::get<skiff::daemon::Options>(parsed);

  skiff::InitLogging(*skiff::ParseLogLevel(options.log_level));  // Checked by ParseOptions.

  // Block the shutdown signals in every thread (threads inherit the mask) so that the daemon's
  // main thread takes them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  return skiff::daemon::Run(options);
}
