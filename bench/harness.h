// BenchHarness: the setup the benchmarks share when they time skiff against plain containerd
// side by side. A private containerd (tests/support), and unless told otherwise a real skiffd on
// it in a namespace of its own (SkiffdProcess: own state dir, socket, bridge and /24) with the
// busybox test image loaded through it and an EcsClient on it, plus a second namespace where
// the image is imported for ctr. It runs ctr and the skiff CLI, prints the machine header every
// table starts with, and collects a row's samples (Row).
//
// Shutdown() (also run by the destructor) stops skiffd as a user would, SIGTERM and exit 0, and
// then containerd removes every task, container, snapshot and file left, ours and skiffd's. A
// bench that holds a TaskWatch on client() destroys it first.
//
// Main thread only, except Ctr() and Skiff(), which only read the harness and may run on
// worker threads, and Interrupted().
#ifndef SKIFF_BENCH_HARNESS_H_
#define SKIFF_BENCH_HARNESS_H_

#include <chrono>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ecs_client.h"
#include "skiffd_process.h"
#include "support/containerd_fixture.h"

namespace skiff::bench {

// Makes SIGINT and SIGTERM set the flag Interrupted() reads, so a bench ends its current step
// and cleans up; children live in their own process groups and do not get the signal.
void InstallInterruptHandler();
bool Interrupted();

double Ms(std::chrono::steady_clock::duration d);

// A row of a table: one sample per timed run, in ms.
struct Row {
  std::string name;
  std::vector<double> samples;

  std::vector<double> Sorted() const;
  double Quantile(double q) const;  // Nearest rank.
  double Median() const;
  double Min() const;
  double Max() const;
};

class BenchHarness {
 public:
  struct Options {
    // The program's name, for messages on stderr.
    std::string name;
    // Prefixes of the two containerd namespaces (made unique by the containerd's suffix).
    std::string skiff_ns_prefix = "bench-skiff";
    std::string ctr_ns_prefix = "bench-ctr";
    // Start skiffd and load the image through it; import the image into the ctr namespace.
    bool start_skiffd = true;
    bool import_for_ctr = true;
    // Added to skiffd's flags.
    std::vector<std::string> skiffd_flags;
    // How long one ctr or skiff command may take.
    absl::Duration command_timeout = absl::Seconds(60);
  };

  // FailedPrecondition without root and containerd; otherwise the first setup step that failed,
  // with whatever was started already torn down.
  static absl::StatusOr<std::unique_ptr<BenchHarness>> Start(Options options);
  ~BenchHarness() { Shutdown(); }
  BenchHarness(const BenchHarness&) = delete;
  BenchHarness& operator=(const BenchHarness&) = delete;

  // Idempotent.
  void Shutdown();

  skiff::testing::PrivateContainerd& containerd() { return *containerd_; }
  // Only with start_skiffd.
  e2e::SkiffdProcess& skiffd() { return *skiffd_; }
  e2e::EcsClient& client() { return *client_; }
  const std::string& skiff_ns() const { return skiff_ns_; }
  const std::string& ctr_ns() const { return ctr_ns_; }
  // The busybox test image's OCI tarball.
  const std::string& tarball() const { return tarball_; }
  // Where ctr's containers log (--log-uri), as skiffd's tasks log under its state dir.
  const std::string& ctr_log_dir() const { return ctr_log_dir_; }

  // `ctr -a SOCK -n ns args...`; stdout on exit 0, else Internal with the exit code and stderr.
  absl::StatusOr<std::string> Ctr(const std::string& ns,
                                  const std::vector<std::string>& args) const;
  // `skiff --socket S args...`; stdout on exit 0, else Internal with the exit code and stderr.
  absl::StatusOr<std::string> Skiff(const std::vector<std::string>& args) const;

  // date, machine (CPUs, model, kernel), containerd's version, `extra` (label, text) lines and
  // the load, one per line.
  void PrintMachine(const std::vector<std::pair<std::string, std::string>>& extra = {}) const;

  // Service benches, untimed. skiffd subscribes a Node.Watch stream on its loop a moment after
  // the call arrives, and changes before that are missed: a first change seen proves `watch` is
  // there before anything is timed. A check service of `task_definition` is created and scaled
  // between 1 and 0 until one is seen (the first try almost always is), then deleted.
  absl::Status ProveWatch(e2e::TaskWatch& watch, const std::string& task_definition,
                          const std::string& container_name, absl::Duration timeout);
  // Deletes the service with force, waits for INACTIVE and removes the containers skiffd keeps
  // for its task retention (it would remove them in the middle of later timed runs otherwise):
  // those of `tasks` (ids or ARNs) and of every task the service still lists.
  absl::Status DeleteService(const std::string& name, const std::set<std::string>& tasks,
                             const std::string& container_name, absl::Duration timeout);

 private:
  explicit BenchHarness(Options options) : options_(std::move(options)) {}
  absl::Status Setup();
  absl::Status StartSkiffd();

  Options options_;
  std::unique_ptr<skiff::testing::PrivateContainerd> containerd_;
  std::unique_ptr<e2e::SkiffdProcess> skiffd_;
  std::unique_ptr<e2e::EcsClient> client_;
  std::string skiff_ns_;
  std::string ctr_ns_;
  std::string tarball_;
  std::string ctr_log_dir_;
};

// The part of a bench's main() after its flags: Ctrl-C ends the current step and cleans up,
// then Setup(), Run() and Shutdown(). 0, or 1 with the error on stderr.
template <typename Bench>
int SetUpRunAndShutDown(const char* name, Bench& bench) {
  InstallInterruptHandler();
  absl::Status status = bench.Setup();
  if (status.ok()) status = bench.Run();
  bench.Shutdown();
  if (!status.ok()) {
    std::cerr << name << ": " << status << "\n";
    return 1;
  }
  return 0;
}

}  // namespace skiff::bench

#endif  // SKIFF_BENCH_HARNESS_H_
