# skiff_add_proto_library(NAME name IMPORT_DIR dir PROTOS rel/a.proto ... [GRPC])
#
# Runs protoc (and grpc_cpp_plugin with GRPC) on PROTOS, given relative to IMPORT_DIR, and builds
# the generated C++ into a static library whose consumers include the generated headers as
# "<rel path>.pb.h". Generated code is not ours, so it is compiled without -Werror.
function(skiff_add_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME;IMPORT_DIR" "PROTOS;DEPENDS;EXTRA_IMPORT_DIRS" ${ARGN})
  set(out_dir "${CMAKE_BINARY_DIR}/gen")
  set(sources)
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
    set(generated "${out_dir}/${stem}.pb.cc" "${out_dir}/${stem}.pb.h")
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND generated "${out_dir}/${stem}.grpc.pb.cc" "${out_dir}/${stem}.grpc.pb.h")
      set(plugin_args "--grpc_out=${out_dir}" "--plugin=protoc-gen-grpc=${SKIFF_GRPC_CPP_PLUGIN}")
    endif()
    add_custom_command(
      OUTPUT ${generated}
      COMMAND ${CMAKE_COMMAND} -E make_directory "${out_dir}"
      COMMAND ${SKIFF_PROTOC} ${import_flags} "--cpp_out=${out_dir}" ${plugin_args}
              "${ARG_IMPORT_DIR}/${proto}"
      DEPENDS ${all_protos} ${ARG_DEPENDS}
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(FILTER generated INCLUDE REGEX "\\.cc$")
    list(APPEND sources ${generated})
  endforeach()
  add_library(${ARG_NAME} STATIC ${sources})
  target_include_directories(${ARG_NAME} SYSTEM PUBLIC "${out_dir}")
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf)
  if(ARG_GRPC)
    target_link_libraries(${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
  set_target_properties(${ARG_NAME} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
