// skiff: the CLI. See SPEC.md and `skiff --help`.
#include "skiff/cli/app.h"

int main(int argc, char** argv) { return skiff::cli::Main(argc, argv); }
