#include "harness.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "machine.h"

namespace skiff::bench {
namespace {

volatile sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

// Runs argv; stdout on exit 0, else Internal naming `what` with the exit code and stderr.
absl::StatusOr<std::string> Output(const std::vector<std::string>& argv, absl::string_view what,
                                   const std::vector<std::string>& args, absl::Duration timeout) {
  absl::StatusOr<skiff::testing::CommandResult> r = skiff::testing::RunCommand(argv, timeout);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat(what, " ", absl::StrJoin(args, " "), " exited ",
                                            r->exit_code, ": ", r->stderr_text));
  }
  return std::move(r->stdout_text);
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool Interrupted() { return interrupted != 0; }

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::vector<double> Row::Sorted() const {
  std::vector<double> s = samples;
  std::sort(s.begin(), s.end());
  return s;
}

double Row::Quantile(double q) const {
  const std::vector<double> s = Sorted();
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(s.size())));
  return s[std::clamp<size_t>(rank, 1, s.size()) - 1];
}

double Row::Median() const {
  const std::vector<double> s = Sorted();
  const size_t n = s.size();
  return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double Row::Min() const { return *std::min_element(samples.begin(), samples.end()); }
double Row::Max() const { return *std::max_element(samples.begin(), samples.end()); }

absl::StatusOr<std::unique_ptr<BenchHarness>> BenchHarness::Start(Options options) {
  std::unique_ptr<BenchHarness> harness(new BenchHarness(std::move(options)));
  if (absl::Status s = harness->Setup(); !s.ok()) return s;  // The destructor cleans up.
  return harness;
}

absl::Status BenchHarness::Setup() {
  if (std::string missing = skiff::testing::MissingRootOrContainerd(); !missing.empty()) {
    return absl::FailedPreconditionError(missing);
  }
  absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
  if (!tarball.ok()) return tarball.status();
  tarball_ = *tarball;
  absl::StatusOr<std::unique_ptr<skiff::testing::PrivateContainerd>> containerd =
      skiff::testing::PrivateContainerd::Start();
  if (!containerd.ok()) return containerd.status();
  containerd_ = *std::move(containerd);
  skiff_ns_ = containerd_->UniqueNamespace(options_.skiff_ns_prefix);
  ctr_ns_ = containerd_->UniqueNamespace(options_.ctr_ns_prefix);
  ctr_log_dir_ = containerd_->dir() + "/ctr-logs";
  std::error_code ec;
  std::filesystem::create_directories(ctr_log_dir_, ec);
  if (ec) return absl::InternalError("mkdir " + ctr_log_dir_ + ": " + ec.message());
  if (options_.start_skiffd) {
    if (absl::Status s = StartSkiffd(); !s.ok()) return s;
    if (absl::Status s = client_->LoadImage(tarball_, skiff::testing::kTestImageRef); !s.ok()) {
      return s;
    }
  }
  if (options_.import_for_ctr) {
    if (absl::StatusOr<std::string> ref = containerd_->ImportTestImage(ctr_ns_); !ref.ok()) {
      return ref.status();
    }
  }
  return absl::OkStatus();
}

absl::Status BenchHarness::StartSkiffd() {
  absl::StatusOr<std::unique_ptr<e2e::SkiffdProcess>> skiffd = e2e::SkiffdProcess::Create();
  if (!skiffd.ok()) return skiffd.status();
  skiffd_ = *std::move(skiffd);
  std::vector<std::string> flags = {"--containerd-address", containerd_->socket_path(),
                                    "--namespace",          skiff_ns_,
                                    "--runc-root",          containerd_->runc_root()};
  flags.insert(flags.end(), options_.skiffd_flags.begin(), options_.skiffd_flags.end());
  if (absl::Status s = skiffd_->Start(flags); !s.ok()) return s;
  if (absl::Status s = skiffd_->WaitReady(); !s.ok()) return s;
  client_ = std::make_unique<e2e::EcsClient>(skiffd_->socket());
  return absl::OkStatus();
}

void BenchHarness::Shutdown() {
  client_.reset();
  if (skiffd_ != nullptr) {
    // As a user stops it: SIGTERM, exit 0. Its containers are gone already or go with containerd.
    if (skiffd_->pid() > 0) {
      absl::StatusOr<int> code = skiffd_->Signal(SIGTERM, absl::Seconds(15));
      if (!code.ok() || *code != 0) {
        std::cerr << options_.name << ": skiffd did not exit cleanly: "
                  << (code.ok() ? absl::StrCat("exit ", *code) : code.status().ToString()) << "\n";
      }
    }
    skiffd_.reset();  // SIGKILLs it if still there, removes its state dir.
  }
  if (containerd_ != nullptr) {
    // Removes every task, container, snapshot and file left, ours and skiffd's.
    if (absl::Status s = containerd_->Stop(); !s.ok()) {
      std::cerr << options_.name << ": containerd cleanup: " << s << "\n";
    }
    containerd_.reset();
  }
}

absl::StatusOr<std::string> BenchHarness::Ctr(const std::string& ns,
                                              const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ctr", "-a", containerd_->socket_path(), "-n", ns};
  argv.insert(argv.end(), args.begin(), args.end());
  return Output(argv, "ctr", args, options_.command_timeout);
}

absl::StatusOr<std::string> BenchHarness::Skiff(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {SKIFF_BINARY, "--socket", skiffd_->socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Output(argv, "skiff", args, options_.command_timeout);
}

void BenchHarness::PrintMachine(
    const std::vector<std::pair<std::string, std::string>>& extra) const {
  std::string version = "?";
  if (absl::StatusOr<std::string> out = Ctr(ctr_ns_, {"version"}); out.ok()) {
    std::vector<std::string> found;  // The second "Version:" line is the server's.
    for (absl::string_view line : absl::StrSplit(*out, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "Version:")) {
        found.emplace_back(absl::StripAsciiWhitespace(line));
      }
    }
    if (!found.empty()) version = found.back();
  }
  std::vector<std::pair<std::string, std::string>> lines = {
      {"containerd", version + " (private instance, overlayfs)"}};
  lines.insert(lines.end(), extra.begin(), extra.end());
  PrintMachineHeader(std::cout, lines);
}

absl::Status BenchHarness::ProveWatch(e2e::TaskWatch& watch, const std::string& task_definition,
                                      const std::string& container_name, absl::Duration timeout) {
  const std::string name = "watch-check";
  auto mine = [&name](const e2e::TaskWatch::Change& c) {
    return c.task.group() == "service:" + name;
  };
  v1::CreateServiceRequest request;
  request.set_service_name(name);
  request.set_task_definition(task_definition);
  request.set_desired_count(1);
  if (absl::StatusOr<v1::Service> s = client_->CreateService(request); !s.ok()) return s.status();
  absl::StatusOr<e2e::TaskWatch::Change> seen = watch.WaitFor(mine, absl::Seconds(10));
  for (int attempt = 0; !seen.ok() && attempt < 4; ++attempt) {
    v1::UpdateServiceRequest update;
    update.set_service(name);
    update.set_desired_count(attempt % 2 == 0 ? 0 : 1);
    if (absl::StatusOr<v1::Service> s = client_->UpdateService(update); !s.ok()) return s.status();
    seen = watch.WaitFor(mine, absl::Seconds(10));
  }
  if (!seen.ok()) return seen.status();
  return DeleteService(name, {}, container_name, timeout);
}

absl::Status BenchHarness::DeleteService(const std::string& name,
                                         const std::set<std::string>& tasks,
                                         const std::string& container_name,
                                         absl::Duration timeout) {
  if (absl::StatusOr<v1::Service> s = client_->DeleteService(name, /*force=*/true); !s.ok()) {
    return s.status();
  }
  absl::StatusOr<v1::Service> inactive = client_->WaitForService(
      name, [](const v1::Service& s) { return s.status() == "INACTIVE"; }, "INACTIVE", timeout);
  if (!inactive.ok()) return inactive.status();
  std::set<std::string> ids;
  for (const std::string& task : tasks) ids.insert(e2e::TaskIdOf(task));
  absl::StatusOr<std::vector<v1::Task>> all = client_->AllServiceTasks(name);
  if (!all.ok()) return all.status();
  for (const v1::Task& t : *all) ids.insert(e2e::TaskIdOf(t.task_arn()));
  absl::StatusOr<std::string> listed = Ctr(skiff_ns_, {"containers", "ls", "-q"});
  if (!listed.ok()) return listed.status();
  const std::set<std::string> present = absl::StrSplit(*listed, '\n', absl::SkipEmpty());
  std::vector<std::string> args = {"containers", "rm"};
  for (const std::string& id : ids) {
    std::string container = absl::StrCat(id, "-", container_name);
    if (present.count(container)) args.push_back(std::move(container));
  }
  if (args.size() == 2) return absl::OkStatus();
  return Ctr(skiff_ns_, args).status();
}

}  // namespace skiff::bench
