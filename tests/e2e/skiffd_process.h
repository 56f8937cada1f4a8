// SkiffdProcess: a real skiffd started by a test, with its own state dir and socket in a temp
// dir, stderr captured to a log file, and a bridge and /24 subnet of its own (so that tests
// running side by side never share addresses: support/test_subnet.h). Destroying it SIGKILLs
// the daemon if it still runs, undoes every network attachment the daemon left (the CNI DEL
// skiffd itself runs at start), kills the HAProxy and skiff-dns it left running (they outlive
// skiffd by design), deletes the bridge, detaches any mount a killed daemon left below the temp
// dir and removes the dir.
// Test-thread only.
#ifndef SKIFF_TESTS_E2E_SKIFFD_PROCESS_H_
#define SKIFF_TESTS_E2E_SKIFFD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "support/subprocess.h"
#include "support/test_subnet.h"

namespace skiff::e2e {

class SkiffdProcess {
 public:
  // A temp dir for the state dir and socket; the daemon is not started yet.
  static absl::StatusOr<std::unique_ptr<SkiffdProcess>> Create();
  ~SkiffdProcess();

  // Starts skiffd with --state-dir, --socket and extra flags, and `env` ("NAME=value") added to
  // its environment. Does not wait for readiness.
  absl::Status Start(const std::vector<std::string>& extra_flags,
                     const std::vector<std::string>& env = {});
  // Waits (bounded) until the log has `marker` (by default the ready line); fails with the log if
  // the daemon exits first.
  absl::Status WaitReady(absl::string_view marker = "skiffd ready",
                         absl::Duration timeout = absl::Seconds(30));
  // Sends signal and waits for exit; returns the exit code (128 + signal if killed).
  absl::StatusOr<int> Signal(int signal, absl::Duration timeout = absl::Seconds(30));
  // Waits for an exit without signalling (a daemon expected to fail at start).
  absl::StatusOr<int> WaitExit(absl::Duration timeout = absl::Seconds(30));

  // Runs the skiff CLI against this daemon's socket.
  skiff::testing::CommandResult Skiff(const std::vector<std::string>& args) const;

  std::string Log() const;
  // The AWS API's URL of the current start ("http://127.0.0.1:PORT"), from its log; "" before
  // it serves. Unless the flags name one, skiffd is started with --http-address 127.0.0.1:0.
  std::string HttpEndpoint() const;
  // The credentials file skiffd creates for its AWS API (the default, in the state dir).
  std::string aws_credentials() const { return state_dir() + "/aws-credentials"; }
  const std::string& dir() const { return dir_; }
  std::string state_dir() const { return state_dir_.empty() ? dir_ + "/state" : state_dir_; }
  // Use another state dir (e.g. another daemon's) from the next Start() on.
  void set_state_dir(std::string dir) { state_dir_ = std::move(dir); }
  std::string socket() const { return dir_ + "/skiffd.sock"; }
  pid_t pid() const { return pid_; }
  // The networking skiffd is started with (--bridge, --subnet).
  const skiff::testing::TestSubnet& network() const { return *subnet_; }
  const std::string& bridge() const { return subnet_->bridge(); }
  const std::string& subnet() const { return subnet_->subnet(); }
  // Start with these --bridge and --subnet (another daemon's) instead of its own, from the next
  // Start() on. Its own stay claimed, and are what it removes at the end.
  void set_network(std::string bridge, std::string subnet) {
    network_flags_ = {"--bridge", std::move(bridge), "--subnet", std::move(subnet)};
  }

  // The mount points below `dir`, deepest first (from /proc/self/mountinfo).
  static std::vector<std::string> MountsUnder(const std::string& dir);

 private:
  SkiffdProcess(std::string dir, std::unique_ptr<skiff::testing::TestSubnet> subnet)
      : dir_(std::move(dir)), subnet_(std::move(subnet)) {}
  void RemoveNetwork();

  std::string dir_;
  std::unique_ptr<skiff::testing::TestSubnet> subnet_;
  std::string state_dir_;
  std::vector<std::string> network_flags_;
  pid_t pid_ = -1;
  int starts_ = 0;
};

}  // namespace skiff::e2e

#endif  // SKIFF_TESTS_E2E_SKIFFD_PROCESS_H_
