# sigkit_man_page(TOOL SUMMARY): TOOL.1.gz, written by help2man from the
# built tool's own --help (so the page cannot drift from the options), and
# installed to share/man/man1 with the tool (component `tools`). Debian policy
# §12.1: pages are gzipped with -9 and -n (no name or time stamp, so
# reproducible).
#
# The tool runs at build time, so there are no pages when it cannot run here
# (cross-compiling) or should not be shipped (sanitized builds), nor without
# help2man: a warning, not a failure.
include(GNUInstallDirs)
find_program(SIGKIT_HELP2MAN help2man)
find_program(SIGKIT_GZIP gzip)
if(NOT SIGKIT_HELP2MAN OR NOT SIGKIT_GZIP)
  message(WARNING "help2man or gzip not found: the tools' man pages are not built (tools/dev.sh installs help2man)")
endif()

function(sigkit_man_page tool summary)
  if(NOT SIGKIT_HELP2MAN OR NOT SIGKIT_GZIP OR CMAKE_CROSSCOMPILING OR SIGKIT_SANITIZE)
    return()
  endif()
  set(page ${CMAKE_CURRENT_BINARY_DIR}/${tool}.1)
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${SIGKIT_HELP2MAN} --no-info --name ${summary}
            --version-string ${PROJECT_VERSION} --output ${page} $<TARGET_FILE:${tool}>
    COMMAND ${SIGKIT_GZIP} -9nf ${page}
    DEPENDS ${tool}
    COMMENT "Writing the man page of ${tool}"
    VERBATIM)
  add_custom_target(${tool}_man_page ALL DEPENDS ${page}.gz)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
endfunction()
