// TempDir: a fresh directory under /tmp for one test, removed with everything in it when the
// object goes. For unit tests that need real files (the store on a temp dir).
#ifndef SKIFF_TESTS_FAKES_TEMP_DIR_H_
#define SKIFF_TESTS_FAKES_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace skiff::fakes {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/skiff-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_TEMP_DIR_H_
