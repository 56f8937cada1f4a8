# cmake -DBINARY=path -DEXPECT=absent|present -P check_links.cmake
#
# Whether a binary carries the containerd adapter's heavy dependencies: libcurl, OpenSSL or gRPC
# among its shared libraries (ldd), or containerd's generated code among its symbols (nm). With
# EXPECT=absent (scheduler_test) any of them fails; with EXPECT=present (skiffd, the control)
# each must be there, which shows the check can see them at all.
execute_process(COMMAND ldd "${BINARY}" OUTPUT_VARIABLE ldd_out RESULT_VARIABLE ldd_rc
                ERROR_VARIABLE ldd_err)
execute_process(COMMAND nm -C "${BINARY}" OUTPUT_VARIABLE nm_out RESULT_VARIABLE nm_rc
                ERROR_VARIABLE nm_err)
if(NOT ldd_rc EQUAL 0 OR NOT nm_rc EQUAL 0)
  message(FATAL_ERROR "ldd or nm failed on ${BINARY}: ${ldd_err}${nm_err}")
endif()

set(found)
foreach(lib libcurl libssl libcrypto libgrpc)
  if(ldd_out MATCHES "${lib}[.-]")
    list(APPEND found "${lib}")
  endif()
endforeach()
if(nm_out MATCHES "containerd::services::")
  list(APPEND found "containerd's generated code")
endif()

if(EXPECT STREQUAL "absent" AND found)
  message(FATAL_ERROR "${BINARY} links ${found}")
elseif(EXPECT STREQUAL "present")
  list(LENGTH found n)
  if(NOT n EQUAL 5)
    message(FATAL_ERROR "${BINARY} links only ${found}; the check cannot see the others")
  endif()
endif()
message(STATUS "${BINARY}: ${EXPECT} as expected (${found})")
