# skiff_add_proto_library(NAME name IMPORT_DIR dir PROTOS rel/a.proto ... [GRPC]
#                         [MESSAGES_LIBRARY name] [LINKS library ...] [DEPENDS file ...])
#
# Runs protoc (and grpc_cpp_plugin with GRPC) on PROTOS, given relative to IMPORT_DIR, and builds
# the generated C++ into a static library whose consumers include the generated headers as
# "<rel path>.pb.h". Generated code is not ours, so it is compiled without -Werror. Each library
# generates into a directory of its own, so its headers are visible only to the targets that
# link it (containerd's only to skiff_containerd; ADR 0009). It is not instrumented either
# (SKIFF_INSTRUMENT_OPTIONS): protoc's output is not where our memory bugs are, and ASan made
# ecs.pb.cc alone take 105 s to compile instead of 24. With GRPC and MESSAGES_LIBRARY, the
# messages go into a library of that name and NAME holds the gRPC stubs on top of it. LINKS are
# the generated libraries of protos that PROTOS import from IMPORT_DIR (linked PUBLIC, as the
# generated headers include theirs), and DEPENDS those protos' files.
function(skiff_add_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME;IMPORT_DIR;MESSAGES_LIBRARY"
                        "PROTOS;DEPENDS;EXTRA_IMPORT_DIRS;LINKS" ${ARGN})
  set(out_dir "${CMAKE_BINARY_DIR}/gen/${ARG_NAME}")
  set(messages_dir "${out_dir}")
  if(ARG_MESSAGES_LIBRARY)
    set(messages_dir "${CMAKE_BINARY_DIR}/gen/${ARG_MESSAGES_LIBRARY}")
  endif()
  set(sources)
  set(message_sources)
  # A proto's generated code depends on the protos it imports; within one library, depending on
  # all of them is simple and cheap.
  set(all_protos)
  foreach(proto IN LISTS ARG_PROTOS)
    list(APPEND all_protos "${ARG_IMPORT_DIR}/${proto}")
  endforeach()
  set(import_flags "-I${ARG_IMPORT_DIR}")
  foreach(dir IN LISTS ARG_EXTRA_IMPORT_DIRS)
    list(APPEND import_flags "-I${dir}")
  endforeach()
  list(APPEND import_flags "-I${SKIFF_PROTOBUF_INCLUDE_DIR}")
  foreach(proto IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem "${proto}")
    set(generated "${messages_dir}/${stem}.pb.cc" "${messages_dir}/${stem}.pb.h")
    list(APPEND message_sources "${messages_dir}/${stem}.pb.cc")
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND generated "${out_dir}/${stem}.grpc.pb.cc" "${out_dir}/${stem}.grpc.pb.h")
      list(APPEND sources "${out_dir}/${stem}.grpc.pb.cc")
      set(plugin_args "--grpc_out=${out_dir}" "--plugin=protoc-gen-grpc=${SKIFF_GRPC_CPP_PLUGIN}")
    endif()
    add_custom_command(
      OUTPUT ${generated}
      COMMAND ${CMAKE_COMMAND} -E make_directory "${out_dir}" "${messages_dir}"
      COMMAND ${SKIFF_PROTOC} ${import_flags} "--cpp_out=${messages_dir}" ${plugin_args}
              "${ARG_IMPORT_DIR}/${proto}"
      DEPENDS ${all_protos} ${ARG_DEPENDS}
      COMMENT "protoc ${proto}"
      VERBATIM)
  endforeach()
  if(ARG_MESSAGES_LIBRARY)
    # The messages alone, for code that never talks gRPC: it links libprotobuf but not gRPC (and
    # so not the OpenSSL that gRPC brings along).
    add_library(${ARG_MESSAGES_LIBRARY} STATIC ${message_sources})
    target_include_directories(${ARG_MESSAGES_LIBRARY} SYSTEM PUBLIC "${messages_dir}")
    target_link_libraries(${ARG_MESSAGES_LIBRARY} PUBLIC ${ARG_LINKS} protobuf::libprotobuf)
    set_target_properties(${ARG_MESSAGES_LIBRARY} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    add_library(${ARG_NAME} STATIC ${sources})
    target_link_libraries(${ARG_NAME} PUBLIC ${ARG_MESSAGES_LIBRARY})
  else()
    add_library(${ARG_NAME} STATIC ${message_sources} ${sources})
  endif()
  target_include_directories(${ARG_NAME} SYSTEM PUBLIC "${out_dir}")
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_LINKS} protobuf::libprotobuf)
  if(ARG_GRPC)
    target_link_libraries(${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
  set_target_properties(${ARG_NAME} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  skiff_uninstrumented(${ARG_NAME})
  if(ARG_MESSAGES_LIBRARY)
    skiff_uninstrumented(${ARG_MESSAGES_LIBRARY})
  endif()
endfunction()

# Compiles TARGET without SKIFF_INSTRUMENT_OPTIONS; it still links into instrumented programs.
function(skiff_uninstrumented target)
  get_target_property(options ${target} COMPILE_OPTIONS)
  if(options AND SKIFF_INSTRUMENT_OPTIONS)
    list(REMOVE_ITEM options ${SKIFF_INSTRUMENT_OPTIONS})
    set_property(TARGET ${target} PROPERTY COMPILE_OPTIONS ${options})
  endif()
endfunction()
