# containerd's gRPC API, compiled from the .proto files of Debian's
# golang-github-containerd-containerd-dev (and the gogo and cgroups packages it imports).
#
# The protos are never copied into the repository. At configure time they are staged into the
# build tree with their gogoproto decorations removed: `import weak` makes protoc's C++ generator
# abort, and the gogoproto/fieldpath options only steer Go code generation. The wire format does
# not change. The result is the static library skiff_containerd_api.

set(SKIFF_GOCODE_DIR "/usr/share/gocode/src" CACHE PATH "Root of Debian's Go source packages")
set(containerd_src "${SKIFF_GOCODE_DIR}/github.com/containerd/containerd")
if(NOT EXISTS "${containerd_src}/api/services/tasks/v1/tasks.proto")
  message(FATAL_ERROR "containerd API protos not found under ${containerd_src}; "
                      "run scripts/install-deps.sh (golang-github-containerd-containerd-dev)")
endif()

set(stage_dir "${CMAKE_BINARY_DIR}/containerd-protos")
set(containerd_protos
  github.com/containerd/containerd/api/types/descriptor.proto
  github.com/containerd/containerd/api/types/metrics.proto
  github.com/containerd/containerd/api/types/mount.proto
  github.com/containerd/containerd/api/types/platform.proto
  github.com/containerd/containerd/api/types/task/task.proto
  github.com/containerd/containerd/api/events/container.proto
  github.com/containerd/containerd/api/events/content.proto
  github.com/containerd/containerd/api/events/image.proto
  github.com/containerd/containerd/api/events/namespace.proto
  github.com/containerd/containerd/api/events/snapshot.proto
  github.com/containerd/containerd/api/events/task.proto
  github.com/containerd/containerd/api/services/containers/v1/containers.proto
  github.com/containerd/containerd/api/services/content/v1/content.proto
  github.com/containerd/containerd/api/services/diff/v1/diff.proto
  github.com/containerd/containerd/api/services/events/v1/events.proto
  github.com/containerd/containerd/api/services/images/v1/images.proto
  github.com/containerd/containerd/api/services/introspection/v1/introspection.proto
  github.com/containerd/containerd/api/services/leases/v1/leases.proto
  github.com/containerd/containerd/api/services/namespaces/v1/namespace.proto
  github.com/containerd/containerd/api/services/snapshots/v1/snapshots.proto
  github.com/containerd/containerd/api/services/tasks/v1/tasks.proto
  github.com/containerd/containerd/api/services/version/v1/version.proto
  github.com/containerd/containerd/runtime/v2/runc/options/oci.proto
  github.com/containerd/cgroups/stats/v1/metrics.proto
  github.com/containerd/cgroups/v2/stats/metrics.proto
  google/rpc/status.proto
)

foreach(proto IN LISTS containerd_protos)
  if(proto MATCHES "^google/")
    set(src "${SKIFF_GOCODE_DIR}/github.com/gogo/googleapis/${proto}")
  else()
    set(src "${SKIFF_GOCODE_DIR}/${proto}")
  endif()
  if(NOT EXISTS "${src}")
    message(FATAL_ERROR "missing ${src}; run scripts/install-deps.sh")
  endif()
  # Re-stage when the Debian package changes.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${src}")
  file(READ "${src}" text)
  # Drop the gogo and fieldpath imports, whether weak or not.
  string(REGEX REPLACE "import( weak)? \"(gogoproto/gogo|github.com/containerd/containerd/protobuf/plugin/fieldpath)\\.proto\";" "" text "${text}")
  # Drop file- and message-level options of those extensions.
  string(REGEX REPLACE "option \\((gogoproto|containerd\\.plugin)\\.[a-z_]+\\) *= *[^;]+;" "" text "${text}")
  # Drop field- and enum-value-level options of those extensions, then tidy the brackets.
  string(REGEX REPLACE "\\((gogoproto|containerd\\.plugin)\\.[a-z_]+\\) *= *(\"[^\"]*\"|[A-Za-z0-9_.]+)" "" text "${text}")
  string(REGEX REPLACE "\\[[ \t,]*\\]" "" text "${text}")
  string(REGEX REPLACE "\\[[ \t,]+" "[" text "${text}")
  string(REGEX REPLACE "[ \t,]+\\]" "]" text "${text}")
  string(REGEX REPLACE ",[ \t]*," "," text "${text}")
  # `requires` is a C++20 keyword that protoc 3.21 does not escape. Field names are not on the
  # wire, so renaming the field is safe.
  string(REPLACE "repeated string requires = " "repeated string requires_plugins = " text "${text}")
  if(text MATCHES "gogoproto|import weak")
    message(FATAL_ERROR "could not strip gogoproto from ${proto}")
  endif()
  # Write only on change, so that a re-configure does not recompile the generated code.
  set(staged "${stage_dir}/${proto}")
  set(old "")
  if(EXISTS "${staged}")
    file(READ "${staged}" old)
  endif()
  if(NOT old STREQUAL text)
    file(WRITE "${staged}" "${text}")
  endif()
endforeach()

skiff_add_proto_library(NAME skiff_containerd_api IMPORT_DIR "${stage_dir}"
                        PROTOS ${containerd_protos} GRPC)
