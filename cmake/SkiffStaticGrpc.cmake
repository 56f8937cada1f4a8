# skiff_link_static_grpc(executable library): links `executable`, which links `library`, against
# Debian's static archives of gRPC (the unsecure variant: no TLS), protobuf, abseil and what they
# need, instead of their ~55 shared libraries.
#
# Why: a `skiff` process is short, and with the shared libraries the dynamic loader was most of
# its start (docs/benchmarks.md, run_task_bench). With the archives it loads libc, libm,
# libstdc++ and libgcc_s only.
#
# How: the imported targets (gRPC::grpc++, absl::*) name shared libraries, and every component
# links them, so they stay on the link line. The archives are put right after the skiff_*
# libraries of `library`'s closure, listed as the executable's own first items, and before any
# shared library: the linker takes each symbol from the first file that defines it, so all come
# from the archives, and --as-needed (Debian's GCC default) then drops the unused shared
# libraries. Both copies in one process would register protobuf's descriptors twice and abort,
# so a POST_BUILD check fails the build if one of them is still needed.
#
# Off (SKIFF_STATIC_GRPC=OFF), or when an archive is missing, the executable links as before.
option(SKIFF_STATIC_GRPC "Link the skiff CLI against static gRPC, protobuf and abseil" ON)

# The archives, named as in pkg-config's `--static --libs grpc++_unsecure`, plus those it omits.
function(skiff_static_grpc_archives out)
  if(NOT SKIFF_STATIC_GRPC OR SKIFF_SANITIZE)
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  pkg_check_modules(SKIFF_GRPC_UNSECURE QUIET grpc++_unsecure)
  set(names ${SKIFF_GRPC_UNSECURE_STATIC_LIBRARIES} upb re2 cares address_sorting z protobuf)
  list(REMOVE_DUPLICATES names)
  set(archives "")
  foreach(name IN LISTS names)
    if(name MATCHES "^(atomic|rt|m|dl|pthread)$")
      continue()  # System libraries: shared, like libc.
    endif()
    find_library(SKIFF_STATIC_${name} NAMES lib${name}.a)
    if(NOT SKIFF_STATIC_${name})
      message(STATUS "skiff: no lib${name}.a, the CLI links gRPC's shared libraries")
      set(${out} "" PARENT_SCOPE)
      return()
    endif()
    list(APPEND archives ${SKIFF_STATIC_${name}})
  endforeach()
  set(${out} ${archives} PARENT_SCOPE)
endfunction()

# The skiff_* static libraries `target` links, directly or not, dependers before dependees.
function(skiff_component_closure out target)
  set(closure "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo current)
    list(REMOVE_ITEM closure ${current})
    list(APPEND closure ${current})
    get_target_property(deps ${current} LINK_LIBRARIES)
    foreach(dep IN LISTS deps)
      if(dep MATCHES "^skiff_" AND TARGET ${dep})
        list(APPEND todo ${dep})
      endif()
    endforeach()
  endwhile()
  set(${out} ${closure} PARENT_SCOPE)
endfunction()

function(skiff_link_static_grpc executable library)
  skiff_static_grpc_archives(archives)
  if(NOT archives)
    return()
  endif()
  skiff_component_closure(closure ${library})
  target_link_libraries(${executable} PRIVATE ${closure} "$<LINK_GROUP:RESCAN,${archives}>"
                        Threads::Threads atomic)
  add_custom_command(TARGET ${executable} POST_BUILD
    COMMAND sh -c "! readelf -d \"$1\" | grep -E 'NEEDED.*lib(grpc|gpr|protobuf|absl)'"
            sh "$<TARGET_FILE:${executable}>"
    COMMENT "Checking that ${executable} needs no shared gRPC, protobuf or abseil"
    VERBATIM)
endfunction()
